//===- ModelFolder.cpp - reading Hugging Face / Optimum model folders -----===//

#include "bmc/model_folder.h"
#include "bmc/session.h"
#include "bmc/abi/limits.h"
#include "bmc/abi/open_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <sys/stat.h>

namespace bmc {

using nlohmann::json;

Result<std::string> readWholeFile(const std::string &path) {
  size_t size = 0;
  std::string error;
  int fd = openRegularFile(path, size, error);
  if (fd < 0) return Status::error(path + ": " + error);
  std::string text(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t r = ::read(fd, text.data() + got, size - got);
    if (r <= 0) {
      ::close(fd);
      return Status::error(path + ": read failed after " + std::to_string(got) + " bytes");
    }
    got += size_t(r);
  }
  ::close(fd);
  return text;
}

void GenerationDefaults::applyTo(GenerateOptions &g) const {
  g.temperature = doSample ? temperature : 0.0f;
  g.topK = topK;
  g.topP = topP;
  for (int64_t id : eosTokenIds) g.stopTokens.push_back(id);
}

std::string GenerationDefaults::describe() const {
  std::string s = "eos ";
  if (eosTokenIds.empty()) s += "none";
  for (size_t i = 0; i < eosTokenIds.size(); ++i) s += (i ? "," : "") + std::to_string(eosTokenIds[i]);
  s += ", context " + (contextLength ? std::to_string(contextLength) : std::string("not given"));
  if (!doSample) return s + ", greedy";
  char b[96];
  std::snprintf(b, sizeof b, ", sampling (temperature %g, top_k %lld, top_p %g)", double(temperature),
                (long long)topK, double(topP));
  return s + b;
}

namespace {

/// A field error: "<file>: <field>: expected ..., found ...".
struct FieldError {
  std::string message;
};

std::string typeName(const json &v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  return "an object";
}

[[noreturn]] void bad(const std::string &field, const std::string &expected, const json &v) {
  throw FieldError{field + ": expected " + expected + ", found " + typeName(v)};
}

int64_t integerIn(const json &v, const std::string &field, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) bad(field, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  // nlohmann keeps values above INT64_MAX as unsigned; those are out of range too.
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi))
    throw FieldError{field + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], found " + std::to_string(v.get<uint64_t>())};
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    throw FieldError{field + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], found " + std::to_string(x)};
  return x;
}

float realIn(const json &v, const std::string &field, double lo, double hi) {
  char range[64];
  std::snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
  if (!v.is_number()) bad(field, range, v);
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    char b[160];
    std::snprintf(b, sizeof b, "%s: expected %s, found %g", field.c_str(), range, x);
    throw FieldError{b};
  }
  return float(x);
}

/// eos_token_id / bos_token_id: one id, a list of ids, or null (none).
std::vector<int64_t> idList(const json &v, const std::string &field) {
  std::vector<int64_t> out;
  if (v.is_null()) return out;
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(integerIn(v[i], field + "[" + std::to_string(i) + "]", 0, int64_t(1) << 31));
    return out;
  }
  if (!v.is_number_integer()) bad(field, "a token id, a list of token ids or null", v);
  out.push_back(integerIn(v, field, 0, int64_t(1) << 31));
  return out;
}

