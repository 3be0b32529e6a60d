//===- EmitCuda.cpp - kernel-level ops -> CUDA C --------------------------===//
//
// One __global__ per distinct configuration, not per op: the layers of a
// decoder share their kernels (a 24-layer Llama has one kv_append kernel per
// cache type and one attention pair), and the configuration's constants
// (head_dim, group, scale, softcap, ...) are compiled into it. Each emitted
// kernel is a few lines calling a device function of runtime/device/cuda/
// (bmc_kv_append_rows, bmc_decode_attention_split / _combine_rows; the row
// kernels of EmitCudaNorm.cpp bmc_norm_view_row / bmc_softmax_view_row; the
// fused groups of EmitCudaElementwise.cpp, one expression per op; the
// copies of EmitCudaData.cpp, concat, gather and copy, and its range): the math
// exists once, checked against the CPU reference kernels in the host
// emulation (tests/unit/device).
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCuda.h"
#include "compiler/targets/cuda/EmitCudaData.h"
#include "compiler/targets/cuda/EmitCudaElementwise.h"
#include "compiler/targets/cuda/EmitCudaMatMul.h"
#include "compiler/targets/cuda/EmitCudaNorm.h"
#include "compiler/targets/cuda/EmitCudaProgram.h"
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/ToolOutputFile.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <vector>

namespace mlir::bmc::cuda {
#define GEN_PASS_DEF_EMITCUDA
#include "compiler/targets/cuda/Passes.h.inc"
} // namespace mlir::bmc::cuda

using namespace mlir;
using mlir::bmc::cuda::count;
using mlir::bmc::cuda::cudaType;
using mlir::bmc::cuda::floatLiteral;
using mlir::bmc::cuda::typeName;

namespace {

// The limits of bmc_decode_attention_split (decode_attention_params.h).
constexpr int64_t kMaxHeadDim = 256, kMaxGroup = 8;
// BMC_ATTN_THREADS (decode_attention.cuh) and BMC_ATTN_MAX_ROWS_PER_SPLIT.
constexpr int64_t kAttnThreads = 128, kMaxRowsPerSplit = 256;

std::string decimal(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", double(f));
  return buf;
}

struct KVAppendConfig {
  std::string from, to; // bmc_f32 ...
  std::string fromName, toName;
  int64_t heads, headDim;
  std::string key() const {
    return from + "/" + to + "/" + std::to_string(heads) + "/" + std::to_string(headDim);
  }
};

struct AttentionConfig {
  std::string kv, kvName;
  int64_t headDim, group;
  float scale, softcap;
  bool maskPadding, hasMask, smooth;
  std::string key() const {
    return kv + "/" + std::to_string(headDim) + "/" + std::to_string(group) + "/" + floatLiteral(scale) + "/" +
           (maskPadding ? "mask" : "skip") + "/" + (hasMask ? "m" : "-") + "/" + floatLiteral(softcap) + "/" +
           (smooth ? "smooth" : "-");
  }
};

// Threads of one kv_append block: head_dim rounded up to whole warps, at most 256.
int64_t appendThreads(int64_t headDim) { return std::min<int64_t>(256, (headDim + 31) / 32 * 32); }

} // namespace

// A location as a user reads it: file:line:col, an ONNX node's name, or "".
std::string mlir::bmc::cuda::describeLocation(Location loc) {
  if (auto f = dyn_cast<FusedLoc>(loc)) return f.getLocations().empty() ? "" : describeLocation(f.getLocations().front());
  if (auto c = dyn_cast<CallSiteLoc>(loc)) return describeLocation(c.getCallee());
  if (auto f = dyn_cast<FileLineColLoc>(loc))
    return f.getFilename().str() + ":" + std::to_string(f.getLine()) + ":" + std::to_string(f.getColumn());
  if (auto n = dyn_cast<NameLoc>(loc)) { // the frontend's: node name, then "OpType, opset N"
    if (auto inner = dyn_cast<NameLoc>(n.getChildLoc()))
      return "node '" + n.getName().str() + "' (" + inner.getName().str() + ")";
    return "node '" + n.getName().str() + "'";
  }
  return "";
}

