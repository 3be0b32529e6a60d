#!/usr/bin/python3
"""Writes ONNX transformer decoders with random weights, shaped like HuggingFace exports.

The graphs have the interface and the operator patterns of `torch.onnx.export` on HF causal LMs
(see /work/shared/models/hf): inputs input_ids, attention_mask, position_ids,
past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]; outputs logits and
present.{i}.key|value = Concat(past, new) on axis -2. Dims are named batch, seq, past, total.

Families: gpt2, llama, mistral, qwen2, gptneox, phi3, opt.
Styles:   --opset 17 (default): the TorchScript exporter's graph.
          --opset 18 (--style dynamo by default): torch.onnx.export(dynamo=True)'s idioms.
          --opset 23 (dynamo): the same, with sdpa exported as one ONNX Attention node.
          --dtype f16|bf16: the fully 16-bit graph of an fp16 export (make_fp16_decoder.py):
              FLOAT16/BFLOAT16 weights, activations, caches and logits, fp32 around Softmax and the
              TorchScript RMSNorm, as torch.onnx.export of model.half() writes them.
          --opset 24 --static-cache MAX: opset 24's static cache: fixed-size buffers
              past_key_values.{i}.key|value [batch, kv_heads, MAX, head_dim], TensorScatter writing the
              new rows at the input write_indices [batch] (the current length), Attention reading the
              whole buffer with nonpad_kv_seqlen [batch] (length + new tokens) and a mask over MAX keys;
              present.{i}.* are the written buffers.
          --attn-softcap C (opset 23/24): Attention's softcap attribute (Gemma-2's logit soft cap).

Examples:
  bmc_modelgen.py --preset tiny --family qwen2 -o /tmp/qwen2_tiny.onnx
  bmc_modelgen.py --preset llama-25m --opset 18 -o /tmp/llama25m_dynamo.onnx
  bmc_modelgen.py --preset big -o /tmp/big.onnx            (~1 GB, weights in big.onnx.data)

Needs Debian's python3-onnx / python3-numpy (run with /usr/bin/python3). onnx 1.12's checker knows
opsets up to 17, so opset-18 graphs are only checked by loading them in onnxruntime.
"""
import argparse
import collections
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelgen.blocks import Config, Weights
from modelgen.families import BUILDERS, MHA_ONLY
from modelgen.graph import DYNAMO, TS, Graph

# Sizes only; the family comes from --family (or the preset's default family).
PRESETS = {
    "tiny": dict(layers=2, hidden=64, heads=4, kv_heads=2, vocab=512, max_pos=1024),
    # The model of PERF.md: 6 x 512, 8 heads, vocab 8192, ~25 M parameters.
    "gpt2-25m": dict(family="gpt2", layers=6, hidden=512, heads=8, kv_heads=8, inter=2048, vocab=8192, max_pos=4096),
    # Llama-style ~26 M parameters (untied head), GQA 8 query / 2 KV heads, SwiGLU.
    "llama-25m": dict(family="llama", layers=8, hidden=512, heads=8, kv_heads=2, inter=1024, vocab=8192,
                      max_pos=4096),
    # Llama-style ~107 M parameters (~0.43 GB), a second size for bmc-tune (benchmarks/tune.sh).
    "llama-100m": dict(family="llama", layers=8, hidden=1024, heads=16, kv_heads=4, inter=2816, vocab=8192,
                       max_pos=4096),
    # ~244 M parameters, ~0.98 GB of fp32 weights, for import-speed tests; always external data.
    "big": dict(family="llama", layers=16, hidden=1024, heads=16, kv_heads=4, inter=2816, vocab=32000,
                max_pos=4096, external_data=True),
}

