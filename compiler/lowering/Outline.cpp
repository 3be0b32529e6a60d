//===- Outline.cpp - split the generated entry function into segments ------===//
//
// The lowering emits one function with every op of the model in sequence.
// LLVM's code generation is superlinear in function size (Loop Strength
// Reduction and X86 Domain Reassignment took 48 of 50 s on a 16-layer model),
// so the function is cut into segments of bounded size, each outlined into
// its own non-inlined function: compile time grows linearly with depth. The
// cost at run time is one call per segment.
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SetVector.h"

#include <map>
#include <set>
#include <vector>

namespace bmc {

using namespace mlir;

static int64_t weight(Operation *op) {
  int64_t n = 0;
  op->walk([&](Operation *) { ++n; });
  return n;
}

/// Values a segment's ops can recreate instead of receiving as arguments.
static bool rematerializable(Value v) {
  Operation *d = v.getDefiningOp();
  return d && (isa<arith::ConstantOp, LLVM::AddressOfOp, LLVM::ZeroOp>(d));
}

/// Moves `ops` (top-level ops of `f`'s entry block, in order) into a new
/// private, non-inlined function `name` and calls it in their place. Each
/// value from outside is one argument; with `argPerUse`, each use of one is
/// (in the order of a preorder walk), so that the function's type and
/// wiring do not depend on which outside values happen to be equal (two
/// buffers of one layer that the memory plan put in one slot, but not in
/// the next layer's).
static std::pair<func::FuncOp, func::CallOp> outlineRange(func::FuncOp f, ArrayRef<Operation *> ops,
                                                          const std::string &name, bool argPerUse = false) {
  llvm::DenseSet<Operation *> inSegment;
  for (Operation *op : ops) op->walk([&](Operation *o) { inSegment.insert(o); });
  auto definedInside = [&](Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v)) return inSegment.count(arg.getOwner()->getParentOp()) > 0;
    return inSegment.count(v.getDefiningOp()) > 0;
  };
  llvm::SetVector<Value> liveIn, remat, liveOut;
  for (Operation *op : ops)
    op->walk([&](Operation *o) {
      for (Value v : o->getOperands())
        if (!definedInside(v)) (rematerializable(v) ? remat : liveIn).insert(v);
    });
  for (Operation *op : ops)
    for (Value r : op->getResults())
      for (Operation *user : r.getUsers())
        if (!inSegment.count(user)) { liveOut.insert(r); break; }

  MLIRContext *ctx = f.getContext();
  OpBuilder mb(f);
  mb.setInsertionPointAfter(f);
  SmallVector<Type> inTypes, outTypes;
  if (!argPerUse)
    for (Value v : liveIn) inTypes.push_back(v.getType());
  for (Value v : liveOut) outTypes.push_back(v.getType());
  auto seg = mb.create<func::FuncOp>(f.getLoc(), name, FunctionType::get(ctx, inTypes, outTypes));
  seg.setPrivate();
  seg->setAttr("passthrough", ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline")}));
  Block *body = seg.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(body);
  IRMapping map;
  if (!argPerUse)
    for (auto [v, a] : llvm::zip(liveIn, body->getArguments())) map.map(v, a);
  for (Value v : remat) map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
  for (Operation *op : ops) b.clone(*op, map);
  SmallVector<Value> rets;
  for (Value v : liveOut) rets.push_back(map.lookup(v));
  b.create<func::ReturnOp>(f.getLoc(), rets);
  SmallVector<Value> args(liveIn.begin(), liveIn.end());
  if (argPerUse) {
    // The clones still use the outside values: each use becomes an argument.
    args.clear();
    auto inside = [&](Value v) {
      Operation *owner = isa<BlockArgument>(v) ? cast<BlockArgument>(v).getOwner()->getParentOp() : v.getDefiningOp();
      return seg->isAncestor(owner);
    };
    seg.walk<WalkOrder::PreOrder>([&](Operation *o) {
      for (OpOperand &use : o->getOpOperands())
        if (!inside(use.get())) {
          args.push_back(use.get());
          use.set(body->addArgument(use.get().getType(), use.get().getLoc()));
        }
    });
    seg.setType(FunctionType::get(ctx, body->getArgumentTypes(), outTypes));
  }

  OpBuilder cb(ops.front());
  auto call = cb.create<func::CallOp>(ops.front()->getLoc(), seg, args);
  for (auto [v, r] : llvm::zip(liveOut, call.getResults())) Value(v).replaceAllUsesWith(r);
  for (Operation *op : llvm::reverse(ops)) op->erase();
  return {seg, call};
}

