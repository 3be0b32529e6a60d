//===- TokenizerLoad.cpp - tokenizer.json -> tables ------------------------===//
//
// Reads the parts of tokenizer.json that BPE and Unigram use (the Unigram model and
// charsmap in UnigramLoad.cpp) and refuses, with one line naming the field, anything
// it would otherwise get silently wrong.
//
//===----------------------------------------------------------------------===//
#include "bmc/tokenizer.h"
#include "bmc/model_folder.h"
#include "bmc/abi/open_file.h"
#include "runtime/tokenizer/Impl.h"
#include "runtime/tokenizer/LoadJson.h"
#include "runtime/tokenizer/Utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

namespace bmc {
namespace tokenizer_detail {

Regex::~Regex() {
  if (code) pcre2_code_free(code);
}

namespace {

// GPT-2's byte <-> unicode table: printable Latin-1 bytes map to themselves,
// the other 68 to U+0100 onwards, so that every token is printable text.
struct ByteAlphabet {
  std::unordered_map<uint32_t, uint8_t> toByte;
  ByteAlphabet() {
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      toByte[printable ? uint32_t(b) : uint32_t(256 + next++)] = uint8_t(b);
    }
  }
};

// A byte-level token string ("Ġthe") -> its raw bytes (" the"); false if it
// uses a character outside the alphabet.
bool byteLevelToBytes(const std::string &s, std::string &out) {
  static const ByteAlphabet alphabet;
  out.clear();
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp;
    size_t n;
    if (c < 0x80) { cp = c; n = 1; }
    else if ((c >> 5) == 6 && i + 1 < s.size()) { cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F); n = 2; }
    else return false; // the alphabet lies below U+0800
    auto it = alphabet.toByte.find(cp);
    if (it == alphabet.toByte.end()) return false;
    out.push_back(char(it->second));
    i += n;
  }
  return true;
}

std::shared_ptr<Regex> compileRegex(const std::string &pattern, bool literal, const std::string &field) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  auto re = std::make_shared<Regex>();
  re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err,
                           &offset, nullptr);
  if (!re->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    fail(field, "regex does not compile at offset " + std::to_string(offset) + ": " +
                    reinterpret_cast<char *>(buf));
  }
  // JIT is a speed-up only: pcre2_match falls back to the interpreter by itself when absent.
  pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
  return re;
}

