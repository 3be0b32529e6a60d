//===- CostModel.cpp - calibration and the choice of r ---------------------===//

#include "bmc/cost_model.h"
#include "runtime/KVMemory.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace bmc {

double KVCostModel::stepSeconds(int64_t n) const {
  return stepOverheadSeconds + (double(weightBytes) + double(n) * double(caches) * double(rowBytes)) / hw.readBytesPerSecond;
}

double KVCostModel::reallocSeconds(int64_t n) const {
  return double(caches) * (hw.allocSeconds + double(n) * double(rowBytes) / hw.copyBytesPerSecond);
}

double KVCostModel::maskSeconds(int64_t r) const {
  if (!mask) return 0;
  // Only the key rows of spare rows are read (their weights are zero, so V is not).
  return double(r) / 2.0 * double(caches) / 2.0 * double(rowBytes) * hw.maskSecondsPerByte;
}

double KVCostModel::tokenSeconds(int64_t r, int64_t n) const {
  return stepSeconds(n) + reallocSeconds(n) / double(std::max<int64_t>(r, 1)) + maskSeconds(r);
}

int64_t KVCostModel::bestR(int64_t n) const {
  double R = reallocSeconds(std::max<int64_t>(n, 1));
  double r;
  if (mask) {
    double perRow = double(caches) / 2.0 * double(rowBytes) * hw.maskSecondsPerByte; // d M / d r * 2
    r = perRow > 0 ? std::sqrt(2.0 * R / perRow) : 4096;
  } else {
    r = R / (skipBudget * stepSeconds(n));
  }
  return std::clamp<int64_t>(int64_t(std::ceil(r)), 1, int64_t(1) << 20);
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
  double perSpare = mask ? double(caches) / 2.0 * double(rowBytes) * hw.maskSecondsPerByte : 0;
  for (int64_t n = from; n < to; ++n) {
    grow(n + 1, n);
    t += stepSeconds(n) + double(cap - n - 1) * perSpare;
  }
  return t;
}

//===----------------------------------------------------------------------===//
// Calibration
//===----------------------------------------------------------------------===//

using Clock = std::chrono::steady_clock;

/// Keeps the optimiser from removing a measured allocation or copy.
static inline void keep(void *p) { asm volatile("" : : "r"(p) : "memory"); }

static double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

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

static std::string cachePath() {
  const char *x = std::getenv("XDG_CACHE_HOME");
  std::string base = x && *x ? x : (std::getenv("HOME") ? std::string(std::getenv("HOME")) + "/.cache" : "/tmp");
  return base + "/bmc/calibration";
}

static HardwareConstants measure(ThreadPool *pool) {
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

  // BW: streaming reads of a buffer well beyond the last-level cache.
  const size_t n = size_t(96) << 20 >> 2;
  std::vector<float> big(n, 1.0f);
  std::vector<double> partial(size_t(std::max(h.threads, 1)) * 8, 0.0);
  auto sum = [&](int64_t b, int64_t e) {
    float acc[16] = {0};
    for (int64_t i = b; i + 16 <= e; i += 16)
      for (int k = 0; k < 16; ++k) acc[k] += big[size_t(i + k)];
    double s = 0;
    for (float a : acc) s += a;
    partial[size_t(b * 8 / int64_t(n)) % partial.size()] += s;
  };
  h.readBytesPerSecond = double(n * 4) / median(5, [&] {
    auto t0 = Clock::now();
    if (pool) pool->parallelFor(int64_t(n), [&](int64_t b, int64_t e) { sum(b, e); });
    else sum(0, int64_t(n));
    return seconds(t0, Clock::now());
  });

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
    std::ifstream f(path);
    HardwareConstants h;
    std::string key;
    int fields = 0;
    while (f >> key) {
      if (key == "cpu") { f.get(); std::getline(f, h.cpu); ++fields; }
      else if (key == "threads") { f >> h.threads; ++fields; }
      else if (key == "alloc_seconds") { f >> h.allocSeconds; ++fields; }
      else if (key == "copy_bytes_per_second") { f >> h.copyBytesPerSecond; ++fields; }
      else if (key == "read_bytes_per_second") { f >> h.readBytesPerSecond; ++fields; }
      else if (key == "mask_seconds_per_byte") { f >> h.maskSecondsPerByte; ++fields; }
      else break;
    }
    if (fields == 6 && h.cpu == cpu && h.threads == threads && h.readBytesPerSecond > 0 && h.copyBytesPerSecond > 0) {
      h.fromCache = true;
      return h;
    }
  }
  HardwareConstants h = measure(pool);
  if (!writeCache) return h;
  std::string dir = path.substr(0, path.find_last_of('/'));
  ::mkdir(dir.substr(0, dir.find_last_of('/')).c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::ofstream out(tmp);
  out.precision(9);
  out << "cpu " << h.cpu << "\nthreads " << h.threads << "\nalloc_seconds " << h.allocSeconds
      << "\ncopy_bytes_per_second " << h.copyBytesPerSecond << "\nread_bytes_per_second " << h.readBytesPerSecond
      << "\nmask_seconds_per_byte " << h.maskSecondsPerByte << "\n";
  out.close();
  if (out) std::rename(tmp.c_str(), path.c_str());
  else std::remove(tmp.c_str());
  return h;
}

} // namespace bmc
