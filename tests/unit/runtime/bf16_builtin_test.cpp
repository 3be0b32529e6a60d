//===- bf16_builtin_test.cpp - the runtime's __truncsfbf2 -----------------===//
//
// Generated code calls __truncsfbf2 for fptrunc float -> bfloat where the CPU
// has no instruction for it (before AVX512-BF16, e.g. Zen 3): the runtime
// defines it (runtime/ExecContext.cpp). Checked here on every machine against
// a plain nearest-even rounding computed in double, on random bit patterns and
// the edge cases (ties, the largest finite values, subnormals, infinities, NaNs).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

extern "C" __bf16 __truncsfbf2(float x);

namespace {

uint16_t truncBits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return __builtin_bit_cast(uint16_t, __truncsfbf2(x));
}

// bf16 bits -> its value in double; the pattern after the largest finite one
// (the exponent all ones) stands for 2^128, where nearest-even rounds to infinity.
double valueOf(uint16_t b) {
  double mag = (b & 0x7f80u) == 0x7f80u ? std::ldexp(1.0, 128) : [&] {
    uint32_t u = uint32_t(b & 0x7fffu) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return double(f);
  }();
  return (b & 0x8000u) ? -mag : mag;
}

// Nearest bf16, ties to even: the two bf16 values around x by truncation.
uint16_t reference(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  uint16_t lo = uint16_t(u >> 16), hi = uint16_t(lo + 1);
  if (std::isinf(x) || (u & 0xffffu) == 0)
    return lo;
  double dlo = std::fabs(double(x) - valueOf(lo)), dhi = std::fabs(valueOf(hi) - double(x));
  if (dlo != dhi)
    return dlo < dhi ? lo : hi;
  return (lo & 1u) ? hi : lo;
}

void expectRounded(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  uint16_t got = truncBits(u);
  if (std::isnan(x)) {
    EXPECT_EQ(got & 0x7f80u, 0x7f80u) << std::hex << u;
    EXPECT_NE(got & 0x40u, 0u) << "a NaN becomes a quiet NaN: " << std::hex << u;
    EXPECT_EQ(got & 0x8000u, (u >> 16) & 0x8000u) << "sign of " << std::hex << u;
    return;
  }
  EXPECT_EQ(got, reference(u)) << "bits 0x" << std::hex << u;
}

TEST(Bf16Builtin, EdgeCasesRoundToNearestEven) {
  for (uint32_t u : {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00008000u, 0x00018000u, 0x3f808000u,
                     0x3f818000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu, 0x7f7f7fffu, 0x7f7f8000u, 0xff7f8000u,
                     0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0xff800001u})
    expectRounded(u);
  // Ties to even, both ways, and what a truncation would get wrong.
  EXPECT_EQ(truncBits(0x3f808000u), 0x3f80u); // 1 + 2^-8: tie, 0x3f80 is even
  EXPECT_EQ(truncBits(0x3f818000u), 0x3f82u); // tie, 0x3f81 is odd: up
  EXPECT_EQ(truncBits(0x3f80c000u), 0x3f81u); // above the tie: up
  EXPECT_EQ(truncBits(0x7f7fffffu), 0x7f80u); // FLT_MAX rounds to infinity
}

TEST(Bf16Builtin, RandomBitPatternsMatchThePlainRounding) {
  std::mt19937 rng(7);
  for (int i = 0; i < 1 << 20; ++i)
    expectRounded(uint32_t(rng()));
}

} // namespace
