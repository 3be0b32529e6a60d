//===- serve_api_test.cpp - bmc-serve's request parsing and stop strings ---===//
//
// The JSON side of the server without HTTP: requests become GenRequests or
// one-line errors with the status, parameter and code OpenAI clients expect;
// stop strings over streamed text against a plain reference that holds
// nothing back, on random texts split at random points.
//
//===----------------------------------------------------------------------===//
#include "serve/Api.h"
#include "serve/Connection.h"
#include "serve/StopText.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

using namespace bmc;
using namespace bmc::serve;

namespace {

// A byte-level tokenizer without merges: the ids of a text are its bytes.
std::string byteLevel(unsigned b) {
  unsigned cp = b;
  auto printable = [](unsigned x) { return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE; };
  if (!printable(b)) {
    unsigned n = 0;
    for (unsigned x = 0; x < b; ++x) n += !printable(x);
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) s += char(cp);
  else { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
  return s;
}

Tokenizer bytesTokenizer() {
  json vocab = json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[byteLevel(b)] = b;
  json t = {{"version", "1.0"}, {"added_tokens", json::array()}, {"normalizer", nullptr},
            {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
            {"post_processor", nullptr},
            {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
                       {"vocab", vocab}, {"merges", json::array()}}}};
  auto r = Tokenizer::fromJson(t.dump(), "bytes");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.value();
}

std::vector<int64_t> bytesOf(const std::string &s) { return std::vector<int64_t>(s.begin(), s.end()); }

ApiLimits limits() {
  ApiLimits l;
  l.modelName = "tiny";
  l.vocab = 300;
  l.maxContext = 64;
  l.maxTokens = 48;
  l.defaultMaxTokens = 16;
  l.stopIds = {299};
  return l;
}

} // namespace

TEST(ServeApi, CompletionWithIdsAndSampling) {
  GenRequest r;
  auto e = parseRequest(R"({"model": "tiny", "prompt": [1, 2, 3], "max_tokens": 5, "temperature": 0.5, "top_p": 0.9,
                           "top_k": 7, "seed": 42, "stop_token_ids": [5], "stream": true,
                           "stream_options": {"include_usage": true}, "n": 1, "user": "u"})",
                        false, nullptr, limits(), r);
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(r.prompt, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(r.maxTokens, 5);
  EXPECT_EQ(r.gen.maxNewTokens, 5);
  EXPECT_FLOAT_EQ(r.gen.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.gen.topP, 0.9f);
  EXPECT_EQ(r.gen.topK, 7);
  EXPECT_EQ(r.gen.seed, 42u);
  EXPECT_EQ(r.gen.stopTokens, (std::vector<int64_t>{299, 5})); // the server's, then the request's
  EXPECT_TRUE(r.stream && r.includeUsage);
  // Defaults: OpenAI's temperature 1, the server's max_tokens; a list of one prompt is that prompt.
  ASSERT_FALSE(parseRequest(R"({"prompt": [[4, 5]]})", false, nullptr, limits(), r));
  EXPECT_EQ(r.prompt, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(r.maxTokens, 16);
  EXPECT_FLOAT_EQ(r.gen.temperature, 1.0f);
  EXPECT_FALSE(r.stream);
}

TEST(ServeApi, TextAndChatPrompts) {
  Tokenizer t = bytesTokenizer();
  GenRequest r;
  ASSERT_FALSE(parseRequest(R"({"prompt": "Hi there", "stop": ["\n", "!"]})", false, &t, limits(), r));
  EXPECT_EQ(r.prompt, bytesOf("Hi there"));
  EXPECT_EQ(r.stopStrings, (std::vector<std::string>{"\n", "!"}));
  auto e = parseRequest(R"({"messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": [{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]}]})",
                        true, &t, limits(), r);
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(r.prompt, bytesOf("<|system|>\nbe brief\n<|user|>\nhi\n<|assistant|>\n"));
  EXPECT_TRUE(r.chat);
}

struct BadCase {
  const char *body;
  bool chat, withTokenizer;
  int status;
  const char *param, *needle, *code;
};

TEST(ServeApi, RefusedRequests) {
  Tokenizer t = bytesTokenizer();
  const BadCase cases[] = {
      {"{", false, true, 400, "", "not valid JSON", ""},
      {"[1]", false, true, 400, "", "expected a JSON object, found an array", ""},
      {R"({"prompt": [1], "n": 2})", false, true, 400, "n", "one choice per request: expected 1, found 2", ""},
      {R"({"prompt": [1], "best_of": 3})", false, true, 400, "best_of", "expected 1, found 3", ""},
      {R"({"prompt": [1], "logprobs": 0})", false, true, 400, "logprobs", "not supported", ""},
      {R"({"prompt": [1], "presence_penalty": 0.5})", false, true, 400, "presence_penalty", "not supported", ""},
      {R"({"prompt": [1], "echo": true})", false, true, 400, "echo", "not supported", ""},
      {R"({"prompt": [1], "frobnicate": 1})", false, true, 400, "frobnicate", "unrecognized request argument", ""},
      {R"({"prompt": [1], "model": "other"})", false, true, 404, "model", "'other' does not exist", "model_not_found"},
      {R"({"prompt": [1, 300]})", false, true, 400, "prompt[1]", "expected an integer in [0, 299], found 300", ""},
      {R"({"prompt": [1, 2.5]})", false, true, 400, "prompt[1]", "found a real number", ""},
      {R"({"prompt": ["a", "b"]})", false, true, 400, "prompt", "one prompt per request, found 2", ""},
      {R"({"prompt": ""})", false, true, 400, "prompt", "the prompt has no tokens", ""},
      {R"({"prompt": {}})", false, true, 400, "prompt", "found an object", ""},
      {R"({})", false, true, 400, "prompt", "missing", ""},
      {R"({"prompt": "hi"})", false, false, 400, "prompt", "no tokenizer", ""},
      {R"({"prompt": [1], "stop": "x"})", false, false, 400, "stop", "need a tokenizer", ""},
      {R"({"prompt": [1], "stop": ["a", "b", "c", "d", "e"]})", false, true, 400, "stop", "up to 4 strings", ""},
      {R"({"prompt": [1], "stop": ""})", false, true, 400, "stop", "must not be empty", ""},
      {R"({"prompt": [1], "max_tokens": 0})", false, true, 400, "max_tokens", "in [1, 48], found 0", ""},
      {R"({"prompt": [1], "max_tokens": 49})", false, true, 400, "max_tokens", "in [1, 48], found 49", ""},
      {R"({"prompt": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20], "max_tokens": 45})", false, true, 400,
       "max_tokens", "maximum context is 64 tokens; the request has 20 prompt tokens and max_tokens 45",
       "context_length_exceeded"},
      {R"({"prompt": [1], "temperature": 2.5})", false, true, 400, "temperature", "in [0, 2], found 2.5", ""},
      {R"({"prompt": [1], "temperature": "hot"})", false, true, 400, "temperature", "found a string", ""},
      {R"({"prompt": [1], "top_p": 0})", false, true, 400, "top_p", "in (0, 1]", ""},
      {R"({"prompt": [1], "stream_options": {"include_usage": true}})", false, true, 400, "stream_options",
       "only allowed with stream: true", ""},
      {R"({"messages": []})", true, true, 400, "messages", "non-empty array", ""},
      {R"({"messages": [{"role": "tool", "content": "x"}]})", true, true, 400, "messages[0].role", "found 'tool'", ""},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})", true, true, 400,
       "messages[0].content[0]", "text only", ""},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})", true, true, 400,
       "tools", "not supported", ""},
      {R"({"messages": [{"role": "user", "content": "x"}]})", true, false, 400, "messages", "no tokenizer", ""},
      {R"({"messages": [{"role": "user", "content": "x"}], "prompt": "y"})", true, true, 400, "prompt",
       "unrecognized request argument", ""},
  };
  for (const BadCase &c : cases) {
    GenRequest r;
    auto e = parseRequest(c.body, c.chat, c.withTokenizer ? &t : nullptr, limits(), r);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->status, c.status) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
    EXPECT_EQ(e->code, c.code) << c.body;
    EXPECT_NE(e->message.find(c.needle), std::string::npos) << c.body << " -> " << e->message;
    EXPECT_EQ(e->message.find('\n'), std::string::npos) << "one line: " << e->message;
    json b = e->body();
    EXPECT_EQ(b["error"]["message"], e->message);
    EXPECT_EQ(b["error"]["param"].is_null(), std::string(c.param).empty());
  }
}

