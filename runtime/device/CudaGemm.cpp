//===- runtime/device/CudaGemm.cpp - CudaDevice::gemm through cuBLASLt ----===//
//
// cuBLASLt is opened by the first GEMM (CublasLt.h), with a handle and a
// 32 MiB workspace kept by the device; each GEMM describes its operands,
// asks the heuristic for one algorithm and enqueues on the device's stream
// (so a graph capture records it).
//
//===----------------------------------------------------------------------===//

#include "runtime/device/CudaDevice.h"
#include "runtime/device/Gemm.h"

#include <algorithm>
#include <utility>

namespace bmc {
namespace device {

using namespace cu;

Status CudaDevice::initBlas() {
  if (blasHandle_)
    return Status();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (capturing_)
      return Status::error("cuda: gemm: the first GEMM of a device may not be in a graph capture "
                           "(it opens cuBLASLt and allocates its workspace): run one before");
  }
  auto loaded = lt::loadCublasLt();
  if (!loaded)
    return Status::error("cuda: gemm: " + loaded.status().message());
  const lt::Api &api = *loaded.value()->api;
  lt::cublasLtHandle_t handle = nullptr;
  if (Status s = lt::check(api, api.cublasLtCreate(&handle), "cublasLtCreate"); !s)
    return s;
  // 32 MiB: what NVIDIA recommends for Hopper's cuBLASLt kernels.
  const size_t workspace = size_t(32) << 20;
  auto ws = allocate(workspace);
  if (!ws) {
    api.cublasLtDestroy(handle);
    return ws.status();
  }
  blas_ = &api;
  blasHandle_ = handle;
  blasWorkspace_ = ws.value();
  blasWorkspaceBytes_ = workspace;
  return Status();
}

namespace {
int cudaDataType(GemmType t) {
  return t == GemmType::F32 ? lt::CUDA_R_32F : t == GemmType::F16 ? lt::CUDA_R_16F : lt::CUDA_R_16BF;
}
} // namespace

Status CudaDevice::openGemm() { return initBlas(); }

// Row-major C (m x n) = op(A) op(B) is column-major C^T (n x m) = op(B)^T op(A)^T,
// and a row-major matrix read column-major is its transpose: so cuBLASLt's A is
// our B (transposed when transB), its B our A, and no layout needs row order.
Status CudaDevice::gemm(const GemmDesc &g) {
  if (Status s = checkGemm(g, "cuda"); !s)
    return s;
  if (Status s = makeCurrent(); !s)
    return s;
  if (Status s = initBlas(); !s)
    return s;
  const lt::Api &api = *blas_;
  lt::cublasLtMatmulDesc_t desc = nullptr;
  lt::cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  lt::cublasLtMatmulPreference_t pref = nullptr;
  auto cleanup = [&] {
    if (pref)
      api.cublasLtMatmulPreferenceDestroy(pref);
    for (lt::cublasLtMatrixLayout_t l : {la, lb, lc})
      if (l)
        api.cublasLtMatrixLayoutDestroy(l);
    if (desc)
      api.cublasLtMatmulDescDestroy(desc);
  };
  int32_t opA = g.transB ? lt::CUBLAS_OP_T : lt::CUBLAS_OP_N;
  int32_t opB = g.transA ? lt::CUBLAS_OP_T : lt::CUBLAS_OP_N;
  // Stored shapes (rows x cols, row-major) of our B and A, read column-major.
  int64_t bRows = g.transB ? g.n : g.k, bCols = g.transB ? g.k : g.n;
  int64_t aRows = g.transA ? g.k : g.m, aCols = g.transA ? g.m : g.k;
  Status s = lt::check(api, api.cublasLtMatmulDescCreate(&desc, lt::CUBLAS_COMPUTE_32F, lt::CUDA_R_32F),
                       "cublasLtMatmulDescCreate");
  if (s)
    s = lt::check(api, api.cublasLtMatmulDescSetAttribute(desc, lt::CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA),
                  "cublasLtMatmulDescSetAttribute(TRANSA)");
  if (s)
    s = lt::check(api, api.cublasLtMatmulDescSetAttribute(desc, lt::CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB),
                  "cublasLtMatmulDescSetAttribute(TRANSB)");
  if (s)
    s = lt::check(api, api.cublasLtMatrixLayoutCreate(&la, cudaDataType(g.abType), uint64_t(bCols), uint64_t(bRows), g.ldb),
                  "cublasLtMatrixLayoutCreate(B)");
  if (s)
    s = lt::check(api, api.cublasLtMatrixLayoutCreate(&lb, cudaDataType(g.abType), uint64_t(aCols), uint64_t(aRows), g.lda),
                  "cublasLtMatrixLayoutCreate(A)");
  if (s)
    s = lt::check(api, api.cublasLtMatrixLayoutCreate(&lc, cudaDataType(g.cType), uint64_t(g.n), uint64_t(g.m), g.ldc),
                  "cublasLtMatrixLayoutCreate(C)");
  if (s)
    s = lt::check(api, api.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  uint64_t wsBytes = blasWorkspaceBytes_;
  if (s)
    s = lt::check(api, api.cublasLtMatmulPreferenceSetAttribute(pref, lt::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof wsBytes),
                  "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
  // The heuristic assumes 256-byte aligned operands unless told: tell it each
  // operand's alignment (the largest power of two dividing its address, <= 256).
  auto alignment = [](DevicePtr p) { return uint32_t(std::min<DevicePtr>(p & (~p + 1), 256)); };
  const std::pair<int, uint32_t> aligns[] = {
      {lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment(g.b)}, // cuBLASLt's A is our B
      {lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment(g.a)},
      {lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment(g.c)},
      {lt::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment(g.c)}};
  for (const auto &[attr, bytes] : aligns)
    if (s)
      s = lt::check(api, api.cublasLtMatmulPreferenceSetAttribute(pref, attr, &bytes, sizeof bytes),
                    "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
  lt::cublasLtMatmulHeuristicResult_t heuristic = {};
  int found = 0;
  if (s)
    s = lt::check(api, api.cublasLtMatmulAlgoGetHeuristic(blasHandle_, desc, la, lb, lc, lc, pref, 1, &heuristic, &found),
                  "cublasLtMatmulAlgoGetHeuristic");
  if (s && found == 0)
    s = Status::error("cublasLt: no algorithm for a " + std::to_string(g.m) + "x" +
                      std::to_string(g.n) + "x" + std::to_string(g.k) + " GEMM with " +
                      gemmTypeName(g.abType) + " inputs and " + gemmTypeName(g.cType) + " output");
  if (s)
    s = lt::check(api, api.cublasLtMatmul(blasHandle_, desc, &g.alpha, reinterpret_cast<const void *>(g.b), la,
                                          reinterpret_cast<const void *>(g.a), lb, &g.beta,
                                          reinterpret_cast<const void *>(g.c), lc, reinterpret_cast<void *>(g.c), lc,
                                          &heuristic.algo, reinterpret_cast<void *>(blasWorkspace_),
                                          blasWorkspaceBytes_, reinterpret_cast<lt::cudaStream_t>(stream_)),
                  "cublasLtMatmul(" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                      std::to_string(g.k) + ")");
  cleanup();
  return s;
}

Status CudaDevice::synchronize() {
  if (Status s = refuseWhileCapturing("synchronize"); !s)
    return s;
  if (Status s = makeCurrent(); !s)
    return s;
  return check(*d_, d_->cuStreamSynchronize(stream_), "cuStreamSynchronize");
}

} // namespace device
} // namespace bmc
