//===- SentencePieceModel.cpp - tokenizer.model through libsentencepiece ---===//
//
// A SentencePiece model file is encoded by libsentencepiece itself (Debian's
// libsentencepiece-dev): normalization, the dummy "▁" prefix, BPE or Unigram,
// byte fallback. Around it bmc keeps Hugging Face's conventions, so that a
// model's tokenizer.model and its tokenizer.json give the same ids and text:
// control pieces (<s>, </s>) and <unk> are special tokens matched in the
// text first; BOS/EOS come from tokenizer_config.json's add_bos_token /
// add_eos_token (transformers' LlamaTokenizer defaults: BOS yes, EOS no);
// decoding maps "▁" to a space, <0xXX> pieces to their byte and drops the
// one space the dummy prefix added (the Strip decoder of tokenizer.json).
//
//===----------------------------------------------------------------------===//

#include "bmc/tokenizer.h"
#include "runtime/tokenizer/Impl.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <dlfcn.h>
#include <mutex>
#include <new>

// libsentencepiece.so.0 carries its own copy of protobuf-lite (3.14) and
// exports it; linked into a process that also loads libprotobuf (the ONNX
// importer: 3.21), the two copies' symbols interpose and one aborts ("compiled
// against version 3.14.0 ... installed version 3.21.12"). So it is never
// linked: it is dlopen'ed on first use, RTLD_LOCAL (its symbols stay out of the
// global scope) and RTLD_DEEPBIND (its own references bind to its own copy).
// Only its virtual methods are called, plus the three non-virtual functions
// looked up below. Sanitizer runtimes refuse RTLD_DEEPBIND; those builds only
// use it in processes without libprotobuf (the tokenizer tests).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BMC_NO_DEEPBIND 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BMC_NO_DEEPBIND 1
#endif

namespace bmc {
using namespace tokenizer_detail;
using SpStatus = sentencepiece::util::Status;

namespace {

struct SpLibrary {
  void *handle = nullptr;
  std::string error;
  void (*construct)(void *self) = nullptr;        // SentencePieceProcessor::SentencePieceProcessor()
  void (*destroyStatus)(void *self) = nullptr;    // util::Status::~Status()
  std::string (*statusText)(const void *self) = nullptr; // util::Status::ToString() const

