// A CUDA package through the public API: the tiny 2-layer generated llama
// compiled at build time (tests/unit/device/CMakeLists.txt, device.session_*)
// by bmc-compile --target cuda (the package), --emit cuda with the same
// options (its source, compiled into this binary as the host emulation's
// kernel table) and --target cpu (the reference). The package is loaded
// through the seam (loadCudaPackageOn: a CpuDevice and that table; the
// package's section source must be the emitted .cu, or the test says so and
// stops), then a Session with r = 3: prefill of a 5-token prompt and 8 greedy
// steps, each run's last-position logits against the CPU package's Session
// within kTolerance, the tokens identical (each side is fed the CPU's choice,
// so a differing token is a failure, not a drift; bf16 allows a near-tie: the
// CPU's two best logits closer than twice the tolerance, printed); generate()
// gives the CPU's tokens; truncate() back into the generated tokens and
// continuing gives the first run's tokens again. Then the one-line errors of
// what a device session cannot do, the load's generation going to the first
// session with the model's options, and cudaModuleImage's choice of binary.
// GreedyOnTheGpu: the same comparison through Model::load(device cuda), the
// real loader (skipped without a GPU unless BMC_REQUIRE_GPU=1).
//
// Tolerances: f32 caches 1e-4 absolute (the two paths differ in summation
// order only); bf16 caches 2e-3 (each side rounds its own K/V to bf16, values
// that differ in the last f32 bits may round to neighbouring bf16 values).
#include "cuda_emulation.h"

#include <atomic>

// The emulation's stand-in for the device's __trap on a gather index out of
// range (data.cuh): counted, and the test requires none.
static std::atomic<int> gIndexFaults{0};
#define BMC_DATA_INDEX_FAULT(k, n) (void)(k), (void)(n), gIndexFaults.fetch_add(1)

// The order cudaEmittedKernelSource prepends them in.
// clang-format off
#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "runtime/device/cuda/elementwise.cuh"
#include "runtime/device/cuda/data.cuh"
#include BMC_EMITTED_CU_INCLUDE    // the model's .cu (bmc-compile --emit cuda), in the build tree
#include BMC_EMITTED_TABLE_INCLUDE // BMC_EMITTED_TABLE: its entry points
// clang-format on

#include "bmc/session.h"
#include "bmc/speculative.h"
#include "device_backends.h"
#include "emitted_env.h"
#include "runtime/CudaPackage.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CpuDevice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace bmc;
using bmc::device::HostKernel;
using bmc::device::HostLaunch;

#define BMC_EMULATED(name)                                                                                             \
  HostKernel {                                                                                                         \
#name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); }, bmc_emu::argSizes(name),               \
                                                                             bmc_emu::argCount(name)                   \
  }
const HostKernel kTable[] = {BMC_EMITTED_TABLE};

const bool kBf16 = std::string(BMC_MODEL_KV_TYPE) == "bf16";
// concat: both packages compiled with --kv concat (the graph's f32 past/present tensors).
const bool kConcat = std::string(BMC_MODEL_KV_TYPE) == "concat";
const double kTolerance = kBf16 ? 2e-3 : 1e-4;
constexpr int64_t kR = 3, kSteps = 8;

// The package through the seam: a CpuDevice running the emulated kernels of
// the same source. Null (with a test failure) when it does not load or its
// section is not the emitted .cu this binary was compiled with.
std::shared_ptr<Model> loadEmulated() {
  device::ModuleImage image;
  image.format = device::ModuleFormat::HostTable;
  image.hostKernels = kTable;
  image.hostKernelCount = sizeof kTable / sizeof kTable[0];
  auto m = loadCudaPackageOn(BMC_CUDA_PACKAGE, {}, std::make_unique<device::CpuDevice>(), &image);
  if (!m) {
    ADD_FAILURE() << m.status().message();
    return nullptr;
  }
  const DeviceModel *dm = m.value()->deviceModel();
  if (!dm) {
    ADD_FAILURE() << "the CUDA package loaded without a device part";
    return nullptr;
  }
  if (dm->source != bmc_device_test::readEmittedSource(BMC_EMITTED_CU)) {
    ADD_FAILURE() << BMC_CUDA_PACKAGE << ": its CUDA section's source differs from " << BMC_EMITTED_CU
                  << " (bmc-compile --target cuda and --emit cuda with the same options must write the same "
                     "CUDA C): the emulated kernel table would not be the package's kernels";
    return nullptr;
  }
  return m.value();
}

