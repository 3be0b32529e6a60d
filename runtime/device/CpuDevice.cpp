//===- runtime/device/CpuDevice.cpp - the host as a device ----------------===//

#include "runtime/device/CpuDevice.h"
#include "runtime/device/Gemm.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace bmc {
namespace device {

const char *moduleFormatName(ModuleFormat f) {
  switch (f) {
  case ModuleFormat::Cubin:
    return "cubin";
  case ModuleFormat::Ptx:
    return "ptx";
  case ModuleFormat::HostTable:
    return "host table";
  }
  return "?";
}

Status checkCopy2D(size_t dstPitch, size_t srcPitch, size_t widthBytes, const char *who) {
  if (srcPitch < widthBytes || dstPitch < widthBytes)
    return Status::error(std::string(who) + ": pitches (source " + std::to_string(srcPitch) + ", destination " +
                         std::to_string(dstPitch) + " bytes) must be at least the width, " +
                         std::to_string(widthBytes) + " bytes");
  return Status();
}

namespace {

std::string hex(DevicePtr p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, p);
  return buf;
}

size_t pageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// Address space reserved with PROT_NONE; grow() makes pages read-write in place.
class CpuGrowableBuffer final : public GrowableBuffer {
public:
  CpuGrowableBuffer(CpuDevice &device, void *base, size_t reserved)
      : device_(device), base_(base), reserved_(reserved) {}
  ~CpuGrowableBuffer() override {
    device_.forgetRegion(base());
    munmap(base_, reserved_);
  }
  DevicePtr base() const override { return reinterpret_cast<DevicePtr>(base_); }
  size_t committedBytes() const override { return committed_; }
  size_t reservedBytes() const override { return reserved_; }
  size_t granularity() const override { return pageSize(); }
  Status grow(size_t bytes) override {
    if (bytes <= committed_)
      return Status();
    if (bytes > reserved_)
      return Status::error("cpu device: grow to " + std::to_string(bytes) +
                           " bytes: past the reservation of " + std::to_string(reserved_) +
                           " bytes");
    size_t g = granularity();
    size_t target = (bytes + g - 1) / g * g;
    if (target > reserved_)
      target = reserved_;
    char *from = static_cast<char *>(base_) + committed_;
    if (mprotect(from, target - committed_, PROT_READ | PROT_WRITE) != 0)
      return Status::error("cpu device: mprotect(" + std::to_string(target - committed_) +
                           " bytes) failed: " + std::strerror(errno));
    committed_ = target;
    device_.setRegionSize(base(), committed_);
    return Status();
  }

private:
  CpuDevice &device_;
  void *base_;
  size_t reserved_;
  size_t committed_ = 0;
};

} // namespace

CpuDevice::CpuDevice() {
  props_.name = "cpu";
  props_.kind = "cpu";
  props_.multiprocessors = static_cast<int>(std::thread::hardware_concurrency());
  long pages = sysconf(_SC_PHYS_PAGES);
  props_.totalMemory = pages > 0 ? uint64_t(pages) * pageSize() : 0;
  props_.growableBuffers = true;
  // The last level sysconf knows (glibc reads it from the CPU; 0 or -1 if not).
  for (int level : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    long bytes = sysconf(level);
    if (bytes > 0) {
      props_.lastCacheBytes = uint64_t(bytes);
      break;
    }
  }
}

CpuDevice::~CpuDevice() {
  for (auto &[p, r] : regions_)
    if (r.owned)
      std::free(reinterpret_cast<void *>(p));
}

Result<DevicePtr> CpuDevice::allocate(size_t bytes) {
  if (bytes == 0)
    return Status::error("cpu device: allocate: 0 bytes requested");
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < bytes)
    return Status::error("cpu device: allocate: " + std::to_string(bytes) + " bytes overflows");
  void *p = std::aligned_alloc(64, rounded);
  if (!p)
    return Status::error("cpu device: allocate: out of memory for " + std::to_string(bytes) +
                         " bytes");
  std::lock_guard<std::mutex> lock(mutex_);
  regions_[reinterpret_cast<DevicePtr>(p)] = Region{bytes, true};
  return reinterpret_cast<DevicePtr>(p);
}

