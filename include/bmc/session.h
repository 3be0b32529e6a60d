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
// Thread safety: one thread per Session; several Sessions may share a Model.
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
  /// Logits of the last position of each sequence: [batch, vocab].
  const Tensor &logits() const { return logits_; }
  /// Logits output of the last prefill/step: [batch, seq, vocab] if
  /// keepAllLogits was set, else only what the model computed for the last
  /// position ([batch, 1, vocab] for models whose logits come from a matmul
  /// the compiler can restrict).
  const Tensor &allLogits() const { return allLogits_; }

  /// Prefill + decode. `onToken(step, tokens)` sees each new token of every
  /// sequence; returning false stops. Returns the generated tokens.
  Result<std::vector<std::vector<int64_t>>>
  generate(const std::vector<std::vector<int64_t>> &prompts, const GenerateOptions &opts,
           const std::function<bool(int64_t step, const std::vector<int64_t> &tokens)> &onToken = {});

  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }
  int64_t maxContext() const { return maxContext_; }
  int64_t vocab() const;
  const std::string &kvMode() const { return mode_; }
  /// The r of the last reallocation (bmc mode); fixed or from the cost model.
  int64_t r() const { return r_; }
  bool adaptiveR() const { return cost_ != nullptr; }
  const KVStats &kvStats() const { return stats_; }

private:
  Session() = default;
  Status run(const std::vector<int64_t> &tokens, int64_t seq);
  Status ensureCapacity(int64_t needed);
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
};

/// Picks the next token of each row of `logits` [batch, vocab].
std::vector<int64_t> sampleTokens(const Tensor &logits, const GenerateOptions &opts, uint64_t &rngState);

} // namespace bmc

#endif
