// Panel kernels of the int8-activation matmuls (matmul_a8.h): integer dot
// products of the quantized rows of A with the dot-layout weights (kernels.h),
// exact in int32 per block of 32 rows, then t = dot - z * sum(q_a) and
// C += t * (s_w * s_a) in fp32.
//
// Napkin math per block of 32 rows x 16 columns (512 weights; int8 576 bytes,
// int4 336), M rows of A:
//   AVX-512 VNNI, int8: 8 loads + 8M vpdpbusd + 4M (convert, zero-point
//     correction, scale product, FMA) -> M = 1: ~21 ops, ~1.3 per 32 weights
//   AVX-512 VNNI, int4: 4 loads + 12 (mask, shift, mask) + 8M vpdpbusd + 4M
//     + 3 (scales, zero points) -> M = 1: ~31 ops, ~1.9 per 32 weights
//   (the weight-only kernels, matmul_q8/q4.cpp: ~6 and ~10 per 32 weights).
//   AVX-VNNI (VEX vpdpbusd, ymm = 8 columns): the VNNI arithmetic on two
//     halves, int8: 16 loads + 16M vpdpbusd; int4: 8 loads + 24 and/shift +
//     16M vpdpbusd, + ~8M per block.
//   AVX2 (ymm = 8 columns): int8 uses the sign trick, |w| x (a * sign w) in
//     vpmaddubsw (no saturation: 2 * 127 * 127 < 2^15), then vpmaddwd by 1;
//     int4 codes are unsigned already, and 8 vpmaddubsw results (<= 3810
//     each) are summed in int16 before one vpmaddwd per block.
// Rows past K hold the zero point and their activations are 0, so every
// kernel runs whole blocks: no tails.
#include "matmul_a8.h"

#include <immintrin.h>

#include <cstring>
#include <stdexcept>

#include <xbyak/xbyak_util.h>

#define BMC_A8_AVX2 __attribute__((target("avx2,fma")))
#define BMC_A8_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))
#define BMC_A8_AVXVNNI __attribute__((target("avxvnni,avx2,fma")))

