// AVX2/FMA matmul against a packed B (16-column panels, see kernels.h) with
// Xbyak-generated microkernels:
//  - GEMM (prefill): mr x 16 register tiles, mr <= 6 (12 accumulators),
//    K blocked by ~256 so a B sub-panel (16 KB) stays in L1 while the rows of
//    an A block (in L2) run over it.
//  - GEMV (decode and speculative verification, M <= 12): one panel over all
//    of K with several independent accumulator sets (M <= 6, whole K per
//    call), or, for 7..12 rows, two row groups that take turns on 8 KB
//    chunks of the panel (the second group reads the chunk from L1), so the
//    packed weights are streamed from memory once, front to back, for all M.
// The code generators need no AVX2 to run; the generated code is only called
// once the CPU check passed.
#include "jit_generator.h"
#include "kernels_internal.h"
#include "matmul_jit.h"

#include <xbyak/xbyak_util.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace bmc {
namespace kernels {
namespace {

using jit::kAccumulate;
using jit::kStore;
using jit::kStoreBias;
using jit::MatmulCallParams;
using jit::MatmulKernelFn;
using jit::runTile;

#define PARAM(field) ptr[regParams + offsetof(MatmulCallParams, field)]

// Register conventions shared by the GEMM and GEMV generators (caller-saved
// registers only, so the preamble saves nothing).
class JitMatmulBase : public JitGenerator {
protected:
  explicit JitMatmulBase(int mr) : mr_(mr) {}

  const Xbyak::Reg64 regParams = abiParam1; // rdi
  const Xbyak::Reg64 regA = rsi;   // rows 0..2 of A
  const Xbyak::Reg64 regA3 = rdx;  // rows 3..5 of A
  const Xbyak::Reg64 regB = rcx;
  const Xbyak::Reg64 regK = r8;
  const Xbyak::Reg64 regLda = r9;
  const Xbyak::Reg64 regC = r10;   // rows 0..2 of C
  const Xbyak::Reg64 regLdc = r11;
  const Xbyak::Reg64 regC3 = rax;  // rows 3..5 of C
  const Xbyak::Reg64 regTmp = rax;

  // ymm accumulators of the final tile: row r, 8-column half j.
  Xbyak::Ymm acc(int r, int j) const { return Xbyak::Ymm(2 * r + j); }
  const Xbyak::Ymm ymmT0 = ymm14, ymmT1 = ymm15;

  Xbyak::Address aRow(int r, int64_t byteOff) {
    static const int scale[3] = {0, 1, 2};
    const Xbyak::Reg64 &base = r < 3 ? regA : regA3;
    int s = scale[r % 3];
    if (s == 0)
      return ptr[base + byteOff];
    return ptr[base + regLda * s + byteOff];
  }
  Xbyak::Address cRow(int r, int64_t byteOff) {
    const Xbyak::Reg64 &base = r < 3 ? regC : regC3;
    int s = r % 3;
    if (s == 0)
      return ptr[base + byteOff];
    return ptr[base + regLdc * s + byteOff];
  }

  void loadParams() {
    mov(regA, PARAM(a));
    mov(regB, PARAM(b));
    mov(regK, PARAM(k));
    mov(regLda, PARAM(lda));
    if (mr_ > 3) {
      lea(regA3, ptr[regA + regLda * 2]);
      add(regA3, regLda);
    }
  }

  void zeroRegs(int count) {
    for (int i = 0; i < count; ++i)
      vxorps(Xbyak::Ymm(i), Xbyak::Ymm(i), Xbyak::Ymm(i));
  }

  // Writes acc(r, j) to C according to the mode parameter.
  void storeTile() {
    Xbyak::Label accumulate, withBias, write;
    mov(regC, PARAM(c));
    mov(regLdc, PARAM(ldc));
    if (mr_ > 3) {
      lea(regC3, ptr[regC + regLdc * 2]);
      add(regC3, regLdc);
    }
    mov(regK, PARAM(mode)); // regK is free after the loops
    cmp(regK, kAccumulate);
    je(accumulate, T_NEAR);
    cmp(regK, kStoreBias);
    je(withBias, T_NEAR);
    jmp(write, T_NEAR);

    L(accumulate);
    for (int r = 0; r < mr_; ++r)
      for (int j = 0; j < 2; ++j)
        vaddps(acc(r, j), acc(r, j), cRow(r, 32 * j));
    jmp(write, T_NEAR);

    L(withBias);
    mov(regB, PARAM(bias));
    vmovups(ymmT0, ptr[regB]);
    vmovups(ymmT1, ptr[regB + 32]);
    for (int r = 0; r < mr_; ++r) {
      vaddps(acc(r, 0), acc(r, 0), ymmT0);
      vaddps(acc(r, 1), acc(r, 1), ymmT1);
    }

    L(write);
    for (int r = 0; r < mr_; ++r)
      for (int j = 0; j < 2; ++j)
        vmovups(cRow(r, 32 * j), acc(r, j));
  }

