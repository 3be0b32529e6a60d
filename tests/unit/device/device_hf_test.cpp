// The real Hugging Face exports (tests/e2e/data: llama_s.onnx, gpt2_s.onnx,
// torch.onnx.export output, committed with golden.json) whole through the
// device path, in the host emulation: compileOnnx with Target::Cuda through
// its seam (compileOnnxCuda + startCudaJitOn: a CpuDevice and this binary's
// kernel table, the host C++ build of bmc-compile --emit cuda of the same file
// with the same options; the JIT's source must be that .cu, or the test says
// so and stops), then a Session.
//
// f32 weights (BMC_HF_WEIGHTS f32): generate() decodes golden.json's length
// greedily from its prompt, each token the device's own choice, and the
// tokens must be `ort_greedy` (onnxruntime on the same file), exactly.
// bf16 weights (the matrix products' weights stored as bf16 on the device):
// another function than the file's, so against bmc's f32 CPU path
// (compileOnnx, target cpu) fed the same tokens, the golden ones (a
// divergence cannot cascade): at the prefill and every step over the golden
// length the device's logits within 2e-2 of the CPU's relative to the CPU's
// max |logit|, and the device's greedy token the golden one, or a documented
// near-tie: a step listed in kNearTies, where the CPU's two best logits are
// closer than the bf16 weights move them (llama_s, step 8: 998 at 1.8932,
// 834 at 1.8922). The list is exact: a flip at a step not in it fails, and so
// does a listed step that no longer flips (then the list and docs/DESIGN.md
// are stale). The CPU path itself must give the golden tokens (as
// e2e.golden.* asserts).
//
// The files are committed, not skipped when absent: a missing .onnx fails
// the build (the .cu is made from it), a missing golden.json fails the test.
#include "cuda_emulation.h"


// The model's emitted kernels and kTable, their host emulation's table.
#include "emitted_model_kernels.inc"

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "compiler/CompileCuda.h"
#include "emitted_env.h"
#include "emitted_model_seam.h"
#include "runtime/CudaJit.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CpuDevice.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace bmc;

const bool kBf16 = std::string(BMC_HF_WEIGHTS) == "bf16";
constexpr double kBf16Tolerance = 2e-2; // relative to the CPU's max |logit|
// The runs (0: the prefill, i: step i) whose bf16-weight token is not the
// golden one, a near-tie each (seen; docs/DESIGN.md, "CUDA programs").
const std::map<std::string, std::vector<size_t>> kNearTies = {{"llama_s", {8}}, {"gpt2_s", {}}};

struct Golden {
  std::vector<int64_t> prompt, tokens; // tokens: ort_greedy
  int64_t vocab = 0;
};

// golden.json's entry for this model; a failure (not a skip) when absent.
Golden golden() {
  std::ifstream in(BMC_HF_GOLDEN);
  Golden g;
  if (!in) {
    ADD_FAILURE() << BMC_HF_GOLDEN << ": not readable (it is committed with the exports)";
    return g;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains(BMC_HF_MODEL) || !j[BMC_HF_MODEL].contains("ort_greedy")) {
    ADD_FAILURE() << BMC_HF_GOLDEN << ": no " << BMC_HF_MODEL << " with ort_greedy";
    return g;
  }
  const nlohmann::json &m = j[BMC_HF_MODEL];
  g.prompt = m["prompt"].get<std::vector<int64_t>>();
  g.tokens = m["ort_greedy"].get<std::vector<int64_t>>();
  g.vocab = m["vocab"].get<int64_t>();
  return g;
}

// The JIT of the export through the seam: the CpuDevice and this binary's table.
std::shared_ptr<Model> jitEmulated() {
  CompileOptions o;
  o.target = Target::Cuda;
  o.weights = kBf16 ? WeightFormat::BF16 : WeightFormat::F32; // CMakeLists.txt: --weights of the .cu
  return bmc_device_test::runsEmittedSource(bmc_device_test::jitOnHostTable(BMC_HF_ONNX, o, kTable),
                                            "the JIT's model", BMC_EMITTED_CU,
                                            "bmc-compile --emit cuda with the same options");
}

