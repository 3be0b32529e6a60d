//===- LowerToKernelsMatMul.cpp - the matrix products -> bmck --------------===//
//
// bmc.matmul becomes bmck.matmul and bmc.gemm bmck.gemm, on views: operands
// a moved family produced are read as the views inside their bmck.to_tensor
// seams, the others cross in through bmck.to_view. When the right operand is
// a constant weight (findMatMulWeight: through one Transpose and a widening
// Cast at most), the op names it in `weight`; whether and how that weight is
// packed stays the target's decision (the CPU emitter's weight plan).
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

static Type elemOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }

std::optional<MatMulWeight> mlir::bmc::findMatMulWeight(Value rhs) {
  MatMulWeight r;
  auto peelTranspose = [&](Value v) -> Value {
    if (auto t = v.getDefiningOp<TransposeOp>()) {
      auto p = t.getPerm();
      if (!r.transposed && p.size() == 2 && p[0] == 1 && p[1] == 0) {
        r.transposed = true;
        return t.getInput();
      }
    }
    return v;
  };
  rhs = peelTranspose(rhs);
  if (auto c = rhs.getDefiningOp<CastOp>(); c && elemOf(c.getResult()).isF32()) {
    Type from = elemOf(c.getInput());
    if (!from.isBF16() && !from.isF16()) return std::nullopt;
    r.narrow = from;
    rhs = peelTranspose(c.getInput());
  }
  auto w = rhs.getDefiningOp<WeightOp>();
  if (!w || cast<RankedTensorType>(w.getType()).getRank() != 2) return std::nullopt;
  Type et = elemOf(w.getResult());
  if (!r.narrow && (et.isBF16() || et.isF16())) r.narrow = et; // a 16-bit weight read directly
  if (r.narrow ? et != r.narrow : !et.isF32()) return std::nullopt;
  r.weight = w;
  return r;
}

/// The name of the weight `rhs` reads, or null.
static StringAttr weightName(Value rhs) {
  auto w = findMatMulWeight(rhs);
  return w ? w->weight.getNameAttr() : StringAttr();
}

namespace {

struct MatMulToKernel : OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MatMulOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value lhs = viewOf(rw, op, adaptor.getLhs()), rhs = viewOf(rw, op, adaptor.getRhs());
    auto resultType = cast<RankedTensorType>(op.getType());
    Value out = createLike<bmck::MatMulOp>(rw, op, bmck::ViewType::of(resultType), lhs, rhs,
                                           weightName(adaptor.getRhs()));
    replaceByView(rw, op, resultType, out);
    return success();
  }
};

struct GemmToKernel : OpConversionPattern<GemmOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(GemmOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value a = viewOf(rw, op, adaptor.getA()), b = viewOf(rw, op, adaptor.getB());
    Value c = adaptor.getC() ? viewOf(rw, op, adaptor.getC()) : Value();
    auto resultType = cast<RankedTensorType>(op.getType());
    Value out = createLike<bmck::GemmOp>(rw, op, bmck::ViewType::of(resultType), a, b, c, op.getAlphaAttr(),
                                         op.getBetaAttr(), op.getTransAAttr(), op.getTransBAttr(),
                                         weightName(adaptor.getB()));
    replaceByView(rw, op, resultType, out);
    return success();
  }
};

} // namespace

void mlir::bmc::populateMatMulToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<MatMulToKernel, GemmToKernel>(patterns.getContext());
}
