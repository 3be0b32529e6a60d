// Grouped-query decode attention, AVX2/FMA: the query rows that share one kv
// head -- the heads of a GQA group at one position (decode), or times a few
// positions (speculative verification, q_len = k + 1) -- against each K and V
// row once, register-blocked over the rows.
//
// Why not the generic tile of attention_avx2.cpp: there the first head
// streams a block of K or V from DRAM and the other heads reuse it from L1,
// one head per pass. At 4 heads per kv head the L1 passes take as long as the
// stream and nothing is read from memory while they run: compute time and
// memory time add up (50-65% of the bandwidth on one thread).
//
// Here each K or V row is read once, whole, in address order, and all heads
// of the set consume it. That alone is not enough: a row now carries ~4x the
// instructions of an MHA row, so the out-of-order window reaches only ~1.5 KB
// ahead, and the hardware prefetcher follows one compute-paced stream too
// closely (measured on Zen 4: ~70% of the bandwidth, whatever the register
// blocking). What reaches it (measured, 95-108% of a one-stream vector sum):
// the tile's kv range split into kStreams contiguous streams read side by
// side, one row of each per step, plus a software prefetch a few KB ahead in
// every stream (kSettingsDefault). Column-chunked walks over V (the usual register blocking of
// P*V) lose 20-60% here, so P*V is row-major too, with O in L1.
//
// Layout: a set of H <= 8 query rows ("heads" below: a row is a head at a
// position) takes LP lanes per (row, stream) (H rounded up
// to a power of two): S[(j * kStreams + s) * LP + h] for row j of stream s.
// R = 8 / LP streams share a vector, so the scores of R rows x H heads come
// out of one 8-way horizontal reduction in that order. The softmax works on
// whole vectors (the per-head max and sum fold lanes LP apart). Tiles of more
// than 8 rows run as several sets, the later ones finding each block in L2.
//
// A bf16/fp16 cache (kv_type) is read as it is: every K and V vector is
// widened in registers as it is loaded (attention_kv_load.h), so the streams
// carry half the bytes of fp32 rows and nothing is written back.
#include "attention_avx2.h"
#include "attention_kv_load.h"
#include "kernels_internal.h"
#include "simd_avx2.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace bmc {
namespace kernels {
namespace avx2 {
namespace attn {
namespace {

constexpr int kStreams = 4;
// Software prefetch distance, per stream: 2 KB ahead into L1 (prefetcht0).
// On Zen 3 8 KB into L2 measured best; on a Zen 5 core (issue 12,
// bench_kernels --only "attn group prefetch", llama-100m's 16/4 heads of 64
// at kv=2048, 1 thread, settings interleaved, loaded machine: preliminary)
// 8 KB into L2 was no faster than no prefetch (~21 GB/s, 58% of the probe),
// while 2-4 KB into L1 took 0.63-0.81x its time over five runs (fp32; bf16
// 0.85-0.92x), 2 KB best for fp32. The kernel's compute alone (L2-resident)
// runs at ~34 GB/s of fp32 K/V, about the probe's rate: what is left is how
// much of the compute and the stream overlap (now ~75-80% of the probe).
constexpr GroupSettings kSettingsDefault{2 << 10, true, GroupSettings::Narrow};

constexpr int lanesPerRow(int h) { return h <= 2 ? 2 : h <= 4 ? 4 : 8; }

// Where each stream's rows of the current block start, and the last row it
// may read (rows past a stream's end repeat that row; empty streams read a
// row of stream 0), so no read leaves the buffer. Prefetches stay within each
// stream's own rows (`ahead` rows ahead, up to `pfEnd`).
template <int KT> struct Streams {
  const kv::Elem<KT> *row0[kStreams];
  int64_t last[kStreams], pfEnd[kStreams];
  int64_t ahead;
  bool l1;
  const kv::Elem<KT> *row(int s, int64_t j, int64_t rs) const {
    return row0[s] + std::min(j, last[s]) * rs;
  }
  void prefetch(int s, int64_t j, int64_t rs, int64_t rowBytes) const {
    if (j + ahead >= pfEnd[s])
      return;
    const char *p = reinterpret_cast<const char *>(row0[s] + (j + ahead) * rs);
    if (l1)
      for (int64_t b = 0; b < rowBytes; b += 64)
        _mm_prefetch(p + b, _MM_HINT_T0);
    else
      for (int64_t b = 0; b < rowBytes; b += 64)
        _mm_prefetch(p + b, _MM_HINT_T1);
  }
};

// S row j = q_h . k for row j of every stream. q: H rows of ldq floats,
// zero-padded to a multiple of 8; the last K vector is a partial load when
// TAIL. K elements of type KT, widened in registers.
template <int H, bool TAIL, int KT>
BMC_KV_TARGET void groupScoresRow(const float *q, int64_t ldq, const Streams<KT> &k, int64_t krs, int64_t dim,
                                  int64_t j, float *S) {
  constexpr int LP = lanesPerRow(H), R = 8 / LP;
  static_assert(kStreams % R == 0 && kStreams % 2 == 0, "a vector holds R whole streams");
  const int64_t full = dim / 8;
  const __m256i tail = simd::laneMask(dim - 8 * full);
  for (int s0 = 0; s0 < kStreams; s0 += R) {
    const kv::Elem<KT> *kr[R];
    for (int r = 0; r < R; ++r) {
      kr[r] = k.row(s0 + r, j, krs);
      k.prefetch(s0 + r, j, krs, int64_t(sizeof(kv::Elem<KT>)) * dim);
    }
    __m256 acc[R][H];
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < H; ++h)
        acc[r][h] = _mm256_setzero_ps();
    auto step = [&](int64_t c, bool masked) BMC_KV_LAMBDA {
      __m256 kx[R];
      for (int r = 0; r < R; ++r)
        kx[r] = masked ? kv::loadPart<KT>(kr[r] + 8 * c, dim - 8 * full, tail) : kv::load8<KT>(kr[r] + 8 * c);
      for (int h = 0; h < H; ++h) {
        const __m256 qv = _mm256_loadu_ps(q + h * ldq + 8 * c);
        for (int r = 0; r < R; ++r)
          acc[r][h] = _mm256_fmadd_ps(qv, kx[r], acc[r][h]);
      }
    };
    for (int64_t c = 0; c < full; ++c)
      step(c, false);
    if (TAIL)
      step(full, true);
    __m256 v[8];
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < LP; ++h)
        v[r * LP + h] = h < H ? acc[r][h] : _mm256_setzero_ps();
    _mm256_storeu_ps(S + (j * kStreams + s0) * LP,
                     simd::reduce8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
  }
}

// ---- the same two loops on zmm (AVX-512F), for head_dim % 16 == 0 ----
//
// Per kv row the group kernel spends H FMAs per 8 elements in the scores and
// H in P*V: at llama-100m's 4 heads of 64 its compute alone (L2-resident,
// bench_kernels "attn group prefetch ... kv=256") runs at ~34 GB/s of fp32
// K/V, about the probe's stream rate, so compute and memory time must
// overlap almost fully to reach it. 16 lanes halve the FMAs, loads and
// bf16 / fp16 widenings; the softmax stays on the 8-lane S layout (one fold
// of each score accumulator to 8 lanes before the same reduction). Measured
// (issue 12, Zen 5, 1 thread, interleaved, loaded machine: preliminary):
// bf16 0.88-0.89x the time of the ymm loops at kv=2048; fp32 0.90-1.08x over
// three runs, no clear gain (FMAs are not what bounds it), so by default only
// the 2-byte caches use them (GroupSettings::Narrow). Only where the CPU has
// AVX-512F (`wide`: the avx512 attention entry; BMC_KERNELS=avx2 keeps the
// ymm loops).
#define BMC_KV512_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))
#define BMC_KV512_LAMBDA __attribute__((target("avx512f,avx2,fma,f16c"), always_inline))

using kv::load16; // attention_kv_load.h

template <int H, int KT>
BMC_KV512_TARGET void groupScoresRow512(const float *q, int64_t ldq, const Streams<KT> &k, int64_t krs, int64_t dim,
                                        int64_t j, float *S) {
  constexpr int LP = lanesPerRow(H), R = 8 / LP;
  const int64_t chunks = dim / 16;
  for (int s0 = 0; s0 < kStreams; s0 += R) {
    const kv::Elem<KT> *kr[R];
    for (int r = 0; r < R; ++r) {
      kr[r] = k.row(s0 + r, j, krs);
      k.prefetch(s0 + r, j, krs, int64_t(sizeof(kv::Elem<KT>)) * dim);
    }
    __m512 acc[R][H];
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < H; ++h)
        acc[r][h] = _mm512_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c) {
      __m512 kx[R];
      for (int r = 0; r < R; ++r)
        kx[r] = load16<KT>(kr[r] + 16 * c);
      for (int h = 0; h < H; ++h) {
        const __m512 qv = _mm512_loadu_ps(q + h * ldq + 16 * c);
        for (int r = 0; r < R; ++r)
          acc[r][h] = _mm512_fmadd_ps(qv, kx[r], acc[r][h]);
      }
    }
    __m256 v[8];
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < LP; ++h)
        v[r * LP + h] = h < H ? _mm256_add_ps(_mm512_castps512_ps256(acc[r][h]),
                                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][h]), 1)))
                              : _mm256_setzero_ps();
    _mm256_storeu_ps(S + (j * kStreams + s0) * LP,
                     simd::reduce8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
  }
}

