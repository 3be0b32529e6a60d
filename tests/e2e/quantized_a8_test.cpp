//===- quantized_a8_test.cpp - int8 activations against onnxruntime --------===//
//
// `CompileOptions::activations = Int8` (bmc-compile --act int8): the
// quantized matmuls round their activations to int8 per block of 32 and use
// integer dot products. The oracle is onnxruntime's MatMulNBits with
// accuracy_level 4 on the same quantized weights (tests/models/
// make_matmulnbits.py), which quantizes the activations the same way (MLAS
// QuantizeARow_CompInt8: scale max|a|/127, a * (127/max|a|) rounded to
// nearest even, blocks of block_size = 32; zero points through the block sums
// of the codes). The two engines differ in the fp32 rounding of everything
// else (~1e-7), so now and then an activation lands on the other side of a
// rounding boundary in one engine: one code step, s_a * |w| in the products
// it feeds. Measured on these models: steps agree to ~5e-7 relative until
// the first such flip; a step with a flip differs by 4e-3..1.7e-2 (one flip
// in the LM head's input moves every logit by (max|h| / 127) * |w|), and a
// flip in a K/V row stays in the cache, so later steps differ by ~1e-5..1e-2.
// So the checks, fed onnxruntime's tokens: the prefill's logits (step 0,
// where no flip has been seen on any model) within the fp32 tolerance of the
// other end-to-end tests (1e-4), and every step within kFlipTolerance; the
// number of steps within 1e-4 and greedy agreement are printed. A different
// arithmetic (scale, blocks, zero points, integer sums) fails the first:
// accuracy_level 4 against 0 differs by 2-5e-2 at the prefill.
// Also: fast kernels against the reference int8-activation kernels in whole
// models, speculative verification (M > 1) against plain decoding, the
// package records the format, bad options, and the drift from fp32 printed.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include "bmc/speculative.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 64;
constexpr double kExact = 1e-4;        // two engines, fp32 arithmetic (generated_test.cpp)
constexpr double kFlipTolerance = 3e-2; // steps after an activation code rounded the other way
constexpr double kSameKernels = 1e-5;  // fast vs reference kernels in one engine (no flip seen; see below)
// One measured exception, on CPUs without VNNI only (AVX2; a Zen 3 seen in a
// fresh-clone CI on 2026-12-05): onnxruntime's accuracy_level 4 result for
// qwen2_op17 with 8-bit weights parts from bmc's at the prefill (9.3e-3
// relative) and reaches 3.3e-2 at step 13 (5 of 64 steps within 1e-4, greedy
// 51 of 64), in both the quantized-by-bmc and the imported graph, while bmc's
// AVX2 and reference int8-activation kernels agree on that model to 2.3e-7
// (FastMatchesReference covers qwen2_op17 int8 for this reason) and every other
// model and bit width still meets kExact / kFlipTolerance against onnxruntime
// on that CPU. So the difference is onnxruntime's non-VNNI path on that model,
// not identified: two int16 forms of its vpmaddubsw dot product, emulated in
// bmc's reference kernel on 2026-12-06, do not reproduce it (unsigned weight
// codes 0..255 times signed activations with pairs saturating, and activations
// + 128 times signed codes, each part from onnxruntime by 0.3-0.8 on every
// model; the sign trick wrapping code -128 leaves qwen2_op17's 3.28e-2 as it
// is and makes llama_op17 worse). There, the prefill is
// checked within kFlipTolerance and the steps within kNoVnniTolerance; on a
// VNNI CPU the case is checked as every other. Loosened only there, and said
// so in the output.
constexpr double kNoVnniTolerance = 5e-2;
bool noVnniException(const std::string &model, int bits) {
  __builtin_cpu_init();
  const bool vnni = __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
  return !vnni && bits == 8 && model == "qwen2_op17";
}
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

