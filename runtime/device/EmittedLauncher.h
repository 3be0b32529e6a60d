//===- runtime/device/EmittedLauncher.h - launching emitted kernels -*- C++ -*-===//
//
// The host side of the CUDA emitter's kernels (compiler/targets/cuda): the
// emitter writes, in front of each configuration's kernels, one line
// `// bmc-launch: {json}` (docs/DESIGN.md, "CUDA emitter": the parameters in
// order, the checks with their error text, the split plan, the scratch
// buffers, each kernel's grid and block as sums of products of run-time
// sizes). EmittedLauncher reads those lines from the emitted source, finds
// the kernels in a module already loaded on a Device and, per launch, makes
// every check (nothing is launched when one fails: the error is its one
// line), plans (attention's splits; a product's GEMV with split-K or tiled
// kernel, from the run-time rows; an elementwise group's blocks), sizes its scratch and launches through
// Device::launch: the same code for the CPU device running the host
// emulation (tests/unit/device) and for a GPU (CudaDevice).
//
// Many rows of a product (past the GEMV's range, or any rows without one) run
// through the device's GEMM (Device::gemm: cuBLASLt on CUDA, the plain loop
// on the CPU device) where the bmc-launch plan says "device_gemm" and the
// run-time views map onto GemmDesc (rows or columns contiguous, batches a
// loop of GEMMs or folded into rows); else through the emitted tiled kernel,
// the reference path, with a notice naming why (EmittedLauncherOptions).
// runStep() captures a sequence of launches as a device graph and, for the
// next step, updates its launches in place or re-captures it.
//
// Sessions on a device model use it (runtime/DeviceModel.h). Views carry no
// buffer length, so a view reaching past its allocation is not caught here
// (the CPU device checks copies, not kernel reads).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_EMITTEDLAUNCHER_H
#define BMC_RUNTIME_DEVICE_EMITTEDLAUNCHER_H

