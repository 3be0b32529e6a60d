//===- GroupElementwise.cpp - the elementwise fusion decision --------------===//
//
// Marks the elementwise ops whose value is computed in their single
// consumer's loop (bmc.fused); bmc-lower-to-kernels then makes one
// bmck.elementwise per group. The rule is the one code generation applied
// inline before (a single-use result feeding an elementwise op in the same
// block), made once here so that every target reads the same groups.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_GROUPELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct GroupElementwisePass : mlir::bmc::impl::GroupElementwiseBase<GroupElementwisePass> {
  using GroupElementwiseBase::GroupElementwiseBase;
  void runOnOperation() override {
    UnitAttr mark = UnitAttr::get(&getContext());
    SmallVector<Operation *> weightCasts;
    getOperation().walk([&](Operation *op) {
      op->removeAttr(kFusedAttrName);
      if (isNarrowWeightCastCandidate(op)) weightCasts.push_back(op);
      if (!fuse || !bmck::isElementwiseMember(op) || !op->getResult(0).hasOneUse()) return;
      Operation *user = *op->getResult(0).getUsers().begin();
      if (bmck::isElementwiseMember(user) && user->getBlock() == op->getBlock()) op->setAttr(kFusedAttrName, mark);
    });
    // A 16-bit weight's Cast that packed products read and other ops too:
    // the products read a copy of it (which bmc-lower-to-kernels leaves at
    // tensor level: the product names the weight, a target reads it its own
    // way), the others the Cast, computed as a group (decided above, with
    // all its uses counted, as code generation decided it before).
    for (Operation *c : weightCasts) {
      SmallVector<OpOperand *> packed;
      for (OpOperand &u : c->getResult(0).getUses())
        if (feedsPackedProduct(u)) packed.push_back(&u);
      if (packed.empty() || size_t(std::distance(c->getResult(0).use_begin(), c->getResult(0).use_end())) == packed.size()) continue;
      OpBuilder b(c->getContext());
      b.setInsertionPointAfter(c);
      Operation *view = b.clone(*c);
      view->removeAttr(kFusedAttrName);
      for (OpOperand *u : packed) u->set(view->getResult(0));
    }
  }
};

} // namespace
