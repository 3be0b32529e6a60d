// Host tensors for the program tests (cuda_data_program_test.cpp,
// cuda_view_program_test.cpp, cuda_scalar_program_test.cpp): a HostTensor made
// from a vector, its bytes read back as values, random floats.
#ifndef BMC_TESTS_UNIT_DEVICE_HOST_TENSORS_H
#define BMC_TESTS_UNIT_DEVICE_HOST_TENSORS_H

#include "runtime/device/DeviceProgram.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace bmc_device_test {

// `v` as a row-major tensor of element type `type` ("f32", "i64", ...).
template <typename T>
bmc::device::HostTensor tensor(const char *type, std::vector<int64_t> dims, const std::vector<T> &v) {
  bmc::device::HostTensor t;
  t.type = type, t.dims = std::move(dims);
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) // memcpy's pointers must not be null, even for 0 bytes (UBSan)
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

// The tensor's bytes as values of T.
template <typename T> std::vector<T> values(const bmc::device::HostTensor &t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  if (!v.empty())
    std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
  return v;
}
inline std::vector<float> floats(const bmc::device::HostTensor &t) { return values<float>(t); }

// n floats uniform in [-3, 3) from `seed`.
inline std::vector<float> randoms(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float &x : v) x = d(rng);
  return v;
}

} // namespace bmc_device_test

#endif
