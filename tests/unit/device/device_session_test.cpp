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
// continuing gives the first run's tokens again. Speculative decoding on the
// device (SpeculativeMatchesGreedyAndTheCpu): extend's logits against k
// single steps and the CPU package's extend, keepAllLogits' prefill against
// the CPU's; generate() with a drafter gives plain greedy's tokens and the
// CPU's speculative run's tokens and counts. Then the one-line errors of
// what a device session cannot do, the load's generation going to the first
// session with the model's options, and cudaModuleImage's choice of binary.
// GreedyOnTheGpu: the same comparisons (greedy and speculative) through
// Model::load(device cuda), the real loader (skipped without a GPU unless BMC_REQUIRE_GPU=1).
// The JIT: compileOnnx of the same llama.onnx with target cuda and the same
// options, started through its seam (compileOnnxCuda + startCudaJitOn: a
// CpuDevice and the same table): the package's source, weight table and
// weight bytes, and the same greedy tokens as the CPU package and as the CUDA
// package; JitOnTheGpu: compileOnnx itself on GPU 0 (NVRTC for its sm_XY).
//
// Tolerances: f32 caches 1e-4 absolute (the two paths differ in summation
// order only); bf16 caches 2e-3 (each side rounds its own K/V to bf16, values
// that differ in the last f32 bits may round to neighbouring bf16 values).
#include "cuda_emulation.h"


// The model's emitted kernels and kTable, their host emulation's table.
#include "emitted_model_kernels.inc"

#include "bmc/compiler.h"
#include "bmc/cost_model.h"
#include "bmc/session.h"
#include "bmc/speculative.h"
#include "compiler/CompileCuda.h"
#include "device_backends.h"
#include "emitted_env.h"
#include "emitted_model_seam.h"
#include "runtime/CudaJit.h"
#include "runtime/CudaPackage.h"
#include "runtime/DeviceModel.h"
#include "runtime/device/CpuDevice.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace bmc;

const bool kBf16 = std::string(BMC_MODEL_KV_TYPE) == "bf16";
// concat: both packages compiled with --kv concat (the graph's f32 past/present tensors).
const bool kConcat = std::string(BMC_MODEL_KV_TYPE) == "concat";
const double kTolerance = kBf16 ? 2e-3 : 1e-4;
constexpr int64_t kR = 3, kSteps = 8;

// The package through the seam: a CpuDevice running the emulated kernels of
// the same source. Null (with a test failure) when it does not load or its
// section is not the emitted .cu this binary was compiled with.
std::shared_ptr<Model> loadEmulated() {
  device::ModuleImage image = bmc_device_test::hostTableImage(kTable);
  auto m = loadCudaPackageOn(BMC_CUDA_PACKAGE, {}, std::make_unique<device::CpuDevice>(), &image);
  if (!m) {
    ADD_FAILURE() << m.status().message();
    return nullptr;
  }
  return bmc_device_test::runsEmittedSource(m.value(), std::string("the CUDA package ") + BMC_CUDA_PACKAGE,
                                            BMC_EMITTED_CU,
                                            "bmc-compile --target cuda and --emit cuda with the same options");
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
  std::printf("device session (%s caches, emulated): tokens", BMC_MODEL_KV_TYPE);
  for (int64_t t : tokens) std::printf(" %lld", (long long)t);
  std::printf("; largest logit difference to the CPU package %.3g (tolerance %.0e)\n", gWorst, kTolerance);
}

// A drafter replaying the prompt and then `greedy` (plain greedy's tokens from
// kPrompt), each draft kept with probability p and corrupted otherwise (p = 1:
// the target's own tokens, all accepted). Made afresh for each run: it keeps its
// place in the sequence.
std::shared_ptr<Drafter> replayOfGreedy(const std::vector<int64_t> &greedy, double p, uint64_t seed) {
  std::vector<int64_t> replay = kPrompt;
  replay.insert(replay.end(), greedy.begin(), greedy.end());
  return std::make_shared<ReplayDrafter>(std::move(replay), p, seed);
}

