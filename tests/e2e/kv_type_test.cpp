//===- kv_type_test.cpp - bf16 / fp16 KV caches against fp32 ones ---------===//
//
// `CompileOptions::kvType = BF16 / F16` (bmc-compile --kv-type) stores the KV
// cache rows rounded to nearest even and attention widens them as it reads.
// The oracle is the same model with fp32 caches (itself checked against
// onnxruntime by generated_test.cpp), fed the same tokens (the fp32 model's
// greedy stream), on a GQA family (llama, 4 query / 2 KV heads) and an MHA
// one (gpt2), in kv modes bmc (small r: appends cross reallocations) and
// prealloc, and for batch 2:
//   - logits within kTolerance[type] (relative to max |logit|) at every one of
//     32 steps;
//   - each step's greedy choice equals fp32's, or fp32's top-2 margin there is
//     within twice the logits difference measured at that step (a near tie
//     that rounding can flip); the smallest margin is printed.
// Tolerance: rounding to nearest with p significand bits (bf16 p = 8, fp16
// p = 11) changes a K or V element by at most u = 2^-p relative (bf16 3.9e-3,
// fp16 4.9e-4); a score q.k or an attention output (a convex combination of V
// rows) then moves by at most u times the sum of the magnitudes of its terms.
// Each of the tiny models' 2 layers adds such a perturbation to the residual
// stream and the head maps it to the logits, so the relative logits error is
// a small multiple of u: the bound used is 8 u (bf16 3.1e-2, fp16 3.9e-3; measured
// at most 4 u for bf16 and 2.5 u for fp16), against fp32 runs that agree with
// onnxruntime to 1e-4. The models have random weights, so their logits are
// nearly uniform and near ties (fp32 top-2 margins of 2e-3) are common: bf16
// flips 2 of llama's 32 greedy choices, each at such a tie (printed).
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 32;
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

double unitRoundoff(KVType t) { return t == KVType::BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }
double tolerance(KVType t) { return 8 * unitRoundoff(t); }

/// Largest minus second largest of n logits.
double top2Margin(const float *v, int64_t n) {
  float a = -INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] > a) { b = a; a = v[i]; }
    else if (v[i] > b) b = v[i];
  }
  return double(a) - double(b);
}

struct Mode {
  const char *name;
  SessionOptions so; // one compiled model (in-place caches) runs in both modes
};

std::vector<Mode> modes() {
  SessionOptions r3, pre;
  r3.r = 3;
  pre.kvMode = "prealloc";
  pre.maxContext = 512;
  return {{"bmc r=3", r3}, {"prealloc", pre}};
}

class KvType : public ::testing::TestWithParam<std::string> {
protected:
  std::string path() const { return generatedModelPath(GetParam()); }
  void SetUp() override { ASSERT_TRUE(fileExists(path())) << path() << " is missing: build bmc_e2e_models"; }

  /// `prompts` decoded kSteps with fp32 and with `type` caches (the latter fed
  /// fp32's greedy tokens): the checks of the header, per sequence.
  void compare(const Mode &m, KVType type, const std::vector<std::vector<int64_t>> &prompts) {
    SCOPED_TRACE(std::string(m.name) + " " + kvTypeName(type) + " batch " + std::to_string(prompts.size()));
    CompileOptions f32o;
    CompileOptions narrowo = f32o;
    narrowo.kvType = type;
    auto wide = compiled(path(), f32o);
    ASSERT_TRUE(wide.ok()) << wide.status().message();
    auto narrow = compiled(path(), narrowo);
    ASSERT_TRUE(narrow.ok()) << narrow.status().message();
    EXPECT_EQ(narrow.value()->signature().decoder.kvType, kvTypeName(type));
    auto ref = decode(wide.value(), m.so, prompts, kSteps);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    auto got = decode(narrow.value(), m.so, prompts, kSteps, &ref.value().argmax);
    ASSERT_TRUE(got.ok()) << got.status().message();
    // Half the bytes per KV row: what the cost model and the stats count.
    EXPECT_EQ(got.value().stats.bytesUsed * 2, ref.value().stats.bytesUsed);
    const int64_t V = ref.value().logits[0].shape()[1];
    double worst = 0, minMargin = INFINITY;
    int flips = 0;
    std::string flipMargins;
    for (size_t b = 0; b < prompts.size(); ++b)
      for (int step = 0; step < kSteps; ++step) {
        const float *w = ref.value().logits[size_t(step)].data<float>() + int64_t(b) * V;
        const float *n = got.value().logits[size_t(step)].data<float>() + int64_t(b) * V;
        LogitDiff d = compareLogits(n, w, V);
        EXPECT_LE(d.rel, tolerance(type)) << "sequence " << b << " step " << step << ": " << d.describe();
        worst = std::max(worst, d.rel);
        const double margin = top2Margin(w, V);
        minMargin = std::min(minMargin, margin);
        if (got.value().argmax[b][size_t(step)] != ref.value().argmax[b][size_t(step)]) {
          ++flips;
          char buf[96];
          std::snprintf(buf, sizeof buf, " [seq %zu step %d: margin %.3g, logits diff %.3g]", b, step, margin, d.maxAbs);
          flipMargins += buf;
          EXPECT_LE(margin, 2 * d.maxAbs) << "sequence " << b << " step " << step << ": greedy token "
                                          << got.value().argmax[b][size_t(step)] << " instead of "
                                          << ref.value().argmax[b][size_t(step)] << " with an fp32 top-2 margin of "
                                          << margin << " (not a near tie)";
        }
      }
    std::printf("[kv-type] %s %s %s batch %zu: max rel logits diff %.3g (tolerance %.3g), greedy flips %d of %d%s, "
                "smallest fp32 top-2 margin %.3g\n",
                GetParam().c_str(), m.name, kvTypeName(type), prompts.size(), worst, tolerance(type), flips,
                int(prompts.size()) * kSteps, flipMargins.c_str(), minMargin);
  }
};

