//===- Shape.cpp - import shape and constant-producing ONNX ops ------------===//

#include "frontend/ImportContext.h"

using namespace mlir;

namespace bmc {

static LogicalResult shape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"start", "end"}))) return failure();
  int64_t rank = n.type(0).getRank();
  auto s = n.attrInt("start", 0), e = n.attrInt("end", rank);
  if (failed(s) || failed(e)) return failure();
  // Shape-15 clamps out-of-range start/end instead of failing.
  auto clampAxis = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  int64_t start = clampAxis(*s), end = std::max(start, clampAxis(*e));
  return n.setOutput(n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(start)),
                                                      n.named("end", n.b.getI64IntegerAttr(end))}));
}

static LogicalResult size(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({}))) return failure();
  int64_t rank = n.type(0).getRank();
  auto s = n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(0)),
                                            n.named("end", n.b.getI64IntegerAttr(rank))});
  if (failed(s)) return failure();
  return n.setOutput(n.make<mlir::bmc::ReduceProdOp>(
      {*s}, {n.named("axes", n.b.getDenseI64ArrayAttr({0})), n.named("keepdims", n.b.getBoolAttr(false))}));
}

/// A 1-D int64 shape operand (int32 is widened).
static FailureOr<Value> shapeOperand(NodeImporter &n, int i, const char *what) {
  auto t = n.type(i);
  if (!t || t.getRank() != 1 || !t.getElementType().isInteger(64) || t.isDynamicDim(0))
    return n.report(std::string(what) + ": expected a 1-D int64 tensor of static length, found " +
                   (t ? std::string(llvm::formatv("{0}", t)) : std::string("nothing"))),
           failure();
  return n.in(i);
}

static LogicalResult reshape(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({"allowzero"}))) return failure();
  auto az = n.attrInt("allowzero", 0);
  if (failed(az)) return failure();
  if (*az != 0 && *az != 1) return n.error("attribute 'allowzero': expected 0 or 1, found " + std::to_string(*az));
  auto s = shapeOperand(n, 1, "input 'shape'");
  if (failed(s)) return failure();
  return n.setOutput(n.make<mlir::bmc::ReshapeOp>({n.in(0), *s}, {n.named("allowzero", n.b.getBoolAttr(*az))}));
}

static LogicalResult flatten(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"axis"}))) return failure();
  auto axis = n.attrInt("axis", 1);
  if (failed(axis)) return failure();
  // Flatten's axis lies in [-rank, rank] and a negative one counts from
  // `rank` (unlike Unsqueeze's, which counts from the output rank).
  int64_t rank = n.type(0).getRank();
  if (*axis < -rank || *axis > rank)
    return n.error("attribute 'axis': expected a value in [" + std::to_string(-rank) + ", " + std::to_string(rank) +
                   "] (rank " + std::to_string(rank) + "), found " + std::to_string(*axis));
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  return n.setOutput(n.make<mlir::bmc::FlattenOp>({n.in(0)}, {n.named("axis", n.b.getI64IntegerAttr(a))}));
}

/// Axes from the attribute (old opsets) or the constant input `index` (new).
static FailureOr<std::optional<SmallVector<int64_t>>> axesOf(NodeImporter &n, bool fromInput, int index) {
  if (!fromInput) return n.attrInts("axes");
  if (!n.has(index)) return std::optional<SmallVector<int64_t>>();
  auto c = n.constInts(index);
  if (!c) {
    n.report("input 'axes': expected a constant, found a value computed at run time");
    return failure();
  }
  return std::optional<SmallVector<int64_t>>(*c);
}

static LogicalResult squeeze(NodeImporter &n) {
  bool newForm = n.opset >= 13;
  if (failed(n.expectInputs(1, newForm ? 2 : 1)) || failed(n.onlyAttrs(newForm ? std::initializer_list<const char *>{} : std::initializer_list<const char *>{"axes"})))
    return failure();
  auto t = n.type(0);
  auto axes = axesOf(n, newForm, 1);
  if (failed(axes)) return failure();
  SmallVector<int64_t> norm;
  if (*axes) {
    auto r = n.normAxes(**axes, t.getRank(), "axes");
    if (failed(r)) return failure();
    norm = *r;
  } else {
    for (int64_t i = 0; i < t.getRank(); ++i) {
      if (t.isDynamicDim(i))
        return n.error("expected axes when dimension " + std::to_string(i) +
                       " is dynamic (it may or may not be 1), found none");
      if (t.getDimSize(i) == 1) norm.push_back(i);
    }
  }
  llvm::sort(norm);
  return n.setOutput(n.make<mlir::bmc::SqueezeOp>({n.in(0)}, {n.named("axes", n.b.getDenseI64ArrayAttr(norm))}));
}

static LogicalResult unsqueeze(NodeImporter &n) {
  bool newForm = n.opset >= 13;
  if (failed(n.expectInputs(newForm ? 2 : 1, newForm ? 2 : 1)) ||
      failed(n.onlyAttrs(newForm ? std::initializer_list<const char *>{} : std::initializer_list<const char *>{"axes"})))
    return failure();
  auto axes = axesOf(n, newForm, 1);
  if (failed(axes)) return failure();
  if (!*axes) return n.error("expected attribute 'axes', found none");
  int64_t outRank = n.type(0).getRank() + (**axes).size();
  SmallVector<int64_t> norm;
  for (int64_t a : **axes) {
    if (a < -outRank || a >= outRank)
      return n.error("axes: expected values in [" + std::to_string(-outRank) + ", " + std::to_string(outRank - 1) +
                     "] for output rank " + std::to_string(outRank) + ", found " + std::to_string(a));
    norm.push_back(a < 0 ? a + outRank : a);
  }
  llvm::sort(norm);
  return n.setOutput(n.make<mlir::bmc::UnsqueezeOp>({n.in(0)}, {n.named("axes", n.b.getDenseI64ArrayAttr(norm))}));
}

