// Micro-benchmark of the kernels (not a test). Prints the machine's read
// bandwidth (a vector sum over 256 MB, one stream per thread, and for
// reference the same with four distant streams per thread, which this
// machine serves faster), then for each kernel the napkin math:
// bytes or flops per call, time, GB/s or GFLOP/s, and the fraction of the
// vector-sum bandwidth measured in the same run with the same thread count. Memory-bound
// cases rotate over enough copies of their operands (>= 256 MB) that nothing
// is served from the 32 MB L3, like the weights and KV cache of a real model.
// The machine is shared and noisy: the bandwidth probe and the kernels are
// interleaved over several rounds; each row prints the best time against the
// best probe, and the median of the per-round ratios.
//
//   bench_kernels [--quick] [--threads 1|2] [--only SUBSTRING]
//   (--only spec: the speculative-decoding sweeps over M = 1..9 rows;
//    --only "kv types": decode attention over fp32 / bf16 / fp16 caches;
//    --only "int4 kernels": one decode step's int4 matmuls of llama-25m and
//    llama-100m through each int4 kernel and prefetch distance, and the
//    int8 weight-only GEMV at each prefetch distance, interleaved in every
//    round; --only "attn group prefetch": llama-100m's GQA decode attention
//    through each group-kernel setting, avx2::attn::groupSettings)
#include "attention_avx2.h"
#include "bmc/abi/kernels.h"
#include "kernels_internal.h"
#include "matmul_a8.h"
#include "thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

using bmc::ThreadPool;

namespace {

constexpr size_t kRotateBytes = size_t(256) << 20;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Buffer {
  std::unique_ptr<float, void (*)(void *)> p{nullptr, std::free};
  size_t n = 0;
  explicit Buffer(size_t count, float fill = 0.0f) : n(count) {
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    p.reset(static_cast<float *>(std::aligned_alloc(64, bytes ? bytes : 64)));
    std::mt19937 rng(static_cast<uint32_t>(count));
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (size_t i = 0; i < count; ++i) // touch every page
      p.get()[i] = fill != 0.0f ? fill : d(rng);
  }
  float *data() const { return p.get(); }
};

__attribute__((target("avx2"))) float sumAvx2(const float *x, int64_t n) {
  __m256 a[8];
  for (auto &v : a)
    v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int u = 0; u < 8; ++u)
      a[u] = _mm256_add_ps(a[u], _mm256_load_ps(x + i + 8 * u));
  for (int u = 1; u < 8; ++u)
    a[0] = _mm256_add_ps(a[0], a[u]);
  alignas(32) float t[8];
  _mm256_store_ps(t, a[0]);
  float s = 0;
  for (float v : t)
    s += v;
  for (; i < n; ++i)
    s += x[i];
  return s;
}

// Four streams a quarter of the range apart: DRAM serves several distant
// streams faster than one (the upper bound of what a kernel could read).
__attribute__((target("avx2"))) float sumAvx2Streams4(const float *x, int64_t n) {
  const int64_t per = n / 4 / 16 * 16;
  __m256 a[8];
  for (auto &v : a)
    v = _mm256_setzero_ps();
  for (int64_t i = 0; i < per; i += 16)
    for (int s = 0; s < 4; ++s) {
      a[2 * s] = _mm256_add_ps(a[2 * s], _mm256_load_ps(x + s * per + i));
      a[2 * s + 1] = _mm256_add_ps(a[2 * s + 1], _mm256_load_ps(x + s * per + i + 8));
    }
  for (int u = 1; u < 8; ++u)
    a[0] = _mm256_add_ps(a[0], a[u]);
  alignas(32) float t[8];
  _mm256_store_ps(t, a[0]);
  return t[0];
}

float sumPortable(const float *x, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u)
      s[u] += x[i + u];
  for (; i < n; ++i)
    s[0] += x[i];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

volatile float gSink;

// Seconds to read the whole buffer once, split across the pool's threads,
// one stream per thread (the "vector sum" bandwidth) or four.
double readPass(const Buffer &buf, ThreadPool *pool, bool fourStreams = false) {
  const bool avx2 = bmc::kernels::avx2::cpuSupported();
  const int64_t n = int64_t(buf.n), chunks = pool ? pool->numThreads() : 1;
  std::vector<float> part(static_cast<size_t>(chunks));
  double t0 = now();
  bmc::kernels::parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = n * c / chunks / 64 * 64, e = c + 1 == chunks ? n : n * (c + 1) / chunks / 64 * 64;
      part[size_t(c)] = !avx2        ? sumPortable(buf.data() + b, e - b)
                        : fourStreams ? sumAvx2Streams4(buf.data() + b, e - b)
                                      : sumAvx2(buf.data() + b, e - b);
    }
  });
  double t = now() - t0;
  gSink = part[0];
  return t;
}

struct Row {
  std::string name;
  int threads;
  double bytes, flops;
  std::vector<double> secs, bw;
};

// Times `pass` (which performs `calls` kernel calls) interleaved with the
// bandwidth probe, `rounds` times.
void measure(Row &row, const Buffer &probe, ThreadPool *pool, int rounds, int calls,
             const std::function<void()> &pass) {
  pass(); // warm-up: JIT, page faults, thread wake-up
  for (int r = 0; r < rounds; ++r) {
    row.bw.push_back(double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9);
    double t0 = now();
    pass();
    row.secs.push_back((now() - t0) / calls);
  }
}

// Best-of-rounds (the least disturbed run on a shared machine) for the time
// and the probe, and the median over rounds of the per-round ratio.
void printRow(const Row &r) {
  const double t = *std::min_element(r.secs.begin(), r.secs.end());
  const double bw = *std::max_element(r.bw.begin(), r.bw.end());
  std::printf("%-40s %2d %9.1f", r.name.c_str(), r.threads, t * 1e6);
  if (r.bytes > 0) {
    std::vector<double> ratio;
    for (size_t i = 0; i < r.secs.size(); ++i)
      ratio.push_back(r.bytes / r.secs[i] / 1e9 / r.bw[i]);
    std::printf("  %7.2f MB %6.1f GB/s of %5.1f: %4.0f%% (median %4.0f%%)", r.bytes / 1e6, r.bytes / t / 1e9, bw,
                100.0 * r.bytes / t / 1e9 / bw, 100.0 * median(ratio));
  }
  if (r.flops > 0)
    std::printf("  %7.1f MFLOP %6.1f GFLOP/s", r.flops / 1e6, r.flops / t / 1e9);
  std::printf("\n");
}

