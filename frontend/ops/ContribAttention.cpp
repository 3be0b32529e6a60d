//===- ContribAttention.cpp - import com.microsoft attention ops -----------===//
//
// onnxruntime's RotaryEmbedding, GroupQueryAttention and MultiHeadAttention
// (docs/ContribOperators.md of onnxruntime; semantics as its CPU kernels
// compute them), as onnxruntime-genai's model builder writes them, mapped
// onto what the exporters' graphs give the BMC pass: present =
// concat(past, new) on the sequence axis, rotary embedding as gathers of the
// cos/sin caches and elementwise ops, and bmc.attention with an additive
// mask. With past_key/past_value graph inputs and present outputs,
// --bmc-kv-inplace rewrites the caches as for Hugging Face exports.
//
// GroupQueryAttention takes the cache lengths as values (seqlens_k, one per
// batch row, and total_sequence_length), not shapes. bmc's cache is the
// present = concat(past, new) of the other exports, so the import requires
// both to say the same as the shapes, total = past + new and
// seqlens_k + 1 = total for every row, and checks that at run time
// (bmc.check_equal): a past buffer shared with present at its maximum length
// (onnxruntime-genai's past_present_share_buffer, or a padded batch) fails
// with that message instead of computing something else. bmc's runtime owns
// the cache; its prealloc mode is the shared buffer's equivalent.
//
//===----------------------------------------------------------------------===//

#include "frontend/ImportContext.h"

#include <cmath>

using namespace mlir;