Status CpuDevice::free(DevicePtr p) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = regions_.find(p);
  if (it == regions_.end() || !it->second.owned)
    return Status::error("cpu device: free: " + hex(p) + " is not an allocation of this device");
  std::free(reinterpret_cast<void *>(p));
  regions_.erase(it);
  return Status();
}

bool CpuDevice::inside(DevicePtr p, size_t bytes) const {
  auto it = regions_.upper_bound(p);
  if (it == regions_.begin())
    return false;
  --it;
  DevicePtr offset = p - it->first;
  return offset <= it->second.bytes && bytes <= it->second.bytes - offset;
}

Status CpuDevice::copyToDevice(DevicePtr dst, const void *src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: copyToDevice: not allowed during a graph capture");
  if (!inside(dst, bytes))
    return Status::error("cpu device: copyToDevice: destination " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  if (bytes > 0) // an empty tensor's host data may be null (memcpy's arguments must not be)
    std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return Status();
}

Status CpuDevice::copyToHost(void *dst, DevicePtr src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: copyToHost: not allowed during a graph capture");
  if (!inside(src, bytes))
    return Status::error("cpu device: copyToHost: source " + hex(src) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  if (bytes > 0)
    std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return Status();
}

Status CpuDevice::copy2DToHost(void *dst, size_t dstPitch, DevicePtr src, size_t srcPitch, size_t widthBytes,
                               size_t height) {
  if (Status s = checkCopy2D(dstPitch, srcPitch, widthBytes, "cpu device: copy2DToHost"); !s)
    return s;
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: copy2DToHost: not allowed during a graph capture");
  if (widthBytes == 0 || height == 0)
    return Status();
  const size_t span = (height - 1) * srcPitch + widthBytes;
  if (!inside(src, span))
    return Status::error("cpu device: copy2DToHost: source " + hex(src) + " + " + std::to_string(span) +
                         " bytes (" + std::to_string(height) + " rows of " + std::to_string(widthBytes) +
                         ", pitch " + std::to_string(srcPitch) + ") is outside every allocation");
  for (size_t row = 0; row < height; ++row)
    std::memcpy(static_cast<uint8_t *>(dst) + row * dstPitch, reinterpret_cast<const uint8_t *>(src) + row * srcPitch,
                widthBytes);
  return Status();
}

Status CpuDevice::copyOnDevice(DevicePtr dst, DevicePtr src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: copyOnDevice: not allowed during a graph capture");
  if (!inside(src, bytes) || !inside(dst, bytes))
    return Status::error("cpu device: copyOnDevice: " + hex(src) + " -> " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  if (bytes && src < dst + bytes && dst < src + bytes)
    return Status::error("cpu device: copyOnDevice: " + hex(src) + " -> " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes: the ranges overlap");
  if (bytes > 0)
    std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), bytes);
  return Status();
}

Result<ModuleHandle> CpuDevice::loadModule(const ModuleImage &image) {
  if (image.format != ModuleFormat::HostTable)
    return Status::error(std::string("cpu device: loadModule: a ") +
                         moduleFormatName(image.format) +
                         " image cannot run on the CPU (expected a host table)");
  if (!image.hostKernels && image.hostKernelCount)
    return Status::error("cpu device: loadModule: null host kernel table");
  std::lock_guard<std::mutex> lock(mutex_);
  modules_.emplace_back(image.hostKernels, image.hostKernels + image.hostKernelCount);
  return ModuleHandle{static_cast<uint32_t>(modules_.size() - 1)};
}

Result<KernelHandle> CpuDevice::findKernel(ModuleHandle module, const std::string &name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (module.id >= modules_.size())
    return Status::error("cpu device: findKernel: no module " + std::to_string(module.id));
  const auto &table = modules_[module.id];
  for (size_t i = 0; i < table.size(); ++i)
    if (table[i].name && name == table[i].name)
      return KernelHandle{module.id, static_cast<uint32_t>(i)};
  return Status::error("cpu device: findKernel: no kernel '" + name + "' in module " +
                       std::to_string(module.id));
}

namespace {

Status checkLaunchConfig(const LaunchConfig &c, const char *call) {
  const Dim3 &g = c.grid, &b = c.block;
  if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0)
    return Status::error(std::string("cpu device: ") + call + ": a grid or block dimension is 0");
  return Status();
}

// Runs `fn` once per block of the grid, in order.
void runBlocks(HostKernelFn fn, const LaunchConfig &config, void **args) {
  const Dim3 &g = config.grid;
  HostLaunch launch{config.grid, config.block, {}};
  for (uint32_t z = 0; z < g.z; ++z)
    for (uint32_t y = 0; y < g.y; ++y)
      for (uint32_t x = 0; x < g.x; ++x) {
        launch.blockIdx = {x, y, z};
        fn(launch, args);
      }
}

std::string graphName(GraphHandle g) { return "graph " + std::to_string(g.id); }

} // namespace

Result<const HostKernel *> CpuDevice::kernelFor(KernelHandle kernel, const char *call) {
  if (kernel.module >= modules_.size() || kernel.index >= modules_[kernel.module].size())
    return Status::error(std::string("cpu device: ") + call + ": unknown kernel handle");
  return &modules_[kernel.module][kernel.index];
}

Status CpuDevice::recordArgs(const HostKernel &kernel, void **args, Step &step, const char *call) {
  if (!kernel.argSizes)
    return Status::error(std::string("cpu device: ") + call + ": kernel '" +
                         (kernel.name ? kernel.name : "?") +
                         "' has no argument sizes in its host table (HostKernel::argSizes), so "
                         "its arguments cannot be recorded in a graph");
  if (kernel.argCount && !args)
    return Status::error(std::string("cpu device: ") + call + ": null argument array");
  step.argValues.assign(kernel.argCount, {});
  for (uint32_t i = 0; i < kernel.argCount; ++i) {
    const auto *p = static_cast<const unsigned char *>(args[i]);
    step.argValues[i].assign(p, p + kernel.argSizes[i]);
  }
  return Status();
}

Status CpuDevice::launch(KernelHandle kernel, const LaunchConfig &config, void **args) {
  if (Status s = checkLaunchConfig(config, "launch"); !s)
    return s;
  HostKernelFn fn;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto k = kernelFor(kernel, "launch");
    if (!k)
      return k.status();
    fn = k.value()->fn;
    if (capturing_) {
      Step step;
      step.fn = fn;
      step.kernel = k.value();
      step.config = config;
      if (Status s = recordArgs(*k.value(), args, step, "launch during a graph capture"); !s)
        return s;
      capture_.launches.push_back(capture_.steps.size());
      capture_.steps.push_back(std::move(step));
      return Status();
    }
  }
  runBlocks(fn, config, args);
  return Status();
}

