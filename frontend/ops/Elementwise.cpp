//===- Elementwise.cpp - import elementwise ONNX ops -----------------------===//

#include "frontend/ImportContext.h"

using namespace mlir;

namespace bmc {

template <typename OpT>
static LogicalResult binary(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({}))) return failure();
  return n.setOutput(n.make<OpT>({n.in(0), n.in(1)}));
}

static LogicalResult modOp(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({"fmod"}))) return failure();
  auto fmod = n.attrInt("fmod", 0);
  if (failed(fmod)) return failure();
  if (*fmod != 0 && *fmod != 1) return n.error("attribute 'fmod': expected 0 or 1, found " + std::to_string(*fmod));
  if (*fmod == 0 && isa<FloatType>(n.type(0).getElementType()))
    return n.error("attribute 'fmod': expected 1 for floating-point inputs, found 0");
  return n.setOutput(n.make<mlir::bmc::ModOp>({n.in(0), n.in(1)}, {n.named("fmod", n.b.getBoolAttr(*fmod))}));
}

/// Variadic Min/Max/Sum/Mean as a chain of binary ops.
template <typename OpT>
static LogicalResult variadic(NodeImporter &n, bool mean = false) {
  if (failed(n.expectInputs(1, -1)) || failed(n.onlyAttrs({}))) return failure();
  Value acc = n.in(0);
  for (int i = 1; i < n.numInputs(); ++i) {
    auto r = n.make<OpT>({acc, n.in(i)});
    if (failed(r)) return failure();
    acc = *r;
  }
  if (mean && n.numInputs() > 1) {
    Type et = n.type(0).getElementType();
    auto r = n.make<mlir::bmc::DivOp>({acc, n.constScalar(et, n.numInputs())});
    if (failed(r)) return failure();
    acc = *r;
  }
  return n.setOutputs(acc);
}

template <typename OpT>
static LogicalResult unary(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({}))) return failure();
  return n.setOutput(n.make<OpT>({n.in(0)}));
}

static LogicalResult leakyRelu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"alpha"}))) return failure();
  auto alpha = n.attrFloat("alpha", 0.01f);
  if (failed(alpha)) return failure();
  return n.setOutput(n.make<mlir::bmc::LeakyReluOp>({n.in(0)}, {n.named("alpha", n.b.getF32FloatAttr(*alpha))}));
}

static LogicalResult gelu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"approximate"}))) return failure();
  auto approx = n.attrString("approximate", "none");
  if (failed(approx)) return failure();
  if (*approx != "none" && *approx != "tanh")
    return n.error("attribute 'approximate': expected \"none\" or \"tanh\", found \"" + *approx + "\"");
  return n.setOutput(n.make<mlir::bmc::GeluOp>(
      {n.in(0)}, {n.named("tanh_approximation", n.b.getBoolAttr(*approx == "tanh"))}));
}

static LogicalResult cast(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"to", "saturate"}))) return failure();
  auto to = n.attrInt("to", std::nullopt);
  if (failed(to)) return failure();
  Type et = onnxElementType(n.ctx, *to);
  if (!et)
    return n.error(std::string("attribute 'to': expected a numeric ONNX data type, found ") +
                   dtypeName(int32_t(*to)) + " (" + std::to_string(*to) + ")");
  return n.setOutput(n.make<mlir::bmc::CastOp>({n.in(0)}, {n.named("to", TypeAttr::get(et))}));
}

/// CastLike: Cast to the element type of the second input (whose values
/// are not read).
static LogicalResult castLike(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({"saturate"}))) return failure();
  Type et = n.type(1).getElementType();
  return n.setOutput(n.make<mlir::bmc::CastOp>({n.in(0)}, {n.named("to", TypeAttr::get(et))}));
}

static LogicalResult clip(NodeImporter &n) {
  SmallVector<Value> operands{n.in(0)};
  SmallVector<int32_t> seg{1, 0, 0};
  Type et = n.type(0) ? n.type(0).getElementType() : Type();
  if (n.opset < 11) {
    if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"min", "max"}))) return failure();
    auto lo = n.attrFloat("min", -3.4028234663852886e38f), hi = n.attrFloat("max", 3.4028234663852886e38f);
    if (failed(lo) || failed(hi)) return failure();
    operands.push_back(n.constScalar(et, *lo));
    operands.push_back(n.constScalar(et, *hi));
    seg = {1, 1, 1};
  } else {
    if (failed(n.expectInputs(1, 3)) || failed(n.onlyAttrs({}))) return failure();
    for (int i = 1; i < 3; ++i)
      if (n.has(i)) {
        Value v = n.in(i);
        if (n.type(i).getRank() != 0) {
          if (n.type(i).getNumElements() != 1)
            return n.error("input " + std::to_string(i) + ": expected a scalar bound, found " +
                           std::to_string(n.type(i).getNumElements()) + " elements");
          auto r = n.make<mlir::bmc::ReshapeOp>({v, n.constI64({})});
          if (failed(r)) return failure();
          v = *r;
        }
        operands.push_back(v);
        seg[i] = 1;
      }
  }
  auto op = n.create(mlir::bmc::ClipOp::getOperationName(), operands,
                     {n.named("operandSegmentSizes", n.b.getDenseI32ArrayAttr(seg))});
  if (failed(op)) return failure();
  return n.setOutputs((*op)->getResult(0));
}

