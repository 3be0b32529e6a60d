//===- bmc/tokenizer.h - Hugging Face tokenizer.json ------------*- C++ -*-===//
//
// Text to token ids and back, from a Hugging Face `tokenizer.json`: byte-level
// BPE as GPT-2, Llama 3 and Qwen 2/3 ship it (pre-tokenizer regexes, merges
// with ranks, added and special tokens, NFC-style normalizers, ByteLevel
// decoder), and SentencePiece-style BPE as Llama 2 ships it (Prepend/Replace
// normalizers, byte fallback, Replace/ByteFallback/Fuse/Strip decoder). What is supported and what is refused: docs/TOKENIZER.md.
//
// Thread safety: a Tokenizer is immutable after load(); encode/decode may be
// called from any number of threads at once. Copies share the loaded tables.
// A StreamDecoder is a per-stream object: one thread at a time.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_TOKENIZER_H
#define BMC_TOKENIZER_H

#include "bmc/status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bmc {

namespace tokenizer_detail {
struct Impl;
}
struct ModelAssets; // bmc/model_folder.h

class Tokenizer {
public:
  // Reads and validates `path` (a tokenizer.json; a path ending in ".model" is
  // read as a SentencePiece model file). Errors are one line and name the file
  // and the JSON field (e.g. "model.type", "pre_tokenizer.pretokenizers[0].behavior").
  static Result<Tokenizer> load(const std::string &path);
  // The same from the file's text; `origin` names it in error messages.
  static Result<Tokenizer> fromJson(std::string_view json, const std::string &origin);
  // A SentencePiece model file's bytes (tokenizer.model), encoded through
  // libsentencepiece with Hugging Face's conventions around it (control
  // pieces are special tokens; BOS unless addBos is 0, EOS if addEos is 1: the
  // tokenizer_config.json flags, -1 = not given). docs/TOKENIZER.md.
  static Result<Tokenizer> fromSentencePiece(std::string_view model, const std::string &origin, int addBos = -1,
                                             int addEos = -1);
  // The tokenizer a model carries (Model::assets(): a package's embedded one,
  // a model folder's). Errors name assets.origin and the file.
  static Result<Tokenizer> fromAssets(const ModelAssets &assets);

  // Token ids of `text` (UTF-8). addSpecial applies the post-processor's
  // template (e.g. a BOS token), as Hugging Face's add_special_tokens does.
  // Fails only on input that is not valid UTF-8 (the error gives the byte offset).
  Result<std::vector<int64_t>> encode(std::string_view text, bool addSpecial = true) const;

  // Text of `ids`. Bytes that do not form valid UTF-8 become U+FFFD, one per
  // maximal invalid subsequence (WHATWG/TextDecoder rule). Fails on an id
  // outside [0, vocabSize()).
  Result<std::string> decode(const std::vector<int64_t> &ids, bool skipSpecial = false) const;

  // One past the largest id (model vocabulary and added tokens).
  int64_t vocabSize() const;
  // The id of an added token (by its content) or of a model token by the text it
  // stands for: " the", not the byte-level spelling "Ġthe"; for SentencePiece-style
  // tokenizers the vocabulary string itself ("▁the").
  std::optional<int64_t> tokenId(std::string_view token) const;
  bool isSpecial(int64_t id) const;

  // Streaming decode for generation: feed ids one at a time; text comes out as
  // soon as it forms whole UTF-8 characters, so a character whose bytes are
  // split over two tokens is emitted once, complete. The concatenation of all
  // push() results and finish() equals decode() of all ids.
  class StreamDecoder {
  public:
    explicit StreamDecoder(const Tokenizer &tokenizer, bool skipSpecial = false);
    Result<std::string> push(int64_t id);
    // Flushes bytes still pending (an incomplete character becomes U+FFFD).
    std::string finish();

  private:
    std::string strip(std::string text);
    std::shared_ptr<const tokenizer_detail::Impl> impl_;
    bool skipSpecial_;
    size_t toStrip_;
    bool first_ = true; // no token decoded yet (the Metaspace decoder treats the first one apart)
    std::string pending_;
  };

private:
  explicit Tokenizer(std::shared_ptr<const tokenizer_detail::Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const tokenizer_detail::Impl> impl_;
};

} // namespace bmc

#endif
