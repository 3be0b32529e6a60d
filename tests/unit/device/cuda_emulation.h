// Runs the CUDA C kernels of runtime/device/cuda on the CPU, so that their
// logic (and CudaKernels' launch code) is checked against the CPU references on
// machines without a GPU. Every CUDA thread of a block is a fiber on the calling
// thread (cuda_emulation.cpp: its own context switch on x86-64 Linux, ucontext elsewhere); __syncthreads and __shfl_xor_sync are barriers between
// fibers; blocks run one after another, so `__shared__` becomes `static`. This
// checks what the kernels compute, not how they behave on a GPU (memory model,
// timing, coalescing): benchmarks/gpu_check.sh is the check on a GPU.
//
// Include it, then the .cuh files (common.cuh first), in one translation unit.
// Under ASan every switch is announced to it (__sanitizer_start/finish_switch_fiber),
// so stack errors on a thread's stack are still reported; the tests pass in the
// ASan+UBSan build (.ci/sanitize.sh).
// The TSan build does not build these tests (tests/CMakeLists.txt).
#ifndef BMC_TESTS_UNIT_DEVICE_CUDA_EMULATION_H
#define BMC_TESTS_UNIT_DEVICE_CUDA_EMULATION_H

#include "runtime/device/Device.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <utility>

namespace bmc_emu {

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// Runs `body` once per thread of one block (`launch.blockIdx`), as fibers.
void runBlock(const bmc::device::HostLaunch &launch, const std::function<void()> &body);
void syncthreads();
float shflXor(float v, int laneMask);

template <typename... A, size_t... I>
void callKernel(void (*kernel)(A...), void **args, std::index_sequence<I...>) {
  kernel(*static_cast<std::remove_reference_t<A> *>(args[I])...);
}

// A bmc::device::HostKernelFn body: unpacks CUDA-style arguments by the kernel's own signature.
template <typename... A>
void emulate(void (*kernel)(A...), const bmc::device::HostLaunch &launch, void **args) {
  runBlock(launch, [&] { callKernel(kernel, args, std::index_sequence_for<A...>{}); });
}

// The kernel's argument sizes by its own signature (HostKernel::argSizes), so
// that a graph capture on the CPU device can keep its arguments' values.
template <typename... A> const uint32_t *argSizes(void (*)(A...)) {
  return bmc::device::HostKernelArgs<std::remove_reference_t<A>...>::sizes;
}
template <typename... A> uint32_t argCount(void (*)(A...)) { return uint32_t(sizeof...(A)); }

} // namespace bmc_emu

// The CUDA built-ins the kernels use.
extern bmc_emu::dim3 threadIdx, blockIdx, blockDim, gridDim;

struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline void __syncthreads() { bmc_emu::syncthreads(); }
// CUDA's 64-bit compare-and-swap (data.cuh's fault word): the old value.
inline unsigned long long atomicCAS(unsigned long long *address, unsigned long long compare, unsigned long long val) {
  __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
inline float __shfl_xor_sync(unsigned, float v, int laneMask) { return bmc_emu::shflXor(v, laneMask); }

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

#endif