// GPT-2's pattern, used by ByteLevel when use_regex is true (HF's default).
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Metaspace (pre-tokenizer or decoder): replacement, prepend_scheme (or the
// older add_prefix_space: false meaning never), split.
PreTokenizerStep metaspaceStep(const json &j, const std::string &field) {
  PreTokenizerStep step{PreTokenizerStep::Metaspace, nullptr, false};
  auto r = j.find("replacement");
  if (r == j.end() || !r->is_string()) fail(field + ".replacement", "expected a string");
  step.replacement = r->get<std::string>();
  size_t len = 0;
  if (step.replacement.empty() || utf8::scanAt(step.replacement, 0, len) != utf8::Scan::Valid ||
      len != step.replacement.size())
    fail(field + ".replacement", "expected one character, found '" + step.replacement + "'");
  auto scheme = j.find("prepend_scheme");
  if (scheme != j.end() && !scheme->is_null()) {
    std::string v = scheme->is_string() ? scheme->get<std::string>() : scheme->dump();
    if (v == "always") step.prepend = PreTokenizerStep::Always;
    else if (v == "first") step.prepend = PreTokenizerStep::First;
    else if (v == "never") step.prepend = PreTokenizerStep::Never;
    else fail(field + ".prepend_scheme", "'" + v + "' is not one of always, first, never");
  } else if (!boolField(j, "add_prefix_space", true, field)) {
    step.prepend = PreTokenizerStep::Never;
  }
  step.split = boolField(j, "split", true, field);
  return step;
}

void loadPreTokenizer(const json &j, const std::string &field, Impl &impl) {
  std::string type = typeOf(j, field);
  if (type == "Sequence") {
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) fail(field + ".pretokenizers", "expected an array");
    for (size_t i = 0; i < it->size(); ++i)
      loadPreTokenizer((*it)[i], field + ".pretokenizers[" + std::to_string(i) + "]", impl);
  } else if (type == "Split") {
    std::string behavior = j.value("behavior", "");
    if (behavior != "Isolated")
      fail(field + ".behavior", "'" + behavior + "' is not supported (supported: Isolated)");
    if (boolField(j, "invert", false, field)) fail(field + ".invert", "true is not supported");
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object()) fail(field + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    PreTokenizerStep step{PreTokenizerStep::SplitIsolated, nullptr, false};
    if (p->contains("Regex") && (*p)["Regex"].is_string())
      step.regex = compileRegex((*p)["Regex"].get<std::string>(), false, field + ".pattern.Regex");
    else if (p->contains("String") && (*p)["String"].is_string())
      step.regex = compileRegex((*p)["String"].get<std::string>(), true, field + ".pattern.String");
    else
      fail(field + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    impl.preTokenizer.push_back(std::move(step));
  } else if (type == "ByteLevel") {
    PreTokenizerStep step{PreTokenizerStep::ByteLevel, nullptr, boolField(j, "add_prefix_space", true, field)};
    if (boolField(j, "use_regex", true, field))
      step.regex = compileRegex(kGpt2Pattern, false, field + " (GPT-2 pattern)");
    impl.preTokenizer.push_back(std::move(step));
  } else if (type == "Metaspace") {
    impl.preTokenizer.push_back(metaspaceStep(j, field));
  } else if (type == "WhitespaceSplit") {
    impl.preTokenizer.push_back({PreTokenizerStep::WhitespaceSplit, nullptr, false});
  } else {
    fail(field + ".type", "'" + type + "' is not supported (supported: Sequence, Split, ByteLevel, Metaspace, WhitespaceSplit)");
  }
}

// A Replace normalizer or decoder with a literal pattern: {"String": x} -> content.
std::pair<std::string, std::string> literalReplace(const json &j, const std::string &field) {
  auto p = j.find("pattern");
  if (p == j.end() || !p->is_object() || !p->contains("String") || !(*p)["String"].is_string())
    fail(field + ".pattern", "only {\"String\": ...} patterns are supported");
  auto c = j.find("content");
  if (c == j.end() || !c->is_string()) fail(field + ".content", "expected a string");
  std::string pattern = (*p)["String"].get<std::string>();
  if (pattern.empty()) fail(field + ".pattern.String", "empty");
  return {pattern, c->get<std::string>()};
}

void loadNormalizer(const json &j, const std::string &field, Impl &impl) {
  if (j.is_null()) return;
  std::string type = typeOf(j, field);
  if (type == "Sequence") {
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) fail(field + ".normalizers", "expected an array");
    for (size_t i = 0; i < it->size(); ++i)
      loadNormalizer((*it)[i], field + ".normalizers[" + std::to_string(i) + "]", impl);
  } else if (type == "NFC") impl.normalizers.push_back({NormalizerStep::NFC, "", ""});
  else if (type == "NFD") impl.normalizers.push_back({NormalizerStep::NFD, "", ""});
  else if (type == "NFKC") impl.normalizers.push_back({NormalizerStep::NFKC, "", ""});
  else if (type == "NFKD") impl.normalizers.push_back({NormalizerStep::NFKD, "", ""});
  else if (type == "Prepend") {
    auto p = j.find("prepend");
    if (p == j.end() || !p->is_string()) fail(field + ".prepend", "expected a string");
    impl.normalizers.push_back({NormalizerStep::Prepend, p->get<std::string>(), ""});
  } else if (type == "Replace") {
    auto p = j.find("pattern");
    if (p != j.end() && p->is_object() && p->contains("Regex") && (*p)["Regex"].is_string()) {
      auto c = j.find("content");
      if (c == j.end() || !c->is_string()) fail(field + ".content", "expected a string");
      NormalizerStep step{NormalizerStep::Replace, "", c->get<std::string>()};
      step.regex = compileRegex((*p)["Regex"].get<std::string>(), false, field + ".pattern.Regex");
      size_t minLength = 1;
      pcre2_pattern_info(step.regex->code, PCRE2_INFO_MINLENGTH, &minLength);
      if (minLength == 0) fail(field + ".pattern.Regex", "can match the empty string (not supported)");
      impl.normalizers.push_back(std::move(step));
    } else {
      auto [pattern, content] = literalReplace(j, field);
      impl.normalizers.push_back({NormalizerStep::Replace, pattern, content});
    }
  } else if (type == "Strip") {
    NormalizerStep step{NormalizerStep::Strip, "", ""};
    step.stripLeft = boolField(j, "strip_left", true, field);
    step.stripRight = boolField(j, "strip_right", true, field);
    impl.normalizers.push_back(std::move(step));
  } else if (type == "Precompiled") {
    NormalizerStep step{NormalizerStep::Precompiled, "", ""};
    step.charsmap = loadPrecompiled(j, field);
    impl.normalizers.push_back(std::move(step));
  } else {
    fail(field + ".type",
         "'" + type + "' is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Precompiled, Sequence)");
  }
}

