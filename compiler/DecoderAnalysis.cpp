//===- DecoderAnalysis.cpp - find the decoder interface of a graph ---------===//
//
// Sessions need to know which inputs are the token ids, the attention mask,
// the positions and the past KV caches, and which outputs are the logits and
// the present caches. We find them from the graph's structure (an embedding
// gather, a concatenation of a past input with new rows feeding a graph
// output), using the exporters' names only to break ties.
//
//===----------------------------------------------------------------------===//

#include "compiler/CodeGen.h"
#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace bmc {

using namespace mlir;

static RankedTensorType rt(Type t) { return dyn_cast<RankedTensorType>(t); }

// The analysis runs on the pipeline's output, where the moved families are
// kernel ops on views: a tensor-level value is read through bmck.to_view, a
// kernel op's result is returned (or read at tensor level) through
// bmck.to_tensor, and a kernel op reads another's view directly.

/// The uses of `v`, a tensor or a view, through the seams: a bmck.to_view
/// of a tensor stands for the uses of its view, a bmck.to_tensor of a view
/// for the uses of its tensor.
static SmallVector<OpOperand *> usesThroughSeams(Value v) {
  SmallVector<OpOperand *> r;
  for (OpOperand &u : v.getUses()) {
    if (auto tv = dyn_cast<mlir::bmck::ToViewOp>(u.getOwner())) r.append(usesThroughSeams(tv.getView()));
    else if (auto tt = dyn_cast<mlir::bmck::ToTensorOp>(u.getOwner())) r.append(usesThroughSeams(tt.getTensor()));
    else r.push_back(&u);
  }
  return r;
}

/// The values that are `v` (a tensor or a view) cast (ONNX Cast), with the
/// type cast to: a bmc.cast of it, or the view of a bmck.elementwise of that
/// one Cast (bmc-lower-to-kernels made it a group), each read through the
/// seams.
static SmallVector<std::pair<Value, Type>> castsOf(Value v) {
  SmallVector<std::pair<Value, Type>> r;
  for (OpOperand *use : usesThroughSeams(v)) {
    Operation *u = use->getOwner();
    if (auto c = dyn_cast<mlir::bmc::CastOp>(u)) {
      r.push_back({c.getResult(), c.getTo()});
      continue;
    }
    auto group = dyn_cast<mlir::bmck::ElementwiseOp>(u);
    if (!group || group.getInputs().size() != 1 || group.getBody().front().getOperations().size() != 2) continue;
    if (auto c = dyn_cast<mlir::bmc::CastOp>(group.getRoot())) r.push_back({group.getResult(), c.getTo()});
  }
  return r;
}

/// The tensor-level value a kernel op's operand views, or the operand itself.
static Value viewed(Value v) {
  if (auto tv = v.getDefiningOp<mlir::bmck::ToViewOp>()) return tv.getTensor();
  return v;
}

/// The weight gathered by `arg` (an embedding lookup), if any.
static mlir::bmc::WeightOp gatheredTable(BlockArgument arg) {
  SmallVector<Value> work{arg};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (auto [cast, to] : castsOf(v)) work.push_back(cast);
    for (OpOperand *use : usesThroughSeams(v)) {
      Operation *u = use->getOwner();
      // Exporters reshape or cast the ids before the lookup (GPT-2 flattens them).
      if (isa<mlir::bmc::ReshapeOp, mlir::bmc::FlattenOp, mlir::bmc::UnsqueezeOp, mlir::bmc::SqueezeOp,
              mlir::bmck::ReshapeOp, mlir::bmck::FlattenOp, mlir::bmck::CopyOp, mlir::bmck::UnsqueezeOp,
              mlir::bmck::SqueezeOp>(u) && use->getOperandNumber() == 0) {
        work.push_back(u->getResult(0));
        continue;
      }
      // Indices are operand 1 of bmc.gather and of bmck.gather.
      if (isa<mlir::bmc::GatherOp, mlir::bmck::GatherOp>(u) && use->getOperandNumber() == 1 &&
          u->getAttrOfType<IntegerAttr>("axis").getInt() == 0)
        if (auto w = viewed(u->getOperand(0)).getDefiningOp<mlir::bmc::WeightOp>()) return w;
    }
  }
  return {};
}

