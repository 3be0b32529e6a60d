//===- Tokenizer.cpp - encode and decode with byte-level BPE ---------------===//
//
// Encoding follows Hugging Face tokenizers' order: added tokens are cut out of
// the raw text first; each remaining segment is normalized, pre-tokenized
// (regex splits, then the byte-level view) and each piece merged by BPE rank;
// the post-processor's template adds special tokens around the result.
//
//===----------------------------------------------------------------------===//
#include "bmc/tokenizer.h"
#include "runtime/tokenizer/Impl.h"
#include "runtime/tokenizer/Utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <climits>

namespace bmc {
using namespace tokenizer_detail;

namespace {

// Per-call PCRE2 state: match data and a JIT stack large enough for the
// backtracking of `\s+(?!\S)` over long whitespace runs (the 32 KiB default is not).
struct Matcher {
  pcre2_match_context *ctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack *stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_data *md = pcre2_match_data_create(4, nullptr);
  Matcher() { pcre2_jit_stack_assign(ctx, nullptr, stack); }
  ~Matcher() {
    pcre2_match_data_free(md);
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
  }
};

// Isolated split: every match is a piece, and so is every gap between matches.
Status splitIsolated(const Regex &re, const std::string &s, Matcher &m, std::vector<std::string> &out) {
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t off = 0, last = 0, n = s.size();
  while (off < n) {
    // The text was validated once in encode(): skip PCRE2's per-call UTF check.
    int rc = pcre2_match(re.code, subject, n, off, PCRE2_NO_UTF_CHECK, m.md, m.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof buf);
      return Status::error(std::string("tokenizer: pre-tokenizer regex failed: ") + reinterpret_cast<char *>(buf));
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m.md);
    size_t b = ov[0], e = ov[1];
    if (e == b) { // empty match: step over one character
      size_t len = 1;
      utf8::scanAt(s, b, len);
      off = b + len;
      continue;
    }
    if (b > last) out.emplace_back(s, last, b - last);
    out.emplace_back(s, b, e - b);
    last = off = e;
  }
  if (last < n) out.emplace_back(s, last, n - last);
  return Status();
}

// The code point at s[i] (valid UTF-8) and its length.
uint32_t codePointAt(std::string_view s, size_t i, size_t &len) {
  utf8::scanAt(s, i, len);
  auto b = [&](size_t k) { return uint32_t(static_cast<unsigned char>(s[i + k])); };
  if (len == 1) return b(0);
  if (len == 2) return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
  if (len == 3) return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
  return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
}

// Rust's char::is_whitespace: the Unicode White_Space property.
bool whiteAt(std::string_view s, size_t i, size_t &len) { return u_isUWhiteSpace(UChar32(codePointAt(s, i, len))); }

// Every match of `re` in `s` replaced by `content` (the pattern never matches empty).
Status replaceRegex(const Regex &re, const std::string &content, std::string &s, Matcher &m) {
  std::string out;
  size_t from = 0;
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  while (from <= s.size()) {
    int rc = pcre2_match(re.code, subject, s.size(), from, PCRE2_NO_UTF_CHECK, m.md, m.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) return Status::error("tokenizer: Replace normalizer regex failed (PCRE2 error " + std::to_string(rc) + ")");
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m.md);
    out.append(s, from, ov[0] - from).append(content);
    from = ov[1];
  }
  out.append(s, std::min(from, s.size()), std::string::npos);
  s = std::move(out);
  return Status();
}

