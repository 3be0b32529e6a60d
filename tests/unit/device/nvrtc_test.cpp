// NVRTC: every CUDA kernel of runtime/device/cuda compiles to cubin for sm_80
// and sm_90 within the spill budget (read from ptxas's -v report); the cache
// (hits without calling NVRTC, corrupt / truncated / mismatching entries
// recompiled and rewritten, an unwritable directory still compiles); the
// JIT's use of it (cudaJitImage: its remarks, NVRTC missing) and where it
// lives (cudaJitCacheDir); compile errors as one line. Skips only when libnvrtc is absent and the build
// was configured without CUDA (BMC_CUDA_CONFIGURED=0).
#include "runtime/CudaJit.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/Nvrtc.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sys/stat.h>

using namespace bmc::device;

namespace {

#define NVRTC_OR_SKIP(var)                                                                         \
  auto var##_loaded = Nvrtc::load();                                                              \
  if (!var##_loaded) {                                                                             \
    if (BMC_CUDA_CONFIGURED)                                                                       \
      FAIL() << "configured with CUDA but " << var##_loaded.status().message();                   \
    GTEST_SKIP() << var##_loaded.status().message() << " (and built without CUDA)";               \
  }                                                                                                \
  const Nvrtc &var = *var##_loaded.value();

const char *kSmallKernel = R"(
extern "C" __global__ void bmc_scale(float *x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}
)";

// kSmallKernel for `arch`, cached in `cacheDir` (empty: not cached).
NvrtcRequest smallKernel(const char *arch, const std::string &cacheDir = "") {
  NvrtcRequest req;
  req.source = kSmallKernel;
  req.arch = arch;
  req.cacheDir = cacheDir;
  return req;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeAll(const std::string &path, const std::string &data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), std::streamsize(data.size()));
}

std::string makeTempDir() {
  char tmpl[] = "/tmp/bmc_nvrtc_cache_XXXXXX";
  const char *dir = mkdtemp(tmpl);
  return dir ? dir : "";
}

} // namespace

TEST(Nvrtc, EveryKernelCompilesForSm80AndSm90WithoutSpills) {
  NVRTC_OR_SKIP(nvrtc);
  std::cout << "NVRTC " << nvrtc.versionMajor() << "." << nvrtc.versionMinor() << " from "
            << nvrtc.libraryPath() << "\n";
  for (const char *arch : {"sm_80", "sm_90"}) {
    for (const CudaKernelFamily &family : cudaKernelFamilies()) {
      NvrtcRequest req;
      req.source = family.source;
      req.name = family.name + ".cu";
      req.arch = arch;
      auto out = nvrtc.compile(req);
      ASSERT_TRUE(out) << out.status().message();
      ASSERT_GE(out->cubin.size(), 4u);
      EXPECT_EQ(out->cubin.compare(0, 4, "\x7f" "ELF"), 0) << family.name << ": not an ELF cubin";
      std::set<std::string> reported;
      for (const PtxasInfo &k : out->kernels) {
        reported.insert(k.function);
        EXPECT_EQ(k.arch, arch);
        std::cout << "  " << arch << " " << k.function << ": " << k.registers << " registers, "
                  << k.stackFrameBytes << " B stack, " << k.spillStoreBytes << "+"
                  << k.spillLoadBytes << " B spills, " << k.sharedBytes << " B smem\n";
        EXPECT_LE(k.spillStoreBytes + k.spillLoadBytes, kCudaSpillBudgetBytes)
            << k.function << " for " << arch << " spills";
        EXPECT_LE(k.registers, 255);
      }
      for (const std::string &name : family.kernels) {
        EXPECT_TRUE(reported.count(name)) << name << " missing from ptxas's report for " << arch
                                          << ":\n" << out->log;
        EXPECT_NE(out->ptx.find(".entry " + name), std::string::npos) << name << " not in the PTX";
      }
      EXPECT_EQ(reported.size(), family.kernels.size())
          << family.name << ": ptxas reports entry points the library does not list";
    }
  }
}

