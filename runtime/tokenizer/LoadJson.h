//===- LoadJson.h - tokenizer.json loading helpers ---------------*- C++ -*-===//
//
// Shared by the loader's files (TokenizerLoad.cpp, UnigramLoad.cpp): a field
// that is wrong becomes a LoadError naming it, which load() turns into a Status.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_TOKENIZER_LOADJSON_H
#define BMC_RUNTIME_TOKENIZER_LOADJSON_H

#include "runtime/tokenizer/Impl.h"

#include <nlohmann/json.hpp>

#include <string>

namespace bmc::tokenizer_detail {

using json = nlohmann::json;

// Thrown inside the loader only; load() turns it into a Status.
struct LoadError {
  std::string message;
};

[[noreturn]] inline void fail(const std::string &field, const std::string &what) {
  throw LoadError{field + ": " + what};
}

inline std::string typeOf(const json &j, const std::string &field) {
  if (!j.is_object()) fail(field, "expected an object");
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) fail(field + ".type", "missing or not a string");
  return t->get<std::string>();
}

inline bool boolField(const json &j, const char *key, bool dflt, const std::string &field) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) fail(field + "." + key, "expected true or false");
  return it->get<bool>();
}

// model.type Unigram: vocab, unk_id, byte_fallback and the vocabulary trie (UnigramLoad.cpp).
void loadUnigramModel(const json &m, Impl &impl);
// A Precompiled normalizer's charsmap, decoded and checked (UnigramLoad.cpp).
std::shared_ptr<const Precompiled> loadPrecompiled(const json &j, const std::string &field);

} // namespace bmc::tokenizer_detail

#endif
