//===- runtime/device/Device.h - the device interface -------------*- C++ -*-===//
//
// A small device layer (IREE's HAL is the model, much reduced): memory,
// copies, modules of kernels, launches, synchronisation, graphs of launches,
// GEMMs. The CPU device and the CUDA device implement it; the code above never
// looks through it.
//
// Thread safety: a Device may be used from several threads for allocation and
// copies (its tables are locked), but launches, GEMMs, graph capture/replay
// and synchronise() are ordered on one stream, so one session should own a
// device's launches at a time (a CUDA capture is thread-local: the thread
// that began it launches into it).
// Modules, kernels and growable buffers must not outlive their device.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICE_H
#define BMC_RUNTIME_DEVICE_DEVICE_H

#include "bmc/status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace bmc {
namespace device {

// An address in the device's memory (for the CPU device, a host address).
using DevicePtr = uint64_t;

struct DeviceProperties {
  std::string name;          // "cpu", or the GPU's name as its driver reports it
  std::string kind;          // "cpu" or "cuda"
  std::string driver;        // "CUDA driver 12040" (cuDriverGetVersion); "" on the CPU
  int computeMajor = 0;      // CUDA compute capability (0 on the CPU)
  int computeMinor = 0;
  int multiprocessors = 0;   // SMs, or hardware threads on the CPU
  uint64_t totalMemory = 0;  // bytes
  // The last cache before memory (CUDA: L2; CPU: the last level sysconf
  // reports), bytes; 0 when unknown. A bandwidth measurement copies buffers
  // larger than this, so that it reads memory, not the cache.
  uint64_t lastCacheBytes = 0;
  bool growableBuffers = false; // reserveGrowable() is supported
};

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

struct LaunchConfig {
  Dim3 grid, block;
  uint32_t sharedBytes = 0; // dynamic shared memory per block
};

// What the CPU device runs for one block of a launch: `args` follows CUDA's
// convention (args[i] points to the i-th argument's value).
struct HostLaunch {
  Dim3 grid, block, blockIdx;
};
using HostKernelFn = void (*)(const HostLaunch &launch, void **args);
// argSizes/argCount (optional) give the byte size of each argument, so that a
// graph capture can keep the argument VALUES, as CUDA copies a kernel's
// parameters when it captures a launch; a kernel without them runs directly
// but cannot be captured. hostKernel<Args...>(name, fn) fills them in.
struct HostKernel {
  const char *name;
  HostKernelFn fn;
  const uint32_t *argSizes = nullptr;
  uint32_t argCount = 0;
};
template <typename... Args> struct HostKernelArgs {
  static constexpr uint32_t sizes[sizeof...(Args) + 1] = {uint32_t(sizeof(Args))..., 0};
};
template <typename... Args> constexpr HostKernel hostKernel(const char *name, HostKernelFn fn) {
  return HostKernel{name, fn, HostKernelArgs<Args...>::sizes, uint32_t(sizeof...(Args))};
}

enum class ModuleFormat {
  Cubin,     // a CUDA ELF image for one SM architecture
  Ptx,       // PTX text (JIT-compiled by the driver for the device at hand)
  HostTable, // a table of host functions (the CPU device)
};
const char *moduleFormatName(ModuleFormat f);

struct ModuleImage {
  ModuleFormat format = ModuleFormat::Cubin;
  std::string bytes;                      // Cubin / Ptx
  const HostKernel *hostKernels = nullptr; // HostTable
  size_t hostKernelCount = 0;
};

// Opaque handles; valid until the device is destroyed (or the module unloaded).
struct ModuleHandle {
  uint32_t id = 0;
};
struct KernelHandle {
  uint32_t module = 0;
  uint32_t index = 0;
};
// A captured launch sequence (a CUDA graph); ids are never reused, so a
// destroyed graph is recognised as such.
struct GraphHandle {
  uint32_t id = 0;
};

// C = alpha * op(A) op(B) + beta * C, row-major: op(A) is m x k, op(B) k x n,
// C m x n. A is stored m x k (lda >= k), or k x m when transA (lda >= m); B is
// k x n (ldb >= n), or n x k when transB (ldb >= k); ldc >= n. Leading
// dimensions are in elements. A and B share one type; C is F32 or A's type.
// Products are accumulated in fp32; a 16-bit C is rounded to nearest even.
enum class GemmType { F32, F16, BF16 };
const char *gemmTypeName(GemmType t);
struct GemmDesc {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
  GemmType abType = GemmType::F32, cType = GemmType::F32;
  DevicePtr a = 0, b = 0, c = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
};
// The checks every device makes before a GEMM (sizes, leading dimensions,
// types, null pointers): one line naming the field, or success.
Status checkGemm(const GemmDesc &g, const char *who);

// The checks every device makes before copy2DToHost (pitches against the
// width): one line naming the values, or success.
Status checkCopy2D(size_t dstPitch, size_t srcPitch, size_t widthBytes, const char *who);

// A buffer whose base address stays fixed while it grows inside a reserved
// address range: the device analogue of the CPU's reserved-range KV regrowth.
// grow() maps more memory after what is there; nothing is copied.
class GrowableBuffer {
public:
  virtual ~GrowableBuffer() = default;
  virtual DevicePtr base() const = 0;
  virtual size_t committedBytes() const = 0; // usable bytes from base()
  virtual size_t reservedBytes() const = 0;  // the most grow() can reach
  virtual size_t granularity() const = 0;    // commits are rounded up to this
  // Makes at least `bytes` usable; an error (nothing changed) past the reservation.
  virtual Status grow(size_t bytes) = 0;
};

class Device {
public:
  virtual ~Device() = default;
  virtual const DeviceProperties &properties() const = 0;

