//===- limits_test.cpp - the runtime's range checks and checked sizes -----===//

#include "bmc/abi/limits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <new>
#include <system_error>

namespace bmc {
namespace {

using namespace limits;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

::testing::AssertionResult isError(const Status &s, const std::string &part) {
  if (s.ok()) return ::testing::AssertionFailure() << "succeeded; expected an error containing '" << part << "'";
  if (s.message().find('\n') != std::string::npos) return ::testing::AssertionFailure() << "several lines: " << s.message();
  if (s.message().find(part) == std::string::npos)
    return ::testing::AssertionFailure() << "'" << s.message() << "' lacks '" << part << "'";
  return ::testing::AssertionSuccess() << s.message();
}

TensorInfo info(std::string name, DType t, std::vector<int64_t> shape, int kvSlot = -1) {
  TensorInfo i;
  i.name = std::move(name);
  i.dtype = t;
  i.shape = std::move(shape);
  i.kvSlot = kvSlot;
  return i;
}

/// ids, mask, positions and two in-place caches of 2 heads x 16; vocab 100.
ModelSignature decoder() {
  ModelSignature s;
  s.inputs = {info("input_ids", DType::I64, {-1, -1}), info("attention_mask", DType::I64, {-1, -1}),
              info("position_ids", DType::I64, {-1, -1}), info("past.0.key", DType::F32, {-1, 2, -1, 16}, 3),
              info("past.0.value", DType::F32, {-1, 2, -1, 16}, 4)};
  s.outputs = {info("logits", DType::F32, {-1, -1, 100})};
  DecoderInfo &d = s.decoder;
  d.valid = true;
  d.inputIds = 0;
  d.attentionMask = 1;
  d.positionIds = 2;
  d.logits = 0;
  for (int k = 0; k < 2; ++k) {
    DecoderInfo::KV kv;
    kv.pastInput = 3 + k;
    kv.heads = 2;
    kv.headDim = 16;
    d.caches.push_back(kv);
  }
  d.vocab = 100;
  d.maxPositions = 0;
  d.inplaceKV = true;
  d.kvMode = "bmc";
  return s;
}

TEST(Limits, MulCheckedDetectsOverflowAndNegatives) {
  int64_t out = -7;
  EXPECT_TRUE(mulChecked({kMaxBatch, kMaxContext, 512}, out));
  EXPECT_EQ(out, int64_t(1) << 45);
  EXPECT_TRUE(mulChecked({0, kInt64Max}, out));
  EXPECT_EQ(out, 0);
  EXPECT_TRUE(mulChecked({}, out));
  EXPECT_EQ(out, 1);
  out = -7;
  EXPECT_FALSE(mulChecked({int64_t(1) << 62, 4}, out));
  EXPECT_FALSE(mulChecked({kInt64Max, 2}, out));
  EXPECT_FALSE(mulChecked({kMaxBatch, kMaxContext, int64_t(1) << 32, 4}, out));
  EXPECT_FALSE(mulChecked({-1, 2}, out));
  EXPECT_EQ(out, -7) << "left alone on failure";
}

TEST(Limits, SessionOptionsOutOfRange) {
  ModelSignature sig = decoder();
  SessionOptions o;
  EXPECT_TRUE(checkSessionLimits(o, sig, 1).ok());
  o.r = int64_t(1) << 62;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "r: expected an integer in [0, 1048576], found 4611686018427387904"));
  o.r = -1;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "found -1"));
  o.r = kMaxR;
  EXPECT_TRUE(checkSessionLimits(o, sig, 1).ok());
  o = SessionOptions();
  o.maxContext = int64_t(1) << 60;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "max context: expected an integer in [0, 16777216]"));
  o.maxContext = -1;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "max context"));
  o.maxContext = 0;
  o.maxKVBytes = -5;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "max KV bytes"));
}