  const int mr_;
};

// mr x 16 tile, one accumulator set, k unrolled by 4. Used for M > 4.
class JitGemmKernel : public JitMatmulBase {
public:
  explicit JitGemmKernel(int mr) : JitMatmulBase(mr) {}

private:
  static constexpr int kUnroll = 4;
  const Xbyak::Ymm ymmB0 = ymm12, ymmB1 = ymm13;

  void generate() override {
    preamble({});
    loadParams();
    zeroRegs(2 * mr_);
    kLoop();
    storeTile();
    postamble();
  }

  void fmaStep(int u) {
    vmovups(ymmB0, ptr[regB + 64 * u]);
    vmovups(ymmB1, ptr[regB + 64 * u + 32]);
    for (int r = 0; r < mr_; ++r) {
      const Xbyak::Ymm &bc = (r & 1) ? ymmT1 : ymmT0;
      vbroadcastss(bc, aRow(r, 4 * u));
      vfmadd231ps(acc(r, 0), ymmB0, bc);
      vfmadd231ps(acc(r, 1), ymmB1, bc);
    }
  }

  void advance(int steps) {
    add(regA, 4 * steps);
    if (mr_ > 3)
      add(regA3, 4 * steps);
    add(regB, 64 * steps);
  }

  void kLoop() {
    Xbyak::Label unrolled, single, done;
    L(unrolled);
    cmp(regK, kUnroll);
    jl(single, T_NEAR);
    for (int u = 0; u < kUnroll; ++u)
      fmaStep(u);
    advance(kUnroll);
    sub(regK, kUnroll);
    jmp(unrolled, T_NEAR);

    L(single);
    test(regK, regK);
    jz(done, T_NEAR);
    fmaStep(0);
    advance(1);
    dec(regK);
    jmp(single, T_NEAR);
    L(done);
  }
};

// mr x 16 tile over a panel for mr <= 6: `sets` independent accumulator
// sets (one per unrolled k) hide FMA latency; B can be prefetched `prefetch`
// bytes ahead (see gemvPrefetchBytes).
class JitGemvKernel : public JitMatmulBase {
public:
  JitGemvKernel(int mr, int prefetchBytes)
      : JitMatmulBase(mr), sets_(std::min(4, 12 / (2 * mr))),
        prefetch_(prefetchBytes) {}

private:
  const Xbyak::Ymm ymmB0 = ymm12, ymmB1 = ymm13;
  const int sets_;
  const int prefetch_;

  // Accumulator of set s (set 0 is the final tile).
  Xbyak::Ymm accSet(int s, int r, int j) const {
    return Xbyak::Ymm(2 * mr_ * s + 2 * r + j);
  }

  void generate() override {
    preamble({});
    loadParams();
    zeroRegs(2 * mr_ * sets_);
    kLoop();
    reduceSets();
    storeTile();
    postamble();
  }

  void fmaStep(int u, int set) {
    if (prefetch_ > 0)
      prefetcht0(ptr[regB + prefetch_ + 64 * u]);
    vmovups(ymmB0, ptr[regB + 64 * u]);
    vmovups(ymmB1, ptr[regB + 64 * u + 32]);
    for (int r = 0; r < mr_; ++r) {
      const Xbyak::Ymm &bc = (r & 1) ? ymmT1 : ymmT0;
      vbroadcastss(bc, aRow(r, 4 * u));
      vfmadd231ps(accSet(set, r, 0), ymmB0, bc);
      vfmadd231ps(accSet(set, r, 1), ymmB1, bc);
    }
  }

  void advance(int steps) {
    add(regA, 4 * steps);
    if (mr_ > 3)
      add(regA3, 4 * steps);
    add(regB, 64 * steps);
  }

