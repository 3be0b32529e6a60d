//===- KernelDialect.cpp - bmck registration, the view type, verifiers ----===//

#include "dialects/KernelDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::bmck;

#include "dialects/KernelDialect.cpp.inc"

// `?x2x?x16xf32`: sizes (`?` where dynamic) x element type.
static ParseResult parseViewShape(AsmParser &parser, SmallVector<int64_t> &shape, Type &elementType) {
  return failure(parser.parseDimensionList(shape, /*allowDynamic=*/true, /*withTrailingX=*/true) ||
                 parser.parseType(elementType));
}

static void printViewShape(AsmPrinter &printer, ArrayRef<int64_t> shape, Type elementType) {
  for (int64_t d : shape) {
    if (ShapedType::isDynamic(d)) printer << "?";
    else printer << d;
    printer << "x";
  }
  printer << elementType;
}

#define GET_TYPEDEF_CLASSES
#include "dialects/KernelTypes.cpp.inc"

#include "dialects/KernelEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/KernelAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/KernelOps.cpp.inc"

void BmckDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/KernelTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/KernelAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/KernelOps.cpp.inc"
      >();
}

static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i) s += ", ";
    s += ShapedType::isDynamic(d) ? "?" : std::to_string(d);
  }
  return s + "]";
}

LogicalResult ViewType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
                               Type elementType) {
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d) && d < 0)
      return emitError() << "bmck.view: expected sizes >= 0 or ?, found " << shapeStr(shape);
  if (!llvm::isa<IntegerType, FloatType>(elementType))
    return emitError() << "bmck.view: expected an integer or float element type, found " << elementType;
  return success();
}

/// The seams keep sizes and element type: a view of a tensor's storage.
static LogicalResult verifySeam(Operation *op, RankedTensorType t, ViewType v) {
  if (t.getShape() != v.getShape() || t.getElementType() != v.getElementType())
    return op->emitOpError("expected the view and the tensor to have the same sizes and element type, found ")
           << v << " and " << t;
  return success();
}

LogicalResult ToViewOp::verify() {
  return verifySeam(*this, cast<RankedTensorType>(getTensor().getType()), getView().getType());
}

LogicalResult ToTensorOp::verify() {
  return verifySeam(*this, cast<RankedTensorType>(getTensor().getType()), getView().getType());
}

/// [?, heads, ?, head_dim] of the cache's element type, or an error naming it.
static LogicalResult verifyCacheView(Operation *op, bmc::KVCacheType cache, ViewType v, StringRef what) {
  ArrayRef<int64_t> s = v.getShape();
  if (s.size() != 4 || s[1] != cache.getHeads() || s[3] != cache.getHeadDim() || !ShapedType::isDynamic(s[2]) ||
      v.getElementType() != cache.getElementType())
    return op->emitOpError("expected ")
           << what << " [batch, " << cache.getHeads() << ", ?, " << cache.getHeadDim() << "] of "
           << cache.getElementType() << " (the cache " << cache << "), found " << v;
  return success();
}

LogicalResult KVRowsOp::verify() {
  return verifyCacheView(*this, getCache().getType(), getRows().getType(), "the valid rows");
}

LogicalResult KVAppendOp::verify() {
  bmc::KVCacheType cache = getCache().getType();
  ViewType rows = getRows().getType(), present = getPresent().getType();
  Type ct = cache.getElementType(), rt = rows.getElementType();
  ArrayRef<int64_t> r = rows.getShape();
  auto agrees = [](int64_t d, int64_t want) { return ShapedType::isDynamic(d) || d == want; };
  if (r.size() != 4 || !agrees(r[1], cache.getHeads()) || !agrees(r[3], cache.getHeadDim()))
    return emitOpError("expected rows [batch, ")
           << cache.getHeads() << ", seq, " << cache.getHeadDim() << "] (the cache " << cache << "), found " << rows;
  // f32 rows into a bf16/f16 cache are rounded as written; nothing else converts.
  if (rt != ct && !(rt.isF32() && (ct.isBF16() || ct.isF16())))
    return emitOpError("expected rows of ") << ct << (ct.isBF16() || ct.isF16() ? " or f32" : "")
                                            << " (the cache " << cache << "), found " << rows;
  if (failed(verifyCacheView(*this, cache, present, "the present view")))
    return failure();
  if (!ShapedType::isDynamic(r[0]) && !ShapedType::isDynamic(present.getShape()[0]) &&
      r[0] != present.getShape()[0])
    return emitOpError("expected the present view's batch to be the rows' batch, found ")
           << present.getShape()[0] << " and " << r[0];
  return success();
}

