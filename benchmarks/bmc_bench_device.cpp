//===- bmc_bench_device.cpp - decode speed against the device's bandwidth --===//
//
//   bmc_bench_device PACKAGE --device cpu|cuda --context C [--window K]
//                    [--warmup W] [--kv bmc,prealloc|concat] [--rounds N] [--r R]
//                    [--threads T]
//
// Loads a package on a device (Model::load with LoadOptions::device: a CUDA
// package's generation on the GPU, a CPU package's on the CPU) and, for each
// round and each KV mode in an order rotated per round, creates a Session,
// prefills C - W - K tokens, runs W greedy warm-up steps and times K greedy
// steps (the contexts [C - K, C)), then frees the session. Next to each
// timing it measures the device's bandwidth with the device layer itself: a
// device-to-device copy of a buffer larger than its last cache, timed with
// the device's synchronize(). The timing is the same code for both devices.
// Modes bmc and prealloc need a package compiled with in-place caches (the
// default), concat one compiled with --kv concat (the graph's Concat, a new
// buffer per step; on a device the presents stay in device memory).
//
// One JSON line per measurement ("row"), then one per KV mode ("summary",
// medians over the rounds):
//   tok_s, ms_per_token        the K timed steps
//   bw_gb_s                    bytes the copy read and wrote / its time
//   bytes_per_token            weights read per step + KV rows read per step
//                              (the mean over the window: every valid row,
//                              all layers, keys and values)
//   roofline_tok_s, roofline_pct  bw / bytes_per_token; tok_s / that
//   weights_mb, kv_alloc_mb, kv_peak_mb, kv_used_mb  memory (the session's
//                              caches; on a CUDA model, device memory)
// With r from the cost model (no --r, none compiled in) one "cost_model"
// line after the first bmc session: the device's constants it used and the
// r of its last growth (docs/COST_MODEL.md "On a device").
//
//===----------------------------------------------------------------------===//

#include "bmc/abi/limits.h"
#include "bmc/cost_model.h"
#include "bmc/model.h"
#include "bmc/session.h"
#include "compiler/tools/CliUtil.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CpuDevice.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace bmc;
using Clock = std::chrono::steady_clock;

