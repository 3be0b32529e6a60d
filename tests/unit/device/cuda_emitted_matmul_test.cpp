// The CUDA emitter's matrix products (bmck.matmul / bmck.gemm of
// emitted_kernels.mlir, @products) run in the host emulation through the
// runtime's EmittedLauncher on the CPU device, against plain loops written
// here from the ops' semantics (numpy matmul, ONNX Gemm): rows 1, 3, 6 and 37
// (GEMV and tiled paths), K = 37 and 64, N = 45 and odd run-time sizes,
// unaligned and strided views with NaN between their elements, f32 / f16 /
// bf16 weights made by cudaMatMulWeight from their model layout as the
// bmc-launch line describes them, split-K off, on and planned, batch
// broadcasting, 1-D operands, trans_a / trans_b, alpha, beta and a C that
// broadcasts. Then launches whose checks fail. (cudaMatMulWeight alone:
// cuda_weights_test.cpp.)
#include "cuda_emulation.h"

#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "tests/unit/device/emitted_kernels.cu" // in the build tree

#include "bmc/abi/kernels.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/CudaWeights.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/EmittedLauncher.h"
#include "tests/unit/device/emitted_products_test.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace emitted_products {

using bmc::device::CpuDevice;
using bmc::device::DevicePtr;
using bmc::device::ElementType;
using bmc::device::EmittedLauncher;
using bmc::device::HostKernel;
using bmc::device::HostLaunch;
using bmc::device::LaunchArgs;
using bmc::device::LaunchRecord;
using bmc::device::LaunchValue;

// With their argument sizes, so that their launches can be captured in graphs.
#define BMC_EMULATED(name)                                                                         \
  HostKernel {                                                                                     \
    #name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); },                    \
        bmc_emu::argSizes(name), bmc_emu::argCount(name)                                           \
  }
#define BMC_EMULATED_PRODUCT(base) BMC_EMULATED(base##_gemv), BMC_EMULATED(base##_epilogue), BMC_EMULATED(base##_tiled)

const HostKernel kTable[] = {
    BMC_EMULATED(bmc_kv_append_0),         BMC_EMULATED(bmc_kv_append_1),        BMC_EMULATED(bmc_kv_append_2),
    BMC_EMULATED(bmc_kv_append_3),         BMC_EMULATED(bmc_kv_append_4),        BMC_EMULATED(bmc_attention_0_split),
    BMC_EMULATED(bmc_attention_0_combine), BMC_EMULATED(bmc_attention_1_split),  BMC_EMULATED(bmc_attention_1_combine),
    BMC_EMULATED(bmc_attention_2_split),   BMC_EMULATED(bmc_attention_2_combine),
    BMC_EMULATED_PRODUCT(bmc_matmul_0),    BMC_EMULATED_PRODUCT(bmc_matmul_1),   BMC_EMULATED_PRODUCT(bmc_matmul_2),
    BMC_EMULATED(bmc_matmul_3_tiled),      BMC_EMULATED(bmc_matmul_4_tiled),     BMC_EMULATED(bmc_matmul_5_tiled),
    BMC_EMULATED(bmc_matmul_6_tiled),      BMC_EMULATED_PRODUCT(bmc_matmul_7),   BMC_EMULATED_PRODUCT(bmc_matmul_8),
    BMC_EMULATED_PRODUCT(bmc_gemm_0),      BMC_EMULATED(bmc_gemm_1_tiled),
    // The norms of @rows (tested in cuda_emitted_emulation_test.cpp): the
    // launcher finds every kernel its bmc-launch lines name.
    BMC_EMULATED(bmc_norm_0),              BMC_EMULATED(bmc_norm_1),             BMC_EMULATED(bmc_norm_2),
    BMC_EMULATED(bmc_norm_3),              BMC_EMULATED(bmc_softmax_0),          BMC_EMULATED(bmc_softmax_1),
};

const HostKernel *emittedTable(size_t &count) {
  count = sizeof kTable / sizeof kTable[0];
  return kTable;
}

