// AVX-512 GEMV against a packed B (16-column panels, see kernels.h) for the
// small-M passes of decode and speculative verification (M <= 12).
//
// One panel row (16 floats, one cache line) is one zmm, so an mr-row tile
// needs mr accumulators per set and 32 zmm registers leave room for 12 rows
// (the AVX2 GEMV needs two ymm per row and tops out at 6). Each k step loads
// the B line once and issues one FMA per row with A broadcast from memory
// ({1to16}), so the weights stream once, front to back, whatever M is: a pass
// over M rows costs the bandwidth of one row plus M FMAs per line, which the
// two 512-bit FMA ports absorb up to M ~ 8-12.
//
// Larger M (prefill) goes to the AVX2 GEMM. The generators need no AVX-512 to
// run; the code is only called once the CPU and OS report AVX-512F.
#include "jit_generator.h"
#include "kernels_internal.h"
#include "matmul_jit.h"

#include <xbyak/xbyak_util.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <vector>

namespace bmc {
namespace kernels {
namespace {

using jit::MatmulCallParams;
using jit::MatmulKernelFn;

#define PARAM(field) ptr[regParams + offsetof(MatmulCallParams, field)]

// mr x 16 tile over k steps of one panel: `sets` independent accumulator sets
// (k step u feeds set u % sets) cover the FMA latency when mr is small.
class JitGemv512Kernel : public JitGenerator {
public:
  JitGemv512Kernel(int mr, int prefetchBytes)
      : mr_(mr), sets_(setsFor(mr)), unroll_(sets_ * std::max(1, 4 / sets_)),
        prefetch_(prefetchBytes) {}

  // 8 chains in flight (2 FMA ports x 4 cycles of latency), at most 28
  // accumulators (zmm28-31 hold B).
  static int setsFor(int mr) { return std::min(28 / mr, std::max(1, (8 + mr - 1) / mr)); }

private:
  const Xbyak::Reg64 regParams = abiParam1; // rdi
  // Row bases of A (and of C in the store): rows 0-2, 3-5, 6-8, 9-11.
  const Xbyak::Reg64 regBase[4] = {rsi, rdx, rax, r11};
  const Xbyak::Reg64 regB = rcx;
  const Xbyak::Reg64 regK = r8;
  const Xbyak::Reg64 regLd = r9; // lda in the loop, ldc in the store
  const int mr_, sets_, unroll_, prefetch_;

  Xbyak::Zmm acc(int s, int r) const { return Xbyak::Zmm(s * mr_ + r); }
  Xbyak::Zmm bReg(int u) const { return Xbyak::Zmm(30 + (u & 1)); }
  int bases() const { return (mr_ + 2) / 3; }

  Xbyak::RegExp row(int r, int64_t byteOff) const {
    const Xbyak::Reg64 &base = regBase[r / 3];
    switch (r % 3) {
    case 0: return base + byteOff;
    case 1: return base + regLd + byteOff;
    default: return base + regLd * 2 + byteOff;
    }
  }

  void setBases(const Xbyak::Address &first) {
    mov(regBase[0], first);
    for (int i = 1; i < bases(); ++i)
      lea(regBase[i], ptr[regBase[i - 1] + regLd * 2]), add(regBase[i], regLd);
  }

  void generate() override {
    preamble({});
    mov(regLd, PARAM(lda));
    setBases(PARAM(a));
    mov(regB, PARAM(b));
    mov(regK, PARAM(k));
    for (int i = 0; i < sets_ * mr_; ++i)
      vpxord(Xbyak::Zmm(i), Xbyak::Zmm(i), Xbyak::Zmm(i));
    kLoop();
    for (int s = 1; s < sets_; ++s)
      for (int r = 0; r < mr_; ++r)
        vaddps(acc(0, r), acc(0, r), acc(s, r));
    store();
    postamble();
  }

  void fmaStep(int u, int set) {
    if (prefetch_ > 0)
      prefetcht0(ptr[regB + prefetch_ + 64 * u]);
    vmovups(bReg(u), ptr[regB + 64 * u]);
    for (int r = 0; r < mr_; ++r)
      vfmadd231ps(acc(set, r), bReg(u), ptr_b[row(r, 4 * u)]);
  }

  void advance(int steps) {
    for (int i = 0; i < bases(); ++i)
      add(regBase[i], 4 * steps);
    add(regB, 64 * steps);
  }

  void kLoop() {
    Xbyak::Label unrolled, single, done;
    L(unrolled);
    cmp(regK, unroll_);
    jl(single, T_NEAR);
    for (int u = 0; u < unroll_; ++u)
      fmaStep(u, u % sets_);
    advance(unroll_);
    sub(regK, unroll_);
    jmp(unrolled, T_NEAR);

    L(single);
    test(regK, regK);
    jz(done, T_NEAR);
    fmaStep(0, 0);
    advance(1);
    dec(regK);
    jmp(single, T_NEAR);
    L(done);
  }

