//===- FoldShapes.cpp - exporter shape arithmetic -> symbolic dims ---------===//
//
// Small integer and boolean tensors (rank <= 1, few elements) are evaluated
// symbolically: each element is a constant or an SSA value (`index` for
// integers, `i1` for booleans) built from `tensor.dim` and `arith`. Such
// tensors are then rematerialised as constants or `tensor.from_elements`, so
// the Shape/Gather/Concat/... chains that computed them die.
//
// Dimensions of intermediate values are traced to the graph inputs through
// the ops that propagate them, so `Shape(Gather(embed, ids))[0]` becomes the
// batch dimension of `ids`, not an opaque query of an intermediate.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::bmc {
#define GEN_PASS_DEF_FOLDSHAPES
#include "passes/Passes.h.inc"
} // namespace mlir::bmc

using namespace mlir;
using namespace mlir::bmc;

namespace {

constexpr int64_t kMaxTracked = 64;

/// One element of a tracked tensor: a constant or an SSA value.
struct Elem {
  std::optional<int64_t> c; // constant value (booleans as 0/1)
  Value v;                  // index (integers) or i1 (booleans)
  static Elem of(int64_t x) { return Elem{x, {}}; }
  static Elem of(Value x) { return Elem{std::nullopt, x}; }
  bool operator==(const Elem &o) const { return c == o.c && v == o.v; }
};
using Vec = SmallVector<Elem, 4>;

class ShapeFolder {
public:
  explicit ShapeFolder(func::FuncOp f) : func(f), b(f.getContext()) {}
  void run();

private:
  func::FuncOp func;
  OpBuilder b;
  DenseMap<Value, Vec> vecs;
  DenseMap<std::pair<Value, int64_t>, Elem> dimMemo;
  DenseMap<std::pair<Value, int64_t>, std::pair<Value, int64_t>> dimRep; // dim_param unification
  DenseSet<Value> nonNegative;
  SmallVector<Value> order; // tracked values in program order

  Location loc() { return b.getInsertionPoint() == b.getInsertionBlock()->end()
                              ? func.getLoc() : b.getInsertionPoint()->getLoc(); }

  // --- arithmetic on elements --------------------------------------------
  Value idx(const Elem &e) {
    if (e.v) return e.v;
    return b.create<arith::ConstantIndexOp>(loc(), *e.c);
  }
  Value boolean(const Elem &e) {
    if (e.v) return e.v;
    return b.create<arith::ConstantIntOp>(loc(), *e.c != 0, 1);
  }
  bool nonNeg(const Elem &e) { return e.c ? *e.c >= 0 : nonNegative.count(e.v) > 0; }
  Elem mark(Value v, bool nn) {
    if (nn) nonNegative.insert(v);
    return Elem::of(v);
  }

  Elem arith2(StringRef kind, const Elem &x, const Elem &y) {
    if (x.c && y.c) {
      int64_t a = *x.c, c = *y.c;
      if (kind == "add") return Elem::of(a + c);
      if (kind == "sub") return Elem::of(a - c);
      if (kind == "mul") return Elem::of(a * c);
      if (kind == "div" && c != 0) return Elem::of(a / c);
      if (kind == "min") return Elem::of(std::min(a, c));
      if (kind == "max") return Elem::of(std::max(a, c));
    }
    if (kind == "add" && y.c == 0) return x;
    if (kind == "add" && x.c == 0) return y;
    if (kind == "sub" && y.c == 0) return x;
    if (kind == "mul" && y.c == 1) return x;
    if (kind == "mul" && x.c == 1) return y;
    if (kind == "div" && y.c == 1) return x;
    if ((kind == "min" || kind == "max") && x == y) return x;
    bool nn = nonNeg(x) && nonNeg(y);
    Value a = idx(x), c = idx(y);
    if (kind == "add") return mark(b.create<arith::AddIOp>(loc(), a, c), nn);
    if (kind == "sub") return mark(b.create<arith::SubIOp>(loc(), a, c), false);
    if (kind == "mul") return mark(b.create<arith::MulIOp>(loc(), a, c), nn);
    if (kind == "div") return mark(b.create<arith::DivSIOp>(loc(), a, c), nn);
    if (kind == "min") return mark(b.create<arith::MinSIOp>(loc(), a, c), nn);
    return mark(b.create<arith::MaxSIOp>(loc(), a, c), nonNeg(x) || nonNeg(y));
  }