/// The checks bmc.attention's type inference makes, on views, plus the
/// result and the padded length: what a kernel needs to read no further than
/// its operands say.
LogicalResult AttentionOp::verify() {
  ViewType q = getQ().getType(), k = getK().getType(), v = getV().getType(), out = getResult().getType();
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return emitOpError("expected 4-D q, k and v ([batch, heads, seq, head_dim]), found ")
           << q << ", " << k << " and " << v;
  ArrayRef<int64_t> qs = q.getShape(), ks = k.getShape(), vs = v.getShape();
  auto known = [](int64_t a, int64_t b) { return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b); };
  if ((known(qs[0], ks[0]) && qs[0] != ks[0]) || (known(qs[0], vs[0]) && qs[0] != vs[0]) ||
      (known(ks[0], vs[0]) && ks[0] != vs[0])) {
    auto dim = [](int64_t d) { return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d); };
    return emitOpError("expected q, k and v of one batch, found ") << dim(qs[0]) << ", " << dim(ks[0]) << " and "
                                                                      << dim(vs[0]);
  }
  if (known(qs[1], ks[1]) && (ks[1] == 0 || qs[1] % ks[1]))
    return emitOpError("expected query heads to be a multiple of KV heads, found ")
           << qs[1] << " query heads and " << ks[1] << " KV heads";
  Type qt = q.getElementType(), kt = k.getElementType();
  if ((kt != qt && !(qt.isF32() && (kt.isBF16() || kt.isF16()))) || v.getElementType() != kt)
    return emitOpError("expected q, k and v of one element type (or f32 q with bf16/f16 k and v), found ")
           << qt << ", " << kt << " and " << v.getElementType();
  if (known(ks[1], vs[1]) && ks[1] != vs[1])
    return emitOpError("expected k and v to have the same heads, found ") << ks[1] << " and " << vs[1];
  if (known(ks[2], vs[2]) && ks[2] != vs[2])
    return emitOpError("expected k and v to have the same length, found ") << ks[2] << " and " << vs[2];
  if (known(qs[3], ks[3]) && qs[3] != ks[3])
    return emitOpError("expected q and k head_dim to agree, found ") << qs[3] << " and " << ks[3];
  if (Value m = getMask()) {
    auto mt = cast<ViewType>(m.getType());
    SmallVector<int64_t, 4> scores{qs[0], qs[1], qs[2], ks[2]};
    bool ok = mt.getRank() <= 4 && mt.getElementType() == qt;
    for (int64_t i = 0, off = 4 - mt.getRank(); ok && i < mt.getRank(); ++i) {
      int64_t d = mt.getShape()[i], want = scores[off + i];
      ok = !known(d, want) || d == want || d == 1;
    }
    if (!ok)
      return emitOpError("expected a mask of element type ")
             << qt << " that broadcasts to the scores " << shapeStr(scores) << ", found " << mt;
  }
  SmallVector<int64_t, 4> want{qs[0], qs[1], qs[2], vs[3]};
  bool resultOk = out.getRank() == 4 && out.getElementType() == qt;
  for (int64_t i = 0; resultOk && i < 4; ++i) resultOk = !known(out.getShape()[i], want[i]) || out.getShape()[i] == want[i];
  if (!resultOk)
    return emitOpError("expected the result ") << shapeStr(want) << " of " << qt << ", found " << out;
  if (getPadded() && getPadding() != bmc::KVPadding::Mask)
    return emitOpError("expected no padded length with padding = ")
           << bmc::stringifyKVPadding(getPadding()) << " (the spare rows are skipped, not read)";
  float cap = getSoftcap().convertToFloat();
  if (!std::isfinite(cap) || cap < 0.0f)
    return emitOpError() << "attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found " << cap;
  return success();
}

