//===- LowerAttention.cpp - CPU emission of bmck.attention -----------------===//
//
// One call of the fused attention kernel (bmc_rt_attention, or the reference
// bmc_rt_attention_ref) with its parameter block, for what
// --bmc-lower-to-kernels makes of bmc.attention. The code is the same the
// Lowerer emitted for the tensor-level op before the attention family moved
// to the kernel level (docs/DESIGN.md, "Lowering").
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <cstring>

namespace bmc {
namespace lowering {

static bool isF32(Type t) { return t.isF32(); }

/// A view whose innermost stride is 1 (copying if that is not known).
static Buf unitInner(Lowerer &l, const Buf &x) {
  if (x.rank() && l.constOf(x.strides.back()) == 1) return x;
  return l.contiguous(x);
}

LogicalResult Lowerer::lowerAttention(mlir::bmck::AttentionOp op) {
  if (!isF32(buf(op.getQ()).elem)) return op.emitError("bmc code generation: attention supports f32 only");
  Buf q = unitInner(*this, buf(op.getQ())), k = unitInner(*this, buf(op.getK())), v = unitInner(*this, buf(op.getV()));
  Value B = q.sizes[0], H = q.sizes[1], S = q.sizes[2], D = q.sizes[3];
  Value Hk = k.sizes[1], T = k.sizes[2], Dv = v.sizes[3];
  // The kernel reads sequence b of k and v for query sequence b (no broadcast).
  checkExpected(B, k.sizes[0], "Attention: the key's batch is {0}, expected {1} (the query's)");
  checkExpected(B, v.sizes[0], "Attention: the value's batch is {0}, expected {1} (the query's)");
  checkFound(k.sizes[3], D, "Attention: the key's head_dim is {0}, expected {1} (the query's)");
  checkFound(v.sizes[2], T, "Attention: the value has {0} rows, expected {1} (the key's)");
  checkFound(v.sizes[1], Hk, "Attention: the value has {0} heads, expected {1} (the key's)");
  check(eq(b.createOrFold<arith::RemSIOp>(loc, H, Hk), c(0)), "Attention: query heads {0} are not a multiple of KV heads {1}", H, Hk);
  if (k.elem != v.elem || !(isF32(k.elem) || k.elem.isBF16() || k.elem.isF16()))
    return op.emitError("bmc code generation: attention reads k and v of f32, bf16 or f16 (one type), found ")
           << k.elem << " and " << v.elem;
  const int64_t kvType = k.elem.isBF16() ? BMC_KV_BF16 : k.elem.isF16() ? BMC_KV_F16 : BMC_KV_F32;
  Buf out = alloc(q.elem, false, {B, H, S, Dv});
  // Spare rows of a KV buffer: computed and masked ("mask") or skipped.
  Value padded = T;
  if (op.getPadding() == mlir::bmc::KVPadding::Mask && op.getPadded()) padded = scalar(op.getPadded());
  SmallVector<Value> p(BMC_ATT_NUM_PARAMS, c(0));
  auto ptrInt = [&](Value ptr) { return b.create<LLVM::PtrToIntOp>(loc, i64, ptr).getResult(); };
  p[BMC_ATT_BATCH] = B; p[BMC_ATT_HEADS] = H; p[BMC_ATT_KV_HEADS] = Hk; p[BMC_ATT_Q_LEN] = S;
  p[BMC_ATT_KV_LEN] = T; p[BMC_ATT_KV_PADDED_LEN] = padded; p[BMC_ATT_HEAD_DIM] = D; p[BMC_ATT_V_HEAD_DIM] = Dv;
  p[BMC_ATT_Q] = ptrInt(viewPtr(q)); p[BMC_ATT_Q_BS] = q.strides[0]; p[BMC_ATT_Q_HS] = q.strides[1]; p[BMC_ATT_Q_RS] = q.strides[2];
  p[BMC_ATT_K] = ptrInt(viewPtr(k)); p[BMC_ATT_K_BS] = k.strides[0]; p[BMC_ATT_K_HS] = k.strides[1]; p[BMC_ATT_K_RS] = k.strides[2];
  p[BMC_ATT_V] = ptrInt(viewPtr(v)); p[BMC_ATT_V_BS] = v.strides[0]; p[BMC_ATT_V_HS] = v.strides[1]; p[BMC_ATT_V_RS] = v.strides[2];
  p[BMC_ATT_OUT] = ptrInt(viewPtr(out)); p[BMC_ATT_O_BS] = out.strides[0]; p[BMC_ATT_O_HS] = out.strides[1]; p[BMC_ATT_O_RS] = out.strides[2];
  if (Value m = op.getMask()) {
    // The kernel reads the mask through strides: a dimension that neither
    // matches nor is 1 would read past it, so it is an error here.
    Buf mask = buf(m);
    SmallVector<Value, 4> full{B, H, S, T};
    for (int64_t i = 0, off = 4 - mask.rank(); i < mask.rank(); ++i) {
      Value d = mask.sizes[i], want = full[off + i];
      if (d == want || constOf(d) == 1 || (constOf(d) && constOf(want) && *constOf(d) == *constOf(want))) continue;
      check(b.createOrFold<arith::OrIOp>(loc, eq(d, want), eq(d, c(1))),
            "Attention: mask dimension {0} does not broadcast to {1} (dimension " + std::to_string(off + i) + ")", d,
            want);
    }
    Buf mb = broadcastView(mask, full);
    p[BMC_ATT_MASK] = ptrInt(viewPtr(mb));
    p[BMC_ATT_M_BS] = mb.strides[0]; p[BMC_ATT_M_HS] = mb.strides[1]; p[BMC_ATT_M_QS] = mb.strides[2]; p[BMC_ATT_M_KS] = mb.strides[3];
  }
  float scale = op.getScale().convertToFloat();
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  p[BMC_ATT_SCALE_BITS] = c(int64_t(bits));
  p[BMC_ATT_KV_TYPE] = c(kvType);
  float softcap = op.getSoftcap().convertToFloat();
  std::memcpy(&bits, &softcap, 4);
  p[BMC_ATT_SOFTCAP_BITS] = c(int64_t(bits));
  p[BMC_ATT_SMOOTH_SOFTMAX] = c(int64_t(op.getSmoothSoftmax()));
  auto arrTy = LLVM::LLVMArrayType::get(i64, BMC_ATT_NUM_PARAMS);
  Value arr = b.create<LLVM::AllocaOp>(loc, ptrTy, arrTy, c(1));
  for (int i = 0; i < BMC_ATT_NUM_PARAMS; ++i)
    b.create<LLVM::StoreOp>(loc, p[i], b.create<LLVM::GEPOp>(loc, ptrTy, i64, arr, ValueRange{c(i)}));
  call(opts.referenceOnly ? "bmc_rt_attention_ref" : "bmc_rt_attention", {}, {ctx, arr});
  bufs[op.getResult()] = out;
  return success();
}

} // namespace lowering
} // namespace bmc