// Speculative decoding on the device. extend() of 4 tokens: each row within
// kTolerance of the CPU package's extend and of 4 device single steps;
// keepAllLogits' prefill rows within kTolerance of the CPU's. generate() with
// a drafter (prompt lookup, and a replay of the greedy tokens with 40% of its
// drafts corrupted, so that passes accept some and reject some), k = 3: the
// tokens of plain greedy on the device and of the CPU's speculative run with
// the same drafter, and the CPU's GenerateStats (passes, proposed, accepted).
std::vector<int64_t> speculativeAgainstCpu(const std::shared_ptr<Model> &devModel) {
  auto cpuModel = loadCpu();
  if (!cpuModel) return {};
  SessionOptions all;
  all.keepAllLogits = true;
  // plainDev takes the single steps first, then the generate() runs below.
  auto dev = session(devModel, all), cpu = session(cpuModel, all), plainDev = session(devModel),
       plainCpu = session(cpuModel);
  if (!dev || !cpu || !plainDev || !plainCpu) return {};
  const std::vector<int64_t> drafts = {7, 30, 3, 12};
  EXPECT_TRUE(dev->prefill({kPrompt}).ok());
  EXPECT_TRUE(cpu->prefill({kPrompt}).ok());
  EXPECT_TRUE(plainDev->prefill({kPrompt}).ok());
  auto near = [](const float *a, const float *b, int64_t n, const std::string &at) {
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    EXPECT_LE(worst, kTolerance) << at;
    gWorst = std::max(gWorst, worst);
  };
  const int64_t V = devModel->signature().decoder.vocab, P = int64_t(kPrompt.size());
  EXPECT_EQ(dev->allLogits().shape(), (std::vector<int64_t>{1, P, V}));
  if (dev->allLogits().shape() == cpu->allLogits().shape())
    near(dev->allLogits().data<float>(), cpu->allLogits().data<float>(), P * V, "keepAllLogits prefill");
  Status s = dev->extend({drafts});
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(cpu->extend({drafts}).ok());
  EXPECT_EQ(dev->length(), P + 4);
  EXPECT_EQ(dev->allLogits().shape(), (std::vector<int64_t>{1, 4, V}));
  if (!s.ok() || dev->allLogits().shape() != cpu->allLogits().shape()) return {};
  for (int64_t i = 0; i < 4; ++i) {
    const float *row = dev->allLogits().data<float>() + i * V;
    near(row, cpu->allLogits().data<float>() + i * V, V, "extend row " + std::to_string(i) + " vs the CPU");
    EXPECT_TRUE(plainDev->step({drafts[size_t(i)]}).ok());
    near(row, plainDev->logits().data<float>(), V, "extend row " + std::to_string(i) + " vs a single step");
  }
  near(dev->logits().data<float>(), plainDev->logits().data<float>(), V, "extend's logits()");

  // generate() with drafters, on sessions without keepAllLogits.
  GenerateOptions g;
  g.maxNewTokens = kSteps;
  auto greedy = plainDev->generate({kPrompt}, g);
  EXPECT_TRUE(greedy.ok()) << greedy.status().message();
  if (!greedy.ok()) return {};
  for (int drafter = 0; drafter < 2; ++drafter) {
    auto make = [&]() -> std::shared_ptr<Drafter> {
      if (drafter == 0) return std::make_shared<PromptLookupDrafter>(2);
      return replayOfGreedy(greedy.value()[0], 0.6, 5);
    };
    GenerateOptions sg = g;
    sg.speculative.k = 3;
    sg.speculative.drafter = make();
    const std::string name = sg.speculative.drafter->describe();
    auto d = plainDev->generate({kPrompt}, sg);
    EXPECT_TRUE(d.ok()) << name << ": " << d.status().message();
    const GenerateStats ds = plainDev->generateStats();
    sg.speculative.drafter = make();
    auto c = plainCpu->generate({kPrompt}, sg);
    EXPECT_TRUE(c.ok()) << name << ": " << c.status().message();
    const GenerateStats &cs = plainCpu->generateStats();
    if (!d.ok() || !c.ok()) return {};
    EXPECT_EQ(d.value(), greedy.value()) << name << ": speculative tokens differ from greedy's on the device";
    EXPECT_EQ(d.value(), c.value()) << name << ": the device's speculative tokens differ from the CPU's";
    EXPECT_EQ(ds.targetPasses, cs.targetPasses) << name;
    EXPECT_EQ(ds.draftProposed, cs.draftProposed) << name;
    EXPECT_EQ(ds.draftAccepted, cs.draftAccepted) << name;
    EXPECT_EQ(ds.emitted, cs.emitted) << name;
    EXPECT_EQ(ds.stop, cs.stop) << name;
    if (drafter == 1) { // the replay: some accepted, some rejected
      EXPECT_GT(ds.draftAccepted, 0) << name;
      EXPECT_LT(ds.draftAccepted, ds.draftProposed) << name;
    }
    std::printf("device speculative (%s caches), %s, k=3: %lld passes for %lld tokens, %lld of %lld drafts accepted\n",
                BMC_MODEL_KV_TYPE, name.c_str(), (long long)ds.targetPasses, (long long)ds.emitted,
                (long long)ds.draftAccepted, (long long)ds.draftProposed);
  }
  return greedy.value()[0];
}

