// Matmul with int4 block-quantized weights (weight-only): packing, reference,
// AVX2 and AVX-512 kernels that dequantize in registers. Layout in kernels.h
// ("Packed int4 layout"): per 32 rows of K and 16 columns, 16 fp32 scales, 16
// zero points, and 16 row pairs of 16 bytes holding two rows' codes as the
// low and high nibbles.
//
// Napkin math, decode (llama-25m, M = 1; runtime/kernels/README.md has the
// whole count): 0.656 bytes per weight, 14.45 MB of matmul weights + 0.4 MB
// of KV at context 64 = 14.85 MB per token; at one core's ~25.6 GB/s that is
// 0.58 ms per token, 0.68 ms at 85%. One 32-row block of a panel (336 bytes)
// must then cost <= ~13 ns = ~48 cycles at 3.7 GHz, and 32 of those cycles
// are its 32 FMAs (one zmm FMA per cycle on Zen 4): dequantization gets ~16
// cycles per 512 weights. Per 16 weights the AVX-512 kernel spends one and,
// one unsigned conversion and the FMA (codes masked in place in a
// broadcast, lanes in transposed column order; no shuffle, no shift), the
// zero point once per block: s (sum_k a_k q_k - z sum_k a_k), with the block
// sums of A computed once per call. On AMD CPUs the AVX-512 GEMV instead
// reads the masked codes as subnormal floats (no conversion; "Subnormal"
// below; docs/QUANTIZATION.md has the llama-100m count on Zen 5).
#include "kernels_internal.h"
#include "matmul_quant.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <xbyak/xbyak_util.h>

#define BMC_Q4_AVX2 __attribute__((target("avx2,fma")))
#define BMC_Q4_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace bmc {
namespace kernels {

using quant::kBlock;
using quant::numBlocks;
using quant::PanelFn;

namespace {

constexpr int64_t kScales = 0, kZeros = 4 * kPanel, kCodes = kZeros + kPanel; // byte offsets in a block
constexpr int64_t kBlockBytes = kCodes + kBlock / 2 * kPanel;                 // 336
static_assert(kBlockBytes == BMC_Q4_BLOCK_BYTES && kZeros == BMC_Q4_ZEROS_OFFSET && kCodes == BMC_Q4_CODES_OFFSET,
              "kernels.h describes this layout");

const uint8_t *q4Block(const void *packed, int64_t K, int64_t p, int64_t kb) {
  return static_cast<const uint8_t *>(packed) + (p * numBlocks(K) + kb) * kBlockBytes;
}

// Code of row r (0..31) of a block, column j.
inline int code(const uint8_t *blk, int64_t r, int64_t j) {
  const uint8_t b = blk[kCodes + (r / 2) * kPanel + j];
  return r % 2 ? b >> 4 : b & 15;
}

} // namespace

int64_t packQ4Bytes(int64_t K, int64_t N) { return numPanels(N) * numBlocks(K) * kBlockBytes; }

bool packQ4(const float *B, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out) {
  const int64_t nb = numBlocks(K);
  for (int64_t p = 0; p < numPanels(N); ++p)
    for (int64_t kb = 0; kb < nb; ++kb) {
      uint8_t *blk = static_cast<uint8_t *>(out) + (p * nb + kb) * kBlockBytes;
      std::memset(blk, 0, size_t(kBlockBytes));
      float scales[kPanel];
      const int64_t k1 = std::min(K, (kb + 1) * kBlock);
      for (int64_t j = 0; j < kPanel; ++j) {
        const int64_t n = p * kPanel + j;
        // The value of largest magnitude, with its sign, becomes code 0:
        // scale = vmax / -8 uses all 16 codes (zero point 8).
        float vmax = 0.0f;
        if (n < N)
          for (int64_t k = kb * kBlock; k < k1; ++k) {
            const float w = quant::weightAt(B, k * rs + n * cs);
            if (!std::isfinite(w))
              return false;
            if (std::fabs(w) > std::fabs(vmax))
              vmax = w;
          }
        scales[j] = vmax / -8.0f;
        const float inv = vmax != 0.0f ? -8.0f / vmax : 0.0f;
        blk[kZeros + j] = 8;
        for (int64_t k = kb * kBlock; k < (kb + 1) * kBlock; ++k) {
          int q = 8;
          if (n < N && k < K)
            q = int(std::min(15.0f, std::max(0.0f, std::nearbyint(quant::weightAt(B, k * rs + n * cs) * inv) + 8.0f)));
          const int64_t r = k - kb * kBlock;
          blk[kCodes + (r / 2) * kPanel + j] |= uint8_t(r % 2 ? q << 4 : q);
        }
      }
      std::memcpy(blk + kScales, scales, sizeof scales);
    }
  return true;
}

void dequantQ4Panels(const void *packed, int64_t K, int64_t p0, int64_t p1, float *out) {
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
      const uint8_t *blk = q4Block(packed, K, p, kb);
      float scales[kPanel];
      std::memcpy(scales, blk + kScales, sizeof scales);
      for (int64_t k = kb * kBlock; k < std::min(K, (kb + 1) * kBlock); ++k)
        for (int64_t j = 0; j < kPanel; ++j)
          out[((p - p0) * K + k) * kPanel + j] =
              float(code(blk, k - kb * kBlock, j) - int(blk[kZeros + j])) * scales[j];
    }
}