static LogicalResult where(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)) || failed(n.onlyAttrs({}))) return failure();
  return n.setOutput(n.make<mlir::bmc::WhereOp>({n.in(0), n.in(1), n.in(2)}));
}

static LogicalResult identity(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({}))) return failure();
  return n.setOutputs(n.in(0));
}

/// Dropout at inference: the identity, and a mask of all true. Training
/// mode (random dropping) is not something bmc compiles.
static LogicalResult dropout(NodeImporter &n) {
  if (failed(n.expectInputs(1, 3)) || failed(n.expectOutputs(1, 2)) || failed(n.onlyAttrs({"seed", "ratio"})))
    return failure();
  if (n.has(2)) {
    DenseElementsAttr mode;
    if (!matchPattern(n.in(2), m_Constant(&mode)) || !mode.getElementType().isInteger(1) || !mode.isSplat())
      return n.error("input 'training_mode': expected a constant false (bmc compiles inference graphs), "
                     "found a value computed at run time");
    if (mode.getSplatValue<bool>())
      return n.error("input 'training_mode': expected false (bmc compiles inference graphs), found true");
  }
  if (n.node.output_size() < 2 || n.node.output(1).empty()) return n.setOutputs(n.in(0));
  int64_t rank = n.type(0).getRank();
  auto shape = n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(0)),
                                               n.named("end", n.b.getI64IntegerAttr(rank))});
  if (failed(shape)) return failure();
  auto mask = n.make<mlir::bmc::ConstantOfShapeOp>({*shape}, {n.named("value", n.b.getBoolAttr(true))});
  if (failed(mask)) return failure();
  return n.setOutputs({n.in(0), *mask});
}

/// IsNaN as `not (x == x)`: an ordered compare is false exactly for NaN
/// (generated code uses no fast-math flags that would fold it away).
static LogicalResult isNaN(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({}))) return failure();
  Type et = n.type(0).getElementType();
  if (!isa<FloatType>(et))
    return n.error(std::string("input 'X': expected a floating-point tensor, found ") +
                   std::string(llvm::formatv("{0}", et)));
  auto eq = n.make<mlir::bmc::EqualOp>({n.in(0), n.in(0)});
  if (failed(eq)) return failure();
  return n.setOutput(n.make<mlir::bmc::NotOp>({*eq}));
}

void registerElementwiseOps(OpTable &t) {
  t["Add"] = binary<mlir::bmc::AddOp>;
  t["Sub"] = binary<mlir::bmc::SubOp>;
  t["Mul"] = binary<mlir::bmc::MulOp>;
  t["Div"] = binary<mlir::bmc::DivOp>;
  t["Pow"] = binary<mlir::bmc::PowOp>;
  t["Mod"] = modOp;
  t["Equal"] = binary<mlir::bmc::EqualOp>;
  t["Less"] = binary<mlir::bmc::LessOp>;
  t["LessOrEqual"] = binary<mlir::bmc::LessEqualOp>;
  t["Greater"] = binary<mlir::bmc::GreaterOp>;
  t["GreaterOrEqual"] = binary<mlir::bmc::GreaterEqualOp>;
  t["And"] = binary<mlir::bmc::AndOp>;
  t["Or"] = binary<mlir::bmc::OrOp>;
  t["Xor"] = binary<mlir::bmc::XorOp>;
  t["Min"] = [](NodeImporter &n) { return variadic<mlir::bmc::MinOp>(n); };
  t["Max"] = [](NodeImporter &n) { return variadic<mlir::bmc::MaxOp>(n); };
  t["Sum"] = [](NodeImporter &n) { return variadic<mlir::bmc::AddOp>(n); };
  t["Mean"] = [](NodeImporter &n) { return variadic<mlir::bmc::AddOp>(n, /*mean=*/true); };
  t["Neg"] = unary<mlir::bmc::NegOp>;
  t["Abs"] = unary<mlir::bmc::AbsOp>;
  t["Exp"] = unary<mlir::bmc::ExpOp>;
  t["Log"] = unary<mlir::bmc::LogOp>;
  t["Sqrt"] = unary<mlir::bmc::SqrtOp>;
  t["Reciprocal"] = unary<mlir::bmc::ReciprocalOp>;
  t["Tanh"] = unary<mlir::bmc::TanhOp>;
  t["Erf"] = unary<mlir::bmc::ErfOp>;
  t["Sigmoid"] = unary<mlir::bmc::SigmoidOp>;
  t["Relu"] = unary<mlir::bmc::ReluOp>;
  t["Cos"] = unary<mlir::bmc::CosOp>;
  t["Sin"] = unary<mlir::bmc::SinOp>;
  t["Floor"] = unary<mlir::bmc::FloorOp>;
  t["Ceil"] = unary<mlir::bmc::CeilOp>;
  t["Sign"] = unary<mlir::bmc::SignOp>;
  t["Not"] = unary<mlir::bmc::NotOp>;
  t["IsNaN"] = isNaN;
  t["Softplus"] = unary<mlir::bmc::SoftplusOp>;
  t["LeakyRelu"] = leakyRelu;
  t["Gelu"] = gelu;
  t["Cast"] = cast;
  t["CastLike"] = castLike;
  t["Clip"] = clip;
  t["Where"] = where;
  t["Identity"] = identity;
  t["Dropout"] = dropout;
}

} // namespace bmc
