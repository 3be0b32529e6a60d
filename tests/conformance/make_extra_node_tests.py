#!/usr/bin/env python3
"""Node tests that ONNX 1.12's backend data lacks, in the same layout
(test_*/model.onnx + test_data_set_0/{input,output}_N.pb), for bmc_conformance:

- the opset 18 signatures bmc supports (Reduce* with axes as an input,
  Split with num_outputs) and Gelu (opset 20);
- weights as initializers, which select the packed matmul kernels (the node
  tests feed every operand as a graph input);
- dynamic input dimensions, run-time shapes, NaN and integer corner cases;
- the dynamo exporter's indexing ops (extra_index_cases.py);
- ONNX Attention, opsets 23 and 24, and TensorScatter (extra_attention_cases.py);
- onnxruntime's contrib ops of onnxruntime-genai graphs (extra_contrib_cases.py).

Expected outputs come from numpy. Usage: make_extra_node_tests.py OUT_DIR
"""
import math
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

import extra_attention_cases
import extra_contrib_cases
import extra_index_cases

ONNX_TYPE = {np.float32: TP.FLOAT, np.float64: TP.DOUBLE, np.float16: TP.FLOAT16, np.int64: TP.INT64,
             np.int32: TP.INT32, np.int8: TP.INT8, np.uint8: TP.UINT8, np.bool_: TP.BOOL}
N = h.make_node


def value_info(name, a, dynamic=()):
    vi = h.make_tensor_value_info(name, ONNX_TYPE[a.dtype.type], list(a.shape))
    for k in dynamic:
        vi.type.tensor_type.shape.dim[k].dim_param = "%s_d%d" % (name, k)
    return vi


class Writer:
    def __init__(self, out):
        self.out = out

    def case(self, name, nodes, inputs, outputs, inits=None, opset=18, dynamic=None, domains=()):
        """inputs/outputs: dicts name -> array (graph order); inits: name -> array;
        dynamic: input name -> dims declared symbolic; domains: (domain, version) opset imports
        besides the default domain's."""
        d = os.path.join(self.out, "test_" + name)
        os.makedirs(os.path.join(d, "test_data_set_0"))
        dynamic = dynamic or {}
        graph = h.make_graph(nodes, name, [value_info(k, v, dynamic.get(k, ())) for k, v in inputs.items()],
                             [value_info(k, v) for k, v in outputs.items()],
                             [nh.from_array(v, k) for k, v in (inits or {}).items()])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)] +
                             [h.make_opsetid(d, v) for d, v in domains])
        model.ir_version = 10 if opset >= 23 else 8  # opset 23 needs IR 10
        onnx.save(model, os.path.join(d, "model.onnx"))
        for kind, values in (("input", inputs), ("output", outputs)):
            for i, (k, v) in enumerate(values.items()):
                with open(os.path.join(d, "test_data_set_0", "%s_%d.pb" % (kind, i)), "wb") as f:
                    f.write(nh.from_array(np.asarray(v), k).SerializeToString())


