"""The decoder families, one builder each, following the HF modeling code of that family.

Every builder reads the graph inputs input_ids, attention_mask, position_ids,
past_key_values.{i}.key|value and writes logits and present.{i}.key|value.
"""
import numpy as np
from onnx import TensorProto

from . import blocks as B
from .graph import INT64_MAX


def _past(i, kind):
    return f"past_key_values.{i}.{kind}"


def _first_past_key(g):
    """The exporter reads the cache length through an identity Concat of layer 0's past key."""
    return g.op("Concat", [_past(0, "key")], axis=-2) if g.ts else _past(0, "key")


def _attention_tail(g, cfg, i, q, k, v, mask, past0, batch, seq, **attend_kw):
    """Cache append, GQA repeat, attention, head merge: the part every family shares."""
    pk, pv = B.append_kv(g, i, past0 if i == 0 else _past(i, "key"), _past(i, "value"), k, v)
    n_rep = cfg.heads // cfg.kv_heads
    kk = B.repeat_kv(g, pk, cfg.kv_heads, n_rep, cfg.head_dim)
    vv = B.repeat_kv(g, pv, cfg.kv_heads, n_rep, cfg.head_dim)
    a = B.attend(g, q, kk, vv, mask, cfg.head_dim, softcap=cfg.attn_softcap, **attend_kw)
    return B.merge_heads(g, a, batch, seq)


def _proj(g, scope, x, hf_name, w, bias=None):
    with g.scope(scope):
        return B.linear(g, x, hf_name, w, bias)


# ---- Llama, Mistral, Qwen2, Phi-3 ----------------------------------------------------------------
def build_llama_like(g, cfg, w):
    """LlamaForCausalLM and relatives.

    mistral: sliding-window term in the mask. qwen2: biases on q/k/v. phi3: fused qkv_proj and
    gate_up_proj, split with Slice.
    """
    fam = cfg.family
    H, KV, D, E, I = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.hidden, cfg.inter
    past0 = _first_past_key(g)
    with g.scope("m", "model"):
        with g.scope("embed_tokens"):
            h = g.op("Gather", [g.param("model.embed_tokens.weight", w.normal(cfg.vocab, E)), "input_ids"])
        mask = B.causal_mask(g, h, "attention_mask", past0, cfg.sliding_window)
        with g.scope("rotary_emb"):
            cos, sin = B.rotary_cos_sin(g, cfg, "position_ids", D)
        for i in range(cfg.layers):
            p = f"model.layers.{i}"
            with g.scope(f"layers.{i}"):
                with g.scope("input_layernorm"):
                    x, res = B.rms_norm(g, h, g.param(f"{p}.input_layernorm.weight", w.norm_weight(E)), cfg.norm_eps)
                with g.scope("self_attn"):
                    a = p + ".self_attn"
                    batch, seq = g.dim(x, 0), g.dim(x, 1)
                    if fam == "phi3":
                        qkv = _proj(g, "qkv_proj", x, f"{a}.qkv_proj", w.normal((H + 2 * KV) * D, E))
                        q = g.slice(qkv, 0, H * D, 2)
                        k = g.slice(qkv, H * D, (H + KV) * D, 2)
                        v = g.slice(qkv, (H + KV) * D, INT64_MAX, 2)
                    else:
                        bias = (lambda n: w.normal(n)) if fam == "qwen2" else (lambda n: None)
                        q = _proj(g, "q_proj", x, f"{a}.q_proj", w.normal(H * D, E), bias(H * D))
                        k = _proj(g, "k_proj", x, f"{a}.k_proj", w.normal(KV * D, E), bias(KV * D))
                        v = _proj(g, "v_proj", x, f"{a}.v_proj", w.normal(KV * D, E), bias(KV * D))
                    q = B.split_heads(g, q, batch, seq, D)
                    k = B.split_heads(g, k, batch, seq, D)
                    v = B.split_heads(g, v, batch, seq, D)
                    if i == 0:  # the exporter's CSE leaves one Unsqueeze for all layers
                        cos_u, sin_u = g.unsqueeze(cos, [1]), g.unsqueeze(sin, [1])
                    q = B.apply_rotary(g, q, cos_u, sin_u, D)
                    k = B.apply_rotary(g, k, cos_u, sin_u, D)
                    o = _attention_tail(g, cfg, i, q, k, v, mask, past0, batch, seq)
                    o = _proj(g, "o_proj", o, f"{a}.o_proj", w.normal(E, H * D))
                h = g.op("Add", [res, o])
                with g.scope("post_attention_layernorm"):
                    x, res = B.rms_norm(g, h, g.param(f"{p}.post_attention_layernorm.weight", w.norm_weight(E)),
                                        cfg.norm_eps)
                with g.scope("mlp"):
                    m = p + ".mlp"
                    if fam == "phi3":
                        gu = _proj(g, "gate_up_proj", x, f"{m}.gate_up_proj", w.normal(2 * I, E))
                        gate, up = g.slice(gu, 0, I, 2), g.slice(gu, I, INT64_MAX, 2)
                        with g.scope("activation_fn"):
                            act = B.silu(g, gate)
                        y = g.op("Mul", [up, act])
                    else:
                        gate = _proj(g, "gate_proj", x, f"{m}.gate_proj", w.normal(I, E))
                        with g.scope("act_fn"):
                            act = B.silu(g, gate)
                        y = g.op("Mul", [act, _proj(g, "up_proj", x, f"{m}.up_proj", w.normal(I, E))])
                    y = _proj(g, "down_proj", y, f"{m}.down_proj", w.normal(E, I))
                h = g.op("Add", [res, y])
        with g.scope("norm"):
            h, _ = B.rms_norm(g, h, g.param("model.norm.weight", w.norm_weight(E)), cfg.norm_eps)
    with g.scope("m", "lm_head"):
        g.op("MatMul", [h, g.linear_weight("lm_head.weight", w.normal(cfg.vocab, E))], outputs=["logits"])


