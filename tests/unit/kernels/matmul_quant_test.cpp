// int8 and int4 block-quantized weights: the packing against the definition (round to
// nearest, scale = max|w| / 127 per 32 rows per column, layout of kernels.h),
// the reference matmul against fp32 arithmetic on the dequantized matrix, and
// the AVX2 / AVX-512 kernels against the reference on odd sizes, every small
// M (decode and verification), large M (prefill, via the fp32 GEMM on
// dequantized panels), strides, bias, 1 to 3 threads.
#include "test_util.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace bmc {
namespace kernels {
namespace test {
namespace {

struct Q8Case {
  int64_t M, N, K;
  bool transB, bias;
  int threads;
};

std::string describe(const Q8Case &c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         (c.transB ? " transB" : "") + (c.bias ? " bias" : "") + " threads=" + std::to_string(c.threads);
}

// B(k, n) of a matrix given as [K, N] (ld N + 3) or transposed [N, K] (ld K + 5).
float at(const std::vector<float> &B, const Q8Case &c, int64_t k, int64_t n) {
  return c.transB ? B[size_t(n * (c.K + 5) + k)] : B[size_t(k * (c.N + 3) + n)];
}

std::vector<float> makeB(const Q8Case &c, std::mt19937 &rng) {
  std::vector<float> B = c.transB ? randomVector(size_t(c.N * (c.K + 5)), rng)
                                  : randomVector(size_t(c.K * (c.N + 3)), rng);
  // Columns of very different magnitudes, and an all-zero column: per-column
  // scales must follow them.
  for (int64_t k = 0; k < c.K; ++k)
    for (int64_t n = 0; n < c.N; ++n) {
      float &w = c.transB ? B[size_t(n * (c.K + 5) + k)] : B[size_t(k * (c.N + 3) + n)];
      w *= n % 7 == 3 ? 100.0f : n % 7 == 5 ? 0.01f : 1.0f;
      if (n == 2)
        w = 0.0f;
    }
  return B;
}

// The two formats behind one test body.
struct Format {
  const char *name;
  int64_t (*bytes)(int64_t, int64_t);
  int32_t (*pack)(const float *, int64_t, int64_t, int64_t, int32_t, void *);
  void (*ref)(ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *, const float *, float *,
              int64_t) noexcept;
};
const Format kQ8{"int8", bmc_pack_q8_bytes, bmc_pack_q8, ref::matmulQ8};
const Format kQ4{"int4", bmc_pack_q4_bytes, bmc_pack_q4, ref::matmulQ4};

AlignedBuffer pack(const std::vector<float> &B, const Q8Case &c, const Format &f = kQ8) {
  AlignedBuffer out(size_t(f.bytes(c.K, c.N)));
  EXPECT_EQ(f.pack(B.data(), c.K, c.N, c.transB ? c.K + 5 : c.N + 3, c.transB ? 1 : 0, out.data()), 0);
  return out;
}

// The layout and the rounding, from kernels.h's definition.
TEST(MatmulQ8, PackFollowsTheDefinition) {
  std::mt19937 rng(3);
  for (const Q8Case &c : {Q8Case{1, 37, 70, false, false, 1}, Q8Case{1, 16, 32, true, false, 1},
                          Q8Case{1, 5, 1, false, false, 1}}) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> B = makeB(c, rng);
    AlignedBuffer packed = pack(B, c);
    const int64_t blocks = (c.K + 31) / 32, panels = (c.N + 15) / 16;
    ASSERT_EQ(bmc_pack_q8_bytes(c.K, c.N), panels * blocks * 576);
    const auto *bytes = reinterpret_cast<const uint8_t *>(packed.data());
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t kb = 0; kb < blocks; ++kb) {
        const uint8_t *blk = bytes + (p * blocks + kb) * 576;
        for (int64_t j = 0; j < 16; ++j) {
          const int64_t n = 16 * p + j;
          float amax = 0.0f;
          for (int64_t k = 32 * kb; n < c.N && k < std::min(c.K, 32 * kb + 32); ++k)
            amax = std::max(amax, std::fabs(at(B, c, k, n)));
          float scale;
          std::memcpy(&scale, blk + 4 * j, 4);
          ASSERT_EQ(scale, amax / 127.0f) << "p=" << p << " kb=" << kb << " j=" << j;
          for (int64_t r = 0; r < 32; ++r) {
            const int64_t k = 32 * kb + r;
            const int8_t q = int8_t(blk[64 + 16 * r + j]);
            if (n >= c.N || k >= c.K) {
              ASSERT_EQ(q, 0) << "padding at p=" << p << " k=" << k << " j=" << j;
              continue;
            }
            const float w = at(B, c, k, n);
            // Round to nearest: the reconstruction is within half a step.
            ASSERT_LE(std::fabs(float(q) * scale - w), 0.5f * scale * (1 + 1e-5f) + 1e-30f)
                << "k=" << k << " n=" << n;
            ASSERT_LE(std::abs(int(q)), 127);
          }
        }
      }
  }
}

TEST(MatmulQ8, PackRefusesNonFiniteWeights) {
  std::vector<float> B(64 * 20, 0.5f);
  AlignedBuffer out(size_t(bmc_pack_q8_bytes(64, 20)));
  EXPECT_EQ(bmc_pack_q8(B.data(), 64, 20, 20, 0, out.data()), 0);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY}) {
    B[size_t(40 * 20 + 17)] = bad;
    EXPECT_EQ(bmc_pack_q8(B.data(), 64, 20, 20, 0, out.data()), -1) << bad;
  }
}