TEST(Nvrtc, ComputeArchGivesPtxOnly) {
  NVRTC_OR_SKIP(nvrtc);
  NvrtcRequest req = smallKernel("compute_80");
  auto out = nvrtc.compile(req);
  ASSERT_TRUE(out) << out.status().message();
  EXPECT_TRUE(out->cubin.empty());
  EXPECT_NE(out->ptx.find(".target sm_80"), std::string::npos) << out->ptx.substr(0, 400);
  EXPECT_NE(out->ptx.find(".entry bmc_scale"), std::string::npos);
}

TEST(Nvrtc, CacheHitsOnTheSameInputsOnly) {
  NVRTC_OR_SKIP(nvrtc);
  std::string dir = makeTempDir();
  ASSERT_FALSE(dir.empty());
  NvrtcRequest req = smallKernel("sm_80", dir + "/cache"); // created on first use
  auto first = nvrtc.compile(req);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_FALSE(first->fromCache);
  auto second = nvrtc.compile(req);
  ASSERT_TRUE(second) << second.status().message();
  EXPECT_TRUE(second->fromCache);
  EXPECT_EQ(second->cubin, first->cubin);
  EXPECT_EQ(second->ptx, first->ptx);
  ASSERT_EQ(second->kernels.size(), 1u);
  EXPECT_EQ(second->kernels[0].registers, first->kernels[0].registers);

  // Another arch, another option, another source: other keys.
  std::string key = nvrtcCacheKey(nvrtc.versionMajor(), nvrtc.versionMinor(), req);
  NvrtcRequest other = req;
  other.arch = "sm_90";
  EXPECT_NE(nvrtcCacheKey(nvrtc.versionMajor(), nvrtc.versionMinor(), other), key);
  auto third = nvrtc.compile(other);
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->fromCache);
  other = req;
  other.options.push_back("-DBMC_UNUSED=1");
  EXPECT_NE(nvrtcCacheKey(nvrtc.versionMajor(), nvrtc.versionMinor(), other), key);
  other = req;
  other.source += "\n";
  EXPECT_NE(nvrtcCacheKey(nvrtc.versionMajor(), nvrtc.versionMinor(), other), key);

  // A truncated entry is noticed, recompiled and rewritten.
  std::string path = req.cacheDir + "/" + key + ".sm_80.bmcnvrtc";
  ASSERT_EQ(truncate(path.c_str(), 20), 0) << path;
  auto fourth = nvrtc.compile(req);
  ASSERT_TRUE(fourth) << fourth.status().message();
  EXPECT_FALSE(fourth->fromCache);
  EXPECT_NE(fourth->cacheNote.find("truncated"), std::string::npos) << fourth->cacheNote;
  EXPECT_EQ(fourth->cubin, first->cubin);
  auto fifth = nvrtc.compile(req);
  ASSERT_TRUE(fifth);
  EXPECT_TRUE(fifth->fromCache);
  std::system(("rm -rf '" + dir + "'").c_str());
}

