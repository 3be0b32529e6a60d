//===- fuzz_cli_args.cpp - libFuzzer target: the tools' argument parser ---===//
//
// compiler/tools/CliUtil.h's Args with bmc-run's flag set. The input is split
// at NUL bytes into argv. Fuzz builds define BMC_CLI_DIE_THROWS, so a usage
// error (cli::die) throws cli::Exit instead of ending the process; any other
// way out (a crash, a sanitizer report, std::exit) is a bug.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/CliUtil.h"

#include <string>
#include <vector>

namespace {
const char *kUsage = "usage: bmc-run MODEL [options] (fuzz)\n";

void parseLikeBmcRun(int argc, char **argv) {
  bmc::cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL");
  std::vector<int64_t> prompt = a.ints("--prompt", {1, 2, 3, 4});
  int64_t maxNew = a.integer("--max-new-tokens", 32);
  int64_t batch = a.integer("--batch", 1);
  double temperature = a.real("--temperature", 0.0);
  int64_t topK = a.integer("--top-k", 0);
  double topP = a.real("--top-p", 1.0);
  int64_t seed = a.integer("--seed", 0);
  std::vector<int64_t> stop = a.ints("--stop", {});
  std::string kv = a.str("--kv", "bmc");
  int64_t r = a.integer("--r", 0);
  std::string padding = a.str("--kv-padding", "skip");
  int64_t maxContext = a.integer("--max-context", 0);
  int64_t threads = a.integer("--threads", 0);
  bool json = a.flag("--json"), quiet = a.flag("--quiet");
  a.finish();
  // Keep the results observable so that nothing above is optimised away
  // (unsigned: the values may be anything, and signed overflow here would be
  // the target's bug, as regressions/cli_args/sink-overflow-huge-seed was).
  volatile uint64_t sink = uint64_t(model.size()) + prompt.size() + stop.size() + kv.size() + padding.size() +
                           uint64_t(maxNew) + uint64_t(batch) + uint64_t(topK) + uint64_t(seed) + uint64_t(r) +
                           uint64_t(maxContext) + uint64_t(threads) + uint64_t(json) + uint64_t(quiet);
  volatile double realSink = temperature + topP;
  (void)sink;
  (void)realSink;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> words{"bmc-run"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      words.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(char(data[i]));
    }
  }
  words.push_back(cur);
  // --help prints the usage and exits 0 by design: not a finding.
  for (const std::string &w : words)
    if (w == "-h" || w == "--help") return 0;
  std::vector<char *> argv;
  for (std::string &w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  try {
    parseLikeBmcRun(int(words.size()), argv.data());
  } catch (const bmc::cli::Exit &e) {
    if (e.code != 1 || e.message.empty()) __builtin_trap(); // usage errors: status 1 and a message
  }
  return 0;
}