/// `weight` names a constant 2-D matrix: the right operand's view is 2-D with
/// sizes known at compile time (a target reads its own copy in its place).
static LogicalResult verifyWeightOperand(Operation *op, std::optional<StringRef> weight, ViewType rhs,
                                         StringRef operand) {
  if (!weight) return success();
  if (weight->empty()) return op->emitOpError("attribute 'weight': expected a weight's name, found \"\"");
  if (rhs.getRank() != 2 || rhs.isDynamicDim(0) || rhs.isDynamicDim(1))
    return op->emitOpError("expected ")
           << operand << " to be a 2-D view of static sizes when it reads the weight \"" << *weight << "\", found "
           << rhs;
  return success();
}

/// The result sizes agree with `want` where both are known.
static LogicalResult verifyResult(Operation *op, ViewType out, ArrayRef<int64_t> want, Type elem) {
  bool ok = out.getRank() == int64_t(want.size()) && out.getElementType() == elem;
  for (int64_t i = 0; ok && i < out.getRank(); ++i)
    ok = ShapedType::isDynamic(out.getShape()[i]) || ShapedType::isDynamic(want[i]) || out.getShape()[i] == want[i];
  if (!ok) return op->emitOpError("expected the result ") << shapeStr(want) << " of " << elem << ", found " << out;
  return success();
}

/// bmc.matmul's type inference, on views: numpy promotion of 1-D operands,
/// broadcast batch dimensions, one element type.
LogicalResult MatMulOp::verify() {
  ViewType a = getLhs().getType(), b = getRhs().getType();
  if (a.getElementType() != b.getElementType())
    return emitOpError("expected lhs and rhs of one element type, found ") << a << " and " << b;
  if (a.getRank() < 1 || b.getRank() < 1)
    return emitOpError("expected lhs and rhs of rank >= 1, found ") << a << " and " << b;
  SmallVector<int64_t> as(a.getShape()), bs(b.getShape());
  bool aVec = as.size() == 1, bVec = bs.size() == 1;
  if (aVec) as.insert(as.begin(), 1);
  if (bVec) bs.push_back(1);
  int64_t ka = as.back(), kb = bs[bs.size() - 2];
  if (!ShapedType::isDynamic(ka) && !ShapedType::isDynamic(kb) && ka != kb)
    return emitOpError("expected the contraction dimensions to agree, found ")
           << ka << " (lhs " << a << ") and " << kb << " (rhs " << b << ")";
  SmallVector<int64_t> want;
  std::string why;
  if (failed(bmc::broadcastShapes(ArrayRef<int64_t>(as).drop_back(2), ArrayRef<int64_t>(bs).drop_back(2), want, why)))
    return emitOpError("expected batch dimensions that broadcast: ") << why;
  if (!aVec) want.push_back(as[as.size() - 2]);
  if (!bVec) want.push_back(bs.back());
  if (failed(verifyResult(*this, getResult().getType(), want, a.getElementType()))) return failure();
  return verifyWeightOperand(*this, getWeight(), b, "rhs");
}

