//===- runtime/device/CpuDevice.cpp - the host as a device ----------------===//

#include "runtime/device/CpuDevice.h"

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
  if (!inside(dst, bytes))
    return Status::error("cpu device: copyToDevice: destination " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return Status();
}

Status CpuDevice::copyToHost(void *dst, DevicePtr src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!inside(src, bytes))
    return Status::error("cpu device: copyToHost: source " + hex(src) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return Status();
}

Status CpuDevice::copyOnDevice(DevicePtr dst, DevicePtr src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!inside(src, bytes) || !inside(dst, bytes))
    return Status::error("cpu device: copyOnDevice: " + hex(src) + " -> " + hex(dst) + " + " +
                         std::to_string(bytes) + " bytes is outside every allocation");
  std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), bytes);
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

Status CpuDevice::launch(KernelHandle kernel, const LaunchConfig &config, void **args) {
  HostKernelFn fn;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kernel.module >= modules_.size() || kernel.index >= modules_[kernel.module].size())
      return Status::error("cpu device: launch: unknown kernel handle");
    fn = modules_[kernel.module][kernel.index].fn;
  }
  const Dim3 &g = config.grid;
  if (g.x == 0 || g.y == 0 || g.z == 0 || config.block.x == 0 || config.block.y == 0 ||
      config.block.z == 0)
    return Status::error("cpu device: launch: a grid or block dimension is 0");
  HostLaunch launch{config.grid, config.block, {}};
  for (uint32_t z = 0; z < g.z; ++z)
    for (uint32_t y = 0; y < g.y; ++y)
      for (uint32_t x = 0; x < g.x; ++x) {
        launch.blockIdx = {x, y, z};
        fn(launch, args);
      }
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
