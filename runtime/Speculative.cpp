//===- Speculative.cpp - speculative decoding: verification and drafters ---===//
//
// One round: the drafter proposes d_1..d_m (m <= k) after the context, whose
// last token t is not in the target's cache yet; the target appends
// [t, d_1..d_m] in one pass (m + 1 rows) and scores every position; the
// drafts are accepted left to right while the target agrees (greedy: the
// same argmax; sampled: with probability min(1, p/q), else a token is drawn
// from the normalised residual max(0, p - q) and the round ends); all m
// accepted earns one more token from the last row. The cache is rolled back
// to the accepted rows. See docs/SPECULATIVE.md.
//
//===----------------------------------------------------------------------===//

#include "bmc/speculative.h"
#include "bmc/cost_model.h"

#include <algorithm>
#include <chrono>

namespace bmc {

using Clock = std::chrono::steady_clock;

static double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Drafter::~Drafter() = default;
Status Drafter::start(int64_t, int64_t) { return Status(); }

static bool greedy(const GenerateOptions &o) { return o.temperature <= 0.0f; }

/// The token the target settles on at row `row` of the verification pass,
/// given the draft token proposed there (`draft` < 0: none, the bonus row).
/// Sets `accepted` when it is the draft token.
static int64_t verifyRow(const float *logits, int64_t V, const GenerateOptions &o, int64_t draft,
                         const std::vector<double> *q, uint64_t &rng, bool &accepted) {
  accepted = false;
  if (greedy(o)) {
    int64_t y = std::max_element(logits, logits + V) - logits; // the first maximum, as sampleTokens
    accepted = draft == y;
    return y;
  }
  std::vector<double> p = tokenDistribution(logits, V, o);
  if (draft < 0) return sampleFrom(p, rng);
  double qd = q ? (*q)[size_t(draft)] : 1.0; // a deterministic drafter proposes with probability 1
  if (uniform01(rng) * qd < p[size_t(draft)]) {
    accepted = true;
    return draft;
  }
  // Rejected: draw from max(0, p - q), renormalised (sampleFrom normalises).
  std::vector<double> residual(p.size());
  double mass = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double qi = q ? (*q)[i] : (int64_t(i) == draft ? 1.0 : 0.0);
    mass += residual[i] = std::max(0.0, p[i] - qi);
  }
  return sampleFrom(mass > 0 ? residual : p, rng);
}

