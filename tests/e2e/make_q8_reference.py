#!/usr/bin/python3
"""Writes the fp32 ONNX graph whose matmul weights are what bmc's int8 / int4 weights decode to.

    make_q8_reference.py [--bits 8|4] IN.onnx OUT.onnx

Independent of bmc's code: the quantization is written here from its definition (onnxruntime's
MatMulNBits arithmetic with block_size = 32 and the default zero point; kernels.h "Packed int8 /
int4 layout"): for each column n of a weight B[K, N] and each block of 32 rows of K,
  bits 8: scale = max |w| / 127, q = round-half-to-even(w * (127 / max |w|)) clipped to
          [-127, 127], w' = q * scale;
  bits 4: v = the block's value of largest magnitude (the first, with its sign), scale = v / -8,
          q = round-half-to-even(w * (-8 / v)) + 8 clipped to [0, 15], w' = (q - 8) * scale;
all in float32. Weights so replaced: the constant 2-D float initializers that are the B input of a
MatMul (directly or through a Transpose with perm [1, 0]) or of a Gemm (transB respected): the
matmuls bmc runs on packed weights. An initializer also used elsewhere (a tied embedding gathered
from) keeps its fp32 values there: the matmul gets a dequantized copy.

onnxruntime running OUT is then the oracle for `bmc --weights int8` on IN (tests/e2e/quantized_test.cpp).

    make_q8_reference.py --bits bf16|f16 IN OUT
    make_q8_reference.py --bits bf16|f16 --cast IN OUT

16-bit weights (tests/e2e/w16_test.cpp): the same matmul weights rounded to bf16 (8 significand
bits: the float32 bit pattern rounded to its top 16 bits, ties to even, in integer arithmetic) or
IEEE fp16 (numpy's float16 conversion, round to nearest even). Without --cast they are written back
as float32 (the oracle for `bmc --weights bf16|f16`); with --cast they are stored as BFLOAT16 /
FLOAT16 initializers read through a Cast to FLOAT, as fp16 exports that keep fp32 activations
write them (a model bmc imports with its 16-bit storage, and onnxruntime runs as it is).
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

BLOCK = 32


def dequantized(w, k_axis, bits):
    """w' for a 2-D float32 weight whose contraction axis is k_axis."""
    b = w if k_axis == 0 else w.T  # [K, N]
    K, N = b.shape
    out = np.empty_like(b, dtype=np.float32)
    for k0 in range(0, K, BLOCK):
        blk = b[k0:k0 + BLOCK].astype(np.float32)
        if bits == 4:
            vmax = blk[np.argmax(np.abs(blk), axis=0), np.arange(N)].astype(np.float32)
            scale = (vmax / np.float32(-8.0)).astype(np.float32)
            inv = np.where(vmax != 0, np.float32(-8.0) / np.where(vmax != 0, vmax, 1), 0).astype(np.float32)
            q = np.clip(np.rint((blk * inv).astype(np.float32)) + 8, 0, 15).astype(np.float32)
            out[k0:k0 + BLOCK] = ((q - 8) * scale).astype(np.float32)
            continue
        amax = np.max(np.abs(blk), axis=0)
        scale = (amax / np.float32(127.0)).astype(np.float32)
        inv = np.where(amax > 0, np.float32(127.0) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
        q = np.clip(np.rint(blk * inv), -127, 127).astype(np.float32)
        out[k0:k0 + BLOCK] = (q * scale).astype(np.float32)
    return out if k_axis == 0 else out.T


def bf16_bits(w):
    """float32 -> bf16 bit patterns (uint16), to nearest with ties to even; NaN stays a quiet NaN."""
    u = np.ascontiguousarray(w, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), r)


def rounded16(w, fmt):
    """w rounded to bf16 / fp16, as float32."""
    if fmt == "f16":
        with np.errstate(over="raise"):
            return w.astype(np.float16).astype(np.float32)
    return (bf16_bits(w).astype(np.uint32) << 16).view(np.float32)


def tensor16(w, fmt, name):
    """w as a FLOAT16 / BFLOAT16 initializer."""
    if fmt == "f16":
        return numpy_helper.from_array(w.astype(np.float16), name)
    t = onnx.TensorProto()
    t.name, t.data_type = name, onnx.TensorProto.BFLOAT16
    t.dims.extend(w.shape)
    t.raw_data = bf16_bits(w).tobytes()
    return t


def main(src, dst, bits, cast=False):
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    replaced = 0
    transposes = []  # (before this node, new Transpose node)
    casts = []  # Cast nodes of 16-bit initializers, placed first
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
            if bits in ("bf16", "f16") and cast:
                t = tensor16(w, bits, new_name + "16")
                casts.append(onnx.helper.make_node("Cast", [t.name], [new_name], to=onnx.TensorProto.FLOAT))
            elif bits in ("bf16", "f16"):
                t = numpy_helper.from_array(rounded16(w, bits), new_name)
            else:
                t = numpy_helper.from_array(dequantized(w, k_axis, bits), new_name)
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
    for i, c in enumerate(casts):
        g.node.insert(i, c)
    if bits in ("bf16", "f16"):  # drop the fp32 originals nothing reads any more
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        kept = [t for t in g.initializer if t.name in used]
        del g.initializer[:]
        g.initializer.extend(kept)
    if replaced == 0:
        sys.exit(f"{src}: no matmul weight found to quantize")
    onnx.save(m, dst)


if __name__ == "__main__":
    args = sys.argv[1:]
    bits, cast = 8, False
    if len(args) >= 4 and args[0] == "--bits" and args[1] in ("8", "4", "bf16", "f16"):
        bits, args = (int(args[1]) if args[1] in ("8", "4") else args[1]), args[2:]
    if len(args) == 3 and args[0] == "--cast" and bits in ("bf16", "f16"):
        cast, args = True, args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], bits, cast)
