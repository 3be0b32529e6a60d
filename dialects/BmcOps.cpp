//===- BmcOps.cpp - bmc op type inference, verification, folding ----------===//
//
// Type inference follows ONNX shape inference with symbolic dimensions:
// a static dimension is known, `?` is decided at run time. Inference failures
// are the ops' verifiers, so every message says what was expected and found.
//
//===----------------------------------------------------------------------===//

#include "dialects/BmcDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::bmc;

static constexpr int64_t kDyn = ShapedType::kDynamic;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static std::string shapeStr(ArrayRef<int64_t> s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += ShapedType::isDynamic(s[i]) ? std::string("?") : std::to_string(s[i]);
  }
  return r + "]";
}

static RankedTensorType ranked(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

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

static std::optional<int64_t> knownInt(Value v) {
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
static std::optional<int64_t> knownScalar(Value v) {
  if (auto e = getKnownShapeElements(v); e && e->size() == 1 && !ShapedType::isDynamic((*e)[0]))
    return (*e)[0];
  DenseIntElementsAttr attr;
  if (matchPattern(v, m_Constant(&attr)) && attr.getNumElements() == 1)
    return (*attr.getValues<APInt>().begin()).getSExtValue();
  return std::nullopt;
}

static LogicalResult fail(std::optional<Location> loc, const Twine &msg) {
  return emitOptionalError(loc, msg);
}

static bool isBool(Type t) { return t.isInteger(1); }

/// Defines isCompatibleReturnTypes for an op class: equal up to `?`.
#define BMC_COMPATIBLE_RETURN_TYPES(Op)                                                 \
  bool Op::isCompatibleReturnTypes(TypeRange l, TypeRange r) {                        \
    if (l.size() != r.size()) return false;                                           \
    for (auto [a, b] : llvm::zip(l, r))                                                \
      if (!shapesCompatible(a, b)) return false;                                       \
    return true;                                                                       \
  }

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

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

enum class ElemKind { Arith, Pow, Compare, Logical };

static LogicalResult inferBinary(std::optional<Location> loc, StringRef name, Value lhs,
                                 Value rhs, ElemKind kind, SmallVectorImpl<Type> &out) {
  auto a = ranked(lhs), b = ranked(rhs);
  if (!a || !b) return fail(loc, Twine(name) + ": expected ranked tensor operands");
  Type ea = a.getElementType(), eb = b.getElementType();
  if (kind == ElemKind::Logical && (!isBool(ea) || !isBool(eb)))
    return fail(loc, llvm::formatv("{0}: expected i1 operands, found {1} and {2}", name,
                                   a, b));
  if (kind != ElemKind::Pow && ea != eb)
    return fail(loc, llvm::formatv("{0}: expected operands of one element type, found {1} and "
                                   "{2}", name, a, b));
  SmallVector<int64_t> shape;
  std::string why;
  if (failed(broadcastShapes(a.getShape(), b.getShape(), shape, why)))
    return fail(loc, Twine(name) + ": " + why);
  Type et = (kind == ElemKind::Compare || kind == ElemKind::Logical)
                ? Type(IntegerType::get(lhs.getContext(), 1))
                : ea;
  out.push_back(RankedTensorType::get(shape, et));
  return success();
}

#define BMC_BINARY(Op, NAME, KIND)                                                     \
  LogicalResult Op::inferReturnTypes(MLIRContext *, std::optional<Location> loc,       \
                                     Adaptor adaptor, SmallVectorImpl<Type> &out) {    \
    return inferBinary(loc, NAME, adaptor.getLhs(), adaptor.getRhs(), ElemKind::KIND, out); \
  }                                                                                    \
  BMC_COMPATIBLE_RETURN_TYPES(Op)

BMC_BINARY(AddOp, "bmc.add", Arith)
BMC_BINARY(SubOp, "bmc.sub", Arith)
BMC_BINARY(MulOp, "bmc.mul", Arith)
BMC_BINARY(DivOp, "bmc.div", Arith)
BMC_BINARY(PowOp, "bmc.pow", Pow)
BMC_BINARY(MinOp, "bmc.min", Arith)
BMC_BINARY(MaxOp, "bmc.max", Arith)
BMC_BINARY(ModOp, "bmc.mod", Arith)
BMC_BINARY(EqualOp, "bmc.equal", Compare)
BMC_BINARY(LessOp, "bmc.less", Compare)
BMC_BINARY(LessEqualOp, "bmc.less_equal", Compare)
BMC_BINARY(GreaterOp, "bmc.greater", Compare)
BMC_BINARY(GreaterEqualOp, "bmc.greater_equal", Compare)
BMC_BINARY(AndOp, "bmc.and", Logical)
BMC_BINARY(OrOp, "bmc.or", Logical)
BMC_BINARY(XorOp, "bmc.xor", Logical)

enum class UnaryKind { Float, Numeric, Bool };

static LogicalResult inferUnary(std::optional<Location> loc, StringRef name, Value in,
                                UnaryKind kind, SmallVectorImpl<Type> &out) {
  auto t = ranked(in);
  Type et = t.getElementType();
  if (kind == UnaryKind::Float && !isa<FloatType>(et))
    return fail(loc, llvm::formatv("{0}: expected a float tensor, found {1}", name, t));
  if (kind == UnaryKind::Bool && !isBool(et))
    return fail(loc, llvm::formatv("{0}: expected an i1 tensor, found {1}", name, t));
  if (kind == UnaryKind::Numeric && isBool(et))
    return fail(loc, llvm::formatv("{0}: expected a numeric tensor, found {1}", name, t));
  out.push_back(t);
  return success();
}

#define BMC_UNARY(Op, NAME, KIND)                                                      \
  LogicalResult Op::inferReturnTypes(MLIRContext *, std::optional<Location> loc,       \
                                     Adaptor adaptor, SmallVectorImpl<Type> &out) {    \
    return inferUnary(loc, NAME, adaptor.getInput(), UnaryKind::KIND, out);            \
  }                                                                                    \
  BMC_COMPATIBLE_RETURN_TYPES(Op)

BMC_UNARY(NegOp, "bmc.neg", Numeric)
BMC_UNARY(AbsOp, "bmc.abs", Numeric)
BMC_UNARY(ExpOp, "bmc.exp", Float)
BMC_UNARY(LogOp, "bmc.log", Float)
BMC_UNARY(SqrtOp, "bmc.sqrt", Float)
BMC_UNARY(ReciprocalOp, "bmc.reciprocal", Float)
BMC_UNARY(TanhOp, "bmc.tanh", Float)
BMC_UNARY(ErfOp, "bmc.erf", Float)
BMC_UNARY(SigmoidOp, "bmc.sigmoid", Float)
BMC_UNARY(ReluOp, "bmc.relu", Numeric)
BMC_UNARY(CosOp, "bmc.cos", Float)
BMC_UNARY(SinOp, "bmc.sin", Float)
BMC_UNARY(FloorOp, "bmc.floor", Float)
BMC_UNARY(CeilOp, "bmc.ceil", Float)
BMC_UNARY(SignOp, "bmc.sign", Numeric)
BMC_UNARY(NotOp, "bmc.not", Bool)
BMC_UNARY(SoftplusOp, "bmc.softplus", Float)
BMC_UNARY(LeakyReluOp, "bmc.leaky_relu", Float)
BMC_UNARY(GeluOp, "bmc.gelu", Float)

LogicalResult CastOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                       Adaptor adaptor, SmallVectorImpl<Type> &out) {
  out.push_back(ranked(adaptor.getInput()).clone(adaptor.getTo()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(CastOp)

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType()) return getInput();
  return {};
}

LogicalResult ClipOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                       Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  for (Value b : {adaptor.getMin(), adaptor.getMax()})
    if (b && ranked(b).getElementType() != t.getElementType())
      return fail(loc, llvm::formatv("bmc.clip: expected bounds of element type {0}, found {1}",
                                     t.getElementType(), b.getType()));
  out.push_back(t);
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ClipOp)

LogicalResult WhereOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto c = ranked(adaptor.getCondition()), x = ranked(adaptor.getX()), y = ranked(adaptor.getY());
  if (x.getElementType() != y.getElementType())
    return fail(loc, llvm::formatv("bmc.where: expected x and y of one element type, found {0} "
                                   "and {1}", x, y));
  SmallVector<int64_t> s1, s2;
  std::string why;
  if (failed(broadcastShapes(c.getShape(), x.getShape(), s1, why)) ||
      failed(broadcastShapes(s1, y.getShape(), s2, why)))
    return fail(loc, "bmc.where: " + why);
  out.push_back(RankedTensorType::get(s2, x.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(WhereOp)

//===----------------------------------------------------------------------===//
// Matrix products, normalisation, reductions
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto a = ranked(adaptor.getLhs()), b = ranked(adaptor.getRhs());
  if (a.getElementType() != b.getElementType())
    return fail(loc, llvm::formatv("bmc.matmul: expected operands of one element type, found "
                                   "{0} and {1}", a, b));
  if (a.getRank() < 1 || b.getRank() < 1)
    return fail(loc, "bmc.matmul: expected operands of rank >= 1, found rank 0");
  SmallVector<int64_t> as(a.getShape()), bs(b.getShape());
  bool aVec = as.size() == 1, bVec = bs.size() == 1;
  if (aVec) as.insert(as.begin(), 1);
  if (bVec) bs.push_back(1);
  int64_t ka = as.back(), kb = bs[bs.size() - 2];
  if (!ShapedType::isDynamic(ka) && !ShapedType::isDynamic(kb) && ka != kb)
    return fail(loc, llvm::formatv("bmc.matmul: expected the contraction dimensions to agree, "
                                   "found {0} (lhs {1}) and {2} (rhs {3})", ka, a, kb, b));
  SmallVector<int64_t> batch;
  std::string why;
  if (failed(broadcastShapes(ArrayRef<int64_t>(as).drop_back(2),
                             ArrayRef<int64_t>(bs).drop_back(2), batch, why)))
    return fail(loc, "bmc.matmul: batch dimensions: " + why);
  if (!aVec) batch.push_back(as[as.size() - 2]);
  if (!bVec) batch.push_back(bs.back());
  out.push_back(RankedTensorType::get(batch, a.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(MatMulOp)

LogicalResult GemmOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                       Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto a = ranked(adaptor.getA()), b = ranked(adaptor.getB());
  if (a.getRank() != 2 || b.getRank() != 2)
    return fail(loc, llvm::formatv("bmc.gemm: expected 2-D A and B, found {0} and {1}", a, b));
  for (Value v : {adaptor.getB(), adaptor.getC()})
    if (v && ranked(v).getElementType() != a.getElementType())
      return fail(loc, llvm::formatv("bmc.gemm: expected operands of element type {0} (as A), "
                                     "found {1}", a.getElementType(), v.getType()));
  int64_t m = adaptor.getTransA() ? a.getDimSize(1) : a.getDimSize(0);
  int64_t ka = adaptor.getTransA() ? a.getDimSize(0) : a.getDimSize(1);
  int64_t kb = adaptor.getTransB() ? b.getDimSize(1) : b.getDimSize(0);
  int64_t n = adaptor.getTransB() ? b.getDimSize(0) : b.getDimSize(1);
  if (!ShapedType::isDynamic(ka) && !ShapedType::isDynamic(kb) && ka != kb)
    return fail(loc, llvm::formatv("bmc.gemm: expected the inner dimensions to agree, found {0} "
                                   "and {1}", ka, kb));
  SmallVector<int64_t> shape{m, n};
  if (Value c = adaptor.getC()) {
    SmallVector<int64_t> bc;
    std::string why;
    if (failed(broadcastShapes(shape, ranked(c).getShape(), bc, why)) || bc.size() != 2)
      return fail(loc, llvm::formatv("bmc.gemm: expected C to broadcast to {0}, found {1}",
                                     shapeStr(shape), c.getType()));
  }
  out.push_back(RankedTensorType::get(shape, a.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(GemmOp)

static LogicalResult checkAxis(std::optional<Location> loc, StringRef name, int64_t axis,
                               int64_t rank) {
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1))
    return fail(loc, llvm::formatv("{0}: expected an axis in [0, {1}), found {2}", name,
                                   std::max<int64_t>(rank, 1), axis));
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  if (failed(checkAxis(loc, "bmc.softmax", adaptor.getAxisAttr().getInt(), t.getRank())))
    return failure();
  return inferUnary(loc, "bmc.softmax", adaptor.getInput(), UnaryKind::Float, out);
}
BMC_COMPATIBLE_RETURN_TYPES(SoftmaxOp)

/// Scale and bias of a normalisation broadcast (unidirectionally) to the
/// normalised dimensions `input.shape[axis:]` and share the input's type.
static LogicalResult checkNormParam(std::optional<Location> loc, StringRef name, StringRef what,
                                    RankedTensorType in, int64_t axis, Value param) {
  if (!param) return success();
  auto p = ranked(param);
  ArrayRef<int64_t> norm = in.getShape().drop_front(axis);
  bool ok = p.getElementType() == in.getElementType() && p.getRank() <= (int64_t)norm.size();
  for (int64_t i = 0; ok && i < p.getRank(); ++i) {
    int64_t d = p.getDimSize(p.getRank() - 1 - i), n = norm[norm.size() - 1 - i];
    ok = d == 1 || d == n || ShapedType::isDynamic(d) || ShapedType::isDynamic(n);
  }
  if (!ok)
    return fail(loc, llvm::formatv("{0}: expected a {1} of {2} broadcastable to the normalised "
                                   "dimensions {3}, found {4}", name, what, in.getElementType(),
                                   shapeStr(norm), p));
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  int64_t axis = adaptor.getAxisAttr().getInt();
  if (failed(checkAxis(loc, "bmc.layer_norm", axis, t.getRank())) ||
      failed(checkNormParam(loc, "bmc.layer_norm", "scale", t, axis, adaptor.getScale())) ||
      failed(checkNormParam(loc, "bmc.layer_norm", "bias", t, axis, adaptor.getBias())))
    return failure();
  return inferUnary(loc, "bmc.layer_norm", adaptor.getInput(), UnaryKind::Float, out);
}
BMC_COMPATIBLE_RETURN_TYPES(LayerNormOp)

LogicalResult RMSNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  if (t.getRank() < 1)
    return fail(loc, llvm::formatv("bmc.rms_norm: expected an input of rank >= 1, found {0}", t));
  if (failed(checkNormParam(loc, "bmc.rms_norm", "scale", t, t.getRank() - 1, adaptor.getScale())))
    return failure();
  return inferUnary(loc, "bmc.rms_norm", adaptor.getInput(), UnaryKind::Float, out);
}
BMC_COMPATIBLE_RETURN_TYPES(RMSNormOp)

static LogicalResult inferReduce(std::optional<Location> loc, StringRef name, Value in,
                                 ArrayRef<int64_t> axes, bool keepdims,
                                 SmallVectorImpl<Type> &out) {
  auto t = ranked(in);
  SmallVector<bool> reduced(t.getRank(), axes.empty());
  for (int64_t a : axes) {
    if (a < 0 || a >= t.getRank())
      return fail(loc, llvm::formatv("{0}: expected axes in [0, {1}), found {2}", name,
                                     t.getRank(), a));
    reduced[a] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < t.getRank(); ++i) {
    if (!reduced[i]) shape.push_back(t.getDimSize(i));
    else if (keepdims) shape.push_back(1);
  }
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

#define BMC_REDUCE(Op, NAME)                                                           \
  LogicalResult Op::inferReturnTypes(MLIRContext *, std::optional<Location> loc,       \
                                     Adaptor adaptor, SmallVectorImpl<Type> &out) {    \
    return inferReduce(loc, NAME, adaptor.getInput(), adaptor.getAxes(),               \
                       adaptor.getKeepdims(), out);                                    \
  }                                                                                    \
  BMC_COMPATIBLE_RETURN_TYPES(Op)

BMC_REDUCE(ReduceMeanOp, "bmc.reduce_mean")
BMC_REDUCE(ReduceSumOp, "bmc.reduce_sum")
BMC_REDUCE(ReduceMaxOp, "bmc.reduce_max")
BMC_REDUCE(ReduceMinOp, "bmc.reduce_min")
BMC_REDUCE(ReduceProdOp, "bmc.reduce_prod")

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if ((int64_t)perm.size() != t.getRank())
    return fail(loc, llvm::formatv("bmc.transpose: expected perm of {0} entries (the input "
                                   "rank), found {1}", t.getRank(), perm.size()));
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= t.getRank() || seen[p])
      return fail(loc, llvm::formatv("bmc.transpose: expected a permutation of [0, {0}), found "
                                     "{1}", t.getRank(), shapeStr(perm)));
    seen[p] = true;
    shape.push_back(t.getDimSize(p));
  }
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(TransposeOp)

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  auto elems = getKnownShapeElements(adaptor.getShape());
  if (!elems)
    return fail(loc, llvm::formatv("bmc.reshape: expected a 1-D shape of static length, found "
                                   "{0}", adaptor.getShape().getType()));
  SmallVector<int64_t> shape(*elems);
  int64_t inferAt = -1, known = 1;
  bool allKnown = true;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (ShapedType::isDynamic(d)) { allKnown = false; continue; }
    if (d == 0 && !adaptor.getAllowzero()) {
      if ((int64_t)i >= t.getRank())
        return fail(loc, llvm::formatv("bmc.reshape: shape entry {0} is 0 (copy the input "
                                       "dimension): expected an input of rank > {0}, found {1}",
                                       i, t));
      d = t.getDimSize(i);
      if (ShapedType::isDynamic(d)) { allKnown = false; continue; }
    } else if (d == -1) {
      if (inferAt >= 0) return fail(loc, "bmc.reshape: expected at most one -1 in the shape, found two");
      inferAt = i;
      continue;
    } else if (d < -1) {
      return fail(loc, llvm::formatv("bmc.reshape: expected shape entries >= -1, found {0}", d));
    }
    known *= d;
  }
  if (inferAt >= 0) {
    shape[inferAt] = kDyn;
    if (allKnown && t.hasStaticShape() && known > 0) {
      if (t.getNumElements() % known)
        return fail(loc, llvm::formatv("bmc.reshape: expected a shape whose known entries "
                                       "divide {0} elements (the input {1}), found {2}",
                                       t.getNumElements(), shapeStr(t.getShape()),
                                       shapeStr(*elems)));
      shape[inferAt] = t.getNumElements() / known;
    }
  } else if (allKnown && t.hasStaticShape() && known != t.getNumElements()) {
    return fail(loc, llvm::formatv("bmc.reshape: expected {0} elements (the input {1}), found "
                                   "shape {2}", t.getNumElements(), shapeStr(t.getShape()),
                                   shapeStr(shape)));
  }
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ReshapeOp)

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  int64_t axis = adaptor.getAxisAttr().getInt();
  if (axis < 0 || axis > t.getRank())
    return fail(loc, llvm::formatv("bmc.flatten: expected an axis in [0, {0}], found {1}",
                                   t.getRank(), axis));
  auto prod = [&](int64_t b, int64_t e) {
    int64_t p = 1;
    for (int64_t i = b; i < e; ++i) {
      if (t.isDynamicDim(i)) return kDyn;
      p *= t.getDimSize(i);
    }
    return p;
  };
  out.push_back(RankedTensorType::get({prod(0, axis), prod(axis, t.getRank())},
                                      t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(FlattenOp)

LogicalResult SqueezeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  SmallVector<bool> drop(t.getRank(), false);
  for (int64_t a : adaptor.getAxes()) {
    if (a < 0 || a >= t.getRank())
      return fail(loc, llvm::formatv("bmc.squeeze: expected axes in [0, {0}), found {1}",
                                     t.getRank(), a));
    if (!t.isDynamicDim(a) && t.getDimSize(a) != 1)
      return fail(loc, llvm::formatv("bmc.squeeze: expected dimension {0} to be 1, found {1}", a,
                                     t.getDimSize(a)));
    drop[a] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < t.getRank(); ++i)
    if (!drop[i]) shape.push_back(t.getDimSize(i));
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(SqueezeOp)

LogicalResult UnsqueezeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  int64_t rank = t.getRank() + adaptor.getAxes().size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t a : adaptor.getAxes()) {
    if (a < 0 || a >= rank || inserted[a])
      return fail(loc, llvm::formatv("bmc.unsqueeze: expected distinct axes in [0, {0}), found "
                                     "{1}", rank, shapeStr(adaptor.getAxes())));
    inserted[a] = true;
  }
  SmallVector<int64_t> shape;
  int64_t j = 0;
  for (int64_t i = 0; i < rank; ++i) shape.push_back(inserted[i] ? 1 : t.getDimSize(j++));
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(UnsqueezeOp)

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto inputs = adaptor.getInputs();
  if (inputs.empty()) return fail(loc, "bmc.concat: expected at least one input, found none");
  auto t0 = ranked(inputs[0]);
  if (t0.getRank() == 0)
    return fail(loc, llvm::formatv("bmc.concat: expected inputs of rank >= 1, found {0}", t0));
  int64_t axis = adaptor.getAxisAttr().getInt();
  if (failed(checkAxis(loc, "bmc.concat", axis, t0.getRank()))) return failure();
  SmallVector<int64_t> shape(t0.getShape());
  for (auto [i, v] : llvm::enumerate(inputs.drop_front())) {
    auto t = ranked(v);
    if (t.getRank() != t0.getRank() || t.getElementType() != t0.getElementType())
      return fail(loc, llvm::formatv("bmc.concat: expected input {0} of rank {1} and element "
                                     "type {2} (as input 0), found {3}", i + 1, t0.getRank(),
                                     t0.getElementType(), t));
    for (int64_t d = 0; d < t.getRank(); ++d) {
      int64_t a = shape[d], b = t.getDimSize(d);
      if (d == axis) {
        shape[d] = (ShapedType::isDynamic(a) || ShapedType::isDynamic(b)) ? kDyn : a + b;
      } else if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b) {
        return fail(loc, llvm::formatv("bmc.concat: expected input {0} to have dimension {1} = "
                                       "{2} (as the inputs before it), found {3}", i + 1, d, a,
                                       b));
      } else if (ShapedType::isDynamic(a)) {
        shape[d] = b;
      }
    }
  }
  out.push_back(RankedTensorType::get(shape, t0.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ConcatOp)

LogicalResult ConcatOp::verify() { return success(); }

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType()) return getInputs()[0];
  return {};
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  int64_t axis = adaptor.getAxisAttr().getInt();
  if (failed(checkAxis(loc, "bmc.split", axis, t.getRank()))) return failure();
  int64_t total = 0;
  for (int64_t s : adaptor.getSizes()) {
    if (s < 0)
      return fail(loc, llvm::formatv("bmc.split: expected non-negative sizes, found {0}", s));
    total += s;
  }
  if (!t.isDynamicDim(axis) && total != t.getDimSize(axis))
    return fail(loc, llvm::formatv("bmc.split: expected sizes that sum to {0} (dimension {1}), "
                                   "found {2} (sum {3})", t.getDimSize(axis), axis,
                                   shapeStr(adaptor.getSizes()), total));
  for (int64_t s : adaptor.getSizes()) {
    SmallVector<int64_t> shape(t.getShape());
    shape[axis] = s;
    out.push_back(RankedTensorType::get(shape, t.getElementType()));
  }
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(SplitOp)

/// Static length of a slice, following ONNX's clamping, or kDyn.
static int64_t sliceLength(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (ShapedType::isDynamic(start) || ShapedType::isDynamic(end) || ShapedType::isDynamic(step))
    return kDyn;
  if (ShapedType::isDynamic(dim)) {
    // Without the dimension we still know the length of [s, e) when both are
    // non-negative and e cannot exceed... nothing: the dim may clamp it.
    return kDyn;
  }
  auto clamp = [](int64_t v, int64_t lo, int64_t hi) { return std::max(lo, std::min(v, hi)); };
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = clamp(start, 0, dim);
    end = clamp(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = clamp(start, 0, dim - 1);
  end = clamp(end, -1, dim - 1);
  return start > end ? (start - end - step - 1) / (-step) : 0;
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  ArrayRef<int64_t> axes = adaptor.getAxes();
  auto starts = getKnownShapeElements(adaptor.getStarts());
  auto ends = getKnownShapeElements(adaptor.getEnds());
  auto steps = getKnownShapeElements(adaptor.getSteps());
  if (!starts || !ends || !steps || starts->size() != axes.size() ||
      ends->size() != axes.size() || steps->size() != axes.size())
    return fail(loc, llvm::formatv("bmc.slice: expected starts, ends and steps of {0} entries "
                                   "(one per axis), found {1}, {2} and {3}", axes.size(),
                                   adaptor.getStarts().getType(), adaptor.getEnds().getType(),
                                   adaptor.getSteps().getType()));
  SmallVector<int64_t> shape(t.getShape());
  SmallVector<bool> seen(t.getRank(), false);
  for (auto [i, a] : llvm::enumerate(axes)) {
    if (a < 0 || a >= t.getRank() || seen[a])
      return fail(loc, llvm::formatv("bmc.slice: expected distinct axes in [0, {0}), found {1}",
                                     t.getRank(), shapeStr(axes)));
    seen[a] = true;
    if ((*steps)[i] == 0) return fail(loc, "bmc.slice: expected non-zero steps, found 0");
    shape[a] = sliceLength(t.getDimSize(a), (*starts)[i], (*ends)[i], (*steps)[i]);
  }
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(SliceOp)

LogicalResult GatherOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto d = ranked(adaptor.getData()), idx = ranked(adaptor.getIndices());
  int64_t axis = adaptor.getAxisAttr().getInt();
  if (d.getRank() < 1)
    return fail(loc, "bmc.gather: expected data of rank >= 1, found rank 0");
  if (failed(checkAxis(loc, "bmc.gather", axis, d.getRank()))) return failure();
  SmallVector<int64_t> shape(d.getShape().take_front(axis));
  shape.append(idx.getShape().begin(), idx.getShape().end());
  shape.append(d.getShape().begin() + axis + 1, d.getShape().end());
  out.push_back(RankedTensorType::get(shape, d.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(GatherOp)

LogicalResult ExpandOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  auto elems = getKnownShapeElements(adaptor.getShape());
  if (!elems)
    return fail(loc, llvm::formatv("bmc.expand: expected a 1-D shape of static length, found {0}",
                                   adaptor.getShape().getType()));
  // An unknown target entry broadcasts with the input as if it were `?`,
  // except that a target of 1 keeps the input dimension.
  SmallVector<int64_t> target(*elems), shape;
  for (int64_t d : target)
    if (!ShapedType::isDynamic(d) && d < 0)
      return fail(loc, llvm::formatv("bmc.expand: expected non-negative target dimensions, "
                                     "found {0}", shapeStr(target)));
  std::string why;
  if (failed(broadcastShapes(t.getShape(), target, shape, why)))
    return fail(loc, "bmc.expand: " + why);
  size_t off = shape.size() - target.size();
  for (size_t i = 0; i < target.size(); ++i)
    if (ShapedType::isDynamic(target[i])) {
      size_t ii = off + i;
      int64_t in = ii >= shape.size() - t.getRank() ? t.getDimSize(ii - (shape.size() - t.getRank())) : 1;
      shape[ii] = (!ShapedType::isDynamic(in) && in != 1) ? in : kDyn;
    }
  out.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ExpandOp)

LogicalResult TriluOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  if (t.getRank() < 2)
    return fail(loc, llvm::formatv("bmc.trilu: expected rank >= 2, found {0}", t.getRank()));
  out.push_back(t);
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(TriluOp)

//===----------------------------------------------------------------------===//
// Attention and the KV cache
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto q = ranked(adaptor.getQ()), k = ranked(adaptor.getK()), v = ranked(adaptor.getV());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return fail(loc, llvm::formatv("bmc.attention: expected 4-D q, k, v "
                                   "([batch, heads, seq, head_dim]), found {0}, {1}, {2}",
                                   q, k, v));
  int64_t h = q.getDimSize(1), hk = k.getDimSize(1);
  if (!ShapedType::isDynamic(h) && !ShapedType::isDynamic(hk) && (hk == 0 || h % hk))
    return fail(loc, llvm::formatv("bmc.attention: expected query heads to be a multiple of KV "
                                   "heads, found {0} query heads and {1} KV heads", h, hk));
  if (k.getElementType() != q.getElementType() || v.getElementType() != q.getElementType())
    return fail(loc, llvm::formatv("bmc.attention: expected q, k and v of one element type, "
                                   "found {0}, {1} and {2}", q.getElementType(),
                                   k.getElementType(), v.getElementType()));
  if (k.getDimSize(1) != v.getDimSize(1) && !k.isDynamicDim(1) && !v.isDynamicDim(1))
    return fail(loc, llvm::formatv("bmc.attention: expected k and v to have the same heads, "
                                   "found {0} and {1}", k.getDimSize(1), v.getDimSize(1)));
  if (k.getDimSize(2) != v.getDimSize(2) && !k.isDynamicDim(2) && !v.isDynamicDim(2))
    return fail(loc, llvm::formatv("bmc.attention: expected k and v to have the same length, "
                                   "found {0} and {1}", k.getDimSize(2), v.getDimSize(2)));
  int64_t dq = q.getDimSize(3), dk = k.getDimSize(3);
  if (!ShapedType::isDynamic(dq) && !ShapedType::isDynamic(dk) && dq != dk)
    return fail(loc, llvm::formatv("bmc.attention: expected q and k head_dim to agree, found "
                                   "{0} and {1}", dq, dk));
  StringRef pad = adaptor.getPadding();
  if (pad != "skip" && pad != "mask")
    return fail(loc, llvm::formatv("bmc.attention: expected padding \"skip\" or \"mask\", found "
                                   "\"{0}\"", pad));
  if (Value m = adaptor.getMask()) {
    auto mt = ranked(m);
    SmallVector<int64_t> scores{q.getDimSize(0), h, q.getDimSize(2), k.getDimSize(2)}, bc;
    std::string why;
    if (mt.getRank() > 4 || mt.getElementType() != q.getElementType() ||
        failed(broadcastShapes(mt.getShape(), scores, bc, why)))
      return fail(loc, llvm::formatv("bmc.attention: expected a mask of element type {0} that "
                                     "broadcasts to the scores {1}, found {2}",
                                     q.getElementType(), shapeStr(scores), mt));
  }
  out.push_back(RankedTensorType::get(
      {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2), v.getDimSize(3)}, q.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(AttentionOp)

LogicalResult KVAppendOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto cache = cast<KVCacheType>(adaptor.getCache().getType());
  auto rows = ranked(adaptor.getRows());
  if (rows.getRank() != 4 || rows.getElementType() != cache.getElementType() ||
      (!rows.isDynamicDim(1) && rows.getDimSize(1) != cache.getHeads()) ||
      (!rows.isDynamicDim(3) && rows.getDimSize(3) != cache.getHeadDim()))
    return fail(loc, llvm::formatv("bmc.kv_append: expected rows [batch, {0}, seq, {1}] of {2}, "
                                   "found {3}", cache.getHeads(), cache.getHeadDim(),
                                   cache.getElementType(), rows));
  out.push_back(RankedTensorType::get(
      {rows.getDimSize(0), cache.getHeads(), kDyn, cache.getHeadDim()}, cache.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(KVAppendOp)

LogicalResult KVPastOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto cache = cast<KVCacheType>(adaptor.getCache().getType());
  out.push_back(RankedTensorType::get({kDyn, cache.getHeads(), kDyn, cache.getHeadDim()},
                                      cache.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(KVPastOp)

#define GET_OP_CLASSES
#include "dialects/BmcOps.cpp.inc"
