//===- BmcOpsElementwise.cpp - elementwise op inference ---------------------===//
//
// Elementwise ops: operands broadcast (ONNX multidirectional broadcasting);
// comparisons and logic produce i1.
//
//===----------------------------------------------------------------------===//

#include "dialects/OpInference.h"

using namespace mlir;
using namespace mlir::bmc;
using namespace mlir::bmc::detail;

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


LogicalResult mlir::bmc::detail::inferUnary(std::optional<Location> loc, StringRef name, Value in,
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