// The reference against plain fp32 arithmetic on the dequantized matrix
// (from the packed bytes by the definition, not by the kernels' helper).
TEST(MatmulQ8, RefIsTheMatmulOfTheDequantizedWeights) {
  std::mt19937 rng(5);
  const Q8Case c{7, 37, 70, true, true, 2};
  const std::vector<float> B = makeB(c, rng);
  AlignedBuffer packed = pack(B, c);
  const auto *bytes = reinterpret_cast<const uint8_t *>(packed.data());
  const int64_t blocks = (c.K + 31) / 32;
  auto deq = [&](int64_t k, int64_t n) {
    const uint8_t *blk = bytes + ((n / 16) * blocks + k / 32) * 576;
    float scale;
    std::memcpy(&scale, blk + 4 * (n % 16), 4);
    return float(int8_t(blk[64 + 16 * (k % 32) + n % 16])) * scale;
  };
  const std::vector<float> A = randomVector(size_t(c.M * c.K), rng), bias = randomVector(size_t(c.N), rng);
  std::vector<float> C(size_t(c.M * c.N));
  ref::matmulQ8(poolFor(c.threads), c.M, c.N, c.K, A.data(), c.K, packed.data(), bias.data(), C.data(), c.N);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double want = bias[size_t(n)], scale = std::fabs(want);
      for (int64_t k = 0; k < c.K; ++k) {
        want += double(A[size_t(m * c.K + k)]) * deq(k, n);
        scale += std::fabs(double(A[size_t(m * c.K + k)]) * deq(k, n));
      }
      ASSERT_TRUE(closeTo(C[size_t(m * c.N + n)], float(want), scale)) << "m=" << m << " n=" << n;
    }
}

// Rewrites a packed int4 matrix's zero points to random values in [0, 15]
// (bmc_pack_q4 always writes 8; MatMulNBits weights carry their own).
using Mutate = void (*)(AlignedBuffer &packed, const Q8Case &c, std::mt19937 &rng);
void randomZeroPoints(AlignedBuffer &packed, const Q8Case &c, std::mt19937 &rng) {
  auto *bytes = reinterpret_cast<uint8_t *>(packed.data());
  const int64_t blocks = (c.K + 31) / 32, panels = (c.N + 15) / 16;
  for (int64_t b = 0; b < panels * blocks; ++b)
    for (int64_t j = 0; j < 16; ++j)
      bytes[b * 336 + 64 + j] = uint8_t(rng() % 16);
}

