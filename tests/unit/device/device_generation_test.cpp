// Token generation on a device (runtime/device/DeviceGeneration): the
// decoder-shaped functions of emitted_decoder.mlir, emitted with whole-model
// at build time, their kernels compiled as host C++ (the emulation) on the
// CPU device (and on a GPU, GreedyOnTheGpu, which skips without one), run by
// DeviceGeneration: a 5-token prefill then 20 greedy
// decode steps with r = 3 (the caches grow 7 times), each run's last logits
// against a plain reference written here (loops over the same f32 weights,
// summed in double; K/V rounded to bf16 as @decoder_mask's caches store
// them) and the greedy tokens identical; r = 1, prealloc and fresh buffers
// per growth (no growable reservation) agree with r = 3; decode steps as a
// device graph equal direct runs byte for byte; truncate() rolls back and the
// generation continues as the reference does from there; extend() (several
// tokens in one run, every position's logits) equals single steps and the
// reference, and continues after a rollback as a run that never drafted; a
// prefill copies back only its last position's logits unless every
// position's is asked (byte-equal to the whole copy's row). Then the errors,
// one line each: a prompt or a sequence past the maximum context, a token
// outside the vocabulary, a cache whose growth the device refuses (the
// generation keeps its tokens and continues), a missing weight, a signature
// that does not match the function.
#include "cuda_emulation.h"

#include <atomic>

// The order cudaEmittedKernelSource prepends them in.
// clang-format off
#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "runtime/device/cuda/elementwise.cuh"
#include "runtime/device/cuda/data.cuh"
#include "tests/unit/device/emitted_decoder.cu" // in the build tree
// clang-format on

#include "bmc/abi/kernels.h"
#include "emitted_env.h"
#include "forwarding_device.h"
#include "host_tensors.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceGeneration.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

namespace {

using namespace bmc::device;
using bmc::Result;
using bmc::Status;

#define BMC_EMULATED(name)                                                                                             \
  HostKernel {                                                                                                         \
#name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); }, bmc_emu::argSizes(name),               \
                                                                             bmc_emu::argCount(name)                   \
  }
#define BMC_EMULATED_PRODUCT(base) BMC_EMULATED(base##_gemv), BMC_EMULATED(base##_epilogue), BMC_EMULATED(base##_tiled)

const HostKernel kTable[] = {
    BMC_EMULATED(bmc_gather_0),          BMC_EMULATED(bmc_elementwise_0),     BMC_EMULATED(bmc_elementwise_1),
    BMC_EMULATED(bmc_elementwise_2),     BMC_EMULATED(bmc_elementwise_3),     BMC_EMULATED(bmc_norm_0),            BMC_EMULATED(bmc_kv_append_0),
    BMC_EMULATED(bmc_kv_append_1),       BMC_EMULATED(bmc_attention_0_split), BMC_EMULATED(bmc_attention_0_combine),
    BMC_EMULATED(bmc_attention_1_split), BMC_EMULATED(bmc_attention_1_combine), BMC_EMULATED_PRODUCT(bmc_matmul_0),
    BMC_EMULATED_PRODUCT(bmc_matmul_1),  BMC_EMULATED_PRODUCT(bmc_matmul_2),     BMC_EMULATED(bmc_elementwise_4),
    BMC_EMULATED(bmc_elementwise_5),     BMC_EMULATED(bmc_elementwise_6),     BMC_EMULATED(bmc_range_0),
    BMC_EMULATED(bmc_check_equal_0),
};

constexpr int kVocab = 37, kHidden = 27, kHeadDim = 13, kHeads = 2, kPositions = 64;

using bmc_device_test::f32Tensor;
using bmc_device_test::roundBf16;
std::vector<float> randoms(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  return bmc_device_test::uniform(n, seed, lo, hi);
}

struct Weights {
  std::vector<float> embed, posEmbed, headBias, ln, wq, wk, wv, wo, lm;
  std::map<std::string, HostTensor> host;
  Weights() {
    embed = randoms(kVocab * kHidden, 1, -0.5f, 0.5f), headBias = randoms(kHeads * kHidden, 2);
    posEmbed = randoms(kPositions * kHidden, 9, -1.5f, 1.5f);
    host["pos_embed"] = f32Tensor({kPositions, kHidden}, posEmbed);
    ln = randoms(kHidden, 3, 0.5f, 1.5f), wq = randoms(kHidden * kHeadDim, 4), wk = randoms(kHidden * kHeadDim, 5);
    wv = randoms(kHidden * kHeadDim, 6), wo = randoms(kHeadDim * kHidden, 7), lm = randoms(kHidden * kVocab, 8);
    host["embed"] = f32Tensor({kVocab, kHidden}, embed), host["head_bias"] = f32Tensor({kHeads, 1, kHidden}, headBias);
    host["ln"] = f32Tensor({kHidden}, ln), host["wq"] = f32Tensor({kHidden, kHeadDim}, wq);
    host["wk"] = f32Tensor({kHidden, kHeadDim}, wk), host["wv"] = f32Tensor({kHidden, kHeadDim}, wv);
    host["wo"] = f32Tensor({kHeadDim, kHidden}, wo), host["lm_head"] = f32Tensor({kHidden, kVocab}, lm);
  }
};

// emitted_decoder.mlir's function as plain loops: a K/V history per head
// (rounded as the cache stores it), one call per run.
struct Reference {
  const Weights &w;
  bool bf16;
  std::vector<std::vector<std::vector<double>>> K, V; // [head][row][d]
  Reference(const Weights &w, bool bf16) : w(w), bf16(bf16), K(kHeads), V(kHeads) {}
  double stored(double x) const { return bf16 ? roundBf16(float(x)) : x; }
  double embedded(int64_t token, int pos, int c) const {
    return double(w.embed[token * kHidden + c]) + w.posEmbed[pos * kHidden + c];
  }