Result<std::vector<std::vector<int64_t>>>
Session::generateSpeculative(const std::vector<int64_t> &prompt, const GenerateOptions &o,
                             const std::function<bool(int64_t, const std::vector<int64_t> &)> &onToken) {
  Drafter &drafter = *o.speculative.drafter;
  const int64_t kOpt = o.speculative.k;
  if (kOpt < 0)
    return Status::error("speculative decoding: expected a draft length k >= 1 (or 0: the cost model's choice), found " +
                         std::to_string(kOpt));
  if (kOpt == 0 && o.speculative.maxK < 1)
    return Status::error("speculative decoding: expected maxK >= 1 for the cost model's choice of k, found " +
                         std::to_string(o.speculative.maxK));
  if (std::max(kOpt, kOpt == 0 ? o.speculative.maxK : 0) >= maxContext_)
    return Status::error("speculative decoding: draft length k = " + std::to_string(std::max(kOpt, o.speculative.maxK)) +
                         " does not fit the maximum context of " + std::to_string(maxContext_) + " tokens");
  generated_.clear();
  if (Status s = drafter.start(vocab(), maxContext_); !s.ok()) return s;
  // With k = 0 the cost model chooses k: on a device from the model's passes
  // timed there (before the prefill: the timing runs on this session's caches).
  std::unique_ptr<KVCostModel> chooser;
  if (kOpt == 0 && dev_) {
    auto m = deviceSpeculativeCostModel();
    if (!m) return m.status();
    chooser = std::make_unique<KVCostModel>(m.value());
  }
  if (Status s = prefill({prompt}); !s.ok()) return s;
  // On the CPU after the prefill: the session's model knows its rows then.
  if (kOpt == 0 && !chooser) chooser = std::make_unique<KVCostModel>(cost_ ? *cost_ : costModel());

  const int64_t V = vocab();
  generated_.assign(1, {});
  std::vector<int64_t> &gen = generated_[0];
  std::vector<int64_t> context = prompt;
  uint64_t rng = o.seed;
  GenerateStats &st = genStats_;
  // Emits one token; false when generation is over (st.stop says why).
  auto emit = [&](int64_t tok) {
    gen.push_back(tok);
    context.push_back(tok);
    st.emitted = int64_t(gen.size());
    if (onToken && !onToken(int64_t(gen.size()) - 1, {tok})) { st.stop = GenerateStats::Stop::Callback; return false; }
    if (std::find(o.stopTokens.begin(), o.stopTokens.end(), tok) != o.stopTokens.end()) {
      st.stop = GenerateStats::Stop::StopToken;
      return false;
    }
    if (int64_t(gen.size()) >= o.maxNewTokens) { st.stop = GenerateStats::Stop::MaxNewTokens; return false; }
    return true;
  };
  if (o.maxNewTokens <= 0) return generated_;
  int64_t last = sampleTokens(logits_, o, rng)[0]; // from the prefill, as without drafts
  if (!emit(last)) return generated_;

  // The acceptance rate as measured so far: the cost model's r (bmc mode,
  // adaptive r) and, with k = 0, its k are chosen with it before each pass.
  AcceptanceEstimator accept;
  struct ResetSpec { // a later generate() without drafts plans r for one row per step again
    KVCostModel *m;
    ~ResetSpec() { if (m) m->specK = 0, m->acceptRate = 0, m->draftSecondsPerToken = 0; }
  } reset{cost_.get()};
  DraftProposal prop;
  while (true) {
    if (length_ >= maxContext_) { st.stop = GenerateStats::Stop::ContextFull; break; }
    int64_t kPass = kOpt;
    if (chooser) {
      chooser->draftSecondsPerToken = drafter.secondsPerToken();
      kPass = chooser->bestK(length_, accept.alpha, o.speculative.maxK);
    }
    if (cost_) {
      cost_->specK = kPass;
      cost_->acceptRate = accept.alpha;
      cost_->draftSecondsPerToken = drafter.secondsPerToken();
    }
    // A pass yields at most k + 1 tokens and appends at most k + 1 rows.
    int64_t k = std::min({kPass, o.maxNewTokens - int64_t(gen.size()) - 1, maxContext_ - length_ - 1});
    prop.tokens.clear();
    prop.probs.clear();
    if (k > 0) {
      auto t0 = Clock::now();
      if (Status s = drafter.propose(context, k, o, rng, prop); !s.ok())
        return Status::error("drafter (" + drafter.describe() + "): " + s.message());
      st.draftSeconds += secondsSince(t0);
      if (int64_t(prop.tokens.size()) > k)
        return Status::error("drafter (" + drafter.describe() + "): proposed " + std::to_string(prop.tokens.size()) +
                             " tokens, at most " + std::to_string(k) + " were asked for");
      if (!prop.probs.empty() && prop.probs.size() != prop.tokens.size())
        return Status::error("drafter (" + drafter.describe() + "): expected one distribution per proposed token");
      for (size_t i = 0; i < prop.tokens.size(); ++i) {
        if (prop.tokens[i] < 0 || prop.tokens[i] >= V)
          return Status::error("drafter (" + drafter.describe() + "): proposed token id " +
                               std::to_string(prop.tokens[i]) + " outside the vocabulary [0, " + std::to_string(V) + ")");
        if (!prop.probs.empty() && int64_t(prop.probs[i].size()) != V)
          return Status::error("drafter (" + drafter.describe() + "): expected distributions over " +
                               std::to_string(V) + " tokens, found " + std::to_string(prop.probs[i].size()));
      }
    }
    const int64_t m = int64_t(prop.tokens.size()), before = length_;
    std::vector<int64_t> rows = {last};
    rows.insert(rows.end(), prop.tokens.begin(), prop.tokens.end());
    if (Status s = extend({rows}); !s.ok()) {
      st.stop = GenerateStats::Stop::Error; // the tokens so far stay in generated()
      return Status::error(s.message() + " (after " + std::to_string(gen.size()) + " generated tokens)");
    }
    ++st.targetPasses;
    st.draftProposed += m;
    st.lastK = kPass;

    int64_t accepted = 0, next = -1;
    for (int64_t i = 0; i <= m; ++i) {
      bool ok = false;
      int64_t draft = i < m ? prop.tokens[size_t(i)] : -1;
      const std::vector<double> *q = i < m && !prop.probs.empty() ? &prop.probs[size_t(i)] : nullptr;
      int64_t y = verifyRow(allLogits_.data<float>() + i * V, V, o, draft, q, rng, ok);
      if (!ok) { next = y; break; }
      ++accepted;
    }
    st.draftAccepted += accepted;
    accept.update(m, accepted);
    // Keep `last` and the accepted drafts; the rejected rows become spare rows.
    if (Status s = truncate(before + 1 + accepted); !s.ok()) return s;
    bool more = true;
    for (int64_t i = 0; i < accepted && more; ++i) more = emit(prop.tokens[size_t(i)]);
    if (!more || !emit(next)) break;
    last = next;
  }
  return generated_;
}

