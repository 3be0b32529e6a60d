// Row normalisations, one block per row, fp32 in and out; gamma/beta fp32.
//   RMSNorm:   out = x / sqrt(mean(x^2) + eps) * gamma
//   LayerNorm: out = (x - mean) / sqrt(var + eps) * gamma + beta (beta may be null)
// x and out rows are ldx / ldo elements apart; out may be x.
// Below them, the device functions of the CUDA emitter's bmck.norm and
// bmck.softmax kernels (compiler/targets/cuda/EmitCudaNorm.cpp): one row of a
// bmc_view4 per block, any element type and strides.

#define BMC_NORM_THREADS 256

#ifndef BMC_NO_LIBRARY_KERNELS

extern "C" __global__ void __launch_bounds__(BMC_NORM_THREADS)
bmc_rms_norm(const float *x, long long ldx, const float *gamma, float *out, long long ldo, int n,
             float eps) {
  __shared__ float scratch[BMC_NORM_THREADS / BMC_WARP];
  const float *xr = x + blockIdx.x * ldx;
  float *yr = out + blockIdx.x * ldo;
  float sq = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    sq += xr[i] * xr[i];
  float inv = rsqrtf(bmc_block_sum(sq, scratch) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    yr[i] = xr[i] * inv * gamma[i];
}

extern "C" __global__ void __launch_bounds__(BMC_NORM_THREADS)
bmc_layer_norm(const float *x, long long ldx, const float *gamma, const float *beta, float *out,
               long long ldo, int n, float eps) {
  __shared__ float scratch[BMC_NORM_THREADS / BMC_WARP];
  const float *xr = x + blockIdx.x * ldx;
  float *yr = out + blockIdx.x * ldo;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    sum += xr[i];
  float mean = bmc_block_sum(sum, scratch) / n;
  // Two passes (variance of x - mean), not E[x^2] - mean^2, which cancels.
  float dev = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float d = xr[i] - mean;
    dev += d * d;
  }
  float inv = rsqrtf(bmc_block_sum(dev, scratch) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float y = (xr[i] - mean) * inv * gamma[i];
    yr[i] = beta ? y + beta[i] : y;
  }
}
#endif // BMC_NO_LIBRARY_KERNELS

// The max of v over the block, returned to every thread (as bmc_block_sum).
__device__ __forceinline__ float bmc_block_max(float v, float *scratch) {
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int warps = (blockDim.x + BMC_WARP - 1) / BMC_WARP;
  v = bmc_warp_max(v);
  __syncthreads();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float m = scratch[0];
  for (int w = 1; w < warps; ++w)
    m = fmaxf(m, scratch[w]);
  return m;
}

// The row of view `v` that block (x, y, z) handles: dimensions 2, 1, 0 of
// the view (a view of rank < 4 comes with leading dimensions of size 1); the
// element offset of its first element.
__device__ __forceinline__ long long bmc_view_row(const bmc_view4 &v) {
  return v.offset + (long long)blockIdx.z * bmc_view_stride(v, 0) + (long long)blockIdx.y * bmc_view_stride(v, 1) +
         (long long)blockIdx.x * bmc_view_stride(v, 2);
}

// bmck.norm over the last dimension (n = x.size[3] elements, stride
// x.stride[3]), statistics in fp32, as the CPU emitter's loops compute them:
// RMS: y = x * (1 / sqrt(mean(x^2) + eps)) * scale; layer: the mean first,
// then the variance of x - mean (two passes), + bias when there is one.
// scale and bias are views whose last dimension is n or 1 (broadcast).
template <typename T, bool RMS>
__device__ __forceinline__ void bmc_norm_view_row(const bmc_view4 &x, const bmc_view4 &scale, const bmc_view4 *bias,
                                                  const bmc_view4 &out, float eps) {
  __shared__ float scratch[BMC_NORM_THREADS / BMC_WARP];
  typedef typename T::storage S;
  const S *xr = (const S *)x.data + bmc_view_row(x);
  S *yr = (S *)out.data + bmc_view_row(out);
  const S *g = (const S *)scale.data + scale.offset;
  const S *b = bias ? (const S *)bias->data + bias->offset : 0;
  const long long n = x.size[3], xs = x.stride[3], ys = out.stride[3], gs = bmc_view_stride(scale, 3);
  const long long bs = bias ? bmc_view_stride(*bias, 3) : 0;
  float mean = 0.0f;
  if (!RMS) {
    float sum = 0.0f;
    for (long long i = threadIdx.x; i < n; i += blockDim.x)
      sum += T::widen(xr[i * xs]);
    mean = bmc_block_sum(sum, scratch) / (float)n;
  }
  float dev = 0.0f;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) {
    float d = T::widen(xr[i * xs]) - mean;
    dev += d * d;
  }
  float inv = 1.0f / sqrtf(bmc_block_sum(dev, scratch) / (float)n + eps);
  for (long long i = threadIdx.x; i < n; i += blockDim.x) {
    float y = (T::widen(xr[i * xs]) - mean) * inv * T::widen(g[i * gs]);
    if (b)
      y += T::widen(b[i * bs]);
    yr[i * ys] = T::narrow(y);
  }
}

// bmck.softmax over the last dimension, fp32 arithmetic, as the CPU loops
// compute it: the row's max (0 when it is -inf, so no exponent is
// -inf - -inf), e = exp(x - max), then e * (1 / sum e), or with LOG
// (x - max) - log(sum e). A row of -inf only has a sum of 0: NaN, as on the CPU.
template <typename T, bool LOG>
__device__ __forceinline__ void bmc_softmax_view_row(const bmc_view4 &x, const bmc_view4 &out) {
  __shared__ float scratch[BMC_NORM_THREADS / BMC_WARP];
  typedef typename T::storage S;
  const S *xr = (const S *)x.data + bmc_view_row(x);
  S *yr = (S *)out.data + bmc_view_row(out);
  const long long n = x.size[3], xs = x.stride[3], ys = out.stride[3];
  float m = BMC_NEG_INF;
  for (long long i = threadIdx.x; i < n; i += blockDim.x)
    m = fmaxf(m, T::widen(xr[i * xs]));
  m = bmc_block_max(m, scratch);
  if (m == BMC_NEG_INF)
    m = 0.0f;
  float sum = 0.0f;
  for (long long i = threadIdx.x; i < n; i += blockDim.x)
    sum += expf(T::widen(xr[i * xs]) - m);
  sum = bmc_block_sum(sum, scratch);
  if (LOG) {
    float ls = logf(sum);
    for (long long i = threadIdx.x; i < n; i += blockDim.x)
      yr[i * ys] = T::narrow((T::widen(xr[i * xs]) - m) - ls);
  } else {
    float inv = 1.0f / sum;
    for (long long i = threadIdx.x; i < n; i += blockDim.x)
      yr[i * ys] = T::narrow(expf(T::widen(xr[i * xs]) - m) * inv);
  }
}
