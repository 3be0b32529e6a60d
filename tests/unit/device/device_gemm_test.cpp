// Device::gemm on the CPU device (the plain fp32-accumulating loop) and on the
// CUDA device (cuBLASLt; Gpu skips without a GPU), against a reference in
// double built here from op(A) and op(B) written out explicitly: odd sizes,
// padded leading dimensions, every transpose, f32/f16/bf16 inputs, f32 and
// 16-bit outputs, alpha and beta. Also: cuBLASLt opens and every entry point
// resolves (no GPU needed), and bad descriptions are one-line errors.
#include "bmc/abi/kernels.h"
#include "device_backends.h"
#include "runtime/device/CublasLt.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;
using bmc_device_test::DeviceKind;

namespace {

int kvCode(GemmType t) {
  return t == GemmType::F32 ? BMC_KV_F32 : t == GemmType::F16 ? BMC_KV_F16 : BMC_KV_BF16;
}

// A rows x cols matrix with leading dimension ld, stored as `type`; `values`
// holds the stored (rounded) values widened back, padding included.
struct Matrix {
  int64_t rows, cols, ld;
  GemmType type;
  std::vector<unsigned char> bytes;
  std::vector<float> values;
  float at(int64_t r, int64_t c) const { return values[size_t(r * ld + c)]; }
};

Matrix randomMatrix(int64_t rows, int64_t cols, int64_t ld, GemmType t, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Matrix m{rows, cols, ld, t, {}, {}};
  size_t n = size_t((rows - 1) * ld + cols);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  m.bytes.resize(n * (t == GemmType::F32 ? 4 : 2));
  m.values.resize(n);
  bmc_convert_f32_to_kv(kvCode(t), v.data(), m.bytes.data(), int64_t(n));
  bmc_convert_kv_to_f32(kvCode(t), m.bytes.data(), m.values.data(), int64_t(n));
  return m;
}

std::vector<float> widen(const std::vector<unsigned char> &bytes, GemmType t) {
  size_t n = bytes.size() / (t == GemmType::F32 ? 4 : 2);
  std::vector<float> v(n);
  bmc_convert_kv_to_f32(kvCode(t), bytes.data(), v.data(), int64_t(n));
  return v;
}

bool oneLine(const Status &s) { return !s && s.message().find('\n') == std::string::npos; }

class GemmTest : public ::testing::TestWithParam<DeviceKind> {
protected:
  void SetUp() override { BMC_DEVICE_OR_SKIP(GetParam()); }
  Device &dev() { return *bmc_device_test::deviceSlot(GetParam()).device; }

  // `offset` bytes into a fresh allocation (an operand that is not 256-byte aligned).
  DevicePtr upload(const Matrix &m, int64_t offset) {
    auto p = dev().allocate(m.bytes.size() + size_t(offset));
    EXPECT_TRUE(p) << p.status().message();
    if (!p)
      return 0;
    allocations_.push_back(p.value());
    DevicePtr at = p.value() + DevicePtr(offset);
    EXPECT_TRUE(dev().copyToDevice(at, m.bytes.data(), m.bytes.size()));
    return at;
  }
  void TearDown() override {
    for (DevicePtr p : allocations_)
      EXPECT_TRUE(dev().free(p));
    allocations_.clear();
  }
  std::vector<DevicePtr> allocations_;

