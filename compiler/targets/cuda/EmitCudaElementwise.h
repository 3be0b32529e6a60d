//===- EmitCudaElementwise.h - bmck.elementwise, bmck.reduce -> CUDA C -*- C++ -*-===//
//
// The CUDA form of the fused elementwise groups, kept out of EmitCuda.cpp
// (which only dispatches to it): one __global__ per distinct configuration
// (the region's ops with their attributes and element types, the leaves'
// ranks, element types and static broadcast pattern: a dimension statically
// 1 gets no index term), a thread per output
// element in a grid-stride loop, each leaf read through its own bmc_view4 at
// the output's index (stride 0 where it broadcasts), one CUDA expression per
// region op with the CPU emitter's element semantics (scalarOp,
// compiler/lowering/LowerElementwise.cpp). Views of rank <= 4 and element
// types f32, f16, bf16, i32, i64 and i1; an op, type or rank without a CUDA
// form is refused with an error at the op (never approximated).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDAELEMENTWISE_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDAELEMENTWISE_H

#include "dialects/KernelDialect.h"

#include "llvm/Support/raw_ostream.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::bmc::cuda {

class ElementwiseEmitter {
public:
  /// Records the configuration of `op`, or fails with an error at the op
  /// (or at the region op) that has no CUDA form.
  LogicalResult add(bmck::ElementwiseOp op);
  /// "N bmck.elementwise (k configurations)".
  std::string summary() const;
  /// The configuration the last add() recorded (its bmc-launch "config").
  int lastConfig() const { return last_; }
  /// The kernels with their bmc-launch lines.
  void write(llvm::raw_ostream &os) const;

  struct Config {
    std::string params;  // "bmc_view4 x0, ..., bmc_view4 out"
    std::string body;    // the kernel's body (the key, with params)
    std::string comment; // leaves, result and ops, for the reader
    struct Check {
      std::string lhs, cmp, rhs; // rhs "" : `value`
      int64_t value;
      std::string error; // after "elementwise N: "
    };
    std::vector<Check> checks; // the launch line's
    int leaves = 0;
  };

private:
  std::map<std::string, std::pair<Config, int>> configs_; // by params + body
  std::vector<std::string> order_;
  int ops_ = 0, last_ = -1;
};

/// bmck.reduce: one __global__ per distinct (kind, element type, input rank,
/// reduced axes, keepdims), a block of BMC_EW_THREADS per output element, its
/// threads over the reduced elements, fp32 accumulation (the CPU accumulates
/// a 16-bit input in its own type), bmc_block_reduce (elementwise.cuh).
/// f32, f16, bf16 views of rank <= 4; an integer reduction has no CUDA form
/// yet: counted as left under `noForm` ("bmck.reduce (i64)"), as a quantized
/// product is.
class ReduceEmitter {
public:
  LogicalResult add(bmck::ReduceOp op, std::string &noForm);
  /// "N bmck.reduce (k configurations)".
  std::string summary() const;
  /// The configuration the last successful add() with a form recorded.
  int lastConfig() const { return last_; }
  void write(llvm::raw_ostream &os) const;

private:
  struct Config {
    std::string kind, type, typeName; // "sum", bmc_f32, f32
    int64_t rank = 0;
    unsigned mask = 0; // reduced view4 dimensions
    bool keepdims = false;
    bool integer = false; // i32 / i64: type is the C type ("int", "long long")
    std::string key() const;
  };
  std::map<std::string, std::pair<Config, int>> configs_;
  std::vector<std::string> order_;
  int ops_ = 0, last_ = -1;
};

} // namespace mlir::bmc::cuda

#endif