std::shared_ptr<Model> loadCpu() {
  auto m = Model::load(BMC_CPU_PACKAGE);
  if (!m) {
    ADD_FAILURE() << m.status().message();
    return nullptr;
  }
  return m.value();
}

std::unique_ptr<Session> session(const std::shared_ptr<Model> &m, SessionOptions o = {}) {
  if (o.r == 0) o.r = kR;
  auto s = Session::create(m, o);
  if (!s) {
    ADD_FAILURE() << s.status().message();
    return nullptr;
  }
  return std::move(s.value());
}

int64_t argmax(const Tensor &logits) {
  const float *p = logits.data<float>();
  return std::max_element(p, p + logits.numElements()) - p;
}

double gWorst = 0; // the largest logit difference seen, printed

// The device's last logits against the CPU's; the greedy tokens equal (or a
// bf16 near-tie, printed). Returns the CPU's token.
int64_t compareStep(const Session &dev, const Session &cpu, const std::string &at) {
  const Tensor &a = dev.logits(), &b = cpu.logits();
  EXPECT_EQ(a.shape(), b.shape()) << at;
  if (a.shape() != b.shape()) return 0;
  double worst = 0;
  for (int64_t i = 0; i < a.numElements(); ++i)
    worst = std::max(worst, std::fabs(double(a.data<float>()[i]) - double(b.data<float>()[i])));
  EXPECT_LE(worst, kTolerance) << at << ": the largest logit difference";
  gWorst = std::max(gWorst, worst);
  const int64_t t = argmax(b), d = argmax(a);
  if (d != t) {
    std::vector<float> sorted(b.data<float>(), b.data<float>() + b.numElements());
    std::sort(sorted.rbegin(), sorted.rend());
    const bool nearTie = kBf16 && double(sorted[0]) - double(sorted[1]) <= 2 * kTolerance;
    EXPECT_TRUE(nearTie) << at << ": device token " << d << ", CPU token " << t;
    if (nearTie) std::printf("%s: a near-tie: device token %lld, CPU token %lld\n", at.c_str(), (long long)d, (long long)t);
  }
  return t;
}

const std::vector<int64_t> kPrompt = {1, 17, 5, 42, 9};

