//===- tokenizer_test.cpp - byte-level BPE on a hand-made tokenizer.json ---===//
//
// A vocabulary small enough to work the expected ids out by hand: the 256
// single bytes (ids 0..255 = the byte values), three merges, one special
// token. Real tokenizers are checked against the JS reference in oracle_test.
//
//===----------------------------------------------------------------------===//
#include "bmc/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

using bmc::Tokenizer;

namespace {

// GPT-2's byte alphabet (the spelling tokenizer.json uses for byte b).
std::string byteLevel(unsigned b) {
  unsigned cp = b;
  bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  if (!printable) {
    unsigned n = 0;
    for (unsigned x = 0; x < b; ++x)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE)) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s += char(cp);
  else { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
  return s;
}

std::string jsonEscape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// merges: "h e" (id 256), "he l" (257), "Ġ w" (258: " w"); special "<|end|>" = 300.
std::string tinyJson(const std::string &postProcessor = "null", const std::string &normalizer = "null",
                     const std::string &modelType = "BPE") {
  std::string vocab;
  for (unsigned b = 0; b < 256; ++b) vocab += "\"" + jsonEscape(byteLevel(b)) + "\": " + std::to_string(b) + ", ";
  vocab += "\"he\": 256, \"hel\": 257, \"Ġw\": 258";
  return R"({"version": "1.0", "added_tokens": [{"id": 300, "content": "<|end|>", "single_word": false,
    "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
    "normalizer": )" + normalizer + R"(,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
    "post_processor": )" + postProcessor + R"(,
    "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
    "model": {"type": ")" + modelType + R"(", "dropout": null, "unk_token": null, "byte_fallback": false,
      "vocab": {)" + vocab + R"(}, "merges": ["h e", "he l", "Ġ w"]}})";
}

Tokenizer tiny(const std::string &post = "null", const std::string &norm = "null") {
  auto t = Tokenizer::fromJson(tinyJson(post, norm), "tiny");
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

std::vector<int64_t> enc(const Tokenizer &t, const std::string &s, bool special = true) {
  auto r = t.encode(s, special);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<int64_t>{};
}

} // namespace

TEST(Tokenizer, MergesByRank) {
  Tokenizer t = tiny();
  // "hello" -> h e l l o -> he l l o -> hel l o ; " world" -> " w" o r l d
  EXPECT_EQ(enc(t, "hello world"), (std::vector<int64_t>{257, 'l', 'o', 258, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(enc(t, ""), std::vector<int64_t>{});
  // Pre-tokenization keeps "h" and "e" of "h e" in different pieces: no merge across them.
  EXPECT_EQ(enc(t, "h e"), (std::vector<int64_t>{'h', ' ', 'e'}));
}

TEST(Tokenizer, ByteLevelAddPrefixSpace) {
  std::string json = tinyJson();
  json.replace(json.find("\"add_prefix_space\": false"), 25, "\"add_prefix_space\": true");
  auto t = Tokenizer::fromJson(json, "prefix");
  ASSERT_TRUE(t.ok()) << t.status().message();
  // " hello": one piece; the space is not merged with "h" (no "Ġ h" merge).
  EXPECT_EQ(enc(*t, "hello"), (std::vector<int64_t>{' ', 257, 'l', 'o'}));
  EXPECT_EQ(enc(*t, " hello"), (std::vector<int64_t>{' ', 257, 'l', 'o'})); // already starts with a space
}

TEST(Tokenizer, SpecialTokensAreCutOutFirst) {
  Tokenizer t = tiny();
  EXPECT_EQ(enc(t, "he<|end|>he"), (std::vector<int64_t>{256, 300, 256}));
  EXPECT_EQ(enc(t, "<|end|"), (std::vector<int64_t>{'<', '|', 'e', 'n', 'd', '|'}));
  EXPECT_TRUE(t.isSpecial(300));
  EXPECT_EQ(t.tokenId("<|end|>"), 300);
  EXPECT_EQ(t.tokenId("hel"), 257);
  EXPECT_EQ(t.vocabSize(), 301);
}

TEST(Tokenizer, TemplateAddsSpecialTokensOnlyWhenAsked) {
  Tokenizer t = tiny(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}},
      {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<|end|>": {"id": "<|end|>",
      "ids": [300], "tokens": ["<|end|>"]}}})");
  EXPECT_EQ(enc(t, "he", true), (std::vector<int64_t>{300, 256}));
  EXPECT_EQ(enc(t, "he", false), (std::vector<int64_t>{256}));
}