// Every lane becomes the max (sum) over the lanes congruent to it mod LP.
template <int LP> BMC_AVX2_INLINE __m256 foldMax(__m256 v) {
  if (LP <= 4)
    v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 1));
  if (LP <= 2)
    v = _mm256_max_ps(v, _mm256_permute_ps(v, 0x4E));
  return v;
}
template <int LP> BMC_AVX2_INLINE __m256 foldSum(__m256 v) {
  if (LP <= 4)
    v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 1));
  if (LP <= 2)
    v = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4E));
  return v;
}

// What the softmax needs of a block beyond the scores: per stream, the rows
// that are valid (below kv_len and the stream's end), and where its mask
// values are: lane values come from mask + j * m_ks + a per-lane offset (the
// tile's first row at stream 0's row j, plus query-row and stream offsets).
struct BlockInfo {
  int64_t valid[kStreams];
  const float *mask;
  int64_t maskOff[kStreams]; // mask elements from stream 0's row j to stream s's row j
  int64_t rowOff[8];         // mask elements from the tile's first query row to row h of the set
  int64_t m_ks;
};

// Online softmax over one block for a set of H heads (LP lanes per row): raw
// dots in S become p = exp(s - m_new) in place, with s = cap(scale * dot) +
// mask clamped at -FLT_MAX and -inf where invalid; m, l updated, O rows
// rescaled.
template <int LP>
BMC_AVX2 void groupSoftmax(const bmc_attention_args &a, const BlockInfo &bi, int H, int64_t n,
                           float *S, float *m, float *l, float *O) {
  constexpr int R = 8 / LP, VPR = kStreams / R; // vectors per row of all streams
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
  const __m256 negInf = _mm256_set1_ps(-INFINITY);
  const bool capped = a.softcap > 0.0f;
  const __m256 cap = _mm256_set1_ps(a.softcap), invCap = _mm256_set1_ps(capped ? 1.0f / a.softcap : 0.0f);
  // Per vector position within a row: valid-row limit, head ok, and the mask
  // offset of each lane (64-bit: any strides; two 4-lane gathers).
  __m256i limit[VPR], headOk[VPR], offLo[VPR], offHi[VPR];
  for (int p = 0; p < VPR; ++p) {
    alignas(32) int32_t lim[8], ok[8];
    alignas(32) int64_t off[8];
    for (int ln = 0; ln < 8; ++ln) {
      const int s = p * R + ln / LP, h = ln % LP;
      lim[ln] = int32_t(bi.valid[s]);
      ok[ln] = h < H ? -1 : 0;
      off[ln] = bi.rowOff[h < H ? h : 0] + bi.maskOff[s];
    }
    limit[p] = _mm256_load_si256(reinterpret_cast<const __m256i *>(lim));
    headOk[p] = _mm256_load_si256(reinterpret_cast<const __m256i *>(ok));
    offLo[p] = _mm256_load_si256(reinterpret_cast<const __m256i *>(off));
    offHi[p] = _mm256_load_si256(reinterpret_cast<const __m256i *>(off + 4));
  }
  __m256 mx = negInf;
  for (int64_t j = 0; j < n; ++j)
    for (int p = 0; p < VPR; ++p) {
      float *sv = S + (j * VPR + p) * 8;
      const __m256i ok = _mm256_cmpgt_epi32(limit[p], _mm256_set1_epi32(int32_t(j)));
      __m256 s = _mm256_mul_ps(_mm256_loadu_ps(sv), scale);
      if (capped)
        s = simd::softcap(s, cap, invCap);
      if (bi.mask) {
        const float *mp = bi.mask + j * bi.m_ks;
        const __m256i take = _mm256_and_si256(ok, headOk[p]);
        const __m128 lo = _mm256_mask_i64gather_ps(_mm_setzero_ps(), mp, offLo[p],
                                                   _mm_castsi128_ps(_mm256_castsi256_si128(take)), 4);
        const __m128 hi = _mm256_mask_i64gather_ps(_mm_setzero_ps(), mp, offHi[p],
                                                   _mm_castsi128_ps(_mm256_extracti128_si256(take, 1)), 4);
        const __m256 mv = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        s = _mm256_add_ps(s, mv);
      }
      s = _mm256_max_ps(lowest, s); // NaN stays NaN
      s = _mm256_blendv_ps(negInf, s, _mm256_castsi256_ps(ok));
      _mm256_storeu_ps(sv, s);
      mx = _mm256_max_ps(s, mx); // NaN scores are skipped here, reach l below
    }
  alignas(32) float blockMax[8], mUse[8];
  _mm256_store_ps(blockMax, foldMax<LP>(mx));
  float mNew[LP];
  for (int h = 0; h < LP; ++h)
    mNew[h] = h < H ? std::max(m[h], blockMax[h]) : 0.0f;
  for (int ln = 0; ln < 8; ++ln) // a head with nothing valid yet: exp(-inf - 0) = 0
    mUse[ln] = mNew[ln % LP] == -INFINITY ? 0.0f : mNew[ln % LP];
  const __m256 mv = _mm256_load_ps(mUse);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t v = 0; v < n * VPR; ++v) {
    const __m256 p = simd::exp(_mm256_sub_ps(_mm256_loadu_ps(S + v * 8), mv));
    _mm256_storeu_ps(S + v * 8, p);
    sum = _mm256_add_ps(sum, p);
  }
  alignas(32) float blockSum[8];
  _mm256_store_ps(blockSum, foldSum<LP>(sum));
  const int64_t vdim = a.v_head_dim;
  for (int h = 0; h < H; ++h) {
    const float corr = m[h] == -INFINITY ? 0.0f : std::exp(m[h] - mNew[h]);
    if (corr != 1.0f)
      simd::scaleRow(O + h * vdim, vdim, corr);
    l[h] = l[h] * corr + blockSum[h];
    m[h] = mNew[h];
  }
}