Status CpuDevice::synchronize() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: synchronize: not allowed during a graph capture");
  return Status();
}

Status CpuDevice::beginCapture() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: beginCapture: a capture is already open (endCapture first)");
  capturing_ = true;
  capture_ = Graph();
  return Status();
}

Result<GraphHandle> CpuDevice::endCapture() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!capturing_)
    return Status::error("cpu device: endCapture: no capture is open (beginCapture first)");
  capturing_ = false;
  GraphHandle g{nextGraph_++};
  graphs_[g.id] = std::move(capture_);
  capture_ = Graph();
  return g;
}

Result<size_t> CpuDevice::graphLaunchCount(GraphHandle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = graphs_.find(graph.id);
  if (it == graphs_.end())
    return Status::error("cpu device: graphLaunchCount: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  return it->second.launches.size();
}

Status CpuDevice::replay(GraphHandle graph) {
  std::vector<Step> steps;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (capturing_)
      return Status::error("cpu device: replay " + graphName(graph) +
                           ": not allowed during a graph capture");
    auto it = graphs_.find(graph.id);
    if (it == graphs_.end())
      return Status::error("cpu device: replay: " + graphName(graph) +
                           " is not a live graph of this device (destroyed, or never captured)");
    steps = it->second.steps; // run outside the lock on a copy
  }
  for (Step &step : steps) {
    if (step.isGemm) {
      hostGemm(step.gemm);
      continue;
    }
    std::vector<void *> args(step.argValues.size());
    for (size_t i = 0; i < args.size(); ++i)
      args[i] = step.argValues[i].data();
    runBlocks(step.fn, step.config, args.data());
  }
  return Status();
}

