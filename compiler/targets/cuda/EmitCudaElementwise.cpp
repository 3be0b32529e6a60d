//===- EmitCudaElementwise.cpp - bmck.elementwise -> CUDA C ----------------===//
//
// See EmitCudaElementwise.h. A view of rank r < 4 reaches a kernel as a
// bmc_view4 with 4 - r leading dimensions of size 1 (the launcher's
// convention), so the output's index (i[0..3]) applies to every leaf as is:
// numpy's right-aligned broadcasting. A leaf's dimension that is statically 1
// gets no index term (its launch line checks it is 1 at run time), a dynamic
// one reads bmc_view_stride (0 where the run-time size is 1).
//
// Each region op becomes one `const T tK = <expression>;` whose arithmetic
// is scalarOp's (compiler/lowering/LowerElementwise.cpp): values of 16-bit
// floats are fp32 (and an intermediate of a 16-bit type is rounded to it, as
// if stored), bools are C bools stored as bytes, i32/i64 wrap, Min/Max of
// floats propagate NaN, integer Mod takes the divisor's sign unless fmod,
// Pow by a constant 0.5/1/2/3/4 is sqrt or products, a float -> int Cast
// truncates. Anything else is refused at the op.
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCudaElementwise.h"
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "dialects/BmcDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/JSON.h"

#include <optional>

using namespace mlir;
using mlir::bmc::cuda::count;
using mlir::bmc::cuda::cudaType;
using mlir::bmc::cuda::ElementwiseEmitter;
using mlir::bmc::cuda::ReduceEmitter;
using mlir::bmc::cuda::floatLiteral;
using mlir::bmc::cuda::typeName;

