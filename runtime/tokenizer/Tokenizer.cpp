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

Status normalize(const NormalizerStep &step, std::string &s) {
  if (step.kind == NormalizerStep::Prepend) {
    if (!s.empty()) s.insert(0, step.text); // HF prepends to non-empty text only
    return Status();
  }
  if (step.kind == NormalizerStep::Replace) {
    std::string out;
    size_t from = 0;
    for (size_t at; (at = s.find(step.text, from)) != std::string::npos; from = at + step.text.size())
      out.append(s, from, at - from).append(step.content);
    out.append(s, from, std::string::npos);
    s = std::move(out);
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

Status encodeSegment(const Impl &impl, std::string_view segment, Matcher &m, std::vector<int64_t> &out) {
  if (impl.spModel) return encodeSentencePiece(impl, segment, out);
  std::string text(segment);
  for (const NormalizerStep &n : impl.normalizers)
    if (Status s = normalize(n, text); !s.ok()) return s;
  std::vector<std::string> pieces{std::move(text)}, next;
  for (const PreTokenizerStep &step : impl.preTokenizer) {
    next.clear();
    for (std::string &p : pieces) {
      if (step.kind == PreTokenizerStep::ByteLevel && step.addPrefixSpace && (p.empty() || p[0] != ' '))
        p.insert(p.begin(), ' ');
      if (!step.regex) { next.push_back(std::move(p)); continue; }
      if (Status s = splitIsolated(*step.regex, p, m, next); !s.ok()) return s;
    }
    pieces.swap(next);
  }
  for (const std::string &p : pieces)
    if (!p.empty()) bpe(impl, p, out);
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
      if (Status s = encodeSegment(impl, text.substr(start, i - start), m, out); !s.ok()) return s;
    out.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  if (start < text.size())
    if (Status s = encodeSegment(impl, text.substr(start), m, out); !s.ok()) return s;
  if (addSpecial) out.insert(out.end(), impl.suffixIds.begin(), impl.suffixIds.end());
  return out;
}

Result<std::string> Tokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecial) const {
  const Impl &impl = *impl_;
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= int64_t(impl.idToBytes.size()))
      return Status::error("tokenizer: decode: id " + std::to_string(id) + " at position " + std::to_string(i) +
                           " is outside [0, " + std::to_string(impl.idToBytes.size()) + ")");
    if (skipSpecial && impl.idIsSpecial[id]) continue;
    bytes += impl.idToBytes[id];
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
  pending_ += impl_->idToBytes[id];
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