  // Runs one GEMM and checks every element of C (padding included: untouched).
  void check(int64_t m, int64_t n, int64_t k, bool transA, bool transB, GemmType ab, GemmType ct,
             float alpha, float beta, unsigned seed, int64_t misalignElements = 0) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                 (transA ? " A^T" : "") + (transB ? " B^T" : "") + " " + gemmTypeName(ab) + " -> " +
                 gemmTypeName(ct) + " alpha " + std::to_string(alpha) + " beta " +
                 std::to_string(beta) + " misaligned by " + std::to_string(misalignElements));
    // Leading dimensions padded by an odd amount.
    Matrix a = transA ? randomMatrix(k, m, m + 3, ab, seed) : randomMatrix(m, k, k + 5, ab, seed);
    Matrix b = transB ? randomMatrix(n, k, k + 1, ab, seed + 1)
                      : randomMatrix(k, n, n + 7, ab, seed + 1);
    Matrix c = randomMatrix(m, n, n + 2, ct, seed + 2);
    int64_t abOffset = misalignElements * (ab == GemmType::F32 ? 4 : 2);
    int64_t cOffset = misalignElements * (ct == GemmType::F32 ? 4 : 2);
    DevicePtr pa = upload(a, abOffset), pb = upload(b, 3 * abOffset), pc = upload(c, cOffset);
    ASSERT_TRUE(pa && pb && pc);
    GemmDesc g;
    g.m = m, g.n = n, g.k = k;
    g.transA = transA, g.transB = transB;
    g.abType = ab, g.cType = ct;
    g.a = pa, g.b = pb, g.c = pc;
    g.lda = a.ld, g.ldb = b.ld, g.ldc = c.ld;
    g.alpha = alpha, g.beta = beta;
    Status s = dev().gemm(g);
    if (GetParam() == DeviceKind::Gpu && !s &&
        s.message().find(lt::kNoCublasLt) != std::string::npos && !bmc_device_test::gpuRequired())
      GTEST_SKIP() << s.message();
    ASSERT_TRUE(s) << s.message();
    ASSERT_TRUE(dev().synchronize());
    std::vector<unsigned char> out(c.bytes.size());
    ASSERT_TRUE(dev().copyToHost(out.data(), pc, out.size()));
    std::vector<float> got = widen(out, ct);
    // The reference: op(A) and op(B) written out, products summed in double.
    std::vector<double> opA(size_t(m * k)), opB(size_t(k * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p)
        opA[size_t(i * k + p)] = transA ? a.at(p, i) : a.at(i, p);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j)
        opB[size_t(p * n + j)] = transB ? b.at(j, p) : b.at(p, j);
    // fp32 accumulation: error within k * 2^-23 of the sum of |products| (a
    // generous bound, 4x); a 16-bit C adds its rounding (2^-8 bf16, 2^-11 f16).
    double roundC = ct == GemmType::F32 ? 0x1p-23 : ct == GemmType::BF16 ? 0x1p-8 : 0x1p-11;
    for (int64_t i = 0; i < c.rows; ++i)
      for (int64_t j = 0; j < c.ld && (i < c.rows - 1 || j < c.cols); ++j) {
        size_t at = size_t(i * c.ld + j);
        if (j >= n) {
          ASSERT_EQ(std::memcmp(&got[at], &c.values[at], 4), 0) << "padding of C written at " << i << "," << j;
          continue;
        }
        double sum = 0, mag = 0;
        for (int64_t p = 0; p < k; ++p) {
          double prod = opA[size_t(i * k + p)] * opB[size_t(p * n + j)];
          sum += prod;
          mag += std::fabs(prod);
        }
        double want = double(alpha) * sum + double(beta) * c.values[at];
        double bound = 4.0 * double(k + 2) * 0x1p-23 * (std::fabs(alpha) * mag +
                                                        std::fabs(beta * c.values[at])) +
                       roundC * std::fabs(want) + 1e-30;
        ASSERT_LE(std::fabs(got[at] - want), bound) << "C[" << i << "," << j << "] = " << got[at]
                                                    << ", want " << want;
      }
  }
};

} // namespace

TEST_P(GemmTest, EveryTransposeAndTypeAgainstTheReference) {
  unsigned seed = 10;
  for (GemmType ab : {GemmType::F32, GemmType::F16, GemmType::BF16})
    for (bool transA : {false, true})
      for (bool transB : {false, true}) {
        check(7, 13, 33, transA, transB, ab, GemmType::F32, 1.0f, 0.0f, seed += 3);
        check(17, 5, 67, transA, transB, ab, ab, 0.75f, -0.5f, seed += 3);
        if (HasFatalFailure() || IsSkipped())
          return;
      }
}

TEST_P(GemmTest, OddShapes) {
  // A decode-shaped GEMV (m 1), a long k, a single column, a 1x1x1.
  check(1, 257, 129, false, true, GemmType::BF16, GemmType::F32, 1.0f, 0.0f, 90);
  check(3, 1, 1000, true, false, GemmType::F32, GemmType::F32, -2.0f, 1.0f, 91);
  check(1, 1, 1, false, false, GemmType::F16, GemmType::F16, 1.0f, 1.0f, 92);
  check(65, 31, 9, true, true, GemmType::F16, GemmType::F32, 0.5f, 0.25f, 93);
  // Operands one element (and three) past an allocation's start: not 256-byte aligned.
  check(9, 23, 41, false, false, GemmType::F16, GemmType::F16, 1.0f, 0.5f, 94, 1);
  check(9, 23, 41, true, false, GemmType::F32, GemmType::F32, 1.0f, 0.0f, 95, 1);
  check(4, 8, 16, false, true, GemmType::BF16, GemmType::F32, 1.0f, 0.0f, 96, 1);
}