std::string emittedSource() { return bmc_device_test::readEmittedSource(BMC_EMITTED_CU); }

int kvType(ElementType t) { return t == ElementType::F16 ? BMC_KV_F16 : t == ElementType::BF16 ? BMC_KV_BF16 : BMC_KV_F32; }
size_t width(ElementType t) { return t == ElementType::F32 ? 4 : 2; }


Tensor makeTensor(std::vector<long long> dims, ElementType type, unsigned seed, bool strided, bool unaligned) {
  Tensor t;
  t.dims = dims, t.type = type, t.offset = unaligned ? 3 : 0;
  t.strides.assign(dims.size(), 1);
  long long s = strided ? 2 : 1;
  for (int i = int(dims.size()) - 1; i >= 0; --i) {
    t.strides[i] = s;
    s = s * dims[i] + (strided ? 3 : 0);
  }
  long long span = t.offset + s + 1;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> raw(size_t(t.count()));
  for (float &x : raw) x = d(rng);
  // The values the type holds (rounded once, read back).
  std::vector<unsigned char> narrow(raw.size() * width(type));
  bmc_convert_f32_to_kv(kvType(type), raw.data(), narrow.data(), (int64_t)raw.size());
  t.vals.resize(raw.size());
  bmc_convert_kv_to_f32(kvType(type), narrow.data(), t.vals.data(), (int64_t)raw.size());
  std::vector<float> storage(size_t(span), std::numeric_limits<float>::quiet_NaN());
  for (long long i = 0; i < t.count(); ++i) storage[t.storageAt(i)] = t.vals[i];
  t.bytes.resize(storage.size() * width(type));
  bmc_convert_f32_to_kv(kvType(type), storage.data(), t.bytes.data(), (int64_t)storage.size());
  return t;
}


Env::Env(bool gpu, bmc::device::PrefillPath prefill, std::function<void(const std::string &)> notice)
    : EmittedEnv(gpu, kTable, BMC_EMITTED_CU, {prefill, std::move(notice)}) {}

void numpyMatMul(const Tensor &a, const Tensor &b, std::vector<double> &want, std::vector<double> &scale,
                 std::vector<long long> &outDims) {
  int ra = int(a.dims.size()), rb = int(b.dims.size());
  long long m = ra == 1 ? 1 : a.dims[ra - 2], k = a.dims[ra - 1], n = rb == 1 ? 1 : b.dims[rb - 1];
  std::vector<long long> ab(a.dims.begin(), a.dims.end() - std::min(ra, 2)), bb(b.dims.begin(), b.dims.end() - std::min(rb, 2));
  if (ra == 1) ab.clear();
  if (rb == 1) bb.clear();
  size_t nb = std::max(ab.size(), bb.size());
  std::vector<long long> ob(nb);
  for (size_t j = 0; j < nb; ++j) {
    long long x = j + ab.size() >= nb ? ab[j + ab.size() - nb] : 1, y = j + bb.size() >= nb ? bb[j + bb.size() - nb] : 1;
    ob[j] = std::max(x, y);
  }
  outDims = ob;
  if (ra >= 2) outDims.push_back(m);
  if (rb >= 2) outDims.push_back(n);
  long long batches = 1;
  for (long long x : ob) batches *= x;
  want.clear(), scale.clear();
  for (long long bi = 0; bi < batches; ++bi)
    for (long long i = 0; i < m; ++i)
      for (long long j = 0; j < n; ++j) {
        std::vector<long long> bidx(nb);
        for (long long r = bi, q = nb - 1; q >= 0; --q) bidx[q] = r % ob[q], r /= ob[q];
        double s = 0, sc = 0;
        for (long long kk = 0; kk < k; ++kk) {
          std::vector<long long> ia, ib;
          for (size_t q = 0; q < ab.size(); ++q) ia.push_back(ab[q] == 1 ? 0 : bidx[q + nb - ab.size()]);
          for (size_t q = 0; q < bb.size(); ++q) ib.push_back(bb[q] == 1 ? 0 : bidx[q + nb - bb.size()]);
          if (ra >= 2) ia.push_back(i);
          ia.push_back(kk);
          ib.push_back(kk);
          if (rb >= 2) ib.push_back(j);
          double x = a.at(ia), y = b.at(ib);
          s += x * y, sc += std::fabs(x * y);
        }
        want.push_back(s), scale.push_back(sc);
      }
}

