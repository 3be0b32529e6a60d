"""Node tests for ONNX Attention (opset 23/24) as bmc imports it (frontend/ops/Attention.cpp):
4-D and 3-D (q_num_heads/kv_num_heads) forms, grouped KV heads, past_key/past_value with
present outputs, is_causal (query i sees keys up to past + i; without past_key, up to i even when K is
longer than Q: what onnxruntime computes), bool and additive masks, explicit scale, a decode step, dynamic dims,
softcap (before the masks); opset 24's nonpad_kv_seqlen; TensorScatter on its own (imported as ScatterND:
linear, circular, any axis).

Expected outputs come from attention() below (numpy, float64); ort_check_node_tests.mjs runs every
case on onnxruntime-node as a second oracle.
"""
import numpy as np
from onnx import helper as h

N = h.make_node


def attention(q, k, v, past=None, mask=None, causal=False, scale=None, q_heads=0, kv_heads=0, softcap=0.0):
    """Returns (Y, present_key, present_value) in the layout of the inputs. softcap > 0 caps the
    scaled scores, cap * tanh(s / cap), before any mask is added (ONNX's corrected order,
    onnx/onnx#7867: masked keys stay at -inf)."""
    three = q.ndim == 3
    if three:
        split = lambda x, n: x.reshape(x.shape[0], x.shape[1], n, -1).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = split(q, q_heads), split(k, kv_heads), split(v, kv_heads)
    if past is not None:
        k = np.concatenate([past[0], k], 2)
        v = np.concatenate([past[1], v], 2)
    rep = q.shape[1] // k.shape[1]
    kk, vv = np.repeat(k, rep, 1).astype(np.float64), np.repeat(v, rep, 1).astype(np.float64)
    s = q.astype(np.float64) @ kk.transpose(0, 1, 3, 2) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    S, T, P = q.shape[2], k.shape[2], past[0].shape[2] if past is not None else 0
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    if mask is not None:
        s = s + (np.where(mask, 0.0, -np.inf) if mask.dtype == np.bool_ else mask)
    if causal:
        s = np.where(np.arange(T)[None, :] <= np.arange(S)[:, None] + P, s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    y = (p / p.sum(-1, keepdims=True)) @ vv
    if three:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], S, -1)
    return y.astype(np.float32), k, v


