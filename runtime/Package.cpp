//===- Package.cpp - loading .bmcpkg files ---------------------------------===//

#include "bmc/abi/package.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/limits.h"
#include "bmc/abi/open_file.h"
#include "runtime/CudaPackage.h"

#include <algorithm>
#include <array>
#include <thread>
#include <vector>
#include <cmath>
#include <cerrno>
#include <limits>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bmc {
namespace pkg {

//===----------------------------------------------------------------------===//
// CRC32C
//===----------------------------------------------------------------------===//

static uint32_t crcTable[8][256];
static bool crcInit = [] {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crcTable[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int t = 1; t < 8; ++t) crcTable[t][i] = (crcTable[t - 1][i] >> 8) ^ crcTable[0][crcTable[t - 1][i] & 0xff];
  return true;
}();

/// a(x) * b(x) modulo the polynomial, both reflected (bit 31 is x^0): the
/// carry-less product that moves a CRC register past bytes it did not see.
static uint32_t mulModP(uint32_t a, uint32_t b) {
  uint32_t p = 0;
  for (uint32_t m = 1u << 31; m; m >>= 1) {
    if (a & m) p ^= b;
    b = b & 1 ? (b >> 1) ^ 0x82F63B78u : b >> 1;
  }
  return p;
}

/// x^(8n) modulo the polynomial: the shift of a register past n zero bytes.
static uint32_t shiftBytes(uint64_t n) {
  static const auto table = [] { // x^(2^k) for k = 3.. (x^8, x^16, x^32, ...)
    std::array<uint32_t, 64> t{};
    uint32_t p = 1u << 30; // x^1
    for (int k = 0; k < 3; ++k) p = mulModP(p, p);
    for (uint32_t &e : t) {
      e = p;
      p = mulModP(p, p);
    }
    return t;
  }();
  uint32_t p = 1u << 31; // x^0
  for (size_t k = 0; n; n >>= 1, ++k)
    if (n & 1) p = mulModP(table[k], p);
  return p;
}

uint32_t crc32cCombine(uint32_t crcA, uint32_t crcB, uint64_t lenB) {
  return mulModP(shiftBytes(lenB), crcA) ^ crcB;
}

__attribute__((target("sse4.2"))) static uint64_t crcHw8(uint64_t c, const uint8_t *p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  uint32_t c32 = uint32_t(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

/// The register (no pre/post inversion) after `p`. The crc32 instruction
/// has a latency of 3 cycles and a throughput of 1: three streams over
/// adjacent blocks keep it busy (3x one stream), and their registers are
/// joined by shifting (CRC is linear: reg(c, A B) = reg(c, A) x^(8|B|) ^ reg(0, B)).
__attribute__((target("sse4.2"))) static uint32_t crcHw(uint32_t crc, const uint8_t *p, size_t n) {
  constexpr size_t kBlock = 8192;
  static const uint32_t shift1 = shiftBytes(kBlock), shift2 = shiftBytes(2 * kBlock);
  uint64_t c = crc;
  for (; n >= 3 * kBlock; p += 3 * kBlock, n -= 3 * kBlock) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      uint64_t va, vb, vd;
      std::memcpy(&va, p + i, 8);
      std::memcpy(&vb, p + kBlock + i, 8);
      std::memcpy(&vd, p + 2 * kBlock + i, 8);
      a = __builtin_ia32_crc32di(a, va);
      b = __builtin_ia32_crc32di(b, vb);
      d = __builtin_ia32_crc32di(d, vd);
    }
    c = mulModP(shift2, uint32_t(a)) ^ mulModP(shift1, uint32_t(b)) ^ uint32_t(d);
  }
  return uint32_t(crcHw8(c, p, n));
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  crc = ~crc;
  if (__builtin_cpu_supports("sse4.2")) return ~crcHw(crc, p, n);
  (void)crcInit;
  while (n--) crc = (crc >> 8) ^ crcTable[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

uint32_t crc32cParallel(uint32_t crc, const void *data, size_t n, int threads, bool populate) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  constexpr size_t kMinPart = size_t(32) << 20; // below this, a thread costs more than it saves
  const size_t parts = std::max<size_t>(1, std::min<size_t>(size_t(std::max(threads, 1)), n / kMinPart));
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<uint32_t> crcs(parts);
  std::vector<size_t> begin(parts + 1);
  for (size_t i = 0; i <= parts; ++i) begin[i] = i == parts ? n : n / parts * i;
  auto one = [&](size_t i) {
    const size_t len = begin[i + 1] - begin[i];
    if (populate) { // this part's pages mapped by its own thread (best effort: faults do it otherwise)
      const uintptr_t a = reinterpret_cast<uintptr_t>(p + begin[i]) & ~uintptr_t(page - 1);
      (void)madvise(reinterpret_cast<void *>(a), reinterpret_cast<uintptr_t>(p + begin[i]) + len - a, MADV_POPULATE_READ);
    }
    crcs[i] = crc32c(i == 0 ? crc : 0, p + begin[i], len);
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < parts; ++i) pool.emplace_back(one, i);
  one(0);
  for (std::thread &t : pool) t.join();
  // Part 0 carries the incoming crc; each further part is appended.
  uint32_t c = crcs[0];
  for (size_t i = 1; i < parts; ++i) c = crc32cCombine(c, crcs[i], begin[i + 1] - begin[i]);
  return c;
}

bool cpuHas(const std::string &f) {
  __builtin_cpu_init();
  if (f == "avx2") return __builtin_cpu_supports("avx2");
  if (f == "fma") return __builtin_cpu_supports("fma");
  if (f == "avx") return __builtin_cpu_supports("avx");
  if (f == "f16c") return __builtin_cpu_supports("f16c");
  if (f == "avx512f") return __builtin_cpu_supports("avx512f");
  if (f == "sse4.2") return __builtin_cpu_supports("sse4.2");
  if (f == "bmi2") return __builtin_cpu_supports("bmi2");
  return false;
}

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

//===----------------------------------------------------------------------===//
// Model::load
//===----------------------------------------------------------------------===//

namespace {

class DlopenImage : public CodeImage {
public:
  void *handle = nullptr;
  void *fn = nullptr;
  int fd = -1; // kept open: dlopen caches by path, and /proc/self/fd/N is reused once N closes
  std::string cpu;
  ~DlopenImage() override {
    if (handle) dlclose(handle);
    if (fd >= 0) ::close(fd);
  }
  void *entry() const override { return fn; }
  std::string describe() const override { return "package code for " + cpu; }
};

#ifdef BMC_FUZZ_PACKAGE_LOADER
// Stands in for the package code in fuzz builds: every run fails with a message.
int32_t fuzzEntry(bmc_exec_ctx *ctx, void **) { bmc_rt_fail(ctx, "fuzz build: package code is not loaded", 0, 0); }
class FuzzCodeImage : public CodeImage {
public:
  void *entry() const override { return reinterpret_cast<void *>(&fuzzEntry); }
  std::string describe() const override { return "fuzz build: no code"; }
};
#endif

struct Mapping {
  void *addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) munmap(addr, size);
  }
};

} // namespace

