//===- session_threads_test.cpp - concurrent sessions on one Model --------===//
//
// N threads, each with its own Session on one shared Model (and so one thread
// pool), generate M tokens greedily, twice (the second prefill reuses the
// session's caches), in different KV modes; every sequence must equal the one
// a sequential run produced. Run in the TSan build (.ci/sanitize.sh), where a
// data race in the runtime or the pool is a report; elsewhere it checks the
// results only. N and M: BMC_THREADS_N / BMC_THREADS_STEPS (default 4 x 48).
//
//===----------------------------------------------------------------------===//

#include "bmc/session.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t envInt(const char *name, int64_t dflt) {
  const char *v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : dflt;
}

std::string packagePath() {
  const char *v = std::getenv("BMC_THREADS_PACKAGE");
  return v && *v ? v : BMC_THREADS_PACKAGE;
}

struct Job {
  std::vector<int64_t> prompt;
  bmc::SessionOptions options;
};

/// Two generations on one session; the tokens of both, or the error.
std::vector<std::vector<int64_t>> runJob(const std::shared_ptr<bmc::Model> &model, const Job &job, int64_t steps,
                                         std::string &error) {
  auto session = bmc::Session::create(model, job.options);
  if (!session) {
    error = session.status().message();
    return {};
  }
  bmc::GenerateOptions go;
  go.maxNewTokens = steps;
  std::vector<std::vector<int64_t>> out;
  for (int round = 0; round < 2; ++round) {
    auto tokens = session.value()->generate({job.prompt}, go);
    if (!tokens) {
      error = tokens.status().message();
      return {};
    }
    out.push_back(tokens.value()[0]);
  }
  return out;
}

TEST(SessionThreads, ConcurrentSessionsMatchSequentialRun) {
  int64_t n = envInt("BMC_THREADS_N", 4), steps = envInt("BMC_THREADS_STEPS", 48);
  ASSERT_GE(n, 1);
  ASSERT_GE(steps, 1);
  bmc::LoadOptions lo;
  lo.threads = 2; // a pool with a worker, shared by every session
  auto model = bmc::Model::load(packagePath(), lo);
  ASSERT_TRUE(model.ok()) << model.status().message();

  std::vector<Job> jobs;
  for (int64_t i = 0; i < n; ++i) {
    Job j;
    for (int64_t k = 0; k <= i % 5; ++k) j.prompt.push_back(1 + (i * 37 + k * 11) % 200);
    switch (i % 3) {
    case 0: j.options.kvMode = "bmc"; j.options.r = 3; break;       // regrows every 3 tokens
    case 1: j.options.kvMode = "prealloc"; break;
    case 2: j.options.kvMode = "bmc"; break;                        // r from the cost model
    }
    j.options.maxContext = 128;
    jobs.push_back(j);
  }

  const size_t jobsN = size_t(n);
  std::vector<std::vector<std::vector<int64_t>>> alone(jobsN), together(jobsN);
  std::vector<std::string> errAlone(jobsN), errTogether(jobsN);
  for (int64_t i = 0; i < n; ++i) alone[i] = runJob(model.value(), jobs[i], steps, errAlone[i]);
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] { together[i] = runJob(model.value(), jobs[i], steps, errTogether[i]); });
  for (auto &t : threads) t.join();

  for (int64_t i = 0; i < n; ++i) {
    SCOPED_TRACE("thread " + std::to_string(i) + ", kv " + jobs[i].options.kvMode + ", r " +
                 std::to_string(jobs[i].options.r));
    EXPECT_EQ(errAlone[i], "");
    EXPECT_EQ(errTogether[i], "");
    ASSERT_EQ(alone[i].size(), 2u);
    EXPECT_EQ(alone[i][0].size(), size_t(steps));
    EXPECT_EQ(alone[i][0], alone[i][1]); // a session restarted by prefill repeats itself
    EXPECT_EQ(together[i], alone[i]);
  }
}

} // namespace
