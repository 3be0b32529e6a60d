// Fused attention: the AVX2 kernel against the reference on odd sizes, GQA
// ratios 1 to 16, strided (interleaved) layouts, broadcast masks, fully masked
// rows, and KV buffers whose spare rows hold NaN / huge garbage, with 1, 2 and
// 3 threads (the latter two exercise the split-KV merge). Both fast paths:
// the group tile (q_len 1 with several heads per kv head, or q_len <= 16
// positions of speculative verification) and the
// generic tile with its mask-skip table (prefill with masks that remove whole
// blocks: causal, random blocks, left padding, fully masked rows).
#include "attention_avx2.h"
#include "test_util.h"

#include <cfloat>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace bmc {
namespace kernels {
namespace test {
namespace {

enum class MaskKind {
  None, Full, BroadcastKv, PerBatchQ, CausalNegInf, AllNegInf, AllLowest,
  CausalHeads,   // [b, h, q, kv] causal, -inf above the diagonal
  Blocks,        // [b, 1, q, kv] random blocks of -inf / -FLT_MAX / -3.4e38 / values, some rows all -inf
  BlocksHeads,   // the same per head, [b, h, q, kv]
  BlocksStrided, // [b, 1, q, kv] with a kv stride of 3
  PadLeft,       // [b, 1, 1, kv]: batch b masks its first columns; batch 1 masks everything
};

// Deterministic hash of mask coordinates (block patterns independent of rng order).
uint32_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return uint32_t(x);
}

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
  case MaskKind::Blocks:
    a.m_ks = 1; a.m_qs = kvStride; a.m_hs = 0; a.m_bs = c.qLen * kvStride;
    break;
  case MaskKind::CausalHeads:
  case MaskKind::BlocksHeads:
    a.m_ks = 1; a.m_qs = kvStride; a.m_hs = c.qLen * kvStride; a.m_bs = c.heads * a.m_hs;
    break;
  case MaskKind::BlocksStrided:
    a.m_ks = 3; a.m_qs = 3 * kvStride; a.m_hs = 0; a.m_bs = c.qLen * a.m_qs;
    break;
  case MaskKind::PadLeft:
    a.m_ks = 1; a.m_qs = 0; a.m_hs = 0; a.m_bs = kvStride;
    break;
  }
  int64_t maskSize = 1 + (c.batch - 1) * a.m_bs + (c.heads - 1) * a.m_hs + (c.qLen - 1) * a.m_qs +
                     (c.kvLen - 1) * a.m_ks;
  d.mask = randomVector(size_t(std::max<int64_t>(maskSize, 1)), rng, -3.0f, 1.0f);
  // Random blocks at a granularity unrelated to the kernel's (so that some of
  // its tiles are fully masked and some partly), of every kind of "masked".
  const uint64_t seed = rng();
  const int64_t qb = 1 + int64_t(seed % 3) * 7, kb = 8 + int64_t(seed / 3 % 4) * 14; // 1/8/15 x 8/22/36/50
  auto blockValue = [&](int64_t b, int64_t h, int64_t i, int64_t j, float random) {
    if (mix(seed + 7919 * uint64_t(b * 64 + h) + 104729 * uint64_t(i)) % 8 == 0)
      return -INFINITY; // the whole row
    switch (mix(seed ^ (uint64_t(b * 64 + h) << 40) ^ (uint64_t(i / qb) << 20) ^ uint64_t(j / kb)) % 8) {
    case 0: case 1: case 2: return -INFINITY;
    case 3: return -FLT_MAX;
    case 4: return -3.4e38f; // above -FLT_MAX: no skip, but still weight 0
    default: return random;
    }
  };
  const bool perHead = a.m_hs != 0;
  if (c.mask != MaskKind::Full && c.mask != MaskKind::BroadcastKv && c.mask != MaskKind::PerBatchQ)
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t h = 0; h < (perHead ? c.heads : 1); ++h)
        for (int64_t i = 0; i < (a.m_qs ? c.qLen : 1); ++i)
          for (int64_t j = 0; j < c.kvLen; ++j) {
            float &m = d.mask[size_t(b * a.m_bs + h * a.m_hs + i * a.m_qs + j * a.m_ks)];
            const bool causal = j <= c.kvLen - c.qLen + i;
            switch (c.mask) {
            case MaskKind::AllLowest: m = -3.4e38f; break;
            case MaskKind::AllNegInf: m = -INFINITY; break;
            case MaskKind::CausalNegInf:
            case MaskKind::CausalHeads: m = causal ? 0.0f : -INFINITY; break;
            case MaskKind::PadLeft: m = b == 1 || j < (b * 37 + 5) % c.kvLen ? -INFINITY : 0.0f; break;
            default: m = blockValue(b, h, i, j, m); break;
            }
          }
  a.mask = d.mask.data();
  return d;
}