// Decode matvec: M rows x [K, N] packed weights, streamed from DRAM.
Row benchMatvec(int64_t M, int64_t K, int64_t N, ThreadPool *pool, const Buffer &probe, int rounds) {
  const int64_t bytes = bmc_pack_b_f32_bytes(K, N);
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / bytes);
  Buffer src{size_t(K * N)};
  Buffer packed{size_t(bytes / 4 * copies)};
  for (int64_t c = 0; c < copies; ++c)
    bmc_pack_b_f32(src.data(), K, N, N, 0, packed.data() + c * bytes / 4);
  Buffer A{size_t(M * K)}, bias{size_t(N)}, C{size_t(M * N)};
  Row row{"matvec M=" + std::to_string(M) + " K=" + std::to_string(K) + " N=" + std::to_string(N),
          pool ? pool->numThreads() : 1, double(bytes), 2.0 * M * N * K, {}, {}};
  measure(row, probe, pool, rounds, int(copies), [&] {
    for (int64_t c = 0; c < copies; ++c)
      bmc_matmul_packed_f32(pool, M, N, K, A.data(), K, packed.data() + c * bytes / 4, bias.data(), C.data(), N);
  });
  return row;
}

// Prefill GEMM: operands stay in cache; compute-bound.
Row benchGemm(int64_t M, int64_t K, int64_t N, ThreadPool *pool, const Buffer &probe, int rounds) {
  Buffer src{size_t(K * N)}, packed{size_t(bmc_pack_b_f32_bytes(K, N) / 4)};
  bmc_pack_b_f32(src.data(), K, N, N, 0, packed.data());
  Buffer A{size_t(M * K)}, C{size_t(M * N)};
  Row row{"gemm M=" + std::to_string(M) + " K=" + std::to_string(K) + " N=" + std::to_string(N),
          pool ? pool->numThreads() : 1, 0.0, 2.0 * M * N * K, {}, {}};
  const int calls = std::max<int>(1, int(4e8 / row.flops));
  measure(row, probe, pool, rounds, calls, [&] {
    for (int i = 0; i < calls; ++i)
      bmc_matmul_packed_f32(pool, M, N, K, A.data(), K, packed.data(), nullptr, C.data(), N);
  });
  return row;
}

// Decode attention over a KV cache of `layers` layers (rotated), one query.
Row benchDecodeAttention(int64_t heads, int64_t kvHeads, int64_t dim, int64_t ctx, int64_t padded,
                         ThreadPool *pool, const Buffer &probe, int rounds) {
  const int64_t layerFloats = 2 * kvHeads * padded * dim; // K then V, [kvh, padded, dim]
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / (layerFloats * 4));
  Buffer kv{size_t(layerFloats * copies)}, q{size_t(heads * dim)}, out{size_t(heads * dim)};
  bmc_attention_args a{};
  a.batch = 1;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.q_len = 1;
  a.kv_len = ctx;
  a.kv_padded_len = padded;
  a.head_dim = a.v_head_dim = dim;
  a.q = q.data();
  a.q_hs = a.q_rs = dim;
  a.q_bs = heads * dim;
  a.k_rs = a.v_rs = dim;
  a.k_hs = a.v_hs = padded * dim;
  a.k_bs = a.v_bs = kvHeads * padded * dim;
  a.out = out.data();
  a.o_hs = a.o_rs = dim;
  a.o_bs = heads * dim;
  a.scale = 1.0f / std::sqrt(float(dim));
  // Bytes the kernel must read: K for every visited row, V for the valid ones.
  const double bytes = 4.0 * kvHeads * dim * ((padded > ctx ? padded : ctx) + ctx);
  Row row{"attn decode h=" + std::to_string(heads) + "/" + std::to_string(kvHeads) + " d=" + std::to_string(dim) +
              " kv=" + std::to_string(ctx) + (padded > ctx ? "/" + std::to_string(padded) : ""),
          pool ? pool->numThreads() : 1, bytes, 4.0 * heads * dim * ctx, {}, {}};
  measure(row, probe, pool, rounds, int(copies), [&] {
    for (int64_t c = 0; c < copies; ++c) {
      a.k = kv.data() + c * layerFloats;
      a.v = kv.data() + c * layerFloats + kvHeads * padded * dim;
      bmc_attention_f32(pool, &a);
    }
  });
  return row;
}

// Decode attention over fp32, bf16 and fp16 caches of the same shape, the
// three interleaved in every round (with the probe), so their ratios see the
// same machine: one row per type, then the time ratios bf16/f32 and f16/f32
// (of the best times, and the median of the per-round ratios). Each type
// rotates over as many layer copies as fp32 needs for 256 MB (the 2-byte
// caches then span 128 MB: still 4x the L3).
void benchDecodeAttentionKvTypes(int64_t heads, int64_t kvHeads, int64_t dim, int64_t ctx, ThreadPool *pool,
                                 const Buffer &probe, int rounds) {
  const int32_t types[3] = {BMC_KV_F32, BMC_KV_BF16, BMC_KV_F16};
  const char *names[3] = {"f32", "bf16", "f16"};
  const int64_t layerElems = 2 * kvHeads * ctx * dim; // K then V, [kvh, ctx, dim]
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / (layerElems * 4));
  Buffer f32{size_t(layerElems * copies)}, q{size_t(heads * dim)}, out{size_t(heads * dim)};
  std::vector<uint16_t> narrow[2];
  for (int t = 1; t < 3; ++t) {
    narrow[t - 1].resize(size_t(layerElems * copies));
    bmc_convert_f32_to_kv(types[t], f32.data(), narrow[t - 1].data(), layerElems * copies);
  }
  bmc_attention_args a{};
  a.batch = 1;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.q_len = 1;
  a.kv_len = a.kv_padded_len = ctx;
  a.head_dim = a.v_head_dim = dim;
  a.q = q.data();
  a.q_hs = a.q_rs = dim;
  a.q_bs = heads * dim;
  a.k_rs = a.v_rs = dim;
  a.k_hs = a.v_hs = ctx * dim;
  a.k_bs = a.v_bs = kvHeads * ctx * dim;
  a.out = out.data();
  a.o_hs = a.o_rs = dim;
  a.o_bs = heads * dim;
  a.scale = 1.0f / std::sqrt(float(dim));
  const std::string shape = "h=" + std::to_string(heads) + "/" + std::to_string(kvHeads) + " d=" +
                            std::to_string(dim) + " kv=" + std::to_string(ctx);
  std::vector<Row> rows;
  for (int t = 0; t < 3; ++t)
    rows.push_back(Row{std::string("attn decode ") + names[t] + " " + shape, pool ? pool->numThreads() : 1,
                       double(bmc_kv_elem_bytes(types[t]) * layerElems), 4.0 * heads * dim * ctx, {}, {}});
  auto pass = [&](int t) {
    a.kv_type = types[t];
    const int64_t eb = bmc_kv_elem_bytes(types[t]);
    const char *base = t == 0 ? reinterpret_cast<const char *>(f32.data())
                              : reinterpret_cast<const char *>(narrow[t - 1].data());
    for (int64_t c = 0; c < copies; ++c) {
      a.k = base + c * layerElems * eb;
      a.v = base + (c * layerElems + kvHeads * ctx * dim) * eb;
      bmc_attention_f32(pool, &a);
    }
  };
  for (int t = 0; t < 3; ++t)
    pass(t); // warm-up
  for (int r = 0; r < rounds; ++r) {
    const double bw = double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9;
    for (int i = 0; i < 3; ++i) {
      const int t = (r + i) % 3; // rotate the order: none always runs first
      const double t0 = now();
      pass(t);
      rows[size_t(t)].secs.push_back((now() - t0) / double(copies));
      rows[size_t(t)].bw.push_back(bw);
    }
  }
  for (const Row &row : rows)
    printRow(row);
  for (int t = 1; t < 3; ++t) {
    std::vector<double> ratio;
    for (int r = 0; r < rounds; ++r)
      ratio.push_back(rows[size_t(t)].secs[size_t(r)] / rows[0].secs[size_t(r)]);
    const double best = *std::min_element(rows[size_t(t)].secs.begin(), rows[size_t(t)].secs.end()) /
                        *std::min_element(rows[0].secs.begin(), rows[0].secs.end());
    std::printf("%-40s %2d  time %s/f32: best %.2f, median of per-round %.2f (bytes %.2f)\n",
                ("attn decode " + std::string(names[t]) + "/f32 " + shape).c_str(), pool ? pool->numThreads() : 1,
                names[t], best, median(ratio), rows[size_t(t)].bytes / rows[0].bytes);
  }
}

