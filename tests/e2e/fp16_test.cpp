//===- fp16_test.cpp - fully fp16 decoders against onnxruntime -------------===//
//
// X.f16.onnx (tests/models/make_fp16_decoder.py on the generated fp32 decoder
// X): every activation, cache and the logits FLOAT16, as an fp16 export writes
// them. bmc compiles it with default options: computed in fp32 (weights kept
// fp16, widened as read), KV caches f16 (kv-type auto), the logits f16 as the
// graph says (rounded once at the output; the session widens them to sample).
// onnxruntime runs the same file, rounding every activation to fp16 between
// ops (u = 2^-11 relative each), so the two differ by those roundings.
// Tolerance: kRoundings * u relative to max |logit| (compareLogits): a budget
// of 32 fp16 roundings along the residual stream (2 layers of ~12 rounded
// ops each on the path to the logits: projections, rotary, attention output,
// MLP, residual adds; the head and its fp16 logits), each at most u relative;
// measured 8.2 u (llama) and 2.3 u (gpt2), printed. Greedy tokens over 40 steps
// identical, or diverging only at a near tie: bmc's own margin between its
// choice and onnxruntime's token within the same tolerance (printed).
// Drift from the fp32 model (driftFrom, onnxruntime's fp32 token stream):
// mean KL and top-1 agreement printed; asserted finite and mostly agreeing.
// bf16 graphs (Bf16 below): against onnxruntime on their fp32 twin.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

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

/// Free-running greedy tokens of `m` equal onnxruntime's `theirs`, or part
/// only at a near tie: bmc's own margin between its choice and onnxruntime's
/// within `tol` of max |logit| (printed).
void greedyMatchesOrNearTie(const std::shared_ptr<Model> &m, const std::vector<int64_t> &theirs,
                            const std::string &name, const std::string &type, double u, double tol) {
  auto g = decode(m, {}, {kPrompt}, kSteps);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::vector<int64_t> &mine = g.value().argmax[0];
  ASSERT_EQ(mine.size(), theirs.size());
  size_t same = 0;
  while (same < mine.size() && mine[same] == theirs[same]) ++same;
  std::printf("%s %s: greedy tokens identical for %zu of %d steps\n", name.c_str(), type.c_str(), same, kSteps);
  if (same < mine.size()) {
    const Tensor &l = g.value().logits[same];
    const float *row = l.data<float>();
    const int64_t V = l.shape()[1];
    double maxAbs = 0;
    for (int64_t i = 0; i < V; ++i) maxAbs = std::max(maxAbs, double(std::fabs(row[i])));
    const double margin = (double(row[mine[same]]) - row[theirs[same]]) / maxAbs;
    std::printf("%s %s: step %zu: bmc picks %lld, onnxruntime %lld; bmc's margin %.2e of max |logit| (%.1f u)\n",
                name.c_str(), type.c_str(), same, (long long)mine[same], (long long)theirs[same], margin, margin / u);
    EXPECT_LE(margin, tol) << "a divergence that is no near tie at step " << same;
  }
}