namespace bmc {
namespace kernels {

namespace {

using a8::kBlock;
using a8::PanelFn;
using a8::QuantizedRows;
constexpr int64_t kQ8Bytes = BMC_Q8_BLOCK_BYTES, kQ4Bytes = BMC_Q4_BLOCK_BYTES;

// Software prefetch AHEAD bytes ahead in the weight stream (0: none), line
// `i` of the current block: each kernel issues lines 0 .. ceil(bytes / 64)
// - 1 of every block (int8 576 bytes: 9 lines; int4 336: 6, the last a
// quarter used) spread over the block's loads. Panels are consecutive, so the
// stream runs on into the next panel, and past the matrix: a prefetch does not
// fault. For int4 weights one core's hardware prefetcher alone keeps too few
// lines in flight, as in the weight-only GEMVs (matmul_q8.cpp); the int8
// kernels measured faster without (a8::kPrefetchInt8 = 0, matmul_a8.h).
template <int AHEAD> inline void prefetchLine(const uint8_t *blk, int i) {
  if (AHEAD > 0)
    _mm_prefetch(reinterpret_cast<const char *>(blk) + AHEAD + 64 * i, _MM_HINT_T0);
}
constexpr int kQ8Lines = int((kQ8Bytes + 63) / 64), kQ4Lines = int((kQ4Bytes + 63) / 64);
static_assert(kQ8Lines == 9 && kQ4Lines == 6, "the loops below spread 9 / 6 prefetches per block");

inline int32_t load32(const int8_t *p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- AVX-512 VNNI: 16 columns = one zmm of 16 int32 sums -------------------

template <int MR, int SETS, bool Q4, int AHEAD>
BMC_A8_VNNI void panelVnni(const QuantizedRows &a, int64_t m0, const uint8_t *panel, int64_t nb, float *acc) {
  __m512 c[MR];
  for (int m = 0; m < MR; ++m)
    c[m] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(15);
  for (int64_t kb = 0; kb < nb; ++kb) {
    const uint8_t *blk = panel + kb * (Q4 ? kQ4Bytes : kQ8Bytes);
    const int8_t *qa[MR];
    for (int m = 0; m < MR; ++m)
      qa[m] = a.blockCodes(m0 + m, kb);
    __m512i d[SETS][MR];
    for (int s = 0; s < SETS; ++s)
      for (int m = 0; m < MR; ++m)
        d[s][m] = _mm512_setzero_si512();
    if (Q4) {
      // Group g: rows 8g..8g+3 in the low nibbles, 8g+4..8g+7 in the high.
      for (int g = 0; g < 4; ++g) {
        prefetchLine<AHEAD>(blk, g);
        if (g + 4 < kQ4Lines)
          prefetchLine<AHEAD>(blk, g + 4);
        const __m512i v = _mm512_loadu_si512(blk + BMC_Q4_CODES_OFFSET + 64 * g);
        const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        const int s0 = (2 * g) % SETS, s1 = (2 * g + 1) % SETS;
        for (int m = 0; m < MR; ++m) {
          d[s0][m] = _mm512_dpbusd_epi32(d[s0][m], lo, _mm512_set1_epi32(load32(qa[m] + 8 * g)));
          d[s1][m] = _mm512_dpbusd_epi32(d[s1][m], hi, _mm512_set1_epi32(load32(qa[m] + 8 * g + 4)));
        }
      }
    } else {
      prefetchLine<AHEAD>(blk, 8);
      for (int g = 0; g < 8; ++g) { // rows 4g..4g+3
        prefetchLine<AHEAD>(blk, g);
        const __m512i w = _mm512_loadu_si512(blk + BMC_Q8_CODES_OFFSET + 64 * g);
        for (int m = 0; m < MR; ++m)
          d[g % SETS][m] = _mm512_dpbusd_epi32(d[g % SETS][m], w, _mm512_set1_epi32(load32(qa[m] + 4 * g)));
      }
    }
    const __m512 scale = _mm512_loadu_ps(reinterpret_cast<const float *>(blk));
    const __m512 zero = Q4 ? _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                 _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + BMC_Q4_ZEROS_OFFSET))))
                           : _mm512_set1_ps(128.0f);
    for (int m = 0; m < MR; ++m) {
      __m512i sum = d[0][m];
      for (int s = 1; s < SETS; ++s)
        sum = _mm512_add_epi32(sum, d[s][m]);
      const int64_t i = (m0 + m) * nb + kb;
      // |dot| < 2^24 and z * sum(q_a) <= 128 * 4064: both exact in fp32.
      const __m512 t = _mm512_fnmadd_ps(zero, _mm512_set1_ps(a.sum[size_t(i)]), _mm512_cvtepi32_ps(sum));
      c[m] = _mm512_fmadd_ps(t, _mm512_mul_ps(scale, _mm512_set1_ps(a.scale[size_t(i)])), c[m]);
    }
  }
  for (int m = 0; m < MR; ++m)
    _mm512_storeu_ps(acc + m * kPanel, c[m]);
}

template <bool Q4, int AHEAD> PanelFn pickVnni(int64_t mr) {
  switch (mr) {
  case 1: return panelVnni<1, 4, Q4, AHEAD>;
  case 2: return panelVnni<2, 2, Q4, AHEAD>;
  case 3: return panelVnni<3, 2, Q4, AHEAD>;
  case 4: return panelVnni<4, 2, Q4, AHEAD>;
  case 5: return panelVnni<5, 1, Q4, AHEAD>;
  case 6: return panelVnni<6, 1, Q4, AHEAD>;
  case 7: return panelVnni<7, 1, Q4, AHEAD>;
  case 8: return panelVnni<8, 1, Q4, AHEAD>;
  case 9: return panelVnni<9, 1, Q4, AHEAD>;
  case 10: return panelVnni<10, 1, Q4, AHEAD>;
  case 11: return panelVnni<11, 1, Q4, AHEAD>;
  default: return panelVnni<12, 1, Q4, AHEAD>;
  }
}

// ---- AVX2: 16 columns = two ymm (columns 0-7 and 8-15) ---------------------