  void kLoop() {
    const int unroll = 2 * sets_; // two k per set per iteration
    Xbyak::Label unrolled, single, done;
    L(unrolled);
    cmp(regK, unroll);
    jl(single, T_NEAR);
    for (int u = 0; u < unroll; ++u)
      fmaStep(u, u % sets_);
    advance(unroll);
    sub(regK, unroll);
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

  void reduceSets() {
    for (int s = 1; s < sets_; ++s)
      for (int r = 0; r < mr_; ++r)
        for (int j = 0; j < 2; ++j)
          vaddps(acc(r, j), acc(r, j), accSet(s, r, j));
  }
};

#undef PARAM

constexpr int kMaxGemmRows = 6;
constexpr int kMaxGemvRows = 6;             // rows of one GEMV kernel (12 ymm accumulators)
constexpr int kMaxSmallRows = 2 * kMaxGemvRows; // two row groups per panel
// K rows of a panel chunk the two row groups share (16 floats each: 8 KB).
constexpr int64_t kGroupChunkK = 128;
// Software prefetch in the GEMV loop, bytes ahead of the B stream (0 = none).
// Measured on this Zen 3 VM, weights streamed from DRAM, A/B in one process:
// with 1-2 rows the loop issues few instructions per cache line, the
// out-of-order window covers the memory latency and a prefetch only costs
// (M=1: -10..20%); with 3-4 rows the FMAs fill the window and a prefetch
// 1 KB ahead recovers a good part of the bandwidth (M=4: 40% -> 60%).
constexpr int gemvPrefetchBytes(int mr) { return mr >= 3 ? 1024 : 0; }

// The generated kernels, built once per process.
class JitKernels {
public:
  static const JitKernels *get() {
    static const JitKernels *instance = build();
    return instance;
  }
  MatmulKernelFn gemm[kMaxGemmRows + 1] = {};
  MatmulKernelFn gemv[kMaxGemvRows + 1] = {};

private:
  static const JitKernels *build() {
    if (!avx2::cpuSupported())
      return nullptr;
    try {
      std::unique_ptr<JitKernels> k(new JitKernels);
      for (int mr = 1; mr <= kMaxGemmRows; ++mr)
        k->gemm[mr] = k->add(std::make_unique<JitGemmKernel>(mr));
      for (int mr = 1; mr <= kMaxGemvRows; ++mr)
        k->gemv[mr] = k->add(std::make_unique<JitGemvKernel>(mr, gemvPrefetchBytes(mr)));
      for (int mr = 1; mr <= kMaxGemmRows; ++mr)
        if (!k->gemm[mr] || (mr <= kMaxGemvRows && !k->gemv[mr]))
          return nullptr;
      return k.release(); // lives for the whole process
    } catch (...) {
      return nullptr;
    }
  }
  MatmulKernelFn add(std::unique_ptr<JitGenerator> g) {
    if (!g->create())
      return nullptr;
    auto fn = reinterpret_cast<MatmulKernelFn>(const_cast<void *>(g->entry()));
    owned_.push_back(std::move(g));
    return fn;
  }
  std::vector<std::unique_ptr<JitGenerator>> owned_;
};

const JitKernels &kernelsOrThrow() {
  const JitKernels *k = JitKernels::get();
  if (!k)
    throw std::runtime_error("bmc: AVX2 JIT kernels unavailable");
  return *k;
}

// Row range [m0, m1) x panels [p0, p1); `panels` points at panel p0.
void gemmBlock(const JitKernels &ker, int64_t m0, int64_t m1, int64_t N,
               int64_t K, const float *A, int64_t lda, const float *panels,
               int64_t p0, int64_t p1, const float *bias, float *C,
               int64_t ldc) {
  const int64_t rows = m1 - m0;
  if (rows <= 0 || p1 <= p0)
    return;
  MatmulCallParams prm{};
  prm.lda = lda * int64_t(sizeof(float));
  prm.ldc = ldc * int64_t(sizeof(float));

  if (rows <= kMaxSmallRows) { // decode, verification: stream each panel once
    // Rows split in at most two groups of <= 6; with two groups the panel is
    // walked in chunks and the second group finds each chunk in L1.
    const int64_t g0 = rows <= kMaxGemvRows ? rows : (rows + 1) / 2, g1 = rows - g0;
    const int64_t chunk = g1 > 0 ? kGroupChunkK : std::max<int64_t>(K, 1);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t cols = std::min<int64_t>(kPanel, N - p * kPanel);
      const float *panel = panels + (p - p0) * K * kPanel;
      for (int64_t k0 = 0; k0 < K || k0 == 0; k0 += chunk) {
        prm.k = std::min(chunk, K - k0);
        prm.b = panel + k0 * kPanel;
        prm.bias = bias ? bias + p * kPanel : nullptr;
        prm.mode = k0 > 0 ? kAccumulate : bias ? kStoreBias : kStore;
        for (int64_t g = 0; g < 2; ++g) {
          const int64_t r0 = m0 + (g ? g0 : 0), nr = g ? g1 : g0;
          if (nr == 0)
            continue;
          prm.a = A + r0 * lda + k0;
          prm.c = C + r0 * ldc + p * kPanel;
          runTile(ker.gemv[nr], int(nr), cols, prm);
        }
        if (K == 0)
          break;
      }
    }
    return;
  }