  // The last position's logits.
  std::vector<double> run(const std::vector<int64_t> &tokens) {
    const int past = int(K[0].size()), s = int(tokens.size()), total = past + s;
    std::vector<std::vector<std::vector<double>>> q(kHeads, std::vector<std::vector<double>>(s));
    for (int i = 0; i < s; ++i)
      for (int h = 0; h < kHeads; ++h) {
        std::vector<double> x(kHidden), n(kHidden);
        double ss = 0;
        for (int c = 0; c < kHidden; ++c)
          x[c] = embedded(tokens[i], past + i, c) + w.headBias[h * kHidden + c], ss += x[c] * x[c];
        double inv = 1.0 / std::sqrt(ss / kHidden + 1e-5);
        for (int c = 0; c < kHidden; ++c)
          n[c] = x[c] * inv * w.ln[c];
        std::vector<double> k(kHeadDim), v(kHeadDim);
        q[h][i].assign(kHeadDim, 0);
        for (int d = 0; d < kHeadDim; ++d) {
          double sq = 0, sk = 0, sv = 0;
          for (int c = 0; c < kHidden; ++c)
            sq += n[c] * w.wq[c * kHeadDim + d], sk += n[c] * w.wk[c * kHeadDim + d], sv += n[c] * w.wv[c * kHeadDim + d];
          q[h][i][d] = sq, k[d] = stored(sk), v[d] = stored(sv);
        }
        K[h].push_back(k), V[h].push_back(v);
      }
    // Only the last position's logits are compared.
    const int i = s - 1, pos = past + i;
    std::vector<double> hidden(kHidden);
    for (int c = 0; c < kHidden; ++c)
      hidden[c] = embedded(tokens[i], pos, c);
    for (int h = 0; h < kHeads; ++h) {
      std::vector<double> score(total, -INFINITY);
      double mx = -INFINITY;
      for (int j = 0; j <= pos; ++j) { // causal: key position <= query position
        double dot = 0;
        for (int d = 0; d < kHeadDim; ++d)
          dot += q[h][i][d] * K[h][j][d];
        score[j] = dot * 0.25, mx = std::max(mx, score[j]);
      }
      double sum = 0;
      for (double &e : score)
        e = std::exp(e - mx), sum += e;
      std::vector<double> a(kHeadDim, 0);
      for (int j = 0; j < total; ++j)
        for (int d = 0; d < kHeadDim; ++d)
          a[d] += score[j] / sum * V[h][j][d];
      for (int c = 0; c < kHidden; ++c)
        for (int d = 0; d < kHeadDim; ++d)
          hidden[c] += a[d] * w.wo[d * kHidden + c];
    }
    std::vector<double> logits(kVocab, 0);
    for (int t = 0; t < kVocab; ++t)
      for (int c = 0; c < kHidden; ++c)
        logits[t] += hidden[c] * w.lm[c * kVocab + t];
    return logits;
  }
  void truncate(int64_t n) {
    for (int h = 0; h < kHeads; ++h)
      K[h].resize(size_t(n)), V[h].resize(size_t(n));
  }
};

// Largest |got - want| / (1 + |want|).
double worstError(const std::vector<float> &got, const std::vector<double> &want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    double e = std::fabs(double(got[i]) - want[i]) / (1.0 + std::fabs(want[i]));
    if (!(e <= worst))
      worst = e; // NaN counts as worst
  }
  return worst;
}
int64_t argmax(const std::vector<double> &v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

// @decoder_lengths takes the genai / static-cache lengths instead of the mask and positions.
DeviceDecoderSignature signature(const std::string &fn = "") {
  DeviceDecoderSignature s;
  if (fn == "decoder_lengths")
    s.seqlensK = "seqlens_k", s.totalSequenceLength = "total_sequence_length", s.writeIndices = "write_indices",
    s.nonpadKvSeqlen = "nonpad_kv_seqlen";
  else
    s.attentionMask = "attention_mask", s.positionIds = "position_ids";
  s.inputIds = "input_ids", s.logits = "logits";
  s.caches = {{"past_key_values.0.key", ""}, {"past_key_values.0.value", ""}};
  s.vocab = kVocab, s.maxPositions = kPositions;
  return s;
}

// The emitted kernels on the CPU device (the emulation) or, with `gpu`,
// compiled by NVRTC on a CudaDevice (emitted_env.h; skips without a GPU).
struct Env : bmc_device_test::EmittedEnv {
  explicit Env(bool gpu = false) : EmittedEnv(gpu, kTable, BMC_EMITTED_CU) {}
};

// The valid rows of a cache as doubles [head][row][d] (batch 1), each read at
// the cache's own address of it (rows outermost: [row][head][d]).
std::vector<std::vector<std::vector<double>>> cacheRows(Device &device, const DeviceKVCache &c, int64_t valid,
                                                        bool bf16) {
  size_t eb = bf16 ? 2 : 4;
  std::vector<uint8_t> bytes(size_t(kHeadDim) * eb);
  std::vector<float> row(static_cast<size_t>(kHeadDim));
  std::vector<std::vector<std::vector<double>>> out(kHeads);
  for (int h = 0; h < kHeads; ++h)
    for (int64_t r = 0; r < valid; ++r) {
      EXPECT_TRUE(device.copyToHost(bytes.data(), c.row(0, h, r), bytes.size()).ok());
      bmc_convert_kv_to_f32(bf16 ? BMC_KV_BF16 : BMC_KV_F32, bytes.data(), row.data(), (int64_t)kHeadDim);
      out[h].emplace_back(row.begin(), row.end());
    }
  return out;
}

const std::vector<int64_t> kPrompt = {3, 17, 29, 8, 36};
constexpr int kSteps = 20;

// f32 caches: the order of sums only (seen: 1e-5); bf16: the reference rounds
// K/V as the cache does, from a double sum where the kernel's is f32, so an
// element near a bf16 tie may round the other way (seen: 1.8e-3 once in 25 runs).
double tolerance(bool bf16) { return bf16 ? 5e-3 : 1e-4; }

struct Generated {
  std::vector<std::vector<float>> logits; // per run
  std::vector<int64_t> tokens, capacities;
  std::vector<StepReport> reports;
};

// The prompt then kSteps greedy steps; each run checked against `ref` when given.
Generated generate(Env &env, const std::string &fn, const DeviceGenerationOptions &opts, Reference *ref) {
  Generated out;
  Weights w;
  auto g = DeviceGeneration::create(*env.device, *env.launcher, env.src, fn, w.host, signature(fn), opts);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g)
    return out;
  DeviceGeneration &gen = *g.value();
  EXPECT_EQ(gen.caches(), 2u);
  bool bf16 = fn == "decoder_mask";
  std::vector<int64_t> feed = kPrompt;
  for (int run = 0; run <= kSteps; ++run) {
    SCOPED_TRACE(fn + " run " + std::to_string(run));
    auto r = run == 0 ? gen.prefill(feed) : gen.step(feed[0]);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r)
      return out;
    EXPECT_EQ(gen.length(), int64_t(kPrompt.size()) + run);
    out.logits.push_back(r->logits), out.tokens.push_back(r->token), out.reports.push_back(r->graph);
    out.capacities.push_back(gen.cache(0).capacity());
    EXPECT_EQ(gen.cache(1).capacity(), gen.cache(0).capacity());
    if (ref) {
      std::vector<double> want = ref->run(feed);
      EXPECT_LE(worstError(r->logits, want), tolerance(bf16));
      EXPECT_EQ(r->token, argmax(want));
    }
    feed = {r->token};
  }
  if (ref)
    for (size_t c = 0; c < 2; ++c)
      for (int h = 0; h < kHeads; ++h) {
        auto rows = cacheRows(*env.device, gen.cache(c), gen.length(), bf16);
        const auto &want = c == 0 ? ref->K : ref->V;
        EXPECT_EQ(rows[h].size(), want[h].size());
        double worst = 0;
        for (size_t i = 0; i < want[h].size() && i < rows[h].size(); ++i)
          for (int d = 0; d < kHeadDim; ++d)
            worst = std::max(worst, std::fabs(rows[h][i][d] - want[h][i][d]) / (1 + std::fabs(want[h][i][d])));
        EXPECT_LE(worst, bf16 ? 1e-2 : 1e-4) << gen.cacheName(c) << " head " << h << ": the valid rows";
      }
  return out;
}

