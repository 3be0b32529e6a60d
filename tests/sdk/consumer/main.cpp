// A consumer of the installed bmc SDK: greedy generation, tokens printed as
// bmc-run --quiet prints them ("a,b,c"), so that check_install.sh can compare.
//   consumer_jit MODEL.onnx|FOLDER PROMPT_IDS N
//   consumer_runtime MODEL.bmcpkg PROMPT_IDS N
#ifndef CONSUMER_RUNTIME_ONLY
#include "bmc/compiler.h"
#endif
#include "bmc/model.h"
#include "bmc/session.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL PROMPT_IDS N\n", argv[0]);
    return 2;
  }
#ifdef CONSUMER_RUNTIME_ONLY
  auto model = bmc::Model::load(argv[1]);
#else
  auto model = bmc::compileOnnx(argv[1]);
#endif
  if (!model) {
    std::fprintf(stderr, "%s\n", model.status().message().c_str());
    return 1;
  }
  std::vector<int64_t> prompt;
  for (const char *p = argv[2]; *p;) {
    char *end = nullptr;
    prompt.push_back(std::strtoll(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
  }
  auto session = bmc::Session::create(model.value());
  if (!session) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 1;
  }
  bmc::GenerateOptions opts;
  opts.maxNewTokens = std::atoll(argv[3]);
  auto tokens = session.value()->generate({prompt}, opts);
  if (!tokens) {
    std::fprintf(stderr, "%s\n", tokens.status().message().c_str());
    return 1;
  }
  for (size_t i = 0; i < tokens.value()[0].size(); ++i)
    std::printf("%s%lld", i ? "," : "", (long long)tokens.value()[0][i]);
  std::printf("\n");
  return 0;
}
