//===- example_generate.cpp - compile an ONNX decoder and generate tokens -===//
//
//   example_generate model.onnx [prompt token ids...]
//
// The README's example: bmc's public API only (include/bmc). Link with
// bmc_compiler; a program that loads packages (bmc::Model::load) needs only
// bmc_runtime.
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "bmc/speculative.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.onnx [prompt token ids...]\n", argv[0]);
    return 2;
  }
  // Compile for this CPU, just in time (bmc::compilePackage writes a package instead).
  auto model = bmc::compileOnnx(argv[1]);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.status().message().c_str());
    return 1;
  }
  // A session owns the KV caches of its sequences.
  auto session = bmc::Session::create(model.value());
  if (!session) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 1;
  }
  std::vector<int64_t> prompt = {1, 2, 3, 4};
  if (argc > 2) prompt.clear();
  for (int i = 2; i < argc; ++i) prompt.push_back(std::atoll(argv[i]));

  // Prefill the prompt, then decode 16 tokens greedily, printing each as it comes.
  bmc::GenerateOptions options;
  options.maxNewTokens = 16;
  auto tokens = session.value()->generate({prompt}, options, [](int64_t, const std::vector<int64_t> &next) {
    std::printf("%lld ", static_cast<long long>(next[0]));
    std::fflush(stdout);
    return true; // false stops generation
  });
  std::printf("\n");
  if (!tokens) {
    std::fprintf(stderr, "%s\n", tokens.status().message().c_str());
    return 1;
  }

  // Speculative decoding: a draft model (here the model itself; normally a
  // smaller one with the same vocabulary) proposes 4 tokens, one pass of the
  // model verifies them. Greedy output is the same tokens.
  options.speculative.drafter = std::make_shared<bmc::ModelDrafter>(model.value());
  options.speculative.k = 4;
  auto fast = session.value()->generate({prompt}, options);
  if (!fast) {
    std::fprintf(stderr, "%s\n", fast.status().message().c_str());
    return 1;
  }
  for (int64_t t : fast.value()[0]) std::printf("%lld ", static_cast<long long>(t));
  const bmc::GenerateStats &st = session.value()->generateStats();
  std::printf("\n%.2f tokens per pass, %.0f%% of drafts accepted\n", st.tokensPerPass(), 100 * st.acceptanceRate());
  return 0;
}
