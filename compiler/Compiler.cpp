//===- Compiler.cpp - the compile driver: ONNX -> passes -> code -> Model --===//

#include "bmc/compiler.h"
#include "bmc/abi/limits.h"
#include "bmc/abi/package.h"
#include "bmc/model_folder.h"
#include "compiler/CodeGen.h"
#include "compiler/CompileCuda.h"
#include "compiler/targets/cuda/EmitCuda.h"
#include "frontend/Importer.h"
#include "passes/Passes.h"
#include "bmc/abi/kernels.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <algorithm>
#include <thread>

namespace bmc {

/// The KV caches' element type after the pipeline, in every KV mode: the
/// in-place caches' (all have one: KVInplace gives each the same rule), or,
/// where none was rewritten, the graph's own cache tensors' (f32, or a 16-bit
/// graph's f16 / bf16: concat keeps them); `asked` (f32 for Auto) when the
/// module is no decoder with caches.
static KVType resolvedKVType(mlir::ModuleOp module, const DecoderInfo &d, KVType asked) {
  auto main = module.lookupSymbol<mlir::func::FuncOp>("main");
  for (mlir::Type t : main.getArgumentTypes())
    if (auto kv = mlir::dyn_cast<mlir::bmc::KVCacheType>(t))
      return kv.getElementType().isBF16() ? KVType::BF16 : kv.getElementType().isF16() ? KVType::F16 : KVType::F32;
  if (d.valid && !d.caches.empty()) {
    mlir::Type e = mlir::cast<mlir::ShapedType>(main.getArgument(unsigned(d.caches[0].pastInput)).getType()).getElementType();
    return e.isBF16() ? KVType::BF16 : e.isF16() ? KVType::F16 : KVType::F32;
  }
  return asked == KVType::Auto ? KVType::F32 : asked;
}

/// The graph pipeline's options (passes/Passes.h) for `opts`, which
/// checkCompileOptions accepted (the modes map by name).
static void setPipelineOptions(const CompileOptions &opts, mlir::bmc::PipelineOptions &po) {
  po.kvMode = *mlir::bmc::symbolizeKVMode(kvModeName(opts.kvMode));
  po.padding = *mlir::bmc::symbolizeKVPadding(kvPaddingName(opts.kvPadding));
  po.kvType = *mlir::bmc::symbolizeKVType(kvTypeName(opts.kvType));
  po.markLayers = opts.outlineLayers;
  po.fuseElementwise = opts.fuseElementwise;
}

/// Import, clean up and raise: the module every later stage starts from.
static bool frontend(mlir::MLIRContext &ctx, const std::string &path, const CompileOptions &opts,
                     ImportedModel &out, std::string &error) {
  if (opts.progress) opts.progress("import");
  if (!importOnnxFile(ctx, path, ImportOptions(), out, error)) return false;
  if (opts.remarks)
    for (const std::string &n : out.notes) opts.remarks(path + ": " + n);
  if (opts.progress) opts.progress("optimise graph");
  std::string diag;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Remark) {
      if (opts.remarks) {
        std::string m;
        llvm::raw_string_ostream os(m);
        os << d.getLocation() << ": " << d.str();
        opts.remarks(m);
      }
      return mlir::success();
    }
    if (diag.empty()) {
      llvm::raw_string_ostream os(diag);
      os << d.getLocation() << ": " << d.str();
    }
    return mlir::success();
  });
  mlir::PassManager pm(&ctx);
  mlir::bmc::PipelineOptions po;
  setPipelineOptions(opts, po);
  mlir::bmc::buildPipeline(pm, po);
  if (mlir::failed(pm.run(*out.module))) {
    error = path + ": graph optimisation failed: " + escapeControl(diag); // node names from the file
    return false;
  }
  // Not a silent change of arithmetic: a fully 16-bit graph is computed in fp32.
  auto main = out.module->lookupSymbol<mlir::func::FuncOp>("main");
  if (auto w = main ? main->getAttrOfType<mlir::StringAttr>("bmc.widened_16bit") : nullptr)
    out.notes.push_back("16-bit graph (" + w.str() + ") computed in fp32: weights stay 16-bit (widened as read), "
                        "inputs and outputs keep their ONNX types (cast at the boundary), KV caches as kv-type says");
  return true;
}

