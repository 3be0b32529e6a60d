//===- LowerToKernelsUtil.h - shared by the bmc-lower-to-kernels patterns -*- C++ -*-===//
#ifndef BMC_PASSES_LOWERTOKERNELSUTIL_H
#define BMC_PASSES_LOWERTOKERNELSUTIL_H

#include "dialects/KernelDialect.h"
#include "passes/Passes.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::bmc {

/// The kernel ops replacing `op` keep its layer mark (bmc-mark-layers), so
/// code generation outlines the same layers.
template <typename OpT, typename... Args>
OpT createLike(ConversionPatternRewriter &rw, Operation *op, Args &&...args) {
  auto n = rw.create<OpT>(op->getLoc(), std::forward<Args>(args)...);
  if (Attribute layer = op->getAttr(kLayerAttrName)) n->setAttr(kLayerAttrName, layer);
  return n;
}

/// The view of tensor-level value `t` read by a kernel op replacing `op`:
/// the view inside `t`'s bmck.to_tensor seam when a family already moved
/// produced it (the seam folded away), else a new bmck.to_view.
inline Value viewOf(ConversionPatternRewriter &rw, Operation *op, Value t) {
  if (auto seam = t.getDefiningOp<bmck::ToTensorOp>()) return seam.getView();
  return createLike<bmck::ToViewOp>(rw, op, bmck::ViewType::of(cast<RankedTensorType>(t.getType())), t);
}

/// Replaces `op`'s one tensor result by kernel-level `view` through a
/// bmck.to_tensor seam of `type` (which the next moved family folds away).
inline void replaceByView(ConversionPatternRewriter &rw, Operation *op, Type type, Value view) {
  rw.replaceOp(op, createLike<bmck::ToTensorOp>(rw, op, type, view).getResult());
}

} // namespace mlir::bmc

#endif
