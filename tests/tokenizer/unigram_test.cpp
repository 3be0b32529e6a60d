//===- unigram_test.cpp - Unigram tokenizer.json, hand-made vocabularies ---===//
//
// Vocabularies small enough to work the best segmentation out by hand from the
// rule HF's Unigram follows: the path of highest total score; a character with
// no single-character token may be covered by the unknown token at (lowest
// score - 10); on ties the path found first wins (for each end position,
// candidates are offered in order of increasing start). Real files are checked
// against the JS reference in oracle_test.
//
//===----------------------------------------------------------------------===//
#include "bmc/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <atomic>
#include <map>
#include <thread>
#include <string>
#include <vector>

using bmc::Tokenizer;

namespace {

const std::string kSpace = "\xE2\x96\x81"; // ▁

struct Spec {
  std::vector<std::pair<std::string, double>> vocab;
  std::string unkId = "0";
  bool byteFallback = false;
  std::string normalizer = "null";
  std::string preTokenizer = "null";
  std::string decoder = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})";
  std::string added = "[]";
};

std::string json(const Spec &s) {
  std::string vocab;
  for (const auto &[piece, score] : s.vocab) {
    char num[32];
    snprintf(num, sizeof num, "%.17g", score);
    vocab += (vocab.empty() ? "" : ", ") + std::string("[\"") + piece + "\", " + num + "]";
  }
  return R"({"version": "1.0", "added_tokens": )" + s.added + R"(, "normalizer": )" + s.normalizer +
         R"(, "pre_tokenizer": )" + s.preTokenizer + R"(, "post_processor": null, "decoder": )" + s.decoder +
         R"(, "model": {"type": "Unigram", "unk_id": )" + s.unkId + R"(, "byte_fallback": )" +
         (s.byteFallback ? "true" : "false") + R"(, "vocab": [)" + vocab + "]}}";
}

Tokenizer make(const Spec &s) {
  auto t = Tokenizer::fromJson(json(s), "u.json");
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

std::vector<int64_t> enc(const Tokenizer &t, const std::string &text) {
  auto r = t.encode(text, true);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<int64_t>{};
}

std::string loadError(const Spec &s) {
  auto t = Tokenizer::fromJson(json(s), "u.json");
  return t.ok() ? "(loaded)" : t.status().message();
}

// ids: <unk>=0 ▁=1 a=2 b=3 ab=4 ▁ab=5 c=6 abc=7; lowest score -4, so unknown = -14.
Spec basic() {
  return Spec{{{"<unk>", 0}, {kSpace, -1}, {"a", -2}, {"b", -2}, {"ab", -3}, {kSpace + "ab", -3.5}, {"c", -2.5},
               {"abc", -4}}};
}

// A darts-clone double array (the layout SentencePiece's charsmap uses) for a
// handful of keys, built the plain way: children of a node at the first free
// base; a key's value sits in its node's label-0 child.
std::string charsmap(const std::map<std::string, std::string> &rules) {
  struct Node {
    std::map<unsigned char, int> next;
    int value = -1;
  };
  std::vector<Node> trie(1);
  std::string strings;
  for (const auto &[key, to] : rules) {
    int n = 0;
    for (unsigned char c : key) {
      auto it = trie[n].next.find(c);
      if (it == trie[n].next.end()) {
        trie.push_back({});
        it = trie[n].next.emplace(c, int(trie.size()) - 1).first;
      }
      n = it->second;
    }
    trie[n].value = int(strings.size());
    strings += to + '\0';
  }
  std::vector<uint32_t> units(4096, 0);
  std::vector<bool> used(4096, false);
  std::vector<std::pair<int, uint32_t>> todo{{0, 0}}; // (node, its position)
  used[0] = true;
  while (!todo.empty()) {
    auto [n, pos] = todo.back();
    todo.pop_back();
    std::vector<unsigned> labels;
    if (trie[n].value >= 0) labels.push_back(0);
    for (auto &[c, child] : trie[n].next) labels.push_back(c);
    if (labels.empty()) continue;
    uint32_t base = 1;
    for (;; ++base) {
      bool ok = true;
      for (unsigned l : labels) ok = ok && ((pos ^ base) ^ l) < units.size() && !used[(pos ^ base) ^ l];
      if (ok) break;
    }
    units[pos] |= base << 10 | (trie[n].value >= 0 ? 1u << 8 : 0);
    uint32_t childBase = pos ^ base;
    if (trie[n].value >= 0) {
      used[childBase] = true;
      units[childBase] = uint32_t(trie[n].value) | 1u << 31;
    }
    for (auto &[c, child] : trie[n].next) {
      uint32_t p = childBase ^ c;
      used[p] = true;
      units[p] = c;
      todo.push_back({child, p});
    }
  }
  std::string blob(4, '\0');
  uint32_t bytes = uint32_t(units.size() * 4);
  for (int i = 0; i < 4; ++i) blob[i] = char(bytes >> (8 * i));
  for (uint32_t u : units)
    for (int i = 0; i < 4; ++i) blob += char(u >> (8 * i));
  blob += strings;
  static const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < blob.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(blob[i])) << 16 | (i + 1 < blob.size() ? uint32_t(uint8_t(blob[i + 1])) << 8 : 0) |
                 (i + 2 < blob.size() ? uint32_t(uint8_t(blob[i + 2])) : 0);
    out += b64[v >> 18];
    out += b64[(v >> 12) & 63];
    out += i + 1 < blob.size() ? b64[(v >> 6) & 63] : '=';
    out += i + 2 < blob.size() ? b64[v & 63] : '=';
  }
  return out;
}

} // namespace

