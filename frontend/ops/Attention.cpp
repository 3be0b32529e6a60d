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
//===----------------------------------------------------------------------===//

#include "frontend/ImportContext.h"

#include <cmath>

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
  if (*softcap != 0.0f)
    return n.error("attribute 'softcap': expected 0 (bmc's attention has no soft cap), found " +
                   std::to_string(*softcap));
  // Scores are computed in float32 for float32 inputs: precision 1 (FLOAT) is what runs.
  if (*prec != 1)
    return n.error("attribute 'softmax_precision': expected 1 (FLOAT, what bmc computes in), found " +
                   std::to_string(*prec));
  if (n.node.output_size() > 3 && !n.node.output(3).empty())
    return n.error("output 'qk_matmul_output': expected it unused (bmc does not materialise the scores), found '" +
                   n.node.output(3) + "'");
  if (n.has(6))
    return n.error("input 'nonpad_kv_seqlen': expected it absent (per-sequence KV lengths are not supported), "
                   "found '" + n.node.input(6) + "'");
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
  if (*causal) {
    auto c = causalMask(n, q, pk, n.has(4) ? n.in(4) : Value(), et);
    if (failed(c)) return failure();
    if (mask) {
      auto sum = n.make<mlir::bmc::AddOp>({mask, *c});
      if (failed(sum)) return failure();
      mask = *sum;
    } else {
      mask = *c;
    }
  }
  SmallVector<Value> operands{q, pk, pv};
  if (mask) operands.push_back(mask);
  auto y = n.make<mlir::bmc::AttentionOp>(operands, {n.named("scale", n.b.getF32FloatAttr(scale)),
                                                     n.named("padding", n.b.getStringAttr("skip"))});
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

void registerAttentionOps(OpTable &t) { t["Attention"] = attention; }

} // namespace bmc
