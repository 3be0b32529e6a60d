//===- bmc-tune.cpp - pick r with the cost model, check it by measurement --===//

#include "bmc/compiler.h"
#include "bmc/cost_model.h"
#include "bmc/session.h"
#include "bmc/speculative.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static const char *kUsage = R"(usage: bmc-tune MODEL.onnx [options]

Prints the number of spare KV rows r that the cost model (docs/COST_MODEL.md)
picks for a target context length and, for a sweep of r, the predicted and
measured decode tokens/s (decoding from a short prompt up to the target).
Predictions come twice: from the calibrated constants, and with the read
bandwidth probed around each measured round instead (the same-run roofline,
which separates the model's error from the machine's drift).

Options:
  --context N[,N...]   target context lengths (default: 1024,2048)
  --prompt-len P       prompt tokens before decoding (default: 32); a long
                       prompt measures a window just below the target context
  --sweep R[,R...]     r values to measure (default: 8,16,32,64,128,256,512,1024)
  --kv-padding MODE    skip (default) or mask
  --batch B            sequences decoded together (default: 1); tok/s is per
                       sequence (steps/s), the KV rows are B times larger
  --threads N          kernel threads (default: all cores)
  --pack-threads N     threads that pack the model's weights while its code is
                       generated, 1-64 (default: min(4, --threads, cores));
                       the packed weights are the same for any N
  --rounds N           repeat the measurement N times and report the median
                       (default: 3). Within a round all r decode in lockstep,
                       one token each in turn, so drift affects them alike.
  --spec-k K[,K...]    also sweep speculative decoding over the grid of r (the
                       sweep, and the model's r for each k) and draft length k
                       (these), in lockstep, one verification pass each in
                       turn; the drafter replays the target's greedy output,
                       each token corrupted with probability 1 - A (so the
                       acceptance rate is A). Prints measured tok/s and tokens
                       per pass next to the predictions, and the model's (r, k)
                       in % of the best measured cell. Keep grids small: every
                       cell is a session of its own. Needs --batch 1.
  --accept-rate A      with --spec-k: the drafts' acceptance rate, 0..1
                       (default: 0.7)
  --draft-ms X         with --spec-k: the drafter's milliseconds per proposed
                       token in the model (default: 0, prompt lookup; the
                       replay drafter's own time is not measured)
  --spec-only          with --spec-k: skip the sweep without drafts
  --cpu-time           time the decode steps by this thread's CPU time instead
                       of the wall clock (needs --threads 1): what a step costs
                       while it runs, as calibration times itself, without the
                       time other processes take the core away on a shared host
  --no-measure         print the predictions only
  --recalibrate        measure the hardware constants again
  --csv FILE           also write the tables as CSV (one row per r, or (r, k)
                       with speculative decoding; k = 0 without)
  -h, --help           this help

A short run: bmc-tune M.onnx --context 256 --sweep 8,64 --spec-k 2 --rounds 1
)";

/// The model's predicted tok/s with speculative decoding over r x k, decoding
/// from `prompt` to `ctx` (per-token cost summed over the contexts passed),
/// and the (r, k) it picks at the midpoint: k by bestK over 1..max(ks), r by
/// bestR for that k. k = 0 is decoding without drafts, for comparison.
static void printSpecGrid(KVCostModel cm, int64_t prompt, int64_t ctx, std::vector<int64_t> rs, std::vector<int64_t> ks,
                          double alpha, double draftSeconds) {
  cm.acceptRate = alpha;
  cm.draftSecondsPerToken = draftSeconds;
  int64_t mid = (prompt + ctx) / 2;
  int64_t k = cm.bestK(mid, alpha, *std::max_element(ks.begin(), ks.end()));
  cm.specK = k;
  int64_t r = cm.bestR(mid);
  ks.push_back(0);
  ks.push_back(k);
  rs.push_back(r);
  for (auto *v : {&ks, &rs}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  std::printf("speculative decoding, predicted tok/s (acceptance rate %.2f, drafter %.3f ms per token): "
              "the model picks k = %lld, r = %lld (* below)\n",
              alpha, draftSeconds * 1e3, (long long)k, (long long)r);
  std::printf("%8s", "r \\ k");
  for (int64_t kk : ks) std::printf(" %9lld", (long long)kk);
  std::printf("\n");
  for (int64_t rr : rs) {
    std::printf("%8lld", (long long)rr);
    for (int64_t kk : ks) {
      if (rr < kk + 1) { // a pass writes k + 1 rows
        std::printf(" %9s", "-");
        continue;
      }
      double t = 0;
      for (int64_t n = prompt; n < ctx; ++n) t += cm.specTokenSeconds(rr, n, kk, alpha);
      std::printf(" %8.1f%s", double(ctx - prompt) / t, rr == r && kk == k ? "*" : " ");
    }
    std::printf("\n");
  }
}

/// One configuration of the measured (r, k) sweep: a bmc session with r
/// fixed, verifying k draft tokens per pass from a ReplayDrafter.
struct SpecRun {
  int64_t r = 0, k = 0;
  std::unique_ptr<Session> session;
  std::unique_ptr<ReplayDrafter> drafter;
  std::vector<int64_t> context; // prompt + emitted tokens (the drafter's view)
  int64_t last = 0;             // emitted, not yet in the cache
  double seconds = 0;
  int64_t passes = 0;
  bool done = false;
};

/// Measures tok/s with speculative decoding over the grid r x k, all
/// configurations in lockstep (one verification pass each in turn, so drift
/// affects them alike), and prints it next to the model's prediction and the
/// model's choice of (r, k), as a % of the best measured cell. The drafter
/// replays the target's own greedy continuation (decoded once beforehand),
/// each token corrupted with probability 1 - alpha: acceptance under control.
/// Every emitted token is checked against that continuation. Timed: the
/// target's side of a pass (extend, verification, truncate), not the drafter.
static void measureSpecGrid(const std::shared_ptr<Model> &model, KVCostModel cm, const std::string &padding,
                            int64_t prompt, int64_t ctx, std::vector<int64_t> rs, std::vector<int64_t> ks,
                            double alpha, double draftSeconds, int64_t rounds, bool cpuTime,
                            const std::function<double()> &now, FILE *out) {
  const int64_t V = model->signature().decoder.vocab, decoded = ctx - prompt;
  cm.acceptRate = alpha;
  cm.draftSecondsPerToken = draftSeconds;
  int64_t mid = (prompt + ctx) / 2;
  int64_t kBest = cm.bestK(mid, alpha, *std::max_element(ks.begin(), ks.end()));
  ks.push_back(kBest);
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  std::map<int64_t, int64_t> rFor; // the model's r for each k
  for (int64_t k : ks) {
    KVCostModel m = cm;
    m.specK = k;
    rFor[k] = m.bestR(mid);
    rs.push_back(rFor[k]);
  }
  std::sort(rs.begin(), rs.end());
  rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
  std::vector<std::pair<int64_t, int64_t>> cells; // a pass writes k + 1 rows: r >= k + 1
  for (int64_t k : ks)
    for (int64_t r : rs)
      if (r >= k + 1) cells.push_back({r, k});
  std::printf("\nspeculative decoding, context %lld (prompt %lld, decoding %lld tokens), padding %s, acceptance "
              "rate %.2f (replay drafter), drafter %.3f ms per token in the model: the model picks k = %lld, r = %lld\n",
              (long long)ctx, (long long)prompt, (long long)decoded, padding.c_str(), alpha, draftSeconds * 1e3,
              (long long)kBest, (long long)rFor[kBest]);

  // The target's greedy continuation, which the drafter replays.
  std::vector<int64_t> p(static_cast<size_t>(prompt)), ref;
  for (int64_t i = 0; i < prompt; ++i) p[size_t(i)] = (i * 7 + 3) % V;
  {
    SessionOptions so;
    so.kvMode = "prealloc";
    so.maxContext = ctx;
    auto s = Session::create(model, so);
    if (!s) cli::die(s.status().message());
    if (Status st = s.value()->prefill({p}); !st.ok()) cli::die(st.message());
    for (int64_t n = prompt; n <= ctx; ++n) {
      uint64_t none = 0;
      ref.push_back(sampleTokens(s.value()->logits(), GenerateOptions{}, none)[0]); // greedy
      if (n < ctx)
        if (Status st = s.value()->step({ref.back()}); !st.ok()) cli::die(st.message());
    }
  }
  std::vector<int64_t> sequence = p;
  sequence.insert(sequence.end(), ref.begin(), ref.end());

  std::vector<std::vector<double>> tokS(cells.size());
  std::vector<int64_t> passes(cells.size(), 0);
  std::vector<double> peaks(cells.size(), 0), runBW;
  GenerateOptions greedy;
  DraftProposal prop;
  for (int64_t round = 0; round < rounds; ++round) {
    std::fprintf(stderr, "bmc-tune: speculative sweep, context %lld, round %lld of %lld (%zu configurations)...\n",
                 (long long)ctx, (long long)round + 1, (long long)rounds, cells.size());
    double bwBefore = measureReadBandwidth(model->pool(), !cpuTime);
    std::vector<SpecRun> runs(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) {
      SpecRun &c = runs[i];
      std::tie(c.r, c.k) = cells[i];
      SessionOptions so;
      so.r = c.r;
      so.maxContext = ctx;
      auto s = Session::create(model, so);
      if (!s) cli::die(s.status().message());
      c.session = std::move(s.value());
      if (Status st = c.session->prefill({p}); !st.ok()) cli::die(st.message());
      c.drafter = std::make_unique<ReplayDrafter>(sequence, alpha, uint64_t(round + 1)); // same seed for all cells
      if (Status st = c.drafter->start(V, ctx); !st.ok()) cli::die(st.message());
      c.context = p;
      c.last = ref[0];
      c.context.push_back(c.last);
    }
    uint64_t rng = 0;
    for (int64_t turn = 0, left = int64_t(cells.size()); left > 0; ++turn)
      for (size_t j = 0; j < cells.size(); ++j) {
        SpecRun &c = runs[(j + size_t(turn)) % cells.size()];
        if (c.done) continue;
        Session &s = *c.session;
        const int64_t before = s.length(), m0 = std::min(c.k, ctx - before - 1);
        prop.tokens.clear();
        prop.probs.clear();
        if (m0 > 0)
          if (Status st = c.drafter->propose(c.context, m0, greedy, rng, prop); !st.ok()) cli::die(st.message());
        std::vector<int64_t> rows = {c.last};
        rows.insert(rows.end(), prop.tokens.begin(), prop.tokens.end());
        const int64_t m = int64_t(prop.tokens.size());
        double t0 = now();
        if (Status st = s.extend({rows}); !st.ok()) cli::die(st.message());
        int64_t accepted = 0, next = -1;
        const float *logits = s.allLogits().data<float>();
        for (int64_t i = 0; i <= m; ++i) { // greedy verification: the first maximum, as sampleTokens
          int64_t y = std::max_element(logits + i * V, logits + (i + 1) * V) - (logits + i * V);
          if (i == m || y != prop.tokens[size_t(i)]) { next = y; break; }
          ++accepted;
        }
        if (Status st = s.truncate(before + 1 + accepted); !st.ok()) cli::die(st.message());
        c.seconds += now() - t0;
        ++c.passes;
        for (int64_t i = 0; i < accepted; ++i) c.context.push_back(prop.tokens[size_t(i)]);
        c.context.push_back(next);
        c.last = next;
        // Exact: the same tokens as decoding without drafts, or the timing is of something else.
        size_t at = c.context.size() - size_t(accepted) - 1;
        if (!std::equal(c.context.begin() + long(at), c.context.end(), sequence.begin() + long(at)))
          cli::die("bmc-tune: speculative decoding at r = " + std::to_string(c.r) + ", k = " + std::to_string(c.k) +
                   " emitted other tokens than greedy decoding at context " + std::to_string(before));
        if (s.length() >= ctx) {
          c.done = true;
          --left;
        }
      }
    runBW.push_back((bwBefore + measureReadBandwidth(model->pool(), !cpuTime)) / 2);
    for (size_t i = 0; i < cells.size(); ++i) {
      tokS[i].push_back(double(decoded) / runs[i].seconds);
      passes[i] += runs[i].passes;
      peaks[i] = std::max(peaks[i], runs[i].session->kvStats().peakBytesAllocated / 1e6);
    }
  }

  KVCostModel atRun = cm;
  std::sort(runBW.begin(), runBW.end());
  atRun.hw.readBytesPerSecond = runBW[runBW.size() / 2];
  auto predicted = [&](const KVCostModel &m, int64_t r, int64_t k) {
    double t = 0;
    for (int64_t n = prompt; n < ctx; ++n) t += m.specTokenSeconds(r, n, k, alpha);
    return double(decoded) / t;
  };
  std::printf("%8s %4s %16s %16s %16s %10s %10s %12s\n", "r", "k", "predicted tok/s", "at run's BW",
              ((cpuTime ? "cpu-time" : "lockstep") + std::string(" (median of ") + std::to_string(rounds) + ")").c_str(),
              "tok/pass", "predicted", "KV peak MB");
  std::vector<double> meas(cells.size());
  double worstError = 0;
  size_t best = 0, chosen = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    auto [r, k] = cells[i];
    std::vector<double> v = tokS[i];
    std::sort(v.begin(), v.end());
    meas[i] = v[v.size() / 2];
    if (meas[i] > meas[best]) best = i;
    bool isChosen = k == kBest && r == rFor[kBest];
    if (isChosen) chosen = i;
    double pred = predicted(cm, r, k), predRun = predicted(atRun, r, k);
    worstError = std::max(worstError, std::fabs(predRun / meas[i] - 1));
    double perPass = double(decoded) * double(rounds) / double(passes[i]);
    std::printf("%8lld%s %4lld %16.1f %16.1f %16.1f %10.2f %10.2f %12.2f\n", (long long)r,
                isChosen ? "*" : (r == rFor[k] ? "+" : " "), (long long)k, pred, predRun, meas[i], perPass,
                KVCostModel::expectedTokensPerPass(k, alpha), peaks[i]);
    if (out)
      std::fprintf(out, "%lld,%s,%lld,%d,%.3f,%.3f,%.3f,%.3f,1,%lld,%.3f,%.4f,%d\n", (long long)ctx, padding.c_str(),
                   (long long)r, isChosen, pred, meas[i], peaks[i], predRun, (long long)k, alpha, perPass,
                   r == rFor[k]);
  }
  std::printf("(* the model's (r, k); + the model's r for that k; tok/pass measured and predicted, "
              "E = (1 - a^(k+1)) / (1 - a))\n");
  std::printf("chosen (r, k) = (%lld, %lld) measures %.1f tok/s; best in the grid (r, k) = (%lld, %lld) at %.1f tok/s: "
              "%.1f%% of best\n",
              (long long)cells[chosen].first, (long long)cells[chosen].second, meas[chosen],
              (long long)cells[best].first, (long long)cells[best].second, meas[best], 100.0 * meas[chosen] / meas[best]);
  for (int64_t k : ks) { // where only r is the model's choice
    size_t b = cells.size(), c = cells.size();
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i].second != k) continue;
      if (b == cells.size() || meas[i] > meas[b]) b = i;
      if (cells[i].first == rFor[k]) c = i;
    }
    if (b == cells.size() || c == cells.size()) continue;
    std::printf("k = %lld: the model's r = %lld measures %.1f tok/s; best r = %lld at %.1f tok/s: %.1f%% of best\n",
                (long long)k, (long long)rFor[k], meas[c], (long long)cells[b].first, meas[b], 100.0 * meas[c] / meas[b]);
  }
  std::printf("read bandwidth during the grid %.1f GB/s (calibration %.1f GB/s); predicted at it: within %.1f%% of "
              "measured across the grid\n",
              atRun.hw.readBytesPerSecond / 1e9, cm.hw.readBytesPerSecond / 1e9, 100.0 * worstError);
}