DeviceGenerationOptions withR(int64_t r) {
  DeviceGenerationOptions o;
  o.r = r, o.maxContext = kPositions;
  return o;
}

// The capacities the session's policy gives: needed + r - 1 at each growth (at most the context).
std::vector<int64_t> policy(int64_t r) {
  std::vector<int64_t> caps;
  int64_t cap = 0;
  for (int run = 0; run <= kSteps; ++run) {
    int64_t needed = int64_t(kPrompt.size()) + run;
    if (needed > cap)
      cap = std::min(needed + r - 1, int64_t(kPositions));
    caps.push_back(cap);
  }
  return caps;
}

void greedyAgainstReference(const std::string &fn, bool gpu = false) {
  Env env(gpu);
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  Reference ref(w, fn == "decoder_mask");
  Generated g = generate(env, fn, withR(3), &ref);
  ASSERT_EQ(g.tokens.size(), size_t(kSteps + 1));
  EXPECT_EQ(g.capacities, policy(3)); // 7, then 10, 13, ..., 25: 7 growths in 25 tokens
  std::vector<int64_t> distinct = g.capacities;
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(distinct, (std::vector<int64_t>{7, 10, 13, 16, 19, 22, 25}));
  std::set<int64_t> tokens(g.tokens.begin(), g.tokens.end());
  EXPECT_GE(tokens.size(), 5u) << "a greedy run that varies (not one token repeated)";
  EXPECT_TRUE(env.notices.empty()) << env.notices.front();
}

