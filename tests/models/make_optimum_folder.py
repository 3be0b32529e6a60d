#!/usr/bin/python3
"""Writes a model folder in the layouts older Optimum and the Hub ship decoders in.

The with-past decoder is bmc_modelgen.py's (random weights, an HF export's graph). The decoder
without past is the same graph with each `past_key_values.*` input replaced by an empty tensor
made in the graph (ConstantOfShape [batch, kv_heads, 0, head_dim]), so it has no past inputs, as
Optimum's decoder_model.onnx has none. Layouts (-o DIR):

  --layout merged     DIR/decoder_model_merged.onnx: the two graphs merged as Optimum's
                      merge_decoders (optimum/onnx/graph_transformations.py) merges them: one
                      `If` node on a BOOL [1] input `use_cache_branch`, then_branch the with-past
                      graph, else_branch the one without; initializers of rank > 1 (and 1-D
                      non-integer ones) deduplicated across both and moved to the outer graph
                      as NAME_merged_N, scalars and 1-D int64/int32 kept in each branch;
                      the attention_mask's second dim renamed attention_mask_sequence_length
  --layout two-file   DIR/decoder_model.onnx + DIR/decoder_with_past_model.onnx
  --subdir onnx       write into DIR/onnx/ (the Hub's transformers.js layout)
  --external-data     the outer graph's weights in FILE.data (Optimum saves them so)

Model options after `--` go to bmc_modelgen.py (default: --preset tiny --opset 17).
Run with Debian's python (/usr/bin/python3: onnx, numpy).
"""
import argparse
import collections
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bmc_modelgen  # noqa: E402

INT_TYPES = (TensorProto.INT32, TensorProto.INT64)


def with_past_model(gen_args):
    a = bmc_modelgen.parse_args(gen_args + ["-o", "unused.onnx"])
    cfg, _ = bmc_modelgen.resolve_config(a)
    style = a.style or (bmc_modelgen.TS if a.opset == 17 else bmc_modelgen.DYNAMO)
    model, initializers = bmc_modelgen.build_model(cfg, style, a.opset)
    bmc_modelgen.attach_weights(model, initializers, "unused.onnx", external=False)
    return model, cfg


def no_past_model(with_past, cfg):
    """The same decoder without past inputs: each past is an empty tensor made in the graph."""
    m = onnx.ModelProto()
    m.CopyFrom(with_past)
    g = m.graph
    past = [i.name for i in g.input if i.name.startswith("past_key_values.")]
    kept = [i for i in g.input if not i.name.startswith("past_key_values.")]
    del g.input[:]
    g.input.extend(kept)
    prologue = [
        helper.make_node("Shape", ["input_ids"], ["/no_past/ids_shape"], name="/no_past/Shape"),
        helper.make_node("Slice", ["/no_past/ids_shape", "/no_past/zero", "/no_past/one"], ["/no_past/batch"],
                         name="/no_past/Slice"),
        helper.make_node("Concat", ["/no_past/batch", "/no_past/kv_dims"], ["/no_past/empty_shape"], axis=0,
                         name="/no_past/Concat"),
    ]
    g.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "/no_past/zero"),
                          numpy_helper.from_array(np.array([1], np.int64), "/no_past/one"),
                          numpy_helper.from_array(np.array([cfg.kv_heads, 0, cfg.head_dim], np.int64),
                                                  "/no_past/kv_dims")])
    renamed = {}
    for name in past:
        out = "/no_past/empty_" + name
        prologue.append(helper.make_node("ConstantOfShape", ["/no_past/empty_shape"], [out], name="/no_past/" + name,
                                         value=numpy_helper.from_array(np.zeros([1], np.float32))))
        renamed[name] = out
    for n in g.node:
        for k, x in enumerate(n.input):
            n.input[k] = renamed.get(x, x)
    nodes = prologue + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return m


def is_shared(t):
    """Optimum's rule: what is deduplicated into the outer graph (the rest stays in the branch)."""
    return len(t.dims) > 1 or (len(t.dims) == 1 and t.data_type not in INT_TYPES)


def merge_decoders(decoder, decoder_with_past):
    """decoder_model_merged.onnx as Optimum writes it (see the module docstring)."""
    models = [decoder, decoder_with_past]
    groups = collections.defaultdict(list)  # (dtype, digest, dims) -> [(name, model index)]
    for i, m in enumerate(models):
        for t in m.graph.initializer:
            if is_shared(t):
                digest = hashlib.sha512(numpy_helper.to_array(t).tobytes()).hexdigest()
                groups[(t.data_type, digest, tuple(t.dims))].append((t.name, i))
    rename, used = {}, collections.Counter()
    for members in groups.values():
        common = members[0][0]
        used[common] += 1
        for key in members:
            rename[key] = f"{common}_merged_{used[common]}"
    shared, seen = [], set()
    for i, m in enumerate(models):
        for n in m.graph.node:
            for k, x in enumerate(n.input):
                n.input[k] = rename.get((x, i), x)
        for t in m.graph.initializer:
            if (t.name, i) in rename and rename[(t.name, i)] not in seen:
                seen.add(rename[(t.name, i)])
                c = TensorProto()
                c.CopyFrom(t)
                c.name = rename[(t.name, i)]
                shared.append(c)

    def branch(m, name):
        return helper.make_graph(list(m.graph.node), name, [], list(m.graph.output),
                                 initializer=[t for t in m.graph.initializer if not is_shared(t)])

    inputs, names = [], set()
    for m in models:
        for vi in m.graph.input:
            if vi.name not in names:
                names.add(vi.name)
                c = onnx.ValueInfoProto()
                c.CopyFrom(vi)
                if c.name == "attention_mask":
                    c.type.tensor_type.shape.dim[1].dim_param = "attention_mask_sequence_length"
                inputs.append(c)
    use_cache = helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])
    no_past, with_past = branch(decoder, "no_past"), branch(decoder_with_past, "with_past")
    if_node = helper.make_node("If", ["use_cache_branch"], [o.name for o in no_past.output], name="optimum::if",
                               then_branch=with_past, else_branch=no_past)
    graph = helper.make_graph([if_node], "merged", inputs + [use_cache], list(no_past.output), initializer=shared)
    merged = helper.make_model(graph, opset_imports=list(decoder.opset_import))
    merged.ir_version = decoder.ir_version
    return merged


def save(model, path, external):
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx.save_model(model, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    gen = []
    if "--" in argv:
        k = argv.index("--")
        argv, gen = argv[:k], argv[k + 1:]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True, help="the folder (created)")
    p.add_argument("--layout", choices=("merged", "two-file"), required=True)
    p.add_argument("--subdir", default="", help="write the model files into this subfolder (e.g. onnx)")
    p.add_argument("--external-data", action="store_true")
    a = p.parse_args(argv)
    gen = gen or ["--preset", "tiny", "--opset", "17"]
    with_past, cfg = with_past_model(gen)
    decoder = no_past_model(with_past, cfg)
    out = os.path.join(a.output, a.subdir)
    os.makedirs(out, exist_ok=True)
    if a.layout == "two-file":
        save(decoder, os.path.join(out, "decoder_model.onnx"), a.external_data)
        save(with_past, os.path.join(out, "decoder_with_past_model.onnx"), a.external_data)
    else:
        path = os.path.join(out, "decoder_model_merged.onnx")
        merged = merge_decoders(decoder, with_past)
        save(merged, path, a.external_data)
        if max(o.version for o in merged.opset_import if o.domain in ("", "ai.onnx")) <= onnx.defs.onnx_opset_version():
            onnx.checker.check_model(path)


if __name__ == "__main__":
    main()
