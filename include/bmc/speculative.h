//===- bmc/speculative.h - drafters for speculative decoding -----*- C++ -*-===//
//
// Speculative decoding (docs/SPECULATIVE.md): a drafter proposes k tokens,
// the target model verifies them in one pass over k + 1 rows of its KV cache
// (Session::extend), and the rejected rows are rolled back
// (Session::truncate). With BMC caches those k + 1 rows are spare rows the
// buffer already has: verification costs no allocation and no copy.
//
// Thread safety: a Drafter serves one generate() at a time.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SPECULATIVE_H
#define BMC_SPECULATIVE_H

#include "bmc/session.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bmc {

/// What a drafter proposes for one verification pass.
struct DraftProposal {
  std::vector<int64_t> tokens;
  /// For sampled decoding: the distribution each token was drawn from,
  /// tokens.size() rows of `vocab` probabilities. Empty for a deterministic
  /// drafter (each token then counts as proposed with probability 1).
  std::vector<std::vector<double>> probs;
};

class Drafter {
public:
  virtual ~Drafter();
  /// Called by generate() before the first proposal, with the target's
  /// vocabulary and the maximum context. A drafter that cannot serve them
  /// says why.
  virtual Status start(int64_t targetVocab, int64_t maxContext);
  /// Proposes up to `k` tokens that continue `context` (the prompt and every
  /// token generated so far). Fewer (or none) is allowed. Sampled decoding
  /// (opts.temperature > 0) expects `probs` from model drafters, drawn with
  /// `rng`.
  virtual Status propose(const std::vector<int64_t> &context, int64_t k, const GenerateOptions &opts,
                         uint64_t &rng, DraftProposal &out) = 0;
  /// A short description for reports ("model draft.bmcpkg", "prompt lookup n<=3").
  virtual std::string describe() const = 0;
  /// Seconds per proposed token measured so far (the cost model's drafter
  /// cost); 0 if unknown or negligible.
  virtual double secondsPerToken() const { return 0.0; }
};

/// A smaller decoder with the target's vocabulary, in its own Session (its
/// own BMC cache and rollback). It catches up on the tokens the target
/// accepted, rolls back what was rejected, then decodes k tokens.
class ModelDrafter : public Drafter {
public:
  explicit ModelDrafter(std::shared_ptr<Model> draft, SessionOptions opts = {}, std::string name = "draft model");
  ~ModelDrafter() override;
  Status start(int64_t targetVocab, int64_t maxContext) override;
  Status propose(const std::vector<int64_t> &context, int64_t k, const GenerateOptions &opts, uint64_t &rng,
                 DraftProposal &out) override;
  std::string describe() const override { return name_; }
  double secondsPerToken() const override { return proposed_ ? seconds_ / double(proposed_) : 0.0; }
  /// The draft's own session (KV statistics), null before start().
  const Session *session() const { return session_.get(); }

private:
  std::shared_ptr<Model> model_;
  SessionOptions opts_;
  std::string name_;
  std::unique_ptr<Session> session_;
  std::vector<int64_t> cached_; // tokens in the draft's KV cache
  double seconds_ = 0;
  int64_t proposed_ = 0;
};

/// Prompt lookup: no model. Finds the latest earlier occurrence of the
/// context's last n tokens (n = maxNgram down to minNgram) and proposes the
/// tokens that followed it. Deterministic.
class PromptLookupDrafter : public Drafter {
public:
  explicit PromptLookupDrafter(int64_t maxNgram = 3, int64_t minNgram = 1);
  Status start(int64_t targetVocab, int64_t maxContext) override;
  Status propose(const std::vector<int64_t> &context, int64_t k, const GenerateOptions &opts, uint64_t &rng,
                 DraftProposal &out) override;
  std::string describe() const override;

private:
  int64_t maxNgram_, minNgram_;
};

/// Replays a known continuation (say, the target's own greedy output,
/// computed beforehand), replacing each proposed token by another random
/// token with probability 1 - p: the acceptance rate under control, for
/// benchmarks and tests on random-weight models, whose natural acceptance
/// means nothing. Not a real drafter: it knows the future.
class ReplayDrafter : public Drafter {
public:
  /// `sequence`: the prompt followed by the continuation to replay.
  ReplayDrafter(std::vector<int64_t> sequence, double p, uint64_t seed = 1);
  Status start(int64_t targetVocab, int64_t maxContext) override;
  Status propose(const std::vector<int64_t> &context, int64_t k, const GenerateOptions &opts, uint64_t &rng,
                 DraftProposal &out) override;
  std::string describe() const override;

private:
  std::vector<int64_t> sequence_;
  double p_;
  uint64_t seed_, state_ = 0;
  int64_t vocab_ = 0;
};

} // namespace bmc

#endif
