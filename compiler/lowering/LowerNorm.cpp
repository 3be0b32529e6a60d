//===- LowerNorm.cpp - CPU emission of bmck.norm, bmck.softmax, bmck.reduce ===//
//
// Loops in generated code, one row at a time, for what --bmc-lower-to-kernels
// makes of bmc.layer_norm / bmc.rms_norm, bmc.softmax and bmc.reduce_*. The
// code is the same the Lowerer emitted for the tensor-level ops before the
// family moved to the kernel level (docs/DESIGN.md, "Lowering"). Their
// results are stored, never fused into a consumer's loop: bmck ops are not
// elementwise, and an elementwise op reading one reads its view through the
// bmck.to_tensor seam.
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <limits>

namespace bmc {
namespace lowering {

using mlir::bmck::NormKind;
using mlir::bmck::ReduceKind;

LogicalResult Lowerer::lowerReduce(mlir::bmck::ReduceOp op) {
  Buf in = buf(op.getInput());
  ArrayRef<int64_t> axes = op.getAxes();
  bool keep = op.getKeepdims();
  const ReduceKind kind = op.getKind();
  int64_t r = in.rank();
  SmallVector<bool> red(r, axes.empty());
  for (int64_t a : axes) red[a] = true;
  // The accumulator has the input's rank (reduced dims of size 1, stride 0).
  SmallVector<Value, 4> accSizes;
  for (int64_t i = 0; i < r; ++i) accSizes.push_back(red[i] ? c(1) : in.sizes[i]);
  Type ct = computeType(in.elem);
  bool isF = isa<FloatType>(ct);
  bool uns = in.isUnsigned;
  Buf acc = alloc(in.elem, uns, accSizes);
  Buf accView = broadcastView(acc, in.sizes);
  for (int64_t i = 0; i < r; ++i)
    if (red[i]) accView.strides[i] = c(0);
  // Identity.
  double init = kind == ReduceKind::Prod ? 1.0 : 0.0;
  Value initV;
  if (kind == ReduceKind::Max)
    initV = isF ? cst(ct, -std::numeric_limits<double>::infinity())
                : b.create<arith::ConstantIntOp>(loc, uns ? 0 : APInt::getSignedMinValue(ct.getIntOrFloatBitWidth()).getSExtValue(), ct).getResult();
  else if (kind == ReduceKind::Min)
    initV = isF ? cst(ct, std::numeric_limits<double>::infinity())
                : b.create<arith::ConstantIntOp>(loc, uns ? -1 : APInt::getSignedMaxValue(ct.getIntOrFloatBitWidth()).getSExtValue(), ct).getResult();
  else
    initV = isF ? cst(ct, init) : b.create<arith::ConstantIntOp>(loc, int64_t(init), ct).getResult();
  loops(accSizes, [&](ArrayRef<Value> iv) { store(initV, acc, iv); });
  loops(in.sizes, [&](ArrayRef<Value> iv) {
    Value x = load(in, iv), a = load(accView, iv), y;
    if (kind == ReduceKind::Max) y = isF ? b.create<arith::MaximumFOp>(loc, a, x).getResult() : uns ? b.create<arith::MaxUIOp>(loc, a, x).getResult() : b.create<arith::MaxSIOp>(loc, a, x).getResult();
    else if (kind == ReduceKind::Min) y = isF ? b.create<arith::MinimumFOp>(loc, a, x).getResult() : uns ? b.create<arith::MinUIOp>(loc, a, x).getResult() : b.create<arith::MinSIOp>(loc, a, x).getResult();
    else if (kind == ReduceKind::Prod) y = isF ? b.create<arith::MulFOp>(loc, a, x).getResult() : b.create<arith::MulIOp>(loc, a, x).getResult();
    else y = isF ? b.create<arith::AddFOp>(loc, a, x).getResult() : b.create<arith::AddIOp>(loc, a, x).getResult();
    store(y, accView, iv);
  });
  if (kind == ReduceKind::Mean) {
    Value n = c(1);
    for (int64_t i = 0; i < r; ++i)
      if (red[i]) n = mul(n, in.sizes[i]);
    // The count n is i64: converted to a float type, or truncated to a
    // narrower integer type (an i64 mean divides by n itself; arith.trunci
    // i64 -> i64 is invalid IR). Integer means divide as onnxruntime does:
    // truncated toward zero (conformance.extra, ReduceMean18_int*).
    Value d = isF ? b.create<arith::SIToFPOp>(loc, ct, n).getResult()
              : ct.getIntOrFloatBitWidth() < 64 ? b.create<arith::TruncIOp>(loc, ct, n).getResult()
                                                : n;
    loops(accSizes, [&](ArrayRef<Value> iv) {
      Value a = load(acc, iv);
      Value q = isF ? b.create<arith::DivFOp>(loc, a, d).getResult()
                : uns ? b.create<arith::DivUIOp>(loc, a, d).getResult()
                      : b.create<arith::DivSIOp>(loc, a, d).getResult();
      store(q, acc, iv);
    });
  }
  if (!keep) {
    SmallVector<Value, 4> sizes;
    for (int64_t i = 0; i < r; ++i)
      if (!red[i]) sizes.push_back(in.sizes[i]);
    acc = reshapeView(acc, sizes);
  }
  bufs[op.getResult()] = acc;
  return success();
}

LogicalResult Lowerer::lowerSoftmax(mlir::bmck::SoftmaxOp op) {
  Buf in = buf(op.getInput());
  int64_t axis = op.getAxis(), r = in.rank();
  Buf out = alloc(in.elem, false, in.sizes);
  Type ct = computeType(in.elem);
  SmallVector<Value, 4> outer;
  for (int64_t i = 0; i < r; ++i) outer.push_back(i == axis ? c(1) : in.sizes[i]);
  Value n = in.sizes[axis];
  bool log = op.getLog();
  loops(outer, [&](ArrayRef<Value> iv0) {
    SmallVector<Value, 4> iv(iv0.begin(), iv0.end());
    auto at = [&](Value k) {
      SmallVector<Value, 4> v = iv;
      v[axis] = k;
      return v;
    };
    Value mx = forLoop(n, cst(ct, -std::numeric_limits<double>::infinity()), [&](Value k, Value acc) {
      return b.create<arith::MaximumFOp>(loc, acc, load(in, at(k))).getResult();
    });
    // A row of all -inf (fully masked): the max is taken as 0, so every
    // exp is 0, the sum 0 and the row 0 * (1 / 0) = NaN (LogSoftmax:
    // -inf - log 0 = NaN), as onnxruntime gives. A row of the exporters'
    // finite fill (-3.4e38) gives uniform weights, as plain softmax does
    // (conformance.extra: (log)softmax13_masked_rows).
    Value isInf = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, mx, cst(ct, -std::numeric_limits<double>::infinity()));
    mx = b.create<arith::SelectOp>(loc, isInf, cst(ct, 0.0), mx);
    Value sum = forLoop(n, cst(ct, 0.0), [&](Value k, Value acc) {
      Value e = b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, load(in, at(k)), mx));
      if (!log) store(e, out, at(k));
      return b.create<arith::AddFOp>(loc, acc, e).getResult();
    });
    if (log) {
      Value ls = b.create<math::LogOp>(loc, sum);
      loops({n}, [&](ArrayRef<Value> k) {
        store(b.create<arith::SubFOp>(loc, b.create<arith::SubFOp>(loc, load(in, at(k[0])), mx), ls), out, at(k[0]));
      });
    } else {
      Value inv = b.create<arith::DivFOp>(loc, cst(ct, 1.0), sum);
      loops({n}, [&](ArrayRef<Value> k) {
        store(b.create<arith::MulFOp>(loc, load(out, at(k[0])), inv), out, at(k[0]));
      });
    }
  });
  bufs[op.getResult()] = out;
  return success();
}

