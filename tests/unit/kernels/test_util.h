// Shared helpers for the kernel tests: deterministic random data and the
// fp32 tolerance used to compare a fast kernel with its reference.
#ifndef BMC_TESTS_UNIT_KERNELS_TEST_UTIL_H
#define BMC_TESTS_UNIT_KERNELS_TEST_UTIL_H

#include "kernels_internal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

namespace bmc {
namespace kernels {
namespace test {

inline std::vector<float> randomVector(size_t n, std::mt19937 &rng, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

// 64-byte aligned float buffer (packed weights need the alignment).
struct AlignedBuffer {
  std::unique_ptr<float, void (*)(void *)> ptr{nullptr, std::free};
  size_t count = 0;
  explicit AlignedBuffer(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    ptr.reset(static_cast<float *>(std::aligned_alloc(64, rounded ? rounded : 64)));
    count = bytes / sizeof(float);
  }
  float *data() const { return ptr.get(); }
};

// 1 = no pool, otherwise a pool of that many threads (kept for the process).
inline ThreadPool *poolFor(int threads) {
  static ThreadPool two(2), three(3);
  return threads == 1 ? nullptr : threads == 2 ? &two : &three;
}

inline bool haveAvx2() { return avx2::cpuSupported(); }
inline bool haveJit() { return avx2::jitReady(); }

// |got - want| <= rtol * scale + tiny, where scale bounds the magnitude of the
// terms that were summed (sum |a_k b_k| for a matmul), so cancellation in the
// result does not turn reordering noise into failures.
inline ::testing::AssertionResult closeTo(float got, float want, double scale,
                                          double rtol = 1e-5) {
  double tol = rtol * (scale + std::fabs(want)) + 1e-30;
  if (std::isnan(want) && std::isnan(got))
    return ::testing::AssertionSuccess();
  if (std::fabs(double(got) - want) <= tol)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << ", want " << want << " (tol " << tol << ")";
}

} // namespace test
} // namespace kernels
} // namespace bmc

#endif // BMC_TESTS_UNIT_KERNELS_TEST_UTIL_H
