// The host emulation's scheduler itself (cuda_emulation.cpp), in the binary built with the
// x86-64 context switch and in the one built with glibc's ucontext (BMC_EMU_UCONTEXT): block
// reductions through __shfl_xor_sync and __syncthreads at odd block sizes, threads that return
// before a barrier, many blocks in a row (the fast path keeps the threads' stacks), deep frames
// on a thread's stack, and the caller's floating-point control state kept across a block.
#include "cuda_emulation.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cstdint>
#include <vector>

namespace {

bmc::device::HostLaunch launchOf(unsigned threads, unsigned blockIdxX = 0, unsigned grid = 1) {
  bmc::device::HostLaunch l;
  l.grid = {grid, 1, 1};
  l.block = {threads, 1, 1};
  l.blockIdx = {blockIdxX, 0, 0};
  return l;
}

// A block-wide sum as the kernels write it: a warp's lanes by __shfl_xor_sync, the warps'
// partial sums through shared memory between two __syncthreads.
void blockSum(const float *in, float *out) {
  __shared__ float warpSums[32];
  unsigned t = threadIdx.x, lane = t % 32, warp = t / 32;
  float v = in[blockIdx.x * blockDim.x + t];
  for (int m = 16; m > 0; m >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, m);
  if (lane == 0)
    warpSums[warp] = v;
  __syncthreads();
  if (t == 0) {
    float s = 0;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w)
      s += warpSums[w];
    out[blockIdx.x] = s;
  }
  __syncthreads();
}

TEST(CudaEmulation, BlockSumsMatchPlainSumsAtOddSizes) {
  // __shfl_xor_sync needs whole warps (as on a GPU with a full mask): sizes are multiples of 32;
  // the odd part is the number of warps and blocks.
  for (unsigned threads : {32u, 96u, 224u, 1024u}) {
    const unsigned blocks = 7;
    std::vector<float> in(threads * blocks), out(blocks, -1.0f);
    for (size_t i = 0; i < in.size(); ++i)
      in[i] = float(int(i * 37 % 101) - 50); // small integers: every order of addition is exact
    for (unsigned b = 0; b < blocks; ++b) {
      float *o = out.data();
      const float *x = in.data();
      bmc_emu::runBlock(launchOf(threads, b, blocks), [&] { blockSum(x, o); });
    }
    for (unsigned b = 0; b < blocks; ++b) {
      float want = 0;
      for (unsigned t = 0; t < threads; ++t)
        want += in[b * threads + t];
      EXPECT_EQ(out[b], want) << threads << " threads, block " << b;
    }
  }
}

// Threads that return before the barrier no longer count at it (as the kernels' bounds checks
// do): the others pass it and see what was written before it.
TEST(CudaEmulation, ThreadsReturningEarlyDoNotHoldTheBarrier) {
  for (unsigned threads : {1u, 5u, 33u, 257u}) {
    std::vector<int> seen(threads, -1);
    unsigned active = threads / 2 + 1;
    bmc_emu::runBlock(launchOf(threads), [&] {
      __shared__ int count;
      unsigned t = threadIdx.x;
      if (t == 0)
        count = 0;
      __syncthreads();
      if (t >= active)
        return;
      __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
      __syncthreads();
      seen[t] = count;
      __syncthreads();
    });
    for (unsigned t = 0; t < threads; ++t)
      EXPECT_EQ(seen[t], t < active ? int(active) : -1) << threads << " threads, thread " << t;
  }
}

// Every thread's locals survive every switch: each keeps a frame-local array across many
// barriers, in many blocks in a row (the stacks are reused from block to block).
TEST(CudaEmulation, LocalsSurviveSwitchesAcrossManyBlocks) {
  const unsigned threads = 64, blocks = 200;
  std::vector<uint64_t> result(threads * blocks);
  for (unsigned b = 0; b < blocks; ++b)
    bmc_emu::runBlock(launchOf(threads, b, blocks), [&] {
      volatile uint64_t local[64];
      unsigned t = threadIdx.x;
      for (int i = 0; i < 64; ++i)
        local[i] = uint64_t(t) * 1000003u + uint64_t(blockIdx.x) * 7919u + uint64_t(i);
      for (int round = 0; round < 8; ++round)
        __syncthreads();
      uint64_t s = 0;
      for (int i = 0; i < 64; ++i)
        s += local[i];
      result[blockIdx.x * threads + t] = s;
    });
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      uint64_t want = 0;
      for (int i = 0; i < 64; ++i)
        want += uint64_t(t) * 1000003u + uint64_t(b) * 7919u + uint64_t(i);
      ASSERT_EQ(result[b * threads + t], want) << "block " << b << ", thread " << t;
    }
}

int depth(int n) {
  volatile char frame[512];
  frame[0] = char(n);
  if (n == 0)
    return frame[0];
  __syncthreads(); // a switch from deep in the stack
  return depth(n - 1) + 1 + frame[0] - char(n);
}

TEST(CudaEmulation, DeepFramesOnAThreadStack) {
  std::vector<int> got(32, -1);
  bmc_emu::runBlock(launchOf(32), [&] { got[threadIdx.x] = depth(100); }); // ~60 KB of frames
  for (int g : got)
    EXPECT_EQ(g, 100);
}

// The caller's rounding mode comes back after a block, and the threads start with the default
// one whatever the caller set (each thread has its own floating-point control state).
TEST(CudaEmulation, FloatingPointControlStateIsPerContext) {
  std::vector<int> modes(32, -1);
  ASSERT_EQ(std::fesetround(FE_UPWARD), 0);
  bmc_emu::runBlock(launchOf(32), [&] {
    if (threadIdx.x == 0)
      std::fesetround(FE_TOWARDZERO); // thread 0 changes its own
    __syncthreads();
    modes[threadIdx.x] = std::fegetround();
  });
  int after = std::fegetround();
  std::fesetround(FE_TONEAREST);
  EXPECT_EQ(after, FE_UPWARD);
  EXPECT_EQ(modes[0], FE_TOWARDZERO);
#ifndef BMC_EMU_UCONTEXT // ucontext threads start with the state getcontext saw: the caller's
  for (int t = 1; t < 32; ++t)
    EXPECT_EQ(modes[t], FE_TONEAREST) << "thread " << t;
#endif
}

} // namespace
