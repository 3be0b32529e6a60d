//===- NN.cpp - import matrix products, normalisation, reductions ----------===//

#include "frontend/ImportContext.h"

using namespace mlir;

namespace bmc {

static LogicalResult matmul(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({}))) return failure();
  return n.setOutput(n.make<mlir::bmc::MatMulOp>({n.in(0), n.in(1)}));
}

static LogicalResult gemm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)) || failed(n.onlyAttrs({"alpha", "beta", "transA", "transB", "broadcast"})))
    return failure();
  auto alpha = n.attrFloat("alpha", 1.0f), beta = n.attrFloat("beta", 1.0f);
  auto ta = n.attrInt("transA", 0), tb = n.attrInt("transB", 0);
  if (failed(alpha) || failed(beta) || failed(ta) || failed(tb)) return failure();
  for (auto [name, v] : {std::pair<const char *, int64_t>{"transA", *ta}, {"transB", *tb}})
    if (v != 0 && v != 1) return n.error(std::string("attribute '") + name + "': expected 0 or 1, found " + std::to_string(v));
  SmallVector<Value> operands{n.in(0), n.in(1)};
  if (n.has(2)) operands.push_back(n.in(2));
  return n.setOutput(n.make<mlir::bmc::GemmOp>(
      operands, {n.named("alpha", n.b.getF32FloatAttr(*alpha)), n.named("beta", n.b.getF32FloatAttr(*beta)),
                 n.named("trans_a", n.b.getBoolAttr(*ta)), n.named("trans_b", n.b.getBoolAttr(*tb))}));
}

static LogicalResult softmax(NodeImporter &n, bool log) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"axis"}))) return failure();
  auto t = n.type(0);
  bool coerce2d = n.opset < 13;
  auto axis = n.attrInt("axis", coerce2d ? 1 : -1);
  if (failed(axis)) return failure();
  auto a = n.normAxis(*axis, t.getRank(), "attribute 'axis'");
  if (failed(a)) return failure();
  auto attrs = [&](int64_t ax) {
    return SmallVector<NamedAttribute>{n.named("axis", n.b.getI64IntegerAttr(ax)), n.named("log", n.b.getBoolAttr(log))};
  };
  if (!coerce2d || *a == t.getRank() - 1)
    return n.setOutput(n.make<mlir::bmc::SoftmaxOp>({n.in(0)}, attrs(*a)));
  // Opset < 13: softmax over the flattened [axis:] dimensions.
  auto flat = n.make<mlir::bmc::FlattenOp>({n.in(0)}, {n.named("axis", n.b.getI64IntegerAttr(*a))});
  if (failed(flat)) return failure();
  auto sm = n.make<mlir::bmc::SoftmaxOp>({*flat}, attrs(1));
  if (failed(sm)) return failure();
  auto shape = n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(0)),
                                                n.named("end", n.b.getI64IntegerAttr(t.getRank()))});
  if (failed(shape)) return failure();
  return n.setOutput(n.make<mlir::bmc::ReshapeOp>({*sm, *shape}));
}

/// LayerNormalization's optional Mean and InvStdDev outputs (training
/// exports keep them), computed in f32 (stash_type 1) with keepdims shapes.
static FailureOr<std::pair<Value, Value>> layerNormStats(NodeImporter &n, int64_t axis, float eps) {
  Value x = n.in(0);
  int64_t rank = n.type(0).getRank();
  Type f32 = n.b.getF32Type();
  if (n.type(0).getElementType() != f32) {
    auto c = n.make<mlir::bmc::CastOp>({x}, {n.named("to", TypeAttr::get(f32))});
    if (failed(c)) return failure();
    x = *c;
  }
  SmallVector<int64_t> axes;
  for (int64_t i = axis; i < rank; ++i) axes.push_back(i);
  auto mean = [&](Value v) {
    return n.make<mlir::bmc::ReduceMeanOp>(
        {v}, {n.named("axes", n.b.getDenseI64ArrayAttr(axes)), n.named("keepdims", n.b.getBoolAttr(true))});
  };
  auto mu = mean(x);
  if (failed(mu)) return failure();
  auto d = n.make<mlir::bmc::SubOp>({x, *mu});
  if (failed(d)) return failure();
  auto sq = n.make<mlir::bmc::MulOp>({*d, *d});
  if (failed(sq)) return failure();
  auto var = mean(*sq);
  if (failed(var)) return failure();
  auto ve = n.make<mlir::bmc::AddOp>({*var, n.constScalar(f32, eps)});
  if (failed(ve)) return failure();
  auto sd = n.make<mlir::bmc::SqrtOp>({*ve});
  if (failed(sd)) return failure();
  auto inv = n.make<mlir::bmc::ReciprocalOp>({*sd});
  if (failed(inv)) return failure();
  return std::make_pair(*mu, *inv);
}

