// Row normalisations, one block per row, fp32 in and out; gamma/beta fp32.
//   RMSNorm:   out = x / sqrt(mean(x^2) + eps) * gamma
//   LayerNorm: out = (x - mean) / sqrt(var + eps) * gamma + beta (beta may be null)
// x and out rows are ldx / ldo elements apart; out may be x.

#define BMC_NORM_THREADS 256

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
