//===- LowerToKernelsAttention.cpp - the attention family -> bmck ----------===//
//
// bmc.attention becomes bmck.attention on views. Operands that a family
// already at the kernel level produced (the KV cache's bmck.kv_append) are
// read as the views inside their bmck.to_tensor seams, so the K/V seams of
// the KV family disappear; the others (q, the mask, K/V of kv-mode=concat)
// cross in through bmck.to_view. With padding = mask and K a KV cache's
// append, the cache's capacity (bmc.kv_capacity) becomes the op's padded
// length: the bound a target reads, instead of finding it from K's producer.
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct AttentionToKernel : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AttentionOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value q = viewOf(rw, op, adaptor.getQ()), k = viewOf(rw, op, adaptor.getK()), v = viewOf(rw, op, adaptor.getV());
    Value mask = adaptor.getMask() ? viewOf(rw, op, adaptor.getMask()) : Value();
    Value padded;
    if (op.getPadding() == KVPadding::Mask)
      if (auto app = k.getDefiningOp<bmck::KVAppendOp>()) padded = createLike<KVCapacityOp>(rw, op, app.getCache());
    auto resultType = cast<RankedTensorType>(op.getType());
    Value out = createLike<bmck::AttentionOp>(rw, op, bmck::ViewType::of(resultType), q, k, v, mask, padded,
                                              op.getScaleAttr(), op.getPaddingAttr(), op.getSoftcapAttr(),
                                              op.getSmoothSoftmaxAttr());
    replaceByView(rw, op, resultType, out);
    return success();
  }
};

} // namespace

void mlir::bmc::populateAttentionToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<AttentionToKernel>(patterns.getContext());
}