void expectClose(const std::vector<float> &got, const std::vector<double> &want, const std::vector<double> &scale,
                 double rel16, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    double tol = 1e-5 * scale[i] + 1e-6 + rel16 * std::fabs(want[i]);
    ASSERT_NEAR(got[i], want[i], tol) << what << ", element " << i;
  }
}

} // namespace emitted_products

namespace {

using namespace emitted_products;

// A weighted bmck.matmul: the weight made from its model layout as the
// bmc-launch line describes it, the reference from the op's semantics.
struct WeightCase {
  int config;
  long long k, n;
  ElementType own;     // the bmc.weight's type
  bool modelIsNK;      // the bmc.weight is [N, K] (behind a Transpose)
  int aRank;           // 2 or 3
};

void runWeighted(Env &env, const WeightCase &c, long long b, long long m, int splits, bool odd, unsigned seed) {
  std::string what = "matmul " + std::to_string(c.config) + ", rows " + std::to_string(b) + " x " + std::to_string(m) +
                     ", splits " + std::to_string(splits) + (odd ? ", strided/unaligned" : "");
  SCOPED_TRACE(what);
  const bmc::device::EmittedWeight *w = env.launcher->weight("bmck.matmul", c.config);
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->sources.size(), 1u);
  ElementType storage;
  ASSERT_TRUE(bmc::device::parseElementType(w->storage, storage));
  EXPECT_EQ(storage, c.own) << "the model's own weight type";
  EXPECT_EQ(w->n, c.n);
  EXPECT_EQ(w->k, c.k);
  // The model's weight, and the op's right operand [K, N] it stands for.
  Tensor model = makeTensor(c.modelIsNK ? std::vector<long long>{c.n, c.k} : std::vector<long long>{c.k, c.n}, c.own,
                            seed, false, false);
  Tensor rhs = makeTensor({c.k, c.n}, ElementType::F32, 1, false, false);
  for (long long kk = 0; kk < c.k; ++kk)
    for (long long j = 0; j < c.n; ++j)
      rhs.vals[kk * c.n + j] = c.modelIsNK ? model.at({j, kk}) : model.at({kk, j});
  std::vector<uint8_t> device;
  ElementType srcType;
  ASSERT_TRUE(bmc::device::parseElementType(w->sources[0].type, srcType));
  bmc::Status st = bmc::device::cudaMatMulWeight(model.bytes.data(), srcType, model.dims[0], model.dims[1],
                                                 w->sources[0].transpose, storage, device);
  ASSERT_TRUE(st.ok()) << st.message();
  DevicePtr dw = env.upload(device);

  Tensor a = makeTensor(c.aRank == 3 ? std::vector<long long>{b, m, c.k} : std::vector<long long>{m, c.k},
                        ElementType::F32, seed + 1, odd, odd);
  std::vector<double> want, scale;
  std::vector<long long> outDims;
  numpyMatMul(a, rhs, want, scale, outDims);
  Tensor out = makeTensor(outDims, ElementType::F32, seed + 2, odd, odd);
  env.upload(a), env.upload(out);
  LaunchArgs args{{"a", LaunchValue::of(a.view())}, {"w", LaunchValue::ofWeight(reinterpret_cast<const void *>(dw))},
                  {"out", LaunchValue::of(out.view())}};
  if (splits) args["splits"] = LaunchValue::integer(splits);
  LaunchRecord rec;
  st = env.launcher->launch("bmck.matmul", c.config, args, &rec);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string base = "bmc_matmul_" + std::to_string(c.config);
  long long rows = b * m;
  if (rows <= 8) {
    ASSERT_EQ(rec.kernels, (std::vector<std::string>{base + "_gemv", base + "_epilogue"}));
    if (splits) EXPECT_EQ(rec.splits, splits);
    EXPECT_EQ(rec.kChunk % 8, 0);
  } else {
    ASSERT_EQ(rec.kernels, (std::vector<std::string>{base + "_tiled"}));
    EXPECT_EQ(rec.kChunk, 0);
  }
  expectClose(env.download(out), want, scale, 0, what);
}

