//===- runtime/device/CudaDriver.h - libcuda loaded at run time ----*- C++ -*-===//
//
// The few CUDA driver types and entry points the CUDA device uses, declared
// here so that building needs no toolkit: libcuda.so.1 is opened with dlopen
// on first use and each symbol is looked up by its versioned name (the name
// cuda.h's macros expand to, e.g. cuMemAlloc -> cuMemAlloc_v2). The values
// and layouts are checked against cuda.h by a test when the toolkit is found
// (tests/unit/device/cuda_driver_abi_test.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_CUDADRIVER_H
#define BMC_RUNTIME_DEVICE_CUDADRIVER_H

#include "bmc/status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bmc {
namespace device {
namespace cu {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUmemGenericAllocationHandle = unsigned long long;
using CUgraph = struct CUgraph_st *;
using CUgraphNode = struct CUgraphNode_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUkernel = struct CUkern_st *;
using CUarray = struct CUarray_st *;
struct CUgraphEdgeData; // only pointed to

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;

// CUdevice_attribute values.
constexpr int CU_DEVICE_ATTRIBUTE_MAX_PITCH = 11;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED = 102;
// CUfunction_attribute
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

// Virtual memory management (cuMemCreate and friends).
constexpr int CU_MEM_ALLOCATION_TYPE_PINNED = 1;
constexpr int CU_MEM_HANDLE_TYPE_NONE = 0;
constexpr int CU_MEM_LOCATION_TYPE_DEVICE = 1;
constexpr int CU_MEM_ACCESS_FLAGS_PROT_READWRITE = 3;
constexpr int CU_MEM_ALLOC_GRANULARITY_MINIMUM = 0;

struct CUmemLocation {
  int type; // CUmemLocationType
  int id;
};
struct CUmemAllocationProp {
  int type;                 // CUmemAllocationType
  int requestedHandleTypes; // CUmemAllocationHandleType
  CUmemLocation location;
  void *win32HandleMetaData;
  struct {
    unsigned char compressionType;
    unsigned char gpuDirectRDMACapable;
    unsigned short usage;
    unsigned char reserved[4];
  } allocFlags;
};
struct CUmemAccessDesc {
  CUmemLocation location;
  int flags; // CUmemAccess_flags
};

// 2-D copies (cuMemcpy2DAsync_v2): CUmemorytype values and cuda.h's CUDA_MEMCPY2D (_v2).
constexpr int CU_MEMORYTYPE_HOST = 1;
constexpr int CU_MEMORYTYPE_DEVICE = 2;
struct CUDA_MEMCPY2D {
  size_t srcXInBytes, srcY;
  int srcMemoryType; // CUmemorytype
  const void *srcHost;
  CUdeviceptr srcDevice;
  CUarray srcArray;
  size_t srcPitch;
  size_t dstXInBytes, dstY;
  int dstMemoryType;
  void *dstHost;
  CUdeviceptr dstDevice;
  CUarray dstArray;
  size_t dstPitch;
  size_t WidthInBytes, Height;
};

// Stream capture and graphs (CUDA graphs).
constexpr int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1; // CUstreamCaptureMode
constexpr int CU_STREAM_CAPTURE_STATUS_ACTIVE = 1;     // CUstreamCaptureStatus
struct CUDA_KERNEL_NODE_PARAMS {                       // cuda.h's _v2
  CUfunction func;
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void **kernelParams;
  void **extra;
  CUkernel kern;
  CUcontext ctx;
};

// The entry points, filled by loadDriver(); every member is non-null after a
// successful load.
struct Driver {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);             // _v2
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);                   // _v2
  CUresult (*cuCtxSetCurrent)(CUcontext ctx);
  CUresult (*cuMemAlloc)(CUdeviceptr *p, size_t bytes);                     // _v2
  CUresult (*cuMemFree)(CUdeviceptr p);                                     // _v2
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                                CUstream stream);                           // _v2
  CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes,
                                CUstream stream);                           // _v2
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                                CUstream stream);                           // _v2
  CUresult (*cuMemcpy2DAsync)(const CUDA_MEMCPY2D *copy, CUstream stream);  // _v2
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);                             // _v2
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *f, CUmodule module, const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction f, int attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned sharedBytes, CUstream stream,
                             void **args, void **extra);
  CUresult (*cuMemAddressReserve)(CUdeviceptr *p, size_t size, size_t alignment,
                                  CUdeviceptr addr, unsigned long long flags);
  CUresult (*cuMemAddressFree)(CUdeviceptr p, size_t size);
  CUresult (*cuMemCreate)(CUmemGenericAllocationHandle *handle, size_t size,
                          const CUmemAllocationProp *prop, unsigned long long flags);
  CUresult (*cuMemRelease)(CUmemGenericAllocationHandle handle);
  CUresult (*cuMemMap)(CUdeviceptr p, size_t size, size_t offset,
                       CUmemGenericAllocationHandle handle, unsigned long long flags);
  CUresult (*cuMemUnmap)(CUdeviceptr p, size_t size);
  CUresult (*cuMemSetAccess)(CUdeviceptr p, size_t size, const CUmemAccessDesc *desc,
                             size_t count);
  CUresult (*cuMemGetAllocationGranularity)(size_t *granularity, const CUmemAllocationProp *prop,
                                            int option);

  // Graphs: resolved when the driver has them (12.3+ for cuStreamGetCaptureInfo_v3);
  // otherwise null, and graphsMissing names the first one absent.
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode);              // _v2
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*cuStreamGetCaptureInfo)(CUstream stream, int *status, unsigned long long *id,
                                     CUgraph *graph, const CUgraphNode **dependencies,
                                     const CUgraphEdgeData **edgeData,
                                     size_t *numDependencies);              // _v3
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph,
                                          unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphExecKernelNodeSetParams)(CUgraphExec exec, CUgraphNode node,
                                             const CUDA_KERNEL_NODE_PARAMS *params); // _v2
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGraphDestroy)(CUgraph graph);
  const char *graphsMissing; // null when every graph entry point resolved
};

// Opens libcuda.so.1 once per process and resolves every entry point. The
// error, when there is no driver, starts with "no libcuda.so.1" (tests skip on it).
Result<const Driver *> loadDriver();

// "cuMemAlloc_v2(1048576 bytes): CUDA_ERROR_OUT_OF_MEMORY" style one-liners.
std::string errorName(const Driver &d, CUresult r);
Status check(const Driver &d, CUresult r, const std::string &call);

} // namespace cu
} // namespace device
} // namespace bmc

#endif