  Elem compare(arith::CmpIPredicate p, const Elem &x, const Elem &y) {
    if (x.c && y.c) {
      int64_t a = *x.c, c = *y.c;
      bool r = p == arith::CmpIPredicate::eq ? a == c : p == arith::CmpIPredicate::slt ? a < c
             : p == arith::CmpIPredicate::sle ? a <= c : p == arith::CmpIPredicate::sgt ? a > c : a >= c;
      return Elem::of(int64_t(r));
    }
    if (x == y) {
      bool r = p == arith::CmpIPredicate::eq || p == arith::CmpIPredicate::sle ||
               p == arith::CmpIPredicate::sge;
      return Elem::of(int64_t(r));
    }
    // A dimension (non-negative) against a negative constant, e.g. the
    // exporter's Equal(shape, -1) guards.
    if (nonNeg(x) && y.c && *y.c < 0) {
      if (p == arith::CmpIPredicate::eq || p == arith::CmpIPredicate::slt || p == arith::CmpIPredicate::sle)
        return Elem::of(int64_t(0));
      return Elem::of(int64_t(1));
    }
    if (nonNeg(y) && x.c && *x.c < 0) {
      if (p == arith::CmpIPredicate::eq || p == arith::CmpIPredicate::sgt || p == arith::CmpIPredicate::sge)
        return Elem::of(int64_t(0));
      return Elem::of(int64_t(1));
    }
    return Elem::of(b.create<arith::CmpIOp>(loc(), p, idx(x), idx(y)).getResult());
  }

  Elem select(const Elem &c, const Elem &x, const Elem &y, bool isBool) {
    if (c.c) return *c.c ? x : y;
    if (x == y) return x;
    Value r = isBool ? b.create<arith::SelectOp>(loc(), c.v, boolean(x), boolean(y)).getResult()
                     : b.create<arith::SelectOp>(loc(), c.v, idx(x), idx(y)).getResult();
    return mark(r, !isBool && nonNeg(x) && nonNeg(y));
  }

  Elem logic(StringRef kind, const Elem &x, const Elem &y) {
    if (x.c && y.c) {
      bool a = *x.c, c = *y.c;
      return Elem::of(int64_t(kind == "and" ? (a && c) : kind == "or" ? (a || c) : (a != c)));
    }
    if (kind == "and") {
      if (x.c) return *x.c ? y : Elem::of(int64_t(0));
      if (y.c) return *y.c ? x : Elem::of(int64_t(0));
      return Elem::of(b.create<arith::AndIOp>(loc(), x.v, y.v).getResult());
    }
    if (kind == "or") {
      if (x.c) return *x.c ? Elem::of(int64_t(1)) : y;
      if (y.c) return *y.c ? Elem::of(int64_t(1)) : x;
      return Elem::of(b.create<arith::OrIOp>(loc(), x.v, y.v).getResult());
    }
    return Elem::of(b.create<arith::XOrIOp>(loc(), boolean(x), boolean(y)).getResult());
  }

  // --- symbolic dimensions -----------------------------------------------
  Elem dimOf(Value v, int64_t i);
  Elem dimUncached(Value v, int64_t i);
  Elem opaqueDim(Value v, int64_t i) {
    if (getenv("BMC_DEBUG_DIMS")) llvm::errs() << "opaque dim " << i << " of " << v << "\n";
    OpBuilder::InsertionGuard g(b);
    if (auto arg = dyn_cast<BlockArgument>(v)) b.setInsertionPointToStart(arg.getOwner());
    else b.setInsertionPointAfter(v.getDefiningOp());
    Value d = b.create<tensor::DimOp>(v.getLoc(), v, i);
    nonNegative.insert(d);
    return Elem::of(d);
  }
  Elem broadcastDim(ValueRange operands, Value result, int64_t i);