/// Records the KV mode, r and the rewrite status of each cache; says loudly
/// when the BMC path was requested but not taken.
static void finishDecoderInfo(mlir::ModuleOp module, const CompileOptions &opts, DecoderInfo &d) {
  auto main = module.lookupSymbol<mlir::func::FuncOp>("main");
  d.kvPadding = kvPaddingName(opts.kvPadding);
  d.weights = weightFormatName(opts.weights);
  d.kvType = kvTypeName(opts.kvType);
  if (opts.kvMode == KVMode::Concat || !d.inplaceKV) {
    d.kvMode = "concat";
    if (opts.kvMode != KVMode::Concat && d.valid && opts.remarks)
      opts.remarks("warning: no KV cache was rewritten in place; the model keeps the graph's Concat (see remarks)");
  } else {
    d.kvMode = opts.kvMode == KVMode::Prealloc ? "prealloc" : "bmc";
    d.r = opts.r;
  }
  if (auto st = main->getAttrOfType<mlir::ArrayAttr>("bmc.kv_rewritten"))
    for (mlir::Attribute a : st) d.kvStatus.push_back(mlir::cast<mlir::StringAttr>(a).str());
}

/// The options a compilation stores in its model or package, checked before
/// any work: nothing out of range is clamped or passed on silently.
static Status checkCompileOptions(const std::string &path, const CompileOptions &o) {
  auto bad = [&](const std::string &m) { return Status::error(path + ": CompileOptions: " + m); };
  if (o.target != Target::Cpu && o.target != Target::Cuda)
    return bad("target: expected Target::Cpu or Cuda, found " + std::to_string(int(o.target)));
  if (o.r < 0 || o.r > limits::kMaxR) return bad(limits::outOfRange("r", 0, limits::kMaxR, o.r) + " (0 = the cost model's)");
  if (o.kvPadding != KVPadding::Skip && o.kvPadding != KVPadding::Mask)
    return bad("kvPadding: expected KVPadding::Skip or Mask, found " + std::to_string(int(o.kvPadding)));
  if (o.weights != WeightFormat::F32 && o.weights != WeightFormat::Int8 && o.weights != WeightFormat::Int4 &&
      o.weights != WeightFormat::BF16 && o.weights != WeightFormat::F16)
    return bad("weights: expected WeightFormat::F32, Int8, Int4, BF16 or F16, found " + std::to_string(int(o.weights)));
  if (o.activations != ActivationFormat::F32 && o.activations != ActivationFormat::Int8)
    return bad("activations: expected ActivationFormat::F32 or Int8, found " + std::to_string(int(o.activations)));
  if (o.kvType != KVType::F32 && o.kvType != KVType::BF16 && o.kvType != KVType::F16 && o.kvType != KVType::Auto)
    return bad("kvType: expected KVType::F32, BF16, F16 or Auto, found " + std::to_string(int(o.kvType)));
  if ((o.kvType == KVType::BF16 || o.kvType == KVType::F16) && o.kvMode == KVMode::Concat)
    return bad(std::string("kvType ") + kvTypeName(o.kvType) +
               " needs in-place KV caches (kvMode prealloc or bmc); concat keeps the graph's own cache tensors");
  if (o.optLevel < 0 || o.optLevel > 3) return bad(limits::outOfRange("optLevel", 0, 3, o.optLevel));
  if (o.codegenThreads < 1 || o.codegenThreads > 64)
    return bad(limits::outOfRange("codegenThreads", 1, 64, o.codegenThreads));
  if (o.segmentOps < 0) return bad("segmentOps: expected an integer >= 0, found " + std::to_string(o.segmentOps));
  if (Status s = limits::checkThreads(o.threads, "threads"); !s.ok()) return bad(s.message());
  if (o.packThreads < 0 || o.packThreads > 64)
    return bad(limits::outOfRange("packThreads", 0, 64, o.packThreads) + " (0 = min(4, threads, cores))");
  return Status();
}

/// Everything up to LLVM IR, shared by the JIT and the package writer.
struct Compiled {
  ImportedModel im;
  ModelSignature sig;
  WeightPlan plan;
  std::unique_ptr<llvm::LLVMContext> llctx;
  std::unique_ptr<llvm::Module> llmod;
};

