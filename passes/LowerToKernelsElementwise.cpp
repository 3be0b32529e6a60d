//===- LowerToKernelsElementwise.cpp - elementwise groups -> bmck ----------===//
//
// Each group bmc-group-elementwise decided (an unmarked elementwise op and
// the bmc.fused ops it reads, transitively) becomes one bmck.elementwise:
// the group's ops moved into its region in their order, its leaves read as
// views (the view inside a moved family's bmck.to_tensor seam, else a new
// bmck.to_view), its value a new view behind a bmck.to_tensor. A 16-bit
// weight's Cast read only by packed products stays as it is: the product
// names the weight, and a target reads its own copy of it.
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::bmc;

static Type elemOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }

/// `v` is a 16-bit weight (through Transposes / a Cast to f32) that a
/// product reading it takes as a packed right operand.
static bool narrowPackedRhs(Value v) {
  std::optional<MatMulWeight> w = findMatMulWeight(v);
  return w && w->narrow && cast<RankedTensorType>(v.getType()).hasStaticShape();
}

bool mlir::bmc::feedsPackedProduct(OpOperand &use) {
  Value v = use.get();
  Operation *o = use.getOwner();
  if (auto m = dyn_cast<MatMulOp>(o)) {
    Type lhs = elemOf(m.getLhs());
    return use.getOperandNumber() == 1 && (lhs.isF32() || lhs == elemOf(v)) && narrowPackedRhs(v);
  }
  if (auto g = dyn_cast<GemmOp>(o)) return use.getOperandNumber() == 1 && elemOf(g.getA()).isF32() && narrowPackedRhs(v);
  if (isa<TransposeOp, CastOp>(o))
    return llvm::all_of(o->getResult(0).getUses(), [](OpOperand &u) { return feedsPackedProduct(u); });
  return false;
}

bool mlir::bmc::isNarrowWeightCastCandidate(Operation *op) {
  if (!isa<CastOp>(op)) return false;
  Value v = op->getOperand(0);
  while (Operation *d = v.getDefiningOp()) {
    if (!isa<TransposeOp, CastOp>(d)) break;
    v = d->getOperand(0);
  }
  auto w = v.getDefiningOp<WeightOp>();
  return w && (elemOf(w.getResult()).isBF16() || elemOf(w.getResult()).isF16());
}

/// A Cast of a 16-bit weight (through Transposes and Casts) that only
/// packed products read.
static bool isNarrowWeightCast(Operation *op) {
  return isNarrowWeightCastCandidate(op) &&
         llvm::all_of(op->getResult(0).getUses(), [](OpOperand &u) { return feedsPackedProduct(u); });
}

/// The ops of the group whose root (an unmarked elementwise op) is `root`,
/// in block order, and its leaves in the order a walk from the root first
/// reaches them (the order code generation loads them in).
static void collectGroup(Operation *root, SmallVectorImpl<Operation *> &ordered, SmallVectorImpl<Value> &leaves) {
  auto isMember = [&](Value v) {
    Operation *d = v.getDefiningOp();
    return d && d->hasAttr(kFusedAttrName) && bmck::isElementwiseMember(d) && d->getBlock() == root->getBlock();
  };
  llvm::SetVector<Operation *> members;
  std::function<void(Operation *)> collect = [&](Operation *o) {
    members.insert(o);
    for (Value v : o->getOperands()) {
      if (isMember(v)) collect(v.getDefiningOp());
      else if (!llvm::is_contained(leaves, v)) leaves.push_back(v);
    }
  };
  collect(root);
  ordered.assign(members.begin(), members.end());
  llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
}

bool mlir::bmc::isLegalForElementwiseGroups(Operation *op) {
  return !bmck::isElementwiseMember(op) || op->getParentOfType<bmck::ElementwiseOp>() || op->hasAttr(kFusedAttrName) ||
         isNarrowWeightCast(op);
}

namespace {

struct ElementwiseToKernel : ConversionPattern {
  ElementwiseToKernel(MLIRContext *ctx) : ConversionPattern(MatchAnyOpTypeTag(), /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *op, ArrayRef<Value>, ConversionPatternRewriter &rw) const override {
    if (isLegalForElementwiseGroups(op)) return failure();
    SmallVector<Operation *> ordered;
    SmallVector<Value> leaves;
    collectGroup(op, ordered, leaves);

    SmallVector<Value> inputs;
    SmallVector<Type> argTypes;
    SmallVector<Location> argLocs;
    for (Value v : leaves) {
      inputs.push_back(viewOf(rw, op, rw.getRemappedValue(v)));
      argTypes.push_back(v.getType());
      argLocs.push_back(v.getLoc());
    }
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    auto group = createLike<bmck::ElementwiseOp>(rw, op, bmck::ViewType::of(resultType), inputs);
    Block *body = rw.createBlock(&group.getBody(), {}, argTypes, argLocs);
    IRMapping map;
    for (auto [v, arg] : llvm::zip(leaves, body->getArguments())) map.map(v, arg);
    for (Operation *m : ordered) rw.clone(*m, map)->removeAttr(kFusedAttrName);
    rw.create<bmck::YieldOp>(op->getLoc(), map.lookup(op->getResult(0)));
    rw.setInsertionPointAfter(group);
    replaceByView(rw, op, resultType, group.getResult());
    for (Operation *m : llvm::reverse(ordered))
      if (m != op) rw.eraseOp(m);
    return success();
  }
};

} // namespace

void mlir::bmc::populateElementwiseToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<ElementwiseToKernel>(patterns.getContext());
}
