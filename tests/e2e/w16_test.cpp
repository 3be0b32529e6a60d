//===- w16_test.cpp - bf16 / fp16 weights against onnxruntime -------------===//
//
// `CompileOptions::weights = BF16 / F16` (bmc-compile --weights bf16|f16)
// rounds the matmul weights to 16 bits at compile time; 16-bit initializers
// read through a Cast to float keep their storage. Oracles, written by
// tests/e2e/make_q8_reference.py in numpy (not by bmc's code):
//   - X.bf16ref.onnx / X.f16ref.onnx: the fp32 graph with every matmul weight
//     replaced by its rounded value, as float32;
//   - X.bf16cast.onnx / X.f16cast.onnx: the same weights as BFLOAT16 /
//     FLOAT16 initializers with a Cast to FLOAT (an fp16 export keeping fp32
//     activations), which onnxruntime runs as it is and bmc imports.
// Widening is exact and the arithmetic fp32 in both engines, so: logits within
// the fp32 tolerance of the generated tests (1e-4 relative) at the prefill and
// decode steps 1, 8, 32, 63, fed onnxruntime's tokens; greedy tokens identical
// over 64 steps; on llama and gpt2 in the TorchScript (op17) and dynamo (op18)
// idioms. Also: fast vs reference 16-bit kernels in whole models (1e-5), the
// package's format and bytes per token, the refusal of fp16 overflow, and the
// drift from the fp32 model (mean KL, top-1 agreement) printed.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <tuple>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 64;
const std::vector<int> kDumpSteps = {0, 1, 8, 32, 63};
constexpr double kOrtTolerance = 1e-4; // as generated_test.cpp: two engines, fp32 arithmetic
constexpr double kSameKernels = 1e-5;  // fast vs reference 16-bit kernels (summation order only)
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