TEST(DeviceSession, SpeculativeMatchesGreedyAndTheCpu) {
  auto m = loadEmulated();
  if (!m) return;
  auto tokens = speculativeAgainstCpu(m);
  EXPECT_EQ(tokens.size(), size_t(kSteps));
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
  auto run = m->run({});
  oneLine(run.ok() ? Status() : run.status(), "Session");

  auto s = session(m);
  if (!s) return;
  oneLine(s->prefill({kPrompt, {1, 2}}), "equal length");
  oneLine(s->step({1}), "prefill first");
  ASSERT_TRUE(s->prefill({kPrompt}).ok());
  {
    // k = 0 times passes of up to 8 tokens after at least one: a context of 8 has no room.
    SessionOptions small;
    small.maxContext = 8;
    auto tight = session(m, small);
    if (!tight) return;
    GenerateOptions g;
    g.speculative.drafter = std::make_shared<PromptLookupDrafter>(2);
    g.speculative.k = 0;
    g.speculative.maxK = 2;
    auto spec = tight->generate({kPrompt}, g);
    oneLine(spec.ok() ? Status() : spec.status(), "expected a maximum context of at least 9 tokens, found 8");
  }
  oneLine(s->extend({{1, 2}, {3, 4}}), "expected tokens for 1 sequences");
  oneLine(s->extend({{}}), "at least one token");
  oneLine(s->extend({{1, m->signature().decoder.vocab}}), "outside the vocabulary");
  oneLine(s->extend({std::vector<int64_t>(size_t(s->maxContext()), 1)}), "exceeds the maximum context");
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
  auto own = Session::create(m, {}); // the model's kv mode; no r: the cost model's, on the load's generation
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_EQ(dm->spare, nullptr);
  if (kConcat)
    EXPECT_EQ(own.value()->r(), 0);
  else
    EXPECT_TRUE(own.value()->adaptiveR());
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

// With no r (none given, none compiled in) the device session's cost model
// chooses it from the device's constants. Here they are set on the model
// (DeviceModel::costConstants) so that the choice matters: growth 6x (skip) or 36x (mask) slower
// gives a larger r and fewer growths. Each growth's r is checked against the
// doc's model built here from the signature (L, b, W, blocks, the in-place
// path of the CPU device's growable buffers), and the growth count against a
// plain simulation of the caches' capacity with those r.
TEST(DeviceSession, TheCostModelChoosesRFromTheDevicesConstants) {
  if (kConcat) { // concat mode has no spare rows: no r to choose, so no cost model in the session
    auto m = loadEmulated();
    if (!m) return;
    auto s = Session::create(m, {});
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_FALSE(s.value()->adaptiveR());
    EXPECT_EQ(s.value()->costModelInUse(), nullptr);
    EXPECT_EQ(s.value()->r(), 0);
    return;
  }
  constexpr int64_t kContext = 64, kDecode = 14;
  struct Outcome {
    int64_t lastR = 0, growths = 0;
  };
  auto runWith = [&](double growSeconds) -> Outcome {
    auto m = loadEmulated();
    if (!m) return {};
    const DecoderInfo &d = m->signature().decoder;
    HardwareConstants hw;
    hw.allocSeconds = 1e-9;        // the scratch's A and the block moves: negligible, so that G decides
    hw.copyBytesPerSecond = 1e15;
    hw.readBytesPerSecond = 1e10;
    hw.maskSecondsPerByte = 1e-10; // 1 / BW
    hw.growSeconds = growSeconds;
    hw.growGranularity = 4096;
    hw.device = "a device made up for the test";
    m->deviceModel()->costConstants = hw;
    SessionOptions o;
    o.maxContext = kContext;
    auto s = Session::create(m, o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return {};
    Session &sess = *s.value();
    EXPECT_TRUE(sess.adaptiveR());
    EXPECT_NE(sess.costModelInUse(), nullptr);
    // The model as docs/COST_MODEL.md states it, from the signature.
    KVCostModel ref;
    ref.hw = hw;
    ref.caches = int64_t(d.caches.size());
    ref.rowBytes = d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2);
    ref.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(m->weightBytes());
    ref.mask = d.kvPadding == "mask";
    ref.growInPlace = true; // the CPU device's growable buffers
    Outcome out;
    int64_t cap = 0;
    auto grew = [&](int64_t needed, const std::string &at) {
      if (needed <= cap) return;
      const int64_t r = ref.bestR(needed);
      EXPECT_EQ(sess.r(), r) << at << ": the session's r at a growth to " << needed << " rows";
      cap = std::min(needed + r - 1, kContext);
      ++out.growths;
      out.lastR = r;
    };
    EXPECT_TRUE(sess.prefill({kPrompt}).ok());
    grew(int64_t(kPrompt.size()), "prefill");
    int64_t t = argmax(sess.logits());
    for (int64_t i = 0; i < kDecode; ++i) {
      Status st = sess.step({t});
      EXPECT_TRUE(st.ok()) << st.message();
      grew(sess.length(), "step " + std::to_string(i));
      t = argmax(sess.logits());
    }
    EXPECT_EQ(sess.kvStats().reallocations, out.growths * int64_t(d.caches.size()));
    return out;
  };
  // The two growth costs, scaled to the model so that r lands in [2, 64):
  // skip: r = L G / (eps S) ~ L G BW / (0.01 W); mask: r = sqrt(4 G BW / b).
  auto m = loadEmulated();
  if (!m) return;
  const DecoderInfo &d = m->signature().decoder;
  const double b = double(d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2));
  const double L = double(d.caches.size());
  const double W = double(d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(m->weightBytes()));
  auto growFor = [&](double r) {
    return d.kvPadding == "mask" ? r * r * b / (4 * 1e10) : r * 0.01 * W / (L * 1e10);
  };
  Outcome fast = runWith(growFor(2)), slow = runWith(growFor(12));
  std::printf("device session, r from the cost model (%s padding): fast growth r=%lld in %lld growths, slow growth "
              "r=%lld in %lld growths\n", d.kvPadding.c_str(), (long long)fast.lastR, (long long)fast.growths,
              (long long)slow.lastR, (long long)slow.growths);
  EXPECT_LT(fast.lastR, slow.lastR);
  EXPECT_GT(fast.growths, slow.growths);
  EXPECT_GE(fast.lastR, 2);
  EXPECT_LT(slow.lastR, kContext);
}