  // --- tracking ------------------------------------------------------------
  const Vec *get(Value v) {
    auto it = vecs.find(v);
    return it == vecs.end() ? nullptr : &it->second;
  }
  void track(Value v, Vec e) {
    vecs[v] = std::move(e);
    order.push_back(v);
  }
  static bool trackable(Type t) {
    auto r = dyn_cast<RankedTensorType>(t);
    return r && r.getRank() <= 1 && r.hasStaticShape() && r.getNumElements() <= kMaxTracked &&
           r.getElementType().isSignlessInteger();
  }
  void visit(Operation *op);
  Value materialize(Value v, const Vec &e);
};

} // namespace

Elem ShapeFolder::dimOf(Value v, int64_t i) {
  auto t = cast<RankedTensorType>(v.getType());
  if (!t.isDynamicDim(i)) return Elem::of(t.getDimSize(i));
  auto key = std::make_pair(v, i);
  auto it = dimMemo.find(key);
  if (it != dimMemo.end()) return it->second;
  Elem e = dimUncached(v, i);
  dimMemo[key] = e;
  return e;
}

Elem ShapeFolder::broadcastDim(ValueRange operands, Value result, int64_t i) {
  int64_t rank = cast<RankedTensorType>(result.getType()).getRank();
  std::optional<Elem> pick;
  for (Value o : operands) {
    auto t = cast<RankedTensorType>(o.getType());
    int64_t j = i - (rank - t.getRank());
    if (j < 0 || t.getDimSize(j) == 1) continue;
    Elem d = dimOf(o, j);
    if (d.c == 1) continue; // known to be 1 symbolically: it broadcasts
    if (!pick) pick = d;
    else if (!(*pick == d)) return opaqueDim(result, i); // which one is 1 is decided at run time
  }
  return pick ? *pick : Elem::of(int64_t(1));
}

