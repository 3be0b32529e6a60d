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
// measurePassCosts() times a model's own verification passes (what the cost
// model's choice of the speculative draft length K needs: P(n, rows), a pass
// over more query rows); withDevicePassCosts() turns them into the model's
// step overhead and X(rows) (docs/COST_MODEL.md "On a device").
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

class DeviceGeneration;

// A model's verification passes timed on its device: DeviceGeneration::extend
// over `rows` tokens (every position's logits copied back, as a speculative
// pass does) after `context` valid rows, the wall clock of each (extend is
// complete on return). Per model: the passes are the model's program.
struct DevicePassCosts {
  int64_t context = 0;      // n: valid rows before each timed pass
  double stepSeconds = 0;   // t(1): one token (median)
  double passSeconds[4] = {0, 0, 0, 0}; // t(rows) at HardwareConstants::kPassRows (medians)
};

// Prefills `context` tokens (id 0) into `gen` (batch 1), then for each row
// count extends once untimed (a graph's capture) and `rounds` (>= 1) times
// timed, each pass followed by a one-token pass (the pair's difference is the
// sample, as the CPU's calibration pairs its matmuls, so that drift hits both),
// truncating back to `context` after each. Leaves `gen` holding `context`
// tokens (the caller prefills its own prompt next). Needs context >= 1 and
// room for context + 8 tokens; errors are the generation's, or that named.
Result<DevicePassCosts> measurePassCosts(DeviceGeneration &gen, int64_t context, int rounds = 3);

} // namespace device

struct HardwareConstants;
struct KVCostModel;

// The cost model's constants of `device` (docs/COST_MODEL.md "On a device"):
// A, beta, G and the granule from calibrateDevice, BW from its copy probe,
// k = 1 / BW (a spare key row in mask mode is read, at batch 1 never computed
// on beyond that: the attention is bandwidth-bound), X = 0 (the pass over
// several rows is the model's, withDevicePassCosts adds it). Measured once per process for each
// device name and driver (a mutex serialises callers); on a CUDA device also
// cached in $XDG_CACHE_HOME/bmc/device-<name>-<driver> (else ~/.cache/bmc),
// read back and written when `useCache` (false: measured, neither cache touched). The CPU device (the tests' emulation) is cached
// in the process only: its name says nothing about the machine.
Result<HardwareConstants> deviceCostConstants(device::Device &device, bool useCache = true);

// `m` (its hw, weightBytes, caches and rowBytes set) with the pass costs in
// it: stepOverheadSeconds = max(0, t(1) - (W + n L b) / BW), the fixed cost a
// pass pays beyond streaming its bytes (a device's launches), and
// hw.passExtraSecondsPerByte[i] = (t(rows_i) - t(1)) / (W + n L b), forced
// non-decreasing (as the CPU's calibration). Then KVCostModel::bestK chooses K
// from the model's own passes.
KVCostModel withDevicePassCosts(KVCostModel m, const device::DevicePassCosts &p);

} // namespace bmc

#endif