void weightedProducts(Env &env) {
  ASSERT_EQ(env.launcher->configurations("bmck.matmul"), 9);
  const WeightCase cases[] = {
      {0, 37, 45, ElementType::F32, false, 3}, {1, 37, 45, ElementType::BF16, false, 2},
      {2, 37, 45, ElementType::F16, true, 3},  {7, 64, 45, ElementType::F32, false, 2},
      {8, 64, 45, ElementType::F16, false, 2},
  };
  unsigned seed = 10;
  for (const WeightCase &c : cases)
    for (auto [b, m] : {std::pair{1LL, 1LL}, {1, 3}, {3, 2}, {1, 37}}) {
      if (c.aRank == 2 && b != 1) continue;
      for (int splits : {0, 1, 3})
        for (bool odd : {false, true}) {
          if (m == 37 && splits > 1) continue; // the tiled path has no splits (refused: FailedChecksLaunchNothing)
          runWeighted(env, c, c.aRank == 3 ? b : 1, c.aRank == 3 ? m : b * m, splits, odd, seed += 5);
          if (::testing::Test::HasFatalFailure()) return;
        }
    }
}

// Products of run-time views (tiled): batch broadcasting, 1-D operands, f16.
void stridedProducts(Env &env) {
  struct Case {
    int config;
    std::vector<long long> a, b;
    ElementType type;
  };
  const Case cases[] = {
      {3, {2, 3, 5, 37}, {3, 37, 19}, ElementType::F32}, {3, {1, 3, 1, 37}, {3, 37, 1}, ElementType::F32},
      {3, {2, 3, 17, 37}, {3, 37, 33}, ElementType::F32}, {4, {37}, {2, 37, 19}, ElementType::F32},
      {5, {2, 3, 37}, {37}, ElementType::F32},            {6, {2, 17, 37}, {37, 21}, ElementType::F16},
  };
  unsigned seed = 300;
  for (const Case &c : cases)
    for (bool odd : {false, true}) {
      SCOPED_TRACE("matmul " + std::to_string(c.config) + (odd ? ", strided/unaligned" : ""));
      Tensor a = makeTensor(c.a, c.type, seed += 3, odd, odd), b = makeTensor(c.b, c.type, seed + 1, odd, !odd);
      std::vector<double> want, scale;
      std::vector<long long> outDims;
      numpyMatMul(a, b, want, scale, outDims);
      Tensor out = makeTensor(outDims, c.type, seed + 2, odd, odd);
      env.upload(a), env.upload(b), env.upload(out);
      LaunchRecord rec;
      bmc::Status st = env.launcher->launch(
          "bmck.matmul", c.config,
          {{"a", LaunchValue::of(a.view())}, {"b", LaunchValue::of(b.view())}, {"out", LaunchValue::of(out.view())}},
          &rec);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_EQ(rec.kernels, (std::vector<std::string>{"bmc_matmul_" + std::to_string(c.config) + "_tiled"}));
      expectClose(env.download(out), want, scale, c.type == ElementType::F16 ? 1e-3 : 0, "matmul");
      if (::testing::Test::HasFatalFailure()) return;
    }
}

