// The matrix products the CUDA emitter writes (compiler/targets/cuda/
// EmitCudaMatMul.cpp): bmck.matmul (batched, broadcasting, 1-D promoted) and
// bmck.gemm (transposes, alpha, beta, C), each operand a strided view.
//
// An operand is read as element (b0, b1, r, c) at
//   off + b0 * s_b0 + b1 * s_b1 + r * s_r + c * s_c
// (stride 0 where a dimension broadcasts or does not exist); the emitted
// kernel builds it from its bmc_view4 with the dimensions its op's ranks and
// transposes name, so one device function serves every form.
//
// Two paths:
// - bmc_mm_tiled: shared-memory tiles of BMC_MM_TILE x BMC_MM_TILE, one output
//   element per thread, fp32 accumulation; any strides, any element types.
//   The correct reference path for many rows (prefill) and for products
//   without a weight; cuBLASLt is to replace it for prefill (docs/DESIGN.md).
// - bmc_mm_gemv + bmc_mm_epilogue: decode, a product with a named weight
//   ([N, K] row-major in the device, f32/f16/bf16) and at most
//   BMC_MM_GEMV_MAX_ROWS rows of fp32 activations: the GEMV of gemv.cuh per
//   row (128-bit loads where x is contiguous and aligned, split-K over
//   gridDim.y), partial sums in scratch, then the epilogue adds the splits in
//   order (deterministic) and applies alpha, beta * C and the output type.

#define BMC_MM_TILE 16
#define BMC_MM_GEMV_MAX_ROWS 8
#define BMC_MM_EPILOGUE_THREADS 128

typedef struct bmc_mm_operand {
  const void *data;
  long long off, s_b0, s_b1, s_r, s_c;
} bmc_mm_operand;

// The operand of view `v` whose batch, row and column dimensions are b0, b1,
// r, c (-1: none, stride 0).
__device__ __forceinline__ bmc_mm_operand bmc_mm_of(const bmc_view4 &v, int b0, int b1, int r, int c) {
  bmc_mm_operand o;
  o.data = v.data;
  o.off = v.offset;
  o.s_b0 = b0 < 0 ? 0 : bmc_view_stride(v, b0);
  o.s_b1 = b1 < 0 ? 0 : bmc_view_stride(v, b1);
  o.s_r = r < 0 ? 0 : bmc_view_stride(v, r);
  o.s_c = c < 0 ? 0 : bmc_view_stride(v, c);
  return o;
}

// A weight in the CUDA target's layout, [N, K] row-major: B(k, n) at n * K + k.
__device__ __forceinline__ bmc_mm_operand bmc_mm_weight(const void *w, long long k) {
  bmc_mm_operand o;
  o.data = w;
  o.off = 0, o.s_b0 = 0, o.s_b1 = 0, o.s_r = 1, o.s_c = k;
  return o;
}

// The size of view dimension `dim`, 1 for none.
__device__ __forceinline__ int bmc_mm_size(const bmc_view4 &v, int dim) { return dim < 0 ? 1 : (int)v.size[dim]; }

template <typename T>
__device__ __forceinline__ float bmc_mm_load(const bmc_mm_operand &o, long long at) {
  return T::widen(static_cast<const typename T::storage *>(o.data)[o.off + at]);
}

template <typename T>
__device__ __forceinline__ void bmc_mm_store(const bmc_mm_operand &o, long long at, float v) {
  const_cast<typename T::storage *>(static_cast<const typename T::storage *>(o.data))[o.off + at] = T::narrow(v);
}

