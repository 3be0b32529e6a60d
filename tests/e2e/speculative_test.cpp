//===- speculative_test.cpp - extend/truncate and speculative decoding -----===//
//
// For every generated model (7 families, both exporters' idioms):
//   - prefill(p) then extend(d) gives the logits of prefill(p ++ d), and
//     extend + truncate + extend those of the straight path, in every KV
//     mode and both paddings (bmc with r = 3, so passes cross growths),
//     and with bf16 (bmc, skip) and fp16 (prealloc, mask) KV caches;
//   - greedy speculative decoding gives exactly the tokens of plain greedy
//     decoding for k in {1, 2, 4, 8}, every KV mode and padding, with three
//     drafters (a replayed continuation corrupted at random, which mixes
//     acceptances and rejections; the model drafting for itself; prompt
//     lookup) and a draft model of another family;
//   - the cache holds at most valid + r + k + 1 rows in bmc mode.
// The distribution of sampled speculative decoding is tested against the
// exact distribution of plain sampling on a small-vocabulary model
// (SpeculativeSampling), and the errors of the API in SpeculativeErrors.
//
//===----------------------------------------------------------------------===//

#include "bmc/speculative.h"
#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <tuple>

namespace bmc::e2e {
namespace {

constexpr double kTolerance = 1e-5; // the same kernels over a different split of rows between passes
// With bf16/fp16 caches the rows appended by the two paths differ in the last
// fp32 bits (summation order), and a value that close to a rounding midpoint
// rounds to the neighbouring bf16/fp16 value: one element moves by a rounding
// step. The logits then agree to within one unit roundoff of the type
// (fp16 2^-11 = 4.9e-4, bf16 2^-8 = 3.9e-3), not 1e-5 (fp16 measured up to 7.5e-5).
double toleranceFor(const CompileOptions &co) {
  return co.kvType == KVType::BF16 ? std::ldexp(1.0, -8) : co.kvType == KVType::F16 ? std::ldexp(1.0, -11) : kTolerance;
}
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

struct Config {
  std::string name;
  CompileOptions co;
  SessionOptions so;
};

/// Every KV mode and padding; bmc with a small r so that passes of several
/// rows cross reallocations.
std::vector<Config> configs() {
  CompileOptions skip, mask, concat, bf16, f16mask;
  mask.kvPadding = KVPadding::Mask;
  concat.kvMode = KVMode::Concat;
  bf16.kvType = KVType::BF16; // rows rounded on append: extend and truncate must not care
  f16mask.kvType = KVType::F16;
  f16mask.kvPadding = KVPadding::Mask;
  SessionOptions r3, pre, autoR;
  r3.r = 3;
  pre.kvMode = "prealloc";
  // Within the learned positions of every family (a draft of another family must hold the target's context).
  r3.maxContext = pre.maxContext = autoR.maxContext = 512;
  return {{"bmc r=3 skip", skip, r3},   {"bmc r=3 mask", mask, r3}, {"bmc auto-r skip", skip, autoR},
          {"prealloc skip", skip, pre}, {"prealloc mask", mask, pre}, {"concat", concat, autoR},
          {"bmc r=3 skip bf16", bf16, r3}, {"prealloc mask f16", f16mask, pre}};
}

class Speculative : public ::testing::TestWithParam<std::string> {
protected:
  std::string path() const { return generatedModelPath(GetParam()); }
  void SetUp() override { ASSERT_TRUE(fileExists(path())) << path() << " is missing: build bmc_e2e_models"; }
};

std::unique_ptr<Session> open(const std::shared_ptr<Model> &m, SessionOptions so, bool keepAll = false) {
  so.keepAllLogits = keepAll;
  auto s = Session::create(m, so);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s.value()) : nullptr;
}

std::vector<int64_t> cat(std::vector<int64_t> a, const std::vector<int64_t> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// allLogits() rows [from, from + n) of sequence 0 of `a` against rows
/// [0, n) of `b`'s, each within `tolerance`.
void expectRowsMatch(const Tensor &straight, int64_t from, const Tensor &got, const std::string &what,
                     double tolerance) {
  ASSERT_EQ(got.rank(), 3) << what;
  int64_t n = got.shape()[1], V = got.shape()[2];
  ASSERT_GE(straight.shape()[1], from + n) << what;
  for (int64_t i = 0; i < n; ++i) {
    LogitDiff d = compareLogits(got.data<float>() + i * V, straight.data<float>() + (from + i) * V, V);
    EXPECT_LE(d.rel, tolerance) << what << ", row " << i << ": " << d.describe();
  }
}

TEST_P(Speculative, ExtendAndTruncateMatchTheStraightPath) {
  const std::vector<int64_t> d = {5, 77, 300, 12, 9}, e = {64, 3, 250}, f = {1, 2};
  for (const Config &c : configs()) {
    SCOPED_TRACE(c.name);
    auto m = compiled(path(), c.co);
    ASSERT_TRUE(m.ok()) << m.status().message();
    // prefill(p) + extend(d) == prefill(p ++ d)
    auto ref = open(m.value(), c.so, /*keepAll=*/true);
    ASSERT_TRUE(ref);
    ASSERT_TRUE(ref->prefill({cat(kPrompt, d)}).ok());
    Tensor straight = ref->allLogits();
    auto s = open(m.value(), c.so);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->prefill({kPrompt}).ok());
    Status x = s->extend({d});
    ASSERT_TRUE(x.ok()) << x.message();
    EXPECT_EQ(s->length(), int64_t(kPrompt.size() + d.size()));
    expectRowsMatch(straight, int64_t(kPrompt.size()), s->allLogits(), "extend after prefill",
                    toleranceFor(c.co));
    EXPECT_EQ(s->logits().shape()[0], 1);

    // ... then keep 2 of d, extend(e), keep 1 of e, extend(f): the straight
    // path is prefill(p ++ d[0..2) ++ e[0..1) ++ f).
    ASSERT_TRUE(s->truncate(int64_t(kPrompt.size()) + 2).ok());
    EXPECT_EQ(s->length(), int64_t(kPrompt.size()) + 2);
    ASSERT_TRUE(s->extend({e}).ok());
    ASSERT_TRUE(s->truncate(int64_t(kPrompt.size()) + 3).ok());
    ASSERT_TRUE(s->extend({f}).ok());
    std::vector<int64_t> path2 = cat(cat(cat(kPrompt, {d[0], d[1]}), {e[0]}), f);
    auto ref2 = open(m.value(), c.so, true);
    ASSERT_TRUE(ref2->prefill({path2}).ok());
    expectRowsMatch(ref2->allLogits(), int64_t(path2.size() - f.size()), s->allLogits(), "extend after truncate",
                    toleranceFor(c.co));
    if (c.so.r == 3) {
      // Rollback in bmc mode is free: no growth or copy beyond what the rows need.
      // The longest pass appended 5 rows: capacity <= valid + 5 + r.
      EXPECT_LE(s->kvStats().bytesAllocated, s->kvStats().bytesUsed / s->length() * (s->length() + 5 + 3))
          << "capacity beyond valid + pass rows + r";
    }
  }
}

std::vector<int64_t> greedyTokens(const std::shared_ptr<Model> &m, const SessionOptions &so, int n) {
  auto s = open(m, so);
  GenerateOptions g;
  g.maxNewTokens = n;
  auto out = s->generate({kPrompt}, g);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? out.value()[0] : std::vector<int64_t>{};
}

TEST_P(Speculative, GreedyOutputIsExact) {
  constexpr int kTokens = 48;
  // A draft model of another family: same vocabulary, other weights.
  std::string other = GetParam().rfind("llama", 0) == 0 ? "gpt2_op17" : "llama_op17";
  auto otherModel = compiled(generatedModelPath(other));
  ASSERT_TRUE(otherModel.ok()) << otherModel.status().message();
  int64_t accepted = 0, rejected = 0;
  for (const Config &c : configs()) {
    auto m = compiled(path(), c.co);
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::vector<int64_t> plain = greedyTokens(m.value(), c.so, kTokens);
    ASSERT_EQ(plain.size(), size_t(kTokens));
    struct D { std::string name; std::function<std::shared_ptr<Drafter>()> make; };
    std::vector<D> drafters = {
        {"replay p=0.6", [&] { return std::make_shared<ReplayDrafter>(cat(kPrompt, plain), 0.6, 7); }},
        {"self", [&] { return std::make_shared<ModelDrafter>(m.value(), c.so); }},
        {"prompt lookup", [&] { return std::make_shared<PromptLookupDrafter>(3); }},
        {"draft " + other, [&] { return std::make_shared<ModelDrafter>(otherModel.value()); }}};
    for (const D &dr : drafters)
      for (int64_t k : {1, 2, 4, 8, 0}) { // 0: the cost model's choice before each pass
        SCOPED_TRACE(c.name + ", " + dr.name + ", k=" + std::to_string(k));
        auto s = open(m.value(), c.so);
        GenerateOptions g;
        g.maxNewTokens = kTokens;
        g.speculative.drafter = dr.make();
        g.speculative.k = k;
        std::vector<int64_t> streamed;
        auto out = s->generate({kPrompt}, g, [&](int64_t step, const std::vector<int64_t> &t) {
          EXPECT_EQ(step, int64_t(streamed.size()));
          streamed.push_back(t[0]);
          return true;
        });
        ASSERT_TRUE(out.ok()) << out.status().message();
        EXPECT_EQ(out.value()[0], plain) << "speculative: " << join(out.value()[0]) << "\nplain:       " << join(plain);
        EXPECT_EQ(streamed, out.value()[0]);
        const GenerateStats &st = s->generateStats();
        EXPECT_EQ(st.stop, GenerateStats::Stop::MaxNewTokens);
        EXPECT_LE(st.targetPasses, kTokens - 1);
        if (dr.name == "self")
          EXPECT_GE(st.acceptanceRate(), 0.9) << "a model drafting for itself is rejected only at near-ties";
        if (dr.name.rfind("replay", 0) == 0) accepted += st.draftAccepted, rejected += st.draftProposed - st.draftAccepted;
        if (c.name == "bmc r=3 skip") {
          // Memory O(valid + r): the pass's k + 1 rows live in spare rows.
          const KVStats &kv = s->kvStats();
          int64_t rowBytes = kv.bytesUsed / s->length();
          EXPECT_LE(kv.bytesAllocated, rowBytes * (s->length() + 3 + k + 1));
        }
      }
  }
  // The replayed drafts exercised both verdicts.
  EXPECT_GT(accepted, 50);
  EXPECT_GT(rejected, 50);
}

INSTANTIATE_TEST_SUITE_P(Generated, Speculative, ::testing::ValuesIn(generatedModels()),
                         [](const ::testing::TestParamInfo<std::string> &i) { return i.param; });


//===----------------------------------------------------------------------===//
// Fully 16-bit graphs: 16-bit caches and logits
//===----------------------------------------------------------------------===//

// X.f16.onnx / X.bf16.onnx (make_fp16_decoder.py: 16-bit weights, activations,
// caches and logits), compiled with default options: KV caches of the graph's
// type (in place; concat: the graph's 16-bit tensors, cropped by a copy on
// rollback) and 16-bit logits, widened by the session. Extend/truncate
// against the straight path: the caches' rows differ by a rounding step
// (u: 2^-11 f16, 2^-8 bf16) as with --kv-type above, and each path's logits
// are rounded once to the graph's type at the output (at most one ulp, 2u
// relative, apart): 3u of max |logit|.
class Speculative16 : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
protected:
  std::string path() const {
    return modelsDir() + "/" + std::get<0>(GetParam()) + "." + std::get<1>(GetParam()) + ".onnx";
  }
  double u() const { return std::get<1>(GetParam()) == "bf16" ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }
  static std::vector<Config> configs16() {
    CompileOptions skip, mask, concat;
    mask.kvPadding = KVPadding::Mask;
    concat.kvMode = KVMode::Concat;
    SessionOptions r3, pre, autoR;
    r3.r = 3;
    pre.kvMode = "prealloc";
    r3.maxContext = pre.maxContext = autoR.maxContext = 512;
    return {{"bmc r=3 skip", skip, r3}, {"prealloc mask", mask, pre}, {"concat", concat, autoR}};
  }
  void SetUp() override { ASSERT_TRUE(fileExists(path())) << path() << " is missing: build bmc_e2e_models"; }
};

