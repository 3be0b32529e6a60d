//===- Tensor.cpp - import data-movement ONNX ops --------------------------===//

#include "frontend/ImportContext.h"

using namespace mlir;

namespace bmc {

static LogicalResult transpose(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"perm"}))) return failure();
  int64_t rank = n.type(0).getRank();
  auto perm = n.attrInts("perm");
  if (failed(perm)) return failure();
  SmallVector<int64_t> p;
  if (*perm) {
    if ((int64_t)(**perm).size() != rank)
      return n.error("attribute 'perm': expected " + std::to_string(rank) + " entries (the input rank), found " +
                     std::to_string((**perm).size()));
    auto r = n.normAxes(**perm, rank, "attribute 'perm'");
    if (failed(r)) return failure();
    p = *r;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) p.push_back(i);
  }
  return n.setOutput(n.make<mlir::bmc::TransposeOp>({n.in(0)}, {n.named("perm", n.b.getDenseI64ArrayAttr(p))}));
}

static LogicalResult concat(NodeImporter &n) {
  if (failed(n.expectInputs(1, -1)) || failed(n.onlyAttrs({"axis"}))) return failure();
  auto axis = n.attrInt("axis", std::nullopt);
  if (failed(axis)) return failure();
  auto a = n.normAxis(*axis, n.type(0).getRank(), "attribute 'axis'");
  if (failed(a)) return failure();
  SmallVector<Value> ins;
  for (int i = 0; i < n.numInputs(); ++i) ins.push_back(n.in(i));
  return n.setOutput(n.make<mlir::bmc::ConcatOp>(ins, {n.named("axis", n.b.getI64IntegerAttr(*a))}));
}

static LogicalResult split(NodeImporter &n) {
  bool inputForm = n.opset >= 13;
  if (failed(n.expectInputs(1, inputForm ? 2 : 1)) ||
      failed(n.onlyAttrs(n.opset >= 18 ? std::initializer_list<const char *>{"axis", "num_outputs"}
                         : inputForm   ? std::initializer_list<const char *>{"axis"}
                                       : std::initializer_list<const char *>{"axis", "split"})))
    return failure();
  auto t = n.type(0);
  auto axis = n.attrInt("axis", 0);
  if (failed(axis)) return failure();
  auto a = n.normAxis(*axis, t.getRank(), "attribute 'axis'");
  if (failed(a)) return failure();
  int outputs = n.node.output_size();
  SmallVector<int64_t> sizes;
  if (inputForm && n.has(1)) {
    auto c = n.constInts(1);
    if (!c) return n.error("input 'split': expected a constant, found a value computed at run time");
    sizes = *c;
  } else if (!inputForm) {
    auto s = n.attrInts("split");
    if (failed(s)) return failure();
    if (*s) sizes = **s;
  }
  if (sizes.empty()) {
    int64_t parts = outputs;
    if (n.opset >= 18) {
      auto no = n.attrInt("num_outputs", std::nullopt);
      if (failed(no)) return failure();
      parts = *no;
      if (parts != outputs)
        return n.error("attribute 'num_outputs': expected " + std::to_string(outputs) +
                       " (the number of outputs), found " + std::to_string(parts));
    }
    if (t.isDynamicDim(*a))
      return n.error("expected a static dimension " + std::to_string(*a) + " to split evenly, found a dynamic one");
    int64_t dim = t.getDimSize(*a);
    if (parts <= 0) return n.error("expected at least one output, found none");
    int64_t chunk = (dim + parts - 1) / parts;
    if (n.opset < 18 && dim % parts)
      return n.error("expected dimension " + std::to_string(*a) + " (" + std::to_string(dim) +
                     ") to divide into " + std::to_string(parts) + " equal parts");
    for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  }
  if ((int)sizes.size() != outputs)
    return n.error("expected " + std::to_string(outputs) + " split sizes (one per output), found " +
                   std::to_string(sizes.size()));
  auto op = n.create(mlir::bmc::SplitOp::getOperationName(), {n.in(0)},
                     {n.named("axis", n.b.getI64IntegerAttr(*a)), n.named("sizes", n.b.getDenseI64ArrayAttr(sizes))},
                     sizes.size());
  if (failed(op)) return failure();
  return n.setOutputs((*op)->getResults());
}

