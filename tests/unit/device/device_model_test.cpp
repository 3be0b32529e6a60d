// A whole generated model as a CUDA program, end to end: the tiny 2-layer
// decoder of one family (tests/models/bmc_modelgen.py) or of one of
// onnxruntime-genai's builder forms (genai_mha, genai_gqa, genai_gqa_lengths:
// tests/models/make_genai_models.py), made at build time (the real HF exports
// run in device_hf_test.cpp), emitted by bmc-compile --emit cuda (BMC_MODEL_KV_TYPE f32 with skip
// padding, bf16 or f16 with mask padding), its kernels compiled here as host C++
// (the emulation's kernel table, generated from the .cu by
// emitted_table.cmake), run by runtime/device/DeviceGeneration on the CPU
// device with the weights read from the ONNX file's initializers by name;
// against bmc's CPU path for the same file and options (compileOnnx + Session
// through the public API: LLVM JIT and Xbyak kernels, itself checked against
// onnxruntime by the e2e.generated tests). A 5-token prefill and 8 greedy
// decode steps with r = 2 (both sides' caches grow 4 times after the
// prefill's): every run's last-position logits within the stated tolerance
// and the greedy tokens identical (each side feeds its own choice, so a
// differing token shows as a failure, not as a drift); then the same decode
// steps as a device graph against direct runs, byte for byte
// (GraphedDecodeEqualsDirect); GreedyOnTheGpu, the first on NVRTC's build
// through CudaDevice (skipped without a GPU; never run here). llama and gpt2
// also with f16 caches preallocated at the maximum context (mask padding).
// OutOfRangeIdWithoutVocabIsOneLine: with the signature's vocab cleared, a
// bad token id is refused by the program's host check of the embedding
// gather's indices, before any launch.
// The tolerances (docs/DESIGN.md, CUDA programs): f32 caches 1e-4 absolute
// (the two paths differ only in summation order; seen: at most 4.2e-6).
// 16-bit caches: each side rounds its own K/V, so an element within the
// paths' f32 difference of a rounding tie may round to the neighbouring
// value, and that row keeps the difference (seen with f16: 2.4e-4 on llama
// from its 9th row on, 2e-6 before; one bf16 ulp is 8 f16 ulps): f16 1e-3,
// bf16 5e-3 (seen: at most 4.1e-6, no flip on these prompts). The bf16
// rounding itself moves these logits by 3.3e-3 (gpt2), 3.7e-3 (opt), 6.3e-3
// (gptneox) and 3.2e-2 to 3.5e-2 (llama, phi3, mistral, qwen2) against f32
// caches: a device that skipped it, or a reference that did, fails the bf16
// runs of those five (checked: each bf16 program against f32 CPU caches).
#include "cuda_emulation.h"


// The model's emitted kernels and kTable, their host emulation's table.
#include "emitted_model_kernels.inc"

#include "bmc/compiler.h"
#include "bmc/session.h"
#include "emitted_env.h"
#include "runtime/device/DeviceGeneration.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace bmc::device;

// f32: bmc mode, skip padding; bf16: bmc mode, mask padding; f16: prealloc
// (the maximum context at once), mask padding; concat: the graph's f32
// past/present tensors (compiled with --kv concat), a new buffer per run.
const std::string kKV = BMC_MODEL_KV_TYPE;
const bool kBf16 = kKV == "bf16", kF16 = kKV == "f16", kPrealloc = kF16, kConcat = kKV == "concat";
const char *const kMode = kConcat ? "concat" : kPrealloc ? "prealloc" : "bmc";
const double kTolerance = kKV == "f32" || kConcat ? 1e-4 : kF16 ? 1e-3 : 5e-3;
constexpr int64_t kR = 2, kMaxContext = 64, kSteps = 8;

