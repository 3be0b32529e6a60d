/* Compute kernels called by bmc-generated code (C ABI, fp32).
 *
 * Every function takes explicit sizes and element strides so that views (a KV
 * cache with spare rows, a transposed key) need no copies. Each has a plain
 * reference implementation; fast AVX2/FMA versions (Xbyak JIT microkernels and
 * intrinsics), plus an AVX-512 GEMV for matmuls of up to 12 rows, are selected
 * at run time from CPU features. The environment variable BMC_KERNELS=ref
 * forces the reference path, BMC_KERNELS=avx2 the AVX2 kernels on AVX-512
 * machines, BMC_KERNELS=avxvnni the same but with AVX-VNNI for int8
 * activations where the CPU has it (any other value but "auto" warns on
 * stderr and is ignored).
 *
 * `pool` is an opaque `bmc::ThreadPool *` (runtime/kernels/thread_pool.h) or
 * NULL for single-threaded execution. No function here throws or allocates
 * memory that outlives the call; all are safe to call concurrently from
 * several threads as long as the output buffers do not overlap (a pool runs
 * one parallel call at a time and serialises concurrent callers). Outputs must
 * not alias inputs.
 */
#ifndef BMC_ABI_KERNELS_H
#define BMC_ABI_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Information --------------------------------------------------------- */

/* The implementation in use: "avx512" (AVX2 kernels, and the AVX-512 GEMV
 * for matmuls of M <= 12 rows), "avx2" (Xbyak matmuls + intrinsics attention),
 * "avx2-nojit" (the OS refused executable memory: reference matmuls,
 * intrinsics attention) or "ref". Static string, never NULL. */
const char *bmc_kernels_isa(void);
/* The int8-activation matmuls' level (bmc_matmul_q8_a8 / _q4_a8): "avx512-vnni",
 * "avx-vnni" (256-bit VEX vpdpbusd), "avx2" (vpmaddubsw) or "ref". Static string. */
const char *bmc_kernels_a8_isa(void);

/* ---- Matmul with a constant, pre-packed right-hand side ------------------- */

/* Packed layout (version 1), independent of the ISA used to run it:
 * B[K,N] is cut into ceil(N/16) panels of 16 columns; panel p holds
 * B[k][16p + j] at float offset p*K*16 + k*16 + j (j in [0,16)), with columns
 * past N zero. Every K row of a panel is one 64-byte cache line and panels are
 * stored one after the other, so a matrix-vector product is a single forward
 * stream. `out` must be 64-byte aligned. */
#define BMC_PACK_B_PANEL 16

/* Bytes needed by bmc_pack_b_f32 for a K x N matrix. */
int64_t bmc_pack_b_f32_bytes(int64_t K, int64_t N);

/* Packs B. trans_b == 0: B is [K,N] row-major with row stride ldb (>= N).
 * trans_b != 0: B is given as its transpose, [N,K] row-major with row stride
 * ldb (>= K), as ONNX Gemm transB=1. */
void bmc_pack_b_f32(const float *B, int64_t K, int64_t N, int64_t ldb,
                    int32_t trans_b, void *out);

/* C[M,N] = A[M,K] * B[K,N] (+ bias[N] broadcast over rows when bias != NULL).
 * A row-major with row stride lda, C row-major with row stride ldc, B packed
 * by bmc_pack_b_f32. */
void bmc_matmul_packed_f32(void *pool, int64_t M, int64_t N, int64_t K,
                           const float *A, int64_t lda, const void *Bpacked,
                           const float *bias, float *C, int64_t ldc);

/* ---- Matmul with int8 block-quantized constant weights -------------------- */

/* Weight-only quantization: B is stored as int8 codes with one fp32 scale per
 * BMC_Q8_BLOCK rows of K per column, w = q * scale, q in [-127, 127], scale =
 * max |w| over the block / 127, q = round-to-nearest-even(w / scale): the
 * arithmetic of onnxruntime's MatMulNBits with bits = 8, block_size = 32 and
 * the default zero point (128, i.e. signed codes). A stays fp32, accumulation
 * is fp32.
 *
 * Packed int8 layout (version 1): ceil(N/16) panels of 16 columns; panel p
 * holds ceil(K/32) blocks of 576 bytes, block kb at byte offset
 * (p*ceil(K/32) + kb) * 576: 16 fp32 scales (column 16p + j at float j), then
 * 32 rows of 16 int8 codes (row k - 32kb, column j at byte 64 + 16*(k-32kb) + j).
 * Columns past N and rows past K are zero. 1.125 bytes per weight. */
#define BMC_Q8_BLOCK 32
#define BMC_Q8_BLOCK_BYTES 576  /* 16 scales + 32 rows x 16 codes */
#define BMC_Q8_CODES_OFFSET 64