// Collects the single-sequence template's special tokens around "$A".
void loadPostProcessor(const json &j, const std::string &field, Impl &impl) {
  if (j.is_null()) return;
  std::string type = typeOf(j, field);
  if (type == "ByteLevel") return; // offsets only: no ids change
  if (type == "Sequence") {
    auto it = j.find("processors");
    if (it == j.end() || !it->is_array()) fail(field + ".processors", "expected an array");
    for (size_t i = 0; i < it->size(); ++i)
      loadPostProcessor((*it)[i], field + ".processors[" + std::to_string(i) + "]", impl);
    return;
  }
  if (type != "TemplateProcessing")
    fail(field + ".type", "'" + type + "' is not supported (supported: ByteLevel, TemplateProcessing, Sequence)");
  auto single = j.find("single");
  auto specials = j.find("special_tokens");
  if (single == j.end() || !single->is_array()) fail(field + ".single", "expected an array");
  bool seenA = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const json &piece = (*single)[i];
    std::string at = field + ".single[" + std::to_string(i) + "]";
    if (piece.contains("Sequence")) {
      if (seenA) fail(at, "the sequence appears twice");
      seenA = true;
    } else if (piece.contains("SpecialToken")) {
      std::string name = piece["SpecialToken"].value("id", "");
      if (specials == j.end() || !specials->contains(name))
        fail(at, "special token '" + name + "' is not in " + field + ".special_tokens");
      // at(): a missing "ids" throws (reported as unexpected JSON) where const operator[] would not.
      const json &ids = specials->at(name).at("ids");
      if (!ids.is_array()) fail(field + ".special_tokens." + name + ".ids", "expected an array");
      for (const json &id : ids) (seenA ? impl.suffixIds : impl.prefixIds).push_back(id.get<int64_t>());
    } else {
      fail(at, "expected Sequence or SpecialToken");
    }
  }
}