// The speculative draft length k = 0: the cost model's choice from the
// model's verification passes timed on the device (DeviceModel::passCosts).
// Pass costs set beforehand (as a measurement would leave them, with the
// device's constants making reallocation and spare rows free), so that the
// extra cost of a row is c per byte streamed, X(rows) = c * (rows - 1): with
// c = 0 (fast extra rows) k is maxK, with a row costing twice a step k is 1; each run's last k equals a plain loop over k in 1..maxK of the documented
// T = (P(n, k + 1) + k D) / E(k, alpha) at every context the run passed (the
// replay drafter proposes the target's own tokens, so alpha = 1 after the
// first pass; its drafts are free, D = 0), and the tokens are plain greedy's.
constexpr int64_t kSpecSteps = 12, kMaxK = 3;

std::vector<int64_t> greedyTokens(const std::shared_ptr<Model> &m, int64_t n) {
  auto s = session(m);
  if (!s) return {};
  GenerateOptions g;
  g.maxNewTokens = n;
  auto r = s->generate({kPrompt}, g);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value()[0] : std::vector<int64_t>{};
}

// The k = 0 runs' set-up (the tests below): a session of 64 positions on m,
// null with a test failure when there is none, and generate()'s options of
// kSpecSteps tokens, k chosen by the session (at most kMaxK), the drafts a
// replay of `greedy` that is always right.
std::unique_ptr<Session> kZeroSession(const std::shared_ptr<Model> &m) {
  SessionOptions o;
  o.maxContext = 64;
  return session(m, o);
}
GenerateOptions kZeroOptions(const std::vector<int64_t> &greedy) {
  GenerateOptions g;
  g.maxNewTokens = kSpecSteps;
  g.speculative.drafter = replayOfGreedy(greedy, 1.0, 3);
  g.speculative.k = 0;
  g.speculative.maxK = kMaxK;
  return g;
}

