//===- KVInplace.cpp - BMC: KV concatenations -> in-place appends ----------===//

#include "passes/Passes.h"

#include "llvm/ADT/BitVector.h"
#include "mlir/IR/Verifier.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_KVINPLACE
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

struct KVInplacePass : mlir::bmc::impl::KVInplaceBase<KVInplacePass> {
  using KVInplaceBase::KVInplaceBase;

  void runOnOperation() override {
    func::FuncOp f = getOperation();
    OpBuilder tb(&getContext());
    const Type asked = kvType.getValue() == KVType::BF16 ? Type(tb.getBF16Type())
                       : kvType.getValue() == KVType::F16 ? Type(tb.getF16Type())
                                                          : Type();
    bool failed = false;
    Block &body = f.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    SmallVector<Attribute> status;
    llvm::BitVector dropResults(f.getNumResults());

    for (BlockArgument arg : body.getArguments()) {
      auto t = dyn_cast<RankedTensorType>(arg.getType());
      if (!t || t.getRank() != 4 || !isa<FloatType>(t.getElementType())) continue;
      auto nameAttr = f.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "bmc.name");
      std::string name = nameAttr ? nameAttr.str() : "#" + std::to_string(arg.getArgNumber());
      // The type the graph gave this input (a 16-bit graph widened by
      // bmc-widen-16bit): kept with kv-type auto, refused if asked for the
      // other 16-bit type (its rows would be rounded differently).
      Type graphType;
      if (auto ot = f.getArgAttrOfType<TypeAttr>(arg.getArgNumber(), "bmc.onnx_type")) graphType = ot.getValue();
      Type storage = kvType.getValue() == KVType::Auto ? graphType : asked;
      // A past KV input: concatenated with new rows along axis 2.
      SmallVector<ConcatOp> concats;
      bool otherUse = false;
      for (Operation *u : arg.getUsers()) {
        if (auto c = dyn_cast<ConcatOp>(u); c && c.getAxis() == 2 && c.getInputs().size() == 2 &&
                                            c.getInputs()[0] == arg && c.getInputs()[1] != arg)
          concats.push_back(c);
        else if (!isa<tensor::DimOp, ShapeOp>(u))
          otherUse = true;
      }
      if (concats.empty()) {
        // A key cache stored transposed ([batch, heads, head_dim, seq]) grows
        // along axis 3: a KV cache this pass does not rewrite. Say so.
        for (Operation *u : arg.getUsers()) {
          auto c = dyn_cast<ConcatOp>(u);
          if (!c || c.getAxis() != 3 || c.getInputs().size() != 2 || c.getInputs()[0] != arg ||
              !t.isDynamicDim(3) || !llvm::is_contained(c.getResult().getUsers(), ret.getOperation()))
            continue;
          std::string why = "it grows along axis 3 (a key cache stored transposed, [batch, heads, head_dim, seq]); "
                            "only [batch, heads, seq, head_dim] caches are rewritten";
          c.emitRemark("KV cache '") << name << "' not rewritten: " << why;
          if (storage) {
            c.emitError("bmc-kv-inplace: kv-type ") << storage << " needs every KV cache rewritten in place; '"
                                                     << name << "' is not: " << why;
            failed = true;
          }
          status.push_back(StringAttr::get(&getContext(), name + ": concat (" + why + ")"));
          break;
        }
        continue; // not a KV cache input
      }
      if (asked && graphType && asked != graphType) { // one error for the first such cache
        auto tn = [](Type t) { return t.isBF16() ? "bf16" : "f16"; };
        if (!failed)
          concats[0].emitError("bmc-kv-inplace: kv-type ")
              << tn(asked) << " asks for " << tn(asked) << " KV caches, but the graph's input '" << name << "' is "
              << tn(graphType) << " (leave kv-type auto to keep " << tn(graphType) << ", or use f32)";
        failed = true;
        continue;
      }
      auto remark = [&](const Twine &why) {
        concats[0].emitRemark("KV cache '") << name << "' not rewritten: " << why;
        if (storage) {
          concats[0].emitError("bmc-kv-inplace: kv-type ") << storage << " needs every KV cache rewritten in place; '"
                                                            << name << "' is not: " << why;
          failed = true;
        }
        status.push_back(StringAttr::get(&getContext(), name + ": concat (" + why.str() + ")"));
      };
      if (concats.size() != 1) { remark("it is concatenated more than once"); continue; }
      if (otherUse) { remark("the past tensor has uses other than the concatenation"); continue; }
      if (t.isDynamicDim(1) || t.isDynamicDim(3)) { remark("heads or head_dim are not static"); continue; }
      ConcatOp cc = concats[0];
      SmallVector<unsigned> outputs;
      for (OpOperand &use : cc.getResult().getUses())
        if (use.getOwner() == ret.getOperation()) outputs.push_back(use.getOperandNumber());
      if (outputs.size() != 1) { remark("the concatenation is not returned exactly once as a present output"); continue; }
      auto newT = cast<RankedTensorType>(cc.getInputs()[1].getType());
      if (newT.getElementType() != t.getElementType()) { remark("element types differ"); continue; }

      if (storage) {
        // A bf16/f16 cache is read as such: only attention widens it (other
        // readers would need f32 values); its element type must be f32 to start with.
        if (!t.getElementType().isF32()) { remark("kv-type needs an f32 cache"); continue; }
        Operation *other = nullptr;
        for (Operation *u : cc.getResult().getUsers())
          if (!isa<AttentionOp, func::ReturnOp>(u)) other = u;
        if (other) {
          remark(Twine("its rows are read by '") + other->getName().getStringRef() +
                 "' (only bmc.attention reads a bf16/f16 cache)");
          continue;
        }
      }
      auto cacheType = KVCacheType::get(&getContext(), t.getDimSize(1), t.getDimSize(3),
                                        storage ? storage : t.getElementType());
      if (newT.getRank() != 4 || (!newT.isDynamicDim(1) && newT.getDimSize(1) != t.getDimSize(1)) ||
          (!newT.isDynamicDim(3) && newT.getDimSize(3) != t.getDimSize(3))) {
        remark("the new rows do not match the cache layout [batch, heads, seq, head_dim]");
        continue;
      }
      arg.setType(cacheType);
      OpBuilder b(cc);
      auto app = b.create<KVAppendOp>(cc.getLoc(), arg, cc.getInputs()[1]); // the cache's element type
      // Shape queries of the past see the valid rows.
      for (OpOperand &use : llvm::make_early_inc_range(arg.getUses())) {
        if (use.getOwner() == cc.getOperation() || use.getOwner() == app.getOperation()) continue;
        OpBuilder pb(use.getOwner());
        auto past = pb.create<KVPastOp>(use.getOwner()->getLoc(), arg); // shape queries only
        use.set(past);
      }
      cc.getResult().replaceAllUsesWith(app.getResult());
      cc.erase();
      for (Operation *u : app.getResult().getUsers())
        if (auto att = dyn_cast<AttentionOp>(u)) att.setPadding(padding.getValue());
      dropResults.set(outputs[0]);
      auto outName = f.getResultAttrOfType<StringAttr>(outputs[0], "bmc.name");
      f.setArgAttr(arg.getArgNumber(), "bmc.kv_present", outName ? outName : StringAttr::get(&getContext(), ""));
      status.push_back(StringAttr::get(&getContext(), name + ": in place" + (storage ? std::string(storage.isBF16() ? " (bf16)" : " (f16)") : "")));
    }
    // Drop the present outputs from the return and the signature.
    SmallVector<Value> keep;
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (!dropResults.test(i)) keep.push_back(v);
    SmallVector<DictionaryAttr> resAttrs;
    for (unsigned i = 0; i < f.getNumResults(); ++i)
      if (!dropResults.test(i)) resAttrs.push_back(f.getResultAttrDict(i));
    OpBuilder rb(ret);
    rb.create<func::ReturnOp>(ret.getLoc(), keep);
    ret.erase();
    f.setFunctionType(FunctionType::get(&getContext(), body.getArgumentTypes(), ValueRange(keep).getTypes()));
    f.setAllResultAttrs(resAttrs);
    if (!status.empty()) f->setAttr("bmc.kv_rewritten", ArrayAttr::get(&getContext(), status));
    if (failed) signalPassFailure();
  }
};

} // namespace
