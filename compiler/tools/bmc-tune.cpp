//===- bmc-tune.cpp - pick r with the cost model, check it by measurement --===//

#include "bmc/compiler.h"
#include "bmc/cost_model.h"
#include "bmc/session.h"
#include "compiler/tools/CliUtil.h"
#include "runtime/Limits.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

using namespace bmc;
using Clock = std::chrono::steady_clock;

static const char *kUsage = R"(usage: bmc-tune MODEL.onnx [options]

Prints the number of spare KV rows r that the cost model (docs/COST_MODEL.md)
picks for a target context length and, for a sweep of r, the predicted and
measured decode tokens/s (decoding from a short prompt up to the target).

Options:
  --context N[,N...]   target context lengths (default: 1024,2048)
  --prompt-len P       prompt tokens before decoding (default: 32)
  --sweep R[,R...]     r values to measure (default: 8,16,32,64,128,256,512,1024)
  --kv-padding MODE    skip (default) or mask
  --threads N          kernel threads (default: all cores)
  --rounds N           repeat the measurement N times and report the median
                       (default: 3). Within a round all r decode in lockstep,
                       one token each in turn, so drift affects them alike.
  --no-measure         print the predictions only
  --recalibrate        measure the hardware constants again
  --csv FILE           also write the table as CSV
  -h, --help           this help
)";