namespace ref {
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) noexcept {
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m = 0; m < M; ++m) {
        double acc[kPanel] = {};
        for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
          const uint8_t *blk = q4Block(Bq, K, p, kb);
          float scales[kPanel];
          std::memcpy(scales, blk + kScales, sizeof scales);
          for (int64_t k = kb * kBlock; k < std::min(K, (kb + 1) * kBlock); ++k)
            for (int64_t j = 0; j < w; ++j)
              acc[j] += double(A[m * lda + k]) *
                        double(float(code(blk, k - kb * kBlock, j) - int(blk[kZeros + j])) * scales[j]);
        }
        for (int64_t j = 0; j < w; ++j)
          C[m * ldc + p * kPanel + j] = float(acc[j]) + (bias ? bias[p * kPanel + j] : 0.0f);
      }
    }
  });
}
} // namespace ref

namespace {

// ---- AVX2: w = q * s - z * s in registers (two ymm per row), rows <= 5 ----
// The 16 row pairs of a full block are unrolled at compile time so that the
// SETS accumulator sets stay in registers; a K % 32 tail runs the same code
// on A rows padded with zeros.
template <int MR, int SETS>
BMC_Q4_AVX2 __attribute__((always_inline)) inline void q4BlockAvx2(const uint8_t *blk, const float *a, int64_t lda,
                                                                   __m256 (*c)[MR][2]) {
  const __m128i low = _mm_set1_epi8(15);
  const __m256 s0 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk + kScales));
  const __m256 s1 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk + kScales) + 8);
  const __m128i zb = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kZeros));
  const __m256 zs0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(zb)), s0);
  const __m256 zs1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(zb, 8))), s1);
#pragma clang loop unroll(full)
  for (int r = 0; r < kBlock; ++r) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kCodes + (r / 2) * kPanel));
    const __m128i q = _mm_and_si128(r % 2 ? _mm_srli_epi16(v, 4) : v, low);
    const __m256 w0 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q)), s0, zs0);
    const __m256 w1 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8))), s1, zs1);
    for (int m = 0; m < MR; ++m) {
      const __m256 am = _mm256_broadcast_ss(a + m * lda + r);
      c[r % SETS][m][0] = _mm256_fmadd_ps(am, w0, c[r % SETS][m][0]);
      c[r % SETS][m][1] = _mm256_fmadd_ps(am, w1, c[r % SETS][m][1]);
    }
  }
}

template <int MR, int SETS>
BMC_Q4_AVX2 void q4PanelAvx2(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p, const float *,
                             float *acc) {
  __m256 c[SETS][MR][2];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      c[s][m][0] = c[s][m][1] = _mm256_setzero_ps();
  const int64_t nb = numBlocks(K), full = K / kBlock;
  for (int64_t kb = 0; kb < full; ++kb)
    q4BlockAvx2<MR, SETS>(q4Block(Bq, K, p, kb), A + kb * kBlock, lda, c);
  if (full < nb) {
    alignas(32) float tail[MR][kBlock] = {};
    for (int m = 0; m < MR; ++m)
      std::memcpy(tail[m], A + m * lda + full * kBlock, size_t(K - full * kBlock) * sizeof(float));
    q4BlockAvx2<MR, SETS>(q4Block(Bq, K, p, full), tail[0], kBlock, c);
  }
  for (int m = 0; m < MR; ++m) {
    __m256 r0 = c[0][m][0], r1 = c[0][m][1];
    for (int s = 1; s < SETS; ++s) {
      r0 = _mm256_add_ps(r0, c[s][m][0]);
      r1 = _mm256_add_ps(r1, c[s][m][1]);
    }
    _mm256_storeu_ps(acc + m * kPanel, r0);
    _mm256_storeu_ps(acc + m * kPanel + 8, r1);
  }
}

