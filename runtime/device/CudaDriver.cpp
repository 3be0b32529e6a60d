//===- runtime/device/CudaDriver.cpp - libcuda loaded at run time ---------===//

#include "runtime/device/CudaDriver.h"
#include "runtime/device/DynamicLibrary.h"

#include <dlfcn.h>

#include <mutex>

namespace bmc {
namespace device {
namespace cu {

namespace {

Result<const Driver *> loadOnce() {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    return Status::error(std::string("no libcuda.so.1: no GPU on this machine (dlopen: ") +
                         (why ? why : "unknown error") + ")");
  }
  static Driver d;
  std::string missing;
  bindSymbol(lib, d.cuInit, "cuInit", missing);
  bindSymbol(lib, d.cuDriverGetVersion, "cuDriverGetVersion", missing);
  bindSymbol(lib, d.cuGetErrorName, "cuGetErrorName", missing);
  bindSymbol(lib, d.cuDeviceGetCount, "cuDeviceGetCount", missing);
  bindSymbol(lib, d.cuDeviceGet, "cuDeviceGet", missing);
  bindSymbol(lib, d.cuDeviceGetName, "cuDeviceGetName", missing);
  bindSymbol(lib, d.cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
  bindSymbol(lib, d.cuDeviceTotalMem, "cuDeviceTotalMem_v2", missing);
  bindSymbol(lib, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", missing);
  bindSymbol(lib, d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", missing);
  bindSymbol(lib, d.cuCtxSetCurrent, "cuCtxSetCurrent", missing);
  bindSymbol(lib, d.cuMemAlloc, "cuMemAlloc_v2", missing);
  bindSymbol(lib, d.cuMemFree, "cuMemFree_v2", missing);
  bindSymbol(lib, d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", missing);
  bindSymbol(lib, d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", missing);
  bindSymbol(lib, d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", missing);
  bindSymbol(lib, d.cuMemcpy2DAsync, "cuMemcpy2DAsync_v2", missing);
  bindSymbol(lib, d.cuStreamCreate, "cuStreamCreate", missing);
  bindSymbol(lib, d.cuStreamDestroy, "cuStreamDestroy_v2", missing);
  bindSymbol(lib, d.cuStreamSynchronize, "cuStreamSynchronize", missing);
  bindSymbol(lib, d.cuModuleLoadData, "cuModuleLoadData", missing);
  bindSymbol(lib, d.cuModuleUnload, "cuModuleUnload", missing);
  bindSymbol(lib, d.cuModuleGetFunction, "cuModuleGetFunction", missing);
  bindSymbol(lib, d.cuFuncSetAttribute, "cuFuncSetAttribute", missing);
  bindSymbol(lib, d.cuLaunchKernel, "cuLaunchKernel", missing);
  bindSymbol(lib, d.cuMemAddressReserve, "cuMemAddressReserve", missing);
  bindSymbol(lib, d.cuMemAddressFree, "cuMemAddressFree", missing);
  bindSymbol(lib, d.cuMemCreate, "cuMemCreate", missing);
  bindSymbol(lib, d.cuMemRelease, "cuMemRelease", missing);
  bindSymbol(lib, d.cuMemMap, "cuMemMap", missing);
  bindSymbol(lib, d.cuMemUnmap, "cuMemUnmap", missing);
  bindSymbol(lib, d.cuMemSetAccess, "cuMemSetAccess", missing);
  bindSymbol(lib, d.cuMemGetAllocationGranularity, "cuMemGetAllocationGranularity", missing);
  if (!missing.empty()) {
    dlclose(lib);
    return Status::error("libcuda.so.1 lacks " + missing + " (driver too old?)");
  }
  // Graphs are optional: a driver without them still runs everything else.
  static std::string graphsMissing;
  bindSymbol(lib, d.cuStreamBeginCapture, "cuStreamBeginCapture_v2", graphsMissing);
  bindSymbol(lib, d.cuStreamEndCapture, "cuStreamEndCapture", graphsMissing);
  bindSymbol(lib, d.cuStreamGetCaptureInfo, "cuStreamGetCaptureInfo_v3", graphsMissing);
  bindSymbol(lib, d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", graphsMissing);
  bindSymbol(lib, d.cuGraphLaunch, "cuGraphLaunch", graphsMissing);
  bindSymbol(lib, d.cuGraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams_v2", graphsMissing);
  bindSymbol(lib, d.cuGraphExecDestroy, "cuGraphExecDestroy", graphsMissing);
  bindSymbol(lib, d.cuGraphDestroy, "cuGraphDestroy", graphsMissing);
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
