// The fiber scheduler of cuda_emulation.h, and the kernel library compiled for it.
#include "cuda_emulation.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

bmc_emu::dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace bmc_emu {
namespace {

constexpr int kWarp = 32;
constexpr size_t kStackBytes = 256 * 1024;

struct Barrier {
  int expected = 0, arrived = 0;
  unsigned generation = 0;
};

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  unsigned tid = 0;
  bool done = false;
};

// The block being run (one at a time, on one OS thread).
struct Block {
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  int current = -1;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<float> lanes; // __shfl_xor_sync values, one per thread
  const std::function<void()> *body = nullptr;
};
Block *active = nullptr;

void yieldToScheduler() {
  Fiber &f = active->fibers[active->current];
  swapcontext(&f.context, &active->scheduler);
}

void release(Barrier &b) {
  b.arrived = 0;
  ++b.generation;
}

void arrive(Barrier &b) {
  unsigned generation = b.generation;
  if (++b.arrived == b.expected) {
    release(b);
    return;
  }
  while (b.generation == generation)
    yieldToScheduler();
}

// A finished thread no longer counts at its barriers (threads may return early).
void leave(Barrier &b) {
  --b.expected;
  if (b.arrived > 0 && b.arrived == b.expected)
    release(b);
}

void fiberMain() {
  (*active->body)();
  Fiber &f = active->fibers[active->current];
  f.done = true;
  leave(active->block);
  leave(active->warps[f.tid / kWarp]);
  // Returning resumes uc_link: the scheduler.
}

} // namespace

void runBlock(const bmc::device::HostLaunch &launch, const std::function<void()> &body) {
  if (launch.block.y != 1 || launch.block.z != 1) {
    std::fprintf(stderr, "cuda emulation: only 1-D blocks\n");
    std::abort();
  }
  Block b;
  unsigned n = launch.block.x;
  b.body = &body;
  b.fibers.resize(n);
  b.block.expected = int(n);
  b.warps.resize((n + kWarp - 1) / kWarp);
  for (unsigned w = 0; w < b.warps.size(); ++w)
    b.warps[w].expected = int(std::min<unsigned>(kWarp, n - w * kWarp));
  b.lanes.resize(n);
  blockIdx = {launch.blockIdx.x, launch.blockIdx.y, launch.blockIdx.z};
  blockDim = {launch.block.x, 1, 1};
  gridDim = {launch.grid.x, launch.grid.y, launch.grid.z};
  active = &b;
  for (unsigned t = 0; t < n; ++t) {
    Fiber &f = b.fibers[t];
    f.tid = t;
    f.stack.reset(new char[kStackBytes]);
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiberMain, 0);
  }
  // Round robin over the unfinished threads until all have returned.
  for (bool running = true; running;) {
    running = false;
    for (unsigned t = 0; t < n; ++t) {
      if (b.fibers[t].done)
        continue;
      running = true;
      b.current = int(t);
      threadIdx = {t, 0, 0};
      swapcontext(&b.scheduler, &b.fibers[t].context);
    }
  }
  active = nullptr;
}

void syncthreads() { arrive(active->block); }

float shflXor(float v, int laneMask) {
  unsigned tid = active->fibers[active->current].tid;
  unsigned warpBase = tid / kWarp * kWarp;
  Barrier &warp = active->warps[tid / kWarp];
  active->lanes[tid] = v;
  arrive(warp); // every lane has written
  float got = active->lanes[warpBase + ((tid - warpBase) ^ unsigned(laneMask))];
  arrive(warp); // every lane has read, before anyone writes again
  return got;
}

} // namespace bmc_emu