/* Bytes needed by bmc_pack_q8 for a K x N matrix. */
int64_t bmc_pack_q8_bytes(int64_t K, int64_t N);

/* Quantizes and packs B, given as for bmc_pack_b_f32. Returns 0, or -1 when B
 * holds a NaN or an infinity (no scale represents it; `out` is then partly
 * written and must not be used). */
int32_t bmc_pack_q8(const float *B, int64_t K, int64_t N, int64_t ldb, int32_t trans_b, void *out);

/* C[M,N] = A[M,K] * dequant(B) (+ bias[N]), A and C as bmc_matmul_packed_f32,
 * B packed by bmc_pack_q8. */
void bmc_matmul_q8_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       const void *Bq, const float *bias, float *C, int64_t ldc);

/* The same, always with the plain reference loops (reference builds). */
void bmc_matmul_q8_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const void *Bq, const float *bias, float *C, int64_t ldc);

/* ---- Matmul with int4 block-quantized constant weights -------------------- */

/* w = (q - z) * scale with 4-bit codes q in [0, 15], one fp32 scale and one
 * zero point z per BMC_Q8_BLOCK (32) rows of K per column: onnxruntime's
 * MatMulNBits with bits = 4 and block_size = 32. bmc_pack_q4 quantizes fp32
 * weights round-to-nearest with z = 8 and scale = v / -8, v the block's value
 * of largest magnitude (so it is exactly representable, as code 0).
 *
 * Packed int4 layout (version 1): ceil(N/16) panels of 16 columns; panel p
 * holds ceil(K/32) blocks of 336 bytes, block kb at byte offset
 * (p*ceil(K/32) + kb) * 336: 16 fp32 scales, 16 uint8 zero points (0..15),
 * then 16 row pairs of 16 bytes: byte 80 + 16*i + j holds row 2i's code of
 * column j in its low nibble and row 2i+1's in its high nibble. Columns past
 * N and rows past K hold scale 0. 0.656 bytes per weight. */
#define BMC_Q4_BLOCK_BYTES 336  /* 16 scales + 16 zero points + 16 row pairs x 16 bytes */
#define BMC_Q4_ZEROS_OFFSET 64
#define BMC_Q4_CODES_OFFSET 80
int64_t bmc_pack_q4_bytes(int64_t K, int64_t N);
/* As bmc_pack_q8 (-1 on a NaN or an infinity). */
int32_t bmc_pack_q4(const float *B, int64_t K, int64_t N, int64_t ldb, int32_t trans_b, void *out);
void bmc_matmul_q4_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       const void *Bq, const float *bias, float *C, int64_t ldc);
void bmc_matmul_q4_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const void *Bq, const float *bias, float *C, int64_t ldc);

/* ---- int8 activations x int8/int4 weights, integer dot products ---------- */

/* An opt-in arithmetic (CompileOptions::activations = Int8; what onnxruntime's
 * MatMulNBits accuracy_level 4 and llama.cpp's Q8_0 activations do): each row
 * of A is quantized per block of 32 columns (those past K are 0): amax =
 * max |a|, s_a = amax / 127, q_a = round-to-nearest-even(a * (127 / amax))
 * clipped to [-127, 127] (a block with amax < 1e-30 is all zeros); then
 *   C[m][n] = sum_b s_a[m][b] * s_w[b][n] * sum_{k in b} q_a[m][k] * (q_w[k][n] - z[b][n])
 * (+ bias[n]) with the block sums exact in integers (z = 0 for int8 weights,
 * whose codes are signed). Every M takes this path (prefill included).
 *
 * The weights are those of bmc_pack_q8 / bmc_pack_q4 (same scales, zero
 * points and codes, same size) in a "dot" layout, where the 4 codes of
 * consecutive K rows of one column are adjacent (one 32-bit lane of
 * vpdpbusd / vpmaddubsw):
 * - int8 dot layout: blocks of BMC_Q8_BLOCK_BYTES as the int8 layout, 16
 *   scales first; byte BMC_Q8_CODES_OFFSET + 64*g + 4*j + i holds
 *   q(row 4g + i, column j) + 128 as uint8 (g in [0, 8), i in [0, 4)).
 * - int4 dot layout: blocks of BMC_Q4_BLOCK_BYTES as the int4 layout, 16
 *   scales and 16 zero points first; byte BMC_Q4_CODES_OFFSET + 64*g + 4*j + i
 *   holds q(row 8g + i, column j) in its low nibble and q(row 8g + 4 + i,
 *   column j) in its high nibble (g in [0, 4), i in [0, 4)).
 * bmc_q8_to_dot / bmc_q4_to_dot rewrite a packed matrix (from bmc_pack_q8 /
 * bmc_pack_q4, or MatMulNBits codes in those layouts) into them; `in` and
 * `out` must not overlap. */