/// Import, the graph passes and the signature with its decoder interface:
/// what both targets start from. `resolved` is `opts` with the KV type the
/// caches have (never Auto).
static bool analyzeModel(mlir::MLIRContext &ctx, const std::string &path, const CompileOptions &opts, Compiled &c,
                         CompileOptions &resolved, std::string &error) {
  if (!frontend(ctx, path, opts, c.im, error)) return false;
  c.sig = extractSignature(*c.im.module);
  c.sig.decoder = analyzeDecoder(*c.im.module, c.sig);
  // The caches' element type in every mode (kvType Auto: the graph's); the
  // code and the package record it, never Auto.
  resolved = opts;
  resolved.kvType = resolvedKVType(*c.im.module, c.sig.decoder, opts.kvType);
  finishDecoderInfo(*c.im.module, resolved, c.sig.decoder);
  if ((opts.kvType == KVType::BF16 || opts.kvType == KVType::F16) && !c.sig.decoder.inplaceKV) {
    error = path + ": kv type " + kvTypeName(opts.kvType) + " needs a decoder whose KV caches are rewritten in "
            "place; this model has none";
    return false;
  }
  // Concat keeps the graph's cache tensors: f32 asked of a 16-bit graph's
  // would be ignored, so it is refused rather than reported as f16.
  if (opts.kvType == KVType::F32 && !c.sig.decoder.inplaceKV && resolved.kvType != KVType::F32) {
    error = path + ": kv type f32: the KV caches stay the graph's " + kvTypeName(resolved.kvType) +
            " tensors (kv mode concat, or not rewritten in place); leave kv type auto, or use kv mode prealloc or bmc "
            "for f32 caches";
    return false;
  }
  return true;
}

static bool compileToLLVM(mlir::MLIRContext &ctx, const std::string &path, const CompileOptions &opts, Compiled &c,
                          std::string &error, const std::function<void()> &planReady = {}) {
  CompileOptions resolved;
  if (!analyzeModel(ctx, path, opts, c, resolved, error)) return false;
  if (opts.progress) opts.progress("generate code");
  c.llctx = std::make_unique<llvm::LLVMContext>();
  c.llmod = generateLLVMIR(*c.im.module, *c.llctx, c.plan, resolved, error,
                           c.sig.decoder.valid ? c.sig.decoder.logits : -1, planReady);
  if (!c.llmod) {
    error = path + ": " + escapeControl(error); // diagnostics carry node names from the file
    return false;
  }
  // What a token streams: quantized matrices are read in their packed size.
  // The format reported is the narrowest the matmuls use (MatMulNBits
  // weights keep theirs whatever opts.weights says).
  bool q4 = false, q8 = false, bf16 = false, f16 = false;
  for (const WeightEntry &e : c.plan.entries()) {
    const bool e4 = WeightEntry::quantBits(e.kind) == 4, e8 = WeightEntry::quantBits(e.kind) == 8;
    const int t16 = WeightEntry::w16Type(e.kind);
    if (e4 || e8) c.sig.decoder.weightBytesPerToken -= e.k * e.n * int64_t(sizeof(float)) - e.bytes;
    if (t16) { // counted above at the model's element size (4, or 2 for a 16-bit initializer)
      const Weight *w = c.im.weights->find(e.name);
      const int64_t was = w && (w->dtype == 10 || w->dtype == 16) ? 2 : 4;
      c.sig.decoder.weightBytesPerToken -= e.k * e.n * was - e.bytes;
    }
    q4 |= e4;
    q8 |= e8;
    bf16 |= t16 == BMC_KV_BF16;
    f16 |= t16 == BMC_KV_F16;
  }
  c.sig.decoder.weights = q4 ? "int4" : q8 ? "int8" : bf16 ? "bf16" : f16 ? "f16" : "f32";
  if (opts.activations == ActivationFormat::Int8 && !q4 && !q8) {
    error = path + ": CompileOptions: activations int8 applies to quantized matmuls, and this model has none "
                   "(quantize its weights with --weights int8 or int4)";
    return false;
  }
  c.sig.decoder.activations = activationFormatName(opts.activations);
  return true;
}

/// An .onnx file as given, or a model folder's model file and assets (the
/// caller's assets, if any, take precedence over the folder's).
static Status resolveModel(const std::string &given, const CompileOptions &opts, std::string &onnx,
                           std::shared_ptr<const ModelAssets> &assets) {
  onnx = given;
  assets = opts.assets;
  if (!ModelFolder::isFolder(given)) {
    if (!opts.modelFile.empty())
      return Status::error(given + ": CompileOptions: modelFile '" + opts.modelFile +
                           "' applies to a model folder, found a file");
    return Status();
  }
  auto f = ModelFolder::open(given, opts.modelFile);
  if (!f) return f.status();
  onnx = f.value().modelPath;
  if (!assets) assets = std::make_shared<ModelAssets>(std::move(f.value().assets));
  return Status();
}

