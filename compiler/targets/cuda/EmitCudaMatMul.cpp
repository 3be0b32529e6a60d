//===- EmitCudaMatMul.cpp - bmck.matmul / bmck.gemm -> CUDA C -------------===//
//
// Every product is one configuration of (op, element types, ranks,
// transposes, alpha, beta, C's rank, and for a named weight its device
// storage and sizes): the layers' projections of one shape share kernels,
// the weight pointer being an argument. Each configuration's kernels build
// matmul.cuh's strided operands from their views with the dimensions the
// op's ranks and transposes name, then call
//   bmc_mm_tiled            any rows, any strides (the reference path; many
//                           rows run through the device GEMM, cuBLASLt, where
//                           the plan's "prefill" is "device_gemm");
//   bmc_mm_gemv + _epilogue with a weight and fp32 activations, for at most
//                           BMC_MM_GEMV_MAX_ROWS rows (decode): gemv.cuh's
//                           loop, split-K by the launcher's plan.
// The launcher (runtime/device/EmittedLauncher) picks the path from the
// run-time rows (plan "matmul"); a grid with a zero dimension is no launch.
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCudaMatMul.h"
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"
#include "passes/Passes.h"

#include "llvm/Support/JSON.h"

#include <cstdio>

using namespace mlir;
using llvm::json::Array;
using llvm::json::Object;
using JV = llvm::json::Value;

