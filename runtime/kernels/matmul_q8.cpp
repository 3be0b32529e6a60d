// Matmul with int8 block-quantized weights (weight-only quantization): the
// packing (round to nearest, one fp32 scale per 32 rows of K per column, the
// arithmetic of onnxruntime's MatMulNBits with bits = 8 and a zero point of
// 128), the reference, and the AVX2 / AVX-512 kernels that dequantize in
// registers. Layout in kernels.h ("Packed int8 layout").
//
// Napkin math, decode (M = 1): a weight costs 1 byte + 4/32 of a scale =
// 1.125 bytes instead of 4, so at the memory roofline a token takes 0.28x the
// time of fp32. Per 16 weights (one K row of a panel) the kernel spends a
// sign-extending load (vpmovsxbd), a conversion and M FMAs; at M = 1 that is
// ~1.5 cycles per 16 bytes, above what one core streams from DRAM, so decode
// stays memory-bound, provided enough lines are in flight: the kernels
// prefetch 8 KB ahead (prefetchScales / prefetchCodes). From M ~ 5 (verification) the conversion and FMAs
// dominate. Prefill (M > 12) dequantizes a few panels at a time into fp32
// panels and runs the fp32 GEMM microkernel on them.
#include "kernels_internal.h"
#include "matmul_quant.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#define BMC_Q8_AVX2 __attribute__((target("avx2,fma")))
#define BMC_Q8_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace bmc {
namespace kernels {

namespace {

using quant::kBlock;
using quant::numBlocks;
static_assert(kBlock == BMC_Q8_BLOCK, "one block size");
constexpr int64_t kBlockBytes = 4 * kPanel + kBlock * kPanel; // 16 scales + 32 x 16 codes
static_assert(kBlockBytes == BMC_Q8_BLOCK_BYTES && 4 * kPanel == BMC_Q8_CODES_OFFSET, "kernels.h describes this layout");
const uint8_t *q8Block(const void *packed, int64_t K, int64_t p, int64_t kb) {
  return static_cast<const uint8_t *>(packed) + (p * numBlocks(K) + kb) * kBlockBytes;
}

// Software prefetch AHEAD bytes ahead in the weight stream (0: none): the
// block's scale line at its start, then one code line per 4 K rows (16
// bytes each), so a 576-byte block issues its 9 lines spread over the
// block's FMAs. Panels are consecutive in memory, so the stream runs on into
// the next panel (and past a thread's range or the matrix: a prefetch does
// not fault). Without it, one core's hardware prefetcher alone keeps too few
// lines in flight for the kernel's pace (benchmarks/PROFILE.md, issue 12).
template <int AHEAD> inline void prefetchScales(const uint8_t *blk) {
  if (AHEAD > 0)
    _mm_prefetch(reinterpret_cast<const char *>(blk) + AHEAD, _MM_HINT_T0);
}
template <int AHEAD> inline void prefetchCodes(const int8_t *row, int64_t k) {
  if (AHEAD > 0 && (k & 3) == 0)
    _mm_prefetch(reinterpret_cast<const char *>(row) + AHEAD, _MM_HINT_T0);
}

} // namespace

int64_t packQ8Bytes(int64_t K, int64_t N) { return numPanels(N) * numBlocks(K) * kBlockBytes; }

bool packQ8(const float *B, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out) {
  const int64_t nb = numBlocks(K);
  for (int64_t p = 0; p < numPanels(N); ++p)
    for (int64_t kb = 0; kb < nb; ++kb) {
      uint8_t *blk = static_cast<uint8_t *>(out) + (p * nb + kb) * kBlockBytes;
      float scales[kPanel];
      int8_t *codes = reinterpret_cast<int8_t *>(blk + 4 * kPanel);
      const int64_t k1 = std::min(K, (kb + 1) * kBlock);
      for (int64_t j = 0; j < kPanel; ++j) {
        const int64_t n = p * kPanel + j;
        float amax = 0.0f;
        if (n < N)
          for (int64_t k = kb * kBlock; k < k1; ++k) {
            const float w = quant::weightAt(B, k * rs + n * cs);
            if (!std::isfinite(w))
              return false;
            amax = std::max(amax, std::fabs(w));
          }
        scales[j] = amax / 127.0f;
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t k = kb * kBlock; k < (kb + 1) * kBlock; ++k) {
          float q = 0.0f;
          if (n < N && k < K)
            q = std::min(127.0f, std::max(-127.0f, std::nearbyint(quant::weightAt(B, k * rs + n * cs) * inv)));
          codes[(k - kb * kBlock) * kPanel + j] = int8_t(q);
        }
      }
      std::memcpy(blk, scales, sizeof scales);
    }
  return true;
}

