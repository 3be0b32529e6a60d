//===- LowerToKernels.cpp - tensor-level bmc -> kernel-level bmck ----------===//
//
// The driver of the first lowering stage: a partial conversion whose illegal
// ops are those of the families moved so far, each family's patterns in its
// own file (LowerToKernels<Family>.cpp). Everything else stays as it is.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_LOWERTOKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct LowerToKernelsPass : mlir::bmc::impl::LowerToKernelsBase<LowerToKernelsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<bmck::BmckDialect, BmcDialect, arith::ArithDialect, tensor::TensorDialect,
                           func::FuncDialect>();
    // The KV cache family (LowerToKernelsKV.cpp).
    target.addIllegalOp<KVAppendOp, KVPastOp>();
    // Attention (LowerToKernelsAttention.cpp).
    target.addIllegalOp<AttentionOp>();
    // The matrix products (LowerToKernelsMatMul.cpp).
    target.addIllegalOp<MatMulOp, GemmOp>();
    // Norms, softmax and reductions (LowerToKernelsNorm.cpp).
    target.addIllegalOp<LayerNormOp, RMSNormOp, SoftmaxOp, ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp,
                        ReduceProdOp>();
    // Data movement: slice, split, concat, gather, squeeze, unsqueeze, expand,
    // transpose, reshape, flatten (LowerToKernelsData.cpp).
    target.addDynamicallyLegalOp<SliceOp, SplitOp, ConcatOp, GatherOp, SqueezeOp, UnsqueezeOp, ExpandOp, TransposeOp,
                                 ReshapeOp, FlattenOp>(
        [](Operation *op) { return !movesDataToKernels(op); });
    // Kernels made from host scalars: range (LowerToKernelsShape.cpp).
    target.addDynamicallyLegalOp<RangeOp>([](Operation *op) { return !movesShapeToKernels(op); });
    // Elementwise groups (LowerToKernelsElementwise.cpp): the elementwise
    // ops outside a bmck.elementwise, but for the bmc.fused ones its
    // pattern erases and a packed 16-bit weight's Cast.
    target.addDynamicallyLegalDialect<BmcDialect>(isLegalForElementwiseGroups);
    RewritePatternSet patterns(ctx);
    populateKVToKernelPatterns(patterns);
    populateAttentionToKernelPatterns(patterns);
    populateMatMulToKernelPatterns(patterns);
    populateDataToKernelPatterns(patterns);
    populateShapeToKernelPatterns(patterns);
    populateNormToKernelPatterns(patterns);
    populateElementwiseToKernelPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns)))) return signalPassFailure();
    // The seams a moved family's pattern looked through (the K/V views of
    // bmck.kv_append read by bmck.attention) are left without uses.
    getOperation().walk([](bmck::ToTensorOp seam) {
      if (seam->use_empty()) seam->erase();
    });
  }
};

} // namespace
