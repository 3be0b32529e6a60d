// Shared drivers of the quantized-weight matmuls (matmul_q8.cpp,
// matmul_q4.cpp): the small-M GEMV over panels with a per-format panel
// kernel, and the prefill path that dequantizes groups of panels for the
// fp32 JIT GEMM.
#ifndef BMC_RUNTIME_KERNELS_MATMUL_QUANT_H
#define BMC_RUNTIME_KERNELS_MATMUL_QUANT_H

#include "kernels_internal.h"

#include <cstdint>
#include <cstring>

namespace bmc {
namespace kernels {
namespace quant {

constexpr int64_t kBlock = 32;        // K rows per scale (both formats)
constexpr int64_t kMaxGemvRows = 12;  // rows of one GEMV call
inline int64_t numBlocks(int64_t K) { return (K + kBlock - 1) / kBlock; }

// Element `index` of B, whose data may sit at any byte address in a mapped
// model file (ONNX raw data has no alignment): memcpy, one plain load.
inline float weightAt(const float *base, int64_t index) {
  float v;
  std::memcpy(&v, reinterpret_cast<const char *>(base) + index * int64_t(sizeof(float)), sizeof v);
  return v;
}


// out[m * numBlocks(K) + kb] = the sum of A[m][k] over K block kb, rows
// [0, M). Eight partial sums per block in a fixed order (vectorizes; a single
// running sum stored per element was a dependency chain through memory: ~2%
// of an int4 decode step on llama-100m, issue 12).
void blockSums(int64_t M, int64_t K, const float *A, int64_t lda, float *out);

// acc[m][0..16) = A rows [0, mr) times panel p (unbiased), for mr rows.
// `asum` (formats with zero points): per row m, per K block kb, the sum of
// A[m][k] over the block, at asum[m * numBlocks(K) + kb].
using PanelFn = void (*)(int64_t K, const float *A, int64_t lda, const void *Bq, int64_t p, const float *asum,
                         float *acc);
// Panels [p0, p1) as fp32 panels (bmc_pack_b_f32's layout).
using DequantFn = void (*)(const void *Bq, int64_t K, int64_t p0, int64_t p1, float *out);

// Small M: panels split across threads in contiguous ranges (one forward
// stream each); rows in groups of `maxRows` (a later group finds the panel in
// L1/L2). pick(mr) gives the panel kernel for mr rows. withAsum: compute the
// block sums of A first.
void gemv(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
          const float *bias, float *C, int64_t ldc, int64_t maxRows, PanelFn (*pick)(int64_t), bool withAsum);
// A quantized matmul's entry: nothing for an empty C; M > kMaxGemvRows with
// the JIT available: gemm() on dequantized panels; otherwise gemv().
void run(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
         const float *bias, float *C, int64_t ldc, DequantFn dequant, int64_t maxRows, PanelFn (*pick)(int64_t),
         bool withAsum);
// Prefill: groups of 8 panels dequantized into thread-local fp32 panels, then
// avx2::gemmPanels on them. Needs avx2::jitReady(); may throw std::bad_alloc.
void gemm(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
          const float *bias, float *C, int64_t ldc, DequantFn dequant);

} // namespace quant
} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_MATMUL_QUANT_H
