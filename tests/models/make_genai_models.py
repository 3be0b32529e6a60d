#!/usr/bin/python3
"""Writes decoders in the form onnxruntime-genai's model builder writes them (builders/base.py of
onnxruntime-genai: com.microsoft contrib ops, fp32, CPU), with random weights.

    make_genai_models.py --form gqa|gqa-rotemb|gqa-packed|mha [--layers L] [--hidden D] [--heads N]
                         [--kv-heads K] [--head-size H] [--rotary-dim R] [--interleaved] [--window W]
                         [--softcap C] [--smooth-softmax] [--vocab V] [--max-pos P] [--seed S] -o OUT.onnx

Interface (the builder's names and dims): input_ids and position_ids [batch_size, sequence_length],
attention_mask [batch_size, total_sequence_length] (int64), past_key_values.i.key/value
[batch_size, kv_heads, past_sequence_length, head_size]; logits [batch_size, sequence_length, vocab]
and present.i.key/value [batch_size, kv_heads, total_sequence_length, head_size].

Every form is a Llama-like decoder: Gather embedding, SimplifiedLayerNormalization first, then a
SkipSimplifiedLayerNormalization residual chain whose output 3 (input_skip_bias_sum) carries the
residual, SwiGLU MLP (Mul(gate, Sigmoid(gate)) * up), MatMul weights as initializers (rewrite them into
MatMulNBits with make_matmulnbits.py). Forms:
  gqa         GroupQueryAttention with do_rotary = 1 (cos/sin caches in the op; no position_ids input),
              separate q/k/v MatMuls; seqlens_k and total_sequence_length from the attention mask
              (ReduceSum - 1 and Shape[1], cast to int32), as make_attention_mask_reformatting_for_gqa,
              or with --lengths-as-inputs as graph inputs (int32 [batch_size] and a scalar).
  gqa-packed  the same with one packed QKV MatMul (key and value inputs empty).
  gqa-rotemb  RotaryEmbedding nodes on q and k (3-D, num_heads, position_ids input), GQA do_rotary = 0.
  (GQA forms: --softcap and --smooth-softmax set the op's softcap and smooth_softmax attributes,
  Gemma-2's logit soft cap and an implicit zero logit in the softmax.)
  mha         MultiHeadAttention (unidirectional, key_padding_mask = the int32 attention mask) after
              RotaryEmbedding nodes; LayerNormalization / SkipLayerNormalization (with beta) instead
              of the simplified norms; kv heads = heads.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh


def build(a):
    rng = np.random.default_rng(a.seed)
    D, N, H, L, V, I = a.hidden, a.heads, a.head_size, a.layers, a.vocab, a.inter
    K = N if a.form == "mha" else a.kv_heads
    rd = a.rotary_dim or H
    std = 0.02 * 3 * np.sqrt(512 / D)
    nodes, inits = [], []
    ms = "com.microsoft"

    def init(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name))
        return name

    def w(name, *shape, scale=std):
        return init(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    def norm_w(name, n):
        return init(name, (1 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    def node(op, ins, outs, name, domain="", **attrs):
        nodes.append(h.make_node(op, ins, outs, name=name, domain=domain or None, **attrs))
        return outs[0]

    def matmul(x, wname, name, k, n):
        return node("MatMul", [x, w(wname, k, n)], [f"{name}/output_0"], name)

    # Rotary caches, as make_rotary_embedding_caches_from_scratch: [max_pos, rotary_dim / 2].
    inv = 1.0 / (a.theta ** (np.arange(0, rd, 2, dtype=np.float64) / rd))
    ang = np.arange(a.max_pos, dtype=np.float64)[:, None] * inv[None, :]
    cos = init("cos_cache", np.cos(ang).astype(np.float32))
    sin = init("sin_cache", np.sin(ang).astype(np.float32))

    inputs = [h.make_tensor_value_info("input_ids", TP.INT64, ["batch_size", "sequence_length"])]
    if a.lengths_as_inputs:
        inputs += [h.make_tensor_value_info("seqlens_k", TP.INT32, ["batch_size"]),
                   h.make_tensor_value_info("total_sequence_length", TP.INT32, [])]
    else:
        inputs.append(h.make_tensor_value_info("attention_mask", TP.INT64, ["batch_size", "total_sequence_length"]))
    if a.form in ("gqa-rotemb", "mha"):
        inputs.append(h.make_tensor_value_info("position_ids", TP.INT64, ["batch_size", "sequence_length"]))
    outputs = [h.make_tensor_value_info("logits", TP.FLOAT, ["batch_size", "sequence_length", V])]
    hdim = "kv_cache_dim" if a.symbolic_head_dim else H
    for i in range(L):
        for kv in ("key", "value"):
            inputs.append(h.make_tensor_value_info(f"past_key_values.{i}.{kv}", TP.FLOAT,
                                                   ["batch_size", K, "past_sequence_length", hdim]))
            outputs.append(h.make_tensor_value_info(f"present.{i}.{kv}", TP.FLOAT,
                                                    ["batch_size", K, "total_sequence_length", hdim]))

    # Mask reformatting.
    if a.form == "mha":
        kpm = node("Cast", ["attention_mask"], ["/model/attn_mask_reformat/Cast/output_0"],
                   "/model/attn_mask_reformat/Cast", to=TP.INT32)
    elif a.lengths_as_inputs:
        seqlens_k, total = "seqlens_k", "total_sequence_length"
    else:
        b = "/model/attn_mask_reformat/attn_mask_subgraph"
        one = init("/model/constants/INT64/[1]", np.array([1], np.int64))
        init("/model/constants/INT64/1", np.array(1, np.int64))
        rs = node("ReduceSum", ["attention_mask", one], [f"{b}/ReduceSum/output_0"], f"{b}/ReduceSum", keepdims=0)
        sub = node("Sub", [rs, one], [f"{b}/Sub/output_0"], f"{b}/Sub")
        seqlens_k = node("Cast", [sub], [f"{b}/Sub/Cast/output_0"], f"{b}/Sub/Cast", to=TP.INT32)
        shp = node("Shape", ["attention_mask"], [f"{b}/Shape/output_0"], f"{b}/Shape")
        g = node("Gather", [shp, "/model/constants/INT64/1"], [f"{b}/Gather/output_0"], f"{b}/Gather", axis=0)
        total = node("Cast", [g], [f"{b}/Gather/Cast/output_0"], f"{b}/Gather/Cast", to=TP.INT32)

    emb = node("Gather", [w("model.embed_tokens.weight", V, D, scale=std), "input_ids"],
               ["/model/embed_tokens/Gather/output_0"], "/model/embed_tokens/Gather")
    simple = a.form != "mha"
    eps = 1e-6 if simple else 1e-5

    def skip_norm(name, x, skip, wname, last=False):
        attrs = {"epsilon": eps}
        ins = [x, skip, norm_w(wname, D)]
        if not simple:
            ins.append(w(wname.replace("weight", "bias"), D, scale=0.1))
        outs = [f"{name}/output_0"] + ([] if last else ["", "", f"{name}/output_3"])
        node("SkipSimplifiedLayerNormalization" if simple else "SkipLayerNormalization", ins, outs, name, ms, **attrs)
        return outs[0], (None if last else outs[3])

    # Layer 0's input norm.
    if simple:
        x = node("SimplifiedLayerNormalization", [emb, norm_w("model.layers.0.input_layernorm.weight", D)],
                 ["/model/layers.0/input_layernorm/LayerNorm/output_0"], "/model/layers.0/input_layernorm/LayerNorm",
                 axis=-1, epsilon=eps, stash_type=1)
    else:
        x = node("LayerNormalization", [emb, norm_w("model.layers.0.input_layernorm.weight", D),
                                        w("model.layers.0.input_layernorm.bias", D, scale=0.1)],
                 ["/model/layers.0/input_layernorm/LayerNorm/output_0"], "/model/layers.0/input_layernorm/LayerNorm",
                 axis=-1, epsilon=eps, stash_type=1)
    residual = emb
    for i in range(L):
        p = f"/model/layers.{i}/attn"
        past = [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present = [f"present.{i}.key", f"present.{i}.value"]
        if a.form == "gqa-packed":
            q = matmul(x, f"model.layers.{i}.attn.qkv_proj.weight", f"{p}/qkv_proj/MatMul", D, (N + 2 * K) * H)
            k = v = ""
        else:
            q = matmul(x, f"model.layers.{i}.attn.q_proj.weight", f"{p}/q_proj/MatMul", D, N * H)
            k = matmul(x, f"model.layers.{i}.attn.k_proj.weight", f"{p}/k_proj/MatMul", D, K * H)
            v = matmul(x, f"model.layers.{i}.attn.v_proj.weight", f"{p}/v_proj/MatMul", D, K * H)
        if a.form in ("gqa-rotemb", "mha"):
            rot = dict(interleaved=int(a.interleaved), num_heads=N, rotary_embedding_dim=rd)
            q = node("RotaryEmbedding", [q, "position_ids", cos, sin], [f"{p}/q_rotary/RotaryEmbedding/output_0"],
                     f"{p}/q_rotary/RotaryEmbedding", ms, **rot)
            rot["num_heads"] = K
            k = node("RotaryEmbedding", [k, "position_ids", cos, sin], [f"{p}/k_rotary/RotaryEmbedding/output_0"],
                     f"{p}/k_rotary/RotaryEmbedding", ms, **rot)
        out = f"{p}/Attention/output_0"
        if a.form == "mha":
            node("MultiHeadAttention", [q, k, v, "", kpm, "", past[0], past[1]], [out, present[0], present[1]],
                 f"{p}/MultiHeadAttention", ms, num_heads=N, unidirectional=1, scale=1 / np.sqrt(H))
        else:
            rotary_in = a.form in ("gqa", "gqa-packed")
            ins = [q, k, v, past[0], past[1], seqlens_k, total] + ([cos, sin] if rotary_in else [])
            node("GroupQueryAttention", ins, [out, present[0], present[1]], f"{p}/GroupQueryAttention", ms,
                 num_heads=N, kv_num_heads=K, scale=1 / np.sqrt(H), local_window_size=a.window, softcap=float(a.softcap),
                 do_rotary=int(rotary_in), rotary_interleaved=int(a.interleaved),
                 **(dict(smooth_softmax=1) if a.smooth_softmax else {}))
        o = matmul(out, f"model.layers.{i}.attn.o_proj.weight", f"{p}/o_proj/MatMul", N * H, D)
        x2, residual = skip_norm(f"/model/layers.{i}/post_attention_layernorm/SkipLayerNorm", o, residual,
                                 f"model.layers.{i}.post_attention_layernorm.weight")
        m = f"/model/layers.{i}/mlp"
        gate = matmul(x2, f"model.layers.{i}.mlp.gate_proj.weight", f"{m}/gate_proj/MatMul", D, I)
        up = matmul(x2, f"model.layers.{i}.mlp.up_proj.weight", f"{m}/up_proj/MatMul", D, I)
        sg = node("Sigmoid", [gate], [f"{m}/act_fn/Sigmoid/output_0"], f"{m}/act_fn/Sigmoid")
        act = node("Mul", [gate, sg], [f"{m}/act_fn/Mul/output_0"], f"{m}/act_fn/Mul")
        hid = node("Mul", [act, up], [f"{m}/Mul/output_0"], f"{m}/Mul")
        down = matmul(hid, f"model.layers.{i}.mlp.down_proj.weight", f"{m}/down_proj/MatMul", I, D)
        if i + 1 < L:
            x, residual = skip_norm(f"/model/layers.{i + 1}/input_layernorm/SkipLayerNorm", down, residual,
                                    f"model.layers.{i + 1}.input_layernorm.weight")
        else:
            x, _ = skip_norm("/model/layers.final_norm_layernorm/SkipLayerNorm", down, residual,
                             "model.norm.weight", last=True)
    node("MatMul", [x, w("lm_head.weight", D, V)], ["logits"], "/lm_head/MatMul")
    graph = h.make_graph(nodes, "genai_" + a.form.replace("-", "_"), inputs, outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 14), h.make_opsetid(ms, 1)],
                         producer_name="bmc make_genai_models.py (onnxruntime-genai builder form)")
    model.ir_version = 8
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--form", required=True, choices=["gqa", "gqa-packed", "gqa-rotemb", "mha"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-size", type=int, default=16)
    ap.add_argument("--rotary-dim", type=int, default=0, help="0: the head size")
    ap.add_argument("--interleaved", action="store_true")
    ap.add_argument("--window", type=int, default=-1, help="GQA local_window_size (-1: none)")
    ap.add_argument("--softcap", type=float, default=0.0, help="GQA softcap (0: none)")
    ap.add_argument("--smooth-softmax", action="store_true", help="GQA smooth_softmax = 1")
    ap.add_argument("--inter", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--max-pos", type=int, default=1024)
    ap.add_argument("--theta", type=float, default=10000.0)
    ap.add_argument("--lengths-as-inputs", action="store_true",
                    help="GQA forms: seqlens_k [batch] and total_sequence_length [] (int32) as graph inputs "
                         "instead of the attention mask")
    ap.add_argument("--symbolic-head-dim", action="store_true",
                    help="declare the caches' last dim as 'kv_cache_dim', as builders since 2026 do")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    if a.form == "mha" and (a.softcap or a.smooth_softmax):
        ap.error("--softcap/--smooth-softmax: GroupQueryAttention forms only (MultiHeadAttention has neither)")
    model = build(a)
    # No onnx.checker: SimplifiedLayerNormalization is onnxruntime's, in the default domain.
    onnx.save(model, a.output)


if __name__ == "__main__":
    main()