namespace {

// BMC_EW_THREADS (elementwise.cuh).
constexpr int64_t kThreads = 256;

// A value's type inside the kernel: 16-bit floats compute in fp32.
enum class CT { None, F32, I32, I64, Bool };

CT computeType(Type t) {
  if (t.isF32() || t.isF16() || t.isBF16()) return CT::F32;
  if (t.isSignlessInteger(1)) return CT::Bool;
  if (t.isSignlessInteger(32) || t.isSignedInteger(32)) return CT::I32;
  if (t.isSignlessInteger(64) || t.isSignedInteger(64)) return CT::I64;
  return CT::None;
}

const char *cName(CT t) {
  switch (t) {
  case CT::F32: return "float";
  case CT::I32: return "int";
  case CT::I64: return "long long";
  case CT::Bool: return "bool";
  case CT::None: break;
  }
  return "?";
}

// The C type of an element in memory (bools are bytes; 16-bit floats raw bits).
const char *storageName(Type t) {
  if (t.isF32()) return "float";
  if (t.isF16() || t.isBF16()) return "unsigned short";
  if (t.isInteger(1)) return "unsigned char";
  if (t.isInteger(32)) return "int";
  return "long long";
}

Type elementOf(Value v) { return cast<ShapedType>(v.getType()).getElementType(); }

struct Operand {
  std::string s;
  CT t;
};

// The splat value of a Pow's exponent when the leaf is a constant (found as
// the CPU emitter finds it: block argument -> group input -> to_view -> constant).
std::optional<double> constantExponent(bmck::ElementwiseOp group, Value exponent) {
  auto arg = dyn_cast<BlockArgument>(exponent);
  if (!arg || arg.getOwner()->getParentOp() != group.getOperation()) return std::nullopt;
  Value in = group.getInputs()[arg.getArgNumber()];
  auto toView = in.getDefiningOp<bmck::ToViewOp>();
  if (!toView) return std::nullopt;
  DenseFPElementsAttr dense;
  if (!matchPattern(toView.getTensor(), m_Constant(&dense)) || !dense.isSplat()) return std::nullopt;
  return dense.getSplatValue<APFloat>().convertToDouble();
}

// One op's CUDA expression and its type, or "" with `why`: the operands its CUDA form takes.
std::string expression(bmck::ElementwiseOp group, Operation *op, ArrayRef<Operand> a, CT &type, std::string &why) {
  using namespace mlir::bmc;
  CT t = a.empty() ? CT::None : a[0].t;
  bool f = t == CT::F32, i = t == CT::I32 || t == CT::I64;
  auto same = [&](size_t from, size_t to) {
    for (size_t k = from; k < to && k < a.size(); ++k)
      if (a[k].t != a[from].t) return false;
    return true;
  };
  auto fail = [&](std::string w) {
    why = std::move(w);
    return std::string();
  };
  std::string x = a.empty() ? "" : a[0].s, y = a.size() > 1 ? a[1].s : "";
  type = t;
  if (isa<AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp, ModOp>(op)) {
    if (!same(0, 2) || !(f || i)) return fail("two floats or two integers of one type");
    if (isa<AddOp>(op)) return f ? "(" + x + " + " + y + ")" : "bmc_ew_add(" + x + ", " + y + ")";
    if (isa<SubOp>(op)) return f ? "(" + x + " - " + y + ")" : "bmc_ew_sub(" + x + ", " + y + ")";
    if (isa<MulOp>(op)) return f ? "(" + x + " * " + y + ")" : "bmc_ew_mul(" + x + ", " + y + ")";
    if (isa<DivOp>(op)) return "(" + x + " / " + y + ")"; // integers: truncation, as arith.divsi
    if (isa<MinOp>(op)) return f ? "bmc_ew_minimum(" + x + ", " + y + ")" : "(" + x + " < " + y + " ? " + x + " : " + y + ")";
    if (isa<MaxOp>(op)) return f ? "bmc_ew_maximum(" + x + ", " + y + ")" : "(" + x + " > " + y + " ? " + x + " : " + y + ")";
    if (f) return "fmodf(" + x + ", " + y + ")";
    if (cast<ModOp>(op).getFmod()) return "(" + x + " % " + y + ")";
    return "bmc_ew_mod(" + x + ", " + y + ")";
  }
  if (isa<PowOp>(op)) {
    if (!(f || i) || a[1].t == CT::Bool || a[1].t == CT::None)
      return fail("a float or integer base and a float or integer exponent");
    if (f) {
      if (std::optional<double> e = constantExponent(group, op->getOperand(1))) {
        if (*e == 0.5) return "sqrtf(" + x + ")";
        if (*e == 1.0) return x;
        if (*e == 2.0) return "(" + x + " * " + x + ")";
        if (*e == 3.0) return "((" + x + " * " + x + ") * " + x + ")";
        if (*e == 4.0) return "((" + x + " * " + x + ") * (" + x + " * " + x + "))";
      }
      return "powf(" + x + ", " + (a[1].t == CT::F32 ? y : "(float)" + y) + ")";
    }
    return std::string(t == CT::I32 ? "bmc_ew_f64_to_i32" : "bmc_ew_f64_to_i64") + "(pow((double)" + x +
           ", (double)" + y + "))";
  }
  if (isa<EqualOp, LessOp, LessEqualOp, GreaterOp, GreaterEqualOp>(op)) {
    type = CT::Bool;
    if (!same(0, 2) || t == CT::None || (t == CT::Bool && !isa<EqualOp>(op)))
      return fail("two values of one type (bools: Equal only)");
    const char *c = isa<EqualOp>(op) ? " == " : isa<LessOp>(op) ? " < " : isa<LessEqualOp>(op) ? " <= "
                    : isa<GreaterOp>(op) ? " > " : " >= ";
    return "(" + x + c + y + ")"; // floats: ordered, as arith.cmpf o*
  }
  if (isa<AndOp, OrOp, XorOp, NotOp>(op)) {
    if (!same(0, a.size()) || t != CT::Bool) return fail("bools");
    if (isa<NotOp>(op)) return "(!" + x + ")";
    return "(" + x + (isa<AndOp>(op) ? " && " : isa<OrOp>(op) ? " || " : " != ") + y + ")";
  }
  if (isa<NegOp, AbsOp, ReluOp, SignOp>(op)) {
    if (!(f || i)) return fail("a float or an integer");
    std::string zero = t == CT::I64 ? "0ll" : f ? "0.0f" : "0";
    if (isa<NegOp>(op)) return f ? "(-" + x + ")" : "bmc_ew_sub(" + zero + ", " + x + ")";
    if (isa<AbsOp>(op)) return f ? "fabsf(" + x + ")" : "bmc_ew_abs(" + x + ")";
    if (isa<ReluOp>(op)) // floats: cmpf ugt, so NaN stays NaN
      return f ? "((" + x + " > 0.0f || " + x + " != " + x + ") ? " + x + " : 0.0f)"
               : "(" + x + " > " + zero + " ? " + x + " : " + zero + ")";
    // Sign of a float: NaN and +-0 are returned as they are.
    return f ? "(" + x + " > 0.0f ? 1.0f : (" + x + " < 0.0f ? -1.0f : " + x + "))"
             : "(" + std::string(cName(t)) + ")(" + x + " > 0 ? 1 : (" + x + " < 0 ? -1 : 0))";
  }
  if (isa<ExpOp, LogOp, SqrtOp, ReciprocalOp, TanhOp, ErfOp, CosOp, SinOp, FloorOp, CeilOp, SigmoidOp, SoftplusOp,
          LeakyReluOp, GeluOp>(op)) {
    if (!f) return fail("a float");
    if (isa<ExpOp>(op)) return "expf(" + x + ")";
    if (isa<LogOp>(op)) return "logf(" + x + ")";
    if (isa<SqrtOp>(op)) return "sqrtf(" + x + ")";
    if (isa<ReciprocalOp>(op)) return "(1.0f / " + x + ")";
    if (isa<TanhOp>(op)) return "tanhf(" + x + ")";
    if (isa<ErfOp>(op)) return "erff(" + x + ")";
    if (isa<CosOp>(op)) return "cosf(" + x + ")";
    if (isa<SinOp>(op)) return "sinf(" + x + ")";
    if (isa<FloorOp>(op)) return "floorf(" + x + ")";
    if (isa<CeilOp>(op)) return "ceilf(" + x + ")";
    if (isa<SigmoidOp>(op)) return "(1.0f / (1.0f + expf(-" + x + ")))";
    if (isa<SoftplusOp>(op)) return "(" + x + " > 20.0f ? " + x + " : log1pf(expf(" + x + ")))";
    if (auto lr = dyn_cast<LeakyReluOp>(op))
      return "(" + x + " < 0.0f ? " + x + " * " + floatLiteral(lr.getAlpha().convertToFloat()) + " : " + x + ")";
    if (cast<GeluOp>(op).getTanhApproximation()) // x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3)
      return "(" + x + " / (1.0f + expf((" + x + " + (" + x + " * (" + x + " * " + x + ")) * " +
             floatLiteral(float(0.044715)) + ") * " + floatLiteral(float(-2.0 * 0.7978845608028654)) + ")))";
    return "((0.5f * " + x + ") * (1.0f + erff(" + x + " * " + floatLiteral(float(0.7071067811865476)) + ")))";
  }
  if (auto c = dyn_cast<CastOp>(op)) {
    CT to = computeType(c.getTo());
    type = to;
    if (t == CT::None || to == CT::None) return fail("f32, f16, bf16, i32, i64 or i1 to one of them");
    if (to == CT::Bool) return t == CT::Bool ? x : f ? "(" + x + " != 0.0f)" : "(" + x + " != 0)"; // NaN: true
    if (to == t) return x; // a 16-bit result is rounded to its type like any other
    if (to == CT::F32) return "(float)" + x; // sitofp; a bool is 0 or 1
    if (f) return std::string(to == CT::I32 ? "bmc_ew_f32_to_i32(" : "bmc_ew_f32_to_i64(") + x + ")";
    return "(" + std::string(cName(to)) + ")" + x; // truncation or sign extension; a bool is 0 or 1
  }
  if (auto cl = dyn_cast<ClipOp>(op)) {
    if (!same(0, a.size()) || !(f || i)) return fail("floats or integers of one type");
    std::string v = x;
    size_t k = 1;
    if (cl.getMin()) {
      const std::string &lo = a[k++].s;
      v = "(" + v + " < " + lo + " ? " + lo + " : " + v + ")";
    }
    if (cl.getMax()) {
      const std::string &hi = a[k++].s;
      v = "(" + hi + " < " + v + " ? " + hi + " : " + v + ")";
    }
    return v;
  }
  if (isa<WhereOp>(op)) {
    type = a[1].t;
    if (t != CT::Bool || !same(1, 3) || a[1].t == CT::None) return fail("a bool condition and branches of one type");
    return "(" + x + " ? " + y + " : " + a[2].s + ")";
  }
  return fail("");
}

namespace json = llvm::json;

} // namespace