// Decode (1-2 rows): as the AVX-512 kernel below, codes masked in place. The
// row pair's 16 bytes are broadcast to both 128-bit lanes; with x and x >> 4
// (the odd row's nibbles moved down), ymm "a" keeps byte g of dword d (column
// 4d + g, g = 0, 1) and ymm "b" byte g + 2 (column 4d + 2 + g): per 16
// weights two ands and two conversions (exact, scaled by 2^8g) instead of two
// zero-extensions, two conversions and two FMAs of the dequantization above.
// Per block: sums times the scales permuted to the lanes' columns (2^-8g
// folded in), minus s * z * sum(a).
template <int MR, int SETS>
BMC_Q4_AVX2 __attribute__((always_inline)) inline void q4BlockMaskedAvx2(const uint8_t *blk, const float *a,
                                                                         int64_t lda, const float *asum,
                                                                         int64_t asumStride, __m256 (*c)[2]) {
  const __m256i maskA = _mm256_setr_epi32(0xF, 0xF, 0xF, 0xF, 0xF00, 0xF00, 0xF00, 0xF00);
  const __m256i maskB = _mm256_setr_epi32(0xF0000, 0xF0000, 0xF0000, 0xF0000, 0xF000000, 0xF000000, 0xF000000,
                                          0xF000000);
  __m256 b[SETS][MR][2];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      b[s][m][0] = b[s][m][1] = _mm256_setzero_ps();
#pragma clang loop unroll(full)
  for (int i = 0; i < kBlock / 2; ++i) {
    const __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kCodes + i * kPanel)));
    const __m256i xh = _mm256_srli_epi32(x, 4);
    const __m256 w[2][2] = {{_mm256_cvtepi32_ps(_mm256_and_si256(x, maskA)), _mm256_cvtepi32_ps(_mm256_and_si256(x, maskB))},
                            {_mm256_cvtepi32_ps(_mm256_and_si256(xh, maskA)), _mm256_cvtepi32_ps(_mm256_and_si256(xh, maskB))}};
    for (int h = 0; h < 2; ++h)
      for (int m = 0; m < MR; ++m) {
        const __m256 am = _mm256_broadcast_ss(a + m * lda + 2 * i + h);
        __m256 *acc = b[(2 * i + h) % SETS][m];
        acc[0] = _mm256_fmadd_ps(am, w[h][0], acc[0]);
        acc[1] = _mm256_fmadd_ps(am, w[h][1], acc[1]);
      }
  }
  // Scales (and z * s) of columns [0, 8) and [8, 16) to lanes: "a" holds
  // columns 0 4 8 12 1 5 9 13, "b" 2 6 10 14 3 7 11 15.
  const __m256 s0 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk + kScales));
  const __m256 s1 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk + kScales) + 8);
  const __m128i zb = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kZeros));
  const __m256 z0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(zb)), s0);
  const __m256 z1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(zb, 8))), s1);
  const __m256i idxA = _mm256_setr_epi32(0, 4, 0, 4, 1, 5, 1, 5), idxB = _mm256_setr_epi32(2, 6, 2, 6, 3, 7, 3, 7);
  auto toLanes = [](__m256 lo, __m256 hi, __m256i idx) __attribute__((target("avx2,fma"), always_inline)) {
    return _mm256_blend_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx), 0xCC);
  };
  const __m256 sA = _mm256_mul_ps(toLanes(s0, s1, idxA), _mm256_setr_ps(1, 1, 1, 1, 0x1p-8f, 0x1p-8f, 0x1p-8f, 0x1p-8f));
  const __m256 sB = _mm256_mul_ps(toLanes(s0, s1, idxB),
                                  _mm256_setr_ps(0x1p-16f, 0x1p-16f, 0x1p-16f, 0x1p-16f, 0x1p-24f, 0x1p-24f, 0x1p-24f, 0x1p-24f));
  const __m256 zA = toLanes(z0, z1, idxA), zB = toLanes(z0, z1, idxB);
  for (int m = 0; m < MR; ++m) {
    __m256 ta = b[0][m][0], tb = b[0][m][1];
    for (int s = 1; s < SETS; ++s) {
      ta = _mm256_add_ps(ta, b[s][m][0]);
      tb = _mm256_add_ps(tb, b[s][m][1]);
    }
    const __m256 as = _mm256_set1_ps(asum[m * asumStride]);
    c[m][0] = _mm256_fnmadd_ps(zA, as, _mm256_fmadd_ps(ta, sA, c[m][0]));
    c[m][1] = _mm256_fnmadd_ps(zB, as, _mm256_fmadd_ps(tb, sB, c[m][1]));
  }
}

