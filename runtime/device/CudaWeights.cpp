//===- runtime/device/CudaWeights.cpp - weights in the CUDA layout --------===//

#include "runtime/device/CudaWeights.h"

#include "bmc/abi/kernels.h"

#include <climits>
#include <cstring>

namespace bmc {
namespace device {

bool parseElementType(const std::string &name, ElementType &out) {
  if (name == "f32")
    return out = ElementType::F32, true;
  if (name == "f16")
    return out = ElementType::F16, true;
  if (name == "bf16")
    return out = ElementType::BF16, true;
  return false;
}

namespace {

int32_t kvType(ElementType t) {
  return t == ElementType::F16 ? BMC_KV_F16 : t == ElementType::BF16 ? BMC_KV_BF16 : BMC_KV_F32;
}
size_t width(ElementType t) { return t == ElementType::F32 ? 4 : 2; }

} // namespace

Status cudaMatMulWeight(const void *src, ElementType srcType, int64_t rows, int64_t cols, bool transpose,
                        ElementType storage, std::vector<uint8_t> &out) {
  if (!src || rows < 1 || cols < 1 || rows > INT_MAX || cols > INT_MAX)
    return Status::error("cuda weight: " + std::string(src ? "" : "no data, ") + "[" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "], expected positive sizes below 2^31");
  const int64_t n = transpose ? cols : rows, k = transpose ? rows : cols;
  const size_t in = width(srcType), to = width(storage);
  out.assign(size_t(n * k) * to, 0);
  // One output row at a time: gather its K source elements, widen to fp32,
  // narrow to the storage (f32 -> f32 and 16-bit -> the same type are exact).
  std::vector<uint8_t> gathered(static_cast<size_t>(k) * in);
  std::vector<float> row(static_cast<size_t>(k));
  const auto *bytes = static_cast<const uint8_t *>(src);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t at = transpose ? j * cols + i : i * cols + j;
      std::memcpy(&gathered[size_t(j) * in], bytes + size_t(at) * in, in);
    }
    uint8_t *dst = out.data() + size_t(i * k) * to;
    if (srcType == storage) {
      std::memcpy(dst, gathered.data(), gathered.size());
      continue;
    }
    bmc_convert_kv_to_f32(kvType(srcType), gathered.data(), row.data(), k);
    bmc_convert_f32_to_kv(kvType(storage), row.data(), dst, k);
  }
  return Status();
}

} // namespace device
} // namespace bmc