  constexpr int64_t kBlockK = 256, kBlockM = 72;
  const int64_t kBlocks = std::max<int64_t>(1, (K + kBlockK - 1) / kBlockK);
  const int64_t kc = std::max<int64_t>(1, (K + kBlocks - 1) / kBlocks);
  for (int64_t k0 = 0; k0 < K || k0 == 0; k0 += kc) {
    const int64_t kLen = std::min(kc, K - k0);
    const int64_t mode = k0 > 0 ? kAccumulate : bias ? kStoreBias : kStore;
    for (int64_t i0 = m0; i0 < m1; i0 += kBlockM) {
      const int64_t i1 = std::min(m1, i0 + kBlockM);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t cols = std::min<int64_t>(kPanel, N - p * kPanel);
        for (int64_t i = i0; i < i1; i += kMaxGemmRows) {
          const int mr = int(std::min<int64_t>(kMaxGemmRows, i1 - i));
          prm.a = A + i * lda + k0;
          prm.b = panels + (p - p0) * K * kPanel + k0 * kPanel;
          prm.c = C + i * ldc + p * kPanel;
          prm.bias = bias ? bias + p * kPanel : nullptr;
          prm.k = kLen;
          prm.mode = mode;
          runTile(ker.gemm[mr], mr, cols, prm);
        }
      }
    }
    if (K == 0)
      break;
  }
}

} // namespace

namespace avx2 {

bool cpuSupported() {
  static const bool ok = [] {
    Xbyak::util::Cpu cpu;
    return cpu.has(Xbyak::util::Cpu::tAVX2) && cpu.has(Xbyak::util::Cpu::tFMA);
  }();
  return ok;
}

bool jitReady() { return JitKernels::get() != nullptr; }

void gemmPanels(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *panels, int64_t p0, int64_t p1,
                const float *bias, float *C, int64_t ldc) {
  gemmBlock(kernelsOrThrow(), 0, M, N, K, A, lda, panels, p0, p1, bias, C, ldc);
}

void matmulPacked(ThreadPool *pool, int64_t M, int64_t N, int64_t K,
                  const float *A, int64_t lda, const void *Bpacked,
                  const float *bias, float *C, int64_t ldc) {
  const JitKernels &ker = kernelsOrThrow();
  if (M <= 0 || N <= 0)
    return;
  const int64_t panels = numPanels(N);
  const float *B = static_cast<const float *>(Bpacked);
  const int threads = pool ? pool->numThreads() : 1;
  // Below ~30 KB of weights (decode) or ~1 MFLOP, one thread is faster than
  // a dispatch.
  const bool small = M <= kMaxSmallRows ? K * N * 4 < (32 << 10)
                                       : 2 * M * N * K < (1 << 20);
  if (threads == 1 || small) {
    gemmBlock(ker, 0, M, N, K, A, lda, B, 0, panels, bias, C, ldc);
    return;
  }
  if (M <= kMaxSmallRows || panels >= 2 * threads) {
    parallelFor(pool, panels, [&](int64_t p0, int64_t p1) {
      gemmBlock(ker, 0, M, N, K, A, lda, panelPtr(B, K, p0), p0, p1, bias, C, ldc);
    });
    return;
  }
  // Few panels, many rows: split rows in multiples of the tile height.
  const int64_t tiles = (M + kMaxGemmRows - 1) / kMaxGemmRows;
  parallelFor(pool, tiles, [&](int64_t t0, int64_t t1) {
    gemmBlock(ker, t0 * kMaxGemmRows, std::min(M, t1 * kMaxGemmRows), N, K, A,
              lda, B, 0, panels, bias, C, ldc);
  });
}

} // namespace avx2
} // namespace kernels
} // namespace bmc
