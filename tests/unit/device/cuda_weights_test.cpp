// cudaMatMulWeight (runtime/device/CudaWeights.h): a model's weight bytes
// into the CUDA target's [N, K] row-major copy, against an element-wise
// reference (every source and storage type, both orientations; the rounding
// is bmc_convert_f32_to_kv's, checked by the KV tests), a few known values,
// and a bad size.
#include "runtime/device/CudaWeights.h"

#include "bmc/abi/kernels.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using bmc::device::ElementType;

int kvType(ElementType t) { return t == ElementType::F16 ? BMC_KV_F16 : t == ElementType::BF16 ? BMC_KV_BF16 : BMC_KV_F32; }
size_t width(ElementType t) { return t == ElementType::F32 ? 4 : 2; }

TEST(CudaWeights, LayoutMatchesAnElementwiseReference) {
  const long long rows = 7, cols = 13; // the model's [rows, cols]
  for (ElementType src : {ElementType::F32, ElementType::F16, ElementType::BF16})
    for (ElementType to : {ElementType::F32, ElementType::F16, ElementType::BF16})
      for (bool transpose : {false, true}) {
        // Random values held exactly by `src`, stored as `src`.
        std::mt19937 rng(40);
        std::uniform_real_distribution<float> d(-1.0f, 1.0f);
        std::vector<float> raw(rows * cols), vals(rows * cols);
        for (float &x : raw) x = d(rng);
        std::vector<uint8_t> bytes(raw.size() * width(src));
        bmc_convert_f32_to_kv(kvType(src), raw.data(), bytes.data(), (int64_t)raw.size());
        bmc_convert_kv_to_f32(kvType(src), bytes.data(), vals.data(), (int64_t)raw.size());
        std::vector<uint8_t> got;
        ASSERT_TRUE(bmc::device::cudaMatMulWeight(bytes.data(), src, rows, cols, transpose, to, got).ok());
        long long n = transpose ? cols : rows, k = transpose ? rows : cols;
        ASSERT_EQ(got.size(), size_t(n * k) * width(to));
        for (long long i = 0; i < n; ++i)
          for (long long j = 0; j < k; ++j) {
            float v = transpose ? vals[j * cols + i] : vals[i * cols + j];
            unsigned char want[4];
            bmc_convert_f32_to_kv(kvType(to), &v, want, 1);
            ASSERT_EQ(0, std::memcmp(want, got.data() + (i * k + j) * width(to), width(to)))
                << "src " << int(src) << " to " << int(to) << " transpose " << transpose << " at " << i << ", " << j;
          }
      }
  // Known values: 1.0 and -2.5 as f16 (0x3c00, 0xc100) and bf16 (0x3f80, 0xc020).
  const float one[2] = {1.0f, -2.5f};
  std::vector<uint8_t> h, b;
  ASSERT_TRUE(bmc::device::cudaMatMulWeight(one, ElementType::F32, 1, 2, false, ElementType::F16, h).ok());
  ASSERT_TRUE(bmc::device::cudaMatMulWeight(one, ElementType::F32, 1, 2, false, ElementType::BF16, b).ok());
  uint16_t hv[2], bv[2];
  std::memcpy(hv, h.data(), 4), std::memcpy(bv, b.data(), 4);
  EXPECT_EQ(hv[0], 0x3c00);
  EXPECT_EQ(hv[1], 0xc100);
  EXPECT_EQ(bv[0], 0x3f80);
  EXPECT_EQ(bv[1], 0xc020);
  std::vector<uint8_t> out;
  bmc::Status st = bmc::device::cudaMatMulWeight(one, ElementType::F32, 0, 2, false, ElementType::F16, out);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "cuda weight: [0, 2], expected positive sizes below 2^31");
}

} // namespace
