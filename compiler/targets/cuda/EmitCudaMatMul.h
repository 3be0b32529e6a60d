//===- EmitCudaMatMul.h - bmck.matmul / bmck.gemm -> CUDA C -----*- C++ -*-===//
//
// The matrix products of the CUDA emitter (docs/DESIGN.md, "CUDA emitter"),
// called by EmitCuda.cpp for every bmck.matmul and bmck.gemm: one
// configuration per distinct (op, element types, ranks, transposes, alpha,
// beta, C's rank, weight storage and sizes), each written as a bmc-launch
// line and two or three __global__s calling runtime/device/cuda/matmul.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDAMATMUL_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDAMATMUL_H

#include "compiler/targets/cuda/EmitCuda.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir::bmc::cuda {

struct MatMulConfig; // EmitCudaMatMul.cpp

class MatMulEmitter {
public:
  explicit MatMulEmitter(WeightStorage weights);
  ~MatMulEmitter();

  /// Adds the configuration of `op` (a bmck.matmul or bmck.gemm). Fails with
  /// an error at the op when the kernels cannot take it (rank > 4, an element
  /// type other than f32/f16/bf16, a `weight` the right operand does not
  /// read). Sets `noForm` (and adds nothing) for a product the CUDA target has
  /// no form of yet: a quantized weight (int8/int4, imported or asked for with
  /// `weights`); the caller counts it as left, by that name.
  LogicalResult add(Operation *op, std::string &noForm);

  int matmuls() const { return matmuls_; }
  int gemms() const { return gemms_; }
  int configurations(bool gemm) const;
  /// The configuration (bmc_matmul_N / bmc_gemm_N) of the product added last
  /// (a CUDA program's launch, EmitCudaProgram.h).
  int lastConfig() const { return last_; }

  /// The bmc-launch lines and kernels, configurations in the order first met.
  void write(llvm::raw_ostream &os) const;

private:
  WeightStorage weights_;
  std::map<std::string, std::unique_ptr<MatMulConfig>> configs_;
  std::vector<std::string> order_;
  int matmuls_ = 0, gemms_ = 0, last_ = -1;
};

} // namespace mlir::bmc::cuda

#endif