Status CpuDevice::updateLaunch(GraphHandle graph, size_t launch, const LaunchConfig &config,
                               void **args) {
  if (Status s = checkLaunchConfig(config, "updateLaunch"); !s)
    return s;
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: updateLaunch " + graphName(graph) +
                         ": not allowed during a graph capture");
  auto it = graphs_.find(graph.id);
  if (it == graphs_.end())
    return Status::error("cpu device: updateLaunch: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  Graph &g = it->second;
  if (launch >= g.launches.size())
    return Status::error("cpu device: updateLaunch: launch " + std::to_string(launch) + " of " +
                         graphName(graph) + ", which has " + std::to_string(g.launches.size()) +
                         " launches");
  Step &step = g.steps[g.launches[launch]];
  Step updated = step;
  if (Status s = recordArgs(*step.kernel, args, updated, "updateLaunch"); !s)
    return s;
  updated.config = config;
  step = std::move(updated);
  return Status();
}

Status CpuDevice::destroyGraph(GraphHandle graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (graphs_.erase(graph.id) == 0)
    return Status::error("cpu device: destroyGraph: " + graphName(graph) +
                         " is not a live graph of this device (destroyed, or never captured)");
  return Status();
}

Status CpuDevice::openGemm() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capturing_)
    return Status::error("cpu device: openGemm: not allowed during a graph capture");
  return Status();
}

Status CpuDevice::gemm(const GemmDesc &g) {
  if (Status s = checkGemm(g, "cpu device"); !s)
    return s;
  std::unique_lock<std::mutex> lock(mutex_);
  struct Operand {
    const char *name;
    DevicePtr p;
    int64_t rows, cols, ld;
    GemmType type;
  } operands[] = {
      {"A", g.a, g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.lda, g.abType},
      {"B", g.b, g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.ldb, g.abType},
      {"C", g.c, g.m, g.n, g.ldc, g.cType},
  };
  for (const Operand &o : operands) {
    size_t bytes = size_t((o.rows - 1) * o.ld + o.cols) * gemmTypeBytes(o.type);
    if (!inside(o.p, bytes))
      return Status::error(std::string("cpu device: gemm: ") + o.name + " " + hex(o.p) + " + " +
                           std::to_string(bytes) + " bytes (" + std::to_string(o.rows) + " x " +
                           std::to_string(o.cols) + ", ld " + std::to_string(o.ld) +
                           ") is outside every allocation");
  }
  if (capturing_) {
    Step step;
    step.isGemm = true;
    step.gemm = g;
    capture_.steps.push_back(std::move(step));
    return Status();
  }
  lock.unlock();
  hostGemm(g);
  return Status();
}

Result<std::unique_ptr<GrowableBuffer>> CpuDevice::reserveGrowable(size_t maxBytes) {
  if (maxBytes == 0)
    return Status::error("cpu device: reserveGrowable: 0 bytes requested");
  size_t g = pageSize();
  size_t reserved = (maxBytes + g - 1) / g * g;
  if (reserved < maxBytes)
    return Status::error("cpu device: reserveGrowable: " + std::to_string(maxBytes) +
                         " bytes overflows");
  void *p = mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return Status::error("cpu device: reserveGrowable: mmap(" + std::to_string(reserved) +
                         " bytes) failed: " + std::strerror(errno));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    regions_[reinterpret_cast<DevicePtr>(p)] = Region{0, false};
  }
  return std::unique_ptr<GrowableBuffer>(new CpuGrowableBuffer(*this, p, reserved));
}

void CpuDevice::setRegionSize(DevicePtr base, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  regions_[base].bytes = bytes;
}

void CpuDevice::forgetRegion(DevicePtr base) {
  std::lock_guard<std::mutex> lock(mutex_);
  regions_.erase(base);
}

} // namespace device
} // namespace bmc