// The score transforms every case of a test runs with (softcap, smooth
// softmax); ScoreModeScope sets them for the case sweeps below.
struct ScoreMode {
  float softcap = 0.0f;
  int32_t smooth = 0;
};
ScoreMode gScoreMode;
struct ScoreModeScope {
  explicit ScoreModeScope(ScoreMode m) { gScoreMode = m; }
  ~ScoreModeScope() { gScoreMode = ScoreMode{}; }
};

// kvType BMC_KV_BF16 / _F16: K and V (spare rows' garbage included) rounded
// to that type; the fast kernel and the reference both read the narrow buffers.
template <class Fast>
void checkAttention(const AttnCase &c, std::mt19937 &rng, Fast fast, int32_t kvType = BMC_KV_F32) {
  SCOPED_TRACE(describe(c) + " kv_type=" + std::to_string(kvType) + " softcap=" +
               std::to_string(gScoreMode.softcap) + " smooth=" + std::to_string(gScoreMode.smooth));
  AttnData data = makeData(c, rng);
  bmc_attention_args a = data.args;
  a.softcap = gScoreMode.softcap;
  a.smooth_softmax = gScoreMode.smooth;
  a.q = data.q.data();
  a.k = data.k.data();
  a.v = data.v.data();
  std::vector<uint16_t> k16, v16;
  if (kvType != BMC_KV_F32) {
    k16.resize(data.k.size());
    v16.resize(data.v.size());
    ref::convertToKV(kvType, data.k.data(), k16.data(), int64_t(k16.size()));
    ref::convertToKV(kvType, data.v.data(), v16.data(), int64_t(v16.size()));
    a.k = k16.data();
    a.v = v16.data();
    a.kv_type = kvType;
  }
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

// Prefill cases over every (q_len, extra kv rows, head dim, heads/kv_heads)
// combination; batch, mask, padded rows (`padStep` when the case index is
// odd), kv-major layout and threads vary with the case index.
void sweepPrefill(std::mt19937 &rng, std::initializer_list<int64_t> qLens, std::initializer_list<int64_t> kvExtra,
                  std::initializer_list<int64_t> dims, std::initializer_list<std::pair<int64_t, int64_t>> groups,
                  const std::vector<MaskKind> &masks, int64_t padStep) {
  int i = 0;
  for (int64_t q : qLens)
    for (int64_t extra : kvExtra)
      for (int64_t dim : dims)
        for (const auto &g : groups) {
          ++i;
          const int64_t kv = q + extra;
          AttnCase c{1 + i % 2, g.first, g.second, q, kv, kv + (i % 2) * padStep, dim, dim,
                     masks[size_t(i) % masks.size()], i % 3 == 0, 1 + i % 2};
          checkAttention(c, rng, avx2::attention);
          if (::testing::Test::HasFatalFailure())
            return;
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

// Decode (q_len 1): MHA (one-row tiles), GQA 3 to 4 (group tiles), head dims
// below, at and above 64 (q in registers or not; O in registers or in L1),
// odd ones, v_head_dim != head_dim, masks, spare rows, 1 to 3 threads.
template <class Fast> void decodeCases(Fast fast, int32_t kvType = BMC_KV_F32) {
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
        checkAttention(c, rng, fast, kvType);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

TEST(Attention, Avx2MatchesRefDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  decodeCases(avx2::attention);
}

TEST(Attention, Avx2MatchesRefPrefill) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(23);
  sweepPrefill(rng, {2, 3, 17, 40}, {0, 1, 70}, {16, 33, 64}, {{1, 1}, {3, 1}, {8, 2}, {2, 2}},
               {MaskKind::None, MaskKind::Full, MaskKind::CausalNegInf, MaskKind::BroadcastKv, MaskKind::PerBatchQ},
               9);
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

// The grouped decode path (several query heads per kv head at q_len 1): GQA
// ratios 2 to 16 (9, 12, 16: two sets of heads per tile), kv_len below the 4
// streams and not a multiple of 8, odd head dims, v_head_dim != head_dim,
// spare rows with NaN, masks of every layout (gathers with per-head, strided
// and broadcast offsets; fully masked rows), 1 to 3 threads (split kv ranges).
template <class Fast> void groupDecodeCases(Fast fast, int32_t kvType = BMC_KV_F32) {
  std::mt19937 rng(41);
  const int64_t kvLens[] = {1, 3, 7, 33, 100, 257, 1030};
  const int64_t dims[][2] = {{64, 64}, {17, 17}, {128, 128}, {40, 24}, {72, 9}};
  const int64_t groups[][2] = {{2, 1}, {4, 2}, {6, 2}, {8, 2}, {9, 1}, {12, 1}, {16, 1}, {3, 3}};
  const MaskKind masks[] = {MaskKind::None,        MaskKind::Full,   MaskKind::BroadcastKv,
                            MaskKind::PerBatchQ,   MaskKind::Blocks, MaskKind::BlocksHeads,
                            MaskKind::BlocksStrided, MaskKind::PadLeft};
  int i = 0;
  for (int64_t kv : kvLens)
    for (const auto &dim : dims)
      for (const auto &g : groups) {
        ++i;
        const int64_t padded = kv + (i % 3 == 0 ? 0 : i % 3 == 1 ? 5 : 70);
        AttnCase c{1 + i % 2, g[0], g[1], 1, kv, padded, dim[0], dim[1], masks[i % 8], i % 5 == 0, 1 + i % 3};
        checkAttention(c, rng, fast, kvType);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

TEST(Attention, Avx2MatchesRefGroupDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  groupDecodeCases(avx2::attention);
}

// The same cases through the AVX-512 entry: tiles of >= 8 rows (GQA 8..16
// at decode) run in the 512-bit group kernel, smaller ones in the AVX2 one.
TEST(Attention, Avx512MatchesRefGroupDecode) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  groupDecodeCases(avx512::attention);
}

// The AVX2 group kernel's zmm loops (AVX-512F, head dims that are multiples
// of 16; by default only for bf16 / fp16 caches) and its ymm loops on the
// same cases for every KV type, whichever the default picks; the setting is
// restored even when a case fails.
TEST(Attention, Avx512GroupKernelZmmAndYmmLoopsMatchRef) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the ymm loops are tested above)";
  using Settings = avx2::attn::GroupSettings;
  struct Restore {
    Settings saved = avx2::attn::groupSettings();
    ~Restore() { avx2::attn::groupSettings() = saved; }
  } restore;
  for (Settings::Zmm z : {Settings::Always, Settings::Never})
    for (int32_t t : {BMC_KV_F32, BMC_KV_BF16, BMC_KV_F16}) {
      SCOPED_TRACE(std::string(z == Settings::Always ? "zmm" : "ymm") + " loops, kv_type " + std::to_string(t));
      avx2::attn::groupSettings().zmm = z;
      groupDecodeCases(avx512::attention, t);
      if (HasFatalFailure())
        return;
    }
}

// Speculative verification: q_len = k + 1 in 2..12 query positions over a
// long KV, every query row of a kv head in one group-kernel tile (K and V read
// once for all of them): MHA and GQA ratios up to 16 x 4 = 64 rows per tile
// (and 19 x 3 = 57: uneven sets of 7-8 rows), causal masks over the last
// q_len rows (broadcast and per head), random blocks, fully masked rows,
// no mask, spare rows with NaN (masked mode) or none (skip mode), odd head
// dims and kv lengths, 1 to 3 threads (split kv ranges).
template <class Fast> void verificationCases(Fast fast, int32_t kvType = BMC_KV_F32) {
  std::mt19937 rng(59);
  const int64_t groups[][2] = {{8, 8}, {8, 2}, {4, 1}, {6, 2}, {3, 3}, {16, 4}, {19, 1}};
  const int64_t dims[][2] = {{64, 64}, {17, 17}, {40, 24}};
  const int64_t kvLens[] = {13, 100, 1031};
  const MaskKind masks[] = {MaskKind::CausalNegInf, MaskKind::CausalHeads, MaskKind::None,
                            MaskKind::Blocks,       MaskKind::AllNegInf,   MaskKind::BroadcastKv,
                            MaskKind::BlocksHeads};
  int i = 0;
  for (int64_t q = 2; q <= 12; ++q)
    for (const auto &g : groups) {
      ++i;
      const auto &dim = dims[size_t(i) % 3];
      const int64_t kv = kvLens[size_t(i / 3) % 3] + q;
      const int64_t padded = kv + (i % 2 ? 0 : 64 + i % 7);
      AttnCase c{1 + i % 2, g[0], g[1], q, kv, padded, dim[0], dim[1], masks[size_t(i) % 7], i % 4 == 0,
                 1 + i % 3};
      checkAttention(c, rng, fast, kvType);
      if (::testing::Test::HasFatalFailure())
        return;
    }
}

TEST(Attention, Avx2MatchesRefVerification) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  verificationCases(avx2::attention);
}

// Verification through the AVX-512 entry: tiles of 8..64 rows (query rows as
// vector lanes, 1 to 4 strips of 16) in the 512-bit group kernel, masks
// transposed per block where non-zero, spare rows with NaN never read.
TEST(Attention, Avx512MatchesRefVerification) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  verificationCases(avx512::attention);
}

// Prefill with masks that remove whole blocks (the mask-skip table): causal
// (broadcast and per head), random blocks of -inf / -FLT_MAX / -3.4e38 at odd
// granularities, a strided mask, left padding, fully masked rows (uniform
// weights over all kv_len rows, skipped blocks included); GQA ratios 1 to 4,
// kv_len not a multiple of the 32-row skip blocks, spare rows with NaN, 1 and
// 2 threads.
TEST(Attention, Avx2MatchesRefMaskedPrefill) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(43);
  sweepPrefill(rng, {2, 5, 16, 17, 40, 70}, {0, 1, 45, 100}, {16, 33, 64}, {{2, 2}, {4, 2}, {6, 2}, {8, 2}},
               {MaskKind::CausalNegInf, MaskKind::CausalHeads, MaskKind::Blocks, MaskKind::BlocksHeads,
                MaskKind::BlocksStrided, MaskKind::PadLeft, MaskKind::AllNegInf},
               11);
}

