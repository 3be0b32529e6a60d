// Whole-function CUDA programs (compiler/targets/cuda/EmitCudaProgram.cpp ->
// runtime/device/DeviceProgram): the decoder-layer-shaped functions of
// emitted_program.mlir (one with a constant and host scalars), emitted with
// whole-model at build time, their kernels compiled as host C++ (the
// emulation) and loaded on the CPU device, run by DeviceProgram through
// EmittedLauncher: a 5-row prefill, 3 one-row decode steps and an 8-row chunk
// (the arena grows), the caches DeviceKVCache buffers grown between runs
// (r = 4), each run against a plain double-precision reference written here
// (RMS norm, products, causal or full attention over the cache, softmax),
// and the caches' valid rows against the reference's K/V history. Then bad
// inputs, each with its one line: a wrong rank or static dim, a cache whose
// capacity is exceeded (nothing launched, valid unchanged), a launch line's
// check failing after earlier launches would have run (none runs), a missing or
// mistyped weight, an unknown function, an input that is not one; an input,
// weight or constant of rank 5 (a bmc_view4 holds 4).
#include "cuda_emulation.h"

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
#include "tests/unit/device/emitted_program.cu" // in the build tree
// clang-format on

#include "bmc/abi/kernels.h"
#include "emitted_env.h"
#include "host_tensors.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceKVCache.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using bmc::device::CpuDevice;
using bmc::device::DeviceKVCache;
using bmc::device::DeviceProgram;
using bmc::device::EmittedLauncher;
using bmc::device::HostKernel;
using bmc::device::HostLaunch;
using bmc::device::HostTensor;
using bmc::device::ProgramInputs;

#define BMC_EMULATED(name)                                                                                             \
  HostKernel {                                                                                                         \
#name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); }, bmc_emu::argSizes(name),               \
                                                                             bmc_emu::argCount(name)                   \
  }
#define BMC_EMULATED_PRODUCT(base) BMC_EMULATED(base##_gemv), BMC_EMULATED(base##_epilogue), BMC_EMULATED(base##_tiled)

const HostKernel kTable[] = {
    BMC_EMULATED(bmc_kv_append_0),       BMC_EMULATED(bmc_kv_append_1),
    BMC_EMULATED(bmc_attention_0_split), BMC_EMULATED(bmc_attention_0_combine),
    BMC_EMULATED(bmc_attention_1_split), BMC_EMULATED(bmc_attention_1_combine),
    BMC_EMULATED_PRODUCT(bmc_matmul_0),  BMC_EMULATED_PRODUCT(bmc_matmul_1),
    BMC_EMULATED_PRODUCT(bmc_matmul_2),  BMC_EMULATED(bmc_norm_0),
    BMC_EMULATED(bmc_softmax_0),
};

constexpr int kHidden = 27, kHeadDim = 13;

using bmc_device_test::f32Tensor;
using bmc_device_test::floats;
using bmc_device_test::roundBf16;
std::vector<float> randoms(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  return bmc_device_test::uniform(n, seed, lo, hi);
}

// The weights of both functions (model layouts) and their values as the
// reference reads them (wk rounded to bf16: the model's own type).
struct Weights {
  std::vector<float> ln, wq, wk, wv, wo, wk2, wv2;
  std::map<std::string, HostTensor> host;
  Weights() {
    ln = randoms(kHidden, 1, 0.5f, 1.5f), wq = randoms(kHidden * kHeadDim, 2), wk = randoms(kHidden * kHeadDim, 3);
    wv = randoms(kHeadDim * kHidden, 4), wo = randoms(kHeadDim * kHidden, 5), wk2 = randoms(kHidden * kHeadDim, 6);
    wv2 = randoms(kHidden * kHeadDim, 7);
    for (float &x : wk)
      x = roundBf16(x);
    host["ln"] = f32Tensor({kHidden}, ln), host["wq"] = f32Tensor({kHidden, kHeadDim}, wq);
    HostTensor k;
    k.type = "bf16", k.dims = {kHidden, kHeadDim}, k.bytes.resize(wk.size() * 2);
    bmc_convert_f32_to_kv(BMC_KV_BF16, wk.data(), k.bytes.data(), (int64_t)wk.size());
    host["wk"] = k;
    host["wv"] = f32Tensor({kHeadDim, kHidden}, wv), host["wo"] = f32Tensor({kHeadDim, kHidden}, wo);
    host["wk2"] = f32Tensor({kHidden, kHeadDim}, wk2), host["wv2"] = f32Tensor({kHidden, kHeadDim}, wv2);
  }
};

