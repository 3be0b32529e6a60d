//===- fp16_test.cpp - fully fp16 decoders against onnxruntime -------------===//
//
// X.f16.onnx (tests/models/make_fp16_decoder.py on the generated fp32 decoder
// X): every activation, cache and the logits FLOAT16, as an fp16 export writes
// them. bmc compiles it with default options: computed in fp32 (weights kept
// fp16, widened as read), KV caches f16 (kv-type auto), logits f32.
// onnxruntime runs the same file, rounding every activation to fp16 between
// ops (u = 2^-11 relative each), so the two differ by those roundings.
// Tolerance: kRoundings * u relative to max |logit| (compareLogits): a budget
// of 32 fp16 roundings along the residual stream (2 layers of ~12 rounded
// ops each on the path to the logits: projections, rotary, attention output,
// MLP, residual adds; the head and its fp16 logits), each at most u relative;
// measured 8.1 u (llama) and 2.3 u (gpt2), printed. Greedy tokens over 40 steps
// identical, or diverging only at a near tie: bmc's own margin between its
// choice and onnxruntime's token within the same tolerance (printed).
// Drift from the fp32 model (driftFrom, onnxruntime's fp32 token stream):
// mean KL and top-1 agreement printed; asserted finite and mostly agreeing.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 40;
const std::vector<int> kDumpSteps = {0, 1, 8, 20, 39};
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};
constexpr double kU = 1.0 / 2048; // fp16 unit roundoff 2^-11
constexpr double kRoundings = 32;

class Fp16 : public ::testing::TestWithParam<std::string> {
protected:
  std::string path() const { return modelsDir() + "/" + GetParam() + ".f16.onnx"; }
};

TEST_P(Fp16, MatchesOnnxruntimeOnTheSameFile) {
  auto ref = ortReference(path(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(path()); // default options: nothing says fp16
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DecoderInfo &d = m.value()->signature().decoder;
  EXPECT_EQ(d.kvType, "f16");
  EXPECT_EQ(d.weights, "f16");
  EXPECT_EQ(d.kvMode, "bmc");
  EXPECT_EQ(m.value()->signature().outputs[d.logits].dtype, DType::F32);
  for (const std::string &st : d.kvStatus) EXPECT_NE(st.find("in place (f16)"), std::string::npos) << st;

  std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
  auto t = decode(m.value(), {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const double tol = kRoundings * kU;
  const double worst = expectLogitsNear(t.value(), ref.value().logits, kDumpSteps, tol);
  std::printf("%s: largest logit difference from onnxruntime %.2e of max |logit| (%.1f u; tolerance %.0f u)\n",
              GetParam().c_str(), worst, worst / kU, kRoundings);

  // Free-running greedy: the same tokens, or a near tie where they part.
  auto g = decode(m.value(), {}, {kPrompt}, kSteps);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::vector<int64_t> &mine = g.value().argmax[0], &theirs = ref.value().tokens;
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t s = 0; s < mine.size(); ++s) {
    if (mine[s] == theirs[s]) continue;
    const Tensor &l = g.value().logits[s];
    const float *row = l.data<float>();
    const int64_t V = l.shape()[1];
    double maxAbs = 0;
    for (int64_t i = 0; i < V; ++i) maxAbs = std::max(maxAbs, double(std::fabs(row[i])));
    const double margin = (double(row[mine[s]]) - row[theirs[s]]) / maxAbs;
    std::printf("%s: step %zu: bmc picks %lld, onnxruntime %lld; bmc's margin %.2e of max |logit| (%.1f u)\n",
                GetParam().c_str(), s, (long long)mine[s], (long long)theirs[s], margin, margin / kU);
    EXPECT_LE(margin, tol) << "a divergence that is no near tie at step " << s;
    break; // after a divergence the streams differ by construction
  }
}

TEST_P(Fp16, DriftFromTheF32Model) {
  const std::string f32 = generatedModelPath(GetParam());
  auto ref = ortReference(f32, kPrompt, kSteps, {0});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
  auto a = compiled(f32);
  auto b = compiled(path());
  ASSERT_TRUE(a.ok() && b.ok());
  auto ta = decode(a.value(), {}, {kPrompt}, kSteps, &forced);
  auto tb = decode(b.value(), {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(ta.ok() && tb.ok());
  const Drift dr = driftFrom(ta.value(), tb.value());
  std::printf("%s: fp16 graph vs fp32 model: mean KL %.2e nats, top-1 agreement %d/%d, max |logit diff| %.2e\n",
              GetParam().c_str(), dr.meanKL, dr.top1Agree, dr.steps, dr.maxAbsDiff);
  ASSERT_EQ(dr.steps, kSteps);
  EXPECT_TRUE(std::isfinite(dr.meanKL));
  EXPECT_GT(dr.maxAbsDiff, 0.0); // the fp16 weights and caches are in effect
  EXPECT_GE(dr.top1Agree, kSteps * 3 / 4);
}

INSTANTIATE_TEST_SUITE_P(Generated, Fp16, ::testing::Values("llama_op17", "gpt2_op17", "llama_op18", "gpt2_op18"),
                         [](const auto &info) { return info.param; });

/// kv-type bf16 on an fp16 graph's caches: one line naming the input.
TEST(Fp16Errors, KvTypeOtherThanTheGraphs) {
  CompileOptions o;
  o.kvType = KVType::BF16;
  auto m = compileOnnx(modelsDir() + "/llama_op17.f16.onnx", o);
  ASSERT_FALSE(m.ok());
  const std::string e = m.status().message();
  EXPECT_NE(e.find("kv-type bf16 asks for bf16 KV caches, but the graph's input 'past_key_values.0.key' is f16"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // f32 caches for an fp16 graph: widening is exact, accepted.
  o.kvType = KVType::F32;
  auto w = compileOnnx(modelsDir() + "/llama_op17.f16.onnx", o);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w.value()->signature().decoder.kvType, "f32");
}

/// The tools on an fp16 graph with no flag: bmc-compile reports f16 caches
/// and weights, bmc-run generates from the package and from the .onnx; the
/// other 16-bit kv-type is one line and exit 1 from both.
TEST(Fp16Errors, ToolsWithDefaults) {
  const std::string model = modelsDir() + "/gpt2_op17.f16.onnx";
  const std::string dir = freshDir("fp16_cli"), pkg = dir + "/f16.bmcpkg";
  ProcessResult c = bmcCompile({model, "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("(bmc, f16"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({pkg, "--max-new-tokens", "4"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find(", f16, "), std::string::npos) << r.err;
  ProcessResult j = bmcRun({model, "--max-new-tokens", "4"});
  ASSERT_EQ(j.exitCode, 0) << j.describe();
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--kv-type", "bf16", "--quiet"}), "but the graph's input"));
  EXPECT_TRUE(failsCleanly(bmcCompile({model, "-o", dir + "/x.bmcpkg", "--kv-type", "bf16", "--quiet"}), "is f16"));
  EXPECT_FALSE(fileExists(dir + "/x.bmcpkg"));
}

} // namespace
} // namespace bmc::e2e