// A step with one token for a batch of two: one line.
void oneLineStep(Session &s) {
  Status st = s.step({1});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("expected 2 tokens"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

// Prefill + kSteps greedy steps on both; truncate to the prompt + 3 and
// continue: the same tokens as the first time. Returns the tokens.
std::vector<int64_t> greedyAgainstCpu(const std::shared_ptr<Model> &devModel) {
  auto cpuModel = loadCpu();
  if (!cpuModel) return {};
  auto dev = session(devModel), cpu = session(cpuModel);
  if (!dev || !cpu) return {};
  EXPECT_EQ(dev->r(), kConcat ? 0 : kR); // no spare rows in concat mode
  EXPECT_FALSE(dev->adaptiveR());
  EXPECT_EQ(dev->kvMode(), cpu->kvMode());
  for (int64_t t : kPrompt) EXPECT_LT(t, devModel->signature().decoder.vocab);
  Status s = dev->prefill({kPrompt});
  EXPECT_TRUE(s.ok()) << s.message();
  s = cpu->prefill({kPrompt});
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<int64_t> tokens;
  int64_t t = compareStep(*dev, *cpu, "prefill");
  for (int64_t i = 0; i < kSteps; ++i) {
    tokens.push_back(t);
    s = dev->step({t});
    EXPECT_TRUE(s.ok()) << s.message();
    s = cpu->step({t});
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(dev->length(), cpu->length());
    t = compareStep(*dev, *cpu, "step " + std::to_string(i));
  }
  // kR = 3 over 13 tokens: the caches grew by the CPU session's policy
  // (concat: a new buffer per run, the device's from a pool, so rounded up).
  EXPECT_GT(dev->kvStats().reallocations, 0) << "the device caches never grew";
  EXPECT_EQ(dev->kvStats().bytesUsed, cpu->kvStats().bytesUsed);
  if (kConcat) {
    EXPECT_EQ(dev->kvStats().reallocations, cpu->kvStats().reallocations) << "one present per cache per run";
    EXPECT_EQ(dev->kvStats().bytesCopied, cpu->kvStats().bytesCopied) << "the Concats' bytes";
    EXPECT_GE(dev->kvStats().bytesAllocated, cpu->kvStats().bytesAllocated);
  } else {
    EXPECT_EQ(dev->kvStats().bytesAllocated, cpu->kvStats().bytesAllocated);
  }

  // Back to the prompt + 3 tokens, then the same steps again.
  const int64_t keep = int64_t(kPrompt.size()) + 3;
  s = dev->truncate(keep);
  EXPECT_TRUE(s.ok()) << s.message();
  s = cpu->truncate(keep);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dev->length(), keep);
  for (size_t i = 3; i < tokens.size(); ++i) {
    s = dev->step({tokens[i]});
    EXPECT_TRUE(s.ok()) << s.message();
    s = cpu->step({tokens[i]});
    EXPECT_TRUE(s.ok()) << s.message();
    const int64_t again = compareStep(*dev, *cpu, "after truncate, step " + std::to_string(i));
    if (i + 1 < tokens.size()) EXPECT_EQ(again, tokens[i + 1]) << "after truncate, step " << i;
  }

  // generate(): the tokens of the steps above, and the callback sees each.
  GenerateOptions g;
  g.maxNewTokens = kSteps;
  int64_t seen = 0;
  auto gen = dev->generate({kPrompt}, g, [&](int64_t, const std::vector<int64_t> &) { return ++seen > 0; });
  EXPECT_TRUE(gen.ok()) << gen.status().message();
  if (gen.ok()) EXPECT_EQ(gen.value()[0], tokens);
  EXPECT_EQ(seen, kSteps);
  auto cpuGen = cpu->generate({kPrompt}, g);
  EXPECT_TRUE(cpuGen.ok());
  if (gen.ok() && cpuGen.ok()) EXPECT_EQ(gen.value(), cpuGen.value());
  // A stop token ends it as on the CPU.
  g.stopTokens = {tokens[2]};
  auto stopped = dev->generate({kPrompt}, g);
  EXPECT_TRUE(stopped.ok());
  const auto first = std::find(tokens.begin(), tokens.end(), tokens[2]); // its first occurrence
  if (stopped.ok()) EXPECT_EQ(stopped.value()[0], std::vector<int64_t>(tokens.begin(), first + 1));
  EXPECT_EQ(dev->generateStats().stop, GenerateStats::Stop::StopToken);
  return tokens;
}

TEST(DeviceSession, GreedyMatchesTheCpuPackage) {
  auto m = loadEmulated();
  if (!m) return;
  auto tokens = greedyAgainstCpu(m);
  EXPECT_EQ(tokens.size(), size_t(kSteps));
  EXPECT_EQ(gIndexFaults.load(), 0);
  std::printf("device session (%s caches, emulated): tokens", BMC_MODEL_KV_TYPE);
  for (int64_t t : tokens) std::printf(" %lld", (long long)t);
  std::printf("; largest logit difference to the CPU package %.3g (tolerance %.0e)\n", gWorst, kTolerance);
}

TEST(DeviceSession, WhatItCannotDoIsOneLineErrors) {
  auto m = loadEmulated();
  if (!m) return;
  auto oneLine = [](const Status &s, const std::string &want) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  };
  SessionOptions o;
  o.kvMode = kConcat ? "bmc" : "concat"; // the mode the package was not compiled for
  auto other = Session::create(m, o);
  oneLine(other.ok() ? Status() : other.status(), "needs a model compiled with");
  o = SessionOptions();
  o.keepAllLogits = true;
  auto all = Session::create(m, o);
  oneLine(all.ok() ? Status() : all.status(), "keepAllLogits");
  auto run = m->run({});
  oneLine(run.ok() ? Status() : run.status(), "Session");

  auto s = session(m);
  if (!s) return;
  oneLine(s->prefill({kPrompt, {1, 2}}), "equal length");
  oneLine(s->step({1}), "prefill first");
  ASSERT_TRUE(s->prefill({kPrompt}).ok());
  oneLine(s->extend({{1, 2}}), "extend");
  GenerateOptions g;
  g.speculative.drafter = std::make_shared<PromptLookupDrafter>(2);
  auto spec = s->generate({kPrompt}, g);
  oneLine(spec.ok() ? Status() : spec.status(), "speculative");
  oneLine(s->step({m->signature().decoder.vocab}), "outside the vocabulary");
  oneLine(s->truncate(s->length() + 1), "truncate");
  EXPECT_EQ(s->length(), int64_t(kPrompt.size())); // unchanged by the failures
  if (kConcat) return; // prealloc needs a package compiled with in-place caches
  // prealloc runs too (the whole context at once), with the same logits.
  o = SessionOptions();
  o.kvMode = "prealloc";
  o.maxContext = 32;
  auto pre = session(m, o);
  if (!pre) return;
  ASSERT_TRUE(pre->prefill({kPrompt}).ok());
  EXPECT_EQ(pre->kvStats().bytesAllocated * int64_t(kPrompt.size()), pre->kvStats().bytesUsed * 32); // 32 rows at once
  for (int64_t i = 0; i < s->logits().numElements(); ++i)
    ASSERT_NEAR(pre->logits().data<float>()[i], s->logits().data<float>()[i], kTolerance) << i;
}