// Few tiles and 2 or 3 threads: the kv range of a tile is split and merged,
// with skipped blocks and fully masked rows in either part.
TEST(Attention, Avx2MatchesRefMaskedPrefillSplitKv) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(47);
  for (MaskKind m : {MaskKind::Blocks, MaskKind::PadLeft, MaskKind::CausalNegInf, MaskKind::AllNegInf})
    for (int threads : {2, 3}) {
      checkAttention({1, 1, 1, 3, 1300, 1300, 32, 32, m, false, threads}, rng, avx2::attention);
      checkAttention({2, 2, 1, 2, 700, 750, 64, 64, m, true, threads}, rng, avx2::attention);
      if (HasFatalFailure())
        return;
    }
}

// Blocks of 32 kv rows whose mask is <= -FLT_MAX for every query row of a tile
// are skipped: their K and V rows are not read, so (unlike the reference)
// garbage there cannot reach the output. Left-padded sequences rely on this
// only for speed; here it shows the skip happens, with NaN in the 64 padded
// rows and the result equal to the reference on clean data.
TEST(Attention, Avx2SkipsFullyMaskedBlocks) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(53);
  for (int threads : {1, 2}) {
    const AttnCase c{2, 4, 2, 20, 200, 200, 64, 64, MaskKind::None, false, threads};
    SCOPED_TRACE(describe(c));
    AttnData data = makeData(c, rng);
    bmc_attention_args a = data.args;
    const int64_t padded = 64; // two skip blocks
    std::vector<float> mask(size_t(c.kvLen));
    for (int64_t j = 0; j < c.kvLen; ++j)
      mask[size_t(j)] = j < padded ? -INFINITY : 0.0f;
    a.mask = mask.data();
    a.m_ks = 1; // [1, 1, 1, kv]
    std::vector<float> dirtyK = data.k, dirtyV = data.v;
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t h = 0; h < c.kvHeads; ++h)
        for (int64_t j = 0; j < padded; ++j)
          for (int64_t e = 0; e < c.headDim; ++e) {
            dirtyK[size_t(b * a.k_bs + h * a.k_hs + j * a.k_rs + e)] = NAN;
            dirtyV[size_t(b * a.v_bs + h * a.v_hs + j * a.v_rs + e)] = NAN;
          }
    a.q = data.q.data();
    std::vector<float> want = data.out, got = data.out;
    a.k = data.k.data();
    a.v = data.v.data();
    a.out = want.data();
    ref::attention(nullptr, a);
    a.k = dirtyK.data();
    a.v = dirtyV.data();
    a.out = got.data();
    avx2::attention(poolFor(threads), a);
    for (size_t at = 0; at < got.size(); ++at)
      ASSERT_TRUE(closeTo(got[at], want[at], 1.0)) << "at " << at;
  }
}