// Each damaged entry is noticed (the note says how), compiled again (NVRTC
// called: the counter moves) and rewritten (the next call hits, the file is
// the first one's again). Another arch or source is another entry; a
// directory that cannot be made is a note, and the compile still succeeds.
TEST(Nvrtc, CacheEntriesAreCheckedAndRewritten) {
  NVRTC_OR_SKIP(nvrtc);
  std::string dir = makeTempDir();
  ASSERT_FALSE(dir.empty());
  NvrtcRequest req = smallKernel("sm_80", dir + "/a/b/cache"); // parents made too
  const uint64_t before = Nvrtc::compilations();
  auto first = nvrtc.compile(req);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_FALSE(first->fromCache);
  EXPECT_EQ(Nvrtc::compilations(), before + 1);
  const std::string path = req.cacheDir + "/" + nvrtcCacheKey(nvrtc.versionMajor(), nvrtc.versionMinor(), req) +
                           ".sm_80.bmcnvrtc";
  EXPECT_EQ(first->cachePath, path);
  EXPECT_TRUE(first->cacheNote.empty()) << first->cacheNote;
  const std::string good = readAll(path);
  ASSERT_GT(good.size(), first->cubin.size());
  auto hit = nvrtc.compile(req);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->fromCache);
  EXPECT_EQ(hit->cachePath, path);
  EXPECT_EQ(Nvrtc::compilations(), before + 1) << "a cache hit called NVRTC";

  struct Damage {
    const char *what, *note;
    std::string bytes;
  };
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40; // inside the cubin or PTX: only the checksum sees it
  std::string otherKey = good;
  otherKey[8] = otherKey[8] == '0' ? '1' : '0'; // the key's first hex digit
  const Damage damages[] = {{"a flipped byte", "checksum", flipped},
                            {"a truncated entry", "truncated", good.substr(0, good.size() - 100)},
                            {"a cut header", "truncated", good.substr(0, 20)},
                            {"another key's entry", "another key", otherKey},
                            {"not an entry", "not a bmc NVRTC cache entry", "hello"}};
  uint64_t calls = before + 1;
  for (const Damage &d : damages) {
    writeAll(path, d.bytes);
    auto again = nvrtc.compile(req);
    ASSERT_TRUE(again) << d.what << ": " << again.status().message();
    EXPECT_FALSE(again->fromCache) << d.what;
    EXPECT_EQ(Nvrtc::compilations(), ++calls) << d.what << ": not compiled again";
    EXPECT_NE(again->cacheNote.find(d.note), std::string::npos) << d.what << ": " << again->cacheNote;
    EXPECT_NE(again->cacheNote.find("recompiled"), std::string::npos) << d.what << ": " << again->cacheNote;
    EXPECT_EQ(again->cubin, first->cubin) << d.what;
    // Rewritten (not byte for byte: the log has ptxas's compile time), and it hits.
    EXPECT_TRUE(readAll(path) != d.bytes) << d.what << ": the entry was not rewritten";
    auto after = nvrtc.compile(req);
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->fromCache) << d.what << ": the rewritten entry does not hit";
    EXPECT_EQ(after->cubin, first->cubin) << d.what;
  }
  EXPECT_EQ(Nvrtc::compilations(), calls);

  // Another arch and another source: entries of their own beside the first.
  NvrtcRequest other = req;
  other.arch = "sm_90";
  auto sm90 = nvrtc.compile(other);
  ASSERT_TRUE(sm90);
  EXPECT_FALSE(sm90->fromCache);
  other = req;
  other.source += "// another source\n";
  auto src = nvrtc.compile(other);
  ASSERT_TRUE(src);
  EXPECT_FALSE(src->fromCache);
  EXPECT_NE(sm90->cachePath, path);
  EXPECT_NE(src->cachePath, path);
  EXPECT_NE(src->cachePath, sm90->cachePath);
  EXPECT_EQ(Nvrtc::compilations(), calls + 2);
  auto still = nvrtc.compile(req); // the first entry is still there
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->fromCache);

  // A cache directory under a regular file cannot be made (even as root).
  writeAll(dir + "/file", "x");
  other = req;
  other.cacheDir = dir + "/file/cache";
  auto unwritable = nvrtc.compile(other);
  ASSERT_TRUE(unwritable) << unwritable.status().message();
  EXPECT_EQ(unwritable->cubin, first->cubin);
  EXPECT_TRUE(unwritable->cachePath.empty());
  EXPECT_NE(unwritable->cacheNote.find("not cached"), std::string::npos) << unwritable->cacheNote;
  EXPECT_NE(unwritable->cacheNote.find(dir + "/file"), std::string::npos) << unwritable->cacheNote;
  std::system(("rm -rf '" + dir + "'").c_str());
}