LogicalResult ElementwiseEmitter::add(bmck::ElementwiseOp group) {
  bmck::ViewType out = group.getResult().getType();
  if (out.getRank() > 4)
    return group.emitError() << "CUDA emitter: elementwise result of rank " << out.getRank()
                             << ", at most 4 (the kernels take views of rank <= 4)";
  auto supported = [](Type t) { return computeType(t) != CT::None; };
  if (!supported(out.getElementType()))
    return group.emitError() << "CUDA emitter: elementwise result of " << out.getElementType()
                             << ", expected f32, f16, bf16, i32, i64 or i1";
  Block &body = group.getBody().front();
  Config c;
  c.leaves = int(group.getInputs().size());
  std::string loads;
  // Offset expression of view `v` at the output's index, with its checks: a
  // dimension it lacks or has statically of size 1 gets no term and must be 1.
  auto offset = [&](const std::string &v, bmck::ViewType t) {
    std::string s = v + ".offset";
    int64_t lead = 4 - t.getRank();
    for (int64_t d = 0; d < 4; ++d) {
      std::string size = v + ".size[" + std::to_string(d) + "]";
      int64_t n = d < lead ? 1 : t.getShape()[d - lead];
      if (n == 1) {
        c.checks.push_back({size, "==", "", 1,
                            v + " of size {" + size + "} in dimension " + std::to_string(d) + ", expected 1"});
        continue;
      }
      if (v != "out")
        c.checks.push_back({size, "bcast", "out.size[" + std::to_string(d) + "]", 0,
                            v + " of size {" + size + "} in dimension " + std::to_string(d) + ", out of {out.size[" +
                                std::to_string(d) + "]} (expected equal or 1)"});
      // bmc_view_stride even for a static size: the bcast check lets a run-time 1 through.
      s += " + i[" + std::to_string(d) + "] * bmc_view_stride(" + v + ", " + std::to_string(d) + ")";
    }
    return s;
  };
  llvm::DenseMap<Value, Operand> values;
  for (auto [k, in] : llvm::enumerate(group.getInputs())) {
    auto t = cast<bmck::ViewType>(in.getType());
    if (t.getRank() > 4)
      return group.emitError() << "CUDA emitter: elementwise input #" << k << " of rank " << t.getRank()
                               << ", at most 4";
    Type e = t.getElementType();
    if (!supported(e))
      return group.emitError() << "CUDA emitter: elementwise input #" << k << " of " << e
                               << ", expected f32, f16, bf16, i32, i64 or i1";
    std::string v = "x" + std::to_string(k), name = "v" + std::to_string(k);
    std::string at = "((const " + std::string(storageName(e)) + " *)" + v + ".data)[" + offset(v, t) + "]";
    if (e.isF16()) at = "bmc_f16::widen(" + at + ")";
    if (e.isBF16()) at = "bmc_bf16::widen(" + at + ")";
    if (e.isInteger(1)) at = "(" + at + " != 0)";
    CT ct = computeType(e);
    loads += "    const " + std::string(cName(ct)) + " " + name + " = " + at + ";\n";
    values[body.getArgument(unsigned(k))] = Operand{name, ct};
    c.params += "bmc_view4 " + v + ", ";
    c.comment += v + " " + typeName(e) + " (rank " + std::to_string(t.getRank()) + ")" +
                 (k + 1 < group.getInputs().size() ? ", " : " ");
  }
  c.params += "bmc_view4 out";
  std::string outOffset = offset("out", out);
  std::string ops, opNames;
  int k = 0;
  Operation *root = group.getRoot();
  for (Operation &m : body.without_terminator()) {
    SmallVector<Operand> args;
    for (Value v : m.getOperands()) args.push_back(values.lookup(v));
    Type resultElement = elementOf(m.getResult(0));
    CT type = CT::None;
    std::string why;
    std::string e = expression(group, &m, args, type, why);
    if (e.empty() || type != computeType(resultElement)) {
      std::string operands;
      for (Value v : m.getOperands()) operands += (operands.empty() ? "" : ", ") + typeName(elementOf(v));
      return m.emitError() << "CUDA emitter: '" << m.getName() << "' of " << operands << " -> " << typeName(resultElement)
                           << " has no CUDA expression"
                           << (why.empty() ? std::string() : "; its CUDA form takes " + why);
    }
    // An intermediate of a 16-bit type is rounded to it, as if stored (the CPU's rule).
    if (&m != root && (resultElement.isF16() || resultElement.isBF16())) {
      const char *T = resultElement.isF16() ? "bmc_f16" : "bmc_bf16";
      e = std::string(T) + "::widen(" + T + "::narrow(" + e + "))";
    }
    std::string name = "t" + std::to_string(k++);
    ops += "    const " + std::string(cName(type)) + " " + name + " = " + e + ";\n";
    values[m.getResult(0)] = Operand{name, type};
    opNames += (opNames.empty() ? "" : ", ") + m.getName().getStringRef().str();
  }
  Type oe = out.getElementType();
  std::string r = values.lookup(root->getResult(0)).s;
  std::string stored = oe.isF16() ? "bmc_f16::narrow(" + r + ")"
                       : oe.isBF16() ? "bmc_bf16::narrow(" + r + ")"
                       : oe.isInteger(1) ? "(unsigned char)(" + r + " ? 1 : 0)" : r;
  c.body = "  const long long n = bmc_ew_elements(out);\n"
           "  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;\n"
           "       e += (long long)gridDim.x * blockDim.x) {\n"
           "    long long i[4];\n"
           "    bmc_ew_index(out, e, i);\n" +
           loads + ops + "    ((" + storageName(oe) + " *)out.data)[" + outOffset + "] = " + stored + ";\n  }\n";
  c.comment += std::string(c.comment.empty() ? "" : "-> ") + typeName(oe) + " (rank " + std::to_string(out.getRank()) + "): " + opNames;
  ++ops_;
  std::string key = c.params + "\n" + c.body;
  for (const Config::Check &k : c.checks) key += k.lhs + k.cmp + k.rhs + std::to_string(k.value) + "\n";
  auto [it, fresh] = configs_.try_emplace(key, c, 0);
  if (fresh) order_.push_back(key);
  ++it->second.second;
  last_ = int(llvm::find(order_, key) - order_.begin());
  return success();
}