/// A 1-D int64 operand of Slice (int32 widened with a cast).
static FailureOr<Value> sliceOperand(NodeImporter &n, int i, const char *what, int64_t expectLen) {
  auto t = n.type(i);
  if (!t || t.getRank() != 1 || !(t.getElementType().isInteger(64) || t.getElementType().isInteger(32)))
    return n.report(std::string("input '") + what + "': expected a 1-D int32 or int64 tensor"), failure();
  if (!t.isDynamicDim(0) && expectLen >= 0 && t.getDimSize(0) != expectLen)
    return n.report(std::string("input '") + what + "': expected " + std::to_string(expectLen) +
                   " entries (one per axis), found " + std::to_string(t.getDimSize(0))),
           failure();
  Value v = n.in(i);
  if (t.getElementType().isInteger(32)) {
    auto c = n.make<mlir::bmc::CastOp>({v}, {n.named("to", TypeAttr::get(n.b.getI64Type()))});
    if (failed(c)) return failure();
    v = *c;
  }
  return v;
}

static LogicalResult slice(NodeImporter &n) {
  auto t = n.type(0);
  SmallVector<Value> operands{n.in(0)};
  SmallVector<int64_t> axes;
  if (n.opset < 10) {
    if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({"starts", "ends", "axes"}))) return failure();
    auto s = n.attrInts("starts"), e = n.attrInts("ends"), ax = n.attrInts("axes");
    if (failed(s) || failed(e) || failed(ax)) return failure();
    if (!*s || !*e || (**s).size() != (**e).size())
      return n.error("expected attributes 'starts' and 'ends' of equal length");
    size_t k = (**s).size();
    if (*ax) axes = **ax;
    else for (size_t i = 0; i < k; ++i) axes.push_back(i);
    operands.push_back(n.constI64(**s));
    operands.push_back(n.constI64(**e));
    operands.push_back(n.constI64(SmallVector<int64_t>(k, 1)));
  } else {
    if (failed(n.expectInputs(3, 5)) || failed(n.onlyAttrs({}))) return failure();
    auto st = n.type(1);
    if (!st || st.getRank() != 1 || st.isDynamicDim(0))
      return n.error(std::string("input 'starts': expected a 1-D tensor of static length, found ") +
                     (st ? std::string(llvm::formatv("{0}", st)) : std::string("nothing")));
    int64_t k = st.getDimSize(0);
    if (n.has(3)) {
      auto c = n.constInts(3);
      if (!c) return n.error("input 'axes': expected a constant, found a value computed at run time");
      axes = *c;
    } else {
      for (int64_t i = 0; i < k; ++i) axes.push_back(i);
    }
    if ((int64_t)axes.size() != k)
      return n.error("input 'axes': expected " + std::to_string(k) + " entries (as 'starts'), found " +
                     std::to_string(axes.size()));
    auto s = sliceOperand(n, 1, "starts", k), e = sliceOperand(n, 2, "ends", k);
    if (failed(s) || failed(e)) return failure();
    operands.push_back(*s);
    operands.push_back(*e);
    if (n.has(4)) {
      auto p = sliceOperand(n, 4, "steps", k);
      if (failed(p)) return failure();
      if (auto c = n.constInts(4))
        for (int64_t v : *c)
          if (v == 0) return n.error("input 'steps': expected non-zero steps, found 0");
      operands.push_back(*p);
    } else {
      operands.push_back(n.constI64(SmallVector<int64_t>(k, 1)));
    }
  }
  auto norm = n.normAxes(axes, t.getRank(), "axes");
  if (failed(norm)) return failure();
  return n.setOutput(n.make<mlir::bmc::SliceOp>(operands, {n.named("axes", n.b.getDenseI64ArrayAttr(*norm))}));
}

static LogicalResult gather(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({"axis"}))) return failure();
  auto axis = n.attrInt("axis", 0);
  if (failed(axis)) return failure();
  auto a = n.normAxis(*axis, n.type(0).getRank(), "attribute 'axis'");
  if (failed(a)) return failure();
  Type it = n.type(1).getElementType();
  if (!it.isInteger(64) && !it.isInteger(32))
    return n.error(std::string("input 'indices': expected int32 or int64, found ") +
                   std::string(llvm::formatv("{0}", it)));
  return n.setOutput(n.make<mlir::bmc::GatherOp>({n.in(0), n.in(1)}, {n.named("axis", n.b.getI64IntegerAttr(*a))}));
}

static LogicalResult trilu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)) || failed(n.onlyAttrs({"upper"}))) return failure();
  auto upper = n.attrInt("upper", 1);
  if (failed(upper)) return failure();
  if (*upper != 0 && *upper != 1) return n.error("attribute 'upper': expected 0 or 1, found " + std::to_string(*upper));
  Value k = n.has(1) ? n.in(1) : n.constI64({0}, /*scalar=*/true);
  if (n.has(1) && n.type(1).getRank() != 0) {
    auto r = n.make<mlir::bmc::ReshapeOp>({k, n.constI64({})});
    if (failed(r)) return failure();
    k = *r;
  }
  return n.setOutput(n.make<mlir::bmc::TriluOp>({n.in(0), k}, {n.named("upper", n.b.getBoolAttr(*upper))}));
}