//===----------------------------------------------------------------------===//
// ModelDrafter
//===----------------------------------------------------------------------===//

ModelDrafter::ModelDrafter(std::shared_ptr<Model> draft, SessionOptions opts, std::string name)
    : model_(std::move(draft)), opts_(std::move(opts)), name_(std::move(name)) {}
ModelDrafter::~ModelDrafter() = default;

Status ModelDrafter::start(int64_t targetVocab, int64_t maxContext) {
  if (!model_) return Status::error("draft model: none given");
  const DecoderInfo &d = model_->signature().decoder;
  if (!d.valid) return Status::error("draft model: not a decoder with a KV cache");
  if (d.vocab != targetVocab)
    return Status::error("draft model: expected the target's vocabulary of " + std::to_string(targetVocab) +
                         " tokens, found " + std::to_string(d.vocab));
  SessionOptions so = opts_;
  if (so.maxContext <= 0) so.maxContext = d.maxPositions > 0 ? std::min(d.maxPositions, maxContext) : maxContext;
  if (so.maxContext < maxContext)
    return Status::error("draft model: holds at most " + std::to_string(so.maxContext) +
                         " positions, the target session's maximum context is " + std::to_string(maxContext) +
                         " (limit it to " + std::to_string(so.maxContext) + ": --max-context, SessionOptions::maxContext)");
  auto s = Session::create(model_, so);
  if (!s) return Status::error("draft model: " + s.status().message());
  session_ = std::move(s.value());
  cached_.clear();
  seconds_ = 0;
  proposed_ = 0;
  return Status();
}

Status ModelDrafter::propose(const std::vector<int64_t> &context, int64_t k, const GenerateOptions &o, uint64_t &rng,
                             DraftProposal &out) {
  if (!session_) return Status::error("draft model: start() was not called");
  if (context.empty() || k < 1) return Status();
  auto t0 = Clock::now();
  // Roll back to what the draft and the target agree on, then catch up.
  // The last context token is always run again: its logits give d_1.
  size_t common = 0;
  while (common < cached_.size() && common + 1 < context.size() && cached_[common] == context[common]) ++common;
  std::vector<int64_t> rest(context.begin() + int64_t(common), context.end());
  Status s = common == 0 ? session_->prefill({rest}) : session_->truncate(int64_t(common));
  if (s.ok() && common > 0) s = session_->extend({rest});
  if (!s.ok()) return s;
  cached_ = context;
  k = std::min(k, session_->maxContext() - session_->length() + 1);
  const int64_t V = session_->vocab();
  for (int64_t i = 0; i < k; ++i) {
    const float *l = session_->logits().data<float>();
    int64_t d;
    if (greedy(o)) {
      d = std::max_element(l, l + V) - l;
    } else {
      out.probs.push_back(tokenDistribution(l, V, o));
      d = sampleFrom(out.probs.back(), rng);
    }
    out.tokens.push_back(d);
    if (i + 1 < k) {
      if (Status st = session_->step({d}); !st.ok()) return st;
      cached_.push_back(d);
    }
  }
  seconds_ += secondsSince(t0);
  proposed_ += int64_t(out.tokens.size());
  return Status();
}

