//===- Unigram.cpp - Viterbi segmentation and SentencePiece charsmaps ------===//
//
// The Unigram model as Hugging Face tokenizers runs it (models/unigram/model.rs,
// encode_optimized): a best path over byte positions where each vocabulary
// token matching at a character boundary adds its score; a character with no
// single-character token may be covered by the unknown token at (lowest score
// - 10). Ties keep the path found first, i.e. the longest last token. Runs of
// unknown nodes are fused into one piece, which then becomes its <0xXX> byte
// tokens (byte_fallback) or the unknown id.
//
// The Precompiled normalizer reads SentencePiece's precompiled_charsmap (a
// darts-clone double array plus replacement strings) and applies it per
// grapheme cluster as HF does (normalizers/precompiled.rs with spm_precompiled).
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/Impl.h"
#include "runtime/tokenizer/Utf8.h"

#include <unicode/brkiter.h>
#include <unicode/utext.h>

#include <cstring>

namespace bmc::tokenizer_detail {

Status encodeUnigram(const Impl &impl, std::string_view s, std::vector<int64_t> &out) {
  struct Best {
    double score = 0;
    int32_t id = -1;
    int64_t start = -1; // -1: no path ends here yet
  };
  const size_t n = s.size();
  std::vector<Best> best(n + 1);
  for (size_t start = 0, mblen = 1; start < n; start += mblen) {
    utf8::scanAt(s, start, mblen); // the text was validated: always a whole character
    const double base = best[start].score;
    bool single = false;
    auto offer = [&](size_t end, int32_t id, double score) {
      Best &b = best[end];
      if (b.start < 0 || score + base > b.score) b = {score + base, id, int64_t(start)};
    };
    uint64_t node = 0;
    for (size_t k = start; k < n; ++k) {
      auto it = impl.unigramTrie.child.find(node << 8 | static_cast<unsigned char>(s[k]));
      if (it == impl.unigramTrie.child.end()) break;
      node = uint64_t(it->second);
      int32_t id = impl.unigramTrie.tokenAt[node];
      if (id < 0) continue;
      offer(k + 1, id, impl.unigramScores[id]);
      single = single || k + 1 - start == mblen;
    }
    if (!single) {
      if (impl.unkId < 0)
        return Status::error("tokenizer: Unigram: character at byte " + std::to_string(start) +
                             " of a piece has no token and model.unk_id is null");
      offer(start + mblen, int32_t(impl.unkId), impl.unkScore);
    }
  }
  // Back from the end; consecutive unknown nodes become one piece.
  std::vector<std::pair<size_t, size_t>> pieces; // [begin, end) in reverse order
  std::vector<uint8_t> pieceIsUnk;
  for (size_t end = n; end > 0;) {
    const Best &b = best[end];
    bool unk = b.id == impl.unkId;
    if (unk && !pieceIsUnk.empty() && pieceIsUnk.back()) pieces.back().first = size_t(b.start);
    else pieces.push_back({size_t(b.start), end}), pieceIsUnk.push_back(unk);
    end = size_t(b.start);
  }
  for (size_t i = pieces.size(); i-- > 0;) {
    std::string text(s.substr(pieces[i].first, pieces[i].second - pieces[i].first));
    auto it = impl.vocab.find(text); // a fused piece may still spell a token
    if (it != impl.vocab.end()) { out.push_back(it->second); continue; }
    bool bytesKnown = impl.byteFallback;
    for (size_t k = 0; k < text.size() && bytesKnown; ++k) bytesKnown = impl.byteToken[(unsigned char)text[k]] >= 0;
    if (bytesKnown) {
      for (unsigned char c : text) out.push_back(impl.byteToken[c]);
    } else {
      out.push_back(impl.unkId);
    }
  }
  return Status();
}

namespace {

// darts-clone's unit layout.
bool hasLeaf(uint32_t u) { return (u >> 8) & 1; }
uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

// The value of the shortest key that is a prefix of `key` (spm_precompiled
// takes the first common-prefix result), or -1. -2: the trie points outside itself.
int64_t firstPrefixValue(const std::vector<uint32_t> &t, std::string_view key) {
  if (t.empty()) return -1;
  size_t pos = offset(t[0]);
  for (unsigned char c : key) {
    if (c == 0) return -1;
    pos ^= c;
    if (pos >= t.size()) return -1;
    uint32_t u = t[pos];
    if (label(u) != c) return -1;
    pos ^= offset(u);
    if (hasLeaf(u)) return pos < t.size() ? int64_t(value(t[pos])) : -2;
  }
  return -1;
}

// The replacement for `chunk`, or false when the charsmap has none.
bool transform(const Precompiled &m, std::string_view chunk, std::string_view &out, Status &error) {
  int64_t v = firstPrefixValue(m.trie, chunk);
  if (v == -1) return false;
  // Out of range or in the middle of a character: the charsmap is corrupt.
  if (v < 0 || size_t(v) >= m.normalized.size() || (m.normalized[v] & 0xC0) == 0x80) {
    error = Status::error("tokenizer: normalizer Precompiled: precompiled_charsmap entry for '" + std::string(chunk) +
                          "' points outside its strings");
    return false;
  }
  const char *p = m.normalized.data() + v;
  out = std::string_view(p, strnlen(p, m.normalized.size() - size_t(v)));
  return true;
}

} // namespace

std::string parsePrecompiled(const std::string &blob, Precompiled &map) {
  if (blob.size() < 4) return "shorter than its 4-byte header";
  uint32_t trieBytes = uint32_t(uint8_t(blob[0])) | uint32_t(uint8_t(blob[1])) << 8 |
                       uint32_t(uint8_t(blob[2])) << 16 | uint32_t(uint8_t(blob[3])) << 24;
  if (trieBytes % 4 != 0 || trieBytes > blob.size() - 4)
    return "trie size " + std::to_string(trieBytes) + " does not fit its " + std::to_string(blob.size()) + " bytes";
  map.trie.resize(trieBytes / 4);
  for (size_t i = 0; i < map.trie.size(); ++i) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(blob.data()) + 4 + 4 * i;
    map.trie[i] = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }
  map.normalized = blob.substr(4 + trieBytes);
  if (size_t bad = utf8::firstInvalid(map.normalized); bad != std::string::npos)
    return "replacement strings are not valid UTF-8 at byte " + std::to_string(bad);
  return "";
}