template <int MR, int SETS>
BMC_Q4_AVX2 void q4PanelMaskedAvx2(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p,
                                   const float *asum, float *acc) {
  __m256 c[MR][2];
  for (int m = 0; m < MR; ++m)
    c[m][0] = c[m][1] = _mm256_setzero_ps();
  const int64_t nb = numBlocks(K), full = K / kBlock;
  for (int64_t kb = 0; kb < full; ++kb)
    q4BlockMaskedAvx2<MR, SETS>(q4Block(Bq, K, p, kb), A + kb * kBlock, lda, asum + kb, nb, c);
  if (full < nb) {
    alignas(32) float tail[MR][kBlock] = {};
    for (int m = 0; m < MR; ++m)
      std::memcpy(tail[m], A + m * lda + full * kBlock, size_t(K - full * kBlock) * sizeof(float));
    q4BlockMaskedAvx2<MR, SETS>(q4Block(Bq, K, p, full), tail[0], kBlock, asum + full, nb, c);
  }
  static constexpr int kColumn[2][8] = {{0, 4, 8, 12, 1, 5, 9, 13}, {2, 6, 10, 14, 3, 7, 11, 15}};
  for (int m = 0; m < MR; ++m)
    for (int h = 0; h < 2; ++h) {
      alignas(32) float t[8];
      _mm256_store_ps(t, c[m][h]);
      for (int l = 0; l < 8; ++l)
        acc[m * kPanel + kColumn[h][l]] = t[l];
    }
}

PanelFn panelAvx2(int64_t mr) {
  switch (mr) {
  case 1: return q4PanelMaskedAvx2<1, 2>;
  case 2: return q4PanelMaskedAvx2<2, 1>;
  case 3: return q4PanelAvx2<3, 2>;
  case 4: return q4PanelAvx2<4, 1>;
  default: return q4PanelAvx2<5, 1>;
  }
}

// ---- AVX-512: codes masked in place, lanes in transposed column order ----
//
// A row pair's 16 bytes are broadcast to the four 128-bit lanes (a load, no
// shuffle). Lane l = 4g + d then holds bytes 4d..4d+3 and keeps byte g of
// them, column 4d + g, by a mask: x & (0xF << 8g) converts (unsigned,
// exact) to q * 2^8g for the even row, x & (0xF0 << 8g) to 16 q * 2^8g for the
// odd row. Per 16 weights: one and, one conversion, M FMAs, no shuffle (on
// Zen 4 shuffles and shifts share the pipes that also convert; masks run
// anywhere). Per block, the sums of even and odd rows (separate accumulator
// sets: SETS is even) are merged as even + odd / 16, scaled by the block's
// scales permuted to the lanes' columns times 2^-8g, and the zero point is
// applied as s * z * sum(a). The store transposes the lanes back (the
// permutation is its own inverse).
template <int MR, int SETS>
BMC_Q4_AVX512 __attribute__((always_inline)) inline void q4BlockAvx512(const uint8_t *blk, const float *a, int64_t lda,
                                                                       const float *asum, int64_t asumStride,
                                                                       __m512i lanes, __m512 *c) {
  static_assert(SETS % 2 == 0, "even rows in even sets, odd rows in odd sets");
  const __m512i maskLo = _mm512_setr_epi32(0xF, 0xF, 0xF, 0xF, 0xF00, 0xF00, 0xF00, 0xF00, 0xF0000, 0xF0000, 0xF0000,
                                           0xF0000, 0xF000000, 0xF000000, 0xF000000, 0xF000000);
  const __m512i maskHi = _mm512_slli_epi32(maskLo, 4);
  __m512 b[SETS][MR];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      b[s][m] = _mm512_setzero_ps();
#pragma clang loop unroll(full)
  for (int i = 0; i < kBlock / 2; ++i) {
    const __m512i x =
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kCodes + i * kPanel)));
    const __m512 lo = _mm512_cvtepu32_ps(_mm512_and_si512(x, maskLo));
    const __m512 hi = _mm512_cvtepu32_ps(_mm512_and_si512(x, maskHi));
    for (int m = 0; m < MR; ++m) {
      b[(2 * i) % SETS][m] = _mm512_fmadd_ps(_mm512_set1_ps(a[m * lda + 2 * i]), lo, b[(2 * i) % SETS][m]);
      b[(2 * i + 1) % SETS][m] = _mm512_fmadd_ps(_mm512_set1_ps(a[m * lda + 2 * i + 1]), hi, b[(2 * i + 1) % SETS][m]);
    }
  }
  const __m512 scale = _mm512_loadu_ps(reinterpret_cast<const float *>(blk + kScales));
  const __m512 laneScale = _mm512_setr_ps(1, 1, 1, 1, 0x1p-8f, 0x1p-8f, 0x1p-8f, 0x1p-8f, 0x1p-16f, 0x1p-16f, 0x1p-16f,
                                          0x1p-16f, 0x1p-24f, 0x1p-24f, 0x1p-24f, 0x1p-24f);
  const __m512 sG = _mm512_mul_ps(_mm512_permutexvar_ps(lanes, scale), laneScale);
  const __m512 zs = _mm512_permutexvar_ps( // z * s, in the lanes' order
      lanes, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                               _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kZeros)))),
                           scale));
  for (int m = 0; m < MR; ++m) {
    __m512 even = b[0][m], odd = b[1][m];
    for (int s = 2; s < SETS; s += 2) {
      even = _mm512_add_ps(even, b[s][m]);
      odd = _mm512_add_ps(odd, b[s + 1][m]);
    }
    c[m] = _mm512_fmadd_ps(_mm512_fmadd_ps(odd, _mm512_set1_ps(1.0f / 16), even), sG, c[m]);
    c[m] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(asum[m * asumStride]), c[m]);
  }
}

