// calibrateDevice (runtime/device/DeviceCalibration.h): the constants of the
// CPU device and the CUDA device (Gpu: skips without a GPU) are positive and
// finite; on a device that is slow by known amounts (a CpuDevice behind a
// wrapper that sleeps in allocate, copyOnDevice and grow), the measurement is
// at least as slow as those delays (lower bounds only: a loaded machine makes
// every time longer, never shorter); bad arguments and device errors are
// one-line errors. deviceCostConstants (the constants a device session's cost
// model uses): positive and finite with k = 1 / BW, the same on a second call
// (the process's cache), measured anew without it, and a slow device's grow
// cost seen.
#include "bmc/cost_model.h"
#include "device_backends.h"
#include "forwarding_device.h"
#include "runtime/device/DeviceCalibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

using namespace bmc::device;
using bmc::Result;
using bmc::Status;
using bmc_device_test::DeviceKind;

namespace {

using std::chrono::milliseconds;

class SlowGrowable final : public GrowableBuffer {
public:
  SlowGrowable(std::unique_ptr<GrowableBuffer> inner, milliseconds delay)
      : inner_(std::move(inner)), delay_(delay) {}
  DevicePtr base() const override { return inner_->base(); }
  size_t committedBytes() const override { return inner_->committedBytes(); }
  size_t reservedBytes() const override { return inner_->reservedBytes(); }
  size_t granularity() const override { return inner_->granularity(); }
  Status grow(size_t bytes) override {
    std::this_thread::sleep_for(delay_);
    return inner_->grow(bytes);
  }

private:
  std::unique_ptr<GrowableBuffer> inner_;
  milliseconds delay_;
};

// A CpuDevice whose allocate, copyOnDevice and grow take at least a known time.
class SlowDevice final : public bmc_device_test::ForwardingDevice {
public:
  milliseconds allocDelay{0}, copyDelay{0}, growDelay{0};
  bool failAllocate = false;
  Result<DevicePtr> allocate(size_t bytes) override {
    if (failAllocate)
      return Status::error("slow device: allocate: refused for the test");
    std::this_thread::sleep_for(allocDelay);
    return cpu_.allocate(bytes);
  }
  Status copyOnDevice(DevicePtr d, DevicePtr s, size_t n) override {
    std::this_thread::sleep_for(copyDelay);
    return cpu_.copyOnDevice(d, s, n);
  }
  Result<std::unique_ptr<GrowableBuffer>> reserveGrowable(size_t n) override {
    auto g = cpu_.reserveGrowable(n);
    if (!g)
      return g.status();
    return std::unique_ptr<GrowableBuffer>(new SlowGrowable(std::move(g.value()), growDelay));
  }
};

bool positiveFinite(double x) { return std::isfinite(x) && x > 0; }

class DeviceCalibrationTest : public ::testing::TestWithParam<DeviceKind> {
protected:
  void SetUp() override { BMC_DEVICE_OR_SKIP(GetParam()); }
  Device &dev() { return *bmc_device_test::deviceSlot(GetParam()).device; }
};

} // namespace

TEST_P(DeviceCalibrationTest, MeasuresThePlainDevice) {
  auto c = calibrateDevice(dev(), size_t(4) << 20, 5);
  ASSERT_TRUE(c) << c.status().message();
  const DeviceCostConstants &k = c.value();
  // Printed for the record (a loaded machine: preliminary, upper bounds on time).
  std::cout << dev().properties().name << ": allocate+free " << k.allocSeconds * 1e6
            << " us, copy " << k.copyBytesPerSecond / 1e9 << " GB/s, grow one "
            << k.growGranularity << "-byte granule " << k.growSeconds * 1e6 << " us\n";
  EXPECT_TRUE(positiveFinite(k.allocSeconds)) << k.allocSeconds;
  EXPECT_TRUE(positiveFinite(k.copyBytesPerSecond)) << k.copyBytesPerSecond;
  EXPECT_TRUE(positiveFinite(k.readBytesPerSecond)) << k.readBytesPerSecond;
  EXPECT_GE(k.readProbeBytes, size_t(64) << 20);
  EXPECT_GE(k.readProbeBytes, std::min(size_t(4 * dev().properties().lastCacheBytes), size_t(256) << 20));
  EXPECT_LE(k.readProbeBytes, size_t(256) << 20);
  EXPECT_EQ(k.bufferBytes, size_t(4) << 20);
  if (dev().properties().growableBuffers) {
    EXPECT_TRUE(positiveFinite(k.growSeconds)) << k.growSeconds;
    EXPECT_GT(k.growGranularity, 0u);
  }
}

TEST(DeviceCalibration, SeesTheDelaysOfASlowDevice) {
  SlowDevice d;
  d.allocDelay = milliseconds(3);
  d.copyDelay = milliseconds(5);
  d.growDelay = milliseconds(2);
  const size_t bytes = size_t(1) << 20;
  auto c = calibrateDevice(d, bytes, 3);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_GE(c->allocSeconds, 0.003);
  EXPECT_LE(c->copyBytesPerSecond, double(bytes) / 0.005);
  // The read probe's copies sleep too: 2 * probe bytes in 5 ms at most.
  EXPECT_LE(c->readBytesPerSecond, 2.0 * double(c->readProbeBytes) / 0.005);
  EXPECT_GE(c->growSeconds, 0.002);
  EXPECT_EQ(c->growGranularity, d.reserveGrowable(4096).value()->granularity());
}