Elem ShapeFolder::dimUncached(Value v, int64_t i) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto rep = dimRep.find({v, i});
    if (rep != dimRep.end() && rep->second != std::make_pair(v, i))
      return dimOf(rep->second.first, rep->second.second);
    return opaqueDim(v, i);
  }
  Operation *op = v.getDefiningOp();
  auto in = [&](unsigned k) { return op->getOperand(k); };
  if (op->hasTrait<OpTrait::IsTerminator>()) return opaqueDim(v, i);

  // Same shape as operand 0.
  if (isa<CastOp, SoftmaxOp, LayerNormOp, RMSNormOp, ClipOp, TriluOp, NegOp, AbsOp, ExpOp, LogOp,
          SqrtOp, ReciprocalOp, TanhOp, ErfOp, SigmoidOp, ReluOp, CosOp, SinOp, FloorOp, CeilOp,
          SignOp, NotOp, SoftplusOp, LeakyReluOp, GeluOp, CumSumOp, ScatterNDOp>(op))
    return dimOf(in(0), i);
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MinOp, MaxOp, ModOp, EqualOp, LessOp, LessEqualOp,
          GreaterOp, GreaterEqualOp, AndOp, OrOp, XorOp, WhereOp>(op))
    return broadcastDim(op->getOperands(), v, i);
  if (auto t = dyn_cast<TransposeOp>(op)) return dimOf(t.getInput(), t.getPerm()[i]);
  if (auto c = dyn_cast<ConcatOp>(op)) {
    if (i != (int64_t)c.getAxis()) return dimOf(c.getInputs()[0], i);
    Elem sum = Elem::of(int64_t(0));
    for (Value x : c.getInputs()) sum = arith2("add", sum, dimOf(x, i));
    return sum;
  }
  if (auto s = dyn_cast<SplitOp>(op)) return dimOf(s.getInput(), i);
  if (auto g = dyn_cast<GatherOp>(op)) {
    int64_t axis = g.getAxis();
    int64_t ir = cast<RankedTensorType>(g.getIndices().getType()).getRank();
    if (i < axis) return dimOf(g.getData(), i);
    if (i < axis + ir) return dimOf(g.getIndices(), i - axis);
    return dimOf(g.getData(), i - ir + 1);
  }
  if (auto u = dyn_cast<UnsqueezeOp>(op)) {
    int64_t j = i;
    for (int64_t a : u.getAxes()) {
      if (a == i) return Elem::of(int64_t(1));
      if (a < i) --j;
    }
    return dimOf(u.getInput(), j);
  }
  if (auto s = dyn_cast<SqueezeOp>(op)) {
    int64_t j = i;
    for (int64_t a : s.getAxes())
      if (a <= j) ++j;
    return dimOf(s.getInput(), j);
  }
  if (auto m = dyn_cast<MatMulOp>(op)) {
    auto lt = cast<RankedTensorType>(m.getLhs().getType()), rt = cast<RankedTensorType>(m.getRhs().getType());
    int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
    if (lt.getRank() >= 2 && rt.getRank() >= 2) {
      if (i == rank - 1) return dimOf(m.getRhs(), rt.getRank() - 1);
      if (i == rank - 2) return dimOf(m.getLhs(), lt.getRank() - 2);
      // Batch dims broadcast.
      std::optional<Elem> pick;
      for (Value o : {m.getLhs(), m.getRhs()}) {
        auto t = cast<RankedTensorType>(o.getType());
        int64_t j = i - (rank - t.getRank());
        if (j < 0 || j >= t.getRank() - 2 || t.getDimSize(j) == 1) continue;
        Elem d = dimOf(o, j);
        if (d.c == 1) continue;
        if (!pick) pick = d;
        else if (!(*pick == d)) return opaqueDim(v, i);
      }
      return pick ? *pick : Elem::of(int64_t(1));
    }
    return opaqueDim(v, i);
  }
  if (auto g = dyn_cast<GemmOp>(op)) {
    if (i == 0) return dimOf(g.getA(), g.getTransA() ? 1 : 0);
    return dimOf(g.getB(), g.getTransB() ? 0 : 1);
  }
  if (auto r = dyn_cast<ReshapeOp>(op)) {
    const Vec *s = get(r.getShape());
    if (!s) return opaqueDim(v, i);
    auto entry = [&](int64_t j) -> std::optional<Elem> {
      const Elem &e = (*s)[j];
      if (e.c && *e.c == 0 && !r.getAllowzero()) return dimOf(r.getInput(), j);
      if (e.c && *e.c < 0) return std::nullopt;
      return e;
    };
    if (auto e = entry(i)) return *e;
    // -1: the input's element count over the other entries. Cancel equal
    // factors symbolically so [b, s, 96] -> [b, s, -1, 16] gives 6.
    auto in = cast<RankedTensorType>(r.getInput().getType());
    SmallVector<Elem> num, den;
    for (int64_t k = 0; k < in.getRank(); ++k) num.push_back(dimOf(r.getInput(), k));
    for (int64_t j = 0; j < (int64_t)s->size(); ++j) {
      if (j == i) continue;
      auto e = entry(j);
      if (!e) return opaqueDim(v, i);
      auto it = llvm::find(num, *e);
      if (it != num.end()) num.erase(it);
      else den.push_back(*e);
    }
    int64_t nc = 1, dc = 1;
    SmallVector<Elem> ns;
    for (const Elem &e : num) (e.c ? (void)(nc *= *e.c) : ns.push_back(e));
    for (const Elem &e : den) {
      if (!e.c) return opaqueDim(v, i);
      dc *= *e.c;
    }
    if (dc == 0 || nc % dc) return opaqueDim(v, i);
    Elem p = Elem::of(nc / dc);
    for (const Elem &e : ns) p = arith2("mul", p, e);
    return p;
  }
  if (auto sl = dyn_cast<SliceOp>(op)) {
    if (!llvm::is_contained(sl.getAxes(), i)) return dimOf(sl.getInput(), i);
    return opaqueDim(v, i);
  }
  if (auto r = dyn_cast<RangeOp>(op)) {
    const Vec *st = get(r.getStart()), *l = get(r.getLimit()), *d = get(r.getDelta());
    if (st && l && d && (*st)[0].c && (*d)[0].c == 1 && nonNeg((*l)[0]) && *(*st)[0].c == 0)
      return (*l)[0];
    return opaqueDim(v, i);
  }
  if (auto x = dyn_cast<ExpandOp>(op)) {
    if (const Vec *s = get(x.getShape())) {
      int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
      int64_t k = i - (rank - (int64_t)s->size());
      auto it = cast<RankedTensorType>(x.getInput().getType());
      int64_t j = i - (rank - it.getRank());
      if (k >= 0 && (*s)[k].c == 1 && j >= 0) return dimOf(x.getInput(), j);
      if (k >= 0 && j < 0) return (*s)[k];
      if (k >= 0 && j >= 0 && (it.getDimSize(j) == 1 || dimOf(x.getInput(), j).c == 1)) return (*s)[k];
      if (k >= 0 && j >= 0 && (*s)[k] == dimOf(x.getInput(), j)) return (*s)[k];
    }
    return opaqueDim(v, i);
  }
  if (auto c = dyn_cast<ConstantOfShapeOp>(op)) {
    if (const Vec *s = get(c.getShape())) return (*s)[i];
    return opaqueDim(v, i);
  }
  if (auto f = dyn_cast<FlattenOp>(op)) {
    auto t = cast<RankedTensorType>(f.getInput().getType());
    int64_t lo = i == 0 ? 0 : f.getAxis(), hi = i == 0 ? f.getAxis() : t.getRank();
    Elem p = Elem::of(int64_t(1));
    for (int64_t k = lo; k < hi; ++k) p = arith2("mul", p, dimOf(f.getInput(), k));
    return p;
  }
  if (auto a = dyn_cast<AttentionOp>(op)) {
    if (i == 3) return dimOf(a.getV(), 3);
    return dimOf(a.getQ(), i);
  }
  if (isa<ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp, ReduceProdOp>(op)) {
    auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
    bool keep = op->getAttrOfType<BoolAttr>("keepdims").getValue();
    int64_t rank = cast<RankedTensorType>(in(0).getType()).getRank();
    int64_t k = 0;
    for (int64_t j = 0; j < rank; ++j) {
      bool red = axes.empty() || llvm::is_contained(axes, j);
      if (red && !keep) continue;
      if (k == i) return red ? Elem::of(int64_t(1)) : dimOf(in(0), j);
      ++k;
    }
  }
  return opaqueDim(v, i);
}