void outlineSegments(func::FuncOp f, int64_t maxOps) {
  if (maxOps <= 0) return;
  Block &entry = f.getBody().front();
  SmallVector<SmallVector<Operation *>> segments(1);
  int64_t size = 0;
  // A stack slot (llvm.alloca) lives in the frame of the function that
  // allocates it: its segment's. A cut between an alloca and one of its uses
  // would hand the next segment a pointer into a frame that has returned (and
  // that the next call reuses). Users still ahead of each open alloca:
  llvm::DenseMap<Operation *, int64_t> openAllocas;
  llvm::DenseMap<Operation *, SmallVector<Operation *>> allocasUsedBy; // top-level user -> allocas
  for (Operation &op : entry.without_terminator()) {
    // Constants stay where they are: segments recreate the ones they use.
    if (isa<arith::ConstantOp>(op)) continue;
    int64_t w = weight(&op);
    if (size + w > maxOps && !segments.back().empty() && openAllocas.empty()) {
      segments.emplace_back();
      size = 0;
    }
    segments.back().push_back(&op);
    size += w;
    if (auto it = allocasUsedBy.find(&op); it != allocasUsedBy.end())
      for (Operation *a : it->second)
        if (--openAllocas[a] == 0) openAllocas.erase(a);
    if (isa<LLVM::AllocaOp>(op)) {
      llvm::SmallPtrSet<Operation *, 8> users;
      for (Operation *u : op.getResult(0).getUsers())
        if (Operation *top = entry.findAncestorOpInBlock(*u);
            top && top != &op && !top->hasTrait<OpTrait::IsTerminator>())
          users.insert(top);
      for (Operation *u : users) allocasUsedBy[u].push_back(&op);
      if (!users.empty()) openAllocas[&op] = int64_t(users.size());
    }
  }
  if (segments.size() < 2) return;
  int index = 0;
  for (auto &s : segments)
    if (!s.empty()) outlineRange(f, s, "bmc_segment_" + std::to_string(index++));
}

std::string outlineLoops(func::FuncOp f) {
  SmallVector<Operation *> loops;
  for (Operation &op : f.getBody().front().without_terminator())
    if (op.getNumRegions() > 0) loops.push_back(&op);
  int index = 0;
  for (Operation *op : loops) outlineRange(f, {op}, "bmc_loop_" + std::to_string(index++));
  return index ? "entry function: " + std::to_string(index) + " loop nests outlined (bmc_loop_*)" : "";
}

} // namespace bmc

//===----------------------------------------------------------------------===//
// One function per distinct decoder layer body
//===----------------------------------------------------------------------===//
//
// bmc-mark-layers marks the ops of each decoder layer and the lowering
// carries the marks to their code. Each layer's code is outlined like a
// segment, one argument per use of an outside value; layers whose functions
// are the same but for the values of scalar constants (weight and output
// offsets) and of string addresses (messages naming the node) become one
// function that takes those as arguments, and uses that every layer of the
// class feeds from one value share one argument again. Code generation is
// then O(distinct bodies), not O(layers).

namespace bmc {
namespace {

/// A constant that may differ between layers sharing a body.
bool parameterizable(Operation *op) {
  if (auto k = dyn_cast<arith::ConstantOp>(op)) return k.getType().isIntOrIndexOrFloat();
  return isa<LLVM::AddressOfOp>(op);
}

SmallVector<Operation *> preorder(func::FuncOp f) {
  SmallVector<Operation *> ops;
  f.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op != f.getOperation()) ops.push_back(op);
  });
  return ops;
}

