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

Job::Taken Job::takeFor(std::deque<Event> &out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(m_);
  if (!cv_.wait_for(l, timeout, [&] { return finished_ || !events_.empty(); })) return Taken::Nothing;
  out.swap(events_);
  events_.clear();
  return finished_ ? Taken::Finished : Taken::Events;
}

bool Job::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(m_);
  return cv_.wait_for(l, timeout, [&] { return finished_; });
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

void Engine::cancel(const std::shared_ptr<Job> &job) {
  std::shared_ptr<Job> unqueued;
  {
    std::lock_guard<std::mutex> l(qm_);
    if (job->cancelled.exchange(true)) return;
    auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it == queue_.end()) return; // running (its worker ends it), or finished
    queue_.erase(it);
    unqueued = job;
  }
  ++cancelled_;
  ApiError e;
  e.status = 499;
  e.type = "cancelled";
  e.message = "the request was cancelled before it started";
  unqueued->error = e;
  unqueued->finish();
}

void Engine::shutdown() {
  {
    std::lock_guard<std::mutex> l(qm_);
    if (stopping_.exchange(true) && workers_.empty()) return;
    for (auto &j : queue_) j->cancel();
    for (auto &jobs : running_)
      for (auto &j : jobs) j->cancel();
    qcv_.notify_all();
  }
  for (auto &t : workers_) t.join();
  workers_.clear();
  // Jobs never started: their HTTP threads are waiting (and may call cancel()).
  std::deque<std::shared_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> l(qm_);
    left.swap(queue_);
  }
  for (auto &j : left) {
    ApiError e;
    e.status = 503;
    e.type = "server_error";
    e.message = "the server is shutting down";
    j->error = e;
    j->finish();
  }
}

void Engine::workerLoop(int w) {
  for (;;) {
    std::vector<std::shared_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> l(qm_);
      qcv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
      const GenRequest &first = jobs[0]->req;
      auto batchable = [&](const GenRequest &r) {
        return r.gen.temperature == 0.0f && r.prompt.size() == first.prompt.size() &&
               r.gen.stopTokens == first.gen.stopTokens;
      };
      if (batchable(first) && !jobs[0]->isCancelled())
        for (auto it = queue_.begin(); it != queue_.end() && int(jobs.size()) < opts_.maxBatch;) {
          if (batchable((*it)->req) && !(*it)->isCancelled()) {
            jobs.push_back(std::move(*it));
            it = queue_.erase(it);
          } else {
            ++it;
          }
        }
      running_[size_t(w)] = jobs;
    }
    active_ += int64_t(jobs.size());
    run(jobs, w);
    int64_t left = active_ -= int64_t(jobs.size());
    {
      std::lock_guard<std::mutex> l(qm_);
      running_[size_t(w)].clear();
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

void Engine::run(const std::vector<std::shared_ptr<Job>> &jobs, int w) {
  auto fail = [&](Job &job, int status, const std::string &type, const std::string &msg) {
    ApiError e;
    e.status = status;
    e.type = type;
    e.message = msg;
    job.error = e;
    job.finish();
  };
  if (jobs.size() == 1 && jobs[0]->isCancelled()) {
    ++cancelled_;
    return fail(*jobs[0], 499, "cancelled", "the request was cancelled before it started");
  }
  // Per sequence: its decoder, stop strings and state.
  struct Seq {
    Job *job;
    std::optional<Tokenizer::StreamDecoder> dec;
    StopText stop;
    bool done = false, stopped = false;
    int64_t count = 0;
    std::optional<std::string> error;
  };
  std::vector<Seq> seqs;
  std::vector<std::vector<int64_t>> prompts;
  GenerateOptions g = jobs[0]->req.gen;
  g.maxNewTokens = 0;
  for (const auto &j : jobs) {
    seqs.push_back(Seq{j.get(), std::nullopt, StopText(j->req.stopStrings)});
    if (tokenizer_) seqs.back().dec.emplace(*tokenizer_, /*skipSpecial=*/true);
    prompts.push_back(j->req.prompt);
    g.maxNewTokens = std::max(g.maxNewTokens, j->req.maxTokens);
    promptTokens_ += int64_t(j->req.prompt.size());
  }
  if (jobs.size() > 1) {
    ++batches_;
    batchedSequences_ += int64_t(jobs.size());
  }
  auto sres = Session::create(model_, opts_.session);
  if (!sres) {
    for (Seq &q : seqs) fail(*q.job, 500, "server_error", sres.status().message());
    return;
  }
  Session &s = *sres.value();
  const auto &stopIds = g.stopTokens;
  // A sequence is over: flush its text, say why, and answer its client now
  // (the batch may go on for the others).
  auto end = [&](Seq &q) {
    q.done = true;
    Job &job = *q.job;
    job.completionTokens = q.count;
    if (job.isCancelled() && stopping_) return fail(job, 503, "server_error", "the server is shutting down");
    if (job.isCancelled()) {
      ++cancelled_;
      return fail(job, 499, "cancelled", "the request was cancelled");
    }
    if (q.error) return fail(job, 500, "server_error", *q.error);
    if (q.dec && !q.stop.stopped()) {
      std::string tail = q.stop.push(q.dec->finish());
      tail += q.stop.finish();
      if (!tail.empty()) job.push(Event{tail, {}});
    }
    job.finishReason = q.stopped || q.stop.stopped() ? "stop" : "length";
    job.finish();
  };
  auto onToken = [&](int64_t step, const std::vector<int64_t> &t) {
    kvUsed_[w] = s.kvStats().bytesUsed;
    bool any = false;
    for (size_t b = 0; b < seqs.size(); ++b) {
      Seq &q = seqs[b];
      if (q.done) continue;
      int64_t id = t[b];
      countToken();
      ++q.count;
      if (step == 0) {
        std::lock_guard<std::mutex> l(mm_);
        ttftSum_ += std::chrono::duration<double>(Clock::now() - q.job->submitted).count();
        ++ttftCount_;
      }
      Event ev;
      ev.tokens.push_back(id);
      // A stop token ends the sequence and is not shown as text.
      q.stopped = std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end();
      if (q.dec && !q.stopped) {
        auto piece = q.dec->push(id);
        if (piece) ev.text = q.stop.push(piece.value());
        else q.error = "generated token " + std::to_string(id) + " cannot be decoded: " + piece.status().message();
      }
      q.job->push(std::move(ev));
      if (q.stopped || q.stop.stopped() || q.error || q.job->isCancelled() || q.count == q.job->req.maxTokens) end(q);
      else any = true;
    }
    return any;
  };
  auto res = s.generate(prompts, g, onToken);
  reallocations_ += s.kvStats().reallocations;
  kvUsed_[w] = 0;
  sres.value().reset(); // free the KV buffers before the last answers
  for (Seq &q : seqs) {
    if (q.done) continue;
    // Still running: the generation failed, or it ended early (the context is full).
    if (!res) q.error = res.status().message();
    end(q);
  }
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
  metric("bmc_workers", "gauge", "Worker sessions.", opts_.workers);
  metric("bmc_batches_total", "counter", "Batches of more than one sequence generated together.", batches_.load());
  metric("bmc_batched_sequences_total", "counter", "Sequences generated in those batches.", batchedSequences_.load());
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