TEST(DeviceSession, TheCostModelChoosesKFromTheModelsPassesOnTheDevice) {
  auto base = loadEmulated();
  if (!base) return;
  const std::vector<int64_t> greedy = greedyTokens(base, kSpecSteps);
  ASSERT_EQ(greedy.size(), size_t(kSpecSteps));
  const DecoderInfo &d = base->signature().decoder;
  const double BW = 1e10, L = double(d.caches.size());
  const double b = double(d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2));
  const double W = double(d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(base->weightBytes()));
  const int64_t n0 = 32;
  auto bytes = [&](int64_t n) { return W + double(n) * L * b; };
  const double t1 = 2.0 * bytes(n0) / BW; // a step: its bytes streamed plus as much again of fixed cost
  // The documented choice, at context n and acceptance alpha, by a plain loop.
  auto loopK = [&](double c, int64_t n, double alpha) {
    const double S = t1 - bytes(n0) / BW + bytes(n) / BW;
    int64_t best = 0;
    double bestT = 0;
    for (int64_t k = 1; k <= kMaxK; ++k) {
      double E = 0, p = 1;
      for (int64_t i = 0; i <= k; ++i, p *= alpha) E += p;
      const double T = (S + c * double(k) * bytes(n)) / E;
      if (best == 0 || T < bestT) best = k, bestT = T;
    }
    return best;
  };
  auto runWith = [&](double c) -> int64_t {
    auto m = loadEmulated();
    if (!m) return 0;
    HardwareConstants hw; // reallocation and spare rows free: the pass alone decides
    hw.allocSeconds = 0;
    hw.copyBytesPerSecond = 1e300;
    hw.readBytesPerSecond = BW;
    hw.maskSecondsPerByte = 0;
    hw.growSeconds = 0;
    hw.growGranularity = 4096;
    hw.device = "a device made up for the test";
    m->deviceModel()->costConstants = hw;
    device::DevicePassCosts p;
    p.context = n0;
    p.stepSeconds = t1;
    for (int i = 0; i < 4; ++i) p.passSeconds[i] = t1 + c * double(HardwareConstants::kPassRows[i] - 1) * bytes(n0);
    m->deviceModel()->passCosts = p;
    auto s = kZeroSession(m);
    if (!s) return 0;
    auto r = s->generate({kPrompt}, kZeroOptions(greedy));
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return 0;
    EXPECT_EQ(r.value()[0], greedy) << "c = " << c << ": speculative tokens differ from greedy's";
    const GenerateStats &st = s->generateStats();
    EXPECT_GE(st.targetPasses, 2) << "c = " << c; // the last pass saw alpha = 1
    EXPECT_EQ(st.draftAccepted, st.draftProposed) << "c = " << c;
    for (int64_t n = int64_t(kPrompt.size()); n < s->length(); ++n)
      EXPECT_EQ(st.lastK, loopK(c, n, 1.0)) << "c = " << c << ", context " << n;
    std::printf("device speculative k = 0, extra rows at %.3g s/byte each: k = %lld in %lld passes for %lld tokens\n",
                c, (long long)st.lastK, (long long)st.targetPasses, (long long)st.emitted);
    return st.lastK;
  };
  const double fast = runWith(0), slow = runWith(4.0 / BW); // a row costs 4x its bytes' streaming, 2x a step
  EXPECT_EQ(fast, kMaxK);
  EXPECT_EQ(slow, 1);
}