/// Rows of rejected drafts are rewritten: after extend(d) and truncate to 2
/// of d's 5 rows, extend(e) (other tokens at the same positions) gives the
/// logits of the straight path p ++ d[0..2) ++ e, not of rows left by d.
TEST_P(Speculative16, RejectedRowsAreRewritten) {
  const std::vector<int64_t> d = {5, 77, 300, 12, 9}, e = {64, 3, 250};
  const std::string type = std::get<1>(GetParam());
  for (const Config &c : configs16()) {
    SCOPED_TRACE(c.name);
    auto m = compiled(path(), c.co);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_EQ(m.value()->signature().decoder.kvType, type); // the graph's caches, in every mode
    ASSERT_EQ(m.value()->signature().outputs[size_t(m.value()->signature().decoder.logits)].dtype,
              type == "bf16" ? DType::BF16 : DType::F16);
    auto s = open(m.value(), c.so, /*keepAll=*/true);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->prefill({kPrompt}).ok());
    ASSERT_TRUE(s->extend({d}).ok());
    ASSERT_TRUE(s->truncate(int64_t(kPrompt.size()) + 2).ok());
    ASSERT_TRUE(s->extend({e}).ok());
    const std::vector<int64_t> straight = cat(cat(kPrompt, {d[0], d[1]}), e);
    auto ref = open(m.value(), c.so, true);
    ASSERT_TRUE(ref->prefill({straight}).ok());
    expectRowsMatch(ref->allLogits(), int64_t(straight.size() - e.size()), s->allLogits(), "extend after truncate",
                    3 * u());
    // The rows d left behind would give other logits: the comparison can fail.
    auto stale = open(m.value(), c.so, true);
    ASSERT_TRUE(stale->prefill({cat(kPrompt, d)}).ok());
    const int64_t V = s->vocab();
    LogitDiff other = compareLogits(s->allLogits().data<float>() + V, stale->allLogits().data<float>() +
                                    (int64_t(kPrompt.size()) + 3) * V, V);
    EXPECT_GT(other.rel, 3 * u()) << "the paths with and without the rejected rows are not told apart";
  }
}

