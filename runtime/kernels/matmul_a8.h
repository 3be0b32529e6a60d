// int8 activations x int4/int8 weights with integer dot products
// (CompileOptions::activations = Int8; kernels.h, "int8 activations"): the
// activation quantizer, the dot-product weight layouts, the reference, and the
// driver shared by the AVX2 (vpmaddubsw), AVX-VNNI and AVX-512 VNNI (vpdpbusd) kernels.
#ifndef BMC_RUNTIME_KERNELS_MATMUL_A8_H
#define BMC_RUNTIME_KERNELS_MATMUL_A8_H

#include "kernels_internal.h"

#include <cstdint>
#include <vector>

namespace bmc {
namespace kernels {
namespace a8 {

constexpr int64_t kBlock = 32; // K rows per activation scale and per weight scale
inline int64_t numBlocks(int64_t K) { return (K + kBlock - 1) / kBlock; }
// Blocks whose max |a| is below this count as zero (127 / max|a| would
// overflow to inf, and 0 * inf is not 0). Both paths do the same.
constexpr float kMinAmax = 1e-30f;
// How far ahead (bytes) the fast kernels software-prefetch the weight stream
// of int4 / int8 weights (the *Prefetch entry points take 0, 4096, 8192 or
// 16384; others throw std::invalid_argument). Measured on llama-100m's
// matmuls, one Zen 5 core (bench_kernels "int4 kernels", preliminary): int4
// 0.76-0.82x the time of no prefetch at 8 KB; int8 1.08-1.19x slower with
// any distance (4-16 KB) than without, already at the probe's rate.
constexpr int kPrefetchInt4 = 8192;
constexpr int kPrefetchInt8 = 0;

// Rows of A quantized per block of 32: codes (zeros past K), scale =
// max|a| / 127 and the sum of the block's codes (an exact integer, held as
// float), row m's block kb at index m * nb + kb (codes: (m * nb + kb) * 32).
struct QuantizedRows {
  int64_t nb = 0;
  std::vector<int8_t> codes;
  std::vector<float> scale, sum;
  const int8_t *blockCodes(int64_t m, int64_t kb) const { return codes.data() + (m * nb + kb) * kBlock; }
};

// The definition, one block of n <= 32 values (the rest taken as 0): codes
// round-to-nearest-even(a * (127 / max|a|)) clipped to [-127, 127] (NaN ->
// -127), *scale = max|a| / 127, returns the sum of the codes.
int quantizeBlock(const float *a, int64_t n, int8_t codes[kBlock], float *scale);
// All M rows (AVX2 when the CPU has it; the same bits as quantizeBlock).
// May throw std::bad_alloc.
void quantizeRows(int64_t M, int64_t K, const float *A, int64_t lda, QuantizedRows &out);

// Panel kernel: acc[m][0..16) for rows m0 .. m0+mr of `a`, panel p of the
// dot-layout weights (nb blocks).
using PanelFn = void (*)(const QuantizedRows &a, int64_t m0, const uint8_t *panel, int64_t nb, float *acc);

// Quantizes A, then panels split across threads, rows in groups of maxRows
// (any M: prefill runs the same arithmetic). May throw std::bad_alloc.
void run(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
         const float *bias, float *C, int64_t ldc, int64_t blockBytes, int64_t maxRows, PanelFn (*pick)(int64_t));

} // namespace a8

// ---- the dot-product layouts (kernels.h) from the weight-only ones ----
void q8ToDot(const void *q8, int64_t K, int64_t N, void *out);
void q4ToDot(const void *q4, int64_t K, int64_t N, void *out);

namespace ref {
// Exact integer dot products per block, accumulated in double. Never
// allocate, never throw (the fallback of the fast kernels).
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) noexcept;
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) noexcept;
} // namespace ref

namespace avx2 {
// vpmaddubsw / vpmaddwd, rows in groups of 4. May throw std::bad_alloc.
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
// The two above with the weight stream's software prefetch `prefetchBytes`
// ahead instead of a8::kPrefetchInt8 / kPrefetchInt4 (bench_kernels compares them).
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
} // namespace avx2

namespace avxvnni {
// True when the CPU and OS support AVX2 + FMA and AVX-VNNI (VEX vpdpbusd).
bool supported();
// 256-bit vpdpbusd, rows in groups of 4. Throw without AVX-VNNI.
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
// The two above with the weight stream's software prefetch `prefetchBytes`
// ahead instead of a8::kPrefetchInt8 / kPrefetchInt4 (bench_kernels compares them).
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
} // namespace avxvnni

namespace avx512 {
// True when the CPU and OS support AVX-512F, BW and VNNI.
bool vnniSupported();
// vpdpbusd, up to 12 rows per pass over the weights. Throw without VNNI.
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc);
// The two above with the weight stream's software prefetch `prefetchBytes`
// ahead instead of a8::kPrefetchInt8 / kPrefetchInt4 (bench_kernels compares them).
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes);
} // namespace avx512

} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_MATMUL_A8_H