TEST(Limits, ContextWithinTheModelsPositions) {
  ModelSignature sig = decoder();
  sig.decoder.maxPositions = 16;
  SessionOptions o;
  EXPECT_TRUE(checkSessionLimits(o, sig, 1).ok());
  EXPECT_EQ(sessionMaxContext(o, sig.decoder), 16);
  o.maxContext = 17;
  EXPECT_TRUE(isError(checkSessionLimits(o, sig, 1), "exceeds the model's 16 positions"));
  sig.decoder.maxPositions = kMaxContext + 1; // a table longer than the limit: the caller must choose
  EXPECT_TRUE(isError(checkSessionLimits(SessionOptions(), sig, 1), "set SessionOptions::maxContext"));
  EXPECT_EQ(sessionMaxContext(SessionOptions(), decoder().decoder), kDefaultContext);
}

TEST(Limits, BatchAndKVBytes) {
  const DecoderInfo d = decoder().decoder; // 2 caches x 2 heads x 16 x 4 bytes = 256 bytes per token
  EXPECT_TRUE(isError(checkBatchLimits(d, 64, 0, 0), "batch: expected an integer in [1, 4096], found 0"));
  EXPECT_TRUE(isError(checkBatchLimits(d, 64, kMaxBatch + 1, 0), "found 4097"));
  EXPECT_TRUE(checkBatchLimits(d, 64, kMaxBatch, 0).ok());
  // Exactly at a maximum set by the caller, and one sequence over it.
  EXPECT_TRUE(checkBatchLimits(d, 10, 2, 2 * 10 * 256).ok());
  EXPECT_TRUE(isError(checkBatchLimits(d, 10, 3, 2 * 10 * 256), "maximum of 5120 bytes"));
  // Past physical memory (4096 x 2^24 x 256 = 2^44 bytes) when no maximum is set.
  if (physicalMemoryBytes() > 0 && physicalMemoryBytes() < (int64_t(1) << 44))
    EXPECT_TRUE(isError(checkBatchLimits(d, kMaxContext, kMaxBatch, 0), "physical memory"));
  // Products that overflow int64 are refused, not wrapped.
  DecoderInfo big = d;
  for (auto &c : big.caches) c.heads = c.headDim = kMaxHeadDim;
  EXPECT_TRUE(isError(checkBatchLimits(big, kMaxContext, kMaxBatch, kInt64Max), "need"));
}

TEST(Limits, DecoderInterfaceConsistency) {
  EXPECT_TRUE(checkDecoderInterface(decoder()).ok());
  for (DType t : {DType::F16, DType::BF16}) { // a fully 16-bit graph's logits: the session widens them
    ModelSignature s = decoder();
    s.outputs[0].dtype = t;
    EXPECT_TRUE(checkDecoderInterface(s).ok()) << dtypeName(t);
  }
  struct Case {
    const char *name, *expected;
    void (*edit)(ModelSignature &);
  };
  const Case cases[] = {
      {"heads 0", "cache 0 heads", [](ModelSignature &s) { s.decoder.caches[0].heads = 0; }},
      {"head_dim 0", "cache 1 head_dim", [](ModelSignature &s) { s.decoder.caches[1].headDim = 0; }},
      {"heads 2^63-1", "heads", [](ModelSignature &s) { s.decoder.caches[0].heads = kInt64Max; }},
      {"heads disagree with the input", "expected [batch, 3", [](ModelSignature &s) { s.decoder.caches[0].heads = 3; }},
      {"vocab beyond the logits", "(the vocab)", [](ModelSignature &s) { s.decoder.vocab = 101; }},
      {"vocab 0", "vocab", [](ModelSignature &s) { s.decoder.vocab = 0; }},
      {"logits int64", "expected dtype float32, float16 or bfloat16", [](ModelSignature &s) { s.outputs[0].dtype = DType::I64; }},
      {"ids at a cache input", "token ids input 3", [](ModelSignature &s) { s.decoder.inputIds = 3; }},
      {"ids float", "expected dtype int64 or int32", [](ModelSignature &s) { s.inputs[0].dtype = DType::F32; }},
      {"mask bound twice", "bound twice", [](ModelSignature &s) { s.decoder.attentionMask = 0; }},
      {"an input nobody feeds", "a session cannot feed it",
       [](ModelSignature &s) { s.inputs.push_back(info("token_type_ids", DType::I64, {-1, -1})); }},
      {"cache not a KV slot", "expected a KV cache input", [](ModelSignature &s) { s.inputs[4].kvSlot = -1; }},
      {"present output with in-place caches", "no present output",
       [](ModelSignature &s) { s.decoder.caches[0].presentOutput = 0; }},
      {"kv mode concat with in-place caches", "kv mode 'concat'", [](ModelSignature &s) { s.decoder.kvMode = "concat"; }},
      {"padding", "kv padding", [](ModelSignature &s) { s.decoder.kvPadding = "zero"; }},
      {"r 2^62", "1048576", [](ModelSignature &s) { s.decoder.r = int64_t(1) << 62; }},
      {"no caches", "no KV caches", [](ModelSignature &s) { s.decoder.caches.clear(); }},
      {"logits index", "out of range", [](ModelSignature &s) { s.decoder.logits = 1; }},
  };
  for (const Case &c : cases) {
    ModelSignature s = decoder();
    c.edit(s);
    EXPECT_TRUE(isError(checkDecoderInterface(s), c.expected)) << c.name;
    // Session::create runs the same check.
    EXPECT_TRUE(isError(checkSessionLimits(SessionOptions(), s, 1), c.expected)) << c.name;
  }
  // An invalid decoder is not checked: sessions refuse it, Model::run ignores it.
  ModelSignature s = decoder();
  s.decoder.valid = false;
  s.decoder.caches[0].heads = 0;
  EXPECT_TRUE(checkDecoderInterface(s).ok());
}

