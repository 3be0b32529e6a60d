//===- LowerToKernelsData.cpp - data movement -> bmck ---------------------===//
//
// The part of data movement every decoder has: bmc.slice, bmc.split,
// bmc.squeeze, bmc.unsqueeze, bmc.expand, bmc.transpose, bmc.reshape and
// bmc.flatten become view ops (bmck.slice, ..., bmck.transpose, bmck.reshape,
// bmck.flatten: a new offset, sizes and strides of the same storage, no
// code), bmc.concat and bmc.gather kernel ops that copy into a new view
// (bmck.concat, bmck.gather). A reshape / flatten reads its input as row-major
// elements: where the input is not known contiguous (bmck::isKnownContiguous)
// a bmck.copy comes first. Operands a moved family produced are read as the
// views inside their bmck.to_tensor seams, the others through bmck.to_view; a
// slice's bounds, an expansion's and a reshape's shape stay tensor-level shape
// values. An op whose values a view cannot carry (index elements: shape
// vectors) stays at tensor level, and so does a Transpose of a weight (through
// Casts and Transposes): the product reading it names the weight
// (findMatMulWeight) and the target makes its layout (movesDataToKernels).
//
//===----------------------------------------------------------------------===//

#include "passes/LowerToKernelsUtil.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::bmc;

static bool viewable(Type t) {
  auto rt = dyn_cast<RankedTensorType>(t);
  return rt && isa<IntegerType, FloatType>(rt.getElementType());
}

/// A weight's layout op: `v` is, through Casts and Transposes, a bmc.weight
/// (a Cast also as a group of one Cast behind its seams, which the
/// elementwise pattern may have made of it already).
static bool isWeightChain(Value v) {
  while (Operation *d = v.getDefiningOp()) {
    if (isa<WeightOp>(d)) return true;
    if (auto g = dyn_cast<bmck::ElementwiseOp>(d); g && g.getInputs().size() == 1 && isa<CastOp>(g.getRoot()) &&
                                                     g.getBody().front().getOperations().size() == 2) {
      v = g.getInputs()[0];
      continue;
    }
    if (!isa<CastOp, TransposeOp, bmck::ToTensorOp, bmck::ToViewOp>(d)) return false;
    v = d->getOperand(0);
  }
  return false;
}

bool mlir::bmc::movesDataToKernels(Operation *op) {
  if (!isa<SliceOp, SplitOp, ConcatOp, GatherOp, SqueezeOp, UnsqueezeOp, ExpandOp, TransposeOp, ReshapeOp, FlattenOp>(
          op))
    return false;
  if (!llvm::all_of(op->getResultTypes(), viewable)) return false;
  // A slice's bounds and an expansion's or reshape's shape are shape values, not views.
  if (auto s = dyn_cast<SliceOp>(op)) return viewable(s.getInput().getType());
  if (auto x = dyn_cast<ExpandOp>(op)) return viewable(x.getInput().getType());
  if (auto r = dyn_cast<ReshapeOp>(op)) return viewable(r.getInput().getType());
  if (auto t = dyn_cast<TransposeOp>(op); t && isWeightChain(t.getInput())) return false;
  return llvm::all_of(op->getOperandTypes(), viewable);
}

static bmck::ViewType viewType(Value v) { return bmck::ViewType::of(cast<RankedTensorType>(v.getType())); }

namespace {

struct SliceToKernel : OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SliceOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = viewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::SliceOp>(rw, op, viewType(op.getResult()), in, adaptor.getStarts(), adaptor.getEnds(),
                                          adaptor.getSteps(), op.getAxesAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

struct SplitToKernel : OpConversionPattern<SplitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SplitOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = viewOf(rw, op, adaptor.getInput());
    SmallVector<Type> types;
    for (Value r : op.getResults()) types.push_back(viewType(r));
    auto split = createLike<bmck::SplitOp>(rw, op, types, in, op.getAxisAttr(), op.getSizesAttr());
    SmallVector<Value> tensors;
    for (auto [r, v] : llvm::zip(op.getResults(), split.getResults()))
      tensors.push_back(createLike<bmck::ToTensorOp>(rw, op, r.getType(), v).getResult());
    rw.replaceOp(op, tensors);
    return success();
  }
};

struct ConcatToKernel : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ConcatOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    SmallVector<Value> ins;
    for (Value v : adaptor.getInputs()) ins.push_back(viewOf(rw, op, v));
    Value out = createLike<bmck::ConcatOp>(rw, op, viewType(op.getResult()), ins, op.getAxisAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

struct GatherToKernel : OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(GatherOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value data = viewOf(rw, op, adaptor.getData()), idx = viewOf(rw, op, adaptor.getIndices());
    Value out = createLike<bmck::GatherOp>(rw, op, viewType(op.getResult()), data, idx, op.getAxisAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

/// Squeeze and Unsqueeze: a view of the input with the same axes.
template <typename From, typename To> struct AxesViewToKernel : OpConversionPattern<From> {
  using OpConversionPattern<From>::OpConversionPattern;
  LogicalResult matchAndRewrite(From op, typename From::Adaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = viewOf(rw, op, adaptor.getInput());
    Value out = createLike<To>(rw, op, viewType(op.getResult()), in, op.getAxesAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

struct ExpandToKernel : OpConversionPattern<ExpandOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ExpandOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = viewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::ExpandOp>(rw, op, viewType(op.getResult()), in, adaptor.getShape());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

struct TransposeToKernel : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TransposeOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = viewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::TransposeOp>(rw, op, viewType(op.getResult()), in, op.getPermAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

/// A reshape's or flatten's input, copied into a new row-major view first
/// unless it is known to be one.
static Value contiguousViewOf(ConversionPatternRewriter &rw, Operation *op, Value t) {
  Value in = viewOf(rw, op, t);
  if (bmck::isKnownContiguous(in)) return in;
  return createLike<bmck::CopyOp>(rw, op, in.getType(), in);
}

struct ReshapeToKernel : OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ReshapeOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = contiguousViewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::ReshapeOp>(rw, op, viewType(op.getResult()), in, adaptor.getShape(),
                                            op.getAllowzeroAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

struct FlattenToKernel : OpConversionPattern<FlattenOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(FlattenOp op, OpAdaptor adaptor, ConversionPatternRewriter &rw) const override {
    Value in = contiguousViewOf(rw, op, adaptor.getInput());
    Value out = createLike<bmck::FlattenOp>(rw, op, viewType(op.getResult()), in, op.getAxisAttr());
    replaceByView(rw, op, op.getType(), out);
    return success();
  }
};

} // namespace

void mlir::bmc::populateDataToKernelPatterns(RewritePatternSet &patterns) {
  patterns.add<SliceToKernel, SplitToKernel, ConcatToKernel, GatherToKernel, AxesViewToKernel<SqueezeOp, bmck::SqueezeOp>,
               AxesViewToKernel<UnsqueezeOp, bmck::UnsqueezeOp>, ExpandToKernel, TransposeToKernel, ReshapeToKernel,
               FlattenToKernel>(patterns.getContext());
}
