#!/usr/bin/python3
"""Writes the fp32 ONNX graph whose matmul weights are what bmc's int8 weights decode to.

    make_q8_reference.py IN.onnx OUT.onnx

Independent of bmc's code: the quantization is written here from its definition (onnxruntime's
MatMulNBits arithmetic with bits = 8, block_size = 32, default zero point; kernels.h "Packed int8
layout"): for each column n of a weight B[K, N] and each block of 32 rows of K,
scale = max |w| / 127, q = round-half-to-even(w / scale) clipped to [-127, 127], w' = q * scale
(in float32). Weights so replaced: the constant 2-D float initializers that are the B input of a
MatMul (directly or through a Transpose with perm [1, 0]) or of a Gemm (transB respected): the
matmuls bmc runs on packed weights. An initializer also used elsewhere (a tied embedding gathered
from) keeps its fp32 values there: the matmul gets a dequantized copy.

onnxruntime running OUT is then the oracle for `bmc --weights int8` on IN (tests/e2e/quantized_test.cpp).
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

BLOCK = 32


def dequantized(w, k_axis):
    """w' for a 2-D float32 weight whose contraction axis is k_axis."""
    b = w if k_axis == 0 else w.T  # [K, N]
    K, N = b.shape
    out = np.empty_like(b, dtype=np.float32)
    for k0 in range(0, K, BLOCK):
        blk = b[k0:k0 + BLOCK].astype(np.float32)
        amax = np.max(np.abs(blk), axis=0)
        scale = (amax / np.float32(127.0)).astype(np.float32)
        inv = np.where(amax > 0, np.float32(127.0) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
        q = np.clip(np.rint(blk * inv), -127, 127).astype(np.float32)
        out[k0:k0 + BLOCK] = (q * scale).astype(np.float32)
    return out if k_axis == 0 else out.T


def main(src, dst):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    replaced = 0
    transposes = []  # (before this node, new Transpose node)
    for node in list(g.node):
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            continue
        b_name, k_axis = node.input[1], 0
        if node.op_type == "Gemm":
            for a in node.attribute:
                if a.name == "transB" and a.i:
                    k_axis = 1
        via = producers.get(b_name)
        if b_name not in inits and via is not None and via.op_type == "Transpose":
            perm = [list(a.ints) for a in via.attribute if a.name == "perm"]
            if perm in ([[1, 0]], []) and via.input[0] in inits:
                b_name, k_axis = via.input[0], 1 - k_axis
            else:
                continue
        if b_name not in inits:
            continue
        w = numpy_helper.to_array(inits[b_name])
        if w.ndim != 2 or w.dtype != np.float32:
            continue
        new_name = b_name + ".q8ref"
        if new_name not in inits:
            t = numpy_helper.from_array(dequantized(w, k_axis), new_name)
            g.initializer.append(t)
            inits[new_name] = t
            replaced += 1
        if node.input[1] == b_name:
            node.input[1] = new_name
        else:  # through a Transpose: give the matmul its own
            out = node.input[1] + ".q8ref"
            transposes.append((node, onnx.helper.make_node("Transpose", [new_name], [out], perm=[1, 0])))
            node.input[1] = out
    for before, t_node in transposes:
        if t_node.output[0] not in {o for n in g.node for o in n.output}:
            g.node.insert(list(g.node).index(before), t_node)
    if replaced == 0:
        sys.exit(f"{src}: no matmul weight found to quantize")
    onnx.save(m, dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
