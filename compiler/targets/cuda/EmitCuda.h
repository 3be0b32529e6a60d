//===- EmitCuda.h - kernel-level ops -> CUDA C ------------------*- C++ -*-===//
//
// The CUDA emitter (docs/DESIGN.md, "CUDA emitter"): reads a module at the
// kernel level (after bmc-pipeline) and writes CUDA C, one __global__ per
// distinct kernel configuration, calling the device functions of
// runtime/device/cuda/*.cuh, for bmck.kv_append, bmck.attention,
// bmck.matmul and bmck.gemm (EmitCudaMatMul.h), bmck.norm and bmck.softmax
// (EmitCudaNorm.h), bmck.elementwise and bmck.reduce (EmitCudaElementwise.h),
// bmck.concat, bmck.gather and bmck.copy (EmitCudaData.h; the view ops have
// no code); with whole-model, a
// `// bmc-program:` line per function (EmitCudaProgram.h). Everything else is
// counted and named, never skipped silently.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDA_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::bmc::cuda {

/// The storage of the weights the matrix products read on the device (the
/// compiler's --weights): the model's own types (16-bit weights stay 16-bit),
/// or f32 weights converted to f16 / bf16. Int8 and int4 have no CUDA form
/// yet: their products are refused (counted as ops without one).
enum class WeightStorage { Model, F16, BF16, Int8, Int4 };

struct CudaEmitOptions {
  WeightStorage weights = WeightStorage::Model;
  /// Refuse (an error at the first op without a CUDA form, nothing written)
  /// unless every op of the module has one: a whole-model compile, which
  /// then writes each function's program (EmitCudaProgram.h).
  bool wholeModel = false;
};

/// Writes the CUDA C for `module` to `os`. Fails with an error diagnostic at
/// the op when an op's configuration is outside what the kernels take
/// (head_dim > 256, a GQA group > 8, a q or mask not f32, ...) or, with
/// wholeModel, when any op has no CUDA form; `os` then receives nothing.
LogicalResult emitCuda(ModuleOp module, llvm::raw_ostream &os, const CudaEmitOptions &options = {});

/// A location as a user reads it: file:line:col, or an ONNX node's name and
/// op type (the frontend's NameLocs); "" when unknown.
std::string describeLocation(Location loc);

#define GEN_PASS_DECL
#include "compiler/targets/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/targets/cuda/Passes.h.inc"

} // namespace mlir::bmc::cuda

#endif