LogicalResult Lowerer::lowerNorm(mlir::bmck::NormOp op) {
  bool rms = op.getKind() == NormKind::RMS;
  Buf in = contiguous(buf(op.getInput()));
  int64_t r = in.rank();
  int64_t axis = op.getAxis();
  float eps = op.getEpsilon().convertToFloat();
  Value outerN = c(1), innerN = c(1);
  SmallVector<Value, 4> innerSizes;
  for (int64_t i = 0; i < r; ++i) {
    if (i < axis) outerN = mul(outerN, in.sizes[i]);
    else { innerN = mul(innerN, in.sizes[i]); innerSizes.push_back(in.sizes[i]); }
  }
  // Scale and bias broadcast over the normalised dims, flattened.
  auto flatParam = [&](Value p) -> std::optional<Buf> {
    if (!p) return std::nullopt;
    Buf pb = contiguous(broadcastView(buf(p), innerSizes));
    return reshapeView(pb, {innerN});
  };
  Buf scale = *flatParam(op.getScale());
  std::optional<Buf> bias = flatParam(op.getBias());
  Buf x2 = reshapeView(in, {outerN, innerN});
  Buf out = alloc(in.elem, false, in.sizes);
  Buf o2 = reshapeView(out, {outerN, innerN});
  Type ct = computeType(in.elem);
  Value nf = b.create<arith::SIToFPOp>(loc, ct, innerN);
  loops({outerN}, [&](ArrayRef<Value> o) {
    auto at = [&](Value k) { return SmallVector<Value, 2>{o[0], k}; };
    Value mean = cst(ct, 0.0);
    if (!rms) {
      Value s = forLoop(innerN, cst(ct, 0.0), [&](Value k, Value acc) {
        return b.create<arith::AddFOp>(loc, acc, load(x2, at(k))).getResult();
      });
      mean = b.create<arith::DivFOp>(loc, s, nf);
    }
    Value ss = forLoop(innerN, cst(ct, 0.0), [&](Value k, Value acc) {
      Value d = b.create<arith::SubFOp>(loc, load(x2, at(k)), mean);
      return b.create<arith::AddFOp>(loc, acc, b.create<arith::MulFOp>(loc, d, d)).getResult();
    });
    Value var = b.create<arith::DivFOp>(loc, ss, nf);
    Value rstd = b.create<arith::DivFOp>(loc, cst(ct, 1.0),
                                         b.create<math::SqrtOp>(loc, b.create<arith::AddFOp>(loc, var, cst(ct, eps))));
    loops({innerN}, [&](ArrayRef<Value> k) {
      Value y = b.create<arith::MulFOp>(loc, b.create<arith::SubFOp>(loc, load(x2, at(k[0])), mean), rstd);
      y = b.create<arith::MulFOp>(loc, y, load(scale, {k[0]}));
      if (bias) y = b.create<arith::AddFOp>(loc, y, load(*bias, {k[0]}));
      store(y, o2, at(k[0]));
    });
  });
  bufs[op.getResult()] = out;
  return success();
}

} // namespace lowering
} // namespace bmc
