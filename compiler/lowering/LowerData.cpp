//===- LowerData.cpp - data movement: views where possible, copies else ----===//
//
// bmck.slice / split / squeeze / unsqueeze / expand / transpose / reshape /
// flatten (views: no code; a reshape of a buffer not contiguous copies it
// first, reshapeView), bmck.concat / bmck.gather (copies into a new buffer)
// and bmck.copy come from bmc-lower-to-kernels; the same code emits the
// tensor-level ops the pass leaves (index-typed shape vectors, a weight's
// Transpose: movesDataToKernels), whose accessors have the same names. The
// other data ops are still emitted from their tensor-level form.
//

#include "compiler/lowering/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace bmc {
namespace lowering {

static RankedTensorType ttype(Value v) { return cast<RankedTensorType>(v.getType()); }

/// The sizes a tensor or view type knows at compile time (kDynamic else).
static ArrayRef<int64_t> typeSizes(Value v) {
  if (auto vt = dyn_cast<mlir::bmck::ViewType>(v.getType())) return vt.getShape();
  return ttype(v).getShape();
}

/// The element type of a tensor or view.
static Type elementTypeOf(Value v) {
  if (auto vt = dyn_cast<mlir::bmck::ViewType>(v.getType())) return vt.getElementType();
  return ttype(v).getElementType();
}

/// Result sizes: static dims from the type, others from `dyn`.
static SmallVector<Value, 4> resultSizes(Lowerer &l, Value result, ArrayRef<Value> dyn) {
  ArrayRef<int64_t> t = typeSizes(result);
  SmallVector<Value, 4> s;
  for (size_t i = 0; i < t.size(); ++i) s.push_back(ShapedType::isDynamic(t[i]) ? dyn[i] : l.c(t[i]));
  return s;
}

/// Reshape sizes from an ONNX shape operand (0 copies, -1 infers), checked.
/// A shape known only at run time may hold its -1 anywhere.
template <typename OpT> static SmallVector<Value, 4> reshapeSizes(Lowerer &l, OpT op, const Buf &in) {
  ArrayRef<int64_t> rt = typeSizes(op.getResult());
  int64_t n = rt.size();
  SmallVector<Value, 4> sizes(n), infer(n); // infer[i]: i1, "entry i is -1"
  Value known = l.c(1), numInfer = l.c(0);
  for (int64_t i = 0; i < n; ++i) {
    if (!ShapedType::isDynamic(rt[i])) {
      sizes[i] = l.c(rt[i]);
      known = l.mul(known, sizes[i]);
      continue;
    }
    Value e = l.element(op.getShape(), i);
    if (!op.getAllowzero() && i < in.rank()) e = l.select(l.eq(e, l.c(0)), in.sizes[i], e);
    infer[i] = l.eq(e, l.c(-1));
    if (l.constOf(infer[i]) == 0) infer[i] = Value();
    sizes[i] = e;
    known = l.mul(known, infer[i] ? l.select(infer[i], l.c(1), e) : e);
    if (infer[i]) numInfer = l.add(numInfer, l.b.createOrFold<arith::ExtUIOp>(l.loc, l.i64, infer[i]));
  }
  Value total = l.numElements(in.sizes);
  if (llvm::any_of(infer, [](Value v) { return bool(v); })) {
    l.check(l.b.createOrFold<arith::CmpIOp>(l.loc, arith::CmpIPredicate::sle, numInfer, l.c(1)),
            "Reshape: expected at most one -1 in the shape, found {0}", numInfer);
    Value anyInfer = l.b.createOrFold<arith::CmpIOp>(l.loc, arith::CmpIPredicate::ne, numInfer, l.c(0));
    Value zero = l.eq(known, l.c(0));
    l.check(l.b.createOrFold<arith::XOrIOp>(l.loc, l.b.createOrFold<arith::AndIOp>(l.loc, anyInfer, zero),
                                            l.b.create<arith::ConstantIntOp>(l.loc, 1, 1)),
            "Reshape: cannot infer a -1 dimension when the other dimensions multiply to {0}", known);
    // Divide by 1 where nothing is inferred or the product is 0: never trap.
    Value inferred = l.sdiv(total, l.select(zero, l.c(1), known));
    known = l.c(1);
    for (int64_t i = 0; i < n; ++i) {
      if (infer[i]) sizes[i] = l.select(infer[i], inferred, sizes[i]);
      known = l.mul(known, sizes[i]);
    }
  }
  l.checkFound(known, total, "Reshape: the target shape has {0} elements, expected {1} (the input's)");
  return sizes;
}

template <typename OpT> LogicalResult Lowerer::lowerConcat(OpT cc) {
  Value res = cc->getResult(0);
  int64_t axis = cc.getAxis();
  SmallVector<Buf> ins;
  for (Value v : cc.getInputs()) ins.push_back(buf(v));
  SmallVector<Value, 4> sizes = ins[0].sizes;
  Value total = c(0);
  for (auto [k, in] : llvm::enumerate(ins)) {
    for (int64_t d = 0; d < in.rank(); ++d)
      if (d != axis)
        checkFound(in.sizes[d], sizes[d],
                   "Concat: input " + std::to_string(k) + " dimension " + std::to_string(d) + " is {0}, expected {1} (input 0's)");
    total = add(total, in.sizes[axis]);
  }
  sizes[axis] = total;
  sizes = resultSizes(*this, res, sizes);
  // The inputs tile the result along `axis`: every element is written.
  Buf out = allocResult(res, ins[0].elem, ins[0].isUnsigned, sizes);
  Value off = c(0);
  for (const Buf &in : ins) {
    Buf dst = out;
    dst.sizes = in.sizes;
    dst.offset = add(out.offset, mul(off, out.strides[axis]));
    dst.contiguous = false;
    copy(in, dst);
    off = add(off, in.sizes[axis]);
  }
  bufs[res] = out;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerSplit(OpT sp) {
  Buf in = buf(sp.getInput());
  int64_t axis = sp.getAxis();
  Value total = c(0);
  for (int64_t s : sp.getSizes()) total = add(total, c(s));
  checkFound(total, in.sizes[axis],
             "Split: the split sizes sum to {0}, expected {1} (the size of dimension " + std::to_string(axis) + ")");
  Value off = c(0);
  for (auto [k, s] : llvm::enumerate(sp.getSizes())) {
    Buf r = in;
    r.sizes[axis] = c(s);
    r.offset = add(in.offset, mul(off, in.strides[axis]));
    r.contiguous = in.contiguous && axis == 0;
    bufs[sp.getResult(k)] = r;
    off = add(off, c(s));
  }
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerSlice(OpT sl) {
  Value res = sl->getResult(0);
  Buf in = buf(sl.getInput()), r = in;
  for (auto [k, axis] : llvm::enumerate(sl.getAxes())) {
    Value dim = in.sizes[axis];
    Value start = element(sl.getStarts(), k), end = element(sl.getEnds(), k), step = element(sl.getSteps(), k);
    check(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, step, c(0)), "Slice: step must be non-zero");
    // ONNX clamping: negative indices count from the end; then clamp to
    // [0, dim] for positive steps and [-1, dim-1] for negative ones.
    auto neg = [&](Value v) { return b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, v, c(0)); };
    start = select(neg(start), add(start, dim), start);
    end = select(neg(end), add(end, dim), end);
    Value pos = b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, step, c(0));
    Value sPos = smin(smax(start, c(0)), dim), ePos = smin(smax(end, c(0)), dim);
    Value dm1 = sub(dim, c(1));
    Value sNeg = smin(smax(start, c(0)), dm1), eNeg = smin(smax(end, c(-1)), dm1);
    start = select(pos, sPos, sNeg);
    end = select(pos, ePos, eNeg);
    // length = max(0, ceil((end - start) / step))
    Value span = sub(end, start);
    Value adj = select(pos, sub(step, c(1)), add(step, c(1)));
    Value len = smax(c(0), sdiv(add(span, adj), step));
    r.offset = add(r.offset, mul(start, in.strides[axis]));
    r.sizes[axis] = len;
    r.strides[axis] = mul(in.strides[axis], step);
  }
  r.contiguous = false;
  bufs[res] = r;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerGather(OpT g) {
  Value res = g->getResult(0);
  Buf data = buf(g.getData()), idx = buf(g.getIndices());
  int64_t axis = g.getAxis();
  SmallVector<Value, 4> sizes(data.sizes.begin(), data.sizes.begin() + axis);
  sizes.append(idx.sizes.begin(), idx.sizes.end());
  sizes.append(data.sizes.begin() + axis + 1, data.sizes.end());
  Buf out = alloc(data.elem, data.isUnsigned, sizes);
  Value dimAx = data.sizes[axis];
  int64_t ir = idx.rank();
  // Rows of contiguous inner data are copied with one loop (embeddings).
  loops(sizes, [&](ArrayRef<Value> iv) {
    SmallVector<Value, 4> iIdx(iv.begin() + axis, iv.begin() + axis + ir);
    Value k = load(idx, iIdx);
    if (k.getType() != i64) k = b.create<arith::ExtSIOp>(loc, i64, k);
    k = select(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, k, c(0)), add(k, dimAx), k);
    Value ok = b.create<arith::AndIOp>(loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, k, c(0)),
                                       b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, k, dimAx));
    check(ok, "Gather: index {0} is out of range for a dimension of {1}", k, dimAx);
    SmallVector<Value, 4> dIdx(iv.begin(), iv.begin() + axis);
    dIdx.push_back(k);
    dIdx.append(iv.begin() + axis + ir, iv.end());
    Value v = b.create<LLVM::LoadOp>(loc, data.elem, elemPtr(data, dIdx));
    b.create<LLVM::StoreOp>(loc, v, elemPtr(out, iv));
  });
  bufs[res] = out;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerSqueeze(OpT s) {
  Value res = s->getResult(0);
  Buf in = buf(s.getInput()), r = in;
  r.sizes.clear();
  r.strides.clear();
  for (int64_t i = 0; i < in.rank(); ++i) {
    if (llvm::is_contained(s.getAxes(), i)) {
      // checkFound's comparison and shortcut, worded as the device's (DeviceProgramView.cpp): found, then expected.
      Value d = in.sizes[i], one = c(1);
      if (auto k = constOf(d); !(k && *k == 1))
        check(eq(d, one), "Squeeze: squeezed dimension " + std::to_string(i) + " is {0}, expected {1}", d, one);
      continue;
    }
    r.sizes.push_back(in.sizes[i]);
    r.strides.push_back(in.strides[i]);
  }
  bufs[res] = r;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerUnsqueeze(OpT u) {
  Value res = u->getResult(0);
  Buf in = buf(u.getInput()), r = in;
  r.sizes.clear();
  r.strides.clear();
  int64_t j = 0;
  for (int64_t i = 0; i < int64_t(typeSizes(res).size()); ++i) {
    if (llvm::is_contained(u.getAxes(), i)) {
      r.sizes.push_back(c(1));
      r.strides.push_back(c(0));
    } else {
      r.sizes.push_back(in.sizes[j]);
      r.strides.push_back(in.strides[j]);
      ++j;
    }
  }
  bufs[res] = r;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerExpand(OpT x) {
  Value res = x->getResult(0);
  Buf in = buf(x.getInput());
  int64_t n = ttype(x.getShape()).getDimSize(0);
  int64_t R = typeSizes(res).size();
  SmallVector<Value, 4> sizes(R);
  for (int64_t i = 0; i < R; ++i) {
    int64_t k = i - (R - n), j = i - (R - in.rank());
    Value target = k >= 0 ? element(x.getShape(), k) : c(1);
    // A size read from data at run time may be negative (onnxruntime refuses it too); a constant
    // shape was checked by the verifier, and gets no code.
    if (auto kt = constOf(target); !(kt && *kt >= 0))
      check(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, target, c(0)),
            ("Expand: shape element " + std::to_string(k) + ": expected a non-negative size, found {0}").c_str(),
            target);
    if (j < 0) { sizes[i] = target; continue; }
    Value d = in.sizes[j];
    // Broadcast: the larger of the two, where the smaller is 1.
    Value size = select(eq(target, c(1)), d, target);
    Value ok = b.createOrFold<arith::OrIOp>(loc, eq(d, size), eq(d, c(1)));
    check(ok, ("Expand: input dimension {0} does not broadcast to {1} (dimension " + std::to_string(i) + ")").c_str(), d, size);
    sizes[i] = size;
  }
  bufs[res] = broadcastView(in, resultSizes(*this, res, sizes));
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerTranspose(OpT t) {
  Buf in = buf(t.getInput()), r = in;
  for (auto [i, p] : llvm::enumerate(t.getPerm())) {
    r.sizes[i] = in.sizes[p];
    r.strides[i] = in.strides[p];
  }
  bool identity = llvm::all_of(llvm::enumerate(t.getPerm()), [](auto e) { return (int64_t)e.index() == e.value(); });
  r.contiguous = in.contiguous && identity;
  bufs[t->getResult(0)] = r;
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerReshape(OpT r) {
  Buf in = buf(r.getInput());
  bufs[r->getResult(0)] = reshapeView(in, reshapeSizes(*this, r, in));
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerFlatten(OpT f) {
  Buf in = buf(f.getInput());
  Value a = c(1), z = c(1);
  for (int64_t i = 0; i < in.rank(); ++i) {
    if (i < (int64_t)f.getAxis()) a = mul(a, in.sizes[i]);
    else z = mul(z, in.sizes[i]);
  }
  bufs[f->getResult(0)] = reshapeView(in, {a, z});
  return success();
}

/// A copy read only by reshapes / flattens is made by them (reshapeView),
/// after their size checks, only where the buffer is not contiguous: the
/// code they made before the move. Any other copy is made here, again only
/// where the buffer is not already contiguous (views are read-only values).
LogicalResult Lowerer::lowerCopy(mlir::bmck::CopyOp cp) {
  Buf in = buf(cp.getInput());
  bool byReshapes = llvm::all_of(cp->getUsers(), [](Operation *u) {
    return isa<mlir::bmck::ReshapeOp, mlir::bmck::FlattenOp>(u);
  });
  bufs[cp.getResult()] = byReshapes ? in : contiguous(in);
  return success();
}

template <typename OpT> LogicalResult Lowerer::lowerRange(OpT rg) {
  Value res = rg->getResult(0);
  ArrayRef<int64_t> shape = typeSizes(res);
  Type et = elementTypeOf(res);
  bool isF = isa<FloatType>(et);
  auto scalarOf = [&](Value t) -> Value {
    if (!isF) return element(t, 0);
    return load(buf(t), {});
  };
  Value s = scalarOf(rg.getStart()), l = scalarOf(rg.getLimit()), d = scalarOf(rg.getDelta());
  Value n;
  if (isF) {
    Value q = b.create<math::CeilOp>(loc, b.create<arith::DivFOp>(loc, b.create<arith::SubFOp>(loc, l, s), d));
    n = smax(c(0), b.create<arith::FPToSIOp>(loc, i64, q));
  } else {
    check(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, d, c(0)), "Range: delta must be non-zero");
    Value span = sub(l, s);
    Value pos = b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, d, c(0));
    Value adj = select(pos, sub(d, c(1)), add(d, c(1)));
    n = smax(c(0), sdiv(add(span, adj), d));
  }
  if (!ShapedType::isDynamic(shape[0])) n = c(shape[0]);
  Type st = isF ? et : b.getIntegerType(et.getIntOrFloatBitWidth());
  Buf out = alloc(st, false, {n});
  loops({n}, [&](ArrayRef<Value> iv) {
    Value v;
    if (isF) v = b.create<arith::AddFOp>(loc, s, b.create<arith::MulFOp>(loc, b.create<arith::SIToFPOp>(loc, s.getType(), iv[0]), d));
    else {
      v = add(s, mul(iv[0], d));
      if (st != i64) v = b.create<arith::TruncIOp>(loc, st, v);
    }
    store(v, out, {iv[0]});
  });
  bufs[res] = out;
  return success();
}

LogicalResult Lowerer::lowerData(Operation *op) {
  if (auto x = dyn_cast<mlir::bmck::TransposeOp>(op)) return lowerTranspose(x);
  if (auto x = dyn_cast<mlir::bmck::ReshapeOp>(op)) return lowerReshape(x);
  if (auto x = dyn_cast<mlir::bmck::FlattenOp>(op)) return lowerFlatten(x);
  if (auto x = dyn_cast<mlir::bmck::CopyOp>(op)) return lowerCopy(x);
  if (auto x = dyn_cast<mlir::bmc::TransposeOp>(op)) return lowerTranspose(x);
  if (auto x = dyn_cast<mlir::bmc::ReshapeOp>(op)) return lowerReshape(x);
  if (auto x = dyn_cast<mlir::bmc::FlattenOp>(op)) return lowerFlatten(x);
  if (auto x = dyn_cast<mlir::bmck::SliceOp>(op)) return lowerSlice(x);
  if (auto x = dyn_cast<mlir::bmck::SplitOp>(op)) return lowerSplit(x);
  if (auto x = dyn_cast<mlir::bmck::ConcatOp>(op)) return lowerConcat(x);
  if (auto x = dyn_cast<mlir::bmck::GatherOp>(op)) return lowerGather(x);
  if (auto x = dyn_cast<mlir::bmck::SqueezeOp>(op)) return lowerSqueeze(x);
  if (auto x = dyn_cast<mlir::bmck::UnsqueezeOp>(op)) return lowerUnsqueeze(x);
  if (auto x = dyn_cast<mlir::bmck::ExpandOp>(op)) return lowerExpand(x);
  if (auto x = dyn_cast<mlir::bmck::RangeOp>(op)) return lowerRange(x);
  if (auto x = dyn_cast<mlir::bmc::SliceOp>(op)) return lowerSlice(x);
  if (auto x = dyn_cast<mlir::bmc::SplitOp>(op)) return lowerSplit(x);
  if (auto x = dyn_cast<mlir::bmc::ConcatOp>(op)) return lowerConcat(x);
  if (auto x = dyn_cast<mlir::bmc::GatherOp>(op)) return lowerGather(x);
  if (auto x = dyn_cast<mlir::bmc::SqueezeOp>(op)) return lowerSqueeze(x);
  if (auto x = dyn_cast<mlir::bmc::UnsqueezeOp>(op)) return lowerUnsqueeze(x);
  if (auto x = dyn_cast<mlir::bmc::ExpandOp>(op)) return lowerExpand(x);
  if (auto x = dyn_cast<mlir::bmc::RangeOp>(op)) return lowerRange(x);
  Value res = op->getResult(0);
  auto rt = ttype(res);

  if (auto cs = dyn_cast<mlir::bmc::ConstantOfShapeOp>(op)) {
    int64_t n = rt.getRank();
    SmallVector<Value, 4> sizes;
    for (int64_t i = 0; i < n; ++i) {
      Value e = rt.isDynamicDim(i) ? element(cs.getShape(), i) : c(rt.getDimSize(i));
      check(b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, e, c(0)),
            "ConstantOfShape: expected non-negative dimensions, found {0}", e);
      sizes.push_back(e);
    }
    Type et = rt.getElementType();
    Type st = et.isInteger(1) ? b.getI8Type() : et;
    if (auto it = dyn_cast<IntegerType>(st)) st = b.getIntegerType(it.getWidth());
    Buf out = alloc(st, et.isUnsignedInteger(), sizes);
    Value v;
    if (auto fa = dyn_cast<FloatAttr>(cs.getValue())) v = cst(computeType(st), fa.getValueAsDouble());
    else {
      // A true i1 is stored as the byte 1 (sign-extending it would give -1).
      APInt iv = cast<IntegerAttr>(cs.getValue()).getValue();
      v = b.create<arith::ConstantIntOp>(loc, et.isInteger(1) ? int64_t(iv.getZExtValue()) : iv.getSExtValue(), st);
    }
    loops(sizes, [&](ArrayRef<Value> iv) { store(v, out, iv); });
    bufs[res] = out;
    return success();
  }
  if (auto tr = dyn_cast<mlir::bmc::TriluOp>(op)) {
    Buf in = buf(tr.getInput());
    Value k = element(tr.getK(), 0);
    Buf out = alloc(in.elem, in.isUnsigned, in.sizes);
    int64_t r = in.rank();
    Type ct = computeType(in.elem);
    loops(in.sizes, [&](ArrayRef<Value> iv) {
      Value diff = sub(iv[r - 1], iv[r - 2]); // j - i
      Value keep = tr.getUpper() ? b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, diff, k).getResult()
                                 : b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sle, diff, k).getResult();
      Value zero = isa<FloatType>(ct) ? cst(ct, 0.0) : b.create<arith::ConstantIntOp>(loc, 0, ct).getResult();
      store(b.create<arith::SelectOp>(loc, keep, load(in, iv), zero), out, iv);
    });
    bufs[res] = out;
    return success();
  }
  if (auto sh = dyn_cast<mlir::bmc::ShapeOp>(op)) {
    Buf in = buf(sh.getInput());
    int64_t n = sh.getEnd() - sh.getStart();
    Buf out = alloc(i64, false, {c(n)});
    for (int64_t i = 0; i < n; ++i) store(in.sizes[sh.getStart() + i], out, {c(i)});
    bufs[res] = out;
    return success();
  }
  return op->emitError("bmc code generation: unhandled data op");
}

} // namespace lowering
} // namespace bmc
