//===- Lowerer.cpp - lowering infrastructure, IO, dispatch -----------------===//

#include "compiler/lowering/Lowering.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

namespace bmc {
namespace lowering {

Lowerer::Lowerer(ModuleOp module, func::FuncOp src, WeightPlan &plan, const LoweringOptions &opts)
    : module(module), src(src), plan(plan), opts(opts), b(module.getContext()), loc(src.getLoc()) {
  MLIRContext *c = module.getContext();
  i64 = IntegerType::get(c, 64);
  i32 = IntegerType::get(c, 32);
  i1 = IntegerType::get(c, 1);
  f32 = Float32Type::get(c);
  ptrTy = LLVM::LLVMPointerType::get(c);
}

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

Value Lowerer::c(int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 64); }

Value Lowerer::cst(Type t, double v) {
  if (isa<FloatType>(t)) return b.create<arith::ConstantOp>(loc, b.getFloatAttr(t, v)).getResult();
  return b.create<arith::ConstantIntOp>(loc, int64_t(v), t);
}

std::optional<int64_t> Lowerer::constOf(Value v) {
  APInt x;
  if (v && matchPattern(v, m_ConstantInt(&x))) return x.getSExtValue();
  return std::nullopt;
}

Value Lowerer::add(Value a, Value x) {
  if (constOf(x) == 0) return a;
  if (constOf(a) == 0) return x;
  return b.createOrFold<arith::AddIOp>(loc, a, x);
}
Value Lowerer::sub(Value a, Value x) {
  if (constOf(x) == 0) return a;
  return b.createOrFold<arith::SubIOp>(loc, a, x);
}
Value Lowerer::mul(Value a, Value x) {
  if (constOf(x) == 1) return a;
  if (constOf(a) == 1) return x;
  if (constOf(a) == 0 || constOf(x) == 0) return c(0);
  return b.createOrFold<arith::MulIOp>(loc, a, x);
}
Value Lowerer::sdiv(Value a, Value x) {
  if (constOf(x) == 1) return a;
  return b.createOrFold<arith::DivSIOp>(loc, a, x);
}
Value Lowerer::smax(Value a, Value x) { return b.createOrFold<arith::MaxSIOp>(loc, a, x); }
Value Lowerer::smin(Value a, Value x) { return b.createOrFold<arith::MinSIOp>(loc, a, x); }
Value Lowerer::eq(Value a, Value x) { return b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, a, x); }
Value Lowerer::select(Value cnd, Value a, Value x) {
  if (auto k = constOf(cnd)) return *k ? a : x;
  if (a == x) return a;
  return b.createOrFold<arith::SelectOp>(loc, cnd, a, x);
}

//===----------------------------------------------------------------------===//
// Runtime calls and checks
//===----------------------------------------------------------------------===//

Value Lowerer::str(StringRef s) {
  auto it = strings_.find(s);
  if (it == strings_.end()) {
    std::string name = "bmc_str_" + std::to_string(strings_.size());
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(module.getBody());
    std::string z = s.str();
    z.push_back('\0');
    auto ty = LLVM::LLVMArrayType::get(IntegerType::get(b.getContext(), 8), z.size());
    b.create<LLVM::GlobalOp>(loc, ty, /*isConstant=*/true, LLVM::Linkage::Internal, name, b.getStringAttr(z));
    it = strings_.insert({s, name}).first;
  }
  return b.create<LLVM::AddressOfOp>(loc, ptrTy, it->second);
}

func::CallOp Lowerer::call(StringRef name, TypeRange results, ValueRange args) {
  if (!module.lookupSymbol<func::FuncOp>(name)) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(module.getBody());
    auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(args.getTypes(), results));
    fn.setPrivate();
  }
  return b.create<func::CallOp>(loc, name, results, args);
}

