// The fiber scheduler of cuda_emulation.h, and the kernel library compiled for it.
//
// A context switch is the hot path of the emulation: every __syncthreads and every
// __shfl_xor_sync of every thread is one round trip to the scheduler. glibc's swapcontext
// saves and restores the signal mask with a system call each time (measured here: ~60 % of
// a device.model_* binary's time in swapcontext and the kernel, on a Zen 3), so on x86-64 the
// switch is the few instructions below (callee-saved registers, MXCSR and the x87 control
// word: what the SysV ABI says a callee keeps), and the threads' stacks are kept from one
// block to the next. Elsewhere, or with BMC_EMU_UCONTEXT defined (cuda_emulation_test.cpp's
// second binary), the ucontext path is used. Under ASan each switch is announced
// (__sanitizer_start/finish_switch_fiber), as its swapcontext interceptor did for ucontext.
#include "cuda_emulation.h"

#include <ucontext.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BMC_EMU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BMC_EMU_ASAN 1
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(BMC_EMU_UCONTEXT)
#define BMC_EMU_FAST_SWITCH 1
#ifdef BMC_EMU_ASAN // ASan's swapcontext interceptor announces ucontext's switches itself
#define BMC_EMU_ANNOUNCE 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
// bmc_emu_switch(&from, to): saves the running context's registers on its own stack, stores
// its stack pointer in *from, and resumes the context whose stack pointer is `to` (saved by an
// earlier switch, or laid out by newContext below).
extern "C" void bmc_emu_switch(void **from, void *to);
asm(R"(
  .text
  .globl bmc_emu_switch
  .type bmc_emu_switch, @function
  .p2align 4
bmc_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size bmc_emu_switch, .-bmc_emu_switch
)");
#endif

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
#ifdef BMC_EMU_FAST_SWITCH
  void *sp = nullptr; // the saved stack pointer while not running
#else
  ucontext_t context;
#endif
  char *stack = nullptr;
#ifdef BMC_EMU_ANNOUNCE
  void **fakeStack = nullptr; // ASan's use-after-return stack while switched out (the pool's)
#endif
  unsigned tid = 0;
  bool done = false;
};

// The block being run (one at a time, on one OS thread).
struct Block {
  std::vector<Fiber> fibers;
#ifdef BMC_EMU_FAST_SWITCH
  void *scheduler = nullptr;
#else
  ucontext_t scheduler;
#endif
#ifdef BMC_EMU_ANNOUNCE
  void *schedulerFakeStack = nullptr;
  const void *schedulerStack = nullptr; // its bounds, learned by the first fiber that runs
  size_t schedulerStackBytes = 0;
#endif
  int current = -1;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<float> lanes; // __shfl_xor_sync values, one per thread
  const std::function<void()> *body = nullptr;
};
Block *active = nullptr;

// The threads' stacks, kept from one block to the next (allocated on first use); under ASan
// with each its use-after-return ("fake") stack, kept too: ASan maps a new one for each new
// context, which was most of an ASan run's time when every thread of every block had its own.
struct Stack {
  std::unique_ptr<char[]> bytes;
  void *fakeStack = nullptr;
};
std::vector<Stack> &stackPool() {
  static std::vector<Stack> pool;
  return pool;
}

// Switches from a fiber to the scheduler, which resumes it at its next turn. Under ASan the
// fiber's fake stack is kept for it, and for the next thread on this stack once it has finished
// (then it holds no frame: all have returned; fiberMain).
void toScheduler(Fiber &f) {
#ifdef BMC_EMU_ANNOUNCE
  __sanitizer_start_switch_fiber(f.fakeStack, active->schedulerStack, active->schedulerStackBytes);
#endif
#ifdef BMC_EMU_FAST_SWITCH
  bmc_emu_switch(&f.sp, active->scheduler);
#else
  swapcontext(&f.context, &active->scheduler);
#endif
#ifdef BMC_EMU_ANNOUNCE
  __sanitizer_finish_switch_fiber(*f.fakeStack, nullptr, nullptr);
#endif
}

// Runs fiber `f` from the scheduler until it yields or finishes.
void toFiber(Block &b, Fiber &f) {
#ifdef BMC_EMU_ANNOUNCE
  __sanitizer_start_switch_fiber(&b.schedulerFakeStack, f.stack, kStackBytes);
#endif
#ifdef BMC_EMU_FAST_SWITCH
  bmc_emu_switch(&b.scheduler, f.sp);
#else
  swapcontext(&b.scheduler, &f.context);
#endif
#ifdef BMC_EMU_ANNOUNCE
  __sanitizer_finish_switch_fiber(b.schedulerFakeStack, nullptr, nullptr);
#endif
}

void yieldToScheduler() { toScheduler(active->fibers[active->current]); }

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
#ifdef BMC_EMU_ANNOUNCE
  __sanitizer_finish_switch_fiber(*active->fibers[active->current].fakeStack, &active->schedulerStack,
                                  &active->schedulerStackBytes);
  // The stack may hold the shadow of an earlier block's thread: clear it, as ASan's ucontext
  // interceptor does for a new context (unpoisons the running stack, whose bounds ASan now has).
  __asan_handle_no_return();
#endif
  (*active->body)();
  Fiber &f = active->fibers[active->current];
  f.done = true;
  leave(active->block);
  leave(active->warps[f.tid / kWarp]);
#ifdef BMC_EMU_FAST_SWITCH
  toScheduler(f); // for the last time: the scheduler no longer runs a finished thread
  std::fprintf(stderr, "cuda emulation: a finished thread was resumed\n");
  std::abort();
#endif
  // ucontext: returning resumes uc_link, the scheduler (ASan's interceptor announces it).
}

// Prepares fiber `f` to start at fiberMain on its stack.
void newContext(Block &b, Fiber &f) {
#ifdef BMC_EMU_FAST_SWITCH
  (void)b;
  // The frame bmc_emu_switch pops: MXCSR and the x87 control word (the defaults), six
  // callee-saved registers (zero), then the return address fiberMain, at a 16-byte boundary
  // so that fiberMain starts with the stack aligned as after a call.
  uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + kStackBytes) & ~uintptr_t(15);
  auto *slot = reinterpret_cast<uint64_t *>(top - 16);
  slot[0] = reinterpret_cast<uint64_t>(&fiberMain);
  slot[1] = 0;
  for (int r = 1; r <= 6; ++r)
    slot[-r] = 0;
  auto *control = reinterpret_cast<uint32_t *>(slot - 7);
  control[0] = 0x1F80; // MXCSR: every exception masked, round to nearest
  control[1] = 0x037F; // x87: every exception masked, extended precision, round to nearest
  f.sp = slot - 7;
#else
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack;
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = &b.scheduler;
  makecontext(&f.context, fiberMain, 0);
#endif
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
  std::vector<Stack> &stacks = stackPool();
  if (stacks.size() < n)
    stacks.resize(n);
  for (unsigned t = 0; t < n; ++t) {
    Fiber &f = b.fibers[t];
    f.tid = t;
    if (!stacks[t].bytes)
      stacks[t].bytes.reset(new char[kStackBytes]);
    f.stack = stacks[t].bytes.get();
#ifdef BMC_EMU_ANNOUNCE
    f.fakeStack = &stacks[t].fakeStack;
#endif
    newContext(b, f);
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
      toFiber(b, b.fibers[t]);
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
