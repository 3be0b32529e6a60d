// The two devices a device-API test body runs on: Cpu (CpuDevice, everywhere)
// and Gpu (CudaDevice; without libcuda.so.1 or a GPU the test skips, printing
// why, unless BMC_REQUIRE_GPU=1, which benchmarks/gpu_check.sh sets).
#ifndef BMC_TESTS_UNIT_DEVICE_DEVICE_BACKENDS_H
#define BMC_TESTS_UNIT_DEVICE_DEVICE_BACKENDS_H

#include "runtime/device/CpuDevice.h"
#include "runtime/device/CudaDevice.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>

namespace bmc_device_test {

enum class DeviceKind { Cpu, Gpu };
inline void PrintTo(DeviceKind k, std::ostream *os) { *os << (k == DeviceKind::Gpu ? "Gpu" : "Cpu"); }

inline std::string deviceKindName(const ::testing::TestParamInfo<DeviceKind> &info) {
  return info.param == DeviceKind::Gpu ? "Gpu" : "Cpu";
}

inline bool gpuRequired() {
  const char *e = std::getenv("BMC_REQUIRE_GPU");
  return e && std::string(e) == "1";
}

// CudaDevice::create's error says there is no driver or no GPU here (a skip
// unless gpuRequired()), not that a present one failed (a failure).
inline bool deviceAbsent(const std::string &error) {
  using bmc::device::CudaDevice;
  return error.rfind(CudaDevice::kNoDriver, 0) == 0 || error.rfind(CudaDevice::kNoDevice, 0) == 0;
}

struct DeviceSlot {
  std::unique_ptr<bmc::device::Device> device;
  std::string error;
  bool absent = false; // no driver or no GPU: a skip unless BMC_REQUIRE_GPU=1
};

// One device per kind for the whole test program.
inline DeviceSlot &deviceSlot(DeviceKind kind) {
  using namespace bmc::device;
  static DeviceSlot cpu = [] {
    DeviceSlot s;
    s.device = std::make_unique<CpuDevice>();
    return s;
  }();
  static DeviceSlot gpu = [] {
    DeviceSlot s;
    auto dev = CudaDevice::create(0);
    if (!dev) {
      s.error = dev.status().message();
      s.absent = deviceAbsent(s.error);
    } else {
      s.device = std::move(dev.value());
    }
    return s;
  }();
  return kind == DeviceKind::Gpu ? gpu : cpu;
}

// In SetUp(): skip (with the reason) or fail when the device is missing.
#define BMC_DEVICE_OR_SKIP(kind)                                                                   \
  do {                                                                                             \
    auto &slot_ = ::bmc_device_test::deviceSlot(kind);                                             \
    if (!slot_.device && slot_.absent && !::bmc_device_test::gpuRequired())                        \
      GTEST_SKIP() << slot_.error;                                                                 \
    ASSERT_TRUE(slot_.device) << slot_.error;                                                      \
  } while (0)

} // namespace bmc_device_test

#endif