// A batch of two distinct prompts (of one length, the CPU session's rule):
// every run's logits against the CPU package's batch, each row's greedy
// token the same; generate() gives the CPU's rows.
TEST(DeviceSession, BatchOfTwoMatchesTheCpuPackage) {
  auto m = loadEmulated();
  auto cpuModel = loadCpu();
  if (!m || !cpuModel) return;
  auto dev = session(m), cpu = session(cpuModel);
  if (!dev || !cpu) return;
  const std::vector<std::vector<int64_t>> prompts = {kPrompt, {3, 8, 60, 2, 31}};
  Status s = dev->prefill(prompts);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(cpu->prefill(prompts).ok());
  for (int64_t step = 0; step <= 4; ++step) {
    const Tensor &a = dev->logits(), &b = cpu->logits();
    ASSERT_EQ(a.shape(), b.shape()) << "run " << step;
    ASSERT_EQ(a.shape()[0], 2);
    const int64_t V = a.shape()[1];
    std::vector<int64_t> next;
    for (int64_t row = 0; row < 2; ++row) {
      const float *x = a.data<float>() + row * V, *y = b.data<float>() + row * V;
      double worst = 0;
      for (int64_t i = 0; i < V; ++i) worst = std::max(worst, std::fabs(double(x[i]) - double(y[i])));
      EXPECT_LE(worst, kTolerance) << "run " << step << ", row " << row;
      const int64_t t = std::max_element(y, y + V) - y;
      if (!kBf16) EXPECT_EQ(std::max_element(x, x + V) - x, t) << "run " << step << ", row " << row;
      next.push_back(t);
    }
    if (step == 4) break;
    s = dev->step(next);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(cpu->step(next).ok());
  }
  EXPECT_EQ(dev->kvStats().bytesUsed, cpu->kvStats().bytesUsed);
  oneLineStep(*dev);
  GenerateOptions g;
  g.maxNewTokens = 4;
  auto a = dev->generate(prompts, g), b = cpu->generate(prompts, g);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok());
  if (!kBf16) EXPECT_EQ(a.value(), b.value());
}