// O[h0 .. h0+HB) += P * V for rows [0, n) of every stream, row-major: for
// each row of the streams, P in registers, O read and written in L1 once per
// 8 columns. The last vector is masked when TAIL. Invalid lanes have P = 0
// and read a valid row, so V's spare rows are never touched. V elements of
// type KT, widened in registers.
template <int LP, int HB, bool TAIL, int KT>
BMC_KV_TARGET void groupPvHeads(const float *S, int h0, float *O, int64_t vdim, const Streams<KT> &v,
                                int64_t vrs, int64_t j) {
  const int64_t full = vdim / 8;
  const __m256i tail = simd::laneMask(vdim - 8 * full);
  const kv::Elem<KT> *vr[kStreams];
  __m256 p[HB][kStreams];
  for (int s = 0; s < kStreams; ++s) {
    vr[s] = v.row(s, j, vrs);
    for (int h = 0; h < HB; ++h)
      p[h][s] = _mm256_broadcast_ss(S + (j * kStreams + s) * LP + h0 + h);
  }
  auto step = [&](int64_t c, bool masked) BMC_KV_LAMBDA {
    __m256 x[kStreams];
    for (int s = 0; s < kStreams; ++s)
      x[s] = masked ? kv::loadPart<KT>(vr[s] + 8 * c, vdim - 8 * full, tail) : kv::load8<KT>(vr[s] + 8 * c);
    for (int h = 0; h < HB; ++h) { // two partial sums: half the dependency chain
      float *o = O + (h0 + h) * vdim + 8 * c;
      __m256 acc0 = masked ? _mm256_maskload_ps(o, tail) : _mm256_loadu_ps(o);
      __m256 acc1 = _mm256_mul_ps(p[h][1], x[1]);
      for (int s = 0; s < kStreams; s += 2) {
        acc0 = _mm256_fmadd_ps(p[h][s], x[s], acc0);
        if (s > 0)
          acc1 = _mm256_fmadd_ps(p[h][s + 1], x[s + 1], acc1);
      }
      acc0 = _mm256_add_ps(acc0, acc1);
      if (masked)
        _mm256_maskstore_ps(o, tail, acc0);
      else
        _mm256_storeu_ps(o, acc0);
    }
  };
  for (int64_t c = 0; c < full; ++c)
    step(c, false);
  if (TAIL)
    step(full, true);
}