/// bmc.gemm's type inference, on views: 2-D a and b, inner dimensions after
/// the transposes, c broadcasting to [M, N].
LogicalResult GemmOp::verify() {
  ViewType a = getA().getType(), b = getB().getType();
  if (a.getRank() != 2 || b.getRank() != 2) return emitOpError("expected 2-D a and b, found ") << a << " and " << b;
  Type et = a.getElementType();
  for (Value v : {Value(getB()), Value(getC())})
    if (v && cast<ViewType>(v.getType()).getElementType() != et)
      return emitOpError("expected operands of element type ") << et << " (as a), found " << v.getType();
  int64_t m = getTransA() ? a.getShape()[1] : a.getShape()[0], ka = getTransA() ? a.getShape()[0] : a.getShape()[1];
  int64_t kb = getTransB() ? b.getShape()[1] : b.getShape()[0], n = getTransB() ? b.getShape()[0] : b.getShape()[1];
  if (!ShapedType::isDynamic(ka) && !ShapedType::isDynamic(kb) && ka != kb)
    return emitOpError("expected the inner dimensions to agree, found ") << ka << " and " << kb;
  SmallVector<int64_t> want{m, n};
  if (Value c = getC()) {
    SmallVector<int64_t> bc;
    std::string why;
    auto ct = cast<ViewType>(c.getType());
    if (failed(bmc::broadcastShapes(want, ct.getShape(), bc, why)) || bc.size() != 2)
      return emitOpError("expected c to broadcast to ") << shapeStr(want) << ", found " << ct;
  }
  if (failed(verifyResult(*this, getResult().getType(), want, et))) return failure();
  return verifyWeightOperand(*this, getWeight(), b, "b");
}

/// The result of a row kernel: the input's sizes (where both are known) and
/// element type.
static LogicalResult verifySameAsInput(Operation *op, ViewType in, ViewType out) {
  return verifyResult(op, out, in.getShape(), in.getElementType());
}

/// bmc.layer_norm's / bmc.rms_norm's type inference, on views: a float input,
/// `axis` in [0, rank) (the last one for RMS), a scale (and for a layer norm
/// an optional bias) of the input's type broadcasting to `input[axis:]`.
LogicalResult NormOp::verify() {
  ViewType in = getInput().getType();
  int64_t rank = in.getRank(), axis = getAxis();
  if (!isa<FloatType>(in.getElementType()))
    return emitOpError("expected a float input, found ") << in;
  if (rank < 1 || axis < 0 || axis >= rank)
    return emitOpError("attribute 'axis': expected a value in [0, ") << rank << "), found " << axis;
  bool rms = getKind() == NormKind::RMS;
  if (rms && axis != rank - 1)
    return emitOpError("attribute 'axis': expected the last dimension ") << rank - 1 << " with kind = rms, found "
                                                                         << axis;
  if (rms && getBias()) return emitOpError("expected no bias with kind = rms, found ") << getBias().getType();
  ArrayRef<int64_t> norm = in.getShape().drop_front(axis);
  for (auto [what, v] : {std::pair<StringRef, Value>{"scale", getScale()}, {"bias", getBias()}}) {
    if (!v) continue;
    auto p = cast<ViewType>(v.getType());
    bool ok = p.getElementType() == in.getElementType() && p.getRank() <= int64_t(norm.size());
    for (int64_t i = 0; ok && i < p.getRank(); ++i) {
      int64_t d = p.getShape()[p.getRank() - 1 - i], n = norm[norm.size() - 1 - i];
      ok = d == 1 || d == n || ShapedType::isDynamic(d) || ShapedType::isDynamic(n);
    }
    if (!ok)
      return emitOpError("expected a ") << what << " of " << in.getElementType()
                                        << " broadcastable to the normalised dimensions " << shapeStr(norm)
                                        << ", found " << p;
  }
  float eps = getEpsilon().convertToFloat();
  if (!std::isfinite(eps) || eps < 0.0f)
    return emitOpError() << "attribute 'epsilon': expected a finite value >= 0, found " << eps;
  return verifySameAsInput(*this, in, getResult().getType());
}

/// bmc.softmax's, on views: a float input, `axis` in [0, rank).
LogicalResult SoftmaxOp::verify() {
  ViewType in = getInput().getType();
  if (!isa<FloatType>(in.getElementType())) return emitOpError("expected a float input, found ") << in;
  int64_t rank = in.getRank(), axis = getAxis();
  if (axis < 0 || axis >= rank)
    return emitOpError("attribute 'axis': expected a value in [0, ") << rank << "), found " << axis;
  return verifySameAsInput(*this, in, getResult().getType());
}