std::string ElementwiseEmitter::summary() const {
  return std::to_string(ops_) + " bmck.elementwise (" + count(int(order_.size()), "configuration") + ")";
}

void ElementwiseEmitter::write(llvm::raw_ostream &os) const {
  for (auto [i, key] : llvm::enumerate(order_)) {
    const auto &[c, uses] = configs_.at(key);
    std::string name = "bmc_elementwise_" + std::to_string(i);
    json::Array params;
    for (int k = 0; k <= c.leaves; ++k)
      params.push_back(json::Object{{"name", k < c.leaves ? "x" + std::to_string(k) : std::string("out")},
                                    {"kind", "view4"},
                                    {"from", "arg"}});
    json::Array checks;
    std::string what = "elementwise " + std::to_string(i) + ": ";
    for (const Config::Check &k : c.checks)
      checks.push_back(json::Object{{"lhs", json::Array{k.lhs}},
                                    {"cmp", k.cmp},
                                    {"rhs", k.rhs.empty() ? json::Array{k.value} : json::Array{k.rhs}},
                                    {"error", what + k.error}});
    json::Array elements; // one term, the product of out's sizes (not Array{Array{...}}: that flattens)
    elements.push_back(json::Array{"out.size[0]", "out.size[1]", "out.size[2]", "out.size[3]"});
    json::Object plan{{"kind", "elementwise"}, {"elements", std::move(elements)}, {"threads", kThreads}};
    json::Object launch{{"kernel", name},
                        {"grid", json::Array{"plan.blocks", 1, 1}},
                        {"block", kThreads},
                        {"shared_bytes", 0}};
    json::Object desc{{"version", 1},
                      {"op", "bmck.elementwise"},
                      {"config", int64_t(i)},
                      {"params", std::move(params)},
                      {"checks", std::move(checks)},
                      {"plan", std::move(plan)},
                      {"launches", json::Array{std::move(launch)}}};
    os << "\n// bmc-launch: " << json::Value(std::move(desc)) << "\n"
       << "// elementwise " << i << ": " << c.comment << " (" << count(uses, "op")
       << "). A thread per element of out, grid-stride; block BMC_EW_THREADS.\n"
       << "extern \"C\" __global__ void __launch_bounds__(BMC_EW_THREADS)\n"
       << name << "(" << c.params << ") {\n"
       << c.body << "}\n";
  }
}

