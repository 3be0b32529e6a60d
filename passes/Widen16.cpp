//===- Widen16.cpp - fully 16-bit graphs computed in fp32 -----------------===//
//
// An fp16 / bf16 export (Optimum --dtype fp16, onnxruntime-genai fp16) keeps
// every activation 16-bit. bmc computes such a graph in fp32: activations,
// constants, Casts and the graph's inputs and outputs become f32; weights
// keep their 16-bit storage behind a Cast to f32, which the packed 16-bit
// matmul kernels read directly (they widen in registers). What the graph
// said is kept on the function: `bmc.onnx_type` on each widened argument and
// result, which bmc-kv-inplace reads to store KV caches in the graph's type.
// bmc-narrow-16bit-io then gives the inputs and outputs that are still
// tensors their 16-bit types back (casts at the boundary), so the compiled
// model keeps the ONNX graph's signature, and rounds a concat cache's new
// rows to that type before its Concat (the rows are the graph's storage).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_WIDEN16BIT
#define GEN_PASS_DEF_NARROW16BITIO
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

bool is16(Type e) { return e.isF16() || e.isBF16(); }

/// `t` with an f32 element type if it is a 16-bit float tensor, else null.
Type widened(Type t) {
  auto rt = dyn_cast<RankedTensorType>(t);
  if (!rt || !is16(rt.getElementType())) return {};
  return rt.clone(Float32Type::get(t.getContext()));
}

/// A 16-bit float attribute (scalar or dense) as f32: exact.
Attribute widenedAttr(Attribute a) {
  Type f32 = Float32Type::get(a.getContext());
  if (auto f = dyn_cast<FloatAttr>(a); f && is16(f.getType())) return FloatAttr::get(f32, f.getValueAsDouble());
  if (auto d = dyn_cast<DenseFPElementsAttr>(a); d && is16(d.getElementType()))
    return d.mapValues(f32, [](const APFloat &v) {
      APFloat w = v;
      bool lost = false;
      w.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost); // exact: f32 holds every f16/bf16
      return w.bitcastToAPInt();
    });
  return {};
}

struct Widen16BitPass : mlir::bmc::impl::Widen16BitBase<Widen16BitPass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    Block &body = f.getBody().front();
    int64_t boundary = 0, values = 0, weights = 0;
    bool sawF16 = false, sawBF16 = false;
    auto note = [&](Type t) {
      Type e = cast<RankedTensorType>(t).getElementType();
      sawF16 |= e.isF16();
      sawBF16 |= e.isBF16();
    };

    for (BlockArgument a : body.getArguments())
      if (Type w = widened(a.getType())) {
        note(a.getType());
        f.setArgAttr(a.getArgNumber(), "bmc.onnx_type", TypeAttr::get(cast<RankedTensorType>(a.getType()).getElementType()));
        a.setType(w);
        ++boundary;
      }

    SmallVector<Operation *> ops;
    f.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops) {
      if (auto w = dyn_cast<WeightOp>(op)) {
        Type wt = widened(w.getType());
        if (!wt) continue;
        // The weight keeps its bytes; its readers see it through a Cast, as
        // in an export that keeps fp32 activations (the packed 16-bit path).
        // Readers that are already Casts to f32 (an export that keeps fp32
        // activations) stay as they are.
        auto isWidening = [](Operation *u) {
          auto c = dyn_cast<CastOp>(u);
          return c && c.getTo().isF32();
        };
        if (llvm::all_of(w.getResult().getUsers(), isWidening)) continue;
        OpBuilder b(ctx);
        b.setInsertionPointAfter(w);
        note(w.getType());
        auto c = b.create<CastOp>(w.getLoc(), wt, w.getResult(), TypeAttr::get(f32));
        for (OpOperand &use : llvm::make_early_inc_range(w.getResult().getUses()))
          if (use.getOwner() != c && !isWidening(use.getOwner())) use.set(c.getResult());
        ++weights;
        continue;
      }
      if (auto k = dyn_cast<arith::ConstantOp>(op)) {
        if (Attribute v = widenedAttr(k.getValue())) {
          note(k.getType());
          OpBuilder b(k);
          auto n = b.create<arith::ConstantOp>(k.getLoc(), cast<TypedAttr>(v));
          k.getResult().replaceAllUsesWith(n.getResult());
          k.erase();
          ++values;
        }
        continue;
      }
      // A Cast to a 16-bit type would round: it becomes a Cast to f32 (from
      // f32 the canonicalizer removes it), so nothing is rounded on the way.
      if (auto c = dyn_cast<CastOp>(op); c && is16(c.getTo())) c.setToAttr(TypeAttr::get(f32));
      for (NamedAttribute na : op->getAttrs())
        if (Attribute v = widenedAttr(na.getValue())) op->setAttr(na.getName(), v); // ConstantOfShape's value
      for (OpResult r : op->getResults())
        if (Type w = widened(r.getType())) {
          note(r.getType());
          r.setType(w);
          ++values;
        }
    }

    // A Gather from a 16-bit table through a Cast (an embedding, here or in
    // an export that keeps fp32 activations) gathers 16-bit rows and widens
    // only those: the Cast of the whole table would run at every call.
    SmallVector<GatherOp> gathers;
    f.walk([&](GatherOp g) { gathers.push_back(g); });
    int64_t narrowGathers = 0;
    for (GatherOp g : gathers) {
      auto c = g.getData().getDefiningOp<CastOp>();
      auto w = c ? c.getInput().getDefiningOp<WeightOp>() : WeightOp();
      auto rt = cast<RankedTensorType>(g.getType());
      if (!w || !rt.getElementType().isF32()) continue;
      Type we = cast<RankedTensorType>(w.getType()).getElementType();
      if (!is16(we)) continue;
      OpBuilder b(g);
      auto ng = b.create<GatherOp>(g.getLoc(), rt.clone(we), w.getResult(), g.getIndices(), g.getAxisAttr());
      auto nc = b.create<CastOp>(g.getLoc(), rt, ng.getResult(), TypeAttr::get(f32));
      g.getResult().replaceAllUsesWith(nc.getResult());
      g.erase();
      if (c.getResult().use_empty()) c.erase();
      ++narrowGathers;
    }

    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (unsigned i = 0; i < f.getNumResults(); ++i)
      if (Type e = cast<RankedTensorType>(f.getResultTypes()[i]).getElementType(); is16(e)) {
        f.setResultAttr(i, "bmc.onnx_type", TypeAttr::get(e));
        ++boundary;
      }
    f.setFunctionType(FunctionType::get(ctx, body.getArgumentTypes(), ret.getOperandTypes()));
    if (narrowGathers)
      f.emitRemark() << narrowGathers << " gathers from a 16-bit table read 16-bit rows and widen only those";
    if (boundary + values + weights == 0) return;
    const char *kind = sawF16 && sawBF16 ? "f16 and bf16" : sawF16 ? "f16" : "bf16";
    // For the compiler's report (bmc-compile says it without --remarks).
    f->setAttr("bmc.widened_16bit", StringAttr::get(ctx, kind));
    f.emitRemark("16-bit graph (") << kind << ") computed in fp32: " << values
        << " values and " << boundary << " inputs/outputs widened to f32, " << weights
        << " weights kept 16-bit behind a Cast";
  }
};