  void store() {
    Xbyak::Label accumulate, withBias, write;
    mov(regLd, PARAM(ldc));
    setBases(PARAM(c));
    mov(regK, PARAM(mode));
    cmp(regK, jit::kAccumulate);
    je(accumulate, T_NEAR);
    cmp(regK, jit::kStoreBias);
    je(withBias, T_NEAR);
    jmp(write, T_NEAR);

    L(accumulate);
    for (int r = 0; r < mr_; ++r)
      vaddps(acc(0, r), acc(0, r), ptr[row(r, 0)]);
    jmp(write, T_NEAR);

    L(withBias);
    mov(regB, PARAM(bias));
    for (int r = 0; r < mr_; ++r)
      vaddps(acc(0, r), acc(0, r), ptr[regB]);

    L(write);
    for (int r = 0; r < mr_; ++r)
      vmovups(ptr[row(r, 0)], acc(0, r));
  }
};

#undef PARAM

constexpr int kMaxRows = jit::kMaxTileRows;
// Software prefetch of B, bytes ahead (0 = none); see README "Measured". From
// 3 rows the FMAs fill the out-of-order window and the stream stalls:
// prefetching 1 KB ahead measured M = 5 at 1.10-1.2x of M = 1 instead of
// 1.3-1.4x (bench_kernels "spec matvec", Xeon, 1 thread, interleaved rounds),
// the same threshold the AVX2 GEMV uses (measured on Zen 3).
constexpr int prefetchBytes(int mr) { return mr >= 3 ? 1024 : 0; }

class Kernels512 {
public:
  static const Kernels512 *get() {
    static const Kernels512 *instance = build();
    return instance;
  }
  MatmulKernelFn gemv[kMaxRows + 1] = {};

private:
  static const Kernels512 *build() {
    Xbyak::util::Cpu cpu; // tAVX512F includes the OS check of the zmm state
    if (!cpu.has(Xbyak::util::Cpu::tAVX512F) || !avx2::jitReady())
      return nullptr;
    try {
      std::unique_ptr<Kernels512> k(new Kernels512);
      for (int mr = 1; mr <= kMaxRows; ++mr) {
        auto g = std::make_unique<JitGemv512Kernel>(mr, prefetchBytes(mr));
        if (!g->create())
          return nullptr;
        k->gemv[mr] = reinterpret_cast<MatmulKernelFn>(const_cast<void *>(g->entry()));
        k->owned_.push_back(std::move(g));
      }
      return k.release(); // lives for the whole process
    } catch (...) {
      return nullptr;
    }
  }
  std::vector<std::unique_ptr<JitGenerator>> owned_;
};

// Rows [0, M) x panels [p0, p1); `panels` points at panel p0.
void gemvPanels(const Kernels512 &ker, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *panels, int64_t p0, int64_t p1, const float *bias, float *C, int64_t ldc) {
  MatmulCallParams prm{};
  prm.lda = lda * int64_t(sizeof(float));
  prm.ldc = ldc * int64_t(sizeof(float));
  prm.a = A;
  prm.k = K;
  prm.mode = bias ? jit::kStoreBias : jit::kStore;
  for (int64_t p = p0; p < p1; ++p) {
    prm.b = panels + (p - p0) * K * kPanel;
    prm.c = C + p * kPanel;
    prm.bias = bias ? bias + p * kPanel : nullptr;
    jit::runTile(ker.gemv[M], int(M), std::min<int64_t>(kPanel, N - p * kPanel), prm);
  }
}

} // namespace

namespace avx512 {

bool supported() { return Kernels512::get() != nullptr; }

int maxGemvRows() { return kMaxRows; }

void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const void *Bpacked, const float *bias, float *C, int64_t ldc) {
  const Kernels512 *ker = Kernels512::get();
  if (!ker)
    throw std::runtime_error("bmc: AVX-512 JIT kernels unavailable");
  if (M > kMaxRows || K == 0) {
    avx2::matmulPacked(pool, M, N, K, A, lda, Bpacked, bias, C, ldc);
    return;
  }
  if (M <= 0 || N <= 0)
    return;
  const int64_t panels = numPanels(N);
  const float *B = static_cast<const float *>(Bpacked);
  const int threads = pool ? pool->numThreads() : 1;
  // Below ~32 KB of weights one thread is faster than a dispatch.
  if (threads == 1 || K * N * 4 < (32 << 10)) {
    gemvPanels(*ker, M, N, K, A, lda, B, 0, panels, bias, C, ldc);
    return;
  }
  // Contiguous panel ranges: each thread one forward stream.
  parallelFor(pool, panels, [&](int64_t p0, int64_t p1) {
    gemvPanels(*ker, M, N, K, A, lda, panelPtr(B, K, p0), p0, p1, bias, C, ldc);
  });
}

} // namespace avx512
} // namespace kernels
} // namespace bmc
