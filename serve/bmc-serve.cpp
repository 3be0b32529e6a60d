//===- bmc-serve.cpp - an OpenAI-compatible HTTP server -------------------===//
//
//   bmc-serve model.bmcpkg --tokenizer tokenizer.json --port 8080
//
// HTTP through cpp-httplib, JSON through nlohmann-json; generation in
// serve/Engine (a bounded queue and a fixed number of worker sessions).
//
//===----------------------------------------------------------------------===//

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "bmc/tokenizer.h"
#include "compiler/tools/CliUtil.h"
#include "bmc/abi/limits.h"
#include "serve/Connection.h"
#include "serve/Engine.h"

#include <httplib.h>

#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

using namespace bmc;
using namespace bmc::serve;

static const char *kUsage = R"(usage: bmc-serve MODEL [options]

Serves a decoder model over HTTP with OpenAI's API. MODEL is a package written
by bmc-compile (.bmcpkg), an ONNX file, or a Hugging Face / Optimum model folder
(both compiled just in time at start-up; docs/FOLDERS.md). A folder's or
package's tokenizer and eos ids are used unless --tokenizer / --stop-ids say
otherwise.

Endpoints:
  POST /v1/completions       prompt: text (needs --tokenizer) or token ids
  POST /v1/chat/completions  messages rendered in bmc-serve's fixed chat format
                             (docs/SERVE.md); the model's own chat_template is
                             NOT applied
  GET  /v1/models, /health, /metrics (Prometheus text format)
Both generation endpoints stream server-sent events with "stream": true.
Supported: max_tokens, temperature, top_p, top_k, seed, stop (strings, need
--tokenizer), stop_token_ids, stream_options.include_usage, n = 1 only. Other
OpenAI parameters are refused with 400 unless they hold their neutral value.
Each choice also carries "token_ids", the generated token ids (an extension).

Options:
  --tokenizer FILE       a Hugging Face tokenizer.json (docs/TOKENIZER.md), in
                         place of the model's own; without any tokenizer,
                         prompts must be token ids and responses carry
                         token_ids only (empty text)
  --model-name NAME      the id in /v1/models and the "model" requests must
                         name (default: the file name without extension)
  --host HOST            address to listen on (default: 127.0.0.1)
  --port N               TCP port; 0 picks a free one (default: 8080). The
                         chosen port is printed as "listening on http://H:P"
  --workers N            sessions generating at once (default: 4)
  --max-batch N          greedy requests (temperature 0) with prompts of equal
                         length and the same stop tokens are generated
                         together in one session, up to N (default: 8;
                         1 = never); sampled requests run alone
  --max-queue N          requests that may wait for a worker; more get 503
                         (default: 64)
  --max-tokens N         largest max_tokens a request may ask (default: the
                         context)
  --default-max-tokens N max_tokens when a request gives none (default: 256)
  --max-context N        tokens per sequence, prompt included (default: the
                         model's, else 4096); longer requests get 400
  --max-kv-bytes N       limit on the KV bytes of all sessions together
                         (0 = none); a request that would pass it fails
  --stop-ids IDS         token ids that end every generation (default: the
                         eos ids of the model's generation defaults, if it
                         has them); not shown as text
  --http-threads N       connections served at once (default: workers +
                         max-queue + 16)
  --kv MODE              bmc (default), prealloc or concat
  --threads N            kernel threads (default: all cores)
  --pack-threads N       threads that pack an ONNX model's weights while its
                         code is generated, 1-64 (default: min(4, --threads,
                         cores)); the packed weights are the same for any N
  -h, --help             this help
)";