// ---- bf16 / fp16 KV caches (kv_type) ----------------------------------------

const int32_t kNarrowTypes[] = {BMC_KV_BF16, BMC_KV_F16};

// The reference reads a narrow cache exactly as the fp32 values it widens to.
TEST(Attention, RefNarrowKvEqualsRefOnWidenedValues) {
  std::mt19937 rng(61);
  for (int32_t t : kNarrowTypes)
    for (const AttnCase &c : {AttnCase{2, 6, 2, 3, 37, 45, 17, 9, MaskKind::Full, false, 1},
                              AttnCase{1, 4, 1, 1, 300, 300, 64, 64, MaskKind::None, true, 2}}) {
      SCOPED_TRACE(describe(c) + " kv_type=" + std::to_string(t));
      AttnData d = makeData(c, rng);
      std::vector<uint16_t> k16(d.k.size()), v16(d.v.size());
      ref::convertToKV(t, d.k.data(), k16.data(), int64_t(k16.size()));
      ref::convertToKV(t, d.v.data(), v16.data(), int64_t(v16.size()));
      std::vector<float> kw(d.k.size()), vw(d.v.size()), narrow = d.out, wide = d.out;
      ref::convertFromKV(t, k16.data(), kw.data(), int64_t(kw.size()));
      ref::convertFromKV(t, v16.data(), vw.data(), int64_t(vw.size()));
      bmc_attention_args a = d.args;
      a.q = d.q.data();
      a.k = kw.data(); a.v = vw.data(); a.out = wide.data();
      ref::attention(poolFor(c.threads), a);
      a.k = k16.data(); a.v = v16.data(); a.out = narrow.data(); a.kv_type = t;
      ref::attention(poolFor(c.threads), a);
      for (size_t i = 0; i < wide.size(); ++i)
        ASSERT_TRUE(narrow[i] == wide[i] || (std::isnan(narrow[i]) && std::isnan(wide[i]))) << "at " << i;
    }
}

