//===- fuzz_cli_args.cpp - libFuzzer target: the tools' argument parser ---===//
//
// compiler/tools/CliUtil.h's Args with bmc-run's flag set. The input is split
// at NUL bytes into argv. Fuzz builds define BMC_CLI_DIE_THROWS, so a usage
// error (cli::die) throws cli::Exit instead of ending the process; any other
// way out (a crash, a sanitizer report, std::exit) is a bug.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace {
const char *kUsage = "usage: bmc-run MODEL [options] (fuzz)\n";

void parseLikeBmcRun(int argc, char **argv) {
  bmc::cli::Args a(argc, argv, kUsage);
  std::string model = a.positional("MODEL");
  // The ranges of bmc-run (compiler/tools/bmc-run.cpp).
  constexpr int64_t kAny = std::numeric_limits<int64_t>::max(), kAnyNeg = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> prompt = a.ints("--prompt", {1, 2, 3, 4}, kAnyNeg, kAny);
  int64_t maxNew = a.integer("--max-new-tokens", 32, 0, bmc::limits::kMaxContext);
  int64_t batch = a.integer("--batch", 1, 1, bmc::limits::kMaxBatch);
  double temperature = a.real("--temperature", 0.0, 0.0, 1e6);
  int64_t topK = a.integer("--top-k", 0, 0, kAny);
  double topP = a.real("--top-p", 1.0, 0.0, 1.0);
  int64_t seed = a.integer("--seed", 0, 0, kAny);
  std::vector<int64_t> stop = a.ints("--stop", {}, kAnyNeg, kAny);
  std::string kv = a.str("--kv", "bmc");
  int64_t r = a.integer("--r", 0, 0, bmc::limits::kMaxR);
  std::string padding = a.str("--kv-padding", "skip");
  int64_t maxContext = a.integer("--max-context", 0, 0, bmc::limits::kMaxContext);
  int64_t threads = a.integer("--threads", 0, 0, bmc::limits::kMaxThreads);
  std::string draft = a.str("--draft", "");
  std::optional<std::string> lookup = a.value("--spec-lookup"), specK = a.value("--spec-k");
  int64_t n = 0;
  if (lookup && (!bmc::cli::parseInteger(*lookup, n) || n < 1 || n > 64)) a.fail("--spec-lookup: out of range");
  if (specK && *specK != "auto" && (!bmc::cli::parseInteger(*specK, n) || n < 1 || n > 256)) a.fail("--spec-k: out of range");
  bool json = a.flag("--json"), quiet = a.flag("--quiet");
  a.finish();
  // Keep the results observable so that nothing above is optimised away
  // (unsigned: the values may be anything, and signed overflow here would be
  // the target's bug, as regressions/cli_args/sink-overflow-huge-seed was).
  volatile uint64_t sink = uint64_t(model.size()) + prompt.size() + stop.size() + kv.size() + padding.size() +
                           draft.size() + uint64_t(n) +
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
