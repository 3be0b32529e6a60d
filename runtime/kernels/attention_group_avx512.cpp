// Grouped attention with AVX-512F for tiles of many query rows: speculative
// verification (q_len = k + 1 positions x the heads of a GQA group, 8..64 rows
// per kv head) and wide GQA groups at decode. Same contract as
// avx2::attn::runGroupTile (m, l and the unnormalised O per tile row).
//
// Why a second kernel: with 20 rows per kv head (GQA 4, k = 4) the AVX2 group
// kernel is compute-bound, not memory-bound: every (query row, kv row) pair
// is a dot product over head_dim that ends in a horizontal reduction, and the
// rows run as several sets of <= 8 that reread each block. Measured on a Xeon
// (AVX-512): 27 GFLOP/s, a verification pass over 5 positions cost 3x a decode
// step in attention alone, which kept SD at p = 0.9, k = 4 under 2x.
//
// Here the query rows are the vector lanes: Q is transposed once per tile
// (Qt[c][lane], 16 lanes per strip, ceil(rows / 16) strips), and a score
// vector for kv row j is sum_c K[j][c] * Qt[c] (K broadcast, no horizontal
// reduction). The scores of a block are stored as S[j][lane], so the online
// softmax is vertical too (per-lane max and sum over j, no shuffles), and
// P * V runs row-major over V with O rows in registers, P broadcast from S.
// Lanes past the tile's rows compute zeros nobody reads (20 rows use 32
// lanes: the price of having no reductions).
//
// A bf16/fp16 cache (kv_type) is read as it is. V is widened in registers as
// P * V loads it (bf16: zero-extend and shift by 16; fp16: vcvtph2ps). K is
// consumed as scalar broadcasts (one FMA with a memory broadcast operand per
// element and strip), which a 16-bit element cannot be: each register block
// of JR <= 8 K rows is widened with vector converts into a per-thread L1
// buffer (JR x head_dim floats, <= 4 KB at head_dim 128) right before its
// FMAs read it: one load, convert and store per 16 elements against 16 x JR
// x NS FMAs, no L2 round trip and no second pass over the block.
#include "attention_avx2.h"
#include "attention_kv_load.h"
#include "kernels_internal.h"

#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#define BMC_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define BMC_AVX512_INLINE static inline __attribute__((target("avx512f,avx2,fma"), always_inline))
#define BMC_AVX512_LAMBDA __attribute__((target("avx512f,avx2,fma"), always_inline))