namespace {

/// loadCudaPackageOn's device and module image (the test seam); null in Model::load.
struct CudaSeam {
  std::unique_ptr<device::Device> device;
  const device::ModuleImage *image = nullptr;
};

Result<std::shared_ptr<Model>> loadPackage(const std::string &path, const LoadOptions &opts, CudaSeam *seam) try {
  auto fail = [&](const std::string &why) { return Status::error(path + ": " + why); };
  if (Status s = limits::checkThreads(opts.threads, "threads"); !s.ok()) return fail(s.message());
  if (opts.device != Target::Cpu && opts.device != Target::Cuda)
    return fail("LoadOptions: device: expected Target::Cpu or Cuda, found " + std::to_string(int(opts.device)));
  size_t size = 0;
  std::string openError;
  int fd = openRegularFile(path, size, openError); // FIFOs and devices refused without blocking
  if (fd < 0) return fail(openError);
  if (size < pkg::kHeaderSize) {
    ::close(fd);
    return fail("not a bmc package: " + std::to_string(size) + " bytes is shorter than the header (truncated?)");
  }
  auto map = std::make_shared<Mapping>();
  // Not populated here: the checksum below reads every page anyway, and its
  // threads each populate their part (MADV_POPULATE_READ) before reading it,
  // which beat faulting them in (warm load of a 0.7 GB package 119-203 ->
  // 99-136 ms with MAP_POPULATE, preliminary, loaded machine) and spreads
  // the page-table work over the threads.
  map->addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->addr == MAP_FAILED) {
    map->addr = nullptr;
    return fail(std::string("cannot map: ") + std::strerror(errno));
  }
  map->size = size;
  const uint8_t *base = static_cast<const uint8_t *>(map->addr);
  pkg::Header h;
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, pkg::kMagic, 8) != 0) return fail("not a bmc package (bad magic)");
  if (h.formatVersion != pkg::kFormatVersion)
    return fail("package format version " + std::to_string(h.formatVersion) + ", expected " +
                std::to_string(pkg::kFormatVersion) + ": recompile it with this bmc");
  if (h.abiVersion != BMC_ABI_VERSION)
    return fail("package ABI version " + std::to_string(h.abiVersion) + ", expected " + std::to_string(BMC_ABI_VERSION) +
                ": recompile it with this bmc");
  if (h.fileSize != size)
    return fail("expected " + std::to_string(h.fileSize) + " bytes, found " + std::to_string(size) + " (truncated or appended to)");
  // Overflow-safe: off <= size first, then n against what is left.
  auto within = [&](uint64_t off, uint64_t n) { return off >= pkg::kHeaderSize && off <= size && n <= size - off; };
  if (!within(h.metaOffset, h.metaSize) || !within(h.codeOffset, h.codeSize) || !within(h.weightsOffset, h.weightsSize) ||
      h.weightsOffset % pkg::kWeightsAlign)
    return fail("corrupted header (section out of range)");
  // The CUDA section, if any (all three fields zero without one), sits
  // between the code and the weights.
  const bool hasCuda = h.cudaSize != 0;
  if (!hasCuda && (h.cudaOffset != 0 || h.cudaChecksum != 0))
    return fail("corrupted header (an empty CUDA section with an offset or a checksum)");
  if (hasCuda && !within(h.cudaOffset, h.cudaSize))
    return fail("corrupted header (CUDA section out of range: offset " + std::to_string(h.cudaOffset) + ", " +
                std::to_string(h.cudaSize) + " bytes in a file of " + std::to_string(size) + ")");
  // The sections in the documented order, not overlapping (sums cannot
  // overflow: each is at most the file size).
  if (h.metaOffset + h.metaSize > h.codeOffset || h.codeOffset + h.codeSize > h.weightsOffset ||
      (hasCuda && (h.codeOffset + h.codeSize > h.cudaOffset || h.cudaOffset + h.cudaSize > h.weightsOffset)))
    return fail("corrupted header (sections overlap or are out of order)");
  if (h.reserved0 != 0 || h.reserved1 != 0 ||
      std::any_of(std::begin(h.reserved), std::end(h.reserved), [](uint8_t b) { return b != 0; }))
    return fail("corrupted header (reserved bytes are not zero)");
