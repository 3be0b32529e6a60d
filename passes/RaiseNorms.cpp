//===- RaiseNorms.cpp - RMSNorm written out -> bmc.rms_norm ----------------===//

#include "passes/PatternUtil.h"
#include "passes/Passes.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_RAISENORMS
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct RaiseNormsPass : mlir::bmc::impl::RaiseNormsBase<RaiseNormsPass> {
  void runOnOperation() override {
    SmallVector<ReduceMeanOp> means;
    getOperation().walk([&](ReduceMeanOp m) { means.push_back(m); });
    for (ReduceMeanOp m : means) raise(m);
  }

  /// The single user of `v`, if there is exactly one.
  static Operation *only(Value v) { return v.hasOneUse() ? *v.getUsers().begin() : nullptr; }

  void raise(ReduceMeanOp mean) {
    auto in = cast<RankedTensorType>(mean.getInput().getType());
    int64_t rank = in.getRank();
    if (!in.getElementType().isF32() || !mean.getKeepdims() || mean.getAxes().size() != 1 ||
        mean.getAxes()[0] != rank - 1)
      return;
    // mean(x^2)
    Value x;
    Operation *sq = mean.getInput().getDefiningOp();
    if (auto p = dyn_cast_or_null<PowOp>(sq)) {
      if (splatFloat(p.getRhs()) != 2.0) return;
      x = p.getLhs();
    } else if (auto m = dyn_cast_or_null<MulOp>(sq)) {
      if (m.getLhs() != m.getRhs()) return;
      x = m.getLhs();
    } else {
      return;
    }
    if (!mean.getInput().hasOneUse()) return;
    // + eps
    Value other;
    double eps;
    Operation *addEps = only(mean.getResult());
    if (!matchScalarOperand<AddOp>(addEps, other, eps)) return;
    auto sqrt = dyn_cast_or_null<SqrtOp>(only(addEps->getResult(0)));
    if (!sqrt) return;
    // x * (1/sqrt) | x * reciprocal(sqrt) | x / sqrt
    Operation *next = only(sqrt.getResult());
    Value normed;
    auto isX = [&](Value v) { return v == x; };
    if (auto d = dyn_cast_or_null<DivOp>(next)) {
      if (d.getRhs() == sqrt.getResult() && splatFloat(d.getLhs()) == 1.0) {
        auto m = dyn_cast_or_null<MulOp>(only(d.getResult()));
        if (!m) return;
        Value o = m.getLhs() == d.getResult() ? m.getRhs() : m.getLhs();
        if (!isX(o)) return;
        normed = m.getResult();
      } else if (d.getRhs() == sqrt.getResult() && isX(d.getLhs())) {
        normed = d.getResult();
      } else {
        return;
      }
    } else if (auto r = dyn_cast_or_null<ReciprocalOp>(next)) {
      auto m = dyn_cast_or_null<MulOp>(only(r.getResult()));
      if (!m) return;
      Value o = m.getLhs() == r.getResult() ? m.getRhs() : m.getLhs();
      if (!isX(o)) return;
      normed = m.getResult();
    } else {
      return;
    }
    // * weight (a vector over the last axis)
    auto wm = dyn_cast_or_null<MulOp>(only(normed));
    if (!wm) return;
    Value w = wm.getLhs() == normed ? wm.getRhs() : wm.getLhs();
    auto wt = cast<RankedTensorType>(w.getType());
    if (wt.getRank() != 1 || wt.getDimSize(0) != in.getDimSize(rank - 1) || ShapedType::isDynamic(wt.getDimSize(0)))
      return;
    if (wm.getType() != x.getType()) return; // the weight must not broadcast x further
    OpBuilder b(wm);
    auto rms = b.create<RMSNormOp>(wm.getLoc(), x.getType(), x, w, b.getF32FloatAttr(float(eps)));
    wm.getResult().replaceAllUsesWith(rms.getResult());
  }
};

} // namespace
