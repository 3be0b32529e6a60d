// Packed and strided matmuls: the fast kernels against the reference on odd
// sizes, tails, padded leading dimensions, transposed/strided operands and
// batch broadcast, with 1 and 2 threads; the reference against a naive loop
// on the unpacked B to pin down the packed layout.
#include "matmul_a8.h"
#include "test_util.h"

#include <fstream>

#include <cstring>
#include <string>

namespace bmc {
namespace kernels {
namespace test {
namespace {

constexpr float kSentinel = 777.0f;

struct PackedCase {
  int64_t M, N, K;
  bool bias, transB;
  int threads;
};

std::string describe(const PackedCase &c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         (c.bias ? " bias" : "") + (c.transB ? " transB" : "") + " threads=" + std::to_string(c.threads);
}

// Runs one case; `fast` is the implementation under test.
template <class Fast> void checkPacked(const PackedCase &c, std::mt19937 &rng, Fast fast) {
  SCOPED_TRACE(describe(c));
  const int64_t lda = c.K + 3, ldc = c.N + 5, ldb = c.transB ? c.K + 2 : c.N + 2;
  std::vector<float> A = randomVector(size_t(std::max<int64_t>(1, c.M * lda)), rng);
  std::vector<float> B = randomVector(size_t(std::max<int64_t>(1, (c.transB ? c.N : c.K) * ldb)), rng);
  std::vector<float> bias = randomVector(size_t(c.N), rng);
  auto b = [&](int64_t k, int64_t n) { return c.transB ? B[size_t(n * ldb + k)] : B[size_t(k * ldb + n)]; };

  AlignedBuffer packed(size_t(bmc_pack_b_f32_bytes(c.K, c.N)));
  bmc_pack_b_f32(B.data(), c.K, c.N, ldb, c.transB, packed.data());

  std::vector<float> want(size_t(c.M * ldc), kSentinel), got(size_t(c.M * ldc), kSentinel);
  const float *biasPtr = c.bias ? bias.data() : nullptr;
  ref::matmulPacked(nullptr, c.M, c.N, c.K, A.data(), lda, packed.data(), biasPtr, want.data(), ldc);
  fast(poolFor(c.threads), c.M, c.N, c.K, A.data(), lda, packed.data(), biasPtr, got.data(), ldc);

  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      double scale = c.bias ? std::fabs(bias[size_t(n)]) : 0.0, exact = c.bias ? bias[size_t(n)] : 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        scale += std::fabs(double(A[size_t(m * lda + k)]) * b(k, n));
        exact += double(A[size_t(m * lda + k)]) * b(k, n);
      }
      ASSERT_TRUE(closeTo(want[size_t(m * ldc + n)], float(exact), scale, 1e-6)) << "ref m=" << m << " n=" << n;
      ASSERT_TRUE(closeTo(got[size_t(m * ldc + n)], want[size_t(m * ldc + n)], scale)) << "m=" << m << " n=" << n;
    }
    for (int64_t n = c.N; n < ldc; ++n)
      ASSERT_EQ(got[size_t(m * ldc + n)], kSentinel) << "wrote past N at m=" << m << " n=" << n;
  }
}

TEST(PackB, LayoutIsPanelsOf16KMajorZeroPadded) {
  std::mt19937 rng(1);
  const int64_t K = 5, N = 21;
  std::vector<float> B = randomVector(size_t(K * N), rng), Bt(size_t(N * K));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      Bt[size_t(n * K + k)] = B[size_t(k * N + n)];
  ASSERT_EQ(bmc_pack_b_f32_bytes(K, N), 2 * K * 16 * 4);
  AlignedBuffer p0(size_t(bmc_pack_b_f32_bytes(K, N))), p1(size_t(bmc_pack_b_f32_bytes(K, N)));
  bmc_pack_b_f32(B.data(), K, N, N, 0, p0.data());
  bmc_pack_b_f32(Bt.data(), K, N, K, 1, p1.data());
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t n = 16 * p + j, off = p * K * 16 + k * 16 + j;
        const float want = n < N ? B[size_t(k * N + n)] : 0.0f;
        EXPECT_EQ(p0.data()[off], want);
        EXPECT_EQ(p1.data()[off], want);
      }
}

