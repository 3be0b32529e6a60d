//===- runtime/device/CudaDevice.cpp - a GPU through the driver API -------===//

#include "runtime/device/CudaDevice.h"

#include <cinttypes>
#include <cstdio>

namespace bmc {
namespace device {

using namespace cu;

namespace {

std::string hex(DevicePtr p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, p);
  return buf;
}

std::string bytesArg(size_t n) { return "(" + std::to_string(n) + " bytes)"; }

// A reserved virtual range with physical chunks mapped behind each other as it
// grows (cuMemAddressReserve + cuMemCreate + cuMemMap + cuMemSetAccess): the
// base address never moves, so what is there is never copied.
class CudaGrowableBuffer final : public GrowableBuffer {
public:
  CudaGrowableBuffer(const CudaDevice &device, CUdeviceptr base, size_t reserved,
                     size_t granularity)
      : dev_(device), base_(base), reserved_(reserved), granularity_(granularity) {}
  ~CudaGrowableBuffer() override {
    const Driver &d = dev_.driver();
    (void)dev_.makeCurrent();
    size_t offset = 0;
    for (const Chunk &c : chunks_) {
      d.cuMemUnmap(base_ + offset, c.bytes);
      d.cuMemRelease(c.handle);
      offset += c.bytes;
    }
    d.cuMemAddressFree(base_, reserved_);
  }
  DevicePtr base() const override { return base_; }
  size_t committedBytes() const override { return committed_; }
  size_t reservedBytes() const override { return reserved_; }
  size_t granularity() const override { return granularity_; }

  Status grow(size_t bytes) override {
    if (bytes <= committed_)
      return Status();
    if (bytes > reserved_)
      return Status::error("cuda: grow to " + std::to_string(bytes) +
                           " bytes: past the reservation of " + std::to_string(reserved_) +
                           " bytes");
    const Driver &d = dev_.driver();
    if (Status s = dev_.makeCurrent(); !s)
      return s;
    size_t target = (bytes + granularity_ - 1) / granularity_ * granularity_;
    size_t chunk = target - committed_;
    CUmemAllocationProp prop = {};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
    prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, dev_.ordinal()};
    CUmemGenericAllocationHandle handle = 0;
    if (Status s = check(d, d.cuMemCreate(&handle, chunk, &prop, 0), "cuMemCreate" + bytesArg(chunk));
        !s)
      return s;
    CUdeviceptr at = base_ + committed_;
    if (Status s = check(d, d.cuMemMap(at, chunk, 0, handle, 0), "cuMemMap" + bytesArg(chunk)); !s) {
      d.cuMemRelease(handle);
      return s;
    }
    CUmemAccessDesc access = {{CU_MEM_LOCATION_TYPE_DEVICE, dev_.ordinal()},
                              CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    if (Status s = check(d, d.cuMemSetAccess(at, chunk, &access, 1),
                         "cuMemSetAccess" + bytesArg(chunk));
        !s) {
      d.cuMemUnmap(at, chunk);
      d.cuMemRelease(handle);
      return s;
    }
    chunks_.push_back({handle, chunk});
    committed_ = target;
    return Status();
  }

private:
  struct Chunk {
    CUmemGenericAllocationHandle handle;
    size_t bytes;
  };
  const CudaDevice &dev_;
  CUdeviceptr base_;
  size_t reserved_, granularity_;
  size_t committed_ = 0;
  std::vector<Chunk> chunks_;
};

} // namespace

Result<std::unique_ptr<CudaDevice>> CudaDevice::create(int ordinal) {
  auto loaded = loadDriver();
  if (!loaded)
    return loaded.status();
  const Driver &d = *loaded.value();
  CUresult r = d.cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE)
    return Status::error(std::string(kNoDevice) + ": cuInit: CUDA_ERROR_NO_DEVICE");
  if (Status s = check(d, r, "cuInit"); !s)
    return s;
  int count = 0;
  if (Status s = check(d, d.cuDeviceGetCount(&count), "cuDeviceGetCount"); !s)
    return s;
  if (count == 0)
    return Status::error(std::string(kNoDevice) + ": cuDeviceGetCount found none");
  if (ordinal < 0 || ordinal >= count)
    return Status::error("cuda: device ordinal " + std::to_string(ordinal) + " out of range [0, " +
                         std::to_string(count) + ")");
  CUdevice dev = 0;
  if (Status s = check(d, d.cuDeviceGet(&dev, ordinal), "cuDeviceGet"); !s)
    return s;
  std::unique_ptr<CudaDevice> device(new CudaDevice(&d, dev));
  if (Status s = check(d, d.cuDevicePrimaryCtxRetain(&device->ctx_, dev), "cuDevicePrimaryCtxRetain");
      !s) {
    device->ctx_ = nullptr;
    return s;
  }
  if (Status s = device->makeCurrent(); !s)
    return s;
  // A blocking stream (flags 0): it orders with the legacy default stream too.
  if (Status s = check(d, d.cuStreamCreate(&device->stream_, 0), "cuStreamCreate"); !s)
    return s;

