"""Pieces shared by the decoder families, written the way HF modeling code exports.

Each helper follows the HuggingFace implementation it names (transformers 4.5x/5.x), so that the
operator sequence is the exporter's, e.g. RMSNorm as Pow/ReduceMean/Add/Sqrt/Div/Mul and GQA
as Unsqueeze/Expand/Reshape on the present KV.
"""
import math
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, numpy_helper

from .graph import FLOAT_MIN, INT64_MAX


@dataclass
class Config:
    family: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    inter: int
    vocab: int
    max_pos: int
    seed: int = 0
    weight_scale: float = 3.0
    random_norms: bool = False
    rope_theta: float = 10000.0
    rotary_pct: float = 1.0
    sliding_window: int | None = None
    norm_eps: float = 1e-6
    attn_softcap: float = 0.0  # Gemma-2's attn_logit_softcapping (opset >= 23: Attention's softcap)

    @property
    def head_dim(self):
        return self.hidden // self.heads


# A tied head scores each token by its embedding, so a random model whose residual stream is
# mostly the current token's embedding repeats that token forever. Smaller embeddings (relative
# to the blocks' outputs) avoid the collapse.
TIED_EMBEDDING_STD = 0.25


class Weights:
    """HF-style initialisation: normal(0, 0.02), times weight_scale, times sqrt(512 / hidden).

    Unscaled random decoders are nearly uniform over the vocabulary and greedy decoding settles on
    one token; x3 at hidden 512 gives varied greedy output (the shared HF exports also used x3).
    The width factor keeps activations the same size at other widths (std ~ 1/sqrt(fan_in)), so
    tiny models do not collapse either.
    """

    def __init__(self, cfg):
        self.rng = np.random.default_rng(cfg.seed)
        self.std = 0.02 * cfg.weight_scale * math.sqrt(512 / cfg.hidden)
        self.random_norms = cfg.random_norms

    def normal(self, *shape, std=None):
        a = self.rng.standard_normal(shape, dtype=np.float32)
        a *= np.float32(self.std if std is None else std)
        return a

    def norm_weight(self, n):
        # HF initialises norms to ones/zeros; the exporter then aliases the identical tensors.
        if self.random_norms:
            return 1.0 + 0.1 * self.rng.standard_normal(n, dtype=np.float32)
        return np.ones(n, np.float32)

    def norm_bias(self, n):
        if self.random_norms:
            return 0.1 * self.rng.standard_normal(n, dtype=np.float32)
        return np.zeros(n, np.float32)


# ---- projections ----------------------------------------------------------------------------------
def linear(g, x, hf_name, w, bias=None, name="MatMul"):
    """nn.Linear on a [batch, seq, in] input: MatMul (+ Add of the bias)."""
    y = g.op("MatMul", [x, g.linear_weight(hf_name + ".weight", w)])
    if bias is None:
        return y
    b = g.param(hf_name + ".bias", bias)
    # torchscript writes Add(bias, x); dynamo's aten_linear writes Add(x, bias).
    return g.op("Add", [b, y] if g.ts else [y, b])


def conv1d(g, x, hf_name, w_in_out, bias):
    """GPT-2's Conv1D: x.view(-1, nx) -> addmm (Gemm) -> view(*size_out)."""
    nf = w_in_out.shape[1]
    w = g.param(hf_name + ".weight", w_in_out)
    b = g.param(hf_name + ".bias", bias)
    batch, seq = g.dim(x, 0), g.dim(x, 1)
    if g.ts:
        flat = g.reshape(x, [-1, g.last_dim(x)])
    else:
        flat = g.op("Reshape", [x, g.const([-1, w_in_out.shape[0]])], allowzero=0)
    y = g.op("Gemm", [flat, w, b], alpha=1.0, beta=1.0)
    return g.reshape(y, [batch, seq, nf])