// The ONNX file's initializers by name, as the program's weights (f32, i64
// and bool, raw or typed fields); anything else is an error naming it, as is
// external data (the generated tiny models hold theirs inline).
bmc::Result<std::map<std::string, HostTensor>> onnxWeights(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in))
    return bmc::Status::error(path + ": not a readable ONNX model");
  std::map<std::string, HostTensor> out;
  for (const onnx::TensorProto &t : model.graph().initializer()) {
    HostTensor h;
    h.dims.assign(t.dims().begin(), t.dims().end());
    int64_t count = 1;
    for (int64_t d : h.dims)
      count *= d;
    size_t width;
    if (t.data_type() == onnx::TensorProto::FLOAT)
      h.type = "f32", width = 4;
    else if (t.data_type() == onnx::TensorProto::INT64)
      h.type = "i64", width = 8;
    else if (t.data_type() == onnx::TensorProto::BOOL) // the static-cache mask's True
      h.type = "i1", width = 1;
    else
      return bmc::Status::error(path + ": initializer '" + t.name() + "' of ONNX type " +
                                std::to_string(t.data_type()) + " (the test reads f32, i64 and bool)");
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      return bmc::Status::error(path + ": initializer '" + t.name() + "' in external data");
    h.bytes.resize(size_t(count) * width);
    if (t.has_raw_data()) {
      if (t.raw_data().size() != h.bytes.size())
        return bmc::Status::error(path + ": initializer '" + t.name() + "' has " +
                                  std::to_string(t.raw_data().size()) + " bytes, expected " +
                                  std::to_string(h.bytes.size()));
      std::memcpy(h.bytes.data(), t.raw_data().data(), h.bytes.size());
    } else if (h.type == "f32" && t.float_data_size() == count)
      std::memcpy(h.bytes.data(), t.float_data().data(), h.bytes.size());
    else if (h.type == "i64" && t.int64_data_size() == count)
      std::memcpy(h.bytes.data(), t.int64_data().data(), h.bytes.size());
    else if (h.type == "i1" && t.int32_data_size() == count) // ONNX keeps typed bools in int32_data
      for (int64_t i = 0; i < count; ++i) h.bytes[size_t(i)] = t.int32_data(int(i)) != 0;
    else
      return bmc::Status::error(path + ": initializer '" + t.name() + "' has no data of its size");
    out[t.name()] = std::move(h);
  }
  return out;
}

// The CPU path's last-position logits of batch row 0.
std::vector<float> cpuLogits(const bmc::Session &s) {
  const bmc::Tensor &t = s.logits();
  int64_t vocab = t.shape().back();
  return std::vector<float>(t.data<float>(), t.data<float>() + vocab);
}

int64_t argmax(const std::vector<float> &v) {
  return int64_t(std::max_element(v.begin(), v.end()) - v.begin()); // the first maximum, as greedy
}

// The CPU path's model (the reference, and the decoder signature the device
// generation is fed by), compiled once per process with the emitter's options.
// With `inPlaceBmc`, the CPU path in bmc mode whatever this binary's mode (a
// concat run's tokens against bmc's).
bmc::Result<std::shared_ptr<bmc::Model>> cpuModel(bool inPlaceBmc = false) {
  auto compile = [](bool bmcMode) {
    bmc::CompileOptions co;
    co.kvMode = bmcMode ? bmc::KVMode::BMC
                : kConcat ? bmc::KVMode::Concat
                : kPrealloc ? bmc::KVMode::Prealloc
                            : bmc::KVMode::BMC;
    co.kvType = kBf16 ? bmc::KVType::BF16 : kF16 ? bmc::KVType::F16 : bmc::KVType::F32;
    co.kvPadding = kKV == "f32" || kConcat ? bmc::KVPadding::Skip : bmc::KVPadding::Mask;
    co.threads = 1;
    return bmc::compileOnnx(BMC_MODEL_ONNX, co);
  };
  static bmc::Result<std::shared_ptr<bmc::Model>> model = compile(false);
  if (!inPlaceBmc)
    return model;
  static bmc::Result<std::shared_ptr<bmc::Model>> bmcModel = compile(true);
  return bmcModel;
}

std::vector<int64_t> prompt(int64_t vocab) {
  return {7 % vocab, 100 % vocab, 3 % vocab, 411 % vocab, 29 % vocab};
}

