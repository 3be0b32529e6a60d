//===- runtime/device/DeviceProgram.h - a whole function on a device -*- C++ -*-===//
//
// The host side of the CUDA emitter's programs (compiler/targets/cuda/
// EmitCudaProgram.h; docs/DESIGN.md, "CUDA programs"): a whole-model emit
// writes, per function, one line `// bmc-program: {json}` (inputs and
// outputs by name, weights and constants, host scalars, views, the launches
// in order with each kernel parameter bound to a value, and the memory plan:
// each kernel result's arena slot and sizes as expressions of run-time
// dims). DeviceProgram reads it, uploads the weights (a product's in the
// device layout its bmc-launch line describes, cudaMatMulWeight) and
// constants once, and per run binds the inputs (tensors copied to the
// device, KV caches as bmc_kv_buffer), sizes the arena from the run's dims
// (grown, never shrunk), evaluates the host scalars (a range's length
// among them), shape vectors and view ops (a slice's, split's, squeeze's,
// unsqueeze's or expand's offset, sizes and strides: DeviceProgramView.cpp),
// uploads the shape vectors kernels read (one small buffer per program),
// checks a gather's indices where they are a host-fed input (its step's
// index_bound: each in [-size, size)), checks every launch
// (EmittedLauncher::check) and only then launches them
// in order, so a refused run has launched nothing; then copies the outputs
// back (whole, or the part ProgramInputs::copyBack asks). Nothing here knows
// an op family: a launch is (op, configuration, parameters by name).
//
// Errors are one line naming the function and what is wrong (an input, a
// weight, or the step and its op, configuration and source location). A
// view is a bmc_view4: an input, plain weight or constant of rank over 4 is
// refused (inputs by run(), the others by create()).
// Thread safety: none of its own; one run at a time (the device's stream).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICEPROGRAM_H
#define BMC_RUNTIME_DEVICE_DEVICEPROGRAM_H

#include "runtime/device/Device.h"
#include "runtime/device/EmittedLauncher.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bmc {
namespace device {

// A host tensor: element type "f32", "f16", "bf16", "i32", "i64" or "i1"
// (a byte each, 0 or 1), dims, row-major bytes.
struct HostTensor {
  std::string type = "f32";
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

// A tensor in device memory (contiguous, row-major); who owns it says so.
struct DeviceTensor {
  DevicePtr data = 0;
  std::string type = "f32";
  std::vector<int64_t> dims;
};

// How much of an output run() copies back to the host.
enum class CopyBack {
  Whole,
  // Only the last index of axis 1 (dims [d0, 1, d2, ...]; an empty axis 1
  // stays empty), one copy per index of axis 0: a [batch, seq, vocab]
  // logits' last position of each row, vocab elements a row instead of
  // seq * vocab (a long prefill's time to first token).
  LastOfAxis1,
};

struct ProgramInputs {
  std::map<std::string, HostTensor> tensors;
  // Tensor inputs already in device memory (a concat-mode past: the last
  // run's present): bound where they are, neither copied nor owned.
  std::map<std::string, DeviceTensor> onDevice;
  // Each cache argument's buffer on the device (DeviceKVCache::data(), its
  // capacity, the valid rows); grown by the caller before the run, never by
  // the program. `valid` is advanced by the rows appended when the run
  // succeeds (unchanged when it fails).
  std::map<std::string, bmc_kv_buffer *> caches;
  std::map<std::string, int64_t> scalars; // index arguments
  // Outputs copied back in part, by name (CopyBack; the others whole). A
  // name that is not an output, is kept on the device (ProgramKept) or has
  // rank under 2 for LastOfAxis1 is refused before anything runs.
  std::map<std::string, CopyBack> copyBack;
};

// Outputs left in device memory instead of copied back (a concat-mode
// present, the next run's past). Each must be a kernel's own result (or a
// plain view of one): its launch writes it into a buffer from `allocate`,
// not the arena, and the caller owns that buffer after a successful run; a
// refused or failed run gives its buffers back through `release`.
struct ProgramKept {
  std::vector<std::string> names;                          // output names
  std::function<Result<DevicePtr>(size_t bytes)> allocate; // the caller's buffers
  std::function<void(DevicePtr)> release;
  std::map<std::string, DeviceTensor> tensors; // after a successful run, by name
};

struct ProgramDesc; // the parsed bmc-program line (DeviceProgram.cpp)

// An input as the program line records it (its caller builds ProgramInputs
// from these: DeviceGeneration.h).
struct ProgramInput {
  std::string name;
  std::string kind;               // "tensor", "kv_cache" or "index"
  std::string type;               // the element type (tensors and caches)
  std::vector<int64_t> dims;      // tensors (-1: dynamic)
  int64_t heads = 0, headDim = 0; // caches
};

class DeviceProgram {
public:
  // The functions that have a bmc-program line in `emittedSource`, in order.
  static Result<std::vector<std::string>> functions(const std::string &emittedSource);