  DeviceProperties &p = device->props_;
  char name[256] = {};
  if (Status s = check(d, d.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName"); !s)
    return s;
  p.name = name;
  p.kind = "cuda";
  int driverVersion = 0;
  if (Status s = check(d, d.cuDriverGetVersion(&driverVersion), "cuDriverGetVersion"); !s)
    return s;
  p.driver = "CUDA driver " + std::to_string(driverVersion);
  auto attr = [&](int a, int &out, const char *what) {
    return check(d, d.cuDeviceGetAttribute(&out, a, dev), std::string("cuDeviceGetAttribute(") + what + ")");
  };
  int vmm = 0, l2 = 0;
  for (Status s : {attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, p.computeMajor, "major"),
                   attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, p.computeMinor, "minor"),
                   attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, p.multiprocessors, "SMs"),
                   attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                        device->maxSharedOptin_, "shared optin"),
                   attr(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, vmm, "VMM"),
                   attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, l2, "L2 size"),
                   attr(CU_DEVICE_ATTRIBUTE_MAX_PITCH, device->maxPitch_, "max pitch")})
    if (!s)
      return s;
  p.growableBuffers = vmm != 0;
  p.lastCacheBytes = uint64_t(l2 > 0 ? l2 : 0);
  size_t total = 0;
  if (Status s = check(d, d.cuDeviceTotalMem(&total, dev), "cuDeviceTotalMem_v2"); !s)
    return s;
  p.totalMemory = total;
  return device;
}

CudaDevice::~CudaDevice() {
  if (!ctx_)
    return;
  (void)makeCurrent();
  if (capturing_) {
    CUgraph abandoned = nullptr;
    if (d_->cuStreamEndCapture(stream_, &abandoned) == CUDA_SUCCESS && abandoned)
      d_->cuGraphDestroy(abandoned);
  }
  if (stream_)
    d_->cuStreamSynchronize(stream_);
  for (auto &[id, g] : graphs_) {
    d_->cuGraphExecDestroy(g.exec);
    d_->cuGraphDestroy(g.graph);
  }
  if (blasHandle_)
    blas_->cublasLtDestroy(blasHandle_);
  if (blasWorkspace_)
    d_->cuMemFree(blasWorkspace_);
  for (CUmodule m : modules_)
    if (m)
      d_->cuModuleUnload(m);
  if (stream_)
    d_->cuStreamDestroy(stream_);
  d_->cuDevicePrimaryCtxRelease(device_);
}

Status CudaDevice::makeCurrent() const {
  return check(*d_, d_->cuCtxSetCurrent(ctx_), "cuCtxSetCurrent");
}

Result<DevicePtr> CudaDevice::allocate(size_t bytes) {
  if (bytes == 0)
    return Status::error("cuda: allocate: 0 bytes requested");
  if (Status s = makeCurrent(); !s)
    return s;
  CUdeviceptr p = 0;
  if (Status s = check(*d_, d_->cuMemAlloc(&p, bytes), "cuMemAlloc_v2" + bytesArg(bytes)); !s)
    return s;
  return DevicePtr(p);
}

Status CudaDevice::free(DevicePtr p) {
  if (Status s = makeCurrent(); !s)
    return s;
  return check(*d_, d_->cuMemFree(p), "cuMemFree_v2(" + hex(p) + ")");
}

// Copies are enqueued on the device's stream and waited for, so they are
// ordered after earlier launches and complete when they return.
Status CudaDevice::copyToDevice(DevicePtr dst, const void *src, size_t bytes) {
  if (Status s = refuseWhileCapturing("copyToDevice"); !s)
    return s;
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = check(*d_, d_->cuMemcpyHtoDAsync(dst, src, bytes, stream_),
                       "cuMemcpyHtoDAsync_v2" + bytesArg(bytes));
      !s)
    return s;
  return synchronize();
}