  static const SpLibrary &get() {
    static SpLibrary lib = [] {
      SpLibrary l;
      int flags = RTLD_NOW | RTLD_LOCAL;
#ifndef BMC_NO_DEEPBIND
      flags |= RTLD_DEEPBIND;
#endif
      l.handle = dlopen("libsentencepiece.so.0", flags);
      if (!l.handle) {
        const char *e = dlerror();
        l.error = std::string("SentencePiece model files need libsentencepiece.so.0 (Debian: libsentencepiece0): ") +
                  (e ? e : "dlopen failed");
        return l;
      }
      l.construct = reinterpret_cast<void (*)(void *)>(dlsym(l.handle, "_ZN13sentencepiece22SentencePieceProcessorC1Ev"));
      l.destroyStatus = reinterpret_cast<void (*)(void *)>(dlsym(l.handle, "_ZN13sentencepiece4util6StatusD1Ev"));
      l.statusText =
          reinterpret_cast<std::string (*)(const void *)>(dlsym(l.handle, "_ZNK13sentencepiece4util6Status8ToStringB5cxx11Ev"));
      if (!l.construct || !l.destroyStatus || !l.statusText)
        l.error = "libsentencepiece.so.0 lacks the SentencePieceProcessor / util::Status symbols bmc uses";
      return l;
    }();
    return lib;
  }
};

/// Runs a call returning util::Status; "" when it succeeded, else its text.
template <typename F> std::string statusOf(F call) {
  const SpLibrary &lib = SpLibrary::get();
  alignas(SpStatus) unsigned char storage[sizeof(SpStatus)];
  SpStatus *st = new (storage) SpStatus(call()); // the callee builds it in place (C++17 elision)
  std::string text = st->ok() ? std::string() : lib.statusText(st);
  if (!st->ok() && text.empty()) text = "failed";
  lib.destroyStatus(st);
  return text;
}

} // namespace

Status tokenizer_detail::encodeSentencePiece(const Impl &impl, std::string_view segment, std::vector<int64_t> &out) {
  std::vector<int> ids;
  std::string err = statusOf([&] { return impl.spModel->Encode(segment, &ids); });
  if (!err.empty()) return Status::error("tokenizer: SentencePiece encode: " + err);
  out.insert(out.end(), ids.begin(), ids.end());
  return Status();
}

Result<Tokenizer> Tokenizer::fromSentencePiece(std::string_view model, const std::string &origin, int addBos,
                                               int addEos) try {
  const SpLibrary &lib = SpLibrary::get();
  if (!lib.error.empty()) return Status::error("tokenizer '" + origin + "': " + lib.error);
  void *mem = ::operator new(sizeof(sentencepiece::SentencePieceProcessor));
  lib.construct(mem);
  // Deleted through its virtual destructor (the library's code, the global operator delete).
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp(static_cast<sentencepiece::SentencePieceProcessor *>(mem),
                                                           [](sentencepiece::SentencePieceProcessor *p) { delete p; });
  std::string err = statusOf([&] { return sp->LoadFromSerializedProto(model); });
  if (!err.empty()) return Status::error("tokenizer '" + origin + "': not a SentencePiece model: " + err);
  auto impl = std::make_shared<Impl>();
  const int n = sp->GetPieceSize();
  impl->idToBytes.resize(size_t(n));
  impl->idIsSpecial.assign(size_t(n), 0);
  impl->idIsAdded.assign(size_t(n), 0);
  std::fill(std::begin(impl->byteToken), std::end(impl->byteToken), -1);
  static const std::string kSpace = "\xE2\x96\x81"; // ▁
  for (int id = 0; id < n; ++id) {
    const std::string &piece = sp->IdToPiece(id);
    if (sp->IsControl(id) || sp->IsUnknown(id)) {
      if (piece.empty()) continue;
      impl->added.push_back({piece, id, true});
      impl->idToBytes[size_t(id)] = piece;
      impl->idIsAdded[size_t(id)] = impl->idIsSpecial[size_t(id)] = 1;
      continue;
    }
    if (sp->IsByte(id) && piece.size() == 6 && piece.compare(0, 3, "<0x") == 0) {
      int b = std::stoi(piece.substr(3, 2), nullptr, 16);
      impl->idToBytes[size_t(id)] = std::string(1, char(b));
      impl->byteToken[b] = id;
      continue;
    }
    std::string text = piece;
    for (size_t p = 0; (p = text.find(kSpace, p)) != std::string::npos;) text.replace(p, kSpace.size(), " ");
    impl->idToBytes[size_t(id)] = text;
    impl->vocab.emplace(piece, id);
  }
  impl->addedByFirstByte.assign(256, {});
  for (size_t i = 0; i < impl->added.size(); ++i)
    impl->addedByFirstByte[static_cast<unsigned char>(impl->added[i].content[0])].push_back(int32_t(i));
  for (auto &list : impl->addedByFirstByte) // longest first: the leftmost match is also the longest
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return impl->added[size_t(a)].content.size() > impl->added[size_t(b)].content.size();
    });
  // BOS/EOS as transformers' LlamaTokenizer adds them (add_bos_token defaults to true).
  if (addBos != 0 && sp->bos_id() >= 0) impl->prefixIds = {sp->bos_id()};
  if (addEos == 1 && sp->eos_id() >= 0) impl->suffixIds = {sp->eos_id()};
  impl->sentencePiece = true;
  impl->unkId = sp->unk_id();
  impl->stripLeadingSpaces = 1; // the dummy prefix's space
  impl->spModel = std::move(sp);
  return Tokenizer(std::move(impl));
} catch (const std::exception &e) {
  return Status::error("tokenizer '" + origin + "': " + e.what());
}

} // namespace bmc