TEST(ServeApi, ResponseShapes) {
  ResponseHead h{"cmpl-1", "tiny", 7, false};
  json full = fullResponse(h, "ab", {97, 98}, "length", 3);
  EXPECT_EQ(full["object"], "text_completion");
  EXPECT_EQ(full["choices"][0]["text"], "ab");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(full["usage"]["total_tokens"], 5);
  ResponseHead c{"chatcmpl-1", "tiny", 7, true};
  EXPECT_EQ(fullResponse(c, "ab", {97, 98}, "stop", 3)["choices"][0]["message"]["content"], "ab");
  json first = streamChunk(c, "", {}, "", true);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  json last = streamChunk(c, "", {}, "stop", false);
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(usageChunk(c, 3, 2)["choices"].size(), 0u);
}

// The plain rule: after each piece, if the text so far contains a stop
// string, the answer is the text before the earliest such occurrence.
static std::string stopReference(const std::vector<std::string> &pieces, const std::vector<std::string> &stops) {
  std::string text;
  for (const std::string &p : pieces) {
    text += p;
    size_t first = std::string::npos;
    for (const std::string &s : stops) first = std::min(first, text.find(s));
    if (first != std::string::npos) return text.substr(0, first);
  }
  return text;
}

TEST(ServeStopText, RandomSplitsMatchTheReference) {
  std::mt19937 rng(7);
  const std::string alphabet = "abc";
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::string> stops;
    int nstops = 1 + int(rng() % 3);
    for (int i = 0; i < nstops; ++i) {
      std::string s;
      for (int k = 1 + int(rng() % 4); k > 0; --k) s += alphabet[rng() % alphabet.size()];
      stops.push_back(s);
    }
    std::vector<std::string> pieces;
    for (int n = int(rng() % 12); n > 0; --n) {
      std::string p;
      for (int k = int(rng() % 4); k > 0; --k) p += alphabet[rng() % alphabet.size()];
      pieces.push_back(p);
    }
    StopText st(stops);
    std::string shown;
    for (const std::string &p : pieces) {
      shown += st.push(p);
      // Nothing shown may be (the start of) a stop string that is still being completed.
      if (!st.stopped())
        for (const std::string &s : stops) ASSERT_EQ(shown.find(s), std::string::npos);
    }
    shown += st.finish();
    ASSERT_EQ(shown, stopReference(pieces, stops)) << "trial " << trial;
  }
}