# ---- GPT-2 ---------------------------------------------------------------------------------------
def build_gpt2(g, cfg, w):
    """GPT2LMHeadModel: learned positions, LayerNorm, Conv1D (Gemm) with fused QKV + Split,
    GELU-tanh written out, lm_head tied to wte."""
    D, E, I = cfg.head_dim, cfg.hidden, cfg.inter
    proj_std = w.std / np.sqrt(2 * cfg.layers)  # GPT-2's scaled c_proj init
    past0 = _first_past_key(g)
    with g.scope("m", "transformer"):
        seq = g.dim("input_ids", 1)
        ids = g.reshape("input_ids", [-1, seq])
        batch = g.dim(ids, 0)
        wte_w = w.normal(cfg.vocab, E, std=w.std * B.TIED_EMBEDDING_STD)
        wte = g.param("transformer.wte.weight", wte_w)
        with g.scope("wte"):
            emb = g.op("Gather", [wte, ids])
        with g.scope("wpe"):  # half the std of the (untied) embedding, as GPT-2's original init
            pos = g.op("Gather", [g.param("transformer.wpe.weight", w.normal(cfg.max_pos, E, std=w.std / 2)),
                                  "position_ids"])
        h = g.op("Add", [emb, g.op("Cast", [pos], to=TensorProto.FLOAT) if g.ts else pos])
        width = g.last_dim(h)  # for output_shape = (-1,) + input_shape[1:] + (hidden_states.size(-1),)
        am = g.reshape("attention_mask", [batch, -1])
        mask = B.causal_mask(g, emb, am, past0)
        for i in range(cfg.layers):
            p = f"transformer.h.{i}"
            with g.scope(f"h.{i}"):
                with g.scope("ln_1"):
                    x = B.layer_norm(g, h, g.param(f"{p}.ln_1.weight", w.norm_weight(E)),
                                     g.param(f"{p}.ln_1.bias", w.norm_bias(E)))
                with g.scope("attn"):
                    with g.scope("c_attn"):
                        qkv = B.conv1d(g, x, f"{p}.attn.c_attn", w.normal(E, 3 * E), w.normal(3 * E))
                    q, k, v = g.split(qkv, [E, E, E], 2)
                    kb, ks = g.dim(k, 0), g.dim(k, 1)
                    k = B.split_heads(g, k, kb, ks, D)
                    v = B.split_heads(g, v, kb, ks, D)
                    q = B.split_heads(g, q, g.dim(q, 0), g.dim(q, 1), D)
                    pk, pv = B.append_kv(g, i, past0 if i == 0 else _past(i, "key"), _past(i, "value"), k, v)
                    o = B.attend(g, q, pk, pv, mask, D, softmax_casts=1, softcap=cfg.attn_softcap)
                    o = B.merge_heads(g, o, g.dim(o, 0), g.dim(o, 2))
                    with g.scope("c_proj"):
                        o = B.conv1d(g, o, f"{p}.attn.c_proj", w.normal(E, E, std=proj_std), w.normal(E))
                h = g.op("Add", [o, h])
                with g.scope("ln_2"):
                    x = B.layer_norm(g, h, g.param(f"{p}.ln_2.weight", w.norm_weight(E)),
                                     g.param(f"{p}.ln_2.bias", w.norm_bias(E)))
                with g.scope("mlp"):
                    with g.scope("c_fc"):
                        y = B.conv1d(g, x, f"{p}.mlp.c_fc", w.normal(E, I), w.normal(I))
                    with g.scope("act"):
                        y = B.gelu_tanh(g, y)
                    with g.scope("c_proj"):
                        y = B.conv1d(g, y, f"{p}.mlp.c_proj", w.normal(I, E, std=proj_std), w.normal(E))
                h = g.op("Add", [h, y])
        with g.scope("ln_f"):
            h = B.layer_norm(g, h, g.param("transformer.ln_f.weight", w.norm_weight(E)),
                             g.param("transformer.ln_f.bias", w.norm_bias(E)))
        h = g.reshape(h, [-1, seq, width])  # hidden_states.view(output_shape)
    with g.scope("m", "lm_head"):
        g.op("MatMul", [h, _tied_head(g, "transformer.wte.weight", wte_w)], outputs=["logits"])


