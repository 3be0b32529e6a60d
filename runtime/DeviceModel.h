//===- runtime/DeviceModel.h - the device part of a Model ---------*- C++ -*-===//
//
// What a model loaded with LoadOptions::device Cuda holds (Model::deviceModel;
// opaque in include/bmc/): the device, the package's module loaded on it, the
// EmittedLauncher over the CUDA section's source, the decoder function's name,
// the weight table and the mapped weights section, and the decoder interface
// (DeviceDecoderSignature::fromModel). startDeviceGeneration
// (runtime/CudaPackage.cpp) makes it; each Session on the model makes its own
// DeviceGeneration from it (uploading the weights: HostTensor owns its bytes,
// so the weights are copied from the mapped section into host tensors for the
// upload, then freed).
//
// Thread safety: the launcher and the device's stream are shared by every
// session of the model: use the sessions of one device model from one thread
// at a time (Device.h, EmittedLauncher.h).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICEMODEL_H
#define BMC_RUNTIME_DEVICEMODEL_H

#include "bmc/abi/package.h"
#include "runtime/device/DeviceCalibration.h"
#include "runtime/device/DeviceGeneration.h"
#include "runtime/device/EmittedLauncher.h"

#include "bmc/cost_model.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bmc {

struct DeviceModel {
  // Destroyed in reverse order: the launcher before the device.
  std::unique_ptr<device::Device> device;
  device::ModuleHandle module;
  std::string binary; // what was loaded: "cubin sm_90", "PTX sm_80 (JIT by the driver)", "host table"
  std::unique_ptr<device::EmittedLauncher> launcher;
  std::string source;   // the CUDA section's (the emitter's output)
  std::string function; // the decoder's bmc-program function
  std::vector<pkg::CudaWeight> weightTable;
  std::shared_ptr<const uint8_t> weights; // the weights section, mapped
  size_t weightBytes = 0;
  device::DeviceDecoderSignature signature;
  // The generation created at load (it checked the program against the
  // signature and uploaded the weights) with spareOptions; the first Session
  // whose options are the same takes it, any other frees it and creates its own.
  std::unique_ptr<device::DeviceGeneration> spare;
  device::DeviceGenerationOptions spareOptions;
  // The cost model's constants of the device for sessions that choose r
  // (bmc mode, no r given or compiled in): deviceCostConstants() at the first
  // such session (measured once per device per process, cached on disk for a
  // GPU); a test may set them beforehand.
  std::optional<HardwareConstants> costConstants;
  // The model's verification passes timed on the device for the cost model's
  // choice of the speculative draft length (k = 0): measurePassCosts at the
  // first such generate() of a session on this model (once per loaded model;
  // the passes are its program's); a test may set them beforehand.
  std::optional<device::DevicePassCosts> passCosts;

  // The weights the program uploads, by name, as host tensors (copies of
  // their bytes in the weights section).
  std::map<std::string, device::HostTensor> weightTensors() const;
};

// The options of the generation made at load, on the model's own KV mode and
// r: its compiled mode (prealloc, else bmc) and its compiled r, else
// DeviceGenerationOptions' default, which stands until a session takes the
// generation (a session with no r sets its cost model's chooseR).
device::DeviceGenerationOptions deviceGenerationDefaults(const DecoderInfo &d);

} // namespace bmc

#endif
