//===- serve/Api.h - OpenAI request parsing and responses -------*- C++ -*-===//
//
// The JSON side of bmc-serve, free of HTTP and threads so that it can be
// tested alone: a request body becomes a GenRequest (or an ApiError with the
// HTTP status, the OpenAI error type and the offending parameter), and
// results become the response objects OpenAI clients parse.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SERVE_API_H
#define BMC_SERVE_API_H

#include "bmc/session.h"
#include "bmc/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bmc::serve {

using json = nlohmann::json;

/// An error answered to the client: {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param; ///< "" -> null
  std::string code;  ///< "" -> null
  json body() const;
};

/// What the server accepts, fixed at start-up.
struct ApiLimits {
  std::string modelName;      ///< requests naming another model get 404
  int64_t vocab = 0;          ///< token ids must be in [0, vocab)
  int64_t maxContext = 0;     ///< prompt + max_tokens must fit
  int64_t maxTokens = 0;      ///< largest max_tokens accepted
  int64_t defaultMaxTokens = 0;
  std::vector<int64_t> stopIds; ///< server-wide stop tokens (e.g. EOS)
};

/// One generation request, parsed and checked.
struct GenRequest {
  bool chat = false;
  bool stream = false;
  bool includeUsage = false; ///< stream_options.include_usage
  std::vector<int64_t> prompt;
  int64_t maxTokens = 0;
  GenerateOptions gen; ///< temperature, top_p, top_k, seed, stop tokens, maxNewTokens
  std::vector<std::string> stopStrings;
};

/// Parses a /v1/completions (chat = false) or /v1/chat/completions body.
/// `tokenizer` may be null: then prompts must be token ids and chat is refused.
std::optional<ApiError> parseRequest(const std::string &body, bool chat, const Tokenizer *tokenizer,
                                     const ApiLimits &limits, GenRequest &out);

/// The fixed chat format (docs/SERVE.md); the model's own chat_template is not applied.
std::string renderChat(const std::vector<std::pair<std::string, std::string>> &messages);

/// Response pieces. `id` is "cmpl-..." / "chatcmpl-..."; `created` is Unix seconds.
struct ResponseHead {
  std::string id, model;
  int64_t created = 0;
  bool chat = false;
};
json usageJson(int64_t promptTokens, int64_t completionTokens);
/// A whole non-streaming response.
json fullResponse(const ResponseHead &h, const std::string &text, const std::vector<int64_t> &tokens,
                  const std::string &finishReason, int64_t promptTokens);
/// One streamed chunk; `finishReason` empty -> null. For chat, `first` adds the
/// assistant role to the delta.
json streamChunk(const ResponseHead &h, const std::string &text, const std::vector<int64_t> &tokens,
                 const std::string &finishReason, bool first);
/// The usage chunk sent last when stream_options.include_usage is set.
json usageChunk(const ResponseHead &h, int64_t promptTokens, int64_t completionTokens);

} // namespace bmc::serve

#endif
