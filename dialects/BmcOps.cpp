//===- BmcOps.cpp - helpers, shape ops, op definitions ----------------------===//
//
// Type inference follows ONNX shape inference with symbolic dimensions: a
// static dimension is known, `?` is decided at run time. Inference failures are
// the ops' verifiers, so every message says what was expected and found. The
// op families are in BmcOps{Elementwise,NN,Data}.cpp.
//
//===----------------------------------------------------------------------===//

#include "dialects/OpInference.h"

using namespace mlir;
using namespace mlir::bmc;
using namespace mlir::bmc::detail;

std::string mlir::bmc::detail::shapeStr(ArrayRef<int64_t> s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += ShapedType::isDynamic(s[i]) ? std::string("?") : std::to_string(s[i]);
  }
  return r + "]";
}

RankedTensorType mlir::bmc::detail::ranked(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

LogicalResult mlir::bmc::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                                         SmallVectorImpl<int64_t> &out, std::string &why) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (ShapedType::isDynamic(da)) out[i] = db;
    else if (ShapedType::isDynamic(db)) out[i] = da;
    else {
      why = llvm::formatv("expected shapes that broadcast, found {0} and {1} (dimension {2} is "
                          "{3} vs {4})", shapeStr(a), shapeStr(b), i, da, db);
      return failure();
    }
  }
  return success();
}

bool mlir::bmc::shapesCompatible(Type a, Type b) {
  auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
  if (!ta || !tb) return a == b;
  if (ta.getElementType() != tb.getElementType() || ta.getRank() != tb.getRank()) return false;
  for (auto [x, y] : llvm::zip(ta.getShape(), tb.getShape()))
    if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y) return false;
  return true;
}

std::optional<int64_t> mlir::bmc::detail::knownInt(Value v) {
  APInt value;
  if (matchPattern(v, m_ConstantInt(&value))) return value.getSExtValue();
  return std::nullopt;
}

/// Elements of a small integer tensor (rank <= 1, static length) as far as
/// they are known: constants, tensor.from_elements, static dims read by
/// bmc.shape, and the integer arithmetic, concatenation, slicing and
/// reshaping that exporters build shapes with (e.g. Size(Shape(x)) - axis
/// feeding a ConstantOfShape). Unknown elements are kDyn. Evaluated while
/// types are inferred at import, so that a shape computed from static dims
/// gives a static result type before any folding pass has run.
static std::optional<SmallVector<int64_t>> knownElements(Value v, int depth) {
  auto type = ranked(v);
  if (!type || type.getRank() > 1 || !type.hasStaticShape() ||
      !type.getElementType().isSignlessIntOrIndex() || type.getElementType().isInteger(1))
    return std::nullopt;
  int64_t n = type.getNumElements();
  DenseIntElementsAttr attr;
  if (matchPattern(v, m_Constant(&attr))) {
    SmallVector<int64_t> r;
    for (const APInt &x : attr.getValues<APInt>()) r.push_back(x.getSExtValue());
    return r;
  }
  SmallVector<int64_t> r(n, kDyn);
  if (depth <= 0 || n > 64) return r;
  auto known = [&](Value x) { return knownElements(x, depth - 1); };
  Operation *op = v.getDefiningOp();
  if (!op) return r;
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    for (auto [i, e] : llvm::enumerate(fe.getElements()))
      if (auto c = knownInt(e)) r[i] = *c;
  } else if (auto s = dyn_cast<ShapeOp>(op)) {
    auto in = ranked(s.getInput());
    for (int64_t i = 0; i < n; ++i) r[i] = in.getDimSize(s.getStartAttr().getInt() + i);
  } else if (auto c = dyn_cast<ConstantOfShapeOp>(op)) {
    if (auto ia = dyn_cast<IntegerAttr>(c.getValue())) r.assign(n, ia.getValue().getSExtValue());
  } else if (isa<CastOp, ReshapeOp, SqueezeOp, UnsqueezeOp, FlattenOp>(op)) {
    // Same elements in the same order (an integer cast keeps shape values).
    if (auto in = known(op->getOperand(0)); in && (int64_t)in->size() == n) r = *in;
  } else if (auto cc = dyn_cast<ConcatOp>(op)) {
    SmallVector<int64_t> all;
    for (Value x : cc.getInputs()) {
      auto e = known(x);
      if (!e) return r;
      all.append(*e);
    }
    if ((int64_t)all.size() == n) r = all;
  } else if (auto g = dyn_cast<GatherOp>(op)) {
    auto data = known(g.getData()), idx = known(g.getIndices());
    if (data && idx && (int64_t)idx->size() == n)
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = (*idx)[i], d = data->size();
        if (ShapedType::isDynamic(k)) continue;
        if (k < 0) k += d;
        if (k >= 0 && k < d) r[i] = (*data)[k];
      }
  } else if (auto sl = dyn_cast<SliceOp>(op)) {
    auto data = known(sl.getInput());
    auto st = known(sl.getStarts()), en = known(sl.getEnds()), sp = known(sl.getSteps());
    if (data && st && en && sp && st->size() == 1 && en->size() == 1 && sp->size() == 1 &&
        !ShapedType::isDynamic((*st)[0]) && !ShapedType::isDynamic((*sp)[0]) && (*sp)[0] != 0) {
      int64_t d = data->size(), start = (*st)[0], step = (*sp)[0];
      if (d == 0) return r;
      if (start < 0) start += d;
      start = step > 0 ? std::clamp<int64_t>(start, 0, d) : std::clamp<int64_t>(start, 0, d - 1);
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = start + i * step;
        if (k >= 0 && k < d) r[i] = (*data)[k];
      }
    }
  } else if (isa<AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp>(op)) {
    auto a = known(op->getOperand(0)), b = known(op->getOperand(1));
    if (!a || !b || (a->size() != 1 && (int64_t)a->size() != n) || (b->size() != 1 && (int64_t)b->size() != n))
      return r;
    for (int64_t i = 0; i < n; ++i) {
      int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
      if (ShapedType::isDynamic(x) || ShapedType::isDynamic(y)) continue;
      if (isa<AddOp>(op)) r[i] = x + y;
      else if (isa<SubOp>(op)) r[i] = x - y;
      else if (isa<MulOp>(op)) r[i] = x * y;
      else if (isa<MinOp>(op)) r[i] = std::min(x, y);
      else if (isa<MaxOp>(op)) r[i] = std::max(x, y);
      else if (y != 0) r[i] = x / y; // ONNX integer Div truncates, as C++ does
    }
  } else if (isa<NegOp, AbsOp>(op)) {
    auto in = known(op->getOperand(0));
    if (!in || (int64_t)in->size() != n) return r;
    for (int64_t i = 0; i < n; ++i)
      if (!ShapedType::isDynamic((*in)[i])) r[i] = isa<NegOp>(op) ? -(*in)[i] : std::abs((*in)[i]);
  } else if (isa<ReduceProdOp, ReduceSumOp>(op) && n == 1) {
    // Size(x) is imported as the product of Shape(x).
    auto in = known(op->getOperand(0));
    if (!in || llvm::any_of(*in, ShapedType::isDynamic)) return r;
    int64_t acc = isa<ReduceProdOp>(op) ? 1 : 0;
    for (int64_t x : *in) acc = isa<ReduceProdOp>(op) ? acc * x : acc + x;
    r[0] = acc;
  }
  return r;
}