// The next two run in device.session_f32 only (BMC_SESSION_SPEC_TIMING): in the
// emulation a pass takes 1-2 s on a loaded 2-core machine, and the timing runs
// ~35 of them; the bf16 and concat binaries add nothing to what they test
// (the pass-cost conversion and the draft pairing are the same code), and
// .ci/sanitize.sh's ASan sample is device.session_bf16, which stays in its limit.
#if BMC_SESSION_SPEC_TIMING
// The same with nothing set beforehand: the session times the model's passes
// on the (emulated) device, once per model; the chosen k is bestK's over the
// model those timings make (withDevicePassCosts), the tokens plain greedy's.
TEST(DeviceSession, KZeroTimesTheModelsPassesOnTheDevice) {
  auto m = loadEmulated();
  if (!m) return;
  const std::vector<int64_t> greedy = greedyTokens(m, kSpecSteps);
  ASSERT_EQ(greedy.size(), size_t(kSpecSteps));
  auto s = kZeroSession(m);
  if (!s) return;
  auto r = s->generate({kPrompt}, kZeroOptions(greedy));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0], greedy);
  const DeviceModel &dm = *m->deviceModel();
  ASSERT_TRUE(dm.passCosts.has_value());
  ASSERT_TRUE(dm.costConstants.has_value());
  const device::DevicePassCosts p = *dm.passCosts;
  EXPECT_EQ(p.context, 32);
  EXPECT_GT(p.stepSeconds, 0);
  for (double t : p.passSeconds) EXPECT_GE(t, p.stepSeconds);
  const GenerateStats &st = s->generateStats();
  EXPECT_GE(st.lastK, 1);
  EXPECT_LE(st.lastK, kMaxK);
  const DecoderInfo &d = m->signature().decoder;
  KVCostModel ref;
  ref.hw = *dm.costConstants;
  ref.caches = int64_t(d.caches.size());
  ref.rowBytes = d.caches[0].heads * d.caches[0].headDim * (d.kvType == "f32" ? 4 : 2);
  ref.weightBytes = d.weightBytesPerToken > 0 ? d.weightBytesPerToken : int64_t(m->weightBytes());
  ref.mask = d.kvPadding == "mask";
  ref.growInPlace = !kConcat; // the CPU device's growable buffers hold the in-place caches
  ref = withDevicePassCosts(ref, p);
  // The last pass chose at some context in the run, alpha = 1 (all accepted): one of these.
  std::vector<int64_t> ks;
  for (int64_t n = int64_t(kPrompt.size()); n < s->length(); ++n) ks.push_back(ref.bestK(n, 1.0, kMaxK));
  EXPECT_NE(std::find(ks.begin(), ks.end(), st.lastK), ks.end()) << "k = " << st.lastK;
  std::printf("device speculative k = 0, passes timed on the emulation at context %lld: 1 token %.3g ms, 2/4/5/8 tokens "
              "%.3g/%.3g/%.3g/%.3g ms; k = %lld in %lld passes\n", (long long)p.context, p.stepSeconds * 1e3,
              p.passSeconds[0] * 1e3, p.passSeconds[1] * 1e3, p.passSeconds[2] * 1e3, p.passSeconds[3] * 1e3,
              (long long)st.lastK, (long long)st.targetPasses);
  // Timed once per model: a second session's run uses them as they are.
  auto s2 = kZeroSession(m);
  if (!s2) return;
  auto r2 = s2->generate({kPrompt}, kZeroOptions(greedy));
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ(r2.value()[0], greedy);
  EXPECT_EQ(m->deviceModel()->passCosts->stepSeconds, p.stepSeconds);
}

