// int8 activations x int8/int4 weights (kernels.h, "int8 activations"): the
// activation quantizer against its definition (and the AVX2 quantizer against
// the scalar one, bit for bit), the dot layouts against the weight-only ones
// they are rewritten from, the reference against exact integer arithmetic
// written here from the definition, and the AVX2 and AVX-512 VNNI kernels
// against the reference on odd sizes (K not a multiple of 32, N odd, every M
// to 14, prefill sizes, 1-3 threads).
#include "matmul_a8.h"
#include "test_util.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace bmc {
namespace kernels {
namespace test {
namespace {

struct Case {
  int64_t M, N, K;
  bool bias;
  int threads;
};

std::string describe(const Case &c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         (c.bias ? " bias" : "") + " threads=" + std::to_string(c.threads);
}

using Matmul = void (*)(ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *, const float *,
                        float *, int64_t);

struct Format {
  const char *name;
  int64_t blockBytes;
  int64_t (*bytes)(int64_t, int64_t);
  int32_t (*pack)(const float *, int64_t, int64_t, int64_t, int32_t, void *);
  void (*toDot)(const void *, int64_t, int64_t, void *);
  void (*ref)(ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *, const float *, float *,
              int64_t) noexcept;
};
const Format kQ8{"int8", 576, bmc_pack_q8_bytes, bmc_pack_q8, bmc_q8_to_dot, ref::matmulQ8A8};
const Format kQ4{"int4", 336, bmc_pack_q4_bytes, bmc_pack_q4, bmc_q4_to_dot, ref::matmulQ4A8};

// Weights [K, N] (ld N), columns of different magnitudes and an all-zero one.
std::vector<float> makeB(int64_t K, int64_t N, std::mt19937 &rng) {
  std::vector<float> B = randomVector(size_t(K * N), rng);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      float &w = B[size_t(k * N + n)];
      w *= n % 7 == 3 ? 100.0f : n % 7 == 5 ? 0.01f : 1.0f;
      if (n == 2)
        w = 0.0f;
    }
  return B;
}

struct Packed {
  AlignedBuffer weightOnly, dot;
  explicit Packed(int64_t bytes) : weightOnly(size_t(bytes)), dot(size_t(bytes)) {}
};

Packed pack(const Format &f, const std::vector<float> &B, int64_t K, int64_t N) {
  Packed p(f.bytes(K, N));
  EXPECT_EQ(f.pack(B.data(), K, N, N, 0, p.weightOnly.data()), 0);
  f.toDot(p.weightOnly.data(), K, N, p.dot.data());
  return p;
}

// ---- decoding, written from kernels.h ----

// Weight-only layouts (code, zero point, scale) of row k, column n.
struct W {
  int q, z;
  float s;
};
W weightOnly(const Format &f, const void *packed, int64_t K, int64_t k, int64_t n) {
  const auto *blk = static_cast<const uint8_t *>(packed) + ((n / 16) * ((K + 31) / 32) + k / 32) * f.blockBytes;
  const int64_t r = k % 32, j = n % 16;
  W w;
  std::memcpy(&w.s, blk + 4 * j, 4);
  if (f.blockBytes == 576) {
    w.q = int8_t(blk[64 + 16 * r + j]);
    w.z = 0;
  } else {
    const uint8_t b = blk[80 + 16 * (r / 2) + j];
    w.q = r % 2 ? b >> 4 : b & 15;
    w.z = blk[64 + j];
  }
  return w;
}
// Dot layouts: int8 stores q + 128; int4 rows 8g+i / 8g+4+i in the nibbles.
W dotLayout(const Format &f, const void *packed, int64_t K, int64_t k, int64_t n) {
  const auto *blk = static_cast<const uint8_t *>(packed) + ((n / 16) * ((K + 31) / 32) + k / 32) * f.blockBytes;
  const int64_t r = k % 32, j = n % 16;
  W w;
  std::memcpy(&w.s, blk + 4 * j, 4);
  if (f.blockBytes == 576) {
    w.q = int(blk[64 + 64 * (r / 4) + 4 * j + r % 4]) - 128;
    w.z = 0;
  } else {
    const uint8_t b = blk[80 + 64 * (r / 8) + 4 * j + r % 4];
    w.q = r % 8 < 4 ? b & 15 : b >> 4;
    w.z = blk[64 + j];
  }
  return w;
}

TEST(MatmulA8, DotLayoutHoldsTheSameWeights) {
  std::mt19937 rng(3);
  for (const Format *f : {&kQ8, &kQ4})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{70, 37}, {32, 16}, {1, 5}, {100, 1}}) {
      SCOPED_TRACE(std::string(f->name) + " K=" + std::to_string(K) + " N=" + std::to_string(N));
      const std::vector<float> B = makeB(K, N, rng);
      Packed p = pack(*f, B, K, N);
      for (int64_t n = 0; n < (N + 15) / 16 * 16; ++n)
        for (int64_t k = 0; k < (K + 31) / 32 * 32; ++k) {
          const W a = weightOnly(*f, p.weightOnly.data(), K, k, n), b = dotLayout(*f, p.dot.data(), K, k, n);
          ASSERT_EQ(a.q, b.q) << "k=" << k << " n=" << n;
          ASSERT_EQ(a.z, b.z) << "k=" << k << " n=" << n;
          ASSERT_EQ(std::memcmp(&a.s, &b.s, 4), 0) << "k=" << k << " n=" << n;
        }
    }
}