namespace {
/// The JIT's weight blob, packed on threads of its own from the moment the
/// weight plan is final (after lowering) while LLVM optimises and generates
/// code on the others: the two share nothing but the read-only plan. Joined
/// before the result is used, on every path (the destructor joins on errors
/// and exceptions). The blob stays in 4 KB pages: 2 MB pages (MADV_HUGEPAGE)
/// made packing's system time 4x longer on this machine kind (a VM: each
/// fresh huge page is first touched on the host too).
class BackgroundPack {
public:
  ~BackgroundPack() {
    if (thread_.joinable()) thread_.join();
  }
  void start(const WeightPlan &plan, const WeightStore &store, int threads) {
    bytes_ = size_t((plan.totalBytes() + 127) & ~int64_t(63));
    thread_ = std::thread([this, &plan, &store, threads] {
      try {
        auto *p = static_cast<uint8_t *>(std::aligned_alloc(64, bytes_));
        if (!p) {
          error_ = "cannot allocate " + std::to_string(bytes_) + " bytes for the weights";
          return;
        }
        blob_ = std::shared_ptr<uint8_t>(p, [](uint8_t *q) { std::free(q); });
        if (!plan.buildInto(store, p, error_, threads)) blob_.reset();
      } catch (const std::exception &e) { // nothing escapes a thread: it becomes the error
        blob_.reset();
        error_ = std::string("packing the weights: ") + e.what();
      }
    });
  }
  /// Waits for the packing; the blob, or null with `error` set.
  std::shared_ptr<uint8_t> finish(std::string &error) {
    if (thread_.joinable()) thread_.join();
    if (!blob_) error = error_.empty() ? "internal: the weights were not packed" : error_;
    return blob_;
  }

private:
  std::thread thread_;
  size_t bytes_ = 0;
  std::shared_ptr<uint8_t> blob_;
  std::string error_;
};
} // namespace

/// CompileOptions::packThreads resolved: the default follows the model's
/// threads, up to 4 (at 1 B parameters packing, first touches of 4.5 GB of
/// fresh pages and packPanels, is the JIT's critical path, not LLVM).
static int packThreadsOf(const CompileOptions &o) {
  if (o.packThreads > 0) return o.packThreads;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::min({4, cores, o.threads > 0 ? o.threads : cores});
}

static Result<std::shared_ptr<Model>> compileCudaJit(const std::string &path, const CompileOptions &opts,
                                                     const std::shared_ptr<const ModelAssets> &assets,
                                                     const CudaJitStart &start);

Result<std::shared_ptr<Model>> compileOnnx(const std::string &given, const CompileOptions &opts) try {
  std::string path;
  std::shared_ptr<const ModelAssets> assets;
  if (Status s = resolveModel(given, opts, path, assets); !s.ok()) return s;
  if (Status s = checkCompileOptions(path, opts); !s.ok()) return s;
  if (opts.target == Target::Cuda) return compileCudaJit(path, opts, assets, pkg::startCudaJit);
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  Compiled c;
  std::string error;
  BackgroundPack pack; // declared after c: joined before c's plan and store go
  auto startPack = [&] {
    const int threads = packThreadsOf(opts);
    if (opts.progress)
      opts.progress("pack weights on " + std::to_string(threads) + (threads == 1 ? " thread" : " threads") +
                    " (in parallel with what follows)");
    pack.start(c.plan, *c.im.weights, threads);
  };
  if (!compileToLLVM(ctx, path, opts, c, error, startPack)) return Status::error(error);
  if (opts.checkSignature)
    if (Status s = opts.checkSignature(c.sig); !s.ok()) return s;
  if (opts.progress) opts.progress("JIT");
  auto code = jitCompile(std::move(c.llmod), std::move(c.llctx), opts.codegenThreads, error);
  if (!code) return Status::error(path + ": " + error);
  if (opts.progress) opts.progress("wait for the weights");
  std::shared_ptr<uint8_t> blob = pack.finish(error);
  if (!blob) return Status::error(path + ": " + error);
  LoadOptions lo;
  lo.threads = opts.threads;
  std::shared_ptr<Model> model = Model::fromParts(code, blob, size_t(c.plan.totalBytes()), c.sig, lo);
  if (assets) model->setAssets(assets);
  return model;
} catch (const std::exception &e) {
  return limits::statusFromException(given, e);
}

