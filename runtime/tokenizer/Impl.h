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
  enum Kind { SplitIsolated, ByteLevel, Metaspace, WhitespaceSplit } kind;
  std::shared_ptr<Regex> regex; // SplitIsolated, and ByteLevel with use_regex
  bool addPrefixSpace = false;  // ByteLevel
  // Metaspace: spaces become `replacement`, which is put in front of each piece
  // (Always), of the piece at the very start of the input (First) or none (Never);
  // with `split`, the piece is then cut before every `replacement`.
  enum Prepend { Always, First, Never } prepend = Always;
  std::string replacement;
  bool split = true;
};

// SentencePiece's precompiled_charsmap (Unigram.cpp): a darts-clone double-array
// trie over UTF-8 byte strings whose values are offsets of NUL-terminated
// replacement strings in `normalized`.
struct Precompiled {
  std::vector<uint32_t> trie;
  std::string normalized;
};

struct NormalizerStep {
  enum Kind { NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Precompiled } kind;
  std::string text;             // Prepend: what to put in front; Replace: the literal to find
  std::string content;          // Replace: what to put instead
  std::shared_ptr<Regex> regex; // Replace with a Regex pattern (never matches empty)
  bool stripLeft = false, stripRight = false; // Strip: Unicode White_Space at either end
  std::shared_ptr<const tokenizer_detail::Precompiled> charsmap;
};

// The Unigram model's vocabulary as a byte trie: child of (node, byte) and the
// token id that ends at a node (-1 if none). Node 0 is the root.
struct UnigramTrie {
  std::unordered_map<uint64_t, int32_t> child; // node << 8 | byte -> node
  std::vector<int32_t> tokenAt;
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
  // Unigram (T5, ALBERT, XLM-R): Viterbi over `unigramScores` (Unigram.cpp);
  // also keys tokens by text, like SentencePiece-style BPE.
  bool unigram = false;
  std::vector<double> unigramScores; // by id
  double unkScore = 0;               // lowest score - 10, HF's unknown-character penalty
  UnigramTrie unigramTrie;
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
  // Metaspace decoder: the first decoded token drops its replacement characters
  // (HF's prepend_scheme != never) instead of turning them into spaces. Empty
  // when the decoder is not Metaspace.
  std::vector<std::string> idToBytesFirst;

  // A SentencePiece model file (tokenizer.model): libsentencepiece encodes each
  // segment between added tokens; decoding uses the tables above, filled from
  // its pieces. Null for tokenizer.json.
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> spModel;
};

// Appends the Unigram ids of one pre-tokenized piece (Unigram.cpp).
Status encodeUnigram(const Impl &impl, std::string_view piece, std::vector<int64_t> &out);
// Applies a precompiled charsmap as HF's Precompiled normalizer does (Unigram.cpp).
Status normalizePrecompiled(const Precompiled &map, std::string &text);
// Checks the blob's layout and fills `map`; an error message, or "" when it is well formed.
std::string parsePrecompiled(const std::string &blob, Precompiled &map);

// Appends the ids libsentencepiece gives for `segment` (SentencePieceModel.cpp).
Status encodeSentencePiece(const Impl &impl, std::string_view segment, std::vector<int64_t> &out);

} // namespace bmc::tokenizer_detail

#endif