// An int8 code of -128 (MatMulNBits code 0 with zero point 128) survives the
// dot layout (stored as 0) and is computed exactly by every kernel.
TEST(MatmulA8, Int8CodeMinus128) {
  const int64_t K = 40, N = 3;
  AlignedBuffer wo(size_t(bmc_pack_q8_bytes(K, N))), dot(size_t(bmc_pack_q8_bytes(K, N)));
  std::vector<float> B(size_t(K * N), 1.0f);
  ASSERT_EQ(bmc_pack_q8(B.data(), K, N, N, 0, wo.data()), 0);
  auto *bytes = reinterpret_cast<uint8_t *>(wo.data());
  for (int64_t kb = 0; kb < 2; ++kb)
    for (int64_t r = 0; r < 32; ++r)
      bytes[kb * 576 + 64 + 16 * r + 1] = 0x80; // column 1: q = -128 everywhere
  bmc_q8_to_dot(wo.data(), K, N, dot.data());
  EXPECT_EQ(dotLayout(kQ8, dot.data(), K, 5, 1).q, -128);
  std::vector<float> A(size_t(2 * K), 1.0f), want(size_t(2 * N)), got(want.size());
  A[3] = -1.0f;
  ref::matmulQ8A8(nullptr, 2, N, K, A.data(), K, dot.data(), nullptr, want.data(), N);
  // Column 1: sum_k a_k * -128 * (1/127) with a quantized exactly (codes +-127, scale 1/127).
  EXPECT_NEAR(want[1], -128.0 / 127.0 * (K - 2), 1e-4);
  for (Matmul fast : {&avx2::matmulQ8A8, &avxvnni::matmulQ8A8, &avx512::matmulQ8A8}) {
    if ((fast == &avx2::matmulQ8A8 && !haveAvx2()) || (fast == &avxvnni::matmulQ8A8 && !avxvnni::supported()) ||
        (fast == &avx512::matmulQ8A8 && !avx512::vnniSupported()))
      continue;
    std::fill(got.begin(), got.end(), 0.0f);
    fast(nullptr, 2, N, K, A.data(), K, dot.data(), nullptr, got.data(), N);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(closeTo(got[i], want[i], 64.0)) << i;
  }
}

// ---- the activation quantizer ----

std::vector<float> activationRow(int64_t K, std::mt19937 &rng, int kind) {
  std::vector<float> a = randomVector(size_t(K), rng, -3.0f, 3.0f);
  if (kind == 1) // exact ties: amax 127 makes the step 1, values on .5
    for (int64_t k = 0; k < K; ++k)
      a[size_t(k)] = k % 32 == 0 ? 127.0f : float(int(k % 19) - 9) + 0.5f;
  if (kind == 2) // a zero block and a tiny one
    for (int64_t k = 0; k < std::min<int64_t>(K, 64); ++k)
      a[size_t(k)] = k < 32 ? 0.0f : 1e-35f;
  return a;
}