// GQA decode attention (llama-100m's shape: 16 query / 4 kv heads of 64, the
// group kernel of attention_group_avx2.cpp) with each setting of
// avx2::attn::groupSettings (prefetch distance and level; zmm or ymm loops),
// the settings taking turns within each round after the probe, so a loaded
// machine slows them alike; two also from one L3-resident layer (no DRAM; at
// kv=256 L2-resident: the compute floor). Prints each setting's time / the
// default's (median of per-round ratios).
void benchGroupSettings(int64_t heads, int64_t kvHeads, int64_t dim, int64_t ctx, int32_t kvType, ThreadPool *pool,
                        const Buffer &probe, int rounds) {
  namespace attn = bmc::kernels::avx2::attn;
  const int64_t eb = bmc_kv_elem_bytes(kvType);
  const int64_t layerElems = 2 * kvHeads * ctx * dim; // K then V, [kvh, ctx, dim]
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / (layerElems * eb));
  std::vector<uint16_t> store(size_t(layerElems * copies * eb / 2));
  {
    Buffer f32{size_t(layerElems)};
    for (int64_t c = 0; c < copies; ++c) {
      char *dst = reinterpret_cast<char *>(store.data()) + c * layerElems * eb;
      if (kvType == BMC_KV_F32)
        std::memcpy(dst, f32.data(), size_t(layerElems * 4));
      else
        bmc_convert_f32_to_kv(kvType, f32.data(), dst, layerElems);
    }
  }
  Buffer q{size_t(heads * dim)}, out{size_t(heads * dim)};
  bmc_attention_args a{};
  a.batch = 1;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.q_len = 1;
  a.kv_len = a.kv_padded_len = ctx;
  a.head_dim = a.v_head_dim = dim;
  a.q = q.data();
  a.q_hs = a.q_rs = dim;
  a.q_bs = heads * dim;
  a.k_rs = a.v_rs = dim;
  a.k_hs = a.v_hs = ctx * dim;
  a.k_bs = a.v_bs = kvHeads * ctx * dim;
  a.out = out.data();
  a.o_hs = a.o_rs = dim;
  a.o_bs = heads * dim;
  a.scale = 1.0f / std::sqrt(float(dim));
  a.kv_type = kvType;
  struct Variant {
    std::string name;
    attn::GroupSettings pf;
    bool l3;
  };
  const attn::GroupSettings def = attn::groupSettings();
  // The old default (8 KB into L2, ymm loops) first; "default" (from DRAM, last) is what the ratios divide by.
  using S = attn::GroupSettings;
  std::vector<Variant> vs = {{"ymm, L2 8 KB", {8 << 10, false, S::Never}, false},
                             {"ymm, none", {0, false, S::Never}, false},
                             {"ymm, L1 1 KB", {1 << 10, true, S::Never}, false},
                             {"ymm, L1 2 KB", {2 << 10, true, S::Never}, false},
                             {"ymm, L1 4 KB", {4 << 10, true, S::Never}, false},
                             {"zmm, L1 2 KB", {2 << 10, true, S::Always}, false},
                             {"zmm, L1 4 KB", {4 << 10, true, S::Always}, false},
                             {"ymm, L1 2 KB, L3-resident", {2 << 10, true, S::Never}, true},
                             {"zmm, L1 2 KB, L3-resident", {2 << 10, true, S::Always}, true},
                             {"default", def, false}};
  const std::string shape = std::string(kvType == BMC_KV_F32 ? "f32" : kvType == BMC_KV_BF16 ? "bf16" : "f16") +
                            " h=" + std::to_string(heads) + "/" + std::to_string(kvHeads) + " d=" +
                            std::to_string(dim) + " kv=" + std::to_string(ctx);
  std::vector<Row> rows;
  for (const Variant &v : vs)
    rows.push_back(Row{"group pf " + v.name + " " + shape, pool ? pool->numThreads() : 1, double(eb * layerElems),
                       4.0 * heads * dim * ctx, {}, {}});
  auto pass = [&](size_t i) {
    attn::groupSettings() = vs[i].pf;
    for (int64_t c = 0; c < copies; ++c) {
      const char *base = reinterpret_cast<const char *>(store.data()) + (vs[i].l3 ? 0 : c) * layerElems * eb;
      a.k = base;
      a.v = base + kvHeads * ctx * dim * eb;
      bmc_attention_f32(pool, &a);
    }
  };
  for (size_t i = 0; i < vs.size(); ++i)
    pass(i); // warm-up
  for (int r = 0; r < rounds; ++r) {
    const double bw = double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9;
    for (size_t k = 0; k < vs.size(); ++k) {
      const size_t i = (size_t(r) + k) % vs.size(); // rotate the order
      const double t0 = now();
      pass(i);
      rows[i].secs.push_back((now() - t0) / double(copies));
      rows[i].bw.push_back(bw);
    }
  }
  attn::groupSettings() = def;
  const size_t d = vs.size() - 1; // "default" (from DRAM)
  for (size_t i = 0; i < vs.size(); ++i) {
    std::vector<double> ratio;
    for (int r = 0; r < rounds; ++r)
      ratio.push_back(rows[i].secs[size_t(r)] / rows[d].secs[size_t(r)]);
    printRow(rows[i]);
    std::printf("%-40s     time / default: median of per-round %.3f\n", "", median(ratio));
  }
}

