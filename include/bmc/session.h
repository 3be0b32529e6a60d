//===- bmc/session.h - stateful decoding with a KV cache ---------*- C++ -*-===//
//
// A Session drives a decoder Model: prefill a prompt, step one token at a
// time, or generate() with greedy or seeded sampling. It owns the KV caches.
//
// KV cache modes (docs/COST_MODEL.md):
//   concat   - the graph as exported: present = Concat(past, new), fed back
//              as past: a new buffer and a full copy per token.
//   prealloc - one buffer per layer for the whole maximum context.
//   bmc      - buffers with r spare rows; when full, one reallocation to
//              valid + r rows and one copy of the valid rows.
// prealloc and bmc need a model compiled with the KV rewrite (the default);
// concat needs one compiled with KVMode::Concat.
//
// Speculative decoding (docs/SPECULATIVE.md): extend() appends several
// tokens per sequence in one pass and keeps the logits of every position;
// truncate() rolls the cache back (bmc/prealloc: the rejected rows become
// spare rows again, no copy; concat: the cache is cropped by a copy, as
// Hugging Face's DynamicCache.crop does). generate() verifies the tokens of
// a Drafter (bmc/speculative.h) when GenerateOptions::speculative is set.
//
// On a device (a model loaded with LoadOptions::device Cuda) prefill, step,
// extend, truncate and generate run the package's decoder program there
// (runtime/device/DeviceGeneration): batches as on the CPU (prompts of one
// length), kv mode bmc, prealloc or concat (a package compiled with --kv
// concat: each run's presents stay in device memory as the next run's
// pasts; truncate crops them, a copy), greedy or sampled, speculative
// decoding too (batch 1; the same verification and GenerateStats as on the
// CPU: extend() copies [k, vocab] logits back in one copy; truncate() makes
// the rejected rows spare rows, no copy), and keepAllLogits; speculative
// k = 0 (the cost model's choice of k) from the model's verification passes
// timed on the device at the first such generate() on the model (passes of
// 1, 2, 4, 5 and 8 tokens after up to 32 made-up ones, on the session's own
// caches: their growths count in kvStats(); docs/COST_MODEL.md "On a
// device"). Refused with a one-line error: extend() with a batch above 1.
// r there is SessionOptions::r, else the compiled-in r, else (bmc mode) the
// cost model's at each growth, fed by the device's own constants: allocation,
// copy, VMM-grow costs and a copy-probed read bandwidth, measured once per
// device per process and cached on disk for a GPU (docs/COST_MODEL.md "On a
// device"); r() and costModelInUse() show the choice and the constants.
//
// Thread safety: one thread per Session; several Sessions may share a Model
// (on a device: used from one thread at a time, as they share its stream).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SESSION_H
#define BMC_SESSION_H

#include "bmc/model.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bmc {

class Drafter;

struct SessionOptions {
  /// "" = the model's own mode ("bmc" if compiled in place, else "concat");
  /// or "prealloc" / "bmc" / "concat" (checked against the model).
  std::string kvMode;
  /// Spare rows per reallocation in bmc mode; 0 = the value compiled in,
  /// and if that is 0 too, the cost model's choice at each reallocation
  /// (docs/COST_MODEL.md).
  int64_t r = 0;
  /// Maximum tokens in the cache; 0 = the model's limit (learned position
  /// tables), else 4096.
  int64_t maxContext = 0;
  /// Most bytes the KV caches may take at the maximum context (batch x
  /// caches x heads x head_dim x context x 4, checked at prefill); 0 =
  /// physical memory.
  int64_t maxKVBytes = 0;
  /// Compute logits for every prompt position at prefill (as the exported
  /// graph does); by default only the last position's, which is all that
  /// generation needs.
  bool keepAllLogits = false;
};