// Panels [p0, p1) dequantized into fp32 panels (the layout of bmc_pack_b_f32).
void dequantQ8Panels(const void *packed, int64_t K, int64_t p0, int64_t p1, float *out) {
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
      const uint8_t *blk = q8Block(packed, K, p, kb);
      float scales[kPanel];
      std::memcpy(scales, blk, sizeof scales);
      const int8_t *codes = reinterpret_cast<const int8_t *>(blk + 4 * kPanel);
      for (int64_t k = kb * kBlock; k < std::min(K, (kb + 1) * kBlock); ++k)
        for (int64_t j = 0; j < kPanel; ++j)
          out[((p - p0) * K + k) * kPanel + j] = float(codes[(k - kb * kBlock) * kPanel + j]) * scales[j];
    }
}

namespace ref {
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) noexcept {
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m = 0; m < M; ++m) {
        double acc[kPanel] = {};
        for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
          const uint8_t *blk = q8Block(Bq, K, p, kb);
          float scales[kPanel];
          std::memcpy(scales, blk, sizeof scales);
          const int8_t *codes = reinterpret_cast<const int8_t *>(blk + 4 * kPanel);
          for (int64_t k = kb * kBlock; k < std::min(K, (kb + 1) * kBlock); ++k)
            for (int64_t j = 0; j < w; ++j)
              acc[j] += double(A[m * lda + k]) * double(float(codes[(k - kb * kBlock) * kPanel + j]) * scales[j]);
        }
        for (int64_t j = 0; j < w; ++j)
          C[m * ldc + p * kPanel + j] = float(acc[j]) + (bias ? bias[p * kPanel + j] : 0.0f);
      }
    }
  });
}
} // namespace ref

namespace {

// ---- AVX2: 16 columns = two ymm; rows in groups of <= 5 -------------------

// Rows [0, MR) of C for panel p, every block: w = q * scale (dequantized in
// registers), acc += a * w; SETS accumulator sets over consecutive k hide the
// FMA latency when MR is small.
template <int MR, int SETS, int AHEAD>
BMC_Q8_AVX2 void q8PanelAvx2(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p, const float *,
                             float *acc) {
  __m256 c[SETS][MR][2];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      c[s][m][0] = c[s][m][1] = _mm256_setzero_ps();
  for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
    const uint8_t *blk = q8Block(Bq, K, p, kb);
    const __m256 s0 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk));
    const __m256 s1 = _mm256_loadu_ps(reinterpret_cast<const float *>(blk) + 8);
    const int8_t *codes = reinterpret_cast<const int8_t *>(blk + 4 * kPanel);
    const int64_t kBase = kb * kBlock, n = std::min(kBlock, K - kBase);
    prefetchScales<AHEAD>(blk);
    auto step = [&](int64_t k, int s) __attribute__((target("avx2,fma"), always_inline)) {
      const int8_t *q = codes + k * kPanel;
      prefetchCodes<AHEAD>(q, k);
      const __m256 w0 = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(q)))), s0);
      const __m256 w1 = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(q + 8)))), s1);
      for (int m = 0; m < MR; ++m) {
        const __m256 a = _mm256_broadcast_ss(A + m * lda + kBase + k);
        c[s][m][0] = _mm256_fmadd_ps(a, w0, c[s][m][0]);
        c[s][m][1] = _mm256_fmadd_ps(a, w1, c[s][m][1]);
      }
    };
    int64_t k = 0;
    for (; k + SETS <= n; k += SETS)
      for (int s = 0; s < SETS; ++s)
        step(k + s, s);
    for (; k < n; ++k)
      step(k, 0);
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

using quant::PanelFn;

template <int AHEAD> PanelFn panelAvx2(int64_t mr) {
  switch (mr) {
  case 1: return q8PanelAvx2<1, 4, AHEAD>;
  case 2: return q8PanelAvx2<2, 2, AHEAD>;
  case 3: return q8PanelAvx2<3, 1, AHEAD>;
  case 4: return q8PanelAvx2<4, 1, AHEAD>;
  default: return q8PanelAvx2<5, 1, AHEAD>;
  }
}

// ---- AVX-512: 16 columns = one zmm; up to 12 rows in one pass -------------

