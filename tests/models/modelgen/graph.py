"""A graph builder that writes ONNX in the idioms of one PyTorch exporter.

Two styles:
- "torchscript" (torch.onnx.export, opset 17): node names follow module scopes
  ("/m/model/layers.0/self_attn/MatMul_1"), constants are Constant nodes, dynamic sizes are
  Shape -> Gather(scalar) -> Unsqueeze -> Concat chains, Linear weights are stored transposed as
  "onnx::MatMul_N" initializers, identical parameters are deduplicated into Identity nodes.
- "dynamo" (torch.onnx.export(dynamo=True), opset 18): "node_Op_N"/"val_N" names, constants
  are initializers, dynamic sizes are Shape(start, end) slices (1-D, no Gather), Linear weights
  keep the [out, in] layout behind a Transpose node, ReduceMean/Split take axes/sizes as inputs.

Families (families.py) describe the model once and call these helpers; the style decides the
operators that come out.
"""
from contextlib import contextmanager

import numpy as np
from onnx import TensorProto, helper, numpy_helper

INT64_MAX = 9223372036854775807
# torch.finfo(torch.float32).min, the fill HF uses for masked attention scores.
FLOAT_MIN = float(np.finfo(np.float32).min)

TS = "torchscript"
DYNAMO = "dynamo"


