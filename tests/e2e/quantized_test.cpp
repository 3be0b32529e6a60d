//===- quantized_test.cpp - int8 weights against onnxruntime --------------===//
//
// `CompileOptions::weights = Int8 / Int4` (bmc-compile --weights int8|int4)
// quantizes the matmul weights at compile time. The oracle is onnxruntime on the same
// model with every matmul weight replaced by its dequantized values, written
// by tests/e2e/make_q8_reference.py from the definition in numpy (not by
// bmc's code): the same function, computed in fp32 by another engine. So:
//   - logits within the fp32 tolerance of the generated tests (1e-4
//     relative) at the prefill and at decode steps 1, 8, 32, 63, fed
//     onnxruntime's tokens; greedy tokens identical over 64 steps;
// on every family in the TorchScript exporter's idiom and two in the
// dynamo exporter's. Also: the fast int8 kernels against the reference int8
// kernel (1e-5), the package records the format and the bytes a token
// reads, and the drift from the fp32 model (KL divergence and top-1
// agreement over onnxruntime's fp32 token stream) is printed; the check
// there is only that int8 is really in effect (the logits differ).
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 64;
const std::vector<int> kDumpSteps = {0, 1, 8, 32, 63};
constexpr double kOrtTolerance = 1e-4;  // as generated_test.cpp: two engines, fp32 arithmetic
constexpr double kSameKernels = 1e-5;   // fast vs reference int8 kernels (summation order only)
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