  virtual Result<DevicePtr> allocate(size_t bytes) = 0;
  virtual Status free(DevicePtr p) = 0;
  // Copies complete before they return (host memory may be reused at once).
  // copyOnDevice's ranges must not overlap (cuMemcpy's are undefined when they
  // do): both devices refuse an overlap.
  virtual Status copyToDevice(DevicePtr dst, const void *src, size_t bytes) = 0;
  virtual Status copyToHost(void *dst, DevicePtr src, size_t bytes) = 0;
  virtual Status copyOnDevice(DevicePtr dst, DevicePtr src, size_t bytes) = 0;
  // A strided copy (cuMemcpy2D): `height` rows of `widthBytes`, each
  // `srcPitch` bytes after the last on the device, to `dstPitch` bytes apart
  // at dst; one call for the rows of a strided view (a batch's last-position
  // logits) instead of one copy a row. Both pitches must be at least
  // widthBytes (checkCopy2D); the source span is (height - 1) * srcPitch +
  // widthBytes bytes. Completes before it returns, as the copies above.
  virtual Status copy2DToHost(void *dst, size_t dstPitch, DevicePtr src, size_t srcPitch, size_t widthBytes,
                              size_t height) = 0;

  virtual Result<ModuleHandle> loadModule(const ModuleImage &image) = 0;
  virtual Result<KernelHandle> findKernel(ModuleHandle module, const std::string &name) = 0;
  // Enqueues a launch; errors in the kernel itself may surface at synchronize().
  virtual Status launch(KernelHandle kernel, const LaunchConfig &config, void **args) = 0;
  virtual Status synchronize() = 0;

  // Reserves `maxBytes` of address space with nothing usable yet (grow() commits).
  virtual Result<std::unique_ptr<GrowableBuffer>> reserveGrowable(size_t maxBytes) = 0;

  // Graphs (CUDA graphs; the CPU device records and replays the same way).
  // Between beginCapture() and endCapture() launches (and GEMMs) are recorded,
  // not run, with their argument values as they are at the launch; copies and
  // synchronize() are refused. replay() runs the recorded launches in order,
  // enqueued like a launch. updateLaunch() changes the grid/block/shared
  // memory and argument values of the launch-th recorded launch() (0-based,
  // in capture order, GEMMs not counted; the kernel stays) for later replays.
  // Errors: a capture already open, endCapture() without one, replay/update
  // while capturing, an unknown or destroyed graph, a launch index past the
  // graph's launches.
  virtual Status beginCapture() = 0;
  virtual Result<GraphHandle> endCapture() = 0;
  virtual Result<size_t> graphLaunchCount(GraphHandle graph) = 0;
  virtual Status replay(GraphHandle graph) = 0;
  virtual Status updateLaunch(GraphHandle graph, size_t launch, const LaunchConfig &config,
                              void **args) = 0;
  virtual Status destroyGraph(GraphHandle graph) = 0;

  // Enqueues C = alpha * op(A) op(B) + beta * C (GemmDesc). The CPU device runs
  // a plain fp32-accumulating loop; the CUDA device calls cuBLASLt, found at
  // run time (an error naming the library when it is missing: no fallback).
  virtual Status gemm(const GemmDesc &desc) = 0;
  // Makes gemm() ready without running one (CUDA: opens cuBLASLt and
  // allocates its workspace, which a first GEMM inside a capture cannot): an
  // error naming the library when there is none. Call it outside a capture.
  virtual Status openGemm() = 0;
};

} // namespace device
} // namespace bmc

#endif