// Weights come straight from a mapped ONNX file, where raw_data has any
// alignment. Found by UBSan (build-asan: a misaligned float load in pack_b.cpp
// while bmc-compile packed a generated model); this is its regression test
// there, and checks elsewhere that the result does not depend on alignment.
TEST(PackB, ReadsUnalignedSources) {
  std::mt19937 rng(2);
  const int64_t K = 7, N = 19;
  std::vector<float> B = randomVector(size_t(K * N), rng);
  std::vector<unsigned char> bytes(B.size() * sizeof(float) + 1);
  std::memcpy(bytes.data() + 1, B.data(), B.size() * sizeof(float));
  const float *unaligned = reinterpret_cast<const float *>(bytes.data() + 1);
  for (int32_t trans : {0, 1}) {
    AlignedBuffer want(size_t(bmc_pack_b_f32_bytes(K, N))), got(size_t(bmc_pack_b_f32_bytes(K, N)));
    const int64_t ldb = trans ? K : N;
    bmc_pack_b_f32(B.data(), K, N, ldb, trans, want.data());
    bmc_pack_b_f32(unaligned, K, N, ldb, trans, got.data());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), size_t(bmc_pack_b_f32_bytes(K, N))), 0) << "trans_b " << trans;
  }
}

TEST(MatmulPacked, Avx2MatchesRefOnOddSizes) {
  if (!haveJit())
    GTEST_SKIP() << "no AVX2/FMA or no JIT on this machine";
  std::mt19937 rng(42);
  const int64_t Ms[] = {1, 2, 3, 4, 5, 6, 7, 13, 17, 33};
  const int64_t Ns[] = {1, 2, 3, 5, 7, 16, 17, 31, 33, 50};
  const int64_t Ks[] = {1, 2, 3, 5, 7, 17, 31, 33, 300};
  int i = 0;
  for (int64_t M : Ms)
    for (int64_t N : Ns)
      for (int64_t K : Ks) {
        ++i;
        PackedCase c{M, N, K, i % 2 == 0, i % 3 == 0, 1 + i % 2};
        checkPacked(c, rng, avx2::matmulPacked);
        if (HasFatalFailure())
          return;
      }
}

// Every row count of the small-M paths (decode and speculative verification,
// M = k + 1 <= 9, and a margin to 12), with panel tails (N % 16 != 0), K
// around the AVX2 two-group chunk (128) and odd unroll tails.
template <class Fast> void checkSmallM(std::mt19937 &rng, Fast fast) {
  const int64_t Ns[] = {1, 15, 16, 17, 50};
  const int64_t Ks[] = {1, 3, 17, 127, 129, 300};
  int i = 0;
  for (int64_t M = 1; M <= 12; ++M)
    for (int64_t N : Ns)
      for (int64_t K : Ks) {
        ++i;
        checkPacked(PackedCase{M, N, K, i % 2 == 0, i % 3 == 0, 1 + i % 3}, rng, fast);
        if (::testing::Test::HasFatalFailure())
          return;
      }
  // Weights large enough (>= 32 KB) to be split across threads.
  for (int64_t M = 1; M <= 12; ++M)
    for (int threads : {2, 3}) {
      checkPacked(PackedCase{M, 200, 333, M % 2 == 0, M % 3 == 0, threads}, rng, fast);
      if (::testing::Test::HasFatalFailure())
        return;
    }
}

TEST(MatmulPacked, Avx2SmallMMatchesRefForEveryM) {
  if (!haveJit())
    GTEST_SKIP() << "no AVX2/FMA or no JIT on this machine";
  std::mt19937 rng(12);
  checkSmallM(rng, avx2::matmulPacked);
}

TEST(MatmulPacked, Avx512SmallMMatchesRefForEveryM) {
  if (!avx512::supported())
    GTEST_SKIP() << "no AVX-512F (or no JIT) on this machine";
  std::mt19937 rng(13);
  checkSmallM(rng, avx512::matmulPacked);
}