TEST_P(KvType, LogitsNearF32AndGreedyTokensMatch) {
  for (const Mode &m : modes())
    for (KVType t : {KVType::BF16, KVType::F16}) {
      compare(m, t, {kPrompt});
      if (HasFatalFailure()) return;
    }
}

TEST_P(KvType, Batch2) {
  compare(modes()[0], KVType::BF16, {kPrompt, {3, 1, 4, 1, 5, 9}});
}

// The fast kernels against the reference kernels (CompileOptions::
// referenceKernels: plain loops, the reference attention and conversions) on
// the same bf16 model: only summation order differs.
TEST_P(KvType, FastMatchesReferenceKernels) {
  for (KVType t : {KVType::BF16, KVType::F16}) {
    SCOPED_TRACE(kvTypeName(t));
    CompileOptions fast, slow;
    fast.kvType = slow.kvType = t;
    slow.referenceKernels = true;
    auto a = compiled(path(), fast), b = compiled(path(), slow);
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(b.ok()) << b.status().message();
    auto ta = decode(a.value(), modes()[0].so, {kPrompt}, 12);
    ASSERT_TRUE(ta.ok()) << ta.status().message();
    auto tb = decode(b.value(), modes()[0].so, {kPrompt}, 12, &ta.value().argmax);
    ASSERT_TRUE(tb.ok()) << tb.status().message();
    const int64_t V = ta.value().logits[0].shape()[1];
    for (int step = 0; step < 12; ++step) {
      LogitDiff d = compareLogits(ta.value().logits[size_t(step)].data<float>(),
                                  tb.value().logits[size_t(step)].data<float>(), V);
      EXPECT_LE(d.rel, 1e-4) << "step " << step << ": " << d.describe();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Generated, KvType, ::testing::Values("llama_op17", "gpt2_op17"),
                         [](const ::testing::TestParamInfo<std::string> &i) { return i.param; });

// The package records the KV type and loads with it; a session on it decodes
// as the JIT-compiled model does.
TEST(KvTypePackage, RoundTrip) {
  const std::string path = generatedModelPath("llama_op17");
  CompileOptions o;
  o.kvType = KVType::BF16;
  auto p = packaged(path, o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p.value()->signature().decoder.kvType, "bf16");
  auto j = compiled(path, o);
  ASSERT_TRUE(j.ok()) << j.status().message();
  auto a = decode(p.value(), {}, {kPrompt}, 8), b = decode(j.value(), {}, {kPrompt}, 8);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.value().argmax, b.value().argmax);
  const int64_t V = a.value().logits[0].shape()[1];
  LogitDiff d = compareLogits(a.value().logits[7].data<float>(), b.value().logits[7].data<float>(), V);
  EXPECT_LE(d.rel, 1e-5) << d.describe();
}

TEST(KvTypeErrors, RefusedWhereItCannotApply) {
  const std::string path = generatedModelPath("llama_op17");
  CompileOptions concat;
  concat.kvMode = KVMode::Concat;
  concat.kvType = KVType::F16;
  EXPECT_TRUE(isError(compileOnnx(path, concat), "kvType f16 needs in-place KV caches"));
  CompileOptions bad;
  bad.kvType = static_cast<KVType>(9);
  EXPECT_TRUE(isError(compileOnnx(path, bad), "kvType: expected KVType::F32, BF16, F16 or Auto, found 9"));
  // Not a decoder: nothing to store in bf16.
  CompileOptions bf;
  bf.kvType = KVType::BF16;
  EXPECT_TRUE(isError(compileOnnx(std::string(BMC_E2E_MODELS_DIR) + "/matmul_add.onnx", bf),
                      "needs a decoder whose KV caches are rewritten in place"));
}

} // namespace
} // namespace bmc::e2e
