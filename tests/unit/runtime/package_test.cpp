//===- package_test.cpp - .bmcpkg metadata codec and CRC32C ---------------===//

#include "bmc/abi/entry.h"
#include "bmc/abi/package.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace bmc {
namespace {

//===----------------------------------------------------------------------===//
// CRC32C
//===----------------------------------------------------------------------===//

uint32_t crcOf(const std::string &s) { return pkg::crc32c(0, s.data(), s.size()); }
uint32_t crcOf(const std::vector<uint8_t> &v) { return pkg::crc32c(0, v.data(), v.size()); }

/// Bit-at-a-time CRC32C (reflected polynomial 0x82F63B78): the definition.
uint32_t crcBitwise(const uint8_t *p, size_t n) {
  uint32_t c = ~0u;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, CheckValue) { EXPECT_EQ(crcOf("123456789"), 0xE3069283u); }

TEST(Crc32c, Empty) { EXPECT_EQ(crcOf(""), 0u); }

TEST(Crc32c, Rfc3720Vectors) {
  // RFC 3720 (iSCSI), appendix B.4.
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) inc[size_t(i)] = uint8_t(i), dec[size_t(i)] = uint8_t(31 - i);
  EXPECT_EQ(crcOf(zeros), 0x8A9136AAu);
  EXPECT_EQ(crcOf(ones), 0x62A8AB43u);
  EXPECT_EQ(crcOf(inc), 0x46DD794Eu);
  EXPECT_EQ(crcOf(dec), 0x113FDB5Cu);
}

TEST(Crc32c, Incremental) {
  std::string s = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t c = pkg::crc32c(0, s.data(), cut);
    c = pkg::crc32c(c, s.data() + cut, s.size() - cut);
    EXPECT_EQ(c, crcOf(s)) << "split at " << cut;
  }
  EXPECT_EQ(crcOf(s), 0x22620404u);
}

TEST(Crc32c, MatchesTheDefinitionAtEveryLengthAndAlignment) {
  // Covers the 8-byte main loop and its tails, at every misalignment.
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(300);
  for (uint8_t &b : buf) b = uint8_t(rng());
  for (size_t off = 0; off < 8; ++off)
    for (size_t n = 0; n + off <= 200; ++n)
      ASSERT_EQ(pkg::crc32c(0, buf.data() + off, n), crcBitwise(buf.data() + off, n)) << off << "+" << n;
}

TEST(Crc32c, ThreeStreamPathMatchesTheDefinition) {
  // crc32c reads 3 x 8 KB blocks as three streams and joins them: lengths
  // around multiples of 24 KB, at misalignments, against the bitwise CRC.
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(3 * 24576 + 64);
  for (uint8_t &b : buf) b = uint8_t(rng());
  for (size_t n : {24575u, 24576u, 24577u, 49151u, 49152u, 49159u, 3u * 24576 + 37})
    for (size_t off : {0u, 1u, 5u}) {
      ASSERT_EQ(pkg::crc32c(0, buf.data() + off, n), crcBitwise(buf.data() + off, n)) << off << "+" << n;
      // With an incoming CRC too (the loader chains the header into the body).
      uint32_t c = pkg::crc32c(0, buf.data() + off, 13);
      ASSERT_EQ(pkg::crc32c(c, buf.data() + off + 13, n - 13), crcBitwise(buf.data() + off, n)) << off << "+" << n;
    }
}

TEST(Crc32c, CombineMatchesOnePass) {
  std::mt19937 rng(3);
  std::vector<uint8_t> buf(70001);
  for (uint8_t &b : buf) b = uint8_t(rng());
  for (size_t cut : {0u, 1u, 7u, 4096u, 24577u, 69999u, 70001u}) {
    uint32_t a = pkg::crc32c(0, buf.data(), cut), b = pkg::crc32c(0, buf.data() + cut, buf.size() - cut);
    EXPECT_EQ(pkg::crc32cCombine(a, b, buf.size() - cut), crcBitwise(buf.data(), buf.size())) << "cut at " << cut;
  }
}

