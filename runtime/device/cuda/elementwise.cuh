// Fused elementwise kernels over n fp32 values (out may alias an input):
//   bmc_silu_mul: out = silu(a) * b = a / (1 + exp(-a)) * b   (the SwiGLU MLP)
//   bmc_add:      out = a + b                                 (residual adds)
// Grid-stride loops; 128-bit loads and stores when all three are 16-byte aligned.
// Below them, the device functions of the CUDA emitter's bmck.elementwise
// kernels (compiler/targets/cuda/EmitCudaElementwise.cpp).

#define BMC_EW_THREADS 256

#ifndef BMC_NO_LIBRARY_KERNELS

__device__ __forceinline__ float bmc_silu(float a) { return a / (1.0f + expf(-a)); }

template <typename Op>
__device__ __forceinline__ void bmc_binary(const float *a, const float *b, float *out, long long n) {
  long long stride = (long long)gridDim.x * blockDim.x;
  long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long done = 0;
  if (bmc_aligned16(a) && bmc_aligned16(b) && bmc_aligned16(out)) {
    long long n4 = n / 4;
    for (long long i = first; i < n4; i += stride) {
      float4 x = reinterpret_cast<const float4 *>(a)[i];
      float4 y = reinterpret_cast<const float4 *>(b)[i];
      reinterpret_cast<float4 *>(out)[i] =
          make_float4(Op::apply(x.x, y.x), Op::apply(x.y, y.y), Op::apply(x.z, y.z),
                      Op::apply(x.w, y.w));
    }
    done = n4 * 4;
  }
  for (long long i = done + first; i < n; i += stride)
    out[i] = Op::apply(a[i], b[i]);
}

struct bmc_op_silu_mul {
  static __device__ __forceinline__ float apply(float a, float b) { return bmc_silu(a) * b; }
};
struct bmc_op_add {
  static __device__ __forceinline__ float apply(float a, float b) { return a + b; }
};

extern "C" __global__ void bmc_silu_mul(const float *a, const float *b, float *out, long long n) {
  bmc_binary<bmc_op_silu_mul>(a, b, out, n);
}

extern "C" __global__ void bmc_add(const float *a, const float *b, float *out, long long n) {
  bmc_binary<bmc_op_add>(a, b, out, n);
}
#endif // BMC_NO_LIBRARY_KERNELS

// bmck.elementwise: a thread per element of the output view (a grid-stride
// loop over out.size[0] * ... * size[3] elements, the index unflattened by
// out's sizes); each leaf is read at the same index through its own view,
// right-aligned, stride 0 where its size is 1 (broadcast). The element
// arithmetic is the CPU emitter's (compiler/lowering/LowerElementwise.cpp,
// scalarOp): 16-bit floats computed in fp32, bools as bytes, integers
// wrapping, and the helpers below where C's operator differs from the op.

__device__ __forceinline__ long long bmc_ew_elements(const bmc_view4 &out) {
  return out.size[0] * out.size[1] * out.size[2] * out.size[3];
}

// The index (i[0], ..., i[3]) of linear element e of out (row-major in out's sizes).
__device__ __forceinline__ void bmc_ew_index(const bmc_view4 &out, long long e, long long *i) {
  i[3] = e % out.size[3];
  e /= out.size[3];
  i[2] = e % out.size[2];
  e /= out.size[2];
  i[1] = e % out.size[1];
  i[0] = e / out.size[1];
}

// arith.minimumf / maximumf (the CPU's Min / Max of floats): NaN if either is
// NaN, -0 below +0; fminf / fmaxf return the other operand for a NaN.
__device__ __forceinline__ float bmc_ew_minimum(float a, float b) {
  if (a != a || b != b)
    return a + b;
  if (a == b)
    return (__float_as_uint(a) & 0x80000000u) ? a : b;
  return a < b ? a : b;
}
__device__ __forceinline__ float bmc_ew_maximum(float a, float b) {
  if (a != a || b != b)
    return a + b;
  if (a == b)
    return (__float_as_uint(a) & 0x80000000u) ? b : a;
  return a > b ? a : b;
}

// Integer +, -, *, negation wrapping (two's complement), as the CPU's
// arith ops; C's signed overflow is undefined.
__device__ __forceinline__ int bmc_ew_add(int a, int b) { return (int)((unsigned)a + (unsigned)b); }
__device__ __forceinline__ int bmc_ew_sub(int a, int b) { return (int)((unsigned)a - (unsigned)b); }
__device__ __forceinline__ int bmc_ew_mul(int a, int b) { return (int)((unsigned)a * (unsigned)b); }
__device__ __forceinline__ long long bmc_ew_add(long long a, long long b) {
  return (long long)((unsigned long long)a + (unsigned long long)b);
}
__device__ __forceinline__ long long bmc_ew_sub(long long a, long long b) {
  return (long long)((unsigned long long)a - (unsigned long long)b);
}
__device__ __forceinline__ long long bmc_ew_mul(long long a, long long b) {
  return (long long)((unsigned long long)a * (unsigned long long)b);
}
__device__ __forceinline__ int bmc_ew_abs(int a) { return a < 0 ? bmc_ew_sub(0, a) : a; }
__device__ __forceinline__ long long bmc_ew_abs(long long a) { return a < 0 ? bmc_ew_sub(0ll, a) : a; }