TEST(DeviceGeneration, MaskPaddingGreedyMatchesReference) { greedyAgainstReference("decoder_mask"); }
TEST(DeviceGeneration, SkipPaddingGreedyMatchesReference) { greedyAgainstReference("decoder_skip"); }
// GroupQueryAttention's seqlens_k / total_sequence_length and a static cache's
// write_indices / nonpad_kv_seqlen fed as the CPU session feeds them: the same
// model as @decoder_skip, so the same reference. Any of them one less than the
// session's value changes the decode steps' logits (a shifted position, or the
// newest key masked).
TEST(DeviceGeneration, GenaiAndStaticCacheLengthsMatchReference) { greedyAgainstReference("decoder_lengths"); }
// The same on NVRTC's build through CudaDevice (VMM-growable caches); skipped
// without a GPU (benchmarks/gpu_check.sh runs it; never run yet).
TEST(DeviceGeneration, GreedyOnTheGpu) {
  greedyAgainstReference("decoder_mask", true);
  if (::testing::Test::HasFailure() || ::testing::Test::IsSkipped())
    return;
  greedyAgainstReference("decoder_skip", true);
}

// r = 1 (a growth every token), prealloc (one buffer for the context) and
// fresh buffers per growth (every block copied) give the tokens r = 3 gives.
TEST(DeviceGeneration, GrowthPoliciesAgree) {
  for (const char *fn : {"decoder_mask", "decoder_skip"}) {
    SCOPED_TRACE(fn);
    Env env;
    BMC_EMITTED_ENV_OR_SKIP(env);
    Generated base = generate(env, fn, withR(3), nullptr);
    DeviceGenerationOptions prealloc = withR(3), fresh = withR(3);
    prealloc.kvMode = "prealloc", fresh.useGrowable = false;
    for (auto [name, opts] : {std::pair<const char *, DeviceGenerationOptions>{"r = 1", withR(1)},
                              {"prealloc", prealloc}, {"fresh buffers, r = 3", fresh}}) {
      SCOPED_TRACE(name);
      Weights w;
      Reference ref(w, std::string(fn) == "decoder_mask");
      Generated g = generate(env, fn, opts, &ref);
      EXPECT_EQ(g.tokens, base.tokens);
      ASSERT_EQ(g.logits.size(), base.logits.size());
      for (size_t i = 0; i < g.logits.size(); ++i) {
        std::vector<double> b(base.logits[i].begin(), base.logits[i].end());
        EXPECT_LE(worstError(g.logits[i], b), 1e-4) << "run " << i;
      }
      if (std::string(name) == "prealloc")
        EXPECT_EQ(g.capacities, std::vector<int64_t>(kSteps + 1, kPositions));
      else if (std::string(name) == "r = 1")
        EXPECT_EQ(g.capacities, policy(1));
    }
  }
}

// Decode steps as one device graph: the same logits as direct runs, byte for
// byte; the graph captured by the first step and updated in place after.
TEST(DeviceGeneration, GraphedDecodeEqualsDirect) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  for (const char *fn : {"decoder_mask", "decoder_skip"}) {
    SCOPED_TRACE(fn);
    DeviceGenerationOptions d = withR(3);
    d.graphDecode = false; // the default is a graph per decode step
    Generated direct = generate(env, fn, d, nullptr);
    Generated graphed = generate(env, fn, withR(3), nullptr);
    ASSERT_EQ(graphed.logits.size(), direct.logits.size());
    EXPECT_EQ(graphed.tokens, direct.tokens);
    for (size_t i = 0; i < direct.logits.size(); ++i)
      EXPECT_EQ(graphed.logits[i], direct.logits[i]) << "run " << i;
    EXPECT_EQ(graphed.reports[0].launches, 0u); // the prefill runs directly
    EXPECT_TRUE(graphed.reports[1].captured);
    EXPECT_GT(graphed.reports[1].launches, 0u);
    size_t updated = 0;
    for (size_t i = 2; i < graphed.reports.size(); ++i)
      updated += !graphed.reports[i].captured && graphed.reports[i].updated > 0;
    EXPECT_GE(updated, size_t(kSteps / 2)) << "most steps update the captured graph in place";
  }
}

// Rollback: truncate to 9 of 16 tokens, then other tokens; logits as the
// reference's with its history cut the same (rows past 9 are spare and stale).
TEST(DeviceGeneration, TruncateRollsBack) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  for (const char *fn : {"decoder_mask", "decoder_skip"}) {
    SCOPED_TRACE(fn);
    bool bf16 = std::string(fn) == "decoder_mask";
    Weights w;
    Reference ref(w, bf16);
    auto g = DeviceGeneration::create(*env.device, *env.launcher, env.src, fn, w.host, signature(), withR(3));
    ASSERT_TRUE(g.ok()) << g.status().message();
    DeviceGeneration &gen = *g.value();
    auto r = gen.prefill(kPrompt);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ref.run(kPrompt);
    for (int i = 0; i < 11; ++i) {
      int64_t t = (7 * i + 2) % kVocab;
      ASSERT_TRUE(gen.step(t).ok());
      ref.run({t});
    }
    ASSERT_EQ(gen.length(), 16);
    int64_t capacity = gen.cache(0).capacity();
    auto bad = gen.truncate(17);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.message(), "device generation @" + std::string(fn) + ": truncate: expected a length in [0, 16], found 17");
    ASSERT_TRUE(gen.truncate(9).ok());
    ref.truncate(9);
    EXPECT_EQ(gen.length(), 9);
    EXPECT_EQ(gen.cache(0).capacity(), capacity); // nothing freed: the rows are spare
    for (int i = 0; i < 6; ++i) {
      int64_t t = (11 * i + 5) % kVocab;
      auto s = gen.step(t);
      ASSERT_TRUE(s.ok()) << s.status().message();
      std::vector<double> want = ref.run({t});
      EXPECT_LE(worstError(s->logits, want), tolerance(bf16)) << "step " << i << " after the rollback";
      EXPECT_EQ(s->token, argmax(want));
    }
    EXPECT_EQ(gen.length(), 15);
  }
}

