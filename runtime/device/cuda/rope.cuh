// Rotary position embedding, in place, on x: [tokens, heads, head_dim] with
// token and head strides in elements (the last dimension contiguous). The
// first rot_dim dimensions of each head rotate by the angles of the token's
// position: cos/sin tables are [max_pos, rot_dim / 2] (row stride rot_dim / 2),
// as ONNX RotaryEmbedding's caches. Pairs:
//   halves      (GPT-NeoX, Llama): (i, i + rot_dim/2)
//   interleaved (GPT-J):          (2i, 2i + 1)
// A position outside [0, max_pos) leaves that token unchanged and sets
// *bad_position = 1 (when not null), so the caller can report it.
// One block per token; its threads walk the (head, pair) grid.

template <bool kInterleaved>
__device__ __forceinline__ void bmc_rope(float *x, long long ts, long long hs, int heads,
                                         int rot_dim, const int *positions, const float *cos_t,
                                         const float *sin_t, int max_pos, int *bad_position) {
  int t = blockIdx.x;
  int pos = positions[t];
  if (pos < 0 || pos >= max_pos) {
    if (bad_position && threadIdx.x == 0)
      *bad_position = 1;
    return;
  }
  int half = rot_dim / 2;
  const float *c = cos_t + (long long)pos * half;
  const float *s = sin_t + (long long)pos * half;
  for (int j = threadIdx.x; j < heads * half; j += blockDim.x) {
    int h = j / half, i = j % half;
    float *xh = x + t * ts + h * hs;
    int ia = kInterleaved ? 2 * i : i;
    int ib = kInterleaved ? 2 * i + 1 : i + half;
    float a = xh[ia], b = xh[ib];
    xh[ia] = a * c[i] - b * s[i];
    xh[ib] = b * c[i] + a * s[i];
  }
}

extern "C" __global__ void bmc_rope_halves(float *x, long long ts, long long hs, int heads,
                                           int rot_dim, const int *positions, const float *cos_t,
                                           const float *sin_t, int max_pos, int *bad_position) {
  bmc_rope<false>(x, ts, hs, heads, rot_dim, positions, cos_t, sin_t, max_pos, bad_position);
}

extern "C" __global__ void bmc_rope_interleaved(float *x, long long ts, long long hs, int heads,
                                                int rot_dim, const int *positions,
                                                const float *cos_t, const float *sin_t,
                                                int max_pos, int *bad_position) {
  bmc_rope<true>(x, ts, hs, heads, rot_dim, positions, cos_t, sin_t, max_pos, bad_position);
}