TEST(DeviceCalibration, ErrorsAreOneLine) {
  SlowDevice d;
  auto zero = calibrateDevice(d, 0, 3);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.status().message().find("calibrateDevice: 0 bytes"), std::string::npos)
      << zero.status().message();
  auto noRounds = calibrateDevice(d, 4096, 0);
  ASSERT_FALSE(noRounds);
  d.failAllocate = true;
  auto failed = calibrateDevice(d, 4096, 3);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().message(), "slow device: allocate: refused for the test");
}

// The constants a device session's cost model runs on (deviceCostConstants):
// positive and finite, k = 1 / BW, the device named, and measured once per
// process (a second call returns the same values; useCache = false measures
// anew). Printed, as the constants gpu_check.sh shows.
TEST_P(DeviceCalibrationTest, TheCostModelsConstants) {
  auto h = bmc::deviceCostConstants(dev());
  ASSERT_TRUE(h) << h.status().message();
  const bmc::HardwareConstants &c = h.value();
  std::cout << c.device << ": BW " << c.readBytesPerSecond / 1e9 << " GB/s, A " << c.allocSeconds * 1e6
            << " us, beta " << c.copyBytesPerSecond / 1e9 << " GB/s, G " << c.growSeconds * 1e6 << " us per "
            << c.growGranularity << " bytes" << (c.fromCache ? " (cached)" : "") << "\n";
  for (double x : {c.allocSeconds, c.copyBytesPerSecond, c.readBytesPerSecond, c.maskSecondsPerByte})
    EXPECT_TRUE(positiveFinite(x)) << x;
  EXPECT_DOUBLE_EQ(c.maskSecondsPerByte, 1.0 / c.readBytesPerSecond);
  EXPECT_NE(c.device.find(dev().properties().name), std::string::npos) << c.device;
  if (dev().properties().growableBuffers) {
    EXPECT_TRUE(positiveFinite(c.growSeconds)) << c.growSeconds;
    EXPECT_GT(c.growGranularity, 0);
  }
  auto again = bmc::deviceCostConstants(dev());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->readBytesPerSecond, c.readBytesPerSecond);
  EXPECT_EQ(again->growSeconds, c.growSeconds);
  auto fresh = bmc::deviceCostConstants(dev(), /*useCache=*/false);
  ASSERT_TRUE(fresh) << fresh.status().message();
  EXPECT_FALSE(fresh->fromCache);
  EXPECT_TRUE(positiveFinite(fresh->readBytesPerSecond));
}

TEST(DeviceCalibration, TheCostModelsConstantsSeeASlowDevice) {
  SlowDevice d;
  d.growDelay = milliseconds(2);
  d.copyDelay = milliseconds(1);
  auto h = bmc::deviceCostConstants(d, /*useCache=*/false);
  ASSERT_TRUE(h) << h.status().message();
  EXPECT_GE(h->growSeconds, 0.002);
  d.failAllocate = true;
  auto failed = bmc::deviceCostConstants(d, /*useCache=*/false);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().message(),
            "device cost model: calibrating cpu: slow device: allocate: refused for the test");
}

// withDevicePassCosts on worked numbers (docs/COST_MODEL.md "On a device"):
// B0 = W + n0 L b = 1e6 + 10 * 4 * 256 = 1010240 bytes at BW = 1e9 streams in
// 1.01024 ms, so a 2 ms step leaves 0.98976 ms of overhead; X(rows) =
// (t(rows) - t(1)) / B0, the 5-row figure (below the 4-row one: noise) raised
// to it; then the model's P(n0, rows) is the timed t(rows) at 2, 4 and 8 rows.
TEST(DeviceCalibration, PassCostsBecomeTheModelsOverheadAndX) {
  bmc::KVCostModel m;
  m.hw.readBytesPerSecond = 1e9;
  m.weightBytes = 1000000;
  m.caches = 4;
  m.rowBytes = 256;
  bmc::device::DevicePassCosts p;
  p.context = 10;
  p.stepSeconds = 2e-3;
  const double t[4] = {2.5e-3, 3e-3, 2.9e-3, 5e-3}; // 2, 4, 5, 8 rows
  std::copy(t, t + 4, p.passSeconds);
  const bmc::KVCostModel w = bmc::withDevicePassCosts(m, p);
  const double B0 = 1010240;
  EXPECT_NEAR(w.stepOverheadSeconds, 2e-3 - 1.01024e-3, 1e-12);
  EXPECT_NEAR(w.hw.passExtraSecondsPerByte[0], 0.5e-3 / B0, 1e-18);
  EXPECT_NEAR(w.hw.passExtraSecondsPerByte[1], 1e-3 / B0, 1e-18);
  EXPECT_NEAR(w.hw.passExtraSecondsPerByte[2], 1e-3 / B0, 1e-18); // forced non-decreasing
  EXPECT_NEAR(w.hw.passExtraSecondsPerByte[3], 3e-3 / B0, 1e-18);
  EXPECT_NEAR(w.stepSeconds(10), 2e-3, 1e-12);
  EXPECT_NEAR(w.passSeconds(10, 2), 2.5e-3, 1e-12);
  EXPECT_NEAR(w.passSeconds(10, 4), 3e-3, 1e-12);
  EXPECT_NEAR(w.passSeconds(10, 8), 5e-3, 1e-12);
  // A step faster than its bytes' streaming: no overhead (never negative).
  p.stepSeconds = 0.5e-3;
  EXPECT_EQ(bmc::withDevicePassCosts(m, p).stepOverheadSeconds, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Device, DeviceCalibrationTest,
                         ::testing::Values(DeviceKind::Cpu, DeviceKind::Gpu),
                         bmc_device_test::deviceKindName);
