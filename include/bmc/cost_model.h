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
  int threads = 0;
  std::string cpu;
  bool fromCache = false;
};

/// Measures the constants (~0.5 s) or loads them from the cache file of this
/// thread count ($XDG_CACHE_HOME/bmc/calibration-<threads>t, else under
/// ~/.cache). `writeCache` = false measures without touching the cache.
HardwareConstants calibrate(ThreadPool *pool, bool useCache = true, bool writeCache = true);

struct KVCostModel {
  HardwareConstants hw;
  int64_t caches = 0;      ///< L: number of KV caches
  int64_t rowBytes = 0;    ///< b: bytes per row of one cache (all sequences)
  int64_t weightBytes = 0; ///< W: weight bytes read per token
  bool mask = false;       ///< attention computes spare rows (mask) or skips them
  double skipBudget = 0.01;///< skip mode: reallocation cost allowed, as a fraction of a step
  /// Fixed cost of a decode step beyond streaming its bytes (dispatch, small
  /// ops); bmc-tune measures it, the session's policy leaves it 0 (which
  /// only makes its r larger, the safe side).
  double stepOverheadSeconds = 0;

  double stepSeconds(int64_t n) const;
  double reallocSeconds(int64_t n) const;
  double maskSeconds(int64_t r) const;
  /// Average seconds per token around context n with r spare rows.
  double tokenSeconds(int64_t r, int64_t n) const;
  /// The r the model picks at context n (>= 1).
  int64_t bestR(int64_t n) const;
  /// Predicted seconds to decode from context `from` to `to` with a fixed r
  /// (simulating each reallocation and the spare rows of every step).
  double generationSeconds(int64_t r, int64_t from, int64_t to) const;
};

} // namespace bmc

#endif
