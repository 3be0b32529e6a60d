/*===- entry.h - the contract between generated code and the runtime -----===*
 *
 * Compiled models export one C function:
 *     int32_t bmc_main(bmc_exec_ctx *ctx, void **io);
 * `io[i]` points to a bmc_tensor_ref for graph input i, or to a bmc_kv_ref
 * for an input that the BMC pass turned into a KV cache. Generated code
 * reaches everything else through the bmc_rt_* functions below, which the
 * runtime library exports. Kernels (bmc/abi/kernels.h) are called
 * directly. Failures call bmc_rt_fail, which does not return.
 *
 * Plain C so that generated code, the runtime and tests agree on layouts.
 *===----------------------------------------------------------------------===*/
#ifndef BMC_ABI_ENTRY_H
#define BMC_ABI_ENTRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: the code exports bmc_weights_bytes. 3: attention parameters end with
 * the KV element type; bmc_rt_copy4_to_kv. 4: attention parameters end with
 * the soft cap (float bits) and the smooth-softmax flag. */
#define BMC_ABI_VERSION 5
#define BMC_MAX_RANK 8

typedef struct bmc_exec_ctx bmc_exec_ctx;

/* A dense, row-major input tensor. Unused dims are ignored. */
typedef struct bmc_tensor_ref {
  void *data;
  int64_t dims[BMC_MAX_RANK];
} bmc_tensor_ref;

/* A KV cache buffer: [batch, heads, capacity, head_dim], rows [0, valid)
 * hold data. The heads and head_dim are compiled in. */
typedef struct bmc_kv_ref {
  void *data;
  int64_t batch;
  int64_t capacity;
  int64_t valid;
} bmc_kv_ref;

/* Scratch memory for one call, 64-byte aligned, released when the call
 * returns (an arena: no per-op allocation from the system). */
void *bmc_rt_alloc(bmc_exec_ctx *ctx, int64_t bytes);
/* Non-zero when the caller (a decoder session) needs the logits of the last
 * position only: the logits matmul then runs on that row alone. */
int64_t bmc_rt_last_token_logits(bmc_exec_ctx *ctx);
/* The planned arena of one call: `bytes` (computed by the compiled code from
 * the call's dims), 64-byte aligned, reused across calls. */
void *bmc_rt_arena(bmc_exec_ctx *ctx, int64_t bytes);
/* The buffer for graph output `index`, allocated by the runtime with the
 * given dims, row-major, elements of the signature's dtype. `elementBytes`:
 * what the code writes per element; a signature that disagrees (a damaged
 * package) fails the call (bmc_rt_fail) instead of sizing the buffer wrong. */
void *bmc_rt_output(bmc_exec_ctx *ctx, int64_t index, int64_t elementBytes, int64_t rank, const int64_t *dims);
/* The model's weight blob (packed at compile time). */
const void *bmc_rt_weights(bmc_exec_ctx *ctx);
/* The thread pool handed to kernels (opaque). */
void *bmc_rt_pool(bmc_exec_ctx *ctx);
/* Reports a run-time error (e.g. mismatched dimensions, index out of range)
 * and unwinds to the runtime's call site. `message` may contain "{0}" and
 * "{1}", replaced by `a` and `b`. */
void bmc_rt_fail(bmc_exec_ctx *ctx, const char *message, int64_t a, int64_t b)
#ifdef __cplusplus
    __attribute__((noreturn))
#endif
    ;

/* Fused attention: generated code fills an array of int64 parameters in
 * this order (pointers as integers, the scale and the soft cap as float bits
 * in the low 32 bits, smooth softmax 0 or 1) so that it does not depend on
 * the kernel's struct layout. */
enum {
  BMC_ATT_BATCH, BMC_ATT_HEADS, BMC_ATT_KV_HEADS, BMC_ATT_Q_LEN, BMC_ATT_KV_LEN,
  BMC_ATT_KV_PADDED_LEN, BMC_ATT_HEAD_DIM, BMC_ATT_V_HEAD_DIM,
  BMC_ATT_Q, BMC_ATT_Q_BS, BMC_ATT_Q_HS, BMC_ATT_Q_RS,
  BMC_ATT_K, BMC_ATT_K_BS, BMC_ATT_K_HS, BMC_ATT_K_RS,
  BMC_ATT_V, BMC_ATT_V_BS, BMC_ATT_V_HS, BMC_ATT_V_RS,
  BMC_ATT_OUT, BMC_ATT_O_BS, BMC_ATT_O_HS, BMC_ATT_O_RS,
  BMC_ATT_MASK, BMC_ATT_M_BS, BMC_ATT_M_HS, BMC_ATT_M_QS, BMC_ATT_M_KS,
  BMC_ATT_SCALE_BITS, BMC_ATT_KV_TYPE, BMC_ATT_SOFTCAP_BITS, BMC_ATT_SMOOTH_SOFTMAX,
  BMC_ATT_NUM_PARAMS
};
void bmc_rt_attention(bmc_exec_ctx *ctx, const int64_t *params);
/* The same with the kernel library's plain reference implementation
 * (code compiled with CompileOptions::referenceKernels). */
void bmc_rt_attention_ref(bmc_exec_ctx *ctx, const int64_t *params);

/* dst[i0,i1,i2,i3] = src[i0,i1,i2,i3] over sizes n0..n3, strides in
 * elements (lower ranks pad leading dims with size 1). Contiguous inner runs
 * are copied with memcpy. Used for KV appends, concatenations and layout
 * changes, so that generated code holds no copy loops. */
void bmc_rt_copy4(void *dst, const void *src, int64_t elemBytes, int64_t n0, int64_t n1, int64_t n2, int64_t n3,
                  int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0, int64_t s1, int64_t s2, int64_t s3);

/* bmc_rt_copy4 from fp32 `src` into a KV buffer of element type `kvType`
 * (BMC_KV_BF16 / BMC_KV_F16 of kernels.h: rounded to nearest even; BMC_KV_F32
 * copies); strides in elements of each side. `ref` != 0: the plain C
 * conversion (code compiled with CompileOptions::referenceKernels). */
void bmc_rt_copy4_to_kv(void *dst, const float *src, int64_t kvType, int64_t ref, int64_t n0, int64_t n1, int64_t n2,
                        int64_t n3, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0, int64_t s1, int64_t s2,
                        int64_t s3);

typedef int32_t (*bmc_entry_fn)(bmc_exec_ctx *ctx, void **io);

/* Compiled code also exports `const int64_t bmc_weights_bytes`: the size of
 * the weight blob it was generated for (it reads the blob at offsets fixed
 * at compile time). The package loader refuses a weights section of another
 * size, which the code would read past or misread. */
#define BMC_WEIGHTS_BYTES_SYMBOL "bmc_weights_bytes"
/* ... and `const int64_t bmc_kv_type`: the KV cache element type its appends
 * and attention were compiled for (0 f32, 1 bf16, 2 f16: BMC_KV_* of
 * kernels.h). The loader refuses metadata that says otherwise (the runtime
 * sizes the buffers from the metadata). */
#define BMC_KV_TYPE_SYMBOL "bmc_kv_type"

#ifdef __cplusplus
}
#endif

#endif