  // Parses the program of `function` and uploads its weights (by name, in
  // their model layout and type) and constants. `launcher` must have been
  // created from the same source and outlive the program.
  static Result<std::unique_ptr<DeviceProgram>> create(Device &device, EmittedLauncher &launcher,
                                                       const std::string &emittedSource, const std::string &function,
                                                       const std::map<std::string, HostTensor> &weights);
  ~DeviceProgram();

  // Runs the function once; returns its outputs in order (copied back,
  // row-major). With `graph`, its launches run as that device graph
  // (EmittedLauncher::runStep: captured the first time, then updated in
  // place or re-captured; `report` says which), e.g. one per decode step.
  // With `kept`, those outputs stay on the device (ProgramKept); their
  // HostTensors carry the type and dims, no bytes. An output named in
  // inputs.copyBack comes back in part (its HostTensor's dims are the part's).
  Result<std::vector<HostTensor>> run(ProgramInputs &inputs, EmittedStepGraph *graph = nullptr,
                                      StepReport *report = nullptr, ProgramKept *kept = nullptr);

  const std::vector<std::string> &outputNames() const { return outputNames_; }
  const std::vector<ProgramInput> &inputs() const { return inputs_; }
  size_t arenaBytes() const { return arenaBytes_; }
  size_t slots() const;
  // Launches made by the last run (kernel ops, in order: "bmck.norm 0", ...);
  // none when a check refused it.
  const std::vector<std::string> &lastLaunches() const { return lastLaunches_; }
  // Each output's dims in the last successful run, whole (before a CopyBack
  // cut), in order.
  const std::vector<std::vector<int64_t>> &lastOutputDims() const { return lastOutputDims_; }

  struct Run; // the values of one run (DeviceProgram.cpp; internal)

private:
  DeviceProgram(Device &device, EmittedLauncher &launcher);
  // create() and run() without their guard: a malformed line (a field
  // missing or of another type) throws there, and becomes a one-line error.
  static Result<std::unique_ptr<DeviceProgram>> createChecked(Device &device, EmittedLauncher &launcher,
                                                              const std::string &emittedSource,
                                                              const std::string &function,
                                                              const std::map<std::string, HostTensor> &weights);
  Result<std::vector<HostTensor>> runChecked(ProgramInputs &inputs, EmittedStepGraph *graph, StepReport *report,
                                             ProgramKept *kept);
  // The launch steps whose results are the kept outputs (value id -> output name).
  Result<std::map<std::string, std::string>> keptResults(const ProgramKept &kept) const;
  Result<std::vector<HostTensor>> launchAndCopyBack(Run &run, EmittedStepGraph *graph, StepReport *report,
                                                    ProgramKept *kept);
  Status walk(Run &run, bool launch);
  // A `shape` step a kernel reads too (its "upload"): the view of its place
  // in shapeUploads_ into run.vals[id], and with `launch` its elements
  // copied there (the step's own place in the order).
  Status uploadShape(Run &run, const std::string &id, const std::string &type, const std::vector<int64_t> &dims,
                     const std::vector<int64_t> &elements, bool launch);
  Status bindInputs(Run &run, ProgramInputs &inputs, bool upload);

  Device &device_;
  EmittedLauncher &launcher_;
  std::unique_ptr<ProgramDesc> desc_;
  std::vector<std::string> outputNames_;
  std::vector<ProgramInput> inputs_;
  std::map<std::string, DevicePtr> uploads_;        // weight / constant value id -> device copy
  std::map<std::string, DevicePtr> productWeights_; // "op/config/name" -> device layout copy
  std::map<std::string, DevicePtr> inputBuffers_;   // input name -> device copy (grown)
  std::map<std::string, size_t> inputBytes_;
  // The shape vectors kernels read, built on the host per run: one buffer
  // for the program (their sizes are static), each at its offset; no
  // kernel writes it, so a run's uploads stay valid for a graph's replay.
  DevicePtr shapeUploads_ = 0;
  std::map<std::string, size_t> shapeUploadOffset_; // value id -> byte offset
  DevicePtr arena_ = 0;
  size_t arenaBytes_ = 0;
  std::vector<std::string> lastLaunches_;
  std::vector<std::vector<int64_t>> lastOutputDims_;
};

} // namespace device
} // namespace bmc

#endif
