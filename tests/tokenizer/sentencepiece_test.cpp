//===- sentencepiece_test.cpp - SentencePiece-style BPE, hand-made vocab ---===//
//
// Llama 2's tokenizer.json shape on a vocabulary small enough to work the ids
// out by hand: <unk> <s> </s>, the 256 <0xXX> byte tokens (ids 3..258), "▁",
// h e l o, merges "h e" -> "he", "▁ he" -> "▁he".
//
//===----------------------------------------------------------------------===//
#include "bmc/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

using bmc::Tokenizer;

namespace {

const std::string kSpace = "\xE2\x96\x81"; // ▁

std::string spJson(const std::string &decoder, bool byteFallback = true) {
  std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2, )";
  for (int b = 0; b < 256; ++b) {
    char name[16];
    snprintf(name, sizeof name, "\"<0x%02X>\": %d, ", b, 3 + b);
    vocab += name;
  }
  vocab += "\"" + kSpace + "\": 259, \"h\": 260, \"e\": 261, \"l\": 262, \"o\": 263, \"he\": 264, \"" + kSpace +
           "he\": 265";
  return R"({"version": "1.0", "added_tokens": [
      {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": ")" + kSpace + R"("},
        {"type": "Replace", "pattern": {"String": " "}, "content": ")" + kSpace + R"("}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
        {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": )" + decoder + R"(,
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": )" + (byteFallback ? "true" : "false") + R"(,
      "vocab": {)" + vocab + R"(}, "merges": ["h e", ")" + kSpace + R"( he"]}})";
}

const std::string kLlama2Decoder = R"({"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": ")" + kSpace + R"("}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";

Tokenizer sp(bool byteFallback = true) {
  auto t = Tokenizer::fromJson(spJson(kLlama2Decoder, byteFallback), "sp");
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

} // namespace

TEST(SentencePieceBpe, MergesOverCharactersWithPrependedSpace) {
  Tokenizer t = sp();
  // "he lo" -> "▁he▁lo" -> ▁ h e ▁ l o -> ▁ he ▁ l o -> ▁he ▁ l o
  EXPECT_EQ(*t.encode("he lo", true), (std::vector<int64_t>{1, 265, 259, 262, 263}));
  EXPECT_EQ(*t.encode("he lo", false), (std::vector<int64_t>{265, 259, 262, 263}));
  // Special tokens are cut out first; each remaining segment gets its own ▁.
  EXPECT_EQ(*t.encode("he</s>he", false), (std::vector<int64_t>{265, 2, 265}));
  EXPECT_EQ(*t.encode("", true), (std::vector<int64_t>{1}));
}

TEST(SentencePieceBpe, ByteFallbackAndUnk) {
  // é (C3 A9) is not in the vocabulary: its bytes' tokens, 3 + byte.
  EXPECT_EQ(*sp().encode("\xC3\xA9", false), (std::vector<int64_t>{259, 3 + 0xC3, 3 + 0xA9}));
  // Without byte fallback: <unk>, and fuse_unk makes "éé" one <unk>.
  EXPECT_EQ(*sp(false).encode("\xC3\xA9\xC3\xA9o", false), (std::vector<int64_t>{259, 0, 263}));
}

TEST(SentencePieceBpe, DecodeStripsThePrependedSpaceOnce) {
  Tokenizer t = sp();
  EXPECT_EQ(*t.decode({265, 259, 262, 263}), "he lo");
  EXPECT_EQ(*t.decode({1, 265, 259, 262, 263}), "<s> he lo");
  EXPECT_EQ(*t.decode({259, 259, 260}), " h"); // Strip start 1: one space only
  EXPECT_EQ(*t.decode({259, 3 + 0xC3, 3 + 0xA9}), "\xC3\xA9");
  EXPECT_EQ(*t.decode({3 + 0xC3, 260}), "\xEF\xBF\xBDh");
  // Streaming gives the same text on every input.
  for (std::vector<int64_t> ids : {std::vector<int64_t>{259, 259, 260}, {259, 3 + 0xC3, 3 + 0xA9, 259},
                                    {1, 265, 259, 3 + 0xE4, 3 + 0xBD}, {259}, {265, 2, 265}}) {
    Tokenizer::StreamDecoder s(t);
    std::string out;
    for (int64_t id : ids) out += *s.push(id);
    out += s.finish();
    EXPECT_EQ(out, *t.decode(ids));
  }
}

TEST(SentencePieceBpe, Errors) {
  auto wp = Tokenizer::fromJson(spJson(R"({"type": "WordPiece", "prefix": "##"})"), "m.json");
  ASSERT_FALSE(wp.ok());
  EXPECT_EQ(wp.status().message().rfind("tokenizer 'm.json': decoder.type: 'WordPiece' is not supported for SentencePiece-style models", 0), 0u)
      << wp.status().message();
  auto noFallback = Tokenizer::fromJson(
      spJson(R"({"type": "Sequence", "decoders": [{"type": "Fuse"}]})"), "f.json");
  ASSERT_FALSE(noFallback.ok());
  EXPECT_EQ(noFallback.status().message(),
            "tokenizer 'f.json': decoder: model.byte_fallback is true but there is no ByteFallback decoder");
  std::string missingByte = spJson(kLlama2Decoder);
  missingByte.replace(missingByte.find("\"<0x41>\""), 8, "\"<0xZZ>\"");
  auto mb = Tokenizer::fromJson(missingByte, "b.json");
  ASSERT_FALSE(mb.ok());
  EXPECT_EQ(mb.status().message(), "tokenizer 'b.json': model.vocab: no token <0x41> (byte_fallback needs all 256)");
}
