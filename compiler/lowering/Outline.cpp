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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SetVector.h"

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

static void outlineRange(func::FuncOp f, ArrayRef<Operation *> ops, int index) {
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
  for (Value v : liveIn) inTypes.push_back(v.getType());
  for (Value v : liveOut) outTypes.push_back(v.getType());
  std::string name = "bmc_segment_" + std::to_string(index);
  auto seg = mb.create<func::FuncOp>(f.getLoc(), name, FunctionType::get(ctx, inTypes, outTypes));
  seg.setPrivate();
  seg->setAttr("passthrough", ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline")}));
  Block *body = seg.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(body);
  IRMapping map;
  for (auto [v, a] : llvm::zip(liveIn, body->getArguments())) map.map(v, a);
  for (Value v : remat) map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
  for (Operation *op : ops) b.clone(*op, map);
  SmallVector<Value> rets;
  for (Value v : liveOut) rets.push_back(map.lookup(v));
  b.create<func::ReturnOp>(f.getLoc(), rets);

  OpBuilder cb(ops.front());
  auto call = cb.create<func::CallOp>(ops.front()->getLoc(), seg, liveIn.getArrayRef());
  for (auto [v, r] : llvm::zip(liveOut, call.getResults())) Value(v).replaceAllUsesWith(r);
  for (Operation *op : llvm::reverse(ops)) op->erase();
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
    if (!s.empty()) outlineRange(f, s, index++);
}

} // namespace bmc
