//===- CudaJit.cpp - the JIT's CUDA model: NVRTC for this device, cached --===//
//
// runtime/CudaJit.h. Everything after the kernels are compiled is the CUDA
// package's load path (startDeviceGeneration), so a JIT model and a package
// of the same model run the same program on the same weights.
//
//===----------------------------------------------------------------------===//

#include "runtime/CudaJit.h"
#include "runtime/CudaPackage.h"
#include "runtime/device/CudaDevice.h"
#include "runtime/device/KernelLibrary.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace bmc {

namespace pkg {

std::string cudaJitCacheDir() {
  if (const char *c = std::getenv("BMC_CUDA_CACHE"); c && *c) return std::string(c) == "off" ? std::string() : c;
  const char *x = std::getenv("XDG_CACHE_HOME");
  const char *home = std::getenv("HOME");
  const std::string base = x && *x ? x : home && *home ? std::string(home) + "/.cache" : "/tmp";
  return base + "/bmc/nvrtc";
}

Result<std::shared_ptr<Model>> startCudaJit(CudaJitParts parts) {
  auto device = device::CudaDevice::create(0);
  if (!device) return Status::error("device cuda: " + device.status().message());
  return startCudaJitOn(std::move(parts), std::move(device.value()), nullptr);
}

} // namespace pkg

Result<device::ModuleImage> cudaJitImage(const std::string &emitted, const std::string &arch,
                                         const std::string &cacheDir, const Result<const device::Nvrtc *> &nvrtc,
                                         const std::function<void(const std::string &)> &remarks,
                                         std::string *binary) {
  if (!nvrtc)
    return Status::error("device cuda: the JIT compiles the kernels with NVRTC, which cannot be loaded: " +
                         nvrtc.status().message() +
                         " (install the CUDA toolkit's NVRTC or set BMC_CUDA_ROOT; or run a package compiled with "
                         "bmc-compile --target cuda)");
  device::NvrtcRequest req;
  req.source = device::cudaEmittedKernelSource(emitted);
  req.name = "bmc_jit.cu";
  req.arch = arch;
  req.cacheDir = cacheDir;
  const auto t0 = std::chrono::steady_clock::now();
  auto out = nvrtc.value()->compile(req);
  if (!out) return Status::error("device cuda: " + out.status().message());
  if (remarks) {
    if (!out->cacheNote.empty()) remarks("NVRTC " + arch + ": " + out->cacheNote);
    if (out->fromCache) {
      remarks("NVRTC " + arch + ": cache hit " + out->cachePath);
    } else {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      remarks("NVRTC " + arch + ": compiled (" + secs + " s), " +
              (out->cachePath.empty() ? std::string(cacheDir.empty() ? "not cached (BMC_CUDA_CACHE=off)"
                                                                     : "not cached")
                                      : "cached at " + out->cachePath));
    }
  }
  device::ModuleImage image;
  image.format = device::ModuleFormat::Cubin;
  image.bytes = std::move(out->cubin);
  if (binary) *binary = "cubin " + arch + " (NVRTC JIT)";
  return image;
}

Result<std::shared_ptr<Model>> startCudaJitOn(pkg::CudaJitParts parts, std::unique_ptr<device::Device> device,
                                              const device::ModuleImage *image) {
  if (!device) return Status::error("device cuda: no device");
  auto say = [&](const std::string &s) {
    if (parts.progress) parts.progress(s);
  };
  device::ModuleImage compiled;
  std::string binary = "host table (JIT)";
  if (!image) {
    const device::DeviceProperties &p = device->properties();
    if (p.computeMajor <= 0)
      return Status::error("device cuda: " + p.name + " has no CUDA compute capability to compile the kernels for");
    const std::string arch = "sm_" + std::to_string(p.computeMajor) + std::to_string(p.computeMinor);
    say("compile the kernels with NVRTC for " + arch + " (" + p.name + ")");
    // The cache's outcome is progress (bmc-run shows it) and a remark (tests read it).
    auto tell = [&](const std::string &line) {
      say(line);
      if (parts.remarks) parts.remarks(line);
    };
    auto img = cudaJitImage(parts.section.source, arch, pkg::cudaJitCacheDir(), device::Nvrtc::load(), tell, &binary);
    if (!img) return img.status();
    compiled = std::move(img.value());
    image = &compiled;
  }
  say("lay out the weights");
  // As a package's weights section: 64-byte aligned, the offsets the table has.
  const size_t bytes = size_t((parts.weightBytes + 63) & ~uint64_t(63));
  auto *p = static_cast<uint8_t *>(std::aligned_alloc(64, bytes ? bytes : 64));
  if (!p) return Status::error("device cuda: cannot allocate " + std::to_string(bytes) + " bytes for the weights");
  std::shared_ptr<const uint8_t> blob(p, [](const uint8_t *q) { std::free(const_cast<uint8_t *>(q)); });
  std::string error;
  if (!parts.buildWeights || !parts.buildWeights(p, error))
    return Status::error(error.empty() ? "device cuda: internal: no weights" : error);
  CudaPackageParts cp;
  cp.section = std::move(parts.section);
  cp.signature = std::move(parts.signature);
  cp.weights = std::move(blob);
  cp.weightBytes = size_t(parts.weightBytes);
  cp.options.threads = parts.threads;
  cp.options.device = Target::Cuda;
  return startDeviceGeneration(std::move(device), std::move(cp), *image, binary);
}

} // namespace bmc
