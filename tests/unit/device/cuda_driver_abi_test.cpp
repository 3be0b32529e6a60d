// runtime/device/CudaDriver.h declares the driver's types itself (no cuda.h
// at build time); built only with the toolkit, this checks them against cuda.h
// at compile time (a mismatch fails the build of bmc_device_tests).
#include "runtime/device/CudaDriver.h"

#include <cuda.h>

#include <cstddef>

namespace cu = bmc::device::cu;

static_assert(sizeof(cu::CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(cu::CUdevice) == sizeof(::CUdevice));
static_assert(sizeof(cu::CUresult) == sizeof(::CUresult));
static_assert(sizeof(cu::CUmemGenericAllocationHandle) == sizeof(::CUmemGenericAllocationHandle));
static_assert(cu::CUDA_SUCCESS == ::CUDA_SUCCESS);
static_assert(cu::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(cu::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT == ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(cu::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN ==
              ::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
static_assert(cu::CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED ==
              ::CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED);
static_assert(cu::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ==
              ::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(cu::CU_MEM_ALLOCATION_TYPE_PINNED == ::CU_MEM_ALLOCATION_TYPE_PINNED);
static_assert(cu::CU_MEM_HANDLE_TYPE_NONE == ::CU_MEM_HANDLE_TYPE_NONE);
static_assert(cu::CU_MEM_LOCATION_TYPE_DEVICE == ::CU_MEM_LOCATION_TYPE_DEVICE);
static_assert(cu::CU_MEM_ACCESS_FLAGS_PROT_READWRITE == ::CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
static_assert(cu::CU_MEM_ALLOC_GRANULARITY_MINIMUM == ::CU_MEM_ALLOC_GRANULARITY_MINIMUM);

#define SAME_FIELD(ours, theirs, field)                                                            \
  static_assert(offsetof(ours, field) == offsetof(theirs, field) &&                                \
                sizeof(ours::field) == sizeof(theirs::field))
static_assert(sizeof(cu::CUmemLocation) == sizeof(::CUmemLocation));
SAME_FIELD(cu::CUmemLocation, ::CUmemLocation, type);
SAME_FIELD(cu::CUmemLocation, ::CUmemLocation, id);
static_assert(sizeof(cu::CUmemAllocationProp) == sizeof(::CUmemAllocationProp));
SAME_FIELD(cu::CUmemAllocationProp, ::CUmemAllocationProp, type);
SAME_FIELD(cu::CUmemAllocationProp, ::CUmemAllocationProp, requestedHandleTypes);
SAME_FIELD(cu::CUmemAllocationProp, ::CUmemAllocationProp, location);
SAME_FIELD(cu::CUmemAllocationProp, ::CUmemAllocationProp, win32HandleMetaData);
SAME_FIELD(cu::CUmemAllocationProp, ::CUmemAllocationProp, allocFlags);
static_assert(sizeof(cu::CUmemAccessDesc) == sizeof(::CUmemAccessDesc));
SAME_FIELD(cu::CUmemAccessDesc, ::CUmemAccessDesc, location);
SAME_FIELD(cu::CUmemAccessDesc, ::CUmemAccessDesc, flags);
