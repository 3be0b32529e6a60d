//===- spm_train.cpp - train a SentencePiece model (test helper) ----------===//
//
// Usage: bmc_spm_train 'FLAGS' — the flags of spm_train (--input, --model_prefix,
// --model_type, ...), passed to libsentencepiece_train as they are. The oracle
// test trains a Unigram model with it: a real SentencePiece model (Google's
// trainer, its nmt_nfkc charsmap) that tests/tokenizer/spm_to_tokenizer_json.py
// then writes as a tokenizer.json. A program of its own because libsentencepiece
// carries its own protobuf (docs/TOKENIZER.md).
//
//===----------------------------------------------------------------------===//
#include <sentencepiece_trainer.h>

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bmc_spm_train 'spm_train flags'\n");
    return 2;
  }
  auto status = sentencepiece::SentencePieceTrainer::Train(argv[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "bmc_spm_train: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