TEST(Tokenizer, NfcNormalizer) {
  Tokenizer t = tiny("null", R"({"type": "NFC"})");
  // e + U+0301 (combining acute) composes to U+00E9 = bytes C3 A9.
  EXPECT_EQ(enc(t, "e\xCC\x81"), (std::vector<int64_t>{0xC3, 0xA9}));
  Tokenizer plain = tiny();
  EXPECT_EQ(enc(plain, "e\xCC\x81"), (std::vector<int64_t>{'e', 0xCC, 0x81}));
}

TEST(Tokenizer, DecodeRoundTripAndLossyBytes) {
  Tokenizer t = tiny();
  std::string text = "hello world <|end|> \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80";
  auto ids = enc(t, text);
  auto back = t.decode(ids);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
  auto skipped = t.decode(ids, /*skipSpecial=*/true);
  EXPECT_EQ(*skipped, "hello world  \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80");
  // A lone lead byte, a stray continuation byte, a truncated 4-byte character: one U+FFFD each.
  EXPECT_EQ(*t.decode({0xE4, 'a', 0x80, 0xF0, 0x9F, 0x98}), "\xEF\xBF\xBD" "a\xEF\xBF\xBD\xEF\xBF\xBD");
  // E0 80: overlong, so E0 alone is the invalid subsequence and 80 is another.
  EXPECT_EQ(*t.decode({0xE0, 0x80}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Tokenizer, StreamingWaitsForWholeCharacters) {
  Tokenizer t = tiny();
  Tokenizer::StreamDecoder s(t);
  // U+1F600 = F0 9F 98 80, one byte token at a time.
  EXPECT_EQ(*s.push('a'), "a");
  EXPECT_EQ(*s.push(0xF0), "");
  EXPECT_EQ(*s.push(0x9F), "");
  EXPECT_EQ(*s.push(0x98), "");
  EXPECT_EQ(*s.push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(*s.push(0xE4), "");
  EXPECT_EQ(*s.push('b'), "\xEF\xBF\xBD" "b"); // the lead byte was not followed by its continuation
  EXPECT_EQ(*s.push(0xE4), "");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");        // incomplete at the end
  EXPECT_FALSE(s.push(301).ok());
}

TEST(Tokenizer, StreamingEqualsDecodeOnEveryPrefixSplit) {
  Tokenizer t = tiny();
  // Invalid, incomplete and valid bytes mixed; every id pushed separately.
  std::vector<int64_t> ids = {'x', 0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 'y', 0xC3, 300, 0xA9, 257, 0xED, 0xA0, 0x80, 0xF4};
  Tokenizer::StreamDecoder s(t);
  std::string streamed;
  for (int64_t id : ids) streamed += *s.push(id);
  streamed += s.finish();
  EXPECT_EQ(streamed, *t.decode(ids));
}

TEST(Tokenizer, Errors) {
  Tokenizer t = tiny();
  auto bad = t.encode("ok\xFFno");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "tokenizer: input is not valid UTF-8 at byte 2");
  auto badId = t.decode({1, 301});
  ASSERT_FALSE(badId.ok());
  EXPECT_EQ(badId.status().message(), "tokenizer: decode: id 301 at position 1 is outside [0, 301)");

  auto missing = Tokenizer::load("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "tokenizer '/nonexistent/tokenizer.json': cannot open: No such file or directory");
  auto dir = Tokenizer::load("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("expected a regular file, found a directory"), std::string::npos);

  std::string json = tinyJson();
  auto truncated = Tokenizer::fromJson(json.substr(0, json.size() / 2), "t.json");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().message().rfind("tokenizer 't.json': not valid JSON (truncated?) at byte ", 0), 0u)
      << truncated.status().message();

  // The parser's out_of_range, not a parse_error (found by fuzzing): still one line, no abort.
  auto huge = Tokenizer::fromJson("{\"model\": 1" + std::string(400, '0') + "}", "h.json");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().message().rfind("tokenizer 'h.json': not valid JSON: ", 0), 0u) << huge.status().message();

  auto wordPiece = Tokenizer::fromJson(tinyJson("null", "null", "WordPiece"), "u.json");
  ASSERT_FALSE(wordPiece.ok());
  EXPECT_EQ(wordPiece.status().message(), "tokenizer 'u.json': model.type: 'WordPiece' is not supported (supported: BPE, Unigram)");

  auto lower = Tokenizer::fromJson(tinyJson("null", R"({"type": "Lowercase"})"), "n.json");
  ASSERT_FALSE(lower.ok());
  EXPECT_EQ(lower.status().message(),
            "tokenizer 'n.json': normalizer.type: 'Lowercase' is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Precompiled, Sequence)");

  auto notTok = Tokenizer::fromJson("{\"hello\": 1}", "x.json");
  ASSERT_FALSE(notTok.ok());
  EXPECT_EQ(notTok.status().message(), "tokenizer 'x.json': model: missing (is this a tokenizer.json?)");

  std::string noMerge = tinyJson();
  noMerge.replace(noMerge.find("\"he l\""), 6, "\"he x\"");
  auto m = Tokenizer::fromJson(noMerge, "m.json");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "tokenizer 'm.json': model.merges[1]: 'he x' uses or makes a token that is not in model.vocab");

  std::string split = tinyJson();
  split.replace(split.find("{\"type\": \"ByteLevel\", \"add_prefix_space\": false"), 0,
                R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(["}, "behavior": "Isolated", "invert": false}, )");
  split.replace(split.find("\"use_regex\": true}"), 18, "\"use_regex\": true}]}");
  auto re = Tokenizer::fromJson(split, "r.json");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.status().message().rfind("tokenizer 'r.json': pre_tokenizer.pretokenizers[0].pattern.Regex: regex does not compile", 0), 0u)
      << re.status().message();
}

TEST(Tokenizer, SentencePieceModelErrors) {
  // Not a SentencePiece model (libsentencepiece refuses it): one line naming the file.
  for (std::string bytes : {std::string("not a protobuf at all \xff\xff"), std::string(), tinyJson()}) {
    auto t = Tokenizer::fromSentencePiece(bytes, "t.model");
    ASSERT_FALSE(t.ok());
    const std::string &m = t.status().message();
    EXPECT_EQ(m.rfind("tokenizer 't.model': not a SentencePiece model", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  auto missing = Tokenizer::load("/nonexistent/tokenizer.model");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "tokenizer '/nonexistent/tokenizer.model': cannot open: No such file or directory");
}

TEST(Tokenizer, ConcurrentEncodeMatchesSerial) {
  // The header promises encode/decode from many threads at once on one Tokenizer.
  Tokenizer t = tiny("null", R"({"type": "NFC"})");
  std::vector<std::string> texts = {"hello world", "he<|end|>hel \xE4\xBD\xA0\xE5\xA5\xBD", "   \n\n  x",
                                    "e\xCC\x81 \xF0\x9F\x98\x80 12345"};
  std::vector<std::vector<int64_t>> want;
  for (const auto &s : texts) want.push_back(enc(t, s));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) {
          auto ids = t.encode(texts[i]);
          if (!ids.ok() || *ids != want[i] || *t.decode(*ids) != *t.decode(want[i])) ++mismatches;
        }
    });
  for (auto &th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}