struct Narrow16BitIOPass : mlir::bmc::impl::Narrow16BitIOBase<Narrow16BitIOPass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    Block &body = f.getBody().front();
    /// The 16-bit type the graph gave a value now held as an f32 tensor.
    auto graphType = [](Type now, TypeAttr onnx) -> RankedTensorType {
      auto rt = dyn_cast<RankedTensorType>(now);
      if (!onnx || !rt || !rt.getElementType().isF32() || !is16(onnx.getValue())) return {};
      return rt.clone(onnx.getValue());
    };
    OpBuilder b(ctx);
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    b.setInsertionPointToStart(&body);
    SmallVector<std::pair<Value, Type>> narrowed; // each input's f32 view, with the graph's type
    for (BlockArgument a : body.getArguments()) {
      auto t = graphType(a.getType(), f.getArgAttrOfType<TypeAttr>(a.getArgNumber(), "bmc.onnx_type"));
      if (!t) continue; // an f32 input, or an in-place KV cache (kept in its own type)
      auto c = b.create<CastOp>(f.getLoc(), a.getType(), a, TypeAttr::get(f32));
      a.replaceAllUsesExcept(c.getResult(), c);
      a.setType(t);
      f.removeArgAttr(a.getArgNumber(), "bmc.onnx_type");
      narrowed.push_back({c.getResult(), t.getElementType()});
    }
    // A concat cache (past ++ new rows, returned as a 16-bit present output):
    // the new rows are rounded to the graph's type before the Concat, as the
    // graph stores them and as an in-place cache's append does. Otherwise
    // attention would read the pass's own rows in fp32 and earlier passes'
    // rounded, so logits would depend on how tokens are split into passes
    // (prefill, decode steps, speculative verification).
    for (auto [past, t16] : narrowed)
      for (Operation *u : past.getUsers()) {
        auto c = dyn_cast<ConcatOp>(u);
        if (!c || c.getInputs()[0] != past) continue;
        bool present = false;
        for (OpOperand &use : c.getResult().getUses())
          present |= use.getOwner() == ret.getOperation() &&
                     graphType(c.getType(), f.getResultAttrOfType<TypeAttr>(use.getOperandNumber(), "bmc.onnx_type"));
        if (!present) continue;
        b.setInsertionPoint(c);
        for (OpOperand &in : c->getOpOperands().drop_front()) {
          auto rt = dyn_cast<RankedTensorType>(in.get().getType());
          if (!rt || !rt.getElementType().isF32()) continue;
          Value r16 = b.create<CastOp>(c.getLoc(), rt.clone(t16), in.get(), TypeAttr::get(t16));
          in.set(b.create<CastOp>(c.getLoc(), rt, r16, TypeAttr::get(f32)).getResult());
        }
      }
    b.setInsertionPoint(ret);
    for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
      Value v = ret.getOperand(i);
      auto t = graphType(v.getType(), f.getResultAttrOfType<TypeAttr>(i, "bmc.onnx_type"));
      if (!t) continue;
      // Rounded to nearest even once, where the graph's output is.
      ret.setOperand(i, b.create<CastOp>(v.getLoc(), t, v, TypeAttr::get(t.getElementType())).getResult());
      f.removeResultAttr(i, StringAttr::get(ctx, "bmc.onnx_type"));
    }
    f.setFunctionType(FunctionType::get(ctx, body.getArgumentTypes(), ret.getOperandTypes()));
  }
};

} // namespace
