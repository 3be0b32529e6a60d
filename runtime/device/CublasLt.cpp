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

template <typename Fn> void bind(void *lib, Fn &slot, const char *symbol, std::string &missing) {
  slot = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (!slot && missing.empty())
    missing = symbol;
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
  bind(lib, api.cublasLtGetVersion, "cublasLtGetVersion", missing);
  bind(lib, api.cublasLtGetStatusName, "cublasLtGetStatusName", missing);
  bind(lib, api.cublasLtCreate, "cublasLtCreate", missing);
  bind(lib, api.cublasLtDestroy, "cublasLtDestroy", missing);
  bind(lib, api.cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate", missing);
  bind(lib, api.cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy", missing);
  bind(lib, api.cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", missing);
  bind(lib, api.cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", missing);
  bind(lib, api.cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", missing);
  bind(lib, api.cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", missing);
  bind(lib, api.cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", missing);
  bind(lib, api.cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute",
       missing);
  bind(lib, api.cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", missing);
  bind(lib, api.cublasLtMatmul, "cublasLtMatmul", missing);
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
