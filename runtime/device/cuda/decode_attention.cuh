// Decode attention (one query token per sequence) in the flash-decoding style:
// the KV rows are cut into splits that run as separate blocks, each producing
// a partial softmax-weighted sum and its log-sum-exp; a combine kernel then
// merges the splits. Arguments: bmc_decode_attention_params. With seq > 1
// query rows and an additive mask (its fields after smooth_softmax) the same
// kernels compute bmck.attention for prefill too, a block per (split, KV
// head, batch x query row): correct, not yet a tiled prefill kernel.
//
// Grid of the split kernel: (splits, kv_heads, batch * seq), BMC_ATTN_THREADS
// threads. A block serves one KV head and the heads / kv_heads query heads
// that share it (GQA), so each K and V row is read once for the whole group.
//
// Spare rows (BMC's r rows past kv_len): in "skip" mode kv_rows == kv_len and
// they are never touched; in "mask" mode kv_rows is the padded length, their
// scores are computed and set to -inf. V's spare rows are never read in either
// mode, so garbage there (even NaN) cannot reach the output. kv_len == 0
// gives out = 0.

#define BMC_ATTN_THREADS 128
#define BMC_ATTN_WARPS (BMC_ATTN_THREADS / BMC_WARP)

// kGroup / kHeadDim > 0: the group size and head_dim are compile-time
// constants (the emitted kernels of compiler/targets/cuda, one per
// configuration), which sizes the shared tiles and the K registers to them;
// 0: read from p (the library's kernels, any size up to the maximum).
template <typename KV, int kGroup = 0, int kHeadDim = 0>
__device__ __forceinline__ void bmc_decode_attention_split(const bmc_decode_attention_params &p) {
  typedef typename KV::storage T;
  constexpr int kMaxGroup = kGroup > 0 ? kGroup : BMC_ATTN_MAX_GROUP;
  constexpr int kMaxDim = kHeadDim > 0 ? (kHeadDim + BMC_WARP - 1) / BMC_WARP * BMC_WARP : BMC_ATTN_MAX_HEAD_DIM;
  __shared__ float q_s[kMaxGroup][kMaxDim];
  __shared__ float score_s[kMaxGroup][BMC_ATTN_MAX_ROWS_PER_SPLIT];
  __shared__ float max_s[kMaxGroup], sum_s[kMaxGroup];

  int seq = p.seq > 0 ? p.seq : 1;
  int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z / seq, s = blockIdx.z % seq;
  int group = kGroup > 0 ? kGroup : p.heads / p.kv_heads, d_n = kHeadDim > 0 ? kHeadDim : p.head_dim;
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int r0 = split * p.rows_per_split;
  int r1 = min(r0 + p.rows_per_split, p.kv_rows);
  int valid_end = min(r1, p.kv_len); // V is read only below this row

  // The group's query rows, scaled once.
  for (int i = threadIdx.x; i < group * d_n; i += blockDim.x) {
    int g = i / d_n, d = i % d_n;
    q_s[g][d] = p.q[b * p.q_bs + (kvh * group + g) * p.q_hs + s * p.q_ss + d] * p.scale;
  }
  __syncthreads();

  // Scores: one warp per row; each lane holds head_dim / 32 elements of the K row.
  const T *k = static_cast<const T *>(p.k) + b * p.k_bs + kvh * p.k_hs;
  for (int r = r0 + warp; r < r1; r += BMC_ATTN_WARPS) {
    float k_reg[kMaxDim / BMC_WARP];
    for (int j = 0; j < kMaxDim / BMC_WARP; ++j) {
      int d = lane + j * BMC_WARP;
      k_reg[j] = d < d_n ? KV::widen(k[r * p.k_rs + d]) : 0.0f;
    }
    for (int g = 0; g < group; ++g) {
      float dot = 0.0f;
      for (int j = 0; j < kMaxDim / BMC_WARP; ++j) {
        int d = lane + j * BMC_WARP;
        if (d < d_n)
          dot += q_s[g][d] * k_reg[j];
      }
      dot = bmc_warp_sum(dot);
      if (p.softcap > 0.0f)
        dot = p.softcap * tanhf(dot / p.softcap);
      if (lane == 0) {
        // After the cap, as bmc.attention defines it; clamped at -FLT_MAX as
        // bmc_attention_f32 does, so a row masked everywhere gets uniform
        // weights over the valid rows there too (not 0).
        if (p.mask && r < p.kv_len)
          dot = fmaxf(dot + p.mask[b * p.m_bs + (kvh * group + g) * p.m_hs + s * p.m_ss + r * p.m_rs],
                      BMC_NEG_MAX);
        score_s[g][r - r0] = r < p.kv_len ? dot : BMC_NEG_INF; // spare rows masked
      }
    }
  }
  __syncthreads();

  // Softmax over this split's rows, one warp per query head: scores become
  // unnormalised weights exp(s - max); max and sum are kept for the combine.
  for (int g = warp; g < group; g += BMC_ATTN_WARPS) {
    float m = BMC_NEG_INF;
    for (int i = lane; i < r1 - r0; i += BMC_WARP)
      m = fmaxf(m, score_s[g][i]);
    m = bmc_warp_max(m);
    float l = 0.0f;
    for (int i = lane; i < r1 - r0; i += BMC_WARP) {
      float e = m == BMC_NEG_INF ? 0.0f : expf(score_s[g][i] - m);
      score_s[g][i] = e;
      l += e;
    }
    l = bmc_warp_sum(l);
    if (lane == 0)
      max_s[g] = m, sum_s[g] = l;
  }
  __syncthreads();

  // Weighted sum of the valid V rows; threads walk (head in group, dimension).
  const T *v = static_cast<const T *>(p.v) + b * p.v_bs + kvh * p.v_hs;
  for (int i = threadIdx.x; i < group * d_n; i += blockDim.x) {
    int g = i / d_n, d = i % d_n;
    float acc = 0.0f;
    for (int r = r0; r < valid_end; ++r)
      acc += score_s[g][r - r0] * KV::widen(v[r * p.v_rs + d]);
    int h = kvh * group + g;
    long long slot = (((long long)b * seq + s) * p.heads + h) * p.splits + split;
    float l = sum_s[g];
    p.partial_out[slot * d_n + d] = l > 0.0f ? acc / l : 0.0f;
    if (d == 0)
      p.partial_lse[slot] = l > 0.0f ? max_s[g] + logf(l) : BMC_NEG_INF;
  }
}