// Integer Mod (fmod = 0): Python's, the result takes the divisor's sign.
template <typename I> __device__ __forceinline__ I bmc_ew_mod(I a, I b) {
  I r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? (I)(r + b) : r;
}

// Float -> integer Cast: toward zero; NaN and values out of range give the
// integer's minimum, what the CPU path's cvttss2si gives (C and LLVM leave
// them undefined; the GPU's cvt would saturate).
__device__ __forceinline__ int bmc_ew_f32_to_i32(float x) {
  return (x != x || x >= 2147483648.0f || x < -2147483648.0f) ? (int)0x80000000u : (int)x;
}
__device__ __forceinline__ long long bmc_ew_f32_to_i64(float x) {
  return (x != x || x >= 9223372036854775808.0f || x < -9223372036854775808.0f)
             ? (long long)0x8000000000000000ull
             : (long long)x;
}
__device__ __forceinline__ int bmc_ew_f64_to_i32(double x) {
  return (x != x || x >= 2147483648.0 || x < -2147483648.0) ? (int)0x80000000u : (int)x;
}
__device__ __forceinline__ long long bmc_ew_f64_to_i64(double x) {
  return (x != x || x >= 9223372036854775808.0 || x < -9223372036854775808.0)
             ? (long long)0x8000000000000000ull
             : (long long)x;
}

// bmck.reduce (the CUDA emitter's bmc_reduce_N kernels): a block per output
// element, its threads over the reduced elements, fp32 accumulation, then
// the block combines its threads' values. KIND: 0 sum (and mean), 1 max,
// 2 min, 3 prod; max / min propagate NaN as the CPU's arith.maximumf /
// minimumf do.
template <int KIND> __device__ __forceinline__ float bmc_reduce_combine(float a, float b) {
  return KIND == 0 ? a + b : KIND == 1 ? bmc_ew_maximum(a, b) : KIND == 2 ? bmc_ew_minimum(a, b) : a * b;
}
template <int KIND> __device__ __forceinline__ float bmc_reduce_identity() {
  return KIND == 0 ? 0.0f : KIND == 1 ? BMC_NEG_INF : KIND == 2 ? -BMC_NEG_INF : 1.0f;
}
// The combination of v over the block, returned to every thread; `scratch`
// holds one float per warp. Every thread of the block must call it.
template <int KIND> __device__ __forceinline__ float bmc_block_reduce(float v, float *scratch) {
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int warps = (blockDim.x + BMC_WARP - 1) / BMC_WARP;
  for (int o = BMC_WARP / 2; o > 0; o >>= 1)
    v = bmc_reduce_combine<KIND>(v, __shfl_xor_sync(BMC_FULL_MASK, v, o));
  __syncthreads();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < warps; ++w)
    r = bmc_reduce_combine<KIND>(r, scratch[w]);
  return r;
}

// The integer forms (i32 / i64 reductions, the genai mask's ReduceSum): values
// widened to long long, sum and product wrapping in 64 bits (the element's
// width after the final truncation: the CPU's arith.addi / muli wrap there),
// signed max / min; the identities are the element type S's.
template <int KIND> __device__ __forceinline__ long long bmc_reduce_int_combine(long long a, long long b) {
  return KIND == 0   ? (long long)((unsigned long long)a + (unsigned long long)b)
         : KIND == 1 ? (a > b ? a : b)
         : KIND == 2 ? (a < b ? a : b)
                     : (long long)((unsigned long long)a * (unsigned long long)b);
}
template <int KIND, typename S> __device__ __forceinline__ long long bmc_reduce_int_identity() {
  return KIND == 0   ? 0LL
         : KIND == 1 ? (sizeof(S) == 4 ? -2147483648LL : (long long)0x8000000000000000ull)
         : KIND == 2 ? (sizeof(S) == 4 ? 2147483647LL : 0x7fffffffffffffffLL)
                     : 1LL;
}
// A tree over `scratch` (one long long per thread; blockDim.x a power of two),
// the result returned to every thread. Every thread of the block must call it.
template <int KIND> __device__ __forceinline__ long long bmc_block_reduce_int(long long v, long long *scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      scratch[threadIdx.x] = bmc_reduce_int_combine<KIND>(scratch[threadIdx.x], scratch[threadIdx.x + s]);
    __syncthreads();
  }
  return scratch[0];
}
