#!/usr/bin/python3
"""Writes a one-node ONNX model for the import tests (tests/lit/frontend).

The node's inputs are listed in order with -i (graph input), -w (initializer),
-e (an absent optional input: empty name) and -u (a name nothing defines).
Types are written TYPE[dims]: f32[batch,seq,8] has two symbolic dims (ONNX
dim_param) and a static one; `?` is a dim with neither value nor name; f32[]
is a scalar.

  make_model.py Softmax --opset 13 -i x:f32[b,s,8] -a axis=-1 -o m.onnx
  make_model.py ReduceMean --opset 18 -i x:f32[b,8] -w axes:i64[1]=-1 -a keepdims=0 -o m.onnx
  make_model.py Split --opset 18 -i x:f32[b,9] -a axis=1 -a num_outputs=3 --outputs a,b,c -o m.onnx

Attributes are KEY=VALUE, with the kind inferred (int, float, comma list of
ints or floats, else string) or forced as KEY:KIND=VALUE, KIND one of
i f s ints floats strings t (a tensor: TYPE[dims]=values).

Model-level damage for the negative tests: --truncate writes the first half
of the bytes; --external FILE moves the initializers to FILE beside the model
(ONNX external data; delete FILE to test a missing one).

Needs Debian's python3-onnx (run with /usr/bin/python3). No checker is run:
onnx 1.12 does not know opset 18, and the negative tests want bad models.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DTYPES = {
    "f32": (TensorProto.FLOAT, np.float32),
    "f16": (TensorProto.FLOAT16, np.float16),
    "f64": (TensorProto.DOUBLE, np.float64),
    "bf16": (TensorProto.BFLOAT16, None),
    "i8": (TensorProto.INT8, np.int8),
    "i16": (TensorProto.INT16, np.int16),
    "i32": (TensorProto.INT32, np.int32),
    "i64": (TensorProto.INT64, np.int64),
    "u8": (TensorProto.UINT8, np.uint8),
    "u16": (TensorProto.UINT16, np.uint16),
    "u32": (TensorProto.UINT32, np.uint32),
    "u64": (TensorProto.UINT64, np.uint64),
    "bool": (TensorProto.BOOL, np.bool_),
    "string": (TensorProto.STRING, None),
}


def parse_type(text):
    """'f32[b,?,8]' -> (dtype name, [dims]) with ints, names or None."""
    if "[" not in text or not text.endswith("]"):
        raise SystemExit(f"make_model: expected TYPE[dims], found '{text}'")
    name, dims = text[:-1].split("[", 1)
    if name not in DTYPES:
        raise SystemExit(f"make_model: unknown type '{name}' (one of {', '.join(DTYPES)})")
    out = []
    for d in filter(None, dims.split(",")):
        out.append(None if d == "?" else int(d) if d.lstrip("-").isdigit() else d)
    return name, out


def make_array(tname, dims, values):
    """A numpy array of static dims; deterministic small values unless given."""
    np_type = DTYPES[tname][1]
    if np_type is None:
        raise SystemExit(f"make_model: cannot make initializer values of type {tname}")
    if any(not isinstance(d, int) for d in dims):
        raise SystemExit(f"make_model: initializer dims must be static, found {dims}")
    n = int(np.prod(dims)) if dims else 1
    if values is not None:
        flat = [v for v in values.split(",") if v != ""]
        if tname == "bool":
            data = [v in ("1", "true", "True") for v in flat]
        elif np.issubdtype(np_type, np.integer):
            data = [int(v) for v in flat]
        else:
            data = [float(v) for v in flat]
        if len(data) == 1 and n != 1:
            data = data * n
        if len(data) != n:
            raise SystemExit(f"make_model: expected {n} values, found {len(data)}")
    elif tname == "bool":
        data = [i % 2 == 1 for i in range(n)]
    elif np.issubdtype(np_type, np.integer):
        data = [i % 5 for i in range(n)]
    else:
        data = [((i % 7) - 3) * 0.25 for i in range(n)]
    return np.array(data, dtype=np_type).reshape(dims)


def make_tensor(name, spec):
    """'i64[2]=1,2' (values optional) -> TensorProto."""
    tspec, _, values = spec.partition("=")
    tname, dims = parse_type(tspec)
    if tname == "string":
        n = int(np.prod(dims)) if dims else 1
        strings = [v.encode() for v in values.split(",")] if _ else [b"s%d" % i for i in range(n)]
        return helper.make_tensor(name, TensorProto.STRING, dims, strings)
    return numpy_helper.from_array(make_array(tname, dims, values if _ else None), name)


def parse_attr(text):
    key, eq, value = text.partition("=")
    if not eq:
        raise SystemExit(f"make_model: expected KEY=VALUE, found '{text}'")
    key, _, kind = key.partition(":")
    if not kind:
        try:
            int(value)
            kind = "i"
        except ValueError:
            try:
                float(value)
                kind = "f"
            except ValueError:
                parts = value.split(",")
                if "," in value and all(p.lstrip("-").isdigit() for p in parts):
                    kind = "ints"
                elif "," in value:
                    kind = "floats"
                else:
                    kind = "s"
    if kind == "i":
        return helper.make_attribute(key, int(value))
    if kind == "f":
        return helper.make_attribute(key, float(value))
    if kind == "s":
        return helper.make_attribute(key, value.encode())
    if kind == "ints":
        return helper.make_attribute(key, [int(v) for v in value.split(",") if v])
    if kind == "floats":
        return helper.make_attribute(key, [float(v) for v in value.split(",") if v])
    if kind == "strings":
        return helper.make_attribute(key, [v.encode() for v in value.split(",")])
    if kind == "t":
        return helper.make_attribute(key, make_tensor("", value))
    raise SystemExit(f"make_model: unknown attribute kind '{kind}'")


class InputAction(argparse.Action):
    """Keeps -i/-w/-e/-u in the order given: they are the node's inputs."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.node_inputs.append((self.dest, values))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("op", help="the node's op_type")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--opset", type=int, default=17, help="default-domain opset (default 17)")
    p.add_argument("--domain", default="", help="the node's domain (imported at version 1)")
    p.add_argument("--name", default="node", help="the node's name (default 'node'); backslash escapes "
                   "such as \\n and \\x1b are decoded, for names with control characters")
    p.add_argument("-i", dest="input", action=InputAction, metavar="NAME:TYPE[dims]", help="graph input")
    p.add_argument("-w", dest="init", action=InputAction, metavar="NAME:TYPE[dims][=v,...]", help="initializer")
    p.add_argument("-e", dest="empty", action=InputAction, nargs=0, help="an absent optional input")
    p.add_argument("-u", dest="undefined", action=InputAction, metavar="NAME", help="an input nothing defines")
    p.add_argument("-a", dest="attrs", action="append", default=[], metavar="KEY[:KIND]=VALUE")
    p.add_argument("--outputs", default="y", help="output names, comma-separated; empty = unused")
    p.add_argument("--external", metavar="FILE", help="store initializers in FILE (beside the model)")
    p.add_argument("--truncate", action="store_true", help="write only the first half of the bytes")
    p.set_defaults(node_inputs=[])
    args = p.parse_args(argv)

    inputs, inits, names = [], [], []
    for kind, value in args.node_inputs:
        if kind == "empty":
            names.append("")
        elif kind == "undefined":
            names.append(value)
        elif kind == "input":
            name, _, spec = value.partition(":")
            tname, dims = parse_type(spec)
            shape = [d if isinstance(d, (int, str)) else "" for d in dims]
            vi = helper.make_tensor_value_info(name, DTYPES[tname][0], shape)
            for d, proto in zip(dims, vi.type.tensor_type.shape.dim):
                if d is None:  # neither dim_value nor dim_param
                    proto.Clear()
            inputs.append(vi)
            names.append(name)
        else:
            name, _, spec = value.partition(":")
            inits.append(make_tensor(name, spec))
            names.append(name)

    outputs = args.outputs.split(",")
    node = helper.make_node(args.op, names, outputs, name=args.name.encode("latin-1", "backslashreplace").decode("unicode_escape"), domain=args.domain or None)
    node.attribute.extend(parse_attr(a) for a in args.attrs)
    graph = helper.make_graph([node], "lit", inputs,
                              [helper.make_empty_tensor_value_info(o) for o in outputs if o], inits)
    opsets = [helper.make_opsetid("", args.opset)]
    if args.domain:
        opsets.append(helper.make_opsetid(args.domain, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="bmc-lit")
    model.ir_version = 8

    if args.external:
        folder = os.path.dirname(os.path.abspath(args.output))
        with open(os.path.join(folder, args.external), "wb") as f:
            for t in model.graph.initializer:
                raw = t.raw_data
                offset = f.tell()
                f.write(raw)
                t.ClearField("raw_data")
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", args.external), ("offset", str(offset)), ("length", str(len(raw)))):
                    e = t.external_data.add()
                    e.key, e.value = k, v

    data = model.SerializeToString()
    if args.truncate:
        data = data[: len(data) // 2]
    with open(args.output, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main(sys.argv[1:])