// Unfused decode attention through the strided matmul: per head, q k^T
// (B = K cache transposed: b_rs = 1) or p v (B = V cache row-major).
Row benchStridedDecode(bool scores, int64_t heads, int64_t dim, int64_t ctx, ThreadPool *pool,
                       const Buffer &probe, int rounds) {
  const int64_t matFloats = heads * ctx * dim;
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / (matFloats * 4));
  Buffer cache{size_t(matFloats * copies)}, a{size_t(heads * std::max(ctx, dim))}, c{size_t(heads * std::max(ctx, dim))};
  const int64_t N = scores ? ctx : dim, K = scores ? dim : ctx;
  Row row{std::string(scores ? "strided q*k^T" : "strided p*v") + " h=" + std::to_string(heads) + " d=" +
              std::to_string(dim) + " kv=" + std::to_string(ctx),
          pool ? pool->numThreads() : 1, 4.0 * matFloats, 2.0 * matFloats, {}, {}};
  measure(row, probe, pool, rounds, int(copies), [&] {
    for (int64_t i = 0; i < copies; ++i) {
      const float *B = cache.data() + i * matFloats;
      if (scores)
        bmc_matmul_strided_f32(pool, heads, 1, N, K, a.data(), K, K, 1, B, ctx * dim, 1, dim, c.data(), N, N);
      else
        bmc_matmul_strided_f32(pool, heads, 1, N, K, a.data(), K, K, 1, B, ctx * dim, dim, 1, c.data(), N, N);
    }
  });
  return row;
}

// Causal prefill attention: flops of QK^T and PV over the full square (the
// kernel skips the masked half).
Row benchPrefillAttention(int64_t heads, int64_t kvHeads, int64_t dim, int64_t len, ThreadPool *pool,
                          const Buffer &probe, int rounds) {
  Buffer q{size_t(heads * len * dim)}, k{size_t(kvHeads * len * dim)}, v{size_t(kvHeads * len * dim)},
      out(size_t(heads * len * dim)), mask(size_t(len * len));
  for (int64_t i = 0; i < len; ++i)
    for (int64_t j = 0; j < len; ++j)
      mask.data()[i * len + j] = j <= i ? 0.0f : -INFINITY;
  bmc_attention_args a{};
  a.batch = 1;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.q_len = a.kv_len = a.kv_padded_len = len;
  a.head_dim = a.v_head_dim = dim;
  a.q = q.data(); a.k = k.data(); a.v = v.data(); a.out = out.data();
  a.q_rs = a.k_rs = a.v_rs = a.o_rs = dim;
  a.q_hs = a.k_hs = a.v_hs = a.o_hs = len * dim;
  a.q_bs = a.o_bs = heads * len * dim;
  a.k_bs = a.v_bs = kvHeads * len * dim;
  a.mask = mask.data();
  a.m_ks = 1;
  a.m_qs = len;
  a.scale = 1.0f / std::sqrt(float(dim));
  Row row{"attn prefill h=" + std::to_string(heads) + "/" + std::to_string(kvHeads) + " d=" + std::to_string(dim) +
              " len=" + std::to_string(len) + " causal",
          pool ? pool->numThreads() : 1, 0.0, 4.0 * heads * len * len * dim, {}, {}};
  measure(row, probe, pool, rounds, 2, [&] {
    bmc_attention_f32(pool, &a);
    bmc_attention_f32(pool, &a);
  });
  return row;
}

// Speculative-decoding verification: the same weights (or KV cache) with
// M = 1..9 query rows, all M interleaved in each round so that M=1 and M=k
// see the same machine load. Prints per M the best time, the median over
// rounds of time(M) / time(M=1) measured in the same round, and the % of the
// vector-sum bandwidth of the best round (bytes do not grow with M: the
// weights, or K and V, must be read once for all rows).
const int64_t kSweepMs[] = {1, 2, 3, 4, 5, 6, 8, 9};

void printSweep(const std::string &name, int threads, double bytes, const std::vector<std::vector<double>> &secs,
                const std::vector<double> &bw) {
  const double bwBest = *std::max_element(bw.begin(), bw.end());
  for (size_t i = 0; i < secs.size(); ++i) {
    std::vector<double> ratio, pct;
    for (size_t r = 0; r < secs[i].size(); ++r) {
      ratio.push_back(secs[i][r] / secs[0][r]);
      pct.push_back(bytes / secs[i][r] / 1e9 / bw[r]);
    }
    const double t = *std::min_element(secs[i].begin(), secs[i].end());
    std::printf("%-40s %2d %9.1f  x%5.2f of M=1 (median)  %6.1f GB/s of %5.1f: %4.0f%% (median %4.0f%%)\n",
                (name + " M=" + std::to_string(kSweepMs[i])).c_str(), threads, t * 1e6, median(ratio),
                bytes / t / 1e9, bwBest, 100.0 * bytes / t / 1e9 / bwBest, 100.0 * median(pct));
  }
}

// The weight formats of a matvec: fp32 panels, int8 and int4 block-quantized
// (bmc_pack_q8 / bmc_pack_q4; bytes = codes, scales and zero points: 1.125
// and 0.656 per weight).
enum class Weights { F32, Q8, Q4 };
const char *weightsName(Weights w) { return w == Weights::F32 ? "f32" : w == Weights::Q8 ? "q8" : "q4"; }
int64_t weightBytes(Weights w, int64_t K, int64_t N) {
  return w == Weights::F32 ? bmc_pack_b_f32_bytes(K, N) : w == Weights::Q8 ? bmc_pack_q8_bytes(K, N)
                                                                           : bmc_pack_q4_bytes(K, N);
}
void packWeights(Weights w, const float *src, int64_t K, int64_t N, void *out) {
  if (w == Weights::F32)
    bmc_pack_b_f32(src, K, N, N, 0, out);
  else if (w == Weights::Q8)
    bmc_pack_q8(src, K, N, N, 0, out);
  else
    bmc_pack_q4(src, K, N, N, 0, out);
}
void matmulWeights(Weights w, ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, const void *B,
                   const float *bias, float *C) {
  if (w == Weights::F32)
    bmc_matmul_packed_f32(pool, M, N, K, A, K, B, bias, C, N);
  else if (w == Weights::Q8)
    bmc_matmul_q8_f32(pool, M, N, K, A, K, B, bias, C, N);
  else
    bmc_matmul_q4_f32(pool, M, N, K, A, K, B, bias, C, N);
}