/// The whole model as CUDA C with its bmc-program lines (--emit cuda, and
/// the CUDA section of --target cuda); false with the first error, naming
/// the op and its place, and nothing written to `os`.
static bool emitWholeModelCuda(mlir::MLIRContext &ctx, mlir::ModuleOp module, const CompileOptions &opts,
                               llvm::raw_ostream &os, std::string &error) {
  std::string diag;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error && diag.empty()) {
      llvm::raw_string_ostream ds(diag);
      // The refusal of a whole model names its op's place itself; an op's
      // own error (head_dim > 256, ...) gets it in front.
      std::string where = mlir::bmc::cuda::describeLocation(d.getLocation());
      if (!where.empty() && d.str().find(where) == std::string::npos) ds << where << ": ";
      ds << d.str();
    }
    return mlir::success();
  });
  mlir::bmc::cuda::CudaEmitOptions eo;
  eo.wholeModel = true;
  eo.weights = opts.weights == WeightFormat::F16    ? mlir::bmc::cuda::WeightStorage::F16
               : opts.weights == WeightFormat::BF16 ? mlir::bmc::cuda::WeightStorage::BF16
               : opts.weights == WeightFormat::Int8 ? mlir::bmc::cuda::WeightStorage::Int8
               : opts.weights == WeightFormat::Int4 ? mlir::bmc::cuda::WeightStorage::Int4
                                                    : mlir::bmc::cuda::WeightStorage::Model;
  if (mlir::failed(mlir::bmc::cuda::emitCuda(module, os, eo))) {
    error = diag;
    return false;
  }
  return true;
}

Result<std::string> compileToText(const std::string &given, const CompileOptions &opts, const std::string &stage) {
  std::string path;
  std::shared_ptr<const ModelAssets> assets;
  if (Status s = resolveModel(given, opts, path, assets); !s.ok()) return s;
  if (Status s = checkCompileOptions(path, opts); !s.ok()) return s;
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  std::string error, text;
  llvm::raw_string_ostream os(text);
  if (stage == "llvm" && opts.target != Target::Cpu)
    return Status::error(path + ": --emit llvm is the CPU target's code; with --target " + targetName(opts.target) +
                         " use --emit cuda");
  if (stage == "mlir") {
    ImportedModel im;
    if (!frontend(ctx, path, opts, im, error)) return Status::error(error);
    im.module->print(os);
    return text;
  }
  if (stage == "cuda") {
    // A whole-model CUDA compile: the emitter refuses (nothing printed) at the
    // first op without a CUDA form (docs/DESIGN.md).
    ImportedModel im;
    if (!frontend(ctx, path, opts, im, error)) return Status::error(error);
    if (!emitWholeModelCuda(ctx, *im.module, opts, os, error))
      return Status::error(path + ": --emit cuda: " + escapeControl(error));
    return text;
  }
  Compiled c;
  if (!compileToLLVM(ctx, path, opts, c, error)) return Status::error(error);
  c.llmod->print(os, nullptr);
  return text;
}

/// The weights section of a CUDA package: each weight the programs upload,
/// raw in the model's layout and type, placed in `plan`; the section's
/// table gets their offsets.
static Status placeCudaWeights(const std::string &path, const WeightStore &store, pkg::CudaSection &sec,
                               WeightPlan &plan) {
  auto typeOf = [](const Weight &w) -> std::string {
    switch (w.dtype) { // ONNX TensorProto data types
    case 1: return "f32";
    case 10: return "f16";
    case 16: return "bf16";
    case 6: return "i32";
    case 7: return "i64";
    case 9: return "i1";
    }
    return "ONNX type " + std::to_string(w.dtype);
  };
  for (pkg::CudaWeight &w : sec.weights) {
    const Weight *src = store.find(w.name);
    if (!src) return Status::error(path + ": --target cuda: internal: the programs upload weight '" + w.name +
                                   "', which the model does not have");
    if (src->quantBits != 0 || typeOf(*src) != w.type || src->dims != w.dims)
      return Status::error(path + ": --target cuda: internal: weight '" + w.name + "' is " + typeOf(*src) +
                           (src->quantBits ? " (quantized)" : "") + " in the model and " + w.type + " in the programs");
    w.bytes = src->bytes;
    w.offset = uint64_t(plan.request(w.name, WeightEntry::Raw, int64_t(src->bytes)));
  }
  return Status();
}

