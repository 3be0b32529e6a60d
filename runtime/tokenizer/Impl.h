//===- Impl.h - the loaded tokenizer's tables ---------------------*- C++ -*-===//
//
// Filled once by TokenizerLoad.cpp, read-only afterwards (hence shareable
// between threads). Model tokens are stored as raw bytes, not as the
// byte-level alphabet tokenizer.json spells them in: BPE then runs on bytes.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_TOKENIZER_IMPL_H
#define BMC_RUNTIME_TOKENIZER_IMPL_H

#include "bmc/status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pcre2_real_code_8;
namespace sentencepiece {
class SentencePieceProcessor;
}

namespace bmc::tokenizer_detail {

// A compiled PCRE2 pattern (UTF + UCP, JIT when available), freed on destruction.
struct Regex {
  pcre2_real_code_8 *code = nullptr;
  Regex() = default;
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;
  ~Regex();
};

// One pre-tokenization step; a Sequence is flattened into a list of these.
struct PreTokenizerStep {
  enum Kind { SplitIsolated, ByteLevel } kind;
  std::shared_ptr<Regex> regex; // SplitIsolated, and ByteLevel with use_regex
  bool addPrefixSpace = false;  // ByteLevel
};

struct NormalizerStep {
  enum Kind { NFC, NFD, NFKC, NFKD, Prepend, Replace } kind;
  std::string text;    // Prepend: what to put in front; Replace: the literal to find
  std::string content; // Replace: what to put instead
};

struct AddedToken {
  std::string content;
  int64_t id;
  bool special;
};

struct Impl {
  // Model. Byte-level BPE (GPT-2 style) keys tokens by raw bytes and starts
  // from one symbol per byte; SentencePiece-style BPE (Llama 2 style) keys
  // them by their text and starts from one symbol per character, falling back
  // to <0xXX> byte tokens for characters not in the vocabulary.
  bool sentencePiece = false;
  std::unordered_map<std::string, int32_t> vocab; // raw bytes (byte-level) or text -> id
  int32_t byteToken[256];                         // single-byte / <0xXX> tokens; -1 if none
  bool byteFallback = false;
  int64_t unkId = -1;   // SentencePiece-style: for characters with no token and no fallback
  bool fuseUnk = false; // consecutive unknown characters become one unk token
  // (left id << 32 | right id) -> (rank << 32 | merged id)
  std::unordered_map<uint64_t, uint64_t> merges;
  bool ignoreMerges = false;

  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> preTokenizer;

  // Added tokens, matched in the raw text before anything else.
  std::vector<AddedToken> added;
  std::vector<std::vector<int32_t>> addedByFirstByte; // indices into `added`, longest first

  // Post-processor template for a single sequence: ids to put before and after.
  std::vector<int64_t> prefixIds, suffixIds;

  // Decoding: id -> text bytes (raw bytes for model tokens, content for added ones).
  std::vector<std::string> idToBytes;
  std::vector<uint8_t> idIsSpecial;
  std::vector<uint8_t> idIsAdded;
  // Strip decoder: up to this many leading spaces of the decoded text are dropped
  // (SentencePiece-style: the space the Prepend normalizer added).
  size_t stripLeadingSpaces = 0;

  // A SentencePiece model file (tokenizer.model): libsentencepiece encodes each
  // segment between added tokens; decoding uses the tables above, filled from
  // its pieces. Null for tokenizer.json.
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> spModel;
};

// Appends the ids libsentencepiece gives for `segment` (SentencePieceModel.cpp).
Status encodeSentencePiece(const Impl &impl, std::string_view segment, std::vector<int64_t> &out);

} // namespace bmc::tokenizer_detail

#endif
