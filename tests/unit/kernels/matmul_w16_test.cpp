// bf16 / fp16 weights: the packing against kernels.h's layout and the
// rounding (the KV conversions, themselves tested against their definition in
// kv_convert_test.cpp), 16-bit sources copied bit for bit, fp16 overflow
// refused; the reference against double arithmetic on the widened weights;
// the AVX2 and AVX-512 kernels against the reference on odd sizes, M = 1..14
// (decode, verification), prefill sizes (widened panels + the fp32 GEMM),
// strides, bias, 1 to 3 threads.
#include "test_util.h"

#include <cstring>
#include <limits>
#include <string>

namespace bmc {
namespace kernels {
namespace test {
namespace {

struct Case {
  int64_t M, N, K;
  bool transB, bias;
  int threads;
};

std::string describe(const Case &c, int32_t type) {
  return std::string(type == BMC_KV_BF16 ? "bf16" : "f16") + " M=" + std::to_string(c.M) +
         " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) + (c.transB ? " transB" : "") +
         (c.bias ? " bias" : "") + " threads=" + std::to_string(c.threads);
}

int64_t ldb(const Case &c) { return c.transB ? c.K + 5 : c.N + 3; }
size_t idx(const Case &c, int64_t k, int64_t n) { return size_t(c.transB ? n * ldb(c) + k : k * ldb(c) + n); }

// Random weights with columns of different magnitudes (within fp16's range).
std::vector<float> makeB(const Case &c, std::mt19937 &rng) {
  std::vector<float> B = randomVector(size_t((c.transB ? c.N : c.K) * ldb(c)), rng);
  for (int64_t k = 0; k < c.K; ++k)
    for (int64_t n = 0; n < c.N; ++n)
      B[idx(c, k, n)] *= n % 7 == 3 ? 100.0f : n % 7 == 5 ? 0.01f : 1.0f;
  return B;
}

uint16_t narrow(int32_t type, float w) { return type == BMC_KV_BF16 ? f32ToBF16(w) : f32ToF16(w); }
float widen(int32_t type, uint16_t h) { return type == BMC_KV_BF16 ? bf16ToF32(h) : f16ToF32(h); }

AlignedBuffer pack(int32_t type, const std::vector<float> &B, const Case &c) {
  AlignedBuffer out(size_t(bmc_pack_w16_bytes(c.K, c.N)));
  EXPECT_EQ(bmc_pack_w16(type, B.data(), BMC_KV_F32, c.K, c.N, ldb(c), c.transB ? 1 : 0, out.data()), 0);
  return out;
}

const int32_t kTypes[] = {BMC_KV_BF16, BMC_KV_F16};

TEST(MatmulW16, PackFollowsTheDefinition) {
  std::mt19937 rng(3);
  for (int32_t type : kTypes)
    for (const Case &c : {Case{1, 37, 70, false, false, 1}, Case{1, 16, 33, true, false, 1}, Case{1, 5, 1, false, false, 1}}) {
      SCOPED_TRACE(describe(c, type));
      const std::vector<float> B = makeB(c, rng);
      AlignedBuffer packed = pack(type, B, c);
      const int64_t panels = (c.N + 15) / 16;
      ASSERT_EQ(bmc_pack_w16_bytes(c.K, c.N), panels * c.K * 16 * 2);
      const auto *h = reinterpret_cast<const uint16_t *>(packed.data());
      for (int64_t p = 0; p < panels; ++p)
        for (int64_t k = 0; k < c.K; ++k)
          for (int64_t j = 0; j < 16; ++j) {
            const int64_t n = 16 * p + j;
            const uint16_t got = h[(p * c.K + k) * 16 + j];
            ASSERT_EQ(got, n < c.N ? narrow(type, B[idx(c, k, n)]) : 0) << "k=" << k << " n=" << n;
          }

      // The same matrix given in 16 bits (an fp16 / bf16 initializer) is copied.
      std::vector<uint16_t> B16(B.size());
      for (size_t i = 0; i < B.size(); ++i)
        B16[i] = narrow(type, B[i]);
      AlignedBuffer copied(size_t(bmc_pack_w16_bytes(c.K, c.N)));
      ASSERT_EQ(bmc_pack_w16(type, B16.data(), type, c.K, c.N, ldb(c), c.transB ? 1 : 0, copied.data()), 0);
      ASSERT_EQ(std::memcmp(copied.data(), packed.data(), size_t(bmc_pack_w16_bytes(c.K, c.N))), 0);
    }
}

TEST(MatmulW16, PackRefusesFp16OverflowAndMismatchedTypes) {
  std::vector<float> B(64 * 20, 0.5f);
  AlignedBuffer out(size_t(bmc_pack_w16_bytes(64, 20)));
  B[size_t(40 * 20 + 17)] = 65519.0f; // rounds down to 65504
  EXPECT_EQ(bmc_pack_w16(BMC_KV_F16, B.data(), BMC_KV_F32, 64, 20, 20, 0, out.data()), 0);
  B[size_t(40 * 20 + 17)] = -65520.0f; // half way past the largest: an infinity
  EXPECT_EQ(bmc_pack_w16(BMC_KV_F16, B.data(), BMC_KV_F32, 64, 20, 20, 0, out.data()), -1);
  EXPECT_EQ(bmc_pack_w16(BMC_KV_BF16, B.data(), BMC_KV_F32, 64, 20, 20, 0, out.data()), 0); // bf16 has fp32's range
  // Infinities and NaNs in the model stay what they are (no rounding made them).
  B[size_t(3)] = INFINITY;
  B[size_t(40 * 20 + 17)] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(bmc_pack_w16(BMC_KV_F16, B.data(), BMC_KV_F32, 64, 20, 20, 0, out.data()), 0);
  EXPECT_EQ(bmc_pack_w16(BMC_KV_F16, B.data(), BMC_KV_BF16, 64, 20, 20, 0, out.data()), -2);
  EXPECT_EQ(bmc_pack_w16(BMC_KV_F32, B.data(), BMC_KV_F32, 64, 20, 20, 0, out.data()), -2);
}

// The reference against double arithmetic on the weights widened from the
// packed bits by the definition.
TEST(MatmulW16, RefIsTheMatmulOfTheWidenedWeights) {
  std::mt19937 rng(5);
  for (int32_t type : kTypes) {
    const Case c{7, 37, 70, true, true, 2};
    SCOPED_TRACE(describe(c, type));
    const std::vector<float> B = makeB(c, rng);
    AlignedBuffer packed = pack(type, B, c);
    const auto *h = reinterpret_cast<const uint16_t *>(packed.data());
    const std::vector<float> A = randomVector(size_t(c.M * c.K), rng), bias = randomVector(size_t(c.N), rng);
    std::vector<float> C(size_t(c.M * c.N));
    (type == BMC_KV_BF16 ? ref::matmulBF16 : ref::matmulF16)(poolFor(c.threads), c.M, c.N, c.K, A.data(), c.K,
                                                            packed.data(), bias.data(), C.data(), c.N);
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double want = bias[size_t(n)], scale = std::fabs(want);
        for (int64_t k = 0; k < c.K; ++k) {
          const double w = widen(type, h[((n / 16) * c.K + k) * 16 + n % 16]);
          // Rounded to nearest: within half a unit in the last place (fp16
          // subnormals: half of 2^-24).
          ASSERT_LE(std::fabs(w - B[idx(c, k, n)]),
                    std::fabs(B[idx(c, k, n)]) * (type == BMC_KV_BF16 ? 0x1p-8 : 0x1p-11) + 0x1p-25);
          want += double(A[size_t(m * c.K + k)]) * w;
          scale += std::fabs(double(A[size_t(m * c.K + k)]) * w);
        }
        ASSERT_TRUE(closeTo(C[size_t(m * c.N + n)], float(want), scale, 1e-6)) << "m=" << m << " n=" << n;
      }
  }
}

using Fn = void (*)(ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *, const float *,
                    float *, int64_t);

void check(int32_t type, const Case &c, std::mt19937 &rng, Fn fast) {
  SCOPED_TRACE(describe(c, type));
  const std::vector<float> B = makeB(c, rng);
  AlignedBuffer packed = pack(type, B, c);
  const int64_t lda = c.K + 2, ldc = c.N + 1;
  const std::vector<float> A = randomVector(size_t(c.M * lda), rng), bias = randomVector(size_t(c.N), rng);
  std::vector<float> want(size_t(c.M * ldc), 555.0f), got = want;
  const float *b = c.bias ? bias.data() : nullptr;
  (type == BMC_KV_BF16 ? ref::matmulBF16 : ref::matmulF16)(nullptr, c.M, c.N, c.K, A.data(), lda, packed.data(), b,
                                                          want.data(), ldc);
  fast(poolFor(c.threads), c.M, c.N, c.K, A.data(), lda, packed.data(), b, got.data(), ldc);
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      double scale = 0; // bounds the summed terms
      for (int64_t k = 0; k < c.K; ++k)
        scale += std::fabs(A[size_t(m * lda + k)]) * std::fabs(B[idx(c, k, n)]);
      ASSERT_TRUE(closeTo(got[size_t(m * ldc + n)], want[size_t(m * ldc + n)], scale + 1.0)) << "m=" << m << " n=" << n;
    }
    ASSERT_EQ(got[size_t(m * ldc + c.N)], 555.0f) << "wrote past N in row " << m;
  }
}

void sweep(int32_t type, std::mt19937 &rng, Fn fast) {
  int i = 0;
  for (int64_t M = 1; M <= 14; ++M)
    for (int64_t K : {1, 3, 31, 33, 100, 513}) {
      ++i;
      const int64_t N = i % 4 == 0 ? 1 : i % 4 == 1 ? 17 : i % 4 == 2 ? 100 : 35;
      check(type, {M, N, K, i % 2 == 0, i % 3 != 0, 1 + i % 3}, rng, fast);
      if (::testing::Test::HasFatalFailure())
        return;
    }
  // Prefill sizes (M > 12: widened panel groups + the fp32 GEMM) and a model shape.
  for (const Case &c : {Case{40, 150, 70, false, true, 2}, Case{73, 33, 513, true, false, 3},
                        Case{5, 2048, 512, true, false, 2}, Case{1, 8192, 511, false, false, 1},
                        Case{3, 7, 0, false, true, 1}}) {
    check(type, c, rng, fast);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

TEST(MatmulW16, Avx2MatchesRef) {
  if (!haveAvx2() || !avx2::f16cSupported())
    GTEST_SKIP() << "no AVX2/FMA/F16C on this machine";
  std::mt19937 rng(17);
  sweep(BMC_KV_BF16, rng, avx2::matmulBF16);
  sweep(BMC_KV_F16, rng, avx2::matmulF16);
}

TEST(MatmulW16, Avx512MatchesRef) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  std::mt19937 rng(19);
  sweep(BMC_KV_BF16, rng, avx512::matmulBF16);
  sweep(BMC_KV_F16, rng, avx512::matmulF16);
}

TEST(MatmulW16, CAbiMatchesRef) {
  std::mt19937 rng(23);
  Fn bf16 = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) { bmc_matmul_bf16_f32(pool, M, N, K, A, lda, B, bias, C, ldc); };
  Fn f16 = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
              const float *bias, float *C, int64_t ldc) { bmc_matmul_f16_f32(pool, M, N, K, A, lda, B, bias, C, ldc); };
  for (const Case &c : {Case{1, 100, 513, true, true, 2}, Case{5, 33, 70, false, false, 1}, Case{30, 40, 64, false, true, 2}}) {
    check(BMC_KV_BF16, c, rng, bf16);
    check(BMC_KV_F16, c, rng, f16);
  }
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