// The JIT's kernels through the cache: the first call compiles and says where
// it cached them, the second hits without NVRTC, BMC_CUDA_CACHE=off (an empty
// directory) compiles and says it did not cache.
TEST(CudaJit, CompilesOnceThenHitsTheCache) {
  NVRTC_OR_SKIP(nvrtc);
  (void)nvrtc;
  std::string dir = makeTempDir();
  ASSERT_FALSE(dir.empty());
  const std::string emitted = "extern \"C\" __global__ void bmc_jit_probe(float *x) { x[threadIdx.x] = 1.0f; }\n";
  std::vector<std::string> remarks;
  auto tell = [&](const std::string &m) { remarks.push_back(m); };
  const uint64_t before = Nvrtc::compilations();
  std::string binary;
  auto first = bmc::cudaJitImage(emitted, "sm_90", dir, Nvrtc::load(), tell, &binary);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_EQ(first->format, ModuleFormat::Cubin);
  EXPECT_EQ(first->bytes.compare(0, 4, "\x7f" "ELF"), 0);
  EXPECT_EQ(binary, "cubin sm_90 (NVRTC JIT)");
  EXPECT_EQ(Nvrtc::compilations(), before + 1);
  ASSERT_EQ(remarks.size(), 1u);
  EXPECT_EQ(remarks[0].rfind("NVRTC sm_90: compiled (", 0), 0u) << remarks[0];
  EXPECT_NE(remarks[0].find(" s), cached at " + dir + "/"), std::string::npos) << remarks[0];
  const std::string path = remarks[0].substr(remarks[0].find("cached at ") + 10);
  EXPECT_FALSE(readAll(path).empty()) << path;

  remarks.clear();
  auto second = bmc::cudaJitImage(emitted, "sm_90", dir, Nvrtc::load(), tell);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->bytes, first->bytes);
  EXPECT_EQ(Nvrtc::compilations(), before + 1) << "the cache hit called NVRTC";
  ASSERT_EQ(remarks.size(), 1u);
  EXPECT_EQ(remarks[0], "NVRTC sm_90: cache hit " + path);

  // A corrupt entry: a remark that says so, compiled and cached again.
  std::string e = readAll(path);
  e[e.size() / 2] ^= 1;
  writeAll(path, e);
  remarks.clear();
  auto third = bmc::cudaJitImage(emitted, "sm_90", dir, Nvrtc::load(), tell);
  ASSERT_TRUE(third);
  EXPECT_EQ(Nvrtc::compilations(), before + 2);
  ASSERT_EQ(remarks.size(), 2u);
  EXPECT_NE(remarks[0].find("fails its checksum: recompiled"), std::string::npos) << remarks[0];
  EXPECT_NE(remarks[1].find("cached at " + path), std::string::npos) << remarks[1];

  remarks.clear();
  auto off = bmc::cudaJitImage(emitted, "sm_90", "", Nvrtc::load(), tell);
  ASSERT_TRUE(off);
  EXPECT_EQ(Nvrtc::compilations(), before + 3);
  ASSERT_EQ(remarks.size(), 1u);
  EXPECT_NE(remarks[0].find("not cached (BMC_CUDA_CACHE=off)"), std::string::npos) << remarks[0];
  std::system(("rm -rf '" + dir + "'").c_str());
}

// NVRTC missing (Nvrtc::load's error, given here: hiding the library from a
// process that may have loaded it is not possible) is one line that says
// what needs it and what to do.
TEST(CudaJit, NvrtcMissingIsOneLine) {
  bmc::Result<const Nvrtc *> missing(bmc::Status::error("no libnvrtc found (tried /x/libnvrtc.so.13)"));
  auto image = bmc::cudaJitImage("extern \"C\" __global__ void k() {}\n", "sm_90", "", missing, {});
  ASSERT_FALSE(image);
  const std::string &m = image.status().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find("device cuda: the JIT compiles the kernels with NVRTC, which cannot be loaded: no libnvrtc found"),
            std::string::npos) << m;
  EXPECT_NE(m.find("bmc-compile --target cuda"), std::string::npos) << m;
}