namespace {

// The launch description the runtime's launcher reads (runtime/device/
// EmittedLauncher.h; docs/DESIGN.md, "CUDA emitter"): one line
// `// bmc-launch: {json}` per configuration, in front of its kernels.
// A size is a sum of terms, a term a number, a reference ("rows.size[2]",
// "cache.valid", "padded", "plan.splits") or a list of those (a product).
namespace launch {
using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

Value param(const char *name, const char *kind, const char *from = "arg") {
  return Object{{"name", name}, {"kind", kind}, {"from", from}};
}
// A check: lhs `cmp` rhs (==, !=, <=, bcast: lhs == rhs or lhs == 1), else the
// error (its {ref}s replaced by their values).
Value check(std::initializer_list<Value> lhs, const char *cmp, std::initializer_list<Value> rhs, std::string error) {
  return Object{{"lhs", Array(lhs)}, {"cmp", cmp}, {"rhs", Array(rhs)}, {"error", std::move(error)}};
}
Value product(std::initializer_list<Value> terms) { return Array(terms); }
Value kernel(std::string name, Array grid, int64_t block) {
  return Object{{"kernel", std::move(name)}, {"grid", std::move(grid)}, {"block", block}, {"shared_bytes", 0}};
}
std::string line(Value v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "// bmc-launch: " << v << "\n";
  return s;
}
} // namespace launch

class Emitter {
public:
  explicit Emitter(const mlir::bmc::cuda::CudaEmitOptions &o) : options_(o), matmuls_(o.weights) {}