static LogicalResult constantOfShape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"value"}))) return failure();
  TypedAttr value = n.b.getF32FloatAttr(0.0f);
  if (const auto *a = n.attr("value")) {
    if (a->type() != onnx::AttributeProto::TENSOR)
      return n.error("attribute 'value': expected TENSOR, found attribute type " + std::to_string(int(a->type())));
    Weight w;
    std::string why;
    if (!resolveTensorProto(n.graph.model, a->t(), {nullptr, 0}, w, why)) return n.error("attribute 'value': " + why);
    if (w.numElements() != 1)
      return n.error("attribute 'value': expected one element, found " + std::to_string(w.numElements()));
    Type et = onnxElementType(n.ctx, w.dtype);
    if (!et) return n.error(std::string("attribute 'value': expected a numeric type, found ") + dtypeName(w.dtype));
    if (auto ft = dyn_cast<FloatType>(et)) {
      double v = w.dtype == 1 ? *reinterpret_cast<const float *>(w.data)
               : w.dtype == 11 ? *reinterpret_cast<const double *>(w.data)
               : APFloat(ft.getFloatSemantics(), APInt(16, *reinterpret_cast<const uint16_t *>(w.data))).convertToDouble();
      value = n.b.getFloatAttr(et, v);
    } else {
      int64_t v = 0;
      std::memcpy(&v, w.data, w.bytes);
      if (w.bytes < 8 && w.dtype != 2 && w.dtype != 4 && w.dtype != 9 && w.dtype != 12) // sign-extend
        v = (v << (64 - 8 * w.bytes)) >> (64 - 8 * w.bytes);
      unsigned width = cast<IntegerType>(et).getWidth();
      value = IntegerAttr::get(et, APInt(64, uint64_t(v)).trunc(width));
    }
  }
  auto s = shapeOperand(n, 0, "input 'input'");
  if (failed(s)) return failure();
  return n.setOutput(n.make<mlir::bmc::ConstantOfShapeOp>({*s}, {n.named("value", value)}));
}

static LogicalResult constant(NodeImporter &n) {
  if (failed(n.expectInputs(0, 0)) || failed(n.expectOutputs(1, 1))) return failure();
  if (n.node.attribute_size() != 1)
    return n.error("expected exactly one value attribute, found " + std::to_string(n.node.attribute_size()));
  const auto &a = n.node.attribute(0);
  const std::string &name = a.name();
  std::string out = n.node.output(0);
  auto ints = [&](ArrayRef<int64_t> v, bool scalar) { return n.setOutputs(n.constI64(v, scalar)); };
  if (name == "value") {
    if (a.type() != onnx::AttributeProto::TENSOR)
      return n.error("attribute 'value': expected TENSOR, found attribute type " + std::to_string(int(a.type())));
    Weight w;
    std::string why;
    if (!resolveTensorProto(n.graph.model, a.t(), {nullptr, 0}, w, why)) return n.error("attribute 'value': " + why);
    w.name = out; // unique: a value name
    auto v = n.graph.importTensor(std::move(w), n.loc, why);
    if (failed(v)) return n.error("attribute 'value': " + why);
    return n.setOutputs(*v);
  }
  if (name == "value_int") return ints({a.i()}, true);
  if (name == "value_ints") return ints(SmallVector<int64_t>(a.ints().begin(), a.ints().end()), false);
  if (name == "value_float") return n.setOutputs(n.constScalar(n.b.getF32Type(), a.f()));
  if (name == "value_floats") {
    SmallVector<float> f(a.floats().begin(), a.floats().end());
    auto t = RankedTensorType::get({(int64_t)f.size()}, n.b.getF32Type());
    return n.setOutputs(n.b.create<arith::ConstantOp>(n.loc, DenseFPElementsAttr::get(t, ArrayRef<float>(f))).getResult());
  }
  return n.error("attribute '" + name + "': expected value, value_int(s) or value_float(s); string and "
                 "sparse constants are not supported");
}

static LogicalResult range(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)) || failed(n.onlyAttrs({}))) return failure();
  for (int i = 0; i < 3; ++i)
    if (n.type(i).getRank() != 0)
      return n.error("input " + std::to_string(i) + ": expected a scalar (rank 0), found rank " +
                     std::to_string(n.type(i).getRank()));
  return n.setOutput(n.make<mlir::bmc::RangeOp>({n.in(0), n.in(1), n.in(2)}));
}

static LogicalResult expand(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({}))) return failure();
  auto s = shapeOperand(n, 1, "input 'shape'");
  if (failed(s)) return failure();
  return n.setOutput(n.make<mlir::bmc::ExpandOp>({n.in(0), *s}));
}

void registerShapeOps(OpTable &t) {
  t["Shape"] = shape;
  t["Size"] = size;
  t["Reshape"] = reshape;
  t["Flatten"] = flatten;
  t["Squeeze"] = squeeze;
  t["Unsqueeze"] = unsqueeze;
  t["ConstantOfShape"] = constantOfShape;
  t["Constant"] = constant;
  t["Range"] = range;
  t["Expand"] = expand;
}

} // namespace bmc