// A draft model in the same process as the target on the (emulated) device:
// the CPU package on the CPU, and the CUDA package on a device of its own
// (loaded again), with a given k and with k = 0 (pass costs set beforehand,
// extra rows free: the timing is the test above's). The draft is the
// target's own weights, so it proposes the target's tokens: plain greedy's
// tokens, drafts accepted.
TEST(DeviceSession, ADraftModelOnTheCpuOrOnTheDevice) {
  auto target = loadEmulated();
  auto onCpu = loadCpu(), onDevice = loadEmulated();
  if (!target || !onCpu || !onDevice) return;
  ASSERT_EQ(onCpu->deviceModel(), nullptr);
  ASSERT_NE(onDevice->deviceModel(), nullptr);
  const std::vector<int64_t> greedy = greedyTokens(target, kSteps);
  device::DevicePassCosts free;
  free.context = 32;
  free.stepSeconds = 1e-3;
  for (double &t : free.passSeconds) t = free.stepSeconds;
  target->deviceModel()->passCosts = free;
  for (const auto &[draft, where] : {std::make_pair(onCpu, "cpu"), std::make_pair(onDevice, "device")}) {
    for (int64_t k : {3, 0}) {
      SessionOptions o;
      o.maxContext = 64;
      auto s = session(target, o);
      if (!s) return;
      GenerateOptions g;
      g.maxNewTokens = kSteps;
      SessionOptions dso;
      dso.maxContext = s->maxContext();
      g.speculative.drafter = std::make_shared<ModelDrafter>(draft, dso, std::string("draft on the ") + where);
      g.speculative.k = k;
      auto r = s->generate({kPrompt}, g);
      ASSERT_TRUE(r.ok()) << where << ", k = " << k << ": " << r.status().message();
      EXPECT_EQ(r.value()[0], greedy) << "draft on the " << where << ", k = " << k;
      const GenerateStats &st = s->generateStats();
      EXPECT_GT(st.draftAccepted, 0) << where << ", k = " << k;
      if (!kBf16) EXPECT_EQ(st.draftAccepted, st.draftProposed) << where << ", k = " << k; // bf16: near-ties may differ
      std::printf("device target, draft on the %s, k = %lld: %lld passes for %lld tokens, %lld of %lld drafts "
                  "accepted, last k %lld\n", where, (long long)k, (long long)st.targetPasses, (long long)st.emitted,
                  (long long)st.draftAccepted, (long long)st.draftProposed, (long long)st.lastK);
    }
  }
}
#endif // BMC_SESSION_SPEC_TIMING

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

// compileOnnx's options for the JIT: those the packages were compiled with
// (tests/unit/device/CMakeLists.txt: --kv-type, --kv-padding).
CompileOptions jitOptions(std::vector<std::string> *said) {
  CompileOptions o;
  o.target = Target::Cuda;
  if (kConcat) { // the packages' --kv concat --kv-type f32
    o.kvMode = KVMode::Concat;
    o.kvType = KVType::F32;
  } else {
    EXPECT_TRUE(parseKVType(BMC_MODEL_KV_TYPE, o.kvType));
  }
  EXPECT_TRUE(parseKVPadding(BMC_MODEL_KV_PADDING, o.kvPadding));
  if (said) {
    o.progress = [said](const std::string &m) { said->push_back("progress: " + m); };
    o.remarks = [said](const std::string &m) { said->push_back("remark: " + m); };
  }
  return o;
}

// The JIT of llama.onnx through the seam: the CpuDevice and this binary's table.
std::shared_ptr<Model> jitEmulated(std::vector<std::string> *said = nullptr) {
  return bmc_device_test::jitOnHostTable(BMC_MODEL_ONNX, jitOptions(said), kTable);
}