// The parameters of bmck.attention from its views (what the emitted kernels
// pass): q [batch, heads, seq, head_dim] f32, k/v [batch, kv_heads, total,
// head_dim], an optional f32 mask broadcasting to [batch, heads, seq, total]
// (size-1 dimensions read with stride 0), out like q. head_dim, kv_rows,
// scale, softcap and smooth_softmax are the caller's (compile-time constants
// in the emitted kernels).
template <typename KV>
__device__ __forceinline__ bmc_decode_attention_params
bmc_attention_view_params(const bmc_view4 &q, const bmc_view4 &k, const bmc_view4 &v, const bmc_view4 *mask,
                          const bmc_view4 &out, float *partial_out, float *partial_lse, int rows_per_split,
                          int splits) {
  bmc_decode_attention_params p;
  p.q = (const float *)q.data + q.offset;
  p.q_bs = bmc_view_stride(q, 0), p.q_hs = bmc_view_stride(q, 1), p.q_ss = bmc_view_stride(q, 2);
  p.k = (const typename KV::storage *)k.data + k.offset;
  p.k_bs = bmc_view_stride(k, 0), p.k_hs = bmc_view_stride(k, 1), p.k_rs = k.stride[2];
  p.v = (const typename KV::storage *)v.data + v.offset;
  p.v_bs = bmc_view_stride(v, 0), p.v_hs = bmc_view_stride(v, 1), p.v_rs = v.stride[2];
  p.partial_out = partial_out, p.partial_lse = partial_lse;
  p.out = (float *)out.data + out.offset;
  p.o_bs = bmc_view_stride(out, 0), p.o_hs = bmc_view_stride(out, 1), p.o_ss = bmc_view_stride(out, 2);
  p.batch = (int)q.size[0], p.heads = (int)q.size[1], p.seq = (int)q.size[2];
  p.kv_heads = (int)k.size[1], p.head_dim = (int)q.size[3];
  p.kv_len = (int)k.size[2], p.kv_rows = p.kv_len;
  p.rows_per_split = rows_per_split, p.splits = splits;
  p.scale = 1.0f, p.softcap = 0.0f, p.smooth_softmax = 0;
  p.mask = mask ? (const float *)mask->data + mask->offset : 0;
  p.m_bs = mask ? bmc_view_stride(*mask, 0) : 0, p.m_hs = mask ? bmc_view_stride(*mask, 1) : 0;
  p.m_ss = mask ? bmc_view_stride(*mask, 2) : 0, p.m_rs = mask ? bmc_view_stride(*mask, 3) : 0;
  return p;
}

