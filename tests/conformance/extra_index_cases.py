"""Node tests for the ops the dynamo exporter (torch.onnx.export(dynamo=True), torchlib) writes for
HF decoders' mask and position code: GatherND (aten_index), ScatterND (aten_index_put), CumSum
(aten_cumsum), IsNaN (aten_isnan), Trilu (aten_tril/triu), Range with bounds read from a run-time
shape (aten_arange) and NonZero (aten_index with a boolean index). Odd shapes, negative indices,
batch_dims, every ScatterND reduction, exclusive and reverse sums, ranks 1-4 and empty NonZero
results, dynamic dimensions.

Expected outputs come from the plain numpy functions below (written from the ONNX operator spec);
ort_check_node_tests.mjs runs every case on onnxruntime-node as a second oracle.
"""
import itertools

import numpy as np
from onnx import helper as h
from onnx import numpy_helper as nh

N = h.make_node


def gather_nd(data, indices, batch_dims=0):
    """ONNX GatherND by enumeration: out[i..., rest...] = data[batch(i), *indices[i...], rest...]."""
    m = indices.shape[-1]
    outer = indices.shape[:-1]
    rest = data.shape[batch_dims + m:]
    out = np.empty(outer + rest, data.dtype)
    for i in itertools.product(*[range(d) for d in outer]):
        tup = tuple(int(k) for k in indices[i])
        tup = tuple(k + data.shape[batch_dims + j] if k < 0 else k for j, k in enumerate(tup))
        out[i] = data[i[:batch_dims] + tup]
    return out


def scatter_nd(data, indices, updates, reduction="none"):
    """ONNX ScatterND, updates applied in index order."""
    out = data.copy()
    m = indices.shape[-1]
    for i in itertools.product(*[range(d) for d in indices.shape[:-1]]):
        tup = tuple(int(k) + data.shape[j] if int(k) < 0 else int(k) for j, k in enumerate(indices[i]))
        u = updates[i]
        if reduction == "none":
            out[tup] = u
        elif reduction == "add":
            out[tup] = out[tup] + u
        elif reduction == "mul":
            out[tup] = out[tup] * u
        elif reduction == "max":
            out[tup] = np.maximum(out[tup], u)
        else:
            out[tup] = np.minimum(out[tup], u)
    assert m <= data.ndim
    return out


def nonzero(x):
    """ONNX NonZero: numpy's coordinates of the non-zero elements (row-major), as [rank, count]."""
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


def cumsum(x, axis, exclusive=False, reverse=False):
    y = np.flip(x, axis) if reverse else x
    s = np.cumsum(y, axis=axis, dtype=x.dtype)
    if exclusive:
        s = s - y
    return np.flip(s, axis) if reverse else s


