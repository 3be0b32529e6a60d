// Fused attention: the AVX2 kernel against the reference on odd sizes, GQA
// ratios 1/3/4, strided (interleaved) layouts, broadcast masks, fully masked
// rows, and KV buffers whose spare rows hold NaN / huge garbage, with 1, 2 and
// 3 threads (the latter two exercise the split-KV merge).
#include "test_util.h"

#include <cfloat>
#include <limits>
#include <string>

namespace bmc {
namespace kernels {
namespace test {
namespace {

enum class MaskKind { None, Full, BroadcastKv, PerBatchQ, CausalNegInf, AllNegInf, AllLowest };

struct AttnCase {
  int64_t batch, heads, kvHeads, qLen, kvLen, kvPadded, headDim, vHeadDim;
  MaskKind mask;
  bool interleaved; // q/out stored [b, q, h, d] and k/v [b, kvpad, kvh, d]
  int threads;
};

std::string describe(const AttnCase &c) {
  return "b=" + std::to_string(c.batch) + " h=" + std::to_string(c.heads) + "/" + std::to_string(c.kvHeads) +
         " q=" + std::to_string(c.qLen) + " kv=" + std::to_string(c.kvLen) + "/" + std::to_string(c.kvPadded) +
         " d=" + std::to_string(c.headDim) + "/" + std::to_string(c.vHeadDim) + " mask=" +
         std::to_string(int(c.mask)) + (c.interleaved ? " interleaved" : "") +
         " threads=" + std::to_string(c.threads);
}

struct AttnData {
  std::vector<float> q, k, v, mask, out;
  bmc_attention_args args{};
};

AttnData makeData(const AttnCase &c, std::mt19937 &rng) {
  AttnData d;
  bmc_attention_args &a = d.args;
  a.batch = c.batch;
  a.heads = c.heads;
  a.kv_heads = c.kvHeads;
  a.q_len = c.qLen;
  a.kv_len = c.kvLen;
  a.kv_padded_len = c.kvPadded;
  a.head_dim = c.headDim;
  a.v_head_dim = c.vHeadDim;
  a.scale = 1.0f / std::sqrt(float(c.headDim));
  const int64_t qPad = 3, kPad = 5; // row padding: strides are not tight
  if (!c.interleaved) {
    a.q_rs = c.headDim + qPad; a.q_hs = c.qLen * a.q_rs; a.q_bs = c.heads * a.q_hs;
    a.o_rs = c.vHeadDim + 1;   a.o_hs = c.qLen * a.o_rs; a.o_bs = c.heads * a.o_hs;
    a.k_rs = c.headDim + kPad; a.k_hs = c.kvPadded * a.k_rs; a.k_bs = c.kvHeads * a.k_hs;
    a.v_rs = c.vHeadDim + 2;   a.v_hs = c.kvPadded * a.v_rs; a.v_bs = c.kvHeads * a.v_hs;
  } else {
    a.q_hs = c.headDim + qPad; a.q_rs = c.heads * a.q_hs; a.q_bs = c.qLen * a.q_rs;
    a.o_hs = c.vHeadDim;       a.o_rs = c.heads * a.o_hs; a.o_bs = c.qLen * a.o_rs;
    a.k_hs = c.headDim;        a.k_rs = c.kvHeads * a.k_hs + kPad; a.k_bs = c.kvPadded * a.k_rs;
    a.v_hs = c.vHeadDim + 1;   a.v_rs = c.kvHeads * a.v_hs; a.v_bs = c.kvPadded * a.v_rs;
  }
  d.q = randomVector(size_t(c.batch * a.q_bs), rng);
  d.k = randomVector(size_t(c.batch * a.k_bs), rng, -2.0f, 2.0f);
  d.v = randomVector(size_t(c.batch * a.v_bs), rng);
  d.out.assign(size_t(c.batch * a.o_bs), 777.0f);
  // Spare rows hold garbage that must never reach the output.
  const float garbage[] = {std::numeric_limits<float>::quiet_NaN(), 1e30f, -INFINITY, INFINITY};
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.kvHeads; ++h)
      for (int64_t j = c.kvLen; j < c.kvPadded; ++j) {
        for (int64_t e = 0; e < c.headDim; ++e)
          d.k[size_t(b * a.k_bs + h * a.k_hs + j * a.k_rs + e)] = garbage[(j + e) % 4];
        for (int64_t e = 0; e < c.vHeadDim; ++e)
          d.v[size_t(b * a.v_bs + h * a.v_hs + j * a.v_rs + e)] = garbage[(j + e + 1) % 4];
      }