template <int MR, int SETS>
BMC_Q4_AVX512 void q4PanelAvx512(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p,
                                 const float *asum, float *acc) {
  const int64_t nb = numBlocks(K), full = K / kBlock;
  // Lane 4g + d <-> column 4d + g (a 4 x 4 transpose, its own inverse).
  const __m512i lanes = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512 c[MR];
  for (int m = 0; m < MR; ++m)
    c[m] = _mm512_setzero_ps();
  for (int64_t kb = 0; kb < full; ++kb)
    q4BlockAvx512<MR, SETS>(q4Block(Bq, K, p, kb), A + kb * kBlock, lda, asum + kb, nb, lanes, c);
  if (full < nb) { // K % 32 rows: A's rows padded with zeros (the codes past K are in the block)
    alignas(64) float tail[MR][kBlock] = {};
    for (int m = 0; m < MR; ++m)
      std::memcpy(tail[m], A + m * lda + full * kBlock, size_t(K - full * kBlock) * sizeof(float));
    q4BlockAvx512<MR, SETS>(q4Block(Bq, K, p, full), tail[0], kBlock, asum + full, nb, lanes, c);
  }
  for (int m = 0; m < MR; ++m)
    _mm512_storeu_ps(acc + m * kPanel, _mm512_permutexvar_ps(lanes, c[m]));
}

// SETS (even): enough independent FMA chains per block within the 32 zmm
// registers (SETS * MR accumulators + MR sums + 5); up to 8 rows per pass.
constexpr int64_t kMaxRowsAvx512 = 8;
PanelFn panelAvx512(int64_t mr) {
  switch (mr) {
  case 1: return q4PanelAvx512<1, 4>;
  case 2: return q4PanelAvx512<2, 4>;
  case 3: return q4PanelAvx512<3, 2>;
  case 4: return q4PanelAvx512<4, 2>;
  case 5: return q4PanelAvx512<5, 2>;
  case 6: return q4PanelAvx512<6, 2>;
  case 7: return q4PanelAvx512<7, 2>;
  default: return q4PanelAvx512<8, 2>;
  }
}

// ---- AVX-512: codes as subnormal floats, A scaled by a power of two ----
//
// A row pair's 16 bytes zero-extended to 16 dwords (vpmovzxbd, natural column
// order): x & 0xF is the even row's code q and x & 0xF0 the odd row's 16 q,
// and as float bits (exponent field 0) they are the subnormals q 2^-149 and
// 16 q 2^-149, exactly, with no conversion. A row is scaled by 2^E (exact)
// so that its largest |a| is ~2^100: the FMA's exact product a 2^E q 2^-149
// is then a normal number, and every sum is the Convert kernel's times
// 2^(E-149): the same roundings, the same bits; the store multiplies by
// 2^(149-E). Per 16 weights: one and, the FMA (M rows: M FMAs), and one
// vpmovzxbd per 32; prefetch 8 KB ahead (4 KB until issue 12's second pass:
// in bench_kernels' "int4 kernels" rows on llama-100m, 8 KB took 0.78-0.96x
// the time of 4 KB, loaded machine, preliminary; SubnormalNoPrefetch and
// SubnormalPrefetch4K measure the alternatives). Needs DAZ off (with DAZ the codes
// read as 0) and the rows' magnitudes in range: both are checked per call and
// otherwise the Convert kernel runs.
constexpr int kPrefetchAhead = 8192;
constexpr int kSubnormalTarget = 100; // log2 of the largest |a| 2^E

// A's rows for the Subnormal kernel: scaled, padded with zeros to whole blocks.
struct ScaledRows {
  int64_t nb = 0, stride = 0; // blocks; floats per row
  std::vector<float> a, asum, unscale; // asum scaled by 2^(E-149); unscale 2^(149-E)
};