/// bmc.reduce_*'s, on views: sorted distinct axes in [0, rank), the result
/// sizes keepdims says, the input's element type.
LogicalResult ReduceOp::verify() {
  ViewType in = getInput().getType();
  ArrayRef<int64_t> axes = getAxes();
  SmallVector<bool> reduced(in.getRank(), axes.empty());
  for (auto [i, a] : llvm::enumerate(axes)) {
    if (a < 0 || a >= in.getRank() || (i && a <= axes[i - 1])) {
      std::string found;
      llvm::raw_string_ostream os(found);
      llvm::interleaveComma(axes, os);
      return emitOpError("attribute 'axes': expected sorted distinct values in [0, ")
             << in.getRank() << "), found [" << found << "]";
    }
    reduced[a] = true;
  }
  SmallVector<int64_t> want;
  for (int64_t i = 0; i < in.getRank(); ++i) {
    if (!reduced[i]) want.push_back(in.getShape()[i]);
    else if (getKeepdims()) want.push_back(1);
  }
  return verifyResult(*this, getResult().getType(), want, in.getElementType());
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

/// Sizes agree where both are known.
static bool sameSizes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size()) return false;
  for (auto [x, y] : llvm::zip(a, b))
    if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y) return false;
  return true;
}

bool mlir::bmck::isStorageView(Operation *op) {
  return isa<SliceOp, SplitOp, SqueezeOp, UnsqueezeOp, ExpandOp, TransposeOp, ReshapeOp, FlattenOp>(op);
}

static LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return op->emitOpError("attribute 'axis': expected a value in [0, ") << rank << "), found " << axis;
  return success();
}

/// bmc.slice's type inference, on views: distinct axes, one bound per axis;
/// the sliced dimensions' lengths are the emitter's (ONNX clamping at run time).
LogicalResult SliceOp::verify() {
  ViewType in = getInput().getType(), out = getResult().getType();
  ArrayRef<int64_t> axes = getAxes();
  SmallVector<bool> seen(in.getRank(), false);
  for (int64_t a : axes) {
    if (a < 0 || a >= in.getRank() || seen[a])
      return emitOpError("attribute 'axes': expected distinct axes in [0, ") << in.getRank() << "), found "
                                                                             << shapeStr(axes);
    seen[a] = true;
  }
  for (Value v : {getStarts(), getEnds(), getSteps()}) {
    auto t = cast<RankedTensorType>(v.getType());
    if (!t.isDynamicDim(0) && t.getDimSize(0) != int64_t(axes.size()))
      return emitOpError("expected starts, ends and steps of ")
             << axes.size() << " entries (one per axis), found " << t;
  }
  SmallVector<int64_t> want(in.getShape());
  for (int64_t a : axes) want[a] = ShapedType::kDynamic;
  return verifyResult(*this, out, want, in.getElementType());
}

LogicalResult SplitOp::verify() {
  ViewType in = getInput().getType();
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, in.getRank()))) return failure();
  ArrayRef<int64_t> sizes = getSizes();
  if (sizes.size() != getResults().size())
    return emitOpError("expected one size per result, found ")
           << sizes.size() << " sizes and " << getResults().size() << " results";
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return emitOpError("attribute 'sizes': expected sizes >= 0, found ") << shapeStr(sizes);
    total += s;
  }
  if (!in.isDynamicDim(axis) && total != in.getShape()[axis])
    return emitOpError("expected sizes that sum to ")
           << in.getShape()[axis] << " (dimension " << axis << "), found " << shapeStr(sizes) << " (sum " << total
           << ")";
  for (auto [r, s] : llvm::zip(getResults(), sizes)) {
    SmallVector<int64_t> want(in.getShape());
    want[axis] = s;
    if (failed(verifyResult(*this, cast<ViewType>(r.getType()), want, in.getElementType()))) return failure();
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty()) return emitOpError("expected at least one input, found none");
  auto t0 = cast<ViewType>(getInputs()[0].getType());
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, t0.getRank()))) return failure();
  SmallVector<int64_t> want(t0.getShape());
  for (auto [i, v] : llvm::enumerate(getInputs().drop_front())) {
    auto t = cast<ViewType>(v.getType());
    SmallVector<int64_t> a(t.getShape()), b(want);
    if (t.getRank() == t0.getRank()) a[axis] = b[axis] = 0;
    if (t.getElementType() != t0.getElementType() || !sameSizes(a, b))
      return emitOpError("expected input ")
             << i + 1 << " of element type " << t0.getElementType() << " and sizes " << shapeStr(t0.getShape())
             << " but along axis " << axis << " (as input 0), found " << t;
    int64_t x = want[axis], y = t.getShape()[axis];
    want[axis] = ShapedType::isDynamic(x) || ShapedType::isDynamic(y) ? ShapedType::kDynamic : x + y;
  }
  return verifyResult(*this, getResult().getType(), want, t0.getElementType());
}