// The program on the emulation (gpu false) or on NVRTC's build for device 0
// (gpu true: `env.skip()` without a GPU), as a DeviceGeneration.
struct DeviceRun {
  bmc_device_test::EmittedEnv env;
  DeviceDecoderSignature sig;
  std::unique_ptr<DeviceGeneration> gen;
  std::string error; // why there is no generation
  int64_t modelVocab = 0; // the signature's, also when `withoutVocab` cleared it
  // withoutVocab: the signature's vocab cleared, so DeviceGeneration does not
  // check the ids (the program's own check of host-fed gather indices must).
  explicit DeviceRun(bool graphDecode, bool gpu = false, bool withoutVocab = false)
      : env(gpu, kTable, BMC_EMITTED_CU) {
    if (!env.launcher) {
      error = env.error;
      return;
    }
    auto model = cpuModel();
    auto weights = onnxWeights(BMC_MODEL_ONNX);
    auto s = model ? DeviceDecoderSignature::fromModel(model.value()->signature())
                   : bmc::Result<DeviceDecoderSignature>(model.status());
    if (!weights || !s) {
      error = !weights ? weights.status().message() : s.status().message();
      return;
    }
    sig = s.value();
    modelVocab = sig.vocab;
    if (withoutVocab)
      sig.vocab = 0;
    DeviceGenerationOptions go;
    go.kvMode = kMode;
    go.r = kR, go.maxContext = kMaxContext, go.graphDecode = graphDecode;
    auto g = DeviceGeneration::create(*env.device, *env.launcher, env.src, "main", weights.value(), sig, go);
    if (!g)
      error = g.status().message();
    else
      gen = std::move(g.value());
  }
  int64_t vocab() const { return sig.vocab > 0 ? sig.vocab : 512; }
};

void greedyAgainstCpuPath(bool gpu) {
  SCOPED_TRACE(std::string(BMC_MODEL_NAME) + ", " + BMC_MODEL_KV_TYPE + " caches" + (gpu ? ", on the GPU" : ""));
  DeviceRun device(false, gpu);
  BMC_EMITTED_ENV_OR_SKIP(device.env);
  ASSERT_TRUE(device.gen) << device.error;
  auto model = cpuModel();
  ASSERT_TRUE(model) << model.status().message();
  bmc::SessionOptions so;
  so.kvMode = kMode, so.r = kR, so.maxContext = kMaxContext;
  auto session = bmc::Session::create(model.value(), so);
  ASSERT_TRUE(session) << session.status().message();
  // concat: the CPU path in bmc mode too, its greedy tokens the same.
  std::unique_ptr<bmc::Session> inPlace;
  if (kConcat) {
    auto m = cpuModel(true);
    ASSERT_TRUE(m) << m.status().message();
    bmc::SessionOptions bo;
    bo.kvMode = "bmc", bo.r = kR, bo.maxContext = kMaxContext;
    auto b = bmc::Session::create(m.value(), bo);
    ASSERT_TRUE(b) << b.status().message();
    inPlace = std::move(b.value());
  }
  DeviceGeneration &gen = *device.gen;

  const std::vector<int64_t> first = prompt(device.vocab());
  double worst = 0;
  int64_t growths = 0, lastCapacity = 0;
  for (int64_t step = 0; step <= kSteps; ++step) {
    bmc::Result<DeviceGenerationStep> d = bmc::Status::error("not run");
    bmc::Status c;
    if (step == 0) {
      c = session.value()->prefill({first});
      d = gen.prefill(first);
      if (inPlace)
        ASSERT_TRUE(inPlace->prefill({first}));
    } else {
      int64_t token = argmax(cpuLogits(*session.value())); // the device's too: asserted equal below
      c = session.value()->step({token});
      d = gen.step(token);
      if (inPlace)
        ASSERT_TRUE(inPlace->step({token}));
    }
    ASSERT_TRUE(c) << "step " << step << " (CPU): " << c.message();
    ASSERT_TRUE(d) << "step " << step << " (device): " << d.status().message();
    std::vector<float> want = cpuLogits(*session.value());
    ASSERT_EQ(d->logits.size(), want.size()) << "step " << step;
    double diff = 0;
    for (size_t i = 0; i < want.size(); ++i)
      diff = std::max(diff, double(std::fabs(d->logits[i] - want[i])));
    worst = std::max(worst, diff);
    EXPECT_LE(diff, kTolerance) << "step " << step << ": max |logit difference|";
    ASSERT_EQ(d->token, argmax(want)) << "step " << step << ": greedy tokens differ (max |diff| " << diff << ")";
    if (inPlace)
      ASSERT_EQ(d->token, argmax(cpuLogits(*inPlace))) << "step " << step << ": concat's token is not bmc mode's";
    if (kConcat) { // each cache is the present of exactly the tokens so far
      const DeviceConcatCaches *cc = gen.concatCaches();
      ASSERT_TRUE(cc);
      for (size_t i = 0; i < cc->size(); ++i)
        ASSERT_EQ(cc->rows(i).dims, (std::vector<int64_t>{1, cc->spec(i).heads, gen.length(), cc->spec(i).headDim}))
            << "step " << step << ", cache " << cc->spec(i).past;
      continue;
    }
    if (step > 0 && gen.cache(0).capacity() != lastCapacity)
      ++growths;
    lastCapacity = gen.cache(0).capacity();
  }
  EXPECT_EQ(gen.length(), int64_t(first.size()) + kSteps);
  if (kConcat)
    EXPECT_EQ(gen.caches(), size_t(0)) << "concat: no in-place caches";
  else if (kPrealloc)
    EXPECT_EQ(growths, 0) << "prealloc: the maximum context at the prefill";
  else
    EXPECT_EQ(growths, 4) << "the caches should grow every r = " << kR << " tokens";
  std::printf("%s (%s caches%s): %lld runs, greatest |logit difference| %.3g (tolerance %.0e), %lld growths\n",
              BMC_MODEL_NAME, BMC_MODEL_KV_TYPE, gpu ? ", GPU" : "", (long long)kSteps + 1, worst, kTolerance,
              (long long)growths);
}