void loadModel(const json &m, Impl &impl) {
  std::string type = typeOf(m, "model");
  if (type == "Unigram") return loadUnigramModel(m, impl);
  if (type != "BPE") fail("model.type", "'" + type + "' is not supported (supported: BPE, Unigram)");
  impl.byteFallback = boolField(m, "byte_fallback", false, "model");
  if (impl.byteFallback && !impl.sentencePiece)
    fail("model.byte_fallback", "true needs a SentencePiece-style tokenizer (pre_tokenizer null), found a ByteLevel one");
  impl.fuseUnk = boolField(m, "fuse_unk", false, "model");
  auto dropout = m.find("dropout");
  if (dropout != m.end() && !dropout->is_null() && dropout->get<double>() != 0.0)
    fail("model.dropout", "BPE dropout is for training; expected null");
  for (const char *k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = m.find(k);
    if (it != m.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      fail(std::string("model.") + k, "a non-empty affix is not supported");
  }
  impl.ignoreMerges = boolField(m, "ignore_merges", false, "model");

  auto vocab = m.find("vocab");
  if (vocab == m.end() || !vocab->is_object()) fail("model.vocab", "expected an object");
  std::string bytes;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer()) fail("model.vocab." + it.key(), "expected an integer id");
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > INT32_MAX) fail("model.vocab." + it.key(), "id " + std::to_string(id) + " out of range");
    if (impl.sentencePiece) bytes = it.key();
    else if (!byteLevelToBytes(it.key(), bytes))
      fail("model.vocab", "token '" + it.key() + "' is not in the byte-level alphabet");
    if (size_t(id) >= impl.idToBytes.size()) impl.idToBytes.resize(id + 1);
    impl.idToBytes[id] = bytes;
    impl.vocab.emplace(bytes, int32_t(id));
  }
  for (int b = 0; b < 256 && impl.sentencePiece; ++b) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = impl.vocab.find(name);
    if (impl.byteFallback && it == impl.vocab.end())
      fail("model.vocab", std::string("no token ") + name + " (byte_fallback needs all 256)");
    impl.byteToken[b] = impl.byteFallback ? it->second : -1;
  }
  if (impl.sentencePiece) {
    auto unk = m.find("unk_token");
    if (unk != m.end() && unk->is_string()) {
      auto it = impl.vocab.find(unk->get<std::string>());
      if (it == impl.vocab.end()) fail("model.unk_token", "'" + unk->get<std::string>() + "' is not in model.vocab");
      impl.unkId = it->second;
    } else if (!impl.byteFallback) {
      fail("model.unk_token", "missing: needed when byte_fallback is false");
    }
  }
  for (int b = 0; b < 256 && !impl.sentencePiece; ++b) {
    auto it = impl.vocab.find(std::string(1, char(b)));
    if (it == impl.vocab.end()) {
      char hex[8];
      snprintf(hex, sizeof hex, "0x%02X", b);
      fail("model.vocab", std::string("no token for byte ") + hex + " (byte-level BPE needs all 256)");
    }
    impl.byteToken[b] = it->second;
  }

  auto merges = m.find("merges");
  if (merges == m.end() || !merges->is_array()) fail("model.merges", "expected an array");
  std::string left, right;
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const json &e = (*merges)[rank];
    std::string at = "model.merges[" + std::to_string(rank) + "]";
    std::string a, b;
    if (e.is_string()) { // "a b"
      const std::string &s = e.get_ref<const std::string &>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) fail(at, "expected \"left right\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail(at, "expected \"left right\" or [left, right]");
    }
    if (impl.sentencePiece) left = a, right = b;
    else if (!byteLevelToBytes(a, left) || !byteLevelToBytes(b, right)) fail(at, "not in the byte-level alphabet");
    auto l = impl.vocab.find(left), r = impl.vocab.find(right), lr = impl.vocab.find(left + right);
    if (l == impl.vocab.end() || r == impl.vocab.end() || lr == impl.vocab.end())
      fail(at, "'" + a + " " + b + "' uses or makes a token that is not in model.vocab");
    uint64_t key = (uint64_t(uint32_t(l->second)) << 32) | uint32_t(r->second);
    // The first (lowest-rank) entry wins, as in HF, if a file lists a pair twice.
    impl.merges.emplace(key, (uint64_t(rank) << 32) | uint32_t(lr->second));
  }
}

void loadAddedTokens(const json &j, Impl &impl) {
  if (j.is_null()) return;
  if (!j.is_array()) fail("added_tokens", "expected an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const json &t = j[i];
    std::string at = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string())
      fail(at, "expected {\"id\": integer, \"content\": string, ...}");
    for (const char *k : {"single_word", "lstrip", "rstrip"})
      if (boolField(t, k, false, at)) fail(at + "." + k, "true is not supported");
    AddedToken tok{t["content"].get<std::string>(), t["id"].get<int64_t>(), boolField(t, "special", false, at)};
    if (tok.content.empty()) fail(at + ".content", "empty");
    if (tok.id < 0 || tok.id > INT32_MAX) fail(at + ".id", "out of range");
    impl.added.push_back(std::move(tok));
  }
}

void finish(Impl &impl) {
  size_t n = impl.idToBytes.size();
  for (const AddedToken &t : impl.added) n = std::max(n, size_t(t.id) + 1);
  impl.idToBytes.resize(n);
  if (!impl.idToBytesFirst.empty()) impl.idToBytesFirst.resize(n);
  impl.idIsSpecial.assign(n, 0);
  impl.idIsAdded.assign(n, 0);
  impl.addedByFirstByte.assign(256, {});
  for (size_t i = 0; i < impl.added.size(); ++i) {
    const AddedToken &t = impl.added[i];
    impl.idToBytes[t.id] = t.content; // decoded as written, not through the byte alphabet
    if (!impl.idToBytesFirst.empty()) impl.idToBytesFirst[t.id] = t.content;
    impl.idIsAdded[t.id] = 1;
    impl.idIsSpecial[t.id] = t.special;
    impl.addedByFirstByte[static_cast<unsigned char>(t.content[0])].push_back(int32_t(i));
  }
  // Longest first: the leftmost match is then also the longest one.
  for (auto &list : impl.addedByFirstByte)
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return impl.added[a].content.size() > impl.added[b].content.size();
    });
  for (int64_t id : impl.prefixIds)
    if (id < 0 || size_t(id) >= n) fail("post_processor", "special token id " + std::to_string(id) + " out of range");
  for (int64_t id : impl.suffixIds)
    if (id < 0 || size_t(id) >= n) fail("post_processor", "special token id " + std::to_string(id) + " out of range");
}

