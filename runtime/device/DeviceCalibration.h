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
// on a loaded machine the numbers are upper bounds. readBytesPerSecond is
// the device's read bandwidth BW, probed by a device-to-device copy of a
// buffer 4x the last cache (at least 64 MiB, at most 256 MiB; the figure bmc_bench_device's
// roofline uses): bytes read + written / time, that is a byte read charged
// half a byte copied (docs/COST_MODEL.md "On a device" says why).
//
// deviceCostConstants() turns them into the HardwareConstants a device
// session's KVCostModel runs on: measured once per device per process, and on
// a CUDA device cached on disk by its name and driver.
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
  double readBytesPerSecond = 0; // BW: the copy probe's bytes read + written / second
  size_t readProbeBytes = 0;     // the probe's buffer
};

// `bufferBytes` (> 0) is the size of a grown KV buffer; `rounds` (>= 1) the
// samples per median. Errors are the device's, or the arguments named.
Result<DeviceCostConstants> calibrateDevice(Device &device, size_t bufferBytes = size_t(8) << 20,
                                            int rounds = 7);

} // namespace device

struct HardwareConstants;

// The cost model's constants of `device` (docs/COST_MODEL.md "On a device"):
// A, beta, G and the granule from calibrateDevice, BW from its copy probe,
// k = 1 / BW (a spare key row in mask mode is read, at batch 1 never computed
// on beyond that: the attention is bandwidth-bound), no pass over several rows
// (no speculative decoding on a device). Measured once per process for each
// device name and driver (a mutex serialises callers); on a CUDA device also
// cached in $XDG_CACHE_HOME/bmc/device-<name>-<driver> (else ~/.cache/bmc),
// read back and written when `useCache` (false: measured, neither cache touched). The CPU device (the tests' emulation) is cached
// in the process only: its name says nothing about the machine.
Result<HardwareConstants> deviceCostConstants(device::Device &device, bool useCache = true);

} // namespace bmc

#endif