LogicalResult GatherOp::verify() {
  ViewType data = getData().getType(), idx = getIndices().getType();
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, data.getRank()))) return failure();
  if (!idx.getElementType().isSignlessInteger(32) && !idx.getElementType().isSignlessInteger(64))
    return emitOpError("expected i32 or i64 indices, found ") << idx;
  SmallVector<int64_t> want(data.getShape().take_front(axis));
  want.append(idx.getShape().begin(), idx.getShape().end());
  want.append(data.getShape().begin() + axis + 1, data.getShape().end());
  return verifyResult(*this, getResult().getType(), want, data.getElementType());
}

/// Distinct axes in [0, rank), or an error naming them.
static LogicalResult verifyAxes(Operation *op, ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<bool> seen(rank, false);
  for (int64_t a : axes) {
    if (a < 0 || a >= rank || seen[a])
      return op->emitOpError("attribute 'axes': expected distinct axes in [0, ") << rank << "), found "
                                                                                 << shapeStr(axes);
    seen[a] = true;
  }
  return success();
}

/// bmc.squeeze's type inference, on views: the squeezed dimensions are 1
/// where known (else checked at run time).
LogicalResult SqueezeOp::verify() {
  ViewType in = getInput().getType();
  if (failed(verifyAxes(*this, getAxes(), in.getRank()))) return failure();
  SmallVector<int64_t> want;
  for (int64_t i = 0; i < in.getRank(); ++i) {
    int64_t d = in.getShape()[i];
    if (!llvm::is_contained(getAxes(), i)) want.push_back(d);
    else if (!ShapedType::isDynamic(d) && d != 1)
      return emitOpError("expected dimension ") << i << " of size 1 (a squeezed axis), found " << in;
  }
  return verifyResult(*this, getResult().getType(), want, in.getElementType());
}

/// bmc.unsqueeze's type inference, on views: `axes` index the result.
LogicalResult UnsqueezeOp::verify() {
  ViewType in = getInput().getType();
  int64_t rank = in.getRank() + int64_t(getAxes().size());
  if (failed(verifyAxes(*this, getAxes(), rank))) return failure();
  SmallVector<int64_t> want;
  for (int64_t i = 0, j = 0; i < rank; ++i) want.push_back(llvm::is_contained(getAxes(), i) ? 1 : in.getShape()[j++]);
  return verifyResult(*this, getResult().getType(), want, in.getElementType());
}

/// bmc.expand's type inference, on views: a shape of known length, the
/// result of rank max(input, shape); a known input size other than 1 stays.
LogicalResult ExpandOp::verify() {
  ViewType in = getInput().getType();
  auto st = cast<RankedTensorType>(getShape().getType());
  if (st.isDynamicDim(0)) return emitOpError("expected a shape of known length, found ") << st;
  int64_t n = st.getDimSize(0), rank = std::max<int64_t>(n, in.getRank());
  SmallVector<int64_t> want(rank, ShapedType::kDynamic);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t j = i - (rank - in.getRank());
    if (j >= 0 && !ShapedType::isDynamic(in.getShape()[j]) && in.getShape()[j] != 1) want[i] = in.getShape()[j];
  }
  return verifyResult(*this, getResult().getType(), want, in.getElementType());
}