// The plain reference of one layer: a K/V history per head (rounded as the
// cache stores it), one call per run.
struct Reference {
  const Weights &w;
  bool maskLayer; // @layer_mask (1 head, bf16 caches, additive mask) or @layer_skip (2 heads, f32, softmax)
  int heads;
  std::vector<std::vector<std::vector<double>>> K, V; // [head][row][d]
  Reference(const Weights &w, bool maskLayer)
      : w(w), maskLayer(maskLayer), heads(maskLayer ? 1 : 2), K(heads), V(heads) {}

  // x: [heads][s][hidden]; mask: [s][total] (mask layer). Returns y [heads][s][hidden] and the norm.
  std::vector<double> run(const std::vector<float> &x, int s, const std::vector<float> &mask,
                          std::vector<double> &normed) {
    int past = int(K[0].size()), total = past + s;
    std::vector<double> y(size_t(heads) * s * kHidden);
    normed.assign(size_t(heads) * s * kHidden, 0);
    for (int h = 0; h < heads; ++h) {
      std::vector<std::vector<double>> q(s, std::vector<double>(kHeadDim));
      for (int i = 0; i < s; ++i) {
        const float *xr = &x[(size_t(h) * s + i) * kHidden];
        double ms = 0;
        for (int c = 0; c < kHidden; ++c)
          ms += double(xr[c]) * xr[c];
        double inv = 1.0 / std::sqrt(ms / kHidden + 1e-5);
        std::vector<double> n(kHidden);
        for (int c = 0; c < kHidden; ++c)
          n[c] = xr[c] * inv * w.ln[c], normed[(size_t(h) * s + i) * kHidden + c] = n[c];
        std::vector<double> k(kHeadDim), v(kHeadDim);
        for (int d = 0; d < kHeadDim; ++d) {
          double sq = 0, sk = 0, sv = 0;
          for (int c = 0; c < kHidden; ++c) {
            sq += n[c] * w.wq[c * kHeadDim + d];
            sk += n[c] * (maskLayer ? w.wk : w.wk2)[c * kHeadDim + d];
            sv += n[c] * (maskLayer ? w.wv[d * kHidden + c] : w.wv2[c * kHeadDim + d]); // wv behind a Transpose
          }
          q[i][d] = sq;
          k[d] = maskLayer ? roundBf16(float(sk)) : sk;
          v[d] = maskLayer ? roundBf16(float(sv)) : sv;
        }
        K[h].push_back(k), V[h].push_back(v);
      }
      for (int i = 0; i < s; ++i) {
        std::vector<double> score(total);
        double mx = -INFINITY;
        for (int j = 0; j < total; ++j) {
          double dot = 0;
          for (int d = 0; d < kHeadDim; ++d)
            dot += q[i][d] * K[h][j][d];
          score[j] =
              dot * 0.25 +
              (maskLayer ? double(std::max(mask[size_t(i) * total + j], -std::numeric_limits<float>::max())) : 0.0);
          mx = std::max(mx, score[j]);
        }
        double sum = 0;
        for (double &e : score)
          e = std::exp(e - mx), sum += e;
        std::vector<double> a(kHeadDim, 0);
        for (int j = 0; j < total; ++j)
          for (int d = 0; d < kHeadDim; ++d)
            a[d] += score[j] / sum * V[h][j][d];
        if (!maskLayer) { // the softmax over the attention's rows
          double m2 = -INFINITY, s2 = 0;
          for (double e : a)
            m2 = std::max(m2, e);
          for (double &e : a)
            e = std::exp(e - m2), s2 += e;
          for (double &e : a)
            e /= s2;
        }
        for (int c = 0; c < kHidden; ++c) {
          double o = 0;
          for (int d = 0; d < kHeadDim; ++d)
            o += a[d] * w.wo[d * kHidden + c];
          y[(size_t(h) * s + i) * kHidden + c] = o;
        }
      }
    }
    return y;
  }
};

void expectClose(const std::vector<float> &got, const std::vector<double> &want, double tol, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(double(got[i]) - want[i]) / (1.0 + std::fabs(want[i]));
    if (!(e <= worst))
      worst = e, at = i; // NaN counts as worst
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " is " << got[at] << ", expected " << want[at];
}

