//===- EmitCudaUtil.h - small helpers every CUDA emitter file uses -*- C++ -*-===//
//
// Element type names on the device, MLIR type names for comments and errors,
// exact float literals and counted nouns, shared by EmitCuda.cpp and the
// per-family emitters (EmitCudaMatMul.cpp, EmitCudaNorm.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDAUTIL_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDAUTIL_H

#include "mlir/IR/Types.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <string>

namespace mlir::bmc::cuda {

// The device-side name of an element type (the structs of common.cuh), or null.
inline const char *cudaType(Type t) {
  if (t.isF32()) return "bmc_f32";
  if (t.isF16()) return "bmc_f16";
  if (t.isBF16()) return "bmc_bf16";
  return nullptr;
}

inline std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

// A float as an exact C literal (hex float), e.g. 0x1p-2f.
inline std::string floatLiteral(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%af", double(f));
  return buf;
}

// "1 configuration", "3 configurations".
inline std::string count(int n, const char *noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

} // namespace mlir::bmc::cuda

#endif