template <int MR, bool Q4, int AHEAD>
BMC_A8_AVX2 void panelAvx2(const QuantizedRows &a, int64_t m0, const uint8_t *panel, int64_t nb, float *acc) {
  __m256 c[MR][2];
  for (int m = 0; m < MR; ++m)
    c[m][0] = c[m][1] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(15), flip = _mm256_set1_epi8(char(0x80));
  for (int64_t kb = 0; kb < nb; ++kb) {
    const uint8_t *blk = panel + kb * (Q4 ? kQ4Bytes : kQ8Bytes);
    const int8_t *qa[MR];
    for (int m = 0; m < MR; ++m)
      qa[m] = a.blockCodes(m0 + m, kb);
    __m256i d[MR][2];
    if (Q4) {
      __m256i p[MR][2]; // int16 sums of 8 vpmaddubsw results: |sum| <= 8 * 3810
      for (int m = 0; m < MR; ++m)
        p[m][0] = p[m][1] = _mm256_setzero_si256();
      for (int g = 0; g < 4; ++g)
        for (int h = 0; h < 2; ++h) {
          if (h == 0) {
            prefetchLine<AHEAD>(blk, g);
            if (g + 4 < kQ4Lines)
              prefetchLine<AHEAD>(blk, g + 4);
          }
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + BMC_Q4_CODES_OFFSET + 64 * g + 32 * h));
          const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
          for (int m = 0; m < MR; ++m) {
            p[m][h] = _mm256_add_epi16(p[m][h], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load32(qa[m] + 8 * g))));
            p[m][h] = _mm256_add_epi16(p[m][h], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load32(qa[m] + 8 * g + 4))));
          }
        }
      for (int m = 0; m < MR; ++m)
        for (int h = 0; h < 2; ++h)
          d[m][h] = _mm256_madd_epi16(p[m][h], ones);
    } else {
      for (int m = 0; m < MR; ++m)
        d[m][0] = d[m][1] = _mm256_setzero_si256();
      prefetchLine<AHEAD>(blk, 8);
      for (int g = 0; g < 8; ++g)
        for (int h = 0; h < 2; ++h) {
          if (h == 0)
            prefetchLine<AHEAD>(blk, g);
          // The stored codes are q + 128: q = code ^ 0x80, then |q| x (a * sign q).
          const __m256i q = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + BMC_Q8_CODES_OFFSET + 64 * g + 32 * h)), flip);
          const __m256i u = _mm256_abs_epi8(q);
          for (int m = 0; m < MR; ++m) {
            const __m256i s = _mm256_sign_epi8(_mm256_set1_epi32(load32(qa[m] + 4 * g)), q);
            d[m][h] = _mm256_add_epi32(d[m][h], _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones));
          }
        }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 scale = _mm256_loadu_ps(reinterpret_cast<const float *>(blk) + 8 * h);
      // int8: the dot already holds sum q * a (the sign trick undoes the +128).
      __m256 zero = _mm256_setzero_ps();
      if (Q4)
        zero = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i *>(blk + BMC_Q4_ZEROS_OFFSET + 8 * h))));
      for (int m = 0; m < MR; ++m) {
        const int64_t i = (m0 + m) * a.nb + kb;
        __m256 t = _mm256_cvtepi32_ps(d[m][h]);
        if (Q4)
          t = _mm256_fnmadd_ps(zero, _mm256_set1_ps(a.sum[size_t(i)]), t);
        c[m][h] = _mm256_fmadd_ps(t, _mm256_mul_ps(scale, _mm256_set1_ps(a.scale[size_t(i)])), c[m][h]);
      }
    }
  }
  for (int m = 0; m < MR; ++m) {
    _mm256_storeu_ps(acc + m * kPanel, c[m][0]);
    _mm256_storeu_ps(acc + m * kPanel + 8, c[m][1]);
  }
}

template <bool Q4, int AHEAD> PanelFn pickAvx2(int64_t mr) {
  switch (mr) {
  case 1: return panelAvx2<1, Q4, AHEAD>;
  case 2: return panelAvx2<2, Q4, AHEAD>;
  case 3: return panelAvx2<3, Q4, AHEAD>;
  default: return panelAvx2<4, Q4, AHEAD>;
  }
}

