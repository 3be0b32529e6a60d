//===- bad_packages.h - damaged .bmcpkg files for the error tests -*- C++ -*-===//
//
// Each variant starts from a good package and breaks one thing. Where the
// damage would otherwise only show as a checksum mismatch, the checksum is
// recomputed, so that the check meant to catch it is the one exercised.
// Uses the format's own header (bmc/abi/package.h) to find the fields.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_TESTS_E2E_BAD_PACKAGES_H
#define BMC_TESTS_E2E_BAD_PACKAGES_H

#include "bmc/abi/package.h"
#include "tests/e2e/e2e_util.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace bmc::e2e {

struct BadPackage {
  std::string name;     ///< short id, also the file stem
  std::string path;     ///< written by writeBadPackages
  std::string expected; ///< a piece of the error message
};

inline pkg::Header headerOf(const std::string &bytes) {
  pkg::Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  return h;
}

/// Writes `h` into the file and recomputes the checksum over the whole file.
inline void resealPackage(std::string &bytes, pkg::Header h) {
  h.checksum = 0;
  std::memcpy(bytes.data(), &h, sizeof h);
  h.checksum = pkg::crc32c(0, bytes.data(), bytes.size());
  std::memcpy(bytes.data(), &h, sizeof h);
}

/// The package again with its metadata replaced (sections moved, resealed).
inline std::string withMetaBytes(const std::string &good, const std::vector<uint8_t> &m);
inline std::string withMeta(const std::string &good, const pkg::Meta &meta) {
  return withMetaBytes(good, pkg::encodeMeta(meta));
}

/// The package again with its metadata bytes replaced (sections moved, resealed).
inline std::string withMetaBytes(const std::string &good, const std::vector<uint8_t> &m) {
  pkg::Header h = headerOf(good);
  std::string code = good.substr(h.codeOffset, h.codeSize), weights = good.substr(h.weightsOffset, h.weightsSize);
  h.metaOffset = pkg::kHeaderSize;
  h.metaSize = m.size();
  h.codeOffset = h.metaOffset + h.metaSize;
  h.weightsOffset = (h.codeOffset + h.codeSize + pkg::kWeightsAlign - 1) / pkg::kWeightsAlign * pkg::kWeightsAlign;
  h.fileSize = h.weightsOffset + h.weightsSize;
  std::string out(h.fileSize, '\0');
  std::memcpy(out.data() + h.metaOffset, m.data(), m.size());
  std::memcpy(out.data() + h.codeOffset, code.data(), code.size());
  std::memcpy(out.data() + h.weightsOffset, weights.data(), weights.size());
  resealPackage(out, h);
  return out;
}

/// encodeMeta(meta) with the 8-byte field that holds `sentinel` replaced by
/// `value`: for values the in-memory Meta cannot hold (an int index of 2^32).
inline std::vector<uint8_t> encodeWithField(const pkg::Meta &meta, int64_t sentinel, int64_t value) {
  std::vector<uint8_t> m = pkg::encodeMeta(meta);
  for (size_t i = 0; i + 8 <= m.size(); ++i)
    if (std::memcmp(m.data() + i, &sentinel, 8) == 0) {
      std::memcpy(m.data() + i, &value, 8);
      return m;
    }
  ADD_FAILURE() << "sentinel " << sentinel << " not found in the encoded metadata";
  return m;
}

