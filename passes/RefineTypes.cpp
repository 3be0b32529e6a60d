//===- RefineTypes.cpp - make dimensions static where they became known ----===//

#include "passes/Passes.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_REFINETYPES
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

static Type moreStatic(Type current, Type inferred) {
  auto c = dyn_cast<RankedTensorType>(current), i = dyn_cast<RankedTensorType>(inferred);
  if (!c || !i || c.getRank() != i.getRank() || c.getElementType() != i.getElementType())
    return current;
  SmallVector<int64_t> shape(c.getShape());
  for (int64_t d = 0; d < c.getRank(); ++d)
    if (ShapedType::isDynamic(shape[d])) shape[d] = i.getDimSize(d);
  return RankedTensorType::get(shape, c.getElementType(), c.getEncoding());
}

bool mlir::bmc::refineResultTypes(Operation *op) {
  auto iface = dyn_cast<InferTypeOpInterface>(op);
  if (!iface) return false;
  SmallVector<Type> types;
  if (failed(iface.inferReturnTypes(op->getContext(), std::nullopt, op->getOperands(),
                                    op->getAttrDictionary(), op->getPropertiesStorage(),
                                    op->getRegions(), types)) ||
      types.size() != op->getNumResults())
    return false;
  bool changed = false;
  for (auto [r, t] : llvm::zip(op->getResults(), types)) {
    Type m = moreStatic(r.getType(), t);
    if (m != r.getType()) {
      r.setType(m);
      changed = true;
    }
  }
  return changed;
}

namespace {
struct RefineTypesPass : mlir::bmc::impl::RefineTypesBase<RefineTypesPass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    f.walk([](Operation *op) { refineResultTypes(op); });
    auto ret = cast<func::ReturnOp>(f.getBody().back().getTerminator());
    f.setFunctionType(FunctionType::get(f.getContext(), f.getArgumentTypes(),
                                        ret.getOperandTypes()));
  }
};
} // namespace
