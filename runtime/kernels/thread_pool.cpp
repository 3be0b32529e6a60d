#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BMC_CPU_RELAX() _mm_pause()
#else
#define BMC_CPU_RELAX() std::this_thread::yield()
#endif

namespace bmc {
namespace {

// The pool whose task the current thread is running (nested calls run inline).
thread_local const ThreadPool *tlsActivePool = nullptr;

constexpr uint64_t kChunkBits = 16;
constexpr uint64_t kChunkMask = (uint64_t(1) << kChunkBits) - 1;
constexpr int kMaxChunks = int(kChunkMask);

uint32_t seqOf(uint64_t s) { return uint32_t(s >> 32); }
uint32_t chunksOf(uint64_t s) { return uint32_t((s >> kChunkBits) & kChunkMask); }
uint32_t nextOf(uint64_t s) { return uint32_t(s & kChunkMask); }

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct ActiveScope {
  const ThreadPool *saved;
  explicit ActiveScope(const ThreadPool *p) : saved(tlsActivePool) { tlsActivePool = p; }
  ~ActiveScope() { tlsActivePool = saved; }
};

} // namespace

int ThreadPool::hardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

ThreadPool::ThreadPool(int numThreads, int spinMicros)
    : numThreads_(std::min(numThreads <= 0 ? hardwareThreads() : numThreads, kMaxChunks)),
      spinNanos_(int64_t(std::max(spinMicros, 0)) * 1000) {
  workers_.reserve(size_t(numThreads_ - 1));
  try {
    for (int i = 1; i < numThreads_; ++i)
      workers_.emplace_back([this] { workerLoop(); });
  } catch (...) {
    // Thread creation failed (std::system_error: too many threads): stop and
    // join those started, or destroying them joinable would terminate.
    shutdown();
    throw;
  }
}

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(sleepMu_);
    stop_.store(true);
  }
  sleepCv_.notify_all();
  for (std::thread &t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

ThreadPool::~ThreadPool() { shutdown(); }

bool ThreadPool::waitForJob(uint32_t lastSeq) {
  auto hasNews = [&] { return stop_.load() || seqOf(state_.load()) != lastSeq; };
  int64_t deadline = nowNanos() + spinNanos_;
  for (unsigned i = 1;; ++i) {
    if (hasNews())
      return !stop_.load();
    BMC_CPU_RELAX();
    if ((i & 63) == 0 && nowNanos() > deadline)
      break;
  }
  // sleepers_ and state_ are both seq_cst: either the publisher sees us
  // sleeping and notifies under sleepMu_, or we see its new state here.
  std::unique_lock<std::mutex> lock(sleepMu_);
  sleepers_.fetch_add(1);
  sleepCv_.wait(lock, hasNews);
  sleepers_.fetch_sub(1);
  return !stop_.load();
}

void ThreadPool::workerLoop() {
  uint32_t lastSeq = 0;
  while (waitForJob(lastSeq)) {
    lastSeq = seqOf(state_.load());
    runChunks(lastSeq);
  }
}

void ThreadPool::runChunks(uint32_t seq) {
  ActiveScope scope(this);
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (seqOf(s) != seq || nextOf(s) >= chunksOf(s))
      return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    // The claimed chunk keeps the job alive: fn_, ctx_, n_ are stable.
    int64_t c = int64_t(nextOf(s)), chunks = int64_t(chunksOf(s));
    int64_t begin = n_ * c / chunks, end = n_ * (c + 1) / chunks;
    try {
      fn_(ctx_, begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMu_);
      if (!error_)
        error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallelFor(int64_t n, TaskFn fn, void *ctx) {
  if (n <= 0)
    return;
  if (numThreads_ == 1 || n == 1 || tlsActivePool == this) {
    fn(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> submit(submitMu_);
  uint32_t chunks = uint32_t(std::min<int64_t>(n, numThreads_));
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  pending_.store(int(chunks), std::memory_order_relaxed);
  uint32_t seq = seqOf(state_.load()) + 1;
  state_.store(uint64_t(seq) << 32 | uint64_t(chunks) << kChunkBits);
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(sleepMu_); }
    sleepCv_.notify_all();
  }
  runChunks(seq);
  for (unsigned i = 1; pending_.load(std::memory_order_acquire) != 0; ++i) {
    BMC_CPU_RELAX();
    if ((i & 1023) == 0)
      std::this_thread::yield(); // a worker holding a chunk was descheduled
  }
  if (error_) {
    std::exception_ptr e;
    {
      std::lock_guard<std::mutex> lock(errorMu_);
      std::swap(e, error_);
    }
    std::rethrow_exception(e);
  }
}

} // namespace bmc
