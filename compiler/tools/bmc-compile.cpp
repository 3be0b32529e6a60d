//===- bmc-compile.cpp - ONNX model -> .bmcpkg package ---------------------===//

#include "bmc/compiler.h"
#include "bmc/model_folder.h"
#include "bmc/tokenizer.h"
#include "compiler/CodeGen.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <chrono>
#include <cstdio>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static const char *kUsage = R"(usage: bmc-compile MODEL -o MODEL.bmcpkg [options]

Compiles an ONNX decoder ahead of time for this machine's CPU into a package
(native code, packed weights, signature; format version and checksum) that
bmc-run and bmc::Model::load use without recompiling; with --target cuda,
for NVIDIA GPUs instead (below). MODEL is an .onnx file
or a model folder as Hugging Face / Optimum export it (docs/FOLDERS.md): its
tokenizer file and generation defaults (config.json, generation_config.json,
tokenizer_config.json) are embedded in the package, so that
`bmc-run MODEL.bmcpkg --prompt "text"` needs no other file.

Options:
  -o FILE              output package (required unless --emit is given)
  --target TARGET      cpu (default): native code for this machine's CPU;
                       cuda: the whole model as CUDA C with its bmc-program
                       lines, compiled ahead of time by NVRTC into cubins for
                       sm_80 and sm_90 plus their PTX (for newer GPUs), and the
                       weights the programs upload, raw; no CPU code
                       (docs/PACKAGE.md). Needs NVRTC (the CUDA toolkit) here,
                       not a GPU. Such a package runs with bmc-run --device
                       cuda on a GPU (batch 1); bmc-run MODEL --device cuda
                       compiles just in time for that GPU's sm_XY instead
  --model-file PATH    a model folder's ONNX file (relative to the folder, e.g.
                       onnx/model_q4.onnx) instead of the one bmc chooses
                       (docs/FOLDERS.md)
  --tokenizer FILE     embed this tokenizer.json (or SentencePiece .model;
                       checked first) instead of the folder's
  --kv MODE            bmc (default): in-place KV caches with spare rows;
                       prealloc: in-place, one buffer for the whole context;
                       concat: keep the graph's Concat (the exported semantics)
  --r N                spare rows per reallocation in bmc mode, up to 1048576
                       (default 0: the cost model's choice)
  --kv-padding MODE    skip (default) or mask: how attention treats spare rows
  --kv-type TYPE       auto (default), f32, bf16 or f16: element type of the
                       in-place KV caches (bmc/prealloc), rounded to nearest
                       even when appended; attention widens them to f32 as it
                       reads. auto: the graph's past_key_values type (f16/bf16
                       for a fully 16-bit export), else f32; the other 16-bit
                       type than the graph's is refused
  A fully fp16/bf16 graph (fp16 export) needs no flag: it is computed in
  fp32 (weights stay 16-bit, widened as read; 16-bit inputs and outputs keep
  their types, cast at the boundary), its KV caches kept 16-bit; the output
  says so.
  --weights FORMAT     f32 (default), int8, int4, bf16 or f16: matmul weights
                       quantized at compile time, round to nearest; int8/int4:
                       one fp32 scale per 32 rows of K per column (onnxruntime
                       MatMulNBits arithmetic, bits 8 or 4 with zero point 8),
                       1.125 or 0.656 bytes per weight; bf16/f16: 2 bytes per
                       weight, widened to f32 exactly as read
  --act FORMAT         f32 (default) or int8: activations of the quantized
                       matmuls (--weights int8|int4, MatMulNBits) rounded to
                       int8 per 32 values, integer dot products (AVX-512
                       VNNI): faster, less exact (docs/QUANTIZATION.md)
  --emit STAGE         print the IR instead of writing a package: mlir (after
                       the graph passes and bmc-lower-to-kernels), llvm
                       (optimised LLVM IR) or cuda (CUDA C for the whole model:
                       refused, naming the first op without a CUDA form, until
                       every op family has one; bmc-opt --bmc-emit-cuda emits
                       the kernels that exist)
  --remarks            explain the KV-cache rewrite decisions
  --quiet              no progress output
  -h, --help           this help
)";

