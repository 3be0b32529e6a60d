// Strided batched matmul of two run-time operands, AVX2/FMA.
//  - M <= 4 with unit-stride rows of A: read B in place, no packing.
//      b_cs == 1 (B row-major, e.g. P*V):      C[m,:] += A[m,k] * B[k,:]
//      b_rs == 1 (B transposed, e.g. Q*K^T):   C[m,n]  = dot(A[m,:], B[:,n])
//  - otherwise: each task packs its share of B's panels (and A when its
//    columns are strided) into thread-local scratch and runs the JIT GEMM.
#include "kernels_internal.h"
#include "simd_avx2.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace bmc {
namespace kernels {
namespace avx2 {
namespace {

constexpr int64_t kSmallM = 4;

// C[0:MR, n0:n1] = A[0:MR, :] * B[:, n0:n1] for a row-major B (b_cs == 1).
template <int MR, int NV>
BMC_AVX2 void axpyRows(const float *A, int64_t lda, const float *B, int64_t ldb,
                       float *C, int64_t ldc, int64_t K, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 8 * NV) {
    const int64_t cols = std::min<int64_t>(8 * NV, n1 - n);
    __m256i mask[NV];
    for (int c = 0; c < NV; ++c)
      mask[c] = simd::laneMask(cols - 8 * c);
    const bool full = cols == 8 * NV;
    __m256 acc[MR][NV];
    for (int r = 0; r < MR; ++r)
      for (int c = 0; c < NV; ++c)
        acc[r][c] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      const float *b = B + k * ldb + n;
      __m256 bv[NV];
      for (int c = 0; c < NV; ++c)
        bv[c] = full ? _mm256_loadu_ps(b + 8 * c) : _mm256_maskload_ps(b + 8 * c, mask[c]);
      for (int r = 0; r < MR; ++r) {
        __m256 av = _mm256_broadcast_ss(A + r * lda + k);
        for (int c = 0; c < NV; ++c)
          acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < MR; ++r)
      for (int c = 0; c < NV; ++c) {
        if (full)
          _mm256_storeu_ps(C + r * ldc + n + 8 * c, acc[r][c]);
        else
          _mm256_maskstore_ps(C + r * ldc + n + 8 * c, mask[c], acc[r][c]);
      }
  }
}

BMC_AVX2 void axpySmallM(int64_t M, const float *A, int64_t lda, const float *B,
                         int64_t ldb, float *C, int64_t ldc, int64_t K,
                         int64_t n0, int64_t n1) {
  switch (M) {
  case 1: axpyRows<1, 8>(A, lda, B, ldb, C, ldc, K, n0, n1); break;
  case 2: axpyRows<2, 4>(A, lda, B, ldb, C, ldc, K, n0, n1); break;
  case 3: axpyRows<3, 2>(A, lda, B, ldb, C, ldc, K, n0, n1); break;
  default: axpyRows<4, 2>(A, lda, B, ldb, C, ldc, K, n0, n1); break;
  }
}

// C[m, n0:n1] = dot(A[m, :], column n of B), columns contiguous (b_rs == 1).
BMC_AVX2 void dotSmallM(int64_t M, const float *A, int64_t lda, const float *B,
                        int64_t b_cs, float *C, int64_t ldc, int64_t K,
                        int64_t n0, int64_t n1) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = n0; n < n1; n += 8) {
      const int64_t cnt = std::min<int64_t>(8, n1 - n);
      __m256 s = simd::dot8(A + m * lda, B + n * b_cs, b_cs, cnt, K);
      _mm256_maskstore_ps(C + m * ldc + n, simd::laneMask(cnt), s);
    }
}

struct PackScratch {
  std::vector<float> b, a;
};
thread_local PackScratch tlsPack;

// Panels [p0, p1) of batch b: pack B (unless prepacked) and A if needed, GEMM.
void packedTask(const StridedMatmul &p, int64_t b, int64_t p0, int64_t p1,
                const float *prepacked) {
  const float *A = p.A + b * p.a_bs;
  int64_t lda = p.a_rs;
  if (p.a_cs != 1) {
    tlsPack.a.resize(size_t(p.M * p.K));
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t k = 0; k < p.K; ++k)
        tlsPack.a[size_t(m * p.K + k)] = A[m * p.a_rs + k * p.a_cs];
    A = tlsPack.a.data();
    lda = p.K;
  }
  const float *panels = prepacked ? prepacked + p0 * p.K * kPanel : nullptr;
  if (!panels) {
    tlsPack.b.resize(size_t((p1 - p0) * p.K * kPanel));
    packPanels(p.B + b * p.b_bs, p.K, p.N, p.b_rs, p.b_cs, p0, p1, tlsPack.b.data());
    panels = tlsPack.b.data();
  }
  gemmPanels(p.M, p.N, p.K, A, lda, panels, p0, p1, nullptr, p.C + b * p.c_bs, p.c_rs);
}

} // namespace

void matmulStrided(ThreadPool *pool, const StridedMatmul &p) {
  if (p.batch <= 0 || p.M <= 0 || p.N <= 0)
    return;
  const int threads = pool ? pool->numThreads() : 1;
  if (p.K <= 0) {
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t m = 0; m < p.M; ++m)
        std::fill(p.C + b * p.c_bs + m * p.c_rs, p.C + b * p.c_bs + m * p.c_rs + p.N, 0.0f);
    return;
  }
  // Column ranges per batch so that there are about two tasks per thread.
  auto splitsFor = [&](int64_t units) {
    if (threads == 1 || 2 * p.M * p.N * p.K * p.batch < (1 << 18))
      return int64_t(1);
    return std::max<int64_t>(1, std::min(units, (2 * threads + p.batch - 1) / p.batch));
  };

  const bool smallM = p.M <= kSmallM && p.a_cs == 1;
  if (smallM && (p.b_cs == 1 || p.b_rs == 1)) {
    const int64_t groups = (p.N + 7) / 8, splits = splitsFor(groups);
    parallelFor(pool, p.batch * splits, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / splits, s = t % splits;
        const int64_t n0 = 8 * (groups * s / splits);
        const int64_t n1 = std::min(p.N, 8 * (groups * (s + 1) / splits));
        const float *A = p.A + b * p.a_bs, *B = p.B + b * p.b_bs;
        float *C = p.C + b * p.c_bs;
        if (p.b_cs == 1)
          axpySmallM(p.M, A, p.a_rs, B, p.b_rs, C, p.c_rs, p.K, n0, n1);
        else
          dotSmallM(p.M, A, p.a_rs, B, p.b_cs, C, p.c_rs, p.K, n0, n1);
      }
    });
    return;
  }

  if (!jitReady())
    throw std::runtime_error("bmc: AVX2 JIT kernels unavailable");
  const int64_t panels = numPanels(p.N), splits = splitsFor(panels);
  std::vector<float> shared; // B broadcast over the batch: pack it once
  if (p.b_bs == 0 && p.batch > 1) {
    shared.resize(size_t(panels * p.K * kPanel));
    parallelFor(pool, panels, [&](int64_t q0, int64_t q1) {
      packPanels(p.B, p.K, p.N, p.b_rs, p.b_cs, q0, q1, shared.data() + q0 * p.K * kPanel);
    });
  }
  parallelFor(pool, p.batch * splits, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / splits, s = t % splits;
      const int64_t q0 = panels * s / splits, q1 = panels * (s + 1) / splits;
      if (q1 > q0)
        packedTask(p, b, q0, q1, shared.empty() ? nullptr : shared.data());
    }
  });
}

} // namespace avx2
} // namespace kernels
} // namespace bmc
