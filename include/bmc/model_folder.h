//===- bmc/model_folder.h - Hugging Face / Optimum model folders -*- C++ -*-===//
//
// A model folder as Hugging Face Optimum (and the Hub) ship decoders:
//
//   model.onnx (+ external data)   or decoder_model_merged.onnx (Optimum's
//                                  If-merged decoder), decoder_with_past_model
//                                  .onnx (two-file layout), the same in onnx/
//                                  (the Hub's layout) with dtype variants
//   config.json                    context length, bos/eos ids
//   generation_config.json         eos ids, default sampling
//   tokenizer.json                 (or tokenizer.model) and tokenizer_config.json
//
// ModelFolder::open reads and validates the JSON files (no MLIR, no model
// compilation); what a model needs at generation time besides its weights -
// the tokenizer file and the generation defaults - is a ModelAssets, which
// packages embed (docs/PACKAGE.md) and Model::assets() returns. Errors are
// one line naming the file and the field. Field meanings: docs/FOLDERS.md.
//
// Thread safety: plain values; ModelFolder::open may run on any thread.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_MODEL_FOLDER_H
#define BMC_MODEL_FOLDER_H

#include "bmc/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bmc {

struct GenerateOptions;

/// Generation defaults of a model, as transformers' GenerationConfig reads
/// them (generation_config.json over config.json; absent fields take
/// transformers' defaults: greedy, temperature 1, top_k 50, top_p 1).
struct GenerationDefaults {
  /// Generation stops after any of these (eos_token_id: one id or a list).
  std::vector<int64_t> eosTokenIds;
  /// bos_token_id, -1 if none. Informational: the tokenizer adds BOS.
  int64_t bosTokenId = -1;
  /// Context length (config.json max_position_embeddings, or n_positions /
  /// max_sequence_length / seq_length / n_ctx); 0: not given.
  int64_t contextLength = 0;
  /// do_sample false: greedy, whatever the sampling fields say.
  bool doSample = false;
  float temperature = 1.0f;
  int64_t topK = 50;
  float topP = 1.0f;

  /// Sets g's temperature, topK, topP (greedy: temperature 0) and adds the
  /// eos ids to g.stopTokens.
  void applyTo(GenerateOptions &g) const;
  /// One line for tools, e.g. "eos 2, context 2048, greedy".
  std::string describe() const;
};

/// What a model carries besides code and weights.
struct ModelAssets {
  GenerationDefaults generation;
  /// "tokenizer.json" (Hugging Face tokenizers), "tokenizer.model"
  /// (SentencePiece) or "" (none), and the file's bytes.
  std::string tokenizerFile;
  std::string tokenizerData;
  /// tokenizer_config.json add_bos_token / add_eos_token: 1, 0, or -1 (not
  /// given). A tokenizer.json's post-processor decides for itself; these
  /// apply to tokenizer.model.
  int addBosToken = -1, addEosToken = -1;
  /// Where they came from, for messages (a folder or a package path); not
  /// stored in packages.
  std::string origin;

  bool hasTokenizer() const { return !tokenizerFile.empty(); }
};

struct ModelFolder {
  std::string dir;
  /// The ONNX file chosen: dir + "/" + modelFile (docs/FOLDERS.md, "Which
  /// model file").
  std::string modelPath;
  /// modelPath relative to dir, e.g. "onnx/decoder_model_merged.onnx".
  std::string modelFile;
  ModelAssets assets;

  /// Whether `path` names a directory (a folder to open).
  static bool isFolder(const std::string &path);
  /// Reads the folder. Missing config.json / generation_config.json /
  /// tokenizer files are allowed (their defaults apply); a missing model file,
  /// several candidates with none preferred (e.g. onnx/model_q4.onnx and
  /// onnx/model_fp16.onnx without onnx/model.onnx), malformed JSON or a field
  /// of the wrong type or range is an error naming the file and the field.
  /// `modelFile` (a path relative to dir) overrides the choice.
  static Result<ModelFolder> open(const std::string &dir, const std::string &modelFile = "");
};

/// Checks that a tokenizer and generation defaults fit a model whose logits
/// are `modelVocab` wide (DecoderInfo::vocab; `model` names it): every id the
/// tokenizer can produce must be one the model can embed and produce, and so
/// must the eos and bos ids. A model vocabulary larger than the tokenizer's is
/// normal (padding rows) and passes. tokenizerVocab < 0: no tokenizer;
/// generation null: no defaults. The error is one line naming both sizes and
/// where each came from (`tokenizer`, `generationOrigin`).
Status checkVocabulary(int64_t modelVocab, const std::string &model, int64_t tokenizerVocab,
                       const std::string &tokenizer, const GenerationDefaults *generation,
                       const std::string &generationOrigin);

/// A file's bytes (regular files only; FIFOs are refused without blocking).
/// The error is one line: "<path>: cannot open: ...".
Result<std::string> readWholeFile(const std::string &path);

} // namespace bmc

#endif
