//===- serve/Engine.h - request queue and worker sessions -------*- C++ -*-===//
//
// One compiled Model shared by a fixed number of worker threads (the runtime's
// contract, bmc/session.h: several Sessions may share a Model, one thread per
// Session). Each worker takes the oldest request from a bounded queue, creates
// a Session, generates and destroys the Session, so the KV buffers are freed
// when the request ends, also when it was cancelled.
//
// Batching, where the runtime can: a Session batches prompts of equal length
// that share one set of sampling options (one random generator for all rows).
// So a greedy request (temperature 0) takes along up to maxBatch - 1 queued
// greedy requests with a prompt of the same length and the same stop tokens;
// the batch runs until its last sequence ends (each sequence's own max_tokens,
// stop strings and cancellation end that sequence: its response completes
// then, its rows are computed on until the batch ends). Sampled requests run
// alone.
//
// Thread safety: submit(), shutdown() and the metrics may be called from any
// thread; a Job is shared by its HTTP thread and its worker (all fields behind
// its mutex except `cancelled`).
//
//===----------------------------------------------------------------------===//
#ifndef BMC_SERVE_ENGINE_H
#define BMC_SERVE_ENGINE_H

#include "serve/Api.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bmc::serve {

using Clock = std::chrono::steady_clock;

/// Text (whole UTF-8 characters, stop strings held back) and the token ids
/// it came from; the text may be empty (a stop token, or held back).
struct Event {
  std::string text;
  std::vector<int64_t> tokens;
};

class Job {
public:
  explicit Job(GenRequest r) : req(std::move(r)), submitted(Clock::now()) {}
  const GenRequest req;
  const Clock::time_point submitted;

  /// The server stops (or, through Engine::cancel, the client went away): the
  /// worker ends generation at its next token, or skips the job if it has not
  /// started.
  void cancel() { cancelled.store(true); }
  bool isCancelled() const { return cancelled.load(); }

  /// Blocks until there are events or the job is finished; moves the events
  /// into `out` and returns true once the job is finished and `out` holds
  /// its last events.
  bool take(std::deque<Event> &out);
  /// As take(), but returns Nothing (moving nothing) once `timeout` passes
  /// with no events, so that the caller can look at its client meanwhile.
  enum class Taken { Nothing, Events, Finished };
  Taken takeFor(std::deque<Event> &out, std::chrono::milliseconds timeout);
  /// Blocks until the job is finished or `timeout` passes; true if finished.
  bool waitFor(std::chrono::milliseconds timeout);
  /// Blocks until the job is finished.
  void wait();

  // Set by the worker (read after take() returned true or wait()).
  std::string finishReason;          ///< "stop" or "length"
  std::optional<ApiError> error;     ///< generation failed or was cancelled
  int64_t completionTokens = 0;

private:
  friend class Engine;
  void push(Event e);
  void finish();
  std::atomic<bool> cancelled{false};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool finished_ = false;
};

struct EngineOptions {
  int workers = 4;
  int64_t maxQueue = 64;       ///< requests waiting for a worker; more get 503
  int maxBatch = 8;            ///< greedy requests of equal prompt length run together (1 = never)
  SessionOptions session;
};

class Engine {
public:
  Engine(std::shared_ptr<Model> model, const Tokenizer *tokenizer, EngineOptions opts);
  ~Engine();

  enum class Submitted { Ok, QueueFull, ShuttingDown };
  Submitted submit(const std::shared_ptr<Job> &job);
  /// The client of `job` went away: a queued job leaves the queue and
  /// finishes at once (499); a running one ends at its next token, and its
  /// Session, with its KV buffers, is freed then (unless it runs in a batch
  /// with others: its rows are computed on until the batch ends). Counted in
  /// bmc_requests_cancelled_total. Idempotent.
  void cancel(const std::shared_ptr<Job> &job);
  /// Cancels queued and running jobs (they finish with a 503 error) and joins the workers.
  void shutdown();
  bool shuttingDown() const { return stopping_.load(); }

  /// One finished HTTP request, for /metrics.
  void countRequest(const std::string &path, int status);
  /// Prometheus text format (version 0.0.4).
  std::string metricsText();

private:
  void workerLoop(int w);
  /// Generates `jobs` (one, or a batch as described above) in one Session.
  void run(const std::vector<std::shared_ptr<Job>> &jobs, int w);
  void countToken();

  std::shared_ptr<Model> model_;
  const Tokenizer *tokenizer_;
  EngineOptions opts_;
  std::vector<std::thread> workers_;
  std::mutex qm_;
  std::condition_variable qcv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::vector<std::shared_ptr<Job>>> running_; // per worker, empty when idle
  std::atomic<bool> stopping_{false};

  // Metrics.
  std::mutex mm_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::atomic<int64_t> promptTokens_{0}, generatedTokens_{0}, cancelled_{0}, reallocations_{0}, active_{0},
      batches_{0}, batchedSequences_{0};
  std::unique_ptr<std::atomic<int64_t>[]> kvUsed_; // per worker
  double ttftSum_ = 0;
  int64_t ttftCount_ = 0;
  static constexpr int kWindow = 10; // seconds of the tokens/s gauge
  int64_t bucketSecond_[kWindow] = {}, bucketTokens_[kWindow] = {};
  const Clock::time_point start_ = Clock::now();
};

} // namespace bmc::serve

#endif