template <class Fast>
void checkQ8(const Q8Case &c, std::mt19937 &rng, Fast fast, const Format &f = kQ8, Mutate mutate = nullptr) {
  SCOPED_TRACE(describe(c) + " " + f.name + (mutate ? " (mutated)" : ""));
  const std::vector<float> B = makeB(c, rng);
  AlignedBuffer packed = pack(B, c, f);
  if (mutate)
    mutate(packed, c, rng);
  const int64_t lda = c.K + 2, ldc = c.N + 1;
  const std::vector<float> A = randomVector(size_t(c.M * lda), rng), bias = randomVector(size_t(c.N), rng);
  std::vector<float> want(size_t(c.M * ldc), 555.0f), got = want;
  const float *b = c.bias ? bias.data() : nullptr;
  f.ref(nullptr, c.M, c.N, c.K, A.data(), lda, packed.data(), b, want.data(), ldc);
  fast(poolFor(c.threads), c.M, c.N, c.K, A.data(), lda, packed.data(), b, got.data(), ldc);
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      double scale = 0; // bounds the summed terms: |a| <= 1, |w| <= 100
      for (int64_t k = 0; k < c.K; ++k)
        scale += std::fabs(A[size_t(m * lda + k)]) * std::fabs(at(B, c, k, n));
      ASSERT_TRUE(closeTo(got[size_t(m * ldc + n)], want[size_t(m * ldc + n)], scale + 1.0))
          << "m=" << m << " n=" << n;
    }
    ASSERT_EQ(got[size_t(m * ldc + c.N)], 555.0f) << "wrote past N in row " << m;
  }
}

template <class Fast> void sweepQ8(std::mt19937 &rng, Fast fast, const Format &f = kQ8, Mutate mutate = nullptr) {
  int i = 0;
  for (int64_t M = 1; M <= 14; ++M)
    for (int64_t K : {1, 31, 33, 100, 513}) {
      ++i;
      const int64_t N = i % 4 == 0 ? 1 : i % 4 == 1 ? 17 : i % 4 == 2 ? 100 : 32;
      checkQ8({M, N, K, i % 2 == 0, i % 3 != 0, 1 + i % 3}, rng, fast, f, mutate);
      if (::testing::Test::HasFatalFailure())
        return;
    }
  // Prefill sizes (M > 12: dequantized panel groups + the fp32 GEMM) and a
  // model shape.
  for (const Q8Case &c : {Q8Case{40, 150, 70, false, true, 2}, Q8Case{73, 33, 513, true, false, 3},
                          Q8Case{5, 2048, 512, true, false, 2}, Q8Case{1, 8192, 512, false, false, 1},
                          Q8Case{3, 7, 0, false, true, 1}}) {
    checkQ8(c, rng, fast, f, mutate);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

// The int8 GEMVs with a given software prefetch distance (the results must
// not depend on it: every distance's kernels are separate instances).
template <int Dist>
void q8Avx2(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
            const float *bias, float *C, int64_t ldc) {
  avx2::matmulQ8(pool, M, N, K, A, lda, Bq, bias, C, ldc, Dist);
}
template <int Dist>
void q8Avx512(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) {
  avx512::matmulQ8(pool, M, N, K, A, lda, Bq, bias, C, ldc, Dist);
}

TEST(MatmulQ8, Avx2MatchesRef) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(17);
  sweepQ8(rng, q8Avx2<kernels::kQ8PrefetchDefault>);
  sweepQ8(rng, q8Avx2<0>);
  sweepQ8(rng, q8Avx2<16384>);
  sweepQ8(rng, q8Avx2<4096>);
}

TEST(MatmulQ8, Avx512MatchesRef) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  std::mt19937 rng(19);
  sweepQ8(rng, q8Avx512<kernels::kQ8PrefetchDefault>);
  sweepQ8(rng, q8Avx512<0>);
  sweepQ8(rng, q8Avx512<16384>);
  sweepQ8(rng, q8Avx512<4096>);
}

TEST(MatmulQ8, RefusesAnUnknownPrefetchDistance) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::vector<float> A(64, 1.0f), C(16);
  std::vector<uint8_t> B(size_t(bmc_pack_q8_bytes(64, 16)), 0);
  EXPECT_THROW(q8Avx2<1000>(nullptr, 1, 16, 64, A.data(), 64, B.data(), nullptr, C.data(), 16), std::invalid_argument);
  if (avx512::cpuSupported())
    EXPECT_THROW(q8Avx512<1000>(nullptr, 1, 16, 64, A.data(), 64, B.data(), nullptr, C.data(), 16),
                 std::invalid_argument);
}