void sweepMatvec(int64_t K, int64_t N, ThreadPool *pool, const Buffer &probe, int rounds, Weights wf = Weights::F32) {
  const int64_t bytes = weightBytes(wf, K, N);
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / bytes);
  Buffer src{size_t(K * N)};
  for (int64_t i = 0; i < K * N; ++i)
    src.data()[i] = float(i % 255) / 127.0f - 1.0f;
  Buffer packed{size_t((bytes + 3) / 4 * copies)};
  for (int64_t c = 0; c < copies; ++c)
    packWeights(wf, src.data(), K, N, packed.data() + c * ((bytes + 3) / 4));
  Buffer A{size_t(9 * K)}, bias{size_t(N)}, C{size_t(9 * N)};
  std::vector<std::vector<double>> secs(std::size(kSweepMs));
  std::vector<double> bw;
  auto pass = [&](int64_t M) {
    for (int64_t c = 0; c < copies; ++c)
      matmulWeights(wf, pool, M, N, K, A.data(), packed.data() + c * ((bytes + 3) / 4), bias.data(), C.data());
  };
  for (int64_t M : kSweepMs)
    pass(M); // warm-up
  for (int r = 0; r < rounds; ++r) {
    bw.push_back(double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9);
    for (size_t i = 0; i < std::size(kSweepMs); ++i) {
      const double t0 = now();
      pass(kSweepMs[i]);
      secs[i].push_back((now() - t0) / double(copies));
    }
  }
  printSweep(std::string("spec ") + (wf == Weights::F32 ? "" : std::string(weightsName(wf)) + " ") + "matvec K=" +
                 std::to_string(K) + " N=" + std::to_string(N),
             pool ? pool->numThreads() : 1, double(bytes), secs, bw);
}

// One decode step's matmuls of llama-25m (8 layers of q, k, v, o [512 x 512,
// 128, 128, 512], gate, up [512 x 1024], down [1024 x 512], then the LM head
// [512 x 8192]), M = 1, every weight matrix packed once and reused step after
// step as in a model run (int4: 14.5 MB, which fits this machine's 32 MB L3;
// int8 24.8 MB, fp32 88 MB). The bytes are the packed weights; the % is of
// the DRAM probe, so a format served from L3 can pass 100%.
Row benchDecodeStep(Weights wf, ThreadPool *pool, const Buffer &probe, int rounds) {
  struct Shape { int64_t K, N; };
  std::vector<Shape> shapes;
  for (int l = 0; l < 8; ++l)
    for (Shape s : {Shape{512, 512}, Shape{512, 128}, Shape{512, 128}, Shape{512, 512}, Shape{512, 1024},
                    Shape{512, 1024}, Shape{1024, 512}})
      shapes.push_back(s);
  shapes.push_back({512, 8192});
  std::vector<int64_t> offsets; // in floats
  int64_t floats = 0;
  double bytes = 0;
  for (Shape s : shapes) {
    offsets.push_back(floats);
    floats += (weightBytes(wf, s.K, s.N) + 63) / 64 * 16;
    bytes += double(weightBytes(wf, s.K, s.N));
  }
  Buffer packed{size_t(floats)}, src{size_t(1024 * 8192)}, A{1024}, C{8192};
  for (size_t i = 0; i < shapes.size(); ++i)
    packWeights(wf, src.data(), shapes[i].K, shapes[i].N, packed.data() + offsets[i]);
  Row row{std::string("decode step llama-25m ") + weightsName(wf), pool ? pool->numThreads() : 1, bytes, 0.0, {}, {}};
  const int steps = 20;
  measure(row, probe, pool, rounds, steps, [&] {
    for (int t = 0; t < steps; ++t)
      for (size_t i = 0; i < shapes.size(); ++i)
        matmulWeights(wf, pool, 1, shapes[i].N, shapes[i].K, A.data(), packed.data() + offsets[i], nullptr, C.data());
  });
  return row;
}

// One decode step's matmuls (M = 1) of a llama preset through every int4
// kernel this CPU has, and int8 weight-only for comparison (also at each
// software prefetch distance, issue 12): the variants take
// turns within each round (with the probe first), so a loaded machine slows
// them alike. llama-100m's int4 weights (64 MB) are twice the 32 MB L3:
// they stream from DRAM as in benchmarks/quant.py; llama-25m's (14.5 MB) fit.
void benchInt4Kernels(const char *preset, ThreadPool *pool, const Buffer &probe, int rounds) {
  namespace avx2 = bmc::kernels::avx2;
  namespace avx512 = bmc::kernels::avx512;
  namespace avxvnni = bmc::kernels::avxvnni;
  struct Shape { int64_t K, N; };
  const bool big = std::strcmp(preset, "llama-100m") == 0;
  const int64_t H = big ? 1024 : 512, KV = big ? 256 : 128, I = big ? 2816 : 1024;
  std::vector<Shape> shapes;
  for (int l = 0; l < 8; ++l)
    for (Shape s : {Shape{H, H}, Shape{H, KV}, Shape{H, KV}, Shape{H, H}, Shape{H, I}, Shape{H, I}, Shape{I, H}})
      shapes.push_back(s);
  shapes.push_back({H, 8192});
  using Fn = void (*)(ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *, const float *,
                      float *, int64_t);
  struct Variant {
    const char *name;
    Fn fn;
    int layout; // 0: int4, 1: int4 dot layout, 2: int8, 3: int8 dot layout
  };
  std::vector<Variant> vs;
  if (avx512::cpuSupported()) {
    vs.push_back({"int4 avx512 convert", [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                            const void *B, const float *b, float *C, int64_t ldc) {
                    avx512::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, avx512::Q4Decode::Convert);
                  }, 0});
    vs.push_back({"int4 avx512 subnormal", [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A,
                                              int64_t lda, const void *B, const float *b, float *C, int64_t ldc) {
                    avx512::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, avx512::Q4Decode::Subnormal);
                  }, 0});
    vs.push_back({"int4 avx512 subnormal, no prefetch",
                  [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                     const float *b, float *C, int64_t ldc) {
                    avx512::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, avx512::Q4Decode::SubnormalNoPrefetch);
                  }, 0});
    vs.push_back({"int4 avx512 subnormal, prefetch 4 KB",
                  [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                     const float *b, float *C, int64_t ldc) {
                    avx512::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, avx512::Q4Decode::SubnormalPrefetch4K);
                  }, 0});
  }
  if (avx2::cpuSupported()) {
    vs.push_back({"int4 avx2 convert", [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A,
                                          int64_t lda, const void *B, const float *b, float *C, int64_t ldc) {
                    avx2::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, bmc::kernels::Q4Decode::Convert);
                  }, 0});
    vs.push_back({"int4 avx2 subnormal", [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A,
                                            int64_t lda, const void *B, const float *b, float *C, int64_t ldc) {
                    avx2::matmulQ4(p, M, N, K, A, lda, B, b, C, ldc, bmc::kernels::Q4Decode::Subnormal);
                  }, 0});
    vs.push_back({"int4 a8 avx2 (vpmaddubsw)", avx2::matmulQ4A8, 1});
  }
  if (avxvnni::supported())
    vs.push_back({"int4 a8 avx-vnni", avxvnni::matmulQ4A8, 1});
  if (avx512::vnniSupported())
    vs.push_back({"int4 a8 avx512-vnni", avx512::matmulQ4A8, 1});
  // int4 a8 with each software prefetch distance (the rows above: a8::kPrefetchInt4).
