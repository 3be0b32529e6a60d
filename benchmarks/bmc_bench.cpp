//===- bmc_bench.cpp - time one decode configuration (one JSON line) -------===//
//
// One configuration per process, so that peak RSS belongs to it; the
// drivers (benchmarks/*.py) interleave configurations and peers.
//
//   bmc_bench MODEL(.bmcpkg|.onnx) --context C --window K [--kv MODE] [--r N]
//             [--threads T] [--batch B] [--prefill-only]
//
// Prefills C - K tokens, then decodes K tokens one at a time, and reports
// ms/token over the decode window (the contexts [C-K, C)), in wall time and
// in CPU time of the process, with the involuntary context switches in it.
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/cost_model.h"
#include "bmc/session.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/resource.h>

using namespace bmc;
using Clock = std::chrono::steady_clock;

// CPU seconds of all threads of this process: on a shared machine a decode
// window's wall time includes time spent waiting for a core, its CPU time
// does not (with one kernel thread, CPU time = wall time when undisturbed).
static double processCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// MB of this process's anonymous memory in transparent huge pages (KV
// buffers ask for them; a machine short of free 2 MB blocks hands out 4 KB
// pages instead, and attention then misses the TLB more); -1 if unknown.
static double anonHugeMB() {
  FILE *f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return -1;
  char line[256];
  double kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "AnonHugePages:", 14) == 0) kb = std::atof(line + 14);
  std::fclose(f);
  return kb < 0 ? -1 : kb / 1024.0;
}

static long involuntarySwitches() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nivcsw;
}

static const char *kUsage = R"(usage: bmc_bench MODEL --context C [options]
  --window K        decode steps timed, ending at context C (default 128)
  --kv MODE         bmc | prealloc | concat (must match how the package was compiled)
  --r N             bmc spare rows (0 = cost model)
  --threads T       kernel threads (default: all)
  --batch B         sequences decoded together (default 1)
  --prefill N       instead: time a prefill of N tokens (reports tokens/s and TTFT)
  --bandwidth       instead: measure the streaming read bandwidth (GB/s)
)";

int main(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  bool bw = a.flag("--bandwidth");
  std::string model = bw ? "" : a.positional("MODEL");
  int64_t ctx = a.integer("--context", 0, 0, limits::kMaxContext), window = a.integer("--window", 128, 1, limits::kMaxContext);
  std::string kv = a.str("--kv", "");
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR), batch = a.integer("--batch", 1, 1, limits::kMaxBatch),
          prefillN = a.integer("--prefill", 0, 0, limits::kMaxContext);
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  a.finish();
  if (bw) {
    ThreadPool *pool = nullptr;
    (void)pool;
    // A model-independent pool of the requested size via a throwaway Model is
    // overkill; calibrate() with no pool measures one thread.
    HardwareConstants h = calibrate(nullptr, /*useCache=*/false, /*writeCache=*/false);
    std::printf("{\"read_gb_s_1thread\": %.3f}\n", h.readBytesPerSecond / 1e9);
    return 0;
  }
  auto t0 = Clock::now();
  CompileOptions co;
  co.kvMode = cli::kvModeOf(kv);
  co.threads = threads;
  std::shared_ptr<Model> m = cli::openModel(model, co);
  double loadS = std::chrono::duration<double>(Clock::now() - t0).count();
  SessionOptions so;
  so.kvMode = kv;
  so.r = r;
  so.maxContext = std::max<int64_t>(std::max(ctx, prefillN), 1);
  auto s = Session::create(m, so);
  if (!s) cli::die(s.status().message());
  const DecoderInfo &d = m->signature().decoder;
  auto tokens = [&](int64_t n, int64_t salt) {
    std::vector<int64_t> p(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) p[size_t(i)] = (i * 7919 + salt * 104729 + 1) % d.vocab;
    return p;
  };
  if (prefillN > 0) {
    // Warm once, then time.
    std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch), tokens(prefillN, 1));
    if (Status st = s.value()->prefill(prompts); !st.ok()) cli::die(st.message());
    auto tp = Clock::now();
    if (Status st = s.value()->prefill(prompts); !st.ok()) cli::die(st.message());
    double sec = std::chrono::duration<double>(Clock::now() - tp).count();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("{\"prefill_tokens\": %lld, \"ttft_ms\": %.3f, \"prefill_tok_s\": %.2f, \"load_s\": %.4f, "
                "\"rss_peak_mb\": %.1f}\n", (long long)prefillN, sec * 1e3, double(prefillN * batch) / sec, loadS,
                ru.ru_maxrss / 1024.0);
    return 0;
  }
  if (ctx <= window) cli::die("--context must exceed --window");
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch), tokens(ctx - window, 1));
  auto tp = Clock::now();
  if (Status st = s.value()->prefill(prompts); !st.ok()) cli::die(st.message());
  double prefillS = std::chrono::duration<double>(Clock::now() - tp).count();
  std::vector<int64_t> next(static_cast<size_t>(batch));
  int64_t growths0 = s.value()->kvStats().reallocations;
  struct rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  long switches0 = involuntarySwitches();
  double cpu0 = processCpuSeconds();
  auto td = Clock::now();
  for (int64_t i = 0; i < window; ++i) {
    for (int64_t b = 0; b < batch; ++b) next[size_t(b)] = (i * 31 + b + 5) % d.vocab;
    if (Status st = s.value()->step(next); !st.ok()) cli::die(st.message());
  }
  double decodeS = std::chrono::duration<double>(Clock::now() - td).count();
  double decodeCpuS = processCpuSeconds() - cpu0;
  long preempted = involuntarySwitches() - switches0;
  double hugeMB = anonHugeMB();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const KVStats &k = s.value()->kvStats();
  // KV buffer growths inside the window (concat: one per cache per step). A
  // window shorter than r may hold none, and then shows no copy cost at all.
  long long growthsInWindow = (long long)(k.reallocations - growths0);
  std::printf("{\"context\": %lld, \"window\": %lld, \"ms_per_token\": %.4f, \"tok_s\": %.3f, "
              "\"cpu_ms_per_token\": %.4f, \"involuntary_switches\": %ld, \"page_faults\": %ld, \"prefill_ms\": %.2f, "
              "\"kv_mode\": \"%s\", \"r\": %lld, \"kv_alloc_peak_mb\": %.3f, \"kv_used_mb\": %.3f, "
              "\"kv_reallocations\": %lld, \"kv_growths_in_window\": %lld, \"weights_mb\": %.3f, "
              "\"weights_read_mb\": %.3f, \"weight_format\": \"%s\", \"kv_type\": \"%s\", \"kv_bytes_per_row\": %lld, \"load_s\": %.4f, \"anon_huge_mb\": %.1f, \"rss_peak_mb\": %.1f}\n",
              (long long)ctx, (long long)window, decodeS * 1e3 / double(window), double(window * batch) / decodeS,
              decodeCpuS * 1e3 / double(window), preempted, ru.ru_minflt - ru0.ru_minflt, prefillS * 1e3,
              s.value()->kvMode().c_str(), (long long)s.value()->r(), k.peakBytesAllocated / 1e6, k.bytesUsed / 1e6,
              (long long)k.reallocations, growthsInWindow, m->weightBytes() / 1e6, d.weightBytesPerToken / 1e6,
              d.weights.c_str(), d.kvType.c_str(),
              (long long)(d.caches.size() * d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2) *
                          batch),
              loadS, hugeMB,
              ru.ru_maxrss / 1024.0);
  return 0;
}