// ---- AVX-VNNI (VEX vpdpbusd on ymm): 16 columns = two ymm of 8 sums --------
//
// For CPUs with avx_vnni but not AVX-512 VNNI (Alder Lake and later Intel
// cores; Zen 5 has both). The AVX-512 VNNI kernel's arithmetic on two ymm
// halves: int8 codes are q + 128 (unsigned), the 128 * sum(q_a) is removed
// per block like a zero point; no int16 intermediate, so no saturation
// concern. Per block and row, int8: 16 vpdpbusd; int4: 8 and + 4 shift + 16
// vpdpbusd (the AVX2 kernel: 32 vpmaddubsw + 32 adds + 2 vpmaddwd for int4,
// 32 sign + 32 vpmaddubsw + 32 vpmaddwd + 32 adds for int8).
template <int MR, int SETS, bool Q4, int AHEAD>
BMC_A8_AVXVNNI void panelAvxVnni(const QuantizedRows &a, int64_t m0, const uint8_t *panel, int64_t nb, float *acc) {
  __m256 c[MR][2];
  for (int m = 0; m < MR; ++m)
    c[m][0] = c[m][1] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(15);
  for (int64_t kb = 0; kb < nb; ++kb) {
    const uint8_t *blk = panel + kb * (Q4 ? kQ4Bytes : kQ8Bytes);
    const int8_t *qa[MR];
    for (int m = 0; m < MR; ++m)
      qa[m] = a.blockCodes(m0 + m, kb);
    __m256i d[SETS][MR][2]; // SETS independent vpdpbusd chains (16 ymm registers in all)
    for (int s = 0; s < SETS; ++s)
      for (int m = 0; m < MR; ++m)
        d[s][m][0] = d[s][m][1] = _mm256_setzero_si256();
    if (Q4) {
      for (int g = 0; g < 4; ++g) // rows 8g..8g+3 in the low nibbles, 8g+4..8g+7 in the high
        for (int h = 0; h < 2; ++h) {
          if (h == 0) {
            prefetchLine<AHEAD>(blk, g);
            if (g + 4 < kQ4Lines)
              prefetchLine<AHEAD>(blk, g + 4);
          }
          const __m256i v =
              _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + BMC_Q4_CODES_OFFSET + 64 * g + 32 * h));
          const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
          for (int m = 0; m < MR; ++m) {
            d[0][m][h] = _mm256_dpbusd_avx_epi32(d[0][m][h], lo, _mm256_set1_epi32(load32(qa[m] + 8 * g)));
            d[SETS - 1][m][h] =
                _mm256_dpbusd_avx_epi32(d[SETS - 1][m][h], hi, _mm256_set1_epi32(load32(qa[m] + 8 * g + 4)));
          }
        }
    } else {
      prefetchLine<AHEAD>(blk, 8);
      for (int g = 0; g < 8; ++g) // rows 4g..4g+3
        for (int h = 0; h < 2; ++h) {
          if (h == 0)
            prefetchLine<AHEAD>(blk, g);
          const __m256i w =
              _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + BMC_Q8_CODES_OFFSET + 64 * g + 32 * h));
          for (int m = 0; m < MR; ++m)
            d[g % SETS][m][h] =
                _mm256_dpbusd_avx_epi32(d[g % SETS][m][h], w, _mm256_set1_epi32(load32(qa[m] + 4 * g)));
        }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 scale = _mm256_loadu_ps(reinterpret_cast<const float *>(blk) + 8 * h);
      const __m256 zero = Q4 ? _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                   reinterpret_cast<const __m128i *>(blk + BMC_Q4_ZEROS_OFFSET + 8 * h))))
                             : _mm256_set1_ps(128.0f);
      for (int m = 0; m < MR; ++m) {
        const int64_t i = (m0 + m) * a.nb + kb;
        // |dot| < 2^24 and z * sum(q_a) <= 128 * 4064: both exact in fp32.
        const __m256i dot = SETS == 1 ? d[0][m][h] : _mm256_add_epi32(d[0][m][h], d[SETS - 1][m][h]);
        const __m256 t = _mm256_fnmadd_ps(zero, _mm256_set1_ps(a.sum[size_t(i)]), _mm256_cvtepi32_ps(dot));
        c[m][h] = _mm256_fmadd_ps(t, _mm256_mul_ps(scale, _mm256_set1_ps(a.scale[size_t(i)])), c[m][h]);
      }
    }
  }
  for (int m = 0; m < MR; ++m) {
    _mm256_storeu_ps(acc + m * kPanel, c[m][0]);
    _mm256_storeu_ps(acc + m * kPanel + 8, c[m][1]);
  }
}

