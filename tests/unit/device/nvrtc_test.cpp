// NVRTC: every CUDA kernel of runtime/device/cuda compiles to cubin for sm_80
// and sm_90 within the spill budget (read from ptxas's -v report); the cache;
// compile errors as one line. Skips only when libnvrtc is absent and the build
// was configured without CUDA (BMC_CUDA_CONFIGURED=0).
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
  NvrtcRequest req;
  req.source = kSmallKernel;
  req.arch = "compute_80";
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
  NvrtcRequest req;
  req.source = kSmallKernel;
  req.arch = "sm_80";
  req.cacheDir = dir + "/cache"; // created on first use
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
  EXPECT_NE(fourth->cacheNote.find("corrupt"), std::string::npos) << fourth->cacheNote;
  EXPECT_EQ(fourth->cubin, first->cubin);
  auto fifth = nvrtc.compile(req);
  ASSERT_TRUE(fifth);
  EXPECT_TRUE(fifth->fromCache);
  std::system(("rm -rf '" + dir + "'").c_str());
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
