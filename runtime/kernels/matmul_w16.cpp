// Matmul with bf16 / IEEE fp16 weights (CompileOptions::weights = BF16 / F16,
// or 16-bit ONNX initializers): the packing (fp32 rounded to nearest even, or
// 16-bit values copied), the reference, and the AVX2 / AVX-512 GEMVs that
// widen in registers. Layout in kernels.h ("Packed 16-bit layout").
//
// Napkin math, decode (M = 1): a weight is 2 bytes instead of 4, so at the
// memory roofline a token takes 0.5x the time of fp32. Per K row of a panel
// (16 weights, 32 bytes) the AVX-512 kernel spends one widening load
// (bf16: vpmovzxwd + vpslld by 16; fp16: vcvtph2ps) and M FMAs with the
// activation broadcast from memory; at ~25 GB/s 32 bytes take ~1.3 ns,
// ~6 cycles, so M = 1 stays memory-bound. The activations stay fp32 (exact);
// AVX-512-BF16 vdpbf16ps is not used, as it would round them to bf16. Prefill
// (M > 12) widens 8 panels at a time into fp32 panels (the KV conversions,
// exact) and runs the fp32 JIT GEMM on them.
#include "kernels_internal.h"
#include "matmul_quant.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#define BMC_W16_AVX2 __attribute__((target("avx2,fma,f16c")))
#define BMC_W16_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

namespace bmc {
namespace kernels {

namespace {

const uint16_t *w16Panel(const void *packed, int64_t K, int64_t p) {
  return static_cast<const uint16_t *>(packed) + p * K * kPanel;
}

// Element `index` of a source matrix of type t (fp32 or 16-bit), at any byte
// address (ONNX raw data has no alignment).
uint16_t narrowAt(int32_t type, const void *B, int32_t srcType, int64_t index, bool &overflow) {
  const auto *bytes = static_cast<const uint8_t *>(B);
  if (srcType != BMC_KV_F32) {
    uint16_t h;
    std::memcpy(&h, bytes + index * 2, 2);
    return h;
  }
  float w;
  std::memcpy(&w, bytes + index * 4, 4);
  const uint16_t h = type == BMC_KV_BF16 ? f32ToBF16(w) : f32ToF16(w);
  if (std::isfinite(w) && !std::isfinite(kvElement(type, &h, 0)))
    overflow = true; // beyond the 16-bit type's range: it would become an infinity
  return h;
}

} // namespace

int64_t packW16Bytes(int64_t K, int64_t N) { return numPanels(N) * K * kPanel * 2; }

bool packW16(int32_t type, const void *B, int32_t srcType, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out) {
  bool overflow = false;
  for (int64_t p = 0; p < numPanels(N); ++p) {
    uint16_t *panel = static_cast<uint16_t *>(out) + p * K * kPanel;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < kPanel; ++j) {
        const int64_t n = p * kPanel + j;
        panel[k * kPanel + j] = n < N ? narrowAt(type, B, srcType, k * rs + n * cs, overflow) : 0;
      }
  }
  return !overflow;
}

namespace ref {
void matmulW16(int32_t type, ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
               const void *B, const float *bias, float *C, int64_t ldc) noexcept {
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const uint16_t *panel = w16Panel(B, K, p);
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m = 0; m < M; ++m) {
        double acc[kPanel] = {};
        for (int64_t k = 0; k < K; ++k)
          for (int64_t j = 0; j < w; ++j)
            acc[j] += double(A[m * lda + k]) * double(kvElement(type, panel, k * kPanel + j));
        for (int64_t j = 0; j < w; ++j)
          C[m * ldc + p * kPanel + j] = float(acc[j]) + (bias ? bias[p * kPanel + j] : 0.0f);
      }
    }
  });
}
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc) noexcept {
  matmulW16(BMC_KV_BF16, pool, M, N, K, A, lda, B, bias, C, ldc);
}
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) noexcept {
  matmulW16(BMC_KV_F16, pool, M, N, K, A, lda, B, bias, C, ldc);
}
} // namespace ref

namespace {

// Panels [p0, p1) widened into fp32 panels: they are contiguous in both
// layouts, so one exact conversion of (p1 - p0) * K * 16 elements.
template <int32_t T> void widenPanels(const void *packed, int64_t K, int64_t p0, int64_t p1, float *out) {
  bmc_convert_kv_to_f32(T, w16Panel(packed, K, p0), out, (p1 - p0) * K * kPanel);
}

// ---- AVX2: 16 columns = two ymm; rows in groups of <= 5 -------------------

template <int32_t T> BMC_W16_AVX2 inline __m256 widen8(const uint16_t *h) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(h));
  if constexpr (T == BMC_KV_BF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(x), 16));
  else
    return _mm256_cvtph_ps(x);
}

