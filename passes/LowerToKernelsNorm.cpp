//===- LowerToKernelsNorm.cpp - norms, softmax, reductions -> bmck ----------===//
//
// bmc.layer_norm / bmc.rms_norm become bmck.norm (its `kind` says which),
// bmc.softmax bmck.softmax, bmc.reduce_{mean,sum,max,min,prod} bmck.reduce
// (`kind`, an enum, not one op per reduction). Operands a moved family
// produced are read as the views inside their bmck.to_tensor seams, the
// others cross in through bmck.to_view; each result goes back to tensor
// level through bmck.to_tensor (elementwise ops, not yet moved, read it).
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

namespace {

/// The new view `out`, as the tensor-level result of `op`.
void replaceWithView(ConversionPatternRewriter &rw, Operation *op, Value out) {
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  replaceByView(rw, op, resultType, out);
}

bmck::ViewType resultView(Operation *op) {
  return bmck::ViewType::of(cast<RankedTensorType>(op->getResult(0).getType()));
}

struct LayerNormToKernel : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LayerNormOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value x = viewOf(rw, op, adaptor.getInput()), scale = viewOf(rw, op, adaptor.getScale());
    Value bias = adaptor.getBias() ? viewOf(rw, op, adaptor.getBias()) : Value();
    auto kind = bmck::NormKindAttr::get(op.getContext(), bmck::NormKind::Layer);
    Value out = createLike<bmck::NormOp>(rw, op, resultView(op), x, scale, bias, kind, op.getAxisAttr(),
                                         op.getEpsilonAttr());
    replaceWithView(rw, op, out);
    return success();
  }
};

struct RMSNormToKernel : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(RMSNormOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value x = viewOf(rw, op, adaptor.getInput()), scale = viewOf(rw, op, adaptor.getScale());
    auto kind = bmck::NormKindAttr::get(op.getContext(), bmck::NormKind::RMS);
    int64_t last = cast<RankedTensorType>(op.getInput().getType()).getRank() - 1;
    Value out = createLike<bmck::NormOp>(rw, op, resultView(op), x, scale, Value(), kind,
                                         rw.getI64IntegerAttr(last), op.getEpsilonAttr());
    replaceWithView(rw, op, out);
    return success();
  }
};

struct SoftmaxToKernel : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value x = viewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::SoftmaxOp>(rw, op, resultView(op), x, op.getAxisAttr(), op.getLogAttr());
    replaceWithView(rw, op, out);
    return success();
  }
};

/// One pattern for the five tensor-level reductions: `Kind` is the enum case.
template <typename OpT, bmck::ReduceKind Kind>
struct ReduceToKernel : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpT>::OpAdaptor;
  LogicalResult matchAndRewrite(OpT op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value x = viewOf(rw, op, adaptor.getInput());
    // bmc's reductions accept axes in any order (the importer sorts them);
    // the kernel op has them sorted and distinct.
    SmallVector<int64_t> axes(op.getAxes());
    llvm::sort(axes);
    axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
    auto kind = bmck::ReduceKindAttr::get(op.getContext(), Kind);
    Value out = createLike<bmck::ReduceOp>(rw, op, resultView(op), x, kind, rw.getDenseI64ArrayAttr(axes),
                                           op.getKeepdimsAttr());
    replaceWithView(rw, op, out);
    return success();
  }
};

} // namespace

void mlir::bmc::populateNormToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<LayerNormToKernel, RMSNormToKernel, SoftmaxToKernel, ReduceToKernel<ReduceMeanOp, bmck::ReduceKind::Mean>,
               ReduceToKernel<ReduceSumOp, bmck::ReduceKind::Sum>, ReduceToKernel<ReduceMaxOp, bmck::ReduceKind::Max>,
               ReduceToKernel<ReduceMinOp, bmck::ReduceKind::Min>, ReduceToKernel<ReduceProdOp, bmck::ReduceKind::Prod>>(
      patterns.getContext());
}
