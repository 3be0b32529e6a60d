#!/usr/bin/python3
"""Writes one ONNX graph holding the norm / softmax / reduction forms the decoders of
tests/tools/codegen_identical.sh do not (theirs: RMS and last-axis LayerNorm with a bias in
f32, one integer ReduceSum without keepdims; every softmax fused into attention).

    make_norm_forms.py OUT.onnx

Odd sizes (5 x 7, 9) so no loop lands on a power of two:
  sm_fused     Softmax(Add(x, y)) axis -1, read by a Mul: an elementwise producer before the
               kernel (stored, not fused into it) and an elementwise consumer after it (reads
               the result through the seam)
  lsm          LogSoftmax(x) axis 1 (not the last)
  ln_nobias    LayerNormalization(x, S [5, 7]) axis 1: two normalised dims, no bias
  ln_bcast     LayerNormalization(x, s1 [1], b7 [7]) axis -1: a broadcast scale
  r_mean_keep  ReduceMean(x, [1]) keepdims 1
  r_max        ReduceMax(x, [0, 2]) keepdims 0 (opset 17: axes an attribute but for ReduceSum)
  r_min_all    ReduceMin(x) every axis, keepdims 1
  r_prod       ReduceProd(x, [2]) keepdims 0
  r_sum_keep   ReduceSum(x, [2]) keepdims 1
  r_of_norm    ReduceSum(Softmax(LayerNormalization(x, S))) [2]: kernels reading kernels' views
  i_max, i_mean, u_min  ReduceMax / ReduceMean of int32 xi, ReduceMin of uint8 xu, axis 1
  h_sm, h_ln   Softmax and LayerNormalization of an f16 input (s16, b16 [9])

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(13)
    f = lambda *s: (rng.standard_normal(s) * 0.5 + 1.0).astype(np.float32)
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    inits = [
        numpy_helper.from_array(f(5, 7), "S"),
        numpy_helper.from_array(f(1), "s1"),
        numpy_helper.from_array(f(7), "b7"),
        numpy_helper.from_array(f(9).astype(np.float16), "s16"),
        numpy_helper.from_array(f(9).astype(np.float16), "b16"),
        i64("ax2", [2]),
    ]
    node = helper.make_node
    nodes = [
        node("Add", ["x", "y"], ["xy"], name="xy"),
        node("Softmax", ["xy"], ["sm"], name="sm", axis=-1),
        node("Mul", ["sm", "x"], ["sm_fused"], name="sm_fused"),
        node("LogSoftmax", ["x"], ["lsm"], name="lsm", axis=1),
        node("LayerNormalization", ["x", "S"], ["ln_nobias"], name="ln_nobias", axis=1),
        node("LayerNormalization", ["x", "s1", "b7"], ["ln_bcast"], name="ln_bcast", axis=-1, epsilon=1e-3),
        node("ReduceMean", ["x"], ["r_mean_keep"], name="r_mean_keep", axes=[1], keepdims=1),
        node("ReduceMax", ["x"], ["r_max"], name="r_max", axes=[0, 2], keepdims=0),
        node("ReduceMin", ["x"], ["r_min_all"], name="r_min_all", keepdims=1),
        node("ReduceProd", ["x"], ["r_prod"], name="r_prod", axes=[2], keepdims=0),
        node("ReduceSum", ["x", "ax2"], ["r_sum_keep"], name="r_sum_keep", keepdims=1),
        node("LayerNormalization", ["x", "S"], ["ln2"], name="ln2", axis=1),
        node("Softmax", ["ln2"], ["sm2"], name="sm2", axis=2),
        node("ReduceSum", ["sm2", "ax2"], ["r_of_norm"], name="r_of_norm", keepdims=0),
        node("ReduceMax", ["xi"], ["i_max"], name="i_max", axes=[1], keepdims=0),
        node("ReduceMean", ["xi"], ["i_mean"], name="i_mean", axes=[1], keepdims=1),
        node("ReduceMin", ["xu"], ["u_min"], name="u_min", axes=[1], keepdims=0),
        node("Softmax", ["x16"], ["h_sm"], name="h_sm", axis=-1),
        node("LayerNormalization", ["x16", "s16", "b16"], ["h_ln"], name="h_ln", axis=-1),
    ]
    t = lambda name, ty, shape: helper.make_tensor_value_info(name, ty, shape)
    F, I, U, H = TensorProto.FLOAT, TensorProto.INT32, TensorProto.UINT8, TensorProto.FLOAT16
    inputs = [t("x", F, ["n", 5, 7]), t("y", F, ["n", 5, 7]), t("xi", I, ["n", 6]), t("xu", U, ["n", 6]),
              t("x16", H, ["n", 9])]
    outputs = [t("sm_fused", F, ["n", 5, 7]), t("lsm", F, ["n", 5, 7]), t("ln_nobias", F, ["n", 5, 7]),
               t("ln_bcast", F, ["n", 5, 7]), t("r_mean_keep", F, ["n", 1, 7]), t("r_max", F, [5]),
               t("r_min_all", F, [1, 1, 1]), t("r_prod", F, ["n", 5]), t("r_sum_keep", F, ["n", 5, 1]),
               t("r_of_norm", F, ["n", 5]), t("i_max", I, ["n"]), t("i_mean", I, ["n", 1]), t("u_min", U, ["n"]),
               t("h_sm", H, ["n", 9]), t("h_ln", H, ["n", 9])]
    g = helper.make_graph(nodes, "norm_forms", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_norm_forms.py OUT.onnx")
    main(sys.argv[1])