# ---- normalisation and activations ----------------------------------------------------------------
def rms_norm(g, x, weight, eps):
    """LlamaRMSNorm. Returns (normalised, residual): torchscript's residual is the Cast input."""
    if g.ts:
        x = g.op("Cast", [x], to=TensorProto.FLOAT, doc_string="upcast")  # hidden_states.to(torch.float32)
    var = g.reduce_mean(g.op("Pow", [x, g.fconst(2.0)]), [-1])
    std = g.op("Sqrt", [g.op("Add", [var, g.fconst(eps)])])
    if g.ts:
        inv = g.op("Div", [g.fconst(1.0), std])  # torch.rsqrt
    else:
        inv = g.op("Reciprocal", [std])  # torchlib's aten_rsqrt
    y = g.op("Mul", [x, inv])
    if g.ts:
        y = g.op("Cast", [y], to=TensorProto.FLOAT)  # .to(input_dtype)
    return g.op("Mul", [weight, y]), x


def layer_norm(g, x, weight, bias, eps=1e-5):
    return g.op("LayerNormalization", [x, weight, bias], axis=-1, epsilon=eps)


def silu(g, x):
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def gelu_tanh(g, x):
    """GPT-2's NewGELUActivation, written out."""
    half = g.op("Mul", [x, g.fconst(0.5)])
    cube = g.op("Mul", [g.op("Pow", [x, g.fconst(3.0)]), g.fconst(0.044715)])
    inner = g.op("Mul", [g.op("Add", [x, cube]), g.fconst(math.sqrt(2.0 / math.pi))])
    return g.op("Mul", [half, g.op("Add", [g.op("Tanh", [inner]), g.fconst(1.0)])])


def gelu_erf(g, x):
    """Exact GELU (nn.functional.gelu) as both exporters decompose it at opset 17/18."""
    erf = g.op("Erf", [g.op("Div", [x, g.fconst(math.sqrt(2.0))])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, g.fconst(1.0)])]), g.fconst(0.5)])


# ---- masks and positions --------------------------------------------------------------------------
def causal_mask(g, embeds, attention_mask, past_key, sliding_window=None):
    """HF create_causal_mask: causal AND padding (AND sliding window), [batch, 1, seq, total].

    torchscript: the eager float mask (0 / finfo.min). dynamo: the bool mask that sdpa receives;
    attend() turns it into floats per layer as torchlib does.
    """
    batch, seq = g.dim(embeds, 0), g.dim(embeds, 1)
    if g.static_cache:
        # A static cache: keys are the MAX rows of the buffer; attention_mask [batch, total] covers
        # the valid ones and is padded with zeros to MAX (transformers pads it to the cache length).
        width = g.dim(attention_mask, 1)
        past = g.op("Sub", [width, seq])
        total = g.const([g.static_cache])
        pad = g.op("ConstantOfShape", [g.op("Concat", [batch, g.op("Sub", [total, width])], axis=0)],
                   value=_tensor(np.array([0], np.int64)))
        attention_mask = g.op("Concat", [attention_mask, pad], axis=1)
    else:
        past = g.dim(past_key, 2)
        total = g.op("Add", [past, seq])
    am = g.op("Cast", [attention_mask], to=TensorProto.BOOL)
    zero, one = g.const(0), g.const(1)
    if not g.ts:
        return _causal_mask_dynamo(g, am, batch, seq, past, total, sliding_window)

    past_c = g.op("Cast", [past], to=TensorProto.INT64)
    b_idx = g.op("Range", [zero, g.op("Cast", [batch], to=TensorProto.INT64), one])
    q_idx = g.op("Add", [g.op("Range", [g.const(0), g.op("Cast", [seq], to=TensorProto.INT64), g.const(1)]), past_c])
    kv_idx = g.op("Range", [g.const(0), g.op("Cast", [total], to=TensorProto.INT64), g.const(1)])
    # Index tensors broadcast to [B,1,1,1], [1,1,S,1], [1,1,1,T], as the vmap'ed mask functions do.
    b4 = g.unsqueeze(g.unsqueeze(g.unsqueeze(b_idx, [1]), [2]), [3])
    q4 = g.unsqueeze(g.unsqueeze(g.unsqueeze(q_idx, [0]), [1]), [3])
    kv4 = g.unsqueeze(g.unsqueeze(g.unsqueeze(kv_idx, [0]), [1]), [2])
    true = g.op("ConstantOfShape", [g.const(np.zeros(0, np.int64))],
                value=_tensor(np.array([True])))
    allowed = g.op("And", [true, g.op("Cast", [g.op("LessOrEqual", [kv4, q4])], to=TensorProto.BOOL)])
    if sliding_window:
        in_window = g.op("Greater", [kv4, g.op("Sub", [q4, g.const(sliding_window)])])
        allowed = g.op("And", [allowed, g.op("Cast", [in_window], to=TensorProto.BOOL)])
    # padding_mask_function: attention_mask[batch_idx, kv_idx] through a flattened gather.
    width = g.op("Gather", [g.op("Shape", [am]), g.const([1])], axis=0)
    flat_idx = g.op("Add", [kv4, g.op("Mul", [b4, width])])
    picked = g.op("Gather", [g.op("Flatten", [am], axis=2), flat_idx], axis=0)
    picked = g.op("Reshape", [picked, g.const([-1])], allowzero=0)
    picked = g.op("Reshape", [picked, g.op("Concat", [g.op("Shape", [flat_idx])], axis=0)], allowzero=0)
    allowed = g.op("And", [allowed, g.op("Cast", [picked], to=TensorProto.BOOL)])
    allowed = g.expand(allowed, [batch, -1, seq, total])
    return g.op("Where", [allowed, g.fconst(0.0), g.fconst(FLOAT_MIN)])


