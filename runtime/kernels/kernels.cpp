// The C ABI of kernels.h: picks the implementation once per process (CPU
// features, BMC_KERNELS=ref|avx2|avxvnni) and turns any failure of a fast kernel into a run
// of the reference kernel, so no exception ever crosses the C boundary.
#include "bmc/abi/kernels.h"
#include "kernels_internal.h"
#include "matmul_a8.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace bmc::kernels;

namespace {

enum class Impl { Ref, Avx2, Avx512 };
// The int8-activation matmuls' levels: vpmaddubsw, 256-bit VEX vpdpbusd, 512-bit vpdpbusd.
enum class A8Impl { Ref, Avx2, AvxVnni, Avx512Vnni };

struct Selection {
  Impl matmul = Impl::Ref;    // needs the JIT microkernels
  Impl attention = Impl::Ref; // intrinsics only (Avx512: AVX2 + the 512-bit group kernel)
  A8Impl a8 = A8Impl::Ref;    // intrinsics only
};

// The one place that picks kernels. BMC_KERNELS: unset or "auto" = the best
// the CPU has; "avxvnni" = never the AVX-512 kernels, AVX-VNNI for int8
// activations (an Alder Lake's set, to test it on AVX-512 machines); "avx2" =
// neither (the AVX2 path); "ref" = the reference loops everywhere.
const Selection &selection() {
  static const Selection sel = [] {
    Selection s;
    const char *env = std::getenv("BMC_KERNELS");
    auto is = [&](const char *v) { return env && std::strcmp(env, v) == 0; };
    const bool known = !env || !*env || is("auto") || is("avxvnni") || is("avx2") || is("ref");
    if (!known) // a library cannot exit: say so once and use the default
      std::fprintf(stderr, "bmc: warning: BMC_KERNELS='%s' is not one of auto, avxvnni, avx2, ref; using auto\n", env);
    if (known && is("ref"))
      return s;
    if (avx2::cpuSupported())
      s.attention = Impl::Avx2;
    if (avx2::jitReady())
      s.matmul = Impl::Avx2;
    const bool avx2Only = known && (is("avx2") || is("avxvnni"));
    if (s.matmul == Impl::Avx2 && !avx2Only && avx512::supported())
      s.matmul = Impl::Avx512;
    if (s.attention == Impl::Avx2 && !avx2Only && avx512::cpuSupported())
      s.attention = Impl::Avx512;
    if (s.attention != Impl::Ref)
      s.a8 = A8Impl::Avx2;
    if (s.a8 == A8Impl::Avx2 && !(known && is("avx2")) && avxvnni::supported())
      s.a8 = A8Impl::AvxVnni;
    else if (known && is("avxvnni"))
      std::fprintf(stderr, "bmc: warning: BMC_KERNELS=avxvnni on a CPU without AVX-VNNI; int8 activations use AVX2\n");
    if (s.attention == Impl::Avx512 && avx512::vnniSupported())
      s.a8 = A8Impl::Avx512Vnni;
    return s;
  }();
  return sel;
}

bmc::ThreadPool *asPool(void *pool) { return static_cast<bmc::ThreadPool *>(pool); }

} // namespace

