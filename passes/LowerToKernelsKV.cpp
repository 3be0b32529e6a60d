//===- LowerToKernelsKV.cpp - the KV cache family -> bmck ------------------===//
//
// bmc.kv_append becomes bmck.kv_append (one kernel: the rows written after
// the valid ones, the view of the valid rows returned), bmc.kv_past becomes
// bmck.kv_rows (a view, no code). Their tensor operands and results cross
// into and out of the kernel level through bmck.to_view / bmck.to_tensor
// until the families around them (attention, the projections) move too.
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct KVAppendToKernel : OpConversionPattern<KVAppendOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(KVAppendOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    auto presentType = cast<RankedTensorType>(op.getType());
    // New rows an elementwise group computed (rotary) are read as its view.
    Value rows = viewOf(rw, op, adaptor.getRows());
    Value view = createLike<bmck::KVAppendOp>(rw, op, bmck::ViewType::of(presentType), adaptor.getCache(), rows);
    replaceByView(rw, op, presentType, view);
    return success();
  }
};

struct KVPastToKernel : OpConversionPattern<KVPastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(KVPastOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    auto pastType = cast<RankedTensorType>(op.getType());
    Value view = createLike<bmck::KVRowsOp>(rw, op, bmck::ViewType::of(pastType), adaptor.getCache());
    replaceByView(rw, op, pastType, view);
    return success();
  }
};

} // namespace

void mlir::bmc::populateKVToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<KVAppendToKernel, KVPastToKernel>(patterns.getContext());
}