TEST(Crc32c, ParallelMatchesOnePassAndSeesEveryPart) {
  // 3 parts of >= 32 MB (odd total), an incoming CRC; a byte changed in any
  // part changes the result.
  std::mt19937_64 rng(5);
  std::vector<uint8_t> buf((size_t(100) << 20) + 13);
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(buf.data() + i, &v, 8);
  }
  const uint32_t in = 0x1234567u, want = pkg::crc32c(in, buf.data(), buf.size());
  for (int threads : {1, 2, 3, 8})
    EXPECT_EQ(pkg::crc32cParallel(in, buf.data(), buf.size(), threads, false), want) << threads << " threads";
  for (size_t at : {size_t(0), size_t(40) << 20, size_t(70) << 20, buf.size() - 1}) {
    buf[at] ^= 0x10;
    EXPECT_NE(pkg::crc32cParallel(in, buf.data(), buf.size(), 3, false), want) << "byte " << at;
    buf[at] ^= 0x10;
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::vector<uint8_t> buf(64);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = uint8_t(i * 37);
  uint32_t base = crcOf(buf);
  for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
    buf[bit / 8] ^= uint8_t(1u << (bit % 8));
    EXPECT_NE(crcOf(buf), base) << "bit " << bit;
    buf[bit / 8] ^= uint8_t(1u << (bit % 8));
  }
}

//===----------------------------------------------------------------------===//
// Metadata
//===----------------------------------------------------------------------===//

TensorInfo info(std::string name, DType t, std::vector<int64_t> shape, std::vector<std::string> dims, int kvSlot = -1) {
  TensorInfo i;
  i.name = std::move(name);
  i.dtype = t;
  i.shape = std::move(shape);
  i.dimNames = std::move(dims);
  i.kvSlot = kvSlot;
  return i;
}

/// A decoder with two layers and in-place KV caches, every field set.
pkg::Meta sampleMeta() {
  pkg::Meta m;
  m.producer = "bmc 0.1.0";
  m.source = "/models/llama s.onnx";
  m.targetCpu = "znver3";
  m.cpuFeatures = {"avx2", "fma"};
  m.sig.inputs = {info("input_ids", DType::I64, {-1, -1}, {"batch", "seq"}),
                  info("attention_mask", DType::I64, {-1, -1}, {"batch", "total"}),
                  info("position_ids", DType::I64, {-1, -1}, {"batch", "seq"}),
                  info("past_key_values.0.key", DType::BF16, {-1, 2, -1, 16}, {"batch", "", "past", ""}, 3),
                  info("past_key_values.0.value", DType::BF16, {-1, 2, -1, 16}, {"batch", "", "past", ""}, 4),
                  info("past_key_values.1.key", DType::BF16, {-1, 2, -1, 16}, {"batch", "", "past", ""}, 5),
                  info("past_key_values.1.value", DType::BF16, {-1, 2, -1, 16}, {"batch", "", "past", ""}, 6)};
  m.sig.outputs = {info("logits", DType::F32, {-1, -1, 1200}, {"batch", "seq", ""})};
  DecoderInfo &d = m.sig.decoder;
  d.valid = true;
  d.inputIds = 0;
  d.attentionMask = 1;
  d.positionIds = 2;
  d.logits = 0;
  for (int k = 0; k < 4; ++k) {
    DecoderInfo::KV kv;
    kv.pastInput = 3 + k;
    kv.presentOutput = -1;
    kv.heads = 2;
    kv.headDim = 16;
    d.caches.push_back(kv);
  }
  d.vocab = 1200;
  d.maxPositions = 2048;
  d.inplaceKV = true;
  d.kvMode = "bmc";
  d.r = 24;
  d.kvPadding = "mask";
  d.kvStatus = {"past_key_values.0.key: in place", "past_key_values.0.value: in place"};
  d.weights = "int4";
  d.activations = "int8";
  d.kvType = "bf16";
  return m;
}

void expectSameInfo(const TensorInfo &a, const TensorInfo &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dimNames, b.dimNames);
  EXPECT_EQ(a.kvSlot, b.kvSlot);
}

