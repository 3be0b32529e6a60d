//===- Sampling.cpp - greedy and seeded sampling of the next token ---------===//
//
// sampleTokens() is what generate() draws with; tokenDistribution() exposes
// the same distribution for one row, which speculative sampling needs (the
// target's p and the drafter's q of the acceptance rule).
//
//===----------------------------------------------------------------------===//

#include "bmc/session.h"

#include <algorithm>
#include <cmath>

namespace bmc {

static uint64_t splitmix(uint64_t &s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double uniform01(uint64_t &rng) { return double(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0); }

namespace {
/// What sampling at temperature > 0 draws from: the candidates in order of
/// falling logit, their unnormalised weights, and how many survive top-k and
/// top-p (the first `keep`, of total weight `total`).
struct Candidates {
  std::vector<std::pair<float, int64_t>> cand;
  std::vector<double> p;
  size_t keep = 0;
  double total = 0;
};

Candidates candidates(const float *l, int64_t V, const GenerateOptions &o) {
  Candidates c;
  c.cand.resize(size_t(V));
  for (int64_t i = 0; i < V; ++i) c.cand[size_t(i)] = {l[i] / o.temperature, i};
  std::stable_sort(c.cand.begin(), c.cand.end(), [](auto &a, auto &b) { return a.first > b.first; });
  if (o.topK > 0 && o.topK < V) c.cand.resize(size_t(o.topK));
  double mx = c.cand[0].first, sum = 0;
  c.p.resize(c.cand.size());
  for (size_t i = 0; i < c.cand.size(); ++i) sum += c.p[i] = std::exp(double(c.cand[i].first) - mx);
  c.keep = c.cand.size();
  if (o.topP < 1.0f) {
    double acc = 0;
    for (size_t i = 0; i < c.cand.size(); ++i) {
      acc += c.p[i] / sum;
      if (acc >= o.topP) { c.keep = i + 1; break; }
    }
  }
  for (size_t i = 0; i < c.keep; ++i) c.total += c.p[i];
  return c;
}
} // namespace

std::vector<int64_t> sampleTokens(const Tensor &logits, const GenerateOptions &o, uint64_t &rng) {
  int64_t B = logits.shape()[0], V = logits.shape()[1];
  std::vector<int64_t> out(B);
  for (int64_t b = 0; b < B; ++b) {
    const float *l = logits.data<float>() + b * V;
    if (o.temperature <= 0.0f) {
      out[b] = std::max_element(l, l + V) - l; // first maximum, as argmax
      continue;
    }
    Candidates c = candidates(l, V, o);
    double u = uniform01(rng) * c.total;
    size_t pick = c.keep - 1;
    for (size_t i = 0; i < c.keep; ++i) {
      u -= c.p[i];
      if (u < 0) { pick = i; break; }
    }
    out[b] = c.cand[pick].second;
  }
  return out;
}

std::vector<double> tokenDistribution(const float *l, int64_t V, const GenerateOptions &o) {
  std::vector<double> dist(size_t(V), 0.0);
  if (o.temperature <= 0.0f) {
    dist[size_t(std::max_element(l, l + V) - l)] = 1.0;
    return dist;
  }
  Candidates c = candidates(l, V, o); // exactly what sampleTokens draws from
  for (size_t i = 0; i < c.keep; ++i) dist[size_t(c.cand[i].second)] = c.p[i] / c.total;
  return dist;
}

int64_t sampleFrom(const std::vector<double> &probs, uint64_t &rng) {
  double total = 0;
  int64_t last = -1;
  for (size_t i = 0; i < probs.size(); ++i)
    if (probs[i] > 0) total += probs[i], last = int64_t(i);
  double u = uniform01(rng) * total;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0) continue;
    u -= probs[i];
    if (u < 0) return int64_t(i);
  }
  return last; // rounding left u >= 0: the last token with mass
}

} // namespace bmc
