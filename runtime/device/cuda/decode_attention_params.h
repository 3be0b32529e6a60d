/* The argument block of the decode attention kernels, shared word for word by
 * the host (C++) and the kernels (prepended to their CUDA source by
 * KernelLibrary.cpp): plain C types only, no includes. Strides are in
 * elements; the innermost dimension of every tensor is contiguous.
 *   q:   [batch, heads, head_dim] fp32, or [batch, heads, seq, head_dim] (seq > 1)
 *   k,v: [batch, kv_heads, rows, head_dim] of the kernel's KV type (a KV
 *        buffer: kv_len valid rows, then spare rows)
 *   mask: optional additive fp32 [batch, heads, seq, rows] (stride 0 where it
 *        broadcasts), read for the valid rows only
 *   partial_out: [batch, seq, heads, splits, head_dim] fp32 scratch
 *   partial_lse: [batch, seq, heads, splits] fp32 scratch
 *   out: [batch, heads, head_dim] fp32 (seq rows o_ss apart)
 * The fields after smooth_softmax generalise decode (one query row, no mask)
 * to the kernel-level bmck.attention; all zero is decode.
 * Also the argument structs of the emitted kernels (bmc_view4, bmc_kv_buffer),
 * here so that the host's launcher (EmittedLauncher.h) passes the very same
 * layout. */
#ifndef BMC_RUNTIME_DEVICE_CUDA_DECODE_ATTENTION_PARAMS_H
#define BMC_RUNTIME_DEVICE_CUDA_DECODE_ATTENTION_PARAMS_H

#define BMC_ATTN_MAX_HEAD_DIM 256
#define BMC_ATTN_MAX_GROUP 8          /* query heads per KV head (GQA) */
#define BMC_ATTN_MAX_ROWS_PER_SPLIT 256

typedef struct bmc_decode_attention_params {
  const float *q;
  long long q_bs, q_hs;
  const void *k;
  long long k_bs, k_hs, k_rs;
  const void *v;
  long long v_bs, v_hs, v_rs;
  float *partial_out;
  float *partial_lse;
  float *out;
  long long o_bs, o_hs;
  int batch, heads, kv_heads, head_dim;
  int kv_len;  /* valid rows: only these are attended to */
  int kv_rows; /* rows whose scores are computed: kv_len (skip), or the padded length (mask) */
  int rows_per_split, splits;
  float scale;
  float softcap;      /* > 0: scores = softcap * tanh(scale * q.k / softcap); 0: none */
  int smooth_softmax; /* 1: an implicit zero logit joins every softmax (bmc_attention_args) */
  int seq;            /* query rows per (batch, head); 0 counts as 1 */
  long long q_ss, o_ss;
  const float *mask;  /* NULL: none */
  long long m_bs, m_hs, m_ss, m_rs;
} bmc_decode_attention_params;

// A strided view as the emitted kernels take it (a !bmck.view of rank <= 4):
// storage pointer, offset, sizes and strides in elements; a view of lower
// rank is passed with leading dimensions of size 1. A dimension of size 1
// may have any stride (a broadcast mask's); readers use stride 0 there.
typedef struct bmc_view4 {
  const void *data;
  long long offset;
  long long size[4];
  long long stride[4];
} bmc_view4;

// A KV cache buffer on a device: [capacity, batch, heads, head_dim]
// contiguous, rows outermost so that growing it only appends
// (runtime/device/DeviceKVCache.h); rows [0, valid) valid. (The CPU's
// bmc_kv_ref is [batch, heads, capacity, head_dim].)
typedef struct bmc_kv_buffer {
  void *data;
  long long batch, capacity, valid;
} bmc_kv_buffer;

#endif
