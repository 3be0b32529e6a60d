//===- runtime/device/CpuDevice.h - the host as a device -----------*- C++ -*-===//
//
// Memory is host memory (64-byte aligned), copies are memcpy, and a module is
// a table of host functions run once per block of the launch grid, in order.
// Every copy is checked against the allocations it touches, so a bad size or
// address is an error naming the call, not a stray write. A graph is a list of
// recorded launches (kernel, config, argument bytes: HostKernel::argSizes)
// and GEMMs, replayed in order.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_CPUDEVICE_H
#define BMC_RUNTIME_DEVICE_CPUDEVICE_H

#include "runtime/device/Device.h"

#include <map>
#include <mutex>
#include <vector>

namespace bmc {
namespace device {

class CpuDevice final : public Device {
public:
  CpuDevice();
  ~CpuDevice() override;

  const DeviceProperties &properties() const override { return props_; }
  Result<DevicePtr> allocate(size_t bytes) override;
  Status free(DevicePtr p) override;
  Status copyToDevice(DevicePtr dst, const void *src, size_t bytes) override;
  Status copyToHost(void *dst, DevicePtr src, size_t bytes) override;
  Status copyOnDevice(DevicePtr dst, DevicePtr src, size_t bytes) override;
  Status copy2DToHost(void *dst, size_t dstPitch, DevicePtr src, size_t srcPitch, size_t widthBytes,
                      size_t height) override;
  Result<ModuleHandle> loadModule(const ModuleImage &image) override;
  Result<KernelHandle> findKernel(ModuleHandle module, const std::string &name) override;
  Status launch(KernelHandle kernel, const LaunchConfig &config, void **args) override;
  Status synchronize() override;
  Result<std::unique_ptr<GrowableBuffer>> reserveGrowable(size_t maxBytes) override;
  Status beginCapture() override;
  Result<GraphHandle> endCapture() override;
  Result<size_t> graphLaunchCount(GraphHandle graph) override;
  Status replay(GraphHandle graph) override;
  Status updateLaunch(GraphHandle graph, size_t launch, const LaunchConfig &config,
                      void **args) override;
  Status destroyGraph(GraphHandle graph) override;
  Status gemm(const GemmDesc &desc) override;
  Status openGemm() override; // nothing to open: the plain loop

  // For the growable buffers: the usable size of a region changes as it grows.
  void setRegionSize(DevicePtr base, size_t bytes);
  void forgetRegion(DevicePtr base);

private:
  // Is [p, p + bytes) inside one live region? Callers hold mutex_.
  bool inside(DevicePtr p, size_t bytes) const;
  // The kernel behind a handle, or an error naming `call`.
  Result<const HostKernel *> kernelFor(KernelHandle kernel, const char *call);
  // A step of a graph: a launch with its argument values, or a GEMM.
  struct Step {
    bool isGemm = false;
    GemmDesc gemm;
    HostKernelFn fn = nullptr;
    const HostKernel *kernel = nullptr;
    LaunchConfig config;
    std::vector<std::vector<unsigned char>> argValues;
  };
  // Copies the argument values of `kernel` (its argSizes) into `step`.
  static Status recordArgs(const HostKernel &kernel, void **args, Step &step, const char *call);
  struct Graph {
    std::vector<Step> steps;
    std::vector<size_t> launches; // indices into steps of the launch() steps
  };

  DeviceProperties props_;
  std::mutex mutex_;
  struct Region {
    size_t bytes;
    bool owned; // allocate()d here (freed by free()); else a growable buffer's
  };
  std::map<DevicePtr, Region> regions_;
  std::vector<std::vector<HostKernel>> modules_;
  // Graphs: the one being captured (if any) and the finished ones by id.
  bool capturing_ = false;
  Graph capture_;
  std::map<uint32_t, Graph> graphs_;
  uint32_t nextGraph_ = 1;
};

} // namespace device
} // namespace bmc

#endif