struct GenerateOptions {
  int64_t maxNewTokens = 32;
  /// 0 = greedy (argmax). Otherwise sample from softmax(logits / T),
  /// restricted to the topK most likely (0 = all) and to the smallest set
  /// whose probability reaches topP.
  float temperature = 0.0f;
  int64_t topK = 0;
  float topP = 1.0f;
  uint64_t seed = 0;
  /// Generation of a sequence stops after it emits one of these.
  std::vector<int64_t> stopTokens;
  /// Speculative decoding (batch 1): each target pass verifies up to `k`
  /// tokens proposed by `drafter`. Greedy output is the same as without it;
  /// sampled output has the same distribution (the speculative-sampling
  /// acceptance rule). Unset drafter: one token per pass.
  struct Speculative {
    std::shared_ptr<Drafter> drafter;
    /// Draft tokens per verification pass, >= 1; 0 = the cost model's
    /// choice before each pass, from the acceptance rate measured so far
    /// (docs/COST_MODEL.md), in [1, maxK].
    int64_t k = 4;
    int64_t maxK = 8;
  } speculative;
};

/// Why the last generate() stopped, and what speculative decoding did.
struct GenerateStats {
  /// Error: a pass failed after the prefill (e.g. the KV memory limit); the
  /// tokens generated before it are in Session::generated().
  enum class Stop { MaxNewTokens, StopToken, ContextFull, Callback, Error } stop = Stop::MaxNewTokens;
  int64_t targetPasses = 0;   ///< forward passes of the target model after the prefill
  int64_t draftProposed = 0;  ///< draft tokens sent to verification
  int64_t draftAccepted = 0;  ///< of those, accepted
  int64_t emitted = 0;        ///< tokens generated (sequence 0)
  double draftSeconds = 0;    ///< time spent in the drafter
  int64_t lastK = 0;          ///< draft length of the last pass
  /// Accepted / proposed draft tokens (0 when nothing was proposed).
  double acceptanceRate() const { return draftProposed ? double(draftAccepted) / double(draftProposed) : 0.0; }
  /// Tokens generated per target pass after the prefill's first token.
  double tokensPerPass() const { return targetPasses ? double(emitted - 1) / double(targetPasses) : 0.0; }
  static const char *name(Stop s);
};

struct KVStats {
  int64_t bytesAllocated = 0; ///< now, all caches
  int64_t bytesUsed = 0;      ///< rows holding data
  int64_t peakBytesAllocated = 0;
  int64_t reallocations = 0;  ///< buffer growths (concat: one per step)
  int64_t bytesCopied = 0;    ///< by growths (concat: by the graph's Concat)
};

class Session {
public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<Model> model, const SessionOptions &opts = {});
  ~Session();

  /// Starts over with `prompts` (one per sequence, all of equal length) and
  /// computes logits for their last tokens.
  Status prefill(const std::vector<std::vector<int64_t>> &prompts);
  /// Appends one token per sequence and computes the next logits.
  Status step(const std::vector<int64_t> &tokens);
  /// Appends tokens[b] (k >= 1 tokens, the same k for every sequence) in one
  /// forward pass; allLogits() then holds [batch, k, vocab], the logits after
  /// each appended token, and logits() the last of them. Capacity for the k
  /// rows is made before the pass (at most one growth).
  Status extend(const std::vector<std::vector<int64_t>> &tokens);
  /// Moves the valid length back to `length` (0 <= length <= length()):
  /// the rows after it are forgotten. bmc and prealloc keep the buffers (the
  /// rows become spare rows again: no copy, no reallocation); concat crops
  /// each cache by copying it, as the exported graph's own cache must.
  /// logits() and allLogits() keep the values of the last pass.
  Status truncate(int64_t length);
  /// Logits of the last position of each sequence: [batch, vocab].
  const Tensor &logits() const { return logits_; }
  /// Logits output of the last prefill/step: [batch, seq, vocab] if
  /// keepAllLogits was set, else only what the model computed for the last
  /// position ([batch, 1, vocab] for models whose logits come from a matmul
  /// the compiler can restrict).
  const Tensor &allLogits() const { return allLogits_; }

  /// Prefill + decode. `onToken(step, tokens)` sees each new token of every
  /// sequence; returning false stops. Returns the generated tokens. With
  /// speculative decoding the accepted tokens of a pass are streamed one by
  /// one through the same callback.
  Result<std::vector<std::vector<int64_t>>>
  generate(const std::vector<std::vector<int64_t>> &prompts, const GenerateOptions &opts,
           const std::function<bool(int64_t step, const std::vector<int64_t> &tokens)> &onToken = {});
  /// What the last generate() did: why it stopped, passes, acceptance.
  const GenerateStats &generateStats() const { return genStats_; }
  /// The tokens the last generate() produced, also when it failed midway
  /// (then the session holds them all but the last, and can go on with
  /// step() or start over with prefill()).
  const std::vector<std::vector<int64_t>> &generated() const { return generated_; }

  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }
  int64_t maxContext() const { return maxContext_; }
  int64_t vocab() const;
  const std::string &kvMode() const { return mode_; }
  /// The r of the last reallocation (bmc mode); fixed or from the cost model.
  int64_t r() const { return r_; }
  bool adaptiveR() const { return cost_ != nullptr; }
  /// The cost model choosing r (its hardware constants: the CPU's, or the
  /// device's with HardwareConstants::device set); null when r is fixed.
  const struct KVCostModel *costModelInUse() const { return cost_.get(); }
  const KVStats &kvStats() const { return stats_; }