// False when a row's largest |a| is out of the range the scaling covers
// (E in [22, 126]: 2^E and 2^(149-E) finite, a 2^E below 2^101).
bool scaleRows(int64_t M, int64_t K, const float *A, int64_t lda, const std::vector<float> &asum, ScaledRows &r) {
  r.nb = numBlocks(K);
  r.stride = r.nb * kBlock;
  r.a.assign(size_t(M * r.stride), 0.0f);
  r.asum.resize(size_t(M * r.nb));
  r.unscale.resize(size_t(M));
  for (int64_t m = 0; m < M; ++m) {
    // The largest |a| (NaNs ignored, as std::max keeps its first argument
    // then), 16 lanes: one running maximum was a dependency chain of K
    // steps per call (issue 12).
    float lane[16] = {};
    int64_t k = 0;
    for (; k + 16 <= K; k += 16)
      for (int j = 0; j < 16; ++j)
        lane[j] = std::max(lane[j], std::fabs(A[m * lda + k + j]));
    for (; k < K; ++k)
      lane[0] = std::max(lane[0], std::fabs(A[m * lda + k]));
    float amax = 0.0f;
    for (float v : lane)
      amax = std::max(amax, v);
    int e = 0;
    if (std::isfinite(amax) && amax > 0.0f)
      std::frexp(amax, &e); // amax in [2^(e-1), 2^e)
    const int E = kSubnormalTarget - e;
    if (E < 22 || E > 126)
      return false;
    const float up = std::ldexp(1.0f, E), down = std::ldexp(1.0f, E - 149);
    for (int64_t k = 0; k < K; ++k)
      r.a[size_t(m * r.stride + k)] = A[m * lda + k] * up;
    for (int64_t kb = 0; kb < r.nb; ++kb)
      r.asum[size_t(m * r.nb + kb)] = asum[size_t(m * r.nb + kb)] * down;
    r.unscale[size_t(m)] = std::ldexp(1.0f, 149 - E);
  }
  return true;
}

// The Subnormal kernels store straight into C (w <= 16 columns of the
// panel, `bias` the panel's first column or null): c 2^(149-E) + bias, the
// same two roundings as the driver's copy-out of the Convert kernel (+ 0.0f
// without a bias). Until issue 12's third pass they wrote a 16 x MR scratch
// that the driver copied with a scalar loop per panel (~3% of llama-100m's
// int4 decode samples with the prologue).
template <int MR, int SETS, int AHEAD>
BMC_Q4_AVX512 void q4PanelSubnormal(const ScaledRows &r, int64_t m0, const uint8_t *panel, const float *bias,
                                    int64_t w, float *C, int64_t ldc) {
  static_assert(SETS % 2 == 0, "even rows in even sets, odd rows in odd sets");
  const __m512i maskLo = _mm512_set1_epi32(0xF), maskHi = _mm512_set1_epi32(0xF0);
  const float *a = r.a.data() + m0 * r.stride;
  __m512 c[MR];
  for (int m = 0; m < MR; ++m)
    c[m] = _mm512_setzero_ps();
  for (int64_t kb = 0; kb < r.nb; ++kb) {
    const uint8_t *blk = panel + kb * kBlockBytes;
    const float *ak = a + kb * kBlock;
    __m512 b[SETS][MR];
    for (int s = 0; s < SETS; ++s)
      for (int m = 0; m < MR; ++m)
        b[s][m] = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < kBlock / 2; ++i) {
      if (AHEAD > 0 && i % 3 == 0) // 6 lines per 336-byte block
        _mm_prefetch(reinterpret_cast<const char *>(blk) + AHEAD + i / 3 * 64, _MM_HINT_T0);
      const __m512i x =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kCodes + i * kPanel)));
      const __m512 lo = _mm512_castsi512_ps(_mm512_and_si512(x, maskLo));
      const __m512 hi = _mm512_castsi512_ps(_mm512_and_si512(x, maskHi));
      for (int m = 0; m < MR; ++m) {
        b[(2 * i) % SETS][m] = _mm512_fmadd_ps(_mm512_set1_ps(ak[m * r.stride + 2 * i]), lo, b[(2 * i) % SETS][m]);
        b[(2 * i + 1) % SETS][m] =
            _mm512_fmadd_ps(_mm512_set1_ps(ak[m * r.stride + 2 * i + 1]), hi, b[(2 * i + 1) % SETS][m]);
      }
    }
    const __m512 scale = _mm512_loadu_ps(reinterpret_cast<const float *>(blk + kScales));
    const __m512 zs = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kZeros)))),
        scale);
    for (int m = 0; m < MR; ++m) {
      __m512 even = b[0][m], odd = b[1][m];
      for (int s = 2; s < SETS; s += 2) {
        even = _mm512_add_ps(even, b[s][m]);
        odd = _mm512_add_ps(odd, b[s + 1][m]);
      }
      c[m] = _mm512_fmadd_ps(_mm512_fmadd_ps(odd, _mm512_set1_ps(1.0f / 16), even), scale, c[m]);
      c[m] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(r.asum[size_t((m0 + m) * r.nb + kb)]), c[m]);
    }
  }
  const __mmask16 cols = __mmask16((1u << w) - 1);
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(cols, bias) : _mm512_setzero_ps();
  for (int m = 0; m < MR; ++m)
    _mm512_mask_storeu_ps(C + m * ldc, cols,
                          _mm512_add_ps(_mm512_mul_ps(c[m], _mm512_set1_ps(r.unscale[size_t(m0 + m)])), bv));
}