Status CudaDevice::copyToHost(void *dst, DevicePtr src, size_t bytes) {
  if (Status s = refuseWhileCapturing("copyToHost"); !s)
    return s;
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = check(*d_, d_->cuMemcpyDtoHAsync(dst, src, bytes, stream_),
                       "cuMemcpyDtoHAsync_v2" + bytesArg(bytes));
      !s)
    return s;
  return synchronize();
}

// One cuMemcpy2DAsync; a pitch past the device's limit (cuMemcpy2D refuses
// it: rows ~2 GiB apart) is copied a row at a time, all enqueued before the
// one wait.
Status CudaDevice::copy2DToHost(void *dst, size_t dstPitch, DevicePtr src, size_t srcPitch, size_t widthBytes,
                                size_t height) {
  if (Status s = checkCopy2D(dstPitch, srcPitch, widthBytes, "cuda: copy2DToHost"); !s)
    return s;
  if (Status s = refuseWhileCapturing("copy2DToHost"); !s)
    return s;
  if (widthBytes == 0 || height == 0)
    return Status();
  if (Status s = makeCurrent(); !s)
    return s;
  const std::string what = "(" + std::to_string(height) + " rows of " + std::to_string(widthBytes) + " bytes, pitch " +
                           std::to_string(srcPitch) + ")";
  if (srcPitch > size_t(maxPitch_) || dstPitch > size_t(maxPitch_)) {
    for (size_t row = 0; row < height; ++row)
      if (Status s = check(*d_, d_->cuMemcpyDtoHAsync(static_cast<uint8_t *>(dst) + row * dstPitch,
                                                     src + row * srcPitch, widthBytes, stream_),
                           "cuMemcpyDtoHAsync_v2" + what);
          !s)
        return s;
    return synchronize();
  }
  CUDA_MEMCPY2D c = {};
  c.srcMemoryType = CU_MEMORYTYPE_DEVICE, c.srcDevice = src, c.srcPitch = srcPitch;
  c.dstMemoryType = CU_MEMORYTYPE_HOST, c.dstHost = dst, c.dstPitch = dstPitch;
  c.WidthInBytes = widthBytes, c.Height = height;
  if (Status s = check(*d_, d_->cuMemcpy2DAsync(&c, stream_), "cuMemcpy2DAsync_v2" + what); !s)
    return s;
  return synchronize();
}

Status CudaDevice::copyOnDevice(DevicePtr dst, DevicePtr src, size_t bytes) {
  if (Status s = refuseWhileCapturing("copyOnDevice"); !s)
    return s;
  if (bytes && src < dst + bytes && dst < src + bytes)
    return Status::error("cuda: copyOnDevice: " + hex(src) + " -> " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes: the ranges overlap");
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = check(*d_, d_->cuMemcpyDtoDAsync(dst, src, bytes, stream_),
                       "cuMemcpyDtoDAsync_v2" + bytesArg(bytes));
      !s)
    return s;
  return synchronize();
}

Result<ModuleHandle> CudaDevice::loadModule(const ModuleImage &image) {
  if (image.format == ModuleFormat::HostTable)
    return Status::error("cuda: loadModule: a host table cannot run on the GPU (expected cubin or PTX)");
  if (image.bytes.empty())
    return Status::error("cuda: loadModule: empty image");
  if (Status s = makeCurrent(); !s)
    return s;
  // PTX must be NUL-terminated; std::string guarantees the terminator after bytes.
  CUmodule m = nullptr;
  if (Status s = check(*d_, d_->cuModuleLoadData(&m, image.bytes.c_str()),
                       std::string("cuModuleLoadData(") + moduleFormatName(image.format) + ", " +
                           std::to_string(image.bytes.size()) + " bytes)");
      !s)
    return s;
  std::lock_guard<std::mutex> lock(mutex_);
  modules_.push_back(m);
  kernels_.emplace_back();
  return ModuleHandle{static_cast<uint32_t>(modules_.size() - 1)};
}

Result<KernelHandle> CudaDevice::findKernel(ModuleHandle module, const std::string &name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (module.id >= modules_.size())
    return Status::error("cuda: findKernel: no module " + std::to_string(module.id));
  if (Status s = makeCurrent(); !s)
    return s;
  CUfunction f = nullptr;
  if (Status s = check(*d_, d_->cuModuleGetFunction(&f, modules_[module.id], name.c_str()),
                       "cuModuleGetFunction('" + name + "')");
      !s)
    return s;
  kernels_[module.id].push_back(f);
  return KernelHandle{module.id, static_cast<uint32_t>(kernels_[module.id].size() - 1)};
}