def _index_dynamo(g, data, indices):
    """data[i0, i1, ...] with one tensor index per leading dimension, as torchlib's aten_index
    (onnxscript function_libs/torch_lib/ops/core.py, _aten_index_onnx) writes it: Transpose to
    put indexed dimensions first (here the identity), the indices broadcast to Shape(Max(...)),
    each Expand'ed and Unsqueeze'd on a last axis, Concat'ed into tuples, GatherND, and a
    Transpose that puts the broadcast dimensions where advanced indexing puts them (identity too
    when every dimension is indexed)."""
    rank = len(indices)
    data = g.op("Transpose", [data], perm=list(range(rank)))
    shape = g.op("Shape", [g.op("Max", list(indices))])
    parts = [g.op("Unsqueeze", [g.op("Expand", [i, shape]), g.const([-1])]) for i in indices]
    out = g.op("GatherND", [data, g.op("Concat", parts, axis=-1)], batch_dims=0)
    return out, shape


def _causal_mask_dynamo(g, am, batch, seq, past, total, sliding_window):
    """transformers' sdpa_mask through _non_vmap_expansion_sdpa, as the dynamo exporter sees it:
    aranges of the batch, query (offset by the past length) and key positions indexed to
    [B,1,1,1] / [1,1,S,1] / [1,1,1,T] with one Unsqueeze per None (aten_unsqueeze);
    and_masks starts from a scalar True; the causal (and sliding-window) terms are compared;
    padding_mask_function reads attention_mask[batch_idx, kv_idx] (aten_index -> GatherND);
    the result is expanded to [B, 1, S, T] (aten_expand turns -1 into 1)."""
    zero, one = g.const(0), g.const(1)

    def arange(end, offset=None):  # aten_arange: Range(0, end, 1) on int64 scalars
        r = g.op("Range", [zero, g.dim_scalar(end), one])
        return g.op("Add", [r, offset]) if offset is not None else r

    def index4(x, keep):  # x[None, None, :, None] and friends, one Unsqueeze each
        for axis in range(4):
            if axis != keep:
                x = g.unsqueeze(x, [axis])
        return x

    kv4 = index4(arange(total, g.const(0)), 3)
    q4 = index4(arange(seq, g.dim_scalar(past)), 2)
    allowed = g.op("And", [g.const(True, np.bool_), g.op("LessOrEqual", [kv4, q4])])
    if sliding_window:
        in_window = g.op("Greater", [kv4, g.op("Sub", [q4, g.const(sliding_window)])])
        allowed = g.op("And", [allowed, in_window])
    b4 = index4(arange(batch), 0)
    padding, _ = _index_dynamo(g, am, [b4, kv4])
    padding = g.op("Transpose", [padding], perm=[0, 1, 2, 3])
    allowed = g.op("And", [allowed, padding])
    return g.op("Expand", [allowed, g.shape_vec([batch, 1, seq, total])])