TEST(Unigram, BestSegmentation) {
  Tokenizer t = make(basic());
  // abc: a b c -6.5, ab c -5.5, abc -4 (best).
  EXPECT_EQ(enc(t, "abc"), (std::vector<int64_t>{7}));
  // ab: a b -4, ab -3.
  EXPECT_EQ(enc(t, "ab"), (std::vector<int64_t>{4}));
  // cab: c + ab = -5.5 beats c a b = -6.5.
  EXPECT_EQ(enc(t, "cab"), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(enc(t, ""), std::vector<int64_t>{});
}

TEST(Unigram, TiesKeepThePathFoundFirst) {
  // x=1 y=2 z=3 xy=4 yz=5, all -1 per character: every segmentation of "xyz" scores -3.
  // End 2: xy (from 0) is offered before y (from 1) and keeps it; end 3: yz (from 1)
  // before z (from 2). Back from the end: yz, then x.
  Tokenizer t = make(Spec{{{"<unk>", 0}, {"x", -1}, {"y", -1}, {"z", -1}, {"xy", -2}, {"yz", -2}}});
  EXPECT_EQ(enc(t, "xyz"), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(enc(t, "xy"), (std::vector<int64_t>{4}));
}

TEST(Unigram, UnknownCharactersArePenalisedAndFused) {
  Tokenizer t = make(basic());
  // é has no token: unknown at -14 between a and b; two in a row become one <unk>.
  EXPECT_EQ(enc(t, "a\xC3\xA9" "b"), (std::vector<int64_t>{2, 0, 3}));
  EXPECT_EQ(enc(t, "a\xC3\xA9\xC3\xA9" "b"), (std::vector<int64_t>{2, 0, 3}));
  EXPECT_EQ(enc(t, "\xF0\x9F\x98\x80"), (std::vector<int64_t>{0}));

  // q and r only exist inside qr (-5): "qr" -5 beats two unknowns (-28); "qrq" = qr + <unk>.
  Spec s = basic();
  s.vocab.push_back({"qr", -5}); // id 8; the lowest score is now -5, unknown -15
  Tokenizer q = make(s);
  EXPECT_EQ(enc(q, "qr"), (std::vector<int64_t>{8}));
  EXPECT_EQ(enc(q, "qrq"), (std::vector<int64_t>{8, 0}));
  EXPECT_EQ(enc(q, "q"), (std::vector<int64_t>{0}));

  // A poor token still beats the unknown: the lowest score is now w's -30, unknown -40.
  Spec w = basic();
  w.vocab.push_back({"w", -30}); // id 8
  EXPECT_EQ(enc(make(w), "w"), (std::vector<int64_t>{8}));
}

TEST(Unigram, ByteFallback) {
  Spec s = basic();
  s.byteFallback = true;
  s.vocab.push_back({"<0xC3>", -10}); // 8
  s.vocab.push_back({"<0xA9>", -10}); // 9
  s.decoder = R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
  Tokenizer t = make(s);
  // é = C3 A9: the fused unknown piece becomes its byte tokens.
  EXPECT_EQ(enc(t, "a\xC3\xA9" "b"), (std::vector<int64_t>{2, 8, 9, 3}));
  EXPECT_EQ(enc(t, "\xC3\xA9\xC3\xA9"), (std::vector<int64_t>{8, 9, 8, 9}));
  // ü = C3 BC: no <0xBC>, so the whole piece is <unk>.
  EXPECT_EQ(enc(t, "\xC3\xBC"), (std::vector<int64_t>{0}));
  EXPECT_EQ(*t.decode({2, 8, 9, 3}), "a\xC3\xA9" "b");
  // Byte fallback without a ByteFallback decoder is refused.
  s.decoder = R"({"type": "Metaspace", "replacement": "▁"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': decoder: model.byte_fallback is true but there is no ByteFallback decoder");
}

TEST(Unigram, MetaspacePrependSchemesAndDecoding) {
  Spec s = basic();
  s.added = R"([{"id": 8, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}])";
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})";
  Tokenizer always = make(s);
  // "ab ab" -> "▁ab▁ab" -> ▁ab | ▁ab; ▁ab (-3.5) beats ▁ + ab (-4).
  EXPECT_EQ(enc(always, "ab ab"), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(enc(always, "<s>ab"), (std::vector<int64_t>{8, 5}));
  // Decoding: the first token drops its ▁, later ones turn it into a space.
  EXPECT_EQ(*always.decode({5, 5}), "ab ab");
  EXPECT_EQ(*always.decode({1, 4, 5}), "ab ab");
  EXPECT_EQ(*always.decode({8, 5}, /*skipSpecial=*/true), "ab");
  EXPECT_EQ(*always.decode({8, 5}), "<s> ab");
  for (const std::vector<int64_t> &ids : {std::vector<int64_t>{5, 5}, {1, 4, 5}, {8, 5}}) {
    Tokenizer::StreamDecoder st(always);
    std::string out;
    for (int64_t id : ids) out += *st.push(id);
    EXPECT_EQ(out + st.finish(), *always.decode(ids));
  }

  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": true})";
  EXPECT_EQ(enc(make(s), "ab ab"), (std::vector<int64_t>{4, 5}));
  // first: only the piece at the very start of the input gets ▁.
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true})";
  EXPECT_EQ(enc(make(s), "ab<s>ab"), (std::vector<int64_t>{5, 8, 4}));
  EXPECT_EQ(enc(make(s), "<s>ab"), (std::vector<int64_t>{8, 4}));
  // split false: one piece "▁ab▁ab", whose best path is still ▁ab ▁ab.
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "add_prefix_space": true, "split": false})";
  EXPECT_EQ(enc(make(s), "ab ab"), (std::vector<int64_t>{5, 5}));
  // WhitespaceSplit first (T5's older files): runs of white space vanish.
  s.preTokenizer = R"({"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
      {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}]})";
  EXPECT_EQ(enc(make(s), " \t ab \xE2\x80\x83\n ab  "), (std::vector<int64_t>{5, 5}));
}