TEST(ServeStopText, HoldsBackOnlyWhatCouldStartAStop) {
  StopText st({"END"});
  EXPECT_EQ(st.push("abc E"), "abc ");
  EXPECT_EQ(st.push("N"), "");
  EXPECT_EQ(st.push("x"), "ENx"); // not a stop after all
  EXPECT_EQ(st.push("yEND tail"), "y");
  EXPECT_TRUE(st.stopped());
  EXPECT_EQ(st.push("more"), "");
  EXPECT_EQ(st.finish(), "");
  StopText none({});
  EXPECT_EQ(none.push("abc"), "abc");
  EXPECT_EQ(none.finish(), "");
}

/// serve/Connection.h on a real loopback connection: the server's end is found
/// by its addresses (not the client's end, not the listening socket), and the
/// client is gone once it closes, not while it is there or has sent more.
TEST(Connection, FindsTheSocketAndSeesTheClientLeave) {
  int lst = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lst, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lst, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lst, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(lst, reinterpret_cast<sockaddr *>(&a), &len), 0);
  const int serverPort = ntohs(a.sin_port);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  int server = ::accept(lst, nullptr, nullptr);
  ASSERT_GE(server, 0);
  sockaddr_in c{};
  len = sizeof c;
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr *>(&c), &len), 0);
  const int clientPort = ntohs(c.sin_port);

  EXPECT_EQ(findConnectionSocket("127.0.0.1", serverPort, "127.0.0.1", clientPort), server);
  EXPECT_EQ(findConnectionSocket("127.0.0.1", clientPort, "127.0.0.1", serverPort), client); // this process holds both ends
  EXPECT_EQ(findConnectionSocket("127.0.0.1", serverPort, "127.0.0.1", clientPort == 65535 ? 1 : clientPort + 1), -1);
  EXPECT_EQ(findConnectionSocket("127.0.0.2", serverPort, "127.0.0.1", clientPort), -1);

  EXPECT_FALSE(peerGone(server));
  ASSERT_EQ(::write(client, "GET", 3), 3); // a pipelined request: still there
  usleep(20000);
  EXPECT_FALSE(peerGone(server));
  char buf[3];
  EXPECT_EQ(::read(server, buf, 3), 3);
  EXPECT_FALSE(peerGone(server));
  ::close(client);
  usleep(20000);
  EXPECT_TRUE(peerGone(server));
  EXPECT_TRUE(peerGone(server)); // nothing consumed
  ::close(server);
  ::close(lst);
}
