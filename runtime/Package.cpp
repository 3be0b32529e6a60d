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
  // Format 6 changed only the CUDA kernels' KV layout: a format-5 package
  // without a CUDA section has the bytes a format-6 one would, and loads.
  const bool cpuOnly5 = h.formatVersion == pkg::kOldestCpuFormatVersion && h.cudaOffset == 0 && h.cudaSize == 0;
  if (h.formatVersion == pkg::kOldestCpuFormatVersion && !cpuOnly5)
    return fail("package format version " + std::to_string(h.formatVersion) + " with a CUDA section (its kernels "
                "use the old device KV layout), expected " + std::to_string(pkg::kFormatVersion) +
                ": recompile it with this bmc");
  if (h.formatVersion != pkg::kFormatVersion && !cpuOnly5)
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