Status normalize(const NormalizerStep &step, std::string &s, Matcher &m) {
  if (step.kind == NormalizerStep::Prepend) {
    if (!s.empty()) s.insert(0, step.text); // HF prepends to non-empty text only
    return Status();
  }
  if (step.kind == NormalizerStep::Replace && step.regex) return replaceRegex(*step.regex, step.content, s, m);
  if (step.kind == NormalizerStep::Replace) {
    std::string out;
    size_t from = 0;
    for (size_t at; (at = s.find(step.text, from)) != std::string::npos; from = at + step.text.size())
      out.append(s, from, at - from).append(step.content);
    out.append(s, from, std::string::npos);
    s = std::move(out);
    return Status();
  }
  if (step.kind == NormalizerStep::Precompiled) return normalizePrecompiled(*step.charsmap, s);
  if (step.kind == NormalizerStep::Strip) {
    size_t b = 0, e = s.size(), len = 1;
    while (step.stripLeft && b < e && whiteAt(s, b, len)) b += len;
    if (step.stripRight) { // up to the end of the last non-white character
      e = b;
      for (size_t i = b; i < s.size(); i += len)
        if (!whiteAt(s, i, len)) e = i + len;
    }
    s = s.substr(b, e - b);
    return Status();
  }
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2 *norm = nullptr;
  switch (step.kind) {
  case NormalizerStep::NFC: norm = icu::Normalizer2::getNFCInstance(err); break;
  case NormalizerStep::NFD: norm = icu::Normalizer2::getNFDInstance(err); break;
  case NormalizerStep::NFKC: norm = icu::Normalizer2::getNFKCInstance(err); break;
  case NormalizerStep::NFKD: norm = icu::Normalizer2::getNFKDInstance(err); break;
  default: break;
  }
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  if (U_SUCCESS(err)) norm->normalizeUTF8(0, icu::StringPiece(s.data(), int32_t(s.size())), sink, nullptr, err);
  if (U_FAILURE(err)) return Status::error(std::string("tokenizer: normalizer failed: ") + u_errorName(err));
  s = std::move(out);
  return Status();
}