  const int64_t kvStride = c.kvLen + 2; // mask rows are padded too
  switch (c.mask) {
  case MaskKind::None:
    return d;
  case MaskKind::Full:
    a.m_ks = 1; a.m_qs = kvStride; a.m_hs = c.qLen * kvStride; a.m_bs = c.heads * a.m_hs;
    break;
  case MaskKind::BroadcastKv: // [1, 1, 1, kv]
    a.m_ks = 1; a.m_qs = 0; a.m_hs = 0; a.m_bs = 0;
    break;
  case MaskKind::PerBatchQ: // [b, 1, q, kv] with a non-unit kv stride
    a.m_ks = 2; a.m_qs = 2 * kvStride; a.m_hs = 0; a.m_bs = c.qLen * a.m_qs;
    break;
  case MaskKind::CausalNegInf:
  case MaskKind::AllNegInf:
  case MaskKind::AllLowest:
    a.m_ks = 1; a.m_qs = kvStride; a.m_hs = 0; a.m_bs = c.qLen * kvStride;
    break;
  }
  int64_t maskSize = 1 + (c.batch - 1) * a.m_bs + (c.heads - 1) * a.m_hs + (c.qLen - 1) * a.m_qs +
                     (c.kvLen - 1) * a.m_ks;
  d.mask = randomVector(size_t(std::max<int64_t>(maskSize, 1)), rng, -3.0f, 1.0f);
  if (c.mask == MaskKind::CausalNegInf || c.mask == MaskKind::AllNegInf || c.mask == MaskKind::AllLowest)
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t i = 0; i < c.qLen; ++i)
        for (int64_t j = 0; j < c.kvLen; ++j) {
          float &m = d.mask[size_t(b * a.m_bs + i * a.m_qs + j)];
          const bool causal = j <= c.kvLen - c.qLen + i;
          m = c.mask == MaskKind::AllLowest ? -3.4e38f
            : c.mask == MaskKind::AllNegInf || !causal ? -INFINITY : 0.0f;
        }
  a.mask = d.mask.data();
  return d;
}

template <class Fast> void checkAttention(const AttnCase &c, std::mt19937 &rng, Fast fast) {
  SCOPED_TRACE(describe(c));
  AttnData data = makeData(c, rng);
  bmc_attention_args a = data.args;
  a.q = data.q.data();
  a.k = data.k.data();
  a.v = data.v.data();
  std::vector<float> want = data.out, got = data.out;
  a.out = want.data();
  ref::attention(nullptr, a);
  a.out = got.data();
  fast(poolFor(c.threads), a);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.qLen; ++i)
        for (int64_t e = 0; e < c.vHeadDim; ++e) {
          const size_t at = size_t(b * a.o_bs + h * a.o_hs + i * a.o_rs + e);
          ASSERT_FALSE(std::isnan(want[at])) << "reference produced NaN";
          // Output is a convex combination of v (|v| <= 1): absolute scale 1.
          ASSERT_TRUE(closeTo(got[at], want[at], 1.0)) << "b=" << b << " h=" << h << " i=" << i << " e=" << e;
        }
  for (size_t at = 0; at < got.size(); ++at) { // nothing outside the rows/columns
    if (want[at] == 777.0f) {
      ASSERT_EQ(got[at], 777.0f) << "wrote into padding at " << at;
    }
  }
}

TEST(Attention, RefFullyMaskedRowIsUniformNotNaN) {
  // Two kv rows, mask -inf everywhere: plain softmax over -3.4e38 values.
  const float q[2] = {1, 2}, k[4] = {1, 0, 0, 1}, v[4] = {1, 10, 3, 20};
  const float mask[2] = {-INFINITY, -INFINITY};
  float out[2] = {0, 0};
  bmc_attention_args a{};
  a.batch = a.heads = a.kv_heads = a.q_len = 1;
  a.kv_len = a.kv_padded_len = 2;
  a.head_dim = a.v_head_dim = 2;
  a.q = q; a.k = k; a.v = v; a.out = out; a.mask = mask;
  a.q_rs = a.k_rs = a.v_rs = a.o_rs = 2;
  a.m_ks = 1;
  a.scale = 1.0f;
  ref::attention(nullptr, a);
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 15.0f);
  out[0] = out[1] = 0;
  bmc_attention_f32(nullptr, &a);
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 15.0f);
}

