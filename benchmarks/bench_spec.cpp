//===- bench_spec.cpp - time speculative decoding in one KV configuration --===//
//
// One configuration per process (benchmarks/spec.py interleaves them):
//
//   bmc_bench_spec PKG --context C --window W --reference FILE --make-reference
//       prefills C - W tokens, decodes W tokens greedily without drafts and
//       writes them to FILE (the continuation the replay drafter knows).
//   bmc_bench_spec PKG --context C --window W --reference FILE [--kv MODE]
//                  [--r N] [--spec-k K --spec-p P] [--threads T]
//       the same decode with speculative decoding (K >= 1) or without (K = 0),
//       checked token for token against FILE before anything is reported.
//
// The drafter is bmc::ReplayDrafter: it proposes the reference continuation
// with each token replaced at random with probability 1 - P, so the
// acceptance rate is P by construction (random weights give no meaningful
// natural acceptance) and the drafter costs nothing: what is timed is the
// target's side of speculative decoding, where the KV cache matters.
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "bmc/speculative.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static const char *kUsage = R"(usage: bmc_bench_spec PKG --context C --window W --reference FILE [options]
  --make-reference  decode greedily without drafts and write the tokens to FILE
  --kv MODE         bmc | prealloc | concat (must match how the package was compiled)
  --r N             bmc spare rows (0 = cost model)
  --spec-k K        draft tokens per verification pass (0 = no speculative decoding)
  --spec-p P        probability that a replayed draft token is kept (the acceptance rate)
  --seed S          the replay drafter's corruption seed (default 1)
  --threads T       kernel threads (default: all)
)";

int main(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  std::string pkg = a.positional("PKG");
  int64_t ctx = a.integer("--context", 0, 0, limits::kMaxContext), window = a.integer("--window", 128, 2, limits::kMaxContext);
  std::string refPath = a.str("--reference", "");
  bool makeRef = a.flag("--make-reference");
  std::string kv = a.str("--kv", "");
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR), k = a.integer("--spec-k", 0, 0, 256),
          seed = a.integer("--seed", 1, 0, std::numeric_limits<int64_t>::max());
  double p = a.real("--spec-p", 1.0, 0.0, 1.0);
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  a.finish();
  if (ctx <= window || window < 2) cli::die("bmc_bench_spec: expected --context > --window >= 2");
  if (refPath.empty()) cli::die("bmc_bench_spec: --reference FILE is required");

  CompileOptions co;
  co.kvMode = cli::kvModeOf(kv);
  co.threads = threads;
  std::shared_ptr<Model> m = cli::openModel(pkg, co);
  SessionOptions so;
  so.kvMode = kv == "bmc" ? "" : kv;
  so.r = r;
  so.maxContext = ctx;
  auto s = Session::create(m, so);
  if (!s) cli::die(s.status().message());
  Session &session = *s.value();
  const int64_t V = m->signature().decoder.vocab;
  std::vector<int64_t> prompt(size_t(ctx - window));
  for (int64_t i = 0; i < ctx - window; ++i) prompt[size_t(i)] = (i * 7919 + 104729 + 1) % V;

  GenerateOptions g;
  g.maxNewTokens = window;
  std::vector<int64_t> reference;
  if (!makeRef) {
    std::ifstream f(refPath);
    int64_t t;
    while (f >> t) reference.push_back(t);
    if (int64_t(reference.size()) != window)
      cli::die("bmc_bench_spec: " + refPath + ": expected " + std::to_string(window) + " tokens, found " +
               std::to_string(reference.size()) + " (run --make-reference first)");
    if (k > 0) {
      std::vector<int64_t> seq = prompt;
      seq.insert(seq.end(), reference.begin(), reference.end());
      g.speculative.drafter = std::make_shared<ReplayDrafter>(seq, p, uint64_t(seed));
      g.speculative.k = k;
    }
  }
  Clock::time_point tFirst{};
  auto out = session.generate({prompt}, g, [&](int64_t step, const std::vector<int64_t> &) {
    if (step == 0) tFirst = Clock::now();
    return true;
  });
  auto tEnd = Clock::now();
  if (!out) cli::die(out.status().message());
  const std::vector<int64_t> &tokens = out.value()[0];
  if (makeRef) {
    std::ofstream f(refPath);
    for (int64_t t : tokens) f << t << "\n";
    if (!f) cli::die("bmc_bench_spec: cannot write " + refPath);
  } else if (tokens != reference) {
    cli::die("bmc_bench_spec: the tokens differ from the reference decode (speculative decoding is not exact here)");
  }
  double decodeS = std::chrono::duration<double>(tEnd - tFirst).count();
  const GenerateStats &st = session.generateStats();
  const KVStats &kvs = session.kvStats();
  int64_t decoded = int64_t(tokens.size()) - 1; // the first token comes from the prefill
  std::printf("{\"context\": %lld, \"window\": %lld, \"spec_k\": %lld, \"spec_p\": %.3f, \"ms_per_token\": %.4f, "
              "\"tok_s\": %.3f, \"target_passes\": %lld, \"tokens_per_pass\": %.4f, \"acceptance\": %.4f, "
              "\"kv_mode\": \"%s\", \"r\": %lld, \"kv_alloc_peak_mb\": %.3f, \"kv_used_mb\": %.3f, "
              "\"kv_reallocations\": %lld, \"kv_copied_mb\": %.3f, \"weights_mb\": %.3f}\n",
              (long long)ctx, (long long)window, (long long)k, p, decodeS * 1e3 / double(decoded),
              double(decoded) / decodeS, (long long)st.targetPasses, k > 0 ? st.tokensPerPass() : 1.0,
              st.acceptanceRate(), session.kvMode().c_str(), (long long)session.r(), kvs.peakBytesAllocated / 1e6,
              kvs.bytesUsed / 1e6, (long long)kvs.reallocations, kvs.bytesCopied / 1e6, m->weightBytes() / 1e6);
  return 0;
}
