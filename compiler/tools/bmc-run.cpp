//===- bmc-run.cpp - generate tokens with a compiled model -----------------===//
//
//   bmc-run model.bmcpkg --prompt 1,2,3 --max-new-tokens 32
//   bmc-run model.onnx ...        (compiles just in time first)
//   bmc-run model-folder/ --prompt "Once upon a time"   (Hugging Face / Optimum export)
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/cost_model.h"
#include "bmc/model_folder.h"
#include "bmc/tokenizer.h"
#include "bmc/session.h"
#include "bmc/speculative.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <chrono>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static std::string jsonEscape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o;
}

static const char *kUsage = R"(usage: bmc-run MODEL [options]

Generates tokens with a decoder model. MODEL is a package written by
bmc-compile (.bmcpkg, loaded without recompiling), an ONNX file (compiled
just in time), or a model folder as Hugging Face / Optimum export it
(model.onnx, config.json, generation_config.json, tokenizer.json; compiled
just in time; docs/FOLDERS.md). A folder's or a package's tokenizer and
generation defaults (eos ids, context length, sampling) apply unless the
options below say otherwise.

Options:
  --prompt TEXT|IDS      with a tokenizer (the model's or --tokenizer), text
                         (encoded with its special tokens, e.g. BOS);
                         without one, comma-separated token ids (default:
                         1,2,3,4)
  --prompt-ids IDS       token ids, also with a tokenizer
  --model-file PATH      a model folder's ONNX file (relative to the folder,
                         e.g. onnx/model_q4.onnx) instead of the one bmc
                         chooses (docs/FOLDERS.md)
  --tokenizer FILE       a Hugging Face tokenizer.json or a SentencePiece
                         .model (docs/TOKENIZER.md), instead of the model's: --prompt is text and the
                         output is text, streamed as it is generated (whole
                         UTF-8 characters); with random weights the text is
                         meaningless
  --ignore-eos           do not stop at the model's eos token ids
  --max-new-tokens N     tokens to generate (default: 32)
  --batch B              decode B copies of the prompt together (1 to 4096;
                         default: 1)
  --temperature T        0 = greedy (default, or the model's
                         generation_config); else sample from softmax(logits/T)
  --top-k K              sample among the K most likely tokens (0 = all;
                         default 0, or the model's, 50 if it samples)
  --top-p P              sample within the smallest set of probability >= P
                         (0 to 1, default 1 or the model's)
  --seed S               random seed for sampling (default: 0)
  --stop IDS             stop a sequence after any of these token ids (and
                         the model's eos ids)
  --kv MODE              KV cache: bmc (default), prealloc, or concat (the
                         graph as exported; for ONNX input this selects how
                         it is compiled)
  --r N                  spare KV rows per reallocation in bmc mode, up to
                         1048576 (default 0: the cost model's choice)
  --kv-padding MODE      skip (default) or mask: how attention treats spare rows
  --kv-type TYPE         auto (default), f32, bf16 or f16: KV cache element
                         type an ONNX model is compiled with (auto: the
                         graph's past_key_values type, so a fully fp16/bf16
                         export keeps 16-bit caches; it is computed in fp32
                         and its 16-bit logits widened to f32 for sampling); a package has its own
                         (given and different: an error, recompile it)
  --weights FORMAT       f32 (default), int8, int4 (weight-only, blocks of 32),
                         bf16 or f16 (rounded to nearest even):
                         how an ONNX model's matmul weights are compiled
                         (a package keeps what bmc-compile chose)
  --act FORMAT           f32 (default) or int8: activations of the quantized
                         matmuls rounded to int8 per 32 values, integer dot
                         products (for ONNX input; a package given another
                         --act than it was compiled with is refused)
  --max-context N        maximum tokens in the cache, up to 16777216
                         (default: the model's, or its config's context
                         length if smaller)
  --threads N            kernel threads (default: all cores)
  --device DEVICE        cpu (default) or cuda: where the model runs. cuda
                         generates on GPU 0. An ONNX model or folder is
                         compiled just in time to CUDA C, its kernels by
                         NVRTC for the GPU's own sm_XY, cached by hash in
                         $BMC_CUDA_CACHE (off: no cache), else
                         $XDG_CACHE_HOME/bmc/nvrtc, else ~/.cache/bmc/nvrtc.
                         A package needs a CUDA section for cuda
                         (bmc-compile --target cuda: its cubin for the
                         sm_XY, else the PTX of the highest architecture
                         below it) and CPU code for cpu (each other pairing
                         is a one-line error). On cuda: --batch as on the
                         CPU (prompts of one length), --kv bmc or prealloc
                         (concat for a model compiled with --kv concat), r
                         from --r, else the compiled-in r, else the cost
                         model's on the GPU's constants; speculative
                         decoding (--spec-k auto: from the model's passes
                         timed on the GPU once per model); without a GPU,
                         the CUDA driver's one-line error
  --pack-threads N       threads that pack an ONNX model's weights while its
                         code is generated, 1-64 (default: min(4, --threads,
                         cores)); the packed weights are the same for any N

Speculative decoding (batch 1; greedy output identical, sampled output of
the same distribution; see docs/SPECULATIVE.md):
  --draft DRAFT          a smaller decoder with the same vocabulary (package
                         or ONNX) proposes tokens; the model verifies them
  --draft-device DEVICE  cpu or cuda: where the --draft runs (default: the
                         model's --device); a CPU draft can serve a GPU
                         model and the other way round
  --spec-lookup N        prompt lookup: propose what followed the last
                         match of the context's last N..1 tokens (no model)
  --spec-k K|auto        draft tokens per verification pass (default: 4);
                         auto: the cost model's choice before each pass, from
                         the acceptance rate measured so far (at most 8);
                         on cuda the model's passes of 1-8 tokens are timed
                         first (once per model)
  --json                 print one JSON object instead of text
  --quiet                print only the generated token ids
  -h, --help             this help
)";

static int run(int argc, char **argv) {
  constexpr int64_t kAny = std::numeric_limits<int64_t>::max(), kAnyNeg = std::numeric_limits<int64_t>::min();
  cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL");
  // Token ids: any int64 here; the session says which are outside the vocabulary.
  const std::string tokenizerPath = a.str("--tokenizer", "");
  const std::string modelFile = a.str("--model-file", "");
  std::vector<int64_t> promptIds = a.ints("--prompt-ids", {}, kAnyNeg, kAny);
  std::vector<int64_t> prompt;
  std::optional<std::string> promptArg = a.value("--prompt");
  GenerateOptions g;
  g.maxNewTokens = a.integer("--max-new-tokens", 32, 0, limits::kMaxContext);
  int64_t batch = a.integer("--batch", 1, 1, limits::kMaxBatch);
  std::optional<double> temperature = a.realOpt("--temperature", 0.0, 1e6);
  std::optional<int64_t> topK = a.integerOpt("--top-k", 0, kAny);
  std::optional<double> topP = a.realOpt("--top-p", 0.0, 1.0);
  g.seed = uint64_t(a.integer("--seed", 0, 0, kAny));
  std::vector<int64_t> stopArg = a.ints("--stop", {}, kAnyNeg, kAny);
  bool ignoreEos = a.flag("--ignore-eos");
  std::string kv = a.str("--kv", "bmc");
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  std::string weightsArg = a.str("--weights", "f32");
  std::string actArg = a.str("--act", "");
  std::optional<std::string> kvTypeArg = a.value("--kv-type");
  int64_t maxContext = a.integer("--max-context", 0, 0, limits::kMaxContext);
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  std::optional<int64_t> packThreads = a.integerOpt("--pack-threads", 1, 64);
  std::string draftPath = a.str("--draft", "");
  std::string deviceArg = a.str("--device", "cpu");
  std::optional<std::string> draftDeviceArg = a.value("--draft-device");
  std::optional<std::string> specLookupArg = a.value("--spec-lookup"), specKArg = a.value("--spec-k");
  bool json = a.flag("--json"), quiet = a.flag("--quiet");
  a.finish();
  if (!promptIds.empty() && promptArg) a.fail("--prompt and --prompt-ids: expected one prompt, found both");
  Target device;
  if (!parseTarget(deviceArg, device)) a.fail("--device: expected cpu or cuda, found " + cli::shown(deviceArg));
  Target draftDevice = device;
  if (draftDeviceArg && !parseTarget(*draftDeviceArg, draftDevice))
    a.fail("--draft-device: expected cpu or cuda, found " + cli::shown(*draftDeviceArg));
  // A model folder: its files are read (and a bad one refused) before anything is compiled.
  std::shared_ptr<const ModelAssets> assets;
  std::string compilePath = model, folderModelFile;
  if (!modelFile.empty() && !ModelFolder::isFolder(model))
    a.fail("--model-file: applies to a model folder, found " + cli::shown(model));
  if (ModelFolder::isFolder(model)) {
    auto f = ModelFolder::open(model, modelFile);
    if (!f) cli::die("bmc-run: " + f.status().message());
    compilePath = f.value().modelPath;
    folderModelFile = f.value().modelFile;
    assets = std::make_shared<ModelAssets>(std::move(f.value().assets));
  }
  std::optional<Tokenizer> tokenizer;
  std::string tokenizerName = tokenizerPath;
  auto useTokenizer = [&](Result<Tokenizer> t, const std::string &what) {
    if (!t) cli::die("bmc-run: " + what + t.status().message());
    tokenizer = std::move(t.value());
  };
  if (!tokenizerPath.empty()) useTokenizer(Tokenizer::load(tokenizerPath), "--tokenizer: ");
  else if (assets && assets->hasTokenizer()) {
    useTokenizer(Tokenizer::fromAssets(*assets), "");
    tokenizerName = assets->origin + "/" + assets->tokenizerFile;
  }
  if (tokenizer && !promptArg && promptIds.empty())
    a.fail("expected --prompt TEXT (or --prompt-ids) with a tokenizer, found no prompt tokens");
  // Without a tokenizer --prompt is ids; whether a package has one is known once it is loaded.
  std::vector<int64_t> promptAsIds;
  bool promptIsIds = promptArg && cli::parseIntegers(*promptArg, kAnyNeg, kAny, promptAsIds);
  auto badIdPrompt = [&] {
    a.fail("--prompt: expected comma-separated integers (no tokenizer: the model has none and no --tokenizer "
           "was given), found " + cli::shown(*promptArg));
  };
  const bool maybePackageTokenizer = !tokenizer && !assets && !cli::endsWith(model, ".onnx");
  if (!tokenizer && promptArg && !promptIsIds && !maybePackageTokenizer) badIdPrompt();
  if (kv != "bmc" && kv != "prealloc" && kv != "concat") a.fail("--kv: expected bmc, prealloc or concat, found " + cli::shown(kv));
  KVPadding kvPadding = KVPadding::Skip;
  if (!parseKVPadding(padding, kvPadding)) a.fail("--kv-padding: expected skip or mask, found " + cli::shown(padding));
  WeightFormat weights;
  if (!parseWeightFormat(weightsArg, weights)) a.fail("--weights: expected f32, int8, int4, bf16 or f16, found " + cli::shown(weightsArg));
  ActivationFormat act = ActivationFormat::F32;
  if (!actArg.empty() && !parseActivationFormat(actArg, act))
    a.fail("--act: expected f32 or int8, found " + cli::shown(actArg));
  KVType kvType = KVType::Auto;
  if (kvTypeArg && !parseKVType(*kvTypeArg, kvType))
    a.fail("--kv-type: expected auto, f32, bf16 or f16, found " + cli::shown(*kvTypeArg));
  if ((kvType == KVType::BF16 || kvType == KVType::F16) && kv == "concat")
    a.fail("--kv-type " + *kvTypeArg + ": needs in-place KV caches (--kv bmc or prealloc), found --kv concat");
  int64_t specLookup = 0, specK = 4;
  if (specLookupArg && (!cli::parseInteger(*specLookupArg, specLookup) || specLookup < 1 || specLookup > 64))
    a.fail("--spec-lookup: expected an n-gram length in [1, 64], found " + cli::shown(*specLookupArg));
  if (specKArg && *specKArg == "auto") specK = 0; // the cost model's choice before each pass
  else if (specKArg && (!cli::parseInteger(*specKArg, specK) || specK < 1 || specK > 256))
    a.fail("--spec-k: expected an integer in [1, 256] or 'auto', found " + cli::shown(*specKArg));
  if (!draftPath.empty() && specLookup != 0) a.fail("--draft and --spec-lookup: expected one drafter, found both");
  bool speculative = !draftPath.empty() || specLookup > 0;
  if (specKArg && !speculative) a.fail("--spec-k: needs a drafter (--draft or --spec-lookup)");
  if (speculative && batch != 1) a.fail("--batch: speculative decoding needs batch 1, found " + std::to_string(batch));
  if (draftDeviceArg && draftPath.empty()) a.fail("--draft-device: needs a --draft model");

  if (packThreads && !cli::endsWith(compilePath, ".onnx"))
    a.fail("--pack-threads: applies to an ONNX model or a model folder (packed here), found the package " +
           cli::shown(model) + " (its weights were packed by bmc-compile)");

  auto t0 = Clock::now();
  bool isOnnx = cli::endsWith(compilePath, ".onnx");
  CompileOptions co;
  co.assets = assets;
  co.kvMode = cli::kvModeOf(kv);
  co.r = r;
  co.kvPadding = kvPadding;
  co.weights = weights;
  co.activations = act;
  co.kvType = kvType;
  co.threads = threads;
  co.packThreads = int(packThreads.value_or(0));
  co.target = device; // the JIT compiles for it; a package loads on it
  // Each stage with the seconds since the start, as bmc-compile prints them.
  if (!quiet && !json)
    co.progress = [t0](const std::string &s) {
      std::fprintf(stderr, "bmc-run: [%6.2f s] %s\n", std::chrono::duration<double>(Clock::now() - t0).count(), s.c_str());
    };
  std::shared_ptr<Model> m = cli::openModel(compilePath, co);
  if (!assets && m->assets()) { // a package's embedded assets
    assets = std::make_shared<ModelAssets>(*m->assets());
    if (!tokenizer && assets->hasTokenizer()) {
      useTokenizer(Tokenizer::fromAssets(*assets), "");
      tokenizerName = assets->origin + ": embedded " + assets->tokenizerFile;
    }
  }
  if (m->signature().decoder.valid) {
    const bool folder = ModelFolder::isFolder(model);
    Status s = checkVocabulary(m->signature().decoder.vocab, folder ? compilePath : model,
                               tokenizer ? tokenizer->vocabSize() : -1, tokenizerName,
                               assets ? &assets->generation : nullptr,
                               folder ? assets->origin + "/generation_config.json or config.json"
                                      : "'" + model + "' (its embedded generation defaults)");
    if (!s.ok()) cli::die("bmc-run: " + s.message());
  }
  if (tokenizer) {
    if (promptArg) {
      auto ids = tokenizer->encode(*promptArg, /*addSpecial=*/true);
      if (!ids) cli::die("bmc-run: --prompt: " + ids.status().message());
      prompt = std::move(ids.value());
    } else {
      prompt = promptIds;
    }
    if (prompt.empty()) a.fail("expected --prompt TEXT (or --prompt-ids) with a tokenizer, found no prompt tokens");
  } else if (promptArg) {
    if (!promptIsIds) badIdPrompt();
    prompt = promptAsIds;
  } else {
    prompt = promptIds.empty() ? std::vector<int64_t>{1, 2, 3, 4} : promptIds;
  }
  // Generation defaults: the model's, then the options given.
  const DecoderInfo &dec = m->signature().decoder;
  if (assets) {
    assets->generation.applyTo(g);
    if (ignoreEos) g.stopTokens.clear();
    if (maxContext == 0 && assets->generation.contextLength > 0)
      maxContext = dec.maxPositions > 0 ? std::min(dec.maxPositions, assets->generation.contextLength)
                                        : assets->generation.contextLength;
    if (!quiet && !json)
      std::fprintf(stderr, "bmc-run: %s: %s%s%s\n", assets->origin.c_str(),
                   folderModelFile.empty() ? "" : (folderModelFile + ", ").c_str(),
                   assets->generation.describe().c_str(),
                   assets->hasTokenizer() ? (", " + assets->tokenizerFile).c_str() : "");
  }
  if (temperature) g.temperature = float(*temperature);
  if (topK) g.topK = *topK;
  if (topP) g.topP = float(*topP);
  g.stopTokens.insert(g.stopTokens.end(), stopArg.begin(), stopArg.end());
  double loadMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!actArg.empty() && m->signature().decoder.activations != actArg)
    a.fail("--act " + actArg + ": " + model + " was compiled with " + m->signature().decoder.activations +
           " activations (recompile it with bmc-compile --act " + actArg + ")");
  if (bmc::kernelIsa() == "ref" || bmc::kernelIsa() == "avx2-nojit")
    std::fprintf(stderr, "bmc-run: warning: running with the '%s' kernels, not the AVX2/FMA microkernels (no AVX2/FMA "
                 "on this CPU, or BMC_KERNELS=ref): correct but many times slower\n", bmc::kernelIsa().c_str());

  if (kvTypeArg && kvType != KVType::Auto && m->signature().decoder.kvType != kvTypeName(kvType))
    cli::die(model + ": --kv-type " + *kvTypeArg + ": the package was compiled with KV type " +
             m->signature().decoder.kvType + " (recompile it with bmc-compile --kv-type " + *kvTypeArg + ")");
  SessionOptions so;
  so.kvMode = isOnnx ? "" : (kv == "bmc" ? "" : kv);
  so.r = r;
  so.maxContext = maxContext;
  auto sres = Session::create(m, so);
  if (!sres) cli::die(model + ": " + sres.status().message());
  Session &s = *sres.value();

  if (speculative) {
    if (specLookup > 0) {
      g.speculative.drafter = std::make_shared<PromptLookupDrafter>(specLookup);
    } else {
      CompileOptions dco = co;
      dco.kvMode = KVMode::BMC; // the draft rolls back in its own BMC cache
      dco.target = draftDevice; // the JIT compiles for it; a package loads on it
      if (!quiet && !json) dco.progress = [](const std::string &st) { std::fprintf(stderr, "bmc-run: draft: %s...\n", st.c_str()); };
      std::shared_ptr<Model> dm = cli::openModel(draftPath, dco, "bmc-run: draft model");
      SessionOptions dso;
      dso.maxContext = s.maxContext();
      g.speculative.drafter = std::make_shared<ModelDrafter>(dm, dso, "draft " + draftPath);
    }
    g.speculative.k = specK;
  }
  std::vector<std::vector<int64_t>> prompts(size_t(batch), prompt);
  auto tp = Clock::now();
  Clock::time_point tFirst{};
  bool sawFirst = false;
  // Text streams to stdout as it is generated (batch 1; whole characters only).
  std::optional<Tokenizer::StreamDecoder> stream;
  if (tokenizer && batch == 1 && !json) stream.emplace(*tokenizer, /*skipSpecial=*/true);
  auto res = s.generate(prompts, g, [&](int64_t step, const std::vector<int64_t> &t) {
    if (step == 0) { tFirst = Clock::now(); sawFirst = true; }
    if (stream) {
      auto piece = stream->push(t[0]);
      if (piece && !piece.value().empty()) {
        std::fputs(piece.value().c_str(), stdout);
        std::fflush(stdout);
      }
    }
    return true;
  });
  if (stream) {
    std::fputs((stream->finish() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  // The text of each sequence (batch > 1 or JSON), decoded whole.
  auto textOf = [&](const std::vector<int64_t> &ids) {
    auto t = tokenizer->decode(ids, /*skipSpecial=*/true);
    return t ? t.value() : std::string("<" + t.status().message() + ">");
  };
  auto te = Clock::now();
  if (!res) {
    // Tokens generated before a failure (e.g. the KV memory limit) are not lost.
    for (const auto &seq : s.generated()) {
      for (size_t i = 0; i < seq.size(); ++i) std::printf("%s%lld", i ? "," : "", (long long)seq[i]);
      if (!seq.empty()) std::printf("\n");
    }
    std::fflush(stdout);
    cli::die(model + ": " + res.status().message());
  }
  if (!sawFirst) tFirst = te; // --max-new-tokens 0: only the prefill ran
  double prefillMs = std::chrono::duration<double, std::milli>(tFirst - tp).count();
  double decodeMs = std::chrono::duration<double, std::milli>(te - tFirst).count();
  int64_t steps = std::max<int64_t>(0, int64_t(res.value()[0].size()) - 1); // the first token came from prefill
  const KVStats &st = s.kvStats();
  const GenerateStats &gs = s.generateStats();
  if (speculative) steps = gs.targetPasses; // decode time is per target pass or per token: say both below
  int64_t generated = int64_t(res.value()[0].size());

  if (json) {
    std::printf("{\"tokens\": [");
    for (size_t b = 0; b < res.value().size(); ++b) {
      std::printf("%s[", b ? ", " : "");
      for (size_t i = 0; i < res.value()[b].size(); ++i) std::printf("%s%lld", i ? ", " : "", (long long)res.value()[b][i]);
      std::printf("]");
    }
    std::printf("]");
    if (tokenizer) {
      std::printf(", \"text\": [");
      for (size_t b = 0; b < res.value().size(); ++b)
        std::printf("%s\"%s\"", b ? ", " : "", jsonEscape(textOf(res.value()[b])).c_str());
      std::printf("]");
    }
    std::printf(", \"load_ms\": %.3f, \"prefill_ms\": %.3f, \"prompt_tokens\": %zu, \"decode_ms\": %.3f, "
                "\"decode_steps\": %lld, \"kv_mode\": \"%s\", \"r\": %lld, \"kv_bytes_allocated\": %lld, "
                "\"kv_bytes_used\": %lld, \"kv_reallocations\": %lld, \"kv_bytes_copied\": %lld, \"generated\": %lld, "
                "\"stop\": \"%s\"",
                loadMs, prefillMs, prompt.size(), decodeMs, (long long)steps, s.kvMode().c_str(), (long long)s.r(),
                (long long)st.bytesAllocated, (long long)st.bytesUsed, (long long)st.reallocations,
                (long long)st.bytesCopied, (long long)generated, GenerateStats::name(gs.stop));
    if (const KVCostModel *cm = s.costModelInUse())
      std::printf(", \"cost_model\": {\"constants_of\": \"%s\", \"from_cache\": %s, \"read_gb_s\": %.3f, "
                  "\"alloc_us\": %.3f, \"copy_gb_s\": %.3f, \"grow_us\": %.3f, \"grow_granule_bytes\": %lld, "
                  "\"grow_in_place\": %s}",
                  jsonEscape(cm->hw.device.empty() ? "cpu: " + cm->hw.cpu : cm->hw.device).c_str(),
                  cm->hw.fromCache ? "true" : "false", cm->hw.readBytesPerSecond / 1e9, cm->hw.allocSeconds * 1e6,
                  cm->hw.copyBytesPerSecond / 1e9, cm->hw.growSeconds * 1e6, (long long)cm->hw.growGranularity,
                  cm->growInPlace ? "true" : "false");
    if (speculative)
      std::printf(", \"speculative\": {\"drafter\": \"%s\", \"k\": %lld, \"target_passes\": %lld, "
                  "\"draft_proposed\": %lld, \"draft_accepted\": %lld, \"acceptance_rate\": %.4f, "
                  "\"tokens_per_pass\": %.4f, \"draft_ms\": %.3f, \"last_k\": %lld}",
                  jsonEscape(g.speculative.drafter->describe()).c_str(), (long long)specK,
                  (long long)gs.targetPasses, (long long)gs.draftProposed, (long long)gs.draftAccepted,
                  gs.acceptanceRate(), gs.tokensPerPass(), gs.draftSeconds * 1e3, (long long)gs.lastK);
    std::printf("}\n");
    return 0;
  }
  for (size_t b = 0; b < res.value().size() && !stream; ++b) {
    if (tokenizer) {
      std::printf("%s\n", textOf(res.value()[b]).c_str());
      continue;
    }
    for (size_t i = 0; i < res.value()[b].size(); ++i) std::printf("%s%lld", i ? "," : "", (long long)res.value()[b][i]);
    std::printf("\n");
  }
  if (gs.stop == GenerateStats::Stop::ContextFull)
    std::fprintf(stderr, "bmc-run: stopped after %lld of %lld tokens: the maximum context of %lld tokens is full\n",
                 (long long)generated, (long long)g.maxNewTokens, (long long)s.maxContext());
  if (quiet) return 0;
  std::fprintf(stderr, "%s: %s in %.0f ms (%s; %s weights%s, %.1f MB read per token)\n", model.c_str(),
               isOnnx ? "compiled" : "loaded", loadMs, m->codeDescription().c_str(),
               m->signature().decoder.weights.c_str(),
               m->signature().decoder.activations == "int8" ? ", int8 activations" : "",
               m->signature().decoder.weightBytesPerToken / 1e6);
  std::fprintf(stderr, "prefill: %zu tokens x %lld in %.2f ms (time to first token)\n", prompt.size(), (long long)batch,
               prefillMs);
  if (steps > 0 && !speculative)
    std::fprintf(stderr, "decode: %lld steps in %.2f ms: %.2f ms/token, %.1f tokens/s (x%lld sequences)\n",
                 (long long)steps, decodeMs, decodeMs / double(steps), 1000.0 * double(steps) / decodeMs, (long long)batch);
  if (speculative && generated > 1) {
    std::fprintf(stderr, "decode: %lld tokens in %.2f ms: %.2f ms/token, %.1f tokens/s\n", (long long)(generated - 1),
                 decodeMs, decodeMs / double(generated - 1), 1000.0 * double(generated - 1) / decodeMs);
    std::fprintf(stderr, "speculative: %s, k=%s: %lld target passes, %.2f tokens per pass, acceptance %.1f%% "
                 "(%lld of %lld drafts), drafter %.2f ms\n", g.speculative.drafter->describe().c_str(),
                 specK ? std::to_string(specK).c_str() : ("auto, last " + std::to_string(gs.lastK)).c_str(), (long long)gs.targetPasses, gs.tokensPerPass(), 100.0 * gs.acceptanceRate(),
                 (long long)gs.draftAccepted, (long long)gs.draftProposed, gs.draftSeconds * 1e3);
  }

  std::fprintf(stderr, "kv cache: %s%s, %s, %.2f MB allocated, %.2f MB used, %lld reallocations\n", s.kvMode().c_str(),
               s.kvMode() == "bmc" ? (" r=" + std::to_string(s.r())).c_str() : "", m->signature().decoder.kvType.c_str(), st.bytesAllocated / 1e6,
               st.bytesUsed / 1e6, (long long)st.reallocations);
  if (const KVCostModel *cm = s.costModelInUse()) {
    // The constants behind r (docs/COST_MODEL.md): the CPU's, or the device's.
    const HardwareConstants &h = cm->hw;
    std::fprintf(stderr, "cost model: r=%lld from %s constants (%s): BW %.1f GB/s, A %.1f us, beta %.1f GB/s",
                 (long long)s.r(), h.device.empty() ? ("cpu " + h.cpu).c_str() : h.device.c_str(),
                 h.fromCache ? "cached" : "measured", h.readBytesPerSecond / 1e9, h.allocSeconds * 1e6,
                 h.copyBytesPerSecond / 1e9);
    if (h.growGranularity > 0)
      std::fprintf(stderr, ", grow %.1f us per %lld-byte granule (%s)", h.growSeconds * 1e6,
                   (long long)h.growGranularity, cm->growInPlace ? "growth in place" : "not used");
    std::fprintf(stderr, "\n");
  }
  return 0;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
