//===- LowerElementwise.cpp - elementwise ops and their fusion --------------===//
//
//
// CPU emission of bmck.elementwise (the groups bmc-group-elementwise and
// bmc-lower-to-kernels made): one loop nest over the group's result, its ops
// evaluated per element by scalarOp, the ops before the root in registers.
// The code is the one the Lowerer emitted when it made the fusion decision
// itself (docs/DESIGN.md, "Lowering").

#include "compiler/lowering/Lowering.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

namespace bmc {
namespace lowering {

static Type elemOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }

/// Converts a compute value between element types with ONNX Cast semantics.
static Value convert(OpBuilder &b, Location loc, Value v, bool fromUnsigned, Type fromTensorElem,
                     Type to, bool toUnsigned, bool toBool) {
  Type from = v.getType();
  if (toBool) {
    if (isa<FloatType>(from))
      return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, v,
                                     b.create<arith::ConstantOp>(loc, b.getFloatAttr(from, 0.0)));
    if (from.isInteger(1)) return v;
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, v,
                                   b.create<arith::ConstantIntOp>(loc, 0, from));
  }
  if (from == to) return v;
  bool fromBool = fromTensorElem.isInteger(1);
  if (isa<FloatType>(to)) {
    if (isa<FloatType>(from)) {
      return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
                 ? b.create<arith::ExtFOp>(loc, to, v).getResult()
                 : b.create<arith::TruncFOp>(loc, to, v).getResult();
    }
    if (fromUnsigned || fromBool) return b.create<arith::UIToFPOp>(loc, to, v);
    return b.create<arith::SIToFPOp>(loc, to, v);
  }
  // Integer target.
  if (isa<FloatType>(from)) {
    if (toUnsigned) return b.create<arith::FPToUIOp>(loc, to, v);
    return b.create<arith::FPToSIOp>(loc, to, v);
  }
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw > tw) return b.create<arith::TruncIOp>(loc, to, v);
  if (fromUnsigned || fromBool) return b.create<arith::ExtUIOp>(loc, to, v);
  return b.create<arith::ExtSIOp>(loc, to, v);
}