TEST(Attention, Avx2MatchesRefNarrowKvGroupDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  for (int32_t t : kNarrowTypes)
    groupDecodeCases(avx2::attention, t);
}

// K and V read in their own type by the decode tiles (widened in registers):
// one-row MHA tiles through the generic tile's narrow loads (q and O in
// registers or not, partial last vectors) and GQA group tiles.
TEST(Attention, Avx2MatchesRefNarrowKvDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  for (int32_t t : kNarrowTypes)
    decodeCases(avx2::attention, t);
}

TEST(Attention, Avx512MatchesRefNarrowKvDecode) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  for (int32_t t : kNarrowTypes)
    decodeCases(avx512::attention, t);
}

TEST(Attention, Avx512MatchesRefNarrowKvGroupDecode) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  for (int32_t t : kNarrowTypes)
    groupDecodeCases(avx512::attention, t);
}

// Verification-sized query blocks: q_len 1 to 20 (past kMaxVerifyLen = 16 the
// generic tiles take over), GQA and MHA, kv lengths across several widened
// blocks of BMC_KV_CONVERT_ROWS rows, both entries.
template <class Fast> void narrowRowsCases(Fast fast, int32_t kvType) {
  std::mt19937 rng(67);
  const int64_t groups[][2] = {{8, 2}, {4, 4}, {16, 4}, {3, 1}};
  const int64_t dims[][2] = {{64, 64}, {17, 17}, {40, 24}};
  const int64_t kvLens[] = {13, 270, 531};
  const MaskKind masks[] = {MaskKind::CausalNegInf, MaskKind::None, MaskKind::Blocks, MaskKind::CausalHeads};
  for (int64_t q = 1; q <= 20; ++q) {
    const int i = int(q);
    const auto &g = groups[q % 4];
    const auto &dim = dims[q % 3];
    const int64_t kv = kvLens[(q / 3) % 3] + q, padded = kv + (q % 2 ? 0 : 40 + q);
    AttnCase c{1 + i % 2, g[0], g[1], q, kv, padded, dim[0], dim[1], masks[q % 4], i % 5 == 0, 1 + i % 3};
    checkAttention(c, rng, fast, kvType);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

TEST(Attention, Avx2MatchesRefNarrowKvVerification) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  for (int32_t t : kNarrowTypes)
    narrowRowsCases(avx2::attention, t);
}

TEST(Attention, Avx512MatchesRefNarrowKvVerification) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  for (int32_t t : kNarrowTypes)
    narrowRowsCases(avx512::attention, t);
}

