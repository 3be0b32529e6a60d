// Host tensors for the program tests (cuda_data_program_test.cpp,
// cuda_view_program_test.cpp, cuda_scalar_program_test.cpp, cuda_program_test.cpp,
// device_generation_test.cpp): a HostTensor made from a vector, its bytes read
// back as values, random floats, bf16 rounding.
#ifndef BMC_TESTS_UNIT_DEVICE_HOST_TENSORS_H
#define BMC_TESTS_UNIT_DEVICE_HOST_TENSORS_H

#include "bmc/abi/kernels.h"
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
inline bmc::device::HostTensor f32Tensor(std::vector<int64_t> dims, const std::vector<float> &v) {
  return tensor("f32", std::move(dims), v);
}

// n floats uniform in [lo, hi) from `seed`.
inline std::vector<float> uniform(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v) x = d(rng);
  return v;
}
// n floats uniform in [-3, 3) from `seed`.
inline std::vector<float> randoms(size_t n, unsigned seed) { return uniform(n, seed, -3.0f, 3.0f); }

// x rounded to bf16 (nearest even) and widened back, as a bf16 KV cache stores it.
inline float roundBf16(float x) {
  uint16_t b;
  float y;
  bmc_convert_f32_to_kv(BMC_KV_BF16, &x, &b, 1);
  bmc_convert_kv_to_f32(BMC_KV_BF16, &b, &y, 1);
  return y;
}

} // namespace bmc_device_test

#endif
