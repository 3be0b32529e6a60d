//===- PlanMemory.h - liveness slots for kernel-level results ---*- C++ -*-===//
//
// The target-independent memory plan of a function at the kernel level
// (docs/DESIGN.md, "CUDA programs"): each result a kernel op allocates gets
// a slot of one arena; slots are reused once every value in them is dead.
// The CUDA programs use it (compiler/targets/cuda/EmitCudaProgram.cpp);
// `--bmc-plan-memory` writes it into the IR as attributes so that it can be
// read and tested (bmc-opt + lit). The CPU emitter assigns its arena's
// slots with the same assignSlots over the allocations its lowering makes
// (compiler/lowering/MemoryPlan.cpp; docs/DESIGN.md, "The memory plan on
// the CPU": why it does not read this plan's values yet). PlanOptions give
// the plan the CPU's view of shape vectors, in-place results and the
// logits' run-time rows.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_PASSES_PLANMEMORY_H
#define BMC_PASSES_PLANMEMORY_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <vector>

namespace mlir::bmc {

/// The attributes bmc-plan-memory writes: `bmck.slot` (i64) on each
/// allocating op, `bmck.slots` (i64) on the function.
inline constexpr llvm::StringLiteral kSlotAttrName = "bmck.slot", kSlotsAttrName = "bmck.slots";

/// An op of the bmck dialect whose one view result is new storage: not a
/// seam (to_view / to_tensor), a cache's rows (kv_rows), an append (its
/// result is the cache's rows) or a view op (bmck::isStorageView: a slice,
/// split, squeeze, unsqueeze or expand of its input's storage).
bool allocatesView(Operation *op);

/// The lifetime of one allocation in op order: from the op that makes it
/// (`first`) to the last op that uses it or a view of it (`last`).
struct LiveRange {
  int64_t first = 0, last = 0;
};

/// The one slot assignment of both emitters: slots are taken first-fit, in
/// the order of `ranges` (creation order), among those whose last value
/// died before this one's first op (`last < first`: an op never writes into
/// a slot it reads). Returns each range's slot; `slots` gets the count.
std::vector<int> assignSlots(llvm::ArrayRef<LiveRange> ranges, int &slots);

struct KernelMemoryPlan {
  llvm::DenseMap<Value, int> slot; // each allocating op's result
  int slots = 0;
};

/// What a target's emitter keeps in the arena beyond the kernel ops' new
/// views, or keeps out of it (docs/DESIGN.md, "The memory plan on the CPU":
/// differences (1), (3) and (4)). The defaults are the CUDA programs'.
struct PlanOptions {
  /// (1) A shape vector (`tensor.from_elements`) is an arena value, live
  /// from its op to its last use (the CPU stores it; a CUDA program keeps it
  /// on the host).
  bool shapesInArena = false;
  /// (3) A returned `bmck.concat` (directly or through its seam) is written
  /// into the caller's output buffer: no slot.
  bool resultsInPlace = false;
  /// (4) The function's result at this index is the logits (-1: none): the
  /// product computing them (isLogitsProduct) has rows known only at run
  /// time, and so has the lone Cast group that rounds them: no slot.
  int64_t logitsOutput = -1;
};

/// Whether `op` is the product whose one use, through its seam or through a
/// group of one Cast and that group's seam, is the `logitsOutput`-th value
/// returned, and whose left operand is 3-D f32 and right one 2-D. The CPU's
/// Lowerer::lowerMatMul asks it too (LowerMatMul.cpp, "Weights"): the rows
/// that product computes follow bmc_rt_last_token_logits, so the plan gives
/// it no slot. One predicate for both, so they cannot drift apart.
bool isLogitsProduct(Operation *op, int64_t logitsOutput);

/// The plan of one block: a value is live from its op to the last use of it
/// or of a seam or view over it (a value the terminator returns, to the end); slots
/// by assignSlots, in block order. `options` says which values are in the
/// arena besides the kernel ops' new views, and which of those are not.
KernelMemoryPlan planKernelMemory(Block &body, const PlanOptions &options = {});

} // namespace mlir::bmc

#endif