TEST(Limits, GenerateOptions) {
  GenerateOptions o;
  EXPECT_TRUE(checkGenerateOptions(o).ok());
  o.temperature = 0.7f;
  o.topK = 40;
  o.topP = 0.9f;
  EXPECT_TRUE(checkGenerateOptions(o).ok());
  for (float t : {std::nanf(""), -1.0f, std::numeric_limits<float>::infinity()}) {
    GenerateOptions b;
    b.temperature = t;
    EXPECT_TRUE(isError(checkGenerateOptions(b), "temperature")) << t;
  }
  for (float p : {std::nanf(""), -0.5f, 2.0f}) {
    GenerateOptions b;
    b.topP = p;
    EXPECT_TRUE(isError(checkGenerateOptions(b), "top-p")) << p;
  }
  GenerateOptions b;
  b.topK = -1;
  EXPECT_TRUE(isError(checkGenerateOptions(b), "top-k"));
  b = GenerateOptions();
  b.maxNewTokens = -1;
  EXPECT_TRUE(isError(checkGenerateOptions(b), "max new tokens"));
}

TEST(Limits, Threads) {
  EXPECT_GE(maxThreads(), kThreadsPerCore);
  EXPECT_LE(maxThreads(), kMaxThreads);
  EXPECT_TRUE(checkThreads(0, "threads").ok());
  EXPECT_TRUE(checkThreads(1, "threads").ok());
  EXPECT_TRUE(checkThreads(maxThreads(), "threads").ok());
  EXPECT_TRUE(isError(checkThreads(maxThreads() + 1, "LoadOptions::threads"), "LoadOptions::threads: expected an integer in [0, "));
  EXPECT_TRUE(isError(checkThreads(-1, "threads"), "found -1"));
  EXPECT_TRUE(isError(checkThreads(1000000000, "threads"), "found 1000000000"));
}

TEST(Limits, ExceptionsBecomeOneLineStatuses) {
  EXPECT_TRUE(isError(statusFromException("prefill", std::bad_alloc()), "prefill: out of memory"));
  std::system_error e(std::make_error_code(std::errc::resource_unavailable_try_again), "thread");
  EXPECT_TRUE(isError(statusFromException("m.bmcpkg", e), "m.bmcpkg: thread"));
}

} // namespace
} // namespace bmc
