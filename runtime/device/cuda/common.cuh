// Compiled in front of every kernel family (KernelLibrary.cpp joins the
// sources): no #include, so NVRTC needs no include path and no toolkit headers.
// The tests also compile these files as C++ on the host, with the CUDA built-ins
// emulated (tests/unit/device/cuda_emulation.h), so __CUDA_ARCH__ guards the
// one piece of inline PTX.
// fp16 and bf16 are kept as raw 16-bit patterns and widened here to fp32.

#define BMC_WARP 32
#define BMC_FULL_MASK 0xffffffffu
#define BMC_NEG_INF __uint_as_float(0xff800000u)
#define BMC_NEG_MAX __uint_as_float(0xff7fffffu) /* -FLT_MAX: where masked scores are clamped */

struct bmc_f32 {
  typedef float storage;
  static __device__ __forceinline__ float widen(float x) { return x; }
  static __device__ __forceinline__ float narrow(float x) { return x; }
  // A 128-bit word holds 4 fp32 values.
  static __device__ __forceinline__ void unpack(uint4 w, float *out) {
    out[0] = __uint_as_float(w.x);
    out[1] = __uint_as_float(w.y);
    out[2] = __uint_as_float(w.z);
    out[3] = __uint_as_float(w.w);
  }
};

struct bmc_f16 {
  typedef unsigned short storage;
  static __device__ __forceinline__ float widen(unsigned short h) {
#ifdef __CUDA_ARCH__
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else // the same value in C (NaN payloads aside), for the tests' host emulation
    unsigned sign = (unsigned)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0x1f) // inf, NaN (quiet, payload kept)
      return __uint_as_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
    if (exponent == 0) { // zero, subnormal: mantissa * 2^-24, exact in fp32
      float f = (float)mantissa * 5.9604644775390625e-8f;
      return sign ? -f : f;
    }
    return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
#endif
  }
  // fp32 -> fp16, to nearest with ties to even, as bmc_convert_f32_to_kv rounds
  // (overflow to +-inf, subnormals kept, a NaN stays a quiet NaN with its
  // sign). Integer arithmetic plus one fp32 add (round to nearest, no
  // flush to zero: NVRTC's default), the same code on the device and in the
  // host emulation.
  static __device__ __forceinline__ unsigned short narrow(float x) {
    unsigned u = __float_as_uint(x), sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    unsigned h;
    if (u >= (143u << 23)) // >= 65536: inf, NaN, or beyond the carry that rounds to inf
      h = u > 0x7f800000u ? 0x7e00u | ((u >> 13) & 0x3ffu) : 0x7c00u;
    else if (u < (113u << 23)) { // below 2^-14: the fp32 add rounds into a subnormal
      const unsigned magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
      h = __float_as_uint(__uint_as_float(u) + __uint_as_float(magic)) - magic;
    } else {
      unsigned odd = (u >> 13) & 1u;
      h = (u + ((unsigned)(15 - 127) << 23) + 0xfffu + odd) >> 13;
    }
    return (unsigned short)(h | sign);
  }
  // A 128-bit word holds 8 fp16 values, the lower half of each 32 bits first.
  static __device__ __forceinline__ void unpack(uint4 w, float *out) {
    unsigned words[4] = {w.x, w.y, w.z, w.w};
    for (int i = 0; i < 4; ++i) {
      out[2 * i] = widen((unsigned short)(words[i] & 0xffffu));
      out[2 * i + 1] = widen((unsigned short)(words[i] >> 16));
    }
  }
};

struct bmc_bf16 {
  typedef unsigned short storage;
  // bf16 is the upper half of an fp32: widening is exact and a shift.
  static __device__ __forceinline__ float widen(unsigned short h) {
    return __uint_as_float(((unsigned)h) << 16);
  }
  // fp32 -> bf16, to nearest with ties to even; a NaN stays a quiet NaN.
  static __device__ __forceinline__ unsigned short narrow(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
      return (unsigned short)((u >> 16) | 0x40u);
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  static __device__ __forceinline__ void unpack(uint4 w, float *out) {
    unsigned words[4] = {w.x, w.y, w.z, w.w};
    for (int i = 0; i < 4; ++i) {
      out[2 * i] = __uint_as_float(words[i] << 16);
      out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
  }
};

__device__ __forceinline__ float bmc_warp_sum(float v) {
  for (int o = BMC_WARP / 2; o > 0; o >>= 1)
    v += __shfl_xor_sync(BMC_FULL_MASK, v, o);
  return v;
}

__device__ __forceinline__ float bmc_warp_max(float v) {
  for (int o = BMC_WARP / 2; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(BMC_FULL_MASK, v, o));
  return v;
}

// The sum of v over the block, returned to every thread; `scratch` holds one
// float per warp. Every thread of the block must call it.
__device__ __forceinline__ float bmc_block_sum(float v, float *scratch) {
  int lane = threadIdx.x % BMC_WARP, warp = threadIdx.x / BMC_WARP;
  int warps = (blockDim.x + BMC_WARP - 1) / BMC_WARP;
  v = bmc_warp_sum(v);
  __syncthreads(); // scratch may still be read by a previous call
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < warps; ++w)
    total += scratch[w];
  return total;
}

__device__ __forceinline__ bool bmc_aligned16(const void *p) {
  return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// bmc_view4 and bmc_kv_buffer: decode_attention_params.h (host and device).
__device__ __forceinline__ long long bmc_view_stride(const bmc_view4 &v, int dim) {
  return v.size[dim] == 1 ? 0 : v.stride[dim];
}