TEST(Unigram, Normalizers) {
  Spec s = basic();
  // Strip both ends (Unicode White_Space), then runs of 2+ spaces -> one ▁ (a Regex Replace).
  s.normalizer = R"({"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": true},
      {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]})";
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})";
  // "  ab   ab\u3000" -> "ab   ab" -> "ab▁ab" -> "▁ab▁ab".
  EXPECT_EQ(enc(make(s), "  ab   ab\xE3\x80\x80"), (std::vector<int64_t>{5, 5}));
  s.normalizer = R"({"type": "NFKC"})";
  // ＡＢ would stay unknown; NFKC turns fullwidth ａｂ into ab.
  EXPECT_EQ(enc(make(s), "\xEF\xBD\x81\xEF\xBD\x82"), (std::vector<int64_t>{5}));
}

TEST(Unigram, PrecompiledCharsmap) {
  Spec s = basic();
  s.vocab.push_back({"\xC3\xA9", -2}); // é = 8
  s.vocab.push_back({"A", -2});        // 9
  // Ａ -> A; e + U+0301 -> é; x -> nothing.
  std::string map = charsmap({{"\xEF\xBC\xA1", "A"}, {"e\xCC\x81", "\xC3\xA9"}, {"x", ""}});
  s.normalizer = R"({"type": "Precompiled", "precompiled_charsmap": ")" + map + "\"}";
  Tokenizer t = make(s);
  EXPECT_EQ(enc(t, "\xEF\xBC\xA1"), (std::vector<int64_t>{9}));
  EXPECT_EQ(enc(t, "e\xCC\x81" "ab"), (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(enc(t, "axb"), (std::vector<int64_t>{4}));
  // HF's quirk: a grapheme under 6 bytes whose start has a rule becomes that rule's
  // output whole, so Ａ + U+0301 (5 bytes) loses the accent...
  EXPECT_EQ(enc(t, "\xEF\xBC\xA1\xCC\x81"), (std::vector<int64_t>{9}));
  // ...while at 6 bytes or more it goes character by character and keeps them (unknown here).
  EXPECT_EQ(enc(t, "\xEF\xBC\xA1\xCC\x81\xCC\x81"), (std::vector<int64_t>{9, 0}));

  s.normalizer = R"({"type": "Precompiled", "precompiled_charsmap": "not base64!"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': normalizer.precompiled_charsmap: not valid base64");
  s.normalizer = R"({"type": "Precompiled", "precompiled_charsmap": "/////w=="})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': normalizer.precompiled_charsmap: trie size 4294967295 does not fit its 4 bytes");
  s.normalizer = R"({"type": "Precompiled", "precompiled_charsmap": null})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': normalizer.precompiled_charsmap: expected a base64 string");
}

