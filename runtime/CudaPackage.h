//===- runtime/CudaPackage.h - a package's CUDA section at load time -*- C++ -*-===//
//
// Model::load with LoadOptions::device Cuda (runtime/Package.cpp): the CUDA
// section, already decoded and checked (pkg::decodeCudaSection), the
// signature and the weights section go to loadCudaPackage, which opens the
// CUDA device and hands everything to startDeviceGeneration: the one place
// where the device generation loop (runtime/device/DeviceGeneration*, not
// written yet) takes over. Until then it returns a one-line "not yet" error.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_CUDAPACKAGE_H
#define BMC_RUNTIME_CUDAPACKAGE_H

#include "bmc/abi/package.h"
#include "bmc/model.h"

#include <memory>

namespace bmc {
namespace device {
class Device;
}

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

/// The seam for the device generation loop: a model whose sessions run the
/// section's programs on `device`. Not yet: returns an error naming what is
/// missing.
Result<std::shared_ptr<Model>> startDeviceGeneration(std::unique_ptr<device::Device> device, CudaPackageParts parts);

} // namespace bmc

#endif