void bmc_q8_to_dot(const void *in, int64_t K, int64_t N, void *out);
void bmc_q4_to_dot(const void *in, int64_t K, int64_t N, void *out);

/* C[M,N] = A[M,K] x B (+ bias) with int8-quantized A as above; A, C and the
 * strides as bmc_matmul_packed_f32. AVX-512 VNNI (vpdpbusd) where the CPU has
 * avx512_vnni and avx512bw, else AVX-VNNI (VEX vpdpbusd on ymm) where it has
 * avx_vnni, else AVX2 (vpmaddubsw), else the reference (bmc_kernels_a8_isa()). */
void bmc_matmul_q8_a8(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const void *Bdot, const float *bias, float *C, int64_t ldc);
void bmc_matmul_q4_a8(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const void *Bdot, const float *bias, float *C, int64_t ldc);
/* The same, always with the plain reference loops (reference builds). */
void bmc_matmul_q8_a8_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                          const void *Bdot, const float *bias, float *C, int64_t ldc);
void bmc_matmul_q4_a8_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                          const void *Bdot, const float *bias, float *C, int64_t ldc);

/* ---- Strided batched matmul (both operands computed at run time) ---------- */

/* For b in [0,batch), m in [0,M), n in [0,N):
 *   C[b*c_bs + m*c_rs + n] = sum_k A[b*a_bs + m*a_rs + k*a_cs]
 *                                * B[b*b_bs + k*b_rs + n*b_cs]
 * Strides are in elements and may be zero (broadcast) or negative. */
void bmc_matmul_strided_f32(void *pool, int64_t batch, int64_t M, int64_t N,
                            int64_t K, const float *A, int64_t a_bs,
                            int64_t a_rs, int64_t a_cs, const float *B,
                            int64_t b_bs, int64_t b_rs, int64_t b_cs, float *C,
                            int64_t c_bs, int64_t c_rs);

/* ---- KV cache element types ---------------------------------------------- */

/* A KV cache buffer stores its rows as fp32, bf16 (the top 16 bits of an
 * fp32: 8 exponent bits, 8 significand bits) or IEEE fp16 (5 exponent bits,
 * 11 significand bits). Attention and the conversions take one of these. */
enum { BMC_KV_F32 = 0, BMC_KV_BF16 = 1, BMC_KV_F16 = 2 };

/* Bytes per element of a KV type (4, 2, 2), 0 for an unknown type. */
int64_t bmc_kv_elem_bytes(int32_t kv_type);

/* dst[i] = src[i] rounded to the KV type, to nearest with ties to even
 * (fp16: overflow to +-inf, subnormals kept; both: a NaN stays a quiet NaN,
 * its sign kept). kv_type BMC_KV_F32 copies. */
void bmc_convert_f32_to_kv(int32_t kv_type, const float *src, void *dst, int64_t n);
/* dst[i] = src[i] widened to fp32 (exact). */
void bmc_convert_kv_to_f32(int32_t kv_type, const void *src, float *dst, int64_t n);

/* ---- Matmul with bf16 / fp16 constant weights ----------------------------- */

/* Weights stored as bf16 or IEEE fp16 (element types BMC_KV_BF16 / _F16, as
 * the KV caches), widened to fp32 exactly as they are read; A, the
 * accumulation and C stay fp32.
 *
 * Packed 16-bit layout (version 1): bmc_pack_b_f32's panels with 2-byte
 * elements: panel p holds B[k][16p + j] at element offset p*K*16 + k*16 + j
 * (byte offset twice that), columns past N zero. Every K row of a panel is 32
 * bytes; panels follow one another (one forward stream). */
int64_t bmc_pack_w16_bytes(int64_t K, int64_t N);

/* Packs B, given as for bmc_pack_b_f32 but with elements of src_type:
 * BMC_KV_F32 (rounded to `type` to nearest, ties to even) or `type` itself
 * (copied bit for bit; ldb counts elements). Returns 0, or -1 when a finite
 * fp32 weight rounds to an infinity in `type` (|w| >= 65520 for fp16; out is
 * then fully written and must not be used), -2 for an unknown type pair. */
int32_t bmc_pack_w16(int32_t type, const void *B, int32_t src_type, int64_t K, int64_t N, int64_t ldb,
                     int32_t trans_b, void *out);

/* C[M,N] = A[M,K] * widen(B) (+ bias[N]), A and C as bmc_matmul_packed_f32,
 * B packed by bmc_pack_w16 with type BMC_KV_BF16 / BMC_KV_F16. */
