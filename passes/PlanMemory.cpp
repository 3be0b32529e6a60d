//===- PlanMemory.cpp - liveness slots for kernel-level results -----------===//
#include "passes/PlanMemory.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <climits>
#include <map>
#include <vector>

namespace mlir::bmc {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;

bool mlir::bmc::allocatesView(Operation *op) {
  if (!op->getDialect() || op->getDialect()->getNamespace() != "bmck") return false;
  if (isa<bmck::ToViewOp, bmck::ToTensorOp, bmck::KVRowsOp, bmck::KVAppendOp>(op) || bmck::isStorageView(op))
    return false;
  return op->getNumResults() == 1 && isa<bmck::ViewType>(op->getResult(0).getType());
}

namespace {

// What a use of a seam or a view (a slice of a kernel's result, say) really uses.
Value root(Value v) {
  while (Operation *d = v.getDefiningOp()) {
    if (auto tv = dyn_cast<bmck::ToViewOp>(d))
      v = tv.getTensor();
    else if (auto tt = dyn_cast<bmck::ToTensorOp>(d))
      v = tt.getView();
    else if (bmck::isStorageView(d))
      v = d->getOperand(0);
    else if (auto ce = dyn_cast<bmc::CheckEqualOp>(d)) // its result is its input (a device check reads it)
      v = ce.getInput();
    else
      break;
  }
  return v;
}

} // namespace

std::vector<int> mlir::bmc::assignSlots(llvm::ArrayRef<LiveRange> ranges, int &slots) {
  std::vector<int> slotOf;
  std::vector<int64_t> slotEnd; // the last use of the value a slot holds
  for (const LiveRange &r : ranges) {
    int chosen = -1;
    for (size_t s = 0; s < slotEnd.size() && chosen < 0; ++s)
      if (slotEnd[s] < r.first) chosen = int(s);
    if (chosen < 0) chosen = int(slotEnd.size()), slotEnd.push_back(0);
    slotEnd[size_t(chosen)] = r.last;
    slotOf.push_back(chosen);
  }
  slots = int(slotEnd.size());
  return slotOf;
}

mlir::bmc::KernelMemoryPlan mlir::bmc::planKernelMemory(Block &body) {
  llvm::DenseMap<Operation *, int> pos;
  llvm::DenseMap<Value, int> end;
  std::vector<std::pair<int, Value>> order; // allocating ops in block order
  int i = 0;
  for (Operation &op : body) {
    pos[&op] = i;
    if (allocatesView(&op)) end[op.getResult(0)] = i, order.push_back({i, op.getResult(0)});
    ++i;
  }
  for (Operation &op : body)
    op.walk([&](Operation *user) { // uses inside regions count at the op holding them
      for (Value operand : user->getOperands()) {
        auto it = end.find(root(operand));
        if (it == end.end()) continue;
        it->second = op.hasTrait<OpTrait::IsTerminator>() ? INT_MAX : std::max(it->second, pos[&op]);
      }
    });
  std::vector<LiveRange> ranges;
  for (auto &[start, v] : order) ranges.push_back({start, end[v]});
  KernelMemoryPlan plan;
  std::vector<int> slots = assignSlots(ranges, plan.slots);
  for (size_t k = 0; k < order.size(); ++k) plan.slot[order[k].second] = slots[k];
  return plan;
}

namespace {

struct PlanMemoryPass : mlir::bmc::impl::PlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.isExternal()) return;
    if (!f.getBody().hasOneBlock()) {
      f.emitError() << "bmc-plan-memory: a function of one block expected";
      return signalPassFailure();
    }
    mlir::bmc::KernelMemoryPlan plan = mlir::bmc::planKernelMemory(f.getBody().front());
    Builder b(f.getContext());
    for (auto &[v, slot] : plan.slot) v.getDefiningOp()->setAttr(mlir::bmc::kSlotAttrName, b.getI64IntegerAttr(slot));
    f->setAttr(mlir::bmc::kSlotsAttrName, b.getI64IntegerAttr(plan.slots));
  }
};

} // namespace