def _tied_head(g, emb_name, emb):
    """lm_head tied to the embedding: torchscript stores a transposed copy, dynamo transposes
    the one shared initializer."""
    if g.ts:
        return g.linear_weight("lm_head.weight", emb)
    return g.op("Transpose", [emb_name], perm=[1, 0])


# ---- GPT-NeoX ------------------------------------------------------------------------------------
def build_gptneox(g, cfg, w):
    """GPTNeoXForCausalLM (Pythia): fused query_key_value with a per-head [q|k|v] layout cut by
    Slice, partial rotary, parallel residual, LayerNorm, exact GELU (Erf)."""
    H, D, E, I = cfg.heads, cfg.head_dim, cfg.hidden, cfg.inter
    rot = int(D * cfg.rotary_pct)
    past0 = _first_past_key(g)
    with g.scope("m", "gpt_neox"):
        with g.scope("embed_in"):
            h = g.op("Gather", [g.param("gpt_neox.embed_in.weight", w.normal(cfg.vocab, E)), "input_ids"])
        mask = B.causal_mask(g, h, "attention_mask", past0)
        with g.scope("rotary_emb"):
            cos, sin = B.rotary_cos_sin(g, cfg, "position_ids", rot)
        for i in range(cfg.layers):
            p = f"gpt_neox.layers.{i}"
            with g.scope(f"layers.{i}"):
                with g.scope("input_layernorm"):
                    x = B.layer_norm(g, h, g.param(f"{p}.input_layernorm.weight", w.norm_weight(E)),
                                     g.param(f"{p}.input_layernorm.bias", w.norm_bias(E)))
                with g.scope("attention"):
                    batch, seq = g.dim(x, 0), g.dim(x, 1)
                    qkv = _proj(g, "query_key_value", x, f"{p}.attention.query_key_value",
                                w.normal(3 * E, E), w.normal(3 * E))
                    qkv = g.reshape(qkv, [g.dim(qkv, 0), g.dim(qkv, 1), H, 3 * D])
                    q, k, v = (g.op("Transpose", [g.slice(qkv, s, e, 3)], perm=[0, 2, 1, 3])
                               for s, e in ((0, D), (D, 2 * D), (2 * D, INT64_MAX)))
                    if i == 0:
                        cos_u, sin_u = g.unsqueeze(cos, [1]), g.unsqueeze(sin, [1])
                    q = g.op("Concat", [B.apply_rotary(g, g.slice(q, 0, rot, 3), cos_u, sin_u, rot),
                                        g.slice(q, rot, INT64_MAX, 3)], axis=-1)
                    k = g.op("Concat", [B.apply_rotary(g, g.slice(k, 0, rot, 3), cos_u, sin_u, rot),
                                        g.slice(k, rot, INT64_MAX, 3)], axis=-1)
                    o = _attention_tail(g, cfg, i, q, k, v, mask, past0, batch, seq,
                                        scale_op="Div", softmax_casts=1)
                    o = _proj(g, "dense", o, f"{p}.attention.dense", w.normal(E, E), w.normal(E))
                with g.scope("post_attention_layernorm"):
                    x = B.layer_norm(g, h, g.param(f"{p}.post_attention_layernorm.weight", w.norm_weight(E)),
                                     g.param(f"{p}.post_attention_layernorm.bias", w.norm_bias(E)))
                with g.scope("mlp"):
                    y = _proj(g, "dense_h_to_4h", x, f"{p}.mlp.dense_h_to_4h", w.normal(I, E), w.normal(I))
                    with g.scope("act"):
                        y = B.gelu_erf(g, y)
                    y = _proj(g, "dense_4h_to_h", y, f"{p}.mlp.dense_4h_to_h", w.normal(E, I), w.normal(E))
                h = g.op("Add", [g.op("Add", [y, o]), h])  # mlp_output + attn_output + hidden_states
        with g.scope("final_layer_norm"):
            h = B.layer_norm(g, h, g.param("gpt_neox.final_layer_norm.weight", w.norm_weight(E)),
                             g.param("gpt_neox.final_layer_norm.bias", w.norm_bias(E)))
    with g.scope("m", "embed_out"):
        g.op("MatMul", [h, g.linear_weight("embed_out.weight", w.normal(cfg.vocab, E))], outputs=["logits"])