namespace bmc {
namespace kernels {
namespace avx512 {
namespace attn {
namespace {

using avx2::attn::Tile;
template <int KT> using Elem = kv::Elem<KT>;

using kv::load16; // attention_kv_load.h

// p[0..n) as fp32 (n in [1, 16), `mask` its lanes), zeros after; never reads
// past p + n.
template <int KT> BMC_AVX512_INLINE __m512 load16Part(const Elem<KT> *p, int64_t n, __mmask16 mask) {
  if constexpr (KT == BMC_KV_F32) {
    (void)n;
    return _mm512_maskz_loadu_ps(mask, p);
  } else {
    (void)mask;
    alignas(32) uint16_t tmp[16] = {};
    std::memcpy(tmp, p, size_t(n) * 2);
    return load16<KT>(tmp);
  }
}

// exp(x): the Cephes expf polynomial of simd_avx2.h's exp, in 16 lanes (the
// same arithmetic, so both paths round alike); exactly 0 below -87.3 (incl.
// -inf), +inf above 88.7, NaN stays NaN.
BMC_AVX512_INLINE __m512 exp16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f);
  const __m512 lo = _mm512_set1_ps(-87.3365478515625f);
  const __m512 xc = _mm512_min_ps(hi, x); // NaN in x is returned as is
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), y); // 0 where x < lo
}

// cap * tanh(x * invCap): simd::softcap of simd_avx2.h in 16 lanes (the same
// arithmetic; integer and/or, AVX-512F has no float ones without DQ).
BMC_AVX512_INLINE __m512 softcap16(__m512 x, __m512 cap, __m512 invCap) {
  const __m512 y = _mm512_mul_ps(x, invCap);
  const __m512i signBit = _mm512_set1_epi32(int32_t(0x80000000u));
  const __m512i yi = _mm512_castps_si512(y);
  const __m512 ay = _mm512_castsi512_ps(_mm512_andnot_si512(signBit, yi));
  const __m512 e = exp16(_mm512_mul_ps(ay, _mm512_set1_ps(-2.0f)));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  const __m512i st = _mm512_or_si512(_mm512_castps_si512(t), _mm512_and_si512(signBit, yi));
  return _mm512_mul_ps(cap, _mm512_castsi512_ps(st));
}

// S[r][lane] (row stride L = 16 * NS) = K row r . Qt[.][lane] for JR kv rows.
template <int NS, int JR>
BMC_AVX512 void scoreRows(const float *Qt, int64_t dim, const float *k, int64_t krs, float *S) {
  constexpr int L = 16 * NS;
  __m512 acc[JR][NS];
  for (int r = 0; r < JR; ++r)
    for (int s = 0; s < NS; ++s)
      acc[r][s] = _mm512_setzero_ps();
  for (int64_t c = 0; c < dim; ++c) {
    __m512 q[NS];
    for (int s = 0; s < NS; ++s)
      q[s] = _mm512_load_ps(Qt + c * L + 16 * s);
    for (int r = 0; r < JR; ++r) {
      const __m512 kb = _mm512_set1_ps(k[r * krs + c]);
      for (int s = 0; s < NS; ++s)
        acc[r][s] = _mm512_fmadd_ps(kb, q[s], acc[r][s]);
    }
  }
  for (int r = 0; r < JR; ++r)
    for (int s = 0; s < NS; ++s)
      _mm512_store_ps(S + r * L + 16 * s, acc[r][s]);
}

// Kv rows per register block of the score loop: JR x NS accumulators <= 24.
template <int NS> constexpr int scoreBlockRows() { return NS <= 2 ? 8 : NS == 3 ? 6 : 5; }

// Rows of K or V to bring into L2 while the score loop computes: the loop
// is compute-bound, so without it the next block's first touch would wait
// for memory (measured: compute and memory time added up, 590 us where the
// compute alone took 250 and the stream 160).
struct Prefetch {
  const char *rows[2] = {nullptr, nullptr};
  int64_t n[2] = {0, 0}, rs[2] = {0, 0}, rowBytes[2] = {0, 0}; // rs in bytes
  // Rows [i * n / parts, (i + 1) * n / parts) of each range.
  void part(int64_t i, int64_t parts) const {
    for (int t = 0; t < 2; ++t)
      for (int64_t r = i * n[t] / parts; r < (i + 1) * n[t] / parts; ++r) {
        const char *p = rows[t] + r * rs[t];
        for (int64_t b = 0; b < rowBytes[t]; b += 64)
          _mm_prefetch(p + b, _MM_HINT_T1);
      }
  }
};

// Rows [0, rows) of K (stride krs) as fp32 rows of dim floats at dst.
template <int KT>
BMC_AVX512 void widenRows(const Elem<KT> *k, int64_t krs, int rows, int64_t dim, float *dst) {
  const int64_t full = dim / 16 * 16;
  const __mmask16 tail = __mmask16((1u << (dim - full)) - 1);
  for (int r = 0; r < rows; ++r) {
    const Elem<KT> *src = k + r * krs;
    float *d = dst + r * dim;
    for (int64_t c = 0; c < full; c += 16)
      _mm512_storeu_ps(d + c, load16<KT>(src + c));
    if (full < dim)
      _mm512_mask_storeu_ps(d + full, tail, load16Part<KT>(src + full, dim - full, tail));
  }
}

// Scores of kv rows [0, n) of k. A narrow K goes through kw (scoreBlockRows
// x dim floats), one register block of rows at a time.
template <int NS, int KT>
BMC_AVX512 void scoreBlock(const float *Qt, int64_t dim, const Elem<KT> *k, int64_t krs, int64_t n, float *S,
                           const Prefetch &pf, float *kw) {
  constexpr int JR = scoreBlockRows<NS>(), L = 16 * NS;
  auto rowsAt = [&](int64_t j, int rows, const float *&kp, int64_t &rs) BMC_AVX512_LAMBDA {
    if constexpr (KT == BMC_KV_F32) {
      (void)rows;
      kp = k + j * krs;
      rs = krs;
    } else {
      widenRows<KT>(k + j * krs, krs, rows, dim, kw);
      kp = kw;
      rs = dim;
    }
  };
  const int64_t parts = (n + JR - 1) / JR;
  int64_t j = 0, i = 0;
  const float *kp;
  int64_t rs;
  for (; j + JR <= n; j += JR, ++i) {
    pf.part(i, parts);
    rowsAt(j, JR, kp, rs);
    scoreRows<NS, JR>(Qt, dim, kp, rs, S + j * L);
  }
  if (j < n)
    pf.part(i, parts);
  for (; j < n; ++j) {
    rowsAt(j, 1, kp, rs);
    scoreRows<NS, 1>(Qt, dim, kp, rs, S + j * L);
  }
}

// O rows [0, RB) (row stride ldo), columns [0, 16 * VC) of which the last
// vector holds only the lanes of `tail` when TAIL, += sum_j P[j][r] V[j]: V
// row-major, P broadcast from S (row stride L).
template <int RB, int VC, bool TAIL, int KT>
BMC_AVX512 void pvRows(const float *P, int64_t L, const Elem<KT> *v, int64_t vrs, int64_t n, int64_t w, float *O,
                       int64_t ldo, __mmask16 tail) {
  __m512 acc[RB][VC];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < VC; ++c)
      acc[r][c] = TAIL && c == VC - 1 ? _mm512_maskz_loadu_ps(tail, O + r * ldo + 16 * c)
                                      : _mm512_loadu_ps(O + r * ldo + 16 * c);
  for (int64_t j = 0; j < n; ++j) {
    __m512 x[VC];
    for (int c = 0; c < VC; ++c)
      x[c] = TAIL && c == VC - 1 ? load16Part<KT>(v + j * vrs + 16 * c, w - 16 * c, tail)
                                 : load16<KT>(v + j * vrs + 16 * c);
    for (int r = 0; r < RB; ++r) {
      const __m512 p = _mm512_set1_ps(P[j * L + r]);
      for (int c = 0; c < VC; ++c)
        acc[r][c] = _mm512_fmadd_ps(p, x[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < VC; ++c) {
      if (TAIL && c == VC - 1)
        _mm512_mask_storeu_ps(O + r * ldo + 16 * c, tail, acc[r][c]);
      else
        _mm512_storeu_ps(O + r * ldo + 16 * c, acc[r][c]);
    }
}

template <int KT>
using PvFn = void (*)(const float *, int64_t, const Elem<KT> *, int64_t, int64_t, int64_t, float *, int64_t,
                      __mmask16);

template <int RB, int VC, int KT> PvFn<KT> pvFn(bool tail) {
  return tail ? pvRows<RB, VC, true, KT> : pvRows<RB, VC, false, KT>;
}
template <int RB, int KT> PvFn<KT> pvFn(int vc, bool tail) {
  switch (vc) {
  case 1: return pvFn<RB, 1, KT>(tail);
  case 2: return pvFn<RB, 2, KT>(tail);
  case 3: return pvFn<RB, 3, KT>(tail);
  default: return pvFn<RB, 4, KT>(tail);
  }
}
// Up to 24 accumulators: 6 rows of 4 vectors, 8 of 3, 12 of 1-2 (capped at 8).
int pvRowsFor(int vc) { return vc >= 4 ? 6 : 8; }
template <int KT> PvFn<KT> pvFn(int rb, int vc, bool tail) {
  switch (rb) {
  case 1: return pvFn<1, KT>(vc, tail);
  case 2: return pvFn<2, KT>(vc, tail);
  case 3: return pvFn<3, KT>(vc, tail);
  case 4: return pvFn<4, KT>(vc, tail);
  case 5: return pvFn<5, KT>(vc, tail);
  case 6: return pvFn<6, KT>(vc, tail);
  case 7: return pvFn<7, KT>(vc, tail);
  default: return pvFn<8, KT>(vc, tail);
  }
}

// O (nh rows, ldo) += P * V for kv rows [0, n): column chunks of <= 64
// floats, row groups of pvRowsFor(chunk) rows; each group rereads the block
// of V from L1 (the first reads it from memory, front to back).
template <int KT>
BMC_AVX512 void pvBlock(const float *P, int64_t L, const Elem<KT> *v, int64_t vrs, int64_t n, int64_t nh, float *O,
                        int64_t vdim) {
  for (int64_t c0 = 0; c0 < vdim; c0 += 64) {
    const int64_t w = std::min<int64_t>(64, vdim - c0);
    const int vc = int((w + 15) / 16);
    const bool tail = w % 16 != 0;
    const __mmask16 tailMask = __mmask16((1u << (w % 16)) - 1);
    const int rb = pvRowsFor(vc);
    for (int64_t r0 = 0; r0 < nh; r0 += rb) {
      const int rows = int(std::min<int64_t>(rb, nh - r0));
      pvFn<KT>(rows, vc, tail)(P + r0, L, v + c0, vrs, n, w, O + r0 * vdim + c0, vdim, tailMask);
    }
  }
}

// True when mask row `mp` (stride mks) is exactly 0 over [0, n): no mask
// arithmetic for this row and block. NaN and -0.0 count as 0 only when == 0.
BMC_AVX512 bool zeroRun(const float *mp, int64_t mks, int64_t n) {
  if (mks == 1) {
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
      if (_mm512_cmp_ps_mask(_mm512_loadu_ps(mp + j), _mm512_setzero_ps(), _CMP_NEQ_UQ))
        return false;
    for (; j < n; ++j)
      if (!(mp[j] == 0.0f))
        return false;
    return true;
  }
  for (int64_t j = 0; j < n; ++j)
    if (!(mp[j * mks] == 0.0f))
      return false;
  return true;
}

// Online softmax over one block, per lane (query row): S (scores, n rows of
// L lanes) becomes P = exp(s - m_new) with s = cap(scale * dot) (+ mask) clamped
// at -FLT_MAX, -inf for kv rows at or past `valid` (spare rows); m, l
// updated; corr[lane] = the factor O's row must be rescaled by.
template <int NS>
BMC_AVX512 void softmaxBlock(float *S, const float *MT, int64_t n, int64_t valid, float scale, float softcap,
                             float *m, float *l, float *corr) {
  constexpr int L = 16 * NS;
  const __m512 vscale = _mm512_set1_ps(scale);
  const bool capped = softcap > 0.0f;
  const __m512 cap = _mm512_set1_ps(softcap), invCap = _mm512_set1_ps(capped ? 1.0f / softcap : 0.0f);
  const __m512 lowest = _mm512_set1_ps(-FLT_MAX);
  const __m512 negInf = _mm512_set1_ps(-INFINITY);
  for (int s = 0; s < NS; ++s) {
    __m512 mx = negInf;
    for (int64_t j = 0; j < n; ++j) {
      float *sp = S + j * L + 16 * s;
      __m512 x = negInf;
      if (j < valid) {
        x = _mm512_mul_ps(_mm512_load_ps(sp), vscale);
        if (capped)
          x = softcap16(x, cap, invCap);
        if (MT)
          x = _mm512_add_ps(x, _mm512_load_ps(MT + j * L + 16 * s));
        x = _mm512_max_ps(lowest, x); // NaN stays NaN
      }
      _mm512_store_ps(sp, x);
      mx = _mm512_max_ps(x, mx); // NaN scores are skipped here, reach l below
    }
    const __m512 mOld = _mm512_load_ps(m + 16 * s);
    const __m512 mNew = _mm512_max_ps(mOld, mx);
    // A lane with nothing valid yet: exp(-inf - 0) = 0.
    const __m512 mUse = _mm512_mask_mov_ps(mNew, _mm512_cmp_ps_mask(mNew, negInf, _CMP_EQ_OQ), _mm512_setzero_ps());
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
      float *sp = S + j * L + 16 * s;
      const __m512 p = exp16(_mm512_sub_ps(_mm512_load_ps(sp), mUse));
      _mm512_store_ps(sp, p);
      sum = _mm512_add_ps(sum, p);
    }
    const __mmask16 fresh = _mm512_cmp_ps_mask(mOld, negInf, _CMP_EQ_OQ);
    const __m512 c = _mm512_mask_mov_ps(exp16(_mm512_sub_ps(mOld, mNew)), fresh, _mm512_setzero_ps());
    _mm512_store_ps(corr + 16 * s, c);
    _mm512_store_ps(l + 16 * s, _mm512_fmadd_ps(_mm512_load_ps(l + 16 * s), c, sum));
    _mm512_store_ps(m + 16 * s, mNew);
  }
}

template <int KT>
using ScoreFn = void (*)(const float *, int64_t, const Elem<KT> *, int64_t, int64_t, float *, const Prefetch &,
                         float *);
using SoftmaxFn = void (*)(float *, const float *, int64_t, int64_t, float, float, float *, float *, float *);

template <int KT> ScoreFn<KT> scoreFn(int ns) {
  switch (ns) {
  case 1: return scoreBlock<1, KT>;
  case 2: return scoreBlock<2, KT>;
  case 3: return scoreBlock<3, KT>;
  default: return scoreBlock<4, KT>;
  }
}
SoftmaxFn softmaxFn(int ns) {
  switch (ns) {
  case 1: return softmaxBlock<1>;
  case 2: return softmaxBlock<2>;
  case 3: return softmaxBlock<3>;
  default: return softmaxBlock<4>;
  }
}

// Aligned per-thread scratch (the AVX2 Scratch vectors are not 64-byte aligned).
struct Scratch512 {
  float *buf = nullptr;
  size_t n = 0;
  float *get(size_t floats) {
    if (floats > n) {
      std::free(buf);
      buf = static_cast<float *>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64));
      if (!buf) {
        n = 0;
        throw std::bad_alloc();
      }
      n = floats;
    }
    return buf;
  }
  ~Scratch512() { std::free(buf); }
};