/// Greedy speculative decoding gives the tokens of plain greedy decoding of
/// the same compiled graph, with drafts accepted and rejected (replay) and a
/// model drafting for itself, in place and concat.
TEST_P(Speculative16, GreedyOutputIsExact) {
  constexpr int kTokens = 40;
  int64_t accepted = 0, rejected = 0;
  for (const Config &c : configs16()) {
    auto m = compiled(path(), c.co);
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::vector<int64_t> plain = greedyTokens(m.value(), c.so, kTokens);
    ASSERT_EQ(plain.size(), size_t(kTokens));
    struct D { std::string name; std::function<std::shared_ptr<Drafter>()> make; };
    std::vector<D> drafters = {
        {"replay p=0.6", [&] { return std::make_shared<ReplayDrafter>(cat(kPrompt, plain), 0.6, 7); }},
        {"self", [&] { return std::make_shared<ModelDrafter>(m.value(), c.so); }}};
    for (const D &dr : drafters)
      for (int64_t k : {1, 4, 0}) {
        SCOPED_TRACE(c.name + ", " + dr.name + ", k=" + std::to_string(k));
        auto s = open(m.value(), c.so);
        GenerateOptions g;
        g.maxNewTokens = kTokens;
        g.speculative.drafter = dr.make();
        g.speculative.k = k;
        auto out = s->generate({kPrompt}, g);
        ASSERT_TRUE(out.ok()) << out.status().message();
        EXPECT_EQ(out.value()[0], plain) << "speculative: " << join(out.value()[0]) << "\nplain:       " << join(plain);
        const GenerateStats &st = s->generateStats();
        EXPECT_LE(st.targetPasses, kTokens - 1);
        if (dr.name == "self") EXPECT_GE(st.acceptanceRate(), 0.9);
        else accepted += st.draftAccepted, rejected += st.draftProposed - st.draftAccepted;
      }
  }
  EXPECT_GT(accepted, 30);
  EXPECT_GT(rejected, 30);
}

