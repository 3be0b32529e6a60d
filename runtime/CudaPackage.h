//===- runtime/CudaPackage.h - a package's CUDA section at load time -*- C++ -*-===//
//
// Model::load with LoadOptions::device Cuda (runtime/Package.cpp): the CUDA
// section, already decoded and checked (pkg::decodeCudaSection), the
// signature and the weights section go to loadCudaPackage, which opens the
// CUDA device and hands everything to startDeviceGeneration: it picks the
// binary for the device's sm_XY (cudaModuleImage), loads it, and makes the
// model's device part (runtime/DeviceModel.h), which each Session runs
// through runtime/device/DeviceGeneration.
//
// The seam for tests without a GPU: loadCudaPackageOn (Model::load's path with
// a given device and, optionally, a given module image: a CpuDevice and the
// host emulation's kernel table of the same source).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_CUDAPACKAGE_H
#define BMC_RUNTIME_CUDAPACKAGE_H

#include "bmc/abi/package.h"
#include "bmc/model.h"
#include "runtime/device/Device.h"

#include <memory>

namespace bmc {

/// Everything a CUDA model is made of, as loaded from its package.
struct CudaPackageParts {
  pkg::CudaSection section;
  ModelSignature signature;
  std::shared_ptr<const uint8_t> weights; // the weights section, mapped
  size_t weightBytes = 0;
  LoadOptions options;
};

/// Opens CUDA device 0 (its one-line error: no libcuda.so.1, no GPU) and
/// calls startDeviceGeneration.
Result<std::shared_ptr<Model>> loadCudaPackage(CudaPackageParts parts);

/// The binary of `section` for a device of compute capability major.minor:
/// the cubin of exactly its sm_XY, else the PTX of the highest architecture
/// below it (JIT-compiled by the driver), else a one-line error naming the
/// package's architectures. `chosen` says which ("cubin sm_90", "PTX sm_80").
Result<device::ModuleImage> cudaModuleImage(const pkg::CudaSection &section, int major, int minor,
                                            std::string *chosen = nullptr);

/// A model whose sessions run the section's decoder on `device`: the binary
/// for the device's architecture (cudaModuleImage), then startDeviceGeneration
/// with it.
Result<std::shared_ptr<Model>> startDeviceGeneration(std::unique_ptr<device::Device> device, CudaPackageParts parts);

/// The same with the module image given (the seam: a CpuDevice and a
/// ModuleFormat::HostTable of the section's kernels). `binary` describes it.
/// Loads it, creates the EmittedLauncher over the section's source, checks the
/// decoder signature (DeviceDecoderSignature::fromModel) and creates one
/// DeviceGeneration to check the program against it (then freed: each Session
/// makes its own).
Result<std::shared_ptr<Model>> startDeviceGeneration(std::unique_ptr<device::Device> device, CudaPackageParts parts,
                                                     const device::ModuleImage &image, const std::string &binary);

/// Model::load(path, {device = Cuda, threads = opts.threads}) with the device
/// given instead of CUDA device 0, and with `image` (when not null) instead
/// of the package's binary for the device: the seam tests use to run a CUDA
/// package on the CPU device through the host emulation.
Result<std::shared_ptr<Model>> loadCudaPackageOn(const std::string &path, const LoadOptions &opts,
                                                 std::unique_ptr<device::Device> device,
                                                 const device::ModuleImage *image);

} // namespace bmc

#endif