void Lowerer::check(Value ok, StringRef msg, Value a, Value x) {
  if (auto k = constOf(ok); k && *k) return;
  Value bad = b.createOrFold<arith::XOrIOp>(loc, ok, b.create<arith::ConstantIntOp>(loc, 1, 1));
  auto ifOp = b.create<scf::IfOp>(loc, bad, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  call("bmc_rt_fail", {}, {ctx, str(msg), a ? a : c(0), x ? x : c(0)});
}

void Lowerer::checkExpected(Value expected, Value found, StringRef format) {
  // bmc_rt_fail fills {0} with its first argument, here the value expected:
  // the placeholders swap so that the caller's {0} stays the value found.
  if (found == expected) return;
  auto kf = constOf(found), ke = constOf(expected);
  if (kf && ke && *kf == *ke) return;
  std::string f = format.str();
  for (size_t p = 0; (p = f.find('{', p)) != std::string::npos; ++p)
    if (f.compare(p, 3, "{0}") == 0) f[p + 1] = '1';
    else if (f.compare(p, 3, "{1}") == 0) f[p + 1] = '0';
  check(eq(expected, found), f, expected, found);
}

void Lowerer::checkFound(Value found, Value expected, StringRef format) {
  if (found == expected) return;
  auto kf = constOf(found), ke = constOf(expected);
  if (kf && ke && *kf == *ke) return;
  check(eq(found, expected), format, found, expected);
}

//===----------------------------------------------------------------------===//
// Buffers
//===----------------------------------------------------------------------===//

static bool isBoolType(Type t) { return t.isInteger(1); }

/// Storage type in memory: ONNX bools are bytes; signedness lives in Buf.
static Type storageType(Type t) {
  if (isBoolType(t)) return IntegerType::get(t.getContext(), 8);
  if (auto it = dyn_cast<IntegerType>(t)) return IntegerType::get(t.getContext(), it.getWidth());
  return t;
}

static int64_t byteSize(Type storage) { return std::max<int64_t>(1, storage.getIntOrFloatBitWidth() / 8); }

SmallVector<Value, 4> Lowerer::rowMajorStrides(Lowerer &l, ArrayRef<Value> sizes) {
  SmallVector<Value, 4> st(sizes.size());
  Value s = l.c(1);
  for (int64_t i = sizes.size() - 1; i >= 0; --i) {
    st[i] = s;
    s = l.mul(s, sizes[i]);
  }
  return st;
}

Value Lowerer::numElements(ArrayRef<Value> sizes) {
  Value n = c(1);
  for (Value s : sizes) n = mul(n, s);
  return n;
}

Buf Lowerer::fromPointer(Value ptr, Type elem, bool isUnsigned, ArrayRef<Value> sizes) {
  Buf r;
  r.ptr = ptr;
  r.offset = c(0);
  r.sizes.assign(sizes.begin(), sizes.end());
  r.strides = rowMajorStrides(*this, sizes);
  r.elem = elem;
  r.isUnsigned = isUnsigned;
  r.contiguous = true;
  return r;
}

Buf Lowerer::alloc(Type elem, bool isUnsigned, ArrayRef<Value> sizes) {
  Value bytes = mul(numElements(sizes), c(byteSize(elem)));
  func::CallOp callOp = call("bmc_rt_alloc", {ptrTy}, {ctx, bytes});
  Buf r = fromPointer(callOp.getResult(0), elem, isUnsigned, sizes);
  r.allocId = int(allocs.size());
  allocs.push_back({bytes, callOp, opIndex, opIndex});
  return r;
}

Value Lowerer::outputBuffer(int64_t index, Type elem, ArrayRef<Value> sizes) {
  int64_t rank = sizes.size();
  auto arrTy = LLVM::LLVMArrayType::get(i64, std::max<int64_t>(rank, 1));
  Value dims = b.create<LLVM::AllocaOp>(loc, ptrTy, arrTy, c(1));
  for (int64_t d = 0; d < rank; ++d)
    b.create<LLVM::StoreOp>(loc, sizes[d], b.create<LLVM::GEPOp>(loc, ptrTy, i64, dims, ValueRange{c(d)}));
  return call("bmc_rt_output", {ptrTy}, {ctx, c(index), c(byteSize(elem)), c(rank), dims}).getResult(0);
}

Buf Lowerer::allocResult(Value result, Type elem, bool isUnsigned, ArrayRef<Value> sizes) {
  auto ret = cast<func::ReturnOp>(src.getBody().front().getTerminator());
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    // A kernel-level result is returned through its bmck.to_tensor seam.
    auto seam = v.getDefiningOp<mlir::bmck::ToTensorOp>();
    if (v != result && !(seam && seam.getView() == result)) continue;
    directOutputs[result] = int64_t(i);
    return fromPointer(outputBuffer(int64_t(i), elem, sizes), elem, isUnsigned, sizes);
  }
  return alloc(elem, isUnsigned, sizes);
}

