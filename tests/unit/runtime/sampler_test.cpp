//===- sampler_test.cpp - bmc::sampleTokens: greedy and seeded sampling ---===//

#include "bmc/session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

namespace bmc {
namespace {

Tensor logitsOf(const std::vector<std::vector<float>> &rows) {
  int64_t V = int64_t(rows[0].size());
  Tensor t(DType::F32, {int64_t(rows.size()), V});
  for (size_t b = 0; b < rows.size(); ++b)
    for (int64_t i = 0; i < V; ++i) t.data<float>()[b * V + i] = rows[b][size_t(i)];
  return t;
}

/// Logits whose softmax (at temperature 1) is exactly `probs`.
std::vector<float> logProbs(const std::vector<double> &probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

/// Draws `n` tokens from row 0, one call each, with the rng state carried on.
std::vector<int64_t> draws(const Tensor &logits, const GenerateOptions &o, uint64_t seed, int n) {
  uint64_t rng = seed;
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(sampleTokens(logits, o, rng)[0]);
  return out;
}

GenerateOptions sampling(float temperature, int64_t topK = 0, float topP = 1.0f) {
  GenerateOptions o;
  o.temperature = temperature;
  o.topK = topK;
  o.topP = topP;
  return o;
}

TEST(Sampler, GreedyIsArgmaxPerRow) {
  Tensor l = logitsOf({{0.1f, 3.0f, -1.0f, 2.9f}, {5.0f, 1.0f, 4.0f, -7.0f}, {-3.0f, -2.0f, -1.5f, -4.0f}});
  uint64_t rng = 123;
  std::vector<int64_t> t = sampleTokens(l, GenerateOptions(), rng);
  EXPECT_EQ(t, (std::vector<int64_t>{1, 0, 2}));
}

TEST(Sampler, GreedyTakesTheFirstMaximum) {
  // As torch.argmax and onnxruntime's reference decoder do.
  Tensor l = logitsOf({{1.0f, 7.0f, 7.0f, 7.0f}});
  uint64_t rng = 0;
  EXPECT_EQ(sampleTokens(l, GenerateOptions(), rng)[0], 1);
}

TEST(Sampler, GreedyIgnoresTheSeedAndSamplingKnobs) {
  Tensor l = logitsOf({{0.0f, 0.5f, 2.0f, 1.0f}});
  GenerateOptions o;
  o.topK = 2;
  o.topP = 0.1f;
  for (uint64_t seed : {0ull, 1ull, 99ull, ~0ull}) {
    uint64_t rng = seed;
    EXPECT_EQ(sampleTokens(l, o, rng)[0], 2);
  }
}

TEST(Sampler, SeededSamplingIsReproducible) {
  Tensor l = logitsOf({logProbs({0.2, 0.2, 0.2, 0.2, 0.2})});
  GenerateOptions o = sampling(1.0f);
  EXPECT_EQ(draws(l, o, 1234, 200), draws(l, o, 1234, 200));
}

TEST(Sampler, DifferentSeedsGiveDifferentSequences) {
  Tensor l = logitsOf({logProbs({0.2, 0.2, 0.2, 0.2, 0.2})});
  GenerateOptions o = sampling(1.0f);
  std::vector<int64_t> a = draws(l, o, 1, 64), b = draws(l, o, 2, 64), c = draws(l, o, 3, 64);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
}

TEST(Sampler, SamplingAdvancesTheRngState) {
  Tensor l = logitsOf({logProbs({0.5, 0.5})});
  uint64_t rng = 77;
  sampleTokens(l, sampling(1.0f), rng);
  EXPECT_NE(rng, 77u);
}

TEST(Sampler, FollowsTheDistribution) {
  Tensor l = logitsOf({logProbs({0.7, 0.2, 0.1})});
  std::map<int64_t, int> count;
  const int n = 20000;
  for (int64_t t : draws(l, sampling(1.0f), 42, n)) ++count[t];
  // Binomial standard deviation at n = 20000 is at most 0.0035: 0.02 is > 5 sigma.
  EXPECT_NEAR(count[0] / double(n), 0.7, 0.02);
  EXPECT_NEAR(count[1] / double(n), 0.2, 0.02);
  EXPECT_NEAR(count[2] / double(n), 0.1, 0.02);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  Tensor l = logitsOf({logProbs({0.6, 0.4})});
  auto share0 = [&](float T) {
    int c = 0;
    for (int64_t t : draws(l, sampling(T), 5, 10000)) c += t == 0;
    return c / 10000.0;
  };
  // T = 0.5 squares the probabilities: 0.36 / (0.36 + 0.16) = 0.692.
  EXPECT_NEAR(share0(0.5f), 0.692, 0.025);
  EXPECT_NEAR(share0(1.0f), 0.6, 0.025);
  EXPECT_GT(share0(0.01f), 0.999);
  EXPECT_NEAR(share0(1000.0f), 0.5, 0.025);
}

TEST(Sampler, TopKRestrictsTheSupport) {
  // The three most likely tokens are 4, 1 and 6, in that order.
  Tensor l = logitsOf({{0.0f, 2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.9f, 0.2f}});
  std::set<int64_t> seen;
  for (int64_t t : draws(l, sampling(2.0f, 3), 9, 3000)) seen.insert(t);
  EXPECT_EQ(seen, (std::set<int64_t>{1, 4, 6}));
}

TEST(Sampler, TopKOneIsGreedy) {
  Tensor l = logitsOf({{0.0f, 2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.9f, 0.2f}});
  for (int64_t t : draws(l, sampling(5.0f, 1), 3, 500)) EXPECT_EQ(t, 4);
}

TEST(Sampler, TopKLargerThanTheVocabularyMeansAll) {
  Tensor l = logitsOf({logProbs({0.25, 0.25, 0.25, 0.25})});
  std::set<int64_t> seen;
  for (int64_t t : draws(l, sampling(1.0f, 100), 11, 2000)) seen.insert(t);
  EXPECT_EQ(seen.size(), 4u);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Sorted probabilities 0.5, 0.3, 0.15, 0.05 (tokens 2, 0, 3, 1).
  Tensor l = logitsOf({logProbs({0.3, 0.05, 0.5, 0.15})});
  auto support = [&](float p) {
    std::set<int64_t> seen;
    for (int64_t t : draws(l, sampling(1.0f, 0, p), 21, 4000)) seen.insert(t);
    return seen;
  };
  EXPECT_EQ(support(0.4f), (std::set<int64_t>{2}));
  EXPECT_EQ(support(0.75f), (std::set<int64_t>{2, 0}));
  EXPECT_EQ(support(0.9f), (std::set<int64_t>{2, 0, 3}));
  EXPECT_EQ(support(1.0f), (std::set<int64_t>{2, 0, 3, 1}));
}

TEST(Sampler, TopPRenormalisesWithinTheSupport) {
  // p = 0.75 keeps 0.5 and 0.3: token 2 should come 0.5 / 0.8 = 62.5 % of the time.
  Tensor l = logitsOf({logProbs({0.3, 0.05, 0.5, 0.15})});
  int c = 0;
  const int n = 20000;
  for (int64_t t : draws(l, sampling(1.0f, 0, 0.75f), 8, n)) c += t == 2;
  EXPECT_NEAR(c / double(n), 0.625, 0.02);
}

TEST(Sampler, TopKAndTopPTogether) {
  // top-k 3 keeps 0.5, 0.3, 0.15 (renormalised 0.526, 0.316, 0.158); top-p 0.8 then keeps two.
  Tensor l = logitsOf({logProbs({0.3, 0.05, 0.5, 0.15})});
  std::set<int64_t> seen;
  for (int64_t t : draws(l, sampling(1.0f, 3, 0.8f), 4, 3000)) seen.insert(t);
  EXPECT_EQ(seen, (std::set<int64_t>{2, 0}));
}

TEST(Sampler, RowsAreSampledIndependentlyWithinTheirSupport) {
  Tensor l = logitsOf({{9.0f, 0.0f, 0.0f, 9.0f}, {0.0f, 9.0f, 9.0f, 0.0f}});
  uint64_t rng = 5;
  std::set<int64_t> row0, row1;
  for (int i = 0; i < 500; ++i) {
    std::vector<int64_t> t = sampleTokens(l, sampling(1.0f, 2), rng);
    ASSERT_EQ(t.size(), 2u);
    row0.insert(t[0]);
    row1.insert(t[1]);
  }
  EXPECT_EQ(row0, (std::set<int64_t>{0, 3}));
  EXPECT_EQ(row1, (std::set<int64_t>{1, 2}));
}

TEST(Sampler, SurvivesExtremeLogits) {
  // Large logits must not overflow exp(); -inf (masked) tokens are never drawn.
  const float inf = std::numeric_limits<float>::infinity();
  Tensor l = logitsOf({{1e30f, -inf, 1e30f - 1e24f, -1e30f}});
  for (int64_t t : draws(l, sampling(1.0f), 17, 500)) EXPECT_TRUE(t == 0 || t == 2) << t;
}

} // namespace
} // namespace bmc
