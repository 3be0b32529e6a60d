#!/usr/bin/python3
"""Rewrites an fp32 ONNX decoder (bmc_modelgen.py's) as the fully 16-bit graph an fp16 export writes.

    make_fp16_decoder.py [--dtype f16|bf16] IN.onnx OUT.onnx
    make_fp16_decoder.py --upcast IN16.onnx OUT.onnx

--upcast writes the fp32 twin of a 16-bit graph: every FLOAT16 / BFLOAT16 initializer, Constant value,
Cast target and graph input/output type as FLOAT (values exact). onnxruntime's CPU provider lacks
bf16 kernels (Sin, Softmax, ...), so a bf16 graph is checked against onnxruntime on this twin.

What torch.onnx.export of model.half() (Optimum `--dtype fp16`) writes, and onnxconverter-common's
float16 converter with its default op block list: every FLOAT tensor becomes FLOAT16 (initializers
and Constant values rounded to nearest even, graph inputs past_key_values.*, outputs logits and
present.*, every Cast to FLOAT), except where the exporter computes in fp32:
  - Softmax: its input Cast to FLOAT, its output Cast back (LlamaAttention's
    softmax(dtype=torch.float32).to(query.dtype); the converter's block list for others);
  - LlamaRMSNorm (TorchScript style): the Cast to FLOAT that bmc_modelgen writes for
    hidden_states.to(torch.float32) stays a Cast to FLOAT, so Pow/ReduceMean/Add/Sqrt/Div/Mul run in
    fp32 (their constants keep fp32 copies) until the .to(input_dtype) Cast, now to FLOAT16;
  - wherever an fp32 value meets an fp16 one, the fp16 one is cast up (torch's type promotion).
The dynamo-style graphs have no such Cast in the norm (bmc_modelgen omits the no-op in fp32): their
RMSNorm runs in fp16, as onnxruntime's fp16 kernels do. --dtype bf16 writes BFLOAT16 the same way.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT


def bf16_bits(a):
    """float32 -> bf16 bit patterns (uint16), to nearest with ties to even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def narrow_tensor(t, name, half):
    a = numpy_helper.to_array(t).astype(np.float32)
    if half == TensorProto.FLOAT16:
        # A mask's torch.finfo(float32).min: HF computes it as finfo(float16).min in an fp16 model.
        big = np.abs(a) > 65504
        if big.any() and not np.all(np.abs(a[big]) >= 1e38):
            sys.exit(f"make_fp16_decoder: '{name}' holds values beyond fp16's range")
        return numpy_helper.from_array(np.clip(a, -65504, 65504).astype(np.float16), name)
    r = TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=a.shape)
    r.raw_data = bf16_bits(a).tobytes()
    return r