/// What the CUDA package and the CUDA JIT share: the analysis, the whole
/// model's CUDA C in `text` (errors start with `what`).
static Status analyzeAndEmitCuda(mlir::MLIRContext &ctx, const std::string &path, const CompileOptions &opts,
                                 const std::string &what, Compiled &c, std::string &text) {
  if (opts.activations != ActivationFormat::F32)
    return Status::error(path + ": " + what + ": activations " + activationFormatName(opts.activations) +
                         " have no CUDA form (f32 only)");
  CompileOptions resolved;
  std::string error;
  if (!analyzeModel(ctx, path, opts, c, resolved, error)) return Status::error(error);
  c.sig.decoder.activations = activationFormatName(opts.activations);
  if (opts.checkSignature)
    if (Status s = opts.checkSignature(c.sig); !s.ok()) return s;
  if (opts.progress) opts.progress("emit CUDA C");
  llvm::raw_string_ostream os(text);
  if (!emitWholeModelCuda(ctx, *c.im.module, opts, os, error))
    return Status::error(path + ": " + what + ": " + escapeControl(error));
  os.flush();
  return Status();
}

/// compileOnnx for Target::Cuda: the package's analysis and CUDA C, its
/// section without binaries and its weights section laid out in memory,
/// handed to `start` (pkg::startCudaJit: the device's own sm_XY by NVRTC,
/// cached, then the CUDA package's load path).
static Result<std::shared_ptr<Model>> compileCudaJit(const std::string &path, const CompileOptions &opts,
                                                     const std::shared_ptr<const ModelAssets> &assets,
                                                     const CudaJitStart &start) {
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  Compiled c;
  std::string text;
  if (Status s = analyzeAndEmitCuda(ctx, path, opts, "target cuda", c, text); !s.ok()) return s;
  Result<pkg::CudaSection> sec = pkg::cudaSectionOf(text);
  if (!sec) return Status::error(path + ": target cuda: " + sec.status().message());
  if (Status s = placeCudaWeights(path, *c.im.weights, sec.value(), c.plan); !s.ok()) return s;
  pkg::CudaJitParts parts;
  parts.section = std::move(sec.value());
  parts.signature = c.sig;
  parts.weightBytes = uint64_t(c.plan.totalBytes());
  const int threads = packThreadsOf(opts);
  // Called inside start: c outlives it.
  parts.buildWeights = [&c, threads](uint8_t *blob, std::string &error) {
    return c.plan.buildInto(*c.im.weights, blob, error, threads);
  };
  parts.threads = opts.threads;
  parts.progress = opts.progress;
  parts.remarks = opts.remarks;
  auto model = start(std::move(parts));
  if (!model) return Status::error(path + ": " + model.status().message());
  if (assets) model.value()->setAssets(assets);
  return model;
}

Result<std::shared_ptr<Model>> compileOnnxCuda(const std::string &given, const CompileOptions &opts,
                                               const CudaJitStart &start) try {
  std::string path;
  std::shared_ptr<const ModelAssets> assets;
  if (Status s = resolveModel(given, opts, path, assets); !s.ok()) return s;
  if (Status s = checkCompileOptions(path, opts); !s.ok()) return s;
  if (opts.target != Target::Cuda)
    return Status::error(path + ": CompileOptions: target " + targetName(opts.target) + ": expected cuda here");
  return compileCudaJit(path, opts, assets, start);
} catch (const std::exception &e) {
  return limits::statusFromException(given, e);
}