namespace {

/// What is served: the model, its tokenizer (optional) and its name.
struct Served {
  std::shared_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;
  std::string name;
};

/// The one place that turns the command line's model and tokenizer into what
/// is served (a model folder loader plugs in here).
Served loadServed(const std::string &modelPath, const std::string &tokenizerPath, const CompileOptions &co) {
  Served s;
  if (!tokenizerPath.empty()) {
    auto t = Tokenizer::load(tokenizerPath);
    if (!t) cli::die("bmc-serve: --tokenizer: " + t.status().message());
    s.tokenizer = std::move(t.value());
  }
#ifdef BMC_SERVE_PACKAGES_ONLY
  // The TSan build's bmc-serve: that build has no compiler (serve/CMakeLists.txt).
  if (cli::endsWith(modelPath, ".onnx") || ModelFolder::isFolder(modelPath))
    cli::die("bmc-serve: " + modelPath + ": this bmc-serve was built without the compiler (the TSan build) and "
             "serves packages only; compile the model with bmc-compile");
  LoadOptions lo;
  lo.threads = co.threads;
  auto loaded = Model::load(modelPath, lo);
  if (!loaded) cli::die(loaded.status().message());
  s.model = loaded.value();
#else
  s.model = cli::openModel(modelPath, co);
#endif
  const ModelAssets *assets = s.model->assets();
  if (!s.tokenizer && assets && assets->hasTokenizer()) { // a folder's, or embedded in the package
    auto t = Tokenizer::fromAssets(*assets);
    if (!t) cli::die("bmc-serve: " + t.status().message());
    s.tokenizer = std::move(t.value());
  }
  const DecoderInfo &dec = s.model->signature().decoder;
  if (!dec.valid) cli::die("bmc-serve: " + modelPath + ": not a decoder (no input_ids/logits interface found)");
  // The tokenizer and the eos/bos ids must fit the model's vocabulary.
  const bool folder = ModelFolder::isFolder(modelPath);
  std::string tokName = tokenizerPath;
  if (tokName.empty() && assets && assets->hasTokenizer())
    tokName = folder ? assets->origin + "/" + assets->tokenizerFile : assets->origin + ": embedded " + assets->tokenizerFile;
  Status vs = checkVocabulary(dec.vocab, modelPath, s.tokenizer ? s.tokenizer->vocabSize() : -1, tokName,
                              assets ? &assets->generation : nullptr,
                              folder ? assets->origin + "/generation_config.json or config.json"
                                     : "'" + modelPath + "' (its embedded generation defaults)");
  if (!vs.ok()) cli::die("bmc-serve: " + vs.message());
  std::string trimmed = modelPath;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back(); // a folder given as DIR/
  std::string base = trimmed.substr(trimmed.find_last_of('/') + 1);
  s.name = ModelFolder::isFolder(modelPath) ? base : base.substr(0, base.find_last_of('.'));
  return s;
}

/// cpp-httplib 0.11 listens with a backlog of 5 (compiled into Debian's
/// library): a burst of new connections overflows it and the kernel resets
/// some of them. Listening again on the bound socket raises the backlog.
class Server : public httplib::Server {
public:
  bool raiseBacklog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(e.body().dump(), "application/json");
}

std::string sse(const json &j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

/// How often a waiting handler looks whether its client is still there.
constexpr std::chrono::milliseconds kClientPoll{50};

/// The socket of the connection `req` came on (serve/Connection.h), -1 if not found.
int connectionOf(const httplib::Request &req) {
  return findConnectionSocket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
}

std::string newId(bool chat) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t base = uint64_t(std::time(nullptr)) << 20;
  char b[40];
  std::snprintf(b, sizeof b, "%s-%llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)(base + ++counter));
  return b;
}

} // namespace

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
// The TSan build (.ci/sanitize.sh): Debian's libcpp-httplib is not
// instrumented, so TSan cannot see the guard check of its function-local
// statics (e.g. the method set in Server::parse_request_line, built by the
// first request's thread) and reported the next requests' reads of them,
// through its memcmp interceptor, as races with their construction. Ignore
// interceptor calls made from uninstrumented libraries; bmc-serve's own code
// is instrumented and still checked. TSAN_OPTIONS can override it.
extern "C" const char *__tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
#endif
#endif

static int run(int argc, char **argv) {
  constexpr int64_t kAny = std::numeric_limits<int64_t>::max();
  cli::Args a(argc, argv, kUsage);
  std::string modelPath = a.positional("MODEL");
  std::string tokenizerPath = a.str("--tokenizer", "");
  std::string modelName = a.str("--model-name", "");
  std::string host = a.str("--host", "127.0.0.1");
  int port = int(a.integer("--port", 8080, 0, 65535));
  int workers = int(a.integer("--workers", 4, 1, 256));
  int64_t maxQueue = a.integer("--max-queue", 64, 1, 1 << 20);
  int maxBatch = int(a.integer("--max-batch", 8, 1, limits::kMaxBatch));
  int64_t maxTokens = a.integer("--max-tokens", 0, 0, limits::kMaxContext);
  int64_t defaultMaxTokens = a.integer("--default-max-tokens", 256, 1, limits::kMaxContext);
  int64_t maxContext = a.integer("--max-context", 0, 0, limits::kMaxContext);
  int64_t maxKVBytes = a.integer("--max-kv-bytes", 0, 0, kAny);
  std::vector<int64_t> stopIds = a.ints("--stop-ids", {}, 0, kAny);
  int httpThreads = int(a.integer("--http-threads", 0, 0, 4096));
  std::string kv = a.str("--kv", "bmc");
  int threads = int(a.integer("--threads", 0, 0, limits::kMaxThreads));
  std::optional<int64_t> packThreads = a.integerOpt("--pack-threads", 1, 64);
  a.finish();
  if (kv != "bmc" && kv != "prealloc" && kv != "concat") a.fail("--kv: expected bmc, prealloc or concat, found " + cli::shown(kv));
  if (packThreads && !cli::endsWith(modelPath, ".onnx") && !ModelFolder::isFolder(modelPath))
    a.fail("--pack-threads: applies to an ONNX model or a model folder (packed here), found the package " +
           cli::shown(modelPath) + " (its weights were packed by bmc-compile)");
  if (httpThreads == 0) httpThreads = int(std::min<int64_t>(4096, workers + maxQueue + 16));
  if (httpThreads < workers + 2) a.fail("--http-threads: expected at least --workers + 2, found " + std::to_string(httpThreads));

  // Signals are taken by one thread (sigwait), so block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN); // a client gone mid-write is an error return, not a signal

  CompileOptions co;
  co.kvMode = cli::kvModeOf(kv);
  co.threads = threads;
  co.packThreads = int(packThreads.value_or(0));
  co.progress = [](const std::string &st) { std::fprintf(stderr, "bmc-serve: %s...\n", st.c_str()); };
  Served served = loadServed(modelPath, tokenizerPath, co);
  if (!modelName.empty()) served.name = modelName;
  if (maxKVBytes) setProcessKVLimit(maxKVBytes);
  const Tokenizer *tok = served.tokenizer ? &*served.tokenizer : nullptr;

  EngineOptions eo;
  eo.workers = workers;
  eo.maxQueue = maxQueue;
  eo.maxBatch = maxBatch;
  eo.session.kvMode = cli::endsWith(modelPath, ".onnx") || kv == "bmc" ? "" : kv;
  eo.session.maxContext = maxContext;
  // A session without a prefill allocates nothing: it tells the context limit.
  auto probe = Session::create(served.model, eo.session);
  if (!probe) cli::die("bmc-serve: " + modelPath + ": " + probe.status().message());
  ApiLimits lim;
  lim.modelName = served.name;
  lim.vocab = served.model->signature().decoder.vocab;
  lim.maxContext = probe.value()->maxContext();
  lim.maxTokens = maxTokens ? std::min(maxTokens, lim.maxContext) : lim.maxContext;
  lim.defaultMaxTokens = std::min(defaultMaxTokens, lim.maxTokens);
  if (stopIds.empty() && served.model->assets())
    stopIds = served.model->assets()->generation.eosTokenIds;
  lim.stopIds = stopIds;
  for (int64_t id : stopIds)
    if (id >= lim.vocab) a.fail("--stop-ids: expected ids below the vocabulary size " + std::to_string(lim.vocab) + ", found " + std::to_string(id));
  probe.value().reset();
  Engine engine(served.model, tok, eo);
  const int64_t created = int64_t(std::time(nullptr));

  Server svr;
  svr.new_task_queue = [httpThreads] { return new httplib::ThreadPool(size_t(httpThreads)); };
  svr.set_payload_max_length(16u << 20);
  svr.set_logger([&](const httplib::Request &req, const httplib::Response &res) { engine.countRequest(req.path, res.status); });
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.status = res.status;
    e.type = res.status == 404 ? "not_found_error" : "invalid_request_error";
    e.message = res.status == 404   ? "no route " + req.method + " " + req.path
                : res.status == 413 ? "the request body is larger than 16 MiB"
                                    : "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    sendError(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request &, httplib::Response &res, std::exception_ptr ep) {
    ApiError e;
    e.status = 500;
    e.type = "server_error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception &ex) {
      e.message = std::string("internal error: ") + ex.what();
    } catch (...) {
      e.message = "internal error";
    }
    sendError(res, e);
  });

  svr.Get("/health", [&](const httplib::Request &, httplib::Response &res) {
    bool up = !engine.shuttingDown();
    res.status = up ? 200 : 503;
    res.set_content(up ? R"({"status":"ok"})" : R"({"status":"shutting down"})", "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request &, httplib::Response &res) {
    res.set_content(engine.metricsText(), "text/plain; version=0.0.4");
  });
  svr.Get("/v1/models", [&](const httplib::Request &, httplib::Response &res) {
    json m = {{"id", served.name}, {"object", "model"}, {"created", created}, {"owned_by", "bmc"},
              {"max_model_len", lim.maxContext}, {"tokenizer", tok ? "tokenizer.json" : "none"}};
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });

  auto generate = [&](bool chat) {
    return [&, chat](const httplib::Request &req, httplib::Response &res) {
      GenRequest gr;
      if (auto e = parseRequest(req.body, chat, tok, lim, gr)) return sendError(res, *e);
      auto job = std::make_shared<Job>(std::move(gr));
      switch (engine.submit(job)) {
      case Engine::Submitted::Ok: break;
      case Engine::Submitted::QueueFull: {
        ApiError e;
        e.status = 503;
        e.type = "server_error";
        e.code = "queue_full";
        e.message = "the server is busy: " + std::to_string(maxQueue) + " requests are waiting already (--max-queue); retry later";
        return sendError(res, e);
      }
      case Engine::Submitted::ShuttingDown: {
        ApiError e;
        e.status = 503;
        e.type = "server_error";
        e.message = "the server is shutting down";
        return sendError(res, e);
      }
      }
      ResponseHead head{newId(chat), served.name, int64_t(std::time(nullptr)), chat};
      const int64_t promptTokens = int64_t(job->req.prompt.size());
      // The client may go away while its request waits or generates: then
      // its job is cancelled (Engine::cancel), in both modes.
      const int fd = connectionOf(req);
      if (!job->req.stream) {
        while (!job->waitFor(kClientPoll))
          if (fd >= 0 && peerGone(fd)) {
            engine.cancel(job);
            job->wait(); // then answered as usual (a 499, unless it had just finished), to nobody
            break;
          }
        std::deque<Event> evs;
        job->take(evs);
        if (job->error) return sendError(res, *job->error);
        std::string text;
        std::vector<int64_t> tokens;
        for (const Event &e : evs) {
          text += e.text;
          tokens.insert(tokens.end(), e.tokens.begin(), e.tokens.end());
        }
        res.set_content(fullResponse(head, text, tokens, job->finishReason, promptTokens)
                            .dump(-1, ' ', false, json::error_handler_t::replace),
                        "application/json");
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      auto first = std::make_shared<bool>(true);
      res.set_chunked_content_provider(
          "text/event-stream",
          [&engine, job, head, promptTokens, first, fd](size_t, httplib::DataSink &sink) {
            std::string out;
            if (*first && head.chat) out += sse(streamChunk(head, "", {}, "", true)); // the assistant role first
            *first = false;
            std::deque<Event> evs;
            Job::Taken taken;
            // Queued, or between tokens: nothing is written, so look at the client.
            while ((taken = job->takeFor(evs, kClientPoll)) == Job::Taken::Nothing)
              if (fd >= 0 && peerGone(fd)) {
                engine.cancel(job);
                return false;
              }
            const bool done = taken == Job::Taken::Finished;
            for (const Event &e : evs) out += sse(streamChunk(head, e.text, e.tokens, "", false));
            if (done) {
              if (job->error) {
                out += sse(job->error->body());
              } else {
                out += sse(streamChunk(head, "", {}, job->finishReason, false));
                if (job->req.includeUsage) out += sse(usageChunk(head, promptTokens, job->completionTokens));
                out += "data: [DONE]\n\n";
              }
            }
            if (!out.empty() && !sink.write(out.data(), out.size())) {
              engine.cancel(job); // the client is gone: stop generating
              return false;
            }
            if (done) sink.done();
            return true;
          },
          [&engine, job](bool success) {
            if (!success) engine.cancel(job);
          });
    };
  };
  svr.Post("/v1/completions", generate(false));
  svr.Post("/v1/chat/completions", generate(true));

  int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (bound < 0) cli::die("bmc-serve: cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not an address of this machine)");
  if (!svr.raiseBacklog(4096)) cli::die("bmc-serve: listen(backlog 4096) failed on " + host + ":" + std::to_string(bound));
  std::printf("bmc-serve: serving %s (%s, vocabulary %lld, context %lld, %d workers, batches up to %d, queue %lld)\n",
              served.name.c_str(), tok ? "with tokenizer" : "no tokenizer: token ids only", (long long)lim.vocab,
              (long long)lim.maxContext, workers, maxBatch, (long long)maxQueue);
  std::printf("bmc-serve: listening on http://%s:%d\n", host.c_str(), bound);
  std::fflush(stdout);

  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    std::fprintf(stderr, "bmc-serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    engine.shutdown(); // ends generations, so that their HTTP threads finish
    svr.stop();
  });
  bool ok = svr.listen_after_bind();
  if (!engine.shuttingDown()) {
    // listen failed without a signal: wake the signal thread so it can end.
    pthread_kill(signals.native_handle(), SIGTERM);
  }
  signals.join();
  return ok || engine.shuttingDown() ? 0 : 1;
}

int main(int argc, char **argv) { return cli::guardedMain(argc, argv, run); }