TEST(MatmulQ8, CAbiMatchesRef) {
  std::mt19937 rng(23);
  auto viaAbi = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
                   const float *bias, float *C, int64_t ldc) {
    bmc_matmul_q8_f32(pool, M, N, K, A, lda, Bq, bias, C, ldc);
  };
  checkQ8({1, 100, 513, true, true, 2}, rng, viaAbi);
  checkQ8({5, 33, 70, false, false, 1}, rng, viaAbi);
  checkQ8({30, 40, 64, false, true, 2}, rng, viaAbi);
}

// ---- int4 ----

TEST(MatmulQ4, PackFollowsTheDefinition) {
  std::mt19937 rng(29);
  for (const Q8Case &c : {Q8Case{1, 37, 70, false, false, 1}, Q8Case{1, 16, 33, true, false, 1}}) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> B = makeB(c, rng);
    AlignedBuffer packed = pack(B, c, kQ4);
    const int64_t blocks = (c.K + 31) / 32, panels = (c.N + 15) / 16;
    ASSERT_EQ(bmc_pack_q4_bytes(c.K, c.N), panels * blocks * 336);
    const auto *bytes = reinterpret_cast<const uint8_t *>(packed.data());
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t kb = 0; kb < blocks; ++kb) {
        const uint8_t *blk = bytes + (p * blocks + kb) * 336;
        for (int64_t j = 0; j < 16; ++j) {
          const int64_t n = 16 * p + j;
          float vmax = 0.0f; // the signed value of largest magnitude
          for (int64_t k = 32 * kb; n < c.N && k < std::min(c.K, 32 * kb + 32); ++k)
            if (std::fabs(at(B, c, k, n)) > std::fabs(vmax))
              vmax = at(B, c, k, n);
          float scale;
          std::memcpy(&scale, blk + 4 * j, 4);
          ASSERT_EQ(scale, vmax / -8.0f) << "p=" << p << " kb=" << kb << " j=" << j;
          ASSERT_EQ(blk[64 + j], 8) << "zero point";
          for (int64_t k = 32 * kb; n < c.N && k < std::min(c.K, 32 * kb + 32); ++k) {
            const int64_t r = k - 32 * kb;
            const uint8_t byte = blk[80 + 16 * (r / 2) + j];
            const int q = r % 2 ? byte >> 4 : byte & 15;
            // Round to nearest within [0, 15]: within half a step, except
            // values beyond +7 steps, which clip to code 15.
            const float w = at(B, c, k, n), back = float(q - 8) * scale;
            if (q != 15 && q != 0)
              ASSERT_LE(std::fabs(back - w), 0.5f * std::fabs(scale) * (1 + 1e-5f) + 1e-30f) << "k=" << k;
            if (k == 32 * kb && vmax != 0.0f && w == vmax)
              ASSERT_EQ(q, 0) << "the largest magnitude is code 0";
          }
        }
      }
  }
}

TEST(MatmulQ4, PackRefusesNonFiniteWeights) {
  std::vector<float> B(64 * 20, 0.5f);
  AlignedBuffer out(size_t(bmc_pack_q4_bytes(64, 20)));
  EXPECT_EQ(bmc_pack_q4(B.data(), 64, 20, 20, 0, out.data()), 0);
  B[size_t(3 * 20 + 1)] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(bmc_pack_q4(B.data(), 64, 20, 20, 0, out.data()), -1);
}

