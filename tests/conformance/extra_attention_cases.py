"""Node tests for ONNX Attention (opset 23/24) as bmc imports it (frontend/ops/Attention.cpp):
4-D and 3-D (q_num_heads/kv_num_heads) forms, grouped KV heads, past_key/past_value with
present outputs, is_causal (query i sees keys up to past + i; without past_key, up to i even when K is
longer than Q: what onnxruntime computes), bool and additive masks, explicit scale, a decode step, dynamic dims.

Expected outputs come from attention() below (numpy, float64); ort_check_node_tests.mjs runs every
case on onnxruntime-node as a second oracle.
"""
import numpy as np
from onnx import helper as h

N = h.make_node


def attention(q, k, v, past=None, mask=None, causal=False, scale=None, q_heads=0, kv_heads=0):
    """Returns (Y, present_key, present_value) in the layout of the inputs."""
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