// Speculative verification (docs/SPECULATIVE.md): extend() of 4 tokens after
// the prompt gives every position's logits, each row within tolerance(bf16)
// (the reference's relative measure: f32 1e-4, bf16 5e-3) of the reference
// fed one token at a time and of the device's own 4 single steps (the same
// tokens, other kernels' summation order); truncate() to 2 of the 4 (the
// rejected rows spare, the capacity kept), then the generation continues as
// one that never drafted. Verify steps run as one graph per token count:
// the second extend of 4 updates the graph the first captured, one of more
// than maxGraphedTokens runs direct with the same logits.
TEST(DeviceGeneration, ExtendEqualsSingleSteps) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  const std::vector<int64_t> drafts = {11, 4, 30, 19}, after = {7, 23, 2};
  for (const char *fn : {"decoder_mask", "decoder_skip"}) {
    SCOPED_TRACE(fn);
    const bool bf16 = std::string(fn) == "decoder_mask";
    Weights w;
    Reference ref(w, bf16);
    auto make = [&](DeviceGenerationOptions o) {
      auto g = DeviceGeneration::create(*env.device, *env.launcher, env.src, fn, w.host, signature(), o);
      EXPECT_TRUE(g.ok()) << g.status().message();
      return g ? std::move(g.value()) : nullptr;
    };
    auto spec = make(withR(3)), plain = make(withR(3));
    ASSERT_TRUE(spec && plain);
    ASSERT_TRUE(spec->prefill(kPrompt).ok() && plain->prefill(kPrompt).ok());
    ref.run(kPrompt);
    auto x = spec->extend(drafts);
    ASSERT_TRUE(x.ok()) << x.status().message();
    ASSERT_EQ(x->allLogits.size(), drafts.size() * kVocab);
    EXPECT_EQ(spec->length(), int64_t(kPrompt.size() + drafts.size()));
    EXPECT_TRUE(x->graph.captured);
    EXPECT_EQ(std::vector<float>(x->allLogits.end() - kVocab, x->allLogits.end()), x->logits);
    for (size_t i = 0; i < drafts.size(); ++i) {
      std::vector<float> row(x->allLogits.begin() + i * kVocab, x->allLogits.begin() + (i + 1) * kVocab);
      std::vector<double> want = ref.run({drafts[i]});
      EXPECT_LE(worstError(row, want), tolerance(bf16)) << "row " << i << " against the reference";
      auto s = plain->step(drafts[i]);
      ASSERT_TRUE(s.ok()) << s.status().message();
      std::vector<double> stepped(s->logits.begin(), s->logits.end());
      EXPECT_LE(worstError(row, stepped), tolerance(bf16)) << "row " << i << " against a single step";
    }
    // Keep the first 2 drafts; continue as a generation that never drafted.
    const int64_t capacity = spec->cache(0).capacity(), keep = int64_t(kPrompt.size()) + 2;
    ASSERT_TRUE(spec->truncate(keep).ok());
    EXPECT_EQ(spec->cache(0).capacity(), capacity);
    auto never = make(withR(3));
    ASSERT_TRUE(never && never->prefill(kPrompt).ok());
    ASSERT_TRUE(never->step(drafts[0]).ok() && never->step(drafts[1]).ok());
    ref.truncate(keep);
    for (int64_t t : after) {
      auto a = spec->step(t), b = never->step(t);
      ASSERT_TRUE(a.ok() && b.ok());
      std::vector<double> want = ref.run({t}), other(b->logits.begin(), b->logits.end());
      EXPECT_LE(worstError(a->logits, want), tolerance(bf16)) << "after the rollback, token " << t;
      EXPECT_LE(worstError(a->logits, other), tolerance(bf16)) << "against the run that never drafted";
      EXPECT_EQ(a->token, b->token);
    }
    // The graph for 4 tokens again: updated in place, not re-captured; 2 graphs (4 and 1 tokens).
    auto again = spec->extend(drafts);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_FALSE(again->graph.captured) << again->graph.why;
    EXPECT_GT(again->graph.launches, 0u);
    EXPECT_EQ(spec->graphs(), 2u);
    // More than maxGraphedTokens: direct launches, the same logits as a graphed run.
    DeviceGenerationOptions small = withR(3);
    small.maxGraphedTokens = 3;
    auto direct = make(small);
    ASSERT_TRUE(direct && direct->prefill(kPrompt).ok());
    auto d = direct->extend(drafts);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->graph.launches, 0u);
    EXPECT_EQ(direct->graphs(), 0u);
    EXPECT_EQ(d->allLogits, x->allLogits);
  }
}