// The reference against fp32 arithmetic on weights decoded from the bytes.
TEST(MatmulQ4, RefIsTheMatmulOfTheDequantizedWeights) {
  std::mt19937 rng(31);
  const Q8Case c{5, 37, 71, false, true, 2};
  const std::vector<float> B = makeB(c, rng);
  AlignedBuffer packed = pack(B, c, kQ4);
  const auto *bytes = reinterpret_cast<const uint8_t *>(packed.data());
  const int64_t blocks = (c.K + 31) / 32;
  auto deq = [&](int64_t k, int64_t n) {
    const uint8_t *blk = bytes + ((n / 16) * blocks + k / 32) * 336;
    float scale;
    std::memcpy(&scale, blk + 4 * (n % 16), 4);
    const uint8_t byte = blk[80 + 16 * ((k % 32) / 2) + n % 16];
    return float(((k % 32) % 2 ? byte >> 4 : byte & 15) - int(blk[64 + n % 16])) * scale;
  };
  const std::vector<float> A = randomVector(size_t(c.M * c.K), rng), bias = randomVector(size_t(c.N), rng);
  std::vector<float> C(size_t(c.M * c.N));
  ref::matmulQ4(poolFor(c.threads), c.M, c.N, c.K, A.data(), c.K, packed.data(), bias.data(), C.data(), c.N);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double want = bias[size_t(n)], scale = std::fabs(want);
      for (int64_t k = 0; k < c.K; ++k) {
        want += double(A[size_t(m * c.K + k)]) * deq(k, n);
        scale += std::fabs(double(A[size_t(m * c.K + k)]) * deq(k, n));
      }
      ASSERT_TRUE(closeTo(C[size_t(m * c.N + n)], float(want), scale)) << "m=" << m << " n=" << n;
    }
}

// The int4 GEMVs with each code decoding forced (Auto picks one by vendor).
template <Q4Decode D>
void q4Avx2(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
            const float *bias, float *C, int64_t ldc) {
  avx2::matmulQ4(pool, M, N, K, A, lda, Bq, bias, C, ldc, D);
}
template <Q4Decode D>
void q4Avx512(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
              const float *bias, float *C, int64_t ldc) {
  avx512::matmulQ4(pool, M, N, K, A, lda, Bq, bias, C, ldc, D);
}
constexpr auto q4Convert = q4Avx512<Q4Decode::Convert>;
constexpr auto q4Subnormal = q4Avx512<Q4Decode::Subnormal>;

TEST(MatmulQ4, Avx2MatchesRef) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(37);
  sweepQ8(rng, q4Avx2<Q4Decode::Convert>, kQ4);
  sweepQ8(rng, q4Avx2<Q4Decode::Subnormal>, kQ4);
  sweepQ8(rng, q4Avx2<Q4Decode::SubnormalNoPrefetch>, kQ4);
  sweepQ8(rng, q4Avx2<Q4Decode::SubnormalPrefetch4K>, kQ4);
}

TEST(MatmulQ4, Avx512MatchesRef) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  std::mt19937 rng(41);
  sweepQ8(rng, q4Convert, kQ4);
  sweepQ8(rng, q4Subnormal, kQ4);
  sweepQ8(rng, q4Avx512<Q4Decode::Auto>, kQ4);
  sweepQ8(rng, q4Avx512<Q4Decode::SubnormalNoPrefetch>, kQ4);
  sweepQ8(rng, q4Avx512<Q4Decode::SubnormalPrefetch4K>, kQ4);
}

// Zero points other than 8 (MatMulNBits), every small M, odd K and N, both ISAs.
TEST(MatmulQ4, AnyZeroPointMatchesRef) {
  std::mt19937 rng(47);
  if (haveAvx2()) {
    sweepQ8(rng, q4Avx2<Q4Decode::Convert>, kQ4, randomZeroPoints);
    sweepQ8(rng, q4Avx2<Q4Decode::Subnormal>, kQ4, randomZeroPoints);
  }
  if (avx512::cpuSupported()) {
    sweepQ8(rng, q4Convert, kQ4, randomZeroPoints);
    sweepQ8(rng, q4Subnormal, kQ4, randomZeroPoints);
  }
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
}

// Rows of A of magnitudes from 1e-6 to 1e10 (inside the Subnormal kernel's scaling
// range), random zero points: the Subnormal kernel computes the Convert
// kernel's bits (its sums are the same roundings times a power of two).
TEST(MatmulQ4, SubnormalEqualsConvertBitForBit) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine";
  std::mt19937 rng(53);
  int i = 0;
  for (int64_t M : {1, 2, 3, 5, 8, 9, 12})
    for (int64_t K : {1, 31, 33, 100, 513}) {
      const Q8Case c{M, 17 + 16 * (i % 3), K, i % 2 == 0, false, 1 + i % 2};
      ++i;
      SCOPED_TRACE(describe(c));
      AlignedBuffer packed = pack(makeB(c, rng), c, kQ4);
      randomZeroPoints(packed, c, rng);
      std::vector<float> A = randomVector(size_t(M * K), rng);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
          A[size_t(m * K + k)] *= std::pow(10.0f, float(int(m % 5) * 4 - 6));
      // A bias on every other case: the Subnormal kernel adds it in its own store.
      const std::vector<float> bias = randomVector(size_t(c.N), rng);
      const float *b = i % 2 ? bias.data() : nullptr;
      std::vector<float> conv(size_t(M * c.N)), sub(conv.size());
      q4Convert(poolFor(c.threads), M, c.N, K, A.data(), K, packed.data(), b, conv.data(), c.N);
      q4Subnormal(poolFor(c.threads), M, c.N, K, A.data(), K, packed.data(), b, sub.data(), c.N);
      ASSERT_EQ(std::memcmp(conv.data(), sub.data(), conv.size() * sizeof(float)), 0);
    }
}