# ---- OPT -----------------------------------------------------------------------------------------
def build_opt(g, cfg, w):
    """OPTForCausalLM: learned positions with offset 2, pre-LayerNorm, ReLU, biases everywhere,
    q scaled right after q_proj (attention itself scales by 1.0), MLP on a flattened 2-D view
    (Gemm with transB=1), lm_head tied to embed_tokens."""
    D, E, I = cfg.head_dim, cfg.hidden, cfg.inter
    past0 = _first_past_key(g)
    with g.scope("m", "model", "decoder"):
        emb_w = w.normal(cfg.vocab, E, std=w.std * B.TIED_EMBEDDING_STD)
        emb_name = g.param("model.decoder.embed_tokens.weight", emb_w)
        with g.scope("embed_tokens"):
            emb = g.op("Gather", [emb_name, "input_ids"])
        mask = B.causal_mask(g, emb, "attention_mask", past0)
        with g.scope("embed_positions"):
            pos = g.op("Add", ["position_ids", g.const(2)])  # OPTLearnedPositionalEmbedding.offset
            pos = g.op("Gather", [g.param("model.decoder.embed_positions.weight", w.normal(cfg.max_pos + 2, E)), pos])
        h = g.op("Add", [emb, pos])
        for i in range(cfg.layers):
            p = f"model.decoder.layers.{i}"
            with g.scope(f"layers.{i}"):
                with g.scope("self_attn_layer_norm"):
                    x = B.layer_norm(g, h, g.param(f"{p}.self_attn_layer_norm.weight", w.norm_weight(E)),
                                     g.param(f"{p}.self_attn_layer_norm.bias", w.norm_bias(E)))
                with g.scope("self_attn"):
                    a = p + ".self_attn"
                    batch, seq = g.dim(x, 0), g.dim(x, 1)
                    q = _proj(g, "q_proj", x, f"{a}.q_proj", w.normal(E, E), w.normal(E))
                    q = g.op("Mul", [q, g.fconst(D ** -0.5)])
                    k = _proj(g, "k_proj", x, f"{a}.k_proj", w.normal(E, E), w.normal(E))
                    v = _proj(g, "v_proj", x, f"{a}.v_proj", w.normal(E, E), w.normal(E))
                    q, k, v = (B.split_heads(g, t, batch, seq, D) for t in (q, k, v))
                    o = _attention_tail(g, cfg, i, q, k, v, mask, past0, batch, seq, scaling=1.0)
                    o = _proj(g, "out_proj", o, f"{a}.out_proj", w.normal(E, E), w.normal(E))
                h = g.op("Add", [h, o])
                shape = [g.dim(h, 0), g.dim(h, 1), g.dim(h, 2)]
                flat = g.reshape(h, [-1, g.dim(h, 2)]) if g.ts else g.op("Reshape", [h, g.const([-1, E])])
                with g.scope("final_layer_norm"):
                    x = B.layer_norm(g, flat, g.param(f"{p}.final_layer_norm.weight", w.norm_weight(E)),
                                     g.param(f"{p}.final_layer_norm.bias", w.norm_bias(E)))
                with g.scope("fc1"):
                    y = _gemm_linear(g, x, f"{p}.fc1", w.normal(I, E), w.normal(I))
                with g.scope("activation_fn"):
                    y = g.op("Relu", [y])
                with g.scope("fc2"):
                    y = _gemm_linear(g, y, f"{p}.fc2", w.normal(E, I), w.normal(E))
                h = g.reshape(g.op("Add", [flat, y]), shape)
        with g.scope("final_layer_norm"):
            h = B.layer_norm(g, h, g.param("model.decoder.final_layer_norm.weight", w.norm_weight(E)),
                             g.param("model.decoder.final_layer_norm.bias", w.norm_bias(E)))
    with g.scope("m", "lm_head"):
        g.op("MatMul", [h, _tied_head(g, emb_name, emb_w)], outputs=["logits"])


def _gemm_linear(g, x, hf_name, w_out_in, bias):
    """nn.Linear on a 2-D input: both exporters write Gemm(transB=1) on the [out, in] weight."""
    wn = g.param(hf_name + ".weight", w_out_in)
    bn = g.param(hf_name + ".bias", bias)
    return g.op("Gemm", [x, wn, bn], alpha=1.0, beta=1.0, transB=1)


BUILDERS = {
    "gpt2": build_gpt2,
    "llama": build_llama_like,
    "mistral": build_llama_like,
    "qwen2": build_llama_like,
    "phi3": build_llama_like,
    "gptneox": build_gptneox,
    "opt": build_opt,
}
# Families whose HF implementation has no grouped-query attention.
MHA_ONLY = {"gpt2", "gptneox", "opt"}