#define BMC_A8_VARIANT(ns, dist, label)                                                                            \
  vs.push_back({label, [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B, \
                          const float *b, float *C, int64_t ldc) { ns::matmulQ4A8Prefetch(p, M, N, K, A, lda, B, b, C, ldc, dist); }, \
                1})
  if (avx512::vnniSupported()) {
    BMC_A8_VARIANT(avx512, 0, "int4 a8 avx512-vnni, no prefetch");
    BMC_A8_VARIANT(avx512, 4096, "int4 a8 avx512-vnni, prefetch 4 KB");
    BMC_A8_VARIANT(avx512, 16384, "int4 a8 avx512-vnni, prefetch 16 KB");
  }
  if (avx2::cpuSupported())
    BMC_A8_VARIANT(avx2, 0, "int4 a8 avx2, no prefetch");
#undef BMC_A8_VARIANT
  // int8 a8 (AVX-512 VNNI) at each prefetch distance.
#define BMC_A8_Q8_VARIANT(dist, label)                                                                             \
  vs.push_back({label, [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B, \
                          const float *b, float *C, int64_t ldc) {                                                   \
                  avx512::matmulQ8A8Prefetch(p, M, N, K, A, lda, B, b, C, ldc, dist);                                \
                }, 3})
  if (avx512::vnniSupported()) {
    vs.push_back({"int8 a8 avx512-vnni", avx512::matmulQ8A8, 3}); // a8::kPrefetchInt8
    BMC_A8_Q8_VARIANT(8192, "int8 a8 avx512-vnni, prefetch 8 KB");
    BMC_A8_Q8_VARIANT(4096, "int8 a8 avx512-vnni, prefetch 4 KB");
    BMC_A8_Q8_VARIANT(16384, "int8 a8 avx512-vnni, prefetch 16 KB");
  }
#undef BMC_A8_Q8_VARIANT
  vs.push_back({"int8 (C ABI)", [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                   const void *B, const float *b, float *C, int64_t ldc) {
                  bmc_matmul_q8_f32(p, M, N, K, A, lda, B, b, C, ldc);
                }, 2});
  // int8 weight-only with each software prefetch distance (bytes ahead; the
  // C ABI row runs the default, kQ8PrefetchDefault).
#define BMC_Q8_VARIANT(ns, dist, label)                                                                            \
  vs.push_back({label, [](ThreadPool *p, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B, \
                          const float *b, float *C, int64_t ldc) { ns::matmulQ8(p, M, N, K, A, lda, B, b, C, ldc, dist); }, \
                2})
  if (avx512::cpuSupported()) {
    BMC_Q8_VARIANT(avx512, 0, "int8 avx512, no prefetch");
    BMC_Q8_VARIANT(avx512, 16384, "int8 avx512, prefetch 16 KB");
    BMC_Q8_VARIANT(avx512, 4096, "int8 avx512, prefetch 4 KB");
    BMC_Q8_VARIANT(avx512, 8192, "int8 avx512, prefetch 8 KB");
  }
  if (avx2::cpuSupported()) {
    BMC_Q8_VARIANT(avx2, 0, "int8 avx2, no prefetch");
    BMC_Q8_VARIANT(avx2, 4096, "int8 avx2, prefetch 4 KB");
    BMC_Q8_VARIANT(avx2, 8192, "int8 avx2, prefetch 8 KB");
  }
#undef BMC_Q8_VARIANT
  std::vector<int64_t> offsets[4];
  int64_t floats[4] = {0, 0, 0, 0};
  double bytes[4] = {0, 0, 0, 0};
  for (Shape s : shapes)
    for (int l = 0; l < 4; ++l) {
      const int64_t b = l >= 2 ? bmc_pack_q8_bytes(s.K, s.N) : bmc_pack_q4_bytes(s.K, s.N);
      offsets[l].push_back(floats[l]);
      floats[l] += (b + 63) / 64 * 16;
      bytes[l] += double(b);
    }
  Buffer src{size_t(H * 8192 > I * H ? H * 8192 : I * H)}, A{size_t(I)}, C{8192};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < src.n; ++i)
    src.data()[i] = u(rng);
  for (int64_t k = 0; k < I; ++k)
    A.data()[k] = u(rng);
  Buffer packed[4] = {Buffer{size_t(floats[0])}, Buffer{size_t(floats[1])}, Buffer{size_t(floats[2])},
                      Buffer{size_t(floats[3])}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    bmc_pack_q4(src.data(), shapes[i].K, shapes[i].N, shapes[i].N, 0, packed[0].data() + offsets[0][i]);
    bmc_q4_to_dot(packed[0].data() + offsets[0][i], shapes[i].K, shapes[i].N, packed[1].data() + offsets[1][i]);
    bmc_pack_q8(src.data(), shapes[i].K, shapes[i].N, shapes[i].N, 0, packed[2].data() + offsets[2][i]);
    bmc_q8_to_dot(packed[2].data() + offsets[2][i], shapes[i].K, shapes[i].N, packed[3].data() + offsets[3][i]);
  }
  std::vector<Row> rows;
  for (const Variant &v : vs)
    rows.push_back({std::string("int4 kernels ") + preset + " " + v.name, pool ? pool->numThreads() : 1,
                    bytes[v.layout], 0.0, {}, {}});
  const int steps = 16;
  auto pass = [&](const Variant &v) {
    for (int t = 0; t < steps; ++t)
      for (size_t i = 0; i < shapes.size(); ++i)
        v.fn(pool, 1, shapes[i].N, shapes[i].K, A.data(), shapes[i].K, packed[v.layout].data() + offsets[v.layout][i],
             nullptr, C.data(), shapes[i].N);
  };
  for (const Variant &v : vs)
    pass(v); // warm-up
  for (int r = 0; r < rounds; ++r) {
    const double bw = double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9;
    for (size_t i = 0; i < vs.size(); ++i) {
      const size_t v = (i + size_t(r)) % vs.size(); // rotate the order
      const double t0 = now();
      pass(vs[v]);
      rows[v].secs.push_back((now() - t0) / steps);
      rows[v].bw.push_back(bw);
    }
  }
  for (size_t v = 0; v < rows.size(); ++v) {
    printRow(rows[v]);
    std::vector<double> speedup; // per round: the first variant's time / this one's
    for (int r = 0; r < rounds; ++r)
      speedup.push_back(rows[0].secs[size_t(r)] / rows[v].secs[size_t(r)]);
    std::printf("%-40s    x%.2f the time of \"%s\" (median of per-round ratios)\n", "", 1.0 / median(speedup),
                vs[0].name);
  }
}

