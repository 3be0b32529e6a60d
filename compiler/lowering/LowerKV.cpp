//===- LowerKV.cpp - CPU emission of the kernel-level KV cache ops ---------===//
//
// bmck.kv_rows and bmck.kv_append (what --bmc-lower-to-kernels makes of
// bmc.kv_past and bmc.kv_append), and bmc.kv_capacity, a scalar. The code is
// the same the Lowerer emitted for the tensor-level ops before the KV family
// moved to the kernel level (docs/DESIGN.md, "Lowering").
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"
#include "bmc/abi/kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace bmc {
namespace lowering {

LogicalResult Lowerer::lowerKV(Operation *op) {
  if (auto cap = dyn_cast<mlir::bmc::KVCapacityOp>(op)) {
    scalars[cap.getResult()] = scalar(cap.getCache());
    return success();
  }
  // The cache argument's Buf is its valid rows (Lowerer::run): a view, no code.
  if (auto rows = dyn_cast<mlir::bmck::KVRowsOp>(op)) {
    Buf r = buf(rows.getCache()); // copied first: buf() returns a reference into bufs, which may grow
    bufs[rows.getRows()] = r;
    return success();
  }
  auto app = cast<mlir::bmck::KVAppendOp>(op);
  Buf cache = buf(app.getCache());
  Buf rows = buf(app.getRows());
  Value capacity = scalar(app.getCache());
  Value valid = cache.sizes[2], seq = rows.sizes[2];
  checkFound(rows.sizes[0], cache.sizes[0], "KV append: the new rows' batch is {0}, expected {1} (the cache's)");
  Value total = add(valid, seq);
  check(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::sle, total, capacity),
        "KV append: {0} rows do not fit a cache of capacity {1} (the runtime must grow it first)", total, capacity);
  // The strided in-place write: rows [valid, valid + seq) of the buffer.
  Buf dst = cache;
  dst.sizes[2] = seq;
  dst.offset = add(cache.offset, mul(valid, cache.strides[2]));
  if (rows.elem == cache.elem) {
    copy(rows, dst);
  } else {
    // f32 rows into a bf16/f16 cache (the only conversion bmck.kv_append's
    // verifier accepts): rounded to nearest even as written.
    assert(rows.elem.isF32() && (cache.elem.isBF16() || cache.elem.isF16()) && "verified by bmck.kv_append");
    SmallVector<Value> args{viewPtr(dst), viewPtr(rows), c(cache.elem.isBF16() ? BMC_KV_BF16 : BMC_KV_F16),
                            c(opts.referenceOnly ? 1 : 0)};
    args.append(dst.sizes.begin(), dst.sizes.end());
    args.append(dst.strides.begin(), dst.strides.end());
    args.append(rows.strides.begin(), rows.strides.end());
    call("bmc_rt_copy4_to_kv", {}, args);
  }
  Buf view = cache;
  view.sizes[2] = total;
  bufs[app.getPresent()] = view;
  return success();
}

} // namespace lowering
} // namespace bmc