Value Lowerer::scalarOp(Operation *op, ArrayRef<Value> a, Type resultStorage) {
  Type t = a.empty() ? f32 : a[0].getType();
  bool isF = isa<FloatType>(t);
  bool uns = op->getNumOperands() && elemOf(op->getOperand(0)).isUnsignedInteger();
  auto fc = [&](double v) { return b.create<arith::ConstantOp>(loc, b.getFloatAttr(t, v)).getResult(); };
  auto ic = [&](int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, t).getResult(); };

  if (isa<mlir::bmc::AddOp>(op)) return isF ? b.create<arith::AddFOp>(loc, a[0], a[1]).getResult() : b.create<arith::AddIOp>(loc, a[0], a[1]).getResult();
  if (isa<mlir::bmc::SubOp>(op)) return isF ? b.create<arith::SubFOp>(loc, a[0], a[1]).getResult() : b.create<arith::SubIOp>(loc, a[0], a[1]).getResult();
  if (isa<mlir::bmc::MulOp>(op)) return isF ? b.create<arith::MulFOp>(loc, a[0], a[1]).getResult() : b.create<arith::MulIOp>(loc, a[0], a[1]).getResult();
  if (isa<mlir::bmc::DivOp>(op)) {
    if (isF) return b.create<arith::DivFOp>(loc, a[0], a[1]);
    return uns ? b.create<arith::DivUIOp>(loc, a[0], a[1]).getResult() : b.create<arith::DivSIOp>(loc, a[0], a[1]).getResult();
  }
  if (isa<mlir::bmc::PowOp>(op)) {
    Value e = a[1];
    APFloat two(2.0);
    FloatAttr expAttr;
    DenseFPElementsAttr dense;
    // The exponent is a leaf of the group: its block argument stands for
    // the input view, which the seams lead back to the constant.
    if (isF && matchPattern(throughSeams(op->getOperand(1)), m_Constant(&dense)) && dense.isSplat()) {
      // Small integer exponents (x^2 in norms, x^3 in GELU) as products; 0.5 as sqrt.
      double e = dense.getSplatValue<APFloat>().convertToDouble();
      if (e == 0.5) return b.create<math::SqrtOp>(loc, a[0]);
      if (e == 1.0) return a[0];
      if (e == 2.0 || e == 3.0 || e == 4.0) {
        Value r = b.create<arith::MulFOp>(loc, a[0], a[0]);
        if (e == 3.0) r = b.create<arith::MulFOp>(loc, r, a[0]);
        if (e == 4.0) r = b.create<arith::MulFOp>(loc, r, r);
        return r;
      }
    }
    if (isF) {
      if (!isa<FloatType>(e.getType())) e = b.create<arith::SIToFPOp>(loc, t, e);
      else if (e.getType() != t) e = convert(b, loc, e, false, e.getType(), t, false, false);
      return b.create<math::PowFOp>(loc, a[0], e);
    }
    Value x = b.create<arith::SIToFPOp>(loc, b.getF64Type(), a[0]);
    Value y = isa<FloatType>(e.getType()) ? convert(b, loc, e, false, e.getType(), b.getF64Type(), false, false)
                                          : b.create<arith::SIToFPOp>(loc, b.getF64Type(), e).getResult();
    return b.create<arith::FPToSIOp>(loc, t, b.create<math::PowFOp>(loc, x, y));
  }
  if (isa<mlir::bmc::MinOp>(op)) return isF ? b.create<arith::MinimumFOp>(loc, a[0], a[1]).getResult()
                                      : uns ? b.create<arith::MinUIOp>(loc, a[0], a[1]).getResult() : b.create<arith::MinSIOp>(loc, a[0], a[1]).getResult();
  if (isa<mlir::bmc::MaxOp>(op)) return isF ? b.create<arith::MaximumFOp>(loc, a[0], a[1]).getResult()
                                      : uns ? b.create<arith::MaxUIOp>(loc, a[0], a[1]).getResult() : b.create<arith::MaxSIOp>(loc, a[0], a[1]).getResult();
  if (auto m = dyn_cast<mlir::bmc::ModOp>(op)) {
    if (isF) return b.create<arith::RemFOp>(loc, a[0], a[1]);
    if (uns) return b.create<arith::RemUIOp>(loc, a[0], a[1]);
    Value r = b.create<arith::RemSIOp>(loc, a[0], a[1]);
    if (m.getFmod()) return r;
    // Python-style: the result takes the divisor's sign.
    Value zero = ic(0);
    Value rNeg = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, r, zero);
    Value dNeg = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, a[1], zero);
    Value rNz = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, r, zero);
    Value fix = b.create<arith::AndIOp>(loc, rNz, b.create<arith::XOrIOp>(loc, rNeg, dNeg));
    return b.create<arith::SelectOp>(loc, fix, b.create<arith::AddIOp>(loc, r, a[1]), r);
  }
  auto cmp = [&](arith::CmpFPredicate fp, arith::CmpIPredicate sp, arith::CmpIPredicate up) -> Value {
    if (isF) return b.create<arith::CmpFOp>(loc, fp, a[0], a[1]);
    return b.create<arith::CmpIOp>(loc, uns ? up : sp, a[0], a[1]);
  };
  if (isa<mlir::bmc::EqualOp>(op)) return cmp(arith::CmpFPredicate::OEQ, arith::CmpIPredicate::eq, arith::CmpIPredicate::eq);
  if (isa<mlir::bmc::LessOp>(op)) return cmp(arith::CmpFPredicate::OLT, arith::CmpIPredicate::slt, arith::CmpIPredicate::ult);
  if (isa<mlir::bmc::LessEqualOp>(op)) return cmp(arith::CmpFPredicate::OLE, arith::CmpIPredicate::sle, arith::CmpIPredicate::ule);
  if (isa<mlir::bmc::GreaterOp>(op)) return cmp(arith::CmpFPredicate::OGT, arith::CmpIPredicate::sgt, arith::CmpIPredicate::ugt);
  if (isa<mlir::bmc::GreaterEqualOp>(op)) return cmp(arith::CmpFPredicate::OGE, arith::CmpIPredicate::sge, arith::CmpIPredicate::uge);
  if (isa<mlir::bmc::AndOp>(op)) return b.create<arith::AndIOp>(loc, a[0], a[1]);
  if (isa<mlir::bmc::OrOp>(op)) return b.create<arith::OrIOp>(loc, a[0], a[1]);
  if (isa<mlir::bmc::XorOp>(op)) return b.create<arith::XOrIOp>(loc, a[0], a[1]);
  if (isa<mlir::bmc::NotOp>(op)) return b.create<arith::XOrIOp>(loc, a[0], b.create<arith::ConstantIntOp>(loc, 1, 1));
  if (isa<mlir::bmc::NegOp>(op)) return isF ? b.create<arith::NegFOp>(loc, a[0]).getResult() : b.create<arith::SubIOp>(loc, ic(0), a[0]).getResult();
  if (isa<mlir::bmc::AbsOp>(op)) return isF ? b.create<math::AbsFOp>(loc, a[0]).getResult() : uns ? a[0] : b.create<math::AbsIOp>(loc, a[0]).getResult();
  if (isa<mlir::bmc::ExpOp>(op)) return b.create<math::ExpOp>(loc, a[0]);
  if (isa<mlir::bmc::LogOp>(op)) return b.create<math::LogOp>(loc, a[0]);
  if (isa<mlir::bmc::SqrtOp>(op)) return b.create<math::SqrtOp>(loc, a[0]);
  if (isa<mlir::bmc::ReciprocalOp>(op)) return b.create<arith::DivFOp>(loc, fc(1.0), a[0]);
  if (isa<mlir::bmc::TanhOp>(op)) return b.create<math::TanhOp>(loc, a[0]);
  if (isa<mlir::bmc::ErfOp>(op)) return b.create<math::ErfOp>(loc, a[0]);
  if (isa<mlir::bmc::CosOp>(op)) return b.create<math::CosOp>(loc, a[0]);
  if (isa<mlir::bmc::SinOp>(op)) return b.create<math::SinOp>(loc, a[0]);
  if (isa<mlir::bmc::FloorOp>(op)) return b.create<math::FloorOp>(loc, a[0]);
  if (isa<mlir::bmc::CeilOp>(op)) return b.create<math::CeilOp>(loc, a[0]);
  if (isa<mlir::bmc::SigmoidOp>(op)) {
    Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, a[0]));
    return b.create<arith::DivFOp>(loc, fc(1.0), b.create<arith::AddFOp>(loc, fc(1.0), e));
  }
  if (isa<mlir::bmc::ReluOp>(op)) {
    if (isF) {
      Value pos = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UGT, a[0], fc(0.0));
      return b.create<arith::SelectOp>(loc, pos, a[0], fc(0.0));
    }
    return uns ? a[0] : b.create<arith::MaxSIOp>(loc, a[0], ic(0)).getResult();
  }
  if (isa<mlir::bmc::SignOp>(op)) {
    if (isF) {
      Value gt = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, a[0], fc(0.0));
      Value lt = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, a[0], fc(0.0));
      // Neither comparison holds for NaN (and ±0): returning x keeps both, as numpy's sign does.
      Value zeroOrNaN = b.create<arith::SelectOp>(loc, lt, fc(-1.0), a[0]);
      return b.create<arith::SelectOp>(loc, gt, fc(1.0), zeroOrNaN);
    }
    Value gt = b.create<arith::CmpIOp>(loc, uns ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt, a[0], ic(0));
    Value lt = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, a[0], ic(0));
    Value neg = uns ? ic(0) : ic(-1);
    return b.create<arith::SelectOp>(loc, gt, ic(1), b.create<arith::SelectOp>(loc, lt, neg, ic(0)));
  }
  if (isa<mlir::bmc::SoftplusOp>(op)) {
    // log(1 + e^x), written to avoid overflow for large x.
    Value big = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, a[0], fc(20.0));
    Value sp = b.create<math::Log1pOp>(loc, b.create<math::ExpOp>(loc, a[0]));
    return b.create<arith::SelectOp>(loc, big, a[0], sp);
  }
  if (auto lr = dyn_cast<mlir::bmc::LeakyReluOp>(op)) {
    Value neg = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, a[0], fc(0.0));
    Value scaled = b.create<arith::MulFOp>(loc, a[0], fc(lr.getAlpha().convertToFloat()));
    return b.create<arith::SelectOp>(loc, neg, scaled, a[0]);
  }
  if (auto g = dyn_cast<mlir::bmc::GeluOp>(op)) {
    Value x = a[0], half = fc(0.5), one = fc(1.0);
    Value inner;
    if (g.getTanhApproximation()) {
      // 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)): no cancellation where
      // tanh(u) is close to -1.
      Value x3 = b.create<arith::MulFOp>(loc, x, b.create<arith::MulFOp>(loc, x, x));
      Value s = b.create<arith::AddFOp>(loc, x, b.create<arith::MulFOp>(loc, x3, fc(0.044715)));
      Value e = b.create<math::ExpOp>(loc, b.create<arith::MulFOp>(loc, s, fc(-2.0 * 0.7978845608028654)));
      return b.create<arith::DivFOp>(loc, x, b.create<arith::AddFOp>(loc, one, e));
    } else {
      inner = b.create<math::ErfOp>(loc, b.create<arith::MulFOp>(loc, x, fc(0.7071067811865476)));
    }
    return b.create<arith::MulFOp>(loc, b.create<arith::MulFOp>(loc, half, x), b.create<arith::AddFOp>(loc, one, inner));
  }
  if (auto cst = dyn_cast<mlir::bmc::CastOp>(op)) {
    Type to = cst.getTo();
    Type toCompute = to.isInteger(1) ? i1 : computeType(resultStorage);
    return convert(b, loc, a[0], uns, elemOf(op->getOperand(0)), toCompute, to.isUnsignedInteger(), to.isInteger(1));
  }
  if (auto cl = dyn_cast<mlir::bmc::ClipOp>(op)) {
    Value x = a[0];
    unsigned k = 1;
    auto lt = [&](Value p, Value q) -> Value {
      if (isF) return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, p, q);
      return b.create<arith::CmpIOp>(loc, uns ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt, p, q);
    };
    if (cl.getMin()) { Value lo = a[k++]; x = b.create<arith::SelectOp>(loc, lt(x, lo), lo, x); }
    if (cl.getMax()) { Value hi = a[k++]; x = b.create<arith::SelectOp>(loc, lt(hi, x), hi, x); }
    return x;
  }
  if (isa<mlir::bmc::WhereOp>(op)) return b.create<arith::SelectOp>(loc, a[0], a[1], a[2]);
  return {};
}

