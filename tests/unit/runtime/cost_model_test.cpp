// The cost model's pure functions (docs/COST_MODEL.md) on hand-made hardware
// constants. Expected values are worked out by hand from the formulas in the
// doc (the arithmetic is in the comments), not taken from the code's output.
#include "bmc/cost_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

namespace bmc {
namespace {

// L = 4 caches of b = 1024 bytes per row, W = 1e8 weight bytes; A = 10 us,
// beta = 10 GB/s, BW = 20 GB/s, k = 1e-10 s/byte; a pass costs 1e-11 s per
// byte streamed per row beyond the first (as a kernel at 50 GFLOP/s would:
// 2 FLOPs per 4-byte element). At n = 1000:
//   R = L (A + n b / beta) = 4 (1e-5 + 1.024e-4) = 4.496e-4 s
//   S = (W + n L b) / BW = (1e8 + 4.096e6) / 2e10 = 5.2048e-3 s
void setPassExtra(KVCostModel &m, std::initializer_list<double> perByte) {
  int i = 0;
  for (double v : perByte) m.hw.passExtraSecondsPerByte[i++] = v;
}

KVCostModel model(bool mask) {
  KVCostModel m;
  m.hw.allocSeconds = 1e-5;
  m.hw.copyBytesPerSecond = 1e10;
  m.hw.readBytesPerSecond = 2e10;
  m.hw.maskSecondsPerByte = 1e-10;
  setPassExtra(m, {1e-11, 3e-11, 4e-11, 7e-11}); // at 2, 4, 5, 8 rows
  m.caches = 4;
  m.rowBytes = 1024;
  m.weightBytes = 100000000;
  m.mask = mask;
  return m;
}

TEST(CostModel, ExpectedTokensPerPass) {
  for (int64_t k = 1; k <= 8; ++k) {
    // alpha = 0: only the target's own token; alpha = 1: every draft plus it.
    EXPECT_DOUBLE_EQ(KVCostModel::expectedTokensPerPass(k, 0.0), 1.0) << k;
    EXPECT_DOUBLE_EQ(KVCostModel::expectedTokensPerPass(k, 1.0), double(k + 1)) << k;
    // alpha = 1/2: 1 + 1/2 + ... + 1/2^k = 2 - 1/2^k.
    EXPECT_NEAR(KVCostModel::expectedTokensPerPass(k, 0.5), 2.0 - std::ldexp(1.0, -int(k)), 1e-12) << k;
  }
  EXPECT_NEAR(KVCostModel::expectedTokensPerPass(1, 0.5), 1.5, 1e-12);
  EXPECT_NEAR(KVCostModel::expectedTokensPerPass(8, 0.5), 1.99609375, 1e-12);
  EXPECT_NEAR(KVCostModel::expectedTokensPerPass(3, 0.8), 1 + 0.8 + 0.64 + 0.512, 1e-12);
  // Just below 1 the closed form must not lose the k + 1 limit.
  EXPECT_NEAR(KVCostModel::expectedTokensPerPass(4, 1 - 1e-9), 5.0, 1e-6);
  EXPECT_DOUBLE_EQ(KVCostModel::expectedTokensPerPass(0, 0.7), 1.0);
}

TEST(CostModel, PassSeconds) {
  KVCostModel m = model(false);
  for (int64_t n : {0, 100, 1000, 5000}) EXPECT_DOUBLE_EQ(m.passSeconds(n, 1), m.stepSeconds(n)) << n;
  EXPECT_NEAR(m.stepSeconds(1000), 5.2048e-3, 1e-12);
  // 3 more rows: 3e-11 s per byte of W + n L b = 1.04096e8 bytes: 3.12288e-3 s.
  EXPECT_NEAR(m.passSeconds(1000, 4), 5.2048e-3 + 3.12288e-3, 1e-12);
  for (int64_t n : {0, 1000, 5000})
    for (int64_t rows = 1; rows < 16; ++rows) EXPECT_LT(m.passSeconds(n, rows), m.passSeconds(n, rows + 1));
  // A kernel with a jump between 4 and 5 rows (GEMV to GEMM), measured at 2, 4, 5, 8 rows:
  // 3 rows halfway between 2 and 4; 9 rows extrapolate 5..8 (1e-11 per row).
  setPassExtra(m, {1e-12, 5e-12, 3e-11, 6e-11});
  const double bytes = 1.04096e8, S = 5.2048e-3;
  EXPECT_NEAR(m.passSeconds(1000, 2), S + 1e-12 * bytes, 1e-12);
  EXPECT_NEAR(m.passSeconds(1000, 3), S + 3e-12 * bytes, 1e-12);
  EXPECT_NEAR(m.passSeconds(1000, 5), S + 3e-11 * bytes, 1e-12);
  EXPECT_NEAR(m.passSeconds(1000, 7), S + 5e-11 * bytes, 1e-12);
  EXPECT_NEAR(m.passSeconds(1000, 9), S + 7e-11 * bytes, 1e-12);
  // Nothing measured: extra rows cost nothing beyond the step.
  setPassExtra(m, {0, 0, 0, 0});
  EXPECT_DOUBLE_EQ(m.passSeconds(1000, 9), m.stepSeconds(1000));
}

TEST(CostModel, BestRMaskIsTheClosedForm) {
  KVCostModel m = model(true);
  // r* = sqrt(2 R / (L/2 b k)) = sqrt(2 * 4.496e-4 / (2 * 1024 * 1e-10)) = sqrt(4390.625) = 66.26 -> 67.
  EXPECT_EQ(m.bestR(1000), 67);
  // The same at other n, each computed from the doc's formula.
  for (int64_t n : {64, 500, 2048, 8192}) {
    double R = 4 * (1e-5 + double(n) * 1024 / 1e10);
    EXPECT_EQ(m.bestR(n), int64_t(std::ceil(std::sqrt(2 * R / (4 / 2 * 1024 * 1e-10))))) << n;
  }
  // M(r) reads only the key half of the caches: (r / 2) (L / 2) b k.
  EXPECT_NEAR(m.maskSeconds(64), 32 * 2 * 1024 * 1e-10, 1e-18);
  // And r* minimises t(r, n) among its neighbours.
  EXPECT_LE(m.tokenSeconds(67, 1000), m.tokenSeconds(50, 1000));
  EXPECT_LE(m.tokenSeconds(67, 1000), m.tokenSeconds(90, 1000));
}

TEST(CostModel, BestRGrowthWithContext) {
  KVCostModel mask = model(true), skip = model(false);
  // Mask: r* ~ sqrt(n) once A is negligible: 16x the context, ~4x the r.
  double ratio = double(mask.bestR(32000)) / double(mask.bestR(2000));
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.5);
  // Skip: r = R / (eps S): 1000 -> 4.496e-4 / (0.01 * 5.2048e-3) = 8.64 -> 9;
  // 4000 -> 1.6784e-3 / (0.01 * 5.8192e-3) = 28.84 -> 29.
  EXPECT_EQ(skip.bestR(1000), 9);
  EXPECT_EQ(skip.bestR(4000), 29);
  // ~linear where the weights dominate the step: 16x the context, well over sqrt's 4x.
  skip.weightBytes = 1000000000;
  ratio = double(skip.bestR(32000)) / double(skip.bestR(2000));
  EXPECT_GT(ratio, 10);
  EXPECT_LT(ratio, 17);
}

// A device's in-place growth (docs/COST_MODEL.md "On a device"): a VMM map
// of G per cache and no copy (rows outermost: the valid rows never move,
// however many [batch, head] blocks a row holds). `rowBytes`: one token's
// row of one cache, all blocks (512: 4 KV heads x 64 x f16).
KVCostModel deviceModel(bool mask, double growSeconds, int64_t rowBytes = 512) {
  KVCostModel m;
  m.hw.allocSeconds = 2e-4;       // cuMemAlloc + cuMemFree of a few MB
  m.hw.copyBytesPerSecond = 1e12; // a device copy
  m.hw.readBytesPerSecond = 4e12;
  m.hw.maskSecondsPerByte = 1.0 / 4e12; // k = 1 / BW on a device
  m.hw.growSeconds = growSeconds;
  m.hw.growGranularity = 2 << 20;
  m.caches = 44;
  m.rowBytes = rowBytes;
  m.weightBytes = 2200000000;
  m.mask = mask;
  m.growInPlace = true;
  return m;
}

TEST(CostModel, InPlaceGrowthByHand) {
  // R = L G, whatever n and however wide the row (no copy): 44 * 60e-6 = 2.64e-3 s.
  for (int64_t rowBytes : {int64_t(128), int64_t(512), int64_t(16384)}) {
    KVCostModel m = deviceModel(false, 60e-6, rowBytes);
    EXPECT_NEAR(m.reallocSeconds(100), 2.64e-3, 1e-12) << rowBytes;
    EXPECT_NEAR(m.reallocSeconds(100000), 2.64e-3, 1e-12) << rowBytes;
  }
  // Not in place: the CPU's A + n b / beta with the same constants: 44 (2e-4 + 5.12e-7) = 8.822528e-3 s.
  KVCostModel copying = deviceModel(false, 60e-6);
  copying.growInPlace = false;
  EXPECT_NEAR(copying.reallocSeconds(1000), 8.822528e-3, 1e-12);
  EXPECT_NEAR(copying.reallocSeconds(2000), 44 * (2e-4 + 2000 * 512 / 1e12), 1e-12);
}

TEST(CostModel, InPlaceGrowthMaskClosedForm) {
  // One block, k = 1 / BW: r* = sqrt(2 L G / ((L / 2) b / BW)) = sqrt(4 G BW / b), free of n and L:
  // sqrt(4 * 60e-6 * 4e12 / 512) = sqrt(1875000) = 1369.3 -> 1370.
  KVCostModel m = deviceModel(true, 60e-6);
  for (int64_t n : {16, 1000, 30000}) EXPECT_EQ(m.bestR(n), 1370) << n;
  m.caches = 8;
  EXPECT_EQ(m.bestR(1000), 1370);
  // 100x slower growth, 10x the r: sqrt(187500000) = 13693.06 -> 13694.
  KVCostModel slow = deviceModel(true, 60e-4);
  EXPECT_EQ(slow.bestR(1000), 13694);
}

TEST(CostModel, SlowAndFastGrowthChooseDifferentR) {
  for (bool mask : {false, true})
    for (int64_t rowBytes : {int64_t(512), int64_t(2048)}) {
      KVCostModel fast = deviceModel(mask, 1e-6, rowBytes), slow = deviceModel(mask, 1e-3, rowBytes);
      EXPECT_LT(fast.bestR(2048), slow.bestR(2048)) << "mask " << mask << ", row " << rowBytes;
    }
  // Skip mode, one block, by hand: r = L G / (eps S(n)); S(1000) = (2.2e9 + 1000 * 44 * 512) / 4e12 = 5.55632e-4 s.
  // G = 1 us: 44e-6 / 5.55632e-6 = 7.919 -> 8; G = 1 ms: 7918.9 -> 7919.
  EXPECT_EQ(deviceModel(false, 1e-6).bestR(1000), 8);
  EXPECT_EQ(deviceModel(false, 1e-3).bestR(1000), 7919);
}

// The chosen r against a plain loop over candidates: in mask mode the r of
// least predicted cost t(r, n) (the integer minimiser is the continuous
// optimum's floor or ceiling, so within one and the same cost to 1e-7: the
// two differ by ~(R / r) (1 / r)^2, ~1e-9 of t at r ~ 1000); in
// skip mode the smallest r whose amortised growth is within 1% of a step.
TEST(CostModel, ChosenRAgainstAPlainLoop) {
  for (double g : {1e-6, 3e-5, 1e-3})
    for (int64_t rowBytes : {int64_t(128), int64_t(512), int64_t(4096)})
      for (int64_t n : {5, 777, 4096}) {
        KVCostModel mask = deviceModel(true, g, rowBytes);
        int64_t best = 1;
        for (int64_t r = 1; r <= (int64_t(1) << 17); ++r)
          if (mask.tokenSeconds(r, n) < mask.tokenSeconds(best, n)) best = r;
        int64_t chosen = mask.bestR(n);
        EXPECT_LE(std::llabs(chosen - best), 1) << g << " " << rowBytes << " " << n;
        EXPECT_LE(mask.tokenSeconds(chosen, n), mask.tokenSeconds(best, n) * (1 + 1e-7)) << g << " " << rowBytes;

        KVCostModel skip = deviceModel(false, g, rowBytes);
        double R = skip.reallocSeconds(n), S = skip.stepSeconds(n);
        int64_t smallest = 1;
        while (R / double(smallest) > 0.01 * S) ++smallest;
        EXPECT_EQ(skip.bestR(n), smallest) << g << " " << rowBytes << " " << n;
      }
}

TEST(CostModel, SpecKZeroIsTokenSeconds) {
  for (bool mask : {false, true}) {
    KVCostModel m = model(mask);
    for (int64_t r : {1, 16, 256})
      for (int64_t n : {10, 1000, 4000})
        for (double alpha : {0.0, 0.5, 1.0}) EXPECT_DOUBLE_EQ(m.specTokenSeconds(r, n, 0, alpha), m.tokenSeconds(r, n));
  }
}

TEST(CostModel, SpecTokenSecondsByHand) {
  KVCostModel m = model(false);
  m.draftSecondsPerToken = 1e-4;
  // k = 3, alpha = 0.5, r = 64, n = 1000: (pass over 4 rows 8.32768e-3 + 3e-4) / E (1.875)
  // + R / r (4.496e-4 / 64) = 4.60145e-3 + 7.025e-6.
  EXPECT_NEAR(m.specTokenSeconds(64, 1000, 3, 0.5), 4.608454333e-3, 1e-12);
  // Mask mode adds 4 query rows x M(64) = 4 * 32 * 2048 * 1e-10 = 2.62144e-5 s per pass, / E.
  m.mask = true;
  EXPECT_NEAR(m.specTokenSeconds(64, 1000, 3, 0.5), 4.608454333e-3 + 2.62144e-5 / 1.875, 1e-12);
}

TEST(CostModel, BestRWithSpeculation) {
  // Skip mode with cheap reallocations would pick r = 1; a pass writes k + 1 rows.
  KVCostModel m = model(false);
  m.hw.allocSeconds = 0;
  m.hw.copyBytesPerSecond = 1e15;
  EXPECT_EQ(m.bestR(100), 1);
  for (int64_t k = 1; k <= 8; ++k) {
    m.specK = k;
    m.acceptRate = 0.6;
    EXPECT_EQ(m.bestR(100), k + 1) << k;
  }
  // Mask mode: k + 1 query rows pay for the spare rows, E tokens share them:
  // r* = sqrt(2 R E / ((k + 1) L/2 b k)) = sqrt(2 * 4.496e-4 * 1.875 / (4 * 2048e-10)) = 45.37 -> 46.
  KVCostModel mk = model(true);
  mk.specK = 3;
  mk.acceptRate = 0.5;
  EXPECT_EQ(mk.bestR(1000), 46);
  for (int64_t n : {10, 100, 1000, 10000})
    for (bool mask : {false, true}) {
      KVCostModel s = model(mask);
      s.specK = 6;
      s.acceptRate = 0.9;
      EXPECT_GE(s.bestR(n), 7) << n;
    }
}

TEST(CostModel, BestK) {
  KVCostModel m = model(false);
  // Per token (ms, n = 1000, no draft cost) by k: alpha 0.5: 4.16, 4.16, 4.44, ...;
  // alpha 0.9: 3.29, 2.69, 2.42, 2.29, 2.22, 2.195, 2.193, 2.21 (minimum at 7).
  int64_t k09 = m.bestK(1000, 0.9, 8), k05 = m.bestK(1000, 0.5, 8);
  EXPECT_GE(k09, 6);
  EXPECT_LE(k05, 2);
  EXPECT_GT(k09, k05);
  // Near alpha 0 with a drafter that costs something: the shortest draft.
  m.draftSecondsPerToken = 1e-3;
  EXPECT_EQ(m.bestK(1000, 0.02, 8), 1);
  // Free extra rows, free drafts, every draft accepted: the longest.
  m.draftSecondsPerToken = 0;
  setPassExtra(m, {0, 0, 0, 0});
  EXPECT_EQ(m.bestK(1000, 1.0, 8), 8);
  EXPECT_EQ(m.bestK(1000, 1.0, 0), 1); // maxK below 1 counts as 1
  // Larger k at higher alpha, all along.
  setPassExtra(m, {1e-11, 3e-11, 4e-11, 7e-11});
  int64_t prev = 1;
  for (double alpha : {0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95}) {
    int64_t k = m.bestK(1000, alpha, 16);
    EXPECT_GE(k, prev) << alpha;
    prev = k;
  }
  EXPECT_GT(prev, 4);
}

TEST(CostModel, BestKSeesTheKernelsJump) {
  // Extra cost of a pass, as a share of the step's streaming time (x BW = 2e10 for per byte), shaped as
  // measured on bmc's kernels: 2 rows +2%, 4 rows +11%, 5 rows +62% (GEMM path), 8 rows +96%.
  KVCostModel m = model(false);
  setPassExtra(m, {0.02 / 2e10, 0.11 / 2e10, 0.62 / 2e10, 0.96 / 2e10});
  // Per token at alpha 0.7, in steps (realloc aside): k = 1: 1.02 / 1.7 = 0.60; k = 2: 1.065 / 2.19 = 0.49;
  // k = 3: 1.11 / 2.533 = 0.438; k = 4: 1.62 / 2.773 = 0.584; k = 5..8: 0.589, 0.604, 0.624, 0.648.
  EXPECT_EQ(m.bestK(1000, 0.7, 8), 3);
  // Without the jump (+4% a row from 4 rows on: 5 rows +15%, 8 rows +27%): k = 4: 1.15 / 2.773 = 0.415,
  // k = 5: 1.19 / 2.941 = 0.405, k = 6: 1.23 / 3.059 = 0.402, k = 7: 1.27 / 3.141 = 0.404: 6.
  setPassExtra(m, {0.02 / 2e10, 0.11 / 2e10, 0.15 / 2e10, 0.27 / 2e10});
  EXPECT_EQ(m.bestK(1000, 0.7, 8), 6);
}

// Passes as speculative decoding makes them: drafts checked in order, each
// accepted with probability alpha, until the first rejection.
static int64_t acceptedOf(std::mt19937 &rng, double alpha, int64_t k) {
  std::bernoulli_distribution accept(alpha);
  int64_t a = 0;
  while (a < k && accept(rng)) ++a;
  return a;
}

TEST(AcceptanceEstimator, ConvergesToTheTrueRate) {
  for (double alpha : {0.3, 0.7, 0.9})
    for (int64_t k : {2, 4, 8}) {
      std::mt19937 rng(42);
      AcceptanceEstimator e;
      e.weight = 0.005; // ~400 passes of memory: a spread of ~0.015 at alpha 0.7, k 4
      for (int i = 0; i < 5000; ++i) e.update(k, acceptedOf(rng, alpha, k));
      // accepted / proposed would sit far off (0.44 at alpha 0.7, k 4).
      EXPECT_NEAR(e.alpha, alpha, 0.05) << alpha << " " << k;
      EXPECT_EQ(e.passes, 5000);
    }
}

TEST(AcceptanceEstimator, VaryingDraftLengths) {
  // The cost model's k changes between passes and a drafter may propose fewer tokens than asked
  // (prompt lookup): trials are counted per pass, so the rate still comes out.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> length(0, 6);
  AcceptanceEstimator e;
  e.weight = 0.005;
  for (int i = 0; i < 5000; ++i) {
    int64_t k = length(rng);
    e.update(k, acceptedOf(rng, 0.6, k));
  }
  EXPECT_NEAR(e.alpha, 0.6, 0.05);
  EXPECT_LT(e.passes, 5000); // the passes with k = 0 did not count
  EXPECT_GT(e.passes, 3500);
}

TEST(AcceptanceEstimator, FirstPassAndEmptyPasses) {
  AcceptanceEstimator e;
  EXPECT_DOUBLE_EQ(e.alpha, 0.5);
  e.update(0, 0); // nothing proposed: no information
  EXPECT_EQ(e.passes, 0);
  EXPECT_DOUBLE_EQ(e.alpha, 0.5);
  e.update(4, 1); // 1 accepted, then a rejection: 1 of 2 trials
  EXPECT_EQ(e.passes, 1);
  EXPECT_DOUBLE_EQ(e.alpha, 0.5);
  e.update(0, 0);
  EXPECT_EQ(e.passes, 1);
  // Then 4 of 4 (4 trials), weight 0.1: (0.9 * 1 + 0.1 * 4) / (0.9 * 2 + 0.1 * 4) = 1.3 / 2.2.
  e.update(4, 4);
  EXPECT_NEAR(e.alpha, 1.3 / 2.2, 1e-12);
  AcceptanceEstimator all;
  for (int i = 0; i < 10; ++i) all.update(3, 3);
  EXPECT_DOUBLE_EQ(all.alpha, 1.0);
  AcceptanceEstimator none;
  none.update(5, 0);
  EXPECT_DOUBLE_EQ(none.alpha, 0.0);
}

} // namespace
} // namespace bmc