// The library's own entry points (KernelLibrary's decode_attention family);
// left out in front of emitted kernels (cudaEmittedKernelSource), which have theirs.
#ifndef BMC_NO_LIBRARY_KERNELS
extern "C" __global__ void __launch_bounds__(BMC_ATTN_THREADS)
bmc_decode_attention_split_f32(bmc_decode_attention_params p) {
  bmc_decode_attention_split<bmc_f32>(p);
}
extern "C" __global__ void __launch_bounds__(BMC_ATTN_THREADS)
bmc_decode_attention_split_f16(bmc_decode_attention_params p) {
  bmc_decode_attention_split<bmc_f16>(p);
}
extern "C" __global__ void __launch_bounds__(BMC_ATTN_THREADS)
bmc_decode_attention_split_bf16(bmc_decode_attention_params p) {
  bmc_decode_attention_split<bmc_bf16>(p);
}

#endif // BMC_NO_LIBRARY_KERNELS

// out[b, h, :] = sum_s w_s * partial_out[b, h, s, :] / sum_s w_s with
// w_s = exp(lse_s - max_s lse_s). Grid (heads, batch); threads walk head_dim.
// Smooth softmax: the implicit zero logit joins the max (so exp(-m) <= 1)
// and adds exp(0 - m) to the denominator.
// Grid (heads, batch * seq) when seq > 1.
template <int kHeadDim = 0>
__device__ __forceinline__ void bmc_decode_attention_combine_rows(const bmc_decode_attention_params &p) {
  int seq = p.seq > 0 ? p.seq : 1;
  int h = blockIdx.x, b = blockIdx.y / seq, s = blockIdx.y % seq;
  int d_n = kHeadDim > 0 ? kHeadDim : p.head_dim;
  long long base = (((long long)b * seq + s) * p.heads + h) * p.splits;
  float m = BMC_NEG_INF;
  for (int i = 0; i < p.splits; ++i)
    m = fmaxf(m, p.partial_lse[base + i]);
  float *o = p.out + b * p.o_bs + h * p.o_hs + s * p.o_ss;
  for (int d = threadIdx.x; d < d_n; d += blockDim.x) {
    if (m == BMC_NEG_INF) { // no valid row at all
      o[d] = 0.0f;
      continue;
    }
    // Every valid row clamped at -FLT_MAX (a mask of -inf everywhere): the
    // lse lost its log(count) to rounding, so weigh the splits by their valid
    // rows, giving bmc_attention_f32's uniform weights (smooth softmax: 0).
    bool clamped = m == BMC_NEG_MAX && !p.smooth_softmax;
    if (p.smooth_softmax)
      m = fmaxf(m, 0.0f);
    float num = 0.0f, den = p.smooth_softmax ? expf(-m) : 0.0f;
    for (int i = 0; i < p.splits; ++i) {
      float w = expf(p.partial_lse[base + i] - m);
      if (clamped)
        w = p.partial_lse[base + i] == BMC_NEG_MAX
                ? (float)max(0, min(p.rows_per_split, p.kv_len - i * p.rows_per_split))
                : 0.0f;
      num += w * p.partial_out[(base + i) * d_n + d];
      den += w;
    }
    o[d] = num / den;
  }
}

#ifndef BMC_NO_LIBRARY_KERNELS
extern "C" __global__ void __launch_bounds__(BMC_ATTN_THREADS)
bmc_decode_attention_combine(bmc_decode_attention_params p) {
  bmc_decode_attention_combine_rows<>(p);
}
#endif