// extend()'s errors: one line each, the generation unchanged (it goes on).
TEST(DeviceGeneration, ExtendErrorsAreOneLine) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  DeviceGenerationOptions small = withR(3);
  small.maxContext = 8;
  auto g = DeviceGeneration::create(*env.device, *env.launcher, env.src, "decoder_skip", w.host, signature(), small);
  ASSERT_TRUE(g.ok()) << g.status().message();
  DeviceGeneration &gen = *g.value();
  const std::string at = "device generation @decoder_skip: ";
  auto r = gen.extend({1, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "extend: call prefill first");
  ASSERT_TRUE(gen.prefill({1, 2, 3, 4, 5}).ok());
  r = gen.extend({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "extend: expected at least one token");
  r = gen.extend({6, 7, 8, 9});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "sequence of 9 tokens exceeds the maximum context of 8");
  r = gen.extend({6, kVocab});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "token id 37 at position 6 is outside the vocabulary [0, 37)");
  EXPECT_EQ(gen.length(), 5);
  r = gen.extend({6, 7, 8});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(gen.length(), 8);
}

// The logits copied back (runtime/device/DeviceProgram's CopyBack): a
// prefill without allLogits copies only the last position, vocab * 4 bytes
// (the device counts every copy to the host), where allLogits copies the
// whole [1, seq, vocab]; its logits and token are byte-equal to the whole
// copy's last row. A decode step copies vocab * 4 bytes; extend with
// allLogits (the default) still copies and returns every position, and
// without it the last one, equal to that row.
TEST(DeviceGeneration, PrefillCopiesBackTheLastPositionOnly) {
  bmc_device_test::CountingDevice device;
  std::string src = bmc_device_test::readEmittedSource(BMC_EMITTED_CU);
  auto launcher = bmc_device_test::hostTableLauncher(device, kTable, src);
  ASSERT_TRUE(launcher.ok()) << launcher.status().message();
  Weights w;
  const std::vector<int64_t> prompt = {3, 17, 29, 8, 36, 1, 22}, drafts = {11, 4, 30};
  const size_t seq = prompt.size(), row = kVocab * 4;
  for (const char *fn : {"decoder_mask", "decoder_skip"}) {
    SCOPED_TRACE(fn);
    auto g = DeviceGeneration::create(device, *launcher.value(), src, fn, w.host, signature(), withR(3));
    ASSERT_TRUE(g.ok()) << g.status().message();
    DeviceGeneration &gen = *g.value();
    device.toHost.clear();
    auto all = gen.prefill(prompt, /*allLogits=*/true);
    ASSERT_TRUE(all.ok()) << all.status().message();
    EXPECT_EQ(device.toHost, std::vector<size_t>{seq * row}) << "allLogits: the whole [1, seq, vocab]";
    ASSERT_EQ(all->allLogits.size(), seq * kVocab);
    device.toHost.clear();
    auto last = gen.prefill(prompt);
    ASSERT_TRUE(last.ok()) << last.status().message();
    EXPECT_EQ(device.toHost, std::vector<size_t>{row}) << "the last position only";
    EXPECT_TRUE(last->allLogits.empty());
    EXPECT_EQ(last->logits, std::vector<float>(all->allLogits.end() - kVocab, all->allLogits.end()));
    EXPECT_EQ(last->logits, all->logits);
    EXPECT_EQ(last->token, all->token);
    device.toHost.clear();
    auto step = gen.step(last->token);
    ASSERT_TRUE(step.ok()) << step.status().message();
    EXPECT_EQ(device.toHost, std::vector<size_t>{row});
    ASSERT_TRUE(gen.truncate(int64_t(seq)).ok());
    device.toHost.clear();
    auto x = gen.extend(drafts);
    ASSERT_TRUE(x.ok()) << x.status().message();
    EXPECT_EQ(device.toHost, std::vector<size_t>{drafts.size() * row}) << "extend: every position";
    ASSERT_EQ(x->allLogits.size(), drafts.size() * kVocab);
    ASSERT_TRUE(gen.truncate(int64_t(seq)).ok());
    device.toHost.clear();
    auto y = gen.extend(drafts, /*allLogits=*/false);
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(device.toHost, std::vector<size_t>{row});
    EXPECT_EQ(y->logits, std::vector<float>(x->allLogits.end() - kVocab, x->allLogits.end()));
  }
}

// A device that, when armed, changes the next upload of one i64 holding
// `from` into `to` (a corrupted input), then disarms.
class CorruptingDevice : public bmc_device_test::ForwardingDevice {
public:
  bool armed = false;
  int64_t from = 0, to = 0;
  Status copyToDevice(DevicePtr d, const void *s, size_t n) override {
    int64_t v = 0;
    if (armed && n == sizeof v && (std::memcpy(&v, s, n), v == from)) {
      armed = false;
      return cpu_.copyToDevice(d, &to, n);
    }
    return cpu_.copyToDevice(d, s, n);
  }
};

