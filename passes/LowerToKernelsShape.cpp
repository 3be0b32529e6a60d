//===- LowerToKernelsShape.cpp - kernels made from host scalars -> bmck -----===//
//
// bmc.range becomes bmck.range: a kernel that writes a new view from three
// shape values (0-D tensors still at tensor level, read as host scalars like
// a slice's bounds), the first op moved whose result no operand's view
// gives. Its view is read by the next kernel through the bmck.to_tensor seam
// (or directly, when that kernel's family moved: viewOf). A range of index
// elements (a view has none) stays at tensor level (movesShapeToKernels).
//
// ConstantOfShape and Trilu stay at tensor level: no decoder the tests
// generate or export keeps one after bmc-fold-shapes (docs/DESIGN.md).
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

bool mlir::bmc::movesShapeToKernels(Operation *op) {
  auto r = dyn_cast<RangeOp>(op);
  if (!r) return false;
  auto t = cast<RankedTensorType>(r.getType());
  return isa<IntegerType, FloatType>(t.getElementType());
}

namespace {

struct RangeToKernel : OpConversionPattern<RangeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RangeOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    auto view = bmck::ViewType::of(cast<RankedTensorType>(op.getType()));
    Value out = createLike<bmck::RangeOp>(rw, op, view, adaptor.getStart(), adaptor.getLimit(), adaptor.getDelta());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

} // namespace

void mlir::bmc::populateShapeToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<RangeToKernel>(patterns.getContext());
}