namespace bmc {

namespace {

std::string typeStr(Type t) { return std::string(llvm::formatv("{0}", t)); }

NamedAttribute noZero(NodeImporter &n) { return n.named("allowzero", n.b.getBoolAttr(false)); }

/// [B, S, heads*D] -> [B, heads, S, D].
FailureOr<Value> splitHeads(NodeImporter &n, Value x, int64_t heads, const std::string &what) {
  auto t = cast<RankedTensorType>(x.getType());
  if (t.getRank() != 3 || t.isDynamicDim(2) || heads <= 0 || t.getDimSize(2) % heads)
    return n.report(what + ": expected [batch, seq, heads * head_size] with a static last dimension divisible by " +
                    std::to_string(heads) + ", found " + typeStr(t)),
           failure();
  auto r = n.make<mlir::bmc::ReshapeOp>({x, n.constI64({0, 0, heads, t.getDimSize(2) / heads})}, {noZero(n)});
  if (failed(r)) return failure();
  return n.make<mlir::bmc::TransposeOp>({*r}, {n.named("perm", n.b.getDenseI64ArrayAttr({0, 2, 1, 3}))});
}

/// [B, heads, S, D] -> [B, S, heads*D].
FailureOr<Value> mergeHeads(NodeImporter &n, Value y) {
  auto t = n.make<mlir::bmc::TransposeOp>({y}, {n.named("perm", n.b.getDenseI64ArrayAttr({0, 2, 1, 3}))});
  if (failed(t)) return failure();
  auto yt = cast<RankedTensorType>(y.getType());
  int64_t width = yt.isDynamicDim(1) || yt.isDynamicDim(3) ? -1 : yt.getDimSize(1) * yt.getDimSize(3);
  return n.make<mlir::bmc::ReshapeOp>({*t, n.constI64({0, 0, width})}, {noZero(n)});
}

/// Dimension `d` of `v` as a 0-D int64.
FailureOr<Value> dimScalar(NodeImporter &n, Value v, int64_t d) {
  auto s = n.make<mlir::bmc::ShapeOp>({v}, {n.named("start", n.b.getI64IntegerAttr(d)),
                                            n.named("end", n.b.getI64IntegerAttr(d + 1))});
  if (failed(s)) return failure();
  return n.make<mlir::bmc::ReshapeOp>({*s, n.constI64({})}, {noZero(n)});
}

FailureOr<Value> sliceLast(NodeImporter &n, Value x, int64_t axis, int64_t start, int64_t end, int64_t step = 1) {
  return n.make<mlir::bmc::SliceOp>({x, n.constI64({start}), n.constI64({end}), n.constI64({step})},
                                    {n.named("axes", n.b.getDenseI64ArrayAttr({axis}))});
}

FailureOr<Value> toI64(NodeImporter &n, Value v) {
  if (cast<RankedTensorType>(v.getType()).getElementType().isInteger(64)) return v;
  return n.make<mlir::bmc::CastOp>({v}, {n.named("to", TypeAttr::get(n.b.getI64Type()))});
}

/// Rotary embedding of x (rank 4, head_size last, static) at positions
/// `pos` ([B, S] or [1, S] int64): cos/sin caches [max_pos, rotary_dim / 2]
/// gathered by position and unsqueezed at `headAxis` (1 for [B, N, S, H],
/// 2 for [B, S, N, H]). The first rotary_dim elements of each head rotate
/// as halves (x1, x2) -> (x1 c - x2 s, x2 c + x1 s), or interleaved as
/// pairs (x[2i], x[2i+1]); the rest pass through.
FailureOr<Value> rotary(NodeImporter &n, Value x, Value pos, Value cosCache, Value sinCache, int64_t headAxis,
                        bool interleaved, const std::string &what) {
  auto xt = cast<RankedTensorType>(x.getType());
  auto ct = cast<RankedTensorType>(cosCache.getType()), st = cast<RankedTensorType>(sinCache.getType());
  int64_t H = xt.getDimSize(3);
  if (ct.getRank() != 2 || st.getRank() != 2 || ct.isDynamicDim(1) || ct.getShape() != st.getShape() ||
      !ct.getElementType().isF32() || !st.getElementType().isF32())
    return n.report(what + ": expected float32 cos_cache and sin_cache of one shape [max_positions, rotary_dim / 2] "
                    "with a static last dimension, found " + typeStr(ct) + " and " + typeStr(st)),
           failure();
  int64_t half = ct.getDimSize(1), rd = 2 * half;
  if (ShapedType::isDynamic(H) || rd > H || rd == 0)
    return n.report(what + ": expected a static head size >= rotary_dim = 2 * cos_cache's last dimension = " +
                    std::to_string(rd) + ", found " + typeStr(xt)),
           failure();
  auto axisAttr = n.named("axis", n.b.getI64IntegerAttr(0));
  auto c = n.make<mlir::bmc::GatherOp>({cosCache, pos}, {axisAttr});
  auto s = n.make<mlir::bmc::GatherOp>({sinCache, pos}, {axisAttr});
  if (failed(c) || failed(s)) return failure();
  auto unsq = n.named("axes", n.b.getDenseI64ArrayAttr({headAxis}));
  c = n.make<mlir::bmc::UnsqueezeOp>({*c}, {unsq});
  s = n.make<mlir::bmc::UnsqueezeOp>({*s}, {unsq});
  if (failed(c) || failed(s)) return failure();
  // x1, x2: the halves, or the even and odd elements.
  auto x1 = interleaved ? sliceLast(n, x, 3, 0, rd, 2) : sliceLast(n, x, 3, 0, half);
  auto x2 = interleaved ? sliceLast(n, x, 3, 1, rd, 2) : sliceLast(n, x, 3, half, rd);
  if (failed(x1) || failed(x2)) return failure();
  auto x1c = n.make<mlir::bmc::MulOp>({*x1, *c}), x2s = n.make<mlir::bmc::MulOp>({*x2, *s});
  auto x2c = n.make<mlir::bmc::MulOp>({*x2, *c}), x1s = n.make<mlir::bmc::MulOp>({*x1, *s});
  if (failed(x1c) || failed(x2s) || failed(x2c) || failed(x1s)) return failure();
  auto o1 = n.make<mlir::bmc::SubOp>({*x1c, *x2s}), o2 = n.make<mlir::bmc::AddOp>({*x2c, *x1s});
  if (failed(o1) || failed(o2)) return failure();
  Value rotated;
  if (interleaved) {
    auto last = n.named("axes", n.b.getDenseI64ArrayAttr({4}));
    auto e = n.make<mlir::bmc::UnsqueezeOp>({*o1}, {last}), o = n.make<mlir::bmc::UnsqueezeOp>({*o2}, {last});
    if (failed(e) || failed(o)) return failure();
    auto pairs = n.make<mlir::bmc::ConcatOp>({*e, *o}, {n.named("axis", n.b.getI64IntegerAttr(4))});
    if (failed(pairs)) return failure();
    auto r = n.make<mlir::bmc::ReshapeOp>({*pairs, n.constI64({0, 0, 0, rd})}, {noZero(n)});
    if (failed(r)) return failure();
    rotated = *r;
  } else {
    auto r = n.make<mlir::bmc::ConcatOp>({*o1, *o2}, {n.named("axis", n.b.getI64IntegerAttr(3))});
    if (failed(r)) return failure();
    rotated = *r;
  }
  if (rd == H) return rotated;
  auto rest = sliceLast(n, x, 3, rd, H);
  if (failed(rest)) return failure();
  return n.make<mlir::bmc::ConcatOp>({rotated, *rest}, {n.named("axis", n.b.getI64IntegerAttr(3))});
}

/// RotaryEmbedding(input, position_ids, cos_cache, sin_cache): input
/// [B, S, hidden] or [B, N, S, H]; position_ids [B, S], or [1] (an offset:
/// positions offset + 0..S-1).
LogicalResult rotaryEmbedding(NodeImporter &n) {
  if (failed(n.expectInputs(4, 4)) || failed(n.expectOutputs(1, 1)) ||
      failed(n.onlyAttrs({"interleaved", "is_packed_batching", "num_heads", "rotary_embedding_dim", "scale"})))
    return failure();
  auto inter = n.attrInt("interleaved", 0), packed = n.attrInt("is_packed_batching", 0),
       heads = n.attrInt("num_heads", 0), rdim = n.attrInt("rotary_embedding_dim", 0);
  auto scale = n.attrFloat("scale", 1.0f);
  if (failed(inter) || failed(packed) || failed(heads) || failed(rdim) || failed(scale)) return failure();
  if (*packed != 0)
    return n.error("attribute 'is_packed_batching': expected 0 (ragged batches are not supported), found " +
                   std::to_string(*packed));
  if (*scale != 1.0f)
    return n.error("attribute 'scale': expected 1 (onnxruntime's CPU kernel applies none), found " +
                   std::to_string(*scale));
  auto xt = n.type(0);
  if (!xt.getElementType().isF32()) return n.error("input 0 (input): expected float32, found " + typeStr(xt));
  auto ct = n.type(2);
  if (ct.getRank() != 2 || ct.isDynamicDim(1))
    return n.error("input 2 (cos_cache): expected [max_positions, rotary_dim / 2] with a static last dimension, "
                   "found " + typeStr(ct));
  int64_t rd = 2 * ct.getDimSize(1);
  if (*rdim != 0 && *rdim != rd)
    return n.error("attribute 'rotary_embedding_dim': expected 2 * cos_cache's last dimension = " +
                   std::to_string(rd) + ", found " + std::to_string(*rdim));
  // Positions as int64 [B or 1, S].
  auto pt = n.type(1);
  Value pos = n.in(1);
  if (!pt.getElementType().isInteger(64)) return n.error("input 1 (position_ids): expected int64, found " + typeStr(pt));
  int64_t seqAxis = xt.getRank() == 4 ? 2 : 1;
  if (pt.getRank() == 1) {
    if (pt.isDynamicDim(0) || pt.getDimSize(0) != 1)
      return n.error("input 1 (position_ids): expected [batch, seq] or [1] (an offset), found " + typeStr(pt));
    auto S = dimScalar(n, n.in(0), seqAxis);
    if (failed(S)) return failure();
    auto r = n.make<mlir::bmc::RangeOp>({n.constI64({0}, true), *S, n.constI64({1}, true)});
    if (failed(r)) return failure();
    auto p = n.make<mlir::bmc::AddOp>({*r, pos});
    if (failed(p)) return failure();
    auto u = n.make<mlir::bmc::UnsqueezeOp>({*p}, {n.named("axes", n.b.getDenseI64ArrayAttr({0}))});
    if (failed(u)) return failure();
    pos = *u;
  } else if (pt.getRank() != 2) {
    return n.error("input 1 (position_ids): expected [batch, seq] or [1] (an offset), found " + typeStr(pt));
  }
  if (xt.getRank() == 4)
    return n.setOutput(rotary(n, n.in(0), pos, n.in(2), n.in(3), 1, *inter, "RotaryEmbedding"));
  if (xt.getRank() != 3)
    return n.error("input 0 (input): expected [batch, seq, hidden] or [batch, heads, seq, head_size], found " +
                   typeStr(xt));
  // 3-D: heads from num_heads, or (whole heads rotated) from the cache width.
  int64_t hidden = xt.getDimSize(2);
  int64_t H = *heads > 0 && !ShapedType::isDynamic(hidden) ? hidden / *heads : rd;
  if (*heads == 0 && *rdim != 0 && *rdim != hidden)
    return n.error("attribute 'num_heads': expected it given with rotary_embedding_dim (3-D input), found none");
  if (ShapedType::isDynamic(hidden) || H <= 0 || hidden % H)
    return n.error("input 0 (input): expected a static hidden size divisible by the head size " + std::to_string(H) +
                   ", found " + typeStr(xt));
  auto r4 = n.make<mlir::bmc::ReshapeOp>({n.in(0), n.constI64({0, 0, hidden / H, H})}, {noZero(n)});
  if (failed(r4)) return failure();
  auto y = rotary(n, *r4, pos, n.in(2), n.in(3), 2, *inter, "RotaryEmbedding");
  if (failed(y)) return failure();
  return n.setOutput(n.make<mlir::bmc::ReshapeOp>({*y, n.constI64({0, 0, hidden})}, {noZero(n)}));
}

/// Fails unless input i is absent.
LogicalResult absent(NodeImporter &n, int i, const char *name, const char *why) {
  if (n.has(i))
    return n.error(std::string("input ") + std::to_string(i) + " (" + name + "): expected it absent (" + why +
                   "), found '" + n.node.input(i) + "'");
  return success();
}

LogicalResult outputUnused(NodeImporter &n, int i, const char *name) {
  if (i < n.node.output_size() && !n.node.output(i).empty())
    return n.error(std::string("output ") + std::to_string(i) + " (" + name +
                   "): expected it unused (bmc does not materialise the scores), found '" + n.node.output(i) + "'");
  return success();
}

/// The additive mask [B or 1, 1, S, T] for keys 0..T-1 (T: `keys`' axis 2)
/// and queries at positions `qpos` ([B or 1, S] int64): key j is visible to
/// query i iff j <= qpos[i] and, with window > 0, j > qpos[i] - window (the
/// window's keys include the query's own: onnxruntime 1.30's local_window_size).
FailureOr<Value> causalWindowMask(NodeImporter &n, Value qpos, Value keys, int64_t window, double masked) {
  auto T = dimScalar(n, keys, 2);
  if (failed(T)) return failure();
  auto kr = n.make<mlir::bmc::RangeOp>({n.constI64({0}, true), *T, n.constI64({1}, true)});
  if (failed(kr)) return failure();
  auto q4 = n.make<mlir::bmc::UnsqueezeOp>({qpos}, {n.named("axes", n.b.getDenseI64ArrayAttr({1, 3}))});
  if (failed(q4)) return failure();
  auto allowed = n.make<mlir::bmc::LessEqualOp>({*kr, *q4});
  if (failed(allowed)) return failure();
  if (window > 0) {
    auto lo = n.make<mlir::bmc::SubOp>({*q4, n.constI64({window}, true)});
    if (failed(lo)) return failure();
    auto inWindow = n.make<mlir::bmc::GreaterOp>({*kr, *lo});
    if (failed(inWindow)) return failure();
    allowed = n.make<mlir::bmc::AndOp>({*allowed, *inWindow});
    if (failed(allowed)) return failure();
  }
  Type f32 = n.b.getF32Type();
  return n.make<mlir::bmc::WhereOp>({*allowed, n.constScalar(f32, 0.0), n.constScalar(f32, masked)});
}

/// A past-cache graph input declared with symbolic heads or head size (newer
/// builders write [batch_size, kv_heads, past_sequence_length, kv_cache_dim])
/// gets the op's static ones: the BMC pass and the session need them.
LogicalResult refineCacheInput(NodeImporter &n, int i, int64_t heads, int64_t headSize) {
  auto arg = dyn_cast<BlockArgument>(n.in(i));
  auto t = n.type(i);
  if (t.getRank() != 4) return success(); // the op's checks say what is wrong
  for (auto [d, want] : {std::pair<int, int64_t>{1, heads}, {3, headSize}})
    if (!t.isDynamicDim(d) && t.getDimSize(d) != want)
      return n.error("input " + std::to_string(i) + ": expected dimension " + std::to_string(d) + " to be " +
                     std::to_string(want) + ", found " + typeStr(t));
  if (!arg || (!t.isDynamicDim(1) && !t.isDynamicDim(3)) || ShapedType::isDynamic(headSize)) return success();
  arg.setType(RankedTensorType::get({t.getDimSize(0), heads, t.getDimSize(2), headSize}, t.getElementType()));
  return success();
}

FailureOr<float> attentionScale(NodeImporter &n, int64_t headSize) {
  auto s = n.attrFloat("scale", 0.0f);
  if (failed(s)) return failure();
  if (*s != 0.0f) return *s;
  return 1.0f / std::sqrt(float(headSize));
}

LogicalResult groupQueryAttention(NodeImporter &n) {
  // key and value are empty with packed QKV: 7-16 inputs, of which 0, 5 and 6 are required (checked below).
  if (n.numInputs() < 7) return n.error("expected 7 to 16 inputs, found " + std::to_string(n.numInputs()));
  if (failed(n.expectInputs(1, 16)) || failed(n.expectOutputs(1, 4)) ||
      failed(n.onlyAttrs({"num_heads", "kv_num_heads", "scale", "local_window_size", "do_rotary",
                          "rotary_interleaved", "softcap", "smooth_softmax", "qk_output", "causal",
                          "sliding_window_cache", "k_quant_type", "v_quant_type", "kv_cache_bit_width",
                          "qk_norm_epsilon", "mask_filter_value"})))
    return failure();
  auto N = n.attrInt("num_heads", std::nullopt), K = n.attrInt("kv_num_heads", std::nullopt);
  auto window = n.attrInt("local_window_size", -1), rot = n.attrInt("do_rotary", 0),
       inter = n.attrInt("rotary_interleaved", 0), smooth = n.attrInt("smooth_softmax", 0),
       qkOut = n.attrInt("qk_output", 0), causal = n.attrInt("causal", 1), swc = n.attrInt("sliding_window_cache", 0);
  auto softcap = n.attrFloat("softcap", 0.0f);
  auto kq = n.attrString("k_quant_type", "NONE"), vq = n.attrString("v_quant_type", "NONE");
  if (failed(N) || failed(K) || failed(window) || failed(rot) || failed(inter) || failed(smooth) || failed(qkOut) ||
      failed(causal) || failed(swc) || failed(softcap) || failed(kq) || failed(vq))
    return failure();
  if (*N <= 0 || *K <= 0 || *N % *K)
    return n.error("attributes 'num_heads'/'kv_num_heads': expected positive counts with num_heads a multiple of "
                   "kv_num_heads, found " + std::to_string(*N) + "/" + std::to_string(*K));
  if (!std::isfinite(*softcap) || *softcap < 0.0f)
    return n.error("attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found " +
                   std::to_string(*softcap));
  if (*smooth != 0 && *smooth != 1)
    return n.error("attribute 'smooth_softmax': expected 0 or 1, found " + std::to_string(*smooth));
  if (*qkOut != 0) return n.error("attribute 'qk_output': expected 0 (not supported), found " + std::to_string(*qkOut));
  if (*causal != 1)
    return n.error("attribute 'causal': expected 1 (bidirectional attention is not supported), found " +
                   std::to_string(*causal));
  if (*swc != 0)
    return n.error("attribute 'sliding_window_cache': expected 0 (window-sized cache buffers are not supported), "
                   "found " + std::to_string(*swc));
  if (*kq != "NONE" || *vq != "NONE" || n.attr("kv_cache_bit_width"))
    return n.error("attributes 'k_quant_type'/'v_quant_type'/'kv_cache_bit_width': expected an unquantized KV cache "
                   "(NONE), found " + *kq + "/" + *vq);
  if (*window < -1 || *window == 0)
    return n.error("attribute 'local_window_size': expected -1 (none) or a positive window, found " +
                   std::to_string(*window));
  if (failed(absent(n, 9, "position_ids", "positions come from seqlens_k")) ||
      failed(absent(n, 10, "attention_bias", "not supported")) ||
      failed(absent(n, 11, "head_sink", "not supported")) ||
      failed(absent(n, 12, "k_scale", "quantized KV caches are not supported")) ||
      failed(absent(n, 13, "v_scale", "quantized KV caches are not supported")) ||
      failed(absent(n, 14, "q_norm_weight", "not supported")) ||
      failed(absent(n, 15, "k_norm_weight", "not supported")) || failed(outputUnused(n, 3, "output_qk")))
    return failure();
  if (n.has(1) != n.has(2))
    return n.error("inputs 1 and 2 (key, value): expected both (separate Q, K, V) or neither (packed QKV)");
  if (n.has(3) != n.has(4)) return n.error("inputs 3 and 4 (past_key, past_value): expected both or neither");
  if (!n.has(5) || !n.has(6))
    return n.error("inputs 5 and 6 (seqlens_k, total_sequence_length): expected both given");
  if (*rot && (!n.has(7) || !n.has(8)))
    return n.error("inputs 7 and 8 (cos_cache, sin_cache): expected both with do_rotary = 1");
  if (!*rot && (n.has(7) || n.has(8)))
    return n.error("inputs 7 and 8 (cos_cache, sin_cache): expected them absent with do_rotary = 0");

  auto qt = n.type(0);
  if (!qt.getElementType().isF32()) return n.error("input 0 (query): expected float32, found " + typeStr(qt));
  if (qt.getRank() != 3 || qt.isDynamicDim(2))
    return n.error("input 0 (query): expected [batch, seq, hidden] with a static hidden size, found " + typeStr(qt));
  Value q = n.in(0), k, v;
  if (n.has(1)) {
    k = n.in(1), v = n.in(2);
  } else {
    int64_t width = qt.getDimSize(2), H = width / (*N + 2 * *K);
    if (width % (*N + 2 * *K))
      return n.error("input 0 (query, packed QKV): expected a last dimension divisible by num_heads + 2 * "
                     "kv_num_heads = " + std::to_string(*N + 2 * *K) + ", found " + typeStr(qt));
    auto parts = n.create(mlir::bmc::SplitOp::getOperationName(), {q},
                          {n.named("axis", n.b.getI64IntegerAttr(2)),
                           n.named("sizes", n.b.getDenseI64ArrayAttr({*N * H, *K * H, *K * H}))},
                          3);
    if (failed(parts)) return failure();
    q = (*parts)->getResult(0), k = (*parts)->getResult(1), v = (*parts)->getResult(2);
  }
  auto q4 = splitHeads(n, q, *N, "input 0 (query)"), k4 = splitHeads(n, k, *K, "input 1 (key)"),
       v4 = splitHeads(n, v, *K, "input 2 (value)");
  if (failed(q4) || failed(k4) || failed(v4)) return failure();
  int64_t H = cast<RankedTensorType>(q4->getType()).getDimSize(3);
  if (cast<RankedTensorType>(k4->getType()).getDimSize(3) != H)
    return n.error("inputs 0 and 1 (query, key): expected one head size, found " + typeStr(q4->getType()) + " and " +
                   typeStr(k4->getType()));

  // The lengths, checked against the shapes (see the file comment).
  auto S = dimScalar(n, n.in(0), 1);
  if (failed(S)) return failure();
  Value expected = *S;
  if (n.has(3)) {
    auto P = dimScalar(n, n.in(3), 2);
    if (failed(P)) return failure();
    auto sum = n.make<mlir::bmc::AddOp>({*P, *S});
    if (failed(sum)) return failure();
    expected = *sum;
  }
  // Graph inputs that are these lengths get their role: the runtime feeds them.
  for (auto [i, role] : {std::pair<int, const char *>{5, "seqlens_k"}, {6, "total_sequence_length"}})
    if (auto arg = dyn_cast<BlockArgument>(n.in(i))) n.graph.argRoles[arg.getArgNumber()] = role;
  auto tot = toI64(n, n.in(6)), sk = toI64(n, n.in(5));
  if (failed(tot) || failed(sk)) return failure();
  auto totT = cast<RankedTensorType>(tot->getType()), skT = cast<RankedTensorType>(sk->getType());
  if (totT.getNumElements() != 1 || totT.getRank() > 1)
    return n.error("input 6 (total_sequence_length): expected a scalar (or one element), found " + typeStr(totT));
  if (skT.getRank() != 1) return n.error("input 5 (seqlens_k): expected [batch], found " + typeStr(skT));
  std::string who = "GroupQueryAttention '" + n.node.name() + "': ";
  auto totChecked = n.make<mlir::bmc::CheckEqualOp>(
      {*tot, expected},
      {n.named("message", n.b.getStringAttr(who + "total_sequence_length must be the past length plus the new "
                                                  "tokens (a past buffer shared with present at its maximum "
                                                  "length is not supported)"))});
  if (failed(totChecked)) return failure();
  auto totScalar = n.make<mlir::bmc::ReshapeOp>({*totChecked, n.constI64({})}, {noZero(n)});
  if (failed(totScalar)) return failure();
  auto sk1 = n.make<mlir::bmc::AddOp>({*sk, n.constI64({1}, true)});
  if (failed(sk1)) return failure();
  auto skChecked = n.make<mlir::bmc::CheckEqualOp>(
      {*sk1, *totScalar},
      {n.named("message", n.b.getStringAttr(who + "seqlens_k + 1 must equal total_sequence_length in every batch "
                                                  "row (padded batches are not supported)"))});
  if (failed(skChecked)) return failure();
  // Positions of the new tokens: seqlens_k + 1 - S + i, [B, S].
  auto base = n.make<mlir::bmc::SubOp>({*skChecked, *S});
  if (failed(base)) return failure();
  auto base2 = n.make<mlir::bmc::UnsqueezeOp>({*base}, {n.named("axes", n.b.getDenseI64ArrayAttr({1}))});
  auto steps = n.make<mlir::bmc::RangeOp>({n.constI64({0}, true), *S, n.constI64({1}, true)});
  if (failed(base2) || failed(steps)) return failure();
  auto pos = n.make<mlir::bmc::AddOp>({*base2, *steps});
  if (failed(pos)) return failure();

  Value qr = *q4, kr = *k4;
  if (*rot) {
    auto ct = n.type(7);
    if (ct.getRank() == 2 && !ct.isDynamicDim(0))
      n.graph.maxPositions = n.graph.maxPositions ? std::min(n.graph.maxPositions, ct.getDimSize(0)) : ct.getDimSize(0);
    auto a = rotary(n, qr, *pos, n.in(7), n.in(8), 1, *inter, "inputs 7 and 8 (cos_cache, sin_cache)");
    if (failed(a)) return failure();
    auto b = rotary(n, kr, *pos, n.in(7), n.in(8), 1, *inter, "inputs 7 and 8 (cos_cache, sin_cache)");
    if (failed(b)) return failure();
    qr = *a, kr = *b;
  }
  Value pk = kr, pv = *v4;
  if (n.has(3)) {
    if (failed(refineCacheInput(n, 3, *K, H)) || failed(refineCacheInput(n, 4, *K, H))) return failure();
    for (int i : {3, 4}) {
      auto t = n.type(i);
      if (t.getRank() != 4 || !t.getElementType().isF32())
        return n.error(std::string("input ") + std::to_string(i) + (i == 3 ? " (past_key)" : " (past_value)") +
                       ": expected float32 [batch, kv_num_heads, past, head_size], found " + typeStr(t));
    }
    auto ck = n.make<mlir::bmc::ConcatOp>({n.in(3), kr}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    auto cv = n.make<mlir::bmc::ConcatOp>({n.in(4), *v4}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    if (failed(ck) || failed(cv)) return failure();
    pk = *ck, pv = *cv;
  }
  auto mask = causalWindowMask(n, *pos, pk, *window, -INFINITY);
  auto scale = attentionScale(n, H);
  if (failed(mask) || failed(scale)) return failure();
  // softcap and smooth_softmax act as onnxruntime's CPU kernel applies them:
  // cap after the scale, before the causal/window mask, then the softmax.
  auto y = n.make<mlir::bmc::AttentionOp>({qr, pk, pv, *mask}, {n.named("scale", n.b.getF32FloatAttr(*scale)),
                                                                 n.named("padding", mlir::bmc::KVPaddingAttr::get(n.b.getContext(), mlir::bmc::KVPadding::Skip)),
                                                                 n.named("softcap", n.b.getF32FloatAttr(*softcap)),
                                                                 n.named("smooth_softmax", n.b.getBoolAttr(*smooth == 1))});
  if (failed(y)) return failure();
  auto out = mergeHeads(n, *y);
  if (failed(out)) return failure();
  SmallVector<Value> outs{*out, pk, pv};
  return n.setOutputs(outs);
}

/// MultiHeadAttention(query, key, value, bias, key_padding_mask,
/// attention_bias, past_key, past_value, ...) in the decoder form: 3-D
/// query/key/value (or packed QKV / packed KV, split into them), past/present
/// in BNSH, a [batch, total] key padding mask,
/// attention_bias, unidirectional. Masked scores get mask_filter_value added,
/// as onnxruntime's CPU kernel does (the same result as -inf wherever a row
/// sees at least one key).
LogicalResult multiHeadAttention(NodeImporter &n) {
  if (failed(n.expectInputs(1, 10)) || failed(n.expectOutputs(1, 4)) ||
      failed(n.onlyAttrs({"num_heads", "mask_filter_value", "scale", "unidirectional"})))
    return failure();
  auto N = n.attrInt("num_heads", std::nullopt), uni = n.attrInt("unidirectional", 0);
  auto filter = n.attrFloat("mask_filter_value", -10000.0f);
  if (failed(N) || failed(uni) || failed(filter)) return failure();
  if (*N <= 0) return n.error("attribute 'num_heads': expected a positive count, found " + std::to_string(*N));
  if (*uni != 0 && *uni != 1) return n.error("attribute 'unidirectional': expected 0 or 1, found " + std::to_string(*uni));
  if (failed(absent(n, 8, "past_sequence_length", "a past buffer shared with present is not supported")) ||
      failed(absent(n, 9, "cache_indirection", "beam search is not supported")) ||
      failed(outputUnused(n, 3, "qk")))
    return failure();
  // ContribOperators.md's packed layouts: QKV as a 5-D query [B, S, N, 3, H]
  // with no key/value, KV as a 5-D key [B, L, N, 2, H] with no value. Each
  // part is split off and viewed as [B, S, N * H], the 3-D form below (the
  // views cost nothing). onnxruntime's CPU kernel implements neither form;
  // conformance.extra checks them against unpacked twins that it does run.
  // Key/value in BNSH is cross attention over a given past, not a cache.
  auto unpack = [&](int i, int64_t parts, const char *what) -> FailureOr<SmallVector<Value>> {
    auto t = n.type(i);
    if (t.getRank() != 5 || !t.getElementType().isF32() || t.getDimSize(2) != *N || t.getDimSize(3) != parts ||
        t.isDynamicDim(4))
      return n.report("input " + std::to_string(i) + " (" + what + "): expected float32 [batch, seq, num_heads = " +
                     std::to_string(*N) + ", " + std::to_string(parts) + ", head_size] with a static head size, "
                     "found " + typeStr(t)),
             failure();
    SmallVector<int64_t> ones(size_t(parts), 1);
    auto split = n.create(mlir::bmc::SplitOp::getOperationName(), {n.in(i)},
                          {n.named("axis", n.b.getI64IntegerAttr(3)), n.named("sizes", n.b.getDenseI64ArrayAttr(ones))},
                          unsigned(parts));
    if (failed(split)) return failure();
    SmallVector<Value> out;
    for (int64_t p = 0; p < parts; ++p) {
      auto r = n.make<mlir::bmc::ReshapeOp>({(*split)->getResult(unsigned(p)),
                                             n.constI64({0, 0, *N * t.getDimSize(4)})}, {noZero(n)});
      if (failed(r)) return failure();
      out.push_back(*r);
    }
    return out;
  };
  Value q = n.in(0), k, v;
  if (n.type(0).getRank() == 5) {
    if (n.has(1) || n.has(2))
      return n.error("inputs 1 and 2 (key, value): expected them absent with packed QKV (a 5-D query), found " +
                     std::string(n.has(1) ? "key" : "value"));
    auto qkv = unpack(0, 3, "query, packed QKV");
    if (failed(qkv)) return failure();
    q = (*qkv)[0], k = (*qkv)[1], v = (*qkv)[2];
  } else if (n.has(1) && n.type(1).getRank() == 5) {
    if (n.has(2))
      return n.error("input 2 (value): expected it absent with packed KV (a 5-D key), found '" + n.node.input(2) + "'");
    auto kv = unpack(1, 2, "key, packed KV");
    if (failed(kv)) return failure();
    k = (*kv)[0], v = (*kv)[1];
  } else if ((n.has(1) && n.type(1).getRank() == 4) || (n.has(2) && n.type(2).getRank() == 4)) {
    return n.error("inputs 1 and 2 (key, value): key/value in BNSH [batch, num_heads, kv_seq, head_size] (cross "
                   "attention over a given past) is not supported: expected [batch, kv_seq, hidden] and the past "
                   "as inputs 6 and 7, found " + (n.has(1) ? typeStr(n.type(1)) : std::string("no key")) +
                   " and " + (n.has(2) ? typeStr(n.type(2)) : std::string("no value")));
  } else {
    if (!n.has(1) || !n.has(2))
      return n.error("inputs 1 and 2 (key, value): expected both given (or a packed QKV query, or a packed KV key)");
    k = n.in(1), v = n.in(2);
  }
  if (n.has(6) != n.has(7)) return n.error("inputs 6 and 7 (past_key, past_value): expected both or neither");
  Value qkv3[] = {q, k, v};
  for (int i : {0, 1, 2}) {
    auto t = cast<RankedTensorType>(qkv3[i].getType());
    if (t.getRank() != 3 || !t.getElementType().isF32())
      return n.error("input " + std::to_string(i) + ": expected float32 [batch, seq, hidden], found " + typeStr(t));
  }
  if (n.has(3)) {
    // bias [Dq + Dk + Dv], added to Q, K and V.
    auto bt = n.type(3);
    auto width = [](Value x) { return cast<RankedTensorType>(x.getType()).getDimSize(2); };
    int64_t dq = width(q), dk = width(k), dv = width(v);
    if (bt.getRank() != 1 || ShapedType::isDynamic(dq) || ShapedType::isDynamic(dk) || ShapedType::isDynamic(dv) ||
        bt.getDimSize(0) != dq + dk + dv)
      return n.error("input 3 (bias): expected [hidden_q + hidden_k + hidden_v], found " + typeStr(bt));
    auto parts = n.create(mlir::bmc::SplitOp::getOperationName(), {n.in(3)},
                          {n.named("axis", n.b.getI64IntegerAttr(0)),
                           n.named("sizes", n.b.getDenseI64ArrayAttr({dq, dk, dv}))},
                          3);
    if (failed(parts)) return failure();
    auto aq = n.make<mlir::bmc::AddOp>({q, (*parts)->getResult(0)});
    auto ak = n.make<mlir::bmc::AddOp>({k, (*parts)->getResult(1)});
    auto av = n.make<mlir::bmc::AddOp>({v, (*parts)->getResult(2)});
    if (failed(aq) || failed(ak) || failed(av)) return failure();
    q = *aq, k = *ak, v = *av;
  }
  auto q4 = splitHeads(n, q, *N, "input 0 (query)"), k4 = splitHeads(n, k, *N, "input 1 (key)"),
       v4 = splitHeads(n, v, *N, "input 2 (value)");
  if (failed(q4) || failed(k4) || failed(v4)) return failure();
  int64_t H = cast<RankedTensorType>(q4->getType()).getDimSize(3);
  Value pk = *k4, pv = *v4;
  if (n.has(6)) {
    if (failed(refineCacheInput(n, 6, *N, H)) ||
        failed(refineCacheInput(n, 7, *N, cast<RankedTensorType>(v4->getType()).getDimSize(3))))
      return failure();
    for (int i : {6, 7})
      if (n.type(i).getRank() != 4 || !n.type(i).getElementType().isF32())
        return n.error("input " + std::to_string(i) + (i == 6 ? " (past_key)" : " (past_value)") +
                       ": expected float32 [batch, num_heads, past, head_size], found " + typeStr(n.type(i)));
    auto ck = n.make<mlir::bmc::ConcatOp>({n.in(6), *k4}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    auto cv = n.make<mlir::bmc::ConcatOp>({n.in(7), *v4}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    if (failed(ck) || failed(cv)) return failure();
    pk = *ck, pv = *cv;
  }
  Type f32 = n.b.getF32Type();
  Value mask;
  auto addMask = [&](Value m) -> LogicalResult {
    if (!mask) return mask = m, success();
    auto s = n.make<mlir::bmc::AddOp>({mask, m});
    if (failed(s)) return failure();
    mask = *s;
    return success();
  };
  if (n.has(4)) {
    // [batch, total] with 0 for padding -> [batch, 1, 1, total].
    auto mt = n.type(4);
    if (mt.getRank() != 2 || !isa<IntegerType>(mt.getElementType()))
      return n.error("input 4 (key_padding_mask): expected an integer [batch, total_sequence_length] mask (the "
                     "[batch] length and 3-D forms are not supported), found " + typeStr(mt));
    auto zero = n.make<mlir::bmc::EqualOp>({n.in(4), n.constScalar(mt.getElementType(), 0)});
    if (failed(zero)) return failure();
    auto w = n.make<mlir::bmc::WhereOp>({*zero, n.constScalar(f32, *filter), n.constScalar(f32, 0.0)});
    if (failed(w)) return failure();
    auto u = n.make<mlir::bmc::UnsqueezeOp>({*w}, {n.named("axes", n.b.getDenseI64ArrayAttr({1, 2}))});
    if (failed(u) || failed(addMask(*u))) return failure();
  }
  if (n.has(5)) {
    auto bt = n.type(5);
    if (bt.getRank() != 4 || bt.getElementType() != f32)
      return n.error("input 5 (attention_bias): expected float32 [batch or 1, heads or 1, seq, total], found " +
                     typeStr(bt));
    if (failed(addMask(n.in(5)))) return failure();
  }
  if (*uni) {
    // Query i at position past + i.
    auto S = dimScalar(n, n.in(0), 1);
    if (failed(S)) return failure();
    Value past = n.constI64({0}, true);
    if (n.has(6)) {
      auto P = dimScalar(n, n.in(6), 2);
      if (failed(P)) return failure();
      past = *P;
    }
    auto r = n.make<mlir::bmc::RangeOp>({n.constI64({0}, true), *S, n.constI64({1}, true)});
    if (failed(r)) return failure();
    auto p = n.make<mlir::bmc::AddOp>({*r, past});
    if (failed(p)) return failure();
    auto p2 = n.make<mlir::bmc::UnsqueezeOp>({*p}, {n.named("axes", n.b.getDenseI64ArrayAttr({0}))});
    if (failed(p2)) return failure();
    auto c = causalWindowMask(n, *p2, pk, -1, *filter);
    if (failed(c) || failed(addMask(*c))) return failure();
  }
  auto scale = attentionScale(n, H);
  if (failed(scale)) return failure();
  SmallVector<Value> operands{*q4, pk, pv};
  if (mask) operands.push_back(mask);
  auto y = n.make<mlir::bmc::AttentionOp>(operands, {n.named("scale", n.b.getF32FloatAttr(*scale)),
                                                     n.named("padding", mlir::bmc::KVPaddingAttr::get(n.b.getContext(), mlir::bmc::KVPadding::Skip))});
  if (failed(y)) return failure();
  auto out = mergeHeads(n, *y);
  if (failed(out)) return failure();
  SmallVector<Value> outs{*out, pk, pv};
  return n.setOutputs(outs);
}

} // namespace

void registerContribAttentionOps(OpTable &t) {
  t["RotaryEmbedding"] = rotaryEmbedding;
  t["GroupQueryAttention"] = groupQueryAttention;
  t["MultiHeadAttention"] = multiHeadAttention;
}

} // namespace bmc
