//===- bmc-run.cpp - generate tokens with a compiled model -----------------===//
//
//   bmc-run model.bmcpkg --prompt 1,2,3 --max-new-tokens 32
//   bmc-run model.onnx ...        (compiles just in time first)
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "compiler/tools/CliUtil.h"
#include "runtime/Limits.h"

#include <chrono>
#include <cstdio>
#include <cstring>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static const char *kUsage = R"(usage: bmc-run MODEL [options]

Generates tokens with a decoder model. MODEL is a package written by
bmc-compile (.bmcpkg, loaded without recompiling) or an ONNX file (compiled
just in time).

Options:
  --prompt IDS           comma-separated token ids (default: 1,2,3,4)
  --max-new-tokens N     tokens to generate (default: 32)
  --batch B              decode B copies of the prompt together (1 to 4096;
                         default: 1)
  --temperature T        0 = greedy (default); else sample from softmax(logits/T)
  --top-k K              sample among the K most likely tokens (0 = all)
  --top-p P              sample within the smallest set of probability >= P
                         (0 to 1, default 1)
  --seed S               random seed for sampling (default: 0)
  --stop IDS             stop a sequence after any of these token ids
  --kv MODE              KV cache: bmc (default), prealloc, or concat (the
                         graph as exported; for ONNX input this selects how
                         it is compiled)
  --r N                  spare KV rows per reallocation in bmc mode, up to
                         1048576 (default 0: the cost model's choice)
  --kv-padding MODE      skip (default) or mask: how attention treats spare rows
  --max-context N        maximum tokens in the cache, up to 16777216
                         (default: the model's)
  --threads N            kernel threads (default: all cores)
  --json                 print one JSON object instead of text
  --quiet                print only the generated token ids
  -h, --help             this help
)";

static int run(int argc, char **argv) {
  constexpr int64_t kAny = std::numeric_limits<int64_t>::max(), kAnyNeg = std::numeric_limits<int64_t>::min();
  cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL");
  // Token ids: any int64 here; the session says which are outside the vocabulary.
  std::vector<int64_t> prompt = a.ints("--prompt", {1, 2, 3, 4}, kAnyNeg, kAny);
  GenerateOptions g;
  g.maxNewTokens = a.integer("--max-new-tokens", 32, 0, limits::kMaxContext);
  int64_t batch = a.integer("--batch", 1, 1, limits::kMaxBatch);
  g.temperature = float(a.real("--temperature", 0.0, 0.0, 1e6));
  g.topK = a.integer("--top-k", 0, 0, kAny);
  g.topP = float(a.real("--top-p", 1.0, 0.0, 1.0));
  g.seed = uint64_t(a.integer("--seed", 0, 0, kAny));
  g.stopTokens = a.ints("--stop", {}, kAnyNeg, kAny);
  std::string kv = a.str("--kv", "bmc");
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  int64_t maxContext = a.integer("--max-context", 0, 0, limits::kMaxContext);
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  bool json = a.flag("--json"), quiet = a.flag("--quiet");
  a.finish();
  if (kv != "bmc" && kv != "prealloc" && kv != "concat") a.fail("--kv: expected bmc, prealloc or concat, found " + cli::shown(kv));
  if (padding != "skip" && padding != "mask") a.fail("--kv-padding: expected skip or mask, found " + cli::shown(padding));

  auto t0 = Clock::now();
  bool isOnnx = cli::endsWith(model, ".onnx");
  CompileOptions co;
  co.kvMode = cli::kvModeOf(kv);
  co.r = r;
  co.kvPadding = padding;
  co.threads = threads;
  if (!quiet && !json) co.progress = [](const std::string &s) { std::fprintf(stderr, "bmc-run: %s...\n", s.c_str()); };
  std::shared_ptr<Model> m = cli::openModel(model, co);
  double loadMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (bmc::kernelIsa() != "avx2")
    std::fprintf(stderr, "bmc-run: warning: running with the '%s' kernels, not the AVX2/FMA microkernels (no AVX2/FMA "
                 "on this CPU, or BMC_KERNELS=ref): correct but many times slower\n", bmc::kernelIsa().c_str());

  SessionOptions so;
  so.kvMode = isOnnx ? "" : (kv == "bmc" ? "" : kv);
  so.r = r;
  so.maxContext = maxContext;
  auto sres = Session::create(m, so);
  if (!sres) cli::die(model + ": " + sres.status().message());
  Session &s = *sres.value();

  std::vector<std::vector<int64_t>> prompts(size_t(batch), prompt);
  auto tp = Clock::now();
  Clock::time_point tFirst{};
  bool sawFirst = false;
  auto res = s.generate(prompts, g, [&](int64_t step, const std::vector<int64_t> &) {
    if (step == 0) { tFirst = Clock::now(); sawFirst = true; }
    return true;
  });
  auto te = Clock::now();
  if (!res) cli::die(model + ": " + res.status().message());
  if (!sawFirst) tFirst = te; // --max-new-tokens 0: only the prefill ran
  double prefillMs = std::chrono::duration<double, std::milli>(tFirst - tp).count();
  double decodeMs = std::chrono::duration<double, std::milli>(te - tFirst).count();
  int64_t steps = std::max<int64_t>(0, int64_t(res.value()[0].size()) - 1); // the first token came from prefill
  const KVStats &st = s.kvStats();

  if (json) {
    std::printf("{\"tokens\": [");
    for (size_t b = 0; b < res.value().size(); ++b) {
      std::printf("%s[", b ? ", " : "");
      for (size_t i = 0; i < res.value()[b].size(); ++i) std::printf("%s%lld", i ? ", " : "", (long long)res.value()[b][i]);
      std::printf("]");
    }
    std::printf("], \"load_ms\": %.3f, \"prefill_ms\": %.3f, \"prompt_tokens\": %zu, \"decode_ms\": %.3f, "
                "\"decode_steps\": %lld, \"kv_mode\": \"%s\", \"r\": %lld, \"kv_bytes_allocated\": %lld, "
                "\"kv_bytes_used\": %lld, \"kv_reallocations\": %lld}\n",
                loadMs, prefillMs, prompt.size(), decodeMs, (long long)steps, s.kvMode().c_str(), (long long)s.r(),
                (long long)st.bytesAllocated, (long long)st.bytesUsed, (long long)st.reallocations);
    return 0;
  }
  for (size_t b = 0; b < res.value().size(); ++b) {
    for (size_t i = 0; i < res.value()[b].size(); ++i) std::printf("%s%lld", i ? "," : "", (long long)res.value()[b][i]);
    std::printf("\n");
  }
  if (quiet) return 0;
  std::fprintf(stderr, "%s: %s in %.0f ms (%s)\n", model.c_str(), isOnnx ? "compiled" : "loaded", loadMs,
               m->codeDescription().c_str());
  std::fprintf(stderr, "prefill: %zu tokens x %lld in %.2f ms (time to first token)\n", prompt.size(), (long long)batch,
               prefillMs);
  if (steps > 0)
    std::fprintf(stderr, "decode: %lld steps in %.2f ms: %.2f ms/token, %.1f tokens/s (x%lld sequences)\n",
                 (long long)steps, decodeMs, decodeMs / double(steps), 1000.0 * double(steps) / decodeMs, (long long)batch);
  std::fprintf(stderr, "kv cache: %s%s, %.2f MB allocated, %.2f MB used, %lld reallocations\n", s.kvMode().c_str(),
               s.kvMode() == "bmc" ? (" r=" + std::to_string(s.r())).c_str() : "", st.bytesAllocated / 1e6,
               st.bytesUsed / 1e6, (long long)st.reallocations);
  return 0;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
