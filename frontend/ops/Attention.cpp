//===- Attention.cpp - import ONNX Attention (opset 23/24) ------------------===//
//
// The standard Attention op with its KV inputs, mapped onto what the
// exporters' graphs give the BMC pass: present = concat(past, new) along the
// sequence axis, then bmc.attention (grouped KV heads, additive mask). With
// past_key/past_value graph inputs and present outputs, --bmc-kv-inplace
// rewrites those concatenations into in-place KV appends, as for HF exports.
//
// is_causal offsets the triangle by the past length: query i sees keys up
// to past + i (without past_key, up to i, even when K is longer than Q).
// That is what decoding with a cache needs and what onnxruntime computes
// (checked by conformance.extra_ort).
//
// Opset 24's static cache: TensorScatter writes the new rows into a
// fixed-size [batch, kv_heads, max_seq, head_dim] buffer at write_indices,
// and Attention reads the whole buffer with nonpad_kv_seqlen masking the
// rows at and beyond the valid length (per batch row; with is_causal, query
// i sees keys up to nonpad - S + i, ONNX's bottom-right errata). A
// TensorScatter whose result reaches such an Attention's K or V is a KV
// cache: it is imported as present = concat(valid rows, new rows), the
// buffer graph input becoming the valid rows (as in the opset-23 form, what
// bmc's runtime feeds), so --bmc-kv-inplace rewrites it into an append. The
// import relies on write_indices = the cache length and nonpad_kv_seqlen =
// that + the new tokens in every row, and checks both at run time
// (bmc.check_equal); the runtime feeds both (bmc.role). Any other
// TensorScatter is a plain ScatterND with ONNX's semantics.
//
//===----------------------------------------------------------------------===//

#include "frontend/ImportContext.h"

#include <cmath>
#include <set>

using namespace mlir;