template <int H, bool TAIL, int KT>
BMC_KV_TARGET void groupPvRow(const float *S, float *O, int64_t vdim, const Streams<KT> &v, int64_t vrs,
                              int64_t j) {
  constexpr int LP = lanesPerRow(H);
  for (int s = 0; s < kStreams; ++s)
    v.prefetch(s, j, vrs, int64_t(sizeof(kv::Elem<KT>)) * vdim);
  int h = 0;
  for (; h + 2 <= H; h += 2) // two heads: 8 P + 4 V + 2x2 O registers
    groupPvHeads<LP, 2, TAIL, KT>(S, h, O, vdim, v, vrs, j);
  if (h < H)
    groupPvHeads<LP, 1, TAIL, KT>(S, h, O, vdim, v, vrs, j);
}

template <int LP, int HB, int KT>
BMC_KV512_TARGET void groupPvHeads512(const float *S, int h0, float *O, int64_t vdim, const Streams<KT> &v,
                                      int64_t vrs, int64_t j) {
  const kv::Elem<KT> *vr[kStreams];
  __m512 p[HB][kStreams];
  for (int s = 0; s < kStreams; ++s) {
    vr[s] = v.row(s, j, vrs);
    for (int h = 0; h < HB; ++h)
      p[h][s] = _mm512_set1_ps(S[(j * kStreams + s) * LP + h0 + h]);
  }
  for (int64_t c = 0; c < vdim / 16; ++c) {
    __m512 x[kStreams];
    for (int s = 0; s < kStreams; ++s)
      x[s] = load16<KT>(vr[s] + 16 * c);
    for (int h = 0; h < HB; ++h) { // two partial sums: half the dependency chain
      float *o = O + (h0 + h) * vdim + 16 * c;
      __m512 acc0 = _mm512_loadu_ps(o);
      __m512 acc1 = _mm512_mul_ps(p[h][1], x[1]);
      for (int s = 0; s < kStreams; s += 2) {
        acc0 = _mm512_fmadd_ps(p[h][s], x[s], acc0);
        if (s > 0)
          acc1 = _mm512_fmadd_ps(p[h][s + 1], x[s + 1], acc1);
      }
      _mm512_storeu_ps(o, _mm512_add_ps(acc0, acc1));
    }
  }
}

