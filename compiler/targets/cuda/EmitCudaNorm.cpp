//===- EmitCudaNorm.cpp - bmck.norm / bmck.softmax -> CUDA C ---------------===//
//
// See EmitCudaNorm.h. A view of rank r < 4 reaches a kernel as a bmc_view4
// with 4 - r leading dimensions of size 1 (the launcher's convention for every
// view); the row a block handles is (blockIdx.z, .y, .x) = dimensions 0, 1, 2.
//
//===----------------------------------------------------------------------===//

#include "compiler/targets/cuda/EmitCudaNorm.h"
#include "compiler/targets/cuda/EmitCudaUtil.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using mlir::bmc::cuda::NormEmitter;
using mlir::bmc::cuda::count;
using mlir::bmc::cuda::cudaType;
using mlir::bmc::cuda::floatLiteral;
using mlir::bmc::cuda::typeName;

namespace {

// BMC_NORM_THREADS (norm.cuh).
constexpr int64_t kNormThreads = 256;

/// The checks every row kernel makes: rank <= 4 is the emitter's; the
/// element type one of the three the device functions widen.
LogicalResult checkView(Operation *op, bmck::ViewType v, int64_t axis, const char *what) {
  if (v.getRank() < 1 || v.getRank() > 4)
    return op->emitError() << "CUDA emitter: " << what << " of rank " << v.getRank() << ", expected 1 to 4";
  if (axis != v.getRank() - 1)
    return op->emitError() << "CUDA emitter: " << what << " over dimension " << axis
                           << ", expected the last one (" << v.getRank() - 1 << ")";
  if (!cudaType(v.getElementType()))
    return op->emitError() << "CUDA emitter: " << what << " of " << v.getElementType()
                           << ", expected f32, f16 or bf16";
  return success();
}

namespace json = llvm::json;

json::Value param(const char *name) { return json::Object{{"name", name}, {"kind", "view4"}, {"from", "arg"}}; }
json::Value check(std::string lhs, const char *cmp, json::Value rhs, std::string error) {
  return json::Object{{"lhs", json::Array{std::move(lhs)}},
                      {"cmp", cmp},
                      {"rhs", json::Array{std::move(rhs)}},
                      {"error", std::move(error)}};
}

} // namespace

std::string NormEmitter::Config::key() const {
  return std::string(softmax ? "softmax/" : "norm/") + (rms ? "rms/" : "layer/") + (log ? "log/" : "-/") +
         (bias ? "bias/" : "-/") + type + "/" + floatLiteral(epsilon);
}

void NormEmitter::record(const Config &c) {
  auto [it, fresh] = configs_.try_emplace(c.key(), c, 0);
  if (fresh) (c.softmax ? softmaxOrder_ : normOrder_).push_back(c.key());
  ++it->second.second;
}

LogicalResult NormEmitter::add(bmck::NormOp op) {
  bmck::ViewType x = op.getInput().getType();
  if (failed(checkView(op, x, op.getAxis(), "norm"))) return failure();
  Config c;
  c.rms = op.getKind() == bmck::NormKind::RMS;
  c.bias = bool(op.getBias());
  c.type = cudaType(x.getElementType()), c.typeName = typeName(x.getElementType());
  c.epsilon = op.getEpsilon().convertToFloat();
  ++norms_;
  record(c);
  return success();
}

LogicalResult NormEmitter::add(bmck::SoftmaxOp op) {
  bmck::ViewType x = op.getInput().getType();
  if (failed(checkView(op, x, op.getAxis(), "softmax"))) return failure();
  Config c;
  c.softmax = true, c.log = op.getLog();
  c.type = cudaType(x.getElementType()), c.typeName = typeName(x.getElementType());
  ++softmaxes_;
  record(c);
  return success();
}

std::string NormEmitter::summary() const {
  return std::to_string(norms_) + " bmck.norm (" + count(normOrder_.size(), "configuration") + "), " +
         std::to_string(softmaxes_) + " bmck.softmax (" + count(softmaxOrder_.size(), "configuration") + ")";
}

