#!/usr/bin/env python3
"""Writes a SentencePiece Unigram model file (.model) as a Hugging Face tokenizer.json, in the
shapes Hugging Face's converter (transformers' convert_slow_tokenizer.py, T5/ALBERT) gives, for the
Unigram oracle test.

No real Unigram tokenizer.json is installable here (no npm package ships one), so the test trains
a real SentencePiece model with Google's trainer (tests/tokenizer/spm_train.cpp; its nmt_nfkc
precompiled_charsmap included) and this script writes it out: vocab = the pieces in id order with
their scores, unk_id = the UNKNOWN piece, CONTROL/UNKNOWN pieces as special added tokens, "</s>"
appended by the post-processor. Two styles:

  t5      T5's published tokenizer.json: Precompiled normalizer; WhitespaceSplit then Metaspace
          (add_prefix_space); Metaspace decoder.
  modern  the converter's current form: Precompiled, Strip (right), Replace(Regex " {2,}" -> "▁");
          Metaspace (prepend_scheme always, split); with --byte-fallback models, the decoder
          Replace("▁" -> " "), ByteFallback, Fuse, Strip(start 1).

The protobuf is read by hand (sentencepiece_model.proto field numbers): ModelProto.pieces = 1
{piece = 1, score = 2, type = 3}, trainer_spec = 2 {byte_fallback = 35}, normalizer_spec = 3
{precompiled_charsmap = 2}.

    spm_to_tokenizer_json.py in.model out.json t5|modern
"""
import base64
import json
import struct
import sys

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def fields(buf):
    """(field number, wire type, value) for each field of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            sys.exit(f"spm_to_tokenizer_json: unsupported wire type {wire} (field {num})")
        yield num, wire, value


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("t5", "modern"):
        sys.exit("usage: spm_to_tokenizer_json.py in.model out.json t5|modern")
    src, dst, style = sys.argv[1:]
    with open(src, "rb") as f:
        model = f.read()
    pieces, charsmap, byte_fallback = [], b"", False
    for num, _, value in fields(model):
        if num == 1:
            piece = {"piece": "", "score": 0.0, "type": NORMAL}
            for n, _, v in fields(value):
                if n == 1:
                    piece["piece"] = v.decode("utf-8")
                elif n == 2:
                    piece["score"] = struct.unpack("<f", v)[0]
                elif n == 3:
                    piece["type"] = v
            pieces.append(piece)
        elif num == 2:
            for n, _, v in fields(value):
                if n == 35:
                    byte_fallback = bool(v)
        elif num == 3:
            for n, _, v in fields(value):
                if n == 2:
                    charsmap = v
    unk_id = next(i for i, p in enumerate(pieces) if p["type"] == UNKNOWN)
    eos = next(p["piece"] for p in pieces if p["type"] == CONTROL and p["piece"] == "</s>")
    added = [{"id": i, "content": p["piece"], "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, p in enumerate(pieces) if p["type"] in (CONTROL, UNKNOWN)]
    precompiled = {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()}
    if style == "t5":
        normalizer = precompiled
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True, "prepend_scheme": "always"}]}
        decoder = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True, "prepend_scheme": "always"}
    else:
        normalizer = {"type": "Sequence", "normalizers": [
            precompiled, {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]}
        pre_tokenizer = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True,
                         "prepend_scheme": "always", "split": True}
        decoder = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True, "prepend_scheme": "always"}
        if byte_fallback:
            decoder = {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    eos_id = next(i for i, p in enumerate(pieces) if p["piece"] == eos)
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
                           "special_tokens": {eos: {"id": eos, "ids": [eos_id], "tokens": [eos]}}},
        "decoder": decoder,
        "model": {"type": "Unigram", "unk_id": unk_id, "vocab": [[p["piece"], p["score"]] for p in pieces],
                  "byte_fallback": byte_fallback},
    }
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
