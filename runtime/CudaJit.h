//===- runtime/CudaJit.h - compileOnnx's CUDA model at run time ----*- C++ -*-===//
//
// compileOnnx with Target::Cuda emits the whole model's CUDA C in the compiler
// and hands it to startCudaJit (bmc/abi/package.h): the device is opened, the
// kernels are compiled by NVRTC for its own sm_XY only (cudaJitImage, cached
// on disk by a hash of everything that changes the binary), the weights are
// laid out as a CUDA package's weights section, and the model is started
// exactly as a CUDA package is (startDeviceGeneration, runtime/CudaPackage.h).
//
// The seam for tests without a GPU: startCudaJitOn, with a CpuDevice and the
// host emulation's kernel table of the same source.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_CUDAJIT_H
#define BMC_RUNTIME_CUDAJIT_H

#include "bmc/abi/package.h"
#include "runtime/device/Device.h"
#include "runtime/device/Nvrtc.h"

#include <functional>
#include <memory>
#include <string>

namespace bmc {

/// The JIT's binary of `emitted` (the whole-model CUDA C) for `arch`
/// ("sm_90"): NVRTC's cubin of cudaEmittedKernelSource(emitted), read from or
/// written to the cache in `cacheDir` (empty: no cache). `nvrtc` is what
/// Nvrtc::load() returned (tests pass an error to see NVRTC missing). Remarks:
/// "NVRTC sm_90: compiled (N s), cached at PATH", "NVRTC sm_90: cache hit
/// PATH", and the cache's notes (an entry recompiled, a cache not written).
/// `binary` gets what was loaded ("cubin sm_90 (NVRTC JIT)").
Result<device::ModuleImage> cudaJitImage(const std::string &emitted, const std::string &arch,
                                         const std::string &cacheDir, const Result<const device::Nvrtc *> &nvrtc,
                                         const std::function<void(const std::string &)> &remarks,
                                         std::string *binary = nullptr);

/// startCudaJit on `device` instead of CUDA device 0; `image`, when not null,
/// instead of NVRTC's binary for the device's architecture (the seam: a
/// CpuDevice and a ModuleFormat::HostTable of the source's kernels).
Result<std::shared_ptr<Model>> startCudaJitOn(pkg::CudaJitParts parts, std::unique_ptr<device::Device> device,
                                              const device::ModuleImage *image);

} // namespace bmc

#endif