/// Loads an operand element for elementwise code: bools as i1.
static Value loadOperand(Lowerer &l, const Buf &bf, Type tensorElem, ArrayRef<Value> iv) {
  Value v = l.load(bf, iv);
  if (tensorElem.isInteger(1))
    return l.b.create<arith::CmpIOp>(l.loc, arith::CmpIPredicate::ne, v, l.b.create<arith::ConstantIntOp>(l.loc, 0, 8));
  return v;
}

/// Storage type of an elementwise result.
static Type resultStorage(Lowerer &l, RankedTensorType rt) {
  Type et = rt.getElementType();
  if (et.isInteger(1)) return IntegerType::get(l.b.getContext(), 8);
  if (isa<IntegerType>(et)) return IntegerType::get(l.b.getContext(), et.getIntOrFloatBitWidth());
  return et;
}

/// Whether a view's dims i and i+1 can be one loop: stride[i] is
/// stride[i+1] * size[i+1] (both as built by rowMajorStrides), or both are 0.
static bool mergeable(Lowerer &l, const Buf &v, int64_t i) {
  Value a = v.strides[i], x = v.strides[i + 1], n = v.sizes[i + 1];
  auto ka = l.constOf(a), kx = l.constOf(x), kn = l.constOf(n);
  if (ka == 0 && kx == 0) return true;
  if (ka && kx && kn) return *ka == *kx * *kn;
  if (auto m = a.getDefiningOp<arith::MulIOp>())
    return (m.getLhs() == x && m.getRhs() == n) || (m.getLhs() == n && m.getRhs() == x);
  if (kx == 1 && a == n) return true;
  return false;
}

