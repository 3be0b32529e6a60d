"""Node tests for the onnxruntime contrib ops of onnxruntime-genai's graphs as bmc imports them
(frontend/ops/Contrib.cpp, ContribAttention.cpp): SimplifiedLayerNormalization (default domain, as
onnxruntime registers it), Skip[Simplified]LayerNormalization with the input_skip_bias_sum output,
RotaryEmbedding (3-D with num_heads, 4-D, interleaved, partial rotary, the [1] offset form),
GroupQueryAttention (separate and packed QKV, past, rotary in the op, a local window, grouped heads,
a multi-token step after a cache) and MultiHeadAttention (past, unidirectional, key padding mask,
attention_bias, bias).

Expected outputs come from the numpy functions below (float64), written from onnxruntime's
ContribOperators.md and its CPU kernels' semantics; ort_check_node_tests.mjs runs every case on
onnxruntime-node as a second oracle.
"""
import numpy as np
from onnx import helper as h

N = h.make_node
MS = "com.microsoft"


def rms_norm(x, g, eps):
    x = x.astype(np.float64)
    return (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g).astype(np.float32)


def layer_norm(x, g, b, eps):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return ((x - m) / np.sqrt(v + eps) * g + b).astype(np.float32)


def rope(x, pos, cos, sin, interleaved):
    """x [B, N, S, H], pos [B or 1, S] -> rotated (the first 2 * cos.shape[1] elements of each head)."""
    half = cos.shape[1]
    rd = 2 * half
    c, s = cos[pos][:, None].astype(np.float64), sin[pos][:, None].astype(np.float64)
    x = x.astype(np.float64)
    if interleaved:
        x1, x2 = x[..., 0:rd:2], x[..., 1:rd:2]
        r = np.stack([x1 * c - x2 * s, x2 * c + x1 * s], -1).reshape(*x.shape[:3], rd)
    else:
        x1, x2 = x[..., :half], x[..., half:rd]
        r = np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], -1)
    return np.concatenate([r, x[..., rd:]], -1)


def heads(x, n):
    return x.reshape(x.shape[0], x.shape[1], n, -1).transpose(0, 2, 1, 3)


def merge(y):
    return y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)


def attend(q, k, v, mask, scale, softcap=0.0, smooth=False):
    # softcap: c * tanh(s / c) on the scaled scores, before the mask; smooth: softmax with an
    # implicit zero logit, exp(s - m) / (exp(-m) + sum exp(s - m)) (GroupQueryAttention's spec).
    rep = q.shape[1] // k.shape[1]
    kk, vv = np.repeat(k, rep, 1).astype(np.float64), np.repeat(v, rep, 1).astype(np.float64)
    s = q.astype(np.float64) @ kk.transpose(0, 1, 3, 2) * scale
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    s = s + mask
    m = s.max(-1, keepdims=True)
    if smooth:
        m = np.maximum(m, 0.0)
    p = np.exp(s - m)
    return (p / (p.sum(-1, keepdims=True) + (np.exp(-m) if smooth else 0.0))) @ vv


def caches(rng, max_pos, half):
    ang = np.arange(max_pos)[:, None] * rng.uniform(0.01, 1.0, half)[None, :]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def gqa(q, k, v, past, nh, kvh, cos=None, sin=None, interleaved=False, window=-1, packed=False, softcap=0.0,
        smooth=False):
    if packed:
        H = q.shape[2] // (nh + 2 * kvh)
        q, k, v = q[..., :nh * H], q[..., nh * H:(nh + kvh) * H], q[..., (nh + kvh) * H:]
    B, S = q.shape[:2]
    q4, k4, v4 = heads(q, nh), heads(k, kvh), heads(v, kvh)
    P = past[0].shape[2] if past is not None else 0
    pos = np.broadcast_to(P + np.arange(S), (B, S))
    if cos is not None:
        q4, k4 = rope(q4, pos, cos, sin, interleaved), rope(k4, pos, cos, sin, interleaved)
    if past is not None:
        k4, v4 = np.concatenate([past[0], k4], 2), np.concatenate([past[1], v4], 2)
    T = k4.shape[2]
    j, i = np.arange(T)[None, :], (P + np.arange(S))[:, None]
    ok = (j <= i) & ((j > i - window) if window >= 0 else True)
    y = attend(q4, k4, v4, np.where(ok, 0.0, -np.inf), 1 / np.sqrt(q4.shape[-1]), softcap, smooth)
    return merge(y).astype(np.float32), k4.astype(np.float32), v4.astype(np.float32)