//===----------------------------------------------------------------------===//
// PromptLookupDrafter
//===----------------------------------------------------------------------===//

PromptLookupDrafter::PromptLookupDrafter(int64_t maxNgram, int64_t minNgram)
    : maxNgram_(maxNgram), minNgram_(minNgram) {}

Status PromptLookupDrafter::start(int64_t, int64_t) {
  if (minNgram_ < 1 || maxNgram_ < minNgram_)
    return Status::error("prompt lookup: expected 1 <= min n-gram <= max n-gram, found " + std::to_string(minNgram_) +
                         " and " + std::to_string(maxNgram_));
  return Status();
}

std::string PromptLookupDrafter::describe() const {
  return "prompt lookup, n-grams " + std::to_string(minNgram_) + ".." + std::to_string(maxNgram_);
}

Status PromptLookupDrafter::propose(const std::vector<int64_t> &c, int64_t k, const GenerateOptions &, uint64_t &,
                                    DraftProposal &out) {
  const int64_t n = int64_t(c.size());
  for (int64_t g = std::min(maxNgram_, n - 1); g >= minNgram_; --g) {
    // The latest earlier occurrence of the last g tokens that has a successor.
    for (int64_t i = n - g - 1; i >= 0; --i) {
      if (!std::equal(c.begin() + i, c.begin() + i + g, c.end() - g)) continue;
      for (int64_t j = i + g; j < n && int64_t(out.tokens.size()) < k; ++j) out.tokens.push_back(c[size_t(j)]);
      return Status();
    }
  }
  return Status(); // no match: nothing to propose, the pass verifies only the last token
}

//===----------------------------------------------------------------------===//
// ReplayDrafter
//===----------------------------------------------------------------------===//

ReplayDrafter::ReplayDrafter(std::vector<int64_t> sequence, double p, uint64_t seed)
    : sequence_(std::move(sequence)), p_(p), seed_(seed) {}

Status ReplayDrafter::start(int64_t targetVocab, int64_t) {
  if (!(p_ >= 0.0 && p_ <= 1.0)) return Status::error("replay drafter: expected p in [0, 1], found " + std::to_string(p_));
  if (targetVocab < 2) return Status::error("replay drafter: expected a vocabulary of at least 2 tokens");
  vocab_ = targetVocab;
  state_ = seed_; // the same corruptions for every run with this seed
  return Status();
}

std::string ReplayDrafter::describe() const { return "replay, p=" + std::to_string(p_).substr(0, 4); }

Status ReplayDrafter::propose(const std::vector<int64_t> &c, int64_t k, const GenerateOptions &, uint64_t &,
                              DraftProposal &out) {
  // Only while the context follows the sequence (it is the target's own
  // output, so it does unless a corrupted token was accepted by sampling).
  if (c.size() > sequence_.size() || !std::equal(c.begin(), c.end(), sequence_.begin())) return Status();
  for (size_t j = c.size(); j < sequence_.size() && int64_t(out.tokens.size()) < k; ++j) {
    int64_t t = sequence_[j];
    if (uniform01(state_) >= p_) t = (t + 1 + int64_t(uniform01(state_) * double(vocab_ - 1))) % vocab_; // any other token
    out.tokens.push_back(t);
  }
  return Status();
}

} // namespace bmc