// A device check failing inside a decode step (@decoder_lengths' guard on
// write_indices, the upload corrupted by the device): one line in the CPU's
// words with the step and the values, no logits, the generation's length
// and the caches' valid rows unchanged; the same step run again (the device
// uploading faithfully) gives the logits of an undisturbed generation, as a
// graph and directly.
TEST(DeviceGeneration, DeviceCheckFailingInADecodeStep) {
  for (bool graphed : {true, false}) {
    SCOPED_TRACE(graphed ? "graphed decode" : "direct decode");
    CorruptingDevice device;
    std::string src = bmc_device_test::readEmittedSource(BMC_EMITTED_CU);
    auto launcher = bmc_device_test::hostTableLauncher(device, kTable, src);
    ASSERT_TRUE(launcher.ok()) << launcher.status().message();
    Weights w;
    DeviceGenerationOptions o = withR(3);
    o.graphDecode = graphed;
    auto make = [&] {
      return DeviceGeneration::create(device, *launcher.value(), src, "decoder_lengths", w.host,
                                      signature("decoder_lengths"), o);
    };
    auto g = make(), undisturbed = make();
    ASSERT_TRUE(g.ok() && undisturbed.ok()) << (g.ok() ? undisturbed : g).status().message();
    DeviceGeneration &gen = *g.value();
    auto p = gen.prefill(kPrompt);
    ASSERT_TRUE(p.ok()) << p.status().message();
    ASSERT_TRUE(undisturbed.value()->prefill(kPrompt).ok());
    const int64_t past = int64_t(kPrompt.size());
    ASSERT_NE(p->token, past) << "the armed device must not take the token's upload for write_indices";
    auto want = undisturbed.value()->step(p->token);
    ASSERT_TRUE(want.ok()) << want.status().message();
    for (int attempt = 0; attempt < 2; ++attempt) { // twice: a graph replayed after a failure fails again
      device.armed = true, device.from = past, device.to = past + 2;
      auto bad = gen.step(p->token);
      EXPECT_FALSE(device.armed) << "write_indices was not uploaded as one i64 of " << past;
      ASSERT_FALSE(bad.ok()) << "a failed device check passed";
      std::string m = bad.status().message();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_EQ(m.rfind("program @decoder_lengths step ", 0), 0u) << m;
      EXPECT_NE(m.find("(bmc.check_equal 0"), std::string::npos) << m;
      EXPECT_NE(m.find("Guard 'w0': write_indices must be the cache's valid rows: found 7, expected 5"),
                std::string::npos)
          << m;
      EXPECT_EQ(gen.length(), past) << "the failed step's token is not kept";
    }
    // The rows the failed runs appended stay spare: the step again equals the undisturbed one.
    auto again = gen.step(p->token);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(gen.length(), past + 1);
    EXPECT_EQ(again->logits, want->logits);
    EXPECT_EQ(again->token, want->token);
  }
}

// A device whose allocations can be refused (a CpuDevice behind it).
class RefusingDevice : public bmc_device_test::ForwardingDevice {
public:
  bool refuse = false;
  Result<DevicePtr> allocate(size_t bytes) override {
    if (refuse)
      return Status::error("out of device memory allocating " + std::to_string(bytes) + " bytes (refused by the test)");
    return cpu_.allocate(bytes);
  }
};

// The device refusing a cache's growth (fresh buffers per growth: a growth
// allocates): one line naming the cache; the generation keeps its tokens and
// continues as the reference once the device allocates again.
TEST(DeviceGeneration, CacheThatCannotGrow) {
  RefusingDevice device;
  std::string src = bmc_device_test::readEmittedSource(BMC_EMITTED_CU);
  auto launcher = bmc_device_test::hostTableLauncher(device, kTable, src);
  ASSERT_TRUE(launcher.ok()) << launcher.status().message();
  Weights w;
  Reference ref(w, true);
  DeviceGenerationOptions o = withR(3);
  o.useGrowable = false;
  auto g = DeviceGeneration::create(device, *launcher.value(), src, "decoder_mask", w.host, signature(), o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  DeviceGeneration &gen = *g.value();
  ASSERT_TRUE(gen.prefill(kPrompt).ok()); // capacity 7
  ref.run(kPrompt);
  ASSERT_TRUE(gen.step(4).ok() && gen.step(5).ok());
  ref.run({4}), ref.run({5});
  ASSERT_EQ(gen.cache(0).capacity(), 7);
  device.refuse = true;
  auto r = gen.step(6); // needs 8 rows
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "device generation @decoder_mask: KV cache 'past_key_values.0.key': out of device memory allocating 520 "
            "bytes (refused by the test); the generation keeps its 7 tokens");
  EXPECT_EQ(gen.length(), 7);
  EXPECT_EQ(gen.cache(0).capacity(), 7);
  device.refuse = false;
  for (int64_t t : {6, 7, 8, 9}) {
    auto s = gen.step(t);
    ASSERT_TRUE(s.ok()) << s.status().message();
    std::vector<double> want = ref.run({t});
    EXPECT_LE(worstError(s->logits, want), tolerance(true));
  }
  EXPECT_EQ(gen.length(), 11);
}