TEST(DeviceModel, GreedyMatchesCpuPath) { greedyAgainstCpuPath(false); }

// The same on a GPU: NVRTC's build of the .cu through CudaDevice (the caches in
// VMM ranges, prefill products through cuBLASLt); skipped without one, a
// failure with BMC_REQUIRE_GPU=1 (benchmarks/gpu_check.sh). Never run here.
TEST(DeviceModel, GreedyOnTheGpu) { greedyAgainstCpuPath(true); }

// The decode steps as one device graph (captured by the first step, updated in
// place after, re-captured where a growth changes the launches): the same
// logits as direct runs, byte for byte.
TEST(DeviceModel, GraphedDecodeEqualsDirect) {
  SCOPED_TRACE(std::string(BMC_MODEL_NAME) + ", " + BMC_MODEL_KV_TYPE + " caches");
  DeviceRun direct(false), graphed(true);
  ASSERT_TRUE(direct.gen) << direct.error;
  ASSERT_TRUE(graphed.gen) << graphed.error;
  const std::vector<int64_t> first = prompt(direct.vocab());
  auto a = direct.gen->prefill(first), b = graphed.gen->prefill(first);
  size_t updated = 0, captures = 0;
  for (int64_t step = 0; step <= kSteps; ++step) {
    if (step > 0) {
      ASSERT_TRUE(a) << a.status().message();
      int64_t token = a->token;
      a = direct.gen->step(token), b = graphed.gen->step(token);
    }
    ASSERT_TRUE(a) << "step " << step << " (direct): " << a.status().message();
    ASSERT_TRUE(b) << "step " << step << " (graph): " << b.status().message();
    EXPECT_EQ(b->logits, a->logits) << "step " << step;
    if (step == 1)
      EXPECT_TRUE(b->graph.captured) << "the first decode step captures the graph";
    if (step > 1)
      updated += !b->graph.captured && b->graph.updated > 0;
    captures += b->graph.captured;
  }
  EXPECT_GE(updated, size_t(1)) << "some steps update the captured graph in place";
  std::printf("%s (%s caches): %lld decode steps as a graph, %zu captures, %zu updated in place\n", BMC_MODEL_NAME,
              BMC_MODEL_KV_TYPE, (long long)kSteps, captures, updated);
}