using SubnormalFn = void (*)(const ScaledRows &, int64_t, const uint8_t *, const float *, int64_t, float *, int64_t);
template <int AHEAD> SubnormalFn panelSubnormal(int64_t mr) {
  switch (mr) {
  case 1: return q4PanelSubnormal<1, 4, AHEAD>;
  case 2: return q4PanelSubnormal<2, 4, AHEAD>;
  case 3: return q4PanelSubnormal<3, 2, AHEAD>;
  case 4: return q4PanelSubnormal<4, 2, AHEAD>;
  case 5: return q4PanelSubnormal<5, 2, AHEAD>;
  case 6: return q4PanelSubnormal<6, 2, AHEAD>;
  case 7: return q4PanelSubnormal<7, 2, AHEAD>;
  default: return q4PanelSubnormal<8, 2, AHEAD>;
  }
}

std::atomic<bool> dazWarned{false};
bool dazOn() { return (_mm_getcsr() & 0x40) != 0; } // MXCSR.DAZ: subnormal inputs read as 0

// ---- AVX2, 1-2 rows: the Subnormal decoding on two ymm of 8 columns ----
// Per 16 weights of a row pair: two vpmovzxbd (8 bytes each), two ands per
// row, the FMAs; the same scaling of A as above.
template <int MR, int AHEAD>
BMC_Q4_AVX2 void q4PanelSubnormalAvx2(const ScaledRows &r, int64_t m0, const uint8_t *panel, const float *bias,
                                      int64_t w, float *C, int64_t ldc) {
  const __m256i maskLo = _mm256_set1_epi32(0xF), maskHi = _mm256_set1_epi32(0xF0);
  const float *a = r.a.data() + m0 * r.stride;
  __m256 c[MR][2];
  for (int m = 0; m < MR; ++m)
    c[m][0] = c[m][1] = _mm256_setzero_ps();
  for (int64_t kb = 0; kb < r.nb; ++kb) {
    const uint8_t *blk = panel + kb * kBlockBytes;
    const float *ak = a + kb * kBlock;
    __m256 b[2][MR][2]; // even rows, odd rows
    for (int s = 0; s < 2; ++s)
      for (int m = 0; m < MR; ++m)
        b[s][m][0] = b[s][m][1] = _mm256_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < kBlock / 2; ++i) {
      if (AHEAD > 0 && i % 3 == 0)
        _mm_prefetch(reinterpret_cast<const char *>(blk) + AHEAD + i / 3 * 64, _MM_HINT_T0);
      for (int h = 0; h < 2; ++h) {
        const __m256i x = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i *>(blk + kCodes + i * kPanel + 8 * h)));
        const __m256 lo = _mm256_castsi256_ps(_mm256_and_si256(x, maskLo));
        const __m256 hi = _mm256_castsi256_ps(_mm256_and_si256(x, maskHi));
        for (int m = 0; m < MR; ++m) {
          b[0][m][h] = _mm256_fmadd_ps(_mm256_broadcast_ss(ak + m * r.stride + 2 * i), lo, b[0][m][h]);
          b[1][m][h] = _mm256_fmadd_ps(_mm256_broadcast_ss(ak + m * r.stride + 2 * i + 1), hi, b[1][m][h]);
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 scale = _mm256_loadu_ps(reinterpret_cast<const float *>(blk + kScales) + 8 * h);
      const __m256 zs = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                          reinterpret_cast<const __m128i *>(blk + kZeros + 8 * h)))),
                                      scale);
      for (int m = 0; m < MR; ++m) {
        const __m256 t = _mm256_fmadd_ps(b[1][m][h], _mm256_set1_ps(1.0f / 16), b[0][m][h]);
        c[m][h] = _mm256_fmadd_ps(t, scale, c[m][h]);
        c[m][h] = _mm256_fnmadd_ps(zs, _mm256_set1_ps(r.asum[size_t((m0 + m) * r.nb + kb)]), c[m][h]);
      }
    }
  }
  // A full panel stores straight into C; a partial one through a scratch.
  alignas(32) float part[kPanel];
  for (int m = 0; m < MR; ++m)
    for (int h = 0; h < 2; ++h) {
      const __m256 v = _mm256_mul_ps(c[m][h], _mm256_set1_ps(r.unscale[size_t(m0 + m)]));
      if (w == kPanel) {
        _mm256_storeu_ps(C + m * ldc + 8 * h,
                         _mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + 8 * h) : _mm256_setzero_ps()));
      } else {
        _mm256_store_ps(part + 8 * h, v);
        if (h == 1)
          for (int64_t j = 0; j < w; ++j)
            C[m * ldc + j] = part[j] + (bias ? bias[j] : 0.0f);
      }
    }
}

