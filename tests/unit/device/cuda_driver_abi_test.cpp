// runtime/device/CudaDriver.h and CublasLt.h declare the driver's and
// cuBLASLt's types themselves (no cuda.h at build time); built only with the
// toolkit, this checks them against cuda.h and cublasLt.h at compile time (a
// mismatch fails the build of bmc_device_tests): constants, struct layouts,
// and for the entry points added with graphs and cuBLASLt, the arity and the
// size of every parameter and of the result (the types themselves are ours).
#include "runtime/device/CublasLt.h"
#include "runtime/device/CudaDriver.h"

// Our entry points' types, named before cuda.h's macros (cuStreamBeginCapture ->
// cuStreamBeginCapture_v2, ...) would rename the members.
namespace ours {
namespace cu = bmc::device::cu;
using Ours_StreamBeginCapture = decltype(cu::Driver::cuStreamBeginCapture);
using Ours_StreamEndCapture = decltype(cu::Driver::cuStreamEndCapture);
using Ours_StreamGetCaptureInfo = decltype(cu::Driver::cuStreamGetCaptureInfo);
using Ours_GraphInstantiateWithFlags = decltype(cu::Driver::cuGraphInstantiateWithFlags);
using Ours_GraphLaunch = decltype(cu::Driver::cuGraphLaunch);
using Ours_GraphExecKernelNodeSetParams = decltype(cu::Driver::cuGraphExecKernelNodeSetParams);
using Ours_GraphExecDestroy = decltype(cu::Driver::cuGraphExecDestroy);
using Ours_GraphDestroy = decltype(cu::Driver::cuGraphDestroy);
using Ours_Memcpy2DAsync = decltype(cu::Driver::cuMemcpy2DAsync);
} // namespace ours

#include <cublasLt.h>
#include <cuda.h>

#include <cstddef>
#include <type_traits>

namespace cu = bmc::device::cu;
namespace lt = bmc::device::lt;

namespace {
template <typename F> struct Shape;
template <typename R, typename... A> struct Shape<R (*)(A...)> {
  static constexpr size_t arity = sizeof...(A);
  static constexpr size_t result = std::is_void_v<R> ? 0 : sizeof(std::conditional_t<std::is_void_v<R>, char, R>);
  static constexpr size_t sizes[sizeof...(A) + 1] = {sizeof(A)..., 0};
};
template <typename Ours, typename Theirs> constexpr bool sameShape() {
  using O = Shape<Ours>;
  using T = Shape<Theirs>;
  if (O::arity != T::arity || O::result != T::result)
    return false;
  for (size_t i = 0; i < O::arity; ++i)
    if (O::sizes[i] != T::sizes[i])
      return false;
  return true;
}
} // namespace
#define SAME_SHAPE(ours, theirs)                                                                   \
  static_assert(sameShape<ours, decltype(&theirs)>(), #ours " differs from " #theirs)

static_assert(sizeof(cu::CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(cu::CUdevice) == sizeof(::CUdevice));
static_assert(sizeof(cu::CUresult) == sizeof(::CUresult));
static_assert(sizeof(cu::CUmemGenericAllocationHandle) == sizeof(::CUmemGenericAllocationHandle));
static_assert(cu::CUDA_SUCCESS == ::CUDA_SUCCESS);
static_assert(cu::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(cu::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT == ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(cu::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE == ::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
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

// 2-D copies (cuMemcpy2DAsync -> cuMemcpy2DAsync_v2 and its CUDA_MEMCPY2D_v2).
static_assert(cu::CU_DEVICE_ATTRIBUTE_MAX_PITCH == ::CU_DEVICE_ATTRIBUTE_MAX_PITCH);
static_assert(cu::CU_MEMORYTYPE_HOST == ::CU_MEMORYTYPE_HOST && cu::CU_MEMORYTYPE_DEVICE == ::CU_MEMORYTYPE_DEVICE);
static_assert(sizeof(cu::CUDA_MEMCPY2D) == sizeof(::CUDA_MEMCPY2D_v2));
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcXInBytes);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcY);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcMemoryType);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcHost);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcDevice);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcArray);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, srcPitch);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstXInBytes);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstY);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstMemoryType);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstHost);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstDevice);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstArray);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, dstPitch);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, WidthInBytes);
SAME_FIELD(cu::CUDA_MEMCPY2D, ::CUDA_MEMCPY2D_v2, Height);
SAME_SHAPE(ours::Ours_Memcpy2DAsync, ::cuMemcpy2DAsync_v2);

