// Reference attention: per query row, one pass for the max score and one pass
// per block of output columns for the softmax-weighted sum of V, accumulated
// in double. K and V elements of a bf16/fp16 cache are widened one by one
// (ref::kvElement, plain C). Scores are formed in fp32 exactly as the contract in kernels.h
// states, so masks of -3.4e38 round the same way as in the fast kernel; the
// soft cap's tanh is taken in double (std::tanh), the fast kernels' in fp32.
#include "kernels_internal.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace bmc {
namespace kernels {
namespace ref {

namespace {

// Element i of a K or V buffer of the call's kv_type, as fp32.
inline float at(const bmc_attention_args &a, const void *base, int64_t i) {
  return kvElement(a.kv_type, base, i);
}

float score(const bmc_attention_args &a, const float *q, const void *k,
            const float *maskRow, int64_t j) {
  double dot = 0.0;
  for (int64_t d = 0; d < a.head_dim; ++d)
    dot += double(q[d]) * at(a, k, j * a.k_rs + d);
  float s = float(dot) * a.scale;
  if (a.softcap > 0.0f)
    s = float(double(a.softcap) * std::tanh(double(s) / double(a.softcap)));
  if (maskRow)
    s += maskRow[j * a.m_ks];
  return std::isnan(s) ? s : std::max(s, -FLT_MAX);
}

void attendRow(const bmc_attention_args &a, int64_t b, int64_t h, int64_t i) {
  const int64_t group = a.heads / a.kv_heads, kvh = h / group;
  const float *q = a.q + b * a.q_bs + h * a.q_hs + i * a.q_rs;
  const int64_t kOff = b * a.k_bs + kvh * a.k_hs, vOff = b * a.v_bs + kvh * a.v_hs;
  const void *k = kvAdvance(a.kv_type, a.k, kOff);
  const void *v = kvAdvance(a.kv_type, a.v, vOff);
  float *out = a.out + b * a.o_bs + h * a.o_hs + i * a.o_rs;
  const float *maskRow =
      a.mask ? a.mask + b * a.m_bs + h * a.m_hs + i * a.m_qs : nullptr;

  if (a.kv_len <= 0) {
    std::fill(out, out + a.v_head_dim, 0.0f);
    return;
  }
  // Smooth softmax: the implicit zero logit takes part in the max (which
  // keeps exp(-maxScore) <= 1) and adds exp(0 - maxScore) to the sum.
  float maxScore = a.smooth_softmax ? 0.0f : -INFINITY;
  for (int64_t j = 0; j < a.kv_len; ++j)
    maxScore = std::max(maxScore, score(a, q, k, maskRow, j));

  constexpr int64_t kCols = 256; // output columns per pass: no allocation
  for (int64_t d0 = 0; d0 < a.v_head_dim; d0 += kCols) {
    const int64_t cols = std::min(kCols, a.v_head_dim - d0);
    double acc[kCols] = {};
    double sum = a.smooth_softmax ? std::exp(-double(maxScore)) : 0.0;
    for (int64_t j = 0; j < a.kv_len; ++j) {
      double w = std::exp(double(score(a, q, k, maskRow, j)) - maxScore);
      sum += w;
      const int64_t vRow = j * a.v_rs + d0;
      for (int64_t d = 0; d < cols; ++d)
        acc[d] += w * at(a, v, vRow + d);
    }
    for (int64_t d = 0; d < cols; ++d)
      out[d0 + d] = float(acc[d] / sum);
  }
}

} // namespace

void attention(ThreadPool *pool, const bmc_attention_args &a) noexcept {
  const int64_t rows = a.batch * a.heads * a.q_len;
  parallelFor(pool, rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      attendRow(a, r / (a.heads * a.q_len), (r / a.q_len) % a.heads, r % a.q_len);
  });
}

} // namespace ref
} // namespace kernels
} // namespace bmc
