//===- EmitCudaNorm.h - bmck.norm / bmck.softmax -> CUDA C ------*- C++ -*-===//
//
// The CUDA forms of the row kernels, kept out of EmitCuda.cpp (which only
// dispatches to them): one __global__ per distinct configuration (kind,
// element type, bias or not, epsilon), a block of BMC_NORM_THREADS per row,
// calling bmc_norm_view_row / bmc_softmax_view_row (runtime/device/cuda/
// norm.cuh). Normalised / softmax axis: the last one only (every decoder's);
// another is refused with an error at the op. bmck.reduce has no CUDA form.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDANORM_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDANORM_H

#include "dialects/KernelDialect.h"

#include "llvm/Support/raw_ostream.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::bmc::cuda {

class NormEmitter {
public:
  /// Records the configuration of `op`, or fails with an error at the op
  /// when its configuration has no CUDA form.
  LogicalResult add(bmck::NormOp op);
  LogicalResult add(bmck::SoftmaxOp op);
  /// "N bmck.norm (k configurations), M bmck.softmax (j configurations)".
  std::string summary() const;
  /// The kernels with their bmc-launch lines.
  void write(llvm::raw_ostream &os) const;

  struct Config {
    bool softmax = false;
    bool rms = false, log = false, bias = false;
    std::string type, typeName; // bmc_f32 ..., f32 ...
    float epsilon = 0.0f;
    std::string key() const;
  };

private:
  void record(const Config &c);
  std::map<std::string, std::pair<Config, int>> configs_;
  std::vector<std::string> normOrder_, softmaxOrder_;
  int norms_ = 0, softmaxes_ = 0;
};

} // namespace mlir::bmc::cuda

#endif
