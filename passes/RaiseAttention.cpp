//===- RaiseAttention.cpp - MatMul/Softmax/MatMul -> bmc.attention ---------===//

#include "passes/PatternUtil.h"
#include "passes/Passes.h"

#include "mlir/IR/Verifier.h"

#include <cmath>

namespace mlir::bmc {
#define GEN_PASS_DEF_RAISEATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

/// Strips Mul/Div by scalar constants (single use), accumulating the factor.
Value stripScale(Value v, double &scale) {
  while (Operation *def = v.getDefiningOp()) {
    if (!v.hasOneUse()) break;
    Value other;
    double c;
    if (matchScalarOperand<MulOp>(def, other, c)) {
      scale *= c;
      v = other;
      continue;
    }
    if (auto d = dyn_cast<DivOp>(def)) {
      if (auto k = splatFloat(d.getRhs()); k && isScalarLike(d.getRhs()) && *k != 0.0) {
        scale /= *k;
        v = d.getLhs();
        continue;
      }
    }
    break;
  }
  return v;
}

/// Gemma-2's soft cap written out: Mul(Tanh(Div(scores, c)), c), any scalar
/// factors around the Tanh (single uses). Returns the scores inside and sets
/// `cap` (the outer factor) and `inner` (the inner factors: scale / c), so
/// that cap * tanh(inner * s) = cap * tanh((inner * cap) * s / cap); null if
/// `v` is not such a chain. `tanh` is the Tanh (the caller checks its uses).
Value stripSoftcap(Value v, double &cap, double &inner, Value *tanh = nullptr) {
  cap = 1.0, inner = 1.0;
  Value t = stripScale(v, cap);
  auto th = t.getDefiningOp<TanhOp>();
  if (!th) return {};
  if (tanh) *tanh = t;
  return stripScale(th.getInput(), inner);
}

/// `[b, kv, t, d]` if `v` repeats KV heads the way Hugging Face's repeat_kv
/// does (Unsqueeze at 2, Expand the new axis, Reshape it into the heads).
Value stripRepeatKV(Value v) {
  auto r = v.getDefiningOp<ReshapeOp>();
  if (!r) return v;
  auto e = r.getInput().getDefiningOp<ExpandOp>();
  if (!e) return v;
  auto u = e.getInput().getDefiningOp<UnsqueezeOp>();
  if (!u || u.getAxes().size() != 1 || u.getAxes()[0] != 2) return v;
  auto kv = cast<RankedTensorType>(u.getInput().getType());
  auto ex = cast<RankedTensorType>(e.getType());
  auto out = cast<RankedTensorType>(r.getType());
  if (kv.getRank() != 4 || ex.getRank() != 5 || out.getRank() != 4) return v;
  int64_t hk = kv.getDimSize(1), rep = ex.getDimSize(2), h = out.getDimSize(1);
  if (ShapedType::isDynamic(hk) || ShapedType::isDynamic(rep) || ShapedType::isDynamic(h) || h != hk * rep ||
      ex.getDimSize(1) != hk)
    return v;
  if (out.getDimSize(3) != kv.getDimSize(3)) return v;
  return u.getInput();
}

/// K from K^T written as the dynamo exporter does: through a 3-D view,
/// Reshape([b, h, d, t]) of Transpose(perm 0,2,1) of Reshape(K, [b*h, t, d]).
Value keyFrom3DTranspose(Value kt) {
  auto outer = kt.getDefiningOp<ReshapeOp>();
  if (!outer) return {};
  auto tr = outer.getInput().getDefiningOp<TransposeOp>();
  if (!tr || tr.getPerm() != ArrayRef<int64_t>{0, 2, 1}) return {};
  auto inner = tr.getInput().getDefiningOp<ReshapeOp>();
  if (!inner) return {};
  Value k = inner.getInput();
  auto k4 = cast<RankedTensorType>(k.getType()), o4 = cast<RankedTensorType>(outer.getType());
  auto i3 = cast<RankedTensorType>(inner.getType());
  if (k4.getRank() != 4 || o4.getRank() != 4 || i3.getRank() != 3) return {};
  int64_t h = k4.getDimSize(1), d = k4.getDimSize(3);
  if (ShapedType::isDynamic(h) || ShapedType::isDynamic(d) || o4.getDimSize(1) != h || o4.getDimSize(2) != d ||
      i3.getDimSize(2) != d)
    return {};
  return k;
}

/// Heads of a 4-D tensor, or kDynamic.
int64_t heads(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

struct RaiseAttentionPass : mlir::bmc::impl::RaiseAttentionBase<RaiseAttentionPass> {
  void runOnOperation() override {
    SmallVector<SoftmaxOp> softmaxes;
    getOperation().walk([&](SoftmaxOp s) { softmaxes.push_back(s); });
    for (SoftmaxOp s : softmaxes) raise(s);
    // Attention that arrives as an op (ONNX Attention, opset 23+) still reads
    // K and V through repeat_kv's copies: read the grouped heads instead.
    getOperation().walk([&](AttentionOp a) { foldRepeats(a); });
  }

  void foldRepeats(AttentionOp a) {
    Value ks = stripRepeatKV(a.getK()), vs = stripRepeatKV(a.getV());
    if (ks == a.getK() || vs == a.getV() || heads(ks) != heads(vs)) return;
    int64_t hq = heads(a.getQ());
    if (ShapedType::isDynamic(hq) || hq % heads(ks)) return;
    a->setOperand(1, ks);
    a->setOperand(2, vs);
  }

  void raise(SoftmaxOp sm) {
    auto t = cast<RankedTensorType>(sm.getType());
    if (t.getRank() != 4 || sm.getAxis() != 3 || sm.getLog() || !t.getElementType().isF32()) return;
    auto remark = [&](const Twine &why) { sm.emitRemark("attention not fused: ") << why; };
    // Only a softmax over scores from a Q.K^T MatMul is attention-like; other
    // softmaxes (classifier heads) are left alone without a remark.
    auto isScores = [&](Value v) {
      double sc = 1.0, cap, inner;
      if (stripScale(v, sc).getDefiningOp<MatMulOp>()) return true;
      Value in = stripSoftcap(v, cap, inner);
      return in && in.getDefiningOp<MatMulOp>();
    };
    auto looksLikeScores = [&](Value v) {
      if (auto add = v.getDefiningOp<AddOp>())
        for (int i = 0; i < 2; ++i)
          if (isScores(add->getOperand(i))) return true;
      return isScores(v);
    };
    if (!looksLikeScores(sm.getInput())) return;
    if (!sm.getResult().hasOneUse()) return remark("the probabilities have other uses");
    auto pv = dyn_cast<MatMulOp>(*sm.getResult().getUsers().begin());
    if (!pv || pv.getLhs() != sm.getResult()) return remark("the probabilities do not feed a MatMul with V");

    Value x = sm.getInput();
    Value mask;
    if (auto add = x.getDefiningOp<AddOp>(); add && x.hasOneUse()) {
      // One side is the scores MatMul (maybe scaled), the other the mask.
      for (int i = 0; i < 2; ++i) {
        if (isScores(add->getOperand(i))) {
          mask = add->getOperand(1 - i);
          x = add->getOperand(i);
          break;
        }
      }
      if (!mask) return remark("the scores are an Add of two values, neither a scaled MatMul");
    }
    double scale = 1.0, cap = 0.0, inner;
    Value tanh;
    if (Value in = stripSoftcap(x, cap, inner, &tanh); in && in.getDefiningOp<MatMulOp>()) {
      // The soft cap, written out: cap * tanh(inner * q.k) with the factors
      // regrouped as bmc.attention applies them.
      if (!tanh.hasOneUse()) return remark("the soft cap's Tanh has other uses");
      if (!(cap > 0.0) || !std::isfinite(cap) || !std::isfinite(inner * cap))
        return remark("the soft cap's factor is not a finite positive value");
      scale = inner * cap;
      x = in;
    } else {
      cap = 0.0;
    }
    Value s = stripScale(x, scale);
    auto qk = s.getDefiningOp<MatMulOp>();
    if (!qk || !s.hasOneUse()) return remark("the softmax input is not a (scaled) Q.K^T MatMul used once");
    Value q = stripScale(qk.getLhs(), scale);
    Value kt = stripScale(qk.getRhs(), scale);
    Value k;
    if (auto tr = kt.getDefiningOp<TransposeOp>()) {
      auto p = tr.getPerm();
      if (p.size() == 4 && p[0] == 0 && p[1] == 1 && p[2] == 3 && p[3] == 2) k = tr.getInput();
    }
    if (!k) k = keyFrom3DTranspose(kt);
    OpBuilder b(pv);
    if (!k) {
      // The key arrives transposed ([b, h, d, t]); attention wants rows.
      if (cast<RankedTensorType>(kt.getType()).getRank() != 4) return remark("K^T is not 4-D");
      k = b.create<TransposeOp>(kt.getLoc(), kt, b.getDenseI64ArrayAttr({0, 1, 3, 2}));
    }
    Value v = pv.getRhs();
    // Grouped-query repeats are folded only when both K and V have them, so
    // that K and V keep the same number of heads.
    Value ks = stripRepeatKV(k), vs = stripRepeatKV(v);
    if (ks != k && vs != v && heads(ks) == heads(vs)) {
      k = ks;
      v = vs;
    }
    auto qt = cast<RankedTensorType>(q.getType()), kt4 = cast<RankedTensorType>(k.getType()),
         vt = cast<RankedTensorType>(v.getType());
    if (qt.getRank() != 4 || kt4.getRank() != 4 || vt.getRank() != 4)
      return remark("Q, K and V are not all 4-D [batch, heads, seq, head_dim]");
    // MatMul broadcasts a K or V of batch 1 over Q's batch; attention reads
    // one K/V sequence per query sequence.
    auto broadcast = [&](RankedTensorType t) { return t.getDimSize(0) == 1 && qt.getDimSize(0) != 1; };
    if (broadcast(kt4) || broadcast(vt))
      return remark("K or V has batch 1 where Q's may be larger (MatMul broadcasts it, attention would not)");
    int64_t hq = qt.getDimSize(1), hk = kt4.getDimSize(1), hv = vt.getDimSize(1);
    if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hk) || hk != hv || hk == 0 || hq % hk ||
        (!qt.isDynamicDim(3) && !kt4.isDynamicDim(3) && qt.getDimSize(3) != kt4.getDimSize(3)))
      return remark("the heads or head sizes of Q, K and V do not line up");
    if (mask && cast<RankedTensorType>(mask.getType()).getRank() > 4) return remark("the mask has rank above 4");
    SmallVector<Value> operands{q, k, v};
    if (mask) operands.push_back(mask);
    OperationState st(pv.getLoc(), AttentionOp::getOperationName());
    st.addOperands(operands);
    st.addAttribute("scale", b.getF32FloatAttr(float(scale)));
    st.addAttribute("padding", KVPaddingAttr::get(b.getContext(), KVPadding::Skip));
    if (cap > 0.0) st.addAttribute("softcap", b.getF32FloatAttr(float(cap)));
    st.addTypes(pv.getType());
    Operation *att = b.create(st);
    if (failed(mlir::verify(att))) {
      att->erase();
      return remark("the fused op would not verify (unexpected head or head_dim shapes)");
    }
    refineResultTypes(att);
    if (att->getResult(0).getType() != pv.getType()) {
      // Keep the consumer's type; attention's inference is at least as static.
      att->getResult(0).setType(pv.getType());
    }
    pv.getResult().replaceAllUsesWith(att->getResult(0));
    // Erase the now-dead chain (consumer first).
    SmallVector<Operation *> dead{pv, sm};
    for (Operation *op : dead)
      if (op->use_empty()) op->erase();
  }
};

} // namespace