TEST(MatmulPacked, Avx512MatchesRefOnOddSizesAndLargeM) {
  if (!avx512::supported())
    GTEST_SKIP() << "no AVX-512F (or no JIT) on this machine";
  std::mt19937 rng(14);
  // Past maxGemvRows() the AVX2 GEMM takes over; K = 0 writes the bias.
  const PackedCase cases[] = {
      {13, 33, 65, true, false, 2}, {33, 17, 31, false, true, 1}, {12, 8192, 64, false, false, 2},
      {9, 2048, 512, true, false, 1}, {5, 512, 2048, false, true, 2}, {3, 7, 0, true, false, 1},
      {11, 7, 0, false, false, 1},
  };
  for (const PackedCase &c : cases) {
    checkPacked(c, rng, avx512::matmulPacked);
    if (HasFatalFailure())
      return;
  }
}

TEST(MatmulPacked, Avx2MatchesRefOnModelShapes) {
  if (!haveJit())
    GTEST_SKIP() << "no AVX2/FMA or no JIT on this machine";
  std::mt19937 rng(7);
  const PackedCase cases[] = {
      {1, 2048, 512, true, false, 1},  {1, 2048, 512, true, false, 2},
      {2, 512, 2048, false, true, 2},  {4, 1536, 512, true, false, 2},
      {1, 16, 4096, false, false, 2},  {3, 40, 600, true, true, 2},
      {77, 512, 512, true, false, 2},  {128, 24, 530, false, false, 2},
      {200, 96, 257, true, true, 1},   {512, 48, 64, true, false, 2},
      {9, 8192, 64, false, false, 2},  {1, 1000, 300, true, false, 3},
      {50, 40, 70, false, true, 3},
  };
  for (const PackedCase &c : cases) {
    checkPacked(c, rng, avx2::matmulPacked);
    if (HasFatalFailure())
      return;
  }
}

TEST(MatmulPacked, CAbiMatchesRef) {
  std::mt19937 rng(3);
  auto viaAbi = [](ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                   const void *Bp, const float *bias, float *C, int64_t ldc) {
    bmc_matmul_packed_f32(pool, M, N, K, A, lda, Bp, bias, C, ldc);
  };
  for (PackedCase c : {PackedCase{1, 33, 17, true, false, 2}, PackedCase{19, 35, 70, false, true, 2},
                       PackedCase{3, 7, 1, true, true, 1}}) {
    checkPacked(c, rng, viaAbi);
    if (HasFatalFailure())
      return;
  }
}

TEST(MatmulPacked, ZeroKGivesBiasOrZero) {
  AlignedBuffer packed(64);
  const float bias[3] = {1.0f, -2.0f, 3.0f};
  float C[6] = {9, 9, 9, 9, 9, 9};
  bmc_matmul_packed_f32(nullptr, 2, 3, 0, nullptr, 0, packed.data(), bias, C, 3);
  for (int m = 0; m < 2; ++m)
    for (int n = 0; n < 3; ++n)
      EXPECT_EQ(C[m * 3 + n], bias[n]);
  bmc_matmul_packed_f32(nullptr, 2, 3, 0, nullptr, 0, packed.data(), nullptr, C, 3);
  for (float x : C)
    EXPECT_EQ(x, 0.0f);
}

// ---- Strided batched matmul ----

enum class ALayout { RowMajor, Transposed, ColStride2 };
enum class BLayout { RowMajor, Transposed, Strided };

struct StridedCase {
  int64_t batch, M, N, K;
  ALayout a;
  BLayout b;
  bool broadcastA, broadcastB;
  int threads;
};

