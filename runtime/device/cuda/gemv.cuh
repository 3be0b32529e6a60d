// Decode GEMV: y[n] = sum_k W[n, k] * x[k], W row-major with row stride ldw
// (elements), fp16/bf16/fp32 weights, fp32 x and accumulation.
//
// One warp per group of BMC_GEMV_ROWS rows: each lane reads 128 bits of every
// row of the group per step (8 fp16/bf16 or 4 fp32 weights), the matching x
// values once for the whole group, and the warp sums its lanes at the end.
// 128-bit loads need 16-byte aligned W and x and ldw a multiple of the
// vector; otherwise the same loop runs one element at a time.
//
// Split-K: blockIdx.y picks the K range [y * k_chunk, (y + 1) * k_chunk) and
// the block writes its partial sums to out + y * n; bmc_gemv_splitk_reduce
// adds the gridDim.y partials in a fixed order (deterministic). With
// gridDim.y == 1 and k_chunk >= k, out is y itself.

#define BMC_GEMV_ROWS 2
#define BMC_GEMV_WARPS 4

template <typename W>
__device__ __forceinline__ void bmc_gemv(const typename W::storage *w, long long ldw,
                                         const float *x, float *out, int n, int k, int k_chunk) {
  typedef typename W::storage T;
  const int kVec = 16 / sizeof(T); // elements per 128-bit load
  int lane = threadIdx.x % BMC_WARP;
  int warp = threadIdx.x / BMC_WARP;
  int row0 = (blockIdx.x * BMC_GEMV_WARPS + warp) * BMC_GEMV_ROWS;
  if (row0 >= n)
    return;
  int k0 = blockIdx.y * k_chunk;
  int k1 = min(k, k0 + k_chunk);
  out += (long long)blockIdx.y * n;

  float acc[BMC_GEMV_ROWS];
  const T *rows[BMC_GEMV_ROWS];
  for (int r = 0; r < BMC_GEMV_ROWS; ++r) {
    acc[r] = 0.0f;
    rows[r] = w + (long long)min(row0 + r, n - 1) * ldw; // past n: row n-1, result dropped
  }

  int tail = k0; // where the element-at-a-time loop starts
  bool vectorised = ldw % kVec == 0 && k0 % kVec == 0 && bmc_aligned16(w) && bmc_aligned16(x);
  if (vectorised) {
    int vecEnd = k0 + (k1 - k0) / kVec * kVec;
    for (int kv = k0 + lane * kVec; kv < vecEnd; kv += BMC_WARP * kVec) {
      float xs[16 / sizeof(T)];
      for (int i = 0; i < kVec; i += 4) {
        float4 x4 = *reinterpret_cast<const float4 *>(x + kv + i);
        xs[i] = x4.x, xs[i + 1] = x4.y, xs[i + 2] = x4.z, xs[i + 3] = x4.w;
      }
      for (int r = 0; r < BMC_GEMV_ROWS; ++r) {
        float ws[16 / sizeof(T)];
        W::unpack(*reinterpret_cast<const uint4 *>(rows[r] + kv), ws);
        for (int i = 0; i < kVec; ++i)
          acc[r] += ws[i] * xs[i];
      }
    }
    tail = vecEnd;
  }
  for (int kk = tail + lane; kk < k1; kk += BMC_WARP) // the tail, or everything unaligned
    for (int r = 0; r < BMC_GEMV_ROWS; ++r)
      acc[r] += W::widen(rows[r][kk]) * x[kk];

  for (int r = 0; r < BMC_GEMV_ROWS; ++r) {
    float sum = bmc_warp_sum(acc[r]);
    if (lane == 0 && row0 + r < n)
      out[row0 + r] = sum;
  }
}

// The library's entry points (CudaKernels::gemv); left out in front of emitted
// kernels (cudaEmittedKernelSource), which call bmc_gemv through matmul.cuh.
#ifndef BMC_NO_LIBRARY_KERNELS
extern "C" __global__ void __launch_bounds__(BMC_GEMV_WARPS * BMC_WARP)
bmc_gemv_f32(const float *w, long long ldw, const float *x, float *out, int n, int k, int k_chunk) {
  bmc_gemv<bmc_f32>(w, ldw, x, out, n, k, k_chunk);
}

extern "C" __global__ void __launch_bounds__(BMC_GEMV_WARPS * BMC_WARP)
bmc_gemv_f16(const unsigned short *w, long long ldw, const float *x, float *out, int n, int k,
             int k_chunk) {
  bmc_gemv<bmc_f16>(w, ldw, x, out, n, k, k_chunk);
}

extern "C" __global__ void __launch_bounds__(BMC_GEMV_WARPS * BMC_WARP)
bmc_gemv_bf16(const unsigned short *w, long long ldw, const float *x, float *out, int n, int k,
              int k_chunk) {
  bmc_gemv<bmc_bf16>(w, ldw, x, out, n, k, k_chunk);
}

// y[i] = sum over s < splits of partial[s * n + i], s in increasing order.
extern "C" __global__ void bmc_gemv_splitk_reduce(const float *partial, float *y, int n,
                                                  int splits) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s)
      sum += partial[(long long)s * n + i];
    y[i] = sum;
  }
}
#endif // BMC_NO_LIBRARY_KERNELS