TEST(Unigram, Errors) {
  Spec s = basic();
  s.unkId = "null";
  Tokenizer noUnk = make(s);
  auto r = noUnk.encode("a\xC3\xA9", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "tokenizer: Unigram: character at byte 1 of a piece has no token and model.unk_id is null");
  s.unkId = "8";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': model.unk_id: expected an id in [0, 8)");
  s = basic();
  s.vocab.push_back({"a", 1}); // fine: a repeated piece
  EXPECT_EQ(loadError(s), "(loaded)");
  s = basic();
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': pre_tokenizer.prepend_scheme: 'sometimes' is not one of always, first, never");
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "ab"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': pre_tokenizer.replacement: expected one character, found 'ab'");
  s.preTokenizer = R"({"type": "ByteLevel"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': pre_tokenizer: ByteLevel with model.type Unigram is not supported");
  s.preTokenizer = "null";
  s.normalizer = R"({"type": "Replace", "pattern": {"Regex": " *"}, "content": "▁"})";
  EXPECT_EQ(loadError(s), "tokenizer 'u.json': normalizer.pattern.Regex: can match the empty string (not supported)");
  s.normalizer = R"({"type": "Lowercase"})";
  EXPECT_EQ(loadError(s).rfind("tokenizer 'u.json': normalizer.type: 'Lowercase' is not supported", 0), 0u);
  s = basic();
  s.vocab.push_back({"x", 0});
  std::string text = json(s);
  text.replace(text.find("[\"x\", 0]"), 8, "[\"x\"]");
  auto bad = Tokenizer::fromJson(text, "u.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "tokenizer 'u.json': model.vocab[8]: expected [piece, score]");
}

TEST(Unigram, ConcurrentEncodeMatchesSerial) {
  // The Precompiled normalizer keeps one ICU grapheme iterator per thread: four threads
  // sharing one Tokenizer must give the serial answers.
  Spec s = basic();
  s.vocab.push_back({"\xC3\xA9", -2});
  s.normalizer = R"({"type": "Precompiled", "precompiled_charsmap": ")" +
                 charsmap({{"\xEF\xBC\xA1", "A"}, {"e\xCC\x81", "\xC3\xA9"}, {"x", ""}}) + "\"}";
  s.preTokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})";
  Tokenizer t = make(s);
  std::vector<std::string> texts = {"ab abc", "e\xCC\x81" "ab x \xEF\xBC\xA1\xCC\x81", "\xF0\x9F\x98\x80 cab", ""};
  std::vector<std::vector<int64_t>> want;
  for (const auto &x : texts) want.push_back(enc(t, x));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) {
          auto ids = t.encode(texts[i]);
          if (!ids.ok() || *ids != want[i]) ++mismatches;
        }
    });
  for (auto &th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}
