//===- runtime/device/Gemm.h - GEMM checks and the host loop -------*- C++ -*-===//
//
// What the devices share for Device::gemm (GemmDesc, Device.h): the argument
// checks, element sizes, and the CPU device's plain loop (fp32 accumulation,
// inputs widened exactly, a 16-bit C rounded to nearest even). The loop is the
// reference the CUDA device's cuBLASLt GEMM is tested against.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_GEMM_H
#define BMC_RUNTIME_DEVICE_GEMM_H

#include "runtime/device/Device.h"

namespace bmc {
namespace device {

size_t gemmTypeBytes(GemmType t);

// C = alpha * op(A) op(B) + beta * C on host addresses; `g` passed checkGemm
// and its operands are inside their allocations (the caller's checks). With
// beta == 0, C is not read (as in BLAS: NaN in C does not propagate).
void hostGemm(const GemmDesc &g);

} // namespace device
} // namespace bmc

#endif