Status CudaDevice::prepareShared(CUfunction f, uint32_t sharedBytes, const char *call) {
  if (sharedBytes <= 48 * 1024)
    return Status();
  if (int(sharedBytes) > maxSharedOptin_)
    return Status::error(std::string("cuda: ") + call + ": " + std::to_string(sharedBytes) +
                         " bytes of shared memory, the device allows " +
                         std::to_string(maxSharedOptin_));
  return check(*d_,
               d_->cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                      int(sharedBytes)),
               "cuFuncSetAttribute(max dynamic shared)");
}

namespace {
std::string gridText(const LaunchConfig &c) {
  return "grid " + std::to_string(c.grid.x) + "x" + std::to_string(c.grid.y) + "x" +
         std::to_string(c.grid.z) + ", block " + std::to_string(c.block.x) + "x" +
         std::to_string(c.block.y) + "x" + std::to_string(c.block.z);
}
std::string graphName(GraphHandle g) { return "graph " + std::to_string(g.id); }
} // namespace

Status CudaDevice::launch(KernelHandle kernel, const LaunchConfig &c, void **args) {
  CUfunction f;
  bool capturing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kernel.module >= kernels_.size() || kernel.index >= kernels_[kernel.module].size())
      return Status::error("cuda: launch: unknown kernel handle");
    f = kernels_[kernel.module][kernel.index];
    capturing = capturing_;
  }
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = prepareShared(f, c.sharedBytes, "launch"); !s)
    return s;
  if (Status s = check(*d_,
                       d_->cuLaunchKernel(f, c.grid.x, c.grid.y, c.grid.z, c.block.x, c.block.y,
                                          c.block.z, c.sharedBytes, stream_, args, nullptr),
                       "cuLaunchKernel(" + gridText(c) + ")");
      !s || !capturing)
    return s;
  // The launch's node is the capture's only dependency right after it.
  int status = 0;
  unsigned long long id = 0;
  CUgraph graph = nullptr;
  const CUgraphNode *deps = nullptr;
  const CUgraphEdgeData *edges = nullptr;
  size_t count = 0;
  if (Status s = check(*d_,
                       d_->cuStreamGetCaptureInfo(stream_, &status, &id, &graph, &deps, &edges,
                                                  &count),
                       "cuStreamGetCaptureInfo_v3");
      !s)
    return s;
  if (status != CU_STREAM_CAPTURE_STATUS_ACTIVE || count != 1 || !deps)
    return Status::error("cuda: launch during a graph capture: the capture is " +
                         std::string(status == CU_STREAM_CAPTURE_STATUS_ACTIVE ? "active"
                                                                                : "not active") +
                         " with " + std::to_string(count) +
                         " dependencies after the launch (expected its one node)");
  std::lock_guard<std::mutex> lock(mutex_);
  captured_.push_back({deps[0], f});
  return Status();
}

Status CudaDevice::graphsAvailable(const char *call) const {
  if (d_->graphsMissing)
    return Status::error(std::string("cuda: ") + call + ": libcuda.so.1 lacks " +
                         d_->graphsMissing + " (CUDA graphs need a 12.3 or newer driver)");
  return Status();
}

Status CudaDevice::refuseWhileCapturing(const char *call) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error(std::string("cuda: ") + call + ": not allowed during a graph capture");
  return Status();
}

Status CudaDevice::beginCapture() {
  if (Status s = graphsAvailable("beginCapture"); !s)
    return s;
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cuda: beginCapture: a capture is already open (endCapture first)");
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = check(*d_, d_->cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                       "cuStreamBeginCapture_v2");
      !s)
    return s;
  capturing_ = true;
  captured_.clear();
  return Status();
}

Result<GraphHandle> CudaDevice::endCapture() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!capturing_)
    return Status::error("cuda: endCapture: no capture is open (beginCapture first)");
  capturing_ = false;
  std::vector<CapturedLaunch> launches = std::move(captured_);
  captured_.clear();
  if (Status s = makeCurrent(); !s)
    return s;
  Graph g;
  if (Status s = check(*d_, d_->cuStreamEndCapture(stream_, &g.graph), "cuStreamEndCapture"); !s) {
    if (g.graph)
      d_->cuGraphDestroy(g.graph);
    return s;
  }
  if (Status s = check(*d_, d_->cuGraphInstantiateWithFlags(&g.exec, g.graph, 0),
                       "cuGraphInstantiateWithFlags");
      !s) {
    d_->cuGraphDestroy(g.graph);
    return s;
  }
  g.launches = std::move(launches);
  GraphHandle h{nextGraph_++};
  graphs_[h.id] = std::move(g);
  return h;
}