// The emitted program's kernels on the CPU device (the emulation) or the GPU
// (emitted_env.h), with the caches the programs run on.
struct Env : bmc_device_test::EmittedEnv {
  explicit Env(bool gpu = false) : EmittedEnv(gpu, kTable, BMC_EMITTED_CU) {}
  std::unique_ptr<DeviceKVCache> cache(int heads, bool bf16) {
    bmc::device::DeviceKVOptions o;
    o.batch = 1, o.heads = heads, o.headDim = kHeadDim, o.elemBytes = bf16 ? 2 : 4, o.maxRows = 64, o.r = 4;
    auto c = DeviceKVCache::create(*device, o);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c ? std::move(c.value()) : nullptr;
  }
  // The valid rows of a cache as floats [head][row][d] (batch 1), each read at
  // the cache's own address of it (rows outermost: [row][head][d]).
  std::vector<std::vector<std::vector<double>>> rows(const DeviceKVCache &c, int heads, int64_t valid, bool bf16) {
    size_t eb = bf16 ? 2 : 4;
    std::vector<std::vector<std::vector<double>>> out(heads);
    std::vector<uint8_t> bytes(kHeadDim * eb);
    std::vector<float> row(kHeadDim);
    for (int h = 0; h < heads; ++h)
      for (int64_t r = 0; r < valid; ++r) {
        EXPECT_TRUE(device->copyToHost(bytes.data(), c.row(0, h, r), bytes.size()).ok());
        bmc_convert_kv_to_f32(bf16 ? BMC_KV_BF16 : BMC_KV_F32, bytes.data(), row.data(), (int64_t)kHeadDim);
        out[h].emplace_back(row.begin(), row.end());
      }
    return out;
  }
};

void expectCache(const std::vector<std::vector<std::vector<double>>> &got,
                 const std::vector<std::vector<std::vector<double>>> &want, double tol, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t h = 0; h < got.size(); ++h) {
    ASSERT_EQ(got[h].size(), want[h].size()) << what << " head " << h;
    for (size_t r = 0; r < got[h].size(); ++r)
      for (int d = 0; d < kHeadDim; ++d)
        ASSERT_LE(std::fabs(got[h][r][d] - want[h][r][d]), tol * (1 + std::fabs(want[h][r][d])))
            << what << " head " << h << " row " << r << " d " << d;
  }
}