private:
  Session() = default;
  Status run(const std::vector<int64_t> &tokens, int64_t seq, bool allLogits);
  Status ensureCapacity(int64_t needed);
  /// The cost model of this model on this machine (hardware constants calibrated or cached).
  struct KVCostModel costModel() const;
  /// On a device, the cost model that chooses the speculative k: the device's
  /// constants and the model's verification passes timed there (measured at
  /// the first use, which leaves the generation's caches holding a made-up
  /// context: call before prefill).
  Result<struct KVCostModel> deviceSpeculativeCostModel();
  Result<std::vector<std::vector<int64_t>>>
  generateSpeculative(const std::vector<int64_t> &prompt, const GenerateOptions &opts,
                      const std::function<bool(int64_t, const std::vector<int64_t> &)> &onToken);
  std::shared_ptr<Model> model_;
  const DecoderInfo *dec_ = nullptr;
  std::string mode_;
  bool keepAllLogits_ = false;
  int64_t r_ = 0, fixedR_ = 0, maxContext_ = 0, batch_ = 0, length_ = 0;
  int64_t maxKVBytes_ = 0; // SessionOptions::maxKVBytes, for prefill's check
  struct Cache;
  std::unique_ptr<struct KVCostModel> cost_;
  std::vector<std::unique_ptr<Cache>> caches_;
  Tensor logits_, allLogits_;
  KVStats stats_;
  GenerateStats genStats_;
  std::vector<std::vector<int64_t>> generated_;
  struct OnDevice; // a device model's generation (Session.cpp)
  std::unique_ptr<OnDevice> dev_;
  enum class DeviceRun { Prefill, Step, Extend };
  // Prefill: the prompts; Step: a token per row; Extend: one row's tokens.
  Status runOnDevice(const std::vector<std::vector<int64_t>> &rows, DeviceRun kind);
  void deviceKVStats(); // stats_ from the device generation's caches
};

/// A limit on the KV bytes all sessions of this process hold together (their
/// buffers' capacity); 0 = none (the default, or the environment variable
/// BMC_MAX_KV_BYTES). A growth that would pass it fails with a one-line
/// error: the session keeps its valid rows and can go on once memory is
/// freed, and generate() keeps the tokens it had (generated()).
void setProcessKVLimit(int64_t bytes);
int64_t processKVLimit();
/// KV bytes held by all sessions of this process now.
int64_t processKVBytes();

/// Picks the next token of each row of `logits` [batch, vocab].
std::vector<int64_t> sampleTokens(const Tensor &logits, const GenerateOptions &opts, uint64_t &rngState);

/// The distribution sampleTokens draws from for one row of `vocab` logits:
/// softmax(logits / T) restricted to top-k / top-p and renormalised (zeros
/// elsewhere); at temperature 0, all mass on the first maximum.
std::vector<double> tokenDistribution(const float *logits, int64_t vocab, const GenerateOptions &opts);
/// A token drawn from `probs` (non-negative, any positive total).
int64_t sampleFrom(const std::vector<double> &probs, uint64_t &rngState);
/// A uniform number in [0, 1) from the session's generator.
double uniform01(uint64_t &rngState);

} // namespace bmc

#endif