std::vector<std::string> csv(const char *list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

CompileOptions quantized(int bits, bool reference = false) {
  CompileOptions o;
  o.weights = bits == 8 ? WeightFormat::Int8 : WeightFormat::Int4;
  o.referenceKernels = reference;
  return o;
}
CompileOptions int8(bool reference = false) { return quantized(8, reference); }

/// `m` fed onnxruntime's tokens (so its logits stay comparable after a near
/// tie): logits within kOrtTolerance of onnxruntime's at every dump step.
/// Returns bmc's greedy choice at each step and the largest relative difference.
std::pair<std::vector<int64_t>, double> againstOrt(const std::shared_ptr<Model> &m, const OrtReference &ref) {
  std::vector<std::vector<int64_t>> forced = {ref.tokens};
  auto t = decode(m, {}, {kPrompt}, kSteps, &forced);
  if (!t.ok()) {
    ADD_FAILURE() << t.status().message();
    return {{}, 0.0};
  }
  return {t.value().argmax[0], expectLogitsNear(t.value(), ref.logits, kDumpSteps, kOrtTolerance)};
}

using Param = std::tuple<std::string, int>; // model, bits

class Quantized : public ::testing::TestWithParam<Param> {
protected:
  const std::string &model() const { return std::get<0>(GetParam()); }
  int bits() const { return std::get<1>(GetParam()); }
  std::string path() const { return generatedModelPath(model()); }
  std::string refPath() const { return modelsDir() + "/" + model() + ".q" + std::to_string(bits()) + "ref.onnx"; }
  void SetUp() override {
    ASSERT_TRUE(fileExists(refPath())) << refPath() << " is missing: build the target bmc_e2e_models";
  }
};

TEST_P(Quantized, MatchesOnnxruntimeOnTheDequantizedGraph) {
  auto ref = ortReference(refPath(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(path(), quantized(bits()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weights, "int" + std::to_string(bits()));
  const auto [argmax, worst] = againstOrt(m.value(), ref.value());
  std::printf("%s int%d: largest relative logit difference from onnxruntime on the dequantized graph %.2e\n",
              model().c_str(), bits(), worst);
  // Free-running greedy generation.
  auto s = Session::create(m.value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  GenerateOptions go;
  go.maxNewTokens = kSteps;
  auto out = s.value()->generate({kPrompt}, go);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value()[0], ref.value().tokens) << "bmc: " << join(out.value()[0])
                                                << "\nort: " << join(ref.value().tokens);
}

INSTANTIATE_TEST_SUITE_P(Quantized, Quantized, ::testing::Combine(::testing::ValuesIn(csv(BMC_E2E_Q8)), ::testing::Values(8, 4)),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return std::get<0>(i.param) + "_int" + std::to_string(std::get<1>(i.param));
                         });

/// onnxruntime's own MatMulNBits kernels (accuracy_level 0: fp32 compute) on
/// the graph rewritten to MatMulNBits with the same quantization: logits
/// within 1e-4, greedy tokens identical.
class QuantizedNBits : public Quantized {
protected:
  std::string nbitsPath() const { return modelsDir() + "/" + model() + ".nbits" + std::to_string(bits()) + ".onnx"; }
};

TEST_P(QuantizedNBits, MatchesOnnxruntimeMatMulNBits) {
  ASSERT_TRUE(fileExists(nbitsPath())) << nbitsPath() << " is missing: build the target bmc_e2e_models";
  auto ref = ortReference(nbitsPath(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(path(), quantized(bits()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto [argmax, worst] = againstOrt(m.value(), ref.value());
  std::printf("%s int%d: largest relative logit difference from onnxruntime's MatMulNBits %.2e\n", model().c_str(),
              bits(), worst);
  EXPECT_EQ(argmax, ref.value().tokens);
}

/// bmc importing the MatMulNBits graph itself (frontend/ops/Contrib.cpp: the
/// codes repacked, not requantized): onnxruntime's logits on the same file
/// within 1e-4, its greedy tokens, and the package says int4 / int8.
TEST_P(QuantizedNBits, ImportedGraphMatchesOnnxruntime) {
  auto ref = ortReference(nbitsPath(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(nbitsPath()); // default options: the weights keep the model's format
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weights, "int" + std::to_string(bits()));
  EXPECT_EQ(againstOrt(m.value(), ref.value()).first, ref.value().tokens);
}

INSTANTIATE_TEST_SUITE_P(QuantizedNBits, QuantizedNBits,
                         ::testing::Combine(::testing::ValuesIn(csv(BMC_E2E_NBITS)), ::testing::Values(8, 4)),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return std::get<0>(i.param) + "_int" + std::to_string(std::get<1>(i.param));
                         });

/// MatMulNBits forms beyond bmc's own quantization: onnxruntime's asymmetric
/// int4 (zero points per block) with 128-row blocks, and int8 with 64-row
/// blocks, imported and run against onnxruntime on the same file.
TEST(QuantizedImport, OtherBlockSizesAndZeroPoints) {
  for (const char *name : {"qwen2_op17.nbits4asym128", "phi3_op17.nbits8b64"}) {
    SCOPED_TRACE(name);
    const std::string path = modelsDir() + "/" + name + ".onnx";
    ASSERT_TRUE(fileExists(path)) << path << " is missing: build the target bmc_e2e_models";
    auto ref = ortReference(path, kPrompt, kSteps, kDumpSteps);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    auto m = compiled(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(againstOrt(m.value(), ref.value()).first, ref.value().tokens);
  }
}

/// One MatMulNBits node (K = 70: a partial last block; zero points; bias)
/// against y computed in numpy from the definition (make_test_models.py).
TEST(QuantizedImport, SingleNodeMatchesTheDefinition) {
  auto m = compiled(modelsDir() + "/nbits_ok.onnx");
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> x(3 * 70);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) / 8.0f;
  auto y = m.value()->run({Tensor::fromVector<float>(DType::F32, {3, 70}, x)});
  ASSERT_TRUE(y.ok()) << y.status().message();
  std::string raw = readFile(modelsDir() + "/nbits_ok.expected");
  ASSERT_EQ(raw.size(), 3 * 20 * sizeof(float));
  const float *want = reinterpret_cast<const float *>(raw.data());
  for (int i = 0; i < 60; ++i)
    EXPECT_NEAR(y.value()[0].data<float>()[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << i;
}

/// What bmc does not import gets one line naming the node and the reason.
TEST(QuantizedImport, RefusedFormsNameTheNode) {
  const std::pair<const char *, const char *> cases[] = {
      {"nbits_block16", "attribute 'block_size'"}, {"nbits_bits2", "attribute 'bits'"},
      {"nbits_gidx", "g_idx"}, {"nbits_zp8", "8-bit zero points"},
      {"contrib_unknown", "unsupported operator 'FusedMatMulFrob' of domain com.microsoft"}};
  for (const auto &[name, what] : cases) {
    auto r = compileOnnx(modelsDir() + "/" + name + ".onnx");
    EXPECT_TRUE(isError(r, "node 'q_proj'")) << name;
    EXPECT_TRUE(isError(r, what)) << name;
    if (!r.ok()) EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "not one line: " << name;
  }
}

/// The fast int8 kernels (AVX-512 or AVX2 GEMV, dequantized panels for the
/// prefill GEMM) against the reference int8 kernel in a reference build.
TEST(QuantizedKernels, FastMatchesReference) {
  for (int bits : {8, 4})
  for (const char *name : {"llama_op17", "gpt2_op18"}) {
    SCOPED_TRACE(std::string(name) + " int" + std::to_string(bits));
    auto fast = compiled(generatedModelPath(name), quantized(bits));
    auto slow = compiled(generatedModelPath(name), quantized(bits, /*reference=*/true));
    ASSERT_TRUE(fast.ok()) << fast.status().message();
    ASSERT_TRUE(slow.ok()) << slow.status().message();
    auto a = decode(fast.value(), {}, {kPrompt}, 16);
    ASSERT_TRUE(a.ok()) << a.status().message();
    std::vector<std::vector<int64_t>> forced = a.value().argmax;
    auto b = decode(slow.value(), {}, {kPrompt}, 16, &forced);
    ASSERT_TRUE(b.ok()) << b.status().message();
    int64_t V = a.value().logits[0].shape()[1];
    for (size_t step = 0; step < a.value().logits.size(); ++step) {
      LogitDiff d = compareLogits(a.value().logits[step].data<float>(), b.value().logits[step].data<float>(), V);
      EXPECT_LE(d.rel, kSameKernels) << "step " << step << ": " << d.describe();
    }
  }
}

/// A package keeps the format; a token reads the packed bytes (1.125 per
/// matmul weight instead of 4; embedding tables gathered from are not read).
TEST(QuantizedPackage, RecordsTheFormatAndTheBytesPerToken) {
  auto f32 = packaged(generatedModelPath("llama_op17"));
  ASSERT_TRUE(f32.ok()) << f32.status().message();
  const int64_t f32Bytes = f32.value()->signature().decoder.weightBytesPerToken;
  EXPECT_EQ(f32.value()->signature().decoder.weights, "f32");
  auto q8 = packaged(generatedModelPath("llama_op17"), int8());
  ASSERT_TRUE(q8.ok()) << q8.status().message();
  EXPECT_EQ(q8.value()->signature().decoder.weights, "int8");
  const int64_t q8Bytes = q8.value()->signature().decoder.weightBytesPerToken;
  EXPECT_GT(q8Bytes, 0);
  // Norm weights and biases stay fp32: a little above 1.125 / 4 of the total.
  EXPECT_LT(double(q8Bytes), 0.30 * double(f32Bytes)) << q8Bytes << " of " << f32Bytes;
  EXPECT_GT(double(q8Bytes), 0.28 * double(f32Bytes)) << q8Bytes << " of " << f32Bytes;
  auto q4 = packaged(generatedModelPath("llama_op17"), quantized(4));
  ASSERT_TRUE(q4.ok()) << q4.status().message();
  EXPECT_EQ(q4.value()->signature().decoder.weights, "int4");
  const int64_t q4Bytes = q4.value()->signature().decoder.weightBytesPerToken;
  EXPECT_LT(double(q4Bytes), 0.18 * double(f32Bytes)) << q4Bytes << " of " << f32Bytes; // 0.656 / 4 = 0.164
  EXPECT_GT(double(q4Bytes), 0.16 * double(f32Bytes)) << q4Bytes << " of " << f32Bytes;
}

/// Drift from the fp32 model over onnxruntime's fp32 greedy stream: mean KL
/// divergence KL(p_f32 || p_int8) of the next-token distributions and top-1
/// agreement, printed for docs/QUANTIZATION.md. (Random-weight models: the
/// numbers say how much rounding moves near-uniform logits, nothing about
/// quality.) Asserted: int8 is in effect, so the logits differ from fp32.
TEST(QuantizedDrift, FromTheF32Model) {
  for (int bits : {8, 4})
  for (const char *name : {"llama_op17", "gpt2_op17"}) {
    SCOPED_TRACE(std::string(name) + " int" + std::to_string(bits));
    auto ref = ortReference(generatedModelPath(name), kPrompt, kSteps, {0});
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
    auto f = compiled(generatedModelPath(name));
    auto q = compiled(generatedModelPath(name), quantized(bits));
    ASSERT_TRUE(f.ok() && q.ok());
    auto a = decode(f.value(), {}, {kPrompt}, kSteps, &forced);
    auto b = decode(q.value(), {}, {kPrompt}, kSteps, &forced);
    ASSERT_TRUE(a.ok() && b.ok());
    const Drift d = driftFrom(a.value(), b.value());
    ASSERT_EQ(d.steps, kSteps);
    std::printf("%s: int%d vs f32 over %d steps: mean KL %.3e nats, top-1 agreement %d/%d, max |logit diff| %.3e\n",
                name, bits, kSteps, d.meanKL, d.top1Agree, kSteps, d.maxAbsDiff);
    EXPECT_GT(d.maxAbsDiff, 0.0) << "quantized logits equal the fp32 ones: the weights were not quantized";
    EXPECT_TRUE(std::isfinite(d.meanKL));
  }
}

} // namespace
} // namespace bmc::e2e