def add_cases(w, rng):
    f32 = np.float32
    r = lambda *s: rng.standard_normal(s).astype(f32)  # noqa: E731
    io = ["Y", "present_key", "present_value"]

    def case(name, inputs, outs, opset=23, dynamic=None, **attrs):
        names = ["Q", "K", "V", "attn_mask" if "attn_mask" in inputs else "",
                 "past_key" if "past_key" in inputs else "", "past_value" if "past_value" in inputs else ""]
        while names and not names[-1]:
            names.pop()
        w.case(name, [N("Attention", names, io[:len(outs)], **attrs)], inputs, dict(zip(io, outs)), opset=opset,
               dynamic=dynamic)

    # A prefill-after-cache step with grouped heads (4 query heads on 2 KV heads), batch, past and
    # sequence symbolic.
    B, H, KV, S, P, D = 2, 4, 2, 3, 5, 8
    q, k, v, pk, pv = r(B, H, S, D), r(B, KV, S, D), r(B, KV, S, D), r(B, KV, P, D), r(B, KV, P, D)
    dyn = {"Q": (0, 2), "K": (0, 2), "V": (0, 2), "past_key": (0, 2), "past_value": (0, 2)}
    case("attention23_gqa_past_causal", {"Q": q, "K": k, "V": v, "past_key": pk, "past_value": pv},
         attention(q, k, v, (pk, pv), causal=True), dynamic=dyn, is_causal=1)
    case("attention24_gqa_past_causal", {"Q": q, "K": k, "V": v, "past_key": pk, "past_value": pv},
         attention(q, k, v, (pk, pv), causal=True), opset=24, is_causal=1)
    # One decode step.
    q1, k1, v1 = r(B, H, 1, D), r(B, KV, 1, D), r(B, KV, 1, D)
    case("attention23_decode_step", {"Q": q1, "K": k1, "V": v1, "past_key": pk, "past_value": pv},
         attention(q1, k1, v1, (pk, pv), causal=True), dynamic=dyn, is_causal=1)
    # The 3-D form: [batch, seq, heads * head_dim] with the head counts as attributes.
    q3, k3, v3 = r(B, S, H * D), r(B, S, KV * D), r(B, S, KV * D)
    case("attention23_3d_heads_past_causal", {"Q": q3, "K": k3, "V": v3, "past_key": pk, "past_value": pv},
         attention(q3, k3, v3, (pk, pv), causal=True, q_heads=H, kv_heads=KV),
         is_causal=1, q_num_heads=H, kv_num_heads=KV)
    # A bool padding mask [B, 1, S, T] (left padding in row 0; every row keeps a key).
    T = P + S
    bm = np.ones((B, 1, S, T), np.bool_)
    bm[0, :, :, :2] = False
    case("attention23_bool_mask_past", {"Q": q, "K": k, "V": v, "attn_mask": bm, "past_key": pk, "past_value": pv},
         attention(q, k, v, (pk, pv), mask=bm))
    # An additive float mask broadcast over batch and heads, with is_causal and an explicit scale.
    fm = (rng.standard_normal((S, T)) * 2).astype(f32)
    case("attention23_float_mask_causal_scale",
         {"Q": q, "K": k, "V": v, "attn_mask": fm, "past_key": pk, "past_value": pv},
         attention(q, k, v, (pk, pv), mask=fm, causal=True, scale=0.2), is_causal=1, scale=0.2)
    # No cache, K longer than Q (the causal triangle starts at key 0): present is K itself; one
    # output only.
    qn, kn, vn = r(1, 2, 4, 16), r(1, 2, 6, 16), r(1, 2, 6, 16)
    case("attention23_no_past_present", {"Q": qn, "K": kn, "V": vn}, attention(qn, kn, vn, causal=True), is_causal=1)
    case("attention23_y_only", {"Q": qn, "K": kn, "V": vn}, attention(qn, kn, vn)[:1])

    # Opset 24: nonpad_kv_seqlen over a whole K/V buffer (keys at and beyond each row's length are
    # masked out), without and with is_causal (query i sees keys up to nonpad - S + i, ONNX's
    # bottom-right errata), grouped heads.
    # (Their own random stream: the cases generated after these keep their data.)
    own = np.random.default_rng(24)
    M = 10
    qs, kb, vb = (own.standard_normal(s).astype(f32) for s in ((B, H, S, D), (B, KV, M, D), (B, KV, M, D)))
    lens = np.array([7, 10], np.int64)
    key_ok = np.arange(M)[None, None, None, :] < lens[:, None, None, None]  # [B, 1, 1, M]
    w.case("attention24_nonpad_kv_seqlen",
           [N("Attention", ["Q", "K", "V", "", "", "", "nonpad_kv_seqlen"], ["Y"])],
           {"Q": qs, "K": kb, "V": vb, "nonpad_kv_seqlen": lens},
           {"Y": attention(qs, kb, vb, mask=np.broadcast_to(key_ok, (B, 1, S, M)))[0]}, opset=24)
    causal_ok = np.arange(M)[None, None, None, :] <= (lens[:, None, None, None] - S + np.arange(S)[None, None, :, None])
    w.case("attention24_nonpad_kv_seqlen_causal",
           [N("Attention", ["Q", "K", "V", "", "", "", "nonpad_kv_seqlen"], ["Y"], is_causal=1)],
           {"Q": qs, "K": kb, "V": vb, "nonpad_kv_seqlen": lens},
           {"Y": attention(qs, kb, vb, mask=causal_ok)[0]}, opset=24)

    # softcap (Gemma-2's attn_logit_softcapping as the opset-23 attribute): capped before the
    # masks, so the causal triangle's, attn_mask's and nonpad_kv_seqlen's -inf stay -inf. Scores
    # of |s| up to ~6 here: a cap of 2 changes every output (checked below), 50 barely.
    # (Their own random stream: the cases before keep their data.)
    cr = np.random.default_rng(2323)
    rc = lambda *s: (cr.standard_normal(s) * 1.5).astype(f32)  # noqa: E731
    q, k, v, pk, pv = rc(B, H, S, D), rc(B, KV, S, D), rc(B, KV, S, D), rc(B, KV, P, D), rc(B, KV, P, D)
    fm = (cr.standard_normal((S, T)) * 2).astype(f32)
    capped = attention(q, k, v, (pk, pv), mask=fm, causal=True, softcap=2.0)
    assert np.abs(capped[0] - attention(q, k, v, (pk, pv), mask=fm, causal=True)[0]).max() > 0.05
    case("attention23_softcap2_gqa_past_causal_float_mask",
         {"Q": q, "K": k, "V": v, "attn_mask": fm, "past_key": pk, "past_value": pv}, capped,
         dynamic=dyn, is_causal=1, softcap=2.0)
    q3, k3, v3 = rc(B, S, H * D), rc(B, S, KV * D), rc(B, S, KV * D)
    case("attention23_softcap50_3d_bool_mask_past",
         {"Q": q3, "K": k3, "V": v3, "attn_mask": bm, "past_key": pk, "past_value": pv},
         attention(q3, k3, v3, (pk, pv), mask=bm, q_heads=H, kv_heads=KV, softcap=50.0),
         q_num_heads=H, kv_num_heads=KV, softcap=50.0)
    q1, k1, v1 = rc(B, H, 1, D), rc(B, KV, 1, D), rc(B, KV, 1, D)
    case("attention23_softcap2_decode_step_scale", {"Q": q1, "K": k1, "V": v1, "past_key": pk, "past_value": pv},
         attention(q1, k1, v1, (pk, pv), causal=True, scale=0.5, softcap=2.0), dynamic=dyn, is_causal=1,
         scale=0.5, softcap=2.0)
    qs, kb, vb = rc(B, H, S, D), rc(B, KV, M, D), rc(B, KV, M, D)
    w.case("attention24_nonpad_kv_seqlen_causal_softcap2",
           [N("Attention", ["Q", "K", "V", "", "", "", "nonpad_kv_seqlen"], ["Y"], is_causal=1, softcap=2.0)],
           {"Q": qs, "K": kb, "V": vb, "nonpad_kv_seqlen": lens},
           {"Y": attention(qs, kb, vb, mask=causal_ok, softcap=2.0)[0]}, opset=24)

    # Gemma-2's soft cap written out as plain ops (scores * scale, / cap, Tanh, * cap, + mask, Softmax):
    # --bmc-raise-attention turns it into bmc.attention {softcap}; onnxruntime runs the ops as they are.
    q4, k4, v4, m4 = r(1, 2, 5, 8), r(1, 2, 5, 8), r(1, 2, 5, 8), r(1, 1, 5, 5)
    scale, cap = f32(0.6), f32(2.0)
    sc = q4.astype(np.float64) @ k4.astype(np.float64).transpose(0, 1, 3, 2) * float(scale)
    sc = float(cap) * np.tanh(sc / float(cap)) + m4
    p = np.exp(sc - sc.max(-1, keepdims=True))
    w.case("attention_softcap_written_out",
           [N("Transpose", ["K"], ["kt"], perm=[0, 1, 3, 2]), N("MatMul", ["Q", "kt"], ["s"]),
            N("Mul", ["s", "scale"], ["ss"]), N("Div", ["ss", "cap"], ["sd"]), N("Tanh", ["sd"], ["st"]),
            N("Mul", ["st", "cap"], ["sc"]), N("Add", ["sc", "M"], ["sm"]), N("Softmax", ["sm"], ["p"], axis=-1),
            N("MatMul", ["p", "V"], ["Y"])],
           {"Q": q4, "K": k4, "V": v4, "M": m4},
           {"Y": ((p / p.sum(-1, keepdims=True)) @ v4.astype(np.float64)).astype(f32)},
           inits={"scale": np.array(scale, f32), "cap": np.array(cap, f32)}, opset=18)


