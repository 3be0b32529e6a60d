// Loads of K and V rows of any KV element type (kernels.h BMC_KV_*) as fp32
// vectors, for the attention microkernels: a bf16/fp16 cache is widened in
// registers as it is read (bf16: zero-extend to 32 bits and shift left by 16;
// fp16: F16C vcvtph2ps), so each K/V byte goes from memory straight into the
// FMAs and a 2-byte cache streams half the bytes of an fp32 one.
//
// The kernels that use these are compiled for AVX2 + FMA + F16C (BMC_KV_TARGET);
// the fp32 instantiations contain no F16C instruction, and the fp16 ones run
// only where avx2::f16cSupported() (attention_avx2.cpp's run() checks).
#ifndef BMC_RUNTIME_KERNELS_ATTENTION_KV_LOAD_H
#define BMC_RUNTIME_KERNELS_ATTENTION_KV_LOAD_H

#include "bmc/abi/kernels.h"

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#define BMC_KV_TARGET __attribute__((target("avx2,fma,f16c")))
#define BMC_KV_INLINE static inline __attribute__((target("avx2,fma,f16c"), always_inline))
#define BMC_KV_LAMBDA __attribute__((target("avx2,fma,f16c"), always_inline))
#define BMC_KV512_INLINE static inline __attribute__((target("avx512f,avx2,fma"), always_inline))

namespace bmc {
namespace kernels {
namespace kv {

// The C++ element type of a KV type: float, or the 16-bit pattern.
template <int KT> using Elem = std::conditional_t<KT == BMC_KV_F32, float, uint16_t>;

// K or V of the call as typed elements (strides count elements of kv_type).
template <int KT> inline const Elem<KT> *keys(const bmc_attention_args &a) {
  return static_cast<const Elem<KT> *>(a.k);
}
template <int KT> inline const Elem<KT> *values(const bmc_attention_args &a) {
  return static_cast<const Elem<KT> *>(a.v);
}

// Eight 16-bit elements widened to fp32.
template <int KT> BMC_KV_INLINE __m256 widen8(__m128i h) {
  if constexpr (KT == BMC_KV_BF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else
    return _mm256_cvtph_ps(h);
}

// p[0..8) as fp32.
template <int KT> BMC_KV_INLINE __m256 load8(const Elem<KT> *p) {
  if constexpr (KT == BMC_KV_F32)
    return _mm256_loadu_ps(p);
  else
    return widen8<KT>(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

// p[0..16) as fp32 (bf16 / fp16 widened in registers), AVX-512F: the group
// kernel's zmm loops and the AVX-512 group kernel share it.
template <int KT> BMC_KV512_INLINE __m512 load16(const Elem<KT> *p) {
  if constexpr (KT == BMC_KV_F32)
    return _mm512_loadu_ps(p);
  else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
    if constexpr (KT == BMC_KV_BF16)
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else
      return _mm512_cvtph_ps(h);
  }
}

// p[0..n) as fp32 (n in [1, 8), `mask` = simd::laneMask(n)), zeros after;
// never reads past p + n.
template <int KT> BMC_KV_INLINE __m256 loadPart(const Elem<KT> *p, int64_t n, __m256i mask) {
  if constexpr (KT == BMC_KV_F32) {
    (void)n;
    return _mm256_maskload_ps(p, mask);
  } else {
    (void)mask;
    alignas(16) uint16_t tmp[8] = {};
    std::memcpy(tmp, p, size_t(n) * 2);
    return widen8<KT>(_mm_load_si128(reinterpret_cast<const __m128i *>(tmp)));
  }
}

} // namespace kv
} // namespace kernels
} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_ATTENTION_KV_LOAD_H
