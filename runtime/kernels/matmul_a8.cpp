// int8 activations x int4/int8 weights (see matmul_a8.h, kernels.h): the
// activation quantizer, the relayout of packed weights into the dot-product
// layouts, the reference and the driver. The SIMD panel kernels are in
// matmul_a8_simd.cpp.
//
// The arithmetic, per row m of A and block b of 32 rows of K (values past K
// are 0): s_a = max|a| / 127, q_a = rne(a * (127 / max|a|)) in [-127, 127];
// C[m][n] = sum_b s_a * s_w[b][n] * sum_k q_a[k] * (q_w[k][n] - z[b][n]) (+ bias),
// where z = 128 for int8 (the dot layout stores q + 128) and the block's zero
// point for int4. The integer sums are exact; only the per-block scaling and
// the sum over blocks round.
#include "matmul_a8.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bmc {
namespace kernels {

namespace {

constexpr int64_t kQ8Bytes = BMC_Q8_BLOCK_BYTES, kQ4Bytes = BMC_Q4_BLOCK_BYTES;

// Code of the dot layouts, row r (0..31) of a block, column j.
inline int q8DotCode(const uint8_t *blk, int64_t r, int64_t j) {
  return int(blk[BMC_Q8_CODES_OFFSET + 64 * (r / 4) + 4 * j + r % 4]) - 128;
}
inline int q4DotCode(const uint8_t *blk, int64_t r, int64_t j) {
  const uint8_t b = blk[BMC_Q4_CODES_OFFSET + 64 * (r / 8) + 4 * j + r % 4];
  return (r % 8) < 4 ? b & 15 : b >> 4;
}

} // namespace

// ---- relayout ---------------------------------------------------------------

void q8ToDot(const void *q8, int64_t K, int64_t N, void *out) {
  const int64_t blocks = numPanels(N) * a8::numBlocks(K);
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t *src = static_cast<const uint8_t *>(q8) + i * kQ8Bytes;
    uint8_t *dst = static_cast<uint8_t *>(out) + i * kQ8Bytes;
    std::memcpy(dst, src, BMC_Q8_CODES_OFFSET); // scales
    for (int64_t r = 0; r < a8::kBlock; ++r)
      for (int64_t j = 0; j < kPanel; ++j)
        dst[BMC_Q8_CODES_OFFSET + 64 * (r / 4) + 4 * j + r % 4] =
            uint8_t(int(int8_t(src[BMC_Q8_CODES_OFFSET + kPanel * r + j])) + 128);
  }
}

void q4ToDot(const void *q4, int64_t K, int64_t N, void *out) {
  const int64_t blocks = numPanels(N) * a8::numBlocks(K);
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t *src = static_cast<const uint8_t *>(q4) + i * kQ4Bytes;
    uint8_t *dst = static_cast<uint8_t *>(out) + i * kQ4Bytes;
    std::memcpy(dst, src, BMC_Q4_CODES_OFFSET); // scales and zero points
    std::memset(dst + BMC_Q4_CODES_OFFSET, 0, size_t(kQ4Bytes - BMC_Q4_CODES_OFFSET));
    for (int64_t r = 0; r < a8::kBlock; ++r)
      for (int64_t j = 0; j < kPanel; ++j) {
        const uint8_t b = src[BMC_Q4_CODES_OFFSET + kPanel * (r / 2) + j];
        const int q = r % 2 ? b >> 4 : b & 15;
        dst[BMC_Q4_CODES_OFFSET + 64 * (r / 8) + 4 * j + r % 4] |= uint8_t((r % 8) < 4 ? q : q << 4);
      }
  }
}

namespace a8 {

// ---- activations ------------------------------------------------------------

int quantizeBlock(const float *a, int64_t n, int8_t codes[kBlock], float *scale) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(a[i])); // a NaN is skipped (as _mm256_max_ps(|a|, amax) does)
  if (!(amax >= kMinAmax)) {
    std::memset(codes, 0, kBlock);
    *scale = 0.0f;
    return 0;
  }
  *scale = amax / 127.0f;
  const float inv = 127.0f / amax;
  int sum = 0;
  for (int64_t i = 0; i < kBlock; ++i) {
    // std::max(-127, NaN) is -127: clipped the way maxps/minps clip.
    const float q = i < n ? std::min(127.0f, std::max(-127.0f, std::nearbyint(a[i] * inv))) : 0.0f;
    codes[i] = int8_t(q);
    sum += codes[i];
  }
  return sum;
}

