//===- CostModel.cpp - calibration and the choice of r ---------------------===//

#include "bmc/cost_model.h"
#include "runtime/KVMemory.h"
#include "runtime/KeyValueFile.h"
#include "bmc/abi/kernels.h"
#include "runtime/kernels/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <mutex>
#include <sstream>
#include <time.h>
#include <vector>

namespace bmc {

double KVCostModel::stepSeconds(int64_t n) const {
  return stepOverheadSeconds + (double(weightBytes) + double(n) * double(caches) * double(rowBytes)) / hw.readBytesPerSecond;
}

double KVCostModel::reallocSeconds(int64_t n) const {
  if (growInPlace) // runtime/device/DeviceKVCache: a map behind the buffer's end, no copy
    return double(caches) * hw.growSeconds;
  return double(caches) * (hw.allocSeconds + double(n) * double(rowBytes) / hw.copyBytesPerSecond);
}

// Only the key rows of spare rows are read: their softmax weights are exactly
// zero, so the kernel never loads the matching value rows. Hence L/2 caches.
static double maskSecondsPerSpareRow(const KVCostModel &m) {
  return m.mask ? double(m.caches) / 2.0 * double(m.rowBytes) * m.hw.maskSecondsPerByte : 0;
}

double KVCostModel::maskSeconds(int64_t r) const { return double(r) / 2.0 * maskSecondsPerSpareRow(*this); }

double KVCostModel::tokenSeconds(int64_t r, int64_t n) const {
  return stepSeconds(n) + reallocSeconds(n) / double(std::max<int64_t>(r, 1)) + maskSeconds(r);
}

double KVCostModel::expectedTokensPerPass(int64_t k, double alpha) {
  k = std::max<int64_t>(k, 0);
  alpha = std::clamp(alpha, 0.0, 1.0);
  // (1 - alpha^(k+1)) / (1 - alpha) summed term by term: exact at alpha = 1
  // and no cancellation just below it.
  double e = 0, p = 1;
  for (int64_t i = 0; i <= k; ++i, p *= alpha) e += p;
  return e;
}

double KVCostModel::passSeconds(int64_t n, int64_t rows) const {
  if (rows <= 1) return stepSeconds(n);
  // The weights and the KV rows are read once for all rows; what grows with
  // the rows is the kernels' work on each byte (one multiply-add per fp32
  // weight, or key or value element, per row), and how well it overlaps the
  // reading: measured per byte at a few row counts (calibration), linear in
  // between and beyond the last two points. The matmul figure stands for the
  // attention's rows too.
  const int *x = HardwareConstants::kPassRows;
  const double *y = hw.passExtraSecondsPerByte;
  double perByte;
  if (rows <= x[0]) {
    perByte = y[0] * double(rows - 1) / double(x[0] - 1);
  } else {
    int i = 1;
    while (i < 3 && rows > x[i]) ++i;
    perByte = y[i - 1] + (y[i] - y[i - 1]) * double(rows - x[i - 1]) / double(x[i] - x[i - 1]);
  }
  double bytes = double(weightBytes) + double(n) * double(caches) * double(rowBytes);
  return stepSeconds(n) + std::max(0.0, perByte) * bytes;
}

double KVCostModel::specTokenSeconds(int64_t r, int64_t n, int64_t k, double alpha) const {
  k = std::max<int64_t>(k, 0);
  r = std::max<int64_t>(r, 1);
  double perPass = passSeconds(n, k + 1) + double(k) * draftSecondsPerToken + double(k + 1) * maskSeconds(r);
  return perPass / expectedTokensPerPass(k, alpha) + reallocSeconds(n) / double(r);
}

int64_t KVCostModel::bestR(int64_t n) const {
  int64_t k = std::max<int64_t>(specK, 0);
  double E = expectedTokensPerPass(k, acceptRate);
  double R = reallocSeconds(std::max<int64_t>(n, 1));
  double r;
  if (mask) {
    // d/dr [(k+1) * (r/2) * perRow / E + R / r] = 0 (k = 0: the step's own rule).
    double perRow = maskSecondsPerSpareRow(*this) * double(k + 1) / E;
    r = perRow > 0 ? std::sqrt(2.0 * R / perRow) : 4096;
  } else {
    // Amortised reallocation within skipBudget of the rest of a token's cost.
    double perToken = (passSeconds(n, k + 1) + double(k) * draftSecondsPerToken) / E;
    r = R / (skipBudget * perToken);
  }
  // Room for the k + 1 rows a verification pass writes.
  return std::clamp<int64_t>(int64_t(std::ceil(r)), std::max<int64_t>(1, k + 1), int64_t(1) << 20);
}

int64_t KVCostModel::bestK(int64_t n, double alpha, int64_t maxK) const {
  KVCostModel m = *this;
  m.acceptRate = alpha;
  int64_t best = 1;
  double bestT = 0;
  for (int64_t k = 1; k <= std::max<int64_t>(maxK, 1); ++k) {
    m.specK = k;
    double t = m.specTokenSeconds(m.bestR(n), n, k, alpha);
    if (k == 1 || t < bestT) { best = k; bestT = t; }
  }
  return best;
}

void AcceptanceEstimator::update(int64_t proposed, int64_t accepted) {
  if (proposed <= 0) return;
  accepted = std::clamp<int64_t>(accepted, 0, proposed);
  // Drafts are checked in order until the first rejection: a rejected pass
  // made accepted + 1 trials, a fully accepted one `proposed`.
  double trials = double(accepted) + (accepted < proposed ? 1.0 : 0.0);
  double w = passes == 0 ? 1.0 : weight; // the first pass replaces the prior
  acceptedSum = (1.0 - w) * acceptedSum + w * double(accepted);
  trialSum = (1.0 - w) * trialSum + w * trials;
  alpha = acceptedSum / trialSum;
  ++passes;
}

double KVCostModel::generationSeconds(int64_t r, int64_t from, int64_t to) const {
  r = std::max<int64_t>(r, 1);
  double t = 0;
  int64_t cap = 0;
  auto grow = [&](int64_t need, int64_t valid) {
    if (need <= cap) return;
    t += reallocSeconds(valid);
    cap = need + r - 1; // as the session grows it: one reallocation every r tokens
  };
  grow(from, 0); // the prompt
  double perSpare = maskSecondsPerSpareRow(*this);
  for (int64_t n = from; n < to; ++n) {
    grow(n + 1, n);
    t += stepSeconds(n) + double(cap - n - 1) * perSpare;
  }
  return t;
}

//===----------------------------------------------------------------------===//
// Calibration
//===----------------------------------------------------------------------===//

// Calibration with one thread times the thread's CPU time (user + system, so
// page faults and mmap count, and so do memory stalls), not the wall clock: on
// a shared machine the process may get a third of a core for seconds, and a
// wall-clock figure of such a moment, cached for good, would describe the
// moment rather than the machine. With a pool the workers' time is not the
// caller's (and the caller yields while it waits), so the wall clock it is.
static thread_local bool tCpuClock = false;
struct Clock {
  static double now() {
    timespec t;
    clock_gettime(tCpuClock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
};
struct ClockFor {
  bool saved = tCpuClock;
  explicit ClockFor(ThreadPool *pool) { tCpuClock = !pool || pool->numThreads() <= 1; }
  ~ClockFor() { tCpuClock = saved; }
};

/// Keeps the optimiser from removing a measured allocation or copy.
static inline void keep(void *p) { asm volatile("" : : "r"(p) : "memory"); }

static double seconds(double a, double b) { return b - a; }

template <typename F> static double median(int reps, F f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(f());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

static std::string cpuName() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      size_t c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  return "unknown";
}

// The cache file's format: 2 measures BW with several streams per thread
// (format 1, unversioned, measured one stream: about half) and adds the
// pass over more rows (pass_extra_seconds_per_byte_<rows>). 3: the same
// fields, measured again because passes over several rows got cheaper on
// AVX-512 CPUs (the 512-bit verification attention kernel). A file of
// another format is measured again.
static constexpr int kCacheFormat = 3;

static std::string cachePath() {
  const char *x = std::getenv("XDG_CACHE_HOME");
  std::string base = x && *x ? x : (std::getenv("HOME") ? std::string(std::getenv("HOME")) + "/.cache" : "/tmp");
  return base + "/bmc/calibration";
}

/// Sums `part` floats from each of S equally spaced places in lockstep: S
/// concurrent streams, one 64-byte line of each per step (S fixed at compile
/// time so the accumulators stay in registers).
template <int S> static float sumStreams(const float *base, size_t part) {
  float acc[S][16] = {};
  for (size_t i = 0; i < part; i += 16)
    for (int s = 0; s < S; ++s)
      for (int k = 0; k < 16; ++k) acc[s][k] += base[size_t(s) * part + i + size_t(k)];
  float t = 0;
  for (int s = 0; s < S; ++s)
    for (float x : acc[s]) t += x;
  return t;
}

// The bandwidth probe's buffer: well beyond a last-level cache of tens of MB.
static constexpr size_t kProbeBytes = size_t(96) << 20;

/// BW: streaming reads of `buf` (kProbeBytes). Each thread reads its own
/// slice, touched first by itself, as S parts in lockstep (S concurrent
/// streams), and the best S counts: a core's bandwidth is bounded by the
/// cache misses it keeps in flight, and one sequential stream (what this
/// probe read up to cache format 1) can leave it at about half of what
/// decode's kernels reach (~14 vs ~26 GB/s on a Zen core). This follows
/// benchmarks/bw_read.c, the benchmarks' roofline probe.
static double readBandwidth(ThreadPool *pool, float *buf) {
  // One slice per thread (at most 1024: each keeps ~96 KB, a few lines per stream).
  const int64_t slices = pool ? std::clamp(pool->numThreads(), 1, 1024) : 1;
  auto forSlices = [&](auto &&f) {
    if (slices > 1) pool->parallelFor(slices, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) f(i); });
    else f(0);
  };
  const size_t per = kProbeBytes / 4 / size_t(slices) & ~size_t(255);
  forSlices([&](int64_t i) { std::fill(buf + size_t(i) * per, buf + size_t(i + 1) * per, 1.0f); });
  std::vector<float> sink(size_t(slices) * 16, 0.0f); // a cache line per slice, against false sharing
  double best = 0;
  for (int S : {1, 2, 4, 8}) {
    auto pass = [&](int64_t i) {
      const float *base = buf + size_t(i) * per;
      const size_t part = per / size_t(S) & ~size_t(15);
      float t = S == 1 ? sumStreams<1>(base, part) : S == 2 ? sumStreams<2>(base, part)
              : S == 4 ? sumStreams<4>(base, part) : sumStreams<8>(base, part);
      sink[size_t(i) * 16] += t;
    };
    forSlices(pass); // warm-up
    double bw = double(per * size_t(slices) * 4) / median(5, [&] {
      auto t0 = Clock::now();
      forSlices(pass);
      return seconds(t0, Clock::now());
    });
    best = std::max(best, bw);
  }
  keep(sink.data());
  return best;
}

double measureReadBandwidth(ThreadPool *pool, bool wallClock) {
  ClockFor clock(pool);
  if (wallClock) tCpuClock = false;
  std::unique_ptr<float, decltype(&std::free)> big(static_cast<float *>(std::aligned_alloc(64, kProbeBytes)), &std::free);
  if (!big) throw std::bad_alloc();
  return readBandwidth(pool, big.get());
}

static HardwareConstants measure(ThreadPool *pool) {
  ClockFor clock(pool);
  HardwareConstants h;
  h.threads = pool ? pool->numThreads() : 1;
  // A and beta through the session's own allocator, at the size of a grown
  // KV buffer: a fresh buffer's page faults are part of the copy's cost.
  const size_t kBuf = size_t(8) << 20;
  h.allocSeconds = median(9, [&] {
    size_t reserved = 0;
    auto t0 = Clock::now();
    void *p = allocKV(kBuf, reserved);
    keep(p);
    freeKV(p, reserved);
    return seconds(t0, Clock::now());
  });
  std::vector<uint8_t> src(kBuf, 1);
  h.copyBytesPerSecond = double(kBuf) / median(7, [&] {
    size_t reserved = 0;
    void *p = allocKV(kBuf, reserved);
    auto t0 = Clock::now();
    std::memcpy(p, src.data(), kBuf);
    keep(p);
    double s = seconds(t0, Clock::now());
    freeKV(p, reserved);
    return s;
  });

  // BW, then the pass over more rows, over the same buffer.
  std::unique_ptr<float, decltype(&std::free)> big(static_cast<float *>(std::aligned_alloc(64, kProbeBytes)), &std::free);
  if (!big) throw std::bad_alloc();
  h.readBytesPerSecond = readBandwidth(pool, big.get());

  // The pass over more rows: the matmul kernel decode and verification passes
  // run, over the same buffer taken as packed weights (K = 512; any floats
  // are valid), each row count timed right after a one-row run so that drift
  // hits both. Forced non-decreasing in rows: a pass never gets cheaper with
  // more rows, and noise should not make the model think so.
  {
    const int64_t K = 512, N = int64_t(kProbeBytes / 4) / K / BMC_PACK_B_PANEL * BMC_PACK_B_PANEL, M = 8;
    std::vector<float> A(size_t(M * K), 0.5f), C(size_t(M * N));
    auto matmul = [&](int64_t rows) {
      double t0 = Clock::now();
      bmc_matmul_packed_f32(pool, rows, N, K, A.data(), K, big.get(), nullptr, C.data(), N);
      return Clock::now() - t0;
    };
    matmul(M); // warm-up
    double prev = 0;
    for (int i = 0; i < 4; ++i) {
      int64_t rows = HardwareConstants::kPassRows[i];
      double extra = median(5, [&] { double t1 = matmul(1); return matmul(rows) - t1; });
      prev = std::max(prev, extra / double(K * N * 4));
      h.passExtraSecondsPerByte[i] = prev;
    }
  }

  // k: attention with spare rows computed and masked vs without.
  const int64_t H = 8, D = 64, T = 2048, P = 2048;
  std::vector<float> q(size_t(H * D), 0.1f), k(size_t(H * (T + P) * D), 0.2f), v(k.size(), 0.3f), o(size_t(H * D));
  auto run = [&](int64_t padded) {
    bmc_attention_args a{};
    a.batch = 1; a.heads = H; a.kv_heads = H; a.q_len = 1; a.kv_len = T; a.kv_padded_len = padded;
    a.head_dim = D; a.v_head_dim = D;
    a.q = q.data(); a.q_bs = H * D; a.q_hs = D; a.q_rs = D;
    a.k = k.data(); a.k_bs = H * (T + P) * D; a.k_hs = (T + P) * D; a.k_rs = D;
    a.v = v.data(); a.v_bs = a.k_bs; a.v_hs = a.k_hs; a.v_rs = D;
    a.out = o.data(); a.o_bs = H * D; a.o_hs = D; a.o_rs = D;
    a.scale = 0.125f;
    return median(9, [&] {
      auto t0 = Clock::now();
      bmc_attention_f32(pool, &a);
      return seconds(t0, Clock::now());
    });
  };
  double extra = std::max(0.0, run(T + P) - run(T));
  h.maskSecondsPerByte = extra / double(P * H * D * 4);
  h.cpu = cpuName();
  return h;
}

HardwareConstants calibrate(ThreadPool *pool, bool useCache, bool writeCache) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  int threads = pool ? pool->numThreads() : 1;
  // One file per thread count: the read bandwidth depends on it.
  std::string path = cachePath() + "-" + std::to_string(threads) + "t";
  std::string cpu = cpuName();
  if (useCache) {
    KeyValueFile f = KeyValueFile::read(path);
    HardwareConstants h;
    int format = 0;
    bool complete = f.integer("format", format) && f.text("cpu", h.cpu) && f.integer("threads", h.threads) &&
                    f.number("alloc_seconds", h.allocSeconds) &&
                    f.number("copy_bytes_per_second", h.copyBytesPerSecond) &&
                    f.number("read_bytes_per_second", h.readBytesPerSecond) &&
                    f.number("mask_seconds_per_byte", h.maskSecondsPerByte);
    for (int i = 0; i < 4; ++i)
      complete = complete && f.number("pass_extra_seconds_per_byte_" + std::to_string(HardwareConstants::kPassRows[i]),
                                      h.passExtraSecondsPerByte[i]);
    if (complete && format == kCacheFormat && h.cpu == cpu && h.threads == threads && h.readBytesPerSecond > 0 && h.copyBytesPerSecond > 0) {
      h.fromCache = true;
      return h;
    }
  }
  HardwareConstants h = measure(pool);
  if (!writeCache) return h;
  std::ostringstream out;
  out.precision(9);
  out << "format " << kCacheFormat << "\ncpu " << h.cpu << "\nthreads " << h.threads << "\nalloc_seconds " << h.allocSeconds
      << "\ncopy_bytes_per_second " << h.copyBytesPerSecond << "\nread_bytes_per_second " << h.readBytesPerSecond
      << "\nmask_seconds_per_byte " << h.maskSecondsPerByte << "\n";
  for (int i = 0; i < 4; ++i)
    out << "pass_extra_seconds_per_byte_" << HardwareConstants::kPassRows[i] << " " << h.passExtraSecondsPerByte[i] << "\n";
  KeyValueFile::write(path, out.str());
  return h;
}

} // namespace bmc
