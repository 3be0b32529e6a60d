//===- ref_vs_fast_test.cpp - fast paths against plain reference codegen ---===//
//
// Every model of make_op_models.py is compiled twice: as bmc compiles by
// default (optimised kernels, fused elementwise chains, runtime copies) and
// as the plain reference (every op as simple loops, every intermediate
// stored), then run on the same random inputs. Outputs must agree to float
// summation-order differences.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <cmath>
#include <random>

namespace bmc::e2e {
namespace {

std::vector<std::string> opModels() {
  return {"matmul_weight_m1", "matmul_weight_m3", "matmul_weight_m37", "gemm_transb_bias", "gemm_alpha_beta",
          "matmul_act_batched", "matmul_act_transposed", "attention_gqa", "elementwise_chain", "gelu_erf_chain",
          "layernorm_odd", "softmax_transposed", "concat_views", "slice_step_split"};
}

class RefVsFast : public ::testing::TestWithParam<std::string> {};

TEST_P(RefVsFast, SameOutputsOnRandomInputs) {
  std::string path = modelsDir() + "/ops/" + GetParam() + ".onnx";
  CompileOptions fast, ref;
  ref.referenceKernels = true;
  ref.fuseElementwise = false;
  auto mf = compileOnnx(path, fast), mr = compileOnnx(path, ref);
  ASSERT_TRUE(mf.ok()) << mf.status().message();
  ASSERT_TRUE(mr.ok()) << mr.status().message();
  std::mt19937 gen(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (const TensorInfo &ti : mf.value()->signature().inputs) {
    std::vector<int64_t> shape = ti.shape;
    for (int64_t &d : shape) ASSERT_GE(d, 0) << "the op models have static shapes";
    Tensor t(DType::F32, shape);
    for (int64_t i = 0; i < t.numElements(); ++i) t.data<float>()[i] = dist(gen);
    inputs.push_back(t);
  }
  auto of = mf.value()->run(inputs), orf = mr.value()->run(inputs);
  ASSERT_TRUE(of.ok()) << of.status().message();
  ASSERT_TRUE(orf.ok()) << orf.status().message();
  ASSERT_EQ(of.value().size(), orf.value().size());
  for (size_t k = 0; k < of.value().size(); ++k) {
    const Tensor &a = of.value()[k], &b = orf.value()[k];
    ASSERT_EQ(a.shape(), b.shape()) << "output " << k;
    for (int64_t i = 0; i < a.numElements(); ++i) {
      float x = a.data<float>()[i], y = b.data<float>()[i];
      ASSERT_LE(std::fabs(x - y), 1e-5f + 1e-4f * std::fabs(y)) << GetParam() << " output " << k << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, RefVsFast, ::testing::ValuesIn(opModels()),
                         [](const ::testing::TestParamInfo<std::string> &i) { return i.param; });

} // namespace
} // namespace bmc::e2e