LogicalResult Lowerer::lowerElementwiseGroup(mlir::bmck::ElementwiseOp group) {
  Block &body = group.getBody().front();
  // A block argument is the input it stands for: buf() looks through it.
  for (auto [arg, in] : llvm::zip(body.getArguments(), group.getInputs())) seams[arg] = in;
  // Each op's code comes where the op stood before it was grouped (its
  // broadcast checks, its per-layer copies, its layer's mark), then the
  // root's loop nest: the code the ops gave one by one before.
  if (layerOpStart && layerOpStart->use_empty()) layerOpStart->erase();
  layerOpStart = nullptr;
  Operation *root = group.getRoot();
  Block *block = b.getInsertionBlock();
  for (Operation &m : body.without_terminator()) {
    loc = m.getLoc();
    Operation *last = block->empty() ? nullptr : &block->back();
    auto layer = m.getAttrOfType<IntegerAttr>(mlir::bmc::kLayerAttrName);
    curLayer = layer ? layer.getInt() : -1;
    if (layer) layerOpStart = b.create<arith::ConstantIntOp>(loc, 0, 64);
    if (failed(lowerGroupMember(&m, &m == root))) return failure();
    if (layerOpStart) {
      if (layerOpStart->use_empty()) layerOpStart->erase();
      layerOpStart = nullptr;
    }
    if (layer)
      for (Operation *n = last ? last->getNextNode() : &block->front(); n; n = n->getNextNode())
        n->setAttr(mlir::bmc::kLayerAttrName, layer);
  }
  curLayer = -1;
  Buf r = bufs.lookup(root->getResult(0)); // a copy: the insertion below may rehash
  bufs[group.getResult()] = r;
  return success();
}