def rotary_cos_sin(g, cfg, position_ids, rot_dims):
    """LlamaRotaryEmbedding.forward: inv_freq @ positions -> cat(freqs, freqs) -> cos, sin."""
    half = rot_dims // 2
    inv_freq = (1.0 / (cfg.rope_theta ** (np.arange(0, rot_dims, 2, dtype=np.float32) / rot_dims))).astype(np.float32)
    batch = g.dim(position_ids, 0)
    if g.ts:
        # The buffer arrives pre-shaped [1, half, 1] as an unscoped Constant.
        inv = g.op("Constant", [], outputs=[f"onnx::Expand_{g._next()}"], value=_tensor(inv_freq.reshape(1, half, 1)))
        inv = g.op("Cast", [g.expand(inv, [batch, -1, 1])], to=TensorProto.FLOAT)
    else:
        inv = g.unsqueeze(g.param("model.rotary_emb.inv_freq", inv_freq), [0, 2])
        inv = g.op("Expand", [inv, g.shape_vec([batch, half, 1])])
    pos = g.op("Cast", [g.unsqueeze(position_ids, [1])], to=TensorProto.FLOAT)
    freqs = g.op("Transpose", [g.op("MatMul", [inv, pos])], perm=[0, 2, 1])
    emb = g.op("Concat", [freqs, freqs], axis=-1)
    cos = g.op("Mul", [g.op("Cos", [emb]), g.fconst(1.0)])  # * attention_scaling
    sin = g.op("Mul", [g.op("Sin", [emb]), g.fconst(1.0)])
    if g.ts:
        cos = g.op("Cast", [cos], to=TensorProto.FLOAT)
        sin = g.op("Cast", [sin], to=TensorProto.FLOAT)
    return cos, sin