// Prefill with mask-skip blocks, fully masked rows (the uniform mean of V read
// from the narrow cache), long decode with split kv ranges and several
// widened blocks, MHA and GQA.
TEST(Attention, Avx2MatchesRefNarrowKvPrefillAndLongDecode) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  std::mt19937 rng(71);
  const AttnCase cases[] = {
      {1, 8, 2, 1, 2100, 2100 + 77, 64, 64, MaskKind::None, false, 2},
      {1, 8, 8, 1, 1030, 1030, 64, 64, MaskKind::BroadcastKv, false, 3},
      {1, 1, 1, 1, 777, 800, 33, 33, MaskKind::None, true, 2},
      {2, 4, 2, 40, 300, 333, 16, 16, MaskKind::CausalNegInf, false, 2},
      {1, 4, 2, 17, 290, 290, 64, 64, MaskKind::Blocks, false, 1},
      {2, 3, 1, 5, 40, 49, 16, 16, MaskKind::AllNegInf, true, 2},
      {1, 2, 1, 3, 1300, 1300, 32, 32, MaskKind::PadLeft, false, 3},
  };
  for (int32_t t : kNarrowTypes)
    for (const AttnCase &c : cases) {
      checkAttention(c, rng, avx2::attention, t);
      if (avx512::cpuSupported())
        checkAttention(c, rng, avx512::attention, t);
      if (HasFatalFailure())
        return;
    }
}

// ---- Soft cap and smooth softmax --------------------------------------------

