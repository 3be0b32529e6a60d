//===- UnigramLoad.cpp - tokenizer.json's Unigram model and charsmap -------===//
#include "runtime/tokenizer/LoadJson.h"
#include "runtime/tokenizer/Utf8.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bmc::tokenizer_detail {
namespace {

// Standard base64 (padding optional, no whitespace), as HF writes the charsmap.
bool base64Decode(const std::string &in, std::string &out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t n = in.size();
  while (n > 0 && in[n - 1] == '=') --n;
  if (in.size() - n > 2 || n % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = val(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return true;
}

} // namespace

// Unigram: vocab as [piece, score] pairs (id = position), unk_id, byte_fallback.
void loadUnigramModel(const json &m, Impl &impl) {
  impl.byteFallback = boolField(m, "byte_fallback", false, "model");
  auto vocab = m.find("vocab");
  if (vocab == m.end() || !vocab->is_array() || vocab->empty()) fail("model.vocab", "expected a non-empty array of [piece, score]");
  if (vocab->size() > size_t(INT32_MAX)) fail("model.vocab", "too many pieces");
  impl.idToBytes.resize(vocab->size());
  impl.unigramScores.resize(vocab->size());
  double minScore = INFINITY;
  for (size_t id = 0; id < vocab->size(); ++id) {
    const json &e = (*vocab)[id];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
      fail("model.vocab[" + std::to_string(id) + "]", "expected [piece, score]");
    impl.idToBytes[id] = e[0].get<std::string>();
    if (utf8::firstInvalid(impl.idToBytes[id]) != std::string::npos)
      fail("model.vocab[" + std::to_string(id) + "]", "piece is not valid UTF-8");
    impl.unigramScores[id] = e[1].get<double>();
    minScore = std::min(minScore, impl.unigramScores[id]);
    impl.vocab.insert_or_assign(impl.idToBytes[id], int32_t(id)); // a repeated piece: the last id, as HF
  }
  impl.unkScore = minScore - 10.0;
  auto unk = m.find("unk_id");
  if (unk != m.end() && !unk->is_null()) {
    if (!unk->is_number_integer() || unk->get<int64_t>() < 0 || unk->get<int64_t>() >= int64_t(vocab->size()))
      fail("model.unk_id", "expected an id in [0, " + std::to_string(vocab->size()) + ")");
    impl.unkId = unk->get<int64_t>();
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = impl.vocab.find(name);
    impl.byteToken[b] = impl.byteFallback && it != impl.vocab.end() ? it->second : -1;
  }
  UnigramTrie &trie = impl.unigramTrie;
  trie.tokenAt.assign(1, -1);
  for (const auto &[piece, id] : impl.vocab) {
    uint64_t node = 0;
    for (unsigned char c : piece) {
      auto [it, added] = trie.child.emplace(node << 8 | c, int32_t(trie.tokenAt.size()));
      if (added) trie.tokenAt.push_back(-1);
      node = uint64_t(it->second);
    }
    trie.tokenAt[node] = id;
  }
}

std::shared_ptr<const Precompiled> loadPrecompiled(const json &j, const std::string &field) {
  auto m = j.find("precompiled_charsmap");
  if (m == j.end() || !m->is_string()) fail(field + ".precompiled_charsmap", "expected a base64 string");
  std::string blob;
  if (!base64Decode(m->get<std::string>(), blob)) fail(field + ".precompiled_charsmap", "not valid base64");
  auto map = std::make_shared<Precompiled>();
  if (std::string why = parsePrecompiled(blob, *map); !why.empty()) fail(field + ".precompiled_charsmap", why);
  return map;
}

} // namespace bmc::tokenizer_detail