template <int KT>
BMC_AVX512 void groupTile(const bmc_attention_args &a, const Tile &t, int64_t jBegin, int64_t jEnd, float *m,
                          float *l, float *O) {
  const int64_t nh = t.rows(), dim = a.head_dim, vdim = a.v_head_dim;
  const int ns = int((nh + 15) / 16);
  const int64_t L = 16 * ns;
  // Kv rows per block: S (and the transposed mask) at <= 16 KB each, so S, a
  // block of K or V and O stay in L1/L2 together; a multiple of 8.
  const int64_t block = std::clamp<int64_t>(4096 / L, 32, 128) / 8 * 8;
  thread_local Scratch512 scratch;
  const int64_t kwFloats = KT == BMC_KV_F32 ? 0 : 8 * dim; // widened K rows (scoreBlockRows <= 8)
  float *Qt = scratch.get(size_t(dim * L + 2 * block * L + 4 * L + kwFloats));
  float *S = Qt + dim * L, *MT = S + block * L, *mv = MT + block * L, *lv = mv + L, *corr = lv + L;
  float *kw = corr + L;
  for (int64_t c = 0; c < dim; ++c)
    for (int64_t r = 0; r < L; ++r)
      Qt[c * L + r] = r < nh ? a.q[t.b * a.q_bs + t.head(r) * a.q_hs + t.pos(r) * a.q_rs + c] : 0.0f;
  std::fill(mv, mv + L, -INFINITY);
  std::fill(lv, lv + L, 0.0f);
  std::fill(O, O + nh * vdim, 0.0f);
  const Elem<KT> *kHead = kv::keys<KT>(a) + t.b * a.k_bs + t.kvh * a.k_hs;
  const Elem<KT> *vHead = kv::values<KT>(a) + t.b * a.v_bs + t.kvh * a.v_hs;
  constexpr int64_t eb = sizeof(Elem<KT>);
  const float *mrow[64]; // kMaxGroupTileRows
  if (a.mask)
    for (int64_t r = 0; r < nh; ++r)
      mrow[r] = a.mask + t.b * a.m_bs + t.head(r) * a.m_hs + t.pos(r) * a.m_qs;
  const ScoreFn<KT> score = scoreFn<KT>(ns);
  const SoftmaxFn softmax = softmaxFn(ns);

  for (int64_t j0 = jBegin; j0 < jEnd; j0 += block) {
    const int64_t n = std::min(block, jEnd - j0);
    const int64_t valid = std::clamp<int64_t>(a.kv_len - j0, 0, n);
    Prefetch pf; // this block's V, the next block's K
    pf.rows[0] = reinterpret_cast<const char *>(vHead + j0 * a.v_rs);
    pf.n[0] = valid;
    pf.rs[0] = eb * a.v_rs;
    pf.rowBytes[0] = eb * vdim;
    pf.rows[1] = reinterpret_cast<const char *>(kHead + (j0 + n) * a.k_rs);
    pf.n[1] = std::min(block, jEnd - j0 - n);
    pf.rs[1] = eb * a.k_rs;
    pf.rowBytes[1] = eb * dim;
    score(Qt, dim, kHead + j0 * a.k_rs, a.k_rs, n, S, pf, kw);
    // The mask, transposed to [j][lane], only for blocks where some row has
    // a non-zero value (a causal mask over the last q_len rows: the last block).
    bool masked = false;
    if (a.mask)
      for (int64_t r = 0; r < nh && !masked; ++r)
        masked = !zeroRun(mrow[r] + j0 * a.m_ks, a.m_ks, valid);
    if (masked)
      for (int64_t j = 0; j < valid; ++j)
        for (int64_t r = 0; r < L; ++r)
          MT[j * L + r] = r < nh ? mrow[r][(j0 + j) * a.m_ks] : 0.0f;
    softmax(S, masked ? MT : nullptr, n, valid, a.scale, a.softcap, mv, lv, corr);
    for (int64_t r = 0; r < nh; ++r)
      if (corr[r] != 1.0f) {
        float *o = O + r * vdim;
        for (int64_t c = 0; c < vdim; ++c)
          o[c] *= corr[r];
      }
    if (valid > 0) // V's spare rows are never read
      pvBlock<KT>(S, L, vHead + j0 * a.v_rs, a.v_rs, valid, nh, O, vdim);
  }
  for (int64_t r = 0; r < nh; ++r) {
    m[r] = mv[r];
    l[r] = lv[r];
  }
}

} // namespace

int64_t minTileRows() { return 8; }

void runGroupTile(const bmc_attention_args &a, const Tile &t, int64_t jBegin, int64_t jEnd, float *m, float *l,
                  float *O) {
  switch (a.kv_type) {
  case BMC_KV_BF16: groupTile<BMC_KV_BF16>(a, t, jBegin, jEnd, m, l, O); break;
  case BMC_KV_F16: groupTile<BMC_KV_F16>(a, t, jBegin, jEnd, m, l, O); break;
  default: groupTile<BMC_KV_F32>(a, t, jBegin, jEnd, m, l, O); break;
  }
}

} // namespace attn
} // namespace avx512
} // namespace kernels
} // namespace bmc