// Graphs (cuda.h's macros map each name to the versioned symbol CudaDriver.cpp binds).
static_assert(cu::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL == ::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(cu::CU_STREAM_CAPTURE_STATUS_ACTIVE == ::CU_STREAM_CAPTURE_STATUS_ACTIVE);
static_assert(sizeof(cu::CUDA_KERNEL_NODE_PARAMS) == sizeof(::CUDA_KERNEL_NODE_PARAMS_v2));
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, func);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, gridDimX);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, gridDimZ);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, blockDimX);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, blockDimZ);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, sharedMemBytes);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, kernelParams);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, extra);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, kern);
SAME_FIELD(cu::CUDA_KERNEL_NODE_PARAMS, ::CUDA_KERNEL_NODE_PARAMS_v2, ctx);
SAME_SHAPE(ours::Ours_StreamBeginCapture, ::cuStreamBeginCapture_v2);
SAME_SHAPE(ours::Ours_StreamEndCapture, ::cuStreamEndCapture);
SAME_SHAPE(ours::Ours_StreamGetCaptureInfo, ::cuStreamGetCaptureInfo_v3);
SAME_SHAPE(ours::Ours_GraphInstantiateWithFlags, ::cuGraphInstantiateWithFlags);
SAME_SHAPE(ours::Ours_GraphLaunch, ::cuGraphLaunch);
SAME_SHAPE(ours::Ours_GraphExecKernelNodeSetParams, ::cuGraphExecKernelNodeSetParams_v2);
SAME_SHAPE(ours::Ours_GraphExecDestroy, ::cuGraphExecDestroy);
SAME_SHAPE(ours::Ours_GraphDestroy, ::cuGraphDestroy);

// cuBLASLt.
static_assert(sizeof(lt::cublasStatus_t) == sizeof(::cublasStatus_t));
static_assert(lt::CUBLAS_STATUS_SUCCESS == ::CUBLAS_STATUS_SUCCESS);
static_assert(lt::CUBLAS_COMPUTE_32F == ::CUBLAS_COMPUTE_32F);
static_assert(lt::CUDA_R_32F == ::CUDA_R_32F && lt::CUDA_R_16F == ::CUDA_R_16F &&
              lt::CUDA_R_16BF == ::CUDA_R_16BF);
static_assert(lt::CUBLAS_OP_N == ::CUBLAS_OP_N && lt::CUBLAS_OP_T == ::CUBLAS_OP_T);
static_assert(lt::CUBLASLT_MATMUL_DESC_TRANSA == ::CUBLASLT_MATMUL_DESC_TRANSA);
static_assert(lt::CUBLASLT_MATMUL_DESC_TRANSB == ::CUBLASLT_MATMUL_DESC_TRANSB);
static_assert(lt::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES ==
              ::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES);
static_assert(lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES ==
                  ::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES &&
              lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES ==
                  ::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES &&
              lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES ==
                  ::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES &&
              lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES ==
                  ::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES);
// The attribute setters take int32_t op values (cublasLt.h: "int32_t, default: CUBLAS_OP_N").
static_assert(sizeof(::cublasOperation_t) == sizeof(int32_t));
static_assert(sizeof(lt::cublasLtMatmulAlgo_t) == sizeof(::cublasLtMatmulAlgo_t));
static_assert(sizeof(lt::cublasLtMatmulHeuristicResult_t) ==
              sizeof(::cublasLtMatmulHeuristicResult_t));
SAME_FIELD(lt::cublasLtMatmulHeuristicResult_t, ::cublasLtMatmulHeuristicResult_t, algo);
SAME_FIELD(lt::cublasLtMatmulHeuristicResult_t, ::cublasLtMatmulHeuristicResult_t, workspaceSize);
SAME_FIELD(lt::cublasLtMatmulHeuristicResult_t, ::cublasLtMatmulHeuristicResult_t, state);
SAME_FIELD(lt::cublasLtMatmulHeuristicResult_t, ::cublasLtMatmulHeuristicResult_t, wavesCount);
SAME_FIELD(lt::cublasLtMatmulHeuristicResult_t, ::cublasLtMatmulHeuristicResult_t, reserved);
SAME_SHAPE(decltype(lt::Api::cublasLtGetVersion), ::cublasLtGetVersion);
SAME_SHAPE(decltype(lt::Api::cublasLtGetStatusName), ::cublasLtGetStatusName);
SAME_SHAPE(decltype(lt::Api::cublasLtCreate), ::cublasLtCreate);
SAME_SHAPE(decltype(lt::Api::cublasLtDestroy), ::cublasLtDestroy);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulDescCreate), ::cublasLtMatmulDescCreate);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulDescDestroy), ::cublasLtMatmulDescDestroy);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulDescSetAttribute), ::cublasLtMatmulDescSetAttribute);
SAME_SHAPE(decltype(lt::Api::cublasLtMatrixLayoutCreate), ::cublasLtMatrixLayoutCreate);
SAME_SHAPE(decltype(lt::Api::cublasLtMatrixLayoutDestroy), ::cublasLtMatrixLayoutDestroy);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulPreferenceCreate), ::cublasLtMatmulPreferenceCreate);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulPreferenceDestroy), ::cublasLtMatmulPreferenceDestroy);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulPreferenceSetAttribute), ::cublasLtMatmulPreferenceSetAttribute);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmulAlgoGetHeuristic), ::cublasLtMatmulAlgoGetHeuristic);
SAME_SHAPE(decltype(lt::Api::cublasLtMatmul), ::cublasLtMatmul);
