#!/usr/bin/python3
"""Single-op and small-pattern ONNX graphs with odd shapes, for the test that compares bmc's fast
paths (packed/strided matmul kernels, fused attention, elementwise fusion, runtime copies) with
its plain reference code generation on random inputs. Shapes are deliberately not multiples of
the kernels' tiles (16-column panels, 6-row GEMM blocks, AVX2 lanes).

Usage: make_op_models.py OUT_DIR   (Debian's python3-onnx: run with /usr/bin/python3)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
rng = np.random.default_rng(7)


def vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def w(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def save(out, name, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name + ".onnx"))


def main(out):
    os.makedirs(out, exist_ok=True)
    N = helper.make_node
    # Weight matmuls (the packed kernel: GEMV for 1-4 rows, GEMM above), N and K not multiples of 16.
    for rows in (1, 3, 37):
        save(out, f"matmul_weight_m{rows}", [N("MatMul", ["x", "W"], ["y"])], [vi("x", [2, rows, 37])],
             [vi("y", [2, rows, 19])], [w("W", (37, 19))])
    save(out, "gemm_transb_bias", [N("Gemm", ["x", "W", "b"], ["y"], transB=1)], [vi("x", [5, 33])],
         [vi("y", [5, 17])], [w("W", (17, 33)), w("b", (17,))])
    save(out, "gemm_alpha_beta", [N("Gemm", ["x", "W", "c"], ["y"], alpha=0.7, beta=-1.3)], [vi("x", [7, 9])],
         [vi("y", [7, 11])], [w("W", (9, 11)), w("c", (7, 11))])
    # Activation x activation (the strided kernel), broadcast batch.
    save(out, "matmul_act_batched", [N("MatMul", ["a", "b"], ["y"])], [vi("a", [2, 3, 7, 13]), vi("b", [3, 13, 11])],
         [vi("y", [2, 3, 7, 11])])
    save(out, "matmul_act_transposed",
         [N("Transpose", ["b"], ["bt"], perm=[0, 2, 1]), N("MatMul", ["a", "bt"], ["y"])],
         [vi("a", [3, 5, 9]), vi("b", [3, 7, 9])], [vi("y", [3, 5, 7])])
    # Attention as exporters write it (raised to the fused kernel), GQA 6/2, odd lengths, a mask.
    save(out, "attention_gqa",
         [N("Unsqueeze", ["k", "ax2"], ["ku"]), N("Expand", ["ku", "shape5"], ["ke"]),
          N("Reshape", ["ke", "shape4"], ["kr"]),
          N("Unsqueeze", ["v", "ax2"], ["vu"]), N("Expand", ["vu", "shape5"], ["ve"]),
          N("Reshape", ["ve", "shape4"], ["vr"]),
          N("Transpose", ["kr"], ["kt"], perm=[0, 1, 3, 2]), N("MatMul", ["q", "kt"], ["s"]),
          N("Mul", ["s", "scale"], ["ss"]), N("Add", ["ss", "mask"], ["sm"]),
          N("Softmax", ["sm"], ["p"], axis=-1), N("MatMul", ["p", "vr"], ["o"])],
         [vi("q", [2, 6, 7, 20]), vi("k", [2, 2, 11, 20]), vi("v", [2, 2, 11, 20]), vi("mask", [2, 1, 7, 11])],
         [vi("o", [2, 6, 7, 20])],
         [numpy_helper.from_array(np.array([2], np.int64), "ax2"),
          numpy_helper.from_array(np.array([2, 2, 3, 11, 20], np.int64), "shape5"),
          numpy_helper.from_array(np.array([2, 6, 11, 20], np.int64), "shape4"),
          numpy_helper.from_array(np.array(0.2236068, np.float32), "scale")])
    # Elementwise chains with broadcasting (fused into one loop), odd shapes.
    save(out, "elementwise_chain",
         [N("Mul", ["a", "b"], ["ab"]), N("Add", ["ab", "c"], ["abc"]), N("Tanh", ["abc"], ["t"]),
          N("Sigmoid", ["t"], ["s"]), N("Sub", ["s", "a"], ["y"])],
         [vi("a", [3, 1, 7]), vi("b", [5, 7]), vi("c", [3, 5, 1])], [vi("y", [3, 5, 7])])
    save(out, "gelu_erf_chain",
         [N("Div", ["x", "r2"], ["xd"]), N("Erf", ["xd"], ["e"]), N("Add", ["e", "one"], ["e1"]),
          N("Mul", ["x", "e1"], ["xm"]), N("Mul", ["xm", "half"], ["y"])],
         [vi("x", [3, 37])], [vi("y", [3, 37])],
         [numpy_helper.from_array(np.array(1.4142135, np.float32), "r2"),
          numpy_helper.from_array(np.array(1.0, np.float32), "one"),
          numpy_helper.from_array(np.array(0.5, np.float32), "half")])
    # Normalisation and softmax over odd lengths; a transposed (non-contiguous) softmax input.
    save(out, "layernorm_odd", [N("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)],
         [vi("x", [3, 5, 37])], [vi("y", [3, 5, 37])], [w("g", (37,)), w("b", (37,))])
    save(out, "softmax_transposed",
         [N("Transpose", ["x"], ["xt"], perm=[0, 2, 1]), N("Softmax", ["xt"], ["y"], axis=-1)],
         [vi("x", [2, 9, 5])], [vi("y", [2, 5, 9])])
    # Data movement through the runtime copy: concat of views, split, slice with a step.
    save(out, "concat_views",
         [N("Transpose", ["a"], ["at"], perm=[1, 0, 2]), N("Concat", ["at", "b"], ["y"], axis=2)],
         [vi("a", [5, 3, 7]), vi("b", [3, 5, 4])], [vi("y", [3, 5, 11])])
    save(out, "slice_step_split",
         [N("Slice", ["x", "st", "en", "ax", "sp"], ["s"]), N("Split", ["s"], ["y0", "y1"], axis=1)],
         [vi("x", [4, 13, 6])], [vi("y0", [4, 3, 6]), vi("y1", [4, 3, 6])],
         [numpy_helper.from_array(np.array([1], np.int64), "st"), numpy_helper.from_array(np.array([12], np.int64), "en"),
          numpy_helper.from_array(np.array([1], np.int64), "ax"), numpy_helper.from_array(np.array([2], np.int64), "sp")])


if __name__ == "__main__":
    main(sys.argv[1])
