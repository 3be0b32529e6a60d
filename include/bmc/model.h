//===- bmc/model.h - a compiled model ----------------------------*- C++ -*-===//
//
// A Model is compiled code plus its packed weights and signature. It comes
// from a package (Model::load, this library) or from the JIT compiler
// (bmc/compiler.h). `run` has ONNX semantics: graph inputs in, graph outputs
// out. Decoder models also support sessions (bmc/session.h).
//
// Thread safety: a Model is immutable; run() may be called from several
// threads at once (each call has its own scratch arena); the thread pool it
// uses serialises kernels of concurrent calls. A model loaded for a device
// (LoadOptions::device Cuda) is the exception: its sessions share one launcher
// and stream and the generation made at load, so use it and its sessions from
// one thread at a time (bmc/session.h).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_MODEL_H
#define BMC_MODEL_H

#include "bmc/status.h"
#include "bmc/tensor.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bmc {

class ThreadPool;
struct ModelAssets; // bmc/model_folder.h
struct DeviceModel; // a model's device part (runtime/DeviceModel.h; internal)

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;          // -1: dynamic
  std::vector<std::string> dimNames;   // ONNX dim_param per dim ("" if none)
  /// For KV cache inputs rewritten by the BMC pass: the layer's cache index.
  int kvSlot = -1;
};

/// The decoder interface found in the graph, if any (see docs/DESIGN.md).
struct DecoderInfo {
  bool valid = false;
  int inputIds = -1, attentionMask = -1, positionIds = -1; // input indices
  /// GroupQueryAttention's lengths as graph inputs (onnxruntime-genai graphs
  /// usually compute them from the mask): int32 [batch] total - 1, and the
  /// total as a scalar.
  int seqlensK = -1, totalSequenceLength = -1;
  /// An opset-24 static cache's lengths as graph inputs (TensorScatter's
  /// write_indices, Attention's nonpad_kv_seqlen): int64 [batch], the cache
  /// length before the step and the total after it.
  int writeIndices = -1, nonpadKvSeqlen = -1;
  int logits = -1;                                         // output index
  struct KV {
    int pastInput = -1;   // input index of past_key_values.i.{key,value}
    int presentOutput = -1; // output index of present.i.*, or -1 after BMC
    int64_t heads = 0, headDim = 0;
  };
  std::vector<KV> caches;     // one per layer and per key/value
  int64_t vocab = 0;
  int64_t maxPositions = 0;   // 0: no limit known from the graph
  /// Weight bytes a decode step streams: all weights but lookup tables that
  /// are only gathered from (embeddings read one row per token).
  int64_t weightBytesPerToken = 0;
  bool inplaceKV = false;     // the BMC pass rewrote the caches
  std::string kvMode = "concat"; // compiled mode: concat, prealloc or bmc
  int64_t r = 0;              // compiled-in spare rows (bmc mode)
  std::string kvPadding = "skip";
  /// Matmul weight storage: "f32", "int8", "int4", "bf16" or "f16"
  /// (CompileOptions::weights; the narrowest any matmul reads).
  std::string weights = "f32";
  /// Activations of the quantized matmuls: "f32" or "int8"
  /// (CompileOptions::activations); "int8" only with quantized weights.
  std::string activations = "f32";
  /// KV cache element type in every KV mode: "f32", "bf16" or "f16". In place,
  /// the buffers' (CompileOptions::kvType, auto: the graph's); concat, the
  /// graph's cache tensors' (f32, or a fully 16-bit graph's f16 / bf16).
  std::string kvType = "f32";
  /// Per KV cache input: "<name>: in place" or "<name>: concat (<why>)".
  std::vector<std::string> kvStatus;
};

struct ModelSignature {
  std::vector<TensorInfo> inputs, outputs;
  DecoderInfo decoder;
};

/// Compiled code (a dlopen'ed package image or JIT code). Internal.
class CodeImage {
public:
  virtual ~CodeImage();
  virtual void *entry() const = 0; // bmc_entry_fn
  virtual std::string describe() const = 0;
};

