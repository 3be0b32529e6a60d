//===- serve/Api.cpp - OpenAI request parsing and responses ---------------===//
#include "serve/Api.h"

#include <cstdio>
#include <random>
#include <set>

namespace bmc::serve {

json ApiError::body() const {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return json{{"error", e}};
}

namespace {

ApiError bad(const std::string &param, const std::string &msg, const std::string &code = "") {
  ApiError e;
  e.message = param.empty() ? msg : param + ": " + msg;
  e.param = param;
  e.code = code;
  return e;
}

const char *kindOf(const json &v) {
  switch (v.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  case json::value_t::number_float: return "a real number";
  default: return "an integer";
  }
}

bool isInt(const json &v) { return v.is_number_integer() || v.is_number_unsigned(); }

std::optional<ApiError> intField(const json &v, const std::string &name, int64_t lo, int64_t hi, int64_t &out) {
  if (!isInt(v) || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    return bad(name, std::string("expected an integer in [") + std::to_string(lo) + ", " + std::to_string(hi) +
                         "], found " + (isInt(v) ? v.dump() : kindOf(v)));
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    return bad(name, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], found " +
                         std::to_string(x));
  out = x;
  return std::nullopt;
}

std::optional<ApiError> realField(const json &v, const std::string &name, double lo, double hi, bool openLo,
                                  double &out) {
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  auto range = std::string(openLo ? "(" : "[") + num(lo) + ", " + num(hi) + "]";
  if (!v.is_number()) return bad(name, "expected a number in " + range + ", found " + kindOf(v));
  double x = v.get<double>();
  if (!(x <= hi) || (openLo ? !(x > lo) : !(x >= lo)))
    return bad(name, "expected a number in " + range + ", found " + v.dump());
  out = x;
  return std::nullopt;
}

std::optional<ApiError> idList(const json &v, const std::string &name, int64_t vocab, std::vector<int64_t> &out) {
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x;
    if (auto e = intField(v[i], name + "[" + std::to_string(i) + "]", 0, vocab - 1, x)) return e;
    out.push_back(x);
  }
  return std::nullopt;
}

std::optional<ApiError> encodeText(const std::string &text, const std::string &param, const Tokenizer *tok,
                                   std::vector<int64_t> &out) {
  if (!tok)
    return bad(param, "this server has no tokenizer (start it with --tokenizer): send token ids instead of text");
  auto ids = tok->encode(text, /*addSpecial=*/true);
  if (!ids) return bad(param, ids.status().message());
  out = std::move(ids.value());
  return std::nullopt;
}

// Parameters of OpenAI's API that bmc-serve does not implement: refused
// unless they hold their neutral value, so that nothing is silently ignored.
std::optional<ApiError> neutral(const json &body, const std::string &name) {
  if (!body.contains(name)) return std::nullopt;
  const json &v = body[name];
  bool ok = v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v.get<double>() == 0.0) ||
            (v.is_object() && v.empty()) || (v.is_array() && v.empty()) || (v.is_string() && v.get<std::string>().empty());
  if (name == "n" || name == "best_of") ok = v.is_null() || (isInt(v) && v.get<int64_t>() == 1);
  if (name == "logprobs") ok = v.is_null() || (v.is_boolean() && !v.get<bool>()); // completions' 0 asks for logprobs
  if (name == "response_format") ok = v.is_null() || (v.is_object() && v.value("type", "") == "text" && v.size() == 1);
  if (ok) return std::nullopt;
  if (name == "n" || name == "best_of")
    return bad(name, "bmc-serve generates one choice per request: expected 1, found " + v.dump());
  return bad(name, "not supported by bmc-serve (found " + v.dump() + ")");
}

} // namespace

std::string renderChat(const std::vector<std::pair<std::string, std::string>> &messages) {
  std::string s;
  for (const auto &[role, content] : messages) s += "<|" + role + "|>\n" + content + "\n";
  return s + "<|assistant|>\n";
}