/// Tile as a broadcast: x [d0, d1] -> [1, d0, 1, d1] -> expand to
/// [r0, d0, r1, d1] -> reshape to [r0*d0, r1*d1]. Repeats may be run-time
/// values; constant ones give static shapes.
static LogicalResult tile(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({}))) return failure();
  auto t = n.type(0), rt = n.type(1);
  int64_t rank = t.getRank();
  if (!rt || rt.getRank() != 1 || !rt.getElementType().isInteger(64) || rt.isDynamicDim(0) ||
      rt.getDimSize(0) != rank)
    return n.error("input 'repeats': expected a 1-D int64 tensor of " + std::to_string(rank) +
                   " entries (the input rank), found " + std::string(llvm::formatv("{0}", rt)));
  if (rank == 0) return n.setOutputs(n.in(0));
  SmallVector<int64_t> odd;
  for (int64_t k = 0; k < rank; ++k) odd.push_back(2 * k);
  auto u = n.make<mlir::bmc::UnsqueezeOp>({n.in(0)}, {n.named("axes", n.b.getDenseI64ArrayAttr(odd))});
  if (failed(u)) return failure();
  SmallVector<Value> pieces;
  for (int64_t k = 0; k < rank; ++k) {
    auto r = n.make<mlir::bmc::SliceOp>({n.in(1), n.constI64({k}), n.constI64({k + 1}), n.constI64({1})},
                                       {n.named("axes", n.b.getDenseI64ArrayAttr({0}))});
    auto d = n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(k)),
                                             n.named("end", n.b.getI64IntegerAttr(k + 1))});
    if (failed(r) || failed(d)) return failure();
    pieces.push_back(*r);
    pieces.push_back(*d);
  }
  auto target = n.make<mlir::bmc::ConcatOp>(pieces, {n.named("axis", n.b.getI64IntegerAttr(0))});
  if (failed(target)) return failure();
  auto e = n.make<mlir::bmc::ExpandOp>({*u, *target});
  auto shape = n.make<mlir::bmc::ShapeOp>({n.in(0)}, {n.named("start", n.b.getI64IntegerAttr(0)),
                                               n.named("end", n.b.getI64IntegerAttr(rank))});
  if (failed(e) || failed(shape)) return failure();
  auto outShape = n.make<mlir::bmc::MulOp>({n.in(1), *shape});
  if (failed(outShape)) return failure();
  // allowzero: a repeat of 0 gives a dimension of 0, not a copy of the input's.
  return n.setOutput(n.make<mlir::bmc::ReshapeOp>({*e, *outShape}, {n.named("allowzero", n.b.getBoolAttr(true))}));
}

/// The int64 index operand of GatherND/ScatterND (the only type ONNX allows).
static LogicalResult ndIndices(NodeImporter &n) {
  auto it = n.type(1);
  if (!it.getElementType().isInteger(64))
    return n.error(std::string("input 'indices': expected int64, found ") +
                   std::string(llvm::formatv("{0}", it.getElementType())));
  if (it.getRank() < 1 || it.isDynamicDim(it.getRank() - 1))
    return n.error(std::string("input 'indices': expected rank >= 1 with a static last dimension (the index "
                               "tuple length), found ") + std::string(llvm::formatv("{0}", it)));
  return success();
}

static LogicalResult gatherND(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) ||
      failed(n.onlyAttrs(n.opset >= 12 ? std::initializer_list<const char *>{"batch_dims"}
                                       : std::initializer_list<const char *>{})) ||
      failed(ndIndices(n)))
    return failure();
  auto bd = n.attrInt("batch_dims", 0);
  if (failed(bd)) return failure();
  int64_t r = n.type(0).getRank(), q = n.type(1).getRank();
  if (*bd < 0 || *bd >= std::min(r, q))
    return n.error("attribute 'batch_dims': expected a value in [0, " + std::to_string(std::min(r, q)) +
                   ") (below the ranks of data and indices), found " + std::to_string(*bd));
  int64_t m = n.type(1).getDimSize(q - 1);
  if (m < 1 || *bd + m > r)
    return n.error("input 'indices': expected index tuples of length in [1, " + std::to_string(r - *bd) +
                   "] (data rank " + std::to_string(r) + " - batch_dims " + std::to_string(*bd) + "), found " +
                   std::to_string(m));
  return n.setOutput(
      n.make<mlir::bmc::GatherNDOp>({n.in(0), n.in(1)}, {n.named("batch_dims", n.b.getI64IntegerAttr(*bd))}));
}