// Attention of M query rows over a KV of ctx valid rows (of `padded`), causal
// over the last M rows: query i sees kv rows [0, ctx - M + i].
void sweepAttention(int64_t heads, int64_t kvHeads, int64_t dim, int64_t ctx, int64_t padded, ThreadPool *pool,
                    const Buffer &probe, int rounds) {
  const int64_t layerFloats = 2 * kvHeads * padded * dim;
  const int64_t copies = std::max<int64_t>(2, int64_t(kRotateBytes) / (layerFloats * 4));
  Buffer kv{size_t(layerFloats * copies)}, q{size_t(heads * 9 * dim)}, out{size_t(heads * 9 * dim)};
  Buffer mask{size_t(9 * ctx)};
  bmc_attention_args a{};
  a.batch = 1;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.kv_len = ctx;
  a.kv_padded_len = padded;
  a.head_dim = a.v_head_dim = dim;
  a.q = q.data();
  a.q_rs = a.o_rs = dim;
  a.k_rs = a.v_rs = dim;
  a.k_hs = a.v_hs = padded * dim;
  a.k_bs = a.v_bs = kvHeads * padded * dim;
  a.out = out.data();
  a.m_ks = 1;
  a.m_qs = ctx;
  a.scale = 1.0f / std::sqrt(float(dim));
  std::vector<std::vector<double>> secs(std::size(kSweepMs));
  std::vector<double> bw;
  auto pass = [&](int64_t M) {
    a.q_len = M;
    a.q_hs = a.o_hs = M * dim;
    a.q_bs = a.o_bs = heads * M * dim;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < ctx; ++j)
        mask.data()[i * ctx + j] = j <= ctx - M + i ? 0.0f : -INFINITY;
    a.mask = M > 1 ? mask.data() : nullptr; // a decode step needs no mask
    for (int64_t c = 0; c < copies; ++c) {
      a.k = kv.data() + c * layerFloats;
      a.v = kv.data() + c * layerFloats + kvHeads * padded * dim;
      bmc_attention_f32(pool, &a);
    }
  };
  for (int64_t M : kSweepMs)
    pass(M);
  for (int r = 0; r < rounds; ++r) {
    bw.push_back(double(probe.n) * sizeof(float) / readPass(probe, pool) / 1e9);
    for (size_t i = 0; i < std::size(kSweepMs); ++i) {
      const double t0 = now();
      pass(kSweepMs[i]);
      secs[i].push_back((now() - t0) / double(copies));
    }
  }
  const double bytes = 4.0 * kvHeads * dim * ((padded > ctx ? padded : ctx) + ctx);
  printSweep("spec attn h=" + std::to_string(heads) + "/" + std::to_string(kvHeads) + " d=" + std::to_string(dim) +
                 " kv=" + std::to_string(ctx) + (padded > ctx ? "/" + std::to_string(padded) : ""),
             pool ? pool->numThreads() : 1, bytes, secs, bw);
}

