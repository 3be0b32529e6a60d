//===- LowerIndex.cpp - indexing by tensors and running sums ---------------===//
//
// GatherND and ScatterND (what the dynamo exporter writes for `x[idx]` and
// `x[idx] = v`), NonZero (`x[mask]`) and CumSum (position ids from an
// attention mask). In decode graphs their operands are small (masks,
// positions) and their indices are data: plain loop nests with a bounds
// check per index, no kernels.
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace bmc {
namespace lowering {

static RankedTensorType ttype(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Static result dimensions from the type (they let later ops fold), the
/// computed ones otherwise.
static SmallVector<Value, 4> staticWhereKnown(Lowerer &l, Value result, ArrayRef<Value> computed) {
  auto t = ttype(result);
  SmallVector<Value, 4> s;
  for (int64_t i = 0; i < t.getRank(); ++i) s.push_back(t.isDynamicDim(i) ? computed[i] : l.c(t.getDimSize(i)));
  return s;
}

/// The data coordinates addressed by one index tuple: indices[outer..., j]
/// for j < m, each counted from the end when negative and checked against
/// data dimension `first + j`.
static SmallVector<Value, 4> indexTuple(Lowerer &l, const Buf &idx, ArrayRef<Value> outer, int64_t m,
                                        const Buf &data, int64_t first, const char *op) {
  SmallVector<Value, 4> ks;
  for (int64_t j = 0; j < m; ++j) {
    SmallVector<Value, 4> at(outer.begin(), outer.end());
    at.push_back(l.c(j));
    Value k = l.load(idx, at);
    if (k.getType() != l.i64) k = l.b.create<arith::ExtSIOp>(l.loc, l.i64, k);
    Value dim = data.sizes[first + j];
    k = l.select(l.b.create<arith::CmpIOp>(l.loc, arith::CmpIPredicate::slt, k, l.c(0)), l.add(k, dim), k);
    Value ok = l.b.create<arith::AndIOp>(l.loc, l.b.create<arith::CmpIOp>(l.loc, arith::CmpIPredicate::sge, k, l.c(0)),
                                         l.b.create<arith::CmpIOp>(l.loc, arith::CmpIPredicate::slt, k, dim));
    l.check(ok, (std::string(op) + ": index {0} is out of range for a dimension of {1}").c_str(), k, dim);
    ks.push_back(k);
  }
  return ks;
}

LogicalResult Lowerer::lowerIndex(Operation *op) {
  Value res = op->getResult(0);

  if (auto g = dyn_cast<mlir::bmc::GatherNDOp>(op)) {
    Buf data = buf(g.getData()), idx = buf(g.getIndices());
    int64_t bd = g.getBatchDims(), q = idx.rank(), m = ttype(g.getIndices()).getShape().back();
    for (int64_t i = 0; i < bd; ++i)
      checkExpected(data.sizes[i], idx.sizes[i],
                    "GatherND: the indices' batch dimension " + std::to_string(i) + " is {0}, expected {1} (data's)");
    SmallVector<Value, 4> sizes(idx.sizes.begin(), idx.sizes.end() - 1);
    sizes.append(data.sizes.begin() + bd + m, data.sizes.end());
    sizes = staticWhereKnown(*this, res, sizes);
    Buf out = alloc(data.elem, data.isUnsigned, sizes);
    loops(sizes, [&](ArrayRef<Value> iv) {
      SmallVector<Value, 4> at(iv.begin(), iv.begin() + bd);
      auto ks = indexTuple(*this, idx, iv.take_front(q - 1), m, data, bd, "GatherND");
      at.append(ks.begin(), ks.end());
      at.append(iv.begin() + (q - 1), iv.end());
      Value v = b.create<LLVM::LoadOp>(loc, data.elem, elemPtr(data, at));
      b.create<LLVM::StoreOp>(loc, v, elemPtr(out, iv));
    });
    bufs[res] = out;
    return success();
  }

  if (auto s = dyn_cast<mlir::bmc::ScatterNDOp>(op)) {
    Buf data = buf(s.getData()), idx = buf(s.getIndices()), upd = buf(s.getUpdates());
    int64_t q = idx.rank(), m = ttype(s.getIndices()).getShape().back();
    for (int64_t i = 0; i + 1 < q; ++i)
      checkFound(upd.sizes[i], idx.sizes[i],
                 "ScatterND: updates dimension " + std::to_string(i) + " is {0}, expected {1} (the indices')");
    for (int64_t i = m; i < data.rank(); ++i)
      checkFound(upd.sizes[q - 1 + i - m], data.sizes[i],
                 "ScatterND: updates dimension " + std::to_string(q - 1 + i - m) + " is {0}, expected {1} (data dimension " +
                     std::to_string(i) + ")");
    Buf out = alloc(data.elem, data.isUnsigned, data.sizes);
    copy(data, out);
    StringRef red = s.getReduction();
    Type ct = computeType(data.elem);
    bool isF = isa<FloatType>(ct);
    // In index order: with duplicate indices and no reduction, the last
    // update wins (what onnxruntime's CPU kernel does too).
    loops(upd.sizes, [&](ArrayRef<Value> iv) {
      auto at = indexTuple(*this, idx, iv.take_front(q - 1), m, data, 0, "ScatterND");
      at.append(iv.begin() + (q - 1), iv.end());
      Value u = load(upd, iv);
      if (red != "none") {
        Value cur = load(out, at);
        if (red == "add") u = isF ? b.create<arith::AddFOp>(loc, cur, u).getResult() : b.create<arith::AddIOp>(loc, cur, u).getResult();
        else if (red == "mul") u = isF ? b.create<arith::MulFOp>(loc, cur, u).getResult() : b.create<arith::MulIOp>(loc, cur, u).getResult();
        else if (red == "max")
          u = isF ? b.create<arith::MaximumFOp>(loc, cur, u).getResult()
              : data.isUnsigned ? b.create<arith::MaxUIOp>(loc, cur, u).getResult()
                                : b.create<arith::MaxSIOp>(loc, cur, u).getResult();
        else
          u = isF ? b.create<arith::MinimumFOp>(loc, cur, u).getResult()
              : data.isUnsigned ? b.create<arith::MinUIOp>(loc, cur, u).getResult()
                                : b.create<arith::MinSIOp>(loc, cur, u).getResult();
      }
      store(u, out, at);
    });
    bufs[res] = out;
    return success();
  }

  if (auto cs = dyn_cast<mlir::bmc::CumSumOp>(op)) {
    Buf in = buf(cs.getInput());
    int64_t axis = cs.getAxis();
    Buf out = alloc(in.elem, in.isUnsigned, in.sizes);
    Type ct = computeType(in.elem);
    bool isF = isa<FloatType>(ct);
    Value zero = isF ? cst(ct, 0.0) : b.create<arith::ConstantIntOp>(loc, 0, ct).getResult();
    SmallVector<Value, 4> outer = in.sizes;
    outer[axis] = c(1);
    Value n = in.sizes[axis];
    loops(outer, [&](ArrayRef<Value> iv) {
      forLoop(n, zero, [&](Value j, Value acc) {
        SmallVector<Value, 4> at(iv.begin(), iv.end());
        at[axis] = cs.getReverse() ? sub(sub(n, c(1)), j) : j;
        Value x = load(in, at);
        Value sum = isF ? b.create<arith::AddFOp>(loc, acc, x).getResult() : b.create<arith::AddIOp>(loc, acc, x).getResult();
        store(cs.getExclusive() ? acc : sum, out, at);
        return sum;
      });
    });
    bufs[res] = out;
    return success();
  }
  if (auto nz = dyn_cast<mlir::bmc::NonZeroOp>(op)) {
    // Two passes in row-major order: count, allocate [rank, count] (a size
    // read from data: bump-allocated, see MemoryPlan.cpp), then write each
    // non-zero element's coordinates into the next column.
    Buf in = buf(nz.getInput());
    int64_t r = in.rank();
    Type ct = computeType(in.elem);
    auto nonZero = [&](ArrayRef<Value> iv) -> Value {
      Value x = load(in, iv);
      if (isa<FloatType>(ct)) // une: NaN is non-zero, -0.0 is zero
        return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, x, cst(ct, 0.0));
      return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, x, b.create<arith::ConstantIntOp>(loc, 0, ct));
    };
    // Nested loops over every element carrying one i64 accumulator.
    std::function<Value(int64_t, SmallVector<Value, 4> &, Value, const std::function<Value(ArrayRef<Value>, Value)> &)>
        walk = [&](int64_t d, SmallVector<Value, 4> &iv, Value acc,
                   const std::function<Value(ArrayRef<Value>, Value)> &leaf) -> Value {
      return forLoop(in.sizes[d], acc, [&](Value i, Value a) {
        iv.push_back(i);
        Value next = d + 1 == r ? leaf(iv, a) : walk(d + 1, iv, a, leaf);
        iv.pop_back();
        return next;
      });
    };
    SmallVector<Value, 4> iv;
    Value count = walk(0, iv, c(0), [&](ArrayRef<Value> at, Value a) {
      return add(a, b.create<arith::ExtUIOp>(loc, i64, nonZero(at)));
    });
    SmallVector<Value, 4> sizes{c(r), count};
    Buf out = allocResult(res, i64, false, sizes);
    walk(0, iv, c(0), [&](ArrayRef<Value> at, Value k) {
      Value hit = nonZero(at);
      auto ifOp = b.create<scf::IfOp>(loc, hit, /*withElseRegion=*/false);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        for (int64_t d = 0; d < r; ++d) store(at[d], out, {c(d), k});
      }
      return add(k, b.create<arith::ExtUIOp>(loc, i64, hit));
    });
    bufs[res] = out;
    return success();
  }
  if (auto ce = dyn_cast<mlir::bmc::CheckEqualOp>(op)) {
    // A guard: compare every element, fail with the message; the result is the input.
    Buf in = buf(ce.getInput());
    Buf want = broadcastView(buf(ce.getExpected()), in.sizes);
    std::string msg = (ce.getMessage() + ": found {0}, expected {1}").str();
    loops(in.sizes, [&](ArrayRef<Value> iv) {
      Value x = load(in, iv), y = load(want, iv);
      if (x.getType() != i64) x = b.create<arith::ExtSIOp>(loc, i64, x);
      if (y.getType() != i64) y = b.create<arith::ExtSIOp>(loc, i64, y);
      check(eq(x, y), msg, x, y);
    });
    bufs[res] = in;
    return success();
  }
  return op->emitError("bmc code generation: unhandled indexing op");
}

} // namespace lowering
} // namespace bmc
