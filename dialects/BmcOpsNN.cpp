//===- BmcOpsNN.cpp - matmul, norms, reductions, attention, KV --------------===//
//
// Matrix products, normalisation, softmax, reductions, fused attention and
// the KV cache ops.
//
//===----------------------------------------------------------------------===//

#include "dialects/OpInference.h"
#include <cmath>

using namespace mlir;
using namespace mlir::bmc;
using namespace mlir::bmc::detail;

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

LogicalResult mlir::bmc::detail::checkAxis(std::optional<Location> loc, StringRef name, int64_t axis,
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
// Attention and the KV cache
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto q = ranked(adaptor.getQ()), k = ranked(adaptor.getK()), v = ranked(adaptor.getV());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return fail(loc, llvm::formatv("bmc.attention: expected 4-D q, k, v "
                                   "([batch, heads, seq, head_dim]), found {0}, {1}, {2}",
                                   q, k, v));
  // One batch: the kernel reads sequence b of k and v for query sequence b.
  int64_t bq = q.getDimSize(0), bk = k.getDimSize(0), bv = v.getDimSize(0);
  if ((!ShapedType::isDynamic(bq) && !ShapedType::isDynamic(bk) && bq != bk) ||
      (!ShapedType::isDynamic(bq) && !ShapedType::isDynamic(bv) && bq != bv) ||
      (!ShapedType::isDynamic(bk) && !ShapedType::isDynamic(bv) && bk != bv))
    return fail(loc, llvm::formatv("bmc.attention: expected q, k and v of one batch, found {0}, {1} and {2}",
                                   ShapedType::isDynamic(bq) ? std::string("?") : std::to_string(bq),
                                   ShapedType::isDynamic(bk) ? std::string("?") : std::to_string(bk),
                                   ShapedType::isDynamic(bv) ? std::string("?") : std::to_string(bv)));
  int64_t h = q.getDimSize(1), hk = k.getDimSize(1);
  if (!ShapedType::isDynamic(h) && !ShapedType::isDynamic(hk) && (hk == 0 || h % hk))
    return fail(loc, llvm::formatv("bmc.attention: expected query heads to be a multiple of KV "
                                   "heads, found {0} query heads and {1} KV heads", h, hk));
  // k and v may be a bf16/fp16 KV cache read by an f32 attention (widened as read).
  Type kt = k.getElementType();
  bool narrowKV = q.getElementType().isF32() && (kt.isBF16() || kt.isF16());
  if ((kt != q.getElementType() && !narrowKV) || v.getElementType() != kt)
    return fail(loc, llvm::formatv("bmc.attention: expected q, k and v of one element type (or f32 q with "
                                   "bf16/f16 k and v), found {0}, {1} and {2}", q.getElementType(),
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

LogicalResult AttentionOp::verify() {
  float cap = getSoftcap().convertToFloat();
  if (!std::isfinite(cap) || cap < 0.0f)
    return emitOpError() << "attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found " << cap;
  return success();
}

LogicalResult KVAppendOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &out) {
  auto cache = cast<KVCacheType>(adaptor.getCache().getType());
  auto rows = ranked(adaptor.getRows());
  // f32 rows go into a bf16/f16 cache rounded to nearest even.
  Type ct = cache.getElementType();
  bool rounding = rows.getElementType().isF32() && (ct.isBF16() || ct.isF16());
  if (rows.getRank() != 4 || (rows.getElementType() != ct && !rounding) ||
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
