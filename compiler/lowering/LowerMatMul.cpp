//===- LowerMatMul.cpp - CPU emission of bmck.matmul and bmck.gemm ---------===//
//
// What --bmc-lower-to-kernels makes of bmc.matmul and bmc.gemm: one packed-
// weight kernel call when the right operand is a weight the op names (the
// weight plan here decides the packed format: f32 panels, bf16/f16, int8 or
// int4, dot layouts for int8 activations), else the strided kernel or, for
// other element types and reference builds, plain loops. The code is the same
// the Lowerer emitted for the tensor-level ops before the family moved to the
// kernel level (docs/DESIGN.md, "Lowering"). The weight analysis reads the
// tensor-level values behind the bmck.to_view seams: which bmc.weight a
// right operand is (findMatMulWeight), and whether a 16-bit weight's
// Transpose/Cast feeds packed products only.
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/kernels.h"
#include "passes/Passes.h"
#include "passes/PlanMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace bmc {
namespace lowering {

static bool isF32(Type t) { return t.isF32(); }

static Type elemOf(Value v) {
  if (auto view = dyn_cast<mlir::bmck::ViewType>(v.getType())) return view.getElementType();
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// The weight behind `rhs` (a tensor-level value: findMatMulWeight), whether
/// it is used transposed, and `narrow`: BMC_KV_BF16 / BMC_KV_F16 when it is a
/// 16-bit weight read through a Cast to f32 (an fp16 export's Cast of a
/// FLOAT16 initializer) or directly (a fully 16-bit graph, whose matmul
/// lowerMatMul runs on widened activations), else 0.
static mlir::bmc::WeightOp weightOf(Value rhs, bool &transposed, int *narrow = nullptr) {
  transposed = false;
  if (narrow) *narrow = 0;
  std::optional<mlir::bmc::MatMulWeight> w = mlir::bmc::findMatMulWeight(rhs);
  if (!w) return {};
  transposed = w->transposed;
  if (narrow && w->narrow) *narrow = w->narrow.isBF16() ? BMC_KV_BF16 : BMC_KV_F16;
  return w->weight;
}

/// Whether `rhs` is a 16-bit weight (through a Cast) that every matmul reading
/// it would take as a packed right operand.
static bool narrowPackedRhs(Value rhs) {
  bool tr;
  int narrow = 0;
  return weightOf(rhs, tr, &narrow) && narrow && cast<RankedTensorType>(rhs.getType()).hasStaticShape();
}

/// Every use of `v` is, through its bmck.to_view seam, a bmck.matmul /
/// bmck.gemm right operand on the packed path (an fp32 left operand), or a
/// Transpose / Cast whose result only feeds such.
static bool onlyFeedsPackedMatMuls(Value v) {
  for (OpOperand &u : v.getUses()) {
    Operation *o = u.getOwner();
    if (auto seam = dyn_cast<mlir::bmck::ToViewOp>(o)) {
      for (OpOperand &vu : seam.getView().getUses()) {
        if (auto m = dyn_cast<mlir::bmck::MatMulOp>(vu.getOwner())) {
          Type lhs = elemOf(m.getLhs());
          if (vu.getOperandNumber() == 1 && (isF32(lhs) || lhs == elemOf(v)) && narrowPackedRhs(v)) continue;
          return false;
        }
        if (auto g = dyn_cast<mlir::bmck::GemmOp>(vu.getOwner())) {
          if (vu.getOperandNumber() == 1 && isF32(elemOf(g.getA())) && narrowPackedRhs(v)) continue;
          return false;
        }
        return false;
      }
      continue;
    }
    if (isa<mlir::bmc::TransposeOp, mlir::bmc::CastOp>(o) && onlyFeedsPackedMatMuls(o->getResult(0))) continue;
    return false;
  }
  return true;
}

bool Lowerer::isNarrowWeightView(Operation *op) {
  if (!isa<mlir::bmc::TransposeOp, mlir::bmc::CastOp>(op)) return false;
  // Down to a 16-bit weight through Transposes and Casts...
  Value v = op->getOperand(0);
  while (Operation *d = v.getDefiningOp()) {
    if (!isa<mlir::bmc::TransposeOp, mlir::bmc::CastOp>(d)) break;
    v = d->getOperand(0);
  }
  auto w = v.getDefiningOp<mlir::bmc::WeightOp>();
  if (!w || !(elemOf(w.getResult()).isBF16() || elemOf(w.getResult()).isF16())) return false;
  // ... and up to packed matmuls only.
  return onlyFeedsPackedMatMuls(op->getResult(0));
}

bool Lowerer::tryPackedMatMul(Value rhs, bool transB, const Buf &a2d, const Buf &c2d, Value bias) {
  // Quantized weights exist only packed: the reference build runs the int8
  // reference kernel on them (bmc_matmul_q8_f32_ref).
  bool viaTranspose = false;
  int narrow = 0;
  mlir::bmc::WeightOp w = weightOf(rhs, viaTranspose, &narrow);
  if (!w) return false;
  if (opts.referenceOnly && !opts.quantBits && !opts.weight16 && !narrow && !w->hasAttr("bmc.quant_bits")) return false;
  bool trans = transB != viaTranspose;
  // A MatMulNBits weight (frontend/ops/Contrib.cpp) is already packed in
  // bmc's int4/int8 layout, as [K, N]: only the plain orientation reads it.
  int prepacked = 0;
  if (auto q = w->getAttrOfType<IntegerAttr>("bmc.quant_bits")) {
    prepacked = int(q.getInt());
    if (trans || (prepacked != 4 && prepacked != 8)) {
      w.emitError("a MatMulNBits weight used transposed or with an unknown bit width");
      return false;
    }
  }
  auto wt = cast<RankedTensorType>(w.getType());
  int64_t K = trans ? wt.getDimSize(1) : wt.getDimSize(0);
  int64_t N = trans ? wt.getDimSize(0) : wt.getDimSize(1);
  checkFound(a2d.sizes[1], c(K), "MatMul: the left operand's contraction dimension is {0}, expected {1} (the weight's)");
  // 16-bit weights: a 16-bit initializer keeps its type; fp32 ones per weight16.
  const int w16 = narrow ? narrow : prepacked || opts.quantBits ? 0 : opts.weight16;
  const int bits = w16 ? 0 : prepacked ? prepacked : opts.quantBits;
  const bool a8 = bits && opts.int8Activations; // integer dot products on the dot layouts
  using WE = WeightEntry;
  WE::Kind kind = w16 == BMC_KV_BF16 ? (trans ? WE::PackedBF16Transposed : WE::PackedBF16)
                  : w16 == BMC_KV_F16 ? (trans ? WE::PackedF16Transposed : WE::PackedF16)
                  : bits == 8 ? (a8 ? (trans ? WE::PackedQ8DotTransposed : WE::PackedQ8Dot)
                                  : (trans ? WE::PackedQ8Transposed : WE::PackedQ8))
                  : bits == 4 ? (a8 ? (trans ? WE::PackedQ4DotTransposed : WE::PackedQ4Dot)
                                    : (trans ? WE::PackedQ4Transposed : WE::PackedQ4))
                              : (trans ? WE::PackedBTransposed : WE::PackedB);
  int64_t off = plan.request(w.getName().str(), kind, 0, K, N);
  Value bp = b.create<LLVM::GEPOp>(loc, ptrTy, b.getI8Type(), weightsBase, ValueRange{c(off)});
  Value biasPtr = bias ? bias : b.create<LLVM::ZeroOp>(loc, ptrTy).getResult();
  const char *fn = w16 == BMC_KV_BF16 ? (opts.referenceOnly ? "bmc_matmul_bf16_f32_ref" : "bmc_matmul_bf16_f32")
                   : w16 == BMC_KV_F16 ? (opts.referenceOnly ? "bmc_matmul_f16_f32_ref" : "bmc_matmul_f16_f32")
                   : !bits ? "bmc_matmul_packed_f32"
                   : a8 ? (bits == 8 ? (opts.referenceOnly ? "bmc_matmul_q8_a8_ref" : "bmc_matmul_q8_a8")
                                     : (opts.referenceOnly ? "bmc_matmul_q4_a8_ref" : "bmc_matmul_q4_a8"))
                   : bits == 8 ? (opts.referenceOnly ? "bmc_matmul_q8_f32_ref" : "bmc_matmul_q8_f32")
                               : (opts.referenceOnly ? "bmc_matmul_q4_f32_ref" : "bmc_matmul_q4_f32");
  call(fn, {},
       {pool, a2d.sizes[0], c(N), c(K), viewPtr(a2d), a2d.strides[0], bp, biasPtr, viewPtr(c2d), c2d.strides[0]});
  return true;
}

/// out[batch..., m, n] (+)= sum_k a[..., m, k] * b[..., k, n], all views of
/// equal rank (batch dims already broadcast). Plain loops: any element type.
void Lowerer::matmulLoops(const Buf &a, const Buf &bm, const Buf &out, Value, bool accumulate) {
  int64_t r = out.rank();
  Value K = a.sizes[r - 1];
  Type ct = computeType(out.elem);
  bool isF = isa<FloatType>(ct);
  loops(out.sizes, [&](ArrayRef<Value> iv) {
    Value init = accumulate ? load(out, iv) : (isF ? cst(ct, 0.0) : b.create<arith::ConstantIntOp>(loc, 0, ct).getResult());
    Value sum = forLoop(K, init, [&](Value k, Value acc) {
      SmallVector<Value, 4> ia(iv.begin(), iv.end()), ib(iv.begin(), iv.end());
      ia[r - 1] = k;
      ib[r - 2] = k;
      Value x = load(a, ia), y = load(bm, ib);
      return isF ? b.create<arith::AddFOp>(loc, acc, b.create<arith::MulFOp>(loc, x, y)).getResult()
                 : b.create<arith::AddIOp>(loc, acc, b.create<arith::MulIOp>(loc, x, y)).getResult();
    });
    store(sum, out, iv);
  });
}

/// Sizes of a statically shaped operand without materialising its storage:
/// a weight used only by the packed kernel never needs its raw bytes.
static Buf shapeOnly(Lowerer &l, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  SmallVector<Value> sizes;
  for (int64_t d : t.getShape()) sizes.push_back(l.c(d));
  Buf r;
  r.sizes.assign(sizes.begin(), sizes.end());
  r.strides = Lowerer::rowMajorStrides(l, sizes);
  r.elem = t.getElementType();
  return r;
}

static bool packable(Lowerer &l, Value rhs) {
  bool tr;
  int narrow = 0;
  mlir::bmc::WeightOp w = weightOf(rhs, tr, &narrow);
  return w && (!l.opts.referenceOnly || l.opts.quantBits || l.opts.weight16 || narrow || w->hasAttr("bmc.quant_bits")) &&
         cast<RankedTensorType>(rhs.getType()).hasStaticShape();
}

/// The tensor-level value a product's right operand views when the op names
/// a weight, else null: only a named weight is read packed. A name that is
/// not the weight the operand reads (hand-written IR) is an error.
static FailureOr<Value> namedWeight(Lowerer &l, Operation *op, std::optional<StringRef> weight, Value rhsView) {
  if (!weight) return Value();
  Value rhs = l.throughSeams(rhsView);
  bool tr;
  mlir::bmc::WeightOp w = weightOf(rhs, tr);
  if (!w || w.getName() != *weight)
    return op->emitError("bmc code generation: '")
           << op->getName() << "' names the weight \"" << *weight << "\", which its right operand does not read";
  return rhs;
}

LogicalResult Lowerer::lowerMatMul(mlir::bmck::MatMulOp op) {
  Buf A = buf(op.getLhs());
  FailureOr<Value> named = namedWeight(*this, op, op.getWeight(), op.getRhs());
  if (failed(named)) return failure();
  Value weight = *named;
  bool lazyB = weight && packable(*this, weight);
  Buf B = lazyB ? shapeOnly(*this, weight) : buf(op.getRhs());
  bool aVec = A.rank() == 1, bVec = B.rank() == 1;
  // numpy promotion of 1-D operands.
  if (aVec) { A.sizes.insert(A.sizes.begin(), c(1)); A.strides.insert(A.strides.begin(), c(0)); }
  if (bVec) { B.sizes.push_back(c(1)); B.strides.push_back(c(0)); }
  Value K = A.sizes.back(), M = A.sizes[A.rank() - 2], N = B.sizes.back();
  checkFound(B.sizes[B.rank() - 2], K,
             "MatMul: the right operand's contraction dimension is {0}, expected {1} (the left operand's)");
  int64_t rb = std::max(A.rank(), B.rank()) - 2;

  // A fully 16-bit matmul (fp16 / bf16 activations times a constant 2-D
  // weight of the same type): the activations widened to fp32 (exact), the
  // 16-bit kernel, the result rounded to the type as a stored fp16 value is.
  if (B.rank() == 2 && !bVec && (A.elem.isF16() || A.elem.isBF16()) && lazyB &&
      elemOf(weight) == A.elem) {
    SmallVector<Value, 4> aSizes(A.sizes.begin(), A.sizes.end());
    Buf a32 = alloc(f32, false, aSizes);
    loops(aSizes, [&](ArrayRef<Value> iv) { store(load(A, iv), a32, iv); });
    Value rows = c(1);
    for (int64_t i = 0; i + 1 < a32.rank(); ++i) rows = mul(rows, a32.sizes[i]);
    SmallVector<Value, 4> outSizes(aSizes.begin(), aSizes.end() - 1);
    outSizes.push_back(N);
    Buf out32 = alloc(f32, false, outSizes);
    if (tryPackedMatMul(weight, false, reshapeView(a32, {rows, K}), reshapeView(out32, {rows, N}), {})) {
      Buf out = alloc(A.elem, false, outSizes);
      loops(outSizes, [&](ArrayRef<Value> iv) { store(load(out32, iv), out, iv); });
      if (aVec) out = reshapeView(out, {N});
      bufs[op.getResult()] = out;
      return success();
    }
  }

  // Weights: one packed-kernel call over all rows of the left operand.
  if (B.rank() == 2 && !bVec && isF32(A.elem)) {
    Buf a = contiguous(A);
    // The logits of a decoder session's prefill: only the last position is
    // needed when the runtime says so (Model::run never does). The same
    // predicate gives these rows no slot in the memory plan (PlanMemory.h);
    // its own shape checks are this branch's (3-D f32 A, 2-D B).
    if (mlir::bmc::isLogitsProduct(op, opts.logitsOutput) && a.rank() == 3) {
      Value lastOnly = call("bmc_rt_last_token_logits", {i64}, {ctx}).getResult(0);
      Value seq = a.sizes[1];
      Value rows = select(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, lastOnly, c(0)), c(1), seq);
      a.offset = add(a.offset, mul(sub(seq, rows), a.strides[1]));
      a.sizes[1] = rows;
      // One sequence: the rows are still contiguous; several: gather them.
      bool one = constOf(a.sizes[0]) == 1;
      a.contiguous = one;
      if (!one) a = contiguous(a);
    }
    Value rows = c(1);
    for (int64_t i = 0; i + 1 < a.rank(); ++i) rows = mul(rows, a.sizes[i]);
    SmallVector<Value, 4> outSizes(a.sizes.begin(), a.sizes.end() - 1);
    outSizes.push_back(N);
    Buf out = alloc(A.elem, false, outSizes);
    if (weight && tryPackedMatMul(weight, false, reshapeView(a, {rows, K}), reshapeView(out, {rows, N}), {})) {
      if (aVec) out = reshapeView(out, {N});
      bufs[op.getResult()] = out;
      return success();
    }
  }

  if (lazyB) {
    B = buf(op.getRhs());
    if (bVec) { B.sizes.push_back(c(1)); B.strides.push_back(c(0)); }
  }
  // Broadcast batch dimensions.
  SmallVector<Value, 4> batch;
  for (int64_t i = 0; i < rb; ++i) {
    int64_t ja = i - (rb - (A.rank() - 2)), jb = i - (rb - (B.rank() - 2));
    Value da = ja >= 0 ? A.sizes[ja] : c(1), db = jb >= 0 ? B.sizes[jb] : c(1);
    Value size = constOf(da) == 1 ? db : (constOf(db) == 1 ? da : smax(da, db));
    for (Value d : {da, db})
      if (d != size && constOf(d) != 1)
        check(b.createOrFold<arith::OrIOp>(loc, eq(d, size), eq(d, c(1))),
              "MatMul: batch dimension {0} does not broadcast to {1}", d, size);
    batch.push_back(size);
  }
  auto withBatch = [&](const Buf &x) {
    SmallVector<Value, 4> sizes(batch.begin(), batch.end());
    sizes.push_back(x.sizes[x.rank() - 2]);
    sizes.push_back(x.sizes[x.rank() - 1]);
    return broadcastView(x, sizes);
  };
  Buf a = withBatch(A), bb = withBatch(B);
  SmallVector<Value, 4> outSizes(batch.begin(), batch.end());
  outSizes.push_back(M);
  outSizes.push_back(N);
  Buf out = alloc(A.elem, A.isUnsigned, outSizes);

  if (isF32(A.elem) && !opts.referenceOnly) {
    // Loop over all but the innermost batch dim; the kernel takes that one.
    SmallVector<Value, 4> outer(batch.begin(), batch.end());
    Value inner = c(1), aBs = c(0), bBs = c(0), cBs = c(0);
    if (!outer.empty()) {
      inner = outer.pop_back_val();
      aBs = a.strides[rb - 1];
      bBs = bb.strides[rb - 1];
      cBs = out.strides[rb - 1];
    }
    loops(outer, [&](ArrayRef<Value> iv) {
      SmallVector<Value, 4> idx(iv.begin(), iv.end());
      for (int64_t k = idx.size(); k < rb + 2; ++k) idx.push_back(c(0));
      call("bmc_matmul_strided_f32", {},
           {pool, inner, M, N, K, elemPtr(a, idx), aBs, a.strides[rb], a.strides[rb + 1], elemPtr(bb, idx), bBs,
            bb.strides[rb], bb.strides[rb + 1], elemPtr(out, idx), cBs, out.strides[rb]});
    });
  } else {
    matmulLoops(a, bb, out, {}, false);
  }
  // Drop promoted dimensions.
  if (aVec || bVec) {
    SmallVector<Value, 4> sizes(batch.begin(), batch.end());
    if (!aVec) sizes.push_back(M);
    if (!bVec) sizes.push_back(N);
    out = reshapeView(out, sizes);
  }
  bufs[op.getResult()] = out;
  return success();
}

LogicalResult Lowerer::lowerGemm(mlir::bmck::GemmOp op) {
  Buf A = buf(op.getA());
  FailureOr<Value> named = namedWeight(*this, op, op.getWeight(), op.getB());
  if (failed(named)) return failure();
  Value weight = *named;
  bool lazyB = weight && packable(*this, weight);
  Buf B = lazyB ? shapeOnly(*this, weight) : buf(op.getB());
  auto tr = [](Buf x) {
    std::swap(x.sizes[0], x.sizes[1]);
    std::swap(x.strides[0], x.strides[1]);
    x.contiguous = false;
    return x;
  };
  if (op.getTransA()) A = tr(A);
  Value M = A.sizes[0], K = A.sizes[1];
  float alpha = op.getAlpha().convertToFloat(), beta = op.getBeta().convertToFloat();
  Value N = op.getTransB() ? B.sizes[0] : B.sizes[1];
  Buf out = alloc(A.elem, A.isUnsigned, {M, N});
  bool done = false;
  Value bias;
  bool biasFused = false;
  if (Value cv = op.getC(); cv && alpha == 1.0f && beta == 1.0f && isF32(A.elem)) {
    Buf cb = buf(cv);
    bool vecN = cb.rank() == 1 || (cb.rank() == 2 && constOf(cb.sizes[0]) == 1);
    // The kernel adds a bias row of length N; a C of one element (or of a
    // length not known to be N) broadcasts instead, in the epilogue.
    Value len = cb.rank() ? cb.sizes.back() : Value();
    bool lengthN = len && (len == N || (constOf(len) && constOf(N) && *constOf(len) == *constOf(N)));
    if (vecN && lengthN && cb.contiguous) {
      bias = viewPtr(cb);
      biasFused = true;
    }
  }
  if (isF32(A.elem)) {
    Buf a = contiguous(A);
    done = weight && tryPackedMatMul(weight, op.getTransB(), a, out, biasFused ? bias : Value());
  }
  if (!done) {
    biasFused = false;
    if (lazyB) B = buf(op.getB());
    Buf bv = op.getTransB() ? tr(B) : B;
    checkFound(bv.sizes[0], K, "Gemm: B's inner dimension is {0}, expected {1} (A's)");
    if (isF32(A.elem) && !opts.referenceOnly)
      call("bmc_matmul_strided_f32", {},
           {pool, c(1), M, N, K, viewPtr(A), c(0), A.strides[0], A.strides[1], viewPtr(bv), c(0), bv.strides[0],
            bv.strides[1], viewPtr(out), c(0), out.strides[0]});
    else
      matmulLoops(A, bv, out, {}, false);
  }
  // Epilogue: alpha * AB + beta * C unless the kernel fused the bias.
  Value cv = op.getC();
  if (alpha != 1.0f || (cv && !biasFused)) {
    Type ct = computeType(out.elem);
    bool isF = isa<FloatType>(ct);
    std::optional<Buf> cview;
    if (cv && beta != 0.0f) {
      SmallVector<Value, 4> sizes{M, N};
      Buf cb = buf(cv);
      SmallVector<Buf> ops{out, cb};
      cview = broadcastView(cb, sizes);
    }
    loops(out.sizes, [&](ArrayRef<Value> iv) {
      Value v = load(out, iv);
      if (alpha != 1.0f) v = isF ? b.create<arith::MulFOp>(loc, v, cst(ct, alpha)).getResult()
                                 : b.create<arith::MulIOp>(loc, v, b.create<arith::ConstantIntOp>(loc, int64_t(alpha), ct)).getResult();
      if (cview) {
        Value x = load(*cview, iv);
        if (beta != 1.0f) x = isF ? b.create<arith::MulFOp>(loc, x, cst(ct, beta)).getResult()
                                  : b.create<arith::MulIOp>(loc, x, b.create<arith::ConstantIntOp>(loc, int64_t(beta), ct)).getResult();
        v = isF ? b.create<arith::AddFOp>(loc, v, x).getResult() : b.create<arith::AddIOp>(loc, v, x).getResult();
      }
      store(v, out, iv);
    });
  }
  bufs[op.getResult()] = out;
  return success();
}

} // namespace lowering
} // namespace bmc
