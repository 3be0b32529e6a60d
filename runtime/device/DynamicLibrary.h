//===- runtime/device/DynamicLibrary.h - the dlopen search -------*- C++ -*-===//
//
// The search the CUDA libraries loaded at run time share (NVRTC, cuBLASLt;
// libcuda, opened by its one name, shares bindSymbol):
// the toolkit's library folders in order, and the first candidate path that
// dlopen opens. Each library keeps its own candidate names and order, the
// entry points it resolves and its own error text around what was tried.
//
// Thread safety: both functions may be called from several threads at once
// (dlopen is); they keep no state.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DYNAMICLIBRARY_H
#define BMC_RUNTIME_DEVICE_DYNAMICLIBRARY_H

#include "bmc/status.h"

#include <dlfcn.h>

#include <string>
#include <vector>

namespace bmc {
namespace device {

// Where the CUDA libraries are searched, in order: $BMC_CUDA_ROOT/lib64, the
// toolkit found at configure time, $CUDA_HOME/lib64, /usr/local/cuda/lib64,
// then "" (the loader's own search path: the bare file name).
std::vector<std::string> cudaLibraryDirs();

// `name` in `dir` ("" : the bare name, for the loader's path).
std::string libraryPathIn(const std::string &dir, const std::string &name);

struct OpenedLibrary {
  void *handle = nullptr; // from dlopen(RTLD_NOW | RTLD_LOCAL); the caller owns it
  std::string path;       // the candidate that opened
};

// The first of `candidates` that dlopen opens, or an error listing every
// path tried, in order: "tried a, b, c" (the caller words the rest).
Result<OpenedLibrary> openFirst(const std::vector<std::string> &candidates);

// Looks `symbol` up in `lib` into `slot`; the first symbol not found is kept
// in `missing` (so one error can name it after every entry point is tried).
template <typename Fn> void bindSymbol(void *lib, Fn &slot, const char *symbol, std::string &missing) {
  slot = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (!slot && missing.empty())
    missing = symbol;
}

} // namespace device
} // namespace bmc

#endif