// A prefill of `first` rows, then one-row decode steps, as `function` runs them.
// `scaled`: @scaled, @layer_mask with its norm scale a constant of the
// program and `padded` computed by the host from an index input.
void prefillThenDecode(bool maskLayer, bool gpu = false, bool scaled = false) {
  Env env(gpu);
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  std::string fn = scaled ? "scaled" : maskLayer ? "layer_mask" : "layer_skip";
  auto names = DeviceProgram::functions(env.src);
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(names.value(), (std::vector<std::string>{"layer_mask", "layer_skip", "scaled"}));
  auto p = DeviceProgram::create(*env.device, *env.launcher, env.src, fn, w.host);
  ASSERT_TRUE(p.ok()) << p.status().message();
  DeviceProgram &prog = *p.value();
  EXPECT_EQ(prog.slots(), 4u); // q, k, v live together with the norm (or the norm, an output, to the end)
  int heads = maskLayer ? 1 : 2;
  auto kc = env.cache(heads, maskLayer), vc = env.cache(heads, maskLayer);
  ASSERT_TRUE(kc && vc);
  Weights constant = w; // @scaled's norm scale, as emitted_program.mlir writes it
  for (int i = 0; i < kHidden; ++i)
    constant.ln[i] = 0.5f + float(i) / 32;
  Reference ref(scaled ? constant : w, maskLayer);
  int64_t valid = 0;
  size_t arena = 0;
  const std::vector<int> seqs = {5, 1, 1, 1, 8}; // a prefill, 3 decode steps, a longer chunk (GEMV rows at most 8)
  for (size_t run = 0; run < seqs.size(); ++run) {
    int s = seqs[run];
    SCOPED_TRACE(fn + " run " + std::to_string(run) + " (" + std::to_string(s) + " rows after " +
                 std::to_string(valid) + ")");
    ASSERT_TRUE(kc->ensureCapacity(valid + s, valid).ok());
    ASSERT_TRUE(vc->ensureCapacity(valid + s, valid).ok());
    bmc_kv_buffer kb{reinterpret_cast<void *>(kc->data()), 1, kc->capacity(), valid};
    bmc_kv_buffer vb{reinterpret_cast<void *>(vc->data()), 1, vc->capacity(), valid};
    std::vector<float> x = randoms(size_t(heads) * s * kHidden, 100 + unsigned(run), -2.0f, 2.0f);
    int total = int(valid) + s;
    std::vector<float> mask = randoms(size_t(s) * total, 200 + unsigned(run), -0.5f, 0.0f);
    for (int i = 0; i < s; ++i) // causal
      for (int j = 0; j < total; ++j)
        if (j > valid + i)
          mask[size_t(i) * total + j] = -INFINITY;
    ProgramInputs in;
    in.tensors["x"] = f32Tensor({1, heads, s, kHidden}, x);
    if (maskLayer)
      in.tensors["mask"] = f32Tensor({1, 1, s, total}, mask);
    in.caches["past_k"] = &kb, in.caches["past_v"] = &vb;
    if (scaled)
      in.scalars["extra_rows"] = 2;
    auto out = prog.run(in);
    ASSERT_TRUE(out.ok()) << out.status().message();
    std::vector<double> normed, want = ref.run(x, s, mask, normed);
    ASSERT_EQ(out->size(), maskLayer ? 1u : 2u);
    EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{1, heads, s, kHidden}));
    // f32 throughout: the order of sums only; bf16 caches: the reference rounds K/V as the cache does.
    double tol = maskLayer ? 2e-4 : 2e-5; // seen: 1.4e-6 and 3e-7
    expectClose(floats((*out)[0]), want, tol, "y");
    if (!maskLayer)
      expectClose(floats((*out)[1]), normed, 2e-5, "normed");
    EXPECT_EQ(kb.valid, total);
    EXPECT_EQ(vb.valid, total);
    valid = total;
    expectCache(env.rows(*kc, heads, valid, maskLayer), ref.K, maskLayer ? 8e-3 : 2e-5, "K cache");
    expectCache(env.rows(*vc, heads, valid, maskLayer), ref.V, maskLayer ? 8e-3 : 2e-5, "V cache");
    if (maskLayer)
      EXPECT_EQ(prog.lastLaunches(), (std::vector<std::string>{"bmck.norm 0", "bmck.matmul 0", "bmck.matmul 1",
                                                               "bmck.matmul 0", "bmck.kv_append 0", "bmck.kv_append 0",
                                                               "bmck.attention 0", "bmck.matmul 2"}));
    else
      EXPECT_EQ(prog.lastLaunches(), (std::vector<std::string>{"bmck.norm 0", "bmck.matmul 0", "bmck.matmul 0",
                                                               "bmck.matmul 0", "bmck.kv_append 1", "bmck.kv_append 1",
                                                               "bmck.attention 1", "bmck.softmax 0", "bmck.matmul 2"}));
    if (run == 0)
      arena = prog.arenaBytes();
    if (s <= seqs[0])
      EXPECT_EQ(prog.arenaBytes(), arena); // sized by the prefill, never shrunk
    else
      EXPECT_GT(prog.arenaBytes(), arena); // grown with the dims
  }
  EXPECT_GT(arena, 0u);
  // The skip layer's 10- and 16-row products map onto the device GEMM; the
  // mask layer's 5 and 8 rows take the GEMV: no product fell back to the tiled kernel.
  EXPECT_TRUE(env.notices.empty()) << env.notices.front();
  if (!maskLayer)
    EXPECT_EQ(env.launcher->pathCounts().at("device_gemm"), 8);
}

TEST(CudaProgram, MaskLayerPrefillThenDecode) { prefillThenDecode(true); }
TEST(CudaProgram, SkipLayerPrefillThenDecode) { prefillThenDecode(false); }
TEST(CudaProgram, ConstantsAndHostScalars) { prefillThenDecode(true, false, true); }
// The same programs on NVRTC's build through CudaDevice (cuBLASLt for the
// skip layer's 10-row prefill products); skipped without a GPU.
TEST(CudaProgram, LayersOnTheGpu) {
  prefillThenDecode(true, true);
  if (::testing::Test::HasFailure() || ::testing::Test::IsSkipped())
    return;
  prefillThenDecode(false, true);
}