extern "C" {

const char *bmc_kernels_a8_isa(void) {
  switch (selection().a8) {
  case A8Impl::Avx512Vnni: return "avx512-vnni";
  case A8Impl::AvxVnni: return "avx-vnni";
  case A8Impl::Avx2: return "avx2";
  default: return "ref";
  }
}

const char *bmc_kernels_isa(void) {
  const Selection &s = selection();
  if (s.matmul == Impl::Avx512)
    return "avx512";
  if (s.matmul == Impl::Avx2)
    return "avx2";
  return s.attention == Impl::Avx2 ? "avx2-nojit" : "ref";
}

int64_t bmc_pack_b_f32_bytes(int64_t K, int64_t N) {
  if (K <= 0 || N <= 0)
    return 0;
  return numPanels(N) * K * kPanel * int64_t(sizeof(float));
}

void bmc_pack_b_f32(const float *B, int64_t K, int64_t N, int64_t ldb,
                    int32_t trans_b, void *out) {
  if (K <= 0 || N <= 0)
    return;
  if (trans_b)
    packPanels(B, K, N, /*rs=*/1, /*cs=*/ldb, 0, numPanels(N), static_cast<float *>(out));
  else
    packPanels(B, K, N, /*rs=*/ldb, /*cs=*/1, 0, numPanels(N), static_cast<float *>(out));
}

void bmc_matmul_packed_f32(void *pool, int64_t M, int64_t N, int64_t K,
                           const float *A, int64_t lda, const void *Bpacked,
                           const float *bias, float *C, int64_t ldc) {
  if (selection().matmul == Impl::Avx512) {
    try {
      avx512::matmulPacked(asPool(pool), M, N, K, A, lda, Bpacked, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  if (selection().matmul == Impl::Avx2) {
    try {
      avx2::matmulPacked(asPool(pool), M, N, K, A, lda, Bpacked, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  ref::matmulPacked(asPool(pool), M, N, K, A, lda, Bpacked, bias, C, ldc);
}

int64_t bmc_pack_q8_bytes(int64_t K, int64_t N) {
  if (K <= 0 || N <= 0)
    return 0;
  return packQ8Bytes(K, N);
}

int32_t bmc_pack_q8(const float *B, int64_t K, int64_t N, int64_t ldb, int32_t trans_b, void *out) {
  if (K <= 0 || N <= 0)
    return 0;
  const bool ok = trans_b ? packQ8(B, K, N, /*rs=*/1, /*cs=*/ldb, out) : packQ8(B, K, N, /*rs=*/ldb, /*cs=*/1, out);
  return ok ? 0 : -1;
}

void bmc_matmul_q8_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
                       const float *bias, float *C, int64_t ldc) {
  // The int8 GEMV is intrinsics: it follows the attention's choice (AVX-512F,
  // AVX2 or the reference), not the JIT matmul's.
  if (selection().attention == Impl::Avx512) {
    try {
      avx512::matmulQ8(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  if (selection().attention != Impl::Ref) {
    try {
      avx2::matmulQ8(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  ref::matmulQ8(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
}

void bmc_matmul_q8_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const void *Bq, const float *bias, float *C, int64_t ldc) {
  ref::matmulQ8(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
}

int64_t bmc_pack_q4_bytes(int64_t K, int64_t N) {
  if (K <= 0 || N <= 0)
    return 0;
  return packQ4Bytes(K, N);
}

int32_t bmc_pack_q4(const float *B, int64_t K, int64_t N, int64_t ldb, int32_t trans_b, void *out) {
  if (K <= 0 || N <= 0)
    return 0;
  const bool ok = trans_b ? packQ4(B, K, N, 1, ldb, out) : packQ4(B, K, N, ldb, 1, out);
  return ok ? 0 : -1;
}

void bmc_matmul_q4_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bq,
                       const float *bias, float *C, int64_t ldc) {
  if (selection().attention == Impl::Avx512) {
    try {
      avx512::matmulQ4(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  if (selection().attention != Impl::Ref) {
    try {
      avx2::matmulQ4(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  ref::matmulQ4(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
}

void bmc_matmul_q4_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const void *Bq, const float *bias, float *C, int64_t ldc) {
  ref::matmulQ4(asPool(pool), M, N, K, A, lda, Bq, bias, C, ldc);
}

void bmc_q8_to_dot(const void *in, int64_t K, int64_t N, void *out) {
  if (K > 0 && N > 0)
    q8ToDot(in, K, N, out);
}

void bmc_q4_to_dot(const void *in, int64_t K, int64_t N, void *out) {
  if (K > 0 && N > 0)
    q4ToDot(in, K, N, out);
}

namespace {
// int8 activations: the selected level (selection().a8); a kernel that throws
// (allocation) is rerun with the AVX2 one, then the reference.
using MatmulFn = void (*)(bmc::ThreadPool *, int64_t, int64_t, int64_t, const float *, int64_t, const void *,
                          const float *, float *, int64_t);
void runA8(MatmulFn vnni512, MatmulFn vnni256, MatmulFn avx2, MatmulFn ref, void *pool, int64_t M, int64_t N,
           int64_t K, const float *A, int64_t lda, const void *B, const float *bias, float *C, int64_t ldc) {
  const A8Impl level = selection().a8;
  if (level == A8Impl::Avx512Vnni || level == A8Impl::AvxVnni) {
    try {
      (level == A8Impl::Avx512Vnni ? vnni512 : vnni256)(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  if (level != A8Impl::Ref) {
    try {
      avx2(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  ref(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
}
} // namespace

void bmc_matmul_q8_a8(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bdot,
                      const float *bias, float *C, int64_t ldc) {
  runA8(avx512::matmulQ8A8, avxvnni::matmulQ8A8, avx2::matmulQ8A8, ref::matmulQ8A8, pool, M, N, K, A, lda,
        Bdot, bias, C, ldc);
}

void bmc_matmul_q4_a8(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *Bdot,
                      const float *bias, float *C, int64_t ldc) {
  runA8(avx512::matmulQ4A8, avxvnni::matmulQ4A8, avx2::matmulQ4A8, ref::matmulQ4A8, pool, M, N, K, A, lda,
        Bdot, bias, C, ldc);
}

void bmc_matmul_q8_a8_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                          const void *Bdot, const float *bias, float *C, int64_t ldc) {
  ref::matmulQ8A8(asPool(pool), M, N, K, A, lda, Bdot, bias, C, ldc);
}

void bmc_matmul_q4_a8_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                          const void *Bdot, const float *bias, float *C, int64_t ldc) {
  ref::matmulQ4A8(asPool(pool), M, N, K, A, lda, Bdot, bias, C, ldc);
}

int64_t bmc_pack_w16_bytes(int64_t K, int64_t N) {
  if (K <= 0 || N <= 0)
    return 0;
  return packW16Bytes(K, N);
}

int32_t bmc_pack_w16(int32_t type, const void *B, int32_t src_type, int64_t K, int64_t N, int64_t ldb,
                     int32_t trans_b, void *out) {
  if ((type != BMC_KV_BF16 && type != BMC_KV_F16) || (src_type != BMC_KV_F32 && src_type != type))
    return -2;
  if (K <= 0 || N <= 0)
    return 0;
  const bool ok = trans_b ? packW16(type, B, src_type, K, N, 1, ldb, out) : packW16(type, B, src_type, K, N, ldb, 1, out);
  return ok ? 0 : -1;
}

namespace {
// 16-bit weights: intrinsics like the int8 GEMV, so they follow the
// attention's selection (AVX-512F, AVX2 + F16C, or the reference).
void runW16(MatmulFn avx512, MatmulFn avx2, MatmulFn ref, void *pool, int64_t M, int64_t N, int64_t K,
            const float *A, int64_t lda, const void *B, const float *bias, float *C, int64_t ldc) {
  if (selection().attention == Impl::Avx512) {
    try {
      avx512(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  if (selection().attention != Impl::Ref) {
    try {
      avx2(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
      return;
    } catch (...) {
    }
  }
  ref(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
}
} // namespace

void bmc_matmul_bf16_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                         const float *bias, float *C, int64_t ldc) {
  runW16(avx512::matmulBF16, avx2::matmulBF16, ref::matmulBF16, pool, M, N, K, A, lda, B, bias, C, ldc);
}

void bmc_matmul_f16_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const void *B,
                        const float *bias, float *C, int64_t ldc) {
  runW16(avx512::matmulF16, avx2::matmulF16, ref::matmulF16, pool, M, N, K, A, lda, B, bias, C, ldc);
}

void bmc_matmul_bf16_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                             const void *B, const float *bias, float *C, int64_t ldc) {
  ref::matmulBF16(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
}

void bmc_matmul_f16_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                            const void *B, const float *bias, float *C, int64_t ldc) {
  ref::matmulF16(asPool(pool), M, N, K, A, lda, B, bias, C, ldc);
}

void bmc_matmul_strided_f32(void *pool, int64_t batch, int64_t M, int64_t N,
                            int64_t K, const float *A, int64_t a_bs,
                            int64_t a_rs, int64_t a_cs, const float *B,
                            int64_t b_bs, int64_t b_rs, int64_t b_cs, float *C,
                            int64_t c_bs, int64_t c_rs) {
  const StridedMatmul p{batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, C, c_bs, c_rs};
  if (selection().matmul != Impl::Ref) { // AVX2 kernels (also under Avx512)
    try {
      avx2::matmulStrided(asPool(pool), p);
      return;
    } catch (...) {
    }
  }
  ref::matmulStrided(asPool(pool), p);
}

int64_t bmc_kv_elem_bytes(int32_t t) {
  return t == BMC_KV_F32 ? 4 : t == BMC_KV_BF16 || t == BMC_KV_F16 ? 2 : 0;
}

void bmc_convert_f32_to_kv(int32_t t, const float *src, void *dst, int64_t n) {
  if (selection().attention != Impl::Ref && avx2::f16cSupported())
    avx2::convertToKV(t, src, dst, n);
  else
    ref::convertToKV(t, src, dst, n);
}

void bmc_convert_kv_to_f32(int32_t t, const void *src, float *dst, int64_t n) {
  if (selection().attention != Impl::Ref && avx2::f16cSupported())
    avx2::convertFromKV(t, src, dst, n);
  else
    ref::convertFromKV(t, src, dst, n);
}

void bmc_attention_f32(void *pool, const bmc_attention_args *a) {
  if (!a || a->kv_heads <= 0 || a->heads % a->kv_heads != 0 || !bmc_kv_elem_bytes(a->kv_type))
    return; // the compiler guarantees these; nothing sensible to compute
  if (selection().attention == Impl::Avx512) {
    try {
      avx512::attention(asPool(pool), *a);
      return;
    } catch (...) {
    }
  }
  if (selection().attention != Impl::Ref) {
    try {
      avx2::attention(asPool(pool), *a);
      return;
    } catch (...) {
    }
  }
  ref::attention(asPool(pool), *a);
}

} // extern "C"