template <class Fast> void checkStrided(const StridedCase &c, std::mt19937 &rng, Fast fast) {
  SCOPED_TRACE("batch=" + std::to_string(c.batch) + " M=" + std::to_string(c.M) + " N=" +
               std::to_string(c.N) + " K=" + std::to_string(c.K) + " a=" + std::to_string(int(c.a)) +
               " b=" + std::to_string(int(c.b)) + " bcastA=" + std::to_string(c.broadcastA) +
               " bcastB=" + std::to_string(c.broadcastB) + " threads=" + std::to_string(c.threads));
  StridedMatmul p{};
  p.batch = c.batch;
  p.M = c.M;
  p.N = c.N;
  p.K = c.K;
  int64_t aSize = 0, bSize = 0;
  switch (c.a) {
  case ALayout::RowMajor: p.a_rs = c.K + 1; p.a_cs = 1; aSize = c.M * p.a_rs; break;
  case ALayout::Transposed: p.a_rs = 1; p.a_cs = c.M + 2; aSize = c.K * p.a_cs; break;
  case ALayout::ColStride2: p.a_rs = 2 * c.K + 3; p.a_cs = 2; aSize = c.M * p.a_rs; break;
  }
  switch (c.b) {
  case BLayout::RowMajor: p.b_rs = c.N + 3; p.b_cs = 1; bSize = c.K * p.b_rs; break;
  case BLayout::Transposed: p.b_rs = 1; p.b_cs = c.K + 1; bSize = c.N * p.b_cs; break;
  case BLayout::Strided: p.b_rs = 3 * c.N + 1; p.b_cs = 3; bSize = c.K * p.b_rs; break;
  }
  p.a_bs = c.broadcastA ? 0 : aSize + 5;
  p.b_bs = c.broadcastB ? 0 : bSize + 7;
  p.c_rs = c.N + 4;
  p.c_bs = c.M * p.c_rs + 3;
  std::vector<float> A = randomVector(size_t(std::max<int64_t>(1, p.a_bs * (c.batch - 1) + aSize)), rng);
  std::vector<float> B = randomVector(size_t(std::max<int64_t>(1, p.b_bs * (c.batch - 1) + bSize)), rng);
  const size_t cSize = size_t(p.c_bs * c.batch);
  std::vector<float> want(cSize, kSentinel), got(cSize, kSentinel);
  p.A = A.data();
  p.B = B.data();
  p.C = want.data();
  ref::matmulStrided(nullptr, p);
  p.C = got.data();
  fast(poolFor(c.threads), p);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t n = 0; n < c.N; ++n) {
        double scale = 0.0;
        for (int64_t k = 0; k < c.K; ++k)
          scale += std::fabs(double(A[size_t(b * p.a_bs + m * p.a_rs + k * p.a_cs)]) *
                             B[size_t(b * p.b_bs + k * p.b_rs + n * p.b_cs)]);
        const size_t at = size_t(b * p.c_bs + m * p.c_rs + n);
        ASSERT_TRUE(closeTo(got[at], want[at], scale)) << "b=" << b << " m=" << m << " n=" << n;
      }
      for (int64_t n = c.N; n < p.c_rs && b * p.c_bs + m * p.c_rs + n < int64_t(cSize); ++n)
        ASSERT_EQ(got[size_t(b * p.c_bs + m * p.c_rs + n)], kSentinel) << "wrote past N";
    }
}

TEST(MatmulStrided, Avx2MatchesRefOnLayouts) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(5);
  const int64_t Ms[] = {1, 2, 3, 4, 5, 17};
  const int64_t Ns[] = {1, 7, 17, 33, 70};
  const int64_t Ks[] = {1, 3, 31, 64};
  const ALayout as[] = {ALayout::RowMajor, ALayout::Transposed, ALayout::ColStride2};
  const BLayout bs[] = {BLayout::RowMajor, BLayout::Transposed, BLayout::Strided};
  int i = 0;
  for (int64_t M : Ms)
    for (int64_t N : Ns)
      for (int64_t K : Ks)
        for (ALayout a : as)
          for (BLayout b : bs) {
            ++i;
            StridedCase c{1 + i % 3, M, N, K, a, b, i % 7 == 0, i % 5 == 0, 1 + i % 2};
            checkStrided(c, rng, avx2::matmulStrided);
            if (HasFatalFailure())
              return;
          }
}

