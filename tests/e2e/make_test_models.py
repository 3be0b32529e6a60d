#!/usr/bin/python3
"""Writes the small ONNX files of the e2e error tests into a directory.

  matmul_add.onnx     y[2,4] = x[2,3] @ W + b, static shapes: not a decoder (Model::run only)
  add_named.onnx      z = x + y, x and y both [n, 4] (a named dim shared by two inputs)
  unsupported_op.onnx an op bmc does not implement (Det) between supported ones
  custom_domain.onnx  an op from a domain bmc does not know (com.example.Frobnicate)

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    opset = [helper.make_opsetid("", 17)]

    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    b = np.array([1, -1, 0.5, 0], dtype=np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
         helper.make_node("Add", ["xw", "b"], ["y"], name="add")],
        "matmul_add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "matmul_add.onnx"))

    g = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["z"], name="add")],
        "add_named",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 4])])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "add_named.onnx"))

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Det", ["r"], ["d"], name="the_determinant"),
         helper.make_node("Neg", ["d"], ["y"], name="neg")],
        "unsupported_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "unsupported_op.onnx"))

    g = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")],
        "custom_domain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    m = helper.make_model(g, opset_imports=opset + [helper.make_opsetid("com.example", 1)])
    onnx.save(m, os.path.join(out_dir, "custom_domain.onnx"))  # the checker does not know the domain


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_test_models.py OUT_DIR")
    main(sys.argv[1])