// acc[m][0..16) = rows [0, MR) of A times panel p; SETS accumulator sets over
// consecutive k hide the FMA latency when MR is small.
template <int32_t T, int MR, int SETS>
BMC_W16_AVX2 void w16PanelAvx2(int64_t K, const float *A, int64_t lda, const void *B, int64_t p, const float *,
                               float *acc) {
  const uint16_t *w = w16Panel(B, K, p);
  __m256 c[SETS][MR][2];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      c[s][m][0] = c[s][m][1] = _mm256_setzero_ps();
  auto step = [&](int64_t k, int s) __attribute__((target("avx2,fma,f16c"), always_inline)) {
    const __m256 w0 = widen8<T>(w + k * kPanel), w1 = widen8<T>(w + k * kPanel + 8);
    for (int m = 0; m < MR; ++m) {
      const __m256 a = _mm256_broadcast_ss(A + m * lda + k);
      c[s][m][0] = _mm256_fmadd_ps(a, w0, c[s][m][0]);
      c[s][m][1] = _mm256_fmadd_ps(a, w1, c[s][m][1]);
    }
  };
  int64_t k = 0;
  for (; k + SETS <= K; k += SETS)
    for (int s = 0; s < SETS; ++s)
      step(k + s, s);
  for (; k < K; ++k)
    step(k, 0);
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

template <int32_t T> quant::PanelFn panelAvx2(int64_t mr) {
  switch (mr) {
  case 1: return w16PanelAvx2<T, 1, 4>;
  case 2: return w16PanelAvx2<T, 2, 2>;
  case 3: return w16PanelAvx2<T, 3, 1>;
  case 4: return w16PanelAvx2<T, 4, 1>;
  default: return w16PanelAvx2<T, 5, 1>;
  }
}

// ---- AVX-512: 16 columns = one zmm; up to 12 rows in one pass -------------

template <int32_t T> BMC_W16_AVX512 inline __m512 widen16(const uint16_t *h) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(h));
  if constexpr (T == BMC_KV_BF16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(x), 16));
  else
    return _mm512_cvtph_ps(x);
}

template <int32_t T, int MR, int SETS>
BMC_W16_AVX512 void w16PanelAvx512(int64_t K, const float *A, int64_t lda, const void *B, int64_t p, const float *,
                                   float *acc) {
  const uint16_t *w = w16Panel(B, K, p);
  __m512 c[SETS][MR];
  for (int s = 0; s < SETS; ++s)
    for (int m = 0; m < MR; ++m)
      c[s][m] = _mm512_setzero_ps();
  auto step = [&](int64_t k, int s) __attribute__((target("avx512f,avx2,fma,f16c"), always_inline)) {
    const __m512 x = widen16<T>(w + k * kPanel);
    for (int m = 0; m < MR; ++m)
      c[s][m] = _mm512_fmadd_ps(_mm512_set1_ps(A[m * lda + k]), x, c[s][m]);
  };
  int64_t k = 0;
  for (; k + SETS <= K; k += SETS)
    for (int s = 0; s < SETS; ++s)
      step(k + s, s);
  for (; k < K; ++k)
    step(k, 0);
  for (int m = 0; m < MR; ++m) {
    __m512 r = c[0][m];
    for (int s = 1; s < SETS; ++s)
      r = _mm512_add_ps(r, c[s][m]);
    _mm512_storeu_ps(acc + m * kPanel, r);
  }
}

template <int32_t T> quant::PanelFn panelAvx512(int64_t mr) {
  switch (mr) {
  case 1: return w16PanelAvx512<T, 1, 4>;
  case 2: return w16PanelAvx512<T, 2, 4>;
  case 3: return w16PanelAvx512<T, 3, 2>;
  case 4: return w16PanelAvx512<T, 4, 2>;
  case 5: return w16PanelAvx512<T, 5, 1>;
  case 6: return w16PanelAvx512<T, 6, 1>;
  case 7: return w16PanelAvx512<T, 7, 1>;
  case 8: return w16PanelAvx512<T, 8, 1>;
  case 9: return w16PanelAvx512<T, 9, 1>;
  case 10: return w16PanelAvx512<T, 10, 1>;
  case 11: return w16PanelAvx512<T, 11, 1>;
  default: return w16PanelAvx512<T, 12, 1>;
  }
}

} // namespace

namespace avx2 {
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc) {
  if (!f16cSupported()) // the kernels are compiled with F16C enabled
    throw std::runtime_error("bmc: AVX2 bf16 matmul on a CPU without F16C");
  quant::run(pool, M, N, K, A, lda, B, bias, C, ldc, widenPanels<BMC_KV_BF16>, 5, panelAvx2<BMC_KV_BF16>, false);
}
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) {
  if (!f16cSupported())
    throw std::runtime_error("bmc: AVX2 fp16 matmul on a CPU without F16C");
  quant::run(pool, M, N, K, A, lda, B, bias, C, ldc, widenPanels<BMC_KV_F16>, 5, panelAvx2<BMC_KV_F16>, false);
}
} // namespace avx2

namespace avx512 {
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc) {
  if (!cpuSupported() || !avx2::f16cSupported())
    throw std::runtime_error("bmc: AVX-512F bf16 matmul on a CPU without it");
  quant::run(pool, M, N, K, A, lda, B, bias, C, ldc, widenPanels<BMC_KV_BF16>, quant::kMaxGemvRows,
             panelAvx512<BMC_KV_BF16>, false);
}
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) {
  if (!cpuSupported() || !avx2::f16cSupported())
    throw std::runtime_error("bmc: AVX-512F fp16 matmul on a CPU without it");
  quant::run(pool, M, N, K, A, lda, B, bias, C, ldc, widenPanels<BMC_KV_F16>, quant::kMaxGemvRows,
             panelAvx512<BMC_KV_F16>, false);
}
} // namespace avx512

} // namespace kernels
} // namespace bmc
