//===- BmcOpsData.cpp - data-movement op inference --------------------------===//
//
// Data movement: transpose, reshape-like ops, concat/split/slice, gather,
// expand, trilu.
//
//===----------------------------------------------------------------------===//

#include "dialects/OpInference.h"

using namespace mlir;
using namespace mlir::bmc;
using namespace mlir::bmc::detail;

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
    // Shape entries come from the model: their product may not fit (UBSan, fuzz_onnx_import).
    if (__builtin_mul_overflow(known, d, &known))
      return fail(loc, llvm::formatv("bmc.reshape: expected a shape of at most 2^63 - 1 elements, "
                                     "found {0}", shapeStr(*elems)));
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
  bool overflow = false;
  auto prod = [&](int64_t b, int64_t e) {
    int64_t p = 1;
    for (int64_t i = b; i < e; ++i) {
      if (t.isDynamicDim(i)) return kDyn;
      overflow |= __builtin_mul_overflow(p, t.getDimSize(i), &p);
    }
    return p;
  };
  int64_t rows = prod(0, axis), cols = prod(axis, t.getRank());
  if (overflow)
    return fail(loc, llvm::formatv("bmc.flatten: expected at most 2^63 - 1 elements on each side of "
                                   "axis {0}, found the input {1}", axis, shapeStr(t.getShape())));
  out.push_back(RankedTensorType::get({rows, cols}, t.getElementType()));
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
// Indexing by tensors: gather_nd, scatter_nd, nonzero; running sums: cumsum
//===----------------------------------------------------------------------===//

/// Two dimensions that must be equal: the known one, or failure if both are
/// known and differ.
static FailureOr<int64_t> sameDim(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a)) return b;
  if (ShapedType::isDynamic(b) || a == b) return a;
  return failure();
}

/// Checks data/indices ranks for GatherND/ScatterND; returns m, the length
/// of one index tuple (indices' last dimension, which must be static).
static FailureOr<int64_t> tupleLength(std::optional<Location> loc, StringRef name, RankedTensorType d,
                                      RankedTensorType idx, int64_t batchDims) {
  if (d.getRank() < 1 || idx.getRank() < 1)
    return fail(loc, llvm::formatv("{0}: expected data and indices of rank >= 1, found ranks {1} and {2}", name,
                                   d.getRank(), idx.getRank()));
  if (batchDims < 0 || batchDims >= std::min(d.getRank(), idx.getRank()))
    return fail(loc, llvm::formatv("{0}: expected batch_dims in [0, {1}), found {2}", name,
                                   std::min(d.getRank(), idx.getRank()), batchDims));
  int64_t m = idx.getShape().back();
  if (ShapedType::isDynamic(m))
    return fail(loc, llvm::formatv("{0}: expected a static last dimension of indices, found {1}", name, idx));
  if (m < 1 || batchDims + m > d.getRank())
    return fail(loc, llvm::formatv("{0}: expected index tuples of length in [1, {1}] (data rank {2} - batch_dims "
                                   "{3}), found {4}", name, d.getRank() - batchDims, d.getRank(), batchDims, m));
  return m;
}

LogicalResult GatherNDOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto d = ranked(adaptor.getData()), idx = ranked(adaptor.getIndices());
  int64_t b = adaptor.getBatchDimsAttr().getInt();
  auto m = tupleLength(loc, "bmc.gather_nd", d, idx, b);
  if (failed(m)) return failure();
  SmallVector<int64_t> shape(idx.getShape().drop_back());
  for (int64_t i = 0; i < b; ++i) {
    auto s = sameDim(d.getDimSize(i), idx.getDimSize(i));
    if (failed(s))
      return fail(loc, llvm::formatv("bmc.gather_nd: batch dimension {0}: data has {1}, indices {2}", i,
                                     d.getDimSize(i), idx.getDimSize(i)));
    shape[i] = *s;
  }
  shape.append(d.getShape().begin() + b + *m, d.getShape().end());
  out.push_back(RankedTensorType::get(shape, d.getElementType()));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(GatherNDOp)

LogicalResult ScatterNDOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto d = ranked(adaptor.getData()), idx = ranked(adaptor.getIndices()), u = ranked(adaptor.getUpdates());
  StringRef red = adaptor.getReduction();
  if (!llvm::is_contained({"none", "add", "mul", "max", "min"}, red))
    return fail(loc, "bmc.scatter_nd: expected reduction none, add, mul, max or min, found " + red);
  auto m = tupleLength(loc, "bmc.scatter_nd", d, idx, 0);
  if (failed(m)) return failure();
  if (u.getElementType() != d.getElementType())
    return fail(loc, llvm::formatv("bmc.scatter_nd: expected updates of element type {0}, found {1}",
                                   d.getElementType(), u.getElementType()));
  SmallVector<int64_t> want(idx.getShape().drop_back());
  want.append(d.getShape().begin() + *m, d.getShape().end());
  bool ok = u.getRank() == (int64_t)want.size();
  for (int64_t i = 0; ok && i < u.getRank(); ++i) ok = succeeded(sameDim(u.getDimSize(i), want[i]));
  if (!ok)
    return fail(loc, llvm::formatv("bmc.scatter_nd: expected updates of shape {0} (indices.shape[:-1] ++ "
                                   "data.shape[{1}:]), found {2}", shapeStr(want), *m, shapeStr(u.getShape())));
  out.push_back(d);
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(ScatterNDOp)

LogicalResult CumSumOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  if (t.getRank() < 1) return fail(loc, "bmc.cumsum: expected rank >= 1, found rank 0");
  if (isBool(t.getElementType()))
    return fail(loc, "bmc.cumsum: expected a numeric element type, found i1");
  if (failed(checkAxis(loc, "bmc.cumsum", adaptor.getAxisAttr().getInt(), t.getRank()))) return failure();
  out.push_back(t);
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(CumSumOp)

LogicalResult NonZeroOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput());
  if (t.getRank() < 1) return fail(loc, "bmc.nonzero: expected rank >= 1, found rank 0");
  Type et = t.getElementType();
  if (!isa<FloatType>(et) && !isa<IntegerType>(et))
    return fail(loc, llvm::formatv("bmc.nonzero: expected a numeric or i1 element type, found {0}", et));
  out.push_back(RankedTensorType::get({t.getRank(), ShapedType::kDynamic}, IntegerType::get(ctx, 64)));
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(NonZeroOp)

//===----------------------------------------------------------------------===//
// Run-time guards: check_equal
//===----------------------------------------------------------------------===//

LogicalResult CheckEqualOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
                                             SmallVectorImpl<Type> &out) {
  auto t = ranked(adaptor.getInput()), e = ranked(adaptor.getExpected());
  if (!isa<IntegerType>(t.getElementType()) || isBool(t.getElementType()) ||
      t.getElementType() != e.getElementType())
    return fail(loc, llvm::formatv("bmc.check_equal: expected integer operands of one element type, found {0} and {1}",
                                   t.getElementType(), e.getElementType()));
  if (e.getRank() > t.getRank())
    return fail(loc, llvm::formatv("bmc.check_equal: expected 'expected' of rank <= {0} (it broadcasts to the "
                                   "input), found rank {1}", t.getRank(), e.getRank()));
  out.push_back(t);
  return success();
}
BMC_COMPATIBLE_RETURN_TYPES(CheckEqualOp)
