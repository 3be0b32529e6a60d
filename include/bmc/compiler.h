//===- bmc/compiler.h - ONNX -> compiled model (JIT or package) --*- C++ -*-===//
//
// The compiler library (libbmc_compiler, MLIR/LLVM inside, none of it in
// this header). Thread safety: each call uses its own MLIR and LLVM
// contexts; calls may run concurrently.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_H
#define BMC_COMPILER_H

#include "bmc/model.h"

#include <functional>
#include <string>

namespace bmc {

enum class KVMode {
  Concat,   ///< as exported: a new buffer and a full copy of the cache per token
  Prealloc, ///< one buffer of the maximum context per layer, appended in place
  BMC,      ///< buffers with r spare rows, reallocated once every r tokens
};
const char *kvModeName(KVMode m);

/// How matmul weights (constant 2-D fp32 matrices) are stored and read.
enum class WeightFormat {
  F32,  ///< as in the model, packed into 16-column panels
  Int8, ///< weight-only int8: one fp32 scale per 32 rows of K per column, round
        ///< to nearest (onnxruntime MatMulNBits arithmetic, bits 8, block 32);
        ///< 1.125 bytes per weight; activations and accumulation stay fp32
  Int4, ///< weight-only int4: codes 0..15, zero point 8, one fp32 scale per 32
        ///< rows of K per column (MatMulNBits, bits 4, block 32); 0.656 bytes
        ///< per weight
  BF16, ///< bf16 (8 significand bits, fp32's range), rounded to nearest even;
        ///< 2 bytes per weight, widened exactly to fp32 as read
  F16,  ///< IEEE fp16 (11 significand bits, max 65504), rounded to nearest
        ///< even; a weight beyond its range is an error; 2 bytes per weight
};
const char *weightFormatName(WeightFormat f);
/// Parses "f32" / "int8" / "int4" / "bf16" / "f16"; false for anything else.
bool parseWeightFormat(const std::string &name, WeightFormat &out);

/// How the quantized matmuls (int8/int4 weights, MatMulNBits) treat their
/// left operand, the activations (docs/QUANTIZATION.md).
enum class ActivationFormat {
  F32,  ///< exact: fp32 activations times the dequantized weights
  Int8, ///< each row quantized to int8 per block of 32 (scale max|a|/127,
        ///< round to nearest even) and integer dot products per block:
        ///< onnxruntime's MatMulNBits accuracy_level 4, llama.cpp's Q8_0
        ///< activations. Faster (AVX-512 VNNI), less exact. Needs a quantized
        ///< matmul in the model.
};
const char *activationFormatName(ActivationFormat f);
/// Parses "f32" / "int8"; false for anything else.
bool parseActivationFormat(const std::string &name, ActivationFormat &out);
/// Element type of the in-place KV cache buffers (bmc and prealloc modes).
enum class KVType {
  F32,  ///< as the graph computes them
  BF16, ///< bf16 (8 significand bits), rounded to nearest even when appended
  F16,  ///< IEEE fp16 (11 significand bits, max 65504), rounded to nearest even
  Auto, ///< the graph's: f16 / bf16 when a 16-bit graph's past KV inputs are
        ///< (docs/QUANTIZATION.md "Fully 16-bit graphs"), else f32
};
const char *kvTypeName(KVType t);
/// Parses "f32" / "bf16" / "f16" / "auto"; false for anything else.
bool parseKVType(const std::string &name, KVType &out);

/// How attention treats the spare rows of a KV buffer (bmc and prealloc).
enum class KVPadding {
  Skip, ///< the loop stops at the valid length: spare rows cost nothing
  Mask, ///< spare rows are computed and masked out (the paper's form)
};
const char *kvPaddingName(KVPadding p); ///< "skip" / "mask"
/// Parses "skip" / "mask"; false for anything else.
bool parseKVPadding(const std::string &name, KVPadding &out);

struct CompileOptions {
  /// What the model is compiled for. Cpu: native code for this machine.
  /// Cuda: the CUDA C of the whole model (no CPU code); compilePackage
  /// compiles it ahead of time by NVRTC into cubins for sm_80 and sm_90 and
  /// their PTX (docs/PACKAGE.md); compileOnnx (the JIT) opens CUDA device 0
  /// and compiles it for that GPU's own sm_XY only, cached on disk by a hash
  /// of the source, arch, NVRTC version and options ($BMC_CUDA_CACHE, "off"
  /// for none; else $XDG_CACHE_HOME/bmc/nvrtc or ~/.cache/bmc/nvrtc), and
  /// returns a model whose Sessions run there, as a CUDA package's (batch 1,
  /// bmc/session.h). Cuda needs activations F32. compileToText takes Cpu for
  /// "llvm", either for "mlir" and "cuda".
  Target target = Target::Cpu;
  /// How decoder KV caches are handled. Concat keeps the graph's semantics.
  KVMode kvMode = KVMode::BMC;
  /// Spare rows per reallocation in BMC mode; 0 = chosen by the cost model.
  int64_t r = 0;
  /// How attention treats the spare rows of a KV buffer: Skip bounds the
  /// loop at the valid length; Mask computes and masks them (the paper's).
  KVPadding kvPadding = KVPadding::Skip;
  /// Element type of the KV cache buffers. BF16/F16 need KVMode Prealloc or
  /// BMC, every cache rewritten in place and read only by attention (else the
  /// compilation fails, naming the cache); the code is compiled for it, so a
  /// model or package has one KV type (DecoderInfo::kvType, the resolved
  /// one). Auto (the default) stores a 16-bit graph's caches in the graph's
  /// type and others in f32; asking for bf16 where the graph's caches are f16
  /// (or the reverse) fails, naming the input. KVMode Concat keeps the graph's
  /// cache tensors: F32 there for a 16-bit graph's fails too.
  KVType kvType = KVType::Auto;
  /// How matmul weights are stored (embedding tables gathered from stay fp32).
  WeightFormat weights = WeightFormat::F32;
  /// Activations of the quantized matmuls; Int8 with no quantized matmul in
  /// the model is an error (it would change nothing).
  ActivationFormat activations = ActivationFormat::F32;
  /// Generated code calls no optimised kernel (plain loops): a reference.
  /// With Int8 weights the matmuls still run the reference int8 kernel (the
  /// quantized arithmetic is the model's), all else in loops.
  bool referenceKernels = false;
  /// Compute single-use elementwise chains inside their consumer's loop
  /// (false: store every intermediate, the plain reference form).
  bool fuseElementwise = true;
  /// Ops (counted after lowering to loops) per outlined function of the
  /// generated code; bounds LLVM's superlinear code generation time on deep
  /// models. 0 = one function. Changes no result.
  int64_t segmentOps = 4000;
  /// Compile each distinct decoder layer body once and call it per layer
  /// (layers found by bmc-mark-layers); false: every layer's code inline,
  /// the reference form. Changes no result.
  bool outlineLayers = true;
  /// Threads (and module parts) for LLVM's code generation, 1-64: the
  /// module is split into this many parts by function, each compiled in its
  /// own thread. The code is the same for a given value on any machine.
  int codegenThreads = 2;
  /// LLVM optimisation level for generated code (0-3).
  int optLevel = 2;
  /// Threads of the resulting model (JIT; with target Cuda, its host side); 0 = all cores.
  int threads = 0;
  /// Threads that pack the JIT's weights (compileOnnx; with target Cuda, lay
  /// them out once the kernels are compiled) while LLVM generates code, 1-64; 0 = min(4, threads, cores) (threads 0 counting as all
  /// cores; at most 4 by default, as before this option). Packages
  /// (compilePackage) are packed on one thread as the file is written: the
  /// option does not apply there. Changes no byte of the weights.
  int packThreads = 0;
  /// Called at the start of each stage with a short name, for progress.
  std::function<void(const std::string &stage)> progress;
  /// Where remarks go (e.g. why a KV cache was not rewritten); empty: none.
  std::function<void(const std::string &remark)> remarks;
  /// A tokenizer file and generation defaults (bmc/model_folder.h) to embed
  /// in the package (compilePackage) or attach to the model (compileOnnx).
  /// Null: a model folder's own, none for an .onnx file.
  std::shared_ptr<const ModelAssets> assets;
  /// For a model folder: its model file, relative to the folder, instead of
  /// the one ModelFolder::open chooses (docs/FOLDERS.md); empty: its choice.
  /// Set for an .onnx file, an error.
  std::string modelFile;
  /// Called once the model's signature is known, before object code is made
  /// (compilePackage: before anything is written; compileOnnx: before the
  /// JIT); its error ends the compilation. bmc-compile checks its tokenizer
  /// against the model's vocabulary here (checkVocabulary, bmc/model_folder.h).
  std::function<Status(const ModelSignature &)> checkSignature;
};

/// What a compilation produced, for tools to report.
struct CompileReport {
  ModelSignature signature;   ///< includes the decoder interface and the KV rewrite status
  int64_t weightBytes = 0;    ///< packed weight blob
  int64_t codeBytes = 0;      ///< package code image (0 for JIT and --target cuda)
  int64_t cudaSectionBytes = 0; ///< the CUDA section (--target cuda; else 0)
  /// What the import did to the graph besides translating it, one line each
  /// (e.g. Optimum's merged-decoder If resolved to its with-past branch).
  std::vector<std::string> importNotes;
};

/// Compiles an ONNX model for this machine (its CPU, or with target Cuda its
/// GPU 0) and returns it ready to run. `onnxPath` is an .onnx file or a model
/// folder (bmc/model_folder.h: its model file is compiled, its tokenizer and
/// generation defaults attached). Target Cuda without a GPU, libcuda or
/// NVRTC is a one-line error naming what is missing.
Result<std::shared_ptr<Model>> compileOnnx(const std::string &onnxPath, const CompileOptions &opts = {});

/// Compiles an ONNX model (a file or a model folder) into a package file
/// (see docs/PACKAGE.md) with the assets, if any, embedded. The file appears
/// only when complete (written to a temporary, then renamed).
Status compilePackage(const std::string &onnxPath, const std::string &packagePath,
                      const CompileOptions &opts = {}, CompileReport *report = nullptr);

} // namespace bmc

#endif
