//===- MarkLayers.cpp - find the decoder layers, mark their ops ------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <string>

namespace mlir::bmc {
#define GEN_PASS_DEF_MARKLAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

/// Same op kind, attributes, result and operand types.
static bool sameShape(Operation *a, Operation *b) {
  return a->getName() == b->getName() && a->getAttrDictionary() == b->getAttrDictionary() &&
         a->getResultTypes() == b->getResultTypes() && a->getOperandTypes() == b->getOperandTypes() &&
         a->getNumRegions() == 0 && b->getNumRegions() == 0;
}

struct MarkLayersPass : mlir::bmc::impl::MarkLayersBase<MarkLayersPass> {
  SmallVector<Operation *> ops;       // top-level ops, constants and weights left out
  DenseMap<Operation *, int64_t> pos; // index in `ops`

  /// The ops of the entry block that `v` is defined by, as an index in
  /// `ops`; -1 for arguments, constants and weights.
  int64_t defIndex(Value v) {
    Operation *d = v.getDefiningOp();
    if (!d) return -1;
    auto it = pos.find(d);
    return it == pos.end() ? -1 : it->second;
  }

  /// Values defined in [from, cut) and used at or after `cut`.
  int64_t crossing(int64_t from, int64_t cut) {
    int64_t n = 0;
    for (int64_t i = from; i < cut; ++i)
      for (Value r : ops[size_t(i)]->getResults())
        for (Operation *u : r.getUsers()) {
          Operation *top = ops[0]->getBlock()->findAncestorOpInBlock(*u);
          auto it = top ? pos.find(top) : pos.end();
          if (it == pos.end() || it->second >= cut) {
            ++n;
            break;
          }
        }
    return n;
  }

  /// Layers [a, a + n) and [b, b + n): same ops, wired the same way.
  bool sameLayer(int64_t a, int64_t b, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      Operation *x = ops[size_t(a + i)], *y = ops[size_t(b + i)];
      if (!sameShape(x, y)) return false;
      for (auto [ox, oy] : llvm::zip(x->getOperands(), y->getOperands())) {
        int64_t dx = defIndex(ox), dy = defIndex(oy);
        bool inX = dx >= a && dx < a + n, inY = dy >= b && dy < b + n;
        if (inX != inY) return false;
        if (inX && (dx - a != dy - b || cast<OpResult>(ox).getResultNumber() != cast<OpResult>(oy).getResultNumber()))
          return false;
        // From outside the layer: an argument, a weight, a constant, an
        // earlier op. Weights and constants may differ (their values are
        // data); for an earlier op's result, the type check above suffices.
      }
    }
    return true;
  }

  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.getBody().empty()) return;
    Block &entry = f.getBody().front();
    ops.clear();
    pos.clear();
    SmallVector<int64_t> anchors;
    for (Operation &op : entry.without_terminator()) {
      op.removeAttr(kLayerAttrName); // marks of an earlier run
      if (isa<arith::ConstantOp, WeightOp>(op)) continue;
      pos[&op] = int64_t(ops.size());
      if (isa<AttentionOp>(op)) anchors.push_back(int64_t(ops.size()));
      ops.push_back(&op);
    }
    int64_t L = int64_t(anchors.size());
    if (L < 2) {
      f.emitRemark("decoder layers: none marked (") << L << " bmc.attention op" << (L == 1 ? "" : "s")
                                                   << ", need two or more)";
      return;
    }
    // How many ops before the first attention match those before the second.
    int64_t gap = anchors[1] - anchors[0], match = 0;
    while (match + 1 < gap && match + 1 <= anchors[0] &&
           sameShape(ops[size_t(anchors[0] - match - 1)], ops[size_t(anchors[1] - match - 1)]))
      ++match;
    // The layer boundary: where the fewest values cross, the earliest such
    // point (the residual stream alone, before the first norm).
    int64_t best = match, bestCrossing = -1;
    for (int64_t s = match; s >= 0; --s) {
      int64_t n = crossing(anchors[0] - match, anchors[1] - s);
      if (bestCrossing < 0 || n < bestCrossing) best = s, bestCrossing = n;
    }
    SmallVector<int64_t> start, size;
    for (int64_t k = 0; k < L; ++k) start.push_back(anchors[size_t(k)] - best);
    for (int64_t k = 0; k + 1 < L; ++k) size.push_back(start[size_t(k + 1)] - start[size_t(k)]);
    size.push_back(std::min(size.back(), int64_t(ops.size()) - start.back()));
    // Distinct bodies, for the remark: each layer against the first of
    // each class so far.
    SmallVector<int64_t> reps;
    SmallVector<SmallVector<int64_t>> members;
    for (int64_t k = 0; k < L; ++k) {
      size_t c = 0;
      for (; c < reps.size(); ++c)
        if (size[size_t(reps[c])] == size[size_t(k)] && sameLayer(start[size_t(reps[c])], start[size_t(k)], size[size_t(k)]))
          break;
      if (c == reps.size()) {
        reps.push_back(k);
        members.emplace_back();
      }
      members[c].push_back(k);
    }
    Builder b(f.getContext());
    for (int64_t k = 0; k < L; ++k)
      for (int64_t i = 0; i < size[size_t(k)]; ++i)
        ops[size_t(start[size_t(k)] + i)]->setAttr(kLayerAttrName, b.getI64IntegerAttr(k));
    std::string classes;
    for (auto &m : members) {
      if (!classes.empty()) classes += "; ";
      classes += "layers " + std::to_string(m.front());
      if (m.size() > 1) classes += (m.size() == size_t(m.back() - m.front() + 1) ? "-" : ",...,") + std::to_string(m.back());
    }
    f.emitRemark("decoder layers: ") << L << " marked, " << size[0] << " ops each, starting " << best
                                     << " ops before each bmc.attention; " << reps.size() << " distinct bod"
                                     << (reps.size() == 1 ? "y" : "ies") << " (" << classes << ")";
  }
};

} // namespace