//===----------------------------------------------------------------------===//
// bmck.reduce
//===----------------------------------------------------------------------===//

std::string ReduceEmitter::Config::key() const {
  return kind + "/" + type + "/" + std::to_string(rank) + "/" + std::to_string(mask) + "/" + (keepdims ? "keep" : "drop");
}

LogicalResult ReduceEmitter::add(bmck::ReduceOp op, std::string &noForm) {
  bmck::ViewType x = op.getInput().getType();
  if (x.getRank() > 4)
    return op.emitError() << "CUDA emitter: reduce of rank " << x.getRank() << ", at most 4";
  Type et = x.getElementType();
  const char *t = cudaType(et);
  // i32 / i64 (the genai mask's ReduceSum, a shape computation): wrapping integer
  // arithmetic in the element's width, as the CPU's arith.addi / muli; unsigned
  // and other types have no form yet.
  bool integer = !t && et.isSignlessInteger() && (et.isInteger(32) || et.isInteger(64));
  if (integer) t = et.isInteger(32) ? "int" : "long long";
  if (!t) { // a form not written yet: left, by that name
    noForm = "bmck.reduce (" + typeName(et) + ")";
    return success();
  }
  Config c;
  c.integer = integer;
  switch (op.getKind()) {
  case bmck::ReduceKind::Mean: c.kind = "mean"; break;
  case bmck::ReduceKind::Sum: c.kind = "sum"; break;
  case bmck::ReduceKind::Max: c.kind = "max"; break;
  case bmck::ReduceKind::Min: c.kind = "min"; break;
  case bmck::ReduceKind::Prod: c.kind = "prod"; break;
  }
  c.type = t, c.typeName = typeName(x.getElementType());
  c.rank = x.getRank(), c.keepdims = op.getKeepdims();
  int64_t lead = 4 - c.rank;
  if (op.getAxes().empty())
    for (int64_t d = lead; d < 4; ++d) c.mask |= 1u << d;
  for (int64_t a : op.getAxes()) c.mask |= 1u << (a + lead);
  ++ops_;
  auto [it, fresh] = configs_.try_emplace(c.key(), c, 0);
  if (fresh) order_.push_back(c.key());
  ++it->second.second;
  last_ = int(llvm::find(order_, c.key()) - order_.begin());
  return success();
}