static LogicalResult layerNorm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)) || failed(n.expectOutputs(1, 3)) ||
      failed(n.onlyAttrs({"axis", "epsilon", "stash_type"})))
    return failure();
  auto axis = n.attrInt("axis", -1);
  auto eps = n.attrFloat("epsilon", 1e-5f);
  auto stash = n.attrInt("stash_type", 1);
  if (failed(axis) || failed(eps) || failed(stash)) return failure();
  if (*stash != 1) return n.error("attribute 'stash_type': expected 1 (float), found " + std::to_string(*stash));
  if (*eps < 0) return n.error("attribute 'epsilon': expected a non-negative value, found " + std::to_string(*eps));
  auto a = n.normAxis(*axis, n.type(0).getRank(), "attribute 'axis'");
  if (failed(a)) return failure();
  SmallVector<Value> operands{n.in(0), n.in(1)};
  if (n.has(2)) operands.push_back(n.in(2));
  auto y = n.make<mlir::bmc::LayerNormOp>(
      operands, {n.named("axis", n.b.getI64IntegerAttr(*a)), n.named("epsilon", n.b.getF32FloatAttr(*eps))});
  if (failed(y)) return failure();
  bool stats = false;
  for (int i = 1; i < n.node.output_size(); ++i) stats |= !n.node.output(i).empty();
  if (!stats) return n.setOutputs(*y);
  auto ms = layerNormStats(n, *a, *eps);
  if (failed(ms)) return failure();
  return n.setOutputs({*y, ms->first, ms->second});
}

template <typename OpT>
static LogicalResult reduce(NodeImporter &n, int64_t inputAxesSince) {
  bool inputForm = n.opset >= inputAxesSince;
  bool hasNoop = n.opset >= inputAxesSince; // noop_with_empty_axes arrived with axes-as-input
  if (failed(n.expectInputs(1, inputForm ? 2 : 1))) return failure();
  if (failed(n.onlyAttrs(inputForm ? std::initializer_list<const char *>{"keepdims", "noop_with_empty_axes"}
                                   : std::initializer_list<const char *>{"keepdims", "axes"})))
    return failure();
  auto keep = n.attrInt("keepdims", 1);
  auto noop = hasNoop ? n.attrInt("noop_with_empty_axes", 0) : FailureOr<int64_t>(0);
  if (failed(keep) || failed(noop)) return failure();
  if (*keep != 0 && *keep != 1) return n.error("attribute 'keepdims': expected 0 or 1, found " + std::to_string(*keep));
  std::optional<SmallVector<int64_t>> axes;
  if (inputForm) {
    if (n.has(1)) {
      auto c = n.constInts(1);
      if (!c) return n.error("input 'axes': expected a constant, found a value computed at run time");
      axes = *c;
    }
  } else {
    auto a = n.attrInts("axes");
    if (failed(a)) return failure();
    axes = *a;
  }
  if ((!axes || axes->empty()) && *noop) return n.setOutputs(n.in(0));
  SmallVector<int64_t> norm;
  if (axes) {
    auto r = n.normAxes(*axes, n.type(0).getRank(), "axes");
    if (failed(r)) return failure();
    norm = *r;
    llvm::sort(norm);
  }
  return n.setOutput(n.make<OpT>({n.in(0)}, {n.named("axes", n.b.getDenseI64ArrayAttr(norm)),
                                             n.named("keepdims", n.b.getBoolAttr(*keep))}));
}

void registerNNOps(OpTable &t) {
  t["MatMul"] = matmul;
  t["Gemm"] = gemm;
  t["Softmax"] = [](NodeImporter &n) { return softmax(n, false); };
  t["LogSoftmax"] = [](NodeImporter &n) { return softmax(n, true); };
  t["LayerNormalization"] = layerNorm;
  t["ReduceMean"] = [](NodeImporter &n) { return reduce<mlir::bmc::ReduceMeanOp>(n, 18); };
  t["ReduceSum"] = [](NodeImporter &n) { return reduce<mlir::bmc::ReduceSumOp>(n, 13); };
  t["ReduceMax"] = [](NodeImporter &n) { return reduce<mlir::bmc::ReduceMaxOp>(n, 18); };
  t["ReduceMin"] = [](NodeImporter &n) { return reduce<mlir::bmc::ReduceMinOp>(n, 18); };
  t["ReduceProd"] = [](NodeImporter &n) { return reduce<mlir::bmc::ReduceProdOp>(n, 18); };
}

} // namespace bmc