// The generation created at load goes to the first session with the model's
// own options (no second upload); another session frees it.
TEST(DeviceSession, TheLoadsGenerationGoesToAMatchingSession) {
  auto m = loadEmulated();
  if (!m) return;
  DeviceModel *dm = m->deviceModel();
  ASSERT_TRUE(dm->spare != nullptr);
  auto own = Session::create(m, {}); // the model's kv mode and r
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_EQ(dm->spare, nullptr);
  EXPECT_EQ(own.value()->r(), kConcat ? 0 : dm->spareOptions.r);
  auto m2 = loadEmulated();
  if (!m2) return;
  auto other = session(m2); // r = 3: its own generation
  ASSERT_TRUE(other);
  EXPECT_EQ(m2->deviceModel()->spare, nullptr);
  ASSERT_TRUE(own.value()->prefill({kPrompt}).ok());
  ASSERT_TRUE(other->prefill({kPrompt}).ok());
  for (int64_t i = 0; i < own.value()->logits().numElements(); ++i) // same prompt, rows the same
    ASSERT_EQ(own.value()->logits().data<float>()[i], other->logits().data<float>()[i]) << i;
}

TEST(DeviceSession, TheBinaryForTheDevice) {
  pkg::CudaSection sec;
  sec.binaries.push_back({"sm_80", "cubin80", "ptx80"});
  sec.binaries.push_back({"sm_90", "cubin90", "ptx90"});
  std::string chosen;
  auto exact = cudaModuleImage(sec, 9, 0, &chosen);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->format, device::ModuleFormat::Cubin);
  EXPECT_EQ(exact->bytes, "cubin90");
  EXPECT_EQ(chosen, "cubin sm_90");
  auto between = cudaModuleImage(sec, 8, 9, &chosen); // sm_89: sm_80's PTX
  ASSERT_TRUE(between.ok());
  EXPECT_EQ(between->format, device::ModuleFormat::Ptx);
  EXPECT_EQ(between->bytes, "ptx80");
  auto newer = cudaModuleImage(sec, 10, 0, &chosen); // sm_100: sm_90's PTX
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(newer->bytes, "ptx90");
  auto older = cudaModuleImage(sec, 7, 5, &chosen);
  ASSERT_FALSE(older.ok());
  EXPECT_NE(older.status().message().find("sm_80, sm_90"), std::string::npos) << older.status().message();
  EXPECT_NE(older.status().message().find("sm_75"), std::string::npos) << older.status().message();
}

// The same through the real loader on GPU 0 (the package's cubin or PTX).
TEST(DeviceSession, GreedyOnTheGpu) {
  {
    auto d = device::CudaDevice::create(0);
    if (!d) {
      if (bmc_device_test::deviceAbsent(d.status().message()) && !bmc_device_test::gpuRequired())
        GTEST_SKIP() << "no GPU: " << d.status().message();
      FAIL() << d.status().message();
    }
  }
  LoadOptions lo;
  lo.device = Target::Cuda;
  auto m = Model::load(BMC_CUDA_PACKAGE, lo);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::printf("%s\n", m.value()->codeDescription().c_str());
  auto tokens = greedyAgainstCpu(m.value());
  EXPECT_EQ(tokens.size(), size_t(kSteps));
}

} // namespace
