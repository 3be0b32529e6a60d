// The set-up device_hf_test.cpp and device_session_test.cpp share around
// emitted_model_kernels.inc's kTable (the host build of a whole model's
// emitted .cu): the JIT started through its seam on the table's module image
// (emitted_env.h's hostTableImage: a CpuDevice running the emulated kernels
// in place of a cubin, as loadCudaPackageOn takes it too), and the check that a
// model so loaded runs that table's kernels: its device part's source is the
// emitted .cu the table was built from. A header, not an include block: it
// takes the table as an argument, so it may come before or after the .inc.
#ifndef BMC_TESTS_UNIT_DEVICE_EMITTED_MODEL_SEAM_H
#define BMC_TESTS_UNIT_DEVICE_EMITTED_MODEL_SEAM_H

#include "bmc/compiler.h"
#include "bmc/model.h"
#include "compiler/CompileCuda.h"
#include "emitted_env.h"
#include "runtime/CudaJit.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/Device.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>

namespace bmc_device_test {

// compileOnnx of `onnx` with options `o` (target cuda) through the JIT's seam
// (compileOnnxCuda + startCudaJitOn): a CpuDevice running `table`. Null with
// a test failure when it does not compile or start.
template <size_t N>
std::shared_ptr<bmc::Model> jitOnHostTable(const std::string &onnx, const bmc::CompileOptions &o,
                                           const bmc::device::HostKernel (&table)[N]) {
  auto start = [&table](bmc::pkg::CudaJitParts parts) {
    bmc::device::ModuleImage image = hostTableImage(table);
    return bmc::startCudaJitOn(std::move(parts), std::make_unique<bmc::device::CpuDevice>(), &image);
  };
  auto m = bmc::compileOnnxCuda(onnx, o, start);
  if (!m) {
    ADD_FAILURE() << m.status().message();
    return nullptr;
  }
  return m.value();
}

// m when its device part's source is the emitted .cu at `cu`, the one this
// binary's table was built from; else null with a test failure (the emulated
// kernels would not be m's): `what` names m, `same` what must write the same
// CUDA C ("bmc-compile --emit cuda with the same options").
inline std::shared_ptr<bmc::Model> runsEmittedSource(std::shared_ptr<bmc::Model> m, const std::string &what,
                                                     const char *cu, const std::string &same) {
  if (!m)
    return nullptr;
  const bmc::DeviceModel *dm = m->deviceModel();
  if (!dm) {
    ADD_FAILURE() << what << " has no device part";
    return nullptr;
  }
  if (dm->source != readEmittedSource(cu)) {
    ADD_FAILURE() << what << ": its CUDA source differs from " << cu << " (" << same
                  << " must write the same CUDA C): the emulated kernel table would not be its kernels";
    return nullptr;
  }
  return m;
}

} // namespace bmc_device_test

#endif