// ONNX Gemm: alpha * op(A) op(B) + beta * C, C broadcast.
void gemmReference(const Tensor &a, bool ta, const Tensor &b, bool tb, const Tensor *c, float alpha, float beta,
                   std::vector<double> &want, std::vector<double> &scale, long long &m, long long &n) {
  m = ta ? a.dims[1] : a.dims[0];
  long long k = ta ? a.dims[0] : a.dims[1];
  n = tb ? b.dims[0] : b.dims[1];
  want.clear(), scale.clear();
  for (long long i = 0; i < m; ++i)
    for (long long j = 0; j < n; ++j) {
      double s = 0, sc = 0;
      for (long long kk = 0; kk < k; ++kk) {
        double x = ta ? a.at({kk, i}) : a.at({i, kk}), y = tb ? b.at({j, kk}) : b.at({kk, j});
        s += x * y, sc += std::fabs(x * y);
      }
      double v = alpha * s, cv = 0;
      if (c) {
        const auto &d = c->dims;
        if (d.size() == 1) cv = c->at({d[0] == 1 ? 0 : j});
        if (d.size() == 2) cv = c->at({d[0] == 1 ? 0 : i, d[1] == 1 ? 0 : j});
      }
      want.push_back(v + beta * cv), scale.push_back(std::fabs(alpha) * sc + std::fabs(beta * cv));
    }
}

void gemmWithWeight(Env &env) {
  const bmc::device::EmittedWeight *w = env.launcher->weight("bmck.gemm", 0);
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->sources.size(), 1u);
  EXPECT_FALSE(w->sources[0].transpose) << "a Gemm weight with trans_b is [N, K] already";
  unsigned seed = 500;
  for (long long m : {1, 3, 37})
    for (int splits : {0, 3})
      for (bool odd : {false, true}) {
        if (m > 8 && splits) continue; // the tiled path has no splits (refused: FailedChecksLaunchNothing)
        SCOPED_TRACE("gemm 0, rows " + std::to_string(m) + ", splits " + std::to_string(splits) + (odd ? ", odd" : ""));
        Tensor wt = makeTensor({45, 37}, ElementType::F32, seed += 3, false, false);
        std::vector<uint8_t> device;
        ASSERT_TRUE(bmc::device::cudaMatMulWeight(wt.bytes.data(), ElementType::F32, 45, 37, w->sources[0].transpose,
                                                  ElementType::F32, device)
                        .ok());
        Tensor a = makeTensor({m, 37}, ElementType::F32, seed + 1, odd, odd), c = makeTensor({45}, ElementType::F32, seed + 2, odd, odd);
        std::vector<double> want, scale;
        long long mm, nn;
        gemmReference(a, false, wt, true, &c, 0.5f, 2.0f, want, scale, mm, nn);
        Tensor out = makeTensor({mm, nn}, ElementType::F32, seed + 3, odd, odd);
        env.upload(a), env.upload(c), env.upload(out);
        DevicePtr dw = env.upload(device);
        LaunchArgs args{{"a", LaunchValue::of(a.view())}, {"w", LaunchValue::ofWeight(reinterpret_cast<const void *>(dw))},
                        {"c", LaunchValue::of(c.view())}, {"out", LaunchValue::of(out.view())}};
        if (splits) args["splits"] = LaunchValue::integer(splits);
        LaunchRecord rec;
        bmc::Status st = env.launcher->launch("bmck.gemm", 0, args, &rec);
        ASSERT_TRUE(st.ok()) << st.message();
        EXPECT_EQ(rec.kernels.size(), m <= 8 ? 2u : 1u);
        expectClose(env.download(out), want, scale, 0, "gemm 0");
        if (::testing::Test::HasFatalFailure()) return;
      }
}