TEST_P(GemmTest, BadDescriptionsAreOneLineErrors) {
  Device &d = dev();
  auto p = d.allocate(4096);
  ASSERT_TRUE(p);
  GemmDesc g;
  g.m = 4, g.n = 4, g.k = 4;
  g.a = g.b = g.c = p.value();
  g.lda = g.ldb = g.ldc = 4;
  struct Case {
    const char *expect;
    void (*edit)(GemmDesc &);
  } cases[] = {
      {"each must be at least 1", [](GemmDesc &g) { g.k = 0; }},
      {"lda 3 is less than k", [](GemmDesc &g) { g.lda = 3; }},
      {"lda 4 is less than m", [](GemmDesc &g) { g.transA = true, g.m = 5; }},
      {"ldb 2 is less than n", [](GemmDesc &g) { g.ldb = 2; }},
      {"ldc 3 is less than n", [](GemmDesc &g) { g.ldc = 3; }},
      {"C of type bf16 with A and B of type f16",
       [](GemmDesc &g) { g.abType = GemmType::F16, g.cType = GemmType::BF16; }},
      {"null B", [](GemmDesc &g) { g.b = 0; }},
  };
  for (const Case &c : cases) {
    GemmDesc bad = g;
    c.edit(bad);
    Status s = d.gemm(bad);
    EXPECT_TRUE(oneLine(s)) << c.expect;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
  if (GetParam() == DeviceKind::Cpu) {
    // The CPU device checks the operands against its allocations.
    GemmDesc big = g;
    big.m = 40, big.n = 40, big.k = 40, big.lda = big.ldb = big.ldc = 40; // 6400 bytes each
    Status s = d.gemm(big);
    EXPECT_TRUE(oneLine(s));
    EXPECT_NE(s.message().find("outside every allocation"), std::string::npos) << s.message();
  }
  ASSERT_TRUE(d.free(p.value()));
}

// The library is looked up at run time; the toolkit on this machine has it.
TEST(CublasLt, OpensAndResolvesEveryEntryPoint) {
  auto lt = lt::loadCublasLt();
  if (!lt) {
    if (BMC_CUDA_CONFIGURED)
      FAIL() << "configured with CUDA but " << lt.status().message();
    GTEST_SKIP() << lt.status().message() << " (and built without CUDA)";
  }
  const lt::Api &api = *lt.value()->api;
  for (const void *fn :
       {(const void *)api.cublasLtGetVersion, (const void *)api.cublasLtGetStatusName,
        (const void *)api.cublasLtCreate, (const void *)api.cublasLtDestroy,
        (const void *)api.cublasLtMatmulDescCreate, (const void *)api.cublasLtMatmulDescDestroy,
        (const void *)api.cublasLtMatmulDescSetAttribute,
        (const void *)api.cublasLtMatrixLayoutCreate, (const void *)api.cublasLtMatrixLayoutDestroy,
        (const void *)api.cublasLtMatmulPreferenceCreate,
        (const void *)api.cublasLtMatmulPreferenceDestroy,
        (const void *)api.cublasLtMatmulPreferenceSetAttribute,
        (const void *)api.cublasLtMatmulAlgoGetHeuristic, (const void *)api.cublasLtMatmul})
    EXPECT_NE(fn, nullptr);
  size_t version = api.cublasLtGetVersion();
  std::cout << "cuBLASLt " << version << " from " << lt.value()->path << "\n";
  EXPECT_GE(version, 120000u); // 12.x or 13.x (major * 10000 + minor * 100 + patch)
  // Status names come from the library: a one-line error for a failed call.
  Status s = lt::check(api, 15, "cublasLtMatmul");
  EXPECT_EQ(s.message(), "cublasLt: cublasLtMatmul: CUBLAS_STATUS_NOT_SUPPORTED");
}

INSTANTIATE_TEST_SUITE_P(Device, GemmTest, ::testing::Values(DeviceKind::Cpu, DeviceKind::Gpu),
                         bmc_device_test::deviceKindName);