std::vector<std::string> csv(const char *list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

CompileOptions w16(const std::string &fmt, bool reference = false) {
  CompileOptions o;
  o.weights = fmt == "bf16" ? WeightFormat::BF16 : WeightFormat::F16;
  o.referenceKernels = reference;
  return o;
}

/// `m` fed onnxruntime's tokens: logits within kOrtTolerance at every dump
/// step; then free-running greedy generation equal to onnxruntime's.
void matchesOrt(const std::shared_ptr<Model> &m, const OrtReference &ref, const std::string &what) {
  std::vector<std::vector<int64_t>> forced = {ref.tokens};
  auto t = decode(m, {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const double worst = expectLogitsNear(t.value(), ref.logits, kDumpSteps, kOrtTolerance);
  std::printf("%s: largest relative logit difference from onnxruntime %.2e\n", what.c_str(), worst);
  auto s = Session::create(m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  GenerateOptions go;
  go.maxNewTokens = kSteps;
  auto out = s.value()->generate({kPrompt}, go);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value()[0], ref.tokens) << "bmc: " << join(out.value()[0]) << "\nort: " << join(ref.tokens);
}

using Param = std::tuple<std::string, std::string>; // model, bf16|f16

class W16 : public ::testing::TestWithParam<Param> {
protected:
  const std::string &model() const { return std::get<0>(GetParam()); }
  const std::string &fmt() const { return std::get<1>(GetParam()); }
  std::string variant(const char *kind) const { return modelsDir() + "/" + model() + "." + fmt() + kind + ".onnx"; }
};

/// bmc rounding the fp32 model's weights against onnxruntime on the rounded
/// fp32 graph.
TEST_P(W16, RoundedWeightsMatchOnnxruntime) {
  ASSERT_TRUE(fileExists(variant("ref"))) << variant("ref") << " is missing: build the target bmc_e2e_models";
  auto ref = ortReference(variant("ref"), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(generatedModelPath(model()), w16(fmt()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weights, fmt());
  matchesOrt(m.value(), ref.value(), model() + " --weights " + fmt());
}

/// The 16-bit initializers imported with their storage (the default
/// --weights f32 does not widen them) against onnxruntime on the same file.
TEST_P(W16, Imported16BitInitializersMatchOnnxruntime) {
  ASSERT_TRUE(fileExists(variant("cast"))) << variant("cast") << " is missing: build the target bmc_e2e_models";
  auto ref = ortReference(variant("cast"), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto m = compiled(variant("cast"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weights, fmt());
  // The same bytes per token as rounding the fp32 model: 2 per matmul weight.
  auto rounded = compiled(generatedModelPath(model()), w16(fmt()));
  ASSERT_TRUE(rounded.ok()) << rounded.status().message();
  EXPECT_EQ(m.value()->signature().decoder.weightBytesPerToken,
            rounded.value()->signature().decoder.weightBytesPerToken);
  matchesOrt(m.value(), ref.value(), model() + " " + fmt() + " initializers");
}

INSTANTIATE_TEST_SUITE_P(W16, W16, ::testing::Combine(::testing::ValuesIn(csv(BMC_E2E_W16)), ::testing::Values("bf16", "f16")),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return std::get<0>(i.param) + "_" + std::get<1>(i.param);
                         });

/// The fast 16-bit kernels (AVX-512 or AVX2 GEMV, widened panels for the
/// prefill GEMM: a prompt of 20 tokens, M > 12) against the reference 16-bit
/// kernels in a reference build.
TEST(W16Kernels, FastMatchesReference) {
  for (const char *fmt : {"bf16", "f16"})
    for (const char *name : {"llama_op17", "gpt2_op18"}) {
      SCOPED_TRACE(std::string(name) + " " + fmt);
      auto fast = compiled(generatedModelPath(name), w16(fmt));
      auto slow = compiled(generatedModelPath(name), w16(fmt, /*reference=*/true));
      ASSERT_TRUE(fast.ok()) << fast.status().message();
      ASSERT_TRUE(slow.ok()) << slow.status().message();
      const std::vector<int64_t> longPrompt = {11, 42, 7, 300, 5, 99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 301, 17, 64};
      auto a = decode(fast.value(), {}, {longPrompt}, 16);
      ASSERT_TRUE(a.ok()) << a.status().message();
      std::vector<std::vector<int64_t>> forced = a.value().argmax;
      auto b = decode(slow.value(), {}, {longPrompt}, 16, &forced);
      ASSERT_TRUE(b.ok()) << b.status().message();
      int64_t V = a.value().logits[0].shape()[1];
      for (size_t step = 0; step < a.value().logits.size(); ++step) {
        LogitDiff d = compareLogits(a.value().logits[step].data<float>(), b.value().logits[step].data<float>(), V);
        EXPECT_LE(d.rel, kSameKernels) << "step " << step << ": " << d.describe();
      }
    }
}

/// A package keeps the format; a token reads 2 bytes per matmul weight.
TEST(W16Package, RecordsTheFormatAndTheBytesPerToken) {
  auto f32 = packaged(generatedModelPath("llama_op17"));
  ASSERT_TRUE(f32.ok()) << f32.status().message();
  const int64_t f32Bytes = f32.value()->signature().decoder.weightBytesPerToken;
  for (const char *fmt : {"bf16", "f16"}) {
    auto m = packaged(generatedModelPath("llama_op17"), w16(fmt));
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m.value()->signature().decoder.weights, fmt);
    const int64_t bytes = m.value()->signature().decoder.weightBytesPerToken;
    // Norm weights and biases stay fp32: a little above half the total.
    EXPECT_LT(double(bytes), 0.52 * double(f32Bytes)) << bytes << " of " << f32Bytes;
    EXPECT_GE(double(bytes), 0.50 * double(f32Bytes)) << bytes << " of " << f32Bytes;
    // The 16-bit initializers' package holds them once, in 16 bits: no widened
    // copy for the Casts (the blob is the size of the rounded fp32 model's).
    const int64_t blob = m.value()->weightBytes();
    auto cast = packaged(modelsDir() + "/llama_op17." + fmt + "cast.onnx");
    ASSERT_TRUE(cast.ok()) << cast.status().message();
    EXPECT_EQ(cast.value()->signature().decoder.weights, fmt);
    EXPECT_LE(double(cast.value()->weightBytes()), 1.01 * double(blob)) << cast.value()->weightBytes() << " vs " << blob;
  }
}

/// An fp32 weight beyond fp16's range cannot be stored as f16: one line naming
/// it, not infinities in the model.
TEST(W16Errors, Fp16OverflowNamesTheWeight) {
  const std::string path = modelsDir() + "/w16_overflow.onnx";
  ASSERT_TRUE(fileExists(path)) << path << " is missing: build the target bmc_e2e_models";
  auto r = compileOnnx(path, w16("f16"));
  EXPECT_TRUE(isError(r, "weight 'w_big' holds a value beyond fp16's range")) << (r.ok() ? "compiled" : r.status().message());
  if (!r.ok()) EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  auto b = compileOnnx(path, w16("bf16")); // bf16 has fp32's range
  EXPECT_TRUE(b.ok()) << b.status().message();
}

float halfToFloat(uint16_t h) { // IEEE fp16, written out here (not bmc's conversion)
  const int e = (h >> 10) & 31, m = h & 1023;
  const float v = e == 0 ? std::ldexp(float(m), -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(float(m + 1024), e - 25);
  return h & 0x8000 ? -v : v;
}

/// A fully fp16 graph (fp16 activations times an fp16 weight) is computed in
/// fp32 (bmc-widen-16bit) but keeps its ONNX signature (bmc-narrow-16bit-io):
/// fp16 in, the weight kept fp16 (the 16-bit kernel, fast and reference
/// builds), the fp32 result rounded to fp16 once at the output. Against
/// numpy's float64 product rounded to fp16: within 1 ulp.
TEST(W16Import, Fp16GraphComputesInFp32) {
  const std::string path = modelsDir() + "/fp16_matmul.onnx";
  ASSERT_TRUE(fileExists(path)) << path << " is missing: build the target bmc_e2e_models";
  const uint16_t xBits[7] = {0xBA00, 0xB800, 0xB400, 0x0000, 0x3400, 0x3800, 0x3A00}; // (i % 7 - 3) / 4
  Tensor x(DType::F16, {3, 70});
  for (int i = 0; i < 210; ++i) {
    ASSERT_EQ(halfToFloat(xBits[i % 7]), float(i % 7 - 3) / 4);
    x.data<uint16_t>()[i] = xBits[i % 7];
  }
  const std::string raw = readFile(modelsDir() + "/fp16_matmul.expected");
  ASSERT_EQ(raw.size(), 3 * 37 * sizeof(uint16_t));
  for (bool reference : {false, true}) {
    SCOPED_TRACE(reference ? "reference kernels" : "fast kernels");
    CompileOptions o;
    o.referenceKernels = reference;
    auto m = compiled(path, o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m.value()->signature().decoder.weights, "f16");
    ASSERT_EQ(m.value()->signature().inputs[0].dtype, DType::F16);
    ASSERT_EQ(m.value()->signature().outputs[0].dtype, DType::F16);
    auto y = m.value()->run({x});
    ASSERT_TRUE(y.ok()) << y.status().message();
    ASSERT_EQ(y.value()[0].dtype(), DType::F16);
    for (int i = 0; i < 3 * 37; ++i) {
      uint16_t want;
      std::memcpy(&want, raw.data() + 2 * i, 2);
      const float w = halfToFloat(want), g = halfToFloat(y.value()[0].data<uint16_t>()[i]);
      EXPECT_LE(std::fabs(g - w), std::ldexp(1.0f, std::ilogb(std::fabs(w)) - 10)) << i << ": " << g << " vs " << w;
    }
  }
}

/// Drift from the fp32 model over onnxruntime's fp32 greedy stream: mean KL
/// divergence KL(p_f32 || p_w16) and top-1 agreement, printed for
/// docs/QUANTIZATION.md (random-weight models: how far rounding moves
/// near-uniform logits, nothing about quality). Asserted: the rounding is in
/// effect (the logits differ) and finite.
TEST(W16Drift, FromTheF32Model) {
  for (const char *fmt : {"bf16", "f16"})
    for (const char *name : {"llama_op17", "gpt2_op17"}) {
      SCOPED_TRACE(std::string(name) + " " + fmt);
      auto ref = ortReference(generatedModelPath(name), kPrompt, kSteps, {0});
      ASSERT_TRUE(ref.ok()) << ref.status().message();
      std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
      auto f = compiled(generatedModelPath(name));
      auto q = compiled(generatedModelPath(name), w16(fmt));
      ASSERT_TRUE(f.ok() && q.ok());
      auto a = decode(f.value(), {}, {kPrompt}, kSteps, &forced);
      auto b = decode(q.value(), {}, {kPrompt}, kSteps, &forced);
      ASSERT_TRUE(a.ok() && b.ok());
      const Drift d = driftFrom(a.value(), b.value());
      ASSERT_EQ(d.steps, kSteps);
      std::printf("%s: %s vs f32 over %d steps: mean KL %.3e nats, top-1 agreement %d/%d, max |logit diff| %.3e\n",
                  name, fmt, kSteps, d.meanKL, d.top1Agree, kSteps, d.maxAbsDiff);
      EXPECT_GT(d.maxAbsDiff, 0.0) << "16-bit logits equal the fp32 ones: the weights were not rounded";
      EXPECT_TRUE(std::isfinite(d.meanKL));
    }
}

} // namespace
} // namespace bmc::e2e