// The SentencePiece-style decoders. Llama 2's chain: Replace("▁" -> " "),
// ByteFallback, Fuse, Strip(" ", start, 0); T5/ALBERT: Metaspace. Decoding per
// token is then its text with the replacements done (a byte token: its byte),
// concatenated, then up to `start` leading spaces dropped; Metaspace turns its
// replacement into spaces except in the first token, where it drops them.
void loadSentencePieceDecoder(const json &dec, Impl &impl) {
  std::string topType = typeOf(dec, "decoder");
  json single = json::array({dec});
  const json *steps = &single;
  std::string prefix = "decoder";
  if (topType == "Sequence") {
    auto it = dec.find("decoders");
    if (it == dec.end() || !it->is_array()) fail("decoder.decoders", "expected an array");
    steps = &*it;
    prefix = "decoder.decoders";
  } else if (topType != "Metaspace") {
    fail("decoder.type", "'" + topType + "' is not supported for SentencePiece-style models (supported: Metaspace, or a Sequence of Replace, ByteFallback, Fuse, Strip, Metaspace)");
  }
  std::vector<std::pair<std::string, std::string>> replaces;
  bool byteFallback = false, metaspace = false;
  PreTokenizerStep meta{PreTokenizerStep::Metaspace, nullptr, false};
  for (size_t i = 0; i < steps->size(); ++i) {
    const json &d = (*steps)[i];
    std::string at = steps == &single ? prefix : prefix + "[" + std::to_string(i) + "]";
    std::string type = typeOf(d, at);
    if (type == "Replace" || type == "Metaspace") {
      if (byteFallback) fail(at, type + " after ByteFallback is not supported");
      if (metaspace) fail(at, type + " after Metaspace is not supported");
      if (type == "Replace") replaces.push_back(literalReplace(d, at));
      else meta = metaspaceStep(d, at), metaspace = true;
    } else if (type == "ByteFallback") byteFallback = true;
    else if (type == "Fuse") {
    } else if (type == "Strip") {
      if (d.value("content", "") != " " || d.value("stop", 0) != 0 || i + 1 != steps->size())
        fail(at, "only a last Strip of leading \" \" (stop 0) is supported");
      impl.stripLeadingSpaces = d.value("start", 0);
    } else {
      fail(at + ".type", "'" + type + "' is not supported (supported: Replace, ByteFallback, Fuse, Strip, Metaspace)");
    }
  }
  if (impl.byteFallback && !byteFallback) fail("decoder", "model.byte_fallback is true but there is no ByteFallback decoder");
  auto replaceAll = [](std::string &text, const std::string &from, const std::string &to) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size())
      out.append(text, pos, hit - pos).append(to);
    text = out.append(text, pos, std::string::npos);
  };
  for (std::string &text : impl.idToBytes)
    for (const auto &[from, to] : replaces) replaceAll(text, from, to);
  if (metaspace) {
    impl.idToBytesFirst = impl.idToBytes;
    for (std::string &text : impl.idToBytes) replaceAll(text, meta.replacement, " ");
    for (std::string &text : impl.idToBytesFirst)
      replaceAll(text, meta.replacement, meta.prepend == PreTokenizerStep::Never ? " " : "");
  }
  if (byteFallback)
    for (int b = 0; b < 256; ++b)
      if (impl.byteToken[b] >= 0) {
        impl.idToBytes[impl.byteToken[b]] = std::string(1, char(b));
        if (metaspace) impl.idToBytesFirst[impl.byteToken[b]] = std::string(1, char(b));
      }
}

