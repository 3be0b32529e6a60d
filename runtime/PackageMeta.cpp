//===- PackageMeta.cpp - the .bmcpkg metadata section's codec -------------===//
//
// encodeMeta / decodeMeta (bmc/abi/package.h): the metadata section, written
// by compiler/PackageWriter.cpp and read by Model::load (runtime/Package.cpp,
// from which this was split unchanged).
//
//===----------------------------------------------------------------------===//

#include "bmc/abi/package.h"
#include "bmc/abi/limits.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace bmc {
namespace pkg {

//===----------------------------------------------------------------------===//
// Metadata encoding: length-prefixed fields, every read bounds-checked.
//===----------------------------------------------------------------------===//

namespace {
struct Writer {
  std::vector<uint8_t> out;
  void u64(uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void str(const std::string &s) { u64(s.size()); out.insert(out.end(), s.begin(), s.end()); }
  void f32(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    u64(b);
  }
  void info(const TensorInfo &t) {
    str(t.name);
    i64(int64_t(t.dtype));
    u64(t.shape.size());
    for (int64_t d : t.shape) i64(d);
    u64(t.dimNames.size());
    for (const auto &n : t.dimNames) str(n);
    i64(t.kvSlot);
  }
};
struct Reader {
  const uint8_t *p, *end;
  bool ok = true;
  std::string why; // the first specific failure, if any
  void fail(const std::string &m) {
    if (ok) why = m;
    ok = false;
  }
  uint64_t u64() {
    if (end - p < 8) { ok = false; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    p += 8;
    return v;
  }
  int64_t i64() { return int64_t(u64()); }
  /// A float stored as its bits in a u64, checked finite and in [lo, hi].
  float f32(double lo, double hi, const std::string &what) {
    uint64_t v = u64();
    if (ok && v > 0xffffffffu) fail(what + ": not a 32-bit float");
    uint32_t b = uint32_t(v);
    float f;
    std::memcpy(&f, &b, 4);
    if (ok && !(std::isfinite(f) && f >= lo && f <= hi))
      fail(what + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return ok ? f : float(lo);
  }
  uint64_t count(uint64_t max = 1 << 20) {
    uint64_t n = u64();
    if (n > max) ok = false;
    return ok ? n : 0;
  }
  /// An int64 field checked against [lo, hi] as read, before any narrowing
  /// (2^32 must not pass as 0).
  int64_t ranged(int64_t lo, int64_t hi, const std::string &what) {
    int64_t v = i64();
    if (ok && (v < lo || v > hi))
      fail(what + " " + std::to_string(v) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return ok ? v : lo;
  }
  /// An index into a list of n entries, or -1.
  int index(size_t n, const std::string &what) { return int(ranged(-1, int64_t(n) - 1, what)); }
  std::string str() {
    uint64_t n = u64(); // bounded by what is left after the length field (ASan/TSan found an 8-byte overread)
    if (n > uint64_t(end - p)) ok = false;
    if (!ok) return {};
    std::string s(reinterpret_cast<const char *>(p), n);
    p += n;
    return s;
  }
  TensorInfo info(const std::string &where) {
    TensorInfo t;
    t.name = str();
    int64_t dt = i64();
    if (ok && !validDType(dt)) fail(where + " dtype " + std::to_string(dt) + " is not a known dtype");
    t.dtype = ok ? DType(dt) : DType::F32;
    for (uint64_t n = count(64), i = 0; i < n; ++i)
      t.shape.push_back(ranged(-1, std::numeric_limits<int64_t>::max(), where + " dimension"));
    uint64_t names = count(64);
    if (ok && names != 0 && names != t.shape.size())
      fail(where + " has " + std::to_string(names) + " dimension names for rank " + std::to_string(t.shape.size()));
    for (uint64_t i = 0; i < names; ++i) t.dimNames.push_back(str());
    t.kvSlot = int(ranged(-1, 1 << 16, where + " KV slot"));
    return t;
  }
  static bool validDType(int64_t v) {
    switch (v) {
    case int64_t(DType::F32): case int64_t(DType::U8): case int64_t(DType::I8): case int64_t(DType::U16):
    case int64_t(DType::I16): case int64_t(DType::I32): case int64_t(DType::I64): case int64_t(DType::Bool):
    case int64_t(DType::F16): case int64_t(DType::F64): case int64_t(DType::U32): case int64_t(DType::U64):
    case int64_t(DType::BF16):
      return true;
    default:
      return false;
    }
  }
};
} // namespace

std::vector<uint8_t> encodeMeta(const Meta &m) {
  Writer w;
  w.str(m.producer);
  w.str(m.source);
  w.str(m.targetCpu);
  w.u64(m.cpuFeatures.size());
  for (const auto &f : m.cpuFeatures) w.str(f);
  w.u64(m.sig.inputs.size());
  for (const auto &t : m.sig.inputs) w.info(t);
  w.u64(m.sig.outputs.size());
  for (const auto &t : m.sig.outputs) w.info(t);
  const DecoderInfo &d = m.sig.decoder;
  w.i64(d.valid);
  w.i64(d.inputIds); w.i64(d.attentionMask); w.i64(d.positionIds); w.i64(d.logits);
  w.u64(d.caches.size());
  for (const auto &c : d.caches) { w.i64(c.pastInput); w.i64(c.presentOutput); w.i64(c.heads); w.i64(c.headDim); }
  w.i64(d.vocab); w.i64(d.maxPositions); w.i64(d.inplaceKV);
  w.str(d.kvMode); w.i64(d.r); w.str(d.kvPadding);
  w.u64(d.kvStatus.size());
  for (const auto &k : d.kvStatus) w.str(k);
  w.i64(d.weightBytesPerToken);
  w.str(d.weights);
  w.i64(d.seqlensK); w.i64(d.totalSequenceLength);
  w.str(d.kvType);
  w.str(d.activations);
  w.i64(d.writeIndices); w.i64(d.nonpadKvSeqlen);
  w.i64(m.hasAssets);
  if (m.hasAssets) {
    const GenerationDefaults &g = m.assets.generation;
    w.u64(g.eosTokenIds.size());
    for (int64_t id : g.eosTokenIds) w.i64(id);
    w.i64(g.bosTokenId); w.i64(g.contextLength); w.i64(g.doSample);
    w.f32(g.temperature); w.i64(g.topK); w.f32(g.topP);
    w.str(m.assets.tokenizerFile);
    w.str(m.assets.tokenizerData);
    w.i64(m.assets.addBosToken); w.i64(m.assets.addEosToken);
  }
  return w.out;
}

bool decodeMeta(const uint8_t *data, size_t size, Meta &m, std::string &error) {
  Reader r{data, data + size};
  m.producer = r.str();
  m.source = r.str();
  m.targetCpu = r.str();
  for (uint64_t n = r.count(256), i = 0; i < n; ++i) m.cpuFeatures.push_back(r.str());
  for (uint64_t n = r.count(1 << 16), i = 0; i < n; ++i) m.sig.inputs.push_back(r.info("input " + std::to_string(i)));
  for (uint64_t n = r.count(1 << 16), i = 0; i < n; ++i) m.sig.outputs.push_back(r.info("output " + std::to_string(i)));
  size_t nIn = m.sig.inputs.size(), nOut = m.sig.outputs.size();
  DecoderInfo &d = m.sig.decoder;
  d.valid = r.ranged(0, 1, "decoder valid flag");
  d.inputIds = r.index(nIn, "decoder indices out of range: token ids input");
  d.attentionMask = r.index(nIn, "decoder indices out of range: attention mask input");
  d.positionIds = r.index(nIn, "decoder indices out of range: position ids input");
  d.logits = r.index(nOut, "decoder indices out of range: logits output");
  for (uint64_t n = r.count(1 << 16), i = 0; i < n; ++i) {
    DecoderInfo::KV c;
    std::string k = "KV indices out of range: cache " + std::to_string(i);
    c.pastInput = r.index(nIn, k + " past input");
    c.presentOutput = r.index(nOut, k + " present output");
    c.heads = r.i64(); c.headDim = r.i64(); // checked below with the rest of the interface
    d.caches.push_back(c);
  }
  d.vocab = r.i64(); d.maxPositions = r.i64(); d.inplaceKV = r.ranged(0, 1, "in-place KV flag");
  d.kvMode = r.str(); d.r = r.i64(); d.kvPadding = r.str();
  for (uint64_t n = r.count(1 << 16), i = 0; i < n; ++i) d.kvStatus.push_back(r.str());
  d.weightBytesPerToken = r.i64();
  d.weights = r.str();
  d.seqlensK = r.index(nIn, "decoder indices out of range: seqlens_k input");
  d.totalSequenceLength = r.index(nIn, "decoder indices out of range: total_sequence_length input");
  if (r.ok && d.weights != "f32" && d.weights != "int8" && d.weights != "int4" && d.weights != "bf16" &&
      d.weights != "f16")
    r.fail("unknown weight format (expected f32, int8, int4, bf16 or f16)");
  d.kvType = r.str();
  if (r.ok && d.kvType != "f32" && d.kvType != "bf16" && d.kvType != "f16")
    r.fail("unknown KV type (expected f32, bf16 or f16)");
  d.activations = r.str();
  if (r.ok && d.activations != "f32" && d.activations != "int8")
    r.fail("unknown activation format (expected f32 or int8)");
  if (r.ok && d.activations == "int8" && d.weights != "int8" && d.weights != "int4")
    r.fail("int8 activations recorded for f32 weights (only quantized matmuls have them)");
  d.writeIndices = r.index(nIn, "decoder indices out of range: write_indices input");
  d.nonpadKvSeqlen = r.index(nIn, "decoder indices out of range: nonpad_kv_seqlen input");
  m.hasAssets = r.ranged(0, 1, "assets flag");
  if (m.hasAssets) {
    GenerationDefaults &g = m.assets.generation;
    for (uint64_t n = r.count(1024), i = 0; i < n; ++i)
      g.eosTokenIds.push_back(r.ranged(0, int64_t(1) << 31, "generation defaults: eos token id"));
    g.bosTokenId = r.ranged(-1, int64_t(1) << 31, "generation defaults: bos token id");
    g.contextLength = r.ranged(0, limits::kMaxContext, "generation defaults: context length");
    g.doSample = r.ranged(0, 1, "generation defaults: do_sample flag");
    g.temperature = r.f32(0.0, 1e6, "generation defaults: temperature");
    g.topK = r.ranged(0, int64_t(1) << 31, "generation defaults: top_k");
    g.topP = r.f32(0.0, 1.0, "generation defaults: top_p");
    m.assets.tokenizerFile = r.str();
    m.assets.tokenizerData = r.str();
    m.assets.addBosToken = int(r.ranged(-1, 1, "tokenizer add_bos_token"));
    m.assets.addEosToken = int(r.ranged(-1, 1, "tokenizer add_eos_token"));
    const std::string &tf = m.assets.tokenizerFile;
    if (r.ok && tf != "" && tf != "tokenizer.json" && tf != "tokenizer.model")
      r.fail("embedded tokenizer kind '" + tf.substr(0, 64) + "' (expected tokenizer.json, tokenizer.model or none)");
    if (r.ok && tf.empty() != m.assets.tokenizerData.empty())
      r.fail(tf.empty() ? "embedded tokenizer bytes without a tokenizer kind" : "embedded " + tf + " is empty");
  }
  if (!r.ok || r.p != r.end) {
    error = "corrupted metadata section" + (r.why.empty() ? std::string() : " (" + r.why + ")");
    return false;
  }
  // A KV slot is the input's own index (generated code reads io[i] as a
  // bmc_kv_ref exactly there); outputs have none.
  for (size_t i = 0; i < nIn; ++i)
    if (m.sig.inputs[i].kvSlot != -1 && m.sig.inputs[i].kvSlot != int(i)) {
      error = "inconsistent metadata: input " + std::to_string(i) + " has KV slot " +
              std::to_string(m.sig.inputs[i].kvSlot) + " (expected -1 or its own index)";
      return false;
    }
  for (size_t i = 0; i < nOut; ++i)
    if (m.sig.outputs[i].kvSlot != -1) {
      error = "inconsistent metadata: output " + std::to_string(i) + " has a KV slot";
      return false;
    }
  if (Status s = limits::checkDecoderInterface(m.sig); !s.ok()) {
    error = "inconsistent metadata: " + s.message();
    return false;
  }
  if (m.hasAssets && d.valid)
    for (int64_t id : m.assets.generation.eosTokenIds)
      if (id >= d.vocab) {
        error = "inconsistent metadata: generation defaults: eos token id " + std::to_string(id) +
                " is outside the vocabulary of " + std::to_string(d.vocab);
        return false;
      }
  return true;
}

} // namespace pkg
} // namespace bmc
