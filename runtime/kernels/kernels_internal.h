// Internal C++ interface of the kernels: the reference and AVX2 implementations
// behind the C ABI of kernels.h (and the AVX-512 small-M matmul). Tests call
// each directly and compare it with the reference.
#ifndef BMC_RUNTIME_KERNELS_KERNELS_INTERNAL_H
#define BMC_RUNTIME_KERNELS_KERNELS_INTERNAL_H

#include "bmc/abi/kernels.h"
#include "thread_pool.h"

#include <cstdint>

namespace bmc {
namespace kernels {

// ---- Packed B layout (see kernels.h) ----
constexpr int64_t kPanel = BMC_PACK_B_PANEL;
inline int64_t numPanels(int64_t N) { return (N + kPanel - 1) / kPanel; }
inline const float *panelPtr(const void *packed, int64_t K, int64_t p) {
  return static_cast<const float *>(packed) + p * K * kPanel;
}
// Packs columns [16*p0, 16*p1) of a strided B(k, n) = B[k*rs + n*cs] into
// panels, written from `out` on (out holds panel p0 first).
void packPanels(const void *B, int64_t K, int64_t N, int64_t rs, int64_t cs,
                int64_t p0, int64_t p1, float *out);

// ---- Packed int8 layout (see kernels.h) ----
int64_t packQ8Bytes(int64_t K, int64_t N);
// B(k, n) = B[k*rs + n*cs]; false (out partly written) on a non-finite value.
bool packQ8(const float *B, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out);
// Panels [p0, p1) of a packed int8 B as fp32 panels (bmc_pack_b_f32's layout).
void dequantQ8Panels(const void *packed, int64_t K, int64_t p0, int64_t p1, float *out);

// ---- Packed int4 layout (see kernels.h) ----
int64_t packQ4Bytes(int64_t K, int64_t N);
bool packQ4(const float *B, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out);
void dequantQ4Panels(const void *packed, int64_t K, int64_t p0, int64_t p1, float *out);

// ---- Packed 16-bit layout (see kernels.h) ----
int64_t packW16Bytes(int64_t K, int64_t N);
// B(k, n) = B[k*rs + n*cs] of srcType (BMC_KV_F32: rounded to `type`; else
// `type`, copied); false (out fully written) when an fp32 weight is beyond
// fp16's range.
bool packW16(int32_t type, const void *B, int32_t srcType, int64_t K, int64_t N, int64_t rs, int64_t cs, void *out);

// Runs fn(begin, end) over [0, n) on the pool, or inline without one.
template <class F> void parallelFor(ThreadPool *pool, int64_t n, F &&f) {
  if (pool)
    pool->parallelFor(n, f);
  else if (n > 0)
    f(int64_t(0), n);
}

struct StridedMatmul {
  int64_t batch, M, N, K;
  const float *A;
  int64_t a_bs, a_rs, a_cs;
  const float *B;
  int64_t b_bs, b_rs, b_cs;
  float *C;
  int64_t c_bs, c_rs;
};

// ---- KV element types (kernels.h BMC_KV_*) ----
// Plain C conversions, one element at a time: the reference.
uint16_t f32ToBF16(float x);
uint16_t f32ToF16(float x);
float bf16ToF32(uint16_t h);
float f16ToF32(uint16_t h);
// Element i of a KV buffer of type t, widened to fp32.
inline float kvElement(int32_t t, const void *base, int64_t i) {
  if (t == BMC_KV_BF16) return bf16ToF32(static_cast<const uint16_t *>(base)[i]);
  if (t == BMC_KV_F16) return f16ToF32(static_cast<const uint16_t *>(base)[i]);
  return static_cast<const float *>(base)[i];
}
// base advanced by i elements of type t.
inline const void *kvAdvance(int32_t t, const void *base, int64_t i) {
  return static_cast<const uint8_t *>(base) + i * (t == BMC_KV_F32 ? 4 : 2);
}

namespace ref {
void convertToKV(int32_t t, const float *src, void *dst, int64_t n) noexcept;
void convertFromKV(int32_t t, const void *src, float *dst, int64_t n) noexcept;
// Never allocate and never throw: they are also the fallback when a fast
// kernel cannot run.
void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t lda, const void *Bpacked,
                  const float *bias, float *C, int64_t ldc) noexcept;
void matmulStrided(ThreadPool *pool, const StridedMatmul &p) noexcept;
void attention(ThreadPool *pool, const bmc_attention_args &a) noexcept;
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) noexcept;
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) noexcept;
// bf16 / fp16 weights (bmc_pack_w16): widened element by element, double accumulation.
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc) noexcept;
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) noexcept;
} // namespace ref