TEST(MatmulA8, QuantizerFollowsTheDefinition) {
  std::mt19937 rng(7);
  for (int64_t K : {1, 5, 31, 32, 33, 70, 513})
    for (int kind : {0, 1, 2}) {
      SCOPED_TRACE("K=" + std::to_string(K) + " kind=" + std::to_string(kind));
      const std::vector<float> a = activationRow(K, rng, kind);
      a8::QuantizedRows q;
      a8::quantizeRows(1, K, a.data(), K, q);
      ASSERT_EQ(q.nb, (K + 31) / 32);
      for (int64_t kb = 0; kb < q.nb; ++kb) {
        float amax = 0.0f;
        for (int64_t k = 32 * kb; k < std::min(K, 32 * kb + 32); ++k)
          amax = std::max(amax, std::fabs(a[size_t(k)]));
        const int8_t *codes = q.blockCodes(0, kb);
        int sum = 0;
        if (amax < 1e-30f) {
          ASSERT_EQ(q.scale[size_t(kb)], 0.0f);
        } else {
          ASSERT_EQ(q.scale[size_t(kb)], amax / 127.0f);
        }
        for (int64_t r = 0; r < 32; ++r) {
          const int64_t k = 32 * kb + r;
          sum += codes[r];
          if (k >= K || amax < 1e-30f) {
            ASSERT_EQ(codes[r], 0) << "k=" << k;
            continue;
          }
          const float x = a[size_t(k)] * (127.0f / amax);
          ASSERT_LE(std::fabs(float(codes[r]) - x), 0.5f) << "k=" << k;
          if (std::fabs(float(codes[r]) - x) == 0.5f)
            ASSERT_EQ(codes[r] % 2, 0) << "a tie rounds to even, k=" << k;
          if (std::fabs(a[size_t(k)]) == amax)
            ASSERT_EQ(std::abs(int(codes[r])), 127) << "k=" << k;
        }
        ASSERT_EQ(q.sum[size_t(kb)], float(sum));
      }
    }
}

// quantizeRows (AVX2 where available) gives the bits of quantizeBlock, the
// scalar definition the reference kernels use, NaN included.
TEST(MatmulA8, QuantizerSimdEqualsScalar) {
  std::mt19937 rng(9);
  for (int64_t K : {3, 32, 45, 100, 513}) {
    std::vector<float> a = randomVector(size_t(3 * K), rng, -10.0f, 10.0f);
    a[size_t(K + 1)] = std::numeric_limits<float>::quiet_NaN();
    a[size_t(2 * K)] = 1e-38f;
    a8::QuantizedRows q;
    a8::quantizeRows(3, K - 1, a.data(), K, q); // lda > K
    for (int64_t m = 0; m < 3; ++m)
      for (int64_t kb = 0; kb < q.nb; ++kb) {
        int8_t codes[32];
        float scale;
        const int sum = a8::quantizeBlock(a.data() + m * K + 32 * kb, std::min<int64_t>(32, K - 1 - 32 * kb), codes, &scale);
        ASSERT_EQ(std::memcmp(codes, q.blockCodes(m, kb), 32), 0) << "K=" << K << " m=" << m << " kb=" << kb;
        ASSERT_EQ(scale, q.scale[size_t(m * q.nb + kb)]);
        ASSERT_EQ(float(sum), q.sum[size_t(m * q.nb + kb)]);
      }
  }
}

// ---- the reference against exact integer arithmetic from the definition ----

TEST(MatmulA8, RefIsTheIntegerArithmetic) {
  std::mt19937 rng(11);
  for (const Format *f : {&kQ8, &kQ4}) {
    const Case c{5, 37, 71, true, 2};
    SCOPED_TRACE(std::string(f->name) + " " + describe(c));
    const std::vector<float> B = makeB(c.K, c.N, rng);
    Packed p = pack(*f, B, c.K, c.N);
    const std::vector<float> A = randomVector(size_t(c.M * c.K), rng), bias = randomVector(size_t(c.N), rng);
    std::vector<float> C(size_t(c.M * c.N)), Cw(C.size());
    f->ref(poolFor(c.threads), c.M, c.N, c.K, A.data(), c.K, p.dot.data(), bias.data(), C.data(), c.N);
    // The weight-only reference on the same weights (fp32 activations).
    (f == &kQ8 ? ref::matmulQ8 : ref::matmulQ4)(nullptr, c.M, c.N, c.K, A.data(), c.K, p.weightOnly.data(),
                                                  bias.data(), Cw.data(), c.N);
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double want = bias[size_t(n)], mag = std::fabs(want), bound = 0;
        for (int64_t kb = 0; kb < (c.K + 31) / 32; ++kb) {
          float amax = 0.0f;
          for (int64_t k = 32 * kb; k < std::min(c.K, 32 * kb + 32); ++k)
            amax = std::max(amax, std::fabs(A[size_t(m * c.K + k)]));
          const float sa = amax / 127.0f, inv = 127.0f / amax;
          int64_t dot = 0;
          double wabs = 0;
          float sw = 0;
          for (int64_t k = 32 * kb; k < std::min(c.K, 32 * kb + 32); ++k) {
            const int qa = int(std::nearbyint(A[size_t(m * c.K + k)] * inv));
            const W w = dotLayout(*f, p.dot.data(), c.K, k, n);
            dot += int64_t(qa) * (w.q - w.z);
            wabs += std::fabs(double(w.q - w.z) * w.s);
            sw = w.s;
          }
          want += double(sa) * double(sw) * double(dot);
          mag += std::fabs(double(sa) * double(sw) * double(dot));
          bound += 0.5 * double(sa) * wabs; // rounding a moves each product by <= s_a / 2 * |w|
        }
        ASSERT_TRUE(closeTo(C[size_t(m * c.N + n)], float(want), mag, 1e-6)) << "m=" << m << " n=" << n;
        // Against fp32 activations: within the activations' rounding.
        ASSERT_LE(std::fabs(double(C[size_t(m * c.N + n)]) - Cw[size_t(m * c.N + n)]), bound * 1.001 + 1e-5 * mag)
            << "m=" << m << " n=" << n;
      }
  }
}

