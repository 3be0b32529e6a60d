//===- limits_test.cpp - sizes and counts out of range through the API ----===//
//
// Values that used to overflow int64 arithmetic, corrupt the heap or escape
// as exceptions (r = 2^62, a context of 2^60, a batch of 10^9, 10^9 threads)
// must come back as one-line Status errors, and the model keeps working.
// (The same through the tools: cli_test.cpp; the ranges: bmc/abi/limits.h.)
//
//===----------------------------------------------------------------------===//

#include "bmc/abi/limits.h"
#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

namespace bmc::e2e {
namespace {

std::string gpt2() { return generatedModelPath("gpt2_op17"); }
std::string llama() { return generatedModelPath("llama_op17"); } // rotary: no position table, no context limit

TEST(SessionLimits, OptionsOutOfRange) {
  auto m = compiled(llama());
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (int64_t r : {int64_t(1) << 62, int64_t(1) << 61, INT64_MAX, int64_t(-1)}) {
    SessionOptions so;
    so.r = r;
    EXPECT_TRUE(isError(Session::create(m.value(), so), "r: expected an integer in [0, 1048576], found " +
                                                            std::to_string(r)));
  }
  for (int64_t c : {int64_t(1) << 60, INT64_MAX, int64_t(-1)}) {
    for (const char *mode : {"prealloc", "bmc"}) {
      SessionOptions so;
      so.kvMode = mode;
      so.maxContext = c;
      EXPECT_TRUE(isError(Session::create(m.value(), so), "max context: expected an integer in [0, 16777216]"));
    }
  }
  SessionOptions so;
  so.maxKVBytes = -1;
  EXPECT_TRUE(isError(Session::create(m.value(), so), "max KV bytes"));
}

TEST(SessionLimits, BatchAndKVBytesAtPrefill) {
  auto m = compiled(llama());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DecoderInfo &d = m.value()->signature().decoder;
  int64_t perToken = 0; // bytes of one token of one sequence, all caches
  for (const auto &c : d.caches) perToken += c.heads * c.headDim * 4;
  SessionOptions so;
  so.kvMode = "prealloc";
  so.maxContext = 64;
  so.maxKVBytes = 2 * 64 * perToken; // room for exactly two sequences
  auto s = Session::create(m.value(), so);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(isError(s.value()->prefill(std::vector<std::vector<int64_t>>(3, {1, 2, 3})),
                      "the KV caches of 3 sequences at the maximum context of 64 tokens"));
  EXPECT_TRUE(s.value()->prefill(std::vector<std::vector<int64_t>>(2, {1, 2, 3})).ok()) << "exactly at the maximum";
  EXPECT_TRUE(s.value()->step({4, 5}).ok());
  // More sequences than the batch limit: refused before anything is allocated.
  auto s2 = Session::create(m.value());
  ASSERT_TRUE(s2.ok());
  EXPECT_TRUE(isError(s2.value()->prefill(std::vector<std::vector<int64_t>>(4097, {1})),
                      "batch: expected an integer in [1, 4096], found 4097"));
  // 4096 sequences of 2^20 tokens: far more than the memory of any machine this runs on.
  so = SessionOptions();
  so.kvMode = "prealloc";
  so.maxContext = limits::kMaxContext / 16;
  auto s3 = Session::create(m.value(), so);
  ASSERT_TRUE(s3.ok()) << s3.status().message();
  EXPECT_TRUE(isError(s3.value()->prefill(std::vector<std::vector<int64_t>>(4096, {1})), "physical memory"));
  // Still usable after the errors.
  EXPECT_TRUE(s2.value()->prefill({{1, 2, 3}}).ok());
}

TEST(SessionLimits, ContextBeyondTheModelsPositions) {
  auto m = compiled(gpt2()); // learned positions
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions so;
  so.maxContext = m.value()->signature().decoder.maxPositions + 1;
  EXPECT_TRUE(isError(Session::create(m.value(), so), "positions"));
}

TEST(CompileLimits, OptionsOutOfRange) {
  auto tryCompile = [](void (*edit)(CompileOptions &)) {
    CompileOptions co;
    edit(co);
    return compileOnnx(gpt2(), co);
  };
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.r = int64_t(1) << 62; }), "r: expected an integer in [0, 1048576]"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.r = -1; }), "found -1"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.optLevel = 7; }), "optLevel"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.codegenThreads = 0; }), "codegenThreads: expected an integer in [1, 64]"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.codegenThreads = 65; }), "codegenThreads"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.kvPadding = KVPadding(7); }), "kvPadding"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.threads = 1000000000; }), "threads"));
  EXPECT_TRUE(isError(tryCompile([](CompileOptions &o) { o.threads = -1; }), "threads"));
  CompileOptions co;
  co.r = int64_t(1) << 62;
  std::string out = freshDir("compile_limits") + "/r.bmcpkg";
  EXPECT_TRUE(isError(compilePackage(gpt2(), out, co), "r: expected"));
  EXPECT_FALSE(fileExists(out));
}

TEST(LoadLimits, ThreadsOutOfRange) {
  std::string dir = freshDir("load_limits");
  std::string pkgPath = dir + "/gpt2.bmcpkg";
  CompileOptions co;
  ASSERT_TRUE(compilePackage(gpt2(), pkgPath, co).ok());
  for (int t : {1000000000, -1, limits::maxThreads() + 1}) {
    LoadOptions lo;
    lo.threads = t;
    EXPECT_TRUE(isError(Model::load(pkgPath, lo), "threads: expected an integer in [0, " +
                                                      std::to_string(limits::maxThreads()) + "], found " +
                                                      std::to_string(t)));
  }
  LoadOptions lo;
  lo.threads = limits::maxThreads();
  auto m = Model::load(pkgPath, lo);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->codeDescription().empty(), false);
}

} // namespace
} // namespace bmc::e2e