/// Writes the damaged variants of the package `goodPath` into `dir`.
inline std::vector<BadPackage> writeBadPackages(const std::string &goodPath, const std::string &dir) {
  const std::string good = readFile(goodPath);
  const pkg::Header h = headerOf(good);
  std::vector<BadPackage> out;
  auto add = [&](const std::string &name, const std::string &bytes, const std::string &expected) {
    std::string p = dir + "/" + name + ".bmcpkg";
    writeFile(p, bytes);
    out.push_back({name, p, expected});
  };
  add("empty", "", "shorter than the header");
  add("header_only", good.substr(0, 100), "shorter than the header");
  add("truncated", good.substr(0, good.size() / 2), "truncated");
  add("appended", good + std::string(16, 'x'), "appended");
  {
    std::string b = good;
    b[h.weightsOffset + h.weightsSize / 2] ^= 0x10;
    add("bit_flip_in_weights", b, "checksum");
  }
  {
    std::string b = good;
    b[h.codeOffset + h.codeSize / 3] ^= 0x01;
    add("bit_flip_in_code", b, "checksum");
  }
  {
    std::string b = good;
    std::memcpy(b.data(), "NOTAPKG!", 8);
    add("bad_magic", b, "magic");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.formatVersion = pkg::kFormatVersion + 1;
    resealPackage(b, v);
    add("format_version_next", b, "format version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.formatVersion = 0;
    resealPackage(b, v);
    add("format_version_0", b, "format version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.abiVersion += 7;
    resealPackage(b, v);
    add("abi_version", b, "ABI version");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.codeOffset = good.size() - 10; // code runs past the end of the file
    resealPackage(b, v);
    add("section_out_of_range", b, "out of range");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.metaSize = ~uint64_t(0) - 64; // offset + size overflows
    resealPackage(b, v);
    add("section_size_overflow", b, "out of range");
  }
  {
    std::string b = good;
    b[h.metaOffset + 7] = 0x40; // the first string claims 2^62 bytes
    resealPackage(b, h);
    add("metadata_corrupted", b, "metadata");
  }
  {
    std::string b = good;
    std::memcpy(b.data() + h.codeOffset, "\x7f" "FLX", 4); // not an ELF image any more
    resealPackage(b, h);
    add("code_not_elf", b, "code image");
  }
  {
    pkg::Meta meta;
    std::string err;
    if (pkg::decodeMeta(reinterpret_cast<const uint8_t *>(good.data()) + h.metaOffset, h.metaSize, meta, err)) {
      meta.cpuFeatures.push_back("no-such-cpu-feature");
      add("cpu_lacks_feature", withMeta(good, meta), "no-such-cpu-feature");
    }
  }
  add("onnx_file", readFile(dataDir() + "/gpt2_s.onnx"), "not a bmc package");
  {
    std::string b = good;
    pkg::Header v = h;
    v.reserved[5] = 1;
    resealPackage(b, v);
    add("reserved_not_zero", b, "reserved");
  }
  {
    std::string b = good;
    pkg::Header v = h;
    v.codeOffset = h.metaOffset; // code and metadata overlap
    resealPackage(b, v);
    add("sections_overlap", b, "overlap");
  }
  {
    // The weights section cut short by a page, the header and checksum made
    // to agree: the code would read past the end of the mapping.
    pkg::Header v = h;
    v.weightsSize -= 4096;
    v.fileSize = v.weightsOffset + v.weightsSize;
    std::string b = good.substr(0, v.fileSize);
    resealPackage(b, v);
    add("weights_section_short", b, "weights section of");
  }
  // Metadata that decodes but disagrees with itself or with the tensors
  // (checksum recomputed, so only the consistency checks can catch it).
  pkg::Meta meta;
  std::string err;
  if (!pkg::decodeMeta(reinterpret_cast<const uint8_t *>(good.data()) + h.metaOffset, h.metaSize, meta, err)) {
    ADD_FAILURE() << "the good package's metadata does not decode: " << err;
    return out;
  }
  auto variant = [&](const std::string &name, const std::string &expected, auto edit) {
    pkg::Meta m = meta;
    edit(m.sig.decoder, m.sig);
    add(name, withMeta(good, m), expected);
  };
  variant("head_dim_zero", "head_dim", [](DecoderInfo &d, ModelSignature &) { d.caches[0].headDim = 0; });
  variant("heads_zero", "heads", [](DecoderInfo &d, ModelSignature &) { d.caches[1].heads = 0; });
  variant("heads_huge", "heads", [](DecoderInfo &d, ModelSignature &) { d.caches[0].heads = INT64_MAX; });
  variant("vocab_beyond_logits", "vocab", [](DecoderInfo &d, ModelSignature &) { d.vocab += 1000; });
  // (float16 / bfloat16 logits are a 16-bit graph's: accepted at load; the
  // code's element size is checked when it asks for the buffer, package_test.)
  variant("logits_dtype_changed", "float32, float16 or bfloat16", [](DecoderInfo &d, ModelSignature &s) {
    s.outputs[size_t(d.logits)].dtype = DType::I64;
  });
  variant("ids_point_at_a_cache", "inconsistent metadata", [](DecoderInfo &d, ModelSignature &) {
    d.inputIds = d.caches[0].pastInput;
  });
  variant("r_huge", "1048576", [](DecoderInfo &d, ModelSignature &) { d.r = int64_t(1) << 62; });
  variant("kv_type_unknown", "unknown KV type", [](DecoderInfo &d, ModelSignature &) { d.kvType = "int3"; });
  // Concat caches are described by kvType too: bf16 over the graph's f32 tensors.
  if (meta.sig.decoder.kvType == "f32")
    variant("kv_type_other_than_the_concat_caches", "expected dtype bf16 (KV type bf16), found f32",
            [](DecoderInfo &d, ModelSignature &s) {
              d.kvType = "bf16";
              d.inplaceKV = false;
              d.kvMode = "concat";
              for (TensorInfo &t : s.inputs) t.kvSlot = -1;
            });
  // The code stores f32 rows; metadata saying f16 would size the buffers at half.
  if (meta.sig.decoder.kvType == "f32")
    variant("kv_type_differs_from_the_code", "the metadata says KV type f16, but the code was compiled for f32",
            [](DecoderInfo &d, ModelSignature &s) {
              d.kvType = "f16";
              for (TensorInfo &t : s.inputs) // consistent metadata: only the code can tell
                if (t.kvSlot >= 0) t.dtype = DType::F16;
            });
  variant("kv_type_disagrees_with_the_cache_inputs", "expected dtype f16 (KV type f16)",
          [](DecoderInfo &d, ModelSignature &) { d.kvType = "f16"; });
  variant("unknown_dtype", "dtype", [](DecoderInfo &, ModelSignature &s) { s.inputs[0].dtype = DType(99); });
  {
    // An index of 2^32: narrowed to int before the range check it passed as 0.
    pkg::Meta m = meta;
    const int64_t sentinel = 0x5a5a5a5a;
    m.sig.decoder.inputIds = int(sentinel);
    add("index_2_pow_32", withMetaBytes(good, encodeWithField(m, sentinel, int64_t(1) << 32)), "out of range");
  }
  // Embedded tokenizer and generation defaults (format 3), each field out of
  // its range, and the section cut short.
  auto assets = [&](const std::string &name, const std::string &expected, auto edit) {
    pkg::Meta m = meta;
    m.hasAssets = true;
    m.assets.tokenizerFile = "tokenizer.json";
    m.assets.tokenizerData = "{}";
    m.assets.generation.eosTokenIds = {1};
    edit(m.assets, m);
    add(name, withMeta(good, m), expected);
  };
  assets("assets_top_p", "top_p", [](ModelAssets &a, pkg::Meta &) { a.generation.topP = 1.5f; });
  assets("assets_temperature_nan", "temperature", [](ModelAssets &a, pkg::Meta &) { a.generation.temperature = NAN; });
  assets("assets_top_k", "top_k", [](ModelAssets &a, pkg::Meta &) { a.generation.topK = -1; });
  assets("assets_context", "context length", [](ModelAssets &a, pkg::Meta &) { a.generation.contextLength = -5; });
  assets("assets_eos_negative", "eos token id", [](ModelAssets &a, pkg::Meta &) { a.generation.eosTokenIds = {-1}; });
  assets("assets_eos_outside_vocab", "outside the vocabulary", [](ModelAssets &a, pkg::Meta &m) {
    a.generation.eosTokenIds = {m.sig.decoder.vocab};
  });
  assets("assets_tokenizer_kind", "tokenizer kind", [](ModelAssets &a, pkg::Meta &) { a.tokenizerFile = "vocab.txt"; });
  assets("assets_tokenizer_empty", "tokenizer.json is empty", [](ModelAssets &a, pkg::Meta &) { a.tokenizerData.clear(); });
  assets("assets_bytes_without_kind", "without a tokenizer kind", [](ModelAssets &a, pkg::Meta &) { a.tokenizerFile.clear(); });
  assets("assets_add_bos", "add_bos_token", [](ModelAssets &a, pkg::Meta &) { a.addBosToken = 2; });
  {
    pkg::Meta m = meta;
    m.hasAssets = true;
    m.assets.tokenizerFile = "tokenizer.json";
    m.assets.tokenizerData = std::string(1000, ' ') + "{}";
    std::vector<uint8_t> bytes = pkg::encodeMeta(m);
    bytes.resize(bytes.size() - 600); // the tokenizer's bytes and what follows them cut off
    add("assets_truncated", withMetaBytes(good, bytes), "corrupted metadata");
    bytes = pkg::encodeMeta(m);
    bytes.push_back(0); // a byte after the last field
    add("assets_trailing_byte", withMetaBytes(good, bytes), "corrupted metadata");
  }
  return out;
}

} // namespace bmc::e2e

#endif
