#!/usr/bin/python3
"""Writes the small ONNX files of the e2e error tests into a directory.

  matmul_add.onnx     y[2,4] = x[2,3] @ W + b, static shapes: not a decoder (Model::run only)
  add_named.onnx      z = x + y, x and y both [n, 4] (a named dim shared by two inputs)
  unsupported_op.onnx an op bmc does not implement (Det) between supported ones
  custom_domain.onnx  an op from a domain bmc does not know (com.example.Frobnicate)
  nbits_ok.onnx       one com.microsoft MatMulNBits (4 bits, K = 70: not a multiple of the block,
                      N = 20, block 32, zero points, bias) on x[3, 70]; nbits_ok.expected: y as raw
                      float32, computed here in float64 from the definition
  nbits_block16.onnx, nbits_bits2.onnx, nbits_gidx.onnx, nbits_zp8.onnx, contrib_unknown.onnx:
                      MatMulNBits forms bmc refuses (block_size 16, 2 bits, a g_idx input, 8-bit
                      zero points other than 128) and a contrib op it does not import
  w16_overflow.onnx   y[2,48] = x[2,64] @ w_big, one weight 70000 (beyond fp16's 65504)
  attention_batches.onnx  o = softmax(q k^T / sqrt(8)) v with q [bq, 2, 3, 8], k and v [bk, 2, 5, 8]:
                      the batches named apart (fused attention checks them at run time)
  squeeze_dynamic.onnx  y[b,4] = Squeeze(x[b,n,4], axes [1]): n must be 1 at run time
  expand_from_data.onnx y = Expand(x[1,3], shape), shape an int64[2] input: its sizes are data
  fp16_matmul.onnx    a fully fp16 graph: y[3,37] = x[3,70] @ W, all FLOAT16; fp16_matmul.expected: y
                      as raw float16, computed here in float64 from x[i] = (i % 7 - 3) / 4

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

    big = np.arange(64 * 48, dtype=np.float32).reshape(64, 48) / 1000  # a weight, not a small constant
    big[40, 17] = 70000.0
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w_big"], ["y"], name="matmul")],
        "w16_overflow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 48])],
        [numpy_helper.from_array(big, "w_big")])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "w16_overflow.onnx"))

    w16 = (np.random.default_rng(16).standard_normal((70, 37)) * 2).astype(np.float16)
    x16 = ((np.arange(3 * 70) % 7 - 3) / 4).reshape(3, 70).astype(np.float16)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")],
        "fp16_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [3, 70])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [3, 37])],
        [numpy_helper.from_array(w16, "W")])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "fp16_matmul.onnx"))
    (x16.astype(np.float64) @ w16.astype(np.float64)).astype(np.float16).tofile(
        os.path.join(out_dir, "fp16_matmul.expected"))
    # Attention as exporters write it (raised to the fused kernel), with q's batch 'bq' and k/v's
    # 'bk' independent: only the run time can see that they differ.
    F = TensorProto.FLOAT
    g = helper.make_graph(
        [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
         helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Mul", ["s", "scale"], ["ss"]),
         helper.make_node("Softmax", ["ss"], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["o"])],
        "attention_batches",
        [helper.make_tensor_value_info("q", F, ["bq", 2, 3, 8]), helper.make_tensor_value_info("k", F, ["bk", 2, 5, 8]),
         helper.make_tensor_value_info("v", F, ["bk", 2, 5, 8])],
        [helper.make_tensor_value_info("o", F, ["bq", 2, 3, 8])],
        [numpy_helper.from_array(np.array(0.35355339, np.float32), "scale")])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "attention_batches.onnx"))
    # Run-time shape errors of the data ops: a squeezed dimension that is dynamic, an Expand whose
    # shape is input data.
    g = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "axes"], ["y"], name="squeeze")],
        "squeeze_dynamic",
        [helper.make_tensor_value_info("x", F, ["b", "n", 4])],
        [helper.make_tensor_value_info("y", F, ["b", 4])],
        [numpy_helper.from_array(np.array([1], np.int64), "axes")])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "squeeze_dynamic.onnx"))
    g = helper.make_graph(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")],
        "expand_from_data",
        [helper.make_tensor_value_info("x", F, [1, 3]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", F, ["r", "c"])])
    save(helper.make_model(g, opset_imports=opset), os.path.join(out_dir, "expand_from_data.onnx"))
    nbits_models(out_dir, opset)


def nbits_models(out_dir, opset):
    rng = np.random.default_rng(7)
    K, N = 70, 20

    def model(name, bits=4, block=32, zeros=True, gidx=False, zp8=None, op="MatMulNBits", bias=True):
        nb = (K + block - 1) // block
        blob = block * bits // 8
        codes = rng.integers(0, 2 ** bits, size=(N, nb, block), dtype=np.uint8)
        if bits == 4:
            B = (codes[:, :, 0::2] | (codes[:, :, 1::2] << 4)).astype(np.uint8)
        elif bits == 8:
            B = codes
        else:  # 2 bits: any bytes of the right count
            B = rng.integers(0, 256, size=(N, nb, blob), dtype=np.uint8)
        scales = rng.uniform(0.01, 0.1, size=(N * nb,)).astype(np.float32)
        inits = [numpy_helper.from_array(B, "B"), numpy_helper.from_array(scales, "scales")]
        inputs = ["x", "B", "scales"]
        zs = np.full((N, nb), 2 ** (bits - 1), np.uint8)
        if zeros or zp8 is not None:
            if bits == 4:
                zs = rng.integers(0, 16, size=(N, nb), dtype=np.uint8)
                zpad = np.zeros((N, nb + nb % 2), np.uint8)
                zpad[:, :nb] = zs
                zbytes = (zpad[:, 0::2] | (zpad[:, 1::2] << 4)).astype(np.uint8).reshape(-1)
            else:
                zs = np.full((N, nb), zp8 if zp8 is not None else 128, np.uint8)
                zbytes = zs.reshape(-1)
            inits.append(numpy_helper.from_array(zbytes, "zeros"))
            inputs.append("zeros")
        else:
            inputs.append("")
        if gidx:
            inits.append(numpy_helper.from_array(np.arange(K, dtype=np.int32) // block, "gidx"))
            inputs.append("gidx")
        elif bias:
            inputs.append("")
        if bias:
            b = rng.uniform(-1, 1, size=(N,)).astype(np.float32)
            inits.append(numpy_helper.from_array(b, "bias"))
            inputs.append("bias")
        while inputs and inputs[-1] == "":
            inputs.pop()
        node = helper.make_node(op, inputs, ["y"], name="q_proj", domain="com.microsoft", K=K, N=N, bits=bits,
                                block_size=block)
        g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, K])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, N])], inits)
        m = helper.make_model(g, opset_imports=opset + [helper.make_opsetid("com.microsoft", 1)])
        onnx.save(m, os.path.join(out_dir, name + ".onnx"))
        if name == "nbits_ok":
            # y = x @ W + bias, W[k][n] = (code - zero) * scale, x = the fixed input the test feeds.
            x = (np.arange(3 * K, dtype=np.float64).reshape(3, K) % 17 - 8) / 8
            W = np.zeros((K, N))
            for n in range(N):
                for k in range(K):
                    W[k, n] = (float(codes[n, k // block, k % block]) - float(zs[n, k // block])) * \
                        float(scales[n * nb + k // block])
            y = x @ W + b.astype(np.float64)
            y.astype(np.float32).tofile(os.path.join(out_dir, "nbits_ok.expected"))

    model("nbits_ok")
    model("nbits_block16", block=16)
    model("nbits_bits2", bits=2, zeros=False)
    model("nbits_gidx", gidx=True, bias=False)
    model("nbits_zp8", bits=8, zeros=False, zp8=100)
    model("contrib_unknown", op="FusedMatMulFrob", zeros=False, bias=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_test_models.py OUT_DIR")
    main(sys.argv[1])
