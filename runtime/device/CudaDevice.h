//===- runtime/device/CudaDevice.h - a GPU through the driver API --*- C++ -*-===//
//
// One device ordinal, its primary context and one stream; libcuda.so.1 is
// loaded with dlopen (CudaDriver.h), so a build without the toolkit and a
// machine without a GPU both work: create() then returns an error that starts
// with "no libcuda.so.1" (or names the driver call that failed).
// Graphs are stream captures (cuStreamBeginCapture_v2, thread-local mode) of
// the device's stream, instantiated once; each launch()'s node is taken from
// the capture's dependency set right after it, so updateLaunch() finds it even
// when cuBLASLt kernels sit between launches. gemm() calls cuBLASLt
// (CublasLt.h), opened on the first GEMM with a handle and a 32 MiB workspace.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_CUDADEVICE_H
#define BMC_RUNTIME_DEVICE_CUDADEVICE_H

#include "runtime/device/CublasLt.h"
#include "runtime/device/CudaDriver.h"
#include "runtime/device/Device.h"

#include <map>
#include <mutex>
#include <vector>

namespace bmc {
namespace device {

class CudaDevice final : public Device {
public:
  // Error prefixes a caller may test for: no driver library, or no GPU behind it.
  static constexpr const char *kNoDriver = "no libcuda.so.1";
  static constexpr const char *kNoDevice = "no CUDA device";
  static Result<std::unique_ptr<CudaDevice>> create(int ordinal = 0);
  ~CudaDevice() override;

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
  Status openGemm() override; // initBlas(): cuBLASLt and its workspace

  // Binds this device's context to the calling thread (the driver's state is per thread).
  Status makeCurrent() const;
  const cu::Driver &driver() const { return *d_; }
  int ordinal() const { return device_; }

private:
  CudaDevice(const cu::Driver *d, cu::CUdevice device) : d_(d), device_(device) {}
  // Opts `f` in to more than 48 KiB of dynamic shared memory when asked for.
  Status prepareShared(cu::CUfunction f, uint32_t sharedBytes, const char *call);
  Status graphsAvailable(const char *call) const;
  Status refuseWhileCapturing(const char *call);
  // The first GEMM opens cuBLASLt, makes a handle and the workspace.
  Status initBlas();

  const cu::Driver *d_;
  cu::CUdevice device_;
  cu::CUcontext ctx_ = nullptr;
  cu::CUstream stream_ = nullptr;
  DeviceProperties props_;
  int maxSharedOptin_ = 0;
  int maxPitch_ = 0; // CU_DEVICE_ATTRIBUTE_MAX_PITCH: cuMemcpy2D refuses a pitch past it
  std::mutex mutex_;
  std::vector<cu::CUmodule> modules_;
  std::vector<std::vector<cu::CUfunction>> kernels_; // per module, in findKernel order
  // Graphs.
  struct CapturedLaunch {
    cu::CUgraphNode node;
    cu::CUfunction fn;
  };
  struct Graph {
    cu::CUgraph graph = nullptr;
    cu::CUgraphExec exec = nullptr;
    std::vector<CapturedLaunch> launches;
  };
  bool capturing_ = false;
  std::vector<CapturedLaunch> captured_;
  std::map<uint32_t, Graph> graphs_;
  uint32_t nextGraph_ = 1;
  // cuBLASLt (opened by the first gemm()).
  const lt::Api *blas_ = nullptr;
  lt::cublasLtHandle_t blasHandle_ = nullptr;
  DevicePtr blasWorkspace_ = 0;
  size_t blasWorkspaceBytes_ = 0;
};

} // namespace device
} // namespace bmc

#endif
