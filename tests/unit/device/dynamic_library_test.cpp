// The dlopen search NVRTC and cuBLASLt share (runtime/device/DynamicLibrary.h):
// the first candidate that opens wins and the error lists every path tried,
// in order; the folders are searched in their documented order.
#include "runtime/device/DynamicLibrary.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using bmc::device::cudaLibraryDirs;
using bmc::device::libraryPathIn;
using bmc::device::openFirst;

TEST(DynamicLibrary, OpenFirstListsEveryPathTried) {
  auto r = openFirst({"/nonexistent/libbmc_absent.so.1", "libbmc_absent_too.so"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "tried /nonexistent/libbmc_absent.so.1, libbmc_absent_too.so");
}

TEST(DynamicLibrary, OpenFirstTakesTheFirstThatOpens) {
  // libm.so.6 and libc.so.6 are on every glibc system; the first absent one is skipped.
  auto r = openFirst({"/nonexistent/libbmc_absent.so.1", "libm.so.6", "libc.so.6"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->path, "libm.so.6");
  ASSERT_NE(r->handle, nullptr);
  EXPECT_NE(dlsym(r->handle, "cos"), nullptr);
  dlclose(r->handle);
}

TEST(DynamicLibrary, CudaLibraryDirsInOrder) {
  const char *root = std::getenv("BMC_CUDA_ROOT"), *home = std::getenv("CUDA_HOME");
  std::string keepRoot = root ? root : "", keepHome = home ? home : "";
  setenv("BMC_CUDA_ROOT", "/bmc/root", 1);
  setenv("CUDA_HOME", "/cuda/home", 1);
  std::vector<std::string> dirs = cudaLibraryDirs();
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs.front(), "/bmc/root/lib64");
  EXPECT_EQ(dirs[dirs.size() - 3], "/cuda/home/lib64"); // after the configure-time toolkit, if any
  EXPECT_EQ(dirs[dirs.size() - 2], "/usr/local/cuda/lib64");
  EXPECT_EQ(dirs.back(), ""); // the loader's own path
  EXPECT_EQ(libraryPathIn(dirs.back(), "libx.so"), "libx.so");
  EXPECT_EQ(libraryPathIn(dirs.front(), "libx.so"), "/bmc/root/lib64/libx.so");
  root ? (void)setenv("BMC_CUDA_ROOT", keepRoot.c_str(), 1) : (void)unsetenv("BMC_CUDA_ROOT");
  home ? (void)setenv("CUDA_HOME", keepHome.c_str(), 1) : (void)unsetenv("CUDA_HOME");
}

} // namespace
