//===- runtime/device/DeviceCalibration.h - cost constants of a Device -*- C++ -*-===//
//
// The BMC cost model's reallocation constants measured on a device instead of
// the host (runtime/CostModel.cpp measures the CPU's): on a GPU, allocating
// and copying cost orders of magnitude differently. allocSeconds and
// copyBytesPerSecond mean what HardwareConstants' fields of the same names
// mean (A: allocate + free one KV-sized buffer; beta: copy into a fresh
// buffer), so they can replace them in a KVCostModel for a device session;
// growSeconds is the cost of committing one more granule of a growable buffer
// (VMM on CUDA), the in-place growth's analogue of A. Wall-clock medians:
// on a loaded machine the numbers are upper bounds. Not measured here: the
// device's read bandwidth (it needs a reading kernel per device; the CUDA
// kernels' GEMV would be the probe). Not used by a session yet.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICECALIBRATION_H
#define BMC_RUNTIME_DEVICE_DEVICECALIBRATION_H

#include "runtime/device/Device.h"

namespace bmc {
namespace device {

struct DeviceCostConstants {
  double allocSeconds = 0;       // allocate + free of bufferBytes (median)
  double copyBytesPerSecond = 0; // copyOnDevice of bufferBytes into a fresh buffer
  double growSeconds = 0;        // GrowableBuffer::grow by one granule (0: no growable buffers)
  size_t growGranularity = 0;    // the granule's bytes
  size_t bufferBytes = 0;
};

// `bufferBytes` (> 0) is the size of a grown KV buffer; `rounds` (>= 1) the
// samples per median. Errors are the device's, or the arguments named.
Result<DeviceCostConstants> calibrateDevice(Device &device, size_t bufferBytes = size_t(8) << 20,
                                            int rounds = 7);

} // namespace device
} // namespace bmc

#endif