LogicalResult Lowerer::lowerGroupMember(Operation *op, bool root) {
  auto rt = cast<RankedTensorType>(op->getResult(0).getType());
  SmallVector<Buf> ins;
  for (Value o : op->getOperands()) ins.push_back(buf(o));
  SmallVector<Value, 4> sizes = broadcastSizes(ins, rt, op->getName().getStringRef());
  Type st = resultStorage(*this, rt);
  Value res = op->getResult(0);

  // An op before the root is not stored: the root's loop computes it
  // (fusion; broadcasting commutes with it).
  if (!root) {
    Buf v;
    v.sizes = sizes;
    v.elem = st;
    v.isUnsigned = rt.getElementType().isUnsignedInteger();
    bufs[res] = v;
    lazy[res] = op;
    return success();
  }

  // Leaves of the fused expression tree, each viewed at the output's sizes.
  SmallVector<Value> leaves;
  std::function<void(Operation *)> collect = [&](Operation *o) {
    for (Value v : o->getOperands()) {
      if (auto it = lazy.find(v); it != lazy.end()) collect(it->second);
      else if (!llvm::is_contained(leaves, v)) leaves.push_back(v);
    }
  };
  collect(op);
  Buf out = alloc(st, rt.getElementType().isUnsignedInteger(), sizes);
  SmallVector<Buf> views;
  for (Value v : leaves) views.push_back(broadcastView(buf(v), sizes));

  // Collapse adjacent dims that are contiguous in every view.
  SmallVector<Buf *> all{&out};
  for (Buf &v : views) all.push_back(&v);
  for (int64_t i = int64_t(sizes.size()) - 2; i >= 0; --i) {
    if (!llvm::all_of(all, [&](Buf *v) { return mergeable(*this, *v, i); })) continue;
    Value merged = mul(out.sizes[i], out.sizes[i + 1]);
    for (Buf *v : all) {
      v->sizes[i] = merged;
      v->sizes.erase(v->sizes.begin() + i + 1);
      v->strides.erase(v->strides.begin() + i);
    }
  }

  bool failedOp = false;
  loops(out.sizes, [&](ArrayRef<Value> iv) {
    DenseMap<Value, Value> at;
    std::function<Value(Value)> eval = [&](Value v) -> Value {
      if (auto it = at.find(v); it != at.end()) return it->second;
      Value r;
      if (auto it = lazy.find(v); it != lazy.end()) {
        Operation *o = it->second;
        SmallVector<Value> args;
        for (Value x : o->getOperands()) args.push_back(eval(x));
        Type ost = bufs[v].elem;
        r = scalarOp(o, args, ost);
        if (!r) { failedOp = true; return cst(f32, 0); }
        // Keep a narrow float type's rounding, as if it had been stored.
        if ((ost.isF16() || ost.isBF16()) && r.getType() != ost)
          r = b.create<arith::ExtFOp>(loc, r.getType(), b.create<arith::TruncFOp>(loc, ost, r).getResult());
      } else {
        size_t k = llvm::find(leaves, v) - leaves.begin();
        r = loadOperand(*this, views[k], elemOf(v), iv);
      }
      return at[v] = r;
    };
    SmallVector<Value> args;
    for (Value o : op->getOperands()) args.push_back(eval(o));
    if (failedOp) return;
    Value r = scalarOp(op, args, st);
    if (!r) { failedOp = true; return; }
    store(r, out, iv);
  });
  if (failedOp) return op->emitError("bmc code generation: no scalar lowering for '") << op->getName() << "'";
  out.sizes = sizes;
  out.strides = rowMajorStrides(*this, sizes);
  bufs[res] = out;
  return success();
}

} // namespace lowering
} // namespace bmc