TEST(DeviceGeneration, ErrorsAreOneLine) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  auto make = [&](const DeviceDecoderSignature &sig, const DeviceGenerationOptions &o,
                  const std::map<std::string, HostTensor> &weights) {
    return DeviceGeneration::create(*env.device, *env.launcher, env.src, "decoder_skip", weights, sig, o);
  };
  DeviceGenerationOptions small = withR(3);
  small.maxContext = 8;
  auto g = make(signature(), small, w.host);
  ASSERT_TRUE(g.ok()) << g.status().message();
  DeviceGeneration &gen = *g.value();
  const std::string at = "device generation @decoder_skip: ";

  auto r = gen.step(1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "step: call prefill first");
  r = gen.prefill(std::vector<int64_t>(9, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "prefill: prompt of 9 tokens is longer than the maximum context of 8");
  r = gen.prefill({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "prefill: expected a non-empty prompt");
  r = gen.prefill({1, 2, kVocab});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "token id 37 at position 2 is outside the vocabulary [0, 37)");
  ASSERT_TRUE(gen.prefill({1, 2, 3, 4, 5, 6}).ok());
  ASSERT_TRUE(gen.step(7).ok() && gen.step(8).ok());
  r = gen.step(9);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), at + "sequence of 9 tokens exceeds the maximum context of 8");
  EXPECT_EQ(gen.length(), 8);
  r = gen.step(-1);
  ASSERT_FALSE(r.ok());

  // A missing weight: the program's own line.
  std::map<std::string, HostTensor> missing = w.host;
  missing.erase("lm_head");
  auto q = make(signature(), withR(3), missing);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "program @decoder_skip: weight 'lm_head' (f32 [27, 37]) missing: not among the 8 weights given");

  // Signatures that do not match the function.
  DeviceDecoderSignature sig = signature();
  sig.caches[1].past = "past_key_values.1.value";
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "cache 'past_key_values.1.value' is not a KV cache input of the function");
  sig = signature();
  sig.caches.pop_back();
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            at + "KV cache input 'past_key_values.0.value' is not in the decoder signature (nothing would feed it)");
  sig = signature();
  sig.caches[0].present = "present.0.key";
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "cache 'past_key_values.0.key' is returned as 'present.0.key' (a model "
                                       "compiled with --kv concat): kv mode bmc needs in-place caches");
  DeviceGenerationOptions concat = withR(3); // the other way round: in-place caches in concat mode
  concat.kvMode = "concat";
  q = make(signature(), concat, w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "cache 'past_key_values.0.key' is in place (a model compiled with --kv bmc "
                                       "or prealloc): kv mode concat needs the graph's past and present tensors");
  concat.kvMode = "paged";
  q = make(signature(), concat, w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "kv mode 'paged' (expected bmc, prealloc or concat)");
  sig = signature();
  sig.positionIds = "";
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            at + "tensor input 'position_ids' is not in the decoder signature (nothing would feed it)");
  sig = signature();
  sig.logits = "scores";
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "no output 'scores' (the logits)");
  DeviceGenerationOptions big = withR(3);
  big.maxContext = kPositions + 1;
  q = make(signature(), big, w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "max context 65 exceeds the model's 64 positions");
  DeviceGenerationOptions zero = withR(0);
  q = make(signature(), zero, w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "r 0 spare rows (expected at least 1)");

  // The lengths: a name the function lacks; an input of the function left unfed.
  sig = signature();
  sig.seqlensK = "seqlens_k";
  q = make(sig, withR(3), w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), at + "seqlens_k 'seqlens_k' is not a tensor input of the function");
  sig = signature("decoder_lengths");
  sig.nonpadKvSeqlen = "";
  q = DeviceGeneration::create(*env.device, *env.launcher, env.src, "decoder_lengths", w.host, sig, withR(3));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "device generation @decoder_lengths: tensor input 'nonpad_kv_seqlen' is not in the "
                                  "decoder signature (nothing would feed it)");
  sig = signature("decoder_lengths");
  sig.writeIndices = "input_ids"; // i64 [1, seq]: not one length per sequence
  q = DeviceGeneration::create(*env.device, *env.launcher, env.src, "decoder_lengths", w.host, sig, withR(3));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "device generation @decoder_lengths: write_indices 'input_ids' of i64 [1, ?], "
                                  "expected i64 or i32 [batch]");
}

// The names from a model's signature (bmc/model.h), as the CPU runtime
// learned them: in-place caches have no present output.
TEST(DeviceGeneration, SignatureFromModel) {
  bmc::ModelSignature m;
  for (const char *n : {"input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value"})
    m.inputs.push_back(bmc::TensorInfo{n});
  m.outputs.push_back(bmc::TensorInfo{"logits"});
  bmc::DecoderInfo &d = m.decoder;
  d.valid = true, d.inputIds = 0, d.attentionMask = 1, d.positionIds = 2, d.logits = 0, d.vocab = kVocab;
  d.maxPositions = kPositions, d.inplaceKV = true;
  d.caches = {{3, -1, kHeads, kHeadDim}, {4, -1, kHeads, kHeadDim}};
  auto s = DeviceDecoderSignature::fromModel(m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->inputIds, "input_ids");
  EXPECT_EQ(s->attentionMask, "attention_mask");
  EXPECT_EQ(s->positionIds, "position_ids");
  EXPECT_EQ(s->logits, "logits");
  ASSERT_EQ(s->caches.size(), 2u);
  EXPECT_EQ(s->caches[1].past, "past_key_values.0.value");
  EXPECT_EQ(s->caches[1].present, "");
  EXPECT_EQ(s->vocab, kVocab);
  EXPECT_EQ(s->seqlensK, "");
  EXPECT_EQ(s->writeIndices, "");
  // onnxruntime-genai's lengths and a static cache's indices: named, fed by DeviceGeneration.
  for (const char *n : {"seqlens_k", "total_sequence_length", "write_indices", "nonpad_kv_seqlen"})
    m.inputs.push_back(bmc::TensorInfo{n});
  d.seqlensK = 5, d.totalSequenceLength = 6, d.writeIndices = 7, d.nonpadKvSeqlen = 8;
  s = DeviceDecoderSignature::fromModel(m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->seqlensK, "seqlens_k");
  EXPECT_EQ(s->totalSequenceLength, "total_sequence_length");
  EXPECT_EQ(s->writeIndices, "write_indices");
  EXPECT_EQ(s->nonpadKvSeqlen, "nonpad_kv_seqlen");
}

} // namespace
