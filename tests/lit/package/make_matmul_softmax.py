#!/usr/bin/python3
"""Writes a two-node ONNX graph, y = Softmax(x @ W) with W a [16, 24] f32
initializer, x [batch, seq, 16]: a graph the CUDA program writer takes whole
(tests/lit/package). Needs python3-onnx (run with /usr/bin/python3).

  make_matmul_softmax.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(14)
w = numpy_helper.from_array(rng.standard_normal((16, 24)).astype(np.float32), "W")
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["h"], name="proj"),
     helper.make_node("Softmax", ["h"], ["y"], name="probs", axis=-1)],
    "matmul_softmax",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 24])],
    [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save(model, sys.argv[1])
