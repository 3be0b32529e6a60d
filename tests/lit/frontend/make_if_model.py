#!/usr/bin/python3
"""Writes a small graph shaped like Optimum's merged decoder for the If import tests.

  outer:  x: f32[batch,4], use_cache_branch: BOOL[1]; w_merged_1: f32[4,20] (shared initializer)
          r = Relu(x)
          y, z = If(use_cache_branch)   name 'optimum::if'
  then_branch 'with_past' (no inputs; reads x, r and w_merged_1 from the outer scope):
          r = MatMul(r, w_merged_1)     a branch name equal to an outer one: renamed on inlining
          y = Add(r, half)              half: f32 scalar, a branch initializer
          outputs y (the If's own name) and x (an outer value: bound by an Identity)
  else_branch 'no_past':  y = MatMul(x, w_merged_1); outputs y, x

--cond NAME makes the If's condition another input (of --cond-type), --computed makes it a
node's output (Greater), --nested puts an If on input 'flag' inside the then_branch: each
must be refused. Needs Debian's python3-onnx (/usr/bin/python3).
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

p = argparse.ArgumentParser()
p.add_argument("-o", required=True)
p.add_argument("--cond", default="use_cache_branch")
p.add_argument("--cond-type", choices=("bool", "i64"), default="bool")
p.add_argument("--computed", action="store_true")
p.add_argument("--nested", action="store_true")
a = p.parse_args()

f32 = TensorProto.FLOAT
w = numpy_helper.from_array((np.arange(80, dtype=np.float32) / 80).reshape(4, 20), "w_merged_1")
half = numpy_helper.from_array(np.array(0.5, np.float32), "half")

then_nodes = [helper.make_node("MatMul", ["r", "w_merged_1"], ["t"], name="/with_past/MatMul")]
if a.nested:
    inner = helper.make_graph([helper.make_node("Identity", ["t"], ["u"])], "inner", [],
                              [helper.make_tensor_value_info("u", f32, None)])
    then_nodes.append(helper.make_node("If", ["flag"], ["t2"], name="/with_past/inner_if",
                                       then_branch=inner, else_branch=inner))
    then_nodes.append(helper.make_node("Add", ["t2", "half"], ["y"], name="/with_past/Add"))
else:
    # The branch's own 'r' shadows the outer one after the MatMul reads it.
    then_nodes[0] = helper.make_node("MatMul", ["r", "w_merged_1"], ["r2"], name="/with_past/MatMul")
    then_nodes.append(helper.make_node("Relu", ["r2"], ["r_then"], name="/with_past/Relu"))
    then_nodes.append(helper.make_node("Add", ["r_then", "half"], ["y"], name="/with_past/Add"))
then_branch = helper.make_graph(then_nodes, "with_past", [],
                                [helper.make_tensor_value_info("y", f32, ["batch", 20]),
                                 helper.make_tensor_value_info("x", f32, ["batch", 4])],
                                initializer=[half])
# The branch defines 'r' too (as Optimum's two decoders both define their node names).
if not a.nested:
    then_branch.node[1].output[0] = "r"
    then_branch.node[2].input[0] = "r"
else_branch = helper.make_graph([helper.make_node("MatMul", ["x", "w_merged_1"], ["y"], name="/no_past/MatMul")],
                                "no_past", [],
                                [helper.make_tensor_value_info("y", f32, ["batch", 20]),
                                 helper.make_tensor_value_info("x", f32, ["batch", 4])])

inputs = [helper.make_tensor_value_info("x", f32, ["batch", 4])]
nodes = [helper.make_node("Relu", ["x"], ["r"], name="/Relu")]
cond = a.cond
if a.computed:
    nodes.append(helper.make_node("ReduceSum", ["x"], ["s"], name="/ReduceSum", keepdims=0))
    nodes.append(helper.make_node("Greater", ["s", "half_outer"], ["computed_cond"], name="/Greater"))
    cond = "computed_cond"
else:
    inputs.append(helper.make_tensor_value_info(a.cond, TensorProto.BOOL if a.cond_type == "bool" else TensorProto.INT64,
                                                [1]))
if a.nested:
    inputs.append(helper.make_tensor_value_info("flag", TensorProto.BOOL, [1]))
nodes.append(helper.make_node("If", [cond], ["y", "z"], name="optimum::if",
                              then_branch=then_branch, else_branch=else_branch))
inits = [w]
if a.computed:
    inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "half_outer"))
graph = helper.make_graph(nodes, "merged", inputs,
                          [helper.make_tensor_value_info("y", f32, ["batch", 20]),
                           helper.make_tensor_value_info("z", f32, ["batch", 4])], initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save_model(model, a.o)