template <bool Q4, int AHEAD> PanelFn pickAvxVnni(int64_t mr) {
  switch (mr) {
  case 1: return panelAvxVnni<1, 2, Q4, AHEAD>;
  case 2: return panelAvxVnni<2, 2, Q4, AHEAD>;
  case 3: return panelAvxVnni<3, 1, Q4, AHEAD>;
  default: return panelAvxVnni<4, 1, Q4, AHEAD>;
  }
}

// The panel-kernel picker of an ISA for a prefetch distance (bytes).
enum class Isa { Avx2, AvxVnni, Vnni };
template <Isa I, bool Q4, int AHEAD> PanelFn pickFor(int64_t mr) {
  if constexpr (I == Isa::Vnni)
    return pickVnni<Q4, AHEAD>(mr);
  else if constexpr (I == Isa::AvxVnni)
    return pickAvxVnni<Q4, AHEAD>(mr);
  else
    return pickAvx2<Q4, AHEAD>(mr);
}
template <Isa I, bool Q4> PanelFn (*pickerFor(int prefetchBytes))(int64_t) {
  switch (prefetchBytes) {
  case 0: return pickFor<I, Q4, 0>;
  case 4096: return pickFor<I, Q4, 4096>;
  case 8192: return pickFor<I, Q4, 8192>;
  case 16384: return pickFor<I, Q4, 16384>;
  default: throw std::invalid_argument("bmc: int8-activation matmul prefetch distance must be 0, 4096, 8192 or 16384 bytes");
  }
}

} // namespace

namespace avx2 {
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!cpuSupported())
    throw std::runtime_error("bmc: AVX2 int8-activation matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ8Bytes, 4, pickerFor<Isa::Avx2, false>(prefetchBytes));
}
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ8A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt8);
}
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!cpuSupported())
    throw std::runtime_error("bmc: AVX2 int8-activation matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ4Bytes, 4, pickerFor<Isa::Avx2, true>(prefetchBytes));
}
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ4A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt4);
}
} // namespace avx2

namespace avxvnni {
bool supported() {
  static const bool ok = [] {
    Xbyak::util::Cpu cpu; // VEX-encoded: the ymm state avx2::cpuSupported() checks
    return avx2::cpuSupported() && cpu.has(Xbyak::util::Cpu::tAVX_VNNI);
  }();
  return ok;
}
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!supported())
    throw std::runtime_error("bmc: AVX-VNNI matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ8Bytes, 4, pickerFor<Isa::AvxVnni, false>(prefetchBytes));
}
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ8A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt8);
}
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!supported())
    throw std::runtime_error("bmc: AVX-VNNI matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ4Bytes, 4, pickerFor<Isa::AvxVnni, true>(prefetchBytes));
}
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ4A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt4);
}
} // namespace avxvnni

namespace avx512 {
bool vnniSupported() {
  static const bool ok = [] {
    Xbyak::util::Cpu cpu; // the AVX-512 checks include the OS's zmm state
    return cpuSupported() && cpu.has(Xbyak::util::Cpu::tAVX512BW) && cpu.has(Xbyak::util::Cpu::tAVX512_VNNI);
  }();
  return ok;
}
void matmulQ8A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!vnniSupported())
    throw std::runtime_error("bmc: AVX-512 VNNI matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ8Bytes, 12, pickerFor<Isa::Vnni, false>(prefetchBytes));
}
void matmulQ8A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ8A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt8);
}
void matmulQ4A8Prefetch(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *Bd, const float *bias, float *C, int64_t ldc, int prefetchBytes) {
  if (!vnniSupported())
    throw std::runtime_error("bmc: AVX-512 VNNI matmul on a CPU without it");
  a8::run(pool, M, N, K, A, lda, Bd, bias, C, ldc, kQ4Bytes, 12, pickerFor<Isa::Vnni, true>(prefetchBytes));
}
void matmulQ4A8(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bd,
                const float *bias, float *C, int64_t ldc) {
  matmulQ4A8Prefetch(pool, M, N, K, A, lda, Bd, bias, C, ldc, a8::kPrefetchInt4);
}
} // namespace avx512

} // namespace kernels
} // namespace bmc