static int run(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  std::string in = a.positional("MODEL");
  std::string out = a.str("-o", "");
  std::string tokenizerPath = a.str("--tokenizer", "");
  std::string modelFile = a.str("--model-file", "");
  std::string kv = a.str("--kv", "bmc");
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  std::string weightsArg = a.str("--weights", "f32");
  std::string actArg = a.str("--act", "f32");
  std::string kvTypeArg = a.str("--kv-type", "auto");
  std::string emit = a.str("--emit", "");
  std::string targetArg = a.str("--target", "cpu");
  bool remarks = a.flag("--remarks"), quiet = a.flag("--quiet");
  a.finish();
  if (kv != "bmc" && kv != "prealloc" && kv != "concat") a.fail("--kv: expected bmc, prealloc or concat, found " + cli::shown(kv));
  KVPadding kvPadding = KVPadding::Skip;
  if (!parseKVPadding(padding, kvPadding)) a.fail("--kv-padding: expected skip or mask, found " + cli::shown(padding));
  WeightFormat weights;
  if (!parseWeightFormat(weightsArg, weights)) a.fail("--weights: expected f32, int8, int4, bf16 or f16, found " + cli::shown(weightsArg));
  ActivationFormat act;
  if (!parseActivationFormat(actArg, act)) a.fail("--act: expected f32 or int8, found " + cli::shown(actArg));
  KVType kvType;
  if (!parseKVType(kvTypeArg, kvType)) a.fail("--kv-type: expected auto, f32, bf16 or f16, found " + cli::shown(kvTypeArg));
  if ((kvType == KVType::BF16 || kvType == KVType::F16) && kv == "concat")
    a.fail("--kv-type " + kvTypeArg + ": needs in-place KV caches (--kv bmc or prealloc), found --kv concat");
  if (!emit.empty() && emit != "mlir" && emit != "llvm" && emit != "cuda")
    a.fail("--emit: expected mlir, llvm or cuda, found " + cli::shown(emit));
  if (emit.empty() && out.empty()) a.fail("missing -o FILE (see --help)");
  Target target;
  if (!parseTarget(targetArg, target)) a.fail("--target: expected cpu or cuda, found " + cli::shown(targetArg));
  if (target == Target::Cuda && emit == "llvm") a.fail("--emit llvm: the CPU target's code, found --target cuda");

  CompileOptions co;
  // A folder's files, or --tokenizer, are read and checked before compiling.
  std::shared_ptr<ModelAssets> assets;
  std::string model = in, folderNote;
  if (!modelFile.empty() && !ModelFolder::isFolder(in))
    a.fail("--model-file: applies to a model folder, found " + cli::shown(in));
  if (ModelFolder::isFolder(in)) {
    auto f = ModelFolder::open(in, modelFile);
    if (!f) cli::die("bmc-compile: " + f.status().message());
    model = f.value().modelPath;
    folderNote = f.value().dir + ": model file " + f.value().modelFile;
    assets = std::make_shared<ModelAssets>(std::move(f.value().assets));
  }
  if (!tokenizerPath.empty()) {
    auto bytes = readWholeFile(tokenizerPath);
    if (!bytes) cli::die("bmc-compile: --tokenizer: " + bytes.status().message());
    if (!assets) assets = std::make_shared<ModelAssets>();
    assets->tokenizerFile = cli::endsWith(tokenizerPath, ".model") ? "tokenizer.model" : "tokenizer.json";
    assets->tokenizerData = std::move(bytes.value());
    assets->origin = tokenizerPath;
  }
  int64_t tokenizerVocab = -1;
  if (assets && assets->hasTokenizer()) {
    auto t = Tokenizer::fromAssets(*assets);
    if (!t) cli::die("bmc-compile: " + t.status().message());
    tokenizerVocab = t.value().vocabSize();
  }
  co.assets = assets;
  // The tokenizer and eos/bos ids must fit the model's vocabulary: checked
  // before any code is made, so that no package is written.
  if (assets)
    co.checkSignature = [&](const ModelSignature &sig) {
      if (!sig.decoder.valid) return Status();
      const std::string tok = !tokenizerPath.empty() ? tokenizerPath : assets->origin + "/" + assets->tokenizerFile;
      const std::string gen = assets->origin + "/generation_config.json or config.json"; // none without a folder
      Status s = checkVocabulary(sig.decoder.vocab, model, tokenizerVocab, tok, &assets->generation, gen);
      return s.ok() ? s : Status::error("bmc-compile: " + s.message());
    };
  co.kvMode = cli::kvModeOf(kv);
  co.r = r;
  co.kvPadding = kvPadding;
  co.weights = weights;
  co.activations = act;
  co.kvType = kvType;
  co.target = target;
  auto t0 = Clock::now();
  auto last = t0;
  if (!quiet)
    co.progress = [&](const std::string &stage) {
      auto now = Clock::now();
      std::fprintf(stderr, "bmc-compile: [%6.2f s] %s\n", std::chrono::duration<double>(now - t0).count(), stage.c_str());
      last = now;
    };
  if (remarks) co.remarks = [](const std::string &m) { std::fprintf(stderr, "remark: %s\n", m.c_str()); };
  if (!emit.empty()) {
    auto text = compileToText(model, co, emit);
    if (!text) cli::die(text.status().message());
    std::fputs(text.value().c_str(), stdout);
    return 0;
  }
  CompileReport rep;
  Status s = compilePackage(model, out, co, &rep);
  if (!s.ok()) cli::die(s.message());
  const DecoderInfo &d = rep.signature.decoder;
  // Only now: an error is one line, with nothing before it.
  if (!quiet && !folderNote.empty()) std::fprintf(stderr, "bmc-compile: %s\n", folderNote.c_str());
  if (!quiet && !remarks) // with --remarks they were printed as remarks
    for (const std::string &n : rep.importNotes) std::fprintf(stderr, "bmc-compile: %s: %s\n", model.c_str(), n.c_str());
  if (!quiet && assets) {
    std::string what = assets->hasTokenizer() ? assets->tokenizerFile + " (" +
                                                    std::to_string(assets->tokenizerData.size() / 1024) + " KB) and "
                                              : std::string("no tokenizer; ");
    std::fprintf(stderr, "bmc-compile: embedded %sthe generation defaults (%s)\n", what.c_str(),
                 assets->generation.describe().c_str());
  }
  if (!quiet && target == Target::Cuda)
    std::fprintf(stderr, "bmc-compile: [%6.2f s] wrote %s for --target cuda (%.1f MB of weights; a CUDA section of "
                 "%.1f KB: CUDA C, cubins and PTX; no CPU code)\n",
                 std::chrono::duration<double>(Clock::now() - t0).count(), out.c_str(), rep.weightBytes / 1e6,
                 rep.cudaSectionBytes / 1e3);
  else if (!quiet)
    std::fprintf(stderr, "bmc-compile: [%6.2f s] wrote %s (%.1f MB of weights, %s matmuls%s, %.1f MB read per token; "
                 "%.1f KB of code)\n",
                 std::chrono::duration<double>(Clock::now() - t0).count(), out.c_str(), rep.weightBytes / 1e6,
                 d.weights.c_str(), d.activations == "int8" ? " with int8 activations" : "", d.weightBytesPerToken / 1e6,
                 rep.codeBytes / 1e3);
  // Whether the BMC path was taken, per cache: loudly when it was not.
  if (d.valid && kv != "concat") {
    size_t inPlace = 0;
    for (const auto &st : d.kvStatus) inPlace += st.find(": in place") != std::string::npos;
    bool all = inPlace == d.kvStatus.size() && !d.kvStatus.empty();
    if (!quiet || !all)
      std::fprintf(stderr, "bmc-compile: KV caches rewritten in place: %zu of %zu (%s, %s%s)\n", inPlace,
                   d.kvStatus.size(), d.kvMode.c_str(), d.kvType.c_str(),
                   d.kvMode == "bmc" ? (r ? (", r=" + std::to_string(r)).c_str() : ", r chosen by the cost model at run time") : "");
    for (const auto &st : d.kvStatus)
      if (remarks || st.find(": in place") == std::string::npos)
        std::fprintf(stderr, "  %s%s\n", st.find(": in place") == std::string::npos ? "warning: not rewritten: " : "",
                     st.c_str());
  } else if (d.valid && !quiet) {
    std::fprintf(stderr, "bmc-compile: KV caches: concat, %s (the graph's tensors: a new buffer and a full copy per "
                 "token)\n", d.kvType.c_str());
  } else if (!d.valid && !quiet) {
    std::fprintf(stderr, "bmc-compile: not a decoder with a KV cache: compiled for Model::run only\n");
  }
  return 0;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
