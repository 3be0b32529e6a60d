// Reference matmuls: plain loops on the unpacked semantics, accumulated in
// double. They are what the fast kernels are tested against, and the fallback
// when those cannot run, so they neither allocate nor throw.
#include "kernels_internal.h"

namespace bmc {
namespace kernels {
namespace ref {

namespace {
// Element (k, n) of a packed B (layout in kernels.h).
inline float packedAt(const float *Bp, int64_t K, int64_t k, int64_t n) {
  return Bp[(n / kPanel) * K * kPanel + k * kPanel + n % kPanel];
}
} // namespace

void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t lda, const void *Bpacked,
                  const float *bias, float *C, int64_t ldc) noexcept {
  const float *Bp = static_cast<const float *>(Bpacked);
  parallelFor(pool, M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double sum = bias ? bias[n] : 0.0;
        for (int64_t k = 0; k < K; ++k)
          sum += double(A[m * lda + k]) * packedAt(Bp, K, k, n);
        C[m * ldc + n] = float(sum);
      }
  });
}

void matmulStrided(ThreadPool *pool, const StridedMatmul &p) noexcept {
  parallelFor(pool, p.batch * p.M, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / p.M, m = r % p.M;
      const float *A = p.A + b * p.a_bs + m * p.a_rs;
      const float *B = p.B + b * p.b_bs;
      float *C = p.C + b * p.c_bs + m * p.c_rs;
      for (int64_t n = 0; n < p.N; ++n) {
        double sum = 0.0;
        for (int64_t k = 0; k < p.K; ++k)
          sum += double(A[k * p.a_cs]) * B[k * p.b_rs + n * p.b_cs];
        C[n] = float(sum);
      }
    }
  });
}

} // namespace ref
} // namespace kernels
} // namespace bmc