// The reference against the formulas written out by hand: one query, three
// kv rows, scores s_j = cap * tanh(scale * q.k_j / cap) + mask_j, then
// softmax or exp(s_j - m) / (exp(-m) + sum exp(s_j - m)).
TEST(Attention, RefSoftcapAndSmoothSoftmaxByHand) {
  const float q[2] = {3, -1}, k[6] = {2, 0, 0, 4, 1, 1}, v[6] = {1, 10, -2, 4, 5, 0.5f};
  const float mask[3] = {0.0f, -0.5f, 0.25f};
  const double dots[3] = {6, -4, 2};
  for (float cap : {0.0f, 2.0f, 30.0f})
    for (int smooth : {0, 1})
      for (bool masked : {false, true}) {
        SCOPED_TRACE("cap=" + std::to_string(cap) + " smooth=" + std::to_string(smooth) +
                     " masked=" + std::to_string(masked));
        double s[3], m = smooth ? 0.0 : -1e300, sum = 0.0, want[2] = {0, 0};
        for (int j = 0; j < 3; ++j) {
          const double x = 0.7 * dots[j];
          s[j] = (cap > 0 ? cap * std::tanh(x / cap) : x) + (masked ? mask[j] : 0.0);
          m = std::max(m, s[j]);
        }
        if (smooth)
          sum = std::exp(-m);
        for (int j = 0; j < 3; ++j)
          sum += std::exp(s[j] - m);
        for (int j = 0; j < 3; ++j)
          for (int d = 0; d < 2; ++d)
            want[d] += std::exp(s[j] - m) / sum * v[j * 2 + d];
        float out[2] = {0, 0};
        bmc_attention_args a{};
        a.batch = a.heads = a.kv_heads = a.q_len = 1;
        a.kv_len = a.kv_padded_len = 3;
        a.head_dim = a.v_head_dim = 2;
        a.q = q; a.k = k; a.v = v; a.out = out; a.mask = masked ? mask : nullptr;
        a.q_rs = a.k_rs = a.v_rs = a.o_rs = 2;
        a.m_ks = 1;
        a.scale = 0.7f;
        a.softcap = cap;
        a.smooth_softmax = smooth;
        ref::attention(nullptr, a);
        EXPECT_NEAR(out[0], want[0], 1e-5 * (1 + std::fabs(want[0])));
        EXPECT_NEAR(out[1], want[1], 1e-5 * (1 + std::fabs(want[1])));
        out[0] = out[1] = 0;
        bmc_attention_f32(nullptr, &a);
        EXPECT_NEAR(out[0], want[0], 1e-5 * (1 + std::fabs(want[0])));
        EXPECT_NEAR(out[1], want[1], 1e-5 * (1 + std::fabs(want[1])));
      }
}

// Smooth softmax gives a fully masked row out = 0 (the implicit zero logit
// takes all the weight), not the uniform average of plain softmax.
TEST(Attention, RefSmoothSoftmaxFullyMaskedRowIsZero) {
  const float q[2] = {1, 2}, k[4] = {1, 0, 0, 1}, v[4] = {1, 10, 3, 20};
  const float mask[2] = {-INFINITY, -INFINITY};
  float out[2] = {5, 5};
  bmc_attention_args a{};
  a.batch = a.heads = a.kv_heads = a.q_len = 1;
  a.kv_len = a.kv_padded_len = 2;
  a.head_dim = a.v_head_dim = 2;
  a.q = q; a.k = k; a.v = v; a.out = out; a.mask = mask;
  a.q_rs = a.k_rs = a.v_rs = a.o_rs = 2;
  a.m_ks = 1;
  a.scale = 1.0f;
  a.smooth_softmax = 1;
  ref::attention(nullptr, a);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  out[0] = out[1] = 5;
  bmc_attention_f32(nullptr, &a);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
}

// A cap that bites (2: every score squashed into (-2, 2)), Gemma-2's 30 (a
// small change at these scores, |s| < ~4) and smooth softmax, alone
// and together, over the sweeps above: decode (MHA, GQA group tiles),
// verification, prefill with the mask-skip table and fully masked rows, split
// kv ranges, f32/bf16/fp16 KV, skip and mask padding.
const ScoreMode kScoreModes[] = {{2.0f, 0}, {30.0f, 0}, {0.0f, 1}, {2.0f, 1}, {30.0f, 1}};

