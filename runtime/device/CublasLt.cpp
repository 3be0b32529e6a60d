//===- runtime/device/CublasLt.cpp - cuBLASLt loaded at run time ----------===//

#include "runtime/device/CublasLt.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace bmc {
namespace device {
namespace lt {

namespace {

#ifndef BMC_CUDA_LIBRARY_DIR
#define BMC_CUDA_LIBRARY_DIR ""
#endif

std::vector<std::string> candidatePaths() {
  std::vector<std::string> dirs;
  if (const char *root = std::getenv("BMC_CUDA_ROOT"))
    dirs.push_back(std::string(root) + "/lib64");
  if (BMC_CUDA_LIBRARY_DIR[0])
    dirs.push_back(BMC_CUDA_LIBRARY_DIR);
  if (const char *home = std::getenv("CUDA_HOME"))
    dirs.push_back(std::string(home) + "/lib64");
  dirs.push_back("/usr/local/cuda/lib64");
  dirs.push_back(""); // the loader's own search path
  std::vector<std::string> paths;
  for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12"})
    for (const std::string &dir : dirs)
      paths.push_back(dir.empty() ? name : dir + "/" + name);
  return paths;
}

template <typename Fn> void bind(void *lib, Fn &slot, const char *symbol, std::string &missing) {
  slot = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (!slot && missing.empty())
    missing = symbol;
}

Result<const CublasLt *> loadOnce() {
  std::string tried;
  for (const std::string &path : candidatePaths()) {
    void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
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
  return Status::error(std::string(kNoCublasLt) + " (tried " + tried +
                       "; install cuBLAS, or set BMC_CUDA_ROOT)");
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