Row benchDispatch(ThreadPool *pool) {
  Row row{"pool dispatch, 2 chunks of 5 us", pool->numThreads(), 0.0, 0.0, {}, {}};
  auto spin = [](int64_t, int64_t) {
    double until = now() + 5e-6;
    while (now() < until) {
    }
  };
  for (int r = 0; r < 5; ++r) {
    const int calls = 2000;
    double t0 = now();
    for (int i = 0; i < calls; ++i)
      pool->parallelFor(2, spin);
    row.secs.push_back((now() - t0) / calls - 5e-6); // overhead beyond one chunk
    row.bw.push_back(1.0);
  }
  return row;
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false;
  int onlyThreads = 0; // 0: both 1 and 2
  std::string only;    // run the rows whose name contains it
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      onlyThreads = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
  }
  const int rounds = quick ? 3 : 9;
  std::printf("bmc kernels: %s, %d hardware threads\n", bmc_kernels_isa(), ThreadPool::hardwareThreads());
  Buffer probe(kRotateBytes / sizeof(float));
  ThreadPool pool2(2);

  std::printf("%-40s %2s %9s  %s\n", "case", "th", "us/call",
              "bytes, best GB/s of best probe GB/s: % of bandwidth (median of per-round %); flops");
  for (ThreadPool *pool : {static_cast<ThreadPool *>(nullptr), &pool2}) {
    std::vector<double> bw, bw4;
    for (int r = 0; r < rounds; ++r) {
      bw.push_back(double(probe.n) * 4 / readPass(probe, pool) / 1e9);
      bw4.push_back(double(probe.n) * 4 / readPass(probe, pool, true) / 1e9);
    }
    std::printf("read bandwidth, 256 MB, %d thread(s): vector sum best %.1f GB/s (median %.1f); "
                "4 distant streams per thread best %.1f GB/s (median %.1f)\n",
                pool ? 2 : 1, *std::max_element(bw.begin(), bw.end()), median(bw),
                *std::max_element(bw4.begin(), bw4.end()), median(bw4));
  }
  for (ThreadPool *pool : {static_cast<ThreadPool *>(nullptr), &pool2}) {
    if (onlyThreads != 0 && onlyThreads != (pool ? 2 : 1))
      continue;
    // Rows are named before they run, so that --only skips their set-up too.
    auto run = [&](const std::string &name, const std::function<Row()> &bench) {
      if (only.empty() || name.find(only) != std::string::npos)
        printRow(bench());
    };
    // Speculative decoding: M = 1..9 rows over the weights and KV of llama-25m / gpt2-25m.
    auto sweep = [&](const std::string &name, const std::function<void()> &bench) {
      if (only.empty() || name.find(only) != std::string::npos)
        bench();
    };
    sweep("spec matvec K=512 N=2048", [&] { sweepMatvec(512, 2048, pool, probe, rounds); });
    sweep("spec matvec K=512 N=1536", [&] { sweepMatvec(512, 1536, pool, probe, rounds); });
    sweep("spec matvec K=2048 N=512", [&] { sweepMatvec(2048, 512, pool, probe, rounds); });
    sweep("spec matvec K=512 N=8192", [&] { sweepMatvec(512, 8192, pool, probe, rounds); });
    for (Weights wf : {Weights::Q8, Weights::Q4}) {
      const std::string f = weightsName(wf);
      sweep("spec " + f + " matvec K=512 N=2048", [&] { sweepMatvec(512, 2048, pool, probe, rounds, wf); });
      sweep("spec " + f + " matvec K=2048 N=512", [&] { sweepMatvec(2048, 512, pool, probe, rounds, wf); });
      sweep("spec " + f + " matvec K=512 N=8192", [&] { sweepMatvec(512, 8192, pool, probe, rounds, wf); });
    }
    sweep("spec attn h=8/2 d=64 kv=2048", [&] { sweepAttention(8, 2, 64, 2048, 2048, pool, probe, rounds); });
    sweep("spec attn h=8/8 d=64 kv=2048", [&] { sweepAttention(8, 8, 64, 2048, 2048, pool, probe, rounds); });
    sweep("spec attn h=8/2 d=64 kv=2048/2304", [&] { sweepAttention(8, 2, 64, 2048, 2304, pool, probe, rounds); });
    sweep("spec attn h=8/8 d=64 kv=2048/2304", [&] { sweepAttention(8, 8, 64, 2048, 2304, pool, probe, rounds); });
    run("matvec M=1 K=512 N=2048", [&] { return benchMatvec(1, 512, 2048, pool, probe, rounds); });
    run("matvec M=1 K=2048 N=512", [&] { return benchMatvec(1, 2048, 512, pool, probe, rounds); });
    run("matvec M=1 K=512 N=1536", [&] { return benchMatvec(1, 512, 1536, pool, probe, rounds); });
    run("matvec M=1 K=512 N=8192", [&] { return benchMatvec(1, 512, 8192, pool, probe, rounds); });
    run("matvec M=4 K=512 N=2048", [&] { return benchMatvec(4, 512, 2048, pool, probe, rounds); });
    for (Weights wf : {Weights::F32, Weights::Q8, Weights::Q4})
      run(std::string("decode step llama-25m ") + weightsName(wf),
          [&] { return benchDecodeStep(wf, pool, probe, rounds); });
    for (const char *preset : {"llama-25m", "llama-100m"})
      sweep(std::string("int4 kernels ") + preset, [&] { benchInt4Kernels(preset, pool, probe, rounds); });
    run("attn decode h=8/8 d=64 kv=2048", [&] { return benchDecodeAttention(8, 8, 64, 2048, 2048, pool, probe, rounds); });
    run("attn decode h=8/8 d=64 kv=2048/2304",
        [&] { return benchDecodeAttention(8, 8, 64, 2048, 2048 + 256, pool, probe, rounds); });
    run("attn decode h=8/8 d=64 kv=4096", [&] { return benchDecodeAttention(8, 8, 64, 4096, 4096, pool, probe, rounds); });
    run("attn decode h=8/2 d=64 kv=4096", [&] { return benchDecodeAttention(8, 2, 64, 4096, 4096, pool, probe, rounds); });
    run("attn decode h=8/2 d=64 kv=2048/2304",
        [&] { return benchDecodeAttention(8, 2, 64, 2048, 2048 + 256, pool, probe, rounds); });
    run("attn decode h=32/8 d=128 kv=2048",
        [&] { return benchDecodeAttention(32, 8, 128, 2048, 2048, pool, probe, rounds); });
    run("attn decode h=1/1 d=128 kv=4096", [&] { return benchDecodeAttention(1, 1, 128, 4096, 4096, pool, probe, rounds); });
    // llama-25m's decode attention (8 heads, 2 kv heads of 64) over fp32 / bf16 / fp16 caches.
    for (int64_t ctx : {64, 2048, 4096})
      sweep("attn decode kv types h=8/2 d=64 kv=" + std::to_string(ctx),
            [&] { benchDecodeAttentionKvTypes(8, 2, 64, ctx, pool, probe, rounds); });
    // llama-100m's decode attention at context 2048 with each group-kernel prefetch setting.
    // At kv=256 one layer's K and V (512 KB fp32) fit the L2: its L3-resident rows are the compute floor.
    for (int64_t ctx : {2048, 256})
      for (int32_t kt : {BMC_KV_F32, BMC_KV_BF16})
        sweep(std::string("attn group prefetch ") + (kt == BMC_KV_F32 ? "f32" : "bf16") +
                  " h=16/4 d=64 kv=" + std::to_string(ctx),
              [&] { benchGroupSettings(16, 4, 64, ctx, kt, pool, probe, rounds); });
    run("strided q*k^T h=8 d=64 kv=2048", [&] { return benchStridedDecode(true, 8, 64, 2048, pool, probe, rounds); });
    run("strided p*v h=8 d=64 kv=2048", [&] { return benchStridedDecode(false, 8, 64, 2048, pool, probe, rounds); });
    run("gemm M=512 K=512 N=512", [&] { return benchGemm(512, 512, 512, pool, probe, rounds); });
    run("gemm M=512 K=512 N=2048", [&] { return benchGemm(512, 512, 2048, pool, probe, rounds); });
    run("gemm M=512 K=2048 N=512", [&] { return benchGemm(512, 2048, 512, pool, probe, rounds); });
    run("gemm M=32 K=512 N=2048", [&] { return benchGemm(32, 512, 2048, pool, probe, rounds); });
    run("attn prefill h=8/8 d=64 len=512 causal", [&] { return benchPrefillAttention(8, 8, 64, 512, pool, probe, rounds); });
    run("attn prefill h=8/2 d=64 len=512 causal", [&] { return benchPrefillAttention(8, 2, 64, 512, pool, probe, rounds); });
  }
  if (onlyThreads != 1 && (only.empty() || std::string("pool dispatch").find(only) != std::string::npos))
    printRow(benchDispatch(&pool2));
  return 0;
}
