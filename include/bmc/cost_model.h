//===- bmc/cost_model.h - the analytical model that picks r -----*- C++ -*-===//
//
// See docs/COST_MODEL.md for the formulas. Thread safety: calibrate() may be
// called concurrently (it serialises on an internal lock); KVCostModel is a
// plain value.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COST_MODEL_H
#define BMC_COST_MODEL_H

#include <cstdint>
#include <string>

namespace bmc {

class ThreadPool;

/// Hardware constants of the model, measured once per machine and cached.
struct HardwareConstants {
  double allocSeconds = 0;        ///< A: allocate + free one KV buffer
  double copyBytesPerSecond = 0;  ///< beta: copy into a fresh buffer
  double readBytesPerSecond = 0;  ///< BW: streaming reads, all threads
  double maskSecondsPerByte = 0;  ///< k: attention over a spare row, per key byte
  /// What a pass over more query rows costs beyond a one-row step, per byte
  /// it streams: (t(rows) - t(1 row)) / bytes of the matmul kernel over
  /// packed weights in memory, at rows = kPassRows[i]. Between and beyond
  /// these points passSeconds interpolates linearly. The points bracket the
  /// kernel's switch from its GEMV (up to 4 rows) to its GEMM path, which
  /// costs a jump no single FLOP rate describes. All 0: extra rows are free.
  static constexpr int kPassRows[4] = {2, 4, 5, 8};
  double passExtraSecondsPerByte[4] = {0, 0, 0, 0};
  /// G: commit one more granule of a growable buffer (a device's VMM map),
  /// the in-place growth's fixed cost; 0: no such path (the CPU's constants).
  double growSeconds = 0;
  int64_t growGranularity = 0; ///< the granule's bytes (0: none)
  int threads = 0;
  std::string cpu;
  /// "" for the CPU's constants; else the device they were measured on (its
  /// name and driver, deviceCostConstants in runtime/device/DeviceCalibration.h).
  std::string device;
  bool fromCache = false;
};

/// Measures the constants (~0.8 s of CPU time; with one thread timed by its
/// CPU time, so that other processes taking the core do not count) or loads
/// them from the cache file of this thread count
/// ($XDG_CACHE_HOME/bmc/calibration-<threads>t, else under ~/.cache).
/// `writeCache` = false measures without touching the cache.
HardwareConstants calibrate(ThreadPool *pool, bool useCache = true, bool writeCache = true);

/// Only calibrate()'s read-bandwidth probe (BW, ~0.1 s, 96 MiB), never cached,
/// for tools that compare predictions with decode measured at the same time:
/// timed like calibrate(), or by the wall clock when `wallClock` (to compare
/// with wall-clock decode, which pays for the core being taken away).
double measureReadBandwidth(ThreadPool *pool, bool wallClock = false);

struct KVCostModel {
  HardwareConstants hw;
  int64_t caches = 0;      ///< L: number of KV caches
  int64_t rowBytes = 0;    ///< b: bytes per row of one cache (all sequences)
  int64_t weightBytes = 0; ///< W: weight bytes read per token
  bool mask = false;       ///< attention computes spare rows (mask) or skips them
  /// The growth path (docs/COST_MODEL.md "On a device"). false: a growth
  /// allocates a buffer and copies the valid rows (R = L * (A + n * b / beta)).
  /// true: a device's growable buffer (VMM) maps more memory behind its end
  /// and copies nothing (the device KV layout is rows outermost,
  /// runtime/device/DeviceKVCache.h): R = L * G.
  bool growInPlace = false;
  double skipBudget = 0.01;///< skip mode: reallocation cost allowed, as a fraction of a step
  /// Fixed cost of a decode step beyond streaming its bytes (dispatch, small
  /// ops); bmc-tune measures it, the session's policy leaves it 0 (which
  /// only makes its r larger, the safe side).
  double stepOverheadSeconds = 0;

  // Speculative decoding: each target pass verifies specK draft tokens over specK + 1 rows.
  int64_t specK = 0;                 ///< 0 = no speculative decoding
  double acceptRate = 0;             ///< alpha, probability a draft token is accepted (0..1)
  double draftSecondsPerToken = 0;   ///< the drafter's cost per proposed token

  double stepSeconds(int64_t n) const;
  double reallocSeconds(int64_t n) const;
  double maskSeconds(int64_t r) const;
  /// Average seconds per token around context n with r spare rows.
  double tokenSeconds(int64_t r, int64_t n) const;
  /// E = (1 - alpha^(k+1)) / (1 - alpha): tokens a verification pass yields on average (k+1 at alpha = 1).
  /// alpha is clamped to [0, 1] and k below 0 counts as 0.
  static double expectedTokensPerPass(int64_t k, double alpha);
  /// Seconds of one target pass over `rows` query rows at context n (weights streamed once, KV rows read once,
  /// plus the kernels' extra cost for more rows, hw.passExtraSecondsPerByte; rows = 1 is stepSeconds(n)).
  double passSeconds(int64_t n, int64_t rows) const;
  /// Average seconds per generated token around context n with r spare rows and draft length k
  /// (k = 0: tokenSeconds(r, n)): (pass over k+1 rows + k * draft cost + mask cost of the spare rows for k+1 query rows) / E
  /// + reallocation cost amortised over the tokens between reallocations.
  double specTokenSeconds(int64_t r, int64_t n, int64_t k, double alpha) const;
  /// The r the model picks at context n given specK/acceptRate (falls back to bestR's current rule when specK == 0).
  /// With SD, r must leave room for k + 1 rows: r >= specK + 1.
  int64_t bestR(int64_t n) const;
  /// The draft length in [1, maxK] minimising specTokenSeconds at context n for this alpha (each k with the r
  /// bestR would pick for it); the smallest such k on ties. maxK below 1 counts as 1.
  int64_t bestK(int64_t n, double alpha, int64_t maxK) const;
  /// Predicted seconds to decode from context `from` to `to` with a fixed r
  /// (simulating each reallocation and the spare rows of every step).
  double generationSeconds(int64_t r, int64_t from, int64_t to) const;
};

/// Running estimate of the acceptance rate (exponentially weighted over verification passes).
/// A pass that proposed k draft tokens and accepted a of them made a + 1 accept/reject trials when a < k
/// (the first rejection ends it) and a trials when a == k; alpha is the weighted accepted count over the
/// weighted trial count, which converges to the true rate; a / k would not (docs/COST_MODEL.md).
struct AcceptanceEstimator {
  double alpha = 0.5;   ///< prior until observed
  double weight = 0.1;  ///< weight of each new pass
  int64_t passes = 0;
  double acceptedSum = 0, trialSum = 0; ///< the exponentially weighted sums behind alpha
  void update(int64_t proposed, int64_t accepted); ///< accepted <= proposed; proposed 0 is ignored
};

} // namespace bmc

#endif