DecoderInfo analyzeDecoder(ModuleOp module, const ModelSignature &sig) {
  DecoderInfo d;
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main) return d;
  Block &body = main.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());

  // Token ids: an integer [batch, seq] input that indexes a [vocab, hidden] table.
  SmallVector<int> intInputs;
  for (BlockArgument a : body.getArguments()) {
    auto t = rt(a.getType());
    if (!t || t.getRank() != 2 || !t.getElementType().isSignlessInteger() || t.getElementType().isInteger(1)) continue;
    intInputs.push_back(a.getArgNumber());
    if (d.inputIds >= 0) continue;
    if (auto w = gatheredTable(a)) {
      auto wt = rt(w.getType());
      if (wt.getRank() == 2) {
        d.inputIds = a.getArgNumber();
        d.vocab = wt.getDimSize(0);
      }
    }
  }
  if (d.inputIds < 0) return d;
  // Inputs whose role the importer recorded (GroupQueryAttention's lengths, a static cache's).
  for (BlockArgument a : body.getArguments())
    if (auto role = main.getArgAttrOfType<StringAttr>(a.getArgNumber(), "bmc.role")) {
      if (role.getValue() == "seqlens_k") d.seqlensK = a.getArgNumber();
      if (role.getValue() == "total_sequence_length") d.totalSequenceLength = a.getArgNumber();
      if (role.getValue() == "write_indices") d.writeIndices = a.getArgNumber();
      if (role.getValue() == "nonpad_kv_seqlen") d.nonpadKvSeqlen = a.getArgNumber();
    }
  const TensorInfo &ids = sig.inputs[d.inputIds];
  std::string seqName = ids.dimNames.size() > 1 ? ids.dimNames[1] : "";
  for (int i : intInputs) {
    if (i == d.inputIds) continue;
    const TensorInfo &ti = sig.inputs[i];
    std::string dim1 = ti.dimNames.size() > 1 ? ti.dimNames[1] : "";
    bool sameSeq = !seqName.empty() && dim1 == seqName;
    bool named = ti.name.find("position") != std::string::npos;
    bool maskNamed = ti.name.find("mask") != std::string::npos;
    if ((sameSeq || named) && !maskNamed && d.positionIds < 0) {
      d.positionIds = i;
      if (auto w = gatheredTable(body.getArgument(i))) d.maxPositions = rt(w.getType()).getDimSize(0);
    } else if (d.attentionMask < 0) {
      d.attentionMask = i;
    }
  }

  // Positions read from a rotary cache inside an attention op, or a static cache's buffer size:
  // the context limit the graph sets besides a position table (the smaller one holds).
  if (auto mp = module->getAttrOfType<IntegerAttr>("bmc.max_positions"))
    d.maxPositions = d.maxPositions ? std::min(d.maxPositions, mp.getInt()) : mp.getInt();

  // Logits: the float output [batch, seq, vocab].
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto t = rt(v.getType());
    if (t && t.getRank() == 3 && isa<FloatType>(t.getElementType()) && t.getDimSize(2) == d.vocab) {
      d.logits = i;
      break;
    }
  }

  // KV caches: Concat(past input, new rows) along axis 2, returned as an output.
  for (BlockArgument a : body.getArguments()) {
    auto t = rt(a.getType());
    if (auto kv = dyn_cast<mlir::bmc::KVCacheType>(a.getType())) {
      DecoderInfo::KV c;
      c.pastInput = a.getArgNumber();
      c.heads = kv.getHeads();
      c.headDim = kv.getHeadDim();
      d.caches.push_back(c);
      d.inplaceKV = true;
      continue;
    }
    if (!t || t.getRank() != 4 || !isa<FloatType>(t.getElementType())) continue;
    // A session allocates the first past itself: it needs static heads and head_dim.
    if (t.isDynamicDim(1) || t.isDynamicDim(3)) continue;
    // A 16-bit graph's concat caches are read and returned through Casts
    // (bmc-narrow-16bit-io): past -> Cast f32 -> Concat -> Cast back -> return.
    SmallVector<Value, 2> pasts{a};
    for (auto [cast, to] : castsOf(a))
      if (to.isF32()) pasts.push_back(cast);
    SmallVector<OpOperand *> readers;
    for (Value p : pasts) readers.append(usesThroughSeams(p));
    for (OpOperand *read : readers) {
      // bmc.concat, or bmck.concat of the views of its inputs, with a past first.
      Operation *u = read->getOwner();
      if (!isa<mlir::bmc::ConcatOp, mlir::bmck::ConcatOp>(u) || u->getAttrOfType<IntegerAttr>("axis").getInt() != 2 ||
          u->getNumOperands() != 2 || read->getOperandNumber() != 0)
        continue;
      SmallVector<OpOperand *> uses;
      for (OpOperand *use : usesThroughSeams(u->getResult(0))) uses.push_back(use);
      for (auto [back, to] : castsOf(u->getResult(0)))
        if (to == t.getElementType()) uses.append(usesThroughSeams(back));
      for (OpOperand *usep : uses)
        if (OpOperand &use = *usep; use.getOwner() == ret.getOperation()) {
          DecoderInfo::KV c;
          c.pastInput = a.getArgNumber();
          c.presentOutput = use.getOperandNumber();
          c.heads = t.getDimSize(1);
          c.headDim = t.getDimSize(3);
          d.caches.push_back(c);
          break;
        }
    }
  }
  // Bytes streamed per token: every weight except tables only gathered from.
  main.walk([&](mlir::bmc::WeightOp w) {
    auto t = rt(w.getType());
    bool lookupOnly = !w->use_empty() && llvm::all_of(usesThroughSeams(w.getResult()), [&](OpOperand *u) {
      return isa<mlir::bmc::GatherOp, mlir::bmck::GatherOp>(u->getOwner()) && u->getOperandNumber() == 0;
    });
    if (!lookupOnly) d.weightBytesPerToken += t.getNumElements() * std::max<int64_t>(1, t.getElementTypeBitWidth() / 8);
  });
  d.valid = d.inputIds >= 0 && d.logits >= 0 && !d.caches.empty();
  return d;
}

} // namespace bmc
