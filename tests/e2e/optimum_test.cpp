//===- optimum_test.cpp - Optimum's merged decoder and two-file layout ----===//
//
// Folders written by tests/models/make_optimum_folder.py as older Optimum
// exports decoders: decoder_model_merged.onnx (one If on use_cache_branch
// over the decoders with and without past, initializers shared as Optimum's
// merge_decoders shares them) or decoder_model.onnx + decoder_with_past_model
// .onnx. bmc compiles the folder; onnxruntime runs the chosen file itself
// (for the merged one with use_cache_branch false at the prefill and true
// after, as Optimum's ORTModelForCausalLM feeds it, so both branches run):
//   - logits of the last position within 1e-4 relative at the steps the
//     generated-model tests use (prefill, 1, 8, 32, 63), greedy tokens equal;
//   - free-running greedy generation over 64 steps gives onnxruntime's tokens;
//   - a batch of two prompts, each row against its own onnxruntime run;
//   - every KV cache rewritten in place (the BMC path), and the If resolution
//     reported (remarks, bmc-compile's output);
// and which file a folder's layout selects (OptimumLayouts, no onnxruntime).
//
//===----------------------------------------------------------------------===//

#include "bmc/model_folder.h"
#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace bmc::e2e {
namespace {

constexpr int kSteps = 64;
const std::vector<int> kDumpSteps = {0, 1, 8, 32, 63};
constexpr double kOrtTolerance = 1e-4;
const std::vector<int64_t> kPrompt = {11, 42, 7, 300, 5, 99};

std::vector<std::string> optimumFolders() {
  std::vector<std::string> out;
  std::stringstream ss(BMC_E2E_OPTIMUM);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool merged(const std::string &name) { return name.find("merged") != std::string::npos; }

class OptimumFolder : public ::testing::TestWithParam<std::string> {
protected:
  std::string dir() const { return modelsDir() + "/" + GetParam(); }
  /// The file the folder code must choose, as the generator wrote it.
  std::string expectedFile() const {
    if (!merged(GetParam())) return "decoder_with_past_model.onnx";
    return GetParam().find("hub") != std::string::npos ? "onnx/decoder_model_merged.onnx" : "decoder_model_merged.onnx";
  }
  void SetUp() override {
    ASSERT_TRUE(fileExists(dir() + "/" + expectedFile())) << dir() << " is missing: build the target bmc_e2e_models";
  }
};

TEST_P(OptimumFolder, ChoosesTheWithPastFile) {
  auto f = ModelFolder::open(dir());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f.value().modelFile, expectedFile());
  EXPECT_EQ(f.value().modelPath, dir() + "/" + expectedFile());
}

/// Fed onnxruntime's tokens at every step: logits and greedy choices agree.
TEST_P(OptimumFolder, LogitsMatchOnnxruntime) {
  auto ref = ortReference(dir() + "/" + expectedFile(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  std::vector<std::string> remarks;
  CompileOptions co;
  co.remarks = [&](const std::string &m) { remarks.push_back(m); };
  auto m = compileOnnx(dir(), co);
  ASSERT_TRUE(m.ok()) << m.status().message();
  // The BMC path: every cache rewritten in place.
  const DecoderInfo &d = m.value()->signature().decoder;
  EXPECT_TRUE(d.valid);
  EXPECT_TRUE(d.inplaceKV);
  EXPECT_EQ(d.kvMode, "bmc");
  ASSERT_EQ(d.kvStatus.size(), 4u) << ::testing::PrintToString(d.kvStatus);
  for (const std::string &s : d.kvStatus) EXPECT_NE(s.find(": in place"), std::string::npos) << s;
  // use_cache_branch is bmc's to feed: not an input of the compiled model.
  for (const TensorInfo &in : m.value()->signature().inputs) EXPECT_NE(in.name, "use_cache_branch");
  int resolved = 0;
  for (const std::string &r : remarks) resolved += r.find("Optimum's merged decoder") != std::string::npos;
  EXPECT_EQ(resolved, merged(GetParam()) ? 1 : 0) << ::testing::PrintToString(remarks);

  std::vector<std::vector<int64_t>> forced = {ref.value().tokens};
  auto t = decode(m.value(), {}, {kPrompt}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value().kvMode, "bmc");
  const double worst = expectLogitsNear(t.value(), ref.value().logits, kDumpSteps, kOrtTolerance);
  std::printf("%s: largest relative logit difference from onnxruntime %.2e (tolerance %.0e)\n", GetParam().c_str(),
              worst, kOrtTolerance);
  EXPECT_EQ(t.value().argmax[0], ref.value().tokens);
}

/// Two different prompts in one batch, each row against its own onnxruntime run.
TEST_P(OptimumFolder, Batch2MatchesOnnxruntime) {
  const std::vector<int64_t> promptB = {3, 17, 250, 8, 64, 120};
  auto refA = ortReference(dir() + "/" + expectedFile(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(refA.ok()) << refA.status().message();
  auto refB = ortReference(dir() + "/" + expectedFile(), promptB, kSteps, kDumpSteps);
  ASSERT_TRUE(refB.ok()) << refB.status().message();
  auto m = compiled(dir());
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<std::vector<int64_t>> forced = {refA.value().tokens, refB.value().tokens};
  auto t = decode(m.value(), {}, {kPrompt, promptB}, kSteps, &forced);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const OrtReference *refs[2] = {&refA.value(), &refB.value()};
  for (int row = 0; row < 2; ++row) {
    expectLogitsNear(t.value(), refs[row]->logits, kDumpSteps, kOrtTolerance, row);
    EXPECT_EQ(t.value().argmax[size_t(row)], refs[row]->tokens) << "row " << row;
  }
}

/// Free-running greedy generation, JIT and through bmc-compile's package.
TEST_P(OptimumFolder, GreedyTokensMatchOnnxruntime) {
  auto ref = ortReference(dir() + "/" + expectedFile(), kPrompt, kSteps, kDumpSteps);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  EXPECT_GE(std::set<int64_t>(ref.value().tokens.begin(), ref.value().tokens.end()).size(), 4u)
      << "the reference collapsed to a few tokens: a weak test";
  auto m = compiled(dir());
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(m.value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  GenerateOptions go;
  go.maxNewTokens = kSteps;
  auto out = s.value()->generate({kPrompt}, go);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value()[0], ref.value().tokens) << "bmc: " << join(out.value()[0])
                                                << "\nort: " << join(ref.value().tokens);

  // The tools: bmc-compile says which file it took and what the import did.
  std::string pkg = freshDir("optimum/" + GetParam()) + "/m.bmcpkg";
  ProcessResult c = bmcCompile({dir(), "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("model file " + expectedFile()), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("use_cache_branch fed true by bmc") != std::string::npos, merged(GetParam())) << c.err;
  EXPECT_NE(c.err.find("KV caches rewritten in place: 4 of 4"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({pkg, "--prompt", join(kPrompt), "--max-new-tokens", std::to_string(kSteps), "--quiet"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.out, join(ref.value().tokens) + "\n");
}

INSTANTIATE_TEST_SUITE_P(Optimum, OptimumFolder, ::testing::ValuesIn(optimumFolders()),
                         [](const auto &info) { return info.param; });

//===----------------------------------------------------------------------===//
// Which file a folder's layout selects (docs/FOLDERS.md, "Which model file")
//===----------------------------------------------------------------------===//

/// A folder with these files, each a copy of one small valid model.
std::string layoutFolder(const std::string &name, const std::vector<std::string> &files) {
  std::string d = freshDir("optimum_layouts/" + name);
  std::string model = readFile(generatedModelPath("llama_op17"));
  for (const std::string &f : files) {
    size_t slash = f.find_last_of('/');
    if (slash != std::string::npos) makeDirs(d + "/" + f.substr(0, slash));
    writeFile(d + "/" + f, model);
  }
  return d;
}

TEST(OptimumLayouts, DeterministicChoice) {
  struct Case {
    const char *name;
    std::vector<std::string> files;
    const char *chosen;
  };
  const std::vector<Case> cases = {
      {"two_file", {"decoder_model.onnx", "decoder_with_past_model.onnx"}, "decoder_with_past_model.onnx"},
      // Optimum 1.6-1.13 wrote all three: the merged file is preferred.
      {"three_files", {"decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"},
       "decoder_model_merged.onnx"},
      {"model_over_merged", {"model.onnx", "decoder_model_merged.onnx"}, "model.onnx"},
      // The Hub's onnx/ folder with dtype variants: the unsuffixed fp32 file.
      {"hub_variants",
       {"onnx/model.onnx", "onnx/model_fp16.onnx", "onnx/model_q4.onnx", "onnx/model_quantized.onnx"},
       "onnx/model.onnx"},
      {"hub_merged_variants", {"onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged_quantized.onnx"},
       "onnx/decoder_model_merged.onnx"},
      {"top_level_first", {"decoder_model_merged.onnx", "onnx/model.onnx"}, "decoder_model_merged.onnx"},
      {"hub_two_file", {"onnx/decoder_model.onnx", "onnx/decoder_with_past_model.onnx"},
       "onnx/decoder_with_past_model.onnx"},
      // One variant and no plain file: nothing to choose between.
      {"single_variant", {"onnx/model_q4.onnx"}, "onnx/model_q4.onnx"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    auto f = ModelFolder::open(layoutFolder(c.name, c.files));
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f.value().modelFile, c.chosen);
  }
}

TEST(OptimumLayouts, AmbiguousFolderRefused) {
  std::string d = layoutFolder("ambiguous", {"onnx/model_q4.onnx", "onnx/model_fp16.onnx", "onnx/model_quantized.onnx"});
  const std::string expected = d + ": ambiguous model files: onnx/model_fp16.onnx, onnx/model_q4.onnx, "
                                   "onnx/model_quantized.onnx (no unsuffixed onnx/model.onnx); choose one with --model-file";
  auto f = ModelFolder::open(d);
  ASSERT_TRUE(isError(f, expected));
  EXPECT_EQ(f.status().message(), expected);
  EXPECT_TRUE(failsCleanly(bmcRun({d, "--prompt", "1,2", "--quiet"}), expected));
  std::string pkg = d + "/x.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({d, "-o", pkg}), expected));
  EXPECT_FALSE(fileExists(pkg));
  EXPECT_TRUE(isError(compileOnnx(d), "ambiguous model files"));

  // The override: the API, bmc-compile and bmc-run take the file named.
  auto chosen = ModelFolder::open(d, "onnx/model_q4.onnx");
  ASSERT_TRUE(chosen.ok()) << chosen.status().message();
  EXPECT_EQ(chosen.value().modelPath, d + "/onnx/model_q4.onnx");
  ProcessResult c = bmcCompile({d, "--model-file", "onnx/model_fp16.onnx", "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("model file onnx/model_fp16.onnx"), std::string::npos) << c.err;
  EXPECT_TRUE(fileExists(pkg));
  ProcessResult r = bmcRun({d, "--model-file", "onnx/model_quantized.onnx", "--prompt", "1,2", "--max-new-tokens", "3"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find(d + ": onnx/model_quantized.onnx, eos none"), std::string::npos) << r.err;
  CompileOptions co;
  co.modelFile = "onnx/model_q4.onnx";
  auto m = compileOnnx(d, co);
  EXPECT_TRUE(m.ok()) << m.status().message();
}

TEST(OptimumLayouts, BadChoicesRefused) {
  // Only the decoder without past: not a file bmc can decode with.
  std::string noPast = layoutFolder("no_past_only", {"decoder_model.onnx", "encoder_model.onnx"});
  EXPECT_TRUE(isError(ModelFolder::open(noPast), noPast + ": no model file: expected model.onnx, "
                                                          "decoder_model_merged.onnx or decoder_with_past_model.onnx"));
  EXPECT_TRUE(isError(ModelFolder::open(noPast), "; found decoder_model.onnx, encoder_model.onnx, none of them a "
                                                 "decoder with past"));
  EXPECT_TRUE(failsCleanly(bmcRun({noPast, "--prompt", "1,2"}), "none of them a decoder with past"));

  std::string d = layoutFolder("override_errors", {"model.onnx"});
  EXPECT_TRUE(isError(ModelFolder::open(d, "onnx/model_q4.onnx"), d + ": model file 'onnx/model_q4.onnx' (given): no such file"));
  EXPECT_TRUE(isError(ModelFolder::open(d, "../model.onnx"), "expected a path inside the folder"));
  EXPECT_TRUE(isError(ModelFolder::open(d, "/etc/passwd"), "expected a path inside the folder"));
  EXPECT_TRUE(failsCleanly(bmcRun({d, "--model-file", "nope.onnx", "--prompt", "1,2"}),
                           d + ": model file 'nope.onnx' (given): no such file"));
  std::string pkg = d + "/x.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({d, "--model-file", "nope.onnx", "-o", pkg}), "(given): no such file"));
  EXPECT_FALSE(fileExists(pkg));
  // A file is not a folder: --model-file and CompileOptions::modelFile do not apply.
  std::string file = d + "/model.onnx";
  EXPECT_TRUE(failsCleanly(bmcRun({file, "--model-file", "model.onnx", "--prompt", "1,2"}),
                           "--model-file: applies to a model folder"));
  EXPECT_TRUE(failsCleanly(bmcCompile({file, "--model-file", "model.onnx", "-o", pkg}),
                           "--model-file: applies to a model folder"));
  CompileOptions co;
  co.modelFile = "model.onnx";
  EXPECT_TRUE(isError(compileOnnx(file, co), "CompileOptions: modelFile 'model.onnx' applies to a model folder"));
}

} // namespace
} // namespace bmc::e2e