// out(b, m, n) = alpha * sum_k A(b, m, k) B(b, k, n) [+ beta * C(m, n)].
// Grid (ceil(n / TILE), ceil(m / TILE), batch0 * batch1), block TILE * TILE;
// blockIdx.z = b0 * batch1 + b1.
template <typename TA, typename TB, typename TO, typename TC>
__device__ __forceinline__ void bmc_mm_tiled(bmc_mm_operand a, bmc_mm_operand b, bmc_mm_operand out,
                                             bmc_mm_operand c, int has_c, float alpha, float beta, int batch1,
                                             int m, int n, int k) {
  __shared__ float as[BMC_MM_TILE][BMC_MM_TILE + 1];
  __shared__ float bs[BMC_MM_TILE][BMC_MM_TILE + 1];
  int tx = threadIdx.x % BMC_MM_TILE, ty = threadIdx.x / BMC_MM_TILE;
  int row = blockIdx.y * BMC_MM_TILE + ty, col = blockIdx.x * BMC_MM_TILE + tx;
  long long b0 = blockIdx.z / batch1, b1 = blockIdx.z % batch1;
  long long aBase = b0 * a.s_b0 + b1 * a.s_b1, bBase = b0 * b.s_b0 + b1 * b.s_b1;
  float acc = 0.0f;
  for (int k0 = 0; k0 < k; k0 += BMC_MM_TILE) {
    int ka = k0 + tx, kb = k0 + ty;
    as[ty][tx] = row < m && ka < k ? bmc_mm_load<TA>(a, aBase + row * a.s_r + ka * a.s_c) : 0.0f;
    bs[ty][tx] = kb < k && col < n ? bmc_mm_load<TB>(b, bBase + kb * b.s_r + col * b.s_c) : 0.0f;
    __syncthreads();
    for (int i = 0; i < BMC_MM_TILE; ++i)
      acc += as[ty][i] * bs[i][tx];
    __syncthreads();
  }
  if (row < m && col < n) {
    float v = alpha * acc;
    if (has_c)
      v += beta * bmc_mm_load<TC>(c, row * c.s_r + col * c.s_c);
    bmc_mm_store<TO>(out, b0 * out.s_b0 + b1 * out.s_b1 + row * out.s_r + col * out.s_c, v);
  }
}

// Row blockIdx.z (= (b0 * batch1 + b1) * m + i) of an fp32 A times the weight
// w ([n, k] row-major): the partial sums of K chunk blockIdx.y go to
// partial[(row * gridDim.y + blockIdx.y) * n ...]. Grid (ceil(n /
// (BMC_GEMV_WARPS * BMC_GEMV_ROWS)), splits, rows), block BMC_GEMV_WARPS * 32.
template <typename W>
__device__ __forceinline__ void bmc_mm_gemv(bmc_mm_operand a, const typename W::storage *w, float *partial,
                                            int batch1, int m, int n, int k, int k_chunk) {
  long long r = blockIdx.z, i = r % m, b = r / m;
  const float *x = static_cast<const float *>(a.data) + a.off + (b / batch1) * a.s_b0 + (b % batch1) * a.s_b1 +
                   i * a.s_r;
  if (a.s_c == 1) { // gemv.cuh's loop writes out + blockIdx.y * n
    bmc_gemv<W>(w, k, x, partial + r * gridDim.y * n, n, k, k_chunk);
    return;
  }
  // A strided row (a transposed A): the same row groups, one element at a time.
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int row0 = (blockIdx.x * BMC_GEMV_WARPS + warp) * BMC_GEMV_ROWS;
  if (row0 >= n)
    return;
  int k0 = blockIdx.y * k_chunk, k1 = min(k, k0 + k_chunk);
  float *out = partial + (r * gridDim.y + blockIdx.y) * n;
  for (int j = 0; j < BMC_GEMV_ROWS; ++j) {
    const typename W::storage *wr = w + (long long)min(row0 + j, n - 1) * k;
    float acc = 0.0f;
    for (int kk = k0 + lane; kk < k1; kk += BMC_WARP)
      acc += W::widen(wr[kk]) * x[kk * a.s_c];
    acc = bmc_warp_sum(acc);
    if (lane == 0 && row0 + j < n)
      out[row0 + j] = acc;
  }
}

// out(row, col) = alpha * (sum of the splits' partials, in order) [+ beta * C].
// Grid (ceil(n / BMC_MM_EPILOGUE_THREADS), rows), block BMC_MM_EPILOGUE_THREADS.
template <typename TO, typename TC>
__device__ __forceinline__ void bmc_mm_epilogue(const float *partial, int splits, bmc_mm_operand out,
                                                bmc_mm_operand c, int has_c, float alpha, float beta, int batch1,
                                                int m, int n) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= n)
    return;
  long long r = blockIdx.y, i = r % m, b = r / m;
  float sum = 0.0f;
  for (int s = 0; s < splits; ++s)
    sum += partial[(r * splits + s) * n + col];
  float v = alpha * sum;
  if (has_c)
    v += beta * bmc_mm_load<TC>(c, i * c.s_r + col * c.s_c);
  bmc_mm_store<TO>(out, (b / batch1) * out.s_b0 + (b % batch1) * out.s_b1 + i * out.s_r + col * out.s_c, v);
}
