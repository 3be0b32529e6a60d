//===- runtime/device/Nvrtc.h - CUDA C to cubin/PTX at run time ----*- C++ -*-===//
//
// NVRTC loaded with dlopen (no toolkit needed to build): CUDA C source ->
// cubin for one sm_XX and its PTX, the compile log, and what ptxas said about
// each kernel (registers, stack, spills), optionally cached on disk by a hash
// of (NVRTC version, source, options, arch). An entry carries its key and a
// CRC32C of its contents: a corrupt, truncated or mismatching one is compiled
// again and rewritten (cacheNote says so); a cache that cannot be written is a
// note too, never a failure of the compile.
//
// Thread safety: compile() may be called from several threads at once; cache
// entries are written to a temporary file and renamed into place.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_NVRTC_H
#define BMC_RUNTIME_DEVICE_NVRTC_H

#include "bmc/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bmc {
namespace device {

// What ptxas reported for one entry function (its "-v" lines).
struct PtxasInfo {
  std::string function;
  std::string arch;
  int registers = -1;
  int64_t stackFrameBytes = -1, spillStoreBytes = -1, spillLoadBytes = -1;
  int64_t sharedBytes = 0; // static shared memory
};

// Reads ptxas's verbose report; an error names the line it could not place.
Result<std::vector<PtxasInfo>> parsePtxasInfo(const std::string &log);

struct NvrtcRequest {
  std::string source;
  std::string name = "bmc_kernels.cu"; // shown in diagnostics
  std::string arch = "sm_80";          // sm_XX: cubin + PTX; compute_XX: PTX only
  std::vector<std::string> options;    // extra NVRTC options
  std::string cacheDir;                // empty: no cache; created (with its parents) on first use
};

struct NvrtcOutput {
  std::string cubin; // empty for compute_XX
  std::string ptx;
  std::string log;   // NVRTC's log, including ptxas's -v report
  std::vector<PtxasInfo> kernels; // parsed from the log (sm_XX only)
  bool fromCache = false;
  std::string cachePath; // the entry read or written (cacheDir set), else empty
  // Why a cache entry was not used (corrupt, truncated, another key) or could
  // not be written ("not cached: ..."), else empty; several joined by "; ".
  std::string cacheNote;
};

class Nvrtc {
public:
  // Opens libnvrtc once per process. Searched: $BMC_CUDA_ROOT/lib64,
  // the toolkit found at configure time, $CUDA_HOME/lib64, /usr/local/cuda/lib64,
  // then the loader's path. The error, when none is found, starts with "no libnvrtc".
  static Result<const Nvrtc *> load();

  Result<NvrtcOutput> compile(const NvrtcRequest &request) const;

  const std::string &libraryPath() const { return path_; }
  // How many programs NVRTC has compiled in this process (cache hits not
  // counted): how tests see that a cache hit did not call it.
  static uint64_t compilations();
  int versionMajor() const { return major_; }
  int versionMinor() const { return minor_; }

  struct Api; // the resolved entry points (Nvrtc.cpp)
  Nvrtc(const Api *api, std::string path) : api_(api), path_(std::move(path)) {}

private:
  Result<NvrtcOutput> compileUncached(const NvrtcRequest &request) const;
  const Api *api_ = nullptr;
  std::string path_;
  int major_ = 0, minor_ = 0;
};

// The cache key: 32 hex digits of a hash of everything that changes the output.
std::string nvrtcCacheKey(int major, int minor, const NvrtcRequest &request);

} // namespace device
} // namespace bmc

#endif