#include "runtime/device/Device.h"
#include "runtime/device/cuda/decode_attention_params.h" // bmc_view4, bmc_kv_buffer

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bmc {
namespace device {

// One argument of an emitted kernel, by the parameter's name.
struct LaunchValue {
  enum class Kind { View, KVBuffer, Int, Weight };
  Kind kind = Kind::Int;
  bmc_view4 view = {};
  bmc_kv_buffer kv = {};
  int64_t value = 0;
  const void *weight = nullptr; // a weight in the device layout (cudaMatMulWeight)
  static LaunchValue of(const bmc_view4 &v) {
    LaunchValue a;
    a.kind = Kind::View, a.view = v;
    return a;
  }
  static LaunchValue of(const bmc_kv_buffer &k) {
    LaunchValue a;
    a.kind = Kind::KVBuffer, a.kv = k;
    return a;
  }
  static LaunchValue integer(int64_t v) {
    LaunchValue a;
    a.kind = Kind::Int, a.value = v;
    return a;
  }
  static LaunchValue ofWeight(const void *w) {
    LaunchValue a;
    a.kind = Kind::Weight, a.weight = w;
    return a;
  }
};
// Parameters the description marks "arg" must all be given; a "plan"
// parameter (attention's rows_per_split, a product's splits) may be given to
// override the plan (checked).
using LaunchArgs = std::map<std::string, LaunchValue>;

struct EmittedLaunchDesc; // parsed bmc-launch line (EmittedLauncher.cpp)

// An index out of range a kernel recorded (data.cuh): the index after ONNX's
// wrap, the size of the dimension, and the launch's "fault_site" (-1: none given).
struct LaunchFault {
  int64_t index = 0, size = 0, site = -1;
};

// What a launch did (for tests and logs).
struct LaunchRecord {
  std::vector<std::string> kernels;
  std::vector<LaunchConfig> configs;
  int64_t rowsPerSplit = 0, splits = 0;
  int64_t kChunk = 0; // a product's GEMV: K elements per split (0: the tiled path ran)
  // A product's path: "gemv", "device_gemm" (`gemms` Device::gemm calls, no
  // kernels) or "tiled" (`tiledWhy`: why not the device GEMM); empty otherwise.
  std::string path, tiledWhy;
  int64_t gemms = 0;
};

// Which path many rows of a product take (see the file comment).
enum class PrefillPath {
  Default,    // $BMC_DEVICE_PREFILL ("gemm" or "tiled"), else DeviceGemm
  DeviceGemm, // Device::gemm where the plan and the views allow, else tiled with a notice
  Tiled,      // always the emitted tiled kernel (the reference path)
};
struct EmittedLauncherOptions {
  PrefillPath prefill = PrefillPath::Default;
  // Receives each distinct notice once (a product taking the tiled kernel
  // although the device GEMM was asked, and why); null: printed to stderr.
  std::function<void(const std::string &)> notice;
};

// One launch of a step (runStep).
struct StepCall {
  std::string op;
  int config = 0;
  LaunchArgs args;
};
// A step's graph: the launches and GEMMs it recorded, in order, with the
// values they were captured or last updated with.
struct EmittedStepGraph {
  GraphHandle graph;
  bool valid = false;
  struct Node {
    bool gemm = false;
    KernelHandle kernel;
    std::string name; // the kernel's
    LaunchConfig config;
    std::string args; // the argument bytes, for comparison
    GemmDesc desc;
  };
  std::vector<Node> nodes;
};
struct StepReport {
  bool captured = false;  // (re-)captured: the first step, or the sequence changed (`why`)
  std::string why;
  size_t launches = 0;    // kernel launches in the graph
  size_t gemms = 0;       // Device::gemm calls in the graph
  size_t updated = 0;     // launches given new values by updateLaunch (0 when captured)
  std::vector<LaunchRecord> records; // per call
};

// The weight a product configuration reads (its bmc-launch line's "weight"):
// on the device [n, k] row-major of `storage`; each op's weight by name, its
// own element type and whether the device copy is its transpose (an ONNX
// MatMul weight [K, N]) or itself (a Gemm's with trans_b, or one behind a
// Transpose). cudaMatMulWeight (CudaWeights.h) makes the copy.
struct EmittedWeight {
  struct Source {
    std::string name, type; // "f32", "f16", "bf16"
    bool transpose = false;
  };
  std::string storage; // "f32", "f16", "bf16"
  int64_t n = 0, k = 0;
  std::vector<Source> sources;
};

// Thread safety: none of its own; it owns scratch buffers and launches on
// the device's one stream, so one session uses a launcher at a time (as
// Device says of launches).
class EmittedLauncher {
public:
  // Parses every bmc-launch line of `emittedSource` (the emitter's output,
  // with or without cudaEmittedKernelSource's prefix) and finds its kernels
  // in `module`. Errors name the line and what is wrong.
  // With PrefillPath::DeviceGemm (resolved from Default) and a product that
  // may take it, the device's GEMM is opened here (Device::openGemm): a
  // missing cuBLASLt is this one-line error, naming BMC_DEVICE_PREFILL=tiled.
  static Result<std::unique_ptr<EmittedLauncher>> create(Device &device, ModuleHandle module,
                                                         const std::string &emittedSource,
                                                         EmittedLauncherOptions options = {});
  ~EmittedLauncher();

  // Parses the bmc-launch lines only (no device): the kernels they launch, in
  // order, or the first line's error (tests/unit/device/cuda_emitted_check).
  static Result<std::vector<std::string>> kernelNames(const std::string &emittedSource);

  // The number of configurations of an op ("bmck.kv_append", "bmck.attention",
  // "bmck.matmul", "bmck.gemm", "bmck.norm", "bmck.softmax", "bmck.elementwise",
  // "bmck.reduce").
  int configurations(const std::string &op) const;

  // The weight configuration `config` of `op` reads, or null (none, or no such
  // configuration).
  const EmittedWeight *weight(const std::string &op, int config) const;

  // Checks, plans and launches configuration `config` of `op`. A failed check
  // returns its one-line error and launches nothing.
  Status launch(const std::string &op, int config, const LaunchArgs &args, LaunchRecord *record = nullptr);

  // What launch() checks, without launching or allocating: the arguments,
  // the bmc-launch line's checks, the plan and the grids (the same code as
  // launch()). Ok: launch() with these arguments refuses nothing but a
  // scratch allocation or the device's own error. A caller with several
  // launches checks them all first (DeviceProgram::run), so that a bad one
  // fails before any has run.
  Status check(const std::string &op, int config, const LaunchArgs &args);

  // Runs `calls` (a decode step, say) as the graph `step`: the first time,
  // captured; after that, when the step plans to the same sequence of
  // kernels and GEMMs (same kernels in the same order, zero grids skipped
  // alike, equal GEMMs), each launch whose grid or arguments differ is
  // updated in place (updateLaunch: a new valid length, new splits, new
  // pointers), else the graph is destroyed and re-captured (a path switch,
  // a launch appearing or vanishing, a GEMM of other sizes: GEMMs cannot be
  // updated). Then the graph is replayed. Every call is checked and planned
  // before anything is captured or replayed (scratch grows outside the
  // capture); a failed check leaves the graph as it was.
  Result<StepReport> runStep(EmittedStepGraph &step, const std::vector<StepCall> &calls);

  // Whether configuration `config` of `op` records an index out of range in
  // the launcher's fault word (bmck.gather, bmc.gather_nd: data.cuh). Its
  // optional argument "fault_site" (an integer, -1 when not given) is
  // recorded with the fault, so the caller can say which launch it was.
  bool reportsFaults(const std::string &op, int config) const;
  // After a synchronize: true when a kernel recorded an index out of range
  // since the last call (the first one recorded, in `fault`), and the word is
  // cleared; false when none did. One copy of 32 bytes to the host (none
  // before the first launch that reports faults); the word's address stays
  // fixed, so captured graphs keep recording into it.
  Result<bool> takeFault(LaunchFault &fault);

  // The path many product rows take, as resolved by create().
  PrefillPath prefill() const { return prefill_; }
  // Launches per product path ("gemv", "device_gemm", "tiled") so far.
  const std::map<std::string, int64_t> &pathCounts() const { return pathCounts_; }
  // The distinct notices given so far.
  const std::vector<std::string> &notices() const { return notices_; }

private:
  struct Prepared; // a launch checked and planned, not enqueued (EmittedLauncher.cpp)
  explicit EmittedLauncher(Device &device);
  Status scratch(const std::string &name, int64_t floats, DevicePtr &out);
  // checkOnly: stops after the grids (no scratch, no argument slots, no notice).
  Status prepare(const std::string &op, int config, const LaunchArgs &args, Prepared &out, bool checkOnly = false);
  Status enqueue(const Prepared &p);
  void notice(const std::string &text);

  Device &device_;
  PrefillPath prefill_ = PrefillPath::DeviceGemm;
  std::function<void(const std::string &)> noticeFn_;
  std::map<std::string, int64_t> pathCounts_;
  std::vector<std::string> notices_;
  uint64_t scratchGeneration_ = 0; // bumped when a scratch buffer moves
  std::vector<std::unique_ptr<EmittedLaunchDesc>> descs_;
  struct Scratch {
    DevicePtr ptr = 0;
    size_t bytes = 0;
  };
  std::map<std::string, Scratch> scratch_;
  static constexpr int kFaultWords = 4; // [flag, index, size, site] (data.cuh)
  DevicePtr faultWord_ = 0;             // allocated by the first launch that reports faults
};

// The split plan of the flash-decoding attention kernels (rows of K/V per
// block, and blocks along K/V): enough blocks for two waves over the
// device's multiprocessors, rows a multiple of 32 in [32, maxRowsPerSplit].
// CudaKernels::planDecodeAttention and EmittedLauncher both use it.
void planAttentionSplits(int64_t blocks, int64_t kvRows, int64_t maxRowsPerSplit, int multiprocessors,
                         int64_t &rowsPerSplit, int64_t &splits);

// Split-K of a product's GEMV (rows x n outputs, reduction k): one split while
// the row blocks fill two waves of the device's multiprocessors or k < 2048,
// else enough to fill them, each split keeping >= 1024 elements of K
// (CudaKernels::gemvSplits' rule).
int64_t planMatMulSplits(int64_t rows, int64_t n, int64_t k, int64_t rowsPerBlock, int multiprocessors);

} // namespace device
} // namespace bmc

#endif
