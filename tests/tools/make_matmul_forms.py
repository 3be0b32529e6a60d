#!/usr/bin/python3
"""Writes one ONNX graph holding every matmul form the lowering distinguishes, for
tests/tools/codegen_identical.sh (the decoders it compiles have no Gemm, no batched or 1-D
matmul and no 16-bit weight read through a Cast by something else too).

    make_matmul_forms.py OUT.onnx

Odd sizes (K = 70, N = 37 / 19 / 23) so no form lands on a panel boundary:
  g_packed_t   Gemm(x, W1 [37, 70], b1 [37]) transB = 1: packed transposed weight, fused bias row
  g_bcast_c    Gemm(x, W2 [70, 19], c [1]): packed weight, C of one element added in the epilogue
  g_strided    Gemm(p [5, 6], q [5, 4], r [6, 4]) transA = 1, alpha 0.5, beta 2: no weight (strided)
  m_batched    MatMul(a [2, 3, 5, 7], b [3, 7, 4]): batch broadcast, strided kernel
  m_vec_lhs    MatMul(v [70], W2): 1-D left operand, packed weight
  m_vec_rhs    MatMul(a2 [5, 7], u [7]): 1-D right operand, strided
  m_wt         MatMul(x, Transpose(W3 [19, 70])): a transposed weight through a Transpose
  m_cast16     MatMul(x, Cast(W16 [70, 23] fp16 -> f32)): a 16-bit weight read through a Cast that
               feeds only this matmul (no code for the Cast)
  m_cast16_out MatMul(x, Cast(W16b)) with the Cast also returned: the Cast is computed, the
               matmul still reads the packed 16-bit weight
  m_logits3    MatMul(h [n, s, 70], W2): a 3-D left operand (rows flattened)

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(11)
    f = lambda *s: (rng.standard_normal(s) * 0.1).astype(np.float32)
    inits = [
        numpy_helper.from_array(f(37, 70), "W1"),
        numpy_helper.from_array(f(37), "b1"),
        numpy_helper.from_array(f(70, 19), "W2"),
        numpy_helper.from_array(f(1), "c"),
        numpy_helper.from_array(f(19, 70), "W3"),
        numpy_helper.from_array(f(70, 23).astype(np.float16), "W16"),
        numpy_helper.from_array(f(70, 23).astype(np.float16), "W16b"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["g_packed_t"], name="g_packed_t", transB=1),
        helper.make_node("Gemm", ["x", "W2", "c"], ["g_bcast_c"], name="g_bcast_c"),
        helper.make_node("Gemm", ["p", "q", "r"], ["g_strided"], name="g_strided", transA=1, alpha=0.5, beta=2.0),
        helper.make_node("MatMul", ["a", "b"], ["m_batched"], name="m_batched"),
        helper.make_node("MatMul", ["v", "W2"], ["m_vec_lhs"], name="m_vec_lhs"),
        helper.make_node("MatMul", ["a2", "u"], ["m_vec_rhs"], name="m_vec_rhs"),
        helper.make_node("Transpose", ["W3"], ["W3t"], name="w3t", perm=[1, 0]),
        helper.make_node("MatMul", ["x", "W3t"], ["m_wt"], name="m_wt"),
        helper.make_node("Cast", ["W16"], ["W16f"], name="w16f", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x", "W16f"], ["m_cast16"], name="m_cast16"),
        helper.make_node("Cast", ["W16b"], ["W16bf"], name="w16bf", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x", "W16bf"], ["m_cast16_out"], name="m_cast16_out"),
        helper.make_node("MatMul", ["h", "W2"], ["m_logits3"], name="m_logits3"),
    ]
    fl = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    inputs = [fl("x", ["n", 70]), fl("p", [5, 6]), fl("q", [5, 4]), fl("r", [6, 4]), fl("a", [2, 3, 5, 7]),
              fl("b", [3, 7, 4]), fl("v", [70]), fl("a2", [5, 7]), fl("u", [7]), fl("h", ["n", "s", 70])]
    outputs = [fl("g_packed_t", ["n", 37]), fl("g_bcast_c", ["n", 19]), fl("g_strided", [6, 4]),
               fl("m_batched", [2, 3, 5, 4]), fl("m_vec_lhs", [19]), fl("m_vec_rhs", [5]), fl("m_wt", ["n", 19]),
               fl("m_cast16", ["n", 23]), fl("m_cast16_out", ["n", 23]), fl("W16bf", [70, 23]),
               fl("m_logits3", ["n", "s", 19])]
    g = helper.make_graph(nodes, "matmul_forms", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_matmul_forms.py OUT.onnx")
    main(sys.argv[1])