def add_cases(w, rng):
    f32, i64 = np.float32, np.int64

    # GatherND: negative indices, a partial tuple (slices of rank 1), odd shapes.
    x = rng.standard_normal((5, 4, 3)).astype(f32)
    idx = np.array([[[0, -1], [4, 2]], [[-5, 0], [2, -4]], [[1, 1], [-1, 3]]], i64)  # [3, 2, 2]
    w.case("gathernd_negative_indices", [N("GatherND", ["x", "i"], ["y"])], {"x": x, "i": idx},
           {"y": gather_nd(x, idx)}, opset=13)
    full = np.array([[4, 3, 2], [-1, -1, -1], [0, 1, 0]], i64)  # full tuples: scalars out
    w.case("gathernd_full_tuples", [N("GatherND", ["x", "i"], ["y"])], {"x": x, "i": full},
           {"y": gather_nd(x, full)}, opset=13)
    xb = rng.integers(-50, 50, (3, 5, 7)).astype(i64)
    ib = np.array([[[4], [-2]], [[0], [0]], [[-5], [3]]], i64)  # [3, 2, 1]
    w.case("gathernd_batch_dims1_int64", [N("GatherND", ["x", "i"], ["y"], batch_dims=1)], {"x": xb, "i": ib},
           {"y": gather_nd(xb, ib, 1)}, opset=13)
    x4 = rng.standard_normal((2, 3, 4, 5)).astype(f32)
    i4 = rng.integers(-4, 4, (2, 3, 2, 2)).astype(i64)
    i4[..., 1] = rng.integers(-5, 5, (2, 3, 2))
    w.case("gathernd_batch_dims2", [N("GatherND", ["x", "i"], ["y"], batch_dims=2)], {"x": x4, "i": i4},
           {"y": gather_nd(x4, i4, 2)}, opset=13)
    # What aten_index writes for mask[:, idx] on a [batch, seq] mask: Transpose, then GatherND on
    # [k, 1] indices; here with both dimensions symbolic.
    mask = rng.integers(0, 2, (2, 6)).astype(i64)
    pos = np.array([[5], [-1], [0], [2]], i64)
    w.case("gathernd_dynamic_dims_bool", [N("Cast", ["m"], ["b"], to=9), N("Transpose", ["b"], ["t"], perm=[1, 0]),
                                          N("GatherND", ["t", "i"], ["y"])],
           {"m": mask, "i": pos}, {"y": gather_nd(mask.astype(np.bool_).T, pos)}, opset=18,
           dynamic={"m": (0, 1), "i": (0,)})

    # transformers' padding_mask_function, attention_mask[batch_idx, kv_idx] with batch_idx
    # [B,1,1,1] and kv_idx [1,1,1,T], as aten_index writes it (tests/models' dynamo idiom): Max of
    # the indices for the broadcast shape, Expand + Unsqueeze(-1) each, Concat, GatherND. A
    # left-padded mask, batch and length symbolic.
    am = np.array([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1]], i64)
    b4 = np.arange(3, dtype=i64).reshape(3, 1, 1, 1)
    kv4 = np.arange(7, dtype=i64).reshape(1, 1, 1, 7)
    nodes = [N("Cast", ["am"], ["amb"], to=9), N("Transpose", ["amb"], ["t"], perm=[0, 1]),
             N("Max", ["b", "kv"], ["mx"]), N("Shape", ["mx"], ["s"]),
             N("Expand", ["b", "s"], ["be"]), N("Unsqueeze", ["be", "m1"], ["bu"]),
             N("Expand", ["kv", "s"], ["ke"]), N("Unsqueeze", ["ke", "m1"], ["ku"]),
             N("Concat", ["bu", "ku"], ["idx"], axis=-1), N("GatherND", ["t", "idx"], ["y"], batch_dims=0)]
    w.case("gathernd_aten_index_padding_mask", nodes, {"am": am, "b": b4, "kv": kv4},
           {"y": am.astype(np.bool_)[b4, kv4]}, {"m1": np.array([-1], i64)}, opset=18,
           dynamic={"am": (0, 1), "b": (0,), "kv": (3,)})

    # ScatterND: every reduction; duplicates only where the reduction makes them well defined.
    d = rng.standard_normal((5, 4)).astype(f32)
    si = np.array([[-1], [1]], i64)
    su = rng.standard_normal((2, 4)).astype(f32)
    w.case("scatternd_none_negative", [N("ScatterND", ["d", "i", "u"], ["y"])], {"d": d, "i": si, "u": su},
           {"y": scatter_nd(d, si, su)}, opset=13)
    de = rng.integers(-9, 9, (3, 4, 5)).astype(i64)
    ei = np.array([[2, 3, 4], [0, -4, 0], [-1, 0, -1]], i64)
    eu = np.array([100, 200, 300], i64)
    w.case("scatternd_elements_int64", [N("ScatterND", ["d", "i", "u"], ["y"])], {"d": de, "i": ei, "u": eu},
           {"y": scatter_nd(de, ei, eu)}, opset=13)
    dup = np.array([[[1], [3]], [[1], [-4]]], i64)  # [2, 2, 1]: row 1 three times (as 1 and -4 of 5)
    du = rng.standard_normal((2, 2, 4)).astype(f32)
    for red, opset in (("add", 16), ("mul", 16), ("max", 18), ("min", 18)):
        w.case("scatternd_%s_duplicates" % red, [N("ScatterND", ["d", "i", "u"], ["y"], reduction=red)],
               {"d": d, "i": dup, "u": du}, {"y": scatter_nd(d, dup, du, red)}, opset=opset)
    # aten_index_put (cache[:, :, pos] = new) writes ScatterND on a transposed cache; dynamic rows.
    kv = rng.standard_normal((6, 2, 3)).astype(f32)
    kvi = np.array([[4], [5]], i64)
    kvu = rng.standard_normal((2, 2, 3)).astype(f32)
    w.case("scatternd_dynamic_rows", [N("ScatterND", ["d", "i", "u"], ["y"])], {"d": kv, "i": kvi, "u": kvu},
           {"y": scatter_nd(kv, kvi, kvu)}, opset=18, dynamic={"d": (0,), "i": (0,), "u": (0,)})

    # CumSum: HF position ids (cumsum(mask, -1) - 1 over a left-padded int64 mask), exclusive,
    # reverse, an int32 one-element axis, float16 accumulation.
    am = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], i64)
    one = np.array(1, i64)
    w.case("cumsum_position_ids", [N("CumSum", ["m", "a"], ["c"]), N("Sub", ["c", "one"], ["y"])],
           {"m": am}, {"y": cumsum(am, 1) - 1}, {"a": np.array(-1, i64), "one": one}, opset=18,
           dynamic={"m": (0, 1)})
    xc = rng.standard_normal((2, 3, 4)).astype(f32)
    for ex, rev in ((1, 0), (0, 1), (1, 1)):
        name = "cumsum_axis_neg2%s%s" % ("_exclusive" if ex else "", "_reverse" if rev else "")
        w.case(name, [N("CumSum", ["x", "a"], ["y"], exclusive=ex, reverse=rev)], {"x": xc},
               {"y": cumsum(xc, 1, bool(ex), bool(rev))}, {"a": np.array([-2], np.int32)}, opset=14)
    xi = rng.integers(-100, 100, (3, 7)).astype(np.int32)
    w.case("cumsum_int32_axis0_reverse", [N("CumSum", ["x", "a"], ["y"], reverse=1)], {"x": xi},
           {"y": cumsum(xi, 0, reverse=True)}, {"a": np.array(0, i64)}, opset=14)

    # IsNaN, and the exporter's nan_to_num-style IsNaN/Where chain.
    xn = np.array([[np.nan, 1.0, -np.inf], [np.inf, -0.0, np.nan]], f32)
    w.case("isnan_inf_signed_zero", [N("IsNaN", ["x"], ["y"])], {"x": xn}, {"y": np.isnan(xn)}, opset=13)
    w.case("isnan_float16", [N("IsNaN", ["x"], ["y"])], {"x": xn.astype(np.float16)},
           {"y": np.isnan(xn)}, opset=13)
    w.case("isnan_where_chain", [N("IsNaN", ["x"], ["n"]), N("Where", ["n", "z", "x"], ["y"])],
           {"x": xn}, {"y": np.where(np.isnan(xn), f32(0), xn)}, {"z": np.array(0.0, f32)}, opset=18,
           dynamic={"x": (0, 1)})

    # Range with symbolic bounds as aten_arange / aten_arange_start write them: CastLike'd 0 and 1,
    # the limit read from a run-time shape (arange(seq)), the start from another (arange(past, past+seq)).
    past = rng.standard_normal((1, 2, 3, 4)).astype(f32)
    ids = np.zeros((1, 5), i64)
    sh = lambda name, src, k: [N("Shape", [src], [name + "_s"], start=k, end=k + 1),  # noqa: E731
                               N("Squeeze", [name + "_s", "ax0"], [name])]
    nodes = (sh("p", "past", 2) + sh("q", "ids", 1) +
             [N("Add", ["p", "q"], ["end"]), N("CastLike", ["one_f", "end"], ["one"]),
              N("Range", ["p", "end", "one"], ["cache_position"]),
              N("CastLike", ["zero_f", "q"], ["zero"]), N("Range", ["zero", "q", "one"], ["arange_q"])])
    w.case("range_symbolic_bounds", nodes, {"past": past, "ids": ids},
           {"cache_position": np.arange(3, 8, dtype=i64), "arange_q": np.arange(5, dtype=i64)},
           {"ax0": np.array([0], i64), "one_f": np.array(1.0, f32), "zero_f": np.array(0.0, f32)}, opset=18,
           dynamic={"past": (0, 2), "ids": (0, 1)})

    # Trilu as aten_triu writes the causal mask: full((q, k), min) then triu(diagonal=1), with q and
    # k symbolic and the diagonal a constant.
    lo = np.finfo(f32).min
    qk = np.zeros((4, 6), f32)
    nodes = [N("Shape", ["qk"], ["s"]), N("ConstantOfShape", ["s"], ["full"], value=nh.from_array(np.array([lo], f32))),
             N("Trilu", ["full", "k"], ["y"], upper=1)]
    w.case("trilu_causal_mask_dynamic", nodes, {"qk": qk}, {"y": np.triu(np.full((4, 6), lo, f32), 1)},
           {"k": np.array(1, i64)}, opset=18, dynamic={"qk": (0, 1)})
    ti = rng.integers(-5, 5, (2, 3, 5)).astype(i64)
    w.case("trilu_lower_int64_batched", [N("Trilu", ["x", "k"], ["y"], upper=0)], {"x": ti},
           {"y": np.tril(ti, -2)}, {"k": np.array(-2, i64)}, opset=14)

    # NonZero: ranks 1-4, odd sizes, NaN (non-zero) and -0.0 (zero), every element type onnxruntime's
    # CPU kernel has, empty results, dynamic dimensions.
    x1 = np.array([0.0, -0.0, np.nan, 1.5, 0.0, -2.0, np.inf], f32)
    w.case("nonzero_rank1_nan_negzero", [N("NonZero", ["x"], ["y"])], {"x": x1}, {"y": nonzero(x1)}, opset=13)
    b2 = rng.random((3, 5)) < 0.4
    w.case("nonzero_rank2_bool_dynamic", [N("NonZero", ["x"], ["y"])], {"x": b2}, {"y": nonzero(b2)}, opset=13,
           dynamic={"x": (0, 1)})
    u2 = (rng.integers(0, 3, (5, 3)) * rng.integers(0, 2, (5, 3))).astype(np.uint8)
    w.case("nonzero_rank2_uint8", [N("NonZero", ["x"], ["y"])], {"x": u2}, {"y": nonzero(u2)}, opset=13)
    i3 = (rng.integers(-3, 4, (3, 4, 5)) * (rng.random((3, 4, 5)) < 0.5)).astype(np.int32)
    w.case("nonzero_rank3_int32", [N("NonZero", ["x"], ["y"])], {"x": i3}, {"y": nonzero(i3)}, opset=13)
    i4 = (rng.integers(-9, 9, (2, 3, 1, 5)) * (rng.random((2, 3, 1, 5)) < 0.3)).astype(i64)
    w.case("nonzero_rank4_int64_dynamic", [N("NonZero", ["x"], ["y"])], {"x": i4}, {"y": nonzero(i4)}, opset=13,
           dynamic={"x": (0, 3)})
    z2 = np.zeros((3, 5), f32)
    z2[1, 2] = -0.0
    w.case("nonzero_empty_rank2", [N("NonZero", ["x"], ["y"])], {"x": z2}, {"y": nonzero(z2)}, opset=13,
           dynamic={"x": (0, 1)})
    z4 = np.zeros((2, 1, 3, 1), np.bool_)
    w.case("nonzero_empty_rank4_bool", [N("NonZero", ["x"], ["y"])], {"x": z4}, {"y": nonzero(z4)}, opset=9)
    # x[mask] as aten_index writes it for a boolean index: NonZero, Transpose, GatherND; symbolic dims.
    xm = rng.standard_normal((4, 7)).astype(f32)
    mm = rng.random((4, 7)) < 0.5
    nodes = [N("NonZero", ["m"], ["nz"]), N("Transpose", ["nz"], ["idx"], perm=[1, 0]),
             N("GatherND", ["x", "idx"], ["y"], batch_dims=0)]
    w.case("nonzero_boolean_index_chain", nodes, {"x": xm, "m": mm}, {"y": xm[mm]}, opset=18,
           dynamic={"x": (0, 1), "m": (0, 1)})
    w.case("nonzero_boolean_index_chain_empty", nodes, {"x": xm, "m": np.zeros_like(mm)},
           {"y": xm[np.zeros_like(mm)]}, opset=18, dynamic={"x": (0, 1), "m": (0, 1)})