template <int H, int KT>
BMC_KV512_TARGET void groupPvRow512(const float *S, float *O, int64_t vdim, const Streams<KT> &v, int64_t vrs,
                                    int64_t j) {
  constexpr int LP = lanesPerRow(H);
  for (int s = 0; s < kStreams; ++s)
    v.prefetch(s, j, vrs, int64_t(sizeof(kv::Elem<KT>)) * vdim);
  int h = 0;
  for (; h + 2 <= H; h += 2)
    groupPvHeads512<LP, 2, KT>(S, h, O, vdim, v, vrs, j);
  if (h < H)
    groupPvHeads512<LP, 1, KT>(S, h, O, vdim, v, vrs, j);
}

// One stage: a block of rows of every stream for one set of heads.
template <int KT> struct Stage {
  Streams<KT> k, v;
  BlockInfo bi;
  int64_t n; // rows per stream (the longest)
  int H;
  const float *q;
  int64_t ldq;
  float *m, *l, *O, *S;
};

// The scores of every row of the stage, the softmax, then P*V.
template <int H, bool KTAIL, bool VTAIL, int KT>
BMC_KV_TARGET void runStage(const bmc_attention_args &a, const Stage<KT> &st) {
  for (int64_t j = 0; j < st.n; ++j)
    groupScoresRow<H, KTAIL, KT>(st.q, st.ldq, st.k, a.k_rs, a.head_dim, j, st.S);
  groupSoftmax<lanesPerRow(H)>(a, st.bi, H, st.n, st.S, st.m, st.l, st.O);
  if (st.bi.valid[0] <= 0) // stream 0 holds the first valid rows
    return;
  for (int64_t j = 0; j < st.n; ++j)
    groupPvRow<H, VTAIL, KT>(st.S, st.O, a.v_head_dim, st.v, a.v_rs, j);
}

