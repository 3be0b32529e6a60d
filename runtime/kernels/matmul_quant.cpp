// Drivers shared by the quantized-weight matmuls (see matmul_quant.h).
#include "matmul_quant.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <vector>

namespace bmc {
namespace kernels {
namespace quant {

namespace {

constexpr int64_t kGemmGroup = 8; // panels dequantized at a time: K * 512 bytes of fp32

struct AlignedBuf {
  float *p = nullptr;
  size_t n = 0;
  float *get(size_t floats) {
    if (floats > n) {
      std::free(p);
      p = static_cast<float *>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64));
      n = p ? floats : 0;
      if (!p)
        throw std::bad_alloc();
    }
    return p;
  }
  ~AlignedBuf() { std::free(p); }
};

} // namespace

void blockSums(int64_t M, int64_t K, const float *A, int64_t lda, float *out) {
  const int64_t nb = numBlocks(K);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t kb = 0; kb < nb; ++kb) {
      const float *a = A + m * lda + kb * kBlock;
      const int64_t n = std::min(kBlock, K - kb * kBlock);
      float lane[8] = {};
      int64_t k = 0;
      for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; ++j)
          lane[j] += a[k + j];
      for (int j = 0; k < n; ++k, ++j)
        lane[j] += a[k];
      out[m * nb + kb] = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    }
}

void gemv(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
          const float *bias, float *C, int64_t ldc, int64_t maxRows, PanelFn (*pick)(int64_t), bool withAsum) {
  std::vector<float> asum;
  const int64_t nb = numBlocks(K);
  if (withAsum) {
    asum.resize(size_t(M * nb));
    blockSums(M, K, A, lda, asum.data());
  }
  parallelFor(pool, numPanels(N), [&](int64_t p0, int64_t p1) {
    alignas(64) float acc[kMaxGemvRows * kPanel];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t w = std::min<int64_t>(kPanel, N - p * kPanel);
      for (int64_t m0 = 0; m0 < M; m0 += maxRows) {
        const int64_t mr = std::min(maxRows, M - m0);
        pick(mr)(K, A + m0 * lda, lda, Bq, p, withAsum ? asum.data() + m0 * nb : nullptr, acc);
        for (int64_t m = 0; m < mr; ++m) {
          float *c = C + (m0 + m) * ldc + p * kPanel;
          for (int64_t j = 0; j < w; ++j)
            c[j] = acc[m * kPanel + j] + (bias ? bias[p * kPanel + j] : 0.0f);
        }
      }
    }
  });
}

void gemm(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
          const float *bias, float *C, int64_t ldc, DequantFn dequant) {
  const int64_t groups = (numPanels(N) + kGemmGroup - 1) / kGemmGroup;
  parallelFor(pool, groups, [&](int64_t g0, int64_t g1) {
    thread_local AlignedBuf buf;
    float *panels = buf.get(size_t(kGemmGroup * K * kPanel));
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t p0 = g * kGemmGroup, p1 = std::min(numPanels(N), p0 + kGemmGroup);
      dequant(Bq, K, p0, p1, panels);
      avx2::gemmPanels(M, N, K, A, lda, panels, p0, p1, bias, C, ldc);
    }
  });
}

void run(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
         const float *bias, float *C, int64_t ldc, DequantFn dequant, int64_t maxRows, PanelFn (*pick)(int64_t),
         bool withAsum) {
  if (M <= 0 || N <= 0)
    return;
  if (M > kMaxGemvRows && avx2::jitReady())
    gemm(pool, M, N, K, A, lda, Bq, bias, C, ldc, dequant);
  else
    gemv(pool, M, N, K, A, lda, Bq, bias, C, ldc, maxRows, pick, withAsum);
}

} // namespace quant
} // namespace kernels
} // namespace bmc