namespace {

const char *kUsage = R"(usage: bmc_bench_device PACKAGE --device cpu|cuda --context C [options]
  --window K        greedy decode steps timed, ending at context C (default 64)
  --warmup W        greedy steps before them, not timed (default 8)
  --kv MODES        comma-separated: bmc, prealloc (default bmc,prealloc); or concat for a
                    package compiled with --kv concat
  --rounds N        rounds; the modes' order is rotated each round (default 3)
  --r N             bmc spare rows (0: the package's, else the cost model's from the device's constants)
  --threads T       CPU kernel threads (default: all)
  --bw-mb M         bandwidth buffer, MiB (default: 4x the last cache, at least 64)
)";

struct Bandwidth {
  double gbPerS = 0;
  size_t bytes = 0;
};

// Copies a buffer of `bytes` on the device `reps` times after one untimed
// copy, and returns the bytes read and written per second. The device's
// synchronize() bounds the timed copies (CUDA copies are asynchronous).
Result<Bandwidth> measureBandwidth(device::Device &dev, size_t bytes, int reps) {
  auto src = dev.allocate(bytes);
  if (!src) return Status::error("bandwidth: " + src.status().message());
  auto dst = dev.allocate(bytes);
  if (!dst) {
    (void)dev.free(src.value());
    return Status::error("bandwidth: " + dst.status().message());
  }
  Status st = dev.copyOnDevice(dst.value(), src.value(), bytes); // first touch, untimed
  if (st.ok()) st = dev.synchronize();
  double sec = 0;
  if (st.ok()) {
    auto t = Clock::now();
    for (int i = 0; i < reps && st.ok(); ++i) st = dev.copyOnDevice(dst.value(), src.value(), bytes);
    if (st.ok()) st = dev.synchronize();
    sec = std::chrono::duration<double>(Clock::now() - t).count();
  }
  (void)dev.free(dst.value());
  (void)dev.free(src.value());
  if (!st.ok()) return Status::error("bandwidth: " + st.message());
  return Bandwidth{2.0 * double(bytes) * reps / sec / 1e9, bytes};
}

struct Row {
  std::string mode;
  double tokS = 0, bw = 0, bytesPerToken = 0, rooflinePct = 0, kvAllocMB = 0, kvPeakMB = 0, kvUsedMB = 0;
  int64_t r = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t argmax(const Tensor &logits) {
  const float *p = logits.data<float>();
  int64_t n = logits.numElements(), best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (p[i] > p[best]) best = i;
  return best;
}

} // namespace

int main(int argc, char **argv) {
  cli::Args a(argc, argv, kUsage);
  std::string pkgPath = a.positional("PACKAGE");
  std::string deviceName = a.str("--device", "");
  int64_t ctx = a.integer("--context", 0, 1, limits::kMaxContext);
  int64_t window = a.integer("--window", 64, 1, limits::kMaxContext);
  int64_t warmup = a.integer("--warmup", 8, 0, limits::kMaxContext);
  std::string modesArg = a.str("--kv", "bmc,prealloc");
  int64_t rounds = a.integer("--rounds", 3, 1, 1000);
  int64_t r = a.integer("--r", 0, 0, limits::kMaxR);
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  int64_t bwMB = a.integer("--bw-mb", 0, 0, 1 << 20);
  a.finish();

  LoadOptions lo;
  lo.threads = threads;
  if (!parseTarget(deviceName, lo.device)) cli::die("bmc_bench_device: --device must be cpu or cuda, found '" + deviceName + "'");
  if (ctx <= window + warmup)
    cli::die("bmc_bench_device: --context " + std::to_string(ctx) + " must exceed --window + --warmup (" +
             std::to_string(window + warmup) + ")");
  std::vector<std::string> modes;
  for (size_t pos = 0; pos <= modesArg.size();) {
    size_t comma = std::min(modesArg.find(',', pos), modesArg.size());
    std::string m = modesArg.substr(pos, comma - pos);
    if (m != "bmc" && m != "prealloc" && m != "concat")
      cli::die("bmc_bench_device: --kv: expected bmc, prealloc or concat, found '" + m + "'");
    modes.push_back(m);
    pos = comma + 1;
  }

  auto t0 = Clock::now();
  auto loaded = Model::load(pkgPath, lo);
  if (!loaded) cli::die("bmc_bench_device: " + loaded.status().message());
  std::shared_ptr<Model> m = loaded.value();
  double loadS = std::chrono::duration<double>(Clock::now() - t0).count();

  // The device whose bandwidth bounds the decode: the model's own on CUDA, a
  // CPU device (host memory, as the CPU package's kernels read) on the CPU.
  std::unique_ptr<device::CpuDevice> cpu;
  device::Device *dev = nullptr;
  if (lo.device == Target::Cuda) {
    if (!m->deviceModel()) cli::die("bmc_bench_device: the model loaded for cuda has no device part");
    dev = m->deviceModel()->device.get();
  } else {
    cpu = std::make_unique<device::CpuDevice>();
    dev = cpu.get();
  }
  const device::DeviceProperties &props = dev->properties();
  size_t bwBytes = bwMB > 0 ? size_t(bwMB) << 20 : std::max<size_t>(size_t(4 * props.lastCacheBytes), size_t(64) << 20);

  const DecoderInfo &d = m->signature().decoder;
  if (!d.valid || d.caches.empty()) cli::die("bmc_bench_device: " + pkgPath + " is not a decoder with a KV cache");
  const int64_t kvElem = d.kvType == "f32" ? 4 : 2;
  int64_t kvRowBytes = 0; // one token, every layer's keys and values
  for (const DecoderInfo::KV &kv : d.caches) kvRowBytes += kv.heads * kv.headDim * kvElem;
  // Weights read per step: the device reads the package's weights as they are
  // stored; the decoder's count leaves out tables only gathered from.
  const double weightsRead = double(d.weightBytesPerToken);
  // KV rows read by the timed steps: the step at context t reads t + 1 rows.
  double kvRowsRead = 0;
  for (int64_t t = ctx - window; t < ctx; ++t) kvRowsRead += double(t + 1);
  const double bytesPerToken = weightsRead + kvRowsRead / double(window) * double(kvRowBytes);

  std::printf("{\"kind\": \"setup\", \"device\": \"%s\", \"device_name\": \"%s\", \"device_memory_mb\": %.1f, "
              "\"last_cache_mb\": %.3f, \"bw_buffer_mb\": %.1f, \"package\": \"%s\", \"load_s\": %.3f, "
              "\"weights_mb\": %.3f, \"weights_read_mb\": %.3f, \"weight_format\": \"%s\", \"kv_type\": \"%s\", "
              "\"kv_bytes_per_row\": %lld, \"context\": %lld, \"window\": %lld, \"warmup\": %lld, \"rounds\": %lld}\n",
              targetName(lo.device), props.name.c_str(), props.totalMemory / 1048576.0,
              props.lastCacheBytes / 1048576.0, bwBytes / 1048576.0, pkgPath.c_str(), loadS, m->weightBytes() / 1e6,
              weightsRead / 1e6, d.weights.c_str(), d.kvType.c_str(), (long long)kvRowBytes, (long long)ctx,
              (long long)window, (long long)warmup, (long long)rounds);

  std::vector<Row> rows;
  bool costModelShown = false;
  std::vector<int64_t> prompt(size_t(ctx - window - warmup));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int64_t((i * 7919 + 104730) % size_t(d.vocab));
  for (int64_t round = 0; round < rounds; ++round) {
    for (size_t j = 0; j < modes.size(); ++j) {
      const std::string &mode = modes[(j + size_t(round)) % modes.size()];
      SessionOptions so;
      so.kvMode = mode;
      so.r = r;
      so.maxContext = ctx;
      auto s = Session::create(m, so);
      if (!s) cli::die("bmc_bench_device: kv " + mode + ": " + s.status().message());
      Session &sess = *s.value();
      if (Status st = sess.prefill({prompt}); !st.ok()) cli::die("bmc_bench_device: prefill: " + st.message());
      int64_t next = argmax(sess.logits());
      for (int64_t i = 0; i < warmup; ++i) {
        if (Status st = sess.step({next}); !st.ok()) cli::die("bmc_bench_device: warm-up step: " + st.message());
        next = argmax(sess.logits());
      }
      auto td = Clock::now();
      for (int64_t i = 0; i < window; ++i) {
        if (Status st = sess.step({next}); !st.ok()) cli::die("bmc_bench_device: step: " + st.message());
        next = argmax(sess.logits()); // greedy: the logits are on the host after each step
      }
      double sec = std::chrono::duration<double>(Clock::now() - td).count();
      if (sess.length() != ctx)
        cli::die("bmc_bench_device: the session holds " + std::to_string(sess.length()) + " tokens, expected " +
                 std::to_string(ctx));
      if (const KVCostModel *cm = sess.costModelInUse(); cm && !costModelShown) {
        const HardwareConstants &h = cm->hw;
        std::printf("{\"kind\": \"cost_model\", \"constants_of\": \"%s\", \"from_cache\": %s, "
                    "\"read_gb_s\": %.3f, \"alloc_us\": %.3f, \"copy_gb_s\": %.3f, \"grow_us\": %.3f, "
                    "\"grow_granule_bytes\": %lld, \"grow_in_place\": %s, \"kv_padding\": \"%s\", "
                    "\"r\": %lld, \"context\": %lld}\n",
                    h.device.empty() ? "cpu" : h.device.c_str(), h.fromCache ? "true" : "false",
                    h.readBytesPerSecond / 1e9, h.allocSeconds * 1e6, h.copyBytesPerSecond / 1e9, h.growSeconds * 1e6,
                    (long long)h.growGranularity, cm->growInPlace ? "true" : "false",
                    cm->mask ? "mask" : "skip", (long long)sess.r(), (long long)ctx);
        costModelShown = true;
      }
      const KVStats &k = sess.kvStats();
      Row row;
      row.mode = sess.kvMode();
      row.r = sess.r();
      row.kvAllocMB = k.bytesAllocated / 1e6;
      row.kvPeakMB = k.peakBytesAllocated / 1e6;
      row.kvUsedMB = k.bytesUsed / 1e6;
      s.value().reset(); // its caches (and on a device, its weights) freed before the copy
      auto bw = measureBandwidth(*dev, bwBytes, 5);
      if (!bw) cli::die("bmc_bench_device: " + bw.status().message());
      row.tokS = double(window) / sec;
      row.bw = bw->gbPerS;
      row.bytesPerToken = bytesPerToken;
      row.rooflinePct = 100.0 * row.tokS / (row.bw * 1e9 / bytesPerToken);
      std::printf("{\"kind\": \"row\", \"round\": %lld, \"kv_mode\": \"%s\", \"r\": %lld, \"context\": %lld, "
                  "\"tok_s\": %.3f, \"ms_per_token\": %.4f, \"bw_gb_s\": %.3f, \"bytes_per_token\": %.0f, "
                  "\"roofline_tok_s\": %.3f, \"roofline_pct\": %.2f, \"weights_mb\": %.3f, \"kv_alloc_mb\": %.3f, "
                  "\"kv_peak_mb\": %.3f, \"kv_used_mb\": %.3f}\n",
                  (long long)round, row.mode.c_str(), (long long)row.r, (long long)ctx, row.tokS, 1e3 / row.tokS,
                  row.bw, bytesPerToken, row.bw * 1e9 / bytesPerToken, row.rooflinePct, m->weightBytes() / 1e6,
                  row.kvAllocMB, row.kvPeakMB, row.kvUsedMB);
      std::fflush(stdout);
      rows.push_back(row);
    }
  }
  for (const std::string &mode : modes) {
    std::vector<double> tok, bw, pct;
    Row last;
    for (const Row &row : rows)
      if (row.mode == mode) {
        tok.push_back(row.tokS);
        bw.push_back(row.bw);
        pct.push_back(row.rooflinePct);
        last = row;
      }
    std::printf("{\"kind\": \"summary\", \"device\": \"%s\", \"kv_mode\": \"%s\", \"r\": %lld, \"context\": %lld, "
                "\"rounds\": %zu, \"tok_s\": %.3f, \"bw_gb_s\": %.3f, \"bytes_per_token\": %.0f, "
                "\"roofline_pct\": %.2f, \"weights_mb\": %.3f, \"kv_alloc_mb\": %.3f, \"kv_peak_mb\": %.3f, "
                "\"kv_used_mb\": %.3f}\n",
                targetName(lo.device), mode.c_str(), (long long)last.r, (long long)ctx, tok.size(), median(tok),
                median(bw), bytesPerToken, median(pct), m->weightBytes() / 1e6, last.kvAllocMB, last.kvPeakMB,
                last.kvUsedMB);
  }
  return 0;
}
