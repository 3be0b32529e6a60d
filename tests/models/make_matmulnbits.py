#!/usr/bin/python3
"""Rewrites an fp32 ONNX decoder into onnxruntime's weight-only quantized form: MatMulNBits.

    make_matmulnbits.py --bits 8|4 [--accuracy-level N] [--block-size B] [--asymmetric] IN.onnx OUT.onnx

Every MatMul whose B input is a 2-D float32 initializer (directly or through a Transpose) and every
Gemm with such a B (alpha = beta = 1, transA = 0; its bias becomes an Add) becomes a com.microsoft
MatMulNBits node
(as onnxruntime's matmul_nbits_quantizer and onnxruntime-genai's model builder write them:
B as uint8 [N, K/32, blob], scales [N * K/32], block_size 32, no zero_points input, so the
default zero point 2^(bits-1) applies). The quantization is bmc's own (kernels.h; written here in
numpy from the definition), so `bmc --weights int8|int4` on IN and onnxruntime on OUT compute the
same function:
  bits 8: scale = max |w| / 127, q = round-half-even(w * 127 / max |w|) in [-127, 127], stored q + 128;
  bits 4: v = the block's first value of largest magnitude, scale = v / -8,
          q = round-half-even(w * -8 / v) + 8 clipped to [0, 15], two codes per byte (low nibble first).
K is padded to a multiple of 32 with zero codes-at-zero-point, as onnxruntime's quantizer does.
--block-size B (default 32): rows of K per scale (bmc's own quantization is the B = 32 case).
--asymmetric (4 bits): onnxruntime's asymmetric form instead, with a zero_points input:
          scale = (max - min) / 15 over the block (min <= 0 <= max), zero = round(-min / scale),
          q = clip(round(w / scale) + zero, 0, 15).
--accuracy-level: MatMulNBits' accuracy_level attribute (0: fp32 compute; 4: int8 activations,
onnxruntime's fastest CPU path, what onnxruntime-genai uses for int4).
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

BLOCK = 32


def quantize(w, bits, asymmetric=False):
    """w: [K, N] float32 -> (blob uint8 [N, nb, BLOCK*bits/8], scales float32 [N * nb], zero points or None)."""
    K, N = w.shape
    nb = (K + BLOCK - 1) // BLOCK
    wp = np.zeros((nb * BLOCK, N), np.float32)
    wp[:K] = w
    blocks = wp.reshape(nb, BLOCK, N)  # [nb, 32, N]
    scales = np.zeros((N, nb), np.float32)
    codes = np.zeros((N, nb, BLOCK), np.uint8)
    zeros = np.full((N, nb), 8, np.uint8)
    for b in range(nb):
        blk = blocks[b]
        valid = min(BLOCK, K - b * BLOCK)
        if asymmetric:
            lo = np.minimum(np.min(blk[:valid], axis=0), 0).astype(np.float32)
            hi = np.maximum(np.max(blk[:valid], axis=0), 0).astype(np.float32)
            s = ((hi - lo) / np.float32(15.0)).astype(np.float32)
            safe = np.where(s > 0, s, 1).astype(np.float32)
            z = np.clip(np.rint(-lo / safe), 0, 15).astype(np.float32)
            q = np.clip(np.rint((blk / safe).astype(np.float32)) + z, 0, 15)
            q[valid:] = z
            codes[:, b, :] = q.astype(np.uint8).T
            zeros[:, b] = z.astype(np.uint8)
        elif bits == 8:
            amax = np.max(np.abs(blk[:valid]), axis=0)
            s = (amax / np.float32(127.0)).astype(np.float32)
            inv = np.where(amax > 0, np.float32(127.0) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
            q = np.clip(np.rint((blk * inv).astype(np.float32)), -127, 127)
            q[valid:] = 0
            codes[:, b, :] = (q + 128).astype(np.uint8).T
        else:
            vmax = blk[np.argmax(np.abs(blk[:valid]), axis=0), np.arange(N)].astype(np.float32)
            s = (vmax / np.float32(-8.0)).astype(np.float32)
            inv = np.where(vmax != 0, np.float32(-8.0) / np.where(vmax != 0, vmax, 1), 0).astype(np.float32)
            q = np.clip(np.rint((blk * inv).astype(np.float32)) + 8, 0, 15)
            q[valid:] = 8
            codes[:, b, :] = q.astype(np.uint8).T
        scales[:, b] = s
    if bits == 4:
        blob = (codes[:, :, 0::2] | (codes[:, :, 1::2] << 4)).astype(np.uint8)
    else:
        blob = codes
    zp = None
    if asymmetric:
        zpad = np.full((N, nb + nb % 2), 0, np.uint8)
        zpad[:, :nb] = zeros
        zp = (zpad[:, 0::2] | (zpad[:, 1::2] << 4)).astype(np.uint8).reshape(-1)
    return blob, scales.reshape(-1), zp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bits", type=int, choices=(8, 4), required=True)
    ap.add_argument("--accuracy-level", type=int, default=0)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--asymmetric", action="store_true")
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    global BLOCK
    BLOCK = a.block_size
    if a.asymmetric and a.bits != 4:
        sys.exit("--asymmetric: 4 bits only")
    m = onnx.load(a.src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    attrs = lambda n: {x.name: helper.get_attribute_value(x) for x in n.attribute}  # noqa: E731
    new_nodes, converted = [], 0
    for node in g.node:
        w, bias = None, None
        if node.op_type in ("MatMul", "Gemm"):
            b = node.input[1]
            if b in inits:
                w = numpy_helper.to_array(inits[b])
            elif b in producers and producers[b].op_type == "Transpose" and producers[b].input[0] in inits \
                    and attrs(producers[b]).get("perm", [1, 0]) in ([1, 0], (1, 0)):
                w = numpy_helper.to_array(inits[producers[b].input[0]]).T
            if node.op_type == "Gemm" and w is not None:
                at = attrs(node)
                if at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0 or at.get("transA", 0):
                    w = None
                elif at.get("transB", 0):
                    w = w.T
                if len(node.input) > 2 and node.input[2]:
                    bias = node.input[2]
        if w is None or w.ndim != 2 or w.dtype != np.float32:
            new_nodes.append(node)
            continue
        w = np.ascontiguousarray(w)
        K, N = w.shape
        blob, scales, zp = quantize(w, a.bits, a.asymmetric)
        base = (node.name or node.output[0]).replace("/", "_") + f".w{converted}"
        g.initializer.extend([numpy_helper.from_array(blob, base + f".q{a.bits}"),
                              numpy_helper.from_array(scales, base + f".q{a.bits}_scales")])
        inputs = [node.input[0], base + f".q{a.bits}", base + f".q{a.bits}_scales"]
        if zp is not None:
            g.initializer.append(numpy_helper.from_array(zp, base + f".q{a.bits}_zeros"))
            inputs.append(base + f".q{a.bits}_zeros")
        out = node.output[0] + ".nobias" if bias else node.output[0]
        new_nodes.append(helper.make_node(
            "MatMulNBits", inputs, [out],
            name=base + "_nbits", domain="com.microsoft", K=K, N=N, bits=a.bits, block_size=BLOCK,
            accuracy_level=a.accuracy_level))
        if bias:
            new_nodes.append(helper.make_node("Add", [out, bias], [node.output[0]], name=base + "_bias"))
        converted += 1
    if converted == 0:
        sys.exit(f"{a.src}: no MatMul with a 2-D float initializer")
    del g.node[:]
    g.node.extend(new_nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(m, a.dst)
    print(f"{a.dst}: {converted} MatMul -> MatMulNBits (bits {a.bits}, block {BLOCK}, accuracy_level "
          f"{a.accuracy_level}{', asymmetric' if a.asymmetric else ''})")


if __name__ == "__main__":
    main()