/// `model16` (16-bit graph, default options or `o`) against onnxruntime on
/// `oracle`: logits within `tol` relative at kDumpSteps fed onnxruntime's
/// tokens, then free-running greedy tokens equal, or parting only at a near tie.
void matchesOrt(const std::string &name, const std::string &model16, const std::string &oracle,
                const std::string &type, double u, double tol, const CompileOptions &o = {}) {
  auto ref = ortReference(oracle, kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(model16, o); // default options: nothing says fp16 / bf16
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DecoderInfo &d = m.value()->signature().decoder;
  const DType t16 = type == "bf16" ? DType::BF16 : DType::F16;
  EXPECT_EQ(d.weights, type);
  // The graph's logits type at the output (Model::run's ONNX signature).
  EXPECT_EQ(m.value()->signature().outputs[d.logits].dtype, t16);
  EXPECT_EQ(d.kvType, type); // the caches' type in every mode
  if (o.kvMode == KVMode::Concat) {
    // The graph's caches as tensors of its type, cast where read and rounded where returned.
    EXPECT_EQ(d.kvMode, "concat");
    for (const DecoderInfo::KV &c : d.caches) {
      EXPECT_EQ(m.value()->signature().inputs[size_t(c.pastInput)].dtype, t16);
      EXPECT_EQ(m.value()->signature().outputs[size_t(c.presentOutput)].dtype, t16);
    }
  } else {
    EXPECT_EQ(d.kvMode, "bmc");
    for (const std::string &st : d.kvStatus) EXPECT_NE(st.find("in place (" + type + ")"), std::string::npos) << st;
  }

  std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
  auto t = decode(m.value(), {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const double worst = expectLogitsNear(t.value(), ref.value().logits, kDumpSteps, tol);
  std::printf("%s %s%s: largest logit difference from onnxruntime %.2e of max |logit| (%.1f u; tolerance %.0f u)\n",
              name.c_str(), type.c_str(), o.kvMode == KVMode::Concat ? " (kv concat)" : "", worst, worst / u, tol / u);
  greedyMatchesOrNearTie(m.value(), ref.value().tokens, name, type, u, tol);
}

TEST_P(Fp16, MatchesOnnxruntimeOnTheSameFile) {
  matchesOrt(GetParam(), path(), path(), "f16", kU, kRoundings * kU);
}

/// --kv concat: the graph's f16 past/present tensors cross the boundary as
/// f16 (the session keeps them in the graph's type), as onnxruntime's do.
TEST_P(Fp16, ConcatCachesMatchOnnxruntime) {
  CompileOptions o;
  o.kvMode = KVMode::Concat;
  matchesOrt(GetParam(), path(), path(), "f16", kU, kRoundings * kU, o);
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

/// A fully bf16 graph (make_fp16_decoder.py --dtype bf16) against onnxruntime
/// on its fp32 twin (--upcast: the same graph and values in fp32; onnxruntime's
/// CPU provider has no bf16 Sin, Softmax, ...). bmc computes the bf16 graph
/// as the twin does, in fp32, except for its bf16 KV cache (kv-type auto):
/// the bound of kv_type_test.cpp for bf16 caches, 8 u (u = 2^-8) relative to
/// max |logit|, and its near ties (fp32 top-2 margins of 2e-3 on these models).
class Bf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(Bf16, MatchesOnnxruntimeOnTheFp32Twin) {
  const double u = 1.0 / 256;
  matchesOrt(GetParam(), modelsDir() + "/" + GetParam() + ".bf16.onnx",
             modelsDir() + "/" + GetParam() + ".bf16up.onnx", "bf16", u, 8 * u);
}

INSTANTIATE_TEST_SUITE_P(Generated, Bf16, ::testing::Values("llama_op17", "gpt2_op17", "llama_op18", "gpt2_op18"),
                         [](const auto &info) { return info.param; });

/// bmc-widen-16bit is the exact upcast: the 16-bit graph compiled with f32
/// caches against onnxruntime on its fp32 twin (make_fp16_decoder.py
/// --upcast, written in numpy/onnx, not by bmc) agrees to the fp32 tolerance of
/// the generated tests (1e-4 relative) plus the one rounding of the graph's
/// 16-bit logits at its output; greedy tokens identical, or parting only at a
/// tie that rounding can make (within the same tolerance, printed).
class Twin16 : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Twin16, F32CachesMatchTheFp32Twin) {
  const auto &[name, fmt] = GetParam();
  const std::string twin = modelsDir() + "/" + name + "." + fmt + "up.onnx";
  auto ref = ortReference(twin, kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  CompileOptions o;
  o.kvType = KVType::F32;
  auto m = compiled(modelsDir() + "/" + name + "." + fmt + ".onnx", o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.kvType, "f32");
  EXPECT_EQ(m.value()->signature().decoder.weights, fmt);
  std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
  auto t = decode(m.value(), {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  // The fp32 tolerance plus the one rounding of the graph's 16-bit logits at
  // the output (at most u relative: 2^-11 for f16, 2^-8 for bf16).
  const double u = fmt == "bf16" ? 1.0 / 256 : kU, tol = 1e-4 + u;
  const double worst = expectLogitsNear(t.value(), ref.value().logits, kDumpSteps, tol);
  std::printf("%s %s, f32 caches: largest logit difference from onnxruntime on the fp32 twin %.2e (tolerance %.2e)\n",
              name.c_str(), fmt.c_str(), worst, tol);
  greedyMatchesOrNearTie(m.value(), ref.value().tokens, name, fmt + ", f32 caches", u, tol);
}

INSTANTIATE_TEST_SUITE_P(Generated, Twin16,
                         ::testing::Combine(::testing::Values("llama_op17", "gpt2_op17", "llama_op18", "gpt2_op18"),
                                            ::testing::Values("f16", "bf16")),
                         [](const auto &info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

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
  EXPECT_NE(c.err.find("16-bit graph (f16) computed in fp32"), std::string::npos) << c.err; // not silent
  ProcessResult r = bmcRun({pkg, "--max-new-tokens", "4"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find(", f16, "), std::string::npos) << r.err;
  ProcessResult j = bmcRun({model, "--max-new-tokens", "4"});
  ASSERT_EQ(j.exitCode, 0) << j.describe();
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--kv-type", "bf16", "--quiet"}), "but the graph's input"));
  EXPECT_TRUE(failsCleanly(bmcCompile({model, "-o", dir + "/x.bmcpkg", "--kv-type", "bf16", "--quiet"}), "is f16"));
  EXPECT_FALSE(fileExists(dir + "/x.bmcpkg"));
}

/// DecoderInfo::kvType is the caches' element type in every KV mode: the
/// in-place buffers' (bmc, prealloc) and the graph's own cache tensors'
/// (concat), for the fp16 and bf16 graphs and the fp32 model they were made
/// from. The oracle is the type each file was written with; the session's KV
/// bytes (heads x head_dim x rows x the element size) say the runtime agrees.
TEST(Fp16KvType, IsTheCachesTypeInEveryMode) {
  struct File { std::string path, type; DType dtype; int64_t bytes; };
  const std::vector<File> files = {{modelsDir() + "/llama_op17.f16.onnx", "f16", DType::F16, 2},
                                   {modelsDir() + "/llama_op17.bf16.onnx", "bf16", DType::BF16, 2},
                                   {generatedModelPath("llama_op17"), "f32", DType::F32, 4}};
  for (const File &f : files)
    for (KVMode mode : {KVMode::Concat, KVMode::Prealloc, KVMode::BMC}) {
      SCOPED_TRACE(f.path + " " + kvModeName(mode));
      CompileOptions o;
      o.kvMode = mode;
      auto m = compiled(f.path, o);
      ASSERT_TRUE(m.ok()) << m.status().message();
      const ModelSignature &sig = m.value()->signature();
      const DecoderInfo &d = sig.decoder;
      EXPECT_EQ(d.kvMode, kvModeName(mode));
      EXPECT_EQ(d.kvType, f.type);
      int64_t perRow = 0;
      for (const DecoderInfo::KV &c : d.caches) {
        EXPECT_EQ(sig.inputs[size_t(c.pastInput)].dtype, f.dtype);
        perRow += c.heads * c.headDim * f.bytes;
      }
      auto s = Session::create(m.value(), SessionOptions());
      ASSERT_TRUE(s.ok()) << s.status().message();
      ASSERT_TRUE(s.value()->prefill({kPrompt}).ok());
      ASSERT_TRUE(s.value()->step({7}).ok());
      EXPECT_EQ(s.value()->kvStats().bytesUsed, perRow * int64_t(kPrompt.size() + 1));
    }
}

/// f32 caches asked of a 16-bit graph under kv mode concat, which keeps the
/// graph's tensors, would be ignored: refused in one line (auto is accepted above).
TEST(Fp16KvType, F32WithConcatOnA16BitGraphIsRefused) {
  CompileOptions o;
  o.kvMode = KVMode::Concat;
  o.kvType = KVType::F32;
  auto m = compileOnnx(modelsDir() + "/llama_op17.f16.onnx", o);
  ASSERT_FALSE(m.ok());
  const std::string e = m.status().message();
  EXPECT_NE(e.find("kv type f32: the KV caches stay the graph's f16 tensors"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_TRUE(failsCleanly(bmcRun({modelsDir() + "/llama_op17.f16.onnx", "--kv", "concat", "--kv-type", "f32",
                                   "--max-new-tokens", "2", "--quiet"}),
                           "the graph's f16 tensors"));
}

/// The tools print it: bmc-compile's summary and bmc-run's KV line say f16
/// for a concat package of the fp16 graph, which loads (the code's recorded
/// KV type agrees with the metadata's).
TEST(Fp16KvType, ToolsPrintTheConcatCachesType) {
  const std::string model = modelsDir() + "/gpt2_op17.f16.onnx";
  const std::string dir = freshDir("fp16_kv_concat"), pkg = dir + "/concat.bmcpkg";
  ProcessResult c = bmcCompile({model, "-o", pkg, "--kv", "concat"});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("KV caches: concat, f16"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({pkg, "--max-new-tokens", "4"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find("kv cache: concat, f16, "), std::string::npos) << r.err;
  ProcessResult j = bmcRun({modelsDir() + "/llama_op17.bf16.onnx", "--kv", "concat", "--max-new-tokens", "4"});
  ASSERT_EQ(j.exitCode, 0) << j.describe();
  EXPECT_NE(j.err.find("kv cache: concat, bf16, "), std::string::npos) << j.err;
}

} // namespace
} // namespace bmc::e2e
