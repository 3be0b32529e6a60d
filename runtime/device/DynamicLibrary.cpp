//===- runtime/device/DynamicLibrary.cpp - the dlopen search --------------===//

#include "runtime/device/DynamicLibrary.h"

#include <dlfcn.h>

#include <cstdlib>

namespace bmc {
namespace device {

#ifndef BMC_CUDA_LIBRARY_DIR
#define BMC_CUDA_LIBRARY_DIR ""
#endif

std::vector<std::string> cudaLibraryDirs() {
  std::vector<std::string> dirs;
  if (const char *root = std::getenv("BMC_CUDA_ROOT"))
    dirs.push_back(std::string(root) + "/lib64");
  if (BMC_CUDA_LIBRARY_DIR[0])
    dirs.push_back(BMC_CUDA_LIBRARY_DIR);
  if (const char *home = std::getenv("CUDA_HOME"))
    dirs.push_back(std::string(home) + "/lib64");
  dirs.push_back("/usr/local/cuda/lib64");
  dirs.push_back(""); // the loader's own search path
  return dirs;
}

std::string libraryPathIn(const std::string &dir, const std::string &name) {
  return dir.empty() ? name : dir + "/" + name;
}

Result<OpenedLibrary> openFirst(const std::vector<std::string> &candidates) {
  std::string tried;
  for (const std::string &path : candidates) {
    if (void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))
      return OpenedLibrary{handle, path};
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return Status::error("tried " + tried);
}

} // namespace device
} // namespace bmc
