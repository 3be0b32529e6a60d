//===- serve/Engine.cpp - request queue and worker sessions ---------------===//
#include "serve/Engine.h"
#include "serve/StopText.h"

#include <algorithm>
#include <malloc.h>
#include <sstream>

namespace bmc::serve {

void Job::push(Event e) {
  std::lock_guard<std::mutex> l(m_);
  events_.push_back(std::move(e));
  cv_.notify_all();
}

void Job::finish() {
  std::lock_guard<std::mutex> l(m_);
  finished_ = true;
  cv_.notify_all();
}

bool Job::take(std::deque<Event> &out) {
  std::unique_lock<std::mutex> l(m_);
  cv_.wait(l, [&] { return finished_ || !events_.empty(); });
  out.swap(events_);
  events_.clear();
  return finished_;
}

void Job::wait() {
  std::unique_lock<std::mutex> l(m_);
  cv_.wait(l, [&] { return finished_; });
}

Engine::Engine(std::shared_ptr<Model> model, const Tokenizer *tokenizer, EngineOptions opts)
    : model_(std::move(model)), tokenizer_(tokenizer), opts_(std::move(opts)) {
  running_.resize(size_t(opts_.workers));
  kvUsed_.reset(new std::atomic<int64_t>[size_t(opts_.workers)]);
  for (int w = 0; w < opts_.workers; ++w) kvUsed_[w] = 0;
  for (int w = 0; w < opts_.workers; ++w) workers_.emplace_back([this, w] { workerLoop(w); });
}

Engine::~Engine() { shutdown(); }

Engine::Submitted Engine::submit(const std::shared_ptr<Job> &job) {
  std::lock_guard<std::mutex> l(qm_);
  if (stopping_) return Submitted::ShuttingDown;
  if (int64_t(queue_.size()) >= opts_.maxQueue) return Submitted::QueueFull;
  queue_.push_back(job);
  qcv_.notify_one();
  return Submitted::Ok;
}

void Engine::shutdown() {
  {
    std::lock_guard<std::mutex> l(qm_);
    if (stopping_.exchange(true) && workers_.empty()) return;
    for (auto &j : queue_) j->cancel();
    for (auto &j : running_)
      if (j) j->cancel();
    qcv_.notify_all();
  }
  for (auto &t : workers_) t.join();
  workers_.clear();
  // Jobs never started: their HTTP threads are waiting.
  for (auto &j : queue_) {
    ApiError e;
    e.status = 503;
    e.type = "server_error";
    e.message = "the server is shutting down";
    j->error = e;
    j->finish();
  }
  queue_.clear();
}

void Engine::workerLoop(int w) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> l(qm_);
      qcv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_[size_t(w)] = job;
    }
    ++active_;
    run(*job, w);
    int64_t left = --active_;
    {
      std::lock_guard<std::mutex> l(qm_);
      running_[size_t(w)].reset();
      // Idle: give the freed KV buffers and scratch back to the system. glibc
      // keeps large freed blocks in its heaps once its mmap threshold has
      // grown; without this the RSS stays at its peak after a burst.
      if (left == 0 && queue_.empty()) malloc_trim(0);
    }
  }
}

void Engine::countToken() {
  ++generatedTokens_;
  int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start_).count();
  std::lock_guard<std::mutex> l(mm_);
  int b = int(sec % kWindow);
  if (bucketSecond_[b] != sec) bucketSecond_[b] = sec, bucketTokens_[b] = 0;
  ++bucketTokens_[b];
}

