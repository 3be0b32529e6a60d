// Decode attention (one query token per sequence) in the flash-decoding style:
// the KV rows are cut into splits that run as separate blocks, each producing
// a partial softmax-weighted sum and its log-sum-exp; a combine kernel then
// merges the splits. Arguments: bmc_decode_attention_params.
//
// Grid of the split kernel: (splits, kv_heads, batch), BMC_ATTN_THREADS
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

template <typename KV>
__device__ __forceinline__ void bmc_decode_attention_split(const bmc_decode_attention_params &p) {
  typedef typename KV::storage T;
  __shared__ float q_s[BMC_ATTN_MAX_GROUP][BMC_ATTN_MAX_HEAD_DIM];
  __shared__ float score_s[BMC_ATTN_MAX_GROUP][BMC_ATTN_MAX_ROWS_PER_SPLIT];
  __shared__ float max_s[BMC_ATTN_MAX_GROUP], sum_s[BMC_ATTN_MAX_GROUP];

  int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  int group = p.heads / p.kv_heads, d_n = p.head_dim;
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int r0 = split * p.rows_per_split;
  int r1 = min(r0 + p.rows_per_split, p.kv_rows);
  int valid_end = min(r1, p.kv_len); // V is read only below this row

  // The group's query rows, scaled once.
  for (int i = threadIdx.x; i < group * d_n; i += blockDim.x) {
    int g = i / d_n, d = i % d_n;
    q_s[g][d] = p.q[b * p.q_bs + (kvh * group + g) * p.q_hs + d] * p.scale;
  }
  __syncthreads();

  // Scores: one warp per row; each lane holds head_dim / 32 elements of the K row.
  const T *k = static_cast<const T *>(p.k) + b * p.k_bs + kvh * p.k_hs;
  for (int r = r0 + warp; r < r1; r += BMC_ATTN_WARPS) {
    float k_reg[BMC_ATTN_MAX_HEAD_DIM / BMC_WARP];
    for (int j = 0; j < BMC_ATTN_MAX_HEAD_DIM / BMC_WARP; ++j) {
      int d = lane + j * BMC_WARP;
      k_reg[j] = d < d_n ? KV::widen(k[r * p.k_rs + d]) : 0.0f;
    }
    for (int g = 0; g < group; ++g) {
      float dot = 0.0f;
      for (int j = 0; j < BMC_ATTN_MAX_HEAD_DIM / BMC_WARP; ++j) {
        int d = lane + j * BMC_WARP;
        if (d < d_n)
          dot += q_s[g][d] * k_reg[j];
      }
      dot = bmc_warp_sum(dot);
      if (p.softcap > 0.0f)
        dot = p.softcap * tanhf(dot / p.softcap);
      if (lane == 0)
        score_s[g][r - r0] = r < p.kv_len ? dot : BMC_NEG_INF; // spare rows masked
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
    long long slot = ((long long)b * p.heads + h) * p.splits + split;
    float l = sum_s[g];
    p.partial_out[slot * d_n + d] = l > 0.0f ? acc / l : 0.0f;
    if (d == 0)
      p.partial_lse[slot] = l > 0.0f ? max_s[g] + logf(l) : BMC_NEG_INF;
  }
}

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

// out[b, h, :] = sum_s w_s * partial_out[b, h, s, :] / sum_s w_s with
// w_s = exp(lse_s - max_s lse_s). Grid (heads, batch); threads walk head_dim.
// Smooth softmax: the implicit zero logit joins the max (so exp(-m) <= 1)
// and adds exp(0 - m) to the denominator.
extern "C" __global__ void __launch_bounds__(BMC_ATTN_THREADS)
bmc_decode_attention_combine(bmc_decode_attention_params p) {
  int h = blockIdx.x, b = blockIdx.y;
  long long base = ((long long)b * p.heads + h) * p.splits;
  float m = BMC_NEG_INF;
  for (int s = 0; s < p.splits; ++s)
    m = fmaxf(m, p.partial_lse[base + s]);
  float *o = p.out + b * p.o_bs + h * p.o_hs;
  for (int d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    if (m == BMC_NEG_INF) { // no valid row at all
      o[d] = 0.0f;
      continue;
    }
    if (p.smooth_softmax)
      m = fmaxf(m, 0.0f);
    float num = 0.0f, den = p.smooth_softmax ? expf(-m) : 0.0f;
    for (int s = 0; s < p.splits; ++s) {
      float w = expf(p.partial_lse[base + s] - m);
      num += w * p.partial_out[(base + s) * p.head_dim + d];
      den += w;
    }
    o[d] = num / den;
  }
}