def tensor_scatter(past, update, write_indices=None, axis=-2, circular=False):
    """ONNX TensorScatter-24: update's rows written into a copy of past at write_indices[b] + s."""
    out = past.copy()
    axis %= past.ndim
    rows, size = update.shape[axis], past.shape[axis]
    wi = np.zeros(past.shape[0], np.int64) if write_indices is None else write_indices
    for b in range(past.shape[0]):
        for s in range(rows):
            at = wi[b] + s
            at = at % size if circular else at
            dst = [slice(None)] * past.ndim
            src = [slice(None)] * past.ndim
            dst[0] = src[0] = b
            dst[axis], src[axis] = at, s
            out[tuple(dst)] = update[tuple(src)]
    return out


def add_scatter_cases(w):
    """TensorScatter (opset 24) on its own: not a KV cache any Attention reads, so bmc imports it
    as ScatterND with ONNX's semantics (linear and circular modes, any sequence axis)."""
    f32 = np.float32
    rng = np.random.default_rng(25)
    r = lambda *s: rng.standard_normal(s).astype(f32)  # noqa: E731
    past, upd = r(2, 3, 6, 4), r(2, 3, 2, 4)
    wi = np.array([1, 4], np.int64)

    def case(name, inputs, out, dynamic=None, **attrs):
        names = ["past_cache", "update"] + (["write_indices"] if "write_indices" in inputs else [])
        w.case(name, [N("TensorScatter", names, ["present_cache"], **attrs)], inputs, {"present_cache": out},
               opset=24, dynamic=dynamic)

    case("tensor_scatter24_linear", {"past_cache": past, "update": upd, "write_indices": wi},
         tensor_scatter(past, upd, wi), dynamic={"past_cache": (0,), "update": (0, 2), "write_indices": (0,)})
    case("tensor_scatter24_no_write_indices", {"past_cache": past, "update": upd}, tensor_scatter(past, upd))
    wrap = np.array([5, 2], np.int64)  # row 0 writes rows 5 and 0
    case("tensor_scatter24_circular", {"past_cache": past, "update": upd, "write_indices": wrap},
         tensor_scatter(past, upd, wrap, circular=True), mode="circular")
    p3, u3 = r(3, 7, 5), r(3, 3, 5)
    wi3 = np.array([0, 2, 4], np.int64)
    case("tensor_scatter24_rank3_axis1", {"past_cache": p3, "update": u3, "write_indices": wi3},
         tensor_scatter(p3, u3, wi3, axis=1), axis=1)
