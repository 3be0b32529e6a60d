//===- runtime/device/CublasLt.h - cuBLASLt loaded at run time -----*- C++ -*-===//
//
// The cuBLASLt types and entry points a GEMM needs (handle, matmul descriptor,
// matrix layouts, heuristic preference, matmul), declared here so that
// building needs no toolkit: libcublasLt.so.13, then .so.12, is opened with
// dlopen on first use from $BMC_CUDA_ROOT/lib64, the configure-time toolkit,
// $CUDA_HOME/lib64, /usr/local/cuda/lib64, then the loader's path (as NVRTC).
// The declarations are checked against cublasLt.h when the toolkit is found
// (tests/unit/device/cuda_driver_abi_test.cpp). The CUDA device's gemm() uses
// it (CudaDevice.cpp); the CPU device needs none of it.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_CUBLASLT_H
#define BMC_RUNTIME_DEVICE_CUBLASLT_H

#include "bmc/status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bmc {
namespace device {
namespace lt {

using cublasStatus_t = int;
using cublasLtHandle_t = struct cublasLtContext *;
using cublasLtMatmulDesc_t = struct MatmulDescOpaque *;
using cublasLtMatrixLayout_t = struct MatrixLayoutOpaque *;
using cublasLtMatmulPreference_t = struct MatmulPreferenceOpaque *;
using cudaStream_t = struct CUstream_st *; // the driver's CUstream

constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
constexpr int CUBLAS_COMPUTE_32F = 68;               // cublasComputeType_t
constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14; // cudaDataType
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;       // cublasOperation_t
constexpr int CUBLASLT_MATMUL_DESC_TRANSA = 3;        // cublasLtMatmulDescAttributes_t
constexpr int CUBLASLT_MATMUL_DESC_TRANSB = 4;
constexpr int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1; // cublasLtMatmulPreferenceAttributes_t
constexpr int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5; // uint32_t, default 256
constexpr int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6;
constexpr int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7;
constexpr int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;

struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

// The entry points; every member is non-null after a successful load.
struct Api {
  size_t (*cublasLtGetVersion)();
  const char *(*cublasLtGetStatusName)(cublasStatus_t status);
  cublasStatus_t (*cublasLtCreate)(cublasLtHandle_t *handle);
  cublasStatus_t (*cublasLtDestroy)(cublasLtHandle_t handle);
  cublasStatus_t (*cublasLtMatmulDescCreate)(cublasLtMatmulDesc_t *desc, int computeType,
                                             int scaleType);
  cublasStatus_t (*cublasLtMatmulDescDestroy)(cublasLtMatmulDesc_t desc);
  cublasStatus_t (*cublasLtMatmulDescSetAttribute)(cublasLtMatmulDesc_t desc, int attr,
                                                   const void *buf, size_t bytes);
  cublasStatus_t (*cublasLtMatrixLayoutCreate)(cublasLtMatrixLayout_t *layout, int type,
                                               uint64_t rows, uint64_t cols, int64_t ld);
  cublasStatus_t (*cublasLtMatrixLayoutDestroy)(cublasLtMatrixLayout_t layout);
  cublasStatus_t (*cublasLtMatmulPreferenceCreate)(cublasLtMatmulPreference_t *pref);
  cublasStatus_t (*cublasLtMatmulPreferenceDestroy)(cublasLtMatmulPreference_t pref);
  cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute)(cublasLtMatmulPreference_t pref,
                                                         int attr, const void *buf, size_t bytes);
  cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic)(
      cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
      cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
      cublasLtMatmulPreference_t pref, int requested, cublasLtMatmulHeuristicResult_t results[],
      int *returned);
  cublasStatus_t (*cublasLtMatmul)(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                   const void *alpha, const void *a, cublasLtMatrixLayout_t aDesc,
                                   const void *b, cublasLtMatrixLayout_t bDesc, const void *beta,
                                   const void *c, cublasLtMatrixLayout_t cDesc, void *d,
                                   cublasLtMatrixLayout_t dDesc, const cublasLtMatmulAlgo_t *algo,
                                   void *workspace, size_t workspaceBytes, cudaStream_t stream);
};

struct CublasLt {
  const Api *api;
  std::string path; // the file that was opened
};

// Opens the library once per process and resolves every entry point. The
// error, when it is absent, starts with kNoCublasLt and lists what was tried.
constexpr const char *kNoCublasLt = "no libcublasLt.so.13 or .so.12";
Result<const CublasLt *> loadCublasLt();

// "cublasLtMatmul: CUBLAS_STATUS_NOT_SUPPORTED" style one-liners.
Status check(const Api &api, cublasStatus_t r, const std::string &call);

} // namespace lt
} // namespace device
} // namespace bmc

#endif