template <class Fast> void scoreModeCases(Fast fast, bool wide) {
  for (const ScoreMode &mode : kScoreModes) {
    ScoreModeScope scope(mode);
    // The full decode sweeps for three of the modes, narrow KV for one (the
    // transforms act on fp32 scores, after K is widened).
    const bool full = mode.softcap != 30.0f || mode.smooth;
    if (full) {
      decodeCases(fast);
      groupDecodeCases(fast);
      verificationCases(fast);
    }
    if (mode.softcap == 2.0f && mode.smooth)
      for (int32_t t : kNarrowTypes) {
        groupDecodeCases(fast, t);
        verificationCases(fast, t);
      }
    if (::testing::Test::HasFatalFailure())
      return;
    std::mt19937 rng(83);
    if (!wide) // the generic tiles are the same code in both entries
      sweepPrefill(rng, {2, 5, 17, 40}, {0, 1, 45}, {16, 33}, {{2, 2}, {6, 2}, {8, 2}},
                   {MaskKind::CausalNegInf, MaskKind::Blocks, MaskKind::BlocksHeads, MaskKind::PadLeft,
                    MaskKind::AllNegInf, MaskKind::None, MaskKind::Full},
                   11);
    for (MaskKind m : {MaskKind::Blocks, MaskKind::AllNegInf, MaskKind::CausalNegInf})
      for (int32_t t : {int32_t(BMC_KV_F32), int32_t(BMC_KV_BF16), int32_t(BMC_KV_F16)}) {
        checkAttention({1, 1, 1, 3, 1300, 1300, 32, 32, m, false, 3}, rng, fast, t); // split kv
        checkAttention({2, 3, 1, 5, 40, 49, 16, 16, m, true, 2}, rng, fast, t);
      }
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

TEST(Attention, Avx2MatchesRefSoftcapSmoothSoftmax) {
  if (!haveAvx2())
    GTEST_SKIP() << "no AVX2/FMA on this machine";
  scoreModeCases(avx2::attention, false);
}

TEST(Attention, Avx512MatchesRefSoftcapSmoothSoftmax) {
  if (!avx512::cpuSupported())
    GTEST_SKIP() << "no AVX-512F on this machine (the AVX2 path is tested above)";
  scoreModeCases(avx512::attention, true);
}

// Through the C ABI (whatever BMC_KERNELS selects: the forced_* ctest entries
// run it with avx2 and ref): GQA 8 decode (the AVX-512 group kernel's tile
// size), verification and masked prefill.
TEST(Attention, CAbiMatchesRefSoftcapSmoothSoftmax) {
  std::mt19937 rng(89);
  auto viaAbi = [](ThreadPool *pool, const bmc_attention_args &a) { bmc_attention_f32(pool, &a); };
  for (const ScoreMode &mode : kScoreModes) {
    ScoreModeScope scope(mode);
    for (int32_t t : {int32_t(BMC_KV_F32), int32_t(BMC_KV_BF16), int32_t(BMC_KV_F16)}) {
      checkAttention({1, 8, 1, 1, 301, 333, 64, 64, MaskKind::None, false, 2}, rng, viaAbi, t);
      checkAttention({2, 16, 2, 1, 77, 77, 40, 40, MaskKind::PadLeft, true, 3}, rng, viaAbi, t);
      checkAttention({1, 8, 2, 4, 150, 190, 33, 33, MaskKind::CausalHeads, false, 2}, rng, viaAbi, t);
      checkAttention({2, 6, 2, 37, 60, 60, 24, 24, MaskKind::Blocks, false, 2}, rng, viaAbi, t);
    }
    if (HasFatalFailure())
      return;
  }
}

// An unknown kv_type computes nothing (the compiler never emits one).
TEST(Attention, UnknownKvTypeWritesNothing) {
  const float q[2] = {1, 2}, k[4] = {1, 0, 0, 1};
  float out[2] = {5, 5};
  bmc_attention_args a{};
  a.batch = a.heads = a.kv_heads = a.q_len = 1;
  a.kv_len = a.kv_padded_len = 2;
  a.head_dim = a.v_head_dim = 2;
  a.q = q; a.k = k; a.v = k; a.out = out;
  a.q_rs = a.k_rs = a.v_rs = a.o_rs = 2;
  a.scale = 1.0f;
  a.kv_type = 7;
  bmc_attention_f32(nullptr, &a);
  EXPECT_EQ(out[0], 5.0f);
  EXPECT_EQ(out[1], 5.0f);
}

TEST(Attention, CAbiMatchesRefNarrowKv) {
  std::mt19937 rng(73);
  auto viaAbi = [](ThreadPool *pool, const bmc_attention_args &a) { bmc_attention_f32(pool, &a); };
  for (int32_t t : kNarrowTypes) {
    checkAttention({2, 6, 2, 3, 290, 300, 24, 24, MaskKind::Full, false, 2}, rng, viaAbi, t);
    checkAttention({1, 4, 1, 1, 600, 640, 64, 64, MaskKind::None, true, 2}, rng, viaAbi, t);
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