/// Where a model's code runs: what bmc-compile --target writes and what
/// bmc-run --device (LoadOptions::device) loads. One enum for both.
enum class Target {
  Cpu,  ///< native code for the compiling CPU (the package's code section)
  Cuda, ///< CUDA C, with cubins and PTX compiled ahead of time (its CUDA section)
};
const char *targetName(Target t); ///< "cpu" / "cuda"
/// Parses "cpu" / "cuda"; false for anything else.
bool parseTarget(const std::string &name, Target &out);

struct LoadOptions {
  /// Threads for kernels; 0 = all cores of this machine.
  int threads = 0;
  /// The device the package runs on: Cpu needs its CPU code, Cuda its CUDA
  /// section (docs/PACKAGE.md); the other is a one-line error. A Cuda model
  /// runs through a Session only (batch 1; bmc/session.h); Model::run on it
  /// is a one-line error.
  Target device = Target::Cpu;
};

struct RunOptions {};

class Model {
public:
  /// Loads a package written by bmc-compile. Errors: missing or corrupted
  /// file, wrong format version, checksum mismatch, CPU lacking features.
  static Result<std::shared_ptr<Model>> load(const std::string &packagePath, const LoadOptions &opts = {});
  /// Assembles a model from parts (used by the JIT compiler).
  static std::shared_ptr<Model> fromParts(std::shared_ptr<CodeImage> code, std::shared_ptr<const uint8_t> weights,
                                          size_t weightBytes, ModelSignature sig, const LoadOptions &opts);
  /// A model whose code runs on a device (runtime/CudaPackage.cpp); internal.
  static std::shared_ptr<Model> fromDevice(std::shared_ptr<DeviceModel> device, std::shared_ptr<const uint8_t> weights,
                                           size_t weightBytes, ModelSignature sig, const LoadOptions &opts);
  ~Model();

  const ModelSignature &signature() const { return sig_; }
  /// Runs the graph. Inputs must match the signature (count, dtypes, static
  /// dims, equal sizes for equal dim names); KV-cache inputs cannot be
  /// passed here (use a Session).
  Result<std::vector<Tensor>> run(const std::vector<Tensor> &inputs, const RunOptions &opts = {}) const;

  /// Lower-level call used by sessions: `io` as in bmc/abi/entry.h. With
  /// `lastTokenLogits`, a decoder's logits output covers only the last
  /// position of each sequence ([batch, 1, vocab]).
  Status invoke(void **io, std::vector<Tensor> &outputs, bool lastTokenLogits = false) const;
  ThreadPool *pool() const { return pool_.get(); }
  const std::string &codeDescription() const { return codeDesc_; }
  size_t weightBytes() const { return weightBytes_; }
  /// The device part of a model loaded with LoadOptions::device Cuda (its
  /// sessions run there); null for a CPU model. Opaque outside the runtime.
  DeviceModel *deviceModel() const { return device_.get(); }
  /// The packed weight blob, weightBytes() long (read-only).
  const uint8_t *weightData() const { return weights_.get(); }
  /// The tokenizer file and generation defaults that came with the model (a
  /// package's embedded ones, or a model folder's); null if none.
  const ModelAssets *assets() const { return assets_.get(); }
  /// Attaches them; loaders call it before the model is shared.
  void setAssets(std::shared_ptr<const ModelAssets> assets) { assets_ = std::move(assets); }

private:
  Model() = default;
  std::shared_ptr<CodeImage> code_;
  std::shared_ptr<const uint8_t> weights_;
  size_t weightBytes_ = 0;
  ModelSignature sig_;
  std::shared_ptr<ThreadPool> pool_;
  std::string codeDesc_;
  void *entry_ = nullptr;
  std::shared_ptr<const ModelAssets> assets_;
  std::shared_ptr<DeviceModel> device_;
};

/// The kernels this process runs matrix products and attention with: "avx512"
/// (the AVX2 kernels plus an AVX-512 GEMV for products of <= 12 rows; not with
/// BMC_KERNELS=avx2 or avxvnni), "avx2" (Xbyak AVX2/FMA microkernels), "avx2-nojit" (AVX2
/// attention, reference matrix products: the Xbyak JIT could not run) or "ref"
/// (plain reference loops: the CPU has no AVX2/FMA, or BMC_KERNELS=ref). Tools
/// warn when it is "ref" or "avx2-nojit": everything works, many times slower.
std::string kernelIsa();

} // namespace bmc

#endif