// Rows outside the scaling range (largest |a| below 2^-27 or at or above
// 2^78: 1e-30, 1e24), an all-zero row, and MXCSR.DAZ set (subnormal inputs
// read as 0): the Subnormal request must still give the reference's result
// (the Convert kernel runs), AVX-512 and AVX2 (whose Subnormal kernel takes
// 1-2 rows: M = 2 and 4). Not above ~1e29: the Convert kernel's lanes
// carry codes times 2^24 and overflow there (a known limit of that kernel).
TEST(MatmulQ4, SubnormalOutOfRangeAndDazMatchRef) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(59);
  for (int64_t M : {2, 4}) {
    const Q8Case c{M, 37, 70, false, true, 1};
    AlignedBuffer packed = pack(makeB(c, rng), c, kQ4);
    const std::vector<float> bias = randomVector(size_t(c.N), rng);
    for (float rowScale : {1e-30f, 1e-9f, 0.0f, 1.0f, 1e24f})
      for (bool daz : {false, true}) {
        SCOPED_TRACE("row 1 scaled by " + std::to_string(rowScale) + (daz ? ", DAZ" : ""));
        std::vector<float> A = randomVector(size_t(c.M * c.K), rng);
        for (int64_t k = 0; k < c.K; ++k)
          A[size_t(c.K + k)] *= rowScale;
        std::vector<float> want(size_t(c.M * c.N)), got(want.size());
        ref::matmulQ4(nullptr, c.M, c.N, c.K, A.data(), c.K, packed.data(), bias.data(), want.data(), c.N);
        const unsigned csr = _mm_getcsr();
        if (daz)
          _mm_setcsr(csr | 0x40);
        std::vector<float> got2(want.size());
        q4Avx2<Q4Decode::Subnormal>(nullptr, c.M, c.N, c.K, A.data(), c.K, packed.data(), bias.data(), got2.data(),
                                    c.N);
        if (avx512::cpuSupported())
          q4Subnormal(nullptr, c.M, c.N, c.K, A.data(), c.K, packed.data(), bias.data(), got.data(), c.N);
        else
          got = got2;
        _mm_setcsr(csr);
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t n = 0; n < c.N; ++n) {
            double scale = std::fabs(bias[size_t(n)]);
            for (int64_t k = 0; k < c.K; ++k)
              scale += std::fabs(double(A[size_t(m * c.K + k)])) * 100.0; // |w| <= 100 (makeB)
            ASSERT_TRUE(closeTo(got[size_t(m * c.N + n)], want[size_t(m * c.N + n)], scale))
                << "m=" << m << " n=" << n;
            ASSERT_TRUE(closeTo(got2[size_t(m * c.N + n)], want[size_t(m * c.N + n)], scale))
                << "AVX2 m=" << m << " n=" << n;
          }
      }
  }
}

TEST(MatmulQ4, CAbiMatchesRef) {
  std::mt19937 rng(43);
  auto viaAbi = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
                   const float *bias, float *C, int64_t ldc) {
    bmc_matmul_q4_f32(pool, M, N, K, A, lda, Bq, bias, C, ldc);
  };
  checkQ8({1, 100, 513, true, true, 2}, rng, viaAbi, kQ4);
  checkQ8({7, 33, 70, false, false, 1}, rng, viaAbi, kQ4);
  checkQ8({30, 40, 65, false, true, 2}, rng, viaAbi, kQ4);
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