/// Whether `b` is `a` up to parameterizable constants and what it returns;
/// `diffs` gets the preorder positions of the constants that differ, `rets`
/// the values of `a` that stand for those `b` returns (the last layer's
/// callers, the final norm, use fewer of its sizes than the next layer's).
bool sameBody(func::FuncOp a, func::FuncOp b, ArrayRef<Operation *> la, ArrayRef<Operation *> lb,
              SmallVectorImpl<size_t> &diffs, SmallVectorImpl<Value> &rets) {
  if (a.getArgumentTypes() != b.getArgumentTypes() || la.size() != lb.size()) return false;
  IRMapping map, back;
  auto mapRegions = [&](Operation *x, Operation *y) {
    for (auto [rx, ry] : llvm::zip(x->getRegions(), y->getRegions())) {
      if (rx.getBlocks().size() != ry.getBlocks().size()) return false;
      for (auto [bx, by] : llvm::zip(rx, ry)) {
        if (bx.getArgumentTypes() != by.getArgumentTypes()) return false;
        map.map(&bx, &by);
        map.map(bx.getArguments(), by.getArguments());
        back.map(by.getArguments(), bx.getArguments());
      }
    }
    return true;
  };
  if (!mapRegions(a, b)) return false;
  for (size_t i = 0; i < la.size(); ++i) {
    Operation *x = la[i], *y = lb[i];
    if (x->getParentOp() == a && isa<func::ReturnOp>(x)) {
      if (y->getParentOp() != b || !isa<func::ReturnOp>(y)) return false;
      rets.clear();
      for (Value v : y->getOperands()) {
        Value w = back.lookupOrNull(v);
        if (!w) return false;
        rets.push_back(w);
      }
      continue;
    }
    if (x->getName() != y->getName() || x->getNumOperands() != y->getNumOperands() ||
        x->getNumRegions() != y->getNumRegions() || x->getNumSuccessors() != y->getNumSuccessors() ||
        x->getResultTypes() != y->getResultTypes() || x->getPropertiesStorageSize() != y->getPropertiesStorageSize())
      return false;
    for (auto [ox, oy] : llvm::zip(x->getOperands(), y->getOperands()))
      if (map.lookupOrNull(ox) != oy) return false;
    for (auto [sx, sy] : llvm::zip(x->getSuccessors(), y->getSuccessors()))
      if (map.lookupOrNull(sx) != sy) return false;
    if (x->getAttrDictionary() != y->getAttrDictionary() || x->getPropertiesAsAttribute() != y->getPropertiesAsAttribute()) {
      if (!parameterizable(x)) return false;
      diffs.push_back(i);
    }
    map.map(x->getResults(), y->getResults());
    back.map(y->getResults(), x->getResults());
    if (!mapRegions(x, y)) return false;
  }
  return true;
}

} // namespace

