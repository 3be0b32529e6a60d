//===- runtime/device/DeviceGeneration.h - tokens from a DeviceProgram -*- C++ -*-===//
//
// Token generation on a device: the CPU Session's prefill / decode loop
// (runtime/Session.cpp) over a decoder function's DeviceProgram (its
// `// bmc-program` line, written by the CUDA emitter). It owns one
// DeviceKVCache per in-place cache input of the function, grows them before
// each run by the session's policy (bmc: capacity = needed + r - 1 rows, at
// most the maximum context, so one growth every r tokens; prealloc: the
// maximum context at once), feeds input_ids, an all-ones attention_mask,
// position_ids and the lengths some graphs take as inputs (GroupQueryAttention's
// seqlens_k and total_sequence_length, a static cache's write_indices and
// nonpad_kv_seqlen), with the values and rules of the CPU session
// (runtime/Session.cpp), and returns the last position's logits and the
// greedy token, or every position's when asked (only then does the program
// copy its whole logits output [batch, seq, vocab] back; otherwise each
// row's last position, CopyBack::LastOfAxis1).
// extend() runs several tokens after the last in one pass (speculative
// verification, docs/SPECULATIVE.md); truncate() rolls rejected rows back
// (they become spare rows: no copy). A decode or verify step may run as a
// device graph (DeviceProgram::run's `graph`): one graph per distinct token
// count, each captured once, then updated in place (docs/DESIGN.md, "Device
// sessions": why not one graph for every count).
//
// The pairing of caches: after the BMC pass a cache is one kv_cache input
// (the present output it replaced is gone; its name is the input's
// bmc.kv_present attribute and is not needed to run), which the program
// line records with its heads, head_dim and type. In concat mode (a model
// compiled with --kv concat) a cache is the graph's past tensor input paired
// with its present output: DeviceConcatCaches keeps each present on the
// device and feeds it back as the next run's past (no host round trip);
// truncate crops them (a copy). The other pairing for a mode is refused by
// name.
//
// Errors are one line (a prompt past the maximum context, a cache that
// cannot grow, a weight or input the program lacks); a failed step leaves
// the generation as it was (its length and valid rows: a growth copies
// nothing in place, DeviceKVCache.h); a failed prefill leaves it empty (as
// the CPU session's). r is given
// (DeviceGenerationOptions::r), or chosen before each growth by chooseR (a
// device Session's cost model, docs/COST_MODEL.md "On a device").
// Thread safety: none; one owner, the device's stream (Device.h).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICEGENERATION_H
#define BMC_RUNTIME_DEVICE_DEVICEGENERATION_H

#include "bmc/model.h"
#include "runtime/device/DeviceConcatCache.h"
#include "runtime/device/DeviceKVCache.h"
#include "runtime/device/DeviceProgram.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bmc {
namespace device {

// The decoder interface of the function, by input and output names.
struct DeviceDecoderSignature {
  std::string inputIds = "input_ids"; // [1, seq], i64 or i32
  std::string attentionMask;          // [1, total], all ones; "" when the function has none
  std::string positionIds;            // [1, seq], length .. length + seq - 1; "" when none
  std::string logits = "logits";      // [1, seq, vocab] f32 output
  // Lengths a graph takes as inputs ("" when it has none), i64 or i32, fed as
  // the CPU session feeds them: with `total` the length after the run,
  std::string seqlensK;            // GroupQueryAttention's seqlens_k: [1], total - 1
  std::string totalSequenceLength; // GroupQueryAttention's total_sequence_length: a scalar (or [1]), total
  std::string writeIndices;        // a static cache's write_indices (TensorScatter): [1], the length before
  std::string nonpadKvSeqlen;      // a static cache's nonpad_kv_seqlen (Attention): [1], total
  struct Cache {
    std::string past;    // the function's kv_cache input
    std::string present; // the output it is returned as (concat mode); "" in place
  };
  std::vector<Cache> caches;
  // Token ids are checked against it when > 0 (without it, the program's
  // index_bound refuses an id out of range before any launch: DeviceProgram).
  int64_t vocab = 0;
  int64_t maxPositions = 0; // the model's context limit; 0: none known