std::string join(const std::vector<int64_t> &v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

int64_t argmax(const Tensor &logits) {
  const float *p = logits.data<float>();
  return std::max_element(p, p + logits.numElements()) - p;
}

// f32 weights: the device's own greedy tokens are onnxruntime's.
TEST(DeviceHf, GreedyIsOrtGolden) {
  if (kBf16) GTEST_SKIP() << "f32 weights only (this binary's are bf16: BfloatWeightsNearCpuPath)";
  const Golden g = golden();
  ASSERT_FALSE(g.tokens.empty());
  auto m = jitEmulated();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->signature().decoder.vocab, g.vocab);
  auto s = Session::create(m, {});
  ASSERT_TRUE(s) << s.status().message();
  GenerateOptions go;
  go.maxNewTokens = int64_t(g.tokens.size());
  auto out = s.value()->generate({g.prompt}, go);
  ASSERT_TRUE(out) << out.status().message();
  ASSERT_EQ(out.value().size(), 1u);
  EXPECT_EQ(out.value()[0], g.tokens) << "device: " << join(out.value()[0]) << "\nwant:   " << join(g.tokens);
  std::printf("%s (f32 weights, emulated): %zu greedy tokens, onnxruntime's\n", BMC_HF_MODEL, out.value()[0].size());
}

// bf16 weights: each run's logits near the f32 CPU path's, fed the golden tokens.
TEST(DeviceHf, BfloatWeightsNearCpuPath) {
  if (!kBf16) GTEST_SKIP() << "bf16 weights only (this binary's are f32: GreedyIsOrtGolden)";
  const Golden g = golden();
  ASSERT_FALSE(g.tokens.empty());
  auto dev = jitEmulated();
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->signature().decoder.weights, "bf16");
  auto cpuModel = compileOnnx(BMC_HF_ONNX, CompileOptions{});
  ASSERT_TRUE(cpuModel) << cpuModel.status().message();
  auto d = Session::create(dev, {}), c = Session::create(cpuModel.value(), {});
  ASSERT_TRUE(d) << d.status().message();
  ASSERT_TRUE(c) << c.status().message();
  Status sd = d.value()->prefill({g.prompt}), sc = c.value()->prefill({g.prompt});
  double worst = 0;
  std::vector<size_t> flips;
  for (size_t i = 0; i < g.tokens.size(); ++i) {
    const std::string at = i == 0 ? std::string("prefill") : "step " + std::to_string(i);
    if (i > 0) { // fed the golden token before this one, both
      sd = d.value()->step({g.tokens[i - 1]});
      sc = c.value()->step({g.tokens[i - 1]});
    }
    ASSERT_TRUE(sd) << at << " (device): " << sd.message();
    ASSERT_TRUE(sc) << at << " (CPU): " << sc.message();
    const Tensor &a = d.value()->logits(), &b = c.value()->logits();
    ASSERT_EQ(a.shape(), b.shape()) << at;
    const float *x = a.data<float>(), *y = b.data<float>();
    double diff = 0, scale = 0;
    for (int64_t k = 0; k < b.numElements(); ++k)
      diff = std::max(diff, std::fabs(double(x[k]) - double(y[k]))), scale = std::max(scale, std::fabs(double(y[k])));
    const double rel = diff / std::max(scale, 1e-30);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, kBf16Tolerance) << at << ": max |logit difference| " << diff << " of max |logit| " << scale;
    ASSERT_EQ(argmax(b), g.tokens[i]) << at << ": the CPU path's token is not the golden one";
    const int64_t t = argmax(a), want = g.tokens[i];
    if (t != want) {
      flips.push_back(i);
      std::printf("%s: device token %lld, golden %lld (CPU logits %g, %g; max |logit difference| %g)\n", at.c_str(),
                  (long long)t, (long long)want, y[t], y[want], diff);
    }
  }
  // f32 weights would agree to ~1e-6 (the summation order): the rounding is there.
  EXPECT_GT(worst, 1e-4) << "bf16 weights should move the logits";
  EXPECT_EQ(flips, kNearTies.at(BMC_HF_MODEL))
      << "the runs whose device token is not the golden one, against the documented near-ties";
  std::printf("%s (bf16 weights, emulated): %zu runs fed the golden tokens, greatest |logit difference| %.3g of max "
              "|logit| (tolerance %.0e), %zu near-ties\n",
              BMC_HF_MODEL, g.tokens.size(), worst, kBf16Tolerance, flips.size());
}

} // namespace