static LogicalResult scatterND(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)) ||
      failed(n.onlyAttrs(n.opset >= 16 ? std::initializer_list<const char *>{"reduction"}
                                       : std::initializer_list<const char *>{})) ||
      failed(ndIndices(n)))
    return failure();
  auto red = n.attrString("reduction", "none");
  if (failed(red)) return failure();
  bool minMax = *red == "max" || *red == "min";
  if (!(*red == "none" || *red == "add" || *red == "mul" || (minMax && n.opset >= 18)))
    return n.error("attribute 'reduction': expected none, add, mul" +
                   std::string(n.opset >= 18 ? ", max or min" : " (max and min need opset 18)") + ", found '" + *red +
                   "'");
  if (n.type(0).getElementType() != n.type(2).getElementType())
    return n.error(std::string("input 'updates': expected the element type of 'data' (") +
                   std::string(llvm::formatv("{0}", n.type(0).getElementType())) + "), found " +
                   std::string(llvm::formatv("{0}", n.type(2).getElementType())));
  return n.setOutput(n.make<mlir::bmc::ScatterNDOp>({n.in(0), n.in(1), n.in(2)},
                                                    {n.named("reduction", n.b.getStringAttr(*red))}));
}

static LogicalResult cumSum(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)) || failed(n.onlyAttrs({"exclusive", "reverse"}))) return failure();
  auto ex = n.attrInt("exclusive", 0), rev = n.attrInt("reverse", 0);
  if (failed(ex) || failed(rev)) return failure();
  if (*ex != 0 && *ex != 1) return n.error("attribute 'exclusive': expected 0 or 1, found " + std::to_string(*ex));
  if (*rev != 0 && *rev != 1) return n.error("attribute 'reverse': expected 0 or 1, found " + std::to_string(*rev));
  auto t = n.type(0);
  if (t.getRank() < 1) return n.error("input 'x': expected rank >= 1, found a scalar");
  Type et = t.getElementType();
  if (et.isInteger(1) || !(isa<FloatType>(et) || isa<IntegerType>(et)))
    return n.error(std::string("input 'x': expected a numeric tensor, found ") +
                   std::string(llvm::formatv("{0}", et)));
  // The exporter passes `dim` as a constant; a run-time axis would make the
  // loop structure data-dependent.
  auto c = n.constInts(1);
  if (!c) return n.error("input 'axis': expected a constant, found a value computed at run time");
  if (c->size() != 1 || n.type(1).getRank() > 1)
    return n.error("input 'axis': expected a scalar or one-element tensor, found " + std::to_string(c->size()) +
                   " elements");
  auto a = n.normAxis((*c)[0], t.getRank(), "input 'axis'");
  if (failed(a)) return failure();
  return n.setOutput(n.make<mlir::bmc::CumSumOp>(
      {n.in(0)}, {n.named("axis", n.b.getI64IntegerAttr(*a)), n.named("exclusive", n.b.getBoolAttr(*ex)),
                  n.named("reverse", n.b.getBoolAttr(*rev))}));
}

/// NonZero: [rank, count] int64 coordinates; the count is data (the dynamo
/// exporter's boolean indexing, `x[mask]`, feeds it to GatherND).
static LogicalResult nonZero(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.onlyAttrs({}))) return failure();
  auto t = n.type(0);
  if (t.getRank() < 1)
    return n.error("input 'X': expected rank >= 1 (a scalar's coordinates are an empty tuple), found a scalar");
  Type et = t.getElementType();
  if (!isa<FloatType>(et) && !isa<IntegerType>(et))
    return n.error(std::string("input 'X': expected a numeric or bool tensor, found ") +
                   std::string(llvm::formatv("{0}", et)));
  return n.setOutput(n.make<mlir::bmc::NonZeroOp>({n.in(0)}));
}

void registerTensorOps(OpTable &t) {
  t["Transpose"] = transpose;
  t["Concat"] = concat;
  t["Split"] = split;
  t["Slice"] = slice;
  t["Gather"] = gather;
  t["Trilu"] = trilu;
  t["Tile"] = tile;
  t["GatherND"] = gatherND;
  t["ScatterND"] = scatterND;
  t["CumSum"] = cumSum;
  t["NonZero"] = nonZero;
}

} // namespace bmc