// The same runs, one program launching directly and one as a device graph
// per run (DeviceProgram::run with an EmittedStepGraph): outputs and caches
// byte-equal, the graph captured once and then updated in place (the
// kernel sequence stays the same from the 5-row prefill on).
TEST(CudaProgram, RunsAsAGraphEqualDirectRuns) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  auto direct = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", w.host);
  auto graphed = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", w.host);
  ASSERT_TRUE(direct.ok() && graphed.ok());
  std::unique_ptr<DeviceKVCache> caches[2][2] = {{env.cache(1, true), env.cache(1, true)},
                                                 {env.cache(1, true), env.cache(1, true)}};
  bmc::device::EmittedStepGraph graph;
  int64_t valid = 0;
  const std::vector<int> seqs = {5, 1, 1, 1};
  std::vector<bool> captured;
  for (size_t run = 0; run < seqs.size(); ++run) {
    int s = seqs[run], total = int(valid) + s;
    SCOPED_TRACE("run " + std::to_string(run));
    std::vector<float> x = randoms(size_t(s) * kHidden, 300 + unsigned(run), -2.0f, 2.0f);
    std::vector<float> mask(size_t(s) * total, 0.0f);
    for (int i = 0; i < s; ++i)
      for (int j = int(valid) + i + 1; j < total; ++j)
        mask[size_t(i) * total + j] = -INFINITY;
    std::vector<HostTensor> outs[2];
    for (int g = 0; g < 2; ++g) {
      ASSERT_TRUE(caches[g][0]->ensureCapacity(total, valid).ok() && caches[g][1]->ensureCapacity(total, valid).ok());
      bmc_kv_buffer kb{reinterpret_cast<void *>(caches[g][0]->data()), 1, caches[g][0]->capacity(), valid};
      bmc_kv_buffer vb{reinterpret_cast<void *>(caches[g][1]->data()), 1, caches[g][1]->capacity(), valid};
      ProgramInputs in;
      in.tensors["x"] = f32Tensor({1, 1, s, kHidden}, x);
      in.tensors["mask"] = f32Tensor({1, 1, s, total}, mask);
      in.caches["past_k"] = &kb, in.caches["past_v"] = &vb;
      bmc::device::StepReport report;
      auto out = g ? graphed.value()->run(in, &graph, &report) : direct.value()->run(in);
      ASSERT_TRUE(out.ok()) << out.status().message();
      outs[g] = out.value();
      if (g) {
        captured.push_back(report.captured);
        EXPECT_EQ(report.launches, 13u); // norm, 4 products x (GEMV, epilogue), 2 appends, split, combine
        EXPECT_EQ(report.gemms, 0u);
        if (!report.captured)
          EXPECT_GT(report.updated, 0u); // a new valid length at least
      }
    }
    EXPECT_EQ(outs[0][0].bytes, outs[1][0].bytes);
    valid = total;
    for (int c = 0; c < 2; ++c)
      EXPECT_EQ(env.rows(*caches[0][c], 1, valid, true), env.rows(*caches[1][c], 1, valid, true));
  }
  // Captured by the prefill (5 rows: GEMV products, as decode's); every
  // later run the same kernels, updated in place.
  EXPECT_EQ(captured, (std::vector<bool>{true, false, false, false}));
}