void bmc_matmul_bf16_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const void *B, const float *bias, float *C, int64_t ldc);
void bmc_matmul_f16_f32(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const void *B, const float *bias, float *C, int64_t ldc);
/* The same with the plain reference loops (reference builds). */
void bmc_matmul_bf16_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                             const void *B, const float *bias, float *C, int64_t ldc);
void bmc_matmul_f16_f32_ref(void *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                            const void *B, const float *bias, float *C, int64_t ldc);

/* ---- Fused attention ------------------------------------------------------ */

/* out[b,h,i,:] = sum_j w[j] * v[b, h/g, j, :] with w = softmax over j of
 *   s[j] = max(cap(scale * dot(q[b,h,i,:], k[b, h/g, j, :])) + mask[b,h,i,j], -FLT_MAX)
 * for j < kv_len, where g = heads / kv_heads (grouped-query attention) and
 * cap(x) = softcap * tanh(x / softcap) when softcap > 0 (Gemma-2's logit soft
 * cap, applied after the scale and before the mask, as onnxruntime's
 * GroupQueryAttention does), cap(x) = x when softcap == 0.
 *
 * smooth_softmax != 0: w[j] = exp(s[j] - m) / (exp(-m) + sum_j' exp(s[j'] - m))
 * (softmax with an extra implicit zero logit, onnxruntime's smooth_softmax),
 * so the weights sum to less than 1; a row whose scores are all -FLT_MAX
 * then gets out = 0 rather than the uniform average described below.
 *
 * Rows [kv_len, kv_padded_len) of k/v are spare (a KV buffer with room to
 * grow). When kv_padded_len > kv_len the kernel computes their scores and
 * masks them to -inf ("masked" mode); their weights are exactly zero and v's
 * spare rows are never read, so garbage (even NaN) there never reaches out.
 * The clamp at -FLT_MAX makes a row whose mask is -inf everywhere behave like
 * plain softmax over -3.4e38: uniform weights over the kv_len rows, no NaN.
 * kv_len == 0 gives out = 0.
 *
 * With q_len > 1 and a mask, blocks of [query positions x 32 kv rows] whose
 * mask values are all <= -FLT_MAX (e.g. the upper triangle of a causal mask)
 * may be skipped: their k and v rows are not read. For |scale * q.k| < 1e31
 * this changes nothing (such entries score exactly -FLT_MAX: weight 0 unless
 * the whole row does, and then the row still gets uniform weights over all
 * kv_len rows). A NaN or Inf in k or v inside a skipped block then does not
 * reach the outputs that give those rows zero weight, where reading them
 * would have made the output NaN.
 *
 * Strides are in elements; the innermost dimension of q, k, v, out and mask is
 * contiguous except for the mask, whose kv stride is given (0 broadcasts).
 * q: [batch, heads, q_len, head_dim]; k: [batch, kv_heads, kv_padded_len,
 * head_dim]; v: [batch, kv_heads, kv_padded_len, v_head_dim];
 * out: [batch, heads, q_len, v_head_dim]; mask (nullable): covers
 * [batch, heads, q_len, kv_len], any stride may be 0.
 *
 * k and v hold elements of kv_type (BMC_KV_F32, _BF16 or _F16; strides count
 * those elements); everything else is fp32. The reference kernel widens each
 * element as it reads it; the fast kernels widen K and V in registers as they
 * load them at decode (q_len 1, and the group tiles of speculative
 * verification), and widen blocks of at most BMC_KV_CONVERT_ROWS rows of one
 * kv head into per-thread fp32 scratch for prefill tiles (each K/V byte is
 * still read from memory once, the widened block from L2). */
#define BMC_KV_CONVERT_ROWS 256
typedef struct bmc_attention_args {
  int64_t batch, heads, kv_heads;
  int64_t q_len, kv_len, kv_padded_len;
  int64_t head_dim, v_head_dim;
  const float *q;
  int64_t q_bs, q_hs, q_rs;
  const void *k;
  int64_t k_bs, k_hs, k_rs;
  const void *v;
  int64_t v_bs, v_hs, v_rs;
  float *out;
  int64_t o_bs, o_hs, o_rs;
  const float *mask;
  int64_t m_bs, m_hs, m_qs, m_ks;
  float scale;
  int32_t kv_type; /* BMC_KV_*: the element type of k and v */
  float softcap;   /* 0: no soft cap; > 0: cap(x) = softcap * tanh(x / softcap) */
  int32_t smooth_softmax; /* 0 or 1 */
} bmc_attention_args;

void bmc_attention_f32(void *pool, const bmc_attention_args *a);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BMC_ABI_KERNELS_H */