std::optional<ApiError> parseRequest(const std::string &text, bool chat, const Tokenizer *tokenizer,
                                     const ApiLimits &limits, GenRequest &out) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return bad("", "the request body is not valid JSON");
  if (!body.is_object()) return bad("", std::string("expected a JSON object, found ") + kindOf(body));
  out = GenRequest();
  out.chat = chat;

  static const std::set<std::string> common = {"model", "stream", "stream_options", "max_tokens", "temperature",
      "top_p", "top_k", "seed", "stop", "stop_token_ids", "n", "presence_penalty", "frequency_penalty",
      "logit_bias", "logprobs", "user"};
  static const std::set<std::string> completionOnly = {"prompt", "echo", "best_of", "suffix"};
  static const std::set<std::string> chatOnly = {"messages", "max_completion_tokens", "top_logprobs", "tools",
      "tool_choice", "functions", "function_call", "response_format", "parallel_tool_calls", "store", "metadata"};
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!common.count(it.key()) && !(chat ? chatOnly : completionOnly).count(it.key()))
      return bad(it.key(), "unrecognized request argument");
  for (const char *p : {"n", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs"})
    if (auto e = neutral(body, p)) return e;
  for (const char *p : chat ? std::vector<const char *>{"top_logprobs", "tools", "functions", "response_format"}
                            : std::vector<const char *>{"echo", "best_of", "suffix"})
    if (auto e = neutral(body, p)) return e;

  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) return bad("model", std::string("expected a string, found ") + kindOf(body["model"]));
    if (body["model"].get<std::string>() != limits.modelName) {
      ApiError e = bad("model", "the model '" + body["model"].get<std::string>() + "' does not exist (this server has '" +
                                    limits.modelName + "')", "model_not_found");
      e.status = 404;
      return e;
    }
  }
  if (body.contains("stream") && !body["stream"].is_null()) {
    if (!body["stream"].is_boolean()) return bad("stream", std::string("expected a boolean, found ") + kindOf(body["stream"]));
    out.stream = body["stream"].get<bool>();
  }
  if (body.contains("stream_options") && !body["stream_options"].is_null()) {
    const json &so = body["stream_options"];
    if (!out.stream) return bad("stream_options", "only allowed with stream: true");
    if (!so.is_object()) return bad("stream_options", std::string("expected an object, found ") + kindOf(so));
    for (auto it = so.begin(); it != so.end(); ++it) {
      if (it.key() != "include_usage") return bad("stream_options." + it.key(), "unrecognized option");
      if (!it->is_boolean()) return bad("stream_options.include_usage", std::string("expected a boolean, found ") + kindOf(*it));
      out.includeUsage = it->get<bool>();
    }
  }

  // The prompt.
  if (chat) {
    if (!body.contains("messages")) return bad("messages", "missing");
    const json &ms = body["messages"];
    if (!ms.is_array() || ms.empty()) return bad("messages", "expected a non-empty array of messages");
    std::vector<std::pair<std::string, std::string>> msgs;
    for (size_t i = 0; i < ms.size(); ++i) {
      std::string at = "messages[" + std::to_string(i) + "]";
      const json &m = ms[i];
      if (!m.is_object()) return bad(at, std::string("expected an object, found ") + kindOf(m));
      if (!m.contains("role") || !m["role"].is_string()) return bad(at + ".role", "expected a string");
      std::string role = m["role"];
      if (role != "system" && role != "developer" && role != "user" && role != "assistant")
        return bad(at + ".role", "expected system, developer, user or assistant, found '" + role + "'");
      for (auto it = m.begin(); it != m.end(); ++it)
        if (it.key() != "role" && it.key() != "content" && it.key() != "name")
          return bad(at + "." + it.key(), "not supported by bmc-serve");
      if (!m.contains("content")) return bad(at + ".content", "missing");
      const json &c = m["content"];
      std::string content;
      if (c.is_string()) {
        content = c.get<std::string>();
      } else if (c.is_array()) {
        for (size_t j = 0; j < c.size(); ++j) {
          std::string pat = at + ".content[" + std::to_string(j) + "]";
          if (!c[j].is_object() || c[j].value("type", "") != "text" || !c[j].contains("text") || !c[j]["text"].is_string())
            return bad(pat, "expected a text part {\"type\": \"text\", \"text\": ...} (bmc-serve takes text only)");
          content += c[j]["text"].get<std::string>();
        }
      } else {
        return bad(at + ".content", std::string("expected a string or an array of text parts, found ") + kindOf(c));
      }
      msgs.emplace_back(role, content);
    }
    if (auto e = encodeText(renderChat(msgs), "messages", tokenizer, out.prompt)) return e;
  } else {
    if (!body.contains("prompt")) return bad("prompt", "missing");
    json p = body["prompt"];
    // A list of one prompt is that prompt; several are several requests.
    if (p.is_array() && !p.empty() && (p[0].is_string() || p[0].is_array())) {
      if (p.size() != 1)
        return bad("prompt", "bmc-serve takes one prompt per request, found " + std::to_string(p.size()));
      p = json(p[0]);
    }
    if (p.is_string()) {
      if (auto e = encodeText(p.get<std::string>(), "prompt", tokenizer, out.prompt)) return e;
    } else if (p.is_array()) {
      if (auto e = idList(p, "prompt", limits.vocab, out.prompt)) return e;
    } else {
      return bad("prompt", std::string("expected a string or an array of token ids, found ") + kindOf(p));
    }
  }
  if (out.prompt.empty()) return bad(chat ? "messages" : "prompt", "the prompt has no tokens");

  // Sampling and length.
  out.maxTokens = limits.defaultMaxTokens;
  for (const char *name : {"max_tokens", "max_completion_tokens"})
    if (body.contains(name) && !body[name].is_null())
      if (auto e = intField(body[name], name, 1, limits.maxTokens, out.maxTokens)) return e;
  out.gen.temperature = 1.0f; // OpenAI's defaults
  out.gen.topP = 1.0f;
  double x;
  if (body.contains("temperature") && !body["temperature"].is_null()) {
    if (auto e = realField(body["temperature"], "temperature", 0, 2, false, x)) return e;
    out.gen.temperature = float(x);
  }
  if (body.contains("top_p") && !body["top_p"].is_null()) {
    if (auto e = realField(body["top_p"], "top_p", 0, 1, true, x)) return e;
    out.gen.topP = float(x);
  }
  if (body.contains("top_k") && !body["top_k"].is_null())
    if (auto e = intField(body["top_k"], "top_k", 0, limits.vocab, out.gen.topK)) return e;
  if (body.contains("seed") && !body["seed"].is_null()) {
    int64_t s;
    if (auto e = intField(body["seed"], "seed", INT64_MIN, INT64_MAX, s)) return e;
    out.gen.seed = uint64_t(s);
  } else {
    out.gen.seed = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
  }
  if (body.contains("stop") && !body["stop"].is_null()) {
    const json &s = body["stop"];
    if (s.is_string()) {
      out.stopStrings.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (size_t i = 0; i < s.size(); ++i) {
        if (!s[i].is_string()) return bad("stop", "expected a string or an array of up to 4 strings");
        out.stopStrings.push_back(s[i].get<std::string>());
      }
    } else {
      return bad("stop", "expected a string or an array of up to 4 strings");
    }
    for (const std::string &st : out.stopStrings)
      if (st.empty()) return bad("stop", "stop strings must not be empty");
    if (!tokenizer && !out.stopStrings.empty())
      return bad("stop", "stop strings need a tokenizer (start the server with --tokenizer); use stop_token_ids");
  }
  out.gen.stopTokens = limits.stopIds;
  if (body.contains("stop_token_ids") && !body["stop_token_ids"].is_null()) {
    const json &s = body["stop_token_ids"];
    if (!s.is_array()) return bad("stop_token_ids", std::string("expected an array of token ids, found ") + kindOf(s));
    std::vector<int64_t> ids;
    if (auto e = idList(s, "stop_token_ids", limits.vocab, ids)) return e;
    out.gen.stopTokens.insert(out.gen.stopTokens.end(), ids.begin(), ids.end());
  }
  if (int64_t(out.prompt.size()) + out.maxTokens > limits.maxContext) {
    ApiError e = bad(body.contains("max_tokens") || body.contains("max_completion_tokens") ? "max_tokens" : "",
                     "this model's maximum context is " + std::to_string(limits.maxContext) + " tokens; the request has " +
                         std::to_string(out.prompt.size()) + " prompt tokens and max_tokens " +
                         std::to_string(out.maxTokens),
                     "context_length_exceeded");
    return e;
  }
  out.gen.maxNewTokens = out.maxTokens;
  return std::nullopt;
}

