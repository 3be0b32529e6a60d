#!/usr/bin/python3
"""Writes a generated Llama-style ONNX decoder's weights as a GGUF file, for llama.cpp as a peer.

    benchmarks/gguf_convert.py model.onnx -o model.Q8_0.gguf --type q8_0     (f32 | f16 | q8_0 | q4_0)

Written from the GGUF specification (ggml's docs/gguf.md: header, typed key/value metadata, tensor
infos, 32-byte aligned data) and ggml's block formats:
  F32 / F16    plain little-endian
  Q8_0         blocks of 32: fp16 d = max|x| / 127, then 32 int8 q = round(x / d) (half away from zero)
  Q4_0         blocks of 32: fp16 d = m / -8 with m the value of largest magnitude, then 16 bytes;
               q = min(15, trunc(x / d + 8.5)), byte j holds q[j] (low nibble) and q[j + 16] (high)
All 2-D matrices (embedding, attention, MLP, output) get the chosen type, as llama-quantize --pure
does; norm weights stay F32.

The input is what tests/models/bmc_modelgen.py writes for the llama and mistral families (the
TorchScript exporter's graph; the configuration comes from the file's `bmc.modelgen` metadata):
weights are found by walking the graph (Gather of the embedding, the RMSNorm weight Muls and the
MatMuls in node order, 7 per layer: q, k, v, o, gate, up, down; then the LM head) and every shape
is checked against the configuration. Anything else is refused with one line.

llama.cpp's LLAMA architecture rotates adjacent pairs (x[2i], x[2i+1]); Hugging Face Llama rotates
halves (x[i], x[i + d/2]). As llama.cpp's own convert_hf_to_gguf.py does, the rows of Q and K are
permuted per head so the two compute the same attention. The vocabulary is a placeholder of the
model's size (SentencePiece-style: <unk>, <s>, </s>, 256 byte tokens, then t<N>): the benchmark feeds
token ids, never text.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

GGML = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}  # llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0
ALIGN = 32
# GGUF value types
U32, I32, F32T, BOOL, STR, ARR, U64 = 4, 5, 6, 7, 8, 9, 10


class ConvertError(Exception):
    pass


# ---- block quantization (ggml's reference formats) -----------------------------------------------
def quant_q8_0(w):
    rows, cols = w.shape
    b = w.reshape(rows, cols // 32, 32).astype(np.float32)
    amax = np.abs(b).max(axis=2)
    d = amax / 127.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0.0).astype(np.float32)
    x = b * inv[..., None]
    q = (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int8)  # roundf: half away from zero
    out = np.empty((rows, cols // 32), dtype=[("d", "<f2"), ("q", "i1", 32)])
    out["d"] = d.astype(np.float16)
    out["q"] = q
    return out.tobytes()


def quant_q4_0(w):
    rows, cols = w.shape
    b = w.reshape(rows, cols // 32, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=2)
    m = np.take_along_axis(b, idx[..., None], axis=2)[..., 0]
    d = m / -8.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0.0).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv[..., None] + 8.5).astype(np.int32)).astype(np.uint8)
    packed = (q[..., :16] | (q[..., 16:] << 4)).astype(np.uint8)
    out = np.empty((rows, cols // 32), dtype=[("d", "<f2"), ("q", "u1", 16)])
    out["d"] = d.astype(np.float16)
    out["q"] = packed
    return out.tobytes()


def encode(w, kind):
    """w: [rows, cols] in ggml order (cols = ne[0], contiguous)."""
    if w.ndim == 1 or kind == "f32":
        return np.ascontiguousarray(w, dtype="<f4").tobytes(), GGML["f32"]
    if w.shape[1] % 32 and kind in ("q8_0", "q4_0"):
        raise ConvertError(f"a row of {w.shape[1]} values is not a whole number of 32-value blocks for {kind}")
    if kind == "f16":
        return np.ascontiguousarray(w, dtype="<f2").tobytes(), GGML["f16"]
    return (quant_q8_0(w) if kind == "q8_0" else quant_q4_0(w)), GGML[kind]


# ---- the ONNX graph ---------------------------------------------------------------------------------
def read_model(path):
    try:
        m = onnx.load(path)
    except Exception as e:  # noqa: BLE001 - onnx raises several types
        raise ConvertError(f"{path}: not a readable ONNX file ({e.__class__.__name__}: {e})")
    meta = {p.key: p.value for p in m.metadata_props}
    if "bmc.modelgen" not in meta:
        raise ConvertError(f"{path}: no 'bmc.modelgen' metadata: this converter reads bmc_modelgen.py's files only")
    cfg = json.loads(meta["bmc.modelgen"])
    if cfg.get("family") not in ("llama", "mistral") or cfg.get("style") != "torchscript":
        raise ConvertError(f"{path}: family {cfg.get('family')!r} style {cfg.get('style')!r}: "
                           "only llama/mistral in the TorchScript idiom are converted")
    if cfg.get("rotary_pct", 1.0) != 1.0:
        raise ConvertError(f"{path}: partial rotary ({cfg['rotary_pct']}) is not converted")
    init = {t.name: t for t in m.graph.initializer}
    base = os.path.dirname(os.path.abspath(path))

    # The exporter aliases identical initializers (HF's all-ones norms) through Identity nodes.
    alias = {}
    for n in m.graph.node:
        if n.op_type == "Identity" and alias.get(n.input[0], n.input[0]) in init:
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
    for a_name, target in alias.items():
        init.setdefault(a_name, init[target])

    def arr(name):
        return numpy_helper.to_array(init[name], base_dir=base)

    emb, norms, mats = None, [], []
    for n in m.graph.node:
        if n.op_type == "Gather" and n.input[0] in init and emb is None:
            emb = arr(n.input[0])
        elif n.op_type == "Mul":
            for x in n.input:
                if x in init and len(init[x].dims) == 1 and init[x].dims[0] == cfg["hidden"]:
                    norms.append(arr(x))
        elif n.op_type == "MatMul" and n.input[1] in init:
            mats.append(arr(n.input[1]))
    L, E, H, KV, D, I, V = (cfg[k] for k in ("layers", "hidden", "heads", "kv_heads", "head_dim", "inter", "vocab"))
    if emb is None or emb.shape != (V, E):
        raise ConvertError(f"{path}: no embedding Gather of shape [{V}, {E}]")
    if len(norms) != 2 * L + 1:
        raise ConvertError(f"{path}: found {len(norms)} RMSNorm weights, expected {2 * L + 1}")
    if len(mats) != 7 * L + 1:
        raise ConvertError(f"{path}: found {len(mats)} weight MatMuls, expected {7 * L + 1}")
    want = [(E, H * D), (E, KV * D), (E, KV * D), (H * D, E), (E, I), (E, I), (I, E)]
    for i, w in enumerate(mats[:-1]):
        if w.shape != want[i % 7]:
            raise ConvertError(f"{path}: MatMul weight {i} has shape {list(w.shape)}, expected {list(want[i % 7])}")
    if mats[-1].shape != (E, V):
        raise ConvertError(f"{path}: LM head has shape {list(mats[-1].shape)}, expected [{E}, {V}]")
    return cfg, emb, norms, mats


def permute_rope(w, heads):
    """[out, in] rows of Q or K: per head, halves -> adjacent pairs (convert_hf_to_gguf.py's permute)."""
    out = w.shape[0]
    return w.reshape(heads, 2, out // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensors(cfg, emb, norms, mats):
    L, H, KV = cfg["layers"], cfg["heads"], cfg["kv_heads"]
    yield "token_embd.weight", emb  # [vocab, hidden]: ne = [hidden, vocab]
    for i in range(L):
        q, k, v, o, gate, up, down = (mats[7 * i + j].T for j in range(7))  # torch layout [out, in]
        yield f"blk.{i}.attn_norm.weight", norms[2 * i]
        yield f"blk.{i}.attn_q.weight", permute_rope(q, H)
        yield f"blk.{i}.attn_k.weight", permute_rope(k, KV)
        yield f"blk.{i}.attn_v.weight", v
        yield f"blk.{i}.attn_output.weight", o
        yield f"blk.{i}.ffn_norm.weight", norms[2 * i + 1]
        yield f"blk.{i}.ffn_gate.weight", gate
        yield f"blk.{i}.ffn_up.weight", up
        yield f"blk.{i}.ffn_down.weight", down
    yield "output_norm.weight", norms[2 * L]
    yield "output.weight", mats[7 * L].T


# ---- GGUF writer ------------------------------------------------------------------------------------
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == STR:
        return out + gstr(value)
    if vtype == ARR:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == STR:
            return out + b"".join(gstr(s) for s in items)
        fmt = {I32: "<i", F32T: "<f", U32: "<I"}[etype]
        return out + b"".join(struct.pack(fmt, x) for x in items)
    fmt = {U32: "<I", I32: "<i", F32T: "<f", BOOL: "<?", U64: "<Q"}[vtype]
    return out + struct.pack(fmt, value)


def vocab(n):
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256  # UNKNOWN, CONTROL, CONTROL, BYTE
    if n < len(toks) + 1:
        raise ConvertError(f"vocabulary of {n} is too small for the placeholder vocabulary")
    toks += [f"t{i}" for i in range(len(toks), n)]
    types += [1] * (n - len(types))
    return toks, [0.0] * n, types


def write(path, cfg, kind, items):
    meta = [
        kv("general.architecture", STR, "llama"),
        kv("general.name", STR, f"bmc-modelgen-{cfg['family']}"),
        kv("general.file_type", U32, FILE_TYPE[kind]),
        kv("general.alignment", U32, ALIGN),
        kv("llama.context_length", U32, int(cfg.get("max_pos", 4096))),
        kv("llama.embedding_length", U32, cfg["hidden"]),
        kv("llama.block_count", U32, cfg["layers"]),
        kv("llama.feed_forward_length", U32, cfg["inter"]),
        kv("llama.rope.dimension_count", U32, cfg["head_dim"]),
        kv("llama.attention.head_count", U32, cfg["heads"]),
        kv("llama.attention.head_count_kv", U32, cfg["kv_heads"]),
        kv("llama.attention.layer_norm_rms_epsilon", F32T, float(cfg["norm_eps"])),
        kv("llama.rope.freq_base", F32T, float(cfg["rope_theta"])),
        kv("llama.vocab_size", U32, cfg["vocab"]),
    ]
    if cfg["family"] == "mistral" and cfg.get("sliding_window"):
        raise ConvertError("mistral's sliding window has no LLAMA-architecture key: not converted")
    toks, scores, types = vocab(cfg["vocab"])
    meta += [
        kv("tokenizer.ggml.model", STR, "llama"),
        kv("tokenizer.ggml.tokens", ARR, (STR, toks)),
        kv("tokenizer.ggml.scores", ARR, (F32T, scores)),
        kv("tokenizer.ggml.token_type", ARR, (I32, types)),
        kv("tokenizer.ggml.bos_token_id", U32, 1),
        kv("tokenizer.ggml.eos_token_id", U32, 2),
        kv("tokenizer.ggml.add_bos_token", BOOL, False),
    ]
    infos, blobs, offset = [], [], 0
    for name, w in items:
        data, gtype = encode(np.asarray(w, dtype=np.float32), kind if w.ndim == 2 else "f32")
        ne = list(reversed(w.shape))  # ggml: ne[0] is the contiguous axis
        infos.append(gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
                     + struct.pack("<IQ", gtype, offset))
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(meta)) + b"".join(meta) + b"".join(infos)
    head += b"\0" * ((-len(head)) % ALIGN)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:  # no partial output file under the final name
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return offset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a bmc_modelgen.py .onnx file (llama or mistral, TorchScript idiom)")
    ap.add_argument("-o", "--output", required=True, help="output .gguf path")
    ap.add_argument("--type", choices=sorted(GGML), default="f32", help="type of the 2-D matrices (default f32)")
    a = ap.parse_args(argv)
    try:
        cfg, emb, norms, mats = read_model(a.model)
        n = write(a.output, cfg, a.type, tensors(cfg, emb, norms, mats))
    except ConvertError as e:
        print(f"gguf_convert: {e}", file=sys.stderr)
        return 1
    print(f"gguf_convert: wrote {a.output} ({a.type}, {n / 1e6:.1f} MB of tensor data)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