  // The names of a model's decoder interface (bmc/model.h: the indices the
  // CPU runtime learned from the function's arguments).
  static Result<DeviceDecoderSignature> fromModel(const ModelSignature &sig);
};

struct DeviceGenerationOptions {
  // "bmc" (grow by r), "prealloc" (the maximum context at once) or "concat"
  // (the graph's Concat: a new buffer per run, the model compiled so).
  std::string kvMode = "bmc";
  int64_t r = 16;             // spare rows per growth in bmc mode (>= 1)
  int64_t maxContext = 0;     // tokens; 0: the signature's maxPositions, else 4096
  bool graphDecode = true;    // decode and extend steps as device graphs (one per token count; captured
                              // once, then updated)
  int64_t maxGraphedTokens = 16; // extends of more tokens run as direct launches (bounds the graphs kept)
  bool useGrowable = true;    // the device's growable buffers where it has them (DeviceKVOptions)
  // bmc mode: when set, the r of each growth, asked with the rows needed and
  // the cache about to grow (r above stands until the first growth); its
  // answer must be >= 1 (an error naming the cache otherwise).
  std::function<int64_t(int64_t needed, const DeviceKVCache &cache)> chooseR;
};

struct DeviceGenerationStep {
  std::vector<float> logits;    // the last position's of each row: [batch, vocab]
  std::vector<float> allLogits; // every position's [batch, seq, vocab] when asked, else empty
  int64_t token = -1;           // row 0's argmax (the first maximum, as Sampling.cpp's greedy)
  std::vector<int64_t> tokens;  // each row's
  StepReport graph;          // a graphed decode step's report (captured or updated)
};

class DeviceGeneration {
public:
  // Creates the program (uploads the weights), checks the signature against
  // its inputs, and creates the caches (nothing committed before a prefill).
  // `launcher` must outlive the generation.
  static Result<std::unique_ptr<DeviceGeneration>> create(Device &device, EmittedLauncher &launcher,
                                                          const std::string &emittedSource,
                                                          const std::string &function,
                                                          const std::map<std::string, HostTensor> &weights,
                                                          const DeviceDecoderSignature &sig,
                                                          const DeviceGenerationOptions &opts = {});
  ~DeviceGeneration();

  // A whole prompt (batch 1) from position 0; the caches' rows are reused.
  // Batch 1: prefillRows({prompt}); step: stepRows({token}). With allLogits
  // every position's logits.
  Result<DeviceGenerationStep> prefill(const std::vector<int64_t> &prompt, bool allLogits = false);
  // One token after the last; as a graph with graphDecode.
  Result<DeviceGenerationStep> step(int64_t token);
  // Batches, by the CPU session's rule: prompts of equal length, one row
  // each (the caches are made again for another batch), then one token per
  // row. Row b's logits are its batch-1 run's.
  Result<DeviceGenerationStep> prefillRows(const std::vector<std::vector<int64_t>> &prompts, bool allLogits = false);
  Result<DeviceGenerationStep> stepRows(const std::vector<int64_t> &tokens);
  // k >= 1 tokens after the last (batch 1), at positions length() .. length() + k - 1,
  // in one run (the caches grown for them first, at most one growth); with
  // allLogits every position's logits. As the graph for k tokens with
  // graphDecode (k <= maxGraphedTokens).
  Result<DeviceGenerationStep> extend(const std::vector<int64_t> &tokens, bool allLogits = true);
  // Keeps the first `length` tokens (0 <= length <= length()): rows past it
  // are spare again (a rejected speculative draft); concat: cropped, a copy.
  Status truncate(int64_t length);

  // Replaces options' chooseR (a generation made at load, taken by a session).
  void setChooseR(std::function<int64_t(int64_t, const DeviceKVCache &)> f) { opts_.chooseR = std::move(f); }
  // The r of the last growth in bmc mode (options' r before any).
  int64_t lastR() const { return lastR_; }

  int64_t length() const { return length_; }
  int64_t batch() const { return batch_; }
  int64_t maxContext() const { return maxContext_; }
  // The in-place caches (bmc, prealloc; none in concat mode).
  size_t caches() const { return caches_.size(); }
  const DeviceKVCache &cache(size_t i) const { return *caches_[i].kv; }
  const std::string &cacheName(size_t i) const { return caches_[i].name; }
  DeviceProgram &program() { return *program_; }
  // The device graphs held (one per token count run as a graph so far).
  size_t graphs() const { return graphs_.size(); }
  // Concat mode's caches; null in the other modes.
  const DeviceConcatCaches *concatCaches() const { return concat_.get(); }

private:
  DeviceGeneration(Device &device) : device_(device) {}
  // `tokens`: batch_ rows of `tokens.size() / batch_` each, row-major.
  Result<DeviceGenerationStep> run(const std::vector<int64_t> &tokens, bool graphed, bool allLogits = false);
  // The in-place caches made again for `batch` rows (nothing committed).
  Status setBatch(int64_t batch);
  // Concat mode's caches from the signature (each a past tensor input and its present output).
  Status createConcatCaches(const std::map<std::string, const ProgramInput *> &inputs,
                            std::map<std::string, bool> &fed);

  struct Cache {
    std::string name;
    std::unique_ptr<DeviceKVCache> kv;
    DeviceKVOptions options; // its batch: batch_
  };
  Device &device_;
  std::string at_; // "device generation @function: ", each error's start
  std::unique_ptr<DeviceProgram> program_;
  DeviceDecoderSignature sig_;
  DeviceGenerationOptions opts_;
  std::string idsType_, maskType_, positionsType_; // the program's element types of those inputs
  std::string seqlensType_, totalType_, writeType_, nonpadType_;
  bool totalScalar_ = false; // total_sequence_length is 0-D in the program (else [1])
  size_t logitsOutput_ = 0;
  std::vector<Cache> caches_;
  std::unique_ptr<DeviceConcatCaches> concat_;
  int64_t maxContext_ = 0, length_ = 0, batch_ = 1, lastR_ = 0;
  std::map<int64_t, EmittedStepGraph> graphs_; // by the step's token count
};

} // namespace device
} // namespace bmc

#endif