# Per-family settings that follow the HF reference configs.
FAMILY_DEFAULTS = {
    "gpt2": dict(norm_eps=1e-5),
    "llama": dict(norm_eps=1e-6),
    "mistral": dict(norm_eps=1e-5, sliding_window=4096),
    "qwen2": dict(norm_eps=1e-6, rope_theta=1e6),
    "gptneox": dict(norm_eps=1e-5, rotary_pct=0.25),
    "phi3": dict(norm_eps=1e-5),
    "opt": dict(norm_eps=1e-5),
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--preset", choices=sorted(PRESETS), help="size preset (explicit flags override it)")
    p.add_argument("--family", choices=sorted(BUILDERS), help="architecture (default: the preset's, else llama)")
    p.add_argument("--layers", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--kv-heads", type=int, help="KV heads (GQA); gpt2/gptneox/opt need kv-heads == heads")
    p.add_argument("--inter", type=int, help="MLP inner size (default: 4*hidden, or ~8/3*hidden for SwiGLU)")
    p.add_argument("--vocab", type=int)
    p.add_argument("--max-pos", type=int, help="learned position table size (gpt2, opt)")
    p.add_argument("--sliding-window", type=int, help="mistral's attention window (default 4096)")
    p.add_argument("--rotary-pct", type=float, help="fraction of head_dim rotated (gptneox, default 0.25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weight-scale", type=float, default=3.0,
                   help="multiplier on HF's init std 0.02, at hidden 512; the std scales with "
                        "sqrt(512/hidden) (default 3: varied greedy output)")
    p.add_argument("--random-norms", action="store_true",
                   help="perturb norm weights/biases (default: HF's ones/zeros, which the exporter aliases)")
    p.add_argument("--attn-softcap", type=float, metavar="C",
                   help="opset >= 23: Attention's softcap C (Gemma-2's attn_logit_softcapping; default none)")
    p.add_argument("--opset", type=int, choices=(17, 18, 23, 24), default=17)
    p.add_argument("--static-cache", type=int, metavar="MAX",
                   help="opset 24: fixed-size KV buffers of MAX rows written by TensorScatter")
    p.add_argument("--style", choices=(TS, DYNAMO), help="exporter idioms (default: torchscript at 17, dynamo at 18)")
    p.add_argument("--external-data", action="store_true", help="weights in OUTPUT.data (onnx external data)")
    p.add_argument("--no-check", action="store_true", help="skip onnx.checker")
    p.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32",
                   help="f16/bf16: the fully 16-bit graph an fp16 export writes (make_fp16_decoder.py)")
    p.add_argument("-q", "--quiet", action="store_true")
    return p.parse_args(argv)


def resolve_config(a):
    """Flags over preset over defaults; returns (Config, external_data)."""
    preset = dict(PRESETS.get(a.preset, PRESETS["tiny"]))
    family = a.family or preset.pop("family", "llama")
    preset.pop("family", None)
    external = bool(preset.pop("external_data", False)) or a.external_data

    def pick(name):
        v = getattr(a, name)
        return v if v is not None else preset.get(name)

    layers, hidden, heads, vocab, max_pos = (pick(n) for n in ("layers", "hidden", "heads", "vocab", "max_pos"))
    kv_heads = a.kv_heads if a.kv_heads is not None else preset.get("kv_heads", heads)
    if family in MHA_ONLY:
        if a.kv_heads is not None and a.kv_heads != heads:
            sys.exit(f"bmc_modelgen: --family {family} has no grouped-query attention: --kv-heads must equal --heads")
        kv_heads = heads  # a preset's GQA setting does not apply
    inter = pick("inter")
    if inter is None:
        inter = 4 * hidden if family in MHA_ONLY else -(-(8 * hidden // 3) // 32) * 32
    fam = dict(FAMILY_DEFAULTS[family])
    if a.sliding_window is not None:
        fam["sliding_window"] = a.sliding_window
    if a.rotary_pct is not None:
        fam["rotary_pct"] = a.rotary_pct
    cfg = Config(family=family, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, inter=inter,
                 vocab=vocab, max_pos=max_pos, seed=a.seed, weight_scale=a.weight_scale,
                 random_norms=a.random_norms, attn_softcap=a.attn_softcap or 0.0, **fam)
    errors = []
    if min(layers, hidden, heads, kv_heads, inter, vocab, max_pos) < 1:
        errors.append("sizes must be positive")
    elif hidden % heads:
        errors.append(f"--hidden {hidden} is not a multiple of --heads {heads}")
    elif heads % kv_heads:
        errors.append(f"--heads {heads} is not a multiple of --kv-heads {kv_heads}")
    elif cfg.head_dim % 2:
        errors.append(f"head_dim {cfg.head_dim} must be even for rotary embeddings")
    elif family == "gptneox" and (int(cfg.head_dim * cfg.rotary_pct) % 2 or int(cfg.head_dim * cfg.rotary_pct) < 2):
        errors.append(f"rotary dims head_dim*rotary_pct = {cfg.head_dim * cfg.rotary_pct} must be even and >= 2")
    if errors:
        sys.exit("bmc_modelgen: " + "; ".join(errors))
    return cfg, external


def build_model(cfg, style, opset, static_cache=None):
    g = Graph(style, opset)
    g.static_cache = static_cache
    BUILDERS[cfg.family](g, cfg, Weights(cfg))
    KV, D, V = cfg.kv_heads, cfg.head_dim, cfg.vocab
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("input_ids", i64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", i64, ["batch", "total"]),
              helper.make_tensor_value_info("position_ids", i64, ["batch", "seq"])]
    outputs = [helper.make_tensor_value_info("logits", f32, ["batch", "seq", V])]
    past, total = ("past", "total") if static_cache is None else (static_cache, static_cache)
    for i in range(cfg.layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", f32, ["batch", KV, past, D]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", f32, ["batch", KV, total, D]))
    if static_cache is not None:
        inputs += [helper.make_tensor_value_info("write_indices", i64, ["batch"]),
                   helper.make_tensor_value_info("nonpad_kv_seqlen", i64, ["batch"])]
    graph = helper.make_graph(g.prologue + g.nodes, f"{cfg.family}_decoder", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="bmc_modelgen", producer_version="1")
    # What torch writes at opset 17 (onnxruntime accepts it at 18 too); opset 23 needs IR 10.
    model.ir_version = 10 if opset >= 23 else 8
    meta = {"family": cfg.family, "style": style, "layers": cfg.layers, "hidden": cfg.hidden, "heads": cfg.heads,
            "kv_heads": cfg.kv_heads, "head_dim": cfg.head_dim, "inter": cfg.inter, "vocab": cfg.vocab,
            "max_pos": cfg.max_pos, "seed": cfg.seed, "weight_scale": cfg.weight_scale,
            "rope_theta": cfg.rope_theta, "rotary_pct": cfg.rotary_pct, "sliding_window": cfg.sliding_window,
            "norm_eps": cfg.norm_eps, "random_norms": cfg.random_norms, "static_cache": static_cache,
            "attn_softcap": cfg.attn_softcap}
    helper.set_model_props(model, {"bmc.modelgen": json.dumps(meta)})
    model.doc_string = f"bmc_modelgen {cfg.family} ({style}, opset {opset}" + \
        (f", static cache {static_cache}" if static_cache else "") + "), random weights"
    return model, g.initializers


def attach_weights(model, initializers, path, external):
    """Initializers inline, or appended to PATH.data with the onnx external-data fields.

    Writing the side file directly keeps a ~1 GB model from being copied into the protobuf first.
    """
    inits = model.graph.initializer
    if not external:
        inits.extend(numpy_helper.from_array(arr, name) for name, arr in initializers.items())
        return
    data_name = os.path.basename(path) + ".data"
    with open(os.path.join(os.path.dirname(os.path.abspath(path)), data_name), "wb") as f:
        for name, arr in initializers.items():
            if arr.nbytes < 1024:  # shape constants stay inline, as onnx's own converter does
                inits.append(numpy_helper.from_array(arr, name))
                continue
            align = 4096 if arr.nbytes >= 1 << 16 else 64  # page-aligned big tensors can be mmap'ed
            f.seek(-f.tell() % align, os.SEEK_CUR)
            offset = f.tell()
            f.write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
            t = TensorProto(name=name, data_type=onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[arr.dtype], dims=arr.shape)
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(arr.nbytes))):
                t.external_data.add(key=k, value=v)
            inits.append(t)


