// A Device that forwards every call to a CpuDevice it owns: the base of the
// test devices that change one behaviour (device_generation_test.cpp's
// refused allocations, device_calibration_test.cpp's delays, CountingDevice
// below) and override only that.
#ifndef BMC_TESTS_UNIT_DEVICE_FORWARDING_DEVICE_H
#define BMC_TESTS_UNIT_DEVICE_FORWARDING_DEVICE_H

#include "runtime/device/CpuDevice.h"

#include <memory>
#include <string>
#include <vector>

namespace bmc_device_test {

class ForwardingDevice : public bmc::device::Device {
public:
  using DevicePtr = bmc::device::DevicePtr;
  template <typename T> using Result = bmc::Result<T>;
  using Status = bmc::Status;

  const bmc::device::DeviceProperties &properties() const override { return cpu_.properties(); }
  Result<DevicePtr> allocate(size_t bytes) override { return cpu_.allocate(bytes); }
  Status free(DevicePtr p) override { return cpu_.free(p); }
  Status copyToDevice(DevicePtr d, const void *s, size_t n) override { return cpu_.copyToDevice(d, s, n); }
  Status copyToHost(void *d, DevicePtr s, size_t n) override { return cpu_.copyToHost(d, s, n); }
  Status copyOnDevice(DevicePtr d, DevicePtr s, size_t n) override { return cpu_.copyOnDevice(d, s, n); }
  Status copy2DToHost(void *d, size_t dp, DevicePtr s, size_t sp, size_t w, size_t h) override {
    return cpu_.copy2DToHost(d, dp, s, sp, w, h);
  }
  Result<bmc::device::ModuleHandle> loadModule(const bmc::device::ModuleImage &m) override {
    return cpu_.loadModule(m);
  }
  Result<bmc::device::KernelHandle> findKernel(bmc::device::ModuleHandle m, const std::string &n) override {
    return cpu_.findKernel(m, n);
  }
  Status launch(bmc::device::KernelHandle k, const bmc::device::LaunchConfig &c, void **a) override {
    return cpu_.launch(k, c, a);
  }
  Status synchronize() override { return cpu_.synchronize(); }
  Result<std::unique_ptr<bmc::device::GrowableBuffer>> reserveGrowable(size_t n) override {
    return cpu_.reserveGrowable(n);
  }
  Status beginCapture() override { return cpu_.beginCapture(); }
  Result<bmc::device::GraphHandle> endCapture() override { return cpu_.endCapture(); }
  Result<size_t> graphLaunchCount(bmc::device::GraphHandle g) override { return cpu_.graphLaunchCount(g); }
  Status replay(bmc::device::GraphHandle g) override { return cpu_.replay(g); }
  Status updateLaunch(bmc::device::GraphHandle g, size_t i, const bmc::device::LaunchConfig &c, void **a) override {
    return cpu_.updateLaunch(g, i, c, a);
  }
  Status destroyGraph(bmc::device::GraphHandle g) override { return cpu_.destroyGraph(g); }
  Status gemm(const bmc::device::GemmDesc &d) override { return cpu_.gemm(d); }
  Status openGemm() override { return cpu_.openGemm(); }

protected:
  bmc::device::CpuDevice cpu_;
};

// Records the size of every copy to the host (DeviceProgram's copy back:
// device_generation_test.cpp, cuda_view_program_test.cpp, device_view_copy_test.cpp).
class CountingDevice : public ForwardingDevice {
public:
  struct Copy2D {
    size_t width, height, srcPitch;
    bool operator==(const Copy2D &o) const {
      return width == o.width && height == o.height && srcPitch == o.srcPitch;
    }
  };
  std::vector<size_t> toHost;   // bytes, one entry per copyToHost, in order
  std::vector<Copy2D> toHost2D; // one entry per copy2DToHost, in order
  Status copyToHost(void *d, DevicePtr s, size_t n) override {
    toHost.push_back(n);
    return cpu_.copyToHost(d, s, n);
  }
  Status copy2DToHost(void *d, size_t dp, DevicePtr s, size_t sp, size_t w, size_t h) override {
    toHost2D.push_back({w, h, sp});
    return cpu_.copy2DToHost(d, dp, s, sp, w, h);
  }
  void clear() { toHost.clear(), toHost2D.clear(); }
};

} // namespace bmc_device_test

#endif
