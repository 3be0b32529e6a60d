// Temporary smoke driver: JIT-compile a decoder and run one prefill.
#include "bmc/compiler.h"
#include <cstdio>
#include <cstdlib>
int main(int argc, char **argv) {
  bmc::CompileOptions o;
  o.progress = [](const std::string &s) { std::fprintf(stderr, "[%s]\n", s.c_str()); };
  auto m = bmc::compileOnnx(argv[1], o);
  if (!m) { std::fprintf(stderr, "%s\n", m.status().message().c_str()); return 1; }
  auto &sig = (*m)->signature();
  std::vector<int64_t> prompt;
  for (int i = 2; i < argc; ++i) prompt.push_back(std::atoll(argv[i]));
  int64_t n = prompt.size();
  std::vector<bmc::Tensor> in;
  for (auto &ti : sig.inputs) {
    if (ti.name == "input_ids") in.push_back(bmc::Tensor::fromVector<int64_t>(bmc::DType::I64, {1, n}, prompt));
    else if (ti.name == "attention_mask") in.push_back(bmc::Tensor::fromVector<int64_t>(bmc::DType::I64, {1, n}, std::vector<int64_t>(n, 1)));
    else if (ti.name == "position_ids") { std::vector<int64_t> p(n); for (int i = 0; i < n; ++i) p[i] = i; in.push_back(bmc::Tensor::fromVector<int64_t>(bmc::DType::I64, {1, n}, p)); }
    else in.push_back(bmc::Tensor(bmc::DType::F32, {1, ti.shape[1], 0, ti.shape[3]}));
  }
  auto out = (*m)->run(in);
  if (!out) { std::fprintf(stderr, "run: %s\n", out.status().message().c_str()); return 1; }
  auto &logits = out.value()[0];
  int64_t V = logits.shape()[2];
  const float *l = logits.data<float>() + (n - 1) * V;
  int64_t best = 0;
  for (int64_t i = 1; i < V; ++i) if (l[i] > l[best]) best = i;
  std::printf("logits %s argmax %lld (%f) l[0..3]= %f %f %f\n", logits.describe().c_str(), (long long)best, l[best], l[0], l[1], l[2]);
}