std::string ReduceEmitter::summary() const {
  return std::to_string(ops_) + " bmck.reduce (" + count(int(order_.size()), "configuration") + ")";
}

void ReduceEmitter::write(llvm::raw_ostream &os) const {
  for (auto [i, key] : llvm::enumerate(order_)) {
    const auto &[c, uses] = configs_.at(key);
    std::string name = "bmc_reduce_" + std::to_string(i), what = "reduce " + std::to_string(i) + ": ";
    int kind = c.kind == "sum" || c.kind == "mean" ? 0 : c.kind == "max" ? 1 : c.kind == "min" ? 2 : 3;
    // out's view4 dimension of each kept dimension of x (-1: reduced).
    int outDim[4];
    int kept = 0;
    for (int d = 0; d < 4; ++d) kept += !(c.mask >> d & 1);
    for (int d = 0, j = 0; d < 4; ++d) {
      bool reduced = c.mask >> d & 1;
      outDim[d] = c.keepdims ? (reduced ? -1 : d) : (reduced ? -1 : 4 - kept + j++);
    }
    json::Array checks;
    auto add = [&](std::string lhs, const char *cmp, json::Value rhs, std::string error) {
      checks.push_back(json::Object{{"lhs", json::Array{std::move(lhs)}},
                                    {"cmp", cmp},
                                    {"rhs", json::Array{std::move(rhs)}},
                                    {"error", what + error}});
    };
    bool outUsed[4] = {false, false, false, false};
    for (int d = 0; d < 4; ++d) {
      std::string xs = "x.size[" + std::to_string(d) + "]";
      if (d < 4 - c.rank) add(xs, "==", 1, "x of size {" + xs + "} in dimension " + std::to_string(d) + ", expected 1");
      if (outDim[d] < 0) continue;
      std::string os_ = "out.size[" + std::to_string(outDim[d]) + "]";
      outUsed[outDim[d]] = true;
      add(os_, "==", xs, "out of size {" + os_ + "} in dimension " + std::to_string(outDim[d]) + ", x of {" + xs +
                             "} in dimension " + std::to_string(d));
    }
    for (int d = 0; d < 4; ++d)
      if (!outUsed[d]) {
        std::string os_ = "out.size[" + std::to_string(d) + "]";
        add(os_, "==", 1, "out of size {" + os_ + "} in dimension " + std::to_string(d) + ", expected 1");
      }
    // grid x: out's elements (a product of its sizes).
    json::Array grid{json::Array{"out.size[0]", "out.size[1]", "out.size[2]", "out.size[3]"}, 1, 1};
    json::Object launch{{"kernel", name}, {"grid", std::move(grid)}, {"block", kThreads}, {"shared_bytes", 0}};
    json::Object desc{{"version", 1},
                      {"op", "bmck.reduce"},
                      {"config", int64_t(i)},
                      {"params", json::Array{json::Object{{"name", "x"}, {"kind", "view4"}, {"from", "arg"}},
                                             json::Object{{"name", "out"}, {"kind", "view4"}, {"from", "arg"}}}},
                      {"checks", std::move(checks)},
                      {"launches", json::Array{std::move(launch)}}};
    std::string axes;
    for (int d = 0; d < 4; ++d)
      if (c.mask >> d & 1) axes += (axes.empty() ? "" : ", ") + std::to_string(d - (4 - c.rank));
    os << "\n// bmc-launch: " << json::Value(std::move(desc)) << "\n"
       << "// reduce " << i << ": " << c.kind << " of " << c.typeName << " (rank " << c.rank << ") over axes [" << axes
       << "]" << (c.keepdims ? ", keepdims" : "")
       << (c.integer ? ", wrapping integer arithmetic (" : ", fp32 accumulation (") << count(uses, "op")
       << "). A block per output element, block BMC_EW_THREADS.\n"
       << "extern \"C\" __global__ void __launch_bounds__(BMC_EW_THREADS)\n"
       << name << "(bmc_view4 x, bmc_view4 out) {\n";
    if (c.integer)
      os << "  __shared__ long long scratch[BMC_EW_THREADS];\n"
         << "  typedef " << c.type << " S;\n";
    else
      os << "  __shared__ float scratch[BMC_EW_THREADS / BMC_WARP];\n"
         << "  typedef " << c.type << "::storage S;\n";
    os << "  long long o = blockIdx.x, k[4] = {0, 0, 0, 0};\n";
    for (int d = 3; d >= 0; --d) // the kept dimensions of x from the output element
      if (!(c.mask >> d & 1) && d >= 4 - c.rank)
        os << "  k[" << d << "] = o % x.size[" << d << "];\n  o /= x.size[" << d << "];\n";
    std::string m;
    for (int d = 0; d < 4; ++d)
      if (c.mask >> d & 1) m += (m.empty() ? "" : " * ") + std::string("x.size[") + std::to_string(d) + "]";
    std::string acc = c.integer ? "long long" : "float", fn = c.integer ? "bmc_reduce_int_" : "bmc_reduce_";
    std::string ident = c.integer ? "<" + std::to_string(kind) + ", S>" : "<" + std::to_string(kind) + ">";
    os << "  const long long m = " << m << ";\n"
       << "  " << acc << " acc = " << fn << "identity" << ident << "();\n"
       << "  for (long long j = threadIdx.x; j < m; j += blockDim.x) {\n"
       << "    long long r = j, i[4] = {k[0], k[1], k[2], k[3]};\n";
    for (int d = 3; d >= 0; --d)
      if (c.mask >> d & 1) os << "    i[" << d << "] = r % x.size[" << d << "];\n    r /= x.size[" << d << "];\n";
    std::string xoff = "x.offset", ooff = "out.offset";
    for (int d = 0; d < 4; ++d) {
      if (d < 4 - c.rank) continue;
      xoff += " + i[" + std::to_string(d) + "] * bmc_view_stride(x, " + std::to_string(d) + ")";
      if (outDim[d] >= 0)
        ooff += " + k[" + std::to_string(d) + "] * bmc_view_stride(out, " + std::to_string(outDim[d]) + ")";
    }
    if (c.integer) {
      // The mean divides the sum wrapped to the element's width, truncating, by
      // the count in that width: the CPU's arith.divsi.
      os << "    acc = bmc_reduce_int_combine<" << kind << ">(acc, (long long)((const S *)x.data)[" << xoff
         << "]);\n  }\n"
         << "  acc = bmc_block_reduce_int<" << kind << ">(acc, scratch);\n"
         << "  if (threadIdx.x == 0)\n    ((S *)out.data)[" << ooff << "] = "
         << (c.kind == "mean" ? "(S)acc / (S)m" : "(S)acc") << ";\n}\n";
      continue;
    }
    os << "    acc = bmc_reduce_combine<" << kind << ">(acc, " << c.type << "::widen(((const S *)x.data)[" << xoff
       << "]));\n  }\n"
       << "  acc = bmc_block_reduce<" << kind << ">(acc, scratch);\n";
    if (c.kind == "mean") os << "  acc = acc / (float)m;\n";
    os << "  if (threadIdx.x == 0)\n    ((S *)out.data)[" << ooff << "] = " << c.type << "::narrow(acc);\n}\n";
  }
}