json usageJson(int64_t promptTokens, int64_t completionTokens) {
  return {{"prompt_tokens", promptTokens}, {"completion_tokens", completionTokens},
          {"total_tokens", promptTokens + completionTokens}};
}

static json nullable(const std::string &s) { return s.empty() ? json(nullptr) : json(s); }

json fullResponse(const ResponseHead &h, const std::string &text, const std::vector<int64_t> &tokens,
                  const std::string &finishReason, int64_t promptTokens) {
  json choice = {{"index", 0}, {"finish_reason", nullable(finishReason)}, {"logprobs", nullptr}, {"token_ids", tokens}};
  if (h.chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  return {{"id", h.id}, {"object", h.chat ? "chat.completion" : "text_completion"}, {"created", h.created},
          {"model", h.model}, {"choices", json::array({choice})},
          {"usage", usageJson(promptTokens, int64_t(tokens.size()))}};
}

json streamChunk(const ResponseHead &h, const std::string &text, const std::vector<int64_t> &tokens,
                 const std::string &finishReason, bool first) {
  json choice = {{"index", 0}, {"finish_reason", nullable(finishReason)}, {"logprobs", nullptr}, {"token_ids", tokens}};
  if (h.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  return {{"id", h.id}, {"object", h.chat ? "chat.completion.chunk" : "text_completion"}, {"created", h.created},
          {"model", h.model}, {"choices", json::array({choice})}};
}

json usageChunk(const ResponseHead &h, int64_t promptTokens, int64_t completionTokens) {
  return {{"id", h.id}, {"object", h.chat ? "chat.completion.chunk" : "text_completion"}, {"created", h.created},
          {"model", h.model}, {"choices", json::array()}, {"usage", usageJson(promptTokens, completionTokens)}};
}

} // namespace bmc::serve
