#!/usr/bin/env python3
"""Writes a SentencePiece model file (tokenizer.model) equivalent to a SentencePiece-style BPE
tokenizer.json, for the tokenizer.model oracle test.

No real tokenizer.model is installable here (npm ships Llama 2's tokenizer only as tokenizer.json),
so this file is derived: the pieces in id order, typed as SentencePiece types them (<unk> UNKNOWN,
<s> </s> CONTROL, <0xXX> BYTE, the rest NORMAL), each scored by the rank of the first merge that
produces it (Hugging Face's converter made those merges from the .model's scores, best first),
byte fallback on, and Llama 2's normalizer spec (identity, dummy prefix, whitespace kept and
escaped as "▁"). libsentencepiece then encodes it; transformers.js on the tokenizer.json is the
reference the test compares with. The protobuf is written by hand (sentencepiece_model.proto field
numbers): ModelProto.pieces = 1 {piece = 1, score = 2, type = 3}, trainer_spec = 2 {model_type = 3,
vocab_size = 4, byte_fallback = 35, unk_id = 40, bos_id = 41, eos_id = 42, pad_id = 43},
normalizer_spec = 3 {name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4,
escape_whitespaces = 5}.

    make_spm_model.py tokenizer.json out.model
"""
import json
import struct
import sys

UNKNOWN, CONTROL, NORMAL, BYTE = 2, 3, 1, 6


def varint(v):
    v &= (1 << 64) - 1  # negative int32s are written as 10-byte two's complement, as protobuf does
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<f", payload)
    return key + varint(len(payload)) + payload  # wire 2


def main(src, dst):
    tj = json.load(open(src, encoding="utf-8"))
    model = tj["model"]
    if model["type"] != "BPE" or tj.get("pre_tokenizer") is not None:
        sys.exit(f"make_spm_model: {src}: expected SentencePiece-style BPE (model BPE, no pre_tokenizer)")
    vocab = model["vocab"]
    rank = {}
    for r, m in enumerate(model["merges"]):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        rank.setdefault(a + b, r)
    special = {t["content"] for t in tj.get("added_tokens", []) if t.get("special")}
    pieces = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in pieces] == list(range(len(pieces))), "ids must be 0..n-1"
    out = bytearray()
    worst = -float(len(model["merges"]) + 1)
    for piece, i in pieces:
        if piece == model.get("unk_token"):
            kind, score = UNKNOWN, 0.0
        elif piece in special:
            kind, score = CONTROL, 0.0
        elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            kind, score = BYTE, 0.0
        else:
            kind, score = NORMAL, -float(rank[piece]) if piece in rank else worst
        body = field(1, 2, piece.encode("utf-8")) + field(2, 5, score) + field(3, 0, kind)
        out += field(1, 2, body)
    ids = {p: i for p, i in vocab.items()}
    trainer = (field(3, 0, 2) + field(4, 0, len(pieces)) + field(35, 0, 1 if model.get("byte_fallback") else 0) +
               field(40, 0, ids.get("<unk>", -1)) + field(41, 0, ids.get("<s>", -1)) + field(42, 0, ids.get("</s>", -1)) +
               field(43, 0, -1))
    normalizer = field(1, 2, b"identity") + field(3, 0, 1) + field(4, 0, 0) + field(5, 0, 1)
    out += field(2, 2, trainer) + field(3, 2, normalizer)
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