namespace bmc {

static std::string typeStr(Type t) { return std::string(llvm::formatv("{0}", t)); }

/// [B, S, heads*D] -> [B, heads, S, D] (the 3-D input form).
static FailureOr<Value> toHeads(NodeImporter &n, int i, int64_t heads, const char *what, const char *attr) {
  auto t = n.type(i);
  int64_t width = t.getDimSize(2);
  if (heads <= 0)
    return n.report(std::string("attribute '") + attr + "': expected a positive head count for 3-D input '" + what +
                    "', found " + std::to_string(heads)),
           failure();
  if (ShapedType::isDynamic(width) || width % heads)
    return n.report(std::string("input '") + what + "': expected a static last dimension divisible by " + attr +
                    " = " + std::to_string(heads) + ", found " + typeStr(t)),
           failure();
  auto r = n.make<mlir::bmc::ReshapeOp>({n.in(i), n.constI64({0, 0, heads, width / heads})},
                                        {n.named("allowzero", n.b.getBoolAttr(false))});
  if (failed(r)) return failure();
  return n.make<mlir::bmc::TransposeOp>({*r}, {n.named("perm", n.b.getDenseI64ArrayAttr({0, 2, 1, 3}))});
}

/// Dimension `d` of `v` as the 0-D int64 that Range takes.
static FailureOr<Value> dimScalar(NodeImporter &n, Value v, int64_t d) {
  auto s = n.make<mlir::bmc::ShapeOp>({v}, {n.named("start", n.b.getI64IntegerAttr(d)),
                                            n.named("end", n.b.getI64IntegerAttr(d + 1))});
  if (failed(s)) return failure();
  return n.make<mlir::bmc::ReshapeOp>({*s, n.constI64({})}, {n.named("allowzero", n.b.getBoolAttr(false))});
}

/// The causal term [S, T]: 0 where key j <= past + query i, -inf elsewhere
/// (`past`: the past_key input, or none).
static FailureOr<Value> causalMask(NodeImporter &n, Value q, Value k, Value pastKey, Type et) {
  auto S = dimScalar(n, q, 2), T = dimScalar(n, k, 2);
  if (failed(S) || failed(T)) return failure();
  Value zero = n.constI64({0}, true), one = n.constI64({1}, true);
  FailureOr<Value> past = zero;
  if (pastKey) past = dimScalar(n, pastKey, 2);
  auto qr = n.make<mlir::bmc::RangeOp>({zero, *S, one});
  auto kr = n.make<mlir::bmc::RangeOp>({zero, *T, one});
  if (failed(past) || failed(qr) || failed(kr)) return failure();
  auto qpos = n.make<mlir::bmc::AddOp>({*qr, *past});
  if (failed(qpos)) return failure();
  auto q2 = n.make<mlir::bmc::UnsqueezeOp>({*qpos}, {n.named("axes", n.b.getDenseI64ArrayAttr({1}))});
  auto k2 = n.make<mlir::bmc::UnsqueezeOp>({*kr}, {n.named("axes", n.b.getDenseI64ArrayAttr({0}))});
  if (failed(q2) || failed(k2)) return failure();
  auto allowed = n.make<mlir::bmc::LessEqualOp>({*k2, *q2});
  if (failed(allowed)) return failure();
  return n.make<mlir::bmc::WhereOp>({*allowed, n.constScalar(et, 0.0), n.constScalar(et, -INFINITY)});
}

/// The additive mask of nonpad_kv_seqlen ([B] int64) over the keys of `k`
/// (axis 2): key j is visible iff j < nonpad[b], or with `causal` (the
/// query count `S`) iff j <= nonpad[b] - S + i for query i, which implies it.
/// [B, 1, 1, T] or [B, 1, S, T].
static FailureOr<Value> nonpadMask(NodeImporter &n, Value nonpad, Value k, Value S, Type et) {
  auto T = dimScalar(n, k, 2);
  if (failed(T)) return failure();
  Value zero = n.constI64({0}, true), one = n.constI64({1}, true);
  auto kr = n.make<mlir::bmc::RangeOp>({zero, *T, one});
  if (failed(kr)) return failure();
  FailureOr<Value> allowed;
  if (S) {
    auto qr = n.make<mlir::bmc::RangeOp>({zero, S, one});
    auto last = n.make<mlir::bmc::SubOp>({nonpad, S});
    if (failed(qr) || failed(last)) return failure();
    auto last2 = n.make<mlir::bmc::UnsqueezeOp>({*last}, {n.named("axes", n.b.getDenseI64ArrayAttr({1}))});
    if (failed(last2)) return failure();
    auto qpos = n.make<mlir::bmc::AddOp>({*last2, *qr}); // [B, S]
    if (failed(qpos)) return failure();
    auto q4 = n.make<mlir::bmc::UnsqueezeOp>({*qpos}, {n.named("axes", n.b.getDenseI64ArrayAttr({1, 3}))});
    if (failed(q4)) return failure();
    allowed = n.make<mlir::bmc::LessEqualOp>({*kr, *q4});
  } else {
    auto n4 = n.make<mlir::bmc::UnsqueezeOp>({nonpad}, {n.named("axes", n.b.getDenseI64ArrayAttr({1, 2, 3}))});
    if (failed(n4)) return failure();
    allowed = n.make<mlir::bmc::LessOp>({*kr, *n4});
  }
  if (failed(allowed)) return failure();
  return n.make<mlir::bmc::WhereOp>({*allowed, n.constScalar(et, 0.0), n.constScalar(et, -INFINITY)});
}

static LogicalResult attention(NodeImporter &n) {
  if (n.opset < 23)
    return n.error("expected opset >= 23 (Attention is an opset-23 operator), found opset " +
                   std::to_string(n.opset));
  if (failed(n.expectInputs(3, n.opset >= 24 ? 7 : 6)) || failed(n.expectOutputs(1, 4)) ||
      failed(n.onlyAttrs({"is_causal", "kv_num_heads", "q_num_heads", "qk_matmul_output_mode", "scale", "softcap",
                          "softmax_precision"})))
    return failure();
  auto causal = n.attrInt("is_causal", 0), qh = n.attrInt("q_num_heads", 0), kvh = n.attrInt("kv_num_heads", 0),
       prec = n.attrInt("softmax_precision", 1);
  auto softcap = n.attrFloat("softcap", 0.0f);
  if (failed(causal) || failed(qh) || failed(kvh) || failed(prec) || failed(softcap)) return failure();
  if (*causal != 0 && *causal != 1)
    return n.error("attribute 'is_causal': expected 0 or 1, found " + std::to_string(*causal));
  if (!std::isfinite(*softcap) || *softcap < 0.0f)
    return n.error("attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found " +
                   std::to_string(*softcap));
  // Scores are computed in float32 for float32 inputs: precision 1 (FLOAT) is what runs.
  if (*prec != 1)
    return n.error("attribute 'softmax_precision': expected 1 (FLOAT, what bmc computes in), found " +
                   std::to_string(*prec));
  if (n.node.output_size() > 3 && !n.node.output(3).empty())
    return n.error("output 'qk_matmul_output': expected it unused (bmc does not materialise the scores), found '" +
                   n.node.output(3) + "'");
  if (n.has(6) && n.has(4))
    return n.error("inputs 'past_key' and 'nonpad_kv_seqlen': expected at most one (a past cache concatenated "
                   "inside the op and a static cache buffer at once are not supported), found both");
  if (n.has(6)) {
    auto nt = n.type(6);
    if (nt.getRank() != 1 || !nt.getElementType().isInteger(64))
      return n.error("input 'nonpad_kv_seqlen': expected int64 [batch], found " + typeStr(nt));
  }
  if (n.has(4) != n.has(5))
    return n.error("inputs 'past_key' and 'past_value': expected both or neither, found only '" +
                   std::string(n.has(4) ? "past_key" : "past_value") + "'");

  auto qt = n.type(0);
  Type et = qt.getElementType();
  if (!et.isF32()) return n.error("input 'Q': expected float32, found " + typeStr(et));
  int64_t rank = qt.getRank();
  if (rank != 3 && rank != 4) return n.error("input 'Q': expected rank 3 or 4, found " + typeStr(qt));
  for (int i : {1, 2})
    if (n.type(i).getRank() != rank)
      return n.error(std::string("input '") + (i == 1 ? "K" : "V") + "': expected rank " + std::to_string(rank) +
                     " (as Q), found " + typeStr(n.type(i)));
  Value q = n.in(0), k = n.in(1), v = n.in(2);
  if (rank == 3) {
    auto q4 = toHeads(n, 0, *qh, "Q", "q_num_heads"), k4 = toHeads(n, 1, *kvh, "K", "kv_num_heads"),
         v4 = toHeads(n, 2, *kvh, "V", "kv_num_heads");
    if (failed(q4) || failed(k4) || failed(v4)) return failure();
    q = *q4, k = *k4, v = *v4;
  } else {
    auto check = [&](int64_t attr, int i, const char *name) {
      int64_t d = n.type(i).getDimSize(1);
      return attr == 0 || ShapedType::isDynamic(d) || attr == d;
    };
    if (!check(*qh, 0, "Q") || !check(*kvh, 1, "K"))
      return n.error("attributes 'q_num_heads'/'kv_num_heads': expected the head dimensions of Q and K (" +
                     typeStr(qt) + ", " + typeStr(n.type(1)) + "), found " + std::to_string(*qh) + "/" +
                     std::to_string(*kvh));
  }
  Value pk = k, pv = v;
  if (n.has(4)) {
    for (int i : {4, 5})
      if (n.type(i).getRank() != 4)
        return n.error(std::string("input '") + (i == 4 ? "past_key" : "past_value") +
                       "': expected rank 4 ([batch, kv_heads, past, head_dim]), found " + typeStr(n.type(i)));
    auto ck = n.make<mlir::bmc::ConcatOp>({n.in(4), k}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    auto cv = n.make<mlir::bmc::ConcatOp>({n.in(5), v}, {n.named("axis", n.b.getI64IntegerAttr(2))});
    if (failed(ck) || failed(cv)) return failure();
    pk = *ck, pv = *cv;
  }

  int64_t d = cast<RankedTensorType>(q.getType()).getDimSize(3);
  float scale;
  if (n.attr("scale")) {
    auto s = n.attrFloat("scale", 0.0f);
    if (failed(s)) return failure();
    scale = *s;
  } else {
    if (ShapedType::isDynamic(d))
      return n.error("attribute 'scale': expected it given when the head size is dynamic, found none");
    scale = 1.0f / std::sqrt(float(d));
  }

  Value mask;
  if (n.has(3)) {
    auto mt = n.type(3);
    mask = n.in(3);
    if (mt.getElementType().isInteger(1)) {
      auto w = n.make<mlir::bmc::WhereOp>({mask, n.constScalar(et, 0.0), n.constScalar(et, -INFINITY)});
      if (failed(w)) return failure();
      mask = *w;
    } else if (mt.getElementType() != et) {
      return n.error("input 'attn_mask': expected bool or " + typeStr(et) + ", found " + typeStr(mt.getElementType()));
    }
  }
  auto addMask = [&](Value m) -> LogicalResult {
    if (!mask) return mask = m, success();
    auto sum = n.make<mlir::bmc::AddOp>({mask, m});
    if (failed(sum)) return failure();
    mask = *sum;
    return success();
  };
  if (n.has(6)) {
    Value nonpad = n.in(6);
    auto S = dimScalar(n, q, 2);
    if (failed(S)) return failure();
    if (n.graph.kvAttentions.count(&n.node)) {
      // K and V are static KV caches imported as appends (TensorScatter):
      // they hold exactly the valid rows, T of them.
      if (auto arg = dyn_cast<BlockArgument>(nonpad)) n.graph.argRoles[arg.getArgNumber()] = "nonpad_kv_seqlen";
      auto T = dimScalar(n, pk, 2);
      if (failed(T)) return failure();
      Value expected = *T;
      // The writes' checks (zeros when they hold) join this one, which uses them.
      for (Value c : n.graph.pendingKVChecks) {
        auto sum = n.make<mlir::bmc::AddOp>({expected, c});
        if (failed(sum)) return failure();
        expected = *sum;
      }
      n.graph.pendingKVChecks.clear();
      auto checked = n.make<mlir::bmc::CheckEqualOp>(
          {nonpad, expected},
          {n.named("message", n.b.getStringAttr("Attention '" + n.node.name() +
                                                "': nonpad_kv_seqlen must equal the KV cache length "
                                                "(write_indices + the new tokens) in every batch row "
                                                "(padded batches are not supported)"))});
      if (failed(checked)) return failure();
      nonpad = *checked;
      // A mask over the whole buffer: its first T columns are the valid rows'.
      if (mask && cast<RankedTensorType>(mask.getType()).getRank() > 0 &&
          cast<RankedTensorType>(mask.getType()).getShape().back() != 1) {
        auto end = n.make<mlir::bmc::ReshapeOp>({*T, n.constI64({1})}, {n.named("allowzero", n.b.getBoolAttr(false))});
        if (failed(end)) return failure();
        int64_t last = cast<RankedTensorType>(mask.getType()).getRank() - 1;
        auto cut = n.make<mlir::bmc::SliceOp>({mask, n.constI64({0}), *end, n.constI64({1})},
                                             {n.named("axes", n.b.getDenseI64ArrayAttr({last}))});
        if (failed(cut)) return failure();
        mask = *cut;
      }
    } else if (mask) {
      auto mt = cast<RankedTensorType>(mask.getType());
      auto kt = cast<RankedTensorType>(pk.getType());
      int64_t mw = mt.getRank() ? mt.getShape().back() : 1;
      if (mw != 1 && !ShapedType::isDynamic(mw) && !kt.isDynamicDim(2) && mw != kt.getDimSize(2))
        return n.error("input 'attn_mask': expected its last dimension to be the key count " +
                       std::to_string(kt.getDimSize(2)) + " (shorter masks are not supported), found " +
                       typeStr(mt));
    }
    auto m = nonpadMask(n, nonpad, pk, *causal ? *S : Value(), et);
    if (failed(m) || failed(addMask(*m))) return failure();
  } else if (*causal) {
    auto c = causalMask(n, q, pk, n.has(4) ? n.in(4) : Value(), et);
    if (failed(c) || failed(addMask(*c))) return failure();
  }
  SmallVector<Value> operands{q, pk, pv};
  if (mask) operands.push_back(mask);
  // softcap caps the scaled scores before attn_mask, is_causal and
  // nonpad_kv_seqlen's masks are added (so masked keys stay at -inf): the
  // order of ONNX's corrected spec (onnx/onnx#7867, for opsets 23 and 24),
  // of onnxruntime's CPU kernel, and of bmc.attention's softcap.
  SmallVector<NamedAttribute> attrs{n.named("scale", n.b.getF32FloatAttr(scale)),
                                    n.named("padding", mlir::bmc::KVPaddingAttr::get(n.b.getContext(),
                                                                                     mlir::bmc::KVPadding::Skip))};
  if (*softcap > 0.0f) attrs.push_back(n.named("softcap", n.b.getF32FloatAttr(*softcap)));
  auto y = n.make<mlir::bmc::AttentionOp>(operands, attrs);
  if (failed(y)) return failure();
  Value out = *y;
  if (rank == 3) {
    auto t = n.make<mlir::bmc::TransposeOp>({out}, {n.named("perm", n.b.getDenseI64ArrayAttr({0, 2, 1, 3}))});
    if (failed(t)) return failure();
    auto yt = cast<RankedTensorType>(out.getType());
    int64_t width = yt.isDynamicDim(1) || yt.isDynamicDim(3) ? -1 : yt.getDimSize(1) * yt.getDimSize(3);
    auto r = n.make<mlir::bmc::ReshapeOp>({*t, n.constI64({0, 0, width})},
                                          {n.named("allowzero", n.b.getBoolAttr(false))});
    if (failed(r)) return failure();
    out = *r;
  }
  SmallVector<Value> outs{out, pk, pv};
  return n.setOutputs(outs);
}

/// The Attention nodes (with nonpad_kv_seqlen) whose K or V input the value
/// `start`, produced by node `from`, reaches through the graph.
static std::vector<const onnx::NodeProto *> staticCacheReaders(const onnx::GraphProto &g, int from,
                                                               const std::string &start) {
  std::set<std::string> reached{start};
  std::vector<const onnx::NodeProto *> readers;
  for (int i = from + 1; i < g.node_size(); ++i) {
    const onnx::NodeProto &node = g.node(i);
    bool isAttention = node.op_type() == "Attention" && (node.domain().empty() || node.domain() == "ai.onnx");
    bool staticCache = isAttention && node.input_size() > 6 && !node.input(6).empty();
    bool hit = false;
    for (int k = 0; k < node.input_size(); ++k) {
      if (!reached.count(node.input(k))) continue;
      if (staticCache && (k == 1 || k == 2)) readers.push_back(&node);
      hit = true;
    }
    if (hit && !isAttention)
      for (const auto &o : node.output())
        if (!o.empty()) reached.insert(o);
  }
  return readers;
}

/// TensorScatter written into a KV cache that Attention reads: present =
/// concat(valid rows, update), see the file comment.
static LogicalResult kvCacheWrite(NodeImporter &n, int64_t axis, const std::string &mode,
                                  const onnx::NodeProto &reader) {
  const onnx::GraphProto &g = n.graph.model.proto->graph();
  std::string who = "a KV cache read by Attention '" + reader.name() + "' through nonpad_kv_seqlen";
  if (mode != "linear")
    return n.error("attribute 'mode': expected 'linear' for " + who + " (a circular cache is not supported), found '" +
                   mode + "'");
  if (!n.has(2))
    return n.error("input 'write_indices': expected it given for " + who +
                   " (bmc appends at the cache's current length), found none");
  auto arg = dyn_cast<BlockArgument>(n.in(0));
  if (!arg)
    return n.error("input 'past_cache': expected a graph input for " + who + " (the cache the runtime keeps), found '" +
                   n.node.input(0) + "', computed by another node");
  auto pt = n.type(0);
  if (pt.getRank() != 4 || !pt.getElementType().isF32() || axis != 2)
    return n.error("input 'past_cache': expected float32 [batch, kv_heads, max_seq, head_dim] written along axis 2 "
                   "(-2) for " + who + ", found " + typeStr(pt) + " along axis " + std::to_string(axis));
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &other = g.node(i);
    if (&other == &n.node) continue;
    for (const auto &in : other.input())
      if (in == n.node.input(0))
        return n.error("input 'past_cache' ('" + in + "'): expected it read only by this TensorScatter for " + who +
                       " (bmc keeps only the valid rows), found it read by node '" + other.name() + "' (" +
                       other.op_type() + ")");
  }
  if (!arg.use_empty())
    return n.error("input 'past_cache' ('" + n.node.input(0) + "'): expected it read only by this TensorScatter for " +
                   who + " (bmc keeps only the valid rows), found other readers");
  bool returned = false;
  for (const auto &o : g.output()) returned |= o.name() == n.node.output(0);
  if (!returned)
    return n.error("output 'present_cache' ('" + n.node.output(0) + "'): expected a graph output for " + who +
                   " (the cache the runtime keeps), found it is not one");
  auto wt = n.type(2);
  if (wt.getRank() != 1 || !wt.getElementType().isInteger(64))
    return n.error("input 'write_indices': expected int64 [batch], found " + typeStr(wt));

  // The buffer input becomes its valid rows; its size bounds the context.
  if (!pt.isDynamicDim(2))
    n.graph.maxPositions = n.graph.maxPositions ? std::min(n.graph.maxPositions, pt.getDimSize(2)) : pt.getDimSize(2);
  arg.setType(RankedTensorType::get({pt.getDimSize(0), pt.getDimSize(1), ShapedType::kDynamic, pt.getDimSize(3)},
                                    pt.getElementType()));
  if (auto w = dyn_cast<BlockArgument>(n.in(2))) n.graph.argRoles[w.getArgNumber()] = "write_indices";
  auto P = dimScalar(n, arg, 2);
  if (failed(P)) return failure();
  auto checked = n.make<mlir::bmc::CheckEqualOp>(
      {n.in(2), *P},
      {n.named("message", n.b.getStringAttr("TensorScatter '" + n.node.name() +
                                            "': write_indices must equal the KV cache's current length in every "
                                            "batch row (bmc appends after the valid rows; other write positions "
                                            "are not supported)"))});
  if (failed(checked)) return failure();
  auto zeros = n.make<mlir::bmc::SubOp>({*checked, *P});
  if (failed(zeros)) return failure();
  n.graph.pendingKVChecks.push_back(*zeros);
  return n.setOutput(n.make<mlir::bmc::ConcatOp>({Value(arg), n.in(1)}, {n.named("axis", n.b.getI64IntegerAttr(2))}));
}

/// TensorScatter(past_cache, update, write_indices): a KV cache write when an
/// Attention reads the result through nonpad_kv_seqlen, otherwise ScatterND
/// with index tuples (prefix..., write_indices[b] + s [mod max_seq]).
static LogicalResult tensorScatter(NodeImporter &n) {
  if (n.opset < 24)
    return n.error("expected opset >= 24 (TensorScatter is an opset-24 operator), found opset " +
                   std::to_string(n.opset));
  if (failed(n.expectInputs(2, 3)) || failed(n.expectOutputs(1, 1)) || failed(n.onlyAttrs({"axis", "mode"})))
    return failure();
  auto axisAttr = n.attrInt("axis", -2);
  auto mode = n.attrString("mode", "linear");
  if (failed(axisAttr) || failed(mode)) return failure();
  if (*mode != "linear" && *mode != "circular")
    return n.error("attribute 'mode': expected 'linear' or 'circular', found '" + *mode + "'");
  auto pt = n.type(0), ut = n.type(1);
  int64_t rank = pt.getRank();
  auto axis = n.normAxis(*axisAttr, rank, "attribute 'axis'");
  if (failed(axis)) return failure();
  if (*axis == 0)
    return n.error("attribute 'axis': expected a sequence axis after the batch axis (write_indices has one entry "
                   "per batch row), found " + std::to_string(*axisAttr));
  if (ut.getRank() != rank || ut.getElementType() != pt.getElementType())
    return n.error("input 'update': expected the rank and element type of past_cache (" + typeStr(pt) + "), found " +
                   typeStr(ut));
  if (n.has(2) && (n.type(2).getRank() != 1 || !n.type(2).getElementType().isInteger(64)))
    return n.error("input 'write_indices': expected int64 [batch], found " + typeStr(n.type(2)));

  const onnx::GraphProto &g = n.graph.model.proto->graph();
  int index = 0;
  while (index < g.node_size() && &g.node(index) != &n.node) ++index;
  auto readers = staticCacheReaders(g, index, n.node.output(0));
  if (!readers.empty()) {
    if (failed(kvCacheWrite(n, *axis, *mode, *readers.front()))) return failure();
    n.graph.kvAttentions.insert(readers.begin(), readers.end());
    return success();
  }

  // ScatterND: indices [d0, ..., d(axis-1), S, axis + 1].
  auto noZero = n.named("allowzero", n.b.getBoolAttr(false));
  auto shape = n.make<mlir::bmc::ShapeOp>({n.in(1)}, {n.named("start", n.b.getI64IntegerAttr(0)),
                                                      n.named("end", n.b.getI64IntegerAttr(*axis + 1))});
  if (failed(shape)) return failure();
  SmallVector<Value> parts;
  for (int64_t d = 0; d <= *axis; ++d) {
    auto len = dimScalar(n, n.in(1), d);
    if (failed(len)) return failure();
    auto r = n.make<mlir::bmc::RangeOp>({n.constI64({0}, true), *len, n.constI64({1}, true)});
    if (failed(r)) return failure();
    SmallVector<int64_t> along(*axis + 1, 1);
    along[d] = -1;
    auto idx = n.make<mlir::bmc::ReshapeOp>({*r, n.constI64(along)}, {noZero});
    if (failed(idx)) return failure();
    if (d == *axis) {
      if (n.has(2)) {
        SmallVector<int64_t> perRow(*axis + 1, 1);
        perRow[0] = -1;
        auto w = n.make<mlir::bmc::ReshapeOp>({n.in(2), n.constI64(perRow)}, {noZero});
        if (failed(w)) return failure();
        idx = n.make<mlir::bmc::AddOp>({*w, *idx});
        if (failed(idx)) return failure();
      }
      if (*mode == "circular") {
        auto size = dimScalar(n, n.in(0), *axis);
        if (failed(size)) return failure();
        idx = n.make<mlir::bmc::ModOp>({*idx, *size}, {n.named("fmod", n.b.getBoolAttr(false))});
        if (failed(idx)) return failure();
      }
    }
    auto e = n.make<mlir::bmc::ExpandOp>({*idx, *shape});
    if (failed(e)) return failure();
    auto u = n.make<mlir::bmc::UnsqueezeOp>({*e}, {n.named("axes", n.b.getDenseI64ArrayAttr({*axis + 1}))});
    if (failed(u)) return failure();
    parts.push_back(*u);
  }
  Value indices = parts.front();
  if (parts.size() > 1) {
    auto c = n.make<mlir::bmc::ConcatOp>(parts, {n.named("axis", n.b.getI64IntegerAttr(*axis + 1))});
    if (failed(c)) return failure();
    indices = *c;
  }
  return n.setOutput(n.make<mlir::bmc::ScatterNDOp>({n.in(0), indices, n.in(1)},
                                                    {n.named("reduction", n.b.getStringAttr("none"))}));
}

void registerAttentionOps(OpTable &t) {
  t["Attention"] = attention;
  t["TensorScatter"] = tensorScatter;
}

} // namespace bmc