#ifndef BMC_FUZZ_PACKAGE_LOADER
  // Its own checksum first, so that damage there is named as such.
  if (hasCuda && pkg::crc32c(0, base + h.cudaOffset, h.cudaSize) != h.cudaChecksum)
    return fail("CUDA section: checksum mismatch: the section is corrupted");
#endif
  pkg::Header zeroed = h;
  zeroed.checksum = 0;
  uint32_t crc = pkg::crc32c(0, &zeroed, sizeof zeroed);
  // The whole file, in parts on threads whose CRCs are joined (the same
  // CRC32C as one pass): a warm load is bound by this read.
  const int crcThreads = opts.threads > 0 ? opts.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  crc = pkg::crc32cParallel(crc, base + sizeof zeroed, size - sizeof zeroed, crcThreads, /*populate=*/true);
#ifndef BMC_FUZZ_PACKAGE_LOADER
  if (crc != h.checksum) return fail("checksum mismatch: the package is corrupted");
#else
  (void)crc; // fuzz builds only (tests/fuzz): mutated metadata must reach decodeMeta
#endif
  pkg::Meta meta;
  std::string err;
  if (!pkg::decodeMeta(base + h.metaOffset, h.metaSize, meta, err)) return fail(err);
#ifndef BMC_FUZZ_PACKAGE_LOADER // fuzz builds never load code: their seeds have it cut out (tests/fuzz/make_seeds.py)
  if (h.codeSize == 0 && !hasCuda) return fail("corrupted header (no code for any target: the code section is empty)");
#endif
  CudaPackageParts cuda;
  if (hasCuda && !pkg::decodeCudaSection(base + h.cudaOffset, h.cudaSize, h.weightsSize, cuda.section, err))
    return fail(err);
  if (opts.device == Target::Cuda) {
    if (!hasCuda)
      return fail("device cuda: the package has no CUDA section (compiled for the CPU); recompile it with "
                  "bmc-compile --target cuda");
    cuda.signature = meta.sig;
    cuda.weights = std::shared_ptr<const uint8_t>(map, base + h.weightsOffset);
    cuda.weightBytes = h.weightsSize;
    cuda.options = opts;
    auto model = !seam ? loadCudaPackage(std::move(cuda))
                 : seam->image ? startDeviceGeneration(std::move(seam->device), std::move(cuda), *seam->image,
                                                       "the given module image")
                               : startDeviceGeneration(std::move(seam->device), std::move(cuda));
    if (!model) return fail(model.status().message());
    if (meta.hasAssets) { // the tokenizer and generation defaults, as a CPU model's
      meta.assets.origin = path;
      model.value()->setAssets(std::make_shared<ModelAssets>(std::move(meta.assets)));
    }
    return model;
  }
