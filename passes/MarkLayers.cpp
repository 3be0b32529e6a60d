//===- MarkLayers.cpp - find the decoder layers, mark their ops ------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

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
  SmallVector<int64_t> anchors;       // indices of the bmc.attention ops

  void collect(Block &entry) {
    ops.clear();
    pos.clear();
    anchors.clear();
    for (Operation &op : entry.without_terminator()) {
      if (isa<arith::ConstantOp, WeightOp>(op)) continue;
      pos[&op] = int64_t(ops.size());
      if (isa<AttentionOp>(op)) anchors.push_back(int64_t(ops.size()));
      ops.push_back(&op);
    }
  }

  /// The ops of the entry block that `v` is defined by, as an index in
  /// `ops`; -1 for arguments, constants and weights.
  int64_t defIndex(Value v) {
    Operation *d = v.getDefiningOp();
    if (!d) return -1;
    auto it = pos.find(d);
    return it == pos.end() ? -1 : it->second;
  }

  /// The index in `ops` of the top-level op that `u` is or is nested in;
  /// -1 for the terminator.
  int64_t topIndex(Operation *u) {
    Operation *top = ops[0]->getBlock()->findAncestorOpInBlock(*u);
    auto it = top ? pos.find(top) : pos.end();
    return it == pos.end() ? -1 : it->second;
  }

  /// Values defined in [from, cut) and used at or after `cut`.
  int64_t crossing(int64_t from, int64_t cut) {
    int64_t n = 0;
    for (int64_t i = from; i < cut; ++i)
      for (Value r : ops[size_t(i)]->getResults())
        for (Operation *u : r.getUsers()) {
          int64_t t = topIndex(u);
          if (t < 0 || t >= cut) {
            ++n;
            break;
          }
        }
    return n;
  }

  /// How many ops before attention r match (same shape) those before
  /// attention r + 1.
  int64_t matching(int64_t r) {
    int64_t a = anchors[size_t(r)], b = anchors[size_t(r + 1)];
    int64_t gap = b - a, match = 0;
    while (match + 1 < gap && match + 1 <= a && sameShape(ops[size_t(a - match - 1)], ops[size_t(b - match - 1)]))
      ++match;
    return match;
  }

  /// How many ops before each attention the layer boundary lies, from the
  /// pair of layers r, r + 1: within the `match` ops before attention r
  /// that match those before attention r + 1, where the fewest values
  /// cross, the earliest such point (the residual stream alone, before the
  /// first norm).
  int64_t boundary(int64_t r, int64_t match) {
    int64_t a = anchors[size_t(r)], b = anchors[size_t(r + 1)];
    int64_t best = match, bestCrossing = -1;
    for (int64_t s = match; s >= 0; --s) {
      int64_t n = crossing(a - match, b - s);
      if (bestCrossing < 0 || n < bestCrossing) best = s, bestCrossing = n;
    }
    return best;
  }

  /// Values the exporter computes once and every layer reads (the mask,
  /// rotary cos/sin, sizes) often sit inside layer 0 (after CSE, layer 0
  /// owns what each layer used to compute). Moves them, with everything
  /// they are computed from, to the start of the function: a prologue whose
  /// values every layer receives alike. They are the values defined before
  /// layer 1 (`start1`) that do not depend on attention 0 and are used from
  /// layer 1 on. Only pure ops move, never past a KV cache write if they
  /// read a cache. Returns how many ops moved (0: none, or not allowed).
  int64_t hoistShared(Block &entry, int64_t start1) {
    llvm::DenseSet<Operation *> dependent; // on attention 0
    for (int64_t i = anchors[0]; i < int64_t(ops.size()); ++i) {
      Operation *op = ops[size_t(i)];
      bool dep = i == anchors[0];
      op->walk([&](Operation *o) {
        for (Value v : o->getOperands())
          if (Operation *d = v.getDefiningOp())
            if (Operation *top = entry.findAncestorOpInBlock(*d); top && top != op && dependent.count(top)) dep = true;
      });
      if (dep) dependent.insert(op);
    }
    llvm::SetVector<Operation *> shared;
    SmallVector<Operation *> work;
    for (int64_t i = 0; i < start1; ++i) {
      Operation *op = ops[size_t(i)];
      if (dependent.count(op)) continue;
      bool later = false;
      for (Value r : op->getResults())
        for (Operation *u : r.getUsers()) later |= topIndex(u) >= start1;
      if (later && shared.insert(op)) work.push_back(op);
    }
    // With what they are computed from (constants and weights included).
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      op->walk([&](Operation *o) {
        for (Value v : o->getOperands())
          if (Operation *d = v.getDefiningOp())
            if (Operation *top = entry.findAncestorOpInBlock(*d); top && top != op && shared.insert(top))
              work.push_back(top);
      });
    }
    if (shared.empty()) return 0;
    auto readsCache = [](Operation *op) {
      bool r = false;
      op->walk([&](Operation *o) {
        for (Value v : o->getOperands()) r |= isa<KVCacheType>(v.getType());
      });
      return r;
    };
    // Check first, then move: the prologue goes before the first op that
    // stays, in the order the ops had.
    Operation *stay = nullptr;
    SmallVector<Operation *> moving;
    bool wrote = false;
    for (Operation &op : entry.without_terminator()) {
      if (!shared.count(&op)) {
        if (!stay) stay = &op;
        wrote |= !isMemoryEffectFree(&op);
        continue;
      }
      if (!isMemoryEffectFree(&op) || (wrote && readsCache(&op))) return 0;
      if (stay) moving.push_back(&op);
    }
    int64_t moved = 0;
    for (Operation *op : moving) {
      op->moveBefore(stay);
      moved += pos.count(op); // constants and weights not counted
    }
    return moved;
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
    for (Operation &op : entry.without_terminator()) op.removeAttr(kLayerAttrName); // marks of an earlier run
    collect(entry);
    int64_t L = int64_t(anchors.size());
    if (L < 2) {
      f.emitRemark("decoder layers: none marked (") << L << " bmc.attention op" << (L == 1 ? "" : "s")
                                                   << ", need two or more)";
      return;
    }
    // The boundary from two middle layers where there are any: layer 0 may
    // hold values every layer reads, which would misplace it.
    const int64_t r = L >= 3 ? 1 : 0;
    int64_t hoisted = hoistShared(entry, anchors[1] - boundary(r, matching(r)));
    if (hoisted) collect(entry); // the same ops from layer 1 on; a new order before it
    // Layer 0 has no layer before it: its start lies no further before
    // attention 0 than its ops match layer 1's.
    int64_t best = boundary(r, std::min(matching(r), matching(0)));
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
    auto remark = f.emitRemark("decoder layers: ");
    remark << L << " marked, " << size[size_t(r)] << " ops each, starting " << best << " ops before each bmc.attention; ";
    if (hoisted) remark << hoisted << " ops that every layer reads moved before layer 0; ";
    remark << reps.size() << " distinct bod" << (reps.size() == 1 ? "y" : "ies") << " (" << classes << ")";
  }
};

} // namespace
