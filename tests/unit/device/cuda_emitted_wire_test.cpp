// Emitted products and kernels wired to the device layer (EmittedLauncher):
// - Many rows of a product through Device::gemm (the CPU device's plain loop
//   stands in for cuBLASLt here) against the tiled reference kernel and a
//   plain loop, on odd sizes: folded batches, a loop of GEMMs, a transposed
//   A, 1-D operands, f16; and the products that stay tiled, each with its
//   notice (strided views, a 16-bit weight under f32 activations, a C).
// - A decode-shaped sequence (kv_append x 2, attention, a projection GEMV)
//   run as a graph by EmittedLauncher::runStep: captured, updated in place
//   for the next steps (a new valid length, new splits), re-captured when
//   the kernel sequence changes (prefill -> decode); caches and outputs
//   byte-equal to the same launches made directly, and the projection
//   within tolerance of bmc_attention_f32 and a plain loop.
// The Gpu variants run the same bodies on NVRTC's build through CudaDevice
// (cuBLASLt for the GEMMs); they skip here (no GPU).
#include "tests/unit/device/emitted_products_test.h"

#include "bmc/abi/kernels.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/CudaWeights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

namespace {

using namespace emitted_products;
using bmc::device::EmittedStepGraph;
using bmc::device::LaunchArgs;
using bmc::device::LaunchRecord;
using bmc::device::LaunchValue;
using bmc::device::PrefillPath;
using bmc::device::StepCall;

// The device copy of a bmck.matmul configuration's weight, made from a
// random model weight as its launch line describes; `rhs` is the op's right
// operand [K, N] in f32 for the reference.
DevicePtr weightFor(Env &env, int config, Tensor &rhs, unsigned seed) {
  const bmc::device::EmittedWeight *w = env.launcher->weight("bmck.matmul", config);
  EXPECT_NE(w, nullptr);
  if (!w)
    return 0;
  ElementType own, storage;
  EXPECT_TRUE(bmc::device::parseElementType(w->sources[0].type, own));
  EXPECT_TRUE(bmc::device::parseElementType(w->storage, storage));
  bool nk = !w->sources[0].transpose; // the model's weight is already [N, K]
  Tensor model = makeTensor(nk ? std::vector<long long>{w->n, w->k} : std::vector<long long>{w->k, w->n}, own, seed,
                            false, false);
  rhs = makeTensor({w->k, w->n}, ElementType::F32, 1, false, false);
  for (long long k = 0; k < w->k; ++k)
    for (long long n = 0; n < w->n; ++n)
      rhs.vals[k * w->n + n] = nk ? model.at({n, k}) : model.at({k, n});
  std::vector<uint8_t> device;
  bmc::Status st = bmc::device::cudaMatMulWeight(model.bytes.data(), own, model.dims[0], model.dims[1],
                                                 w->sources[0].transpose, storage, device);
  EXPECT_TRUE(st.ok()) << st.message();
  return env.upload(device);
}

// The same tensor stored with its last two dimensions swapped (a transposed
// view: columns contiguous).
Tensor transposedStorage(Tensor t) {
  size_t r = t.dims.size();
  long long rows = t.dims[r - 2], cols = t.dims[r - 1];
  std::vector<float> storage(t.bytes.size() / width(t.type), std::numeric_limits<float>::quiet_NaN());
  t.strides[r - 1] = rows, t.strides[r - 2] = 1;
  for (size_t i = 0; i + 2 < r; ++i) t.strides[i] = rows * cols;
  for (long long i = 0; i < t.count(); ++i) storage[t.storageAt(i)] = t.vals[i];
  bmc_convert_f32_to_kv(kvType(t.type), storage.data(), t.bytes.data(), (int64_t)storage.size());
  return t;
}

struct ProductCase {
  const char *what;
  int config;
  std::vector<long long> a, b; // b empty: the configuration's weight
  ElementType type;
  bool odd, transposeA;
  const char *path;  // expected with the device GEMM asked
  int gemms;         // Device::gemm calls on that path
  const char *why;   // the tiled path's reason (a prefix)
};

// One product through the device GEMM launcher and the tiled one, both against numpy.
void runProduct(Env &gemm, Env &tiled, const ProductCase &c, unsigned seed) {
  SCOPED_TRACE(c.what);
  Tensor a = makeTensor(c.a, c.type, seed, c.odd, c.odd), rhs, b;
  if (c.transposeA) a = transposedStorage(a);
  DevicePtr w[2] = {0, 0};
  if (c.b.empty()) {
    w[0] = weightFor(gemm, c.config, rhs, seed + 1), w[1] = weightFor(tiled, c.config, rhs, seed + 1);
  } else {
    b = makeTensor(c.b, c.type, seed + 1, c.odd, false);
    rhs = b;
  }
  std::vector<double> want, scale;
  std::vector<long long> outDims;
  numpyMatMul(a, rhs, want, scale, outDims);
  for (int path = 0; path < 2; ++path) {
    Env &env = path ? tiled : gemm;
    SCOPED_TRACE(path ? "tiled launcher" : "device GEMM launcher");
    Tensor x = a, y = b, out = makeTensor(outDims, c.type, seed + 2, c.odd, c.odd);
    env.upload(x), env.upload(out);
    LaunchArgs args{{"a", LaunchValue::of(x.view())}, {"out", LaunchValue::of(out.view())}};
    if (c.b.empty())
      args["w"] = LaunchValue::ofWeight(reinterpret_cast<const void *>(w[path]));
    else
      env.upload(y), args["b"] = LaunchValue::of(y.view());
    LaunchRecord rec;
    bmc::Status st = env.launcher->launch("bmck.matmul", c.config, args, &rec);
    ASSERT_TRUE(st.ok()) << st.message();
    std::string expected = path ? "tiled" : c.path;
    EXPECT_EQ(rec.path, expected);
    if (expected == "device_gemm") {
      EXPECT_EQ(rec.gemms, c.gemms);
      EXPECT_TRUE(rec.kernels.empty());
    } else {
      EXPECT_EQ(rec.gemms, 0);
      EXPECT_EQ(rec.kernels, (std::vector<std::string>{"bmc_matmul_" + std::to_string(c.config) + "_tiled"}));
      std::string why = path ? "asked" : c.why;
      EXPECT_EQ(rec.tiledWhy.substr(0, why.size()), why);
    }
    expectClose(env.download(out), want, scale, c.type == ElementType::F16 ? 1e-3 : 0, c.what);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

void productsThroughTheDeviceGemm(bool gpu) {
  std::vector<std::string> notices;
  Env gemm(gpu, PrefillPath::DeviceGemm, [&](const std::string &n) { notices.push_back(n); });
  BMC_EMITTED_ENV_OR_SKIP(gemm);
  Env tiled(gpu, PrefillPath::Tiled);
  ASSERT_TRUE(tiled.launcher) << tiled.error;
  EXPECT_EQ(gemm.launcher->prefill(), PrefillPath::DeviceGemm);
  const ProductCase cases[] = {
      {"f32 weight, 3 x 13 rows: batches folded into one GEMM", 0, {3, 13, 37}, {}, ElementType::F32, false, false,
       "device_gemm", 1, ""},
      {"f32 weight, 37 rows of a transposed A", 7, {37, 64}, {}, ElementType::F32, false, true, "device_gemm", 1, ""},
      {"batched, b per batch: a loop of 6 GEMMs", 3, {2, 3, 17, 37}, {3, 37, 33}, ElementType::F32, false, false,
       "device_gemm", 6, ""},
      {"1-D left operand", 4, {37}, {2, 37, 19}, ElementType::F32, false, false, "device_gemm", 2, ""},
      {"1-D right operand, batches folded", 5, {2, 3, 37}, {37}, ElementType::F32, false, false, "device_gemm", 1, ""},
      {"f16 x f16 -> f16", 6, {2, 17, 37}, {37, 21}, ElementType::F16, false, false, "device_gemm", 1, ""},
      {"strided, unaligned a", 0, {3, 13, 37}, {}, ElementType::F32, true, false, "tiled", 0,
       "a's rows and columns are both strided"},
      {"bf16 weight under f32 activations", 1, {37, 37}, {}, ElementType::F32, false, false, "tiled", 0,
       "f32 x weight bf16: the device GEMM takes one type for A and B"},
  };
  unsigned seed = 700;
  for (const ProductCase &c : cases) {
    runProduct(gemm, tiled, c, seed += 5);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(gemm.launcher->pathCounts().at("device_gemm"), 6);
  EXPECT_EQ(gemm.launcher->pathCounts().at("tiled"), 2);
  EXPECT_EQ(tiled.launcher->pathCounts().at("tiled"), 8);
  EXPECT_EQ(tiled.launcher->pathCounts().count("device_gemm"), 0u);
  EXPECT_TRUE(tiled.launcher->notices().empty()) << "asking for the tiled path is no fallback";
  // Each fallback once, naming the configuration and why.
  ASSERT_EQ(notices, gemm.launcher->notices());
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].rfind("bmck.matmul 0: many rows take the tiled kernel, not the device GEMM: a's rows and "
                             "columns are both strided (",
                             0),
            0u)
      << notices[0];
  EXPECT_EQ(notices[1], "bmck.matmul 1: many rows take the tiled kernel, not the device GEMM: f32 x weight bf16: "
                        "the device GEMM takes one type for A and B");

  // Gemm 1 reads a C: the tiled kernel's epilogue, said so.
  Tensor ta = makeTensor({37, 11}, ElementType::F32, 1, false, false), tb = makeTensor({13, 37}, ElementType::F32, 2, false, false),
         c2 = makeTensor({11, 13}, ElementType::F32, 3, false, false), o = makeTensor({11, 13}, ElementType::F32, 4, false, false);
  gemm.upload(ta), gemm.upload(tb), gemm.upload(c2), gemm.upload(o);
  LaunchRecord rec;
  bmc::Status st = gemm.launcher->launch("bmck.gemm", 1,
                                         {{"a", LaunchValue::of(ta.view())}, {"b", LaunchValue::of(tb.view())},
                                          {"c", LaunchValue::of(c2.view())}, {"out", LaunchValue::of(o.view())}},
                                         &rec);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(rec.path, "tiled");
  EXPECT_EQ(rec.tiledWhy, "C is added by the tiled kernel's epilogue (the device GEMM's beta * C reads C in place)");
  // Few rows stay on the GEMV whatever the prefill path.
  Tensor one = makeTensor({1, 2, 37}, ElementType::F32, 5, false, false), rhs;
  Tensor oneOut = makeTensor({1, 2, 45}, ElementType::F32, 6, false, false);
  gemm.upload(one), gemm.upload(oneOut);
  DevicePtr w0 = weightFor(gemm, 0, rhs, 9);
  st = gemm.launcher->launch("bmck.matmul", 0,
                             {{"a", LaunchValue::of(one.view())}, {"w", LaunchValue::ofWeight(reinterpret_cast<const void *>(w0))},
                              {"out", LaunchValue::of(oneOut.view())}},
                             &rec);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(rec.path, "gemv");
}

TEST(CudaEmittedPrefill, DeviceGemmMatchesTiledAndPlainLoops) { productsThroughTheDeviceGemm(false); }
TEST(CudaEmittedPrefill, DeviceGemmOnTheGpu) { productsThroughTheDeviceGemm(true); }

// A CPU device whose GEMM cannot be opened, as a GPU without cuBLASLt.
class NoGemmDevice final : public bmc::device::Device {
public:
  using DevicePtr = bmc::device::DevicePtr;
  const bmc::device::DeviceProperties &properties() const override { return cpu_.properties(); }
  bmc::Result<DevicePtr> allocate(size_t n) override { return cpu_.allocate(n); }
  bmc::Status free(DevicePtr p) override { return cpu_.free(p); }
  bmc::Status copyToDevice(DevicePtr d, const void *s, size_t n) override { return cpu_.copyToDevice(d, s, n); }
  bmc::Status copyToHost(void *d, DevicePtr s, size_t n) override { return cpu_.copyToHost(d, s, n); }
  bmc::Status copyOnDevice(DevicePtr d, DevicePtr s, size_t n) override { return cpu_.copyOnDevice(d, s, n); }
  bmc::Status copy2DToHost(void *d, size_t dp, DevicePtr s, size_t sp, size_t w, size_t h) override {
    return cpu_.copy2DToHost(d, dp, s, sp, w, h);
  }
  bmc::Result<bmc::device::ModuleHandle> loadModule(const bmc::device::ModuleImage &i) override {
    return cpu_.loadModule(i);
  }
  bmc::Result<bmc::device::KernelHandle> findKernel(bmc::device::ModuleHandle m, const std::string &n) override {
    return cpu_.findKernel(m, n);
  }
  bmc::Status launch(bmc::device::KernelHandle k, const bmc::device::LaunchConfig &c, void **a) override {
    return cpu_.launch(k, c, a);
  }
  bmc::Status synchronize() override { return cpu_.synchronize(); }
  bmc::Result<std::unique_ptr<bmc::device::GrowableBuffer>> reserveGrowable(size_t n) override {
    return cpu_.reserveGrowable(n);
  }
  bmc::Status beginCapture() override { return cpu_.beginCapture(); }
  bmc::Result<bmc::device::GraphHandle> endCapture() override { return cpu_.endCapture(); }
  bmc::Result<size_t> graphLaunchCount(bmc::device::GraphHandle g) override { return cpu_.graphLaunchCount(g); }
  bmc::Status replay(bmc::device::GraphHandle g) override { return cpu_.replay(g); }
  bmc::Status updateLaunch(bmc::device::GraphHandle g, size_t i, const bmc::device::LaunchConfig &c,
                           void **a) override {
    return cpu_.updateLaunch(g, i, c, a);
  }
  bmc::Status destroyGraph(bmc::device::GraphHandle g) override { return cpu_.destroyGraph(g); }
  bmc::Status gemm(const bmc::device::GemmDesc &) override { return openGemm(); }
  bmc::Status openGemm() override { return bmc::Status::error("cuda: gemm: libcublasLt.so.13 not found (test)"); }

private:
  bmc::device::CpuDevice cpu_;
};

TEST(CudaEmittedPrefill, NoDeviceGemmIsAnErrorUnlessTiledIsAsked) {
  NoGemmDevice dev;
  bmc::device::ModuleImage image;
  image.format = bmc::device::ModuleFormat::HostTable;
  image.hostKernels = emittedTable(image.hostKernelCount);
  auto m = dev.loadModule(image);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto refused = EmittedLauncher::create(dev, m.value(), emittedSource(), {PrefillPath::DeviceGemm, {}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "emitted launcher: the device GEMM for many product rows: cuda: gemm: libcublasLt.so.13 not found (test) "
            "(BMC_DEVICE_PREFILL=tiled runs the emitted tiled kernels instead)");
  auto tiled = EmittedLauncher::create(dev, m.value(), emittedSource(), {PrefillPath::Tiled, {}});
  ASSERT_TRUE(tiled.ok()) << tiled.status().message();
  EXPECT_EQ(tiled.value()->prefill(), PrefillPath::Tiled);
}

TEST(CudaEmittedPrefill, PathFromTheEnvironment) {
  const char *saved = std::getenv("BMC_DEVICE_PREFILL");
  std::string keep = saved ? saved : "";
  setenv("BMC_DEVICE_PREFILL", "tiled", 1);
  {
    Env env(false, PrefillPath::Default);
    ASSERT_TRUE(env.launcher) << env.error;
    EXPECT_EQ(env.launcher->prefill(), PrefillPath::Tiled);
    Env asked(false, PrefillPath::DeviceGemm); // an explicit option wins
    ASSERT_TRUE(asked.launcher) << asked.error;
    EXPECT_EQ(asked.launcher->prefill(), PrefillPath::DeviceGemm);
  }
  setenv("BMC_DEVICE_PREFILL", "gemm", 1);
  {
    Env env(false, PrefillPath::Default);
    ASSERT_TRUE(env.launcher) << env.error;
    EXPECT_EQ(env.launcher->prefill(), PrefillPath::DeviceGemm);
  }
  setenv("BMC_DEVICE_PREFILL", "cublas", 1);
  {
    Env env(false, PrefillPath::Default);
    EXPECT_FALSE(env.launcher);
    EXPECT_EQ(env.error, "BMC_DEVICE_PREFILL='cublas', expected gemm or tiled");
  }
  if (saved)
    setenv("BMC_DEVICE_PREFILL", keep.c_str(), 1);
  else
    unsetenv("BMC_DEVICE_PREFILL");
}

// ---- A decode-shaped step as a graph ----

bmc_view4 view4(DevicePtr p, long long off, std::initializer_list<long long> sizes, std::initializer_list<long long> strides) {
  bmc_view4 v{};
  v.data = reinterpret_cast<const void *>(p), v.offset = off;
  int i = 0;
  for (long long s : sizes) v.size[i++] = s;
  i = 0;
  for (long long s : strides) v.stride[i++] = s;
  return v;
}

std::vector<float> randoms(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v) x = d(rng);
  return v;
}

// One set of buffers for the sequence: bf16 K and V caches (rows outermost,
// [capacity, kv_heads, d] as DeviceKVCache lays them out; kv_append 3,
// attention 1: 2 KV heads x 37, 6 query heads, mask padding, a broadcast
// mask), then matmul 0 (the f32 weight [37, 45]) over the attention's
// output as [1, 6 x seq, 37].
struct StepBuffers {
  static constexpr long long kHeads = 6, kKvHeads = 2, kD = 37, kCapacity = 83, kN = 45, kMaxSeq = 5;
  DevicePtr k = 0, v = 0, rowsK = 0, rowsV = 0, q = 0, mask = 0, att = 0, out = 0;
  long long valid = 0;
  void init(Env &env, long long past, const std::vector<uint8_t> &kInit, const std::vector<uint8_t> &vInit) {
    k = env.upload(kInit), v = env.upload(vInit);
    std::vector<uint8_t> zeros(size_t(kMaxSeq) * kHeads * kD * 4, 0), outZeros(size_t(kMaxSeq) * kHeads * kN * 4, 0);
    rowsK = env.upload(zeros), rowsV = env.upload(zeros), q = env.upload(zeros), att = env.upload(zeros);
    out = env.upload(outZeros);
    std::vector<float> m = randoms(size_t(kMaxSeq) * kCapacity, 77);
    std::vector<uint8_t> mb(m.size() * 4);
    std::memcpy(mb.data(), m.data(), mb.size());
    mask = env.upload(mb);
    valid = past;
  }
  // The step's calls: seq new rows, then attention over valid + seq rows,
  // then the projection.
  std::vector<StepCall> calls(long long seq, DevicePtr weight) const {
    long long rows = valid + seq;
    bmc_kv_buffer ck{reinterpret_cast<void *>(k), 1, kCapacity, valid}, cv{reinterpret_cast<void *>(v), 1, kCapacity, valid};
    const long long kBs = kKvHeads * kD, kHs = kD, kRs = kKvHeads * kD; // rows outermost
    auto newRows = [&](DevicePtr p) { return view4(p, 0, {1, kKvHeads, seq, kD}, {kKvHeads * seq * kD, seq * kD, kD, 1}); };
    std::vector<StepCall> c;
    c.push_back({"bmck.kv_append", 3, {{"cache", LaunchValue::of(ck)}, {"rows", LaunchValue::of(newRows(rowsK))}}});
    c.push_back({"bmck.kv_append", 3, {{"cache", LaunchValue::of(cv)}, {"rows", LaunchValue::of(newRows(rowsV))}}});
    c.push_back({"bmck.attention",
                 1,
                 {{"q", LaunchValue::of(view4(q, 0, {1, kHeads, seq, kD}, {kHeads * seq * kD, seq * kD, kD, 1}))},
                  {"k", LaunchValue::of(view4(k, 0, {1, kKvHeads, rows, kD}, {kBs, kHs, kRs, 1}))},
                  {"v", LaunchValue::of(view4(v, 0, {1, kKvHeads, rows, kD}, {kBs, kHs, kRs, 1}))},
                  {"mask", LaunchValue::of(view4(mask, 0, {1, 1, seq, rows}, {0, 0, kCapacity, 1}))},
                  {"padded", LaunchValue::integer(rows)}, // rows grow: the split plan changes with them
                  {"rows_per_split", LaunchValue::integer(32)},
                  {"out", LaunchValue::of(view4(att, 0, {1, kHeads, seq, kD}, {kHeads * seq * kD, seq * kD, kD, 1}))}}});
    c.push_back({"bmck.matmul",
                 0,
                 {{"a", LaunchValue::of(view4(att, 0, {1, 1, kHeads * seq, kD}, {0, 0, kD, 1}))},
                  {"w", LaunchValue::ofWeight(reinterpret_cast<const void *>(weight))},
                  {"out", LaunchValue::of(view4(out, 0, {1, 1, kHeads * seq, kN}, {0, 0, kN, 1}))}}});
    return c;
  }
};

std::vector<uint8_t> bytesOfFloats(const std::vector<float> &f) {
  std::vector<uint8_t> b(f.size() * 4);
  std::memcpy(b.data(), f.data(), b.size());
  return b;
}

void decodeStepsAsAGraph(bool gpu) {
  Env env(gpu, PrefillPath::DeviceGemm);
  BMC_EMITTED_ENV_OR_SKIP(env);
  using B = StepBuffers;
  const long long past = 58;
  // The caches: past rows random (bf16), spare rows NaN.
  std::vector<float> init = randoms(size_t(B::kKvHeads * B::kCapacity * B::kD), 5);
  for (size_t i = 0; i < init.size(); ++i)
    if ((i / B::kD) / B::kKvHeads >= size_t(past)) init[i] = std::numeric_limits<float>::quiet_NaN();
  std::vector<uint8_t> k0(init.size() * 2), v0(init.size() * 2);
  bmc_convert_f32_to_kv(BMC_KV_BF16, init.data(), k0.data(), (int64_t)init.size());
  std::reverse(init.begin(), init.end());
  for (size_t i = 0; i < init.size(); ++i)
    if ((i / B::kD) / B::kKvHeads >= size_t(past)) init[i] = std::numeric_limits<float>::quiet_NaN();
    else if (std::isnan(init[i])) init[i] = 0.5f;
  bmc_convert_f32_to_kv(BMC_KV_BF16, init.data(), v0.data(), (int64_t)init.size());
  Tensor rhs;
  DevicePtr weight = weightFor(env, 0, rhs, 31);
  StepBuffers graphed, direct;
  graphed.init(env, past, k0, v0), direct.init(env, past, k0, v0);
  EmittedStepGraph step;
  // Prefill 5 rows, then 3 decode steps: valid 58 -> 63 -> 64 -> 65 (a third split) -> 66.
  const long long seqs[] = {5, 1, 1, 1};
  for (int s = 0; s < 4; ++s) {
    long long seq = seqs[s];
    SCOPED_TRACE("step " + std::to_string(s) + ", " + std::to_string(seq) + " rows");
    // New inputs copied into the same buffers of both sets (outside any capture).
    std::vector<uint8_t> rk = bytesOfFloats(randoms(size_t(seq * B::kKvHeads * B::kD), 100 + s)),
                         rv = bytesOfFloats(randoms(size_t(seq * B::kKvHeads * B::kD), 200 + s)),
                         q = bytesOfFloats(randoms(size_t(seq * B::kHeads * B::kD), 300 + s));
    for (StepBuffers *b : {&graphed, &direct}) {
      ASSERT_TRUE(env.device->copyToDevice(b->rowsK, rk.data(), rk.size()).ok());
      ASSERT_TRUE(env.device->copyToDevice(b->rowsV, rv.data(), rv.size()).ok());
      ASSERT_TRUE(env.device->copyToDevice(b->q, q.data(), q.size()).ok());
    }
    auto report = env.launcher->runStep(step, graphed.calls(seq, weight));
    ASSERT_TRUE(report.ok()) << report.status().message();
    for (const StepCall &c : direct.calls(seq, weight)) {
      bmc::Status st = env.launcher->launch(c.op, c.config, c.args);
      ASSERT_TRUE(st.ok()) << st.message();
    }
    const auto &r = report.value();
    ASSERT_EQ(r.records.size(), 4u);
    EXPECT_EQ(r.records[3].path, seq == 1 ? "gemv" : "device_gemm");
    if (s == 0) {
      EXPECT_TRUE(r.captured);
      EXPECT_EQ(r.why, "the first step");
      EXPECT_EQ(r.gemms, 1u);
      EXPECT_EQ(r.launches, 4u); // 2 appends, split + combine
    } else if (s == 1) {
      EXPECT_TRUE(r.captured) << "the prefill's GEMM became a GEMV: another kernel sequence";
      EXPECT_EQ(r.why, "6 launches and GEMMs, the graph has 5");
      EXPECT_EQ(r.launches, 6u);
      EXPECT_EQ(r.gemms, 0u);
    } else {
      EXPECT_FALSE(r.captured) << r.why;
      // Appends (valid), split and combine (rows, splits) change; the projection does not.
      EXPECT_EQ(r.updated, 4u);
      EXPECT_EQ(r.records[2].splits, 3); // 65 and 66 rows of 32: a third split from step 2
    }
    graphed.valid += seq, direct.valid += seq;
    // Byte-equal to the direct launches: both caches and the projection.
    auto get = [&](DevicePtr p, size_t n) {
      std::vector<uint8_t> v(n);
      EXPECT_TRUE(env.device->synchronize().ok());
      EXPECT_TRUE(env.device->copyToHost(v.data(), p, n).ok());
      return v;
    };
    size_t cacheBytes = k0.size(), outBytes = size_t(seq * B::kHeads * B::kN * 4);
    ASSERT_EQ(get(graphed.k, cacheBytes), get(direct.k, cacheBytes));
    ASSERT_EQ(get(graphed.v, cacheBytes), get(direct.v, cacheBytes));
    std::vector<uint8_t> outG = get(graphed.out, outBytes);
    ASSERT_EQ(outG, get(direct.out, outBytes));

    // The CPU kernels: bmc_attention_f32 over the caches as they are now, then a plain loop.
    std::vector<uint8_t> hk = get(graphed.k, cacheBytes), hv = get(graphed.v, cacheBytes);
    std::vector<uint8_t> hm = get(graphed.mask, size_t(B::kMaxSeq * B::kCapacity * 4));
    std::vector<float> qf(size_t(seq * B::kHeads * B::kD)), att(qf.size(), 0.0f);
    std::memcpy(qf.data(), q.data(), q.size());
    bmc_attention_args a = {};
    a.batch = 1, a.heads = B::kHeads, a.kv_heads = B::kKvHeads, a.q_len = seq, a.kv_len = graphed.valid;
    a.kv_padded_len = graphed.valid, a.head_dim = B::kD, a.v_head_dim = B::kD;
    a.q = qf.data(), a.q_bs = B::kHeads * seq * B::kD, a.q_hs = seq * B::kD, a.q_rs = B::kD;
    a.k = hk.data(), a.k_bs = B::kKvHeads * B::kD, a.k_hs = B::kD, a.k_rs = B::kKvHeads * B::kD;
    a.v = hv.data(), a.v_bs = a.k_bs, a.v_hs = a.k_hs, a.v_rs = a.k_rs;
    a.out = att.data(), a.o_bs = a.q_bs, a.o_hs = a.q_hs, a.o_rs = B::kD;
    a.mask = reinterpret_cast<const float *>(hm.data()), a.m_bs = 0, a.m_hs = 0, a.m_qs = B::kCapacity, a.m_ks = 1;
    a.scale = 0.3f, a.kv_type = BMC_KV_BF16;
    bmc_attention_f32(nullptr, &a);
    std::vector<float> got(outG.size() / 4);
    std::memcpy(got.data(), outG.data(), outG.size());
    for (long long i = 0; i < seq * B::kHeads; ++i)
      for (long long n = 0; n < B::kN; ++n) {
        double want = 0, scale = 0;
        for (long long k = 0; k < B::kD; ++k) {
          double x = att[i * B::kD + k] * double(rhs.vals[k * B::kN + n]);
          want += x, scale += std::fabs(x);
        }
        ASSERT_NEAR(got[i * B::kN + n], want, 2e-5 * (scale + 1)) << "row " << i << ", column " << n;
      }
  }
  ASSERT_TRUE(step.valid);
  EXPECT_TRUE(env.device->destroyGraph(step.graph).ok());
}

TEST(CudaEmittedGraph, DecodeStepsCapturedUpdatedAndRecaptured) { decodeStepsAsAGraph(false); }
TEST(CudaEmittedGraph, DecodeStepsOnTheGpu) { decodeStepsAsAGraph(true); }

} // namespace
