//===- KernelOpsElementwise.cpp - bmck.elementwise: members and verifier ---===//

#include "dialects/KernelDialect.h"

using namespace mlir;
using namespace mlir::bmck;

bool mlir::bmck::isElementwiseMember(Operation *op) {
  using namespace mlir::bmc;
  return isa<AddOp, SubOp, MulOp, DivOp, PowOp, MinOp, MaxOp, ModOp, EqualOp, LessOp, LessEqualOp, GreaterOp,
             GreaterEqualOp, AndOp, OrOp, XorOp, NegOp, AbsOp, ExpOp, LogOp, SqrtOp, ReciprocalOp, TanhOp, ErfOp,
             SigmoidOp, ReluOp, CosOp, SinOp, FloorOp, CeilOp, SignOp, NotOp, SoftplusOp, LeakyReluOp, GeluOp, CastOp,
             ClipOp, WhereOp>(op);
}

Operation *ElementwiseOp::getRoot() {
  auto yield = cast<YieldOp>(getBody().front().getTerminator());
  return yield.getValue().getDefiningOp();
}

LogicalResult ElementwiseOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("expected one block argument per input (") << getInputs().size() << "), found "
                                                                   << body.getNumArguments();
  for (auto [i, arg, in] : llvm::enumerate(body.getArguments(), getInputs())) {
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    if (!t || ViewType::of(t) != in.getType())
      return emitOpError("expected block argument #") << i << " to be the tensor of input #" << i << "'s view "
                                                      << in.getType() << ", found " << arg.getType();
  }
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield) return emitOpError("expected the body to end with bmck.yield");
  if (body.getOperations().size() < 2) return emitOpError("expected at least one elementwise op in the body");
  for (Operation &op : body.without_terminator()) {
    if (!isElementwiseMember(&op))
      return emitOpError("expected only bmc elementwise ops in the body, found '") << op.getName() << "'";
    if (&op == yield->getPrevNode()) continue;
    if (!op.getResult(0).hasOneUse())
      return emitOpError("expected every op but the last to have one use (its value is not stored), found '")
             << op.getName() << "' with " << std::distance(op.getUses().begin(), op.getUses().end());
  }
  if (yield.getValue().getDefiningOp() != yield->getPrevNode())
    return emitOpError("expected bmck.yield to return the value of the body's last op");
  auto rt = cast<RankedTensorType>(yield.getValue().getType());
  if (ViewType::of(rt) != getResult().getType())
    return emitOpError("expected the result to be the view of the yielded ") << rt << ", found "
                                                                            << getResult().getType();
  return success();
}