std::shared_ptr<Impl> build(const json &root) {
  if (!root.is_object()) fail("(root)", "expected a JSON object");
  auto model = root.find("model");
  if (model == root.end()) fail("model", "missing (is this a tokenizer.json?)");
  auto impl = std::make_shared<Impl>();
  // No pre-tokenizer: SentencePiece-style BPE over the whole (normalized) text.
  auto pre = root.find("pre_tokenizer");
  bool noPre = pre == root.end() || pre->is_null();
  impl->unigram = typeOf(*model, "model") == "Unigram";
  impl->sentencePiece = noPre || impl->unigram;
  loadModel(*model, *impl);
  loadNormalizer(root.value("normalizer", json()), "normalizer", *impl);
  if (!noPre) loadPreTokenizer(*pre, "pre_tokenizer", *impl);
  auto has = [&](PreTokenizerStep::Kind k) {
    return std::any_of(impl->preTokenizer.begin(), impl->preTokenizer.end(),
                       [&](const PreTokenizerStep &s) { return s.kind == k; });
  };
  if (impl->unigram && has(PreTokenizerStep::ByteLevel))
    fail("pre_tokenizer", "ByteLevel with model.type Unigram is not supported");
  if (!impl->unigram && (has(PreTokenizerStep::Metaspace) || has(PreTokenizerStep::WhitespaceSplit)))
    fail("pre_tokenizer", "Metaspace and WhitespaceSplit are supported with model.type Unigram only");
  if (!impl->sentencePiece && !has(PreTokenizerStep::ByteLevel))
    fail("pre_tokenizer", "no ByteLevel step (supported: byte-level BPE, or no pre-tokenizer for SentencePiece-style BPE)");
  loadPostProcessor(root.value("post_processor", json()), "post_processor", *impl);
  auto dec = root.find("decoder");
  if (dec == root.end() || dec->is_null()) fail("decoder", "missing");
  if (impl->sentencePiece) loadSentencePieceDecoder(*dec, *impl);
  else if (std::string t = typeOf(*dec, "decoder"); t != "ByteLevel")
    fail("decoder.type", "'" + t + "' is not supported for byte-level BPE (supported: ByteLevel)");
  loadAddedTokens(root.value("added_tokens", json()), *impl);
  finish(*impl);
  return impl;
}

} // namespace
} // namespace tokenizer_detail

Result<Tokenizer> Tokenizer::fromJson(std::string_view text, const std::string &origin) {
  using namespace tokenizer_detail;
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error &e) {
    return Status::error("tokenizer '" + origin + "': not valid JSON (truncated?) at byte " +
                         std::to_string(e.byte) + " of " + std::to_string(text.size()));
  } catch (const nlohmann::json::exception &e) {
    // Not a syntax error but still the parser's: e.g. a number too large for any JSON number type.
    return Status::error("tokenizer '" + origin + "': not valid JSON: " + e.what());
  }
  try {
    return Tokenizer(build(root));
  } catch (const LoadError &e) {
    return Status::error("tokenizer '" + origin + "': " + e.message);
  } catch (const nlohmann::json::exception &e) {
    // A field of the wrong JSON type somewhere the checks above do not name.
    return Status::error("tokenizer '" + origin + "': unexpected JSON: " + e.what());
  }
}

Result<Tokenizer> Tokenizer::load(const std::string &path) {
  size_t size = 0;
  std::string error;
  int fd = openRegularFile(path, size, error);
  if (fd < 0) return Status::error("tokenizer '" + path + "': " + error);
  std::string text(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t r = ::read(fd, text.data() + got, size - got);
    if (r <= 0) {
      ::close(fd);
      return Status::error("tokenizer '" + path + "': read failed after " + std::to_string(got) + " bytes");
    }
    got += size_t(r);
  }
  ::close(fd);
  if (path.size() >= 6 && path.compare(path.size() - 6, 6, ".model") == 0) return fromSentencePiece(text, path);
  return fromJson(text, path);
}

Result<Tokenizer> Tokenizer::fromAssets(const ModelAssets &a) {
  const std::string origin = a.origin + (a.origin.empty() ? "" : ": ") + a.tokenizerFile;
  if (a.tokenizerFile == "tokenizer.json") return fromJson(a.tokenizerData, origin);
  if (a.tokenizerFile == "tokenizer.model") return fromSentencePiece(a.tokenizerData, origin, a.addBosToken, a.addEosToken);
  return Status::error(a.origin + ": has no tokenizer");
}

} // namespace bmc