void gemmTransposed(Env &env) {
  unsigned seed = 700;
  for (std::vector<long long> cd : {std::vector<long long>{5, 19}, {1, 19}, {5, 1}, {1, 1}})
    for (bool odd : {false, true}) {
      SCOPED_TRACE("gemm 1, C [" + std::to_string(cd[0]) + ", " + std::to_string(cd[1]) + "]" + (odd ? ", odd" : ""));
      Tensor a = makeTensor({37, 5}, ElementType::F32, seed += 3, odd, odd), b = makeTensor({19, 37}, ElementType::F32, seed + 1, odd, !odd);
      Tensor c = makeTensor(cd, ElementType::F32, seed + 2, odd, odd);
      std::vector<double> want, scale;
      long long m, n;
      gemmReference(a, true, b, true, &c, 1.5f, -0.5f, want, scale, m, n);
      Tensor out = makeTensor({m, n}, ElementType::F32, seed + 3, odd, odd);
      env.upload(a), env.upload(b), env.upload(c), env.upload(out);
      bmc::Status st = env.launcher->launch("bmck.gemm", 1,
                                            {{"a", LaunchValue::of(a.view())}, {"b", LaunchValue::of(b.view())},
                                             {"c", LaunchValue::of(c.view())}, {"out", LaunchValue::of(out.view())}});
      ASSERT_TRUE(st.ok()) << st.message();
      expectClose(env.download(out), want, scale, 0, "gemm 1");
      if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(CudaEmittedMatMul, WeightsGemvAndTiledMatchPlainLoops) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  weightedProducts(env);
}

TEST(CudaEmittedMatMul, StridedBatchedMatchesNumpy) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  stridedProducts(env);
}

TEST(CudaEmittedMatMul, GemmWithWeightAndBias) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  gemmWithWeight(env);
}

TEST(CudaEmittedMatMul, GemmTransposedWithBroadcastC) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  gemmTransposed(env);
}

// The same launches on NVRTC's build through CudaDevice (skipped without a
// GPU; benchmarks/gpu_check.sh runs it with BMC_REQUIRE_GPU=1).
TEST(CudaEmittedMatMul, ProductsOnTheGpu) {
  Env env(true);
  BMC_EMITTED_ENV_OR_SKIP(env);
  weightedProducts(env);
  if (::testing::Test::HasFatalFailure()) return;
  stridedProducts(env);
  if (::testing::Test::HasFatalFailure()) return;
  gemmWithWeight(env);
  if (::testing::Test::HasFatalFailure()) return;
  gemmTransposed(env);
}

// The kernels called directly (no launcher: grids, scratch and splits set
// here by hand, host memory), so a launcher bug cannot hide a kernel bug.
template <typename... A>
void launchDirect(void (*kernel)(A...), bmc::device::Dim3 grid, unsigned threads, void **args) {
  HostLaunch l{grid, {threads, 1, 1}, {}};
  for (uint32_t z = 0; z < grid.z; ++z)
    for (uint32_t y = 0; y < grid.y; ++y)
      for (uint32_t x = 0; x < grid.x; ++x) {
        l.blockIdx = {x, y, z};
        bmc_emu::emulate(kernel, l, args);
      }
}

TEST(CudaEmittedMatMul, KernelsCalledDirectly) {
  // matmul 0: a [2, 3, 37] (strided, unaligned) x w0 [37, 45]: GEMV with 2 splits of 24 and 13, then tiled.
  Tensor a = makeTensor({2, 3, 37}, ElementType::F32, 900, true, true);
  Tensor w = makeTensor({37, 45}, ElementType::F32, 901, false, false);
  std::vector<uint8_t> device;
  ASSERT_TRUE(bmc::device::cudaMatMulWeight(w.bytes.data(), ElementType::F32, 37, 45, true, ElementType::F32, device).ok());
  std::vector<double> want, scale;
  std::vector<long long> outDims;
  numpyMatMul(a, w, want, scale, outDims);
  for (int path = 0; path < 2; ++path) {
    SCOPED_TRACE(path ? "tiled" : "gemv, 2 splits");
    Tensor out = makeTensor(outDims, ElementType::F32, 902, true, false);
    a.dev = reinterpret_cast<DevicePtr>(a.bytes.data()), out.dev = reinterpret_cast<DevicePtr>(out.bytes.data());
    bmc_view4 av = a.view(), ov = out.view();
    const void *wp = device.data();
    int splits = 2, chunk = 24;
    std::vector<float> partial(6 * 2 * 45, std::numeric_limits<float>::quiet_NaN());
    float *pp = partial.data();
    void *args[] = {&av, &wp, &ov, &pp, &splits, &chunk};
    if (path == 0) {
      launchDirect(bmc_matmul_0_gemv, {(45 + 7) / 8, 2, 6}, 128, args);
      launchDirect(bmc_matmul_0_epilogue, {1, 6, 1}, 128, args);
    } else {
      launchDirect(bmc_matmul_0_tiled, {3, 1, 2}, 256, args);
    }
    std::vector<float> got(size_t(out.count()));
    for (long long i = 0; i < out.count(); ++i)
      std::memcpy(&got[i], out.bytes.data() + out.storageAt(i) * 4, 4);
    expectClose(got, want, scale, 0, "matmul 0 direct");
  }
}