void ShapeFolder::visit(Operation *op) {
  if (op->getNumResults() != 1 || !trackable(op->getResult(0).getType())) {
    if (auto s = dyn_cast<SplitOp>(op)) (void)s; // splits of shape vectors are rare; not tracked
    return;
  }
  Value res = op->getResult(0);
  auto rt = cast<RankedTensorType>(res.getType());
  bool isBool = rt.getElementType().isInteger(1);
  int64_t n = rt.getNumElements();
  auto all = [&](ValueRange vs) {
    for (Value x : vs)
      if (!get(x)) return false;
    return true;
  };

  DenseIntElementsAttr cst;
  if (matchPattern(res, m_Constant(&cst))) {
    Vec e;
    for (const APInt &x : cst.getValues<APInt>()) e.push_back(Elem::of(isBool ? int64_t(!x.isZero()) : x.getSExtValue()));
    track(res, std::move(e));
    return;
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    Vec e;
    for (Value x : fe.getElements()) {
      APInt c;
      if (matchPattern(x, m_ConstantInt(&c))) e.push_back(Elem::of(isBool ? int64_t(!c.isZero()) : c.getSExtValue()));
      else if (auto ic = x.getDefiningOp<arith::IndexCastOp>()) e.push_back(Elem::of(ic.getIn()));
      else if (isBool) e.push_back(Elem::of(x));
      else e.push_back(Elem::of(b.create<arith::IndexCastOp>(op->getLoc(), b.getIndexType(), x).getResult()));
    }
    track(res, std::move(e));
    return;
  }
  if (auto s = dyn_cast<ShapeOp>(op)) {
    Vec e;
    for (int64_t i = s.getStart(); i < (int64_t)s.getEnd(); ++i) e.push_back(dimOf(s.getInput(), i));
    track(res, std::move(e));
    return;
  }
  if (auto g = dyn_cast<GatherOp>(op)) {
    const Vec *d = get(g.getData()), *ix = get(g.getIndices());
    if (!d || !ix || g.getAxis() != 0) return;
    Vec e;
    for (const Elem &k : *ix) {
      if (!k.c) return;
      int64_t j = *k.c < 0 ? *k.c + (int64_t)d->size() : *k.c;
      if (j < 0 || j >= (int64_t)d->size()) return; // run time reports the error
      e.push_back((*d)[j]);
    }
    track(res, std::move(e));
    return;
  }
  if (isa<UnsqueezeOp, SqueezeOp, ReshapeOp, FlattenOp>(op)) {
    if (const Vec *x = get(op->getOperand(0)); x && (int64_t)x->size() == n) track(res, *x);
    return;
  }
  if (auto c = dyn_cast<ConcatOp>(op)) {
    if (!all(c.getInputs())) return;
    Vec e;
    for (Value x : c.getInputs()) e.append(get(x)->begin(), get(x)->end());
    track(res, std::move(e));
    return;
  }
  if (auto c = dyn_cast<CastOp>(op)) {
    const Vec *x = get(c.getInput());
    if (!x) return;
    bool fromBool = cast<RankedTensorType>(c.getInput().getType()).getElementType().isInteger(1);
    if (fromBool == isBool) { track(res, *x); return; }
    Vec e;
    for (const Elem &el : *x)
      e.push_back(isBool ? compare(arith::CmpIPredicate::sgt, el, Elem::of(int64_t(0))).c
                               ? compare(arith::CmpIPredicate::sgt, el, Elem::of(int64_t(0)))
                               : Elem::of(b.create<arith::CmpIOp>(op->getLoc(), arith::CmpIPredicate::ne, idx(el),
                                                                  idx(Elem::of(int64_t(0)))).getResult())
                         : select(el, Elem::of(int64_t(1)), Elem::of(int64_t(0)), false));
    track(res, std::move(e));
    return;
  }
  // Elementwise ops on tracked vectors (broadcast: equal lengths or length 1).
  auto elementwise = [&](auto fn) {
    SmallVector<const Vec *> xs;
    for (Value o : op->getOperands()) {
      const Vec *x = get(o);
      if (!x) return;
      xs.push_back(x);
    }
    Vec e;
    for (int64_t k = 0; k < n; ++k) {
      SmallVector<Elem, 3> args;
      for (const Vec *x : xs) {
        if (x->size() != 1 && (int64_t)x->size() != n) return;
        args.push_back(x->size() == 1 ? (*x)[0] : (*x)[k]);
      }
      e.push_back(fn(args));
    }
    track(res, std::move(e));
  };
  auto intOperands = [&]() {
    return !cast<RankedTensorType>(op->getOperand(0).getType()).getElementType().isInteger(1);
  };
  if (isa<AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp>(op) && intOperands()) {
    StringRef kind = isa<AddOp>(op) ? "add" : isa<SubOp>(op) ? "sub" : isa<MulOp>(op) ? "mul"
                   : isa<DivOp>(op) ? "div" : isa<MinOp>(op) ? "min" : "max";
    return elementwise([&](ArrayRef<Elem> a) { return arith2(kind, a[0], a[1]); });
  }
  if (isa<EqualOp, LessOp, LessEqualOp, GreaterOp, GreaterEqualOp>(op)) {
    if (!intOperands()) {
      if (isa<EqualOp>(op))
        return elementwise([&](ArrayRef<Elem> a) { return logic("xor", logic("xor", a[0], a[1]), Elem::of(int64_t(1))); });
      return;
    }
    auto p = isa<EqualOp>(op) ? arith::CmpIPredicate::eq : isa<LessOp>(op) ? arith::CmpIPredicate::slt
           : isa<LessEqualOp>(op) ? arith::CmpIPredicate::sle : isa<GreaterOp>(op) ? arith::CmpIPredicate::sgt
           : arith::CmpIPredicate::sge;
    return elementwise([&](ArrayRef<Elem> a) { return compare(p, a[0], a[1]); });
  }
  if (isa<AndOp, OrOp, XorOp>(op)) {
    StringRef kind = isa<AndOp>(op) ? "and" : isa<OrOp>(op) ? "or" : "xor";
    return elementwise([&](ArrayRef<Elem> a) { return logic(kind, a[0], a[1]); });
  }
  if (isa<NotOp>(op))
    return elementwise([&](ArrayRef<Elem> a) { return logic("xor", a[0], Elem::of(int64_t(1))); });
  if (isa<WhereOp>(op))
    return elementwise([&](ArrayRef<Elem> a) { return select(a[0], a[1], a[2], isBool); });
  if (auto c = dyn_cast<ConstantOfShapeOp>(op)) {
    auto value = dyn_cast<IntegerAttr>(c.getValue());
    if (!value) return;
    int64_t x = isBool ? int64_t(!value.getValue().isZero()) : value.getValue().getSExtValue();
    track(res, Vec(n, Elem::of(x)));
    return;
  }
  if (auto x = dyn_cast<ExpandOp>(op)) {
    const Vec *in = get(x.getInput());
    if (!in || (in->size() != 1 && (int64_t)in->size() != n)) return;
    Vec e;
    for (int64_t k = 0; k < n; ++k) e.push_back(in->size() == 1 ? (*in)[0] : (*in)[k]);
    track(res, std::move(e));
    return;
  }
  if (auto r = dyn_cast<RangeOp>(op)) {
    const Vec *s = get(r.getStart()), *l = get(r.getLimit()), *d = get(r.getDelta());
    if (!s || !l || !d || !(*s)[0].c || !(*d)[0].c || *(*d)[0].c == 0) return;
    Vec e;
    for (int64_t k = 0; k < n; ++k) e.push_back(Elem::of(*(*s)[0].c + k * *(*d)[0].c));
    track(res, std::move(e));
    return;
  }
  if (auto s = dyn_cast<SliceOp>(op)) {
    const Vec *x = get(s.getInput()), *st = get(s.getStarts()), *en = get(s.getEnds()), *sp = get(s.getSteps());
    if (!x || !st || !en || !sp || st->size() != 1 || !(*st)[0].c || !(*en)[0].c || !(*sp)[0].c) return;
    int64_t dim = x->size(), start = *(*st)[0].c, end = *(*en)[0].c, step = *(*sp)[0].c;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    Vec e;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      for (int64_t k = start; k < end; k += step) e.push_back((*x)[k]);
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      for (int64_t k = start; k > end; k += step) e.push_back((*x)[k]);
    }
    if ((int64_t)e.size() == n) track(res, std::move(e));
    return;
  }
}