TEST(CudaProgram, BadInputsGiveOneLine) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  auto p = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", w.host);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto kc = env.cache(1, true), vc = env.cache(1, true);
  ASSERT_TRUE(kc->ensureCapacity(5, 0).ok() && vc->ensureCapacity(5, 0).ok());
  int64_t cap = kc->capacity();
  bmc_kv_buffer kb{reinterpret_cast<void *>(kc->data()), 1, cap, cap}; // full
  bmc_kv_buffer vb{reinterpret_cast<void *>(vc->data()), 1, vc->capacity(), 0};
  ProgramInputs in;
  in.caches["past_k"] = &kb, in.caches["past_v"] = &vb;
  in.tensors["mask"] = f32Tensor({1, 1, 1, cap + 1}, std::vector<float>(size_t(cap + 1), 0.0f));
  in.tensors["x"] = f32Tensor({1, 1, kHidden}, randoms(kHidden, 9));
  auto r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "program @layer_mask: input 'x' of rank 3 [1, 1, 27], expected rank 4 [1, 1, ?, 27]");
  in.tensors["x"] = f32Tensor({1, 2, 1, kHidden}, randoms(2 * kHidden, 9));
  r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "program @layer_mask: input 'x' of dims [1, 2, 1, 27], expected [1, 1, ?, 27] (dimension 1)");
  // The K cache full: refused before anything is launched; valid unchanged.
  in.tensors["x"] = f32Tensor({1, 1, 1, kHidden}, randoms(kHidden, 9));
  r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  std::string m = r.status().message();
  EXPECT_EQ(m.substr(0, m.find(" at ")), "program @layer_mask step 6 (bmck.kv_append 0");
  EXPECT_NE(m.find("): KV cache 'past_k': " + std::to_string(cap) + " valid + 1 new rows > capacity " +
                   std::to_string(cap) + " (the caller grows the cache before the run)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_TRUE(p.value()->lastLaunches().empty());
  EXPECT_EQ(kb.valid, cap);
  EXPECT_EQ(vb.valid, 0);
  in.tensors["y"] = in.tensors["x"];
  r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "program @layer_mask: 'y' is not an input of @layer_mask");
  in.tensors.erase("y"), in.tensors.erase("mask");
  r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "program @layer_mask: input 'mask' (f32 [1, 1, ?, ?]) not given");

  // @scaled without its index input.
  auto scaled = DeviceProgram::create(*env.device, *env.launcher, env.src, "scaled", w.host);
  ASSERT_TRUE(scaled.ok()) << scaled.status().message();
  in.tensors["mask"] = f32Tensor({1, 1, 1, cap + 1}, std::vector<float>(size_t(cap + 1), 0.0f));
  r = scaled.value()->run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "program @scaled: scalar input 'extra_rows' not given");

  // Weights: missing, of another type, of other dims; an unknown function.
  std::map<std::string, HostTensor> missing = w.host;
  missing.erase("wk");
  auto q = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", missing);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "program @layer_mask: weight 'wk' (bf16 [27, 13]) missing: not among the 6 weights given");
  std::map<std::string, HostTensor> typed = w.host;
  typed["wk"] = f32Tensor({kHidden, kHeadDim}, w.wk);
  q = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", typed);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "program @layer_mask: weight 'wk' given as f32 [27, 13], expected bf16 [27, 13]");
  std::map<std::string, HostTensor> shaped = w.host;
  shaped["wo"] = f32Tensor({kHidden, kHeadDim}, w.wo);
  q = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", shaped);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "program @layer_mask: weight 'wo' given as f32 [27, 13], expected f32 [13, 27]");
  q = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer", w.host);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "program @layer: no bmc-program line for this function");
}