/// The file parsed as a JSON object; nullopt-like empty object when absent.
Result<json> readJson(const std::string &path, bool &present) {
  struct stat st;
  present = ::stat(path.c_str(), &st) == 0;
  if (!present) return json::object();
  auto text = readWholeFile(path);
  if (!text) return text.status();
  json root;
  try {
    root = json::parse(text.value());
  } catch (const json::parse_error &e) {
    return Status::error(path + ": malformed JSON (truncated?) at byte " + std::to_string(e.byte) + " of " +
                         std::to_string(text.value().size()));
  } catch (const json::exception &e) {
    return Status::error(path + ": malformed JSON: " + e.what());
  }
  if (!root.is_object()) return Status::error(path + ": expected a JSON object, found " + typeName(root));
  return root;
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// config.json: context length and bos/eos (generation_config.json overrides
/// bos/eos when it has them, as transformers does).
void readConfig(const json &c, GenerationDefaults &g) {
  for (const char *k : {"max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"})
    if (c.contains(k) && !c[k].is_null()) {
      g.contextLength = integerIn(c[k], k, 1, limits::kMaxContext);
      break;
    }
  if (c.contains("eos_token_id")) g.eosTokenIds = idList(c["eos_token_id"], "eos_token_id");
  if (c.contains("bos_token_id")) {
    auto b = idList(c["bos_token_id"], "bos_token_id");
    g.bosTokenId = b.empty() ? -1 : b[0];
  }
}

void readGenerationConfig(const json &c, GenerationDefaults &g) {
  if (c.contains("eos_token_id")) g.eosTokenIds = idList(c["eos_token_id"], "eos_token_id");
  if (c.contains("bos_token_id")) {
    auto b = idList(c["bos_token_id"], "bos_token_id");
    g.bosTokenId = b.empty() ? -1 : b[0];
  }
  if (c.contains("do_sample") && !c["do_sample"].is_null()) {
    if (!c["do_sample"].is_boolean()) bad("do_sample", "true or false", c["do_sample"]);
    g.doSample = c["do_sample"].get<bool>();
  }
  // transformers refuses temperature 0 with do_sample; 0 < T here as there.
  if (c.contains("temperature") && !c["temperature"].is_null()) {
    g.temperature = realIn(c["temperature"], "temperature", 0.0, 1e6);
    if (g.doSample && g.temperature <= 0.0f)
      throw FieldError{"temperature: expected a positive number with do_sample, found 0"};
  }
  if (c.contains("top_k") && !c["top_k"].is_null()) g.topK = integerIn(c["top_k"], "top_k", 0, int64_t(1) << 31);
  if (c.contains("top_p") && !c["top_p"].is_null()) g.topP = realIn(c["top_p"], "top_p", 0.0, 1.0);
}

void readTokenizerConfig(const json &c, ModelAssets &a) {
  for (auto [key, out] : {std::pair<const char *, int *>{"add_bos_token", &a.addBosToken},
                          std::pair<const char *, int *>{"add_eos_token", &a.addEosToken}})
    if (c.contains(key) && !c[key].is_null()) {
      if (!c[key].is_boolean()) bad(key, "true or false", c[key]);
      *out = c[key].get<bool>() ? 1 : 0;
    }
}


bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// The model files of one export, in order of preference: Optimum >= 1.14's
/// model.onnx (the with-past decoder), older Optimum's merged decoder, then
/// its with-past file of the two-file layout (decoder_model.onnx, the other
/// one, has no past and is never chosen).
constexpr const char *kModelBases[] = {"model", "decoder_model_merged", "decoder_with_past_model"};
/// transformers.js's dtype suffixes (fp32 has none): model_fp16.onnx, ...
constexpr const char *kVariantSuffixes[] = {"fp16", "quantized", "int8", "uint8", "q4", "q4f16", "bnb4"};

std::vector<std::string> sortedEntries(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *h = ::opendir(dir.c_str())) {
    while (const dirent *e = ::readdir(h)) names.push_back(e->d_name);
    ::closedir(h);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string joined(const std::vector<std::string> &v) {
  std::string s;
  for (const auto &x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

/// The folder's model file, relative to it (docs/FOLDERS.md, "Which model
/// file"): `given` if not empty; else the first plain file of kModelBases at
/// the top level, then in onnx/; else the one variant (kVariantSuffixes) of
/// the first base that has any, top level first; several: ambiguous.
Status chooseModelFile(const std::string &dir, const std::string &given, std::string &out) {
  const std::string d = dir + "/";
  if (!given.empty()) {
    if (given[0] == '/' || given == ".." || given.rfind("../", 0) == 0 || given.find("/../") != std::string::npos)
      return Status::error(dir + ": model file '" + given + "': expected a path inside the folder");
    if (!isRegularFile(d + given)) return Status::error(dir + ": model file '" + given + "' (given): no such file");
    out = given;
    return Status();
  }
  for (const char *sub : {"", "onnx/"})
    for (const char *base : kModelBases)
      if (isRegularFile(d + sub + base + ".onnx")) {
        out = std::string(sub) + base + ".onnx";
        return Status();
      }
  std::vector<std::string> onnxFiles;
  for (const char *sub : {"", "onnx/"}) {
    std::vector<std::string> entries = sortedEntries(d + sub);
    for (const auto &e : entries)
      if (e.size() > 5 && e.compare(e.size() - 5, 5, ".onnx") == 0) onnxFiles.push_back(sub + e);
    for (const char *base : kModelBases) {
      std::vector<std::string> variants;
      for (const auto &e : entries)
        for (const char *suffix : kVariantSuffixes)
          if (e == std::string(base) + "_" + suffix + ".onnx" && isRegularFile(d + sub + e)) variants.push_back(sub + e);
      if (variants.size() == 1) {
        out = variants[0];
        return Status();
      }
      if (variants.size() > 1)
        return Status::error(dir + ": ambiguous model files: " + joined(variants) + " (no unsuffixed " + sub + base +
                             ".onnx); choose one with --model-file");
    }
  }
  std::string found = onnxFiles.empty() ? "" : "; found " + joined(onnxFiles) + ", none of them a decoder with past";
  return Status::error(dir + ": no model file: expected model.onnx, decoder_model_merged.onnx or "
                             "decoder_with_past_model.onnx (or a quantized/fp16 variant), in the folder or in onnx/" +
                       found);
}

} // namespace

Status checkVocabulary(int64_t modelVocab, const std::string &model, int64_t tokenizerVocab,
                       const std::string &tokenizer, const GenerationDefaults *generation,
                       const std::string &generationOrigin) {
  const std::string width = "the vocabulary of '" + model + "' (logits width " + std::to_string(modelVocab);
  if (tokenizerVocab > modelVocab)
    return Status::error("tokenizer '" + tokenizer + "' has " + std::to_string(tokenizerVocab) + " tokens, more than " +
                         width + "): ids " + std::to_string(modelVocab) + ".." + std::to_string(tokenizerVocab - 1) +
                         " cannot be embedded or produced by the model");
  if (!generation) return Status();
  const std::string tok = tokenizerVocab < 0 ? "no tokenizer"
                                             : "tokenizer '" + tokenizer + "' has " + std::to_string(tokenizerVocab) + " tokens";
  auto outside = [&](const char *field, int64_t id) {
    return Status::error(std::string(field) + " " + std::to_string(id) + " of " + generationOrigin + " is outside " +
                         width + "; " + tok + ")");
  };
  for (int64_t id : generation->eosTokenIds)
    if (id < 0 || id >= modelVocab) return outside("eos_token_id", id);
  if (generation->bosTokenId >= modelVocab) return outside("bos_token_id", generation->bosTokenId);
  return Status();
}

bool ModelFolder::isFolder(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<ModelFolder> ModelFolder::open(const std::string &dirIn, const std::string &modelFile) try {
  ModelFolder f;
  f.dir = dirIn;
  while (f.dir.size() > 1 && f.dir.back() == '/') f.dir.pop_back();
  if (!isFolder(f.dir)) return Status::error(dirIn + ": not a directory");
  const std::string d = f.dir + "/";
  if (Status s = chooseModelFile(f.dir, modelFile, f.modelFile); !s.ok()) return s;
  f.modelPath = d + f.modelFile;

  ModelAssets &a = f.assets;
  a.origin = f.dir;
  // Each file's fields name the file in errors.
  auto each = [&](const char *name, auto read) -> Status {
    bool present = false;
    auto j = readJson(d + name, present);
    if (!j) return j.status();
    if (!present) return Status();
    try {
      read(j.value());
    } catch (const FieldError &e) {
      return Status::error(d + name + ": " + e.message);
    }
    return Status();
  };
  if (Status s = each("config.json", [&](const json &j) { readConfig(j, a.generation); }); !s.ok()) return s;
  if (Status s = each("generation_config.json", [&](const json &j) { readGenerationConfig(j, a.generation); }); !s.ok())
    return s;
  if (Status s = each("tokenizer_config.json", [&](const json &j) { readTokenizerConfig(j, a); }); !s.ok()) return s;
  for (const char *name : {"tokenizer.json", "tokenizer.model"})
    if (exists(d + name)) {
      auto bytes = readWholeFile(d + name);
      if (!bytes) return bytes.status();
      a.tokenizerFile = name;
      a.tokenizerData = std::move(bytes.value());
      break;
    }
  return f;
} catch (const std::exception &e) {
  return limits::statusFromException(dirIn, e);
}

} // namespace bmc