Value ShapeFolder::materialize(Value v, const Vec &e) {
  auto t = cast<RankedTensorType>(v.getType());
  Type et = t.getElementType();
  bool allConst = llvm::all_of(e, [](const Elem &x) { return x.c.has_value(); });
  if (allConst) {
    SmallVector<APInt> vals;
    for (const Elem &x : e) vals.push_back(APInt(et.getIntOrFloatBitWidth(), uint64_t(*x.c), true));
    return b.create<arith::ConstantOp>(v.getLoc(), DenseIntElementsAttr::get(t, vals));
  }
  SmallVector<Value> elems;
  for (const Elem &x : e) {
    if (et.isInteger(1)) elems.push_back(boolean(x));
    else if (x.c) elems.push_back(b.create<arith::ConstantIntOp>(v.getLoc(), *x.c, et));
    else elems.push_back(b.create<arith::IndexCastOp>(v.getLoc(), et, x.v));
  }
  return b.create<tensor::FromElementsOp>(v.getLoc(), t, elems);
}

void ShapeFolder::run() {
  Block &entry = func.getBody().front();
  // Graph input dimensions with the same dim_param are one symbol.
  llvm::StringMap<std::pair<Value, int64_t>> firstOf;
  for (BlockArgument arg : entry.getArguments()) {
    auto names = func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), "bmc.dims");
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    if (!names || !t) continue;
    for (auto [i, n] : llvm::enumerate(names)) {
      StringRef name = cast<StringAttr>(n).getValue();
      if (name.empty() || (int64_t)i >= t.getRank() || !t.isDynamicDim(i)) continue;
      auto [it, inserted] = firstOf.try_emplace(name, arg, (int64_t)i);
      dimRep[{arg, (int64_t)i}] = it->second;
    }
  }

  SmallVector<Operation *> ops;
  for (Operation &op : entry) ops.push_back(&op);
  for (Operation *op : ops) {
    b.setInsertionPoint(op);
    visit(op);
  }
  // Resolve 0 and -1 in reshape targets where the dimension is known, so
  // that result types become as static as they can be.
  for (Operation *op : ops) {
    auto r = dyn_cast<ReshapeOp>(op);
    const Vec *s = r ? get(r.getShape()) : nullptr;
    if (!s || op->getBlock() != &entry) continue;
    b.setInsertionPoint(r);
    Vec resolved;
    bool changed = false;
    for (int64_t i = 0; i < (int64_t)s->size(); ++i) {
      const Elem &e = (*s)[i];
      if (e.c && (*e.c == -1 || (*e.c == 0 && !r.getAllowzero()))) {
        Elem d = dimOf(r.getResult(), i);
        bool opaque = d.v && d.v.getDefiningOp<tensor::DimOp>() &&
                      d.v.getDefiningOp<tensor::DimOp>().getSource() == r.getResult();
        if (!opaque) { resolved.push_back(d); changed = true; continue; }
      }
      resolved.push_back(e);
    }
    if (!changed) continue;
    Value shape = materialize(r.getShape(), resolved);
    r.getShapeMutable().assign(shape);
    vecs[shape] = resolved;
  }
  for (Value v : order) {
    Operation *def = v.getDefiningOp();
    if (!def || isa<arith::ConstantOp>(def)) continue;
    b.setInsertionPoint(def);
    const Vec &e = vecs[v];
    if (auto fe = dyn_cast<tensor::FromElementsOp>(def)) {
      (void)fe;
      continue;
    }
    Value m = materialize(v, e);
    v.replaceAllUsesWith(m);
  }
  // Drop what became dead (the Shape/Gather/... chains), innermost users first.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(entry)))
    if (isOpTriviallyDead(&op)) op.erase();
  for (Operation &op : entry) refineResultTypes(&op);
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  func.setFunctionType(FunctionType::get(func.getContext(), func.getArgumentTypes(), ret.getOperandTypes()));
}

namespace {
struct FoldShapesPass : mlir::bmc::impl::FoldShapesBase<FoldShapesPass> {
  void runOnOperation() override { ShapeFolder(getOperation()).run(); }
};
} // namespace