// ---- fast kernels against the reference ----

void check(const Format &f, const Case &c, std::mt19937 &rng, Matmul fast) {
  SCOPED_TRACE(describe(c) + " " + f.name);
  const std::vector<float> B = makeB(std::max<int64_t>(c.K, 1), c.N, rng);
  Packed p = pack(f, B, c.K, c.N);
  const int64_t lda = c.K + 2, ldc = c.N + 1;
  const std::vector<float> A = randomVector(size_t(c.M * lda), rng), bias = randomVector(size_t(c.N), rng);
  std::vector<float> want(size_t(c.M * ldc), 555.0f), got = want;
  const float *b = c.bias ? bias.data() : nullptr;
  f.ref(nullptr, c.M, c.N, c.K, A.data(), lda, p.dot.data(), b, want.data(), ldc);
  fast(poolFor(c.threads), c.M, c.N, c.K, A.data(), lda, p.dot.data(), b, got.data(), ldc);
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      double scale = 0; // bounds the summed terms: |a| <= 1, |w| <= 100
      for (int64_t k = 0; k < c.K; ++k)
        scale += std::fabs(A[size_t(m * lda + k)]) * std::fabs(B[size_t(k * c.N + n)]);
      ASSERT_TRUE(closeTo(got[size_t(m * ldc + n)], want[size_t(m * ldc + n)], scale + 1.0))
          << "m=" << m << " n=" << n;
    }
    ASSERT_EQ(got[size_t(m * ldc + c.N)], 555.0f) << "wrote past N in row " << m;
  }
}

void sweep(const Format &f, std::mt19937 &rng, Matmul fast) {
  int i = 0;
  for (int64_t M = 1; M <= 14; ++M)
    for (int64_t K : {1, 31, 33, 100, 513}) {
      ++i;
      const int64_t N = i % 4 == 0 ? 1 : i % 4 == 1 ? 17 : i % 4 == 2 ? 101 : 32;
      check(f, {M, N, K, i % 3 != 0, 1 + i % 3}, rng, fast);
      if (::testing::Test::HasFatalFailure())
        return;
    }
  // Prefill sizes (the same arithmetic, rows in groups) and model shapes.
  for (const Case &c : {Case{40, 150, 70, true, 2}, Case{73, 33, 513, false, 3}, Case{5, 2048, 512, false, 2},
                        Case{1, 8192, 512, false, 1}, Case{3, 7, 0, true, 1}}) {
    check(f, c, rng, fast);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

TEST(MatmulA8, Avx2MatchesRef) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(13);
  sweep(kQ8, rng, avx2::matmulQ8A8);
  sweep(kQ4, rng, avx2::matmulQ4A8);
}

TEST(MatmulA8, AvxVnniMatchesRef) {
  if (!avxvnni::supported())
    GTEST_SKIP() << "no AVX-VNNI on this machine (the AVX2 path is tested above)";
  std::mt19937 rng(23);
  sweep(kQ8, rng, avxvnni::matmulQ8A8);
  sweep(kQ4, rng, avxvnni::matmulQ4A8);
}

TEST(MatmulA8, VnniMatchesRef) {
  if (!avx512::vnniSupported())
    GTEST_SKIP() << "no AVX-512 VNNI on this machine (the AVX2 path is tested above)";
  std::mt19937 rng(17);
  sweep(kQ8, rng, avx512::matmulQ8A8);
  sweep(kQ4, rng, avx512::matmulQ4A8);
}

TEST(MatmulA8, CAbiMatchesRef) {
  std::mt19937 rng(19);
  auto q8 = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) { bmc_matmul_q8_a8(pool, M, N, K, A, lda, B, bias, C, ldc); };
  auto q4 = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
               const float *bias, float *C, int64_t ldc) { bmc_matmul_q4_a8(pool, M, N, K, A, lda, B, bias, C, ldc); };
  for (const Case &c : {Case{1, 100, 513, true, 2}, Case{5, 33, 70, false, 1}, Case{30, 40, 64, true, 2}}) {
    check(kQ8, c, rng, q8);
    check(kQ4, c, rng, q4);
  }
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