def add_cases(w, rng):
    f32 = np.float32
    r = lambda *s: rng.standard_normal(s).astype(f32)  # noqa: E731
    ms = [(MS, 1)]

    # Norms. SimplifiedLayerNormalization is onnxruntime's op in the default domain.
    x, skip, g, b, bias = r(2, 3, 24), r(2, 3, 24), r(24), r(24), r(24)
    w.case("contrib_simplified_layernorm", [N("SimplifiedLayerNormalization", ["x", "g"], ["y"], epsilon=1e-6)],
           {"x": x, "g": g}, {"y": rms_norm(x, g, 1e-6)}, opset=14)
    s = x + skip + bias
    w.case("contrib_skip_simplified_layernorm", [N("SkipSimplifiedLayerNormalization", ["x", "skip", "g", "bias"],
                                                   ["y", "", "", "s"], domain=MS, epsilon=1e-5)],
           {"x": x, "skip": skip, "g": g, "bias": bias}, {"y": rms_norm(s, g, 1e-5), "s": s}, opset=14, domains=ms)
    w.case("contrib_skip_simplified_layernorm_2d", [N("SkipSimplifiedLayerNormalization", ["x", "skip", "g"], ["y"],
                                                      domain=MS, epsilon=1e-6)],
           {"x": x[0], "skip": skip[0], "g": g}, {"y": rms_norm(x[0] + skip[0], g, 1e-6)}, opset=14, domains=ms)
    w.case("contrib_skip_layernorm", [N("SkipLayerNormalization", ["x", "skip", "g", "b", "bias"],
                                        ["y", "", "", "s"], domain=MS, epsilon=1e-5)],
           {"x": x, "skip": skip, "g": g, "b": b, "bias": bias}, {"y": layer_norm(s, g, b, 1e-5), "s": s},
           opset=14, domains=ms, dynamic={"x": (0, 1), "skip": (0, 1)})

    # RotaryEmbedding: 3-D with num_heads (halves and interleaved), partial rotary, 4-D, offset positions.
    B, S, NH, H = 2, 3, 4, 16
    cos, sin = caches(rng, 32, H // 2)
    pos = rng.integers(0, 32, (B, S)).astype(np.int64)
    x3 = r(B, S, NH * H)
    for inter in (0, 1):
        want = merge(rope(heads(x3, NH), pos, cos, sin, inter)).astype(f32)
        w.case("contrib_rotary_3d" + ("_interleaved" if inter else ""),
               [N("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS, interleaved=inter, num_heads=NH)],
               {"x": x3, "pos": pos, "cos": cos, "sin": sin}, {"y": want}, opset=14, domains=ms,
               dynamic={"x": (0, 1), "pos": (0, 1)})
    cos8, sin8 = caches(rng, 32, 8)
    x32 = r(B, S, 2 * 32)
    w.case("contrib_rotary_partial", [N("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS,
                                        num_heads=2, rotary_embedding_dim=16)],
           {"x": x32, "pos": pos, "cos": cos8, "sin": sin8},
           {"y": merge(rope(heads(x32, 2), pos, cos8, sin8, False)).astype(f32)}, opset=14, domains=ms)
    x4 = r(B, NH, S, H)
    w.case("contrib_rotary_4d", [N("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS)],
           {"x": x4, "pos": pos, "cos": cos, "sin": sin}, {"y": rope(x4, pos, cos, sin, False).astype(f32)},
           opset=14, domains=ms)
    off = np.array([5], np.int64)
    w.case("contrib_rotary_offset", [N("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=MS,
                                       interleaved=1)],
           {"x": x3, "pos": off, "cos": cos, "sin": sin},
           {"y": merge(rope(heads(x3, NH), (5 + np.arange(S))[None], cos, sin, True)).astype(f32)},
           opset=14, domains=ms)

    # GroupQueryAttention: 4 query heads on 2 KV heads, head size 16 (onnxruntime needs multiples of 16).
    KV = 2
    io3 = ["y", "present_key", "present_value"]

    def gcase(name, ins, outs, **attrs):
        names = ["q", "k" if "k" in ins else "", "v" if "v" in ins else "", "pk" if "pk" in ins else "",
                 "pv" if "pv" in ins else "", "seqlens_k", "total", "cos" if "cos" in ins else "",
                 "sin" if "sin" in ins else ""]
        while not names[-1]:
            names.pop()
        w.case(name, [N("GroupQueryAttention", names, io3, domain=MS, num_heads=NH, kv_num_heads=KV, **attrs)],
               ins, dict(zip(io3, outs)), opset=14, domains=ms)

    def lens(b, total):
        return np.full((b,), total - 1, np.int32), np.array(total, np.int32)

    P = 5
    q, k, v = r(B, 1, NH * H), r(B, 1, KV * H), r(B, 1, KV * H)
    pk, pv = r(B, KV, P, H), r(B, KV, P, H)
    sk, tot = lens(B, P + 1)
    gcase("contrib_gqa_decode", {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot},
          gqa(q, k, v, (pk, pv), NH, KV))
    gcase("contrib_gqa_decode_rotary", {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot,
                                        "cos": cos, "sin": sin},
          gqa(q, k, v, (pk, pv), NH, KV, cos, sin), do_rotary=1)
    gcase("contrib_gqa_decode_rotary_interleaved",
          {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot, "cos": cos, "sin": sin},
          gqa(q, k, v, (pk, pv), NH, KV, cos, sin, interleaved=True), do_rotary=1, rotary_interleaved=1)
    gcase("contrib_gqa_decode_window2", {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot},
          gqa(q, k, v, (pk, pv), NH, KV, window=2), local_window_size=2)
    qkv = r(B, 1, (NH + 2 * KV) * H)
    gcase("contrib_gqa_decode_packed_rotary", {"q": qkv, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot,
                                               "cos": cos, "sin": sin},
          gqa(qkv, None, None, (pk, pv), NH, KV, cos, sin, packed=True), do_rotary=1)
    # softcap (2 squashes these scores, |s| up to ~3; 30 barely) and smooth_softmax, decode and window.
    gcase("contrib_gqa_decode_softcap2", {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot},
          gqa(q, k, v, (pk, pv), NH, KV, softcap=2.0), softcap=2.0)
    gcase("contrib_gqa_decode_smooth", {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot},
          gqa(q, k, v, (pk, pv), NH, KV, smooth=True), smooth_softmax=1)
    gcase("contrib_gqa_decode_window2_softcap30_smooth",
          {"q": q, "k": k, "v": v, "pk": pk, "pv": pv, "seqlens_k": sk, "total": tot},
          gqa(q, k, v, (pk, pv), NH, KV, window=2, softcap=30.0, smooth=True), local_window_size=2, softcap=30.0,
          smooth_softmax=1)
    S3 = 4
    q, k, v = r(B, S3, NH * H), r(B, S3, KV * H), r(B, S3, KV * H)
    sk, tot = lens(B, S3)
    gcase("contrib_gqa_prefill_rotary_softcap2_smooth", {"q": q, "k": k, "v": v, "seqlens_k": sk, "total": tot,
                                                        "cos": cos, "sin": sin},
          gqa(q, k, v, None, NH, KV, cos, sin, softcap=2.0, smooth=True), do_rotary=1, softcap=2.0,
          smooth_softmax=1)
    gcase("contrib_gqa_prefill_rotary", {"q": q, "k": k, "v": v, "seqlens_k": sk, "total": tot,
                                         "cos": cos, "sin": sin},
          gqa(q, k, v, None, NH, KV, cos, sin), do_rotary=1)
    # A multi-token step after a cache (onnxruntime allows it for batch 1).
    q, k, v, pk1, pv1 = r(1, 3, NH * H), r(1, 3, KV * H), r(1, 3, KV * H), r(1, KV, P, H), r(1, KV, P, H)
    sk, tot = lens(1, P + 3)
    gcase("contrib_gqa_chunk_after_cache_window3",
          {"q": q, "k": k, "v": v, "pk": pk1, "pv": pv1, "seqlens_k": sk, "total": tot, "cos": cos, "sin": sin},
          gqa(q, k, v, (pk1, pv1), NH, KV, cos, sin, window=3), do_rotary=1, local_window_size=3)

    # MultiHeadAttention: decode after a cache (unidirectional, key padding mask, attention_bias, bias).
    io_m = ["y", "present_key", "present_value"]
    q, k, v = r(B, 1, NH * H), r(B, 1, NH * H), r(B, 1, NH * H)
    pk, pv = r(B, NH, P, H), r(B, NH, P, H)
    kpm = np.ones((B, P + 1), np.int32)
    kpm[1, 1] = 0
    ab = r(1, 1, 1, P + 1)
    bias = r(3 * NH * H)

    def mha(q, k, v, pk, pv, kpm=None, ab=None, bias=None, causal=True):
        if bias is not None:
            d = q.shape[2]
            q, k, v = q + bias[:d], k + bias[d:2 * d], v + bias[2 * d:]
        q4, k4, v4 = heads(q, NH), heads(k, NH), heads(v, NH)
        Pn = pk.shape[2] if pk is not None else 0
        if pk is not None:
            k4, v4 = np.concatenate([pk, k4], 2), np.concatenate([pv, v4], 2)
        Sq, T = q4.shape[2], k4.shape[2]
        m = np.zeros((q.shape[0], 1, Sq, T))
        if kpm is not None:
            m = m + np.where(kpm == 0, -10000.0, 0.0)[:, None, None, :]
        if causal:  # onnxruntime sets (not adds) the filter value on future keys
            m = np.where(np.arange(T)[None, :] > Pn + np.arange(Sq)[:, None], -10000.0, m)
        if ab is not None:
            m = m + ab
        y = attend(q4, k4, v4, m, 1 / np.sqrt(H))
        return merge(y).astype(f32), k4.astype(f32), v4.astype(f32)

    w.case("contrib_mha_decode_mask_bias",
           [N("MultiHeadAttention", ["q", "k", "v", "bias", "kpm", "ab", "pk", "pv"], io_m, domain=MS, num_heads=NH,
              unidirectional=1)],
           {"q": q, "k": k, "v": v, "bias": bias, "kpm": kpm, "ab": ab, "pk": pk, "pv": pv},
           dict(zip(io_m, mha(q, k, v, pk, pv, kpm, ab, bias))), opset=14, domains=ms)
    q, k, v = r(B, 4, NH * H), r(B, 4, NH * H), r(B, 4, NH * H)
    w.case("contrib_mha_prefill_causal",
           [N("MultiHeadAttention", ["q", "k", "v"], ["y"], domain=MS, num_heads=NH, unidirectional=1)],
           {"q": q, "k": k, "v": v}, {"y": mha(q, k, v, None, None)[0]}, opset=14, domains=ms)

    # MultiHeadAttention's packed layouts: QKV as a 5-D query [B, S, N, 3, H] (causal prefill, odd
    # length) and KV as a 5-D key [B, L, N, 2, H] (with a key padding mask). onnxruntime's CPU kernel
    # implements neither, so each comes with an unpacked twin holding the same numbers in the 3-D form,
    # which onnxruntime does run (ort_check_node_tests.mjs: CPU_UNIMPLEMENTED); expected outputs alike.
    S5 = 5
    qkv5 = r(B, S5, NH, 3, H)
    qp, kp, vp = (qkv5[:, :, :, i, :].reshape(B, S5, NH * H) for i in range(3))
    yp = {"y": mha(qp, kp, vp, None, None)[0]}
    w.case("contrib_mha_packed_qkv_causal",
           [N("MultiHeadAttention", ["qkv"], ["y"], domain=MS, num_heads=NH, unidirectional=1)],
           {"qkv": qkv5}, yp, opset=14, domains=ms, dynamic={"qkv": (0, 1)})
    w.case("contrib_mha_packed_qkv_causal_twin",
           [N("MultiHeadAttention", ["q", "k", "v"], ["y"], domain=MS, num_heads=NH, unidirectional=1)],
           {"q": qp, "k": kp, "v": vp}, yp, opset=14, domains=ms)
    L = 7
    qc, kv5 = r(B, 3, NH * H), r(B, L, NH, 2, H)
    kc, vc = (kv5[:, :, :, i, :].reshape(B, L, NH * H) for i in range(2))
    kpm7 = np.ones((B, L), np.int32)
    kpm7[0, 5:] = 0
    yc = {"y": mha(qc, kc, vc, None, None, kpm7, causal=False)[0]}
    w.case("contrib_mha_packed_kv_padding_mask",
           [N("MultiHeadAttention", ["q", "kv", "", "", "kpm"], ["y"], domain=MS, num_heads=NH)],
           {"q": qc, "kv": kv5, "kpm": kpm7}, yc, opset=14, domains=ms)
    w.case("contrib_mha_packed_kv_padding_mask_twin",
           [N("MultiHeadAttention", ["q", "k", "v", "", "kpm"], ["y"], domain=MS, num_heads=NH)],
           {"q": qc, "k": kc, "v": vc, "kpm": kpm7}, yc, opset=14, domains=ms)
