// The set-up the tests of the CUDA emitter's output share
// (cuda_emitted_emulation_test.cpp, cuda_emitted_matmul_test.cpp and
// cuda_emitted_wire_test.cpp through emitted_products_test.h,
// cuda_emitted_elementwise_test.cpp, cuda_emitted_data_test.cpp,
// cuda_program_test.cpp, cuda_data_program_test.cpp,
// cuda_view_program_test.cpp; hostTableLauncher also device_generation_test.cpp): the emitted .cu of the build tree (each
// binary's BMC_EMITTED_CU, tests/unit/device/CMakeLists.txt) either as the
// host emulation's kernel table on the CPU device, or compiled by NVRTC for
// the GPU's sm_XY and loaded on a CudaDevice; then the runtime's
// EmittedLauncher over that module, its notices collected. Without a driver
// or a GPU the GPU form is `absent` and the test skips with the reason, unless
// BMC_REQUIRE_GPU=1 (benchmarks/gpu_check.sh), which makes it a failure
// (BMC_EMITTED_ENV_OR_SKIP).
#ifndef BMC_TESTS_UNIT_DEVICE_EMITTED_ENV_H
#define BMC_TESTS_UNIT_DEVICE_EMITTED_ENV_H

#include "device_backends.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/CudaDevice.h"
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/Nvrtc.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace bmc_device_test {

// The text of the emitted source at `path` (in the build tree).
inline std::string readEmittedSource(const char *path) {
  std::ifstream in(path);
  std::stringstream source;
  source << in.rdbuf();
  return source.str();
}

// `count` kernels of `table` as a module image: the host emulation's kernels,
// by name (what the seams and CpuDevice take in place of a cubin).
inline bmc::device::ModuleImage hostTableImage(const bmc::device::HostKernel *table, size_t count) {
  bmc::device::ModuleImage image;
  image.format = bmc::device::ModuleFormat::HostTable;
  image.hostKernels = table;
  image.hostKernelCount = count;
  return image;
}
template <size_t N> bmc::device::ModuleImage hostTableImage(const bmc::device::HostKernel (&table)[N]) {
  return hostTableImage(table, N);
}

// The host emulation's `table` loaded on the caller's `device` (one that
// counts or refuses what it is asked) and the launcher over it and `src`: for
// tests whose device is their own, not an EmittedEnv's. A refusal names the
// call that refused.
template <size_t N>
bmc::Result<std::unique_ptr<bmc::device::EmittedLauncher>>
hostTableLauncher(bmc::device::Device &device, const bmc::device::HostKernel (&table)[N], const std::string &src) {
  using namespace bmc::device;
  auto module = device.loadModule(hostTableImage(table));
  if (!module)
    return bmc::Status::error("loadModule: " + module.status().message());
  return EmittedLauncher::create(device, module.value(), src);
}

// Not copyable or movable: the launcher's notice callback holds `this`.
struct EmittedEnv {
  std::unique_ptr<bmc::device::Device> device;
  std::unique_ptr<bmc::device::EmittedLauncher> launcher;
  std::string src;                  // the emitted source the launcher reads
  std::vector<std::string> notices; // every notice the launcher gave, in order
  std::string error;                // why there is no launcher, as the failing call said it
  bool absent = false;              // the GPU form without a driver or a GPU: a skip (skip())

  // `gpu` false: `count` kernels of `table` (the emulation) on a CpuDevice;
  // true: the source compiled by NVRTC (named by its file name in
  // diagnostics) for device 0's sm_XY. `path`: the emitted .cu. `options`:
  // the launcher's; its notice, when set, gets each notice too.
  EmittedEnv(bool gpu, const bmc::device::HostKernel *table, size_t count, const char *path,
             bmc::device::EmittedLauncherOptions options = {})
      : src(readEmittedSource(path)) {
    using namespace bmc::device;
    ModuleImage image;
    if (!gpu) {
      device = std::make_unique<CpuDevice>();
      image = hostTableImage(table, count);
    } else {
      auto d = CudaDevice::create(0);
      if (!d) {
        error = d.status().message();
        absent = deviceAbsent(error);
        return;
      }
      device = std::move(d.value());
      auto nvrtc = Nvrtc::load();
      if (!nvrtc) {
        error = nvrtc.status().message();
        return;
      }
      NvrtcRequest req;
      req.source = cudaEmittedKernelSource(src);
      std::string name = path;
      req.name = name.substr(name.rfind('/') + 1);
      const DeviceProperties &p = device->properties();
      req.arch = "sm_" + std::to_string(p.computeMajor) + std::to_string(p.computeMinor);
      auto out = nvrtc.value()->compile(req);
      if (!out) {
        error = out.status().message();
        return;
      }
      image.format = ModuleFormat::Cubin;
      image.bytes = std::move(out->cubin);
    }
    auto m = device->loadModule(image);
    if (!m) {
      error = m.status().message();
      return;
    }
    auto forward = std::move(options.notice);
    options.notice = [this, forward](const std::string &n) {
      notices.push_back(n);
      if (forward)
        forward(n);
    };
    auto l = EmittedLauncher::create(*device, m.value(), src, std::move(options));
    if (!l)
      error = l.status().message();
    else
      launcher = std::move(l.value());
  }
  template <size_t N>
  EmittedEnv(bool gpu, const bmc::device::HostKernel (&table)[N], const char *path,
             bmc::device::EmittedLauncherOptions options = {})
      : EmittedEnv(gpu, table, N, path, std::move(options)) {}
  EmittedEnv(const EmittedEnv &) = delete;
  EmittedEnv &operator=(const EmittedEnv &) = delete;

  bool skip() const { return absent && !gpuRequired(); }
};

// In a test (or a void function it calls): skip with the reason when the GPU
// is absent and not required, else fail unless the launcher was made.
#define BMC_EMITTED_ENV_OR_SKIP(env)                                                                                   \
  do {                                                                                                                 \
    if ((env).skip())                                                                                                  \
      GTEST_SKIP() << (env).error;                                                                                     \
    ASSERT_TRUE((env).launcher) << (env).error;                                                                        \
  } while (0)

} // namespace bmc_device_test

#endif