template <int AHEAD> SubnormalFn panelSubnormalAvx2(int64_t mr) {
  return mr == 1 ? q4PanelSubnormalAvx2<1, AHEAD> : mr == 2 ? q4PanelSubnormalAvx2<2, AHEAD> : nullptr;
}

// The small-M driver of the int4 GEMVs (quant::gemv's, with A scaled once
// for the Subnormal kernels; `sub(mr)` null: that row count converts, and
// its scratch is copied into C with the bias here; the Subnormal kernels
// store into C themselves). Each thread checks its own MXCSR.
void gemvQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
            const float *bias, float *C, int64_t ldc, int64_t maxRows, PanelFn (*convert)(int64_t),
            SubnormalFn (*sub)(int64_t)) {
  const int64_t nb = numBlocks(K);
  std::vector<float> asum(size_t(M * nb));
  quant::blockSums(M, K, A, lda, asum.data());
  ScaledRows scaled;
  const bool subnormal = sub && scaleRows(M, K, A, lda, asum, scaled);
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    const bool useSub = subnormal && !dazOn();
    if (subnormal && !useSub && !dazWarned.exchange(true))
      std::fprintf(stderr, "bmc: warning: denormals-are-zero is set (MXCSR.DAZ): the int4 matmul runs its "
                           "conversion kernel (slower, same results)\n");
    alignas(64) float acc[quant::kMaxGemvRows * kPanel];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m0 = 0; m0 < M; m0 += maxRows) {
        const int64_t mr = std::min(maxRows, M - m0);
        const SubnormalFn fast = useSub ? sub(mr) : nullptr;
        if (fast) {
          fast(scaled, m0, q4Block(Bq, K, p, 0), bias ? bias + p * kPanel : nullptr, w, C + m0 * ldc + p * kPanel,
               ldc);
          continue;
        }
        convert(mr)(K, A + m0 * lda, lda, Bq, p, asum.data() + m0 * nb, acc);
        for (int64_t m = 0; m < mr; ++m) {
          float *c = C + (m0 + m) * ldc + p * kPanel;
          for (int64_t j = 0; j < w; ++j)
            c[j] = acc[m * kPanel + j] + (bias ? bias[p * kPanel + j] : 0.0f);
        }
      }
    }
  });
}

// Which Subnormal kernels a Q4Decode asks for (null: Convert).
SubnormalFn (*subnormalFor(Q4Decode decode, bool avx512))(int64_t) {
  const bool on = decode == Q4Decode::Subnormal || decode == Q4Decode::SubnormalNoPrefetch ||
                  decode == Q4Decode::SubnormalPrefetch4K ||
                  (decode == Q4Decode::Auto && q4SubnormalByDefault());
  if (!on)
    return nullptr;
  if (decode == Q4Decode::SubnormalNoPrefetch)
    return avx512 ? panelSubnormal<0> : panelSubnormalAvx2<0>;
  if (decode == Q4Decode::SubnormalPrefetch4K)
    return avx512 ? panelSubnormal<4096> : panelSubnormalAvx2<4096>;
  return avx512 ? panelSubnormal<kPrefetchAhead> : panelSubnormalAvx2<kPrefetchAhead>;
}

} // namespace

bool q4SubnormalByDefault() {
  static const bool amd = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tAMD);
  return amd;
}

namespace avx2 {
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, Q4Decode decode) {
  if (M <= 0 || N <= 0)
    return;
  if (M > quant::kMaxGemvRows && jitReady())
    return quant::gemm(pool, M, N, K, A, lda, Bq, bias, C, ldc, dequantQ4Panels);
  gemvQ4(pool, M, N, K, A, lda, Bq, bias, C, ldc, 5, panelAvx2, subnormalFor(decode, false));
}
} // namespace avx2

namespace avx512 {
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, Q4Decode decode) {
  if (!cpuSupported())
    throw std::runtime_error("bmc: AVX-512 int4 matmul on a CPU without it");
  if (M <= 0 || N <= 0)
    return;
  if (M > quant::kMaxGemvRows && avx2::jitReady())
    return quant::gemm(pool, M, N, K, A, lda, Bq, bias, C, ldc, dequantQ4Panels);
  gemvQ4(pool, M, N, K, A, lda, Bq, bias, C, ldc, kMaxRowsAvx512, panelAvx512, subnormalFor(decode, true));
}
} // namespace avx512

} // namespace kernels
} // namespace bmc