static int run(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL.onnx");
  std::vector<int64_t> contexts = a.ints("--context", {1024, 2048}, 1, limits::kMaxContext);
  int64_t prompt = a.integer("--prompt-len", 32, 1, limits::kMaxContext);
  std::vector<int64_t> sweep = a.ints("--sweep", {8, 16, 32, 64, 128, 256, 512, 1024}, 1, limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  bool measure = !a.flag("--no-measure"), recal = a.flag("--recalibrate");
  int64_t rounds = a.integer("--rounds", 3, 1, 1000);
  std::string csv = a.str("--csv", "");
  a.finish();
  if (padding != "skip" && padding != "mask") a.fail("--kv-padding: expected skip or mask, found " + cli::shown(padding));
  for (int64_t c : contexts)
    if (c <= prompt)
      a.fail("--context: expected each target above the prompt length " + std::to_string(prompt) + ", found " +
             std::to_string(c));

  CompileOptions co;
  co.kvMode = KVMode::BMC;
  co.kvPadding = padding;
  co.threads = threads;
  co.progress = [](const std::string &s) { std::fprintf(stderr, "bmc-tune: %s...\n", s.c_str()); };
  auto m = compileOnnx(model, co);
  if (!m) cli::die(m.status().message());
  const DecoderInfo &d = m.value()->signature().decoder;
  if (!d.valid || !d.inplaceKV) cli::die(model + ": not a decoder whose KV caches the BMC pass rewrote (see bmc-compile --remarks)");

  KVCostModel cm;
  cm.hw = calibrate(m.value()->pool(), !recal);
  cm.caches = int64_t(d.caches.size());
  cm.rowBytes = d.caches[0].heads * d.caches[0].headDim * 4;
  cm.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(m.value()->weightBytes());
  cm.mask = padding == "mask";
  std::printf("model: %s: %lld KV caches, %lld bytes per row, %.1f MB of weights read per token\n", model.c_str(),
              (long long)cm.caches, (long long)cm.rowBytes, cm.weightBytes / 1e6);
  std::printf("hardware (%s%s): alloc %.2f us, copy %.1f GB/s, read %.1f GB/s, spare-row attention %.3g s/byte, %d threads\n",
              cm.hw.cpu.c_str(), cm.hw.fromCache ? ", cached" : ", measured", cm.hw.allocSeconds * 1e6,
              cm.hw.copyBytesPerSecond / 1e9, cm.hw.readBytesPerSecond / 1e9, cm.hw.maskSecondsPerByte, cm.hw.threads);
  // The fixed per-step cost the bandwidth term misses: one short prealloc
  // run (no reallocations) at the prompt length.
  if (measure) {
    SessionOptions so;
    so.kvMode = "prealloc";
    so.maxContext = prompt + 64;
    auto s = Session::create(m.value(), so);
    if (!s) cli::die(s.status().message());
    std::vector<int64_t> p(static_cast<size_t>(prompt), 1);
    if (Status st = s.value()->prefill({p}); !st.ok()) cli::die(st.message());
    std::vector<double> t;
    for (int i = 0; i < 48; ++i) {
      auto t0 = Clock::now();
      if (Status st = s.value()->step({int64_t(i % d.vocab)}); !st.ok()) cli::die(st.message());
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    cm.stepOverheadSeconds = std::max(0.0, t[t.size() / 2] - cm.stepSeconds(prompt + 24));
    std::printf("measured step at context %lld: %.3f ms, of which %.3f ms beyond the bytes streamed\n",
                (long long)(prompt + 24), t[t.size() / 2] * 1e3, cm.stepOverheadSeconds * 1e3);
  }
  FILE *out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (!csv.empty() && !out) cli::die(csv + ": cannot open for writing");
  if (out) std::fprintf(out, "context,padding,r,chosen,predicted_tok_s,measured_tok_s,kv_peak_mb\n");

  for (int64_t ctx : contexts) {
    int64_t mid = (prompt + ctx) / 2;
    int64_t chosen = cm.bestR(mid);
    std::vector<int64_t> rs = sweep;
    if (std::find(rs.begin(), rs.end(), chosen) == rs.end()) rs.push_back(chosen);
    std::sort(rs.begin(), rs.end());
    std::printf("\ncontext %lld (prompt %lld, decoding %lld tokens), padding %s: the cost model picks r = %lld\n",
                (long long)ctx, (long long)prompt, (long long)(ctx - prompt), padding.c_str(), (long long)chosen);
    std::printf("%8s %16s %16s %12s\n", "r", "predicted tok/s", measure ? ("lockstep tok/s (median of " + std::to_string(rounds) + ")").c_str() : "measured", "KV peak MB");
    // All r decode side by side: one session per r, advanced a token at a
    // time in rotation, each step timed on its own. Bandwidth drifts by
    // +-10% on a shared machine; in lockstep every r sees the same drift.
    std::vector<std::vector<double>> runs(rs.size());
    std::vector<double> peaks(rs.size(), 0);
    for (int64_t round = 0; measure && round < rounds; ++round) {
      std::vector<std::unique_ptr<Session>> ss;
      std::vector<int64_t> p(static_cast<size_t>(prompt));
      for (int64_t i = 0; i < prompt; ++i) p[size_t(i)] = (i * 7 + 3 + round) % d.vocab;
      for (int64_t r : rs) {
        SessionOptions so;
        so.r = r;
        so.maxContext = std::max<int64_t>(ctx, 1);
        auto s = Session::create(m.value(), so);
        if (!s) cli::die(s.status().message());
        if (Status st = s.value()->prefill({p}); !st.ok()) cli::die(st.message());
        ss.push_back(std::move(s.value()));
      }
      std::vector<double> seconds(rs.size(), 0);
      for (int64_t n = prompt; n < ctx; ++n)
        for (size_t k = 0; k < rs.size(); ++k) {
          size_t i = (k + size_t(n)) % rs.size();
          auto t0 = Clock::now();
          if (Status st = ss[i]->step({(n * 13 + 1) % d.vocab}); !st.ok()) cli::die(st.message());
          seconds[i] += std::chrono::duration<double>(Clock::now() - t0).count();
        }
      for (size_t i = 0; i < rs.size(); ++i) {
        runs[i].push_back(double(ctx - prompt) / seconds[i]);
        peaks[i] = std::max(peaks[i], ss[i]->kvStats().peakBytesAllocated / 1e6);
      }
    }
    double best = 0, chosenMeasured = 0;
    int64_t bestR = 0;
    for (size_t i = 0; i < rs.size(); ++i) {
      int64_t r = rs[i];
      double pred = double(ctx - prompt) / cm.generationSeconds(r, prompt, ctx);
      double meas = 0;
      if (measure) {
        std::vector<double> v = runs[i];
        std::sort(v.begin(), v.end());
        meas = v[v.size() / 2];
        if (meas > best) { best = meas; bestR = r; }
        if (r == chosen) chosenMeasured = meas;
      }
      char measured[32] = "-";
      if (measure) std::snprintf(measured, sizeof measured, "%.1f", meas);
      std::printf("%8lld%s %16.1f %16s %12.2f\n", (long long)r, r == chosen ? "*" : " ", pred, measured, peaks[i]);
      if (out)
        std::fprintf(out, "%lld,%s,%lld,%d,%.3f,%.3f,%.3f\n", (long long)ctx, padding.c_str(), (long long)r,
                     r == chosen, pred, meas, peaks[i]);
    }
    if (measure)
      std::printf("chosen r = %lld measures %.1f tok/s; best in the sweep r = %lld at %.1f tok/s: %.1f%% of best\n",
                  (long long)chosen, chosenMeasured, (long long)bestR, best, 100.0 * chosenMeasured / best);
  }
  if (out) std::fclose(out);
  return 0;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
