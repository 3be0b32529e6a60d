//===- runtime/device/CudaDriver.cpp - libcuda loaded at run time ---------===//

#include "runtime/device/CudaDriver.h"

#include <dlfcn.h>

#include <mutex>

namespace bmc {
namespace device {
namespace cu {

namespace {

// Looks up `symbol` into `slot`; the first missing symbol is remembered.
template <typename Fn> void bind(void *lib, Fn &slot, const char *symbol, std::string &missing) {
  slot = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (!slot && missing.empty())
    missing = symbol;
}

Result<const Driver *> loadOnce() {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    return Status::error(std::string("no libcuda.so.1: no GPU on this machine (dlopen: ") +
                         (why ? why : "unknown error") + ")");
  }
  static Driver d;
  std::string missing;
  bind(lib, d.cuInit, "cuInit", missing);
  bind(lib, d.cuDriverGetVersion, "cuDriverGetVersion", missing);
  bind(lib, d.cuGetErrorName, "cuGetErrorName", missing);
  bind(lib, d.cuDeviceGetCount, "cuDeviceGetCount", missing);
  bind(lib, d.cuDeviceGet, "cuDeviceGet", missing);
  bind(lib, d.cuDeviceGetName, "cuDeviceGetName", missing);
  bind(lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
  bind(lib, d.cuDeviceTotalMem, "cuDeviceTotalMem_v2", missing);
  bind(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", missing);
  bind(lib, d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", missing);
  bind(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent", missing);
  bind(lib, d.cuMemAlloc, "cuMemAlloc_v2", missing);
  bind(lib, d.cuMemFree, "cuMemFree_v2", missing);
  bind(lib, d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", missing);
  bind(lib, d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", missing);
  bind(lib, d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", missing);
  bind(lib, d.cuStreamCreate, "cuStreamCreate", missing);
  bind(lib, d.cuStreamDestroy, "cuStreamDestroy_v2", missing);
  bind(lib, d.cuStreamSynchronize, "cuStreamSynchronize", missing);
  bind(lib, d.cuModuleLoadData, "cuModuleLoadData", missing);
  bind(lib, d.cuModuleUnload, "cuModuleUnload", missing);
  bind(lib, d.cuModuleGetFunction, "cuModuleGetFunction", missing);
  bind(lib, d.cuFuncSetAttribute, "cuFuncSetAttribute", missing);
  bind(lib, d.cuLaunchKernel, "cuLaunchKernel", missing);
  bind(lib, d.cuMemAddressReserve, "cuMemAddressReserve", missing);
  bind(lib, d.cuMemAddressFree, "cuMemAddressFree", missing);
  bind(lib, d.cuMemCreate, "cuMemCreate", missing);
  bind(lib, d.cuMemRelease, "cuMemRelease", missing);
  bind(lib, d.cuMemMap, "cuMemMap", missing);
  bind(lib, d.cuMemUnmap, "cuMemUnmap", missing);
  bind(lib, d.cuMemSetAccess, "cuMemSetAccess", missing);
  bind(lib, d.cuMemGetAllocationGranularity, "cuMemGetAllocationGranularity", missing);
  if (!missing.empty()) {
    dlclose(lib);
    return Status::error("libcuda.so.1 lacks " + missing + " (driver too old?)");
  }
  // Graphs are optional: a driver without them still runs everything else.
  static std::string graphsMissing;
  bind(lib, d.cuStreamBeginCapture, "cuStreamBeginCapture_v2", graphsMissing);
  bind(lib, d.cuStreamEndCapture, "cuStreamEndCapture", graphsMissing);
  bind(lib, d.cuStreamGetCaptureInfo, "cuStreamGetCaptureInfo_v3", graphsMissing);
  bind(lib, d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", graphsMissing);
  bind(lib, d.cuGraphLaunch, "cuGraphLaunch", graphsMissing);
  bind(lib, d.cuGraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams_v2", graphsMissing);
  bind(lib, d.cuGraphExecDestroy, "cuGraphExecDestroy", graphsMissing);
  bind(lib, d.cuGraphDestroy, "cuGraphDestroy", graphsMissing);
  d.graphsMissing = graphsMissing.empty() ? nullptr : graphsMissing.c_str();
  return static_cast<const Driver *>(&d);
}

} // namespace

Result<const Driver *> loadDriver() {
  // The library stays open for the process: modules and contexts outlive callers.
  static Result<const Driver *> loaded = loadOnce();
  return loaded;
}

std::string errorName(const Driver &d, CUresult r) {
  const char *name = nullptr;
  if (d.cuGetErrorName && d.cuGetErrorName(r, &name) == CUDA_SUCCESS && name)
    return name;
  return "CUresult " + std::to_string(r);
}

Status check(const Driver &d, CUresult r, const std::string &call) {
  if (r == CUDA_SUCCESS)
    return Status();
  return Status::error("cuda: " + call + ": " + errorName(d, r));
}

} // namespace cu
} // namespace device
} // namespace bmc