// Every launch is checked before the first one runs: a decode step whose
// mask is one key row short passes the plan walk (the mask's dims are
// dynamic) and fails the attention's launch line check (mask.size[3] >= K's
// rows), the 7th launch, after the two appends. Nothing is launched: the
// caches' bytes, spare rows included, and their valid rows are as before.
// (Before, the norm, products and appends ran and wrote the new K/V row
// into the spare rows, then the attention refused.)
TEST(CudaProgram, AFailedLaunchCheckLaunchesNothing) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Weights w;
  auto p = DeviceProgram::create(*env.device, *env.launcher, env.src, "layer_mask", w.host);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto kc = env.cache(1, true), vc = env.cache(1, true);
  ASSERT_TRUE(kc->ensureCapacity(6, 0).ok() && vc->ensureCapacity(6, 0).ok());
  bmc_kv_buffer kb{reinterpret_cast<void *>(kc->data()), 1, kc->capacity(), 0};
  bmc_kv_buffer vb{reinterpret_cast<void *>(vc->data()), 1, vc->capacity(), 0};
  ProgramInputs in;
  in.caches["past_k"] = &kb, in.caches["past_v"] = &vb;
  in.tensors["x"] = f32Tensor({1, 1, 5, kHidden}, randoms(5 * kHidden, 21));
  in.tensors["mask"] = f32Tensor({1, 1, 5, 5}, std::vector<float>(25, 0.0f));
  auto r = p.value()->run(in); // a prefill of 5 rows
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(kb.valid, 5);
  ASSERT_GT(kb.capacity, 5); // a spare row the append would write
  auto bytes = [&](const DeviceKVCache &c) {
    std::vector<uint8_t> b(size_t(c.capacity()) * kHeadDim * 2);
    EXPECT_TRUE(env.device->copyToHost(b.data(), c.data(), b.size()).ok());
    return b;
  };
  std::vector<uint8_t> k0 = bytes(*kc), v0 = bytes(*vc);
  in.tensors["x"] = f32Tensor({1, 1, 1, kHidden}, randoms(kHidden, 22));
  in.tensors["mask"] = f32Tensor({1, 1, 1, 5}, std::vector<float>(5, 0.0f)); // 6 key rows after the append
  r = p.value()->run(in);
  ASSERT_FALSE(r.ok());
  std::string m = r.status().message();
  EXPECT_EQ(m.substr(0, m.find(" at ")), "program @layer_mask step 10 (bmck.attention 0") << m;
  EXPECT_NE(m.find("mask of 5 key rows, fewer than K's 6"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_TRUE(p.value()->lastLaunches().empty());
  EXPECT_EQ(kb.valid, 5);
  EXPECT_EQ(vb.valid, 5);
  EXPECT_TRUE(bytes(*kc) == k0) << "K cache bytes changed";
  EXPECT_TRUE(bytes(*vc) == v0) << "V cache bytes changed";
  // The same step with the right mask runs, and writes the row.
  in.tensors["mask"] = f32Tensor({1, 1, 1, 6}, std::vector<float>(6, 0.0f));
  r = p.value()->run(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(kb.valid, 6);
  EXPECT_EQ(p.value()->lastLaunches().size(), 8u);
  EXPECT_FALSE(bytes(*kc) == k0);
}

// A view is a bmc_view4: an input, a plain weight or a constant of rank 5
// would lose its leading dimensions. Hand-written program lines (the emitter
// folds its own ranks): the same line at rank 4 runs (x comes back as is);
// at rank 5 a weight or constant is refused by create(), an input by run().
TEST(CudaProgram, RankAboveFourIsRefused) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto line = [](const std::string &fn, const std::string &x, const std::string &weights,
                 const std::string &constants) {
    return "// bmc-program: {\"version\": 1, \"function\": \"" + fn +
           "\", \"inputs\": [{\"name\": \"x\", \"kind\": \"tensor\", \"value\": \"v0\", \"type\": "
           "\"f32\", \"dims\": " +
           x + "}], \"outputs\": [{\"name\": \"y\", \"value\": \"v0\"}], \"weights\": [" + weights +
           "], \"constants\": [" + constants + "], \"steps\": [], \"memory\": {\"slots\": 0}}\n";
  };
  auto weight = [](const std::string &dims) {
    return "{\"name\": \"w\", \"value\": \"v1\", \"type\": \"f32\", \"dims\": " + dims + ", \"plain\": true}";
  };
  auto constant = [](const std::string &dims) {
    return "{\"value\": \"v2\", \"type\": \"f32\", \"dims\": " + dims +
           ", \"splat\": true, \"hex\": \"0000803f\"}";
  };
  std::string src = line("rank4", "[2, 1, 3, 2]", weight("[2, 3, 1, 2]"), constant("[2, 1, 1, 3]")) +
                    line("input5", "[1, 2, 1, 3, 2]", "", "") + line("weight5", "[2]", weight("[1, 2, 3, 1, 2]"), "") +
                    line("constant5", "[2]", "", constant("[2, 1, 1, 1, 3]"));
  std::map<std::string, HostTensor> weights;
  weights["w"] = f32Tensor({2, 3, 1, 2}, randoms(12, 11));
  auto good = DeviceProgram::create(*env.device, *env.launcher, src, "rank4", weights);
  ASSERT_TRUE(good.ok()) << good.status().message();
  std::vector<float> x = randoms(12, 12);
  ProgramInputs in;
  in.tensors["x"] = f32Tensor({2, 1, 3, 2}, x);
  auto out = good.value()->run(in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{2, 1, 3, 2}));
  EXPECT_EQ(floats((*out)[0]), x);

  auto p = DeviceProgram::create(*env.device, *env.launcher, src, "input5", {});
  ASSERT_TRUE(p.ok()) << p.status().message();
  in.tensors["x"] = f32Tensor({1, 2, 1, 3, 2}, x);
  out = p.value()->run(in);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "program @input5: input 'x' of rank 5 [1, 2, 1, 3, 2]: a program's views have rank 4 at most");
  EXPECT_TRUE(p.value()->lastLaunches().empty());

  weights["w"] = f32Tensor({1, 2, 3, 1, 2}, randoms(12, 11));
  p = DeviceProgram::create(*env.device, *env.launcher, src, "weight5", weights);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "program @weight5: weight 'w' of rank 5 [1, 2, 3, 1, 2]: a program's views have rank 4 at most");
  p = DeviceProgram::create(*env.device, *env.launcher, src, "constant5", {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "program @constant5: constant v2 of rank 5 f32 [2, 1, 1, 1, 3]: a program's views have rank 4 at most");
}