Value Lowerer::elemPtr(const Buf &buf, ArrayRef<Value> ivs) {
  Value idx = buf.offset;
  for (size_t k = 0; k < ivs.size(); ++k) idx = add(idx, mul(ivs[k], buf.strides[k]));
  return b.create<LLVM::GEPOp>(loc, ptrTy, buf.elem, buf.ptr, ValueRange{idx});
}

Value Lowerer::viewPtr(const Buf &buf) {
  return b.create<LLVM::GEPOp>(loc, ptrTy, buf.elem, buf.ptr, ValueRange{buf.offset});
}

Type Lowerer::computeType(Type storage) {
  if (storage.isF16() || storage.isBF16()) return f32;
  return storage;
}

Value Lowerer::load(const Buf &buf, ArrayRef<Value> ivs) {
  Value v = b.create<LLVM::LoadOp>(loc, buf.elem, elemPtr(buf, ivs));
  if (buf.elem.isF16() || buf.elem.isBF16()) return b.create<arith::ExtFOp>(loc, f32, v);
  return v;
}

void Lowerer::store(Value v, const Buf &buf, ArrayRef<Value> ivs) {
  if (v.getType() != buf.elem) {
    if (isa<FloatType>(buf.elem)) v = b.create<arith::TruncFOp>(loc, buf.elem, v);
    else if (v.getType().isInteger(1)) v = b.create<arith::ExtUIOp>(loc, buf.elem, v);
  }
  b.create<LLVM::StoreOp>(loc, v, elemPtr(buf, ivs));
}

void Lowerer::loops(ArrayRef<Value> ubs, const std::function<void(ArrayRef<Value>)> &body) {
  SmallVector<Value, 4> ivs;
  OpBuilder::InsertionGuard g(b);
  for (Value ub : ubs) {
    auto f = b.create<scf::ForOp>(loc, c(0), ub, c(1));
    b.setInsertionPoint(f.getBody()->getTerminator());
    ivs.push_back(f.getInductionVar());
  }
  body(ivs);
}

Value Lowerer::forLoop(Value ub, Value init, const std::function<Value(Value, Value)> &body) {
  auto f = b.create<scf::ForOp>(loc, c(0), ub, c(1), ValueRange{init},
                                [&](OpBuilder &nb, Location l, Value iv, ValueRange args) {
                                  OpBuilder::InsertionGuard g(b);
                                  b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
                                  Value r = body(iv, args[0]);
                                  b.create<scf::YieldOp>(loc, r);
                                });
  return f.getResult(0);
}

void Lowerer::copy(const Buf &from, const Buf &to) {
  int64_t r = to.rank();
  if (r > 4 || opts.referenceOnly) {
    loops(to.sizes, [&](ArrayRef<Value> iv) {
      Value v = b.create<LLVM::LoadOp>(loc, from.elem, elemPtr(from, iv));
      b.create<LLVM::StoreOp>(loc, v, elemPtr(to, iv));
    });
    return;
  }
  // One runtime call instead of a loop nest: it keeps generated code small.
  SmallVector<Value> args{viewPtr(to), viewPtr(from), c(byteSize(from.elem))};
  for (int64_t i = 0; i < 4 - r; ++i) args.push_back(c(1));
  args.append(to.sizes.begin(), to.sizes.end());
  for (const Buf *x : {&to, &from}) {
    for (int64_t i = 0; i < 4 - r; ++i) args.push_back(c(0));
    args.append(x->strides.begin(), x->strides.end());
  }
  call("bmc_rt_copy4", {}, args);
}

Buf Lowerer::contiguous(const Buf &buf) {
  if (buf.contiguous) return buf;
  Buf r = alloc(buf.elem, buf.isUnsigned, buf.sizes);
  copy(buf, r);
  return r;
}