#ifndef BMC_FUZZ_PACKAGE_LOADER
  if (h.codeSize == 0)
    return fail("device cpu: the package has no CPU code, only a CUDA section (compiled with --target cuda); load "
                "it with device cuda (bmc-run --device cuda), or recompile it with --target cpu");
#endif
  for (const std::string &f : meta.cpuFeatures)
    if (!pkg::cpuHas(f))
      return fail("compiled for a CPU with " + f + " (" + meta.targetCpu + "); this CPU lacks it: recompile here");

#ifdef BMC_FUZZ_PACKAGE_LOADER
  // Fuzz builds only: the code section is native code, trusted once the checksum
  // matches; handing mutated ELF bytes to dlopen would fuzz glibc's loader, not
  // bmc. What follows the metadata (sessions, KV sizing) still runs.
  std::shared_ptr<const uint8_t> fuzzWeights(map, base + h.weightsOffset);
  return Model::fromParts(std::make_shared<FuzzCodeImage>(), fuzzWeights, h.weightsSize, meta.sig, opts);
#endif
  // The code image: an in-memory file, dlopen'ed without touching the disk.
  int mfd = memfd_create("bmc-package-code", MFD_CLOEXEC);
  if (mfd < 0) return fail(std::string("memfd_create: ") + std::strerror(errno));
  const uint8_t *code = base + h.codeOffset;
  size_t left = h.codeSize;
  while (left) {
    ssize_t w = ::write(mfd, code, left);
    if (w <= 0) {
      ::close(mfd);
      return fail(std::string("writing the code image: ") + std::strerror(errno));
    }
    code += w;
    left -= size_t(w);
  }
  std::string fdPath = "/proc/self/fd/" + std::to_string(mfd);
  void *handle = dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    ::close(mfd);
    return fail(std::string("cannot load the code image: ") + dlerror());
  }
  auto img = std::make_shared<DlopenImage>();
  img->handle = handle;
  img->fd = mfd;
  img->cpu = meta.targetCpu;
  img->fn = dlsym(handle, "bmc_main");
  if (!img->fn) return fail("the code image has no bmc_main");
  // The code reads the blob at offsets fixed when it was compiled: the
  // weights section must be exactly the blob it was compiled for.
  auto *wantWeights = static_cast<const int64_t *>(dlsym(handle, BMC_WEIGHTS_BYTES_SYMBOL));
  if (!wantWeights) return fail("the code image has no " BMC_WEIGHTS_BYTES_SYMBOL);
  if (*wantWeights < 0 || uint64_t(*wantWeights) != h.weightsSize)
    return fail("weights section of " + std::to_string(h.weightsSize) + " bytes, but the code was compiled for " +
                std::to_string(*wantWeights) + " bytes");
  auto *codeKV = static_cast<const int64_t *>(dlsym(handle, BMC_KV_TYPE_SYMBOL));
  if (!codeKV) return fail("the code image has no " BMC_KV_TYPE_SYMBOL);
  const char *kvNames[] = {"f32", "bf16", "f16"};
  if (*codeKV < 0 || *codeKV > 2 || meta.sig.decoder.kvType != kvNames[*codeKV])
    return fail("the metadata says KV type " + meta.sig.decoder.kvType + ", but the code was compiled for " +
                (*codeKV >= 0 && *codeKV <= 2 ? std::string(kvNames[*codeKV]) : std::to_string(*codeKV)));
  std::shared_ptr<const uint8_t> weights(map, base + h.weightsOffset);
  std::shared_ptr<Model> model = Model::fromParts(img, weights, h.weightsSize, meta.sig, opts);
  if (meta.hasAssets) {
    meta.assets.origin = path;
    model->setAssets(std::make_shared<ModelAssets>(std::move(meta.assets)));
  }
  return model;
} catch (const std::exception &e) {
  return limits::statusFromException(path, e);
}

} // namespace

Result<std::shared_ptr<Model>> Model::load(const std::string &path, const LoadOptions &opts) {
  return loadPackage(path, opts, nullptr);
}

Result<std::shared_ptr<Model>> loadCudaPackageOn(const std::string &path, const LoadOptions &opts,
                                                 std::unique_ptr<device::Device> device,
                                                 const device::ModuleImage *image) {
  if (!device) return Status::error(path + ": loadCudaPackageOn: no device");
  LoadOptions o = opts;
  o.device = Target::Cuda;
  CudaSeam seam{std::move(device), image};
  return loadPackage(path, o, &seam);
}

} // namespace bmc