std::vector<std::string> csv(const char *list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

CompileOptions int8Act(int bits, bool reference = false) {
  CompileOptions o;
  o.weights = bits == 8 ? WeightFormat::Int8 : bits == 4 ? WeightFormat::Int4 : WeightFormat::F32;
  o.activations = ActivationFormat::Int8;
  o.referenceKernels = reference;
  return o;
}

std::vector<int> allSteps() {
  std::vector<int> s(kSteps);
  for (int i = 0; i < kSteps; ++i) s[size_t(i)] = i;
  return s;
}

using Param = std::tuple<std::string, int>; // model, bits

class QuantizedA8 : public ::testing::TestWithParam<Param> {
protected:
  const std::string &model() const { return std::get<0>(GetParam()); }
  int bits() const { return std::get<1>(GetParam()); }
  std::string nbitsPath() const {
    return modelsDir() + "/" + model() + ".nbits" + std::to_string(bits()) + "acc4.onnx";
  }
  void SetUp() override {
    ASSERT_TRUE(fileExists(nbitsPath())) << nbitsPath() << " is missing: build the target bmc_e2e_models";
  }
  /// Logits fed onnxruntime's tokens, at every step; greedy tokens of a
  /// free run. Returns the largest relative logit difference.
  double against(const std::shared_ptr<Model> &m, const OrtReference &ref, const char *what) {
    std::vector<std::vector<int64_t>> forced = {ref.tokens};
    auto t = decode(m, {}, {kPrompt}, kSteps, &forced);
    if (!t.ok()) {
      ADD_FAILURE() << t.status().message();
      return 0;
    }
    const int64_t V = t.value().logits[0].shape()[1];
    double worst = 0;
    int exact = 0;
    const bool exception = noVnniException(model(), bits());
    if (exception)
      std::printf("%s int%d: no VNNI on this CPU: onnxruntime's path parts here (kNoVnniTolerance, see the top), "
                  "prefill within %.0e, steps within %.0e\n",
                  model().c_str(), bits(), kFlipTolerance, kNoVnniTolerance);
    for (int step = 0; step < kSteps; ++step) {
      LogitDiff d = compareLogits(t.value().logits[size_t(step)].data<float>(), ref.logits.at(step).data(), V);
      EXPECT_LE(d.rel, exception ? kNoVnniTolerance : kFlipTolerance) << what << " step " << step << ": " << d.describe();
      exact += d.rel <= kExact;
      worst = std::max(worst, d.rel);
    }
    const LogitDiff prefill = compareLogits(t.value().logits[0].data<float>(), ref.logits.at(0).data(), V);
    EXPECT_LE(prefill.rel, exception ? kFlipTolerance : kExact) << what << " prefill: " << prefill.describe();
    // Greedy agreement (free run); near ties may part the streams: reported.
    auto s = Session::create(m);
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return worst;
    GenerateOptions go;
    go.maxNewTokens = kSteps;
    auto out = s.value()->generate({kPrompt}, go);
    EXPECT_TRUE(out.ok()) << out.status().message();
    if (!out.ok()) return worst;
    const auto &mine = out.value()[0];
    size_t same = 0;
    while (same < mine.size() && same < ref.tokens.size() && mine[same] == ref.tokens[same]) ++same;
    std::printf("%s int%d (%s): against onnxruntime accuracy_level 4, %d of %d steps' logits within %.0e relative, "
                "largest difference %.2e; greedy tokens identical for %zu of %d steps\n",
                model().c_str(), bits(), what, exact, kSteps, kExact, worst, same, kSteps);
    // The first tokens come from logits checked above: a difference there is
    // a failure, not a near tie.
    EXPECT_GE(same, 2u) << "bmc: " << join(mine) << "\nort: " << join(ref.tokens);
    return worst;
  }
};

/// bmc quantizing the fp32 model itself (--weights intN --act int8).
TEST_P(QuantizedA8, MatchesOnnxruntimeAccuracyLevel4) {
  auto ref = ortReference(nbitsPath(), kPrompt, kSteps, allSteps());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(generatedModelPath(model()), int8Act(bits()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.activations, "int8");
  against(m.value(), ref.value(), "quantized by bmc");
}

/// bmc importing the same MatMulNBits file (its codes in the dot layouts).
TEST_P(QuantizedA8, ImportedGraphMatchesOnnxruntimeAccuracyLevel4) {
  auto ref = ortReference(nbitsPath(), kPrompt, kSteps, allSteps());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(nbitsPath(), int8Act(0));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weights, "int" + std::to_string(bits()));
  against(m.value(), ref.value(), "imported MatMulNBits");
}

INSTANTIATE_TEST_SUITE_P(QuantizedA8, QuantizedA8, ::testing::Combine(::testing::ValuesIn(csv(BMC_E2E_A8)), ::testing::Values(8, 4)),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return std::get<0>(i.param) + "_int" + std::to_string(std::get<1>(i.param));
                         });

/// The fast kernels (VNNI or AVX2) against the reference int8-activation
/// kernels in a reference build, fed the same tokens. The integer sums are
/// exact in both and the rest of the graph differs in fp32 rounding only, so
/// the same checks as against onnxruntime, with kSameKernels for the
/// prefill (no flip was seen at any step on this machine: largest ~3e-7).
TEST(QuantizedA8Kernels, FastMatchesReference) {
  for (auto [bits, name] : {std::pair<int, const char *>{8, "llama_op17"}, {4, "gpt2_op18"}, {8, "qwen2_op17"}}) {
      SCOPED_TRACE(std::string(name) + " int" + std::to_string(bits));
      auto fast = compiled(generatedModelPath(name), int8Act(bits));
      auto slow = compiled(generatedModelPath(name), int8Act(bits, /*reference=*/true));
      ASSERT_TRUE(fast.ok()) << fast.status().message();
      ASSERT_TRUE(slow.ok()) << slow.status().message();
      auto a = decode(fast.value(), {}, {kPrompt}, 16);
      ASSERT_TRUE(a.ok()) << a.status().message();
      std::vector<std::vector<int64_t>> forced = a.value().argmax;
      auto b = decode(slow.value(), {}, {kPrompt}, 16, &forced);
      ASSERT_TRUE(b.ok()) << b.status().message();
      const int64_t V = a.value().logits[0].shape()[1];
      double worst = 0;
      for (size_t step = 0; step < a.value().logits.size(); ++step) {
        LogitDiff d = compareLogits(a.value().logits[step].data<float>(), b.value().logits[step].data<float>(), V);
        EXPECT_LE(d.rel, step == 0 ? kSameKernels : kFlipTolerance) << "step " << step << ": " << d.describe();
        worst = std::max(worst, d.rel);
      }
      std::printf("%s int%d int8 activations: fast vs reference kernels, largest relative difference %.2e\n", name,
                  bits, worst);
    }
}

