#!/usr/bin/python3
"""Writes opset 24's static-cache attention for the import tests (tests/lit/frontend).

Two TensorScatter nodes write k and v [b, 2, s, 8] into the buffers past_key / past_value
[b, 2, 16, 8] at write_indices [b]; an Attention node (q [b, 4, s, 8], grouped heads) reads the
written buffers with nonpad_kv_seqlen [b]. Outputs y, present_key, present_value.

Damage for the negative tests: --mode circular, --no-write-indices, --past-also-read (a Shape of
past_key is a graph output too), --present-not-output (the written key buffer is not returned),
--past-from-node (past_key passes through an Abs). --mask adds a bool attn_mask [b, 1, s, 16]
input; --causal sets is_causal.

Needs Debian's python3-onnx (run with /usr/bin/python3).
"""
import argparse

import onnx
from onnx import TensorProto, helper


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--mode", default=None)
    p.add_argument("--causal", action="store_true")
    p.add_argument("--mask", action="store_true")
    p.add_argument("--no-write-indices", action="store_true")
    p.add_argument("--past-also-read", action="store_true")
    p.add_argument("--present-not-output", action="store_true")
    p.add_argument("--past-from-node", action="store_true")
    a = p.parse_args()

    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("q", f32, ["b", 4, "s", 8]),
              helper.make_tensor_value_info("k", f32, ["b", 2, "s", 8]),
              helper.make_tensor_value_info("v", f32, ["b", 2, "s", 8]),
              helper.make_tensor_value_info("past_key", f32, ["b", 2, 16, 8]),
              helper.make_tensor_value_info("past_value", f32, ["b", 2, 16, 8]),
              helper.make_tensor_value_info("write_indices", i64, ["b"]),
              helper.make_tensor_value_info("nonpad_kv_seqlen", i64, ["b"])]
    if a.mask:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.BOOL, ["b", 1, "s", 16]))
    outputs = [helper.make_tensor_value_info("y", f32, ["b", 4, "s", 8]),
               helper.make_tensor_value_info("present_key", f32, ["b", 2, 16, 8]),
               helper.make_tensor_value_info("present_value", f32, ["b", 2, 16, 8])]
    nodes = []
    past_key = "past_key"
    if a.past_from_node:
        nodes.append(helper.make_node("Abs", ["past_key"], ["past_key_copy"], name="copy"))
        past_key = "past_key_copy"
    if a.past_also_read:
        nodes.append(helper.make_node("Shape", ["past_key"], ["past_shape"], name="shape"))
        outputs.append(helper.make_tensor_value_info("past_shape", i64, [4]))
    wi = "" if a.no_write_indices else "write_indices"
    attrs = {"mode": a.mode} if a.mode else {}
    present_key = "present_key_buf" if a.present_not_output else "present_key"
    nodes.append(helper.make_node("TensorScatter", [past_key, "k", wi], [present_key], name="write_k", **attrs))
    nodes.append(helper.make_node("TensorScatter", ["past_value", "v", wi], ["present_value"], name="write_v",
                                  **attrs))
    nodes.append(helper.make_node("Attention", ["q", present_key, "present_value", "mask" if a.mask else "", "", "",
                                                "nonpad_kv_seqlen"], ["y"], name="attn",
                                  is_causal=int(a.causal)))
    if a.present_not_output:
        nodes.append(helper.make_node("Identity", [present_key], ["present_key"], name="alias"))
    graph = helper.make_graph(nodes, "static_cache", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])
    model.ir_version = 10
    onnx.save_model(model, a.output)


if __name__ == "__main__":
    main()