// Per block: b = sum_k a * q (codes converted, unscaled), then acc += b *
// scale: one multiply per block instead of one per k row.
template <int MR, int SETS, int AHEAD>
BMC_Q8_AVX512 void q8PanelAvx512(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p, const float *,
                               float *acc) {
  __m512 c[MR];
  for (int m = 0; m < MR; ++m)
    c[m] = _mm512_setzero_ps();
  for (int64_t kb = 0; kb < numBlocks(K); ++kb) {
    const uint8_t *blk = q8Block(Bq, K, p, kb);
    const __m512 scale = _mm512_loadu_ps(reinterpret_cast<const float *>(blk));
    const int8_t *codes = reinterpret_cast<const int8_t *>(blk + 4 * kPanel);
    const int64_t kBase = kb * kBlock, n = std::min(kBlock, K - kBase);
    prefetchScales<AHEAD>(blk);
    __m512 b[SETS][MR];
    for (int s = 0; s < SETS; ++s)
      for (int m = 0; m < MR; ++m)
        b[s][m] = _mm512_setzero_ps();
    auto step = [&](int64_t k, int s) __attribute__((target("avx512f,avx2,fma"), always_inline)) {
      prefetchCodes<AHEAD>(codes + k * kPanel, k);
      const __m512 w = _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + k * kPanel))));
      for (int m = 0; m < MR; ++m)
        b[s][m] = _mm512_fmadd_ps(_mm512_set1_ps(A[m * lda + kBase + k]), w, b[s][m]);
    };
    int64_t k = 0;
    for (; k + SETS <= n; k += SETS)
      for (int s = 0; s < SETS; ++s)
        step(k + s, s);
    for (; k < n; ++k)
      step(k, 0);
    for (int m = 0; m < MR; ++m) {
      __m512 t = b[0][m];
      for (int s = 1; s < SETS; ++s)
        t = _mm512_add_ps(t, b[s][m]);
      c[m] = _mm512_fmadd_ps(t, scale, c[m]);
    }
  }
  for (int m = 0; m < MR; ++m)
    _mm512_storeu_ps(acc + m * kPanel, c[m]);
}

template <int AHEAD> PanelFn panelAvx512(int64_t mr) {
  switch (mr) {
  case 1: return q8PanelAvx512<1, 4, AHEAD>;
  case 2: return q8PanelAvx512<2, 4, AHEAD>;
  case 3: return q8PanelAvx512<3, 2, AHEAD>;
  case 4: return q8PanelAvx512<4, 2, AHEAD>;
  case 5: return q8PanelAvx512<5, 1, AHEAD>;
  case 6: return q8PanelAvx512<6, 1, AHEAD>;
  case 7: return q8PanelAvx512<7, 1, AHEAD>;
  case 8: return q8PanelAvx512<8, 1, AHEAD>;
  case 9: return q8PanelAvx512<9, 1, AHEAD>;
  case 10: return q8PanelAvx512<10, 1, AHEAD>;
  case 11: return q8PanelAvx512<11, 1, AHEAD>;
  default: return q8PanelAvx512<12, 1, AHEAD>;
  }
}

} // namespace

namespace {
// The panel-kernel pickers for the prefetch distances matmulQ8 accepts.
PanelFn (*pickerFor(int prefetchBytes, bool avx512))(int64_t) {
  switch (prefetchBytes) {
  case 0: return avx512 ? panelAvx512<0> : panelAvx2<0>;
  case 16384: return avx512 ? panelAvx512<16384> : panelAvx2<16384>;
  case 4096: return avx512 ? panelAvx512<4096> : panelAvx2<4096>;
  case 8192: return avx512 ? panelAvx512<8192> : panelAvx2<8192>;
  default: throw std::invalid_argument("bmc: int8 matmul prefetch distance must be 0, 4096, 8192 or 16384 bytes");
  }
}
} // namespace

namespace avx2 {
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  quant::run(pool, M, N, K, A, lda, Bq, bias, C, ldc, dequantQ8Panels, 5, pickerFor(prefetchBytes, false), false);
}
} // namespace avx2

namespace avx512 {
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!cpuSupported())
    throw std::runtime_error("bmc: AVX-512F int8 matmul on a CPU without it");
  quant::run(pool, M, N, K, A, lda, Bq, bias, C, ldc, dequantQ8Panels, quant::kMaxGemvRows,
             pickerFor(prefetchBytes, true), false);
}
} // namespace avx512

} // namespace kernels
} // namespace bmc
