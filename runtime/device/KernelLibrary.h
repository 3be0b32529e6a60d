//===- runtime/device/KernelLibrary.h - the CUDA C kernel library --*- C++ -*-===//
//
// The hand-written CUDA C kernels of runtime/device/cuda/, embedded as strings
// at build time and grouped in families (one NVRTC program each), and
// CudaKernels: a family set compiled by NVRTC for one device, loaded on it, with
// launchers that pick grid and block sizes and check arguments.
//
// Status: these kernels are compiled and checked by NVRTC/ptxas in the tests
// (tests/unit/device); they have not yet run on a GPU in this project's CI, and
// no model runs on them yet.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_KERNELLIBRARY_H
#define BMC_RUNTIME_DEVICE_KERNELLIBRARY_H

#include "runtime/device/Device.h"
#include "runtime/device/Nvrtc.h"
#include "runtime/device/cuda/decode_attention_params.h"

#include <map>
#include <string>
#include <vector>

namespace bmc {
namespace device {

struct CudaKernelFamily {
  std::string name;                 // e.g. "gemv"
  std::vector<std::string> kernels; // its extern "C" entry points
  std::string source;               // complete: common.cuh + params + the family's file
};
const std::vector<CudaKernelFamily> &cudaKernelFamilies();

// CUDA C the compiler's CUDA emitter wrote (bmc-opt --bmc-emit-cuda), with the
// device functions it calls in front: decode_attention_params.h, common.cuh,
// kv_append.cuh, decode_attention.cuh, gemv.cuh, matmul.cuh, norm.cuh, elementwise.cuh and data.cuh
// (gemv.cuh, norm.cuh, elementwise.cuh and the attention file without their library entry
// points: BMC_NO_LIBRARY_KERNELS),
// ready for NVRTC.
std::string cudaEmittedKernelSource(const std::string &emitted);

// Spill bytes (stores + loads) a kernel may have per ptxas; the tests fail above it.
constexpr int64_t kCudaSpillBudgetBytes = 0;

enum class ElementType { F32, F16, BF16 }; // weights (GEMV) and KV rows (attention)
const char *elementTypeName(ElementType t);

class CudaKernels {
public:
  // Compiles every family for `arch` (sm_XX; empty: the device's own) and loads it.
  static Result<std::unique_ptr<CudaKernels>> create(Device &device, std::string arch = "",
                                                     std::string cacheDir = "");
  // The kernels of modules already loaded on `device`, modules[i] holding the
  // kernels of cudaKernelFamilies()[i] (cubins; the tests' host emulation loads
  // host tables built from the same sources on the CPU device).
  static Result<std::unique_ptr<CudaKernels>> fromModules(Device &device,
                                                          const std::vector<ModuleHandle> &modules);

  // y[n] = W[n, :k] . x (W rows ldw elements apart). splits > 1 cuts K into
  // that many ranges (split-K), which needs `workspace` of splits * n floats.
  Status gemv(ElementType w, DevicePtr weights, int64_t ldw, DevicePtr x, DevicePtr y, int n, int k,
              int splits = 1, DevicePtr workspace = 0);
  // A split count for a short and wide matrix: enough blocks to fill the device.
  int gemvSplits(int n, int k) const;

  Status rmsNorm(DevicePtr x, int64_t ldx, DevicePtr gamma, DevicePtr out, int64_t ldo, int rows,
                 int n, float eps);
  Status layerNorm(DevicePtr x, int64_t ldx, DevicePtr gamma, DevicePtr beta, DevicePtr out,
                   int64_t ldo, int rows, int n, float eps);
  Status rope(bool interleaved, DevicePtr x, int64_t tokenStride, int64_t headStride, int tokens,
              int heads, int headDim, int rotDim, DevicePtr positions, DevicePtr cosTable,
              DevicePtr sinTable, int maxPos, DevicePtr badPosition);
  Status siluMul(DevicePtr a, DevicePtr b, DevicePtr out, int64_t n);
  Status add(DevicePtr a, DevicePtr b, DevicePtr out, int64_t n);

  // Fills p.rows_per_split / p.splits when 0, checks the sizes, runs the split
  // and combine kernels. p.partial_* must hold batch * max(seq, 1) * heads * splits (* head_dim)
  // floats (seq > 1 and a mask: bmck.attention's prefill form, decode_attention_params.h).
  Status decodeAttention(ElementType kv, bmc_decode_attention_params &p);
  // The split plan decodeAttention() uses for these sizes.
  static void planDecodeAttention(bmc_decode_attention_params &p, int multiprocessors);

  const std::string &arch() const { return arch_; }

private:
  CudaKernels(Device &device) : device_(device) {}
  Result<KernelHandle> kernel(const std::string &name) const;

  Device &device_;
  std::string arch_;
  std::map<std::string, KernelHandle> kernels_;
};

} // namespace device
} // namespace bmc

#endif