// Without a vocab in the signature, an out-of-range token id reaches the
// program: its embedding gather's indices are the fed input_ids (host data),
// so the program refuses them before any launch, one line naming the input
// and the Gather node, before the kernel could record a fault (data.cuh);
// a negative id past -vocab likewise; the generation goes on after it.
TEST(DeviceModel, OutOfRangeIdWithoutVocabIsOneLine) {
  DeviceRun run(false, false, /*withoutVocab=*/true);
  ASSERT_TRUE(run.gen) << run.error;
  const int64_t vocab = run.modelVocab;
  ASSERT_GT(vocab, 0) << "the generated models' signatures know their vocab";
  for (int64_t bad : {vocab, -vocab - 1}) {
    auto r = run.gen->prefill({1, bad, 2});
    ASSERT_FALSE(r) << "token id " << bad;
    const std::string m = r.status().message();
    EXPECT_NE(m.find("input '" + run.sig.inputIds + "' holds index " + std::to_string(bad) + " at element 1, outside [-" +
                     std::to_string(vocab) + ", " + std::to_string(vocab) + ")"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("(Gather, opset"), std::string::npos) << "the node: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    if (bad == vocab)
      std::printf("%s: %s\n", BMC_MODEL_NAME, m.c_str());
  }
  auto ok = run.gen->prefill(prompt(vocab));
  ASSERT_TRUE(ok) << ok.status().message();
  EXPECT_EQ(run.gen->length(), int64_t(prompt(vocab).size()));
}

// concat: truncate crops the caches (a copy each, as DynamicCache.crop), and
// the steps after it give the logits the first run gave at those positions,
// byte for byte (the same kernels over the same rows).
TEST(DeviceModel, ConcatTruncateCrops) {
  if (!kConcat)
    GTEST_SKIP() << "concat mode only (this binary runs " << kMode << ")";
  DeviceRun run(false);
  ASSERT_TRUE(run.gen) << run.error;
  DeviceGeneration &gen = *run.gen;
  const std::vector<int64_t> first = prompt(run.vocab());
  auto r = gen.prefill(first);
  ASSERT_TRUE(r) << r.status().message();
  std::vector<int64_t> tokens;
  std::vector<std::vector<float>> logits;
  for (int64_t step = 0; step < 6; ++step) {
    tokens.push_back(r->token);
    r = gen.step(r->token);
    ASSERT_TRUE(r) << "step " << step << ": " << r.status().message();
    logits.push_back(r->logits);
  }
  const int64_t keep = int64_t(first.size()) + 2; // the prompt and the first 2 generated tokens
  ASSERT_TRUE(gen.truncate(keep));
  EXPECT_EQ(gen.length(), keep);
  const DeviceConcatCaches &cc = *gen.concatCaches();
  for (size_t i = 0; i < cc.size(); ++i)
    EXPECT_EQ(cc.rows(i).dims[2], keep) << cc.spec(i).past;
  for (size_t k = 2; k < tokens.size(); ++k) {
    auto again = gen.step(tokens[k]);
    ASSERT_TRUE(again) << again.status().message();
    EXPECT_EQ(again->logits, logits[k]) << "the step after token " << k << ", after the crop";
  }
  EXPECT_FALSE(gen.truncate(gen.length() + 1)) << "past the length";
  ASSERT_TRUE(gen.truncate(0));
  EXPECT_FALSE(gen.step(tokens[0])) << "no tokens: prefill first";
  auto p = gen.prefill(first); // from nothing again: the first prefill's logits
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_EQ(gen.length(), int64_t(first.size()));
}

// A batch of 2 distinct prompts of one length (the CPU session's rule) and
// 4 greedy steps (the prefill's last positions, copied back alone, byte-equal
// to the whole copy's): each row's logits are its own batch-1 run's (within the
// tolerance: a product's tiling may differ with the rows), the tokens the
// same. Sampled on llama and gpt2 (f32 in place, and concat).
TEST(DeviceModel, BatchRowsEqualSingleRuns) {
  const std::string family = BMC_MODEL_NAME;
  if ((family != "llama" && family != "gpt2") || (kKV != "f32" && !kConcat))
    GTEST_SKIP() << "sampled on llama and gpt2, f32 and concat";
  const int64_t steps = 4;
  DeviceRun run(true); // decode steps as graphs: a batch changes the launches
  ASSERT_TRUE(run.gen) << run.error;
  DeviceGeneration &gen = *run.gen;
  const int64_t vocab = run.vocab();
  const std::vector<std::vector<int64_t>> prompts = {prompt(vocab), {5 % vocab, 61 % vocab, 250 % vocab, 2, 9}};
  // Each prompt alone first: its logits after the prefill and each step.
  std::vector<std::vector<std::vector<float>>> single(2);
  std::vector<std::vector<int64_t>> chosen(2);
  for (size_t b = 0; b < 2; ++b) {
    auto r = gen.prefill(prompts[b]);
    for (int64_t step = 0; step <= steps; ++step) {
      ASSERT_TRUE(r) << "row " << b << " alone, run " << step << ": " << r.status().message();
      single[b].push_back(r->logits);
      chosen[b].push_back(r->token);
      if (step < steps)
        r = gen.step(r->token);
    }
  }
  // The batch's prefill copying every position back (allLogits): each row's
  // last position must equal, byte for byte, the one copied alone below.
  auto whole = gen.prefillRows(prompts, /*allLogits=*/true);
  ASSERT_TRUE(whole) << whole.status().message();
  const size_t seq = prompts[0].size(), V = size_t(vocab);
  ASSERT_EQ(whole->allLogits.size(), 2 * seq * V);
  auto r = gen.prefillRows(prompts);
  ASSERT_EQ(gen.batch(), 2);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_TRUE(r->allLogits.empty());
  for (size_t b = 0; b < 2; ++b)
    EXPECT_EQ(std::vector<float>(r->logits.begin() + b * V, r->logits.begin() + (b + 1) * V),
              std::vector<float>(whole->allLogits.begin() + (b * seq + seq - 1) * V,
                                 whole->allLogits.begin() + (b * seq + seq) * V))
        << "row " << b << ": its last position alone against the whole copy";
  double worst = 0;
  for (int64_t step = 0; step <= steps; ++step) {
    ASSERT_TRUE(r) << "batch, run " << step << ": " << r.status().message();
    ASSERT_EQ(r->logits.size(), size_t(2) * single[0][0].size());
    for (size_t b = 0; b < 2; ++b) {
      const std::vector<float> &want = single[b][size_t(step)];
      for (size_t i = 0; i < want.size(); ++i)
        worst = std::max(worst, double(std::fabs(r->logits[b * want.size() + i] - want[i])));
      ASSERT_EQ(r->tokens[b], chosen[b][size_t(step)]) << "row " << b << ", run " << step;
    }
    if (kConcat)
      for (size_t i = 0; i < gen.concatCaches()->size(); ++i)
        ASSERT_EQ(gen.concatCaches()->rows(i).dims[0], 2);
    if (step < steps)
      r = gen.stepRows(r->tokens);
  }
  EXPECT_LE(worst, kTolerance) << "the largest |logit difference| of a row to its batch-1 run";
  EXPECT_FALSE(gen.stepRows({1})) << "one token for two rows";
  EXPECT_FALSE(gen.prefillRows({{1, 2}, {1}})) << "prompts of different lengths";
  std::printf("%s (%s caches): batch 2 against two batch-1 runs, greatest |logit difference| %.3g\n",
              BMC_MODEL_NAME, BMC_MODEL_KV_TYPE, worst);
}

} // namespace
