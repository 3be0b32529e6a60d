// KV cache element conversions: fp32 <-> bf16 / IEEE fp16.
//
// The reference is plain integer arithmetic on the bit patterns, one element
// at a time; the AVX2 path converts 8 elements per instruction sequence (bf16:
// integer rounding; fp16: F16C vcvtps2ph / vcvtph2ps) and gives the same bits,
// NaNs included (tests/unit/kernels/kv_convert_test.cpp).
#include "bmc/abi/kernels.h"
#include "kernels_internal.h"
#include "simd_avx2.h"

#include <cmath>
#include <cstring>

#include <xbyak/xbyak_util.h>

namespace bmc {
namespace kernels {

uint16_t f32ToBF16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u); // NaN: quiet, sign kept
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                  // ties to even; may round to inf
}

float bf16ToF32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

uint16_t f32ToF16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); // NaN: quiet, top payload bits
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u); // >= 65520 (half way past 65504) and inf: inf
  if (a >= 0x38800000u)                                  // normal in fp16 (>= 2^-14): rebias, round 13 bits away
    return uint16_t(sign | ((a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13));
  // Subnormal or zero in fp16: a count of 2^-24 units, exact in float after
  // the power-of-two scaling, rounded to nearest even (1024 = the smallest normal).
  float units;
  std::memcpy(&units, &a, 4);
  return uint16_t(sign | uint32_t(std::nearbyint(units * 16777216.0f)));
}

float f16ToF32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t u;
  if (e == 0) {
    float x = float(m) * (1.0f / 16777216.0f); // exact
    std::memcpy(&u, &x, 4);
    u |= sign;
  } else if (e == 31) {
    u = sign | 0x7f800000u | (m << 13);
  } else {
    u = sign | ((e + 112u) << 23) | (m << 13);
  }
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

namespace ref {
void convertToKV(int32_t t, const float *src, void *dst, int64_t n) noexcept {
  if (t == BMC_KV_F32) {
    std::memcpy(dst, src, size_t(n) * 4);
    return;
  }
  auto *d = static_cast<uint16_t *>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = t == BMC_KV_BF16 ? f32ToBF16(src[i]) : f32ToF16(src[i]);
}

void convertFromKV(int32_t t, const void *src, float *dst, int64_t n) noexcept {
  for (int64_t i = 0; i < n; ++i) dst[i] = kvElement(t, src, i);
}
} // namespace ref

namespace avx2 {
bool f16cSupported() {
  static const bool ok = [] {
    Xbyak::util::Cpu cpu;
    return cpuSupported() && cpu.has(Xbyak::util::Cpu::tF16C);
  }();
  return ok;
}

namespace {
#define BMC_F16C __attribute__((target("avx2,fma,f16c")))

BMC_F16C void toBF16(const float *src, uint16_t *dst, int64_t n) {
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), quiet = _mm256_set1_epi32(0x400000);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(src + i);
    const __m256i u = _mm256_castps_si256(x);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, bias), _mm256_and_si256(_mm256_srli_epi32(u, 16), one));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    r = _mm256_srli_epi32(_mm256_blendv_epi8(r, _mm256_or_si256(u, quiet), nan), 16);
    // 32 -> 16 bits (values <= 0xffff: no saturation), lanes back in order.
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), _mm256_castsi256_si128(p));
  }
  for (; i < n; ++i) dst[i] = f32ToBF16(src[i]);
}

BMC_F16C void toF16(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) dst[i] = f32ToF16(src[i]);
}

BMC_F16C void fromBF16(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
  }
  for (; i < n; ++i) dst[i] = bf16ToF32(src[i]);
}

BMC_F16C void fromF16(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i))));
  for (; i < n; ++i) dst[i] = f16ToF32(src[i]);
}
} // namespace

void convertToKV(int32_t t, const float *src, void *dst, int64_t n) {
  if (t == BMC_KV_BF16) toBF16(src, static_cast<uint16_t *>(dst), n);
  else if (t == BMC_KV_F16) toF16(src, static_cast<uint16_t *>(dst), n);
  else std::memcpy(dst, src, size_t(n) * 4);
}

void convertFromKV(int32_t t, const void *src, float *dst, int64_t n) {
  if (t == BMC_KV_BF16) fromBF16(static_cast<const uint16_t *>(src), dst, n);
  else if (t == BMC_KV_F16) fromF16(static_cast<const uint16_t *>(src), dst, n);
  else std::memcpy(dst, src, size_t(n) * 4);
}
} // namespace avx2

} // namespace kernels
} // namespace bmc
