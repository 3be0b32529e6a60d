// A small fork-join thread pool tuned for decode: a step makes a few hundred
// parallel calls of 5-100 us each, so dispatch must cost ~1 us. Idle workers
// spin (with `pause`) for a short while after each call, then sleep on a
// condition variable, so an idle pool uses no CPU.
//
// Thread safety: all public member functions may be called from any thread.
// parallelFor calls from different threads are serialised (one job at a time);
// a parallelFor issued from inside a task of the same pool runs inline on the
// calling thread. The pool must outlive every call.
#ifndef BMC_RUNTIME_KERNELS_THREAD_POOL_H
#define BMC_RUNTIME_KERNELS_THREAD_POOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace bmc {

class ThreadPool {
public:
  // A task over the index range [begin, end).
  using TaskFn = void (*)(void *ctx, int64_t begin, int64_t end);

  // numThreads counts the calling thread: numThreads - 1 workers are started.
  // numThreads <= 0 means hardwareThreads(). spinMicros is how long an idle
  // worker polls for new work before it goes to sleep.
  explicit ThreadPool(int numThreads = 0, int spinMicros = 200);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int numThreads() const { return numThreads_; }
  static int hardwareThreads();

  // Runs fn over [0, n) split into min(n, numThreads()) contiguous chunks of
  // near-equal size; the caller runs chunks too and returns when all are done.
  // Chunks are claimed dynamically, so a sleeping worker never delays the
  // caller. The first exception thrown by a task is rethrown here.
  void parallelFor(int64_t n, TaskFn fn, void *ctx);

  // Same for any callable f(int64_t begin, int64_t end); no allocation.
  template <class F> void parallelFor(int64_t n, F &&f) {
    using Fn = std::remove_reference_t<F>;
    parallelFor(
        n,
        [](void *c, int64_t b, int64_t e) { (*static_cast<Fn *>(c))(b, e); },
        const_cast<void *>(static_cast<const void *>(&f)));
  }
  void parallelFor(int64_t n,
                   const std::function<void(int64_t, int64_t)> &f) {
    parallelFor<const std::function<void(int64_t, int64_t)> &>(n, f);
  }

private:
  void workerLoop();
  // Stops and joins every worker (the destructor, or a failed constructor).
  void shutdown();
  // Claims and runs chunks of job `seq` until none is left.
  void runChunks(uint32_t seq);
  bool waitForJob(uint32_t lastSeq);

  int numThreads_;
  int64_t spinNanos_;
  std::vector<std::thread> workers_;

  // state_ = seq << 32 | chunks << 16 | next: a chunk is claimed by a CAS on
  // the whole word, so a worker that wakes late can never claim a chunk of a
  // finished job, and the job fields below stay unchanged while any claimed
  // chunk of their job is still pending.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> pending_{0};
  TaskFn fn_ = nullptr;
  void *ctx_ = nullptr;
  int64_t n_ = 0;

  std::mutex submitMu_;   // one job at a time
  std::mutex sleepMu_;
  std::condition_variable sleepCv_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};

  std::mutex errorMu_;
  std::exception_ptr error_;
};

} // namespace bmc

#endif // BMC_RUNTIME_KERNELS_THREAD_POOL_H