TEST(CudaEmittedMatMul, FailedChecksLaunchNothing) {
  Env env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  Tensor a = makeTensor({2, 36}, ElementType::F32, 1, false, false), out = makeTensor({2, 45}, ElementType::F32, 2, false, false);
  Tensor good = makeTensor({2, 37}, ElementType::F32, 3, false, false);
  env.upload(a), env.upload(out), env.upload(good);
  std::vector<float> before = env.download(out);
  std::vector<uint8_t> wbytes(45 * 37 * 2, 0);
  const void *w = reinterpret_cast<const void *>(env.upload(wbytes));
  auto launch = [&](const Tensor &x, LaunchArgs extra = {}) {
    LaunchArgs args{{"a", LaunchValue::of(x.view())}, {"w", LaunchValue::ofWeight(w)}, {"out", LaunchValue::of(out.view())}};
    for (auto &[k, v] : extra) args[k] = v;
    return env.launcher->launch("bmck.matmul", 1, args).message();
  };
  EXPECT_EQ(launch(a), "launch bmck.matmul 1: matmul 1 (weight bf16 [45, 37]): a of K 36, the weight's 37");
  EXPECT_EQ(launch(good, {{"w", LaunchValue::ofWeight(nullptr)}}), "launch bmck.matmul 1: weight 'w': null");
  EXPECT_EQ(launch(good, {{"splits", LaunchValue::integer(40)}}), "launch bmck.matmul 1: splits 40, expected 1..37");
  Tensor many = makeTensor({37, 37}, ElementType::F32, 7, false, false), manyOut = makeTensor({37, 45}, ElementType::F32, 8, false, false);
  env.upload(many), env.upload(manyOut);
  EXPECT_EQ(env.launcher
                ->launch("bmck.matmul", 1,
                         {{"a", LaunchValue::of(many.view())}, {"w", LaunchValue::ofWeight(w)},
                          {"out", LaunchValue::of(manyOut.view())}, {"splits", LaunchValue::integer(3)}})
                .message(),
            "launch bmck.matmul 1: splits 3 asked, but 37 rows take the tiled kernel (no split-K; the GEMV takes 1..8 rows)");
  EXPECT_EQ(launch(good, {{"k_chunk", LaunchValue::integer(8)}}),
            "launch bmck.matmul 1: argument 'k_chunk' is no parameter the caller sets");
  Tensor batched = makeTensor({2, 3, 5, 37}, ElementType::F32, 4, false, false), b3 = makeTensor({2, 37, 4}, ElementType::F32, 5, false, false),
         o4 = makeTensor({2, 3, 5, 4}, ElementType::F32, 6, false, false);
  env.upload(batched), env.upload(b3), env.upload(o4);
  EXPECT_EQ(env.launcher
                ->launch("bmck.matmul", 3,
                         {{"a", LaunchValue::of(batched.view())}, {"b", LaunchValue::of(b3.view())}, {"out", LaunchValue::of(o4.view())}})
                .message(),
            "launch bmck.matmul 3: matmul 3 (f32 x f32): b of batch 2 in dimension 1, expected 1 or out's 3");
  std::vector<float> after = env.download(out);
  EXPECT_EQ(0, std::memcmp(before.data(), after.data(), before.size() * 4)) << "nothing launched";
}

} // namespace