// The JIT's model is the CUDA package's: the same CUDA C, weight table and
// weight bytes, the same device program; its greedy tokens are the CPU
// package's and the CUDA package's.
TEST(DeviceSession, TheJitIsTheCudaPackage) {
  std::vector<std::string> said;
  auto jit = jitEmulated(&said);
  auto pkgModel = loadEmulated();
  if (!jit || !pkgModel) return;
  const DeviceModel *j = jit->deviceModel(), *p = pkgModel->deviceModel();
  ASSERT_NE(j, nullptr) << "the JIT's model has no device part";
  EXPECT_EQ(j->binary, "host table (JIT)");
  EXPECT_EQ(j->source, p->source) << "the JIT's CUDA C is not the package's";
  EXPECT_EQ(j->function, p->function);
  EXPECT_EQ(j->weightBytes, p->weightBytes);
  ASSERT_EQ(j->weightTable.size(), p->weightTable.size());
  for (size_t i = 0; i < p->weightTable.size(); ++i) {
    const pkg::CudaWeight &a = j->weightTable[i], &b = p->weightTable[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.dims, b.dims);
    EXPECT_EQ(a.offset, b.offset) << a.name;
    ASSERT_EQ(a.bytes, b.bytes) << a.name;
    EXPECT_EQ(std::memcmp(j->weights.get() + a.offset, p->weights.get() + b.offset, a.bytes), 0)
        << a.name << ": the JIT's bytes differ from the package's";
  }
  EXPECT_EQ(jit->signature().decoder.kvMode, pkgModel->signature().decoder.kvMode);
  EXPECT_EQ(jit->signature().decoder.kvType, pkgModel->signature().decoder.kvType);
  EXPECT_NE(std::find(said.begin(), said.end(), "progress: emit CUDA C"), said.end());
  EXPECT_NE(std::find(said.begin(), said.end(), "progress: lay out the weights"), said.end());
  for (const std::string &m : said) EXPECT_EQ(m.find("NVRTC"), std::string::npos) << m << " (the seam compiles nothing)";

  gWorst = 0;
  auto jitTokens = greedyAgainstCpu(jit);
  auto pkgTokens = greedyAgainstCpu(pkgModel);
  EXPECT_EQ(jitTokens.size(), size_t(kSteps));
  EXPECT_EQ(jitTokens, pkgTokens) << "the JIT's tokens are not the CUDA package's";
  std::printf("JIT (%s caches, emulated): tokens", BMC_MODEL_KV_TYPE);
  for (int64_t t : jitTokens) std::printf(" %lld", (long long)t);
  std::printf(", the CUDA package's and the CPU package's; largest logit difference %.3g\n", gWorst);
}

// What the JIT refuses is one line, before any device is opened.
TEST(DeviceSession, TheJitsErrors) {
  bool started = false;
  auto start = [&](pkg::CudaJitParts) -> Result<std::shared_ptr<Model>> {
    started = true;
    return Status::error("not reached");
  };
  CompileOptions o = jitOptions(nullptr);
  o.activations = ActivationFormat::Int8;
  auto act = compileOnnxCuda(BMC_MODEL_ONNX, o, start);
  ASSERT_FALSE(act);
  EXPECT_NE(act.status().message().find("target cuda: activations int8 have no CUDA form"), std::string::npos)
      << act.status().message();
  EXPECT_EQ(act.status().message().find('\n'), std::string::npos);
  // The runtime's error comes back with the model's path in front.
  auto failed = compileOnnxCuda(BMC_MODEL_ONNX, jitOptions(nullptr), [](pkg::CudaJitParts) {
    return Result<std::shared_ptr<Model>>(Status::error("device cuda: no libcuda.so.1"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().message(), std::string(BMC_MODEL_ONNX) + ": device cuda: no libcuda.so.1");
  EXPECT_FALSE(started);
}

// compileOnnx itself on GPU 0: NVRTC for its sm_XY (cached), then the tokens
// of the CPU package.
TEST(DeviceSession, JitOnTheGpu) {
  {
    auto d = device::CudaDevice::create(0);
    if (!d) {
      if (bmc_device_test::deviceAbsent(d.status().message()) && !bmc_device_test::gpuRequired())
        GTEST_SKIP() << "no GPU: " << d.status().message();
      FAIL() << d.status().message();
    }
  }
  std::vector<std::string> said;
  auto m = compileOnnx(BMC_MODEL_ONNX, jitOptions(&said));
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const std::string &s : said)
    if (s.find("NVRTC") != std::string::npos) std::printf("%s\n", s.c_str());
  std::printf("%s\n", m.value()->codeDescription().c_str());
  auto tokens = greedyAgainstCpu(m.value());
  EXPECT_EQ(tokens.size(), size_t(kSteps));
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
  auto spec = speculativeAgainstCpu(m.value());
  EXPECT_EQ(spec.size(), size_t(kSteps));
}

} // namespace