class Graph:
    def __init__(self, style, opset):
        if style not in (TS, DYNAMO):
            raise ValueError(f"unknown exporter style '{style}'")
        self.style = style
        self.opset = opset
        self.static_cache = None  # opset 24: KV buffers of this many rows (TensorScatter + nonpad_kv_seqlen)
        self.ts = style == TS
        self.prologue = []  # Identity nodes for deduplicated parameters, first as the exporter puts them
        self.nodes = []
        self.initializers = {}  # name -> np.ndarray, in insertion order
        self._scope = []
        self._names = {}  # torchscript: (scope, op) -> count, for "Op", "Op_1", ...
        self._counter = 0  # global numbering ("Constant_N", "onnx::MatMul_N", "val_N")
        self._param_by_content = {}
        self._const_inits = {}  # dynamo: shared small constant initializers

    # ---- naming -------------------------------------------------------------------------------
    @contextmanager
    def scope(self, *parts):
        """Module scope, as in "/m/model/layers.0/self_attn" (torchscript names only)."""
        self._scope.extend(parts)
        try:
            yield
        finally:
            del self._scope[len(self._scope) - len(parts):]

    def _next(self):
        self._counter += 1
        return self._counter

    def _node_name(self, op_type):
        if not self.ts:
            return f"node_{op_type}_{self._next()}"
        prefix = "/" + "/".join(self._scope) + "/" if self._scope else "/"
        key = (prefix, op_type)
        k = self._names.get(key, 0)
        self._names[key] = k + 1
        return f"{prefix}{op_type}" + (f"_{k}" if k else "")

    # ---- nodes --------------------------------------------------------------------------------
    def op(self, op_type, inputs, n_out=1, outputs=None, **attrs):
        """Appends a node; returns its output name (or list of names when n_out > 1)."""
        name = self._node_name(op_type)
        if outputs is None:
            if self.ts:
                outputs = [f"{name}_output_{i}" for i in range(n_out)]
            else:
                outputs = [f"val_{self._next()}" for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name, **attrs))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def const(self, value, dtype=np.int64):
        """A constant: a Constant node (torchscript) or a shared initializer (dynamo)."""
        arr = np.array(value, dtype=dtype)
        if self.ts:
            return self.op("Constant", [], value=numpy_helper.from_array(arr))
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._const_inits:
            name = f"val_{self._next()}"
            self.initializers[name] = arr
            self._const_inits[key] = name
        return self._const_inits[key]

    def global_const(self, value, consumer="Unsqueeze"):
        """torchscript's unscoped constants ("Constant_N" -> "onnx::Unsqueeze_N")."""
        if not self.ts:
            return self.const(value)
        n = self._next()
        out = f"onnx::{consumer}_{n}"
        arr = np.array(value, dtype=np.int64)
        self.nodes.append(helper.make_node("Constant", [], [out], name=f"Constant_{n}",
                                           value=numpy_helper.from_array(arr)))
        return out

    # ---- parameters ---------------------------------------------------------------------------
    def param(self, hf_name, array):
        """A parameter used as stored (norm weights, biases, embeddings)."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not self.ts:
            self.initializers[hf_name] = array
            return hf_name
        name = "m." + hf_name
        # The torchscript exporter stores identical parameters once and aliases the rest.
        key = (array.shape, array.tobytes()) if array.size <= 1 << 16 else None
        if key is not None and key in self._param_by_content:
            first = self._param_by_content[key]
            self.prologue.append(helper.make_node("Identity", [first], [name],
                                                  name=f"Identity_{self._next()}"))
            return name
        if key is not None:
            self._param_by_content[key] = name
        self.initializers[name] = array
        return name

    def linear_weight(self, hf_name, w_out_in):
        """The right operand of MatMul for nn.Linear (weight stored [out, in] by torch)."""
        if self.ts:
            name = f"onnx::MatMul_{self._next()}"
            self.initializers[name] = np.ascontiguousarray(w_out_in.T, dtype=np.float32)
            return name
        self.initializers[hf_name] = np.ascontiguousarray(w_out_in, dtype=np.float32)
        return self.op("Transpose", [hf_name], perm=[1, 0])

    # ---- dynamic sizes ------------------------------------------------------------------------
    # A "dim" is what the exporter keeps for x.shape[i]: a scalar int64 (torchscript) or a 1-D
    # int64 tensor of one element (dynamo). Both are valid Concat parts once passed to dim_vec().
    def dim(self, x, i):
        if self.ts:
            return self.op("Gather", [self.op("Shape", [x]), self.const(i)], axis=0)
        return self.op("Shape", [x], start=i, end=i + 1)

    def last_dim(self, x):
        """x.size(-1) where the exporter takes it through a shape slice."""
        if self.ts:
            tail = self.op("Slice", [self.op("Shape", [x]), self.const([-1]), self.const([INT64_MAX]), self.const([0])])
            return self.op("Squeeze", [tail, self.const([0])])
        return self.op("Shape", [x], start=-1)

    def dim_vec(self, d):
        if self.ts:
            return self.op("Unsqueeze", [d, self.global_const([0])])
        return d

    def dim_scalar(self, d):
        """A dim as the scalar Range wants."""
        if self.ts:
            return self.op("Cast", [d], to=TensorProto.INT64)
        return self.op("Squeeze", [d, self.const([0])])

    def dim_mul(self, d, k):
        return self.op("Mul", [d, self.const(k if self.ts else [k])])

    def shape_vec(self, parts):
        """Concat of dims and python ints, e.g. [batch, seq, -1, 64]."""
        items = [self.const([p]) if isinstance(p, int) else self.dim_vec(p) for p in parts]
        return self.op("Concat", items, axis=0)

    def reshape(self, x, parts):
        return self.op("Reshape", [x, self.shape_vec(parts)], allowzero=0)

    def expand(self, x, parts):
        """torch's x.expand(*sizes): torchscript turns -1 into 1 at run time with Where."""
        shape = self.shape_vec(parts)
        if not self.ts:
            return self.op("Expand", [x, shape])
        flat = self.op("Reshape", [shape, self.const([-1])], allowzero=0)
        ones = self.op("ConstantOfShape", [self.op("Shape", [flat])],
                       value=numpy_helper.from_array(np.array([1], dtype=np.int64)))
        neg = self.op("Mul", [ones, self.const(-1)])
        fixed = self.op("Where", [self.op("Equal", [flat, neg]), ones, flat])
        return self.op("Expand", [x, fixed])

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", [x, self.const(axes)])

    def slice(self, x, start, end, axis, step=1):
        """Static x[..., start:end] along `axis` (start/end may also be 1-D tensor names)."""
        s = self.const([start]) if isinstance(start, int) else start
        e = self.const([end]) if isinstance(end, int) else end
        return self.op("Slice", [x, s, e, self.const([axis]), self.const([step])])

    # ---- opset-dependent operators ------------------------------------------------------------
    def reduce_mean(self, x, axes):
        if self.opset >= 18:
            return self.op("ReduceMean", [x, self.const(axes)], keepdims=1)
        return self.op("ReduceMean", [x], axes=axes, keepdims=1)

    def split(self, x, sizes, axis):
        if self.opset >= 18 and len(set(sizes)) == 1:
            return self.op("Split", [x], n_out=len(sizes), axis=axis, num_outputs=len(sizes))
        return self.op("Split", [x, self.const(sizes)], n_out=len(sizes), axis=axis)

    def fconst(self, value):
        return self.const(value, np.float32)