INSTANTIATE_TEST_SUITE_P(Generated, Speculative16,
                         ::testing::Combine(::testing::Values("llama_op17", "gpt2_op18"),
                                            ::testing::Values("f16", "bf16")),
                         [](const auto &info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

//===----------------------------------------------------------------------===//
// Sampled speculative decoding has the distribution of plain sampling
//===----------------------------------------------------------------------===//

// A one-layer Llama with 16 tokens (so that 20k draws cover every outcome)
// and a draft of the same shape with other weights.
std::string smallTarget() { return modelsDir() + "/llama_v16.onnx"; }
std::string smallDraft() { return modelsDir() + "/llama_v16_draft.onnx"; }

/// Pearson's chi-square of `counts` against probabilities `expected`
/// (cells with an expected count under 5 pooled into one), and the
/// critical value at significance 1e-4 (Wilson-Hilferty).
struct ChiSquare {
  double stat = 0, critical = 0;
  int df = 0;
};
ChiSquare chiSquare(const std::vector<double> &counts, const std::vector<double> &expected, double n) {
  ChiSquare c;
  double pooledObs = 0, pooledExp = 0;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double e = expected[i] * n;
    if (e < 5) { pooledObs += counts[i], pooledExp += e; continue; }
    c.stat += (counts[i] - e) * (counts[i] - e) / e;
    ++cells;
  }
  if (pooledExp > 0) c.stat += (pooledObs - pooledExp) * (pooledObs - pooledExp) / std::max(pooledExp, 1e-9), ++cells;
  c.df = std::max(cells - 1, 1);
  const double z = 3.719; // one-sided normal quantile of 1e-4
  double a = 2.0 / (9.0 * c.df);
  c.critical = c.df * std::pow(1 - a + z * std::sqrt(a), 3);
  return c;
}

/// A deterministic drafter that often agrees with the target: the greedy
/// choice of a model (its tokens count as proposed with probability 1).
class GreedyDrafter : public ModelDrafter {
public:
  using ModelDrafter::ModelDrafter;
  Status propose(const std::vector<int64_t> &c, int64_t k, const GenerateOptions &, uint64_t &rng,
                 DraftProposal &out) override {
    return ModelDrafter::propose(c, k, GenerateOptions(), rng, out);
  }
};

class SpeculativeSampling : public ::testing::Test {
protected:
  static constexpr int kDraws = 20000;
  const std::vector<int64_t> prompt = {1, 5, 9, 3, 12, 7, 1, 5};
  int64_t V = 0;
  std::shared_ptr<Model> target, draft;
  void SetUp() override {
    ASSERT_TRUE(fileExists(smallTarget()) && fileExists(smallDraft())) << "build bmc_e2e_models";
    auto t = compiled(smallTarget()), d = compiled(smallDraft());
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_TRUE(d.ok()) << d.status().message();
    target = t.value();
    draft = d.value();
    V = target->signature().decoder.vocab;
    ASSERT_EQ(V, 16);
  }
  static SessionOptions fixedR() {
    SessionOptions so;
    so.r = 16;
    so.maxContext = 64;
    return so;
  }
  /// The exact joint distribution of the 2nd and 3rd generated tokens
  /// (V x V, x2-major) under plain sampling from `m` with `o`.
  std::vector<double> exactPair(const std::shared_ptr<Model> &m, const GenerateOptions &o) {
    auto s = open(m, fixedR(), /*keepAll=*/true);
    std::vector<double> joint(size_t(V * V), 0.0);
    for (int64_t x1 = 0; x1 < V; ++x1)
      for (int64_t x2 = 0; x2 < V; ++x2) {
        EXPECT_TRUE(s->prefill({cat(prompt, {x1, x2})}).ok());
        const float *l = s->allLogits().data<float>();
        int64_t n = int64_t(prompt.size());
        double p1 = tokenDistribution(l + (n - 1) * V, V, o)[size_t(x1)];
        double p2 = tokenDistribution(l + n * V, V, o)[size_t(x2)];
        std::vector<double> p3 = tokenDistribution(l + (n + 1) * V, V, o);
        for (int64_t x3 = 0; x3 < V; ++x3) joint[size_t(x2 * V + x3)] += p1 * p2 * p3[size_t(x3)];
      }
    return joint;
  }
  /// Counts of (x2, x3) over kDraws generations with seeds 1..kDraws.
  std::vector<double> drawPairs(const std::shared_ptr<Model> &m, GenerateOptions o, GenerateStats *total = nullptr) {
    auto s = open(m, fixedR());
    std::vector<double> counts(size_t(V * V), 0.0);
    o.maxNewTokens = 4; // k = 2 proposes x2 and x3 (a pass proposes at most the tokens still wanted)
    for (int i = 0; i < kDraws; ++i) {
      o.seed = uint64_t(i + 1);
      auto out = s->generate({prompt}, o);
      EXPECT_TRUE(out.ok()) << out.status().message();
      if (!out.ok() || out.value()[0].size() != 4) return counts;
      counts[size_t(out.value()[0][1] * V + out.value()[0][2])] += 1;
      if (total) {
        total->targetPasses += s->generateStats().targetPasses;
        total->draftProposed += s->generateStats().draftProposed;
        total->draftAccepted += s->generateStats().draftAccepted;
      }
    }
    return counts;
  }
};

TEST_F(SpeculativeSampling, MatchesTheTargetDistribution) {
  GenerateOptions plainT1;
  plainT1.temperature = 1.0f;
  GenerateOptions truncated;
  truncated.temperature = 0.8f;
  truncated.topK = 8;
  truncated.topP = 0.9f;
  struct Case { std::string name; GenerateOptions o; std::function<std::shared_ptr<Drafter>()> drafter; int64_t k; };
  std::vector<Case> cases = {
      {"draft model, k=1 (bonus row)", plainT1, [&] { return std::make_shared<ModelDrafter>(draft, fixedR()); }, 1},
      {"draft model, k=2", plainT1, [&] { return std::make_shared<ModelDrafter>(draft, fixedR()); }, 2},
      {"draft model, k=2, T=0.8 top-k 8 top-p 0.9", truncated,
       [&] { return std::make_shared<ModelDrafter>(draft, fixedR()); }, 2},
      {"greedy target as a deterministic drafter, k=2", plainT1,
       [&] { return std::make_shared<GreedyDrafter>(target, fixedR()); }, 2},
      {"prompt lookup (deterministic), k=2", plainT1, [] { return std::make_shared<PromptLookupDrafter>(2); }, 2}};

  // The test can tell distributions apart: the draft's own samples fail it,
  // and plain sampling from the target passes it.
  std::vector<double> exact = exactPair(target, plainT1);
  ChiSquare wrong = chiSquare(drawPairs(draft, plainT1), exact, kDraws);
  EXPECT_GT(wrong.stat, wrong.critical) << "the draft's own distribution passed: the test has no power";
  ChiSquare plain = chiSquare(drawPairs(target, plainT1), exact, kDraws);
  EXPECT_LT(plain.stat, plain.critical) << "plain sampling does not match its exact distribution";
  std::printf("plain sampling: chi2 %.1f (df %d, critical %.1f); the draft model's samples: chi2 %.1f\n", plain.stat,
              plain.df, plain.critical, wrong.stat);

  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    GenerateOptions o = c.o;
    o.speculative.drafter = c.drafter();
    o.speculative.k = c.k;
    GenerateStats st;
    std::vector<double> counts = drawPairs(target, o, &st);
    ChiSquare x = chiSquare(counts, c.o.topK ? exactPair(target, c.o) : exact, kDraws);
    EXPECT_LT(x.stat, x.critical);
    // Both verdicts happened, often enough to matter (prompt lookup over
    // random tokens is rarely right: a few hundred acceptances).
    EXPECT_GT(st.draftAccepted, 100);
    EXPECT_GT(st.draftProposed - st.draftAccepted, kDraws / 20);
    std::printf("%s: chi2 %.1f (df %d, critical %.1f), acceptance %.2f over %lld drafts\n", c.name.c_str(), x.stat,
                x.df, x.critical, st.acceptanceRate(), (long long)st.draftProposed);
  }
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// Proposes whatever it is given, to test what generate() accepts.
class FixedDrafter : public Drafter {
public:
  explicit FixedDrafter(std::vector<int64_t> t) : tokens_(std::move(t)) {}
  Status propose(const std::vector<int64_t> &, int64_t, const GenerateOptions &, uint64_t &,
                 DraftProposal &out) override {
    out.tokens = tokens_;
    return Status();
  }
  std::string describe() const override { return "fixed"; }

private:
  std::vector<int64_t> tokens_;
};

TEST(SpeculativeErrors, BadSettingsAndCallsGetOneLineErrors) {
  auto m = compiled(generatedModelPath("llama_op17"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.maxContext = 64;
  auto s = open(m.value(), so);
  ASSERT_TRUE(s);
  EXPECT_TRUE(isError(s->extend({{1, 2}}), "call prefill first"));
  EXPECT_TRUE(isError(s->truncate(0), "call prefill first"));
  ASSERT_TRUE(s->prefill({kPrompt}).ok());
  EXPECT_TRUE(isError(s->extend({{}}), "at least one token"));
  EXPECT_TRUE(isError(s->extend({{1}, {2}}), "for 1 sequences, found 2"));
  EXPECT_TRUE(isError(s->extend({{1, 100000}}), "outside the vocabulary"));
  EXPECT_TRUE(isError(s->extend({std::vector<int64_t>(60, 1)}), "exceeds the maximum context of 64"));
  EXPECT_EQ(s->length(), int64_t(kPrompt.size())) << "a refused extend changed the cache";
  EXPECT_TRUE(isError(s->truncate(7), "expected a length in [0, 6], found 7"));
  EXPECT_TRUE(isError(s->truncate(-1), "found -1"));

  GenerateOptions g;
  g.maxNewTokens = 8;
  g.speculative.drafter = std::make_shared<PromptLookupDrafter>();
  g.speculative.k = -1;
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "draft length k >= 1 (or 0: the cost model's choice), found -1"));
  g.speculative.k = 0;
  g.speculative.maxK = 0;
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "expected maxK >= 1"));
  g.speculative.maxK = 8;
  g.speculative.k = 64;
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "does not fit the maximum context of 64"));
  g.speculative.k = 2;
  EXPECT_TRUE(isError(s->generate({kPrompt, kPrompt}, g), "expected batch 1, found 2"));
  g.speculative.drafter = std::make_shared<PromptLookupDrafter>(1, 2);
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "min n-gram <= max n-gram"));
  g.speculative.drafter = std::make_shared<FixedDrafter>(std::vector<int64_t>{1, 2, 3});
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "proposed 3 tokens, at most 2"));
  g.speculative.drafter = std::make_shared<FixedDrafter>(std::vector<int64_t>{-4});
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "token id -4 outside the vocabulary"));
  auto small = compiled(smallDraft());
  ASSERT_TRUE(small.ok()) << small.status().message();
  g.speculative.drafter = std::make_shared<ModelDrafter>(small.value());
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "expected the target's vocabulary of 512 tokens, found 16"));
  g.speculative.drafter = std::make_shared<ModelDrafter>(nullptr);
  EXPECT_TRUE(isError(s->generate({kPrompt}, g), "draft model: none given"));
  // A draft of gpt2 (1024 learned positions) for a target allowed 4096 tokens.
  auto gpt2 = compiled(generatedModelPath("gpt2_op17"));
  ASSERT_TRUE(gpt2.ok());
  auto wide = open(m.value(), SessionOptions());
  g.speculative.drafter = std::make_shared<ModelDrafter>(gpt2.value());
  EXPECT_TRUE(isError(wide->generate({kPrompt}, g), "holds at most 1024 positions"));
  // Still usable after the refusals.
  g.speculative.drafter = std::make_shared<PromptLookupDrafter>();
  EXPECT_TRUE(s->generate({kPrompt}, g).ok());
}

