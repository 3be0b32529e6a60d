//===- PlanMemory.h - liveness slots for kernel-level results ---*- C++ -*-===//
//
// The target-independent memory plan of a function at the kernel level
// (docs/DESIGN.md, "CUDA programs"): each result a kernel op allocates gets
// a slot of one arena; slots are reused once every value in them is dead.
// The CUDA programs use it (compiler/targets/cuda/EmitCudaProgram.cpp);
// `--bmc-plan-memory` writes it into the IR as attributes so that it can be
// read and tested (bmc-opt + lit). The CPU emitter keeps its own plan
// (compiler/lowering/MemoryPlan.cpp) for now.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_PASSES_PLANMEMORY_H
#define BMC_PASSES_PLANMEMORY_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::bmc {

/// The attributes bmc-plan-memory writes: `bmck.slot` (i64) on each
/// allocating op, `bmck.slots` (i64) on the function.
inline constexpr llvm::StringLiteral kSlotAttrName = "bmck.slot", kSlotsAttrName = "bmck.slots";

/// An op of the bmck dialect whose one view result is new storage: not a
/// seam (to_view / to_tensor), a cache's rows (kv_rows), an append (its
/// result is the cache's rows) or a view op (bmck::isStorageView: a slice,
/// split, squeeze, unsqueeze or expand of its input's storage).
bool allocatesView(Operation *op);

struct KernelMemoryPlan {
  llvm::DenseMap<Value, int> slot; // each allocating op's result
  int slots = 0;
};

/// The plan of one block: a value is live from its op to the last use of it
/// or of a seam or view over it (a value the terminator returns, to the end); slots
/// are taken first-fit, in block order, among those whose values all died
/// before this op (an op never writes into a slot it reads).
KernelMemoryPlan planKernelMemory(Block &body);

} // namespace mlir::bmc

#endif