  LogicalResult run(ModuleOp module, llvm::raw_ostream &os) {
    WalkResult r = module.walk([&](Operation *op) {
      if (isa<ModuleOp, func::FuncOp, func::ReturnOp>(op)) return WalkResult::advance();
      // The ops of an elementwise group are its body, not kernels of their own.
      if (op->getParentOfType<bmck::ElementwiseOp>()) return WalkResult::advance();
      if (auto a = dyn_cast<bmck::KVAppendOp>(op)) return succeeded(kvAppend(a)) ? WalkResult::advance() : WalkResult::interrupt();
      if (auto a = dyn_cast<bmck::AttentionOp>(op)) return succeeded(attention(a)) ? WalkResult::advance() : WalkResult::interrupt();
      if (auto n = dyn_cast<bmck::NormOp>(op)) {
        if (failed(norms_.add(n))) return WalkResult::interrupt();
        launches_[op] = {"bmck.norm", norms_.lastConfig()};
        return WalkResult::advance();
      }
      if (auto s = dyn_cast<bmck::SoftmaxOp>(op)) {
        if (failed(norms_.add(s))) return WalkResult::interrupt();
        launches_[op] = {"bmck.softmax", norms_.lastConfig()};
        return WalkResult::advance();
      }
      if (auto e = dyn_cast<bmck::ElementwiseOp>(op)) {
        if (failed(elementwise_.add(e))) return WalkResult::interrupt();
        launches_[op] = {"bmck.elementwise", elementwise_.lastConfig()};
        return WalkResult::advance();
      }
      // A product (quantized), reduction (integer) or copy (rank > 4) without a CUDA form: left, by that name.
      std::string noForm;
      if (auto c = dyn_cast<bmck::ConcatOp>(op)) {
        if (failed(data_.add(c, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmck.concat", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto g = dyn_cast<bmck::GatherOp>(op)) {
        if (failed(data_.add(g, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmck.gather", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto c = dyn_cast<bmck::CopyOp>(op)) {
        if (failed(data_.add(c, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmck.copy", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto r = dyn_cast<bmck::RangeOp>(op)) {
        if (failed(data_.add(r, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmck.range", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto g = dyn_cast<bmc::GatherNDOp>(op)) {
        if (failed(data_.add(g, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmc.gather_nd", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto f = dyn_cast<bmc::ConstantOfShapeOp>(op)) {
        if (failed(data_.add(f, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmc.constant_of_shape", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto ce = dyn_cast<bmc::CheckEqualOp>(op); ce && !mlir::bmc::cuda::isHostCheck(op)) {
        if (failed(data_.add(ce, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmc.check_equal", data_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (auto r = dyn_cast<bmck::ReduceOp>(op)) {
        if (failed(reduces_.add(r, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {"bmck.reduce", reduces_.lastConfig()};
          return WalkResult::advance();
        }
      }
      if (isa<bmck::MatMulOp, bmck::GemmOp>(op)) {
        if (failed(matmuls_.add(op, noForm))) return WalkResult::interrupt();
        if (noForm.empty()) {
          launches_[op] = {isa<bmck::GemmOp>(op) ? "bmck.gemm" : "bmck.matmul", matmuls_.lastConfig()};
          return WalkResult::advance();
        }
      }
      // Views (a new offset, sizes and strides of the same storage) have no
      // code: the kernel that reads one takes its strides.
      if (isa<bmck::ToViewOp, bmck::ToTensorOp, bmck::KVRowsOp>(op) || bmck::isStorageView(op)) {
        ++views_;
        return WalkResult::advance();
      }
      // A shape vector of host scalars (a slice's bounds, an expand's shape),
      // or a check_equal of such vectors: the host's, like the scalars (a
      // program's shape step; the check made before any launch).
      if (isa<tensor::FromElementsOp>(op) || mlir::bmc::cuda::isHostCheck(op)) {
        ++scalars_;
        return WalkResult::advance();
      }
      bool tensorLevel = llvm::any_of(op->getResultTypes(), [](Type t) { return isa<RankedTensorType>(t); });
      if (op->getDialect() && op->getDialect()->getNamespace() == "bmck") // a kernel-level op without a CUDA form
        tensorLevel = true;
      if (!tensorLevel && noForm.empty()) {
        ++scalars_;
        return WalkResult::advance();
      }
      // The refusal names the first op of the model's own dialects (a user can
      // act on a bmc.matmul in layer 3, not on an arith.constant of a shape);
      // weights are data, not kernels. Any op when there is no such op.
      StringRef ns = op->getDialect() ? op->getDialect()->getNamespace() : StringRef();
      bool actionable = (ns == "bmc" || ns == "bmck") && !isa<bmc::WeightOp>(op);
      std::string name = noForm.empty() ? op->getName().getStringRef().str() : noForm;
      // A program uploads weights and constants (EmitCudaProgram.h): counted
      // here as without a kernel, never a whole-model refusal.
      bool data = noForm.empty() && mlir::bmc::cuda::isProgramData(op);
      if (!data && (!firstLeft_ || (actionable && !firstActionable_))) firstLeft_ = op, firstActionable_ = actionable, firstLeftName_ = name;
      ++left_[name];
      ++leftTotal_;
      return WalkResult::advance();
    });
    if (r.wasInterrupted()) return failure();
    if (options_.wholeModel && firstLeft_) {
      std::string where;
      if (auto layer = firstLeft_->getAttrOfType<IntegerAttr>("bmc.layer"))
        where += " in layer " + std::to_string(layer.getInt());
      if (std::string loc = mlir::bmc::cuda::describeLocation(firstLeft_->getLoc()); !loc.empty()) where += " at " + loc;
      InFlightDiagnostic d = firstLeft_->emitError()
                             << "the CUDA target cannot compile this model yet: '" << firstLeftName_ << "'" << where << " has no CUDA form (" << count(leftTotal_, "op") << " without one: " << leftSummary()
                             << "); only bmck.kv_append, bmck.attention, bmck.matmul, bmck.gemm, bmck.norm, bmck.softmax, bmck.elementwise, bmck.reduce, bmck.concat, bmck.gather, bmck.copy, bmck.range, bmc.check_equal, bmc.constant_of_shape and bmc.gather_nd are emitted";
      return failure();
    }
    // A whole-model compile: each function's program (EmitCudaProgram.h).
    std::string programs;
    llvm::raw_string_ostream ps(programs);
    if (options_.wholeModel)
      for (auto f : module.getOps<func::FuncOp>())
        if (!f.isExternal() && failed(mlir::bmc::cuda::writeProgram(f, launches_, ps))) return failure();
    write(os);
    if (!programs.empty())
      os << "\n// Programs (runtime/device/DeviceProgram.h): one bmc-program line per function; the weights,\n"
            "// constants and weight Casts / Transposes counted above as left are their data, uploaded once.\n"
         << programs;
    return success();
  }

private:
  LogicalResult kvAppend(bmck::KVAppendOp op) {
    auto cache = cast<bmc::KVCacheType>(op.getCache().getType());
    auto rows = cast<bmck::ViewType>(op.getRows().getType());
    KVAppendConfig c;
    const char *from = cudaType(rows.getElementType()), *to = cudaType(cache.getElementType());
    if (!from || !to)
      return op.emitError() << "CUDA emitter: rows " << rows.getElementType() << " -> cache "
                            << cache.getElementType() << ": expected f32, f16 or bf16";
    if (rows.getRank() != 4) return op.emitError() << "CUDA emitter: rows of rank " << rows.getRank() << ", expected 4";
    c.from = from, c.to = to, c.fromName = typeName(rows.getElementType()), c.toName = typeName(cache.getElementType());
    c.heads = cache.getHeads(), c.headDim = cache.getHeadDim();
    ++kvAppends_;
    launches_[op] = {"bmck.kv_append", add(appends_, appendOrder_, c.key(), c)};
    return success();
  }

  LogicalResult attention(bmck::AttentionOp op) {
    auto q = cast<bmck::ViewType>(op.getQ().getType()), k = cast<bmck::ViewType>(op.getK().getType()),
         v = cast<bmck::ViewType>(op.getV().getType());
    if (!q.getElementType().isF32())
      return op.emitError() << "CUDA emitter: q of " << q.getElementType() << ", expected f32 (the kernel's query type)";
    if (k.getElementType() != v.getElementType())
      return op.emitError() << "CUDA emitter: K of " << k.getElementType() << " and V of " << v.getElementType()
                            << ", expected one KV type";
    const char *kv = cudaType(k.getElementType());
    if (!kv) return op.emitError() << "CUDA emitter: K/V of " << k.getElementType() << ", expected f32, f16 or bf16";
    if (op.getMask() && !cast<bmck::ViewType>(op.getMask().getType()).getElementType().isF32())
      return op.emitError() << "CUDA emitter: mask of " << cast<bmck::ViewType>(op.getMask().getType()).getElementType()
                            << ", expected f32";
    int64_t heads = q.getShape()[1], kvHeads = k.getShape()[1], d = q.getShape()[3], vd = v.getShape()[3];
    if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) || ShapedType::isDynamic(d) ||
        ShapedType::isDynamic(vd))
      return op.emitError() << "CUDA emitter: heads, KV heads and head_dim must be static, found " << q << " and " << k;
    if (vd != d) return op.emitError() << "CUDA emitter: V head_dim " << vd << " != K head_dim " << d << " (not supported)";
    if (d > kMaxHeadDim) return op.emitError() << "CUDA emitter: head_dim " << d << ", at most " << kMaxHeadDim;
    if (heads / kvHeads > kMaxGroup)
      return op.emitError() << "CUDA emitter: GQA group " << heads / kvHeads << " (" << heads << " / " << kvHeads
                            << " heads), at most " << kMaxGroup;
    AttentionConfig c;
    c.kv = kv, c.kvName = typeName(k.getElementType()), c.headDim = d, c.group = heads / kvHeads;
    c.scale = op.getScale().convertToFloat(), c.softcap = op.getSoftcap().convertToFloat();
    c.maskPadding = op.getPadding() == bmc::KVPadding::Mask && op.getPadded();
    c.hasMask = bool(op.getMask()), c.smooth = op.getSmoothSoftmax();
    ++attentions_;
    launches_[op] = {"bmck.attention", add(attns_, attnOrder_, c.key(), c)};
    return success();
  }

  // Records a configuration; returns its number.
  template <typename C>
  int add(std::map<std::string, std::pair<C, int>> &m, std::vector<std::string> &order, const std::string &key,
          const C &c) {
    auto [it, fresh] = m.try_emplace(key, c, 0);
    if (fresh) order.push_back(key);
    ++it->second.second;
    return int(std::find(order.begin(), order.end(), key) - order.begin());
  }

  std::string leftSummary() const {
    std::string s;
    for (auto &[name, n] : left_) s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n);
    return s;
  }

  void write(llvm::raw_ostream &os) const {
    os << "// CUDA C from bmc's CUDA emitter (compiler/targets/cuda/EmitCuda.cpp).\n"
          "// Needs the device functions of runtime/device/cuda: decode_attention_params.h, common.cuh,\n"
          "// kv_append.cuh, decode_attention.cuh, gemv.cuh, matmul.cuh, norm.cuh, elementwise.cuh, data.cuh in front\n"
          "// (bmc::device::cudaEmittedKernelSource).\n"
       << "// Kernel ops: " << kvAppends_ << " bmck.kv_append (" << count(appendOrder_.size(), "configuration")
       << "), " << attentions_ << " bmck.attention (" << count(attnOrder_.size(), "configuration") << "), "
       << matmuls_.matmuls() << " bmck.matmul (" << count(matmuls_.configurations(false), "configuration") << "), "
       << matmuls_.gemms() << " bmck.gemm (" << count(matmuls_.configurations(true), "configuration") << "), "
       << norms_.summary() << ", " << elementwise_.summary() << ", " << reduces_.summary() << ", "
       << data_.concatSummary() << ", " << data_.gatherSummary() << ", " << data_.copySummary() << ", " << data_.rangeSummary() << ", " << data_.checkSummary() << ", " << data_.fillSummary() << ", " << data_.gatherNDSummary() << "; "
       << count(views_, "view") << " and seams (no code); " << count(scalars_, "scalar op")
       << " (sizes, computed by the host).\n"
       << "// Left for the CUDA target: " << count(leftTotal_, "op") << " without a CUDA form";
    if (leftTotal_) os << " (" << leftSummary() << ")";
    os << ".\n";
    int i = 0;
    for (const std::string &key : appendOrder_) {
      const auto &[c, uses] = appends_.at(key);
      int64_t threads = appendThreads(c.headDim);
      std::string name = "bmc_kv_append_" + std::to_string(i);
      {
        using namespace launch;
        std::string what = "kv_append " + std::to_string(i) + " (" + c.fromName + " rows -> " + c.toName + " cache, " +
                           std::to_string(c.heads) + " heads x " + std::to_string(c.headDim) + "): ";
        Object d{{"version", 1}, {"op", "bmck.kv_append"}, {"config", i},
                 {"params", Array{param("cache", "kv_buffer"), param("rows", "view4")}},
                 {"checks", Array{
                     check({"rows.size[0]"}, "==", {"cache.batch"},
                           what + "rows of batch {rows.size[0]}, cache of batch {cache.batch}"),
                     check({"rows.size[1]"}, "==", {c.heads}, what + "rows of {rows.size[1]} heads, expected " +
                                                                   std::to_string(c.heads)),
                     check({"rows.size[3]"}, "==", {c.headDim}, what + "rows of head_dim {rows.size[3]}, expected " +
                                                                     std::to_string(c.headDim)),
                     check({"cache.valid", "rows.size[2]"}, "<=", {"cache.capacity"},
                           what + "{cache.valid} valid + {rows.size[2]} new rows > capacity {cache.capacity} (the "
                                  "runtime grows the cache before the step)"),
                     check({"rows.size[0]"}, "<=", {65535}, what + "batch {rows.size[0]} > 65535 (grid z)")}},
                 {"launches", Array{kernel(name, Array{"rows.size[2]", c.heads, "rows.size[0]"}, threads)}}};
        os << "\n" << line(std::move(d));
      }
      os << "// kv_append " << i << ": " << c.fromName << " rows -> " << c.toName << " cache, " << c.heads
         << " heads x " << c.headDim << " (" << count(uses, "op")
         << "). Grid (seq, heads, batch), block " << threads
         << ";\n// the launcher (EmittedLauncher) makes the checks of the bmc-launch line above first.\n"
         << "extern \"C\" __global__ void __launch_bounds__(" << threads << ")\n"
         << name << "(bmc_kv_buffer cache, bmc_view4 rows) {\n"
         << "  bmc_kv_append_rows<" << c.from << ", " << c.to << ">(cache, rows, " << c.heads << ", " << c.headDim
         << ");\n}\n";
      ++i;
    }
    i = 0;
    for (const std::string &key : attnOrder_) {
      const auto &[c, uses] = attns_.at(key);
      std::string name = "bmc_attention_" + std::to_string(i);
      std::string params = "bmc_view4 q, bmc_view4 k, bmc_view4 v";
      std::string args = "q, k, v";
      if (c.hasMask) params += ", bmc_view4 mask", args += ", mask";
      if (c.maskPadding) params += ", long long padded", args += ", padded";
      params += ", bmc_view4 out, float *partial_out, float *partial_lse, int rows_per_split, int splits";
      args += ", out, partial_out, partial_lse, rows_per_split, splits";
      {
        using namespace launch;
        std::string what = "attention " + std::to_string(i) + " (K/V " + c.kvName + ", head_dim " +
                           std::to_string(c.headDim) + ", group " + std::to_string(c.group) + "): ";
        std::string d = std::to_string(c.headDim);
        Array params{param("q", "view4"), param("k", "view4"), param("v", "view4")};
        if (c.hasMask) params.push_back(param("mask", "view4"));
        if (c.maskPadding) params.push_back(param("padded", "i64"));
        params.push_back(param("out", "view4"));
        params.push_back(param("partial_out", "f32_ptr", "scratch"));
        params.push_back(param("partial_lse", "f32_ptr", "scratch"));
        params.push_back(param("rows_per_split", "i32", "plan"));
        params.push_back(param("splits", "i32", "plan"));
        Array checks{
            check({"k.size[0]"}, "==", {"q.size[0]"}, what + "K of batch {k.size[0]}, q of batch {q.size[0]}"),
            check({"v.size[0]"}, "==", {"q.size[0]"}, what + "V of batch {v.size[0]}, q of batch {q.size[0]}"),
            check({"q.size[1]"}, "==", {product({c.group, "k.size[1]"})},
                  what + "q of {q.size[1]} heads, K of {k.size[1]}: expected " + std::to_string(c.group) +
                      " query heads per KV head"),
            check({"v.size[1]"}, "==", {"k.size[1]"}, what + "V of {v.size[1]} heads, K of {k.size[1]}"),
            check({"v.size[2]"}, "==", {"k.size[2]"}, what + "V of {v.size[2]} rows, K of {k.size[2]}"),
            check({"q.size[3]"}, "==", {c.headDim}, what + "q of head_dim {q.size[3]}, expected " + d),
            check({"k.size[3]"}, "==", {c.headDim}, what + "K of head_dim {k.size[3]}, expected " + d),
            check({"v.size[3]"}, "==", {c.headDim}, what + "V of head_dim {v.size[3]}, expected " + d)};
        for (const char *v : {"q", "k", "v", "out"}) { // the kernel reads rows as contiguous head_dim vectors
          std::string st = std::string(v) + ".stride[3]";
          checks.push_back(check({st}, "==", {1}, what + v + " of inner stride {" + st + "}, expected 1"));
        }
        for (int dim = 0; dim < 4; ++dim) {
          std::string o = "out.size[" + std::to_string(dim) + "]", q = "q.size[" + std::to_string(dim) + "]";
          checks.push_back(check({o}, "==", {q}, what + "out of size {" + o + "} in dimension " + std::to_string(dim) +
                                                     ", q of {" + q + "}"));
        }
        if (c.hasMask) {
          checks.push_back(check({"mask.size[0]"}, "bcast", {"q.size[0]"},
                                 what + "mask of batch {mask.size[0]}, expected 1 or {q.size[0]}"));
          checks.push_back(check({"mask.size[1]"}, "bcast", {"q.size[1]"},
                                 what + "mask of {mask.size[1]} heads, expected 1 or {q.size[1]}"));
          checks.push_back(check({"mask.size[2]"}, "==", {"q.size[2]"},
                                 what + "mask of {mask.size[2]} query rows, q of {q.size[2]}"));
          checks.push_back(check({"k.size[2]"}, "<=", {"mask.size[3]"},
                                 what + "mask of {mask.size[3]} key rows, fewer than K's {k.size[2]}"));
        }
        if (c.maskPadding)
          checks.push_back(check({"k.size[2]"}, "<=", {"padded"},
                                 what + "padded length {padded} < K's {k.size[2]} valid rows"));
        if (c.maskPadding) // the kernel takes it as an int
          checks.push_back(check({"padded"}, "<=", {int64_t(INT32_MAX)}, what + "padded length {padded} > 2^31 - 1"));
        checks.push_back(check({product({"q.size[0]", "q.size[2]"})}, "<=", {65535},
                               what + "batch {q.size[0]} x {q.size[2]} query rows > 65535 (grid z)"));
        Value kvRows = c.maskPadding ? Value("padded") : Value("k.size[2]");
        Object plan{{"kind", "attention_splits"},
                    {"kv_rows", Array{kvRows}},
                    {"blocks", Array{product({"q.size[0]", "q.size[2]", "k.size[1]"})}},
                    {"max_rows_per_split", kMaxRowsPerSplit}};
        Array scratch{
            Object{{"name", "partial_out"},
                   {"floats", Array{product({"q.size[0]", "q.size[2]", "q.size[1]", "plan.splits", c.headDim})}}},
            Object{{"name", "partial_lse"},
                   {"floats", Array{product({"q.size[0]", "q.size[2]", "q.size[1]", "plan.splits"})}}}};
        Array launches{kernel(name + "_split", Array{"plan.splits", "k.size[1]", product({"q.size[0]", "q.size[2]"})}, kAttnThreads),
                       kernel(name + "_combine", Array{"q.size[1]", product({"q.size[0]", "q.size[2]"}), 1}, kAttnThreads)};
        Object desc{{"version", 1},          {"op", "bmck.attention"}, {"config", i},
                    {"params", std::move(params)}, {"checks", std::move(checks)}, {"plan", std::move(plan)},
                    {"scratch", std::move(scratch)}, {"launches", std::move(launches)}};
        os << "\n" << line(std::move(desc));
      }
      os << "// attention " << i << ": q f32, K/V " << c.kvName << ", head_dim " << c.headDim << ", group "
         << c.group << ", scale " << decimal(c.scale) << ", rows "
         << (c.maskPadding ? "mask (scores over `padded` rows, spare rows masked)"
                           : "skip (K's rows only; also mask without a padded length)")
         << (c.hasMask ? ", additive mask" : ", no mask");
      if (c.softcap > 0) os << ", softcap " << decimal(c.softcap);
      if (c.smooth) os << ", smooth softmax";
      os << " (" << count(uses, "op") << ").\n"
         << "// Split: grid (splits, kv_heads, batch * seq); combine: grid (heads, batch * seq); block\n"
         << "// BMC_ATTN_THREADS; partial_out / partial_lse hold batch * seq * heads * splits (* head_dim) floats.\n"
         << "__device__ __forceinline__ bmc_decode_attention_params " << name << "_params(" << params << ") {\n"
         << "  bmc_decode_attention_params p = bmc_attention_view_params<" << c.kv << ">(q, k, v, "
         << (c.hasMask ? "&mask" : "0") << ", out, partial_out, partial_lse, rows_per_split, splits);\n"
         << "  p.head_dim = " << c.headDim << ";\n"
         << "  p.kv_rows = " << (c.maskPadding ? "(int)padded" : "p.kv_len") << ";\n"
         << "  p.scale = " << floatLiteral(c.scale) << ";\n"
         << "  p.softcap = " << floatLiteral(c.softcap) << ";\n"
         << "  p.smooth_softmax = " << (c.smooth ? 1 : 0) << ";\n"
         << "  return p;\n}\n"
         << "extern \"C\" __global__ void __launch_bounds__(BMC_ATTN_THREADS)\n"
         << name << "_split(" << params << ") {\n"
         << "  bmc_decode_attention_split<" << c.kv << ", " << c.group << ", " << c.headDim << ">(" << name
         << "_params(" << args << "));\n}\n"
         << "extern \"C\" __global__ void __launch_bounds__(BMC_ATTN_THREADS)\n"
         << name << "_combine(" << params << ") {\n"
         << "  bmc_decode_attention_combine_rows<" << c.headDim << ">(" << name << "_params(" << args << "));\n}\n";
      ++i;
    }
    matmuls_.write(os);
    norms_.write(os); // EmitCudaNorm.cpp
    elementwise_.write(os); // EmitCudaElementwise.cpp
    reduces_.write(os);
    data_.write(os); // EmitCudaData.cpp
  }

  mlir::bmc::cuda::CudaEmitOptions options_;
  mlir::bmc::cuda::MatMulEmitter matmuls_;
  mlir::bmc::cuda::NormEmitter norms_;
  mlir::bmc::cuda::ElementwiseEmitter elementwise_;
  mlir::bmc::cuda::ReduceEmitter reduces_;
  mlir::bmc::cuda::DataEmitter data_;
  std::map<std::string, std::pair<KVAppendConfig, int>> appends_;
  std::map<std::string, std::pair<AttentionConfig, int>> attns_;
  std::vector<std::string> appendOrder_, attnOrder_;
  int kvAppends_ = 0, attentions_ = 0, views_ = 0, scalars_ = 0, leftTotal_ = 0;
  std::map<std::string, int> left_; // sorted by name: deterministic
  mlir::bmc::cuda::LaunchIndex launches_; // each kernel op's configuration
  Operation *firstLeft_ = nullptr;
  std::string firstLeftName_;
  bool firstActionable_ = false;
};

struct EmitCudaPass : mlir::bmc::cuda::impl::EmitCudaBase<EmitCudaPass> {
  using EmitCudaBase::EmitCudaBase;
  void runOnOperation() override {
    std::string text;
    llvm::raw_string_ostream os(text);
    mlir::bmc::cuda::CudaEmitOptions o;
    o.wholeModel = wholeModel;
    o.weights = weights;
    if (failed(mlir::bmc::cuda::emitCuda(getOperation(), os, o))) return signalPassFailure();
    std::string error;
    auto file = openOutputFile(output, &error);
    if (!file) {
      getOperation().emitError() << "bmc-emit-cuda: " << error;
      return signalPassFailure();
    }
    file->os() << text;
    file->keep();
  }
};

} // namespace

LogicalResult mlir::bmc::cuda::emitCuda(ModuleOp module, llvm::raw_ostream &os, const CudaEmitOptions &options) {
  return Emitter(options).run(module, os);
}
