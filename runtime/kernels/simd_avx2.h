// AVX2/FMA helpers for the intrinsics kernels. Every function carries the
// target attribute instead of the file being built with -mavx2, so that no
// AVX2 instruction can leak into code shared with the portable path (inline
// functions from std headers merged by the linker); all are `static` so each
// translation unit keeps its own copy.
#ifndef BMC_RUNTIME_KERNELS_SIMD_AVX2_H
#define BMC_RUNTIME_KERNELS_SIMD_AVX2_H

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#define BMC_AVX2 __attribute__((target("avx2,fma")))
#define BMC_AVX2_INLINE static inline __attribute__((target("avx2,fma"), always_inline))
// Lambdas do not inherit the target attribute of their enclosing function.
#define BMC_AVX2_LAMBDA __attribute__((target("avx2,fma"), always_inline))

namespace bmc {
namespace kernels {
namespace simd {

// Lanes [0, n) set (n clamped to [0, 8]), for masked loads and stores.
BMC_AVX2_INLINE __m256i laneMask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int32_t c = int32_t(n < 0 ? 0 : n > 8 ? 8 : n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), idx);
}

BMC_AVX2_INLINE float hsum(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

BMC_AVX2_INLINE float hmax(__m256 a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// x[0..n) *= c (the online softmax's rescaling of an output row).
BMC_AVX2_INLINE void scaleRow(float *x, int64_t n, float c) {
  const __m256 cv = _mm256_set1_ps(c);
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    _mm256_storeu_ps(x + d, _mm256_mul_ps(_mm256_loadu_ps(x + d), cv));
  for (; d < n; ++d)
    x[d] *= c;
}

// s[0..8) = dot(q, k rows j..j+7) for 8 rows (rows past n repeat row n-1).
// Rows are visited in memory order (the first touches of K go forward line
// by line, which keeps the hardware stream prefetcher engaged when K comes
// from DRAM) and written out straight-line, pairs folded with hadd as soon as
// they are done, so the FMA chains of consecutive rows overlap.
// dot(q, kr) for one row: DV = ceil(dim / 8) vectors, q in registers; up to
// four partial sums keep the FMA chains short; the last vector is a masked
// load only when TAIL (masked loads are slow).
template <int DV, bool TAIL>
BMC_AVX2_INLINE __m256 rowDot(const __m256 *qv, const float *kr, __m256i tail) {
  constexpr int kAcc = DV < 4 ? DV : 4;
  __m256 acc[kAcc];
  for (int c = 0; c < DV; ++c) {
    const __m256 kv = (TAIL && c == DV - 1) ? _mm256_maskload_ps(kr + 8 * c, tail)
                                            : _mm256_loadu_ps(kr + 8 * c);
    acc[c % kAcc] = c < kAcc ? _mm256_mul_ps(qv[c], kv) : _mm256_fmadd_ps(qv[c], kv, acc[c % kAcc]);
  }
  if (kAcc == 4)
    return _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2 % kAcc], acc[3 % kAcc]));
  if (kAcc == 3)
    return _mm256_add_ps(_mm256_add_ps(acc[0], acc[1 % kAcc]), acc[2 % kAcc]);
  if (kAcc == 2)
    return _mm256_add_ps(acc[0], acc[1 % kAcc]);
  return acc[0];
}

// Eight row sums as one vector: [sum(r0), sum(r1), ..., sum(r7)].
BMC_AVX2_INLINE __m256 reduce8(__m256 r0, __m256 r1, __m256 r2, __m256 r3,
                               __m256 r4, __m256 r5, __m256 r6, __m256 r7) {
  __m256 t0 = _mm256_hadd_ps(r0, r1), t1 = _mm256_hadd_ps(r2, r3);
  __m256 t2 = _mm256_hadd_ps(r4, r5), t3 = _mm256_hadd_ps(r6, r7);
  __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                       _mm256_permute2f128_ps(u0, u1, 0x31));
}

