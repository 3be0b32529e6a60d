//===- golden_test.cpp - the real HF exports against golden.json ----------===//
//
// gpt2_s.onnx and llama_s.onnx (torch.onnx.export output, tests/e2e/data)
// must reproduce golden.json's `ort_greedy` tokens exactly: in every KV mode,
// with both kinds of KV padding, with a small r (many reallocations), just in
// time and from a package written by compilePackage and read by Model::load.
//
//===----------------------------------------------------------------------===//

#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

namespace bmc::e2e {
namespace {

struct GoldenCase {
  std::string model;         // golden.json key and file stem
  bool package = false;      // compilePackage + Model::load instead of compileOnnx
  KVMode kv = KVMode::BMC;
  std::string padding = "skip";
  int64_t compiledR = 0;     // CompileOptions::r
  std::string sessionMode;   // SessionOptions::kvMode ("" = the model's)
  int64_t sessionR = 0;      // SessionOptions::r
  std::string name() const {
    std::string n = model + (package ? "_pkg_" : "_jit_") + kvModeName(kv);
    if (kv != KVMode::Concat) n += "_" + padding;
    if (compiledR) n += "_r" + std::to_string(compiledR);
    if (!sessionMode.empty()) n += "_as_" + sessionMode;
    if (sessionR) n += "_session_r" + std::to_string(sessionR);
    return n;
  }
};

std::vector<GoldenCase> goldenCases() {
  std::vector<GoldenCase> cases;
  for (std::string m : {"llama_s", "gpt2_s"}) {
    auto add = [&](bool pkg, KVMode kv, std::string pad, int64_t r, std::string smode = "", int64_t sr = 0) {
      cases.push_back(GoldenCase{m, pkg, kv, pad, r, smode, sr});
    };
    // Just in time: every mode x padding, r from the model and r = 3.
    add(false, KVMode::BMC, "skip", 0);
    add(false, KVMode::BMC, "skip", 3);
    add(false, KVMode::BMC, "mask", 0);
    add(false, KVMode::BMC, "mask", 3);
    add(false, KVMode::Prealloc, "skip", 0);
    add(false, KVMode::Prealloc, "mask", 0);
    add(false, KVMode::Concat, "skip", 0);
    // A session may choose its own r or prealloc on an in-place model.
    add(false, KVMode::BMC, "skip", 0, "", 2);
    add(false, KVMode::BMC, "mask", 0, "prealloc");
    add(false, KVMode::Prealloc, "skip", 0, "bmc", 4);
    // From packages.
    add(true, KVMode::BMC, "skip", 3);
    add(true, KVMode::BMC, "mask", 0);
    add(true, KVMode::Prealloc, "mask", 0);
    add(true, KVMode::Concat, "skip", 0);
  }
  return cases;
}

const Json &golden() {
  static Json g = [] {
    Json j;
    std::string err;
    std::string path = dataDir() + "/golden.json";
    if (!Json::parse(readFile(path), j, err)) ADD_FAILURE() << path << ": " << err;
    return j;
  }();
  return g;
}

void PrintTo(const GoldenCase &c, std::ostream *os) { *os << c.name(); }

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, ReproducesOrtGreedy) {
  const GoldenCase &c = GetParam();
  const Json &g = golden()[c.model];
  ASSERT_TRUE(g.has("ort_greedy")) << "golden.json has no " << c.model;
  std::vector<int64_t> prompt = g["prompt"].ints(), want = g["ort_greedy"].ints();
  ASSERT_EQ(want.size(), 24u);

  CompileOptions co;
  co.kvMode = c.kv;
  ASSERT_TRUE(parseKVPadding(c.padding, co.kvPadding)) << c.padding;
  co.r = c.compiledR;
  std::string onnx = dataDir() + "/" + c.model + ".onnx";
  auto m = c.package ? packaged(onnx, co) : compiled(onnx, co);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DecoderInfo &d = m.value()->signature().decoder;
  ASSERT_TRUE(d.valid);
  EXPECT_EQ(d.vocab, int64_t(g["vocab"].num));
  EXPECT_EQ(d.caches.size(), size_t(2 * g["layers"].num));
  EXPECT_EQ(d.kvMode, kvModeName(c.kv)) << "the package keeps the compiled mode";
  EXPECT_EQ(d.inplaceKV, c.kv != KVMode::Concat) << "KV caches rewritten: " << ::testing::PrintToString(d.kvStatus);
  if (c.kv != KVMode::Concat) {
    EXPECT_EQ(d.kvPadding, c.padding);
    EXPECT_EQ(d.r, c.compiledR);
  }
  for (const DecoderInfo::KV &kv : d.caches) {
    EXPECT_EQ(kv.heads, int64_t(g["kv_heads"].num));
    EXPECT_EQ(kv.headDim, int64_t(g["head_dim"].num));
  }

  SessionOptions so;
  so.kvMode = c.sessionMode;
  so.r = c.sessionR;
  auto sr = Session::create(m.value(), so);
  ASSERT_TRUE(sr.ok()) << sr.status().message();
  Session &s = *sr.value();
  GenerateOptions go;
  go.maxNewTokens = int64_t(want.size());
  std::vector<int64_t> streamed;
  auto out = s.generate({prompt}, go, [&](int64_t step, const std::vector<int64_t> &t) {
    EXPECT_EQ(step, int64_t(streamed.size()));
    streamed.push_back(t[0]);
    return true;
  });
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out.value().size(), 1u);
  EXPECT_EQ(out.value()[0], want) << "bmc:  " << join(out.value()[0]) << "\nwant: " << join(want);
  EXPECT_EQ(streamed, out.value()[0]);