// A host reference to a shape vector's element ("vK[N]") or a view's size
// ("vK.size[N]") whose index is not a plain number is an error naming it,
// never element or dimension 0. Hand-written lines: x [2, 3], v1 = [2, 3].
TEST(CudaProgram, MalformedReferencesAreErrors) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto line = [](const std::string &fn, const std::string &ref) {
    return "// bmc-program: {\"version\": 1, \"function\": \"" + fn +
           "\", \"inputs\": [{\"name\": \"x\", \"kind\": \"tensor\", \"value\": \"v0\", \"type\": \"f32\", \"dims\": "
           "[2, 3]}], \"outputs\": [{\"name\": \"y\", \"value\": \"v0\"}], \"weights\": [], \"constants\": [], "
           "\"steps\": [{\"value\": \"v1\", \"kind\": \"shape\", \"elements\": [2, 3]}, {\"value\": \"v2\", \"kind\": "
           "\"scalar\", \"op\": \"copy\", \"of\": \"" +
           ref + "\"}], \"memory\": {\"slots\": 0}}\n";
  };
  const std::vector<std::pair<std::string, std::string>> refs = {
      {"element", "v1[1]"},  {"size", "v0.size[1]"},  {"letters", "v1[x]"},      {"suffix", "v1[1x]"},
      {"empty", "v1[]"},     {"unclosed", "v1[1"},     {"negative", "v1[-1]"},     {"size_letters", "v0.size[x]"},
      {"size_suffix", "v0.size[1 ]"}};
  std::string src;
  for (const auto &[fn, ref] : refs)
    src += line(fn, ref);
  ProgramInputs in;
  in.tensors["x"] = f32Tensor({2, 3}, randoms(6, 21));
  auto run = [&](const std::string &fn) -> bmc::Status {
    auto p = DeviceProgram::create(*env.device, *env.launcher, src, fn, {});
    if (!p)
      return p.status();
    auto r = p.value()->run(in);
    return r ? bmc::Status() : r.status();
  };
  for (const char *fn : {"element", "size"})
    EXPECT_TRUE(run(fn).ok()) << fn << ": " << run(fn).message();
  const std::string element = "': expected an element index, vK[N] with N a number";
  EXPECT_EQ(run("letters").message(), "program @letters step 1: 'v1[x]" + element);
  EXPECT_EQ(run("suffix").message(), "program @suffix step 1: 'v1[1x]" + element);
  EXPECT_EQ(run("empty").message(), "program @empty step 1: 'v1[]" + element);
  EXPECT_EQ(run("unclosed").message(), "program @unclosed step 1: 'v1[1" + element);
  EXPECT_EQ(run("negative").message(), "program @negative step 1: 'v1[-1]" + element);
  const std::string size = "': expected a dimension index, vK.size[N] with N a number";
  EXPECT_EQ(run("size_letters").message(), "program @size_letters step 1: 'v0.size[x]" + size);
  EXPECT_EQ(run("size_suffix").message(), "program @size_suffix step 1: 'v0.size[1 ]" + size);
}

// A line whose "function" is not a string: one line from functions() and
// create(), not an exception.
TEST(CudaProgram, FunctionNameMustBeAString) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  const std::string src = "// bmc-program: {\"version\": 1, \"function\": 7, \"inputs\": [], \"outputs\": [], "
                          "\"weights\": [], \"constants\": [], \"steps\": [], \"memory\": {\"slots\": 0}}\n";
  const std::string want = "bmc-program line 1: 'function' is 7, expected a string";
  bmc::Result<std::vector<std::string>> names = bmc::Status::error("not run");
  EXPECT_NO_THROW(names = DeviceProgram::functions(src));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().message(), want);
  auto p = DeviceProgram::create(*env.device, *env.launcher, src, "main", {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), want);
}

} // namespace