// How the int4 GEMVs (AVX-512; AVX2 for 1-2 rows) turn codes into fp32
// (matmul_q4.cpp): Convert masks them and converts; Subnormal reads the
// masked code as the bits of a subnormal float (q * 2^-149, exact, no
// conversion) against A scaled by a power of two, where the thread's MXCSR
// has no DAZ and the rows' magnitudes allow it (else Convert). AVX-512: both
// give the same bits. Auto: Subnormal on AMD CPUs (no penalty for subnormal
// FMA inputs measured on Zen 5; Intel cores take a microcode assist), else
// Convert. SubnormalNoPrefetch: Subnormal without its software prefetch;
// SubnormalPrefetch4K: with it 4 KB ahead instead of 8 KB (the earlier distance).
enum class Q4Decode { Auto, Convert, Subnormal, SubnormalNoPrefetch, SubnormalPrefetch4K };
bool q4SubnormalByDefault();
// How far ahead (bytes) the int8 GEMVs software-prefetch their weight stream:
// 0 (none), 4096, 8192 or 16384 (other values throw std::invalid_argument).
constexpr int kQ8PrefetchDefault = 8192;

namespace avx2 {
// True when the CPU and OS support AVX2 and FMA (intrinsics kernels).
bool cpuSupported();
// True when cpuSupported() and the CPU has F16C (fp16 conversions).
bool f16cSupported();
// AVX2 (+F16C) conversions; same results as ref::convertToKV / FromKV.
// Need f16cSupported().
void convertToKV(int32_t t, const float *src, void *dst, int64_t n);
void convertFromKV(int32_t t, const void *src, float *dst, int64_t n);
// True when cpuSupported() and the Xbyak matmul kernels could be generated
// (fails e.g. where the OS forbids executable memory).
bool jitReady();
// May throw (std::bad_alloc, JIT unavailable); callers fall back to ref.
void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t lda, const void *Bpacked,
                  const float *bias, float *C, int64_t ldc);
void matmulStrided(ThreadPool *pool, const StridedMatmul &p);
// C[0:M, 16*p0 : min(N, 16*p1)] = A * B (+ bias), single-threaded, where
// `panels` points at panel p0 of a packed B with K rows. Needs jitReady().
void gemmPanels(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *panels, int64_t p0, int64_t p1,
                const float *bias, float *C, int64_t ldc);
void attention(ThreadPool *pool, const bmc_attention_args &a);
// int8 weights: intrinsics GEMV (rows in groups of 5); M > 12 dequantizes
// panels for the JIT GEMM (when jitReady()). May throw std::bad_alloc.
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, int prefetchBytes = kQ8PrefetchDefault);
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, Q4Decode decode = Q4Decode::Auto);
// bf16 / fp16 weights: intrinsics GEMV widening in registers (rows in groups
// of 5); M > 12 widens panels for the JIT GEMM. Throw without F16C.
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc);
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc);
} // namespace avx2

namespace avx512 {
// True when the CPU and OS support AVX-512F and the 512-bit GEMV kernels
// (plus the AVX2 ones they fall back to) could be generated.
bool supported();
// Most rows the 512-bit GEMV takes in one pass over the weights.
int maxGemvRows();
// M <= maxGemvRows(): 512-bit GEMV, every weight panel streamed once for all
// rows; larger M: avx2::matmulPacked. May throw like the AVX2 version.
void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t lda, const void *Bpacked,
                  const float *bias, float *C, int64_t ldc);
// True when the CPU and OS support AVX-512F (intrinsics attention kernel).
bool cpuSupported();
// avx2::attention, with tiles of many query rows (speculative verification,
// wide GQA groups) in the 512-bit group kernel. Throws without AVX-512F.
void attention(ThreadPool *pool, const bmc_attention_args &a);
// int8 weights, up to 12 rows in one pass over the codes. Throws without AVX-512F.
void matmulQ8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, int prefetchBytes = kQ8PrefetchDefault);
using kernels::Q4Decode;
void matmulQ4(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc, Q4Decode decode = Q4Decode::Auto);
// bf16 / fp16 weights, up to 12 rows in one pass. Throw without AVX-512F and F16C.
void matmulBF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                const float *bias, float *C, int64_t ldc);
void matmulF16(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc);
} // namespace avx512

} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_KERNELS_INTERNAL_H