namespace mlir::bmc::cuda {

// matmul.cuh's constants.
constexpr int64_t kTile = 16, kGemvMaxRows = 8, kGemvRowsPerBlock = 8, kGemvThreads = 128, kEpilogueThreads = 128;

struct MatMulConfig {
  bool gemm = false;
  Type a, b, c, out;       // element types; b: the weight's device storage when `weight`
  bool weight = false;
  int64_t n = 0, k = 0;    // the weight's sizes
  int aRank = 0, bRank = 0, cRank = -1, outRank = 0; // cRank -1: no C
  bool transA = false, transB = false;
  float alpha = 1.0f, beta = 0.0f;
  // View dimensions of the operands' (b0, b1, rows, columns); -1: none.
  int da[4], db[4], dout[4], dc[2] = {-1, -1};
  int index = 0, uses = 0;
  std::vector<std::string> weightNames;         // in the order met
  std::vector<std::pair<Type, bool>> sources;   // each weight's own type, transposed to [N, K]?
  bool gemv() const { return weight && a.isF32(); }
};

namespace {

std::string ref(const char *view, const char *field, int dim) {
  return std::string(view) + "." + field + "[" + std::to_string(dim) + "]";
}

JV param(const char *name, const char *kind, const char *from = "arg") {
  return Object{{"name", name}, {"kind", kind}, {"from", from}};
}
JV check(std::initializer_list<JV> lhs, const char *cmp, std::initializer_list<JV> rhs, std::string error) {
  return Object{{"lhs", Array(lhs)}, {"cmp", cmp}, {"rhs", Array(rhs)}, {"error", std::move(error)}};
}
JV kernel(std::string name, Array grid, int64_t block) {
  return Object{{"kernel", std::move(name)}, {"grid", std::move(grid)}, {"block", block}, {"shared_bytes", 0}};
}

// A size of one term, the product `factors` (Array{Array(...)} would copy, not nest).
JV productTerm(Array factors) {
  Array sum;
  sum.push_back(JV(std::move(factors)));
  return sum;
}

std::string dims(const int *d, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s;
}

} // namespace

MatMulEmitter::MatMulEmitter(WeightStorage weights) : weights_(weights) {}
MatMulEmitter::~MatMulEmitter() = default;

int MatMulEmitter::configurations(bool gemm) const {
  int n = 0;
  for (auto &[key, c] : configs_) n += c->gemm == gemm;
  return n;
}

LogicalResult MatMulEmitter::add(Operation *op, std::string &noForm) {
  auto mm = dyn_cast<bmck::MatMulOp>(op);
  auto gm = dyn_cast<bmck::GemmOp>(op);
  Value lhs = mm ? mm.getLhs() : gm.getA(), rhs = mm ? mm.getRhs() : gm.getB();
  Value cv = gm ? gm.getC() : Value();
  std::optional<StringRef> weightName = mm ? mm.getWeight() : gm.getWeight();
  auto av = cast<bmck::ViewType>(lhs.getType()), bv = cast<bmck::ViewType>(rhs.getType());
  auto ov = cast<bmck::ViewType>(op->getResult(0).getType());
  MatMulConfig c;
  c.gemm = bool(gm);
  c.a = av.getElementType(), c.b = bv.getElementType(), c.out = ov.getElementType();
  c.aRank = int(av.getRank()), c.bRank = int(bv.getRank()), c.outRank = int(ov.getRank());
  for (auto [what, t] : {std::pair{"left operand", c.a}, {"right operand", c.b}, {"result", c.out}})
    if (!cudaType(t))
      return op->emitError() << "CUDA emitter: " << what << " of " << t << ", expected f32, f16 or bf16";
  if (c.aRank > 4 || c.bRank > 4 || c.outRank > 4)
    return op->emitError() << "CUDA emitter: operands of rank " << c.aRank << " and " << c.bRank
                           << ", at most 4 (the kernels take views of rank <= 4)";
  if (cv) {
    auto ct = cast<bmck::ViewType>(cv.getType());
    c.c = ct.getElementType(), c.cRank = int(ct.getRank());
    if (!cudaType(c.c)) return op->emitError() << "CUDA emitter: C of " << c.c << ", expected f32, f16 or bf16";
  }
  if (gm) {
    c.transA = gm.getTransA(), c.transB = gm.getTransB();
    c.alpha = gm.getAlpha().convertToFloat(), c.beta = gm.getBeta().convertToFloat();
  }

  // A named weight: its device copy is [N, K] row-major in the storage the
  // model's weight or `weights` says.
  std::pair<Type, bool> source;
  if (weightName) {
    auto tv = rhs.getDefiningOp<bmck::ToViewOp>();
    std::optional<MatMulWeight> w = tv ? findMatMulWeight(tv.getTensor()) : std::nullopt;
    if (!w || w->weight.getName() != *weightName)
      return op->emitError() << "CUDA emitter: weight '" << *weightName
                             << "' is not what the right operand reads (expected a bmck.to_view of it, through at "
                                "most one Transpose and a widening Cast)";
    if (int bits = w->weight->hasAttr("bmc.quant_bits")
                       ? int(w->weight->getAttrOfType<IntegerAttr>("bmc.quant_bits").getInt())
                       : 0;
        bits || ((weights_ == WeightStorage::Int8 || weights_ == WeightStorage::Int4) && !w->narrow)) {
      if (!bits) bits = weights_ == WeightStorage::Int8 ? 8 : 4;
      noForm = op->getName().getStringRef().str() + " (int" + std::to_string(bits) + " weight)";
      return success();
    }
    auto shape = cast<bmck::ViewType>(rhs.getType()).getShape(); // static: the verifier's
    // The product's right operand op(b) is [K, N]; the device wants its transpose.
    bool bIsKN = !c.transB;
    c.k = bIsKN ? shape[0] : shape[1], c.n = bIsKN ? shape[1] : shape[0];
    Type own = w->narrow ? w->narrow : Type(Float32Type::get(op->getContext()));
    c.b = own;
    if (!w->narrow && weights_ == WeightStorage::F16) c.b = Float16Type::get(op->getContext());
    if (!w->narrow && weights_ == WeightStorage::BF16) c.b = BFloat16Type::get(op->getContext());
    c.weight = true;
    // The weight tensor W is [K, N] (device = W^T) unless the Transpose and
    // trans_b, one or the other, already made it [N, K].
    source = {own, !(w->transposed != c.transB)};
  }

  // Dimensions. A view of rank r fills the last r of bmc_view4's four.
  auto setNone = [](int *d) { d[0] = d[1] = d[2] = d[3] = -1; };
  setNone(c.da), setNone(c.db), setNone(c.dout);
  if (gm) {
    c.da[2] = c.transA ? 3 : 2, c.da[3] = c.transA ? 2 : 3;
    c.db[2] = c.transB ? 3 : 2, c.db[3] = c.transB ? 2 : 3;
    c.dout[2] = 2, c.dout[3] = 3;
    if (c.cRank == 2) c.dc[0] = 2, c.dc[1] = 3;
    if (c.cRank == 1) c.dc[1] = 3;
  } else {
    int nbA = c.aRank >= 2 ? c.aRank - 2 : 0, nbB = c.bRank >= 2 ? c.bRank - 2 : 0, nb = std::max(nbA, nbB);
    // Out's batch j (of nb) is slot 2 - nb + j of (b0, b1); an operand's batch j
    // is its view dimension 2 - nb + j when it has that many.
    for (int j = 0; j < nb; ++j) {
      int slot = 2 - nb + j, dim = 2 - nb + j;
      if (c.aRank >= 2 && dim >= 4 - c.aRank) c.da[slot] = dim;
      if (c.bRank >= 2 && dim >= 4 - c.bRank) c.db[slot] = dim;
      c.dout[slot] = 4 - c.outRank + j;
    }
    if (c.aRank >= 2) c.da[2] = 2, c.dout[2] = 4 - c.outRank + nb;
    c.da[3] = 3;
    if (c.bRank >= 2) c.db[2] = 2, c.db[3] = 3, c.dout[3] = 3;
    else c.db[2] = 3;
  }
  if (c.weight) setNone(c.db);

  std::string key = std::string(c.gemm ? "gemm" : "matmul") + "/" + typeName(c.a) + "/" + typeName(c.b) + "/" +
                    typeName(c.out) + "/" + (cv ? typeName(c.c) : "-") + "/" + std::to_string(c.aRank) + "/" +
                    std::to_string(c.bRank) + "/" + std::to_string(c.cRank) + "/" + std::to_string(c.transA) +
                    std::to_string(c.transB) + "/" + floatLiteral(c.alpha) + "/" + floatLiteral(c.beta) + "/" +
                    (c.weight ? "w" + std::to_string(c.n) + "x" + std::to_string(c.k) : "-");
  auto it = configs_.find(key);
  if (it == configs_.end()) {
    c.index = configurations(c.gemm);
    it = configs_.emplace(key, std::make_unique<MatMulConfig>(c)).first;
    order_.push_back(key);
  }
  MatMulConfig &have = *it->second;
  ++have.uses;
  if (weightName) have.weightNames.push_back(weightName->str()), have.sources.push_back(source);
  ++(c.gemm ? gemms_ : matmuls_);
  return success();
}

namespace {

// The launch description and kernels of one configuration.
void writeConfig(const MatMulConfig &c, llvm::raw_ostream &os) {
  const char *opName = c.gemm ? "bmck.gemm" : "bmck.matmul";
  std::string base = std::string(c.gemm ? "bmc_gemm_" : "bmc_matmul_") + std::to_string(c.index);
  std::string what = std::string(c.gemm ? "gemm " : "matmul ") + std::to_string(c.index) + " (";
  what += c.weight ? "weight " + typeName(c.b) + " [" + std::to_string(c.n) + ", " + std::to_string(c.k) + "]"
                   : typeName(c.a) + " x " + typeName(c.b);
  what += "): ";
  bool hasC = c.cRank >= 0;

  // Sizes as references: m and k from A, n from B or the weight, batch from out.
  auto sizeRef = [](const char *v, int dim) -> JV { return dim < 0 ? JV(1) : JV(ref(v, "size", dim)); };
  JV m = sizeRef("a", c.da[2]), k = c.weight ? JV(c.k) : sizeRef("a", c.da[3]);
  JV n = c.weight ? JV(c.n) : sizeRef("b", c.db[3]);
  Array batch{sizeRef("out", c.dout[0]), sizeRef("out", c.dout[1])};
  Array rows{sizeRef("out", c.dout[0]), sizeRef("out", c.dout[1]), m};

  Array params{param("a", "view4")};
  params.push_back(c.weight ? param("w", "weight") : param("b", "view4"));
  if (hasC) params.push_back(param("c", "view4"));
  params.push_back(param("out", "view4"));
  if (c.gemv()) {
    params.push_back(param("partial", "f32_ptr", "scratch"));
    params.push_back(param("splits", "i32", "plan"));
    params.push_back(param("k_chunk", "i32", "plan"));
  }

  Array checks;
  // A view of rank r fills the last r dimensions: the others must be 1.
  auto leading = [&](const char *v, int rank) {
    for (int d = 0; d < 4 - rank; ++d)
      checks.push_back(check({ref(v, "size", d)}, "==", {1},
                             what + v + " of rank " + std::to_string(rank) + " with size {" + ref(v, "size", d) +
                                 "} in dimension " + std::to_string(d) + " of 4, expected 1"));
  };
  leading("a", c.aRank);
  if (!c.weight) leading("b", c.bRank);
  if (hasC) leading("c", c.cRank);
  leading("out", c.outRank);
  std::string aK = ref("a", "size", c.da[3]);
  if (c.weight)
    checks.push_back(check({aK}, "==", {c.k}, what + "a of K {" + aK + "}, the weight's " + std::to_string(c.k)));
  else {
    std::string bK = ref("b", "size", c.db[2]);
    checks.push_back(check({aK}, "==", {bK}, what + "a of K {" + aK + "}, b of K {" + bK + "}"));
  }
  if (c.dout[2] >= 0) {
    std::string om = ref("out", "size", c.dout[2]), am = ref("a", "size", c.da[2]);
    checks.push_back(check({om}, "==", {am}, what + "out of {" + om + "} rows, a of {" + am + "}"));
  }
  if (c.dout[3] >= 0) {
    std::string on = ref("out", "size", c.dout[3]);
    if (c.weight)
      checks.push_back(check({on}, "==", {c.n}, what + "out of {" + on + "} columns, the weight's " + std::to_string(c.n)));
    else {
      std::string bn = ref("b", "size", c.db[3]);
      checks.push_back(check({on}, "==", {bn}, what + "out of {" + on + "} columns, b of {" + bn + "}"));
    }
  }
  for (int s = 0; s < 2; ++s) {
    if (c.dout[s] < 0) continue;
    std::string o = ref("out", "size", c.dout[s]);
    for (auto [v, d] : {std::pair{"a", c.da[s]}, {"b", c.weight ? -1 : c.db[s]}}) {
      if (d < 0) continue;
      std::string x = ref(v, "size", d);
      checks.push_back(check({x}, "bcast", {o}, what + v + " of batch {" + x + "} in dimension " + std::to_string(d) +
                                                    ", expected 1 or out's {" + o + "}"));
    }
  }
  if (hasC)
    for (int s = 0; s < 2; ++s) {
      if (c.dc[s] < 0) continue;
      std::string x = ref("c", "size", c.dc[s]), o = ref("out", "size", c.dout[2 + s]);
      checks.push_back(check({x}, "bcast", {o}, what + "C of {" + x + "} " + (s ? "columns" : "rows") +
                                                    ", expected 1 or {" + o + "}"));
    }
  if (c.dout[1] >= 0) {
    std::string b0 = c.dout[0] >= 0 ? "{" + ref("out", "size", c.dout[0]) + "} x " : "";
    checks.push_back(check({Array(batch)}, "<=", {65535},
                           what + "a batch of " + b0 + "{" + ref("out", "size", c.dout[1]) + "} > 65535 (grid z)"));
  }

  Object plan{{"kind", "matmul"},         {"rows", productTerm(rows)}, {"m", Array{m}},
              {"n", Array{n}},            {"k", Array{k}},              {"gemv_max_rows", c.gemv() ? kGemvMaxRows : 0},
              {"gemv_rows_per_block", kGemvRowsPerBlock}, {"tile", kTile}, {"epilogue_threads", kEpilogueThreads}};
  // Many rows through the device GEMM (Device::gemm: cuBLASLt on a GPU) when
  // the configuration maps onto one (GemmDesc: one type for A and B, out f32
  // or that type, C in place); the launcher checks the views at run time.
  std::string note;
  if (hasC)
    note = "C is added by the tiled kernel's epilogue (the device GEMM's beta * C reads C in place)";
  else if (c.a != c.b)
    note = typeName(c.a) + " x " + (c.weight ? "weight " : "") + typeName(c.b) +
           ": the device GEMM takes one type for A and B";
  else if (!c.out.isF32() && c.out != c.a)
    note = typeName(c.out) + " out of " + typeName(c.a) + " operands: the device GEMM writes f32 or A's type";
  plan["prefill"] = note.empty() ? "device_gemm" : "tiled";
  if (!note.empty()) plan["prefill_note"] = note;
  auto dimList = [](const int *d) { return Array{d[0], d[1], d[2], d[3]}; };
  plan["gemm"] = Object{{"a", typeName(c.a)}, {"b", typeName(c.b)}, {"out", typeName(c.out)},
                        {"alpha", double(c.alpha)}, {"a_dims", dimList(c.da)}, {"b_dims", dimList(c.db)},
                        {"out_dims", dimList(c.dout)}};
  Object desc{{"version", 1}, {"op", opName}, {"config", c.index}, {"params", std::move(params)},
              {"checks", std::move(checks)}, {"plan", std::move(plan)}};
  if (c.weight) {
    Array sources;
    for (size_t i = 0; i < c.weightNames.size(); ++i)
      sources.push_back(Object{{"name", c.weightNames[i]},
                               {"type", typeName(c.sources[i].first)},
                               {"transpose", c.sources[i].second}});
    desc["weight"] = Object{{"storage", typeName(c.b)}, {"layout", "n_k"}, {"n", c.n}, {"k", c.k},
                            {"sources", std::move(sources)}};
  }
  Array launches;
  if (c.gemv()) {
    desc["scratch"] = Array{Object{{"name", "partial"}, {"floats", productTerm(Array{"plan.gemv_rows", "plan.splits", c.n})}}};
    launches.push_back(kernel(base + "_gemv", Array{"plan.gemv_blocks", "plan.splits", "plan.gemv_rows"}, kGemvThreads));
    launches.push_back(kernel(base + "_epilogue", Array{"plan.epilogue_blocks", "plan.gemv_rows", 1}, kEpilogueThreads));
  }
  launches.push_back(kernel(base + "_tiled", Array{"plan.tiles_n", "plan.tiles_m", Array(batch)}, kTile * kTile));
  desc["launches"] = std::move(launches);
  os << "\n// bmc-launch: " << JV(std::move(desc)) << "\n";

  // The comment, then the kernels.
  os << "// " << (c.gemm ? "gemm " : "matmul ") << c.index << ": a " << typeName(c.a) << " (rank " << c.aRank
     << (c.transA ? ", transposed" : "") << ") x ";
  if (c.weight)
    os << "weight [" << c.k << ", " << c.n << "] (on the device " << typeName(c.b) << " [N, K] row-major)";
  else
    os << "b " << typeName(c.b) << " (rank " << c.bRank << (c.transB ? ", transposed" : "") << ")";
  if (c.gemm) os << ", alpha " << floatLiteral(c.alpha) << ", beta " << floatLiteral(c.beta);
  if (hasC) os << ", C " << typeName(c.c) << " (rank " << c.cRank << ")";
  os << " -> " << typeName(c.out) << " (rank " << c.outRank << ") (" << c.uses << (c.uses == 1 ? " op" : " ops")
     << ").\n// Dimensions (b0, b1, rows, columns) of a: " << dims(c.da, 4);
  if (!c.weight) os << "; b: " << dims(c.db, 4);
  os << "; out: " << dims(c.dout, 4) << (hasC ? "; C (rows, columns): " + dims(c.dc, 2) : "") << ".\n";
  os << "// " << (c.gemv() ? "Up to " + std::to_string(kGemvMaxRows) + " rows: _gemv (split-K) then _epilogue; more: "
                            : "")
     << "_tiled (the reference GEMM), or the device GEMM where the plan's prefill allows.\n";

  std::string sig = "bmc_view4 a, ";
  sig += c.weight ? "const void *w, " : "bmc_view4 b, ";
  if (hasC) sig += "bmc_view4 c, ";
  sig += "bmc_view4 out";
  if (c.gemv()) sig += ", float *partial, int splits, int k_chunk";
  std::string ta = cudaType(c.a), tb = cudaType(c.b), to = cudaType(c.out), tc = hasC ? cudaType(c.c) : "bmc_f32";
  std::string prologue =
      "  bmc_mm_operand A = bmc_mm_of(a, " + dims(c.da, 4) + ");\n" +
      (c.weight ? "  bmc_mm_operand B = bmc_mm_weight(w, " + std::to_string(c.k) + ");\n"
                : "  bmc_mm_operand B = bmc_mm_of(b, " + dims(c.db, 4) + ");\n") +
      "  bmc_mm_operand O = bmc_mm_of(out, " + dims(c.dout, 4) + ");\n" +
      (hasC ? "  bmc_mm_operand C = bmc_mm_of(c, -1, -1, " + dims(c.dc, 2) + ");\n" : "  bmc_mm_operand C = O;\n") +
      "  int batch1 = bmc_mm_size(out, " + std::to_string(c.dout[1]) + "), m = bmc_mm_size(a, " +
      std::to_string(c.da[2]) + ");\n" + "  int n = " +
      (c.weight ? std::to_string(c.n) : "bmc_mm_size(b, " + std::to_string(c.db[3]) + ")") + ", k = " +
      (c.weight ? std::to_string(c.k) : "bmc_mm_size(a, " + std::to_string(c.da[3]) + ")") + ";\n" +
      "  (void)B, (void)C, (void)k;\n";
  std::string epi = std::string(hasC ? "1" : "0") + ", " + floatLiteral(c.alpha) + ", " + floatLiteral(c.beta);
  if (c.gemv()) {
    os << "extern \"C\" __global__ void __launch_bounds__(BMC_GEMV_WARPS * BMC_WARP)\n"
       << base << "_gemv(" << sig << ") {\n"
       << prologue << "  bmc_mm_gemv<" << tb << ">(A, static_cast<const " << tb << "::storage *>(w), partial, batch1, m, n, k, k_chunk);\n}\n"
       << "extern \"C\" __global__ void __launch_bounds__(BMC_MM_EPILOGUE_THREADS)\n"
       << base << "_epilogue(" << sig << ") {\n"
       << prologue << "  bmc_mm_epilogue<" << to << ", " << tc << ">(partial, splits, O, C, " << epi
       << ", batch1, m, n);\n}\n";
  }
  os << "extern \"C\" __global__ void __launch_bounds__(BMC_MM_TILE * BMC_MM_TILE)\n"
     << base << "_tiled(" << sig << ") {\n"
     << prologue << "  bmc_mm_tiled<" << ta << ", " << tb << ", " << to << ", " << tc << ">(A, B, O, C, " << epi
     << ", batch1, m, n, k);\n}\n";
}

} // namespace

void MatMulEmitter::write(llvm::raw_ostream &os) const {
  for (bool gemm : {false, true})
    for (const std::string &key : order_)
      if (configs_.at(key)->gemm == gemm) writeConfig(*configs_.at(key), os);
}

} // namespace mlir::bmc::cuda