// dim <= 64: q held in registers.
template <int DV, bool TAIL>
BMC_AVX2_INLINE __m256 dot8Regs(const float *q, const float *k, int64_t krs,
                                int64_t n, int64_t dim) {
  const __m256i tail = laneMask(dim - 8 * (DV - 1));
  __m256 qv[DV];
  for (int c = 0; c < DV; ++c)
    qv[c] = (TAIL && c == DV - 1) ? _mm256_maskload_ps(q + 8 * c, tail) : _mm256_loadu_ps(q + 8 * c);
  if (n >= 8)
    return reduce8(rowDot<DV, TAIL>(qv, k, tail), rowDot<DV, TAIL>(qv, k + krs, tail),
                   rowDot<DV, TAIL>(qv, k + 2 * krs, tail), rowDot<DV, TAIL>(qv, k + 3 * krs, tail),
                   rowDot<DV, TAIL>(qv, k + 4 * krs, tail), rowDot<DV, TAIL>(qv, k + 5 * krs, tail),
                   rowDot<DV, TAIL>(qv, k + 6 * krs, tail), rowDot<DV, TAIL>(qv, k + 7 * krs, tail));
  __m256 r[8];
  for (int i = 0; i < 8; ++i)
    r[i] = rowDot<DV, TAIL>(qv, k + std::min<int64_t>(i, n - 1) * krs, tail);
  return reduce8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

// Any dim: q read from L1, two partial sums per row.
BMC_AVX2_INLINE __m256 dot8Any(const float *q, const float *k, int64_t krs,
                               int64_t n, int64_t dim) {
  const int64_t full = dim / 8 * 8;
  const __m256i tail = laneMask(dim - full);
  __m256 r[8];
  for (int i = 0; i < 8; ++i) {
    const float *kr = k + std::min<int64_t>(i, n - 1) * krs;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 16 <= full; d += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kr + d), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), _mm256_loadu_ps(kr + d + 8), a1);
    }
    if (d < full)
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kr + d), a0);
    if (full < dim)
      a1 = _mm256_fmadd_ps(_mm256_maskload_ps(q + full, tail), _mm256_maskload_ps(kr + full, tail), a1);
    r[i] = _mm256_add_ps(a0, a1);
  }
  return reduce8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

BMC_AVX2_INLINE __m256 dot8(const float *q, const float *k, int64_t krs, int64_t n,
                            int64_t dim) {
#define BMC_DOT8_CASE(dv)                                                      \
  case dv:                                                                     \
    return dim % 8 ? dot8Regs<dv, true>(q, k, krs, n, dim)                     \
                   : dot8Regs<dv, false>(q, k, krs, n, dim);
  switch ((dim + 7) / 8) {
    BMC_DOT8_CASE(1)
    BMC_DOT8_CASE(2)
    BMC_DOT8_CASE(3)
    BMC_DOT8_CASE(4)
    BMC_DOT8_CASE(5)
    BMC_DOT8_CASE(6)
    BMC_DOT8_CASE(7)
    BMC_DOT8_CASE(8)
  default:
    return dot8Any(q, k, krs, n, dim);
  }
#undef BMC_DOT8_CASE
}

// exp(x), ~1 ulp (Cephes expf polynomial); exactly 0 below -87.3 (incl.
// -inf), +inf above 88.7, NaN stays NaN.
BMC_AVX2_INLINE __m256 exp(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-87.3365478515625f);
  __m256 xc = _mm256_min_ps(hi, x); // NaN in x is returned as is
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

// cap * tanh(x * invCap), Gemma-2's logit soft cap: tanh(y) = sign(y) *
// (1 - e) / (1 + e) with e = exp(-2|y|) (no overflow; |y| large gives +-1,
// +-inf gives +-cap, NaN stays NaN). Absolute error of the tanh ~1e-7.
BMC_AVX2_INLINE __m256 softcap(__m256 x, __m256 cap, __m256 invCap) {
  const __m256 y = _mm256_mul_ps(x, invCap);
  const __m256 signBit = _mm256_set1_ps(-0.0f);
  const __m256 ay = _mm256_andnot_ps(signBit, y);
  const __m256 e = exp(_mm256_mul_ps(ay, _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  return _mm256_mul_ps(cap, _mm256_or_ps(t, _mm256_and_ps(signBit, y)));
}

} // namespace simd
} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_SIMD_AVX2_H