Result<size_t> CudaDevice::graphLaunchCount(GraphHandle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = graphs_.find(graph.id);
  if (it == graphs_.end())
    return Status::error("cuda: graphLaunchCount: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  return it->second.launches.size();
}

Status CudaDevice::replay(GraphHandle graph) {
  CUgraphExec exec;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (capturing_)
      return Status::error("cuda: replay " + graphName(graph) +
                           ": not allowed during a graph capture");
    auto it = graphs_.find(graph.id);
    if (it == graphs_.end())
      return Status::error("cuda: replay: " + graphName(graph) +
                           " is not a live graph of this device (destroyed, or never captured)");
    exec = it->second.exec;
  }
  if (Status s = makeCurrent(); !s)
    return s;
  return check(*d_, d_->cuGraphLaunch(exec, stream_), "cuGraphLaunch(" + graphName(graph) + ")");
}

Status CudaDevice::updateLaunch(GraphHandle graph, size_t launch, const LaunchConfig &c,
                                void **args) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cuda: updateLaunch " + graphName(graph) +
                         ": not allowed during a graph capture");
  auto it = graphs_.find(graph.id);
  if (it == graphs_.end())
    return Status::error("cuda: updateLaunch: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  Graph &g = it->second;
  if (launch >= g.launches.size())
    return Status::error("cuda: updateLaunch: launch " + std::to_string(launch) + " of " +
                         graphName(graph) + ", which has " + std::to_string(g.launches.size()) +
                         " launches");
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.block.x == 0 || c.block.y == 0 ||
      c.block.z == 0)
    return Status::error("cuda: updateLaunch: a grid or block dimension is 0");
  if (Status s = makeCurrent(); !s)
    return s;
  const CapturedLaunch &l = g.launches[launch];
  if (Status s = prepareShared(l.fn, c.sharedBytes, "updateLaunch"); !s)
    return s;
  CUDA_KERNEL_NODE_PARAMS p = {};
  p.func = l.fn;
  p.gridDimX = c.grid.x;
  p.gridDimY = c.grid.y;
  p.gridDimZ = c.grid.z;
  p.blockDimX = c.block.x;
  p.blockDimY = c.block.y;
  p.blockDimZ = c.block.z;
  p.sharedMemBytes = c.sharedBytes;
  p.kernelParams = args;
  return check(*d_, d_->cuGraphExecKernelNodeSetParams(g.exec, l.node, &p),
               "cuGraphExecKernelNodeSetParams_v2(" + graphName(graph) + " launch " +
                   std::to_string(launch) + ", " + gridText(c) + ")");
}

Status CudaDevice::destroyGraph(GraphHandle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = graphs_.find(graph.id);
  if (it == graphs_.end())
    return Status::error("cuda: destroyGraph: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  if (Status s = makeCurrent(); !s)
    return s;
  Status s1 = check(*d_, d_->cuGraphExecDestroy(it->second.exec), "cuGraphExecDestroy");
  Status s2 = check(*d_, d_->cuGraphDestroy(it->second.graph), "cuGraphDestroy");
  graphs_.erase(it);
  return !s1 ? s1 : s2;
}

Result<std::unique_ptr<GrowableBuffer>> CudaDevice::reserveGrowable(size_t maxBytes) {
  if (!props_.growableBuffers)
    return Status::error("cuda: reserveGrowable: " + props_.name +
                         " does not support virtual memory management");
  if (maxBytes == 0)
    return Status::error("cuda: reserveGrowable: 0 bytes requested");
  if (Status s = makeCurrent(); !s)
    return s;
  CUmemAllocationProp prop = {};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
  prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, device_};
  size_t granularity = 0;
  if (Status s = check(*d_,
                       d_->cuMemGetAllocationGranularity(&granularity, &prop,
                                                         CU_MEM_ALLOC_GRANULARITY_MINIMUM),
                       "cuMemGetAllocationGranularity");
      !s)
    return s;
  size_t reserved = (maxBytes + granularity - 1) / granularity * granularity;
  if (reserved < maxBytes)
    return Status::error("cuda: reserveGrowable: " + std::to_string(maxBytes) + " bytes overflows");
  CUdeviceptr base = 0;
  if (Status s = check(*d_, d_->cuMemAddressReserve(&base, reserved, 0, 0, 0),
                       "cuMemAddressReserve" + bytesArg(reserved));
      !s)
    return s;
  return std::unique_ptr<GrowableBuffer>(new CudaGrowableBuffer(*this, base, reserved, granularity));
}

} // namespace device
} // namespace bmc