// BMC_CUDA_CACHE (a directory, or off), else $XDG_CACHE_HOME/bmc/nvrtc, else
// ~/.cache/bmc/nvrtc.
TEST(CudaJit, TheCacheDirectory) {
  struct Env {
    std::string name, old;
    bool had;
    explicit Env(const char *n) : name(n), had(std::getenv(n) != nullptr) {
      if (had) old = std::getenv(n);
    }
    ~Env() {
      if (had) setenv(name.c_str(), old.c_str(), 1);
      else unsetenv(name.c_str());
    }
  } cache("BMC_CUDA_CACHE"), xdg("XDG_CACHE_HOME"), home("HOME");
  setenv("BMC_CUDA_CACHE", "/some/dir", 1);
  EXPECT_EQ(bmc::pkg::cudaJitCacheDir(), "/some/dir");
  setenv("BMC_CUDA_CACHE", "off", 1);
  EXPECT_EQ(bmc::pkg::cudaJitCacheDir(), "");
  unsetenv("BMC_CUDA_CACHE");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(bmc::pkg::cudaJitCacheDir(), "/xdg/bmc/nvrtc");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(bmc::pkg::cudaJitCacheDir(), "/home/u/.cache/bmc/nvrtc");
}

TEST(Nvrtc, CompileErrorIsOneLineNamingTheProgram) {
  NVRTC_OR_SKIP(nvrtc);
  NvrtcRequest req;
  req.source = "extern \"C\" __global__ void broken(float *x) { x[0] = undeclared; }\n";
  req.name = "broken.cu";
  auto out = nvrtc.compile(req);
  ASSERT_FALSE(out);
  const std::string &m = out.status().message();
  EXPECT_NE(m.find("broken.cu"), std::string::npos) << m;
  EXPECT_NE(m.find("undeclared"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  NvrtcRequest bad = req;
  bad.arch = "gfx90a";
  EXPECT_FALSE(nvrtc.compile(bad));
}

// The parser on a report in NVRTC 13's format, including a called device
// function (its properties are not an entry's) and a kernel with spills.
TEST(PtxasInfo, ParsesTheVerboseReport) {
  const char *log = "ptxas info    : 0 bytes gmem\n"
                    "ptxas info    : Compiling entry function 'a' for 'sm_80'\n"
                    "ptxas info    : Function properties for a\n"
                    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                    "ptxas info    : Used 10 registers, used 0 barriers, 368 bytes cmem[0]\n"
                    "ptxas info    : Function properties for helper\n"
                    "ptxas         .     16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                    "ptxas info    : Compiling entry function 'b' for 'sm_80'\n"
                    "ptxas info    : Function properties for b\n"
                    "ptxas         .     40 bytes stack frame, 24 bytes spill stores, 28 bytes spill loads\n"
                    "ptxas info    : Used 255 registers, used 1 barriers, 4096 bytes smem, 400 bytes cmem[0]\n"
                    "ptxas info    : Compile time = 2.720 ms\n";
  auto info = parsePtxasInfo(log);
  ASSERT_TRUE(info) << info.status().message();
  ASSERT_EQ(info->size(), 2u);
  EXPECT_EQ((*info)[0].function, "a");
  EXPECT_EQ((*info)[0].registers, 10);
  EXPECT_EQ((*info)[0].spillStoreBytes, 0);
  EXPECT_EQ((*info)[1].function, "b");
  EXPECT_EQ((*info)[1].registers, 255);
  EXPECT_EQ((*info)[1].stackFrameBytes, 40);
  EXPECT_EQ((*info)[1].spillStoreBytes, 24);
  EXPECT_EQ((*info)[1].spillLoadBytes, 28);
  EXPECT_EQ((*info)[1].sharedBytes, 4096);
  // An entry without its register line is an error, not a silent zero.
  auto truncated = parsePtxasInfo("ptxas info    : Compiling entry function 'a' for 'sm_80'\n");
  EXPECT_FALSE(truncated);
}