TEST(PackageMeta, RoundTrip) {
  pkg::Meta m = sampleMeta();
  std::vector<uint8_t> bytes = pkg::encodeMeta(m);
  pkg::Meta back;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) << err;
  EXPECT_EQ(back.producer, m.producer);
  EXPECT_EQ(back.source, m.source);
  EXPECT_EQ(back.targetCpu, m.targetCpu);
  EXPECT_EQ(back.cpuFeatures, m.cpuFeatures);
  ASSERT_EQ(back.sig.inputs.size(), m.sig.inputs.size());
  for (size_t i = 0; i < m.sig.inputs.size(); ++i) expectSameInfo(back.sig.inputs[i], m.sig.inputs[i]);
  ASSERT_EQ(back.sig.outputs.size(), m.sig.outputs.size());
  for (size_t i = 0; i < m.sig.outputs.size(); ++i) expectSameInfo(back.sig.outputs[i], m.sig.outputs[i]);
  const DecoderInfo &d = back.sig.decoder, &e = m.sig.decoder;
  EXPECT_EQ(d.valid, e.valid);
  EXPECT_EQ(d.inputIds, e.inputIds);
  EXPECT_EQ(d.attentionMask, e.attentionMask);
  EXPECT_EQ(d.positionIds, e.positionIds);
  EXPECT_EQ(d.logits, e.logits);
  ASSERT_EQ(d.caches.size(), e.caches.size());
  for (size_t k = 0; k < d.caches.size(); ++k) {
    EXPECT_EQ(d.caches[k].pastInput, e.caches[k].pastInput);
    EXPECT_EQ(d.caches[k].presentOutput, e.caches[k].presentOutput);
    EXPECT_EQ(d.caches[k].heads, e.caches[k].heads);
    EXPECT_EQ(d.caches[k].headDim, e.caches[k].headDim);
  }
  EXPECT_EQ(d.vocab, e.vocab);
  EXPECT_EQ(d.maxPositions, e.maxPositions);
  EXPECT_EQ(d.inplaceKV, e.inplaceKV);
  EXPECT_EQ(d.kvMode, e.kvMode);
  EXPECT_EQ(d.r, e.r);
  EXPECT_EQ(d.kvPadding, e.kvPadding);
  EXPECT_EQ(d.kvStatus, e.kvStatus);
  EXPECT_EQ(d.weights, "int4");
  EXPECT_EQ(d.activations, "int8");
  EXPECT_EQ(d.kvType, "bf16");
  // Encoding is deterministic (packages are reproducible).
  EXPECT_EQ(pkg::encodeMeta(back), bytes);
}

TEST(PackageMeta, RoundTripOfANonDecoder) {
  pkg::Meta m;
  m.producer = "bmc";
  m.sig.inputs = {info("x", DType::F32, {3, 4}, {})};
  m.sig.outputs = {info("y", DType::F16, {}, {})};
  std::vector<uint8_t> bytes = pkg::encodeMeta(m);
  pkg::Meta back;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) << err;
  EXPECT_FALSE(back.sig.decoder.valid);
  EXPECT_EQ(back.sig.outputs[0].dtype, DType::F16);
  EXPECT_TRUE(back.sig.outputs[0].shape.empty());
  EXPECT_EQ(back.sig.decoder.inputIds, -1);
}