/// compilePackage for Target::Cuda: the metadata, no CPU code, the CUDA
/// section (the whole model's CUDA C, NVRTC's cubins and PTX, the weight
/// table) and the weights the programs upload.
static Status compileCudaPackage(const std::string &path, const std::string &out, const CompileOptions &opts,
                                 const std::shared_ptr<const ModelAssets> &assets, CompileReport *report) {
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  Compiled c;
  std::string text;
  if (Status s = analyzeAndEmitCuda(ctx, path, opts, "--target cuda", c, text); !s.ok()) return s;
  if (opts.progress) opts.progress("compile the kernels ahead of time with NVRTC (sm_80, sm_90)");
  Result<pkg::CudaSection> sec = pkg::buildCudaSection(text);
  if (!sec) return Status::error(path + ": --target cuda: " + sec.status().message());
  if (Status s = placeCudaWeights(path, *c.im.weights, sec.value(), c.plan); !s.ok()) return s;
  if (opts.progress) opts.progress("write " + out);
  pkg::Meta meta;
  meta.sig = c.sig;
  meta.producer = "bmc " BMC_VERSION;
  size_t slash = path.find_last_of('/');
  meta.source = slash == std::string::npos ? path : path.substr(slash + 1);
  meta.targetCpu = "none (--target cuda: no CPU code)";
  if (assets) {
    meta.hasAssets = true;
    meta.assets = *assets;
  }
  std::vector<uint8_t> metaBytes = pkg::encodeMeta(meta), cudaBytes = pkg::encodeCudaSection(sec.value());
  // Never write a package the loader would refuse.
  {
    pkg::Meta back;
    pkg::CudaSection backSection;
    std::string why;
    if (!pkg::decodeMeta(metaBytes.data(), metaBytes.size(), back, why) ||
        !pkg::decodeCudaSection(cudaBytes.data(), cudaBytes.size(), uint64_t(c.plan.totalBytes()), backSection, why))
      return Status::error(path + ": internal: the package does not pass the loader's checks: " + why);
  }
  if (Status s = writePackageFile(out, metaBytes, std::string(), c.plan, *c.im.weights, cudaBytes); !s.ok()) return s;
  if (report) {
    report->signature = c.sig;
    report->weightBytes = c.plan.totalBytes();
    report->cudaSectionBytes = int64_t(cudaBytes.size());
    report->importNotes = c.im.notes;
  }
  return Status();
}

Status compilePackage(const std::string &given, const std::string &out, const CompileOptions &opts,
                      CompileReport *report) try {
  std::string path;
  std::shared_ptr<const ModelAssets> assets;
  if (Status s = resolveModel(given, opts, path, assets); !s.ok()) return s;
  if (Status s = checkCompileOptions(path, opts); !s.ok()) return s;
  if (opts.target == Target::Cuda) return compileCudaPackage(path, out, opts, assets, report);
  mlir::MLIRContext ctx;
  ctx.disableMultithreading();
  Compiled c;
  std::string error;
  if (!compileToLLVM(ctx, path, opts, c, error)) return Status::error(error);
  if (opts.checkSignature)
    if (Status s = opts.checkSignature(c.sig); !s.ok()) return s;
  if (opts.progress) opts.progress("emit object code");
  std::vector<std::string> objects;
  if (!emitObjects(*c.llmod, opts.codegenThreads, objects, error)) return Status::error(path + ": " + error);
  if (opts.progress) opts.progress("link");
  std::string image;
  if (!linkSharedObject(objects, image, error)) return Status::error(path + ": " + error);
  if (opts.progress) opts.progress("pack weights and write " + out);
  pkg::Meta meta;
  meta.sig = c.sig;
  meta.producer = "bmc " BMC_VERSION;
  size_t slash = path.find_last_of('/');
  meta.source = slash == std::string::npos ? path : path.substr(slash + 1);
  meta.targetCpu = hostCpuDescription();
  meta.cpuFeatures = requiredCpuFeatures();
  if (assets) {
    meta.hasAssets = true;
    meta.assets = *assets;
  }
  std::vector<uint8_t> metaBytes = pkg::encodeMeta(meta);
  // Never write a package the loader would refuse: its metadata goes through
  // the same checks here.
  {
    pkg::Meta back;
    std::string why;
    if (!pkg::decodeMeta(metaBytes.data(), metaBytes.size(), back, why))
      return Status::error(path + ": internal: the package metadata does not pass the loader's checks: " + why);
  }
  if (Status s = writePackageFile(out, metaBytes, image, c.plan, *c.im.weights); !s.ok()) return s;
  if (report) {
    report->signature = c.sig;
    report->weightBytes = c.plan.totalBytes();
    report->codeBytes = int64_t(image.size());
    report->importNotes = c.im.notes;
  }
  return Status();
} catch (const std::exception &e) {
  return limits::statusFromException(given, e);
}

} // namespace bmc