void Engine::run(Job &job, int w) {
  auto fail = [&](int status, const std::string &type, const std::string &msg) {
    ApiError e;
    e.status = status;
    e.type = type;
    e.message = msg;
    job.error = e;
  };
  if (job.isCancelled()) {
    ++cancelled_;
    fail(499, "cancelled", "the request was cancelled before it started");
    job.finish();
    return;
  }
  promptTokens_ += int64_t(job.req.prompt.size());
  auto sres = Session::create(model_, opts_.session);
  if (!sres) {
    fail(500, "server_error", sres.status().message());
    job.finish();
    return;
  }
  Session &s = *sres.value();
  std::optional<Tokenizer::StreamDecoder> dec;
  if (tokenizer_) dec.emplace(*tokenizer_, /*skipSpecial=*/true);
  StopText stop(job.req.stopStrings);
  const auto &stopIds = job.req.gen.stopTokens;
  std::optional<std::string> decodeError;
  auto onToken = [&](int64_t step, const std::vector<int64_t> &t) {
    int64_t id = t[0];
    countToken();
    kvUsed_[w] = s.kvStats().bytesUsed;
    if (step == 0) {
      std::lock_guard<std::mutex> l(mm_);
      ttftSum_ += std::chrono::duration<double>(Clock::now() - job.submitted).count();
      ++ttftCount_;
    }
    Event ev;
    ev.tokens.push_back(id);
    // A stop token ends the sequence and is not shown as text.
    bool isStop = std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end();
    if (dec && !isStop) {
      auto piece = dec->push(id);
      if (!piece) {
        decodeError = "generated token " + std::to_string(id) + " cannot be decoded: " + piece.status().message();
        return false;
      }
      ev.text = stop.push(piece.value());
    }
    job.push(std::move(ev));
    return !job.isCancelled() && !stop.stopped();
  };
  auto res = s.generate({job.req.prompt}, job.req.gen, onToken);
  const GenerateStats &gs = s.generateStats();
  job.completionTokens = res ? int64_t(res.value()[0].size()) : int64_t(s.generated().empty() ? 0 : s.generated()[0].size());
  reallocations_ += s.kvStats().reallocations;
  kvUsed_[w] = 0;
  if (job.isCancelled() && stopping_) {
    fail(503, "server_error", "the server is shutting down");
  } else if (job.isCancelled()) {
    ++cancelled_;
    fail(499, "cancelled", "the request was cancelled");
  } else if (!res) {
    fail(500, "server_error", res.status().message());
  } else if (decodeError) {
    fail(500, "server_error", *decodeError);
  } else {
    if (dec && !stop.stopped()) {
      std::string tail = stop.push(dec->finish());
      tail += stop.finish();
      if (!tail.empty()) job.push(Event{tail, {}});
    }
    job.finishReason = stop.stopped() || gs.stop == GenerateStats::Stop::StopToken ? "stop" : "length";
  }
  job.finish();
}

void Engine::countRequest(const std::string &path, int status) {
  std::lock_guard<std::mutex> l(mm_);
  ++requests_[{path, status}];
}

std::string Engine::metricsText() {
  std::ostringstream o;
  auto metric = [&](const char *name, const char *type, const char *help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
  };
  int64_t queued, kvUsed = 0;
  {
    std::lock_guard<std::mutex> l(qm_);
    queued = int64_t(queue_.size());
  }
  for (int w = 0; w < opts_.workers; ++w) kvUsed += kvUsed_[w].load();
  double tps, ttftSum;
  int64_t ttftCount;
  {
    std::lock_guard<std::mutex> l(mm_);
    o << "# HELP bmc_requests_total HTTP requests answered, by path and status code.\n"
         "# TYPE bmc_requests_total counter\n";
    for (const auto &[k, n] : requests_)
      o << "bmc_requests_total{path=\"" << k.first << "\",code=\"" << k.second << "\"} " << n << '\n';
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start_).count(), sum = 0;
    // The last kWindow whole seconds (the current second is still filling).
    for (int i = 0; i < kWindow; ++i)
      if (bucketSecond_[i] < now && bucketSecond_[i] >= now - kWindow) sum += bucketTokens_[i];
    tps = double(sum) / kWindow;
    ttftSum = ttftSum_;
    ttftCount = ttftCount_;
  }
  metric("bmc_requests_cancelled_total", "counter", "Generations ended early because the client disconnected.",
         cancelled_.load());
  metric("bmc_prompt_tokens_total", "counter", "Prompt tokens prefilled.", promptTokens_.load());
  metric("bmc_generated_tokens_total", "counter", "Tokens generated.", generatedTokens_.load());
  metric("bmc_generated_tokens_per_second", "gauge", "Tokens generated per second over the last 10 s.", tps);
  metric("bmc_queue_depth", "gauge", "Requests waiting for a worker.", queued);
  metric("bmc_queue_limit", "gauge", "Most requests that may wait (more get 503).", opts_.maxQueue);
  metric("bmc_active_requests", "gauge", "Requests being generated.", active_.load());
  metric("bmc_workers", "gauge", "Worker sessions (sequences generated at once).", opts_.workers);
  metric("bmc_kv_bytes_allocated", "gauge", "KV cache bytes allocated by all sessions now.", processKVBytes());
  metric("bmc_kv_bytes_used", "gauge", "KV cache bytes holding valid rows now.", kvUsed);
  metric("bmc_kv_reallocations_total", "counter", "KV buffer growths of finished requests.", reallocations_.load());
  o << "# HELP bmc_time_to_first_token_seconds From queueing to the first generated token.\n"
       "# TYPE bmc_time_to_first_token_seconds summary\n"
    << "bmc_time_to_first_token_seconds_sum " << ttftSum << "\nbmc_time_to_first_token_seconds_count " << ttftCount
    << '\n';
  return o.str();
}

} // namespace bmc::serve