/// A tokenizer file and generation defaults (format 3) come back as written,
/// and every prefix of the longer metadata is refused.
TEST(PackageMeta, RoundTripOfAssets) {
  pkg::Meta m = sampleMeta();
  m.hasAssets = true;
  GenerationDefaults &g = m.assets.generation;
  g.eosTokenIds = {2, 1199};
  g.bosTokenId = 1;
  g.contextLength = 4096;
  g.doSample = true;
  g.temperature = 0.7f;
  g.topK = 40;
  g.topP = 0.95f;
  m.assets.tokenizerFile = "tokenizer.json";
  m.assets.tokenizerData = std::string("{\"model\": {}}\0binary\xff", 22);
  m.assets.addBosToken = 1;
  m.assets.addEosToken = 0;
  std::vector<uint8_t> bytes = pkg::encodeMeta(m);
  pkg::Meta back;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) << err;
  ASSERT_TRUE(back.hasAssets);
  const GenerationDefaults &h = back.assets.generation;
  EXPECT_EQ(h.eosTokenIds, g.eosTokenIds);
  EXPECT_EQ(h.bosTokenId, 1);
  EXPECT_EQ(h.contextLength, 4096);
  EXPECT_TRUE(h.doSample);
  EXPECT_EQ(h.temperature, 0.7f);
  EXPECT_EQ(h.topK, 40);
  EXPECT_EQ(h.topP, 0.95f);
  EXPECT_EQ(back.assets.tokenizerFile, "tokenizer.json");
  EXPECT_EQ(back.assets.tokenizerData, m.assets.tokenizerData);
  EXPECT_EQ(back.assets.addBosToken, 1);
  EXPECT_EQ(back.assets.addEosToken, 0);
  for (size_t n = bytes.size() - 200; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + ptrdiff_t(n));
    pkg::Meta b2;
    EXPECT_FALSE(pkg::decodeMeta(cut.data(), cut.size(), b2, err)) << "prefix of " << n << " bytes";
  }
  // An eos id at the vocabulary's size is outside it.
  m.assets.generation.eosTokenIds = {1200};
  bytes = pkg::encodeMeta(m);
  pkg::Meta b3;
  EXPECT_FALSE(pkg::decodeMeta(bytes.data(), bytes.size(), b3, err));
  EXPECT_NE(err.find("eos token id 1200"), std::string::npos) << err;
}

TEST(PackageMeta, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = pkg::encodeMeta(sampleMeta());
  for (size_t n = 0; n < bytes.size(); ++n) {
    pkg::Meta back;
    std::string err;
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + ptrdiff_t(n)); // exact size: ASan sees overreads
    EXPECT_FALSE(pkg::decodeMeta(cut.data(), cut.size(), back, err)) << "prefix of " << n << " bytes";
    EXPECT_FALSE(err.empty());
  }
}

TEST(PackageMeta, RejectsTrailingBytes) {
  std::vector<uint8_t> bytes = pkg::encodeMeta(sampleMeta());
  bytes.push_back(0);
  pkg::Meta back;
  std::string err;
  EXPECT_FALSE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err));
  EXPECT_NE(err.find("corrupted"), std::string::npos) << err;
}

TEST(PackageMeta, RejectsAHugeLength) {
  // The first field is the producer string: claim 2^62 bytes.
  std::vector<uint8_t> bytes = pkg::encodeMeta(sampleMeta());
  bytes[7] = 0x40;
  pkg::Meta back;
  std::string err;
  EXPECT_FALSE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err));
}

TEST(PackageMeta, RejectsDecoderIndicesOutOfRange) {
  for (int which = 0; which < 4; ++which) {
    pkg::Meta m = sampleMeta();
    DecoderInfo &d = m.sig.decoder;
    if (which == 0) d.inputIds = 7;   // 7 inputs: 0..6
    if (which == 1) d.logits = 1;     // 1 output
    if (which == 2) d.positionIds = -2;
    if (which == 3) d.caches[2].pastInput = 100;
    std::vector<uint8_t> bytes = pkg::encodeMeta(m);
    pkg::Meta back;
    std::string err;
    EXPECT_FALSE(pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) << "case " << which;
    EXPECT_NE(err.find("out of range"), std::string::npos) << err;
  }
}

/// decodeMeta of `m` fails with a message containing `part`.
::testing::AssertionResult refused(const std::vector<uint8_t> &bytes, const std::string &part) {
  pkg::Meta back;
  std::string err;
  if (pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) return ::testing::AssertionFailure() << "accepted";
  if (err.find(part) == std::string::npos) return ::testing::AssertionFailure() << "'" << err << "' lacks '" << part << "'";
  return ::testing::AssertionSuccess() << err;
}
::testing::AssertionResult refused(const pkg::Meta &m, const std::string &part) {
  return refused(pkg::encodeMeta(m), part);
}