  // The KV policy did what the mode says over 6 + 23 tokens.
  const std::string mode = s.kvMode();
  const int64_t caches = int64_t(d.caches.size());
  const KVStats &st = s.kvStats();
  EXPECT_EQ(s.length(), int64_t(prompt.size() + want.size()) - 1);
  EXPECT_EQ(st.bytesUsed, s.length() * caches * int64_t(g["kv_heads"].num * g["head_dim"].num) * 4);
  if (mode == "concat") {
    EXPECT_EQ(st.reallocations, caches * int64_t(want.size()));
  } else if (mode == "prealloc") {
    EXPECT_EQ(st.reallocations, caches) << "one allocation per cache";
    EXPECT_EQ(st.bytesCopied, 0);
  } else if (s.adaptiveR()) {
    // r from the cost model at each growth (docs/COST_MODEL.md).
    EXPECT_EQ(c.sessionR + c.compiledR, 0);
    EXPECT_GT(s.r(), 0);
    EXPECT_GE(st.reallocations, caches);
  } else {
    int64_t r = c.sessionR ? c.sessionR : c.compiledR;
    EXPECT_EQ(s.r(), r);
    // One allocation for the prompt, then one growth (and copy) every r tokens.
    int64_t decodeSteps = int64_t(want.size()) - 1, perCache = st.reallocations / caches;
    EXPECT_EQ(st.reallocations % caches, 0);
    EXPECT_GE(perCache - 1, decodeSteps / r - 1) << "r = " << r;
    EXPECT_LE(perCache - 1, (decodeSteps + r - 1) / r + 1) << "r = " << r;
  }
  if (mode == "bmc") { // at most r spare rows
    EXPECT_GE(st.bytesAllocated, st.bytesUsed);
    EXPECT_LE(st.bytesAllocated - st.bytesUsed, s.r() * caches * int64_t(g["kv_heads"].num * g["head_dim"].num) * 4);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, Golden, ::testing::ValuesIn(goldenCases()),
                         [](const ::testing::TestParamInfo<GoldenCase> &i) { return i.param.name(); });

// Prefill of the whole sequence gives the same next token as step-by-step
// decoding (the full-sequence attention path against the cached one).
TEST(GoldenPrefill, WholeSequenceAgreesWithTheCache) {
  for (std::string model : {"llama_s", "gpt2_s"}) {
    const Json &g = golden()[model];
    std::vector<int64_t> seq = g["prompt"].ints(), want = g["ort_greedy"].ints();
    seq.insert(seq.end(), want.begin(), want.end() - 1);
    auto m = compiled(dataDir() + "/" + model + ".onnx");
    ASSERT_TRUE(m.ok()) << m.status().message();
    SessionOptions so;
    so.keepAllLogits = true; // every position, as the exported graph computes them
    auto s = Session::create(m.value(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE(s.value()->prefill({seq}).ok());
    const Tensor &all = s.value()->allLogits();
    ASSERT_EQ(all.shape(), (std::vector<int64_t>{1, int64_t(seq.size()), int64_t(g["vocab"].num)}));
    int64_t V = all.shape()[2];
    for (size_t i = 0; i < want.size(); ++i) {
      const float *row = all.data<float>() + (g["prompt"].arr.size() - 1 + i) * V;
      EXPECT_EQ(std::max_element(row, row + V) - row, want[i]) << model << " position " << i;
    }
  }
}

// DESIGN.md: "when full, reallocate to valid + r rows (one copy every r
// tokens)". Counted over 40 decode steps for several r, r = 1 included.
TEST(KvPolicy, OneCopyEveryRTokens) {
  auto m = compiled(dataDir() + "/llama_s.onnx");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const int64_t caches = int64_t(m.value()->signature().decoder.caches.size());
  const int decodeSteps = 40;
  for (int64_t r : {1, 2, 3, 7}) {
    SessionOptions so;
    so.r = r;
    auto t = decode(m.value(), so, {{1, 2, 3, 4}}, decodeSteps + 1);
    ASSERT_TRUE(t.ok()) << t.status().message();
    int64_t growths = t.value().stats.reallocations / caches - 1; // the first allocation is the prompt's
    EXPECT_GE(growths, decodeSteps / r - 1) << "r = " << r; // -1: the prompt's spare rows
    EXPECT_LE(growths, (decodeSteps + r - 1) / r + 1) << "r = " << r;
    EXPECT_EQ(t.value().stats.bytesCopied > 0, true) << "r = " << r;
  }
}

} // namespace
// By default a prefill computes only the last position's logits (all that
// generation needs) and they equal that row of the full computation, up to
// summation order (one row takes the matrix-vector kernel, six the GEMM).
TEST(GoldenPrefill, LastTokenLogitsEqualTheFullRow) {
  const Json &g = golden()["gpt2_s"];
  std::vector<int64_t> prompt = g["prompt"].ints();
  auto m = compiled(dataDir() + "/gpt2_s.onnx");
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions all;
  all.keepAllLogits = true;
  auto full = Session::create(m.value(), all), last = Session::create(m.value());
  ASSERT_TRUE(full.ok() && last.ok());
  ASSERT_TRUE(full.value()->prefill({prompt}).ok());
  ASSERT_TRUE(last.value()->prefill({prompt}).ok());
  int64_t V = int64_t(g["vocab"].num);
  EXPECT_EQ(last.value()->allLogits().shape(), (std::vector<int64_t>{1, 1, V}));
  const float *a = full.value()->logits().data<float>(), *b = last.value()->logits().data<float>();
  LogitDiff d = compareLogits(b, a, V);
  EXPECT_LE(d.rel, 1e-5) << d.describe();
}

} // namespace bmc::e2e