// BPE over the bytes of one piece: repeatedly merge the adjacent pair of
// lowest rank (leftmost on ties), as HF's word merge does.
void bpe(const Impl &impl, const std::string &piece, std::vector<int64_t> &out) {
  if (impl.ignoreMerges) {
    auto it = impl.vocab.find(piece);
    if (it != impl.vocab.end()) { out.push_back(it->second); return; }
  }
  std::vector<int32_t> sym;
  if (!impl.sentencePiece) {
    sym.resize(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) sym[i] = impl.byteToken[static_cast<unsigned char>(piece[i])];
  } else {
    // One symbol per character; a character without a token becomes its
    // <0xXX> byte tokens (byte_fallback) or the unknown token.
    bool lastUnk = false;
    for (size_t i = 0, len = 1; i < piece.size(); i += len) {
      utf8::scanAt(piece, i, len); // the text was validated: always a whole character
      auto it = impl.vocab.find(piece.substr(i, len));
      if (it != impl.vocab.end()) {
        sym.push_back(it->second);
        lastUnk = false;
        continue;
      }
      bool bytesKnown = impl.byteFallback;
      for (size_t k = 0; k < len && bytesKnown; ++k) bytesKnown = impl.byteToken[(unsigned char)piece[i + k]] >= 0;
      if (bytesKnown) {
        for (size_t k = 0; k < len; ++k) sym.push_back(impl.byteToken[(unsigned char)piece[i + k]]);
        lastUnk = false;
      } else {
        if (!(impl.fuseUnk && lastUnk)) sym.push_back(int32_t(impl.unkId));
        lastUnk = true;
      }
    }
  }
  constexpr uint64_t kNone = UINT64_MAX;
  auto pairAt = [&](size_t k) {
    auto it = impl.merges.find((uint64_t(uint32_t(sym[k])) << 32) | uint32_t(sym[k + 1]));
    return it == impl.merges.end() ? kNone : it->second; // rank << 32 | merged id
  };
  // pair[k] describes (sym[k], sym[k+1]); updated only around each merge.
  std::vector<uint64_t> pair(sym.size() > 1 ? sym.size() - 1 : 0);
  for (size_t k = 0; k < pair.size(); ++k) pair[k] = pairAt(k);
  while (!pair.empty()) {
    size_t best = 0;
    for (size_t k = 1; k < pair.size(); ++k)
      if ((pair[k] >> 32) < (pair[best] >> 32)) best = k;
    if (pair[best] == kNone) break;
    sym[best] = int32_t(uint32_t(pair[best]));
    sym.erase(sym.begin() + best + 1);
    pair.erase(pair.begin() + best);
    if (best < pair.size()) pair[best] = pairAt(best);
    if (best > 0) pair[best - 1] = pairAt(best - 1);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

// A pre-tokenized piece; atInputStart: it begins at byte 0 of the whole input
// (Metaspace's prepend_scheme "first" prepends only there, as HF's original offset 0).
struct Piece {
  std::string text;
  bool atInputStart;
};

// Metaspace: spaces -> replacement, the prepend scheme, then (split) a cut
// before every replacement, each one opening the piece that follows it.
void metaspace(const PreTokenizerStep &step, Piece &p, std::vector<Piece> &out) {
  if (p.text.empty()) return; // HF prepends nothing to an empty piece and drops it
  std::string t;
  for (char c : p.text)
    if (c == ' ') t += step.replacement;
    else t += c;
  bool starts = t.compare(0, step.replacement.size(), step.replacement) == 0;
  if (!starts && (step.prepend == PreTokenizerStep::Always || (step.prepend == PreTokenizerStep::First && p.atInputStart)))
    t.insert(0, step.replacement);
  if (!step.split) { out.push_back({std::move(t), p.atInputStart}); return; }
  size_t from = 0;
  for (size_t at = t.find(step.replacement, 1); at != std::string::npos; at = t.find(step.replacement, at + 1)) {
    out.push_back({t.substr(from, at - from), p.atInputStart && from == 0});
    from = at;
  }
  if (from < t.size()) out.push_back({t.substr(from), p.atInputStart && from == 0});
}

// WhitespaceSplit: the runs of non-White_Space characters.
void whitespaceSplit(const Piece &p, std::vector<Piece> &out) {
  size_t begin = std::string::npos, len = 1;
  for (size_t i = 0; i <= p.text.size(); i += len) {
    bool white = i == p.text.size() || whiteAt(p.text, i, len);
    if (!white && begin == std::string::npos) begin = i;
    if (white && begin != std::string::npos) {
      out.push_back({p.text.substr(begin, i - begin), p.atInputStart && begin == 0});
      begin = std::string::npos;
    }
    if (i == p.text.size()) break;
  }
}

Status encodeSegment(const Impl &impl, std::string_view segment, bool atInputStart, Matcher &m,
                     std::vector<int64_t> &out) {
  if (impl.spModel) return encodeSentencePiece(impl, segment, out);
  std::string text(segment);
  for (const NormalizerStep &n : impl.normalizers)
    if (Status s = normalize(n, text, m); !s.ok()) return s;
  std::vector<Piece> pieces{{std::move(text), atInputStart}}, next;
  for (const PreTokenizerStep &step : impl.preTokenizer) {
    next.clear();
    for (Piece &p : pieces) {
      if (step.kind == PreTokenizerStep::Metaspace) { metaspace(step, p, next); continue; }
      if (step.kind == PreTokenizerStep::WhitespaceSplit) { whitespaceSplit(p, next); continue; }
      if (step.kind == PreTokenizerStep::ByteLevel && step.addPrefixSpace && (p.text.empty() || p.text[0] != ' '))
        p.text.insert(p.text.begin(), ' ');
      if (!step.regex) { next.push_back(std::move(p)); continue; }
      std::vector<std::string> parts;
      if (Status s = splitIsolated(*step.regex, p.text, m, parts); !s.ok()) return s;
      for (size_t k = 0; k < parts.size(); ++k) next.push_back({std::move(parts[k]), p.atInputStart && k == 0});
    }
    pieces.swap(next);
  }
  for (const Piece &p : pieces) {
    if (p.text.empty()) continue;
    if (!impl.unigram) bpe(impl, p.text, out);
    else if (Status s = encodeUnigram(impl, p.text, out); !s.ok()) return s;
  }
  return Status();
}

} // namespace

Result<std::vector<int64_t>> Tokenizer::encode(std::string_view text, bool addSpecial) const {
  const Impl &impl = *impl_;
  if (size_t bad = utf8::firstInvalid(text); bad != std::string_view::npos)
    return Status::error("tokenizer: input is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<int64_t> out;
  if (addSpecial) out = impl.prefixIds;
  Matcher m;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const AddedToken *hit = nullptr;
    for (int32_t k : impl.addedByFirstByte[static_cast<unsigned char>(text[i])]) {
      const std::string &c = impl.added[k].content;
      if (text.compare(i, c.size(), c) == 0) { hit = &impl.added[k]; break; }
    }
    if (!hit) { ++i; continue; }
    if (i > start)
      if (Status s = encodeSegment(impl, text.substr(start, i - start), start == 0, m, out); !s.ok()) return s;
    out.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  if (start < text.size())
    if (Status s = encodeSegment(impl, text.substr(start), start == 0, m, out); !s.ok()) return s;
  if (addSpecial) out.insert(out.end(), impl.suffixIds.begin(), impl.suffixIds.end());
  return out;
}

Result<std::string> Tokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecial) const {
  const Impl &impl = *impl_;
  std::string bytes;
  bool any = false; // a token was decoded (the Metaspace decoder treats the first one apart)
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= int64_t(impl.idToBytes.size()))
      return Status::error("tokenizer: decode: id " + std::to_string(id) + " at position " + std::to_string(i) +
                           " is outside [0, " + std::to_string(impl.idToBytes.size()) + ")");
    if (skipSpecial && impl.idIsSpecial[id]) continue;
    bool first = !impl.idToBytesFirst.empty() && !any;
    bytes += first ? impl.idToBytesFirst[id] : impl.idToBytes[id];
    any = true;
  }
  std::string text;
  utf8::appendLossy(bytes, true, text);
  size_t strip = 0;
  while (strip < impl.stripLeadingSpaces && strip < text.size() && text[strip] == ' ') ++strip;
  return text.substr(strip);
}