def main(argv=None):
    a = parse_args(argv)
    cfg, external = resolve_config(a)
    style = a.style or (TS if a.opset == 17 else DYNAMO)
    if a.static_cache is not None and (a.opset < 24 or style != DYNAMO or a.static_cache < 1):
        sys.exit("bmc_modelgen: --static-cache needs --opset 24 (dynamo style) and a positive size")
    if a.attn_softcap is not None and (a.opset < 23 or style != DYNAMO or not a.attn_softcap > 0):
        sys.exit("bmc_modelgen: --attn-softcap needs --opset 23 or 24 (dynamo style) and a positive cap")
    model, initializers = build_model(cfg, style, a.opset, a.static_cache)
    if a.dtype != "f32" and (external or a.static_cache is not None):
        sys.exit("bmc_modelgen: --dtype f16|bf16 needs inline weights and no --static-cache")
    attach_weights(model, initializers, a.output, external)
    if a.dtype != "f32":
        from make_fp16_decoder import convert  # tests/models, beside this script
        model = convert(model, TensorProto.FLOAT16 if a.dtype == "f16" else TensorProto.BFLOAT16)
        model.doc_string += f" ({a.dtype}: every activation, cache and the logits)"
    if not external and model.ByteSize() >= 2 ** 31 - 1:
        sys.exit("bmc_modelgen: model exceeds protobuf's 2 GB limit; use --external-data")
    onnx.save_model(model, a.output)
    if not a.no_check and a.opset <= onnx.defs.onnx_opset_version():
        onnx.checker.check_model(a.output)  # by path, so external data is resolved
    if not a.quiet:
        params = sum(int(np.prod(t.shape)) for t in initializers.values() if t.dtype == np.float32)
        ops = collections.Counter(n.op_type for n in model.graph.node)
        top = ", ".join(f"{k} {v}" for k, v in ops.most_common(12))
        print(f"{a.output}: {cfg.family} {style} opset {a.opset}, {cfg.layers} layers, hidden {cfg.hidden}, "
              f"heads {cfg.heads}/{cfg.kv_heads}, inter {cfg.inter}, vocab {cfg.vocab}, "
              f"{params / 1e6:.1f} M params ({params * 4 / 1e6:.0f} MB), {len(model.graph.node)} nodes: {top}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
