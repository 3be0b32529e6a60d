//===- EmitCudaProgram.h - a kernel-level function as a host program -*- C++ -*-===//
//
// The whole-function side of the CUDA emitter (docs/DESIGN.md, "CUDA
// programs"): for a func at the kernel level whose every op has a CUDA form
// or is host / no-code, one line `// bmc-program: {json}` saying how it runs:
// its inputs and outputs by name, the weights and constants it uploads, the
// host's scalar and shape-vector computations, the views (no code: seams, and
// the view ops, whose offset, sizes and strides the host evaluates) and the
// launches in order,
// each kernel parameter bound to a value, plus the memory plan of the
// intermediate results (liveness slots in one arena, sizes as expressions of
// run-time dims). The runtime's DeviceProgram (runtime/device/DeviceProgram.h)
// reads it and launches through EmittedLauncher.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_TARGETS_CUDA_EMITCUDAPROGRAM_H
#define BMC_COMPILER_TARGETS_CUDA_EMITCUDAPROGRAM_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <utility>

namespace mlir::bmc::cuda {

/// Data a program uploads rather than a kernel: a bmc.weight, a tensor
/// arith.constant, or a weight's bmc.cast / bmc.transpose whose every use is
/// a bmck.to_view read only as the right operand of a product naming that
/// weight (the product reads the weight's device copy, cudaMatMulWeight).
bool isProgramData(Operation *op);

/// A bmc.check_equal the host decides before any launch: its input and
/// expected are host shape vectors (a 0-D or 1-D integer tensor.from_elements
/// of host scalars, an integer constant, or such a check's result). The genai
/// GQA import's total_sequence_length guard is one (the mask's width against
/// the past length plus the new tokens); a check of device data (seqlens_k
/// from the mask's ReduceSum, or an input tensor) is not.
bool isHostCheck(Operation *op);

/// The launch of each kernel op, as the emitter numbered its configurations:
/// (op name as in the bmc-launch line, configuration).
using LaunchIndex = llvm::DenseMap<Operation *, std::pair<std::string, int>>;

/// Writes `// bmc-program: {json}\n` for `func`, or fails with an error at
/// the first op a program cannot hold (nothing written).
LogicalResult writeProgram(func::FuncOp func, const LaunchIndex &launches, llvm::raw_ostream &os);

} // namespace mlir::bmc::cuda

#endif
