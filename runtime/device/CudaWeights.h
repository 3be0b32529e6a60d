//===- runtime/device/CudaWeights.h - weights in the CUDA layout -*- C++ -*-===//
//
// The CUDA target's copy of a matrix product's weight (docs/DESIGN.md, "CUDA
// emitter"): [N, K] row-major, each output's K weights contiguous (what the
// GEMV streams with 128-bit loads), in the storage type the emitter chose
// (the bmc-launch line's "weight": storage, n, k, and per weight its own
// type and whether the copy is its transpose). Host code, no device: the
// caller copies the bytes to the device.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_CUDAWEIGHTS_H
#define BMC_RUNTIME_DEVICE_CUDAWEIGHTS_H

#include "runtime/device/KernelLibrary.h" // ElementType

#include "bmc/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bmc {
namespace device {

// "f32", "f16", "bf16" -> the type; false for anything else.
bool parseElementType(const std::string &name, ElementType &out);

// `src`: the weight as the model stores it, row-major [rows, cols] of
// `srcType`. The result `out`: n * k elements of `storage` (2 or 4 bytes
// each), [n, k] row-major, where [n, k] is [cols, rows] when `transpose`
// (an ONNX MatMul weight [K, N]) and [rows, cols] otherwise. 16-bit storage of
// fp32 values rounds to nearest even (bmc_convert_f32_to_kv, as the CPU's
// 16-bit weights do); 16-bit to another 16-bit type goes through fp32.
// Errors: sizes not positive or past 2^31 per dimension.
Status cudaMatMulWeight(const void *src, ElementType srcType, int64_t rows, int64_t cols, bool transpose,
                        ElementType storage, std::vector<uint8_t> &out);

} // namespace device
} // namespace bmc

#endif