def convert(model, half):
    g = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {}
    for vi in list(inferred.graph.value_info) + list(g.input) + list(g.output):
        elem[vi.name] = vi.type.tensor_type.elem_type
    new_inits, f32_copy = [], {}
    const32 = {}  # name -> fp32 TensorProto of a constant (initializer or Constant node)
    for t in g.initializer:
        if t.data_type == F32:
            const32[t.name] = t
            new_inits.append(narrow_tensor(t, t.name, half))
        else:
            new_inits.append(t)
        elem.setdefault(t.name, t.data_type)
    typ = {}  # value -> element type in the new graph
    for t in new_inits:
        typ[t.name] = t.data_type
    for vi in g.input:
        if vi.type.tensor_type.elem_type == F32:
            vi.type.tensor_type.elem_type = half
        typ[vi.name] = vi.type.tensor_type.elem_type
    nodes, extra_inits, n = [], [], [0]

    def fresh(base):
        n[0] += 1
        return f"{base}_fp16conv{n[0]}"

    def as_f32(v):
        """v as an fp32 value: a constant's fp32 copy, else a Cast."""
        if typ.get(v) == F32:
            return v
        if v in const32:
            if v not in f32_copy:
                c = const32[v]
                t = numpy_helper.from_array(numpy_helper.to_array(c).astype(np.float32), fresh(v))
                extra_inits.append(t)
                f32_copy[v] = t.name
                typ[t.name] = F32
            return f32_copy[v]
        out = fresh(v)
        nodes.append(helper.make_node("Cast", [v], [out], to=F32, name=fresh("Cast")))
        typ[out] = F32
        return out

    for node in g.node:
        if node.op_type == "Constant":
            a = node.attribute[0]
            if a.name == "value" and a.t.data_type == F32:
                const32[node.output[0]] = a.t
                a.t.CopyFrom(narrow_tensor(a.t, a.t.name, half))
                typ[node.output[0]] = half
            else:
                typ[node.output[0]] = a.t.data_type if a.name == "value" else elem.get(node.output[0], 0)
            nodes.append(node)
            continue
        if node.op_type == "ConstantOfShape":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == F32:
                    a.t.CopyFrom(narrow_tensor(a.t, a.t.name, half))
            nodes.append(node)
            typ[node.output[0]] = elem.get(node.output[0], 0) if elem.get(node.output[0]) != F32 else half
            continue
        if node.op_type == "Cast":
            to = next(a for a in node.attribute if a.name == "to")
            if to.i == F32 and node.doc_string != "upcast":
                to.i = half
            nodes.append(node)
            typ[node.output[0]] = to.i
            continue
        if node.op_type == "Softmax":
            x = as_f32(node.input[0])
            y32 = fresh(node.output[0])
            nodes.append(helper.make_node("Softmax", [x], [y32], name=node.name,
                                          **{a.name: helper.get_attribute_value(a) for a in node.attribute}))
            nodes.append(helper.make_node("Cast", [y32], [node.output[0]], to=half, name=fresh("Cast")))
            typ[y32], typ[node.output[0]] = F32, half
            continue
        floats = [i for i, v in enumerate(node.input) if v and elem.get(v) == F32]
        wide = any(typ.get(node.input[i]) == F32 and node.input[i] not in const32 for i in floats)
        if wide:  # fp32 meets fp16: everything fp32 (torch's promotion)
            for i in floats:
                node.input[i] = as_f32(node.input[i])
        nodes.append(node)
        for o in node.output:
            if elem.get(o) == F32:
                typ[o] = F32 if wide else half
            else:
                typ[o] = elem.get(o, 0)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits + extra_inits)
    del g.value_info[:]
    for vi in g.output:
        if vi.type.tensor_type.elem_type == F32:
            t = typ[vi.name]
            if t == F32:  # an output computed in fp32 (never here: logits come from a 16-bit MatMul)
                sys.exit(f"make_fp16_decoder: output '{vi.name}' is computed in fp32")
            vi.type.tensor_type.elem_type = t
    return model


def upcast(model):
    """The same graph computed in fp32: 16-bit values widened exactly."""
    sixteen = (TensorProto.FLOAT16, TensorProto.BFLOAT16)

    def wide(t):
        if t.data_type == TensorProto.BFLOAT16:  # from the bit patterns (onnx 1.12 has no bf16 dtype)
            bits = np.frombuffer(t.raw_data, dtype=np.uint16) if t.raw_data else np.array(t.int32_data, np.uint16)
            a = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            a = numpy_helper.to_array(t).astype(np.float32)
        return numpy_helper.from_array(np.asarray(a, dtype=np.float32).reshape(tuple(t.dims)), t.name)

    g = model.graph
    inits = [wide(t) if t.data_type in sixteen else t for t in g.initializer]
    del g.initializer[:]
    g.initializer.extend(inits)
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type in sixteen:
                a.t.CopyFrom(wide(a.t))
            if node.op_type == "Cast" and a.name == "to" and a.i in sixteen:
                a.i = F32
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type in sixteen:
            vi.type.tensor_type.elem_type = F32
    return model


def main(argv):
    if len(argv) == 3 and argv[0] == "--upcast":
        model = upcast(onnx.load(argv[1]))
        model.doc_string += " (make_fp16_decoder --upcast: the fp32 twin)"
        onnx.save(model, argv[2])
        return
    half = TensorProto.FLOAT16
    if len(argv) >= 2 and argv[0] == "--dtype":
        if argv[1] not in ("f16", "bf16"):
            sys.exit(f"make_fp16_decoder: --dtype: expected f16 or bf16, found '{argv[1]}'")
        half = TensorProto.FLOAT16 if argv[1] == "f16" else TensorProto.BFLOAT16
        argv = argv[2:]
    if len(argv) != 2:
        sys.exit(__doc__)
    model = onnx.load(argv[0])
    model = convert(model, half)
    model.doc_string += " (make_fp16_decoder: " + ("FLOAT16" if half == TensorProto.FLOAT16 else "BFLOAT16") + ")"
    onnx.save(model, argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