TEST(PackageMeta, IndicesAreCheckedBeforeNarrowing) {
  // An index of 2^32 (or 2^32 - 1 + 1) was truncated to int before the range
  // check and passed as 0. Written over a sentinel, since Meta holds ints.
  for (int64_t v : {int64_t(1) << 32, (int64_t(1) << 32) + 2, int64_t(1) << 62, -(int64_t(1) << 32)}) {
    for (int field = 0; field < 3; ++field) {
      pkg::Meta m = sampleMeta();
      const int sentinel = 0x5a5a5a5a;
      if (field == 0) m.sig.decoder.inputIds = sentinel;
      if (field == 1) m.sig.decoder.caches[1].pastInput = sentinel;
      if (field == 2) m.sig.inputs[3].kvSlot = sentinel;
      std::vector<uint8_t> bytes = pkg::encodeMeta(m);
      bool patched = false;
      for (size_t i = 0; i + 8 <= bytes.size() && !patched; ++i) {
        int64_t x;
        std::memcpy(&x, bytes.data() + i, 8);
        if (x == sentinel) {
          std::memcpy(bytes.data() + i, &v, 8);
          patched = true;
        }
      }
      ASSERT_TRUE(patched);
      EXPECT_TRUE(refused(bytes, "out of range")) << "field " << field << " = " << v;
    }
  }
}

TEST(PackageMeta, RejectsInconsistentFields) {
  struct Case {
    const char *name, *expected;
    void (*edit)(pkg::Meta &);
  };
  const Case cases[] = {
      {"unknown dtype", "not a known dtype", [](pkg::Meta &m) { m.sig.outputs[0].dtype = DType(99); }},
      {"dtype 0", "not a known dtype", [](pkg::Meta &m) { m.sig.inputs[1].dtype = DType(0); }},
      {"dimension below -1", "dimension -2 out of range", [](pkg::Meta &m) { m.sig.inputs[0].shape[1] = -2; }},
      {"names for another rank", "dimension names", [](pkg::Meta &m) { m.sig.inputs[0].dimNames.push_back("x"); }},
      {"KV slot of another input", "KV slot 4", [](pkg::Meta &m) { m.sig.inputs[3].kvSlot = 4; }},
      {"output with a KV slot", "has a KV slot", [](pkg::Meta &m) { m.sig.outputs[0].kvSlot = 0; }},
      {"head_dim 0", "head_dim", [](pkg::Meta &m) { m.sig.decoder.caches[0].headDim = 0; }},
      {"heads 0", "heads", [](pkg::Meta &m) { m.sig.decoder.caches[2].heads = 0; }},
      {"heads 2^63-1", "heads", [](pkg::Meta &m) { m.sig.decoder.caches[0].heads = INT64_MAX; }},
      {"vocab larger than the logits", "the vocab", [](pkg::Meta &m) { m.sig.decoder.vocab = 5000; }},
      // (float16 logits are a 16-bit graph's: accepted here, checked against the code at run time.)
      {"logits dtype changed", "float32, float16 or bfloat16", [](pkg::Meta &m) { m.sig.outputs[0].dtype = DType::I32; }},
      {"ids pointing at a cache", "token ids input 3", [](pkg::Meta &m) { m.sig.decoder.inputIds = 3; }},
      {"r 2^62", "1048576", [](pkg::Meta &m) { m.sig.decoder.r = int64_t(1) << 62; }},
      {"negative max positions", "max positions", [](pkg::Meta &m) { m.sig.decoder.maxPositions = -1; }},
      {"kv mode", "kv mode", [](pkg::Meta &m) { m.sig.decoder.kvMode = "paged"; }},
      {"weight format", "unknown weight format", [](pkg::Meta &m) { m.sig.decoder.weights = "int3"; }},
      {"activation format", "unknown activation format", [](pkg::Meta &m) { m.sig.decoder.activations = "int4"; }},
      {"int8 activations, f32 weights", "int8 activations recorded for f32 weights",
       [](pkg::Meta &m) { m.sig.decoder.weights = "f32"; }},
      {"kv type", "unknown KV type", [](pkg::Meta &m) { m.sig.decoder.kvType = "fp8"; }},
      {"kv type empty", "unknown KV type", [](pkg::Meta &m) { m.sig.decoder.kvType = ""; }},
      {"kv type other than the cache inputs'", "expected dtype f16 (KV type f16), found bf16",
       [](pkg::Meta &m) { m.sig.decoder.kvType = "f16"; }},
      // kvType describes concat caches too: bf16 KV slots claimed as concat caches.
      {"bf16 KV slots marked concat", "expected a tensor input (concat caches)",
       [](pkg::Meta &m) { m.sig.decoder.inplaceKV = false; }},
  };
  for (const Case &c : cases) {
    pkg::Meta m = sampleMeta();
    c.edit(m);
    EXPECT_TRUE(refused(m, c.expected)) << c.name;
  }
}

