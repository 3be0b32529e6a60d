// KV element conversions (fp32 <-> bf16 / fp16): the plain reference checked
// against the definition (nearest representable value, ties to even, exact
// widening of every 16-bit pattern, known boundary values), and the AVX2/F16C
// path against the reference bit for bit on random values, specials and tails.
#include "test_util.h"

#include <cfloat>
#include <cstring>
#include <limits>

namespace bmc {
namespace kernels {
namespace test {
namespace {

uint32_t bitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

float widen(int32_t t, uint16_t h) { return t == BMC_KV_BF16 ? bf16ToF32(h) : f16ToF32(h); }
uint16_t narrow(int32_t t, float x) { return t == BMC_KV_BF16 ? f32ToBF16(x) : f32ToF16(x); }

const int32_t kTypes[] = {BMC_KV_BF16, BMC_KV_F16};

// Every finite 16-bit pattern widens to a value that narrows back to itself;
// NaN patterns stay NaN (quieted), infinities stay infinite.
TEST(KVConvert, RefRoundTripsEvery16BitPattern) {
  for (int32_t t : kTypes)
    for (uint32_t h = 0; h < 65536; ++h) {
      const float x = widen(t, uint16_t(h));
      const uint16_t back = narrow(t, x);
      if (std::isnan(x)) {
        ASSERT_TRUE(std::isnan(widen(t, back))) << "type " << t << " pattern " << h;
        ASSERT_EQ(back & 0x8000, h & 0x8000) << "sign of NaN " << h;
      } else {
        ASSERT_EQ(back, h) << "type " << t << " pattern " << h << " value " << x;
      }
    }
}

// Random fp32 values (all exponents): the result is a nearest representable
// value, and of two equally near ones the even pattern.
TEST(KVConvert, RefRoundsToNearestEven) {
  std::mt19937 rng(5);
  for (int32_t t : kTypes)
    for (int i = 0; i < 400000; ++i) {
      uint32_t u = uint32_t(rng());
      if (i % 4 == 0) u = (u & 0x8000ffffu) | (uint32_t(110 + rng() % 36) << 23); // fp16's range and ties
      float x;
      std::memcpy(&x, &u, 4);
      if (std::isnan(x)) continue;
      const uint16_t r = narrow(t, x);
      const double got = widen(t, r);
      if (std::isinf(got)) { // overflow: beyond the largest finite value's rounding boundary
        const double maxFinite = t == BMC_KV_BF16 ? double(widen(t, 0x7f7f)) : 65504.0;
        const double ulp = t == BMC_KV_BF16 ? std::ldexp(1.0, 127 - 7) : 32.0;
        ASSERT_TRUE(std::isinf(x) || std::fabs(double(x)) >= maxFinite + ulp / 2) << x;
        continue;
      }
      const double err = std::fabs(double(x) - got);
      for (int d : {-1, 1}) {
        const uint16_t n = uint16_t(r + d);
        if (((n ^ r) & 0x8000) || ((n & 0x7fff) == 0x7fff) || ((r & 0x7fff) == 0 && d == -1)) continue;
        const double other = widen(t, n);
        if (std::isnan(other) || std::isinf(other)) continue;
        const double oerr = std::fabs(double(x) - other);
        ASSERT_LE(err, oerr) << "type " << t << " x=" << x << " pattern " << r << " neighbour " << n;
        if (err == oerr) ASSERT_EQ(r & 1, 0) << "tie not to even: x=" << x;
      }
    }
}

TEST(KVConvert, RefBoundaryValues) {
  // fp16: largest finite, the overflow boundary (65520 ties to the even 65536 = inf), smallest subnormal.
  EXPECT_EQ(f32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(f32ToF16(65519.996f), 0x7bff);
  EXPECT_EQ(f32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(f32ToF16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -25)), 0x0000);                 // tie: to even (0)
  EXPECT_EQ(f32ToF16(std::ldexp(3.0f, -25)), 0x0002);                 // 1.5 units: tie to even (2)
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -14) * 0.99999994f), 0x0400);   // rounds up into the normals
  EXPECT_EQ(f32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(f32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);          // tie: even
  EXPECT_EQ(f32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f16ToF32(0x3555), 0.333251953125f);
  // bf16: 8 significand bits.
  EXPECT_EQ(f32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(f32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie: even
  EXPECT_EQ(f32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(f32ToBF16(FLT_MAX), 0x7f80);                       // rounds to inf
  EXPECT_EQ(f32ToBF16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBF16(std::numeric_limits<float>::signaling_NaN()))));
  EXPECT_EQ(bitsOf(bf16ToF32(0xc040)), 0xc0400000u);
}

// Fast conversions against the reference, bit for bit, at lengths with tails.
TEST(KVConvert, Avx2MatchesRef) {
  if (!avx2::f16cSupported())
    GTEST_SKIP() << "no AVX2 + F16C on this machine";
  std::mt19937 rng(11);
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN(),
                            FLT_MAX, -FLT_MAX, 65504.0f, 65520.0f, 65519.0f, std::ldexp(1.0f, -24),
                            std::ldexp(1.0f, -25), std::ldexp(3.0f, -25), std::numeric_limits<float>::denorm_min(),
                            1.0f + std::ldexp(1.0f, -8), 1.0f + std::ldexp(1.0f, -11), 3.0e-6f, -7.5e-8f};
  for (int32_t t : kTypes)
    for (int64_t n : {1, 7, 8, 9, 31, 1000, 4099}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        uint32_t u = uint32_t(rng());
        if (i % 3 == 0) u = (u & 0x8000ffffu) | (uint32_t(100 + rng() % 50) << 23);
        std::memcpy(&x[size_t(i)], &u, 4);
        if (i % 5 == 0) x[size_t(i)] = specials[size_t(i / 5) % (sizeof specials / sizeof *specials)];
      }
      std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), 0xdead);
      ref::convertToKV(t, x.data(), want.data(), n);
      avx2::convertToKV(t, x.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(got[size_t(i)], want[size_t(i)]) << "type " << t << " n=" << n << " x=" << x[size_t(i)];
      std::vector<float> wantF(static_cast<size_t>(n)), gotF(static_cast<size_t>(n));
      ref::convertFromKV(t, want.data(), wantF.data(), n);
      avx2::convertFromKV(t, want.data(), gotF.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(bitsOf(gotF[size_t(i)]), bitsOf(wantF[size_t(i)])) << "type " << t << " pattern " << want[size_t(i)];
    }
}

// The C ABI (also run with BMC_KERNELS=ref): the same bits as the reference.
TEST(KVConvert, CAbiMatchesRef) {
  std::mt19937 rng(13);
  for (int32_t t : {BMC_KV_F32, BMC_KV_BF16, BMC_KV_F16}) {
    EXPECT_EQ(bmc_kv_elem_bytes(t), t == BMC_KV_F32 ? 4 : 2);
    std::vector<float> x = randomVector(333, rng, -70000.0f, 70000.0f), back(333);
    std::vector<uint16_t> want(333 * 2), got(333 * 2);
    ref::convertToKV(t, x.data(), want.data(), 333);
    bmc_convert_f32_to_kv(t, x.data(), got.data(), 333);
    ASSERT_EQ(want, got) << "type " << t;
    bmc_convert_kv_to_f32(t, got.data(), back.data(), 333);
    for (int i = 0; i < 333; ++i) {
      const float w = t == BMC_KV_F32 ? x[size_t(i)] : widen(t, want[size_t(i)]);
      ASSERT_EQ(bitsOf(back[size_t(i)]), bitsOf(w)) << "type " << t << " at " << i;
    }
  }
  EXPECT_EQ(bmc_kv_elem_bytes(3), 0);
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