Buf Lowerer::broadcastView(const Buf &buf, ArrayRef<Value> out) {
  Buf r = buf;
  int64_t R = out.size(), k = buf.rank();
  r.sizes.assign(out.begin(), out.end());
  r.strides.assign(R, c(0));
  bool same = R == k;
  for (int64_t i = 0; i < R; ++i) {
    int64_t j = i - (R - k);
    if (j < 0) { same = false; continue; }
    Value d = buf.sizes[j];
    if (d == out[i] || (constOf(d) && constOf(out[i]) && *constOf(d) == *constOf(out[i]))) {
      r.strides[i] = buf.strides[j];
      continue;
    }
    same = false;
    if (constOf(d) == 1) continue; // stride 0
    // Decided at run time: a dimension of 1 broadcasts.
    r.strides[i] = select(eq(d, c(1)), c(0), buf.strides[j]);
  }
  r.contiguous = same && buf.contiguous;
  return r;
}

Buf Lowerer::reshapeView(const Buf &buf, ArrayRef<Value> sizes) {
  Buf r = contiguous(buf);
  r.sizes.assign(sizes.begin(), sizes.end());
  r.strides = rowMajorStrides(*this, sizes);
  return r;
}

SmallVector<Value, 4> Lowerer::broadcastSizes(ArrayRef<Buf> operands, RankedTensorType result,
                                              StringRef what) {
  int64_t R = result.getRank();
  SmallVector<Value, 4> out(R);
  for (int64_t i = 0; i < R; ++i) {
    SmallVector<Value> ds;
    for (const Buf &o : operands) {
      int64_t j = i - (R - o.rank());
      if (j >= 0) ds.push_back(o.sizes[j]);
    }
    Value size;
    if (!result.isDynamicDim(i)) {
      size = c(result.getDimSize(i));
    } else {
      size = c(1);
      for (Value d : ds) size = constOf(d) == 1 ? size : (constOf(size) == 1 ? d : smax(size, d));
    }
    for (Value d : ds) {
      if (d == size || constOf(d) == 1 || (constOf(d) && constOf(size) && *constOf(d) == *constOf(size))) continue;
      Value ok = b.createOrFold<arith::OrIOp>(loc, eq(d, size), eq(d, c(1)));
      check(ok, (what + ": operand dimension {0} does not broadcast to {1} (dimension " +
                 std::to_string(i) + ")").str(), d, size);
    }
    out[i] = size;
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

Value Lowerer::scalar(Value v) {
  auto it = scalars.find(v);
  assert(it != scalars.end() && "scalar used before it was lowered");
  return it->second;
}

Value Lowerer::throughSeams(Value v) const {
  for (auto it = seams.find(v); it != seams.end(); it = seams.find(v)) v = it->second;
  return v;
}

Buf &Lowerer::buf(Value tensor) {
  tensor = throughSeams(tensor);
  Buf &r = sourceBuf(tensor);
  if (curLayer < 0 || !layerOpStart) return r;
  if (Operation *d = tensor.getDefiningOp())
    if (auto l = d->getAttrOfType<IntegerAttr>(mlir::bmc::kLayerAttrName); l && l.getInt() == curLayer) return r;
  auto [it, fresh] = layerBufs.try_emplace({curLayer, tensor.getAsOpaquePointer()}, r);
  if (fresh) {
    OpBuilder lb(layerOpStart);
    Value zero;
    auto copy = [&](Value &v) {
      if (!v || constOf(v)) return;
      if (!zero) zero = lb.create<arith::ConstantIntOp>(loc, 0, 64);
      v = lb.create<arith::AddIOp>(loc, v, zero); // not folded until after outlining
    };
    copy(it->second.offset);
    for (Value &v : it->second.sizes) copy(v);
    for (Value &v : it->second.strides) copy(v);
  }
  return it->second;
}

Buf &Lowerer::sourceBuf(Value tensor) {
  tensor = throughSeams(tensor);
  auto it = bufs.find(tensor);
  if (it != bufs.end()) {
    // A use: the storage it views must live until here.
    if (it->second.allocId >= 0) {
      int64_t &last = allocs[size_t(it->second.allocId)].last;
      last = std::max(last, opIndex);
    }
    return it->second;
  }
  // Weights and constants are materialised on first use (a weight used only
  // by packed matmuls never needs its raw bytes in the blob).
  OpBuilder::InsertionGuard g(b);
  // Their addresses are computed once, before any op's code: every layer
  // then receives its weights alike (outlineLayers).
  if (prologueEnd) b.setInsertionPoint(prologueEnd);
  Location saved = loc;
  Buf r;
  if (auto w = tensor.getDefiningOp<mlir::bmc::WeightOp>()) {
    r = weightBuf(w);
  } else {
    DenseElementsAttr attr;
    bool isConst = matchPattern(tensor, m_Constant(&attr));
    assert(isConst && "tensor used before it was lowered");
    (void)isConst;
    r = constantBuf(attr);
  }
  loc = saved;
  return bufs[tensor] = r;
}

Buf Lowerer::weightBuf(mlir::bmc::WeightOp w) {
  auto t = cast<RankedTensorType>(w.getType());
  Type st = storageType(t.getElementType());
  int64_t bytes = t.getNumElements() * byteSize(st);
  int64_t off = plan.request(w.getName().str(), WeightEntry::Raw, bytes);
  Value p = b.create<LLVM::GEPOp>(loc, ptrTy, b.getI8Type(), weightsBase, ValueRange{c(off)});
  SmallVector<Value> sizes;
  for (int64_t d : t.getShape()) sizes.push_back(c(d));
  return fromPointer(p, st, t.getElementType().isUnsignedInteger(), sizes);
}

Buf Lowerer::constantBuf(DenseElementsAttr attr) {
  auto t = cast<RankedTensorType>(attr.getType());
  Type et = t.getElementType();
  Type st = storageType(et);
  SmallVector<Value> sizes;
  for (int64_t d : t.getShape()) sizes.push_back(c(d));
  int64_t n = t.getNumElements(), esz = byteSize(st);
  std::vector<uint8_t> bytes(size_t(n * esz));
  if (isBoolType(et)) {
    auto vals = attr.getValues<bool>();
    for (int64_t i = 0; i < n; ++i) bytes[i] = vals[i] ? 1 : 0;
  } else if (attr.isSplat()) {
    ArrayRef<char> raw = attr.getRawData();
    for (int64_t i = 0; i < n; ++i) std::memcpy(&bytes[i * esz], raw.data(), esz);
  } else {
    ArrayRef<char> raw = attr.getRawData();
    std::memcpy(bytes.data(), raw.data(), bytes.size());
  }
  int64_t off = plan.constant(bytes.data(), bytes.size());
  Value p = b.create<LLVM::GEPOp>(loc, ptrTy, b.getI8Type(), weightsBase, ValueRange{c(off)});
  return fromPointer(p, st, et.isUnsignedInteger(), sizes);
}

std::optional<SmallVector<int64_t>> Lowerer::knownInts(Value tensor) {
  DenseIntElementsAttr attr;
  if (matchPattern(tensor, m_Constant(&attr))) {
    SmallVector<int64_t> r;
    for (const APInt &x : attr.getValues<APInt>()) r.push_back(x.getSExtValue());
    return r;
  }
  if (auto fe = tensor.getDefiningOp<tensor::FromElementsOp>()) {
    SmallVector<int64_t> r;
    for (Value e : fe.getElements()) {
      APInt x;
      if (!matchPattern(e, m_ConstantInt(&x))) return std::nullopt;
      r.push_back(x.getSExtValue());
    }
    return r;
  }
  return std::nullopt;
}

Value Lowerer::element(Value tensor, int64_t i) {
  if (auto k = knownInts(tensor)) return c((*k)[i]);
  if (auto fe = tensor.getDefiningOp<tensor::FromElementsOp>()) {
    Value s = scalar(fe.getElements()[i]);
    if (s.getType() != i64) s = b.create<arith::ExtSIOp>(loc, i64, s);
    return s;
  }
  Buf &bf = buf(tensor);
  SmallVector<Value> iv;
  if (bf.rank() == 1) iv.push_back(c(i));
  Value v = load(bf, iv);
  if (v.getType() == i64) return v;
  if (v.getType().isInteger(8) || v.getType().isInteger(16) || v.getType().isInteger(32))
    return bf.isUnsigned ? b.create<arith::ExtUIOp>(loc, i64, v).getResult()
                         : b.create<arith::ExtSIOp>(loc, i64, v).getResult();
  if (isa<FloatType>(v.getType())) return b.create<arith::FPToSIOp>(loc, i64, v);
  return v;
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

static Type scalarType(Type t, Type i64) { return t.isIndex() ? i64 : t; }

LogicalResult Lowerer::lowerOp(Operation *op) {
  loc = op->getLoc();
  if (auto k = dyn_cast<arith::ConstantOp>(op)) {
    if (isa<RankedTensorType>(k.getType())) return success(); // materialised on first use
    Attribute v = k.getValue();
    if (auto ia = dyn_cast<IntegerAttr>(v); ia && ia.getType().isIndex())
      v = IntegerAttr::get(i64, ia.getInt());
    scalars[k] = b.create<arith::ConstantOp>(loc, cast<TypedAttr>(v));
    return success();
  }
  if (auto ic = dyn_cast<arith::IndexCastOp>(op)) {
    Value s = scalar(ic.getIn());
    Type to = scalarType(ic.getType(), i64);
    unsigned from = s.getType().getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
    if (from < tw) s = b.create<arith::ExtSIOp>(loc, to, s);
    else if (from > tw) s = b.create<arith::TruncIOp>(loc, to, s);
    scalars[ic] = s;
    return success();
  }
  if (op->getDialect() && op->getDialect()->getNamespace() == "arith") {
    // Shape arithmetic on index/i64/i1: same op on i64.
    OperationState st(loc, op->getName());
    for (Value o : op->getOperands()) st.addOperands(scalar(o));
    for (Type t : op->getResultTypes()) st.addTypes(scalarType(t, i64));
    st.addAttributes(op->getAttrs());
    Operation *n = b.create(st);
    for (auto [r, nr] : llvm::zip(op->getResults(), n->getResults())) scalars[r] = nr;
    return success();
  }
  if (auto d = dyn_cast<tensor::DimOp>(op)) {
    auto idx = constOf(scalar(d.getIndex()));
    if (!idx) return op->emitError("tensor.dim with a non-constant index is not supported");
    scalars[d] = buf(d.getSource()).sizes[*idx];
    return success();
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    auto t = cast<RankedTensorType>(fe.getType());
    SmallVector<Value> sizes;
    for (int64_t d : t.getShape()) sizes.push_back(c(d));
    Buf r = alloc(storageType(t.getElementType()), t.getElementType().isUnsignedInteger(), sizes);
    for (auto [i, e] : llvm::enumerate(fe.getElements())) {
      Value s = scalar(e);
      Type st = r.elem;
      if (s.getType() != st && !s.getType().isInteger(1)) {
        if (s.getType().getIntOrFloatBitWidth() > st.getIntOrFloatBitWidth()) s = b.create<arith::TruncIOp>(loc, st, s);
        else s = b.create<arith::ExtSIOp>(loc, st, s);
      }
      SmallVector<Value> iv;
      if (t.getRank() == 1) iv.push_back(c(i));
      store(s, r, iv);
    }
    bufs[fe] = r;
    return success();
  }
  if (isa<mlir::bmc::WeightOp>(op)) return success(); // materialised on first use
  if (isNarrowWeightView(op)) return success();        // read by packed 16-bit matmuls only
  // The seams between the two levels: the same storage, no code. A use of
  // one is a use of what it wraps (buf()), where that use is: the per-layer
  // copies come out as they did before the family moved.
  if (auto v = dyn_cast<mlir::bmck::ToViewOp>(op)) {
    seams[v.getView()] = v.getTensor();
    return success();
  }
  if (auto t = dyn_cast<mlir::bmck::ToTensorOp>(op)) {
    seams[t.getTensor()] = t.getView();
    return success();
  }
  if (isa<mlir::bmck::KVRowsOp, mlir::bmck::KVAppendOp, mlir::bmc::KVCapacityOp>(op)) return lowerKV(op);
  if (auto a = dyn_cast<mlir::bmck::AttentionOp>(op)) return lowerAttention(a);
  if (auto m = dyn_cast<mlir::bmck::MatMulOp>(op)) return lowerMatMul(m);
  if (auto g = dyn_cast<mlir::bmck::GemmOp>(op)) return lowerGemm(g);
  if (auto n = dyn_cast<mlir::bmck::NormOp>(op)) return lowerNorm(n);
  if (auto s = dyn_cast<mlir::bmck::SoftmaxOp>(op)) return lowerSoftmax(s);
  if (auto r = dyn_cast<mlir::bmck::ReduceOp>(op)) return lowerReduce(r);
  if (auto g = dyn_cast<mlir::bmck::ElementwiseOp>(op)) return lowerElementwiseGroup(g);
  // Every elementwise op is in a bmck.elementwise (a group of one when it
  // is not fused), but a 16-bit weight's Cast read by packed products only
  // (isNarrowWeightView, above).
  if (mlir::bmck::isElementwiseMember(op) ||
      isa<mlir::bmc::KVAppendOp, mlir::bmc::KVPastOp, mlir::bmc::AttentionOp, mlir::bmc::MatMulOp, mlir::bmc::GemmOp,
          mlir::bmc::LayerNormOp, mlir::bmc::RMSNormOp, mlir::bmc::SoftmaxOp, mlir::bmc::ReduceMeanOp,
          mlir::bmc::ReduceSumOp, mlir::bmc::ReduceMaxOp, mlir::bmc::ReduceMinOp, mlir::bmc::ReduceProdOp>(op))
    return op->emitError("bmc code generation: '")
           << op->getName() << "' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)";
  if (isa<mlir::bmck::SliceOp, mlir::bmck::SplitOp, mlir::bmck::ConcatOp, mlir::bmck::GatherOp, mlir::bmck::SqueezeOp,
          mlir::bmck::UnsqueezeOp, mlir::bmck::ExpandOp, mlir::bmck::TransposeOp, mlir::bmck::ReshapeOp,
          mlir::bmck::FlattenOp, mlir::bmck::CopyOp, mlir::bmck::RangeOp>(op))
    return lowerData(op);
  if (mlir::bmc::movesDataToKernels(op) || mlir::bmc::movesShapeToKernels(op))
    return op->emitError("bmc code generation: '")
           << op->getName() << "' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)";
  if (isa<mlir::bmc::TransposeOp, mlir::bmc::ReshapeOp, mlir::bmc::FlattenOp, mlir::bmc::SqueezeOp, mlir::bmc::UnsqueezeOp,
          mlir::bmc::ConcatOp, mlir::bmc::SplitOp, mlir::bmc::SliceOp, mlir::bmc::GatherOp, mlir::bmc::ExpandOp,
          mlir::bmc::ConstantOfShapeOp, mlir::bmc::RangeOp, mlir::bmc::TriluOp, mlir::bmc::ShapeOp>(op))
    return lowerData(op);
  if (isa<mlir::bmc::GatherNDOp, mlir::bmc::ScatterNDOp, mlir::bmc::CumSumOp, mlir::bmc::CheckEqualOp,
          mlir::bmc::NonZeroOp>(op))
    return lowerIndex(op);
  return op->emitError("bmc code generation: unsupported operation '")
         << op->getName() << "' (expected bmc, bmck, arith or tensor.dim/from_elements)";
}

LogicalResult Lowerer::run() {
  MLIRContext *mctx = module.getContext();
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(src.getLoc(), "bmc_main", b.getFunctionType({ptrTy, ptrTy}, {i32}));
  fn->setAttr("llvm.emit_c_interface", UnitAttr::get(mctx));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ctx = entry->getArgument(0);
  io = entry->getArgument(1);
  pool = call("bmc_rt_pool", {ptrTy}, {ctx}).getResult(0);
  weightsBase = call("bmc_rt_weights", {ptrTy}, {ctx}).getResult(0);

  // Inputs.
  Block &body = src.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    loc = arg.getLoc();
    Value slot = b.create<LLVM::GEPOp>(loc, ptrTy, ptrTy, io, ValueRange{c(arg.getArgNumber())});
    Value ref = b.create<LLVM::LoadOp>(loc, ptrTy, slot);
    auto field = [&](int64_t k) {
      Value p = b.create<LLVM::GEPOp>(loc, ptrTy, i64, ref, ValueRange{c(k)});
      Value v = b.create<LLVM::LoadOp>(loc, i64, p).getResult();
      inputScalars.insert(v);
      return v;
    };
    Value data = b.create<LLVM::LoadOp>(loc, ptrTy, ref);
    if (auto kv = dyn_cast<mlir::bmc::KVCacheType>(arg.getType())) {
      // bmc_kv_ref {data, batch, capacity, valid}: [batch, heads, capacity, head_dim].
      Value batch = field(1), cap = field(2), valid = field(3);
      Buf r;
      r.ptr = data;
      r.offset = c(0);
      r.elem = storageType(kv.getElementType());
      Value hd = c(kv.getHeadDim()), h = c(kv.getHeads());
      r.sizes = {batch, h, valid, hd};
      r.strides = {mul(h, mul(cap, hd)), mul(cap, hd), hd, c(1)};
      r.contiguous = false;
      bufs[arg] = r;
      scalars[arg] = cap; // capacity, for kv_append and kv_capacity
      continue;
    }
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    if (!t || t.getRank() > 8)
      return emitError(loc, "bmc code generation: expected graph inputs of rank <= 8, found ") << arg.getType();
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < t.getRank(); ++d)
      sizes.push_back(t.isDynamicDim(d) ? field(1 + d) : c(t.getDimSize(d)));
    bufs[arg] = fromPointer(data, storageType(t.getElementType()), t.getElementType().isUnsignedInteger(), sizes);
  }

  // The memory plan's prologue goes here: after the inputs are read.
  Operation *anchor = b.create<arith::ConstantIntOp>(loc, 0, 64);
  prologueEnd = anchor;
  for (Operation &op : body.without_terminator()) {
    ++opIndex;
    Operation *last = entry->empty() ? nullptr : &entry->back();
    auto layerAttr = op.getAttrOfType<IntegerAttr>(mlir::bmc::kLayerAttrName);
    curLayer = layerAttr ? layerAttr.getInt() : -1;
    if (layerAttr) layerOpStart = b.create<arith::ConstantIntOp>(loc, 0, 64);
    if (failed(lowerOp(&op))) return failure();
    if (layerOpStart) {
      if (layerOpStart->use_empty()) layerOpStart->erase();
      layerOpStart = nullptr;
    }
    curLayer = -1;
    // The code of a decoder layer's ops carries its mark (outlineLayers);
    // a group's ops mark their own code (lowerElementwiseGroup).
    if (auto layer = op.getAttrOfType<IntegerAttr>(mlir::bmc::kLayerAttrName); layer && !isa<mlir::bmck::ElementwiseOp>(op))
      for (Operation *n = last ? last->getNextNode() : &entry->front(); n; n = n->getNextNode())
        n->setAttr(mlir::bmc::kLayerAttrName, layer);
  }
  ++opIndex;

  // Outputs: copied into runtime-allocated, row-major buffers.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  loc = ret.getLoc();
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    Buf &r = buf(v);
    auto direct = directOutputs.find(throughSeams(v));
    if (direct != directOutputs.end() && direct->second == int64_t(i)) continue; // computed in place
    Value out = outputBuffer(int64_t(i), r.elem, r.sizes);
    copy(r, fromPointer(out, r.elem, r.isUnsigned, r.sizes));
  }
  b.create<func::ReturnOp>(loc, ValueRange{b.create<arith::ConstantIntOp>(loc, 0, 32).getResult()});
  planMemory(anchor);
  prologueEnd = nullptr;
  anchor->erase();
  return success();
}

} // namespace lowering

using namespace mlir;

LogicalResult lowerToLLVMDialect(ModuleOp module, WeightPlan &plan, const LoweringOptions &opts) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main) return module.emitError("bmc code generation: expected func.func @main");
  module.getContext()->loadDialect<LLVM::LLVMDialect, scf::SCFDialect, math::MathDialect>();
  lowering::Lowerer l(module, main, plan, opts);
  if (failed(l.run())) return failure();
  main.erase();
  return success();
}

} // namespace bmc