std::optional<SmallVector<int64_t>> mlir::bmc::getKnownShapeElements(Value shape) {
  auto type = ranked(shape);
  if (!type || type.getRank() > 1 || !type.hasStaticShape()) return std::nullopt;
  if (auto r = knownElements(shape, /*depth=*/8)) return r;
  return SmallVector<int64_t>(type.getNumElements(), kDyn);
}

/// Scalar (0-d or 1-element) integer constant.
std::optional<int64_t> mlir::bmc::detail::knownScalar(Value v) {
  if (auto e = getKnownShapeElements(v); e && e->size() == 1 && !ShapedType::isDynamic((*e)[0]))
    return (*e)[0];
  DenseIntElementsAttr attr;
  if (matchPattern(v, m_Constant(&attr)) && attr.getNumElements() == 1)
    return (*attr.getValues<APInt>().begin()).getSExtValue();
  return std::nullopt;
}

LogicalResult mlir::bmc::detail::fail(std::optional<Location> loc, const Twine &msg) {
  return emitOptionalError(loc, msg);
}

bool mlir::bmc::detail::isBool(Type t) { return t.isInteger(1); }

//===----------------------------------------------------------------------===//
// Shapes, weights
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (!getResult().getType().hasStaticShape())
    return emitOpError("expected a static shape for weight '")
           << getName() << "', found " << getResult().getType();
  return success();
}

LogicalResult ShapeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  int64_t rank = ranked(adaptor.getInput()).getRank();
  int64_t s = adaptor.getStartAttr().getInt(), e = adaptor.getEndAttr().getInt();
  if (s < 0 || e < s || e > rank)
    return fail(loc, llvm::formatv("bmc.shape: expected 0 <= start <= end <= rank {0}, found "
                                   "start {1}, end {2}", rank, s, e));
  out.push_back(RankedTensorType::get({e - s}, IntegerType::get(ctx, 64)));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ShapeOp)

OpFoldResult ShapeOp::fold(FoldAdaptor) {
  auto in = ranked(getInput());
  int64_t s = getStart(), e = getEnd();
  SmallVector<int64_t> dims(in.getShape().begin() + s, in.getShape().begin() + e);
  if (llvm::any_of(dims, ShapedType::isDynamic)) return {};
  return DenseIntElementsAttr::get(getType(), ArrayRef<int64_t>(dims));
}

LogicalResult ConstantOfShapeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                  Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto elems = getKnownShapeElements(adaptor.getShape());
  if (!elems)
    return fail(loc, llvm::formatv("bmc.constant_of_shape: expected a 1-D shape of static "
                                   "length, found {0}", adaptor.getShape().getType()));
  for (int64_t d : *elems)
    if (!ShapedType::isDynamic(d) && d < 0)
      return fail(loc, llvm::formatv("bmc.constant_of_shape: expected non-negative dimensions, "
                                     "found {0}", d));
  out.push_back(RankedTensorType::get(*elems, adaptor.getValue().getType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ConstantOfShapeOp)

LogicalResult RangeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  Type et = ranked(adaptor.getStart()).getElementType();
  if (ranked(adaptor.getLimit()).getElementType() != et ||
      ranked(adaptor.getDelta()).getElementType() != et)
    return fail(loc, llvm::formatv("bmc.range: expected start, limit and delta of one element "
                                   "type, found {0}, {1} and {2}", et,
                                   ranked(adaptor.getLimit()).getElementType(),
                                   ranked(adaptor.getDelta()).getElementType()));
  int64_t n = kDyn;
  auto s = knownScalar(adaptor.getStart()), l = knownScalar(adaptor.getLimit()),
       d = knownScalar(adaptor.getDelta());
  if (s && l && d && *d != 0 && et.isInteger())
    n = std::max<int64_t>(0, (*l - *s + *d + (*d > 0 ? -1 : 1)) / *d);
  out.push_back(RankedTensorType::get({n}, et));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(RangeOp)

#define GET_OP_CLASSES
#include "dialects/BmcOps.cpp.inc"