// runStage with the zmm loops (head_dim and v_head_dim multiples of 16).
template <int H, int KT> BMC_KV512_TARGET void runStage512(const bmc_attention_args &a, const Stage<KT> &st) {
  for (int64_t j = 0; j < st.n; ++j)
    groupScoresRow512<H, KT>(st.q, st.ldq, st.k, a.k_rs, a.head_dim, j, st.S);
  groupSoftmax<lanesPerRow(H)>(a, st.bi, H, st.n, st.S, st.m, st.l, st.O);
  if (st.bi.valid[0] <= 0)
    return;
  for (int64_t j = 0; j < st.n; ++j)
    groupPvRow512<H, KT>(st.S, st.O, a.v_head_dim, st.v, a.v_rs, j);
}

template <int KT> using StageFn = void (*)(const bmc_attention_args &, const Stage<KT> &);
template <bool KTAIL, bool VTAIL, int KT> StageFn<KT> stageFn(int H) {
  switch (H) {
  case 2: return runStage<2, KTAIL, VTAIL, KT>;
  case 3: return runStage<3, KTAIL, VTAIL, KT>;
  case 4: return runStage<4, KTAIL, VTAIL, KT>;
  case 5: return runStage<5, KTAIL, VTAIL, KT>;
  case 6: return runStage<6, KTAIL, VTAIL, KT>;
  case 7: return runStage<7, KTAIL, VTAIL, KT>;
  default: return runStage<8, KTAIL, VTAIL, KT>; // sets hold 2 to 8 heads
  }
}
template <int KT> StageFn<KT> stageFn512(int H) {
  switch (H) {
  case 2: return runStage512<2, KT>;
  case 3: return runStage512<3, KT>;
  case 4: return runStage512<4, KT>;
  case 5: return runStage512<5, KT>;
  case 6: return runStage512<6, KT>;
  case 7: return runStage512<7, KT>;
  default: return runStage512<8, KT>;
  }
}
template <int KT> StageFn<KT> stageFn(int H, bool kTail, bool vTail, bool wide) {
  if (wide)
    return stageFn512<KT>(H);
  return kTail ? (vTail ? stageFn<true, true, KT>(H) : stageFn<true, false, KT>(H))
               : (vTail ? stageFn<false, true, KT>(H) : stageFn<false, false, KT>(H));
}

} // namespace

GroupSettings &groupSettings() {
  static GroupSettings setting = kSettingsDefault;
  return setting;
}

int64_t groupBlockRows(const bmc_attention_args &a) {
  // ~128 KB of K per block over all streams: long runs of K, then of V.
  const int64_t rowBytes = 4 * std::max<int64_t>(1, std::max(a.head_dim, a.v_head_dim));
  return std::max<int64_t>(64, std::min<int64_t>(2048, (128 << 10) / rowBytes)) / 8 * 8;
}

