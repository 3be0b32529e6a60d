//===- MemoryPlan.cpp - intermediates planned into one arena per call ------===//
//
// Each arena allocation has a lifetime in op order (its creation to the last
// use of any view of it). At compile time, allocations are packed into slots
// so that no two live ones share a slot (first fit in order of creation:
// passes/PlanMemory.h's assignSlots, the one the CUDA programs' plan uses);
// slot sizes depend on the call's dimensions, so a prologue computes them
// (the max of each slot's members, from the input dims) and the slots'
// offsets, and asks the runtime for the arena once. No allocation happens
// per op. Sizes that depend on data (e.g. a Range whose bounds are read from
// a tensor) cannot be computed up front; those buffers stay bump-allocated.
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"
#include "passes/Passes.h"
#include "passes/PlanMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace bmc {
namespace lowering {

void Lowerer::planMemory(Operation *anchor) {
  OpBuilder pb(anchor);
  IRMapping map;
  // The size computation, cloned before `anchor` if it only depends on
  // constants and input dims.
  std::function<Value(Value)> hoist = [&](Value v) -> Value {
    if (Value m = map.lookupOrNull(v)) return m;
    if (inputScalars.count(v)) return v;
    Operation *def = v.getDefiningOp();
    if (!def || def->getNumRegions() || def->getDialect()->getNamespace() != "arith") return {};
    for (Value o : def->getOperands())
      if (!hoist(o)) return {};
    Operation *c = pb.clone(*def, map);
    c->removeAttr(mlir::bmc::kLayerAttrName); // the prologue belongs to no layer
    return c->getResult(0);
  };

  // The allocations whose size is known before any op runs, with their
  // lifetimes: the slots are passes/PlanMemory.h's assignSlots, the CUDA
  // programs' first fit.
  std::vector<Value> sizeOf(allocs.size());
  std::vector<size_t> planned; // indices into allocs, in creation order
  std::vector<mlir::bmc::LiveRange> ranges;
  Block *entry = anchor->getBlock();
  for (size_t i = 0; i < allocs.size(); ++i) {
    AllocRecord &a = allocs[i];
    if (a.call->getBlock() != entry) continue; // inside a loop: keep it per iteration
    sizeOf[i] = hoist(a.bytes);
    if (!sizeOf[i]) continue; // a size read from data: bump-allocated
    planned.push_back(i);
    ranges.push_back({a.first, a.last});
  }
  int slotCount = 0;
  std::vector<int> slotOfRange = mlir::bmc::assignSlots(ranges, slotCount);
  std::vector<SmallVector<Value>> slots(static_cast<size_t>(slotCount)); // each slot's members' sizes
  std::vector<int> slotOf(allocs.size(), -1);
  for (size_t k = 0; k < planned.size(); ++k) {
    slotOf[planned[k]] = slotOfRange[k];
    slots[size_t(slotOfRange[k])].push_back(sizeOf[planned[k]]);
  }
  if (slots.empty()) return;
  Location l = anchor->getLoc();
  Value off = pb.create<arith::ConstantIntOp>(l, 0, 64);
  Value align = pb.create<arith::ConstantIntOp>(l, 63, 64), mask = pb.create<arith::ConstantIntOp>(l, ~int64_t(63), 64);
  SmallVector<Value> offsets;
  for (SmallVector<Value> &sizes : slots) {
    Value sz = sizes[0];
    for (size_t k = 1; k < sizes.size(); ++k) sz = pb.create<arith::MaxSIOp>(l, sz, sizes[k]);
    offsets.push_back(off);
    Value rounded = pb.create<arith::AndIOp>(l, pb.create<arith::AddIOp>(l, sz, align), mask);
    off = pb.create<arith::AddIOp>(l, off, rounded);
  }
  // The arena itself, reused from call to call by the runtime.
  if (!module.lookupSymbol<func::FuncOp>("bmc_rt_arena")) {
    OpBuilder mb(module.getBodyRegion());
    mb.setInsertionPointToEnd(module.getBody());
    mb.create<func::FuncOp>(l, "bmc_rt_arena", mb.getFunctionType({ptrTy, i64}, {ptrTy})).setPrivate();
  }
  Value arena = pb.create<func::CallOp>(l, "bmc_rt_arena", TypeRange{ptrTy}, ValueRange{ctx, off}).getResult(0);
  SmallVector<Value> slotPtr;
  for (Value o : offsets) slotPtr.push_back(pb.create<LLVM::GEPOp>(l, ptrTy, pb.getI8Type(), arena, ValueRange{o}));
  for (size_t i = 0; i < allocs.size(); ++i) {
    if (slotOf[i] < 0) continue;
    allocs[i].call.getResult(0).replaceAllUsesWith(slotPtr[size_t(slotOf[i])]);
    allocs[i].call.erase();
  }
}

} // namespace lowering
} // namespace bmc