Status normalizePrecompiled(const Precompiled &map, std::string &text) {
  UErrorCode err = U_ZERO_ERROR;
  // A BreakIterator is costly to make and not thread-safe: one per thread.
  thread_local std::unique_ptr<icu::BreakIterator> graphemes(
      icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), err));
  if (!graphemes || U_FAILURE(err)) return Status::error("tokenizer: normalizer Precompiled: ICU has no grapheme iterator");
  UText *ut = utext_openUTF8(nullptr, text.data(), int64_t(text.size()), &err);
  graphemes->setText(ut, err);
  if (U_FAILURE(err)) {
    utext_close(ut);
    return Status::error(std::string("tokenizer: normalizer Precompiled: ") + u_errorName(err));
  }
  std::string out;
  out.reserve(text.size());
  Status error;
  std::string_view all(text), norm;
  for (int32_t b = graphemes->first(), e = graphemes->next(); e != icu::BreakIterator::DONE; b = e, e = graphemes->next()) {
    std::string_view g = all.substr(size_t(b), size_t(e - b)); // UTF-8 UText: native indices are byte offsets
    if (g.size() < 6 && transform(map, g, norm, error)) {
      out.append(norm);
      continue;
    }
    for (size_t i = 0, len = 1; i < g.size(); i += len) {
      utf8::scanAt(g, i, len);
      if (transform(map, g.substr(i, len), norm, error)) out.append(norm);
      else out.append(g.substr(i, len));
    }
    if (!error.ok()) break;
  }
  utext_close(ut);
  if (!error.ok()) return error;
  text = std::move(out);
  return Status();
}

} // namespace bmc::tokenizer_detail