static int run(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL.onnx");
  std::vector<int64_t> contexts = a.ints("--context", {1024, 2048}, 1, limits::kMaxContext);
  int64_t prompt = a.integer("--prompt-len", 32, 1, limits::kMaxContext);
  std::vector<int64_t> sweep = a.ints("--sweep", {8, 16, 32, 64, 128, 256, 512, 1024}, 1, limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  std::optional<int64_t> packThreads = a.integerOpt("--pack-threads", 1, 64);
  bool measure = !a.flag("--no-measure"), recal = a.flag("--recalibrate"), cpuTime = a.flag("--cpu-time");
  int64_t rounds = a.integer("--rounds", 3, 1, 1000);
  std::string csv = a.str("--csv", "");
  std::vector<int64_t> specKs = a.ints("--spec-k", {}, 1, 64);
  std::string acceptArg = a.str("--accept-rate", ""), draftArg = a.str("--draft-ms", "");
  int64_t batch = a.integer("--batch", 1, 1, limits::kMaxBatch);
  bool specOnly = a.flag("--spec-only");
  a.finish();
  bool spec = !specKs.empty();
  if (!spec && (!acceptArg.empty() || !draftArg.empty())) a.fail("--accept-rate and --draft-ms need --spec-k");
  if (!spec && specOnly) a.fail("--spec-only needs --spec-k");
  if (spec && batch != 1)
    a.fail("--spec-k: speculative decoding needs --batch 1 (every sequence accepts its own number of tokens), found --batch " +
           std::to_string(batch));
  auto number = [&](const std::string &flag, const std::string &v, double dflt, double lo, double hi,
                    const char *range) {
    if (v.empty()) return dflt;
    double x;
    if (!cli::parseReal(v, x) || x < lo || x > hi)
      a.fail(flag + ": expected a finite number in " + range + ", found " + cli::shown(v));
    return x;
  };
  double acceptRate = number("--accept-rate", acceptArg, 0.7, 0.0, 1.0, "[0, 1]");
  double draftMs = number("--draft-ms", draftArg, 0, 0.0, 1e6, "[0, 1e6]");
  KVPadding kvPadding = KVPadding::Skip;
  if (!parseKVPadding(padding, kvPadding)) a.fail("--kv-padding: expected skip or mask, found " + cli::shown(padding));
  for (int64_t c : contexts)
    if (c <= prompt)
      a.fail("--context: expected each target above the prompt length " + std::to_string(prompt) + ", found " +
             std::to_string(c));
  if (cpuTime && threads != 1) a.fail("--cpu-time: needs --threads 1 (the CPU time of one thread misses the workers')");
  std::function<double()> now = [cpuTime] {
    if (!cpuTime) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  };

  CompileOptions co;
  co.kvMode = KVMode::BMC;
  co.kvPadding = kvPadding;
  co.threads = threads;
  co.packThreads = int(packThreads.value_or(0));
  co.progress = [](const std::string &s) { std::fprintf(stderr, "bmc-tune: %s...\n", s.c_str()); };
  auto m = compileOnnx(model, co);
  if (!m) cli::die(m.status().message());
  const DecoderInfo &d = m.value()->signature().decoder;
  if (!d.valid || !d.inplaceKV) cli::die(model + ": not a decoder whose KV caches the BMC pass rewrote (see bmc-compile --remarks)");

  KVCostModel cm;
  cm.hw = calibrate(m.value()->pool(), !recal);
  cm.caches = int64_t(d.caches.size());
  // one row of all sequences, at the KV element size
  cm.rowBytes = batch * d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2);
  cm.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(m.value()->weightBytes());
  cm.mask = padding == "mask";
  std::printf("model: %s: %lld KV caches, %lld bytes per row (batch %lld), %.1f MB of weights read per step\n",
              model.c_str(), (long long)cm.caches, (long long)cm.rowBytes, (long long)batch, cm.weightBytes / 1e6);
  std::printf("hardware (%s%s): alloc %.2f us, copy %.1f GB/s, read %.1f GB/s, spare-row attention %.3g s/byte, %d threads\n",
              cm.hw.cpu.c_str(), cm.hw.fromCache ? ", cached" : ", measured", cm.hw.allocSeconds * 1e6,
              cm.hw.copyBytesPerSecond / 1e9, cm.hw.readBytesPerSecond / 1e9, cm.hw.maskSecondsPerByte, cm.hw.threads);
  std::printf("a pass over more rows, beyond one row, in %% of the time its bytes stream (matmul kernel):");
  for (int i = 0; i < 4; ++i)
    std::printf("%s %d rows +%.0f%%", i ? "," : "", HardwareConstants::kPassRows[i],
                100.0 * cm.hw.passExtraSecondsPerByte[i] * cm.hw.readBytesPerSecond);
  std::printf("\n");
  // The fixed per-step cost the bandwidth term misses: one short prealloc
  // run (no reallocations) at the prompt length, next to a bandwidth probe so
  // that drift since the calibration does not end up in the overhead.
  if (measure) {
    SessionOptions so;
    so.kvMode = "prealloc";
    so.maxContext = prompt + 64;
    auto s = Session::create(m.value(), so);
    if (!s) cli::die(s.status().message());
    std::vector<std::vector<int64_t>> p(size_t(batch), std::vector<int64_t>(static_cast<size_t>(prompt), 1));
    if (Status st = s.value()->prefill(p); !st.ok()) cli::die(st.message());
    KVCostModel probed = cm;
    probed.hw.readBytesPerSecond = measureReadBandwidth(m.value()->pool(), !cpuTime);
    std::vector<double> t;
    for (int i = 0; i < 48; ++i) {
      double t0 = now();
      if (Status st = s.value()->step(std::vector<int64_t>(size_t(batch), int64_t(i % d.vocab))); !st.ok())
        cli::die(st.message());
      t.push_back(now() - t0);
    }
    std::sort(t.begin(), t.end());
    cm.stepOverheadSeconds = std::max(0.0, t[t.size() / 2] - probed.stepSeconds(prompt + 24));
    std::printf("measured step at context %lld: %.3f ms, of which %.3f ms beyond the bytes streamed (read bandwidth now %.1f GB/s)\n",
                (long long)(prompt + 24), t[t.size() / 2] * 1e3, cm.stepOverheadSeconds * 1e3, probed.hw.readBytesPerSecond / 1e9);
  }
  FILE *out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (!csv.empty() && !out) cli::die(csv + ": cannot open for writing");
  if (out)
    std::fprintf(out, "context,padding,r,chosen,predicted_tok_s,measured_tok_s,kv_peak_mb,predicted_run_bw_tok_s,"
                      "batch,k,accept_rate,tokens_per_pass,chosen_for_k\n");

  for (int64_t ctx : contexts) {
    if (spec && measure)
      measureSpecGrid(m.value(), cm, padding, prompt, ctx, sweep, specKs, acceptRate, draftMs / 1e3, rounds, cpuTime,
                      now, out);
    if (spec && !measure) printSpecGrid(cm, prompt, ctx, sweep, specKs, acceptRate, draftMs / 1e3);
    if (specOnly) continue;
    int64_t mid = (prompt + ctx) / 2;
    int64_t chosen = cm.bestR(mid);
    std::vector<int64_t> rs = sweep;
    if (std::find(rs.begin(), rs.end(), chosen) == rs.end()) rs.push_back(chosen);
    std::sort(rs.begin(), rs.end());
    std::printf("\ncontext %lld (prompt %lld, decoding %lld tokens), padding %s: the cost model picks r = %lld\n",
                (long long)ctx, (long long)prompt, (long long)(ctx - prompt), padding.c_str(), (long long)chosen);
    std::printf("%8s %16s %16s %16s %12s\n", "r", "predicted tok/s", "at run's BW",
                measure ? ((cpuTime ? "cpu-time" : "lockstep") + std::string(" (median of ") + std::to_string(rounds) + ")").c_str() : "measured",
                "KV peak MB");
    // All r decode side by side: one session per r, advanced a token at a
    // time in rotation, each step timed on its own. Bandwidth drifts by
    // +-10% on a shared machine; in lockstep every r sees the same drift.
    std::vector<std::vector<double>> runs(rs.size());
    std::vector<double> peaks(rs.size(), 0);
    // The read bandwidth around each round (probed before and after it): the
    // same-run roofline, to tell the model's error from the machine's drift.
    std::vector<double> runBW;
    for (int64_t round = 0; measure && round < rounds; ++round) {
      double bwBefore = measureReadBandwidth(m.value()->pool(), !cpuTime);
      std::vector<std::unique_ptr<Session>> ss;
      std::fprintf(stderr, "bmc-tune: sweep, context %lld, round %lld of %lld...\n", (long long)ctx, (long long)round + 1,
                   (long long)rounds);
      std::vector<std::vector<int64_t>> p(size_t(batch), std::vector<int64_t>(static_cast<size_t>(prompt)));
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < prompt; ++i) p[size_t(b)][size_t(i)] = (i * 7 + 3 + round + 11 * b) % d.vocab;
      for (int64_t r : rs) {
        SessionOptions so;
        so.r = r;
        so.maxContext = std::max<int64_t>(ctx, 1);
        auto s = Session::create(m.value(), so);
        if (!s) cli::die(s.status().message());
        if (Status st = s.value()->prefill(p); !st.ok()) cli::die(st.message());
        ss.push_back(std::move(s.value()));
      }
      std::vector<double> seconds(rs.size(), 0);
      for (int64_t n = prompt; n < ctx; ++n)
        for (size_t k = 0; k < rs.size(); ++k) {
          size_t i = (k + size_t(n)) % rs.size();
          double t0 = now();
          std::vector<int64_t> toks(static_cast<size_t>(batch));
          for (int64_t b = 0; b < batch; ++b) toks[size_t(b)] = (n * 13 + 1 + 5 * b) % d.vocab;
          if (Status st = ss[i]->step(toks); !st.ok()) cli::die(st.message());
          seconds[i] += now() - t0;
        }
      runBW.push_back((bwBefore + measureReadBandwidth(m.value()->pool(), !cpuTime)) / 2);
      for (size_t i = 0; i < rs.size(); ++i) {
        runs[i].push_back(double(ctx - prompt) / seconds[i]);
        peaks[i] = std::max(peaks[i], ss[i]->kvStats().peakBytesAllocated / 1e6);
      }
    }
    double best = 0, chosenMeasured = 0, worstError = 0;
    int64_t bestR = 0;
    KVCostModel atRun = cm;
    if (measure) {
      std::sort(runBW.begin(), runBW.end());
      atRun.hw.readBytesPerSecond = runBW[runBW.size() / 2];
    }
    for (size_t i = 0; i < rs.size(); ++i) {
      int64_t r = rs[i];
      double pred = double(ctx - prompt) / cm.generationSeconds(r, prompt, ctx);
      double predRun = double(ctx - prompt) / atRun.generationSeconds(r, prompt, ctx);
      double meas = 0;
      if (measure) {
        std::vector<double> v = runs[i];
        std::sort(v.begin(), v.end());
        meas = v[v.size() / 2];
        if (meas > best) { best = meas; bestR = r; }
        if (r == chosen) chosenMeasured = meas;
        worstError = std::max(worstError, std::fabs(predRun / meas - 1));
      }
      char measured[32] = "-", atRunBW[32] = "-";
      if (measure) {
        std::snprintf(measured, sizeof measured, "%.1f", meas);
        std::snprintf(atRunBW, sizeof atRunBW, "%.1f", predRun);
      }
      std::printf("%8lld%s %16.1f %16s %16s %12.2f\n", (long long)r, r == chosen ? "*" : " ", pred, atRunBW, measured, peaks[i]);
      if (out)
        std::fprintf(out, "%lld,%s,%lld,%d,%.3f,%.3f,%.3f,%.3f,%lld,0,0,1,%d\n", (long long)ctx, padding.c_str(),
                     (long long)r, r == chosen, pred, meas, peaks[i], measure ? predRun : 0.0, (long long)batch,
                     r == chosen);
    }
    if (measure)
      std::printf("chosen r = %lld measures %.1f tok/s; best in the sweep r = %lld at %.1f tok/s: %.1f%% of best\n",
                  (long long)chosen, chosenMeasured, (long long)bestR, best, 100.0 * chosenMeasured / best);
    if (measure)
      std::printf("read bandwidth during the sweep %.1f GB/s (calibration %.1f GB/s); predicted at it: within %.1f%% "
                  "of measured across the sweep\n",
                  atRun.hw.readBytesPerSecond / 1e9, cm.hw.readBytesPerSecond / 1e9, 100.0 * worstError);
  }
  if (out) std::fclose(out);
  return 0;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