namespace {
template <int KT>
void groupTile(const bmc_attention_args &a, const Tile &t, int64_t block, int64_t jBegin, int64_t jEnd, float *m,
               float *l, float *O, bool wide) {
  Scratch &scr = threadScratch();
  const int64_t nh = t.rows(), vdim = a.v_head_dim; // query rows (head, position)
  const int64_t ldq = (a.head_dim + 7) / 8 * 8;
  const int64_t perStream = std::max<int64_t>(8, block / kStreams); // rows per stream per block
  scr.reserve(scr.q, nh * ldq);
  scr.reserve(scr.s, perStream * kStreams * 8);
  float *qbuf = scr.q.data();
  for (int64_t h = 0; h < nh; ++h) {
    const float *src = a.q + t.b * a.q_bs + t.head(h) * a.q_hs + t.pos(h) * a.q_rs;
    std::copy(src, src + a.head_dim, qbuf + h * ldq);
    std::fill(qbuf + h * ldq + a.head_dim, qbuf + (h + 1) * ldq, 0.0f);
    m[h] = -INFINITY;
    l[h] = 0.0f;
  }
  std::fill(O, O + nh * vdim, 0.0f);
  if (jEnd <= jBegin)
    return;

  // kStreams contiguous streams over [jBegin, jEnd), walked side by side.
  const int64_t streamLen = ((jEnd - jBegin + kStreams - 1) / kStreams + 7) / 8 * 8;
  const int64_t blocks = (streamLen + perStream - 1) / perStream;
  const kv::Elem<KT> *kHead = kv::keys<KT>(a) + t.b * a.k_bs + t.kvh * a.k_hs;
  const kv::Elem<KT> *vHead = kv::values<KT>(a) + t.b * a.v_bs + t.kvh * a.v_hs;
  // Sets of 2..8 rows, as even as possible (57 rows: 7 or 8, never 8 x 7 + 1).
  const int64_t sets = (nh + 7) / 8;
  const GroupSettings pf = groupSettings();
  const bool zmm = wide && a.head_dim % 16 == 0 && vdim % 16 == 0 &&
                   (pf.zmm == GroupSettings::Always || (pf.zmm == GroupSettings::Narrow && KT != BMC_KV_F32));
  auto stageAt = [&](int64_t i) {
    Stage<KT> st{};
    const int64_t jj = (i / sets) * perStream, set = i % sets, h = set * nh / sets;
    for (int s = 0; s < kStreams; ++s) {
      const int64_t start = jBegin + s * streamLen + jj;
      const int64_t end = std::min(jEnd, jBegin + (s + 1) * streamLen);
      const int64_t len = std::clamp<int64_t>(end - start, 0, perStream);
      const int64_t valid = std::clamp<int64_t>(std::min(end, a.kv_len) - start, 0, perStream);
      st.n = std::max(st.n, len);
      st.k.row0[s] = len > 0 ? kHead + start * a.k_rs : st.k.row0[0];
      st.k.last[s] = std::max<int64_t>(len - 1, 0);
      st.k.pfEnd[s] = len > 0 ? end - start : 0;
      st.v.row0[s] = valid > 0 ? vHead + start * a.v_rs : st.v.row0[0];
      st.v.last[s] = std::max<int64_t>(valid - 1, 0);
      st.v.pfEnd[s] = valid > 0 ? std::min(end, a.kv_len) - start : 0;
      st.bi.valid[s] = valid;
      st.bi.maskOff[s] = s * streamLen * a.m_ks;
    }
    constexpr int64_t eb = sizeof(kv::Elem<KT>);
    // No prefetch: `ahead` past every stream's end.
    st.k.ahead = pf.bytes > 0 ? std::max<int64_t>(1, pf.bytes / (eb * std::max<int64_t>(1, a.head_dim))) : jEnd;
    st.v.ahead = pf.bytes > 0 ? std::max<int64_t>(1, pf.bytes / (eb * vdim)) : jEnd;
    st.k.l1 = st.v.l1 = pf.l1;
    st.bi.m_ks = a.m_ks;
    st.bi.mask = a.mask ? a.mask + t.b * a.m_bs + t.h0 * a.m_hs + t.i0 * a.m_qs + (jBegin + jj) * a.m_ks
                        : nullptr;
    st.H = int((set + 1) * nh / sets - h);
    for (int r = 0; r < st.H; ++r)
      st.bi.rowOff[r] = (t.head(h + r) - t.h0) * a.m_hs + (t.pos(h + r) - t.i0) * a.m_qs;
    st.q = qbuf + h * ldq;
    st.ldq = ldq;
    st.m = m + h;
    st.l = l + h;
    st.O = O + h * vdim;
    st.S = scr.s.data();
    return st;
  };
  // Stages (block x row set) in order; the later sets of a tile of > 8
  // rows find the block in L2. (Running P*V of one block interleaved with
  // the next block's scores measured no faster: 8 streams in flight serve
  // worse than 4.)
  for (int64_t i = 0; i < blocks * sets; ++i) {
    const Stage<KT> st = stageAt(i);
    if (st.n == 0)
      break;
    stageFn<KT>(st.H, a.head_dim % 8 != 0, vdim % 8 != 0, zmm)(a, st);
  }
}
} // namespace

void runGroupTile(const bmc_attention_args &a, const Tile &t, int64_t block, int64_t jBegin, int64_t jEnd,
                  float *m, float *l, float *O, bool wide) {
  switch (a.kv_type) {
  case BMC_KV_BF16: groupTile<BMC_KV_BF16>(a, t, block, jBegin, jEnd, m, l, O, wide); break;
  case BMC_KV_F16: groupTile<BMC_KV_F16>(a, t, block, jBegin, jEnd, m, l, O, wide); break;
  default: groupTile<BMC_KV_F32>(a, t, block, jBegin, jEnd, m, l, O, wide); break;
  }
}

} // namespace attn
} // namespace avx2
} // namespace kernels
} // namespace bmc