/// Verification passes (k + 1 rows through the same matmuls) give the tokens
/// of plain greedy decoding: each row's activations are quantized on their
/// own, so a row's result does not depend on the others.
TEST(QuantizedA8Kernels, SpeculativeMatchesPlainGreedy) {
  auto m = compiled(generatedModelPath("llama_op17"), int8Act(4));
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto plain = Session::create(m.value());
  auto spec = Session::create(m.value());
  ASSERT_TRUE(plain.ok() && spec.ok());
  GenerateOptions go;
  go.maxNewTokens = 48;
  const std::vector<int64_t> prompt = {11, 42, 7, 300, 5, 99, 11, 42, 7, 300};
  auto a = plain.value()->generate({prompt}, go);
  ASSERT_TRUE(a.ok()) << a.status().message();
  go.speculative.drafter = std::make_shared<PromptLookupDrafter>(2);
  go.speculative.k = 8;
  auto b = spec.value()->generate({prompt}, go);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a.value()[0], b.value()[0]);
  EXPECT_GT(spec.value()->generateStats().draftProposed, 0) << "no verification pass of several rows ran";
}

/// The package records the activations; int8 needs a quantized matmul.
TEST(QuantizedA8Package, RecordsTheActivationsAndRefusesF32Weights) {
  auto p = packaged(generatedModelPath("llama_op17"), int8Act(4));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p.value()->signature().decoder.activations, "int8");
  EXPECT_EQ(p.value()->signature().decoder.weights, "int4");
  auto f = packaged(generatedModelPath("llama_op17"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f.value()->signature().decoder.activations, "f32");
  auto bad = compileOnnx(generatedModelPath("llama_op17"), int8Act(0));
  EXPECT_TRUE(isError(bad, "activations int8 applies to quantized matmuls, and this model has none"));
  CompileOptions o;
  o.activations = ActivationFormat(7);
  EXPECT_TRUE(isError(compileOnnx(generatedModelPath("llama_op17"), o), "activations: expected"));
}

/// Drift from the fp32 model over onnxruntime's fp32 greedy stream (printed
/// for docs/QUANTIZATION.md): mean KL(p_f32 || p_q) and top-1 agreement, for
/// weight-only intN and for intN with int8 activations. Asserted: int8
/// activations are in effect (the logits differ from weight-only intN).
TEST(QuantizedA8Drift, FromTheF32Model) {
  for (int bits : {8, 4})
    for (const char *name : {"llama_op17", "gpt2_op17"}) {
      SCOPED_TRACE(std::string(name) + " int" + std::to_string(bits));
      auto ref = ortReference(generatedModelPath(name), kPrompt, kSteps, {0});
      ASSERT_TRUE(ref.ok()) << ref.status().message();
      std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
      CompileOptions wo;
      wo.weights = bits == 8 ? WeightFormat::Int8 : WeightFormat::Int4;
      auto f = compiled(generatedModelPath(name));
      auto w = compiled(generatedModelPath(name), wo);
      auto q = compiled(generatedModelPath(name), int8Act(bits));
      ASSERT_TRUE(f.ok() && w.ok() && q.ok());
      auto tf = decode(f.value(), {}, {kPrompt}, kSteps, &forced);
      auto tw = decode(w.value(), {}, {kPrompt}, kSteps, &forced);
      auto tq = decode(q.value(), {}, {kPrompt}, kSteps, &forced);
      ASSERT_TRUE(tf.ok() && tw.ok() && tq.ok());
      const Drift dw = driftFrom(tf.value(), tw.value()), dq = driftFrom(tf.value(), tq.value());
      ASSERT_EQ(dq.steps, kSteps);
      const double fromWeightOnly = driftFrom(tw.value(), tq.value()).maxAbsDiff;
      std::printf("%s vs f32 over %d steps: int%d weight-only mean KL %.3e nats, top-1 %d/%d; int%d + int8 "
                  "activations mean KL %.3e nats, top-1 %d/%d\n",
                  name, kSteps, bits, dw.meanKL, dw.top1Agree, kSteps, bits, dq.meanKL, dq.top1Agree, kSteps);
      EXPECT_GT(fromWeightOnly, 0.0) << "int8-activation logits equal the weight-only ones: not in effect";
      EXPECT_TRUE(std::isfinite(dq.meanKL));
    }
}

} // namespace
} // namespace bmc::e2e