namespace {

// One block of 32 values (n of them from A), 8 lanes at a time; the same
// operations as quantizeBlock in the same rounding mode, so the same bits.
__attribute__((target("avx2,fma"))) int quantizeBlockAvx2(const float *a, int64_t n, int8_t codes[kBlock],
                                                          float *scale) {
  __m256 x[4];
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    const int64_t left = n - 8 * i;
    if (left >= 8) {
      x[i] = _mm256_loadu_ps(a + 8 * i);
    } else if (left > 0) {
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      x[i] = _mm256_maskload_ps(a + 8 * i, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(left)), lane));
    } else {
      x[i] = _mm256_setzero_ps();
    }
    amax = _mm256_max_ps(_mm256_and_ps(x[i], absMask), amax); // NaN lanes keep amax
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float m = _mm_cvtss_f32(m4);
  if (!(m >= kMinAmax)) {
    std::memset(codes, 0, kBlock);
    *scale = 0.0f;
    return 0;
  }
  *scale = m / 127.0f;
  const __m256 inv = _mm256_set1_ps(127.0f / m), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  __m256i q[4], sum = _mm256_setzero_si256();
  for (int i = 0; i < 4; ++i) {
    __m256 r = _mm256_round_ps(_mm256_mul_ps(x[i], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(_mm256_max_ps(r, lo), hi); // maxps returns its second operand for a NaN
    q[i] = _mm256_cvtps_epi32(r);
    sum = _mm256_add_epi32(sum, q[i]);
  }
  // int32 -> int8 (values fit: no saturation); packs interleave 128-bit lanes.
  const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
  const __m256i b = _mm256_packs_epi16(w01, w23);
  const __m256i ordered = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(codes), ordered);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

} // namespace

void quantizeRows(int64_t M, int64_t K, const float *A, int64_t lda, QuantizedRows &out) {
  const int64_t nb = numBlocks(K);
  out.nb = nb;
  out.codes.resize(size_t(M * nb * kBlock));
  out.scale.resize(size_t(M * nb));
  out.sum.resize(size_t(M * nb));
  const bool simd = avx2::cpuSupported();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t kb = 0; kb < nb; ++kb) {
      const int64_t n = std::min(kBlock, K - kb * kBlock);
      int8_t *codes = out.codes.data() + (m * nb + kb) * kBlock;
      float *scale = &out.scale[size_t(m * nb + kb)];
      const float *a = A + m * lda + kb * kBlock;
      out.sum[size_t(m * nb + kb)] = float(simd ? quantizeBlockAvx2(a, n, codes, scale) : quantizeBlock(a, n, codes, scale));
    }
}

void run(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
         const float *bias, float *C, int64_t ldc, int64_t blockBytes, int64_t maxRows, PanelFn (*pick)(int64_t)) {
  if (M <= 0 || N <= 0)
    return;
  QuantizedRows q;
  quantizeRows(M, K, A, lda, q);
  const int64_t nb = q.nb;
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    alignas(64) float acc[12 * kPanel];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      const uint8_t *panel = static_cast<const uint8_t *>(Bd) + p * nb * blockBytes;
      for (int64_t m0 = 0; m0 < M; m0 += maxRows) {
        const int64_t mr = std::min(maxRows, M - m0);
        pick(mr)(q, m0, panel, nb, acc);
        for (int64_t m = 0; m < mr; ++m) {
          float *c = C + (m0 + m) * ldc + p * kPanel;
          for (int64_t j = 0; j < w; ++j)
            c[j] = acc[m * kPanel + j] + (bias ? bias[p * kPanel + j] : 0.0f);
        }
      }
    }
  });
}

} // namespace a8

// ---- reference ----------------------------------------------------------------

namespace {

template <bool Q4>
void refA8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
           const float *bias, float *C, int64_t ldc) noexcept {
  const int64_t nb = a8::numBlocks(K), blockBytes = Q4 ? kQ4Bytes : kQ8Bytes;
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m = 0; m < M; ++m) {
        double acc[kPanel] = {};
        for (int64_t kb = 0; kb < nb; ++kb) {
          int8_t qa[a8::kBlock];
          float sa;
          a8::quantizeBlock(A + m * lda + kb * a8::kBlock, std::min(a8::kBlock, K - kb * a8::kBlock), qa, &sa);
          const uint8_t *blk = static_cast<const uint8_t *>(Bd) + (p * nb + kb) * blockBytes;
          for (int64_t j = 0; j < w; ++j) {
            float sw;
            std::memcpy(&sw, blk + 4 * j, 4);
            const int z = Q4 ? int(blk[BMC_Q4_ZEROS_OFFSET + j]) : 0; // q8DotCode removes the 128
            int64_t dot = 0;
            for (int64_t r = 0; r < a8::kBlock; ++r)
              dot += int64_t(qa[r]) * ((Q4 ? q4DotCode(blk, r, j) : q8DotCode(blk, r, j)) - z);
            acc[j] += double(sa) * double(sw) * double(dot);
          }
        }
        for (int64_t j = 0; j < w; ++j)
          C[m * ldc + p * kPanel + j] = float(acc[j]) + (bias ? bias[p * kPanel + j] : 0.0f);
      }
    }
  });
}

} // namespace

namespace ref {
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) noexcept {
  refA8<false>(pool, M, N, K, A, lda, Bd, bias, C, ldc);
}
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) noexcept {
  refA8<true>(pool, M, N, K, A, lda, Bd, bias, C, ldc);
}
} // namespace ref

} // namespace kernels
} // namespace bmc