TEST(Attention, EmptyKvGivesZeros) {
  for (bool useFast : {false, true}) {
    if (useFast && !haveAvx2())
      continue;
    const float q[4] = {1, 2, 3, 4}, k[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    float out[4] = {5, 5, 5, 5};
    bmc_attention_args a{};
    a.batch = a.heads = a.kv_heads = a.q_len = 1;
    a.kv_len = 0;
    a.kv_padded_len = 2; // masked mode with only spare rows
    a.head_dim = a.v_head_dim = 4;
    a.q = q; a.k = k; a.v = k; a.out = out;
    a.q_rs = a.k_rs = a.v_rs = a.o_rs = 4;
    a.scale = 1.0f;
    if (useFast)
      avx2::attention(nullptr, a);
    else
      ref::attention(nullptr, a);
    for (float x : out)
      EXPECT_EQ(x, 0.0f);
  }
}

TEST(Attention, Avx2MatchesRefDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(17);
  const int64_t kvLens[] = {1, 5, 63, 64, 65, 300, 1000};
  const int64_t dims[] = {16, 17, 64, 128};
  const int64_t groups[][2] = {{1, 1}, {3, 1}, {4, 1}, {6, 2}, {8, 2}, {4, 4}};
  const MaskKind masks[] = {MaskKind::None, MaskKind::Full, MaskKind::BroadcastKv, MaskKind::PerBatchQ};
  int i = 0;
  for (int64_t kv : kvLens)
    for (int64_t dim : dims)
      for (const auto &g : groups) {
        ++i;
        const int64_t padded = kv + (i % 3 == 0 ? 0 : i % 3 == 1 ? 7 : 64);
        AttnCase c{1 + i % 2, g[0], g[1], 1, kv, padded, dim, i % 4 == 0 ? 24 : dim,
                   masks[i % 4], i % 5 == 0, 1 + i % 3};
        checkAttention(c, rng, avx2::attention);
        if (HasFatalFailure())
          return;
      }
}

TEST(Attention, Avx2MatchesRefPrefill) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(23);
  const int64_t qLens[] = {2, 3, 17, 40};
  const int64_t kvExtra[] = {0, 1, 70};
  const int64_t dims[] = {16, 33, 64};
  const int64_t groups[][2] = {{1, 1}, {3, 1}, {8, 2}, {2, 2}};
  const MaskKind masks[] = {MaskKind::None, MaskKind::Full, MaskKind::CausalNegInf, MaskKind::BroadcastKv,
                            MaskKind::PerBatchQ};
  int i = 0;
  for (int64_t q : qLens)
    for (int64_t extra : kvExtra)
      for (int64_t dim : dims)
        for (const auto &g : groups) {
          ++i;
          const int64_t kv = q + extra;
          AttnCase c{1 + i % 2, g[0], g[1], q, kv, kv + (i % 2) * 9, dim, dim, masks[i % 5], i % 3 == 0,
                     1 + i % 2};
          checkAttention(c, rng, avx2::attention);
          if (HasFatalFailure())
            return;
        }
}

TEST(Attention, Avx2MatchesRefFullyMaskedRows) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(29);
  for (MaskKind m : {MaskKind::AllNegInf, MaskKind::AllLowest, MaskKind::CausalNegInf})
    for (int threads : {1, 2}) {
      checkAttention({1, 4, 2, 1, 700, 760, 32, 32, m, false, threads}, rng, avx2::attention);
      checkAttention({2, 3, 1, 5, 40, 49, 16, 16, m, true, threads}, rng, avx2::attention);
      if (HasFatalFailure())
        return;
    }
}

TEST(Attention, Avx2MatchesRefModelShapes) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(31);
  const AttnCase cases[] = {
      {1, 8, 8, 1, 2048, 2048 + 256, 64, 64, MaskKind::BroadcastKv, false, 2}, // GPT-2 decode, BMC buffer
      {1, 8, 2, 1, 4100, 4100, 64, 64, MaskKind::None, false, 2},              // Llama GQA decode
      {1, 1, 1, 1, 4096, 4096, 128, 128, MaskKind::None, false, 2},            // one head: split kv
      {1, 8, 8, 128, 128, 160, 64, 64, MaskKind::CausalNegInf, false, 2},      // prefill
      {2, 32, 1, 1, 333, 400, 64, 64, MaskKind::Full, true, 3},                // MQA, 32 heads/group
  };
  for (const AttnCase &c : cases) {
    checkAttention(c, rng, avx2::attention);
    if (HasFatalFailure())
      return;
  }
}

TEST(Attention, CAbiMatchesRef) {
  std::mt19937 rng(37);
  auto viaAbi = [](ThreadPool *pool, const bmc_attention_args &a) { bmc_attention_f32(pool, &a); };
  checkAttention({2, 6, 2, 3, 90, 100, 24, 24, MaskKind::Full, false, 2}, rng, viaAbi);
  checkAttention({1, 4, 1, 1, 600, 640, 64, 64, MaskKind::None, true, 2}, rng, viaAbi);
}

} // namespace
} // namespace test
} // namespace kernels
} // namespace bmc