TEST(PackageMeta, SurvivesRandomCorruption) {
  // Whatever the bytes, decoding returns (true or false) without crashing or
  // allocating without bound; run under ASan to see overreads.
  std::vector<uint8_t> good = pkg::encodeMeta(sampleMeta());
  std::mt19937 rng(2024);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bytes = good;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] ^= uint8_t(1u << (rng() % 8));
    pkg::Meta back;
    std::string err;
    if (!pkg::decodeMeta(bytes.data(), bytes.size(), back, err)) {
      ++rejected;
      EXPECT_FALSE(err.empty());
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(PackageHeader, LayoutIsStable) {
  // The on-disk layout: changing it needs a new format version.
  EXPECT_EQ(sizeof(pkg::Header), 128u);
  EXPECT_EQ(offsetof(pkg::Header, formatVersion), 8u);
  EXPECT_EQ(offsetof(pkg::Header, abiVersion), 12u);
  EXPECT_EQ(offsetof(pkg::Header, fileSize), 16u);
  EXPECT_EQ(offsetof(pkg::Header, metaOffset), 24u);
  EXPECT_EQ(offsetof(pkg::Header, checksum), 72u);
  EXPECT_EQ(std::memcmp(pkg::kMagic, "BMCPKG\0\1", 8), 0);
  EXPECT_EQ(offsetof(pkg::Header, cudaOffset), 80u);
  EXPECT_EQ(offsetof(pkg::Header, cudaSize), 88u);
  EXPECT_EQ(offsetof(pkg::Header, cudaChecksum), 96u);
  EXPECT_EQ(pkg::kFormatVersion, 6u); // 2: the weight format; 3: activations, genai length inputs, KV type, assets;
                                      // 4: static-cache length inputs; 5: the CUDA section; 6: device KV rows outermost
}

TEST(PackageCpu, KnowsItsFeatures) {
  EXPECT_FALSE(pkg::cpuHas("no-such-feature"));
  EXPECT_FALSE(pkg::cpuHas(""));
#if defined(__x86_64__)
  // Every x86-64 CPU bmc targets has SSE4.2 (CRC32C uses it).
  EXPECT_TRUE(pkg::cpuHas("sse4.2"));
#endif
}

// A package reproducer under tests/fuzz/regressions holds the format and ABI versions of its day:
// after a bump the loader stops it at the version check and the regression it guards is no longer
// reached, while fuzz.regressions.package_load still passes. This fails instead, naming the file.
TEST(PackageFormat, FuzzRegressionPackagesAreCurrent) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(BMC_SOURCE_DIR) / "tests/fuzz/regressions/package_load";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int seen = 0;
  for (const auto &entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".bmcpkg") continue;
    ++seen;
    std::ifstream in(entry.path(), std::ios::binary);
    pkg::Header h{};
    ASSERT_TRUE(in.read(reinterpret_cast<char *>(&h), sizeof h)) << entry.path() << ": shorter than a header";
    EXPECT_EQ(std::memcmp(h.magic, pkg::kMagic, 8), 0) << entry.path();
    EXPECT_EQ(h.formatVersion, pkg::kFormatVersion)
        << entry.path() << ": written in package format " << h.formatVersion
        << "; remake it in the current format (docs/RELIABILITY.md, fuzzing)";
    EXPECT_EQ(h.abiVersion, uint32_t(BMC_ABI_VERSION))
        << entry.path() << ": written for ABI " << h.abiVersion << "; remake it (docs/RELIABILITY.md, fuzzing)";
  }
  EXPECT_GE(seen, 1) << "no package reproducers in " << dir;
}

} // namespace
} // namespace bmc