def softmax(a, axis):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    w = Writer(out)
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((3, 4, 5)).astype(f32)

    # Opset 18 reductions: axes as a constant input, all axes, noop_with_empty_axes.
    for op, f in [("ReduceMean", np.mean), ("ReduceMax", np.max), ("ReduceMin", np.min),
                  ("ReduceProd", np.prod), ("ReduceSum", np.sum)]:
        axes = {"axes": np.array([0, -1], np.int64)}
        w.case(op + "18_axes", [N(op, ["x", "axes"], ["y"], keepdims=0)], {"x": x}, {"y": f(x, axis=(0, 2))}, axes)
        w.case(op + "18_all_axes", [N(op, ["x"], ["y"])], {"x": x}, {"y": f(x, keepdims=True)})
        w.case(op + "18_noop", [N(op, ["x"], ["y"], noop_with_empty_axes=1)], {"x": x}, {"y": x})
        xi = rng.integers(-5, 5, (3, 4)).astype(np.int64)
        want = np.trunc(xi.sum(1, keepdims=True) / 4) if op == "ReduceMean" else f(xi, axis=1, keepdims=True)
        w.case(op + "18_int64", [N(op, ["x", "axes"], ["y"])], {"x": xi}, {"y": want.astype(np.int64)},
               {"axes": np.array([1], np.int64)})

    # Integer reductions over a middle axis (int64, int32; odd sizes, negative values and sums):
    # ReduceMean is the sum divided by the count in integer division, truncated toward zero as
    # onnxruntime does it (conformance.extra_ort checks these expectations against it).
    for dt in (np.int64, np.int32):
        xr = rng.integers(-50, 40, (3, 5, 7)).astype(dt)
        sums = xr.astype(np.int64).sum(1, keepdims=True)
        for op, want in [("ReduceMean", (np.sign(sums) * (np.abs(sums) // 5)).astype(dt)),
                         ("ReduceSum", sums.astype(dt)), ("ReduceMax", xr.max(1, keepdims=True)),
                         ("ReduceMin", xr.min(1, keepdims=True))]:
            for keep in (0, 1):
                w.case("%s18_%s_axis1_keepdims%d" % (op, np.dtype(dt).name, keep),
                       [N(op, ["x", "axes"], ["y"], keepdims=keep)], {"x": xr},
                       {"y": want if keep else want.reshape(3, 7)}, {"axes": np.array([1], np.int64)})

    # Opset 18 Split: num_outputs (the last part shorter) and sizes as an input.
    x7 = rng.standard_normal((2, 7)).astype(f32)
    w.case("split18_num_outputs_uneven", [N("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)], {"x": x7},
           {"a": x7[:, :3], "b": x7[:, 3:6], "c": x7[:, 6:]})
    w.case("split18_sizes", [N("Split", ["x", "s"], ["a", "b"], axis=-1)], {"x": x7},
           {"a": x7[:, :2], "b": x7[:, 2:]}, {"s": np.array([2, 5], np.int64)})

    # Gelu (opset 20), exact and tanh.
    xg = (rng.standard_normal((4, 6)) * 3).astype(f32)
    xd = xg.astype(np.float64)
    exact = 0.5 * xd * (1 + np.vectorize(math.erf)(xd / math.sqrt(2)))
    approx = 0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd ** 3)))
    w.case("gelu20", [N("Gelu", ["x"], ["y"])], {"x": xg}, {"y": exact.astype(f32)}, opset=20)
    w.case("gelu20_tanh", [N("Gelu", ["x"], ["y"], approximate="tanh")], {"x": xg}, {"y": approx.astype(f32)},
           opset=20)

    # Softmax over a middle axis (13) and the opset < 13 flattening form.
    w.case("softmax13_axis1", [N("Softmax", ["x"], ["y"], axis=1)], {"x": x}, {"y": softmax(x, 1)}, opset=13)
    w.case("logsoftmax11_axis1", [N("LogSoftmax", ["x"], ["y"], axis=1)], {"x": x},
           {"y": np.log(softmax(x.reshape(3, 20), 1)).reshape(3, 4, 5).astype(f32)}, opset=11)

    # Fully masked rows: all -inf gives NaN (exp(-inf - -inf)), all of the exporters' finite fill
    # (float32's lowest) uniform weights; rows partly -inf or lowest are ordinary rows. Odd length 7.
    # (LogSoftmax has no partly-lowest row: onnxruntime gives -inf there, bmc x - max - log(sum),
    # which stays -FLT_MAX.)
    lo = np.finfo(f32).min
    xm = rng.standard_normal((4, 7)).astype(f32)
    xm[0] = -np.inf
    xm[1] = lo
    xm[2, [0, 3, 6]] = -np.inf
    xm[3, :4] = lo
    with np.errstate(invalid="ignore", divide="ignore"):
        w.case("softmax13_masked_rows", [N("Softmax", ["x"], ["y"])], {"x": xm}, {"y": softmax(xm, -1)}, opset=13)
        w.case("logsoftmax13_masked_rows", [N("LogSoftmax", ["x"], ["y"])], {"x": xm[:3]},
               {"y": np.log(softmax(xm[:3].astype(np.float64), -1)).astype(f32)}, opset=13)

    # Weights as initializers: the packed kernels (positive data: no cancellation
    # below the tolerances, whatever the summation order).
    a = rng.random((2, 5, 37)).astype(f32)
    wt = rng.random((37, 53)).astype(f32)
    w.case("matmul_weight", [N("MatMul", ["a", "w"], ["y"])], {"a": a}, {"y": a @ wt}, {"w": wt}, opset=17)
    w.case("matmul_weight_dynamic_rows", [N("MatMul", ["a", "w"], ["y"])], {"a": a}, {"y": a @ wt}, {"w": wt},
           opset=17, dynamic={"a": (0, 1)})
    a2 = rng.random((7, 37)).astype(f32)
    wn = rng.random((53, 37)).astype(f32)
    bias = rng.random((53,)).astype(f32)
    w.case("gemm_weight_transB_bias", [N("Gemm", ["a", "w", "b"], ["y"], transB=1)], {"a": a2},
           {"y": a2 @ wn.T + bias}, {"w": wn, "b": bias}, opset=17)
    w.case("gemm_weight_alpha_beta", [N("Gemm", ["a", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)],
           {"a": a2}, {"y": 0.5 * (a2 @ wn.T) + 2 * bias}, {"w": wn, "b": bias}, opset=17)
    big_a = rng.random((3, 67, 256)).astype(f32)
    big_w = rng.random((256, 192)).astype(f32)
    w.case("matmul_weight_large", [N("MatMul", ["a", "w"], ["y"])], {"a": big_a}, {"y": big_a @ big_w},
           {"w": big_w}, opset=17)
    ba = rng.random((2, 3, 67, 256)).astype(f32)
    bb = rng.random((2, 3, 256, 65)).astype(f32)
    w.case("matmul_batched_large", [N("MatMul", ["a", "b"], ["y"])], {"a": ba, "b": bb}, {"y": ba @ bb}, opset=17)
    w.case("matmul_transposed_operand", [N("Transpose", ["b"], ["bt"], perm=[0, 1, 3, 2]),
                                         N("MatMul", ["a", "bt"], ["y"])],
           {"a": ba, "b": np.ascontiguousarray(bb.transpose(0, 1, 3, 2))}, {"y": ba @ bb}, opset=17)

    # MatMul: 1-D operand, batch broadcast, integers.
    v = rng.standard_normal((4,)).astype(f32)
    m3 = rng.standard_normal((2, 4, 3)).astype(f32)
    w.case("matmul_vector_3d", [N("MatMul", ["v", "m"], ["y"])], {"v": v, "m": m3}, {"y": v @ m3})
    b1 = rng.standard_normal((3, 1, 2, 4)).astype(f32)
    b2 = rng.standard_normal((5, 4, 6)).astype(f32)
    w.case("matmul_batch_broadcast", [N("MatMul", ["a", "b"], ["y"])], {"a": b1, "b": b2}, {"y": b1 @ b2})
    mi = rng.integers(-3, 3, (3, 4)).astype(np.int32)
    mj = rng.integers(-3, 3, (4, 2)).astype(np.int32)
    w.case("matmul_int32", [N("MatMul", ["a", "b"], ["y"])], {"a": mi, "b": mj}, {"y": mi @ mj})

    # Data movement.
    gi = np.array([[-1, 0], [2, -3]], np.int64)
    w.case("gather_negative_indices_axis1", [N("Gather", ["x", "i"], ["y"], axis=1)], {"x": x, "i": gi},
           {"y": np.take(x, gi, axis=1)})
    w.case("gather_int32_indices", [N("Gather", ["x", "i"], ["y"], axis=1)], {"x": x, "i": gi.astype(np.int32)},
           {"y": np.take(x, gi, axis=1)})
    xt = rng.standard_normal((2, 3)).astype(f32)
    w.case("tile_runtime_repeats", [N("Tile", ["x", "r"], ["y"])], {"x": xt, "r": np.array([2, 3], np.int64)},
           {"y": np.tile(xt, (2, 3))})
    w.case("tile_zero_repeat", [N("Tile", ["x", "r"], ["y"])], {"x": xt}, {"y": np.tile(xt, (0, 2))},
           {"r": np.array([0, 2], np.int64)})
    xe = rng.standard_normal((3, 1)).astype(f32)
    w.case("expand_adds_rank", [N("Expand", ["x", "s"], ["y"])], {"x": xe, "s": np.array([2, 1, 4], np.int64)},
           {"y": np.broadcast_to(xe, (2, 3, 4)).copy()})
    xs2 = np.arange(20, dtype=f32).reshape(4, 5)
    w.case("slice_negative_steps_int32", [N("Slice", ["x", "s", "e", "a", "p"], ["y"])],
           {"x": xs2, "s": np.array([-1, 4], np.int32), "e": np.array([-100, 0], np.int32)},
           {"y": xs2[-1:-100:-2, 4:0:-1]}, {"a": np.array([0, 1], np.int32), "p": np.array([-2, -1], np.int32)},
           opset=13)
    w.case("reshape_runtime_shape_dynamic", [N("Reshape", ["x", "s"], ["y"])],
           {"x": x, "s": np.array([0, -1], np.int64)}, {"y": x.reshape(3, 20)}, dynamic={"x": (0, 1, 2)})
    w.case("flatten_negative_axis_dynamic", [N("Flatten", ["x"], ["y"], axis=-2)], {"x": x},
           {"y": x.reshape(3, 20)}, dynamic={"x": (0,)})
    w.case("unsqueeze13_negative_axis", [N("Unsqueeze", ["x", "a"], ["y"])], {"x": x}, {"y": x.reshape(3, 4, 5, 1)},
           {"a": np.array([-1], np.int64)}, opset=13)
    w.case("squeeze13_no_axes", [N("Squeeze", ["x"], ["y"])], {"x": xe}, {"y": xe.reshape(3)}, opset=13)
    w.case("concat_negative_axis", [N("Concat", ["a", "b"], ["y"], axis=-1)], {"a": x, "b": x[:, :, :2].copy()},
           {"y": np.concatenate([x, x[:, :, :2]], -1)}, opset=13)
    w.case("shape15_negative_start_end", [N("Shape", ["x"], ["y"], start=-2, end=-1)], {"x": x},
           {"y": np.array([4], np.int64)}, opset=15)
    w.case("size_dynamic", [N("Size", ["x"], ["y"])], {"x": x}, {"y": np.array(60, np.int64)},
           dynamic={"x": (0, 2)})
    w.case("constantofshape_int32", [N("ConstantOfShape", ["s"], ["y"], value=nh.from_array(np.array([7], np.int32)))],
           {"s": np.array([2, 3], np.int64)}, {"y": np.full((2, 3), 7, np.int32)})
    xt2 = rng.standard_normal((2, 4, 5)).astype(f32)
    w.case("trilu_lower_negative_k", [N("Trilu", ["x", "k"], ["y"], upper=0)], {"x": xt2, "k": np.array(-1, np.int64)},
           {"y": np.tril(xt2, -1)}, opset=14)

    # LayerNormalization: axis 1, no bias, with the Mean and InvStdDev outputs.
    g = rng.standard_normal((4, 5)).astype(f32)
    mu = x.mean((1, 2), keepdims=True)
    inv = 1 / np.sqrt(((x - mu) ** 2).mean((1, 2), keepdims=True) + 1e-5)
    w.case("layernorm_axis1_no_bias_stats", [N("LayerNormalization", ["x", "g"], ["y", "m", "s"], axis=1)],
           {"x": x, "g": g}, {"y": ((x - mu) * inv * g).astype(f32), "m": mu.astype(f32), "s": inv.astype(f32)},
           opset=17)

    # Elementwise corner cases.
    s1 = rng.standard_normal((3, 1)).astype(f32)
    s2 = rng.standard_normal((4,)).astype(f32)
    s3 = rng.standard_normal((1, 4)).astype(f32)
    w.case("sum_three_broadcast", [N("Sum", ["a", "b", "c"], ["y"])], {"a": s1, "b": s2, "c": s3}, {"y": s1 + s2 + s3})
    w.case("mean_three_broadcast", [N("Mean", ["a", "b", "c"], ["y"])], {"a": s1, "b": s2, "c": s3},
           {"y": ((s1 + s2 + s3) / 3).astype(f32)})
    xn = np.array([np.nan, 1, -1, np.inf, -np.inf], f32)
    w.case("max_nan", [N("Max", ["a", "b"], ["y"])], {"a": xn, "b": np.zeros(5, f32)}, {"y": np.maximum(xn, 0)})
    w.case("sign_nan", [N("Sign", ["a"], ["y"])], {"a": xn}, {"y": np.sign(xn)})
    ma = np.array([-7, -3, 3, 7, 5, -5], np.int64)
    mb = np.array([3, -2, -2, 3, -5, 5], np.int64)
    w.case("mod_int64_python", [N("Mod", ["a", "b"], ["y"])], {"a": ma, "b": mb}, {"y": np.mod(ma, mb)})
    w.case("mod_int64_fmod", [N("Mod", ["a", "b"], ["y"], fmod=1)], {"a": ma, "b": mb}, {"y": np.fmod(ma, mb)})
    w.case("div_int32_truncates", [N("Div", ["a", "b"], ["y"])],
           {"a": np.array([7, -7, 7, -7], np.int32), "b": np.array([2, 2, -2, -2], np.int32)},
           {"y": np.array([3, -3, -3, 3], np.int32)})
    xc = np.array([-2.7, -0.5, 0.0, 0.4, 3.9, 1e3], f32)
    w.case("cast_float_to_int32", [N("Cast", ["x"], ["y"], to=TP.INT32)], {"x": xc}, {"y": xc.astype(np.int32)})
    w.case("cast_float_to_bool", [N("Cast", ["x"], ["y"], to=TP.BOOL)], {"x": xc}, {"y": xc.astype(np.bool_)})
    ci = rng.integers(-10, 10, (10,)).astype(np.int32)
    w.case("clip_int32_min_only", [N("Clip", ["x", "lo"], ["y"])], {"x": ci, "lo": np.array(-2, np.int32)},
           {"y": np.maximum(ci, -2)})
    w.case("clip_max_only", [N("Clip", ["x", "", "hi"], ["y"])], {"x": x, "hi": np.array(0.5, f32)},
           {"y": np.minimum(x, 0.5)})
    w.case("range_float", [N("Range", ["s", "l", "d"], ["y"])],
           {"s": np.array(1.0, f32), "l": np.array(2.0, f32), "d": np.array(0.3, f32)},
           {"y": np.arange(1.0, 2.0, 0.3, dtype=f32)})
    w.case("pow_int64_base_float_exponent", [N("Pow", ["x", "e"], ["y"])],
           {"x": np.array([2, 3, 4], np.int64), "e": np.array([2.0, 0.5, 1.0], f32)},
           {"y": np.array([4, 1, 4], np.int64)})
    cond = rng.integers(0, 2, (2, 1, 4)).astype(np.bool_)
    w.case("where_int64_broadcast", [N("Where", ["c", "a", "b"], ["y"])],
           {"c": cond, "a": np.arange(4, dtype=np.int64), "b": np.array([-1], np.int64)},
           {"y": np.where(cond, np.arange(4), -1).astype(np.int64)})
    xs = np.array([-100, -20, -1, 0, 1, 20, 100], f32)
    w.case("softplus_extremes", [N("Softplus", ["x"], ["y"])], {"x": xs},
           {"y": np.log1p(np.exp(xs.astype(np.float64))).astype(f32)})
    w.case("sigmoid_extremes", [N("Sigmoid", ["x"], ["y"])], {"x": xs},
           {"y": (1 / (1 + np.exp(-xs.astype(np.float64)))).astype(f32)})
    x16 = np.abs(rng.standard_normal((5,))).astype(np.float16)
    w.case("sqrt_float16", [N("Sqrt", ["x"], ["y"])], {"x": x16}, {"y": np.sqrt(x16)})
    w.case("abs_int8", [N("Abs", ["x"], ["y"])], {"x": np.array([-127, -3, 0, 5], np.int8)},
           {"y": np.array([127, 3, 0, 5], np.int8)})
    w.case("less_uint8", [N("Less", ["a", "b"], ["y"])],
           {"a": np.array([0, 200, 5], np.uint8), "b": np.array([1, 100, 5], np.uint8)},
           {"y": np.array([True, False, False])})
    extra_index_cases.add_cases(w, rng)
    extra_attention_cases.add_cases(w, rng)
    extra_attention_cases.add_scatter_cases(w)
    extra_contrib_cases.add_cases(w, rng)


if __name__ == "__main__":
    main()
