#!/usr/bin/python3
"""Rewrites an fp32 ONNX decoder into the QDQ weight-only form: DequantizeLinear -> MatMul.

    make_qdq.py --form FORM [--block-size B] [--embedding] IN.onnx OUT.onnx
    make_qdq.py --single-nodes DIR

--single-nodes writes one-node graphs y = MatMul(x [3, 70], DequantizeLinear(...)) in each form
(K = 70: a partial last block; N = 19: a partial 16-column panel) with y computed in numpy from
DequantizeLinear's definition (qdq_*.expected, raw float32), and graphs bmc must refuse.

Every MatMul whose B input is a 2-D float32 initializer (or a Transpose of one, as the dynamo exporter
writes a Linear; folded first, as onnxruntime's graph optimizer folds it before its quantizers,
which only take a constant B) gets B replaced by DequantizeLinear(codes, scales
[, zero points]), the forms onnxruntime's quantizers write (written here in numpy from their
definitions, onnxruntime/python/tools/quantization):
  int4    matmul_nbits_quantizer with quant_format=QDQ, symmetric: INT4 codes [K, N], axis 0,
          block_size B, scales [ceil(K/B), N]; per block and column v = the value of largest
          magnitude, scale = v / -8, q = clip(round_half_even(w / scale), -8, 7); no zero point input.
          Opset raised to 21 (INT4 and block_size need it).
  uint4   the same, asymmetric: UINT4 codes and zero points, scale = (max - min) / 15 with
          min <= 0 <= max, zero = clip(round(-min / scale), 0, 15), q = clip(round(w / scale + zero), 0, 15).
  int8    per-channel QDQ weights (quantize_static/dynamic, per_channel=True, QInt8, symmetric):
          INT8 [K, N], axis 1, scales [N] = max |w| / 127 per column, zero points INT8 0.
  uint8   the same with UINT8 codes and zero points 128 (QUInt8, symmetric).
--embedding: the token-embedding table read by Gather is also replaced, by DequantizeLinear of
  INT8 codes with one scale per row (axis 0; a form bmc computes once into fp32 at import).
The codes are rounded as onnxruntime rounds them, so the file is what its tools would write;
the oracle is onnxruntime running this very file.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def pack4(q):
    """Row-major 4-bit codes (ints) -> bytes, low nibble first."""
    flat = (q.reshape(-1).astype(np.int64) & 15).astype(np.uint8)
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


INT4, UINT4 = 22, 21  # TensorProto.DataType (Debian's onnx 1.12 predates the names)


def raw_tensor(name, dtype, dims, data):
    t = TensorProto()
    t.name, t.data_type, t.raw_data = name, dtype, data
    t.dims.extend(dims)
    return t


def quantize4(w, block, symmetric):
    K, N = w.shape
    nb = (K + block - 1) // block
    q = np.zeros((K, N), np.int64)
    scales = np.zeros((nb, N), np.float32)
    zeros = np.zeros((nb, N), np.int64)
    for b in range(nb):
        blk = w[b * block:(b + 1) * block]
        if symmetric:
            hi, lo = blk.max(axis=0), blk.min(axis=0)
            v = np.where(np.abs(hi) > np.abs(lo), hi, lo).astype(np.float32)
            s = (v / np.float32(-8.0)).astype(np.float32)
            qq = np.where(s == 0, 0, np.round(blk / np.where(s == 0, 1, s))).clip(-8, 7)
        else:
            lo = np.minimum(blk.min(axis=0), 0).astype(np.float32)
            hi = np.maximum(blk.max(axis=0), 0).astype(np.float32)
            s = ((hi - lo) / np.float32(15.0)).astype(np.float32)
            z = np.where(s == 0, 8, np.round(-lo / np.where(s == 0, 1, s))).clip(0, 15)
            qq = np.where(s == 0, 8, np.round(blk / np.where(s == 0, 1, s) + z)).clip(0, 15)
            zeros[b] = z
        q[b * block:(b + 1) * block] = qq
        scales[b] = s
    return q, scales, zeros


def quantize8_columns(w, signed):
    amax = np.abs(w).max(axis=0).astype(np.float32)
    s = (amax / np.float32(127.0)).astype(np.float32)
    q = np.round(w / np.where(s == 0, 1, s)).clip(-127, 127).astype(np.int64)
    return q, s


def single_nodes(out_dir):
    import os
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    K, N = 70, 19
    x = (np.arange(3 * K) % 17 - 8).astype(np.float32).reshape(3, K) / np.float32(8.0)  # as the C++ test feeds
    w = rng.standard_normal((K, N)).astype(np.float32)

    def save(name, inits, dq_attrs, opset, dq_inputs=None, x_name="x", reader="MatMul", expected=None):
        ins = dq_inputs or [t.name for t in inits]
        nodes = [helper.make_node("DequantizeLinear", ins, ["wdq"], name="dq", **dq_attrs)]
        if reader == "MatMul":
            nodes.append(helper.make_node("MatMul", [x_name, "wdq"], ["y"], name="mm"))
        else:  # the codes read by another op as well
            nodes.append(helper.make_node("MatMul", [x_name, "wdq"], ["y0"], name="mm"))
            nodes.append(helper.make_node(reader, [ins[0]], ["c"], name="reader", to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Add", ["y0", "c_sum"], ["y"], name="add"))
            nodes.append(helper.make_node("ReduceSum", ["c"], ["c_sum"], name="sum", keepdims=0))
        graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, K])]
        if x_name != "x" or "xq" in ins:
            graph_inputs.append(helper.make_tensor_value_info("xq", TensorProto.INT8, [K, N]))
        g = helper.make_graph(nodes, name, graph_inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, N])],
                              initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 10 if opset >= 21 else 8
        onnx.save(m, os.path.join(out_dir, name + ".onnx"))
        if expected is not None:
            (x @ expected).astype(np.float32).tofile(os.path.join(out_dir, name + ".expected"))

    # int4, blocks of 64 (K = 70: two blocks, the second partial), zero points.
    q, s, z = quantize4(w, 64, False)
    save("qdq_uint4b64", [raw_tensor("wq", UINT4, [K, N], pack4(q).tobytes()), numpy_helper.from_array(s, "ws"),
                          raw_tensor("wz", UINT4, list(s.shape), pack4(z).tobytes())],
         {"axis": 0, "block_size": 64}, 21, expected=(np.repeat(s, 64, 0)[:K] * (q - np.repeat(z, 64, 0)[:K])))
    q, s, _ = quantize4(w, 32, True)
    save("qdq_int4b32", [raw_tensor("wq", INT4, [K, N], pack4(q).tobytes()), numpy_helper.from_array(s, "ws")],
         {"axis": 0, "block_size": 32}, 21, expected=np.repeat(s, 32, 0)[:K] * q)
    q, s = quantize8_columns(w, True)
    save("qdq_int8col", [numpy_helper.from_array(q.astype(np.int8), "wq"), numpy_helper.from_array(s, "ws"),
                         numpy_helper.from_array(np.zeros(N, np.int8), "wz")], {"axis": 1}, 13, expected=q * s)
    save("qdq_uint8col", [numpy_helper.from_array((q + 128).astype(np.uint8), "wq"), numpy_helper.from_array(s, "ws"),
                          numpy_helper.from_array(np.full(N, 128, np.uint8), "wz")], {"axis": 1}, 13, expected=q * s)
    # Forms bmc's layouts do not hold, computed into fp32 at import: per-row scales (axis 0),
    # zero points other than 128, one scale per tensor with an odd zero point.
    rs = (np.abs(w).max(axis=1) / 100).astype(np.float32)
    rq = np.round(w / rs[:, None]).clip(-127, 127)
    save("qdq_int8row", [numpy_helper.from_array(rq.astype(np.int8), "wq"), numpy_helper.from_array(rs, "ws")],
         {"axis": 0}, 13, expected=rq * rs[:, None])
    zq = np.round(w / s + 100).clip(0, 255)
    save("qdq_uint8zp100", [numpy_helper.from_array(zq.astype(np.uint8), "wq"), numpy_helper.from_array(s, "ws"),
                            numpy_helper.from_array(np.full(N, 100, np.uint8), "wz")], {"axis": 1}, 13,
         expected=(zq - 100) * s)
    ts = np.float32(np.abs(w).max() / 127)
    tq = np.round(w / ts).clip(-127, 127)
    save("qdq_int8tensor", [numpy_helper.from_array(tq.astype(np.int8), "wq"), numpy_helper.from_array(ts, "ws"),
                            numpy_helper.from_array(np.int8(3), "wz")], {}, 13, expected=(tq - 3) * ts)
    # Refused: codes computed at run time; INT4 codes read by another op; a wrong scale shape; fp16 output.
    save("qdq_runtime", [numpy_helper.from_array(s, "ws")], {"axis": 1}, 13, dq_inputs=["xq", "ws"])
    q, s4, _ = quantize4(w, 32, True)
    save("qdq_int4_cast", [raw_tensor("wq", INT4, [K, N], pack4(q).tobytes()), numpy_helper.from_array(s4, "ws")],
         {"axis": 0, "block_size": 32}, 21, reader="Cast")
    save("qdq_scale_shape", [numpy_helper.from_array(q.astype(np.int8), "wq"),
                             numpy_helper.from_array(np.ones(N + 1, np.float32), "ws")], {"axis": 1}, 13)
    save("qdq_out_f16", [numpy_helper.from_array(q.astype(np.int8), "wq"), numpy_helper.from_array(s, "ws")],
         {"axis": 1, "output_dtype": 10}, 23)


# Reduce ops whose `axes` became an input at opset 18 (ReduceSum's did at 13).
REDUCE_AXES_18 = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                  "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


def axes_to_inputs(g):
    """Raising a graph below opset 18 to 21: each Reduce op's `axes` attribute becomes its second
    input (an int64 initializer), as opset 18 defines them; without it the file is invalid."""
    for n in g.node:
        if n.op_type not in REDUCE_AXES_18:
            continue
        axes = [x for x in n.attribute if x.name == "axes"]
        if not axes:
            continue
        name = f"{n.name or n.output[0]}.axes".replace("/", "_")
        g.initializer.append(numpy_helper.from_array(np.array(list(axes[0].ints), np.int64), name))
        n.attribute.remove(axes[0])
        del n.input[1:]
        n.input.append(name)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--single-nodes":
        return single_nodes(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--form", choices=("int4", "uint4", "int8", "uint8"), required=True)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--embedding", action="store_true")
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    m = onnx.load(a.src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    perm = lambda n: [list(helper.get_attribute_value(x)) for x in n.attribute if x.name == "perm"]  # noqa: E731
    for node in g.node:  # fold Transpose(W) -> MatMul into a transposed initializer
        b = node.input[1] if node.op_type == "MatMul" else None
        p = producers.get(b)
        if p is not None and p.op_type == "Transpose" and p.input[0] in inits and perm(p) in ([], [[1, 0]]):
            w = numpy_helper.to_array(inits[p.input[0]])
            if w.ndim == 2 and w.dtype == np.float32 and b + ".folded" not in inits:
                t = numpy_helper.from_array(np.ascontiguousarray(w.T), b + ".folded")
                g.initializer.append(t)
                inits[t.name] = t
            if b + ".folded" in inits:
                node.input[1] = b + ".folded"
    new_nodes, converted, done = [], 0, {}
    for node in g.node:
        is_mm = node.op_type == "MatMul" and node.input[1] in inits
        is_emb = a.embedding and node.op_type == "Gather" and node.input[0] in inits and \
            numpy_helper.to_array(inits[node.input[0]]).ndim == 2 and \
            numpy_helper.to_array(inits[node.input[0]]).dtype == np.float32
        if not (is_mm or is_emb):
            new_nodes.append(node)
            continue
        src = node.input[1] if is_mm else node.input[0]
        w = numpy_helper.to_array(inits[src])
        if w.ndim != 2 or w.dtype != np.float32:
            new_nodes.append(node)
            continue
        key = (src, is_mm)
        if key not in done:  # a weight read twice (tied) is dequantized once
            base = f"{src.replace('/', '_')}.qdq"
            ins = [base + ".codes", base + ".scales"]
            attrs = {}
            if is_emb:  # INT8, one scale per row (axis 0)
                amax = np.abs(w).max(axis=1).astype(np.float32)
                s = (amax / np.float32(127.0)).astype(np.float32)
                q = np.round(w / np.where(s == 0, 1, s)[:, None]).clip(-127, 127).astype(np.int8)
                g.initializer.extend([numpy_helper.from_array(q, ins[0]), numpy_helper.from_array(s, ins[1])])
                attrs["axis"] = 0
            elif a.form in ("int4", "uint4"):
                q, s, z = quantize4(w, a.block_size, a.form == "int4")
                dt = INT4 if a.form == "int4" else UINT4
                g.initializer.append(raw_tensor(ins[0], dt, w.shape, pack4(q).tobytes()))
                g.initializer.append(numpy_helper.from_array(s, ins[1]))
                if a.form == "uint4":
                    ins.append(base + ".zeros")
                    g.initializer.append(raw_tensor(ins[2], dt, s.shape, pack4(z).tobytes()))
                attrs.update(axis=0, block_size=a.block_size)
            else:
                q, s = quantize8_columns(w, a.form == "int8")
                if a.form == "int8":
                    codes, zero = q.astype(np.int8), np.zeros(s.shape, np.int8)
                else:
                    codes, zero = (q + 128).astype(np.uint8), np.full(s.shape, 128, np.uint8)
                ins.append(base + ".zeros")
                g.initializer.extend([numpy_helper.from_array(codes, ins[0]), numpy_helper.from_array(s, ins[1]),
                                      numpy_helper.from_array(zero, ins[2])])
                attrs["axis"] = 1
            out = base + ".dq"
            new_nodes.append(helper.make_node("DequantizeLinear", ins, [out], name=base + "_DequantizeLinear",
                                              **attrs))
            done[key] = out
            converted += is_mm
        node.input[1 if is_mm else 0] = done[key]
        new_nodes.append(node)
    if converted == 0:
        sys.exit(f"{a.src}: no MatMul with a 2-D float initializer")
    used_now = {i for n in new_nodes for i in n.input}
    new_nodes = [n for n in new_nodes if n.op_type != "Transpose" or n.output[0] in used_now or
                 n.output[0] in {o.name for o in g.output}]
    del g.node[:]
    g.node.extend(new_nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    if a.form in ("int4", "uint4"):
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx") and o.version < 21:
                if o.version < 18:
                    axes_to_inputs(g)
                o.version = 21
        m.ir_version = max(m.ir_version, 10)
    onnx.save(m, a.dst)
    print(f"{a.dst}: {converted} MatMul weights -> DequantizeLinear ({a.form}"
          f"{', block ' + str(a.block_size) if a.form.endswith('4') else ''}"
          f"{', embedding too' if a.embedding else ''})")


if __name__ == "__main__":
    main()