void NormEmitter::write(llvm::raw_ostream &os) const {
  for (bool softmax : {false, true}) {
    const std::vector<std::string> &order = softmax ? softmaxOrder_ : normOrder_;
    for (auto [i, key] : llvm::enumerate(order)) {
      const auto &[c, uses] = configs_.at(key);
      std::string name = std::string(softmax ? "bmc_softmax_" : "bmc_norm_") + std::to_string(i);
      std::string what = softmax ? "softmax " + std::to_string(i) + " (" + c.typeName + (c.log ? ", log" : "") + "): "
                                 : "norm " + std::to_string(i) + " (" + (c.rms ? "rms" : "layer") + ", " +
                                       c.typeName + (c.bias ? ", bias" : "") + "): ";
      json::Array params{param("x")};
      json::Array checks;
      if (!softmax) {
        params.push_back(param("scale"));
        if (c.bias) params.push_back(param("bias"));
      }
      params.push_back(param("out"));
      for (int d = 0; d < 4; ++d) {
        std::string o = "out.size[" + std::to_string(d) + "]", x = "x.size[" + std::to_string(d) + "]";
        checks.push_back(check(o, "==", x, what + "out of size {" + o + "} in dimension " + std::to_string(d) +
                                               ", x of {" + x + "}"));
      }
      if (!softmax) {
        checks.push_back(check("scale.size[3]", "bcast", "x.size[3]",
                               what + "scale of {scale.size[3]} elements, expected 1 or {x.size[3]}"));
        if (c.bias)
          checks.push_back(check("bias.size[3]", "bcast", "x.size[3]",
                                 what + "bias of {bias.size[3]} elements, expected 1 or {x.size[3]}"));
      }
      checks.push_back(check("x.size[1]", "<=", 65535, what + "x.size[1] = {x.size[1]} > 65535 (grid y)"));
      checks.push_back(check("x.size[0]", "<=", 65535, what + "x.size[0] = {x.size[0]} > 65535 (grid z)"));
      checks.push_back(check("x.size[2]", "<=", int64_t(2147483647), what + "x.size[2] = {x.size[2]} > 2^31 - 1 (grid x)"));
      json::Object launch{{"kernel", name},
                          {"grid", json::Array{"x.size[2]", "x.size[1]", "x.size[0]"}},
                          {"block", kNormThreads},
                          {"shared_bytes", 0}};
      json::Object desc{{"version", 1},
                        {"op", softmax ? "bmck.softmax" : "bmck.norm"},
                        {"config", int64_t(i)},
                        {"params", std::move(params)},
                        {"checks", std::move(checks)},
                        {"launches", json::Array{std::move(launch)}}};
      os << "\n// bmc-launch: " << json::Value(std::move(desc)) << "\n";
      if (softmax) {
        os << "// softmax " << i << ": " << c.typeName << (c.log ? ", log-softmax" : "")
           << ", the last dimension (" << count(uses, "op") << "). Grid (rows: dims 2, 1, 0), block BMC_NORM_THREADS.\n"
           << "extern \"C\" __global__ void __launch_bounds__(BMC_NORM_THREADS)\n"
           << name << "(bmc_view4 x, bmc_view4 out) {\n"
           << "  bmc_softmax_view_row<" << c.type << ", " << (c.log ? "true" : "false") << ">(x, out);\n}\n";
      } else {
        os << "// norm " << i << ": " << (c.rms ? "rms" : "layer") << ", " << c.typeName
           << (c.bias ? ", bias" : ", no bias") << ", epsilon " << floatLiteral(c.epsilon)
           << ", the last dimension (" << count(uses, "op") << "). Grid (rows: dims 2, 1, 0), block BMC_NORM_THREADS.\n"
           << "extern \"C\" __global__ void __launch_bounds__(BMC_NORM_THREADS)\n"
           << name << "(bmc_view4 x, bmc_view4 scale, " << (c.bias ? "bmc_view4 bias, " : "") << "bmc_view4 out) {\n"
           << "  bmc_norm_view_row<" << c.type << ", " << (c.rms ? "true" : "false") << ">(x, scale, "
           << (c.bias ? "&bias" : "0") << ", out, " << floatLiteral(c.epsilon) << ");\n}\n";
      }
    }
  }
}
