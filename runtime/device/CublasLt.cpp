//===- runtime/device/CublasLt.cpp - cuBLASLt loaded at run time ----------===//

#include "runtime/device/CublasLt.h"
#include "runtime/device/DynamicLibrary.h"

#include <dlfcn.h>

#include <vector>

namespace bmc {
namespace device {
namespace lt {

namespace {

// Each name in every folder of the search before the next name: a .so.13
// anywhere wins over a .so.12.
std::vector<std::string> candidatePaths() {
  std::vector<std::string> paths;
  for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12"})
    for (const std::string &dir : cudaLibraryDirs())
      paths.push_back(libraryPathIn(dir, name));
  return paths;
}

Result<const CublasLt *> loadOnce() {
  auto opened = openFirst(candidatePaths());
  if (!opened)
    return Status::error(std::string(kNoCublasLt) + " (" + opened.status().message() +
                         "; install cuBLAS, or set BMC_CUDA_ROOT)");
  void *lib = opened->handle;
  const std::string &path = opened->path;
  static Api api;
  std::string missing;
  bindSymbol(lib, api.cublasLtGetVersion, "cublasLtGetVersion", missing);
  bindSymbol(lib, api.cublasLtGetStatusName, "cublasLtGetStatusName", missing);
  bindSymbol(lib, api.cublasLtCreate, "cublasLtCreate", missing);
  bindSymbol(lib, api.cublasLtDestroy, "cublasLtDestroy", missing);
  bindSymbol(lib, api.cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate", missing);
  bindSymbol(lib, api.cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy", missing);
  bindSymbol(lib, api.cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", missing);
  bindSymbol(lib, api.cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", missing);
  bindSymbol(lib, api.cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", missing);
  bindSymbol(lib, api.cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", missing);
  bindSymbol(lib, api.cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", missing);
  bindSymbol(lib, api.cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute",
       missing);
  bindSymbol(lib, api.cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", missing);
  bindSymbol(lib, api.cublasLtMatmul, "cublasLtMatmul", missing);
  if (!missing.empty()) {
    dlclose(lib);
    return Status::error(path + " lacks " + missing);
  }
  static CublasLt lt{&api, path};
  return static_cast<const CublasLt *>(&lt);
}

} // namespace

Result<const CublasLt *> loadCublasLt() {
  // The library stays open for the process: handles outlive callers.
  static Result<const CublasLt *> loaded = loadOnce();
  return loaded;
}

Status check(const Api &api, cublasStatus_t r, const std::string &call) {
  if (r == CUBLAS_STATUS_SUCCESS)
    return Status();
  const char *name = api.cublasLtGetStatusName ? api.cublasLtGetStatusName(r) : nullptr;
  return Status::error("cublasLt: " + call + ": " +
                       (name ? std::string(name) : "cublasStatus_t " + std::to_string(r)));
}

} // namespace lt
} // namespace device
} // namespace bmc