/// bmc.transpose's type inference, on views.
LogicalResult TransposeOp::verify() {
  ViewType in = getInput().getType();
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<bool> seen(in.getRank(), false);
  bool ok = int64_t(perm.size()) == in.getRank();
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < in.getRank() && !seen[p];
    if (ok) seen[p] = true;
  }
  if (!ok)
    return emitOpError("attribute 'perm': expected a permutation of [0, ") << in.getRank() << "), found "
                                                                          << shapeStr(perm);
  SmallVector<int64_t> want;
  for (int64_t p : perm) want.push_back(in.getShape()[p]);
  return verifyResult(*this, getResult().getType(), want, in.getElementType());
}

/// A shape of the result's rank; equal element counts where both are static
/// (the rest, 0 and -1 entries included, is checked at run time).
LogicalResult ReshapeOp::verify() {
  ViewType in = getInput().getType(), out = getResult().getType();
  auto st = cast<RankedTensorType>(getShape().getType());
  if (st.isDynamicDim(0) || st.getDimSize(0) != out.getRank())
    return emitOpError("expected a shape of ") << out.getRank() << " entries (the result's rank), found " << st;
  if (in.getElementType() != out.getElementType())
    return emitOpError("expected a result of element type ") << in.getElementType() << ", found " << out;
  auto count = [](ArrayRef<int64_t> s) -> std::optional<int64_t> {
    int64_t n = 1;
    for (int64_t d : s)
      if (ShapedType::isDynamic(d) || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
    return n;
  };
  auto a = count(in.getShape()), b = count(out.getShape());
  if (a && b && *a != *b)
    return emitOpError("expected a result of ") << *a << " elements (the input " << in << "), found " << out;
  return success();
}

/// bmc.flatten's type inference, on views.
LogicalResult FlattenOp::verify() {
  ViewType in = getInput().getType();
  int64_t axis = getAxis();
  if (axis < 0 || axis > in.getRank())
    return emitOpError("attribute 'axis': expected a value in [0, ") << in.getRank() << "], found " << axis;
  auto prod = [&](int64_t b, int64_t e) {
    int64_t p = 1;
    for (int64_t i = b; i < e; ++i)
      if (ShapedType::isDynamic(in.getShape()[i]) || __builtin_mul_overflow(p, in.getShape()[i], &p))
        return ShapedType::kDynamic;
    return p;
  };
  return verifyResult(*this, getResult().getType(), {prod(0, axis), prod(axis, in.getRank())}, in.getElementType());
}

LogicalResult CopyOp::verify() {
  ViewType in = getInput().getType();
  return verifyResult(*this, getResult().getType(), in.getShape(), in.getElementType());
}

bool mlir::bmck::isKnownContiguous(Value view) {
  Operation *d = view.getDefiningOp();
  if (!d) return false; // a view argument: its caller's strides
  // A kernel's result is a new row-major view; a reshape's is row-major.
  if (isa<ConcatOp, GatherOp, CopyOp, ElementwiseOp, MatMulOp, GemmOp, NormOp, SoftmaxOp, ReduceOp, AttentionOp, RangeOp,
          ReshapeOp, FlattenOp>(d))
    return true;
  // Size-1 dimensions dropped or added keep the others' strides.
  if (isa<SqueezeOp, UnsqueezeOp>(d)) return isKnownContiguous(d->getOperand(0));
  if (auto t = dyn_cast<TransposeOp>(d))
    return llvm::all_of(llvm::enumerate(t.getPerm()), [](auto e) { return int64_t(e.index()) == e.value(); }) &&
           isKnownContiguous(t.getInput());
  if (auto s = dyn_cast<SplitOp>(d)) return s.getAxis() == 0 && isKnownContiguous(s.getInput());
  if (auto tv = dyn_cast<ToViewOp>(d)) {
    // A graph input, a weight or a constant is stored row-major; anything
    // else still at tensor level may be a strided view of its own.
    Value t = tv.getTensor();
    if (isa<BlockArgument>(t)) return isa<RankedTensorType>(t.getType());
    return t.getDefiningOp<mlir::bmc::WeightOp>() || matchPattern(t, m_Constant());
  }
  return false;
}