int64_t Tokenizer::vocabSize() const { return int64_t(impl_->idToBytes.size()); }

std::optional<int64_t> Tokenizer::tokenId(std::string_view token) const {
  for (const AddedToken &t : impl_->added)
    if (t.content == token) return t.id;
  // Model tokens are keyed by raw bytes; the caller spells them as text.
  auto it = impl_->vocab.find(std::string(token));
  if (it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

bool Tokenizer::isSpecial(int64_t id) const {
  return id >= 0 && id < vocabSize() && impl_->idIsSpecial[id];
}

Tokenizer::StreamDecoder::StreamDecoder(const Tokenizer &tokenizer, bool skipSpecial)
    : impl_(tokenizer.impl_), skipSpecial_(skipSpecial), toStrip_(impl_->stripLeadingSpaces) {}

// The Strip decoder acts on the start of the whole text: drop leading spaces
// until `toStrip_` are gone or the first other character has been emitted.
std::string Tokenizer::StreamDecoder::strip(std::string text) {
  size_t n = 0;
  while (toStrip_ > 0 && n < text.size() && text[n] == ' ') ++n, --toStrip_;
  if (n < text.size()) toStrip_ = 0;
  return text.substr(n);
}

Result<std::string> Tokenizer::StreamDecoder::push(int64_t id) {
  if (id < 0 || id >= int64_t(impl_->idToBytes.size()))
    return Status::error("tokenizer: stream decode: id " + std::to_string(id) + " is outside [0, " +
                         std::to_string(impl_->idToBytes.size()) + ")");
  std::string text;
  if (skipSpecial_ && impl_->idIsSpecial[id]) return text;
  pending_ += first_ && !impl_->idToBytesFirst.empty() ? impl_->idToBytesFirst[id] : impl_->idToBytes[id];
  first_ = false;
  size_t used = utf8::appendLossy(pending_, false, text);
  pending_.erase(0, used);
  return strip(std::move(text));
}

std::string Tokenizer::StreamDecoder::finish() {
  std::string text;
  utf8::appendLossy(pending_, true, text);
  pending_.clear();
  return strip(std::move(text));
}

} // namespace bmc