/// k = 0: the cost model picks k before each pass from the acceptance rate
/// measured so far. A free drafter that is right 90% of the time is worth
/// long drafts (a pass streams the weights once for all its rows).
TEST(SpeculativeErrors, CostModelChoosesLongDraftsForAFreeAccurateDrafter) {
  auto m = compiled(generatedModelPath("llama_op17"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.maxContext = 256;
  GenerateOptions g;
  g.maxNewTokens = 96;
  auto plain = open(m.value(), so)->generate({kPrompt}, g);
  ASSERT_TRUE(plain.ok());
  g.speculative.drafter = std::make_shared<ReplayDrafter>(cat(kPrompt, plain.value()[0]), 0.9);
  g.speculative.k = 0;
  auto s = open(m.value(), so);
  auto out = s->generate({kPrompt}, g);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value()[0], plain.value()[0]);
  EXPECT_GE(s->generateStats().lastK, 3) << "tokens per pass " << s->generateStats().tokensPerPass();
  EXPECT_LE(s->generateStats().lastK, g.speculative.maxK);
  EXPECT_GT(s->generateStats().tokensPerPass(), 2.0);
}

/// A bmc cache never grows past the maximum context: the last growth stops
/// there (rows beyond it could never be used, and a capacity above the
/// address range reserved would map and copy the whole cache again).
TEST(SpeculativeErrors, CapacityStopsAtTheMaximumContext) {
  auto m = compiled(generatedModelPath("llama_op17"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.maxContext = 40;
  so.r = 16;
  GenerateOptions g;
  g.maxNewTokens = 100;
  auto s = open(m.value(), so);
  ASSERT_TRUE(s->generate({kPrompt}, g).ok());
  EXPECT_EQ(s->length(), 40);
  const KVStats &kv = s->kvStats();
  EXPECT_EQ(kv.peakBytesAllocated, kv.bytesUsed) << "capacity beyond the 40 rows of the maximum context";
}

/// Generation that reaches the maximum context says so, with and without drafts.
TEST(SpeculativeErrors, ContextFullIsReported) {
  auto m = compiled(generatedModelPath("llama_op17"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.maxContext = 20;
  GenerateOptions g;
  g.maxNewTokens = 100;
  auto plain = open(m.value(), so);
  auto a = plain->generate({kPrompt}, g);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(plain->generateStats().stop, GenerateStats::Stop::ContextFull);
  EXPECT_EQ(a.value()[0].size(), size_t(20 - kPrompt.size() + 1));
  g.speculative.drafter = std::make_shared<ReplayDrafter>(cat(kPrompt, a.value()[0]), 0.8);
  g.speculative.k = 4;
  auto spec = open(m.value(), so);
  auto b = spec->generate({kPrompt}, g);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(spec->generateStats().stop, GenerateStats::Stop::ContextFull);
  EXPECT_EQ(b.value()[0], a.value()[0]);
  EXPECT_STREQ(GenerateStats::name(GenerateStats::Stop::ContextFull), "context_full");
}

//===----------------------------------------------------------------------===//
// The process-wide KV limit: a growth that would pass it fails cleanly
//===----------------------------------------------------------------------===//

TEST(KvMemoryLimit, GrowthFailureKeepsTheTokensAndTheSession) {
  struct Reset { ~Reset() { setProcessKVLimit(0); } } reset;
  auto m = compiled(generatedModelPath("llama_op17"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.r = 4;
  so.maxContext = 128;
  GenerateOptions g;
  g.maxNewTokens = 40;
  auto plain = open(m.value(), so)->generate({kPrompt}, g);
  ASSERT_TRUE(plain.ok());
  const std::vector<int64_t> &want = plain.value()[0];

  const int64_t base = processKVBytes(); // KV bytes held by other sessions (none here)
  auto s = open(m.value(), so);
  ASSERT_TRUE(s->prefill({kPrompt}).ok());
  const int64_t rowBytes = s->kvStats().bytesUsed / s->length(); // all caches
  const int64_t limit = base + rowBytes * 30;
  setProcessKVLimit(limit);
  auto out = s->generate({kPrompt}, g);
  EXPECT_TRUE(isError(out, "beyond the process limit"));
  EXPECT_EQ(s->generateStats().stop, GenerateStats::Stop::Error);
  const std::vector<int64_t> got = s->generated().at(0);
  ASSERT_GE(got.size(), 10u);
  ASSERT_LT(got.size(), want.size());
  EXPECT_EQ(got, std::vector<int64_t>(want.begin(), want.begin() + int64_t(got.size()))) << "tokens lost or changed";
  EXPECT_LE(processKVBytes(), limit);
  // The session holds every generated token but the last: it goes on once memory is there.
  EXPECT_EQ(s->length(), int64_t(kPrompt.size() + got.size() - 1));
  setProcessKVLimit(0);
  ASSERT_TRUE(s->step({got.back()}).ok());
  const float *l = s->logits().data<float>();
  EXPECT_EQ(std::max_element(l, l + s->vocab()) - l, want[got.size()]);
  s.reset();
  EXPECT_EQ(processKVBytes(), base) << "a session's KV bytes were not returned";
  // Speculative decoding under the same limit keeps its tokens too.
  setProcessKVLimit(limit);
  g.speculative.drafter = std::make_shared<ReplayDrafter>(cat(kPrompt, want), 0.8);
  auto spec = open(m.value(), so);
  EXPECT_TRUE(isError(spec->generate({kPrompt}, g), "beyond the process limit"));
  EXPECT_EQ(spec->generateStats().stop, GenerateStats::Stop::Error);
  const std::vector<int64_t> gs = spec->generated().at(0);
  ASSERT_GE(gs.size(), 10u);
  EXPECT_EQ(gs, std::vector<int64_t>(want.begin(), want.begin() + int64_t(gs.size())));
  spec.reset();
  EXPECT_EQ(processKVBytes(), base);
}

TEST(KvMemoryLimit, CliPrintsTheTokensItHadAndOneLine) {
  std::string model = generatedModelPath("llama_op17");
  // 4 caches x 2 heads x 16 dims x 4 bytes = 512 bytes per row: room for 48 of the 66 rows.
  ProcessResult r = runProcess({"/usr/bin/env", "BMC_MAX_KV_BYTES=24576", bmcRunPath(), model, "--prompt",
                                "11,42,7,300,5,99", "--max-new-tokens", "60", "--r", "4", "--quiet"});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_EQ(r.signal, 0) << r.describe();
  EXPECT_NE(r.err.find("beyond the process limit of 24576 bytes"), std::string::npos) << r.describe();
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.describe();
  ASSERT_FALSE(r.out.empty()) << "the tokens generated before the failure were not printed";
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), ','), 9) << r.out;
}

} // namespace
} // namespace bmc::e2e
