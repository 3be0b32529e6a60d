//===- speculative_test.cpp - extend/truncate and speculative decoding -----===//
//
// For every generated model (7 families, both exporters' idioms):
//   - prefill(p) then extend(d) gives the logits of prefill(p ++ d), and
//     extend + truncate + extend those of the straight path, in every KV
//     mode and both paddings (bmc with r = 3, so passes cross growths);
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

namespace bmc::e2e {
namespace {

constexpr double kTolerance = 1e-5; // the same kernels over a different split of rows between passes
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

struct Config {
  std::string name;
  CompileOptions co;
  SessionOptions so;
};

/// Every KV mode and padding; bmc with a small r so that passes of several
/// rows cross reallocations.
std::vector<Config> configs() {
  CompileOptions skip, mask, concat;
  mask.kvPadding = "mask";
  concat.kvMode = KVMode::Concat;
  SessionOptions r3, pre, autoR;
  r3.r = 3;
  pre.kvMode = "prealloc";
  // Within the learned positions of every family (a draft of another family must hold the target's context).
  r3.maxContext = pre.maxContext = autoR.maxContext = 512;
  return {{"bmc r=3 skip", skip, r3},   {"bmc r=3 mask", mask, r3}, {"bmc auto-r skip", skip, autoR},
          {"prealloc skip", skip, pre}, {"prealloc mask", mask, pre}, {"concat", concat, autoR}};
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
/// [0, n) of `b`'s, each within kTolerance.
void expectRowsMatch(const Tensor &straight, int64_t from, const Tensor &got, const std::string &what) {
  ASSERT_EQ(got.rank(), 3) << what;
  int64_t n = got.shape()[1], V = got.shape()[2];
  ASSERT_GE(straight.shape()[1], from + n) << what;
  for (int64_t i = 0; i < n; ++i) {
    LogitDiff d = compareLogits(got.data<float>() + i * V, straight.data<float>() + (from + i) * V, V);
    EXPECT_LE(d.rel, kTolerance) << what << ", row " << i << ": " << d.describe();
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
    expectRowsMatch(straight, int64_t(kPrompt.size()), s->allLogits(), "extend after prefill");
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
    expectRowsMatch(ref2->allLogits(), int64_t(path2.size() - f.size()), s->allLogits(), "extend after truncate");
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
      for (int64_t k : {1, 2, 4, 8}) {
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

} // namespace
} // namespace bmc::e2e
