//===- PlanMemory.cpp - liveness slots for kernel-level results -----------===//
#include "passes/PlanMemory.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

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

bool mlir::bmc::isLogitsProduct(Operation *op, int64_t logitsOutput) {
  auto mm = dyn_cast<bmck::MatMulOp>(op);
  if (!mm || logitsOutput < 0 || !mm->getResult(0).hasOneUse()) return false;
  // The CPU computes only the last rows on its packed path: a 3-D f32 left
  // operand times a 2-D right one (LowerMatMul.cpp, "Weights", which calls
  // this too).
  auto lhs = cast<bmck::ViewType>(mm.getLhs().getType()), rhs = cast<bmck::ViewType>(mm.getRhs().getType());
  if (lhs.getShape().size() != 3 || rhs.getShape().size() != 2 || !lhs.getElementType().isF32()) return false;
  OpOperand *use = &*mm->getResult(0).getUses().begin();
  if (auto seam = dyn_cast<bmck::ToTensorOp>(use->getOwner())) {
    if (!seam->getResult(0).hasOneUse()) return false;
    use = &*seam->getResult(0).getUses().begin();
  }
  // A 16-bit graph's logits are rounded on the way out by a group of that
  // Cast alone (bmc-narrow-16bit-io), returned through its seam.
  if (auto g = dyn_cast<bmck::ElementwiseOp>(use->getOwner());
      g && isa<bmc::CastOp>(g.getRoot()) && g.getBody().front().getOperations().size() == 2 &&
      g.getResult().hasOneUse()) {
    use = &*g.getResult().getUses().begin();
    auto seam = dyn_cast<bmck::ToTensorOp>(use->getOwner());
    if (!seam || !seam->getResult(0).hasOneUse()) return false;
    use = &*seam->getResult(0).getUses().begin();
  }
  return isa<func::ReturnOp>(use->getOwner()) && int64_t(use->getOperandNumber()) == logitsOutput;
}

namespace {

// The values of `body` that get no slot under `options`: returned concats
// (written in place) and the logits' product and its Cast group (run-time
// rows).
llvm::DenseSet<Value> outOfArena(Block &body, const mlir::bmc::PlanOptions &options) {
  llvm::DenseSet<Value> out;
  Operation *term = body.getTerminator();
  if (options.resultsInPlace && term)
    for (Value v : term->getOperands()) {
      if (auto seam = v.getDefiningOp<bmck::ToTensorOp>()) v = seam.getView();
      if (v.getDefiningOp<bmck::ConcatOp>()) out.insert(v);
    }
  for (Operation &op : body) {
    if (!mlir::bmc::isLogitsProduct(&op, options.logitsOutput)) continue;
    out.insert(op.getResult(0));
    Operation *user = *op.getResult(0).getUsers().begin();
    if (auto seam = dyn_cast<bmck::ToTensorOp>(user)) user = *seam->getResult(0).getUsers().begin();
    if (auto g = dyn_cast<bmck::ElementwiseOp>(user)) out.insert(g.getResult());
  }
  return out;
}

// Whether `user` reads the shape vector `v` only as scalars (the sizes of a
// reshape or expand, a slice's bounds, an integer range's ends, ...): an
// emitter takes them from the shape vector's elements at the op that made
// it, so such a use does not keep the vector's storage live (the CPU's
// Lowerer::element looks through tensor.from_elements).
bool readsAsScalars(Operation *user, Value v) {
  auto any = [&](std::initializer_list<Value> operands) { return llvm::is_contained(operands, v); };
  if (auto r = dyn_cast<bmck::ReshapeOp>(user)) return any({r.getShape()});
  if (auto r = dyn_cast<bmc::ReshapeOp>(user)) return any({r.getShape()});
  if (auto x = dyn_cast<bmck::ExpandOp>(user)) return any({x.getShape()});
  if (auto x = dyn_cast<bmc::ExpandOp>(user)) return any({x.getShape()});
  if (auto sl = dyn_cast<bmck::SliceOp>(user)) return any({sl.getStarts(), sl.getEnds(), sl.getSteps()});
  if (auto sl = dyn_cast<bmc::SliceOp>(user)) return any({sl.getStarts(), sl.getEnds(), sl.getSteps()});
  if (auto cs = dyn_cast<bmc::ConstantOfShapeOp>(user)) return any({cs.getShape()});
  if (auto t = dyn_cast<bmc::TriluOp>(user)) return any({t.getK()});
  if (isa<bmck::RangeOp, bmc::RangeOp>(user)) { // a float range loads its operands
    Type t = user->getResult(0).getType();
    Type et = isa<bmck::ViewType>(t) ? cast<bmck::ViewType>(t).getElementType() : cast<ShapedType>(t).getElementType();
    return !isa<FloatType>(et);
  }
  return false;
}

} // namespace

mlir::bmc::KernelMemoryPlan mlir::bmc::planKernelMemory(Block &body, const PlanOptions &options) {
  llvm::DenseSet<Value> skipped = outOfArena(body, options);
  llvm::DenseMap<Operation *, int> pos;
  llvm::DenseMap<Value, int> end;
  std::vector<std::pair<int, Value>> order; // allocating ops in block order
  int i = 0;
  for (Operation &op : body) {
    pos[&op] = i;
    // A bmc.constant_of_shape or bmc.gather_nd is a kernel's result on a device (EmitCudaData.h).
    bool inArena = allocatesView(&op) || isa<bmc::ConstantOfShapeOp, bmc::GatherNDOp>(op) ||
                   (options.shapesInArena && isa<tensor::FromElementsOp>(op));
    if (inArena && !skipped.contains(op.getResult(0))) end[op.getResult(0)] = i, order.push_back({i, op.getResult(0)});
    ++i;
  }
  for (Operation &op : body)
    op.walk([&](Operation *user) { // uses inside regions count at the op holding them
      for (Value operand : user->getOperands()) {
        if (operand.getDefiningOp<tensor::FromElementsOp>() && readsAsScalars(user, operand)) continue;
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
  using PlanMemoryBase::PlanMemoryBase;
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.isExternal()) return;
    if (!f.getBody().hasOneBlock()) {
      f.emitError() << "bmc-plan-memory: a function of one block expected";
      return signalPassFailure();
    }
    mlir::bmc::PlanOptions options;
    options.shapesInArena = shapesInArena;
    options.resultsInPlace = resultsInPlace;
    options.logitsOutput = logitsOutput;
    mlir::bmc::KernelMemoryPlan plan = mlir::bmc::planKernelMemory(f.getBody().front(), options);
    Builder b(f.getContext());
    for (auto &[v, slot] : plan.slot) v.getDefiningOp()->setAttr(mlir::bmc::kSlotAttrName, b.getI64IntegerAttr(slot));
    f->setAttr(mlir::bmc::kSlotsAttrName, b.getI64IntegerAttr(plan.slots));
  }
};

} // namespace