def apply_rotary(g, x, cos_u, sin_u, dims):
    """x * cos + rotate_half(x) * sin; rotate_half = cat(-x2, x1) via Slice/Neg/Concat."""
    out = g.op("Mul", [x, cos_u])
    if g.ts:
        # x.shape[-1] // 2, computed at run time.
        half = g.op("Cast", [g.op("Cast", [g.op("Div", [g.dim(x, 3), g.const(2)])], to=TensorProto.INT64)],
                    to=TensorProto.INT64)
        x1 = g.op("Slice", [x, g.const([0]), g.unsqueeze(half, [0]), g.const([3]), g.const([1])])
        x2 = g.op("Slice", [x, g.unsqueeze(half, [0]), g.const([INT64_MAX]), g.const([3]), g.const([1])])
    else:
        x1 = g.slice(x, 0, dims // 2, 3)
        x2 = g.slice(x, dims // 2, INT64_MAX, 3)
    rot = g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)
    return g.op("Add", [out, g.op("Mul", [rot, sin_u])])


# ---- attention ------------------------------------------------------------------------------------
def split_heads(g, x, batch, seq, head_dim):
    """x.view(batch, seq, -1, head_dim).transpose(1, 2)."""
    return g.op("Transpose", [g.reshape(x, [batch, seq, -1, head_dim])], perm=[0, 2, 1, 3])


def merge_heads(g, x, batch, seq):
    """attn.transpose(1, 2).reshape(batch, seq, -1)."""
    return g.reshape(g.op("Transpose", [x], perm=[0, 2, 1, 3]), [batch, seq, -1])


def append_kv(g, layer, past_key, past_value, k, v):
    """present = cat(past, new) on the sequence axis; these Concats are the graph outputs."""
    if g.static_cache:
        # Opset 24's static cache: the new rows written into the buffer at write_indices.
        pk = g.op("TensorScatter", [past_key, k, "write_indices"], axis=-2, outputs=[f"present.{layer}.key"])
        pv = g.op("TensorScatter", [past_value, v, "write_indices"], axis=-2, outputs=[f"present.{layer}.value"])
        return pk, pv
    pk = g.op("Concat", [past_key, k], axis=-2, outputs=[f"present.{layer}.key"])
    pv = g.op("Concat", [past_value, v], axis=-2, outputs=[f"present.{layer}.value"])
    return pk, pv


def repeat_kv(g, x, kv_heads, n_rep, head_dim):
    """HF repeat_kv: x[:, :, None].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)."""
    if n_rep == 1:
        return x
    if g.ts:
        b, h, s, d = (g.dim(x, i) for i in range(4))
        e = g.expand(g.unsqueeze(x, [2]), [b, h, n_rep, s, d])
        return g.reshape(e, [b, g.dim_mul(h, n_rep), s, d])
    b, s = g.dim(x, 0), g.dim(x, 2)
    e = g.op("Expand", [g.unsqueeze(x, [2]), g.shape_vec([b, kv_heads, n_rep, s, head_dim])])
    return g.reshape(e, [b, kv_heads * n_rep, s, head_dim])


def attend(g, q, k, v, mask, head_dim, scale_op="Mul", scaling=None, softmax_casts=2, softcap=0.0):
    """Scores, mask, softmax, weighted values.

    torchscript: eager_attention_forward, MatMul(q, k^T) then Mul (or Div) by the scale.
    dynamo: torchlib's scaled_dot_product_attention decomposition, which scales q and k^T by
    sqrt(scale) each, transposes k through a 3-D reshape, and turns the bool mask into 0/-inf.
    """
    if scaling is None:
        scaling = head_dim ** -0.5
    if not g.ts and g.opset >= 23:
        # torch's exporter at opset 23 (torch/onnx/_internal/exporter/_torchlib/ops/nn.py,
        # aten_scaled_dot_product_attention_23): one Attention node on the 4-D q, k, v with
        # sdpa's (bool) mask and scale, output Y only; the cache concat and GQA repeat stay
        # outside it, as HF's DynamicCache.update and repeat_kv write them.
        cap = {"softcap": float(softcap)} if softcap else {}
        if g.static_cache:  # the whole buffer, its valid rows counted by nonpad_kv_seqlen
            return g.op("Attention", [q, k, v, mask, "", "", "nonpad_kv_seqlen"], scale=scaling, **cap)
        return g.op("Attention", [q, k, v, mask], scale=scaling, **cap)
    if softcap:
        raise ValueError("a soft cap is written as Attention's softcap attribute: it needs opset >= 23 (dynamo)")
    if g.ts:
        s = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
        if scale_op == "Div":
            s = g.op("Div", [s, g.fconst(1.0 / scaling)])
        else:
            s = g.op("Mul", [s, g.fconst(scaling)])
        p = g.op("Softmax", [g.op("Add", [s, mask])], axis=-1)
        for _ in range(softmax_casts):  # softmax(dtype=float32).to(query.dtype), dropout
            p = g.op("Cast", [p], to=TensorProto.FLOAT)
        return g.op("MatMul", [p, v])
    kshape = g.op("Shape", [k])
    last = g.op("Slice", [kshape, g.const([-1]), g.const([INT64_MAX])])
    second = g.op("Slice", [kshape, g.const([-2]), g.const([-1])])
    first = g.op("Slice", [kshape, g.const([0]), g.const([-2])])
    k3 = g.op("Reshape", [k, g.op("Concat", [g.const([-1]), second, last], axis=0)])
    kt = g.op("Reshape", [g.op("Transpose", [k3], perm=[0, 2, 1]), g.op("Concat", [first, last, second], axis=0)])
    root = g.fconst(math.sqrt(scaling))
    s = g.op("MatMul", [g.op("Mul", [q, root]), g.op("Mul", [kt, root])])
    fmask = g.op("Where", [mask, g.fconst(0.0), g.fconst(-np.inf)])
    p = g.op("Softmax", [g.op("Add", [s, fmask])], axis=-1)
    return g.op("MatMul", [p, v])


def _tensor(arr):
    return numpy_helper.from_array(arr)