std::string outlineLayers(func::FuncOp f) {
  Block &entry = f.getBody().front();
  // Each layer's ops, in order; constants stay (functions recreate them).
  std::map<int64_t, SmallVector<Operation *>> layers;
  SmallVector<Operation *> marked;
  for (Operation &op : entry.without_terminator())
    if (auto l = op.getAttrOfType<IntegerAttr>(mlir::bmc::kLayerAttrName)) {
      marked.push_back(&op);
      if (!isa<arith::ConstantOp>(op)) layers[l.getInt()].push_back(&op);
    }
  f.walk([](Operation *op) { op->removeAttr(mlir::bmc::kLayerAttrName); });
  if (layers.size() < 2) return "";
  // Each layer must be one run of ops (constants aside), and a stack slot
  // must not outlive its layer's frame.
  for (auto &[k, ops] : layers) {
    llvm::DenseSet<Operation *> in(ops.begin(), ops.end());
    for (Operation *op = ops.front(); op != ops.back(); op = op->getNextNode())
      if (!in.count(op) && !isa<arith::ConstantOp>(op))
        return "decoder layers: not outlined (the code of layer " + std::to_string(k) + " is not contiguous)";
    for (Operation *op : ops)
      if (isa<LLVM::AllocaOp>(op))
        for (Operation *u : op->getResult(0).getUsers())
          if (!in.count(entry.findAncestorOpInBlock(*u)))
            return "decoder layers: not outlined (a stack slot of layer " + std::to_string(k) + " is used after it)";
  }

  struct Layer {
    int64_t index;
    func::FuncOp fn;
    func::CallOp call;
    SmallVector<Operation *> ops; // preorder
  };
  std::vector<Layer> all;
  for (auto &[k, ops] : layers) {
    auto [fn, call] = outlineRange(f, ops, "bmc_layer_" + std::to_string(k), /*argPerUse=*/true);
    all.push_back({k, fn, call, preorder(fn)});
  }
  // Classes of equal bodies: each layer against the first of each class.
  struct Class {
    std::vector<size_t> members;
    std::set<size_t> params; // preorder positions of constants passed in
  };
  std::vector<Class> classes;
  std::vector<SmallVector<Value>> rets(all.size()); // what each layer returns, in its representative's values
  for (size_t i = 0; i < all.size(); ++i) {
    bool found = false;
    for (Class &c : classes) {
      const Layer &rep = all[c.members.front()];
      SmallVector<size_t> diffs;
      if (!sameBody(rep.fn, all[i].fn, rep.ops, all[i].ops, diffs, rets[i])) continue;
      c.members.push_back(i);
      c.params.insert(diffs.begin(), diffs.end());
      found = true;
      break;
    }
    if (!found) {
      classes.push_back({{i}, {}});
      auto ret = all[i].fn.getBody().front().getTerminator()->getOperands();
      rets[i].assign(ret.begin(), ret.end());
    }
  }

  MLIRContext *ctx = f.getContext();
  std::string report;
  for (size_t ci = 0; ci < classes.size(); ++ci) {
    Class &c = classes[ci];
    Layer &rep = all[c.members.front()];
    func::FuncOp body = rep.fn;
    body.setSymName("bmc_layer_body_" + std::to_string(ci));
    // Uses that every member passes one value for share one argument again.
    const unsigned n = body.getNumArguments();
    llvm::BitVector merged(n);
    std::map<std::vector<const void *>, unsigned> firstWith;
    for (unsigned i = 0; i < n; ++i) {
      std::vector<const void *> key;
      for (size_t m : c.members) key.push_back(all[m].call.getOperand(i).getAsOpaquePointer());
      auto [it, fresh] = firstWith.emplace(std::move(key), i);
      if (fresh) continue;
      body.getArgument(i).replaceAllUsesWith(body.getArgument(it->second));
      merged.set(i);
    }
    body.eraseArguments(merged);
    // It returns what any member's callers use.
    llvm::SetVector<Value> returned;
    for (size_t m : c.members) returned.insert(rets[m].begin(), rets[m].end());
    llvm::DenseMap<Value, unsigned> resultOf;
    SmallVector<Type> resultTypes;
    for (auto [i, v] : llvm::enumerate(returned)) {
      resultOf[v] = unsigned(i);
      resultTypes.push_back(v.getType());
    }
    body.getBody().front().getTerminator()->setOperands(returned.getArrayRef());
    body.setType(FunctionType::get(ctx, body.getArgumentTypes(), resultTypes));
    // The differing constants become trailing arguments.
    for (size_t p : c.params) {
      Operation *k = rep.ops[p];
      Type t = k->getResult(0).getType();
      body.insertArgument(body.getNumArguments(), t, DictionaryAttr::get(ctx), k->getLoc());
      k->getResult(0).replaceAllUsesWith(body.getArgument(body.getNumArguments() - 1));
    }
    // Each member's call passes its own values (the constants, recreated
    // before the call).
    for (size_t m : c.members) {
      Layer &l = all[m];
      OpBuilder cb(l.call);
      SmallVector<Value> args;
      for (unsigned i = 0; i < n; ++i)
        if (!merged.test(i)) args.push_back(l.call.getOperand(i));
      for (size_t p : c.params) args.push_back(cb.clone(*l.ops[p])->getResult(0));
      auto call = cb.create<func::CallOp>(l.call.getLoc(), body, args);
      for (auto [r, v] : llvm::zip(l.call.getResults(), rets[m])) r.replaceAllUsesWith(call.getResult(resultOf[v]));
      l.call.erase();
      if (m != c.members.front()) l.fn.erase();
    }
    for (size_t p : c.params) rep.ops[p]->erase();
    std::string ids;
    for (size_t m : c.members) ids += (ids.empty() ? "" : ",") + std::to_string(all[m].index);
    report += (report.empty() ? "" : "; ") + body.getSymName().str() + ": layers " + ids + " (" +
              std::to_string(c.params.size()) + " constants passed in)";
  }
  return "decoder layers: " + std::to_string(all.size()) + " outlined into " + std::to_string(classes.size()) +
         " distinct bod" + (classes.size() == 1 ? "y" : "ies") + ": " + report;
}

} // namespace bmc