TEST(MatmulStrided, Avx2MatchesRefOnAttentionShapes) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(9);
  const StridedCase cases[] = {
      {8, 1, 1000, 64, ALayout::RowMajor, BLayout::Transposed, false, false, 2}, // q k^T, decode
      {8, 1, 64, 1000, ALayout::RowMajor, BLayout::RowMajor, false, false, 2},   // p v, decode
      {4, 40, 77, 64, ALayout::RowMajor, BLayout::Transposed, false, false, 2},  // q k^T, prefill
      {4, 40, 64, 77, ALayout::RowMajor, BLayout::RowMajor, false, false, 2},    // p v, prefill
      {3, 100, 20, 33, ALayout::RowMajor, BLayout::RowMajor, false, true, 2},    // shared B
      {2, 9, 300, 5, ALayout::Transposed, BLayout::Strided, true, false, 1},
      {5, 3, 100, 40, ALayout::RowMajor, BLayout::Transposed, false, false, 3},
      {5, 30, 100, 40, ALayout::RowMajor, BLayout::RowMajor, false, false, 3},
  };
  for (const StridedCase &c : cases) {
    checkStrided(c, rng, avx2::matmulStrided);
    if (HasFatalFailure())
      return;
  }
}

TEST(MatmulStrided, CAbiMatchesRef) {
  std::mt19937 rng(11);
  auto viaAbi = [](ThreadPool *pool, const StridedMatmul &p) {
    bmc_matmul_strided_f32(pool, p.batch, p.M, p.N, p.K, p.A, p.a_bs, p.a_rs, p.a_cs, p.B, p.b_bs,
                           p.b_rs, p.b_cs, p.C, p.c_bs, p.c_rs);
  };
  checkStrided({3, 2, 19, 9, ALayout::RowMajor, BLayout::Transposed, false, false, 2}, rng, viaAbi);
  checkStrided({2, 11, 19, 9, ALayout::ColStride2, BLayout::Strided, false, true, 2}, rng, viaAbi);
}

TEST(Dispatch, EnvironmentSelectsImplementation) {
  const char *env = std::getenv("BMC_KERNELS");
  const std::string isa = bmc_kernels_isa();
  if (env && std::string(env) == "ref")
    EXPECT_EQ(isa, "ref");
  else if (haveJit() && avx512::supported() && !(env && (std::string(env) == "avx2" || std::string(env) == "avxvnni")))
    EXPECT_EQ(isa, "avx512");
  else if (haveJit())
    EXPECT_EQ(isa, "avx2");
  else
    EXPECT_TRUE(isa == "ref" || isa == "avx2-nojit") << isa;
}

// The int8-activation level: AVX-512 VNNI unless BMC_KERNELS keeps to the
// AVX2 sets, AVX-VNNI unless BMC_KERNELS=avx2, else vpmaddubsw.
TEST(Dispatch, EnvironmentSelectsInt8ActivationLevel) {
  const char *env = std::getenv("BMC_KERNELS");
  const std::string want = env ? env : "auto", isa = bmc_kernels_a8_isa();
  if (want == "ref")
    EXPECT_EQ(isa, "ref");
  else if (!avx2::cpuSupported())
    EXPECT_EQ(isa, "ref");
  else if (avx512::vnniSupported() && avx512::cpuSupported() && want != "avx2" && want != "avxvnni")
    EXPECT_EQ(isa, "avx512-vnni");
  else if (avxvnni::supported() && want != "avx2")
    EXPECT_EQ(isa, "avx-vnni");
  else
    EXPECT_EQ(isa, "avx2");
}

// The floor under the ISA-specific tests' skips: on a CPU whose
// /proc/cpuinfo lists avx2+fma (avx512f), the AVX2 (AVX-512) tests must run,
// so a broken feature check cannot quietly turn them into skips.
TEST(Dispatch, FeatureChecksAgreeWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  if (!in)
    GTEST_SKIP() << "no /proc/cpuinfo";
  std::string line, flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  auto has = [&](const char *f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
  EXPECT_EQ(avx2::cpuSupported(), has("avx2") && has("fma"));
  EXPECT_EQ(avx512::cpuSupported(), has("avx512f"));
  EXPECT_EQ(avx512::vnniSupported(), has("avx512f") && has("avx512bw") && has("avx512_vnni"));
  EXPECT_EQ(avxvnni::supported(), has("avx2") && has("fma") && has("avx_vnni"));
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
