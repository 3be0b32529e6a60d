// The CUDA emitter's kernels (bmc-opt --bmc-emit-cuda on emitted_kernels.mlir,
// generated at build time) compiled as host C++ against cuda_emulation.h and
// run on random inputs with odd sizes and strides against the CPU kernels:
// bmck.kv_append against bmc_convert_f32_to_kv (the rounding of the CPU's
// append), bmck.attention against bmc_attention_f32 (q rows 1 and 5, KV
// views with spare rows holding NaN, broadcast and per-head masks with -inf,
// GQA, softcap, smooth softmax), bmck.norm and bmck.softmax against plain
// double-precision loops (views of rank 1 to 4, odd widths and strides, a
// broadcast scale, -inf entries and a fully -inf row). Then the same kernels through
// EmittedLauncher (the runtime's launcher reading the emitter's bmc-launch
// lines) on the CPU device: a kv_append then attention, prefill (5 query rows)
// and decode (1), against the CPU kernels, and launches whose checks fail.
// What the emulation checks and does not: cuda_emulation.h.
#include "cuda_emulation.h"

#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh" // the products' kernels: cuda_emitted_matmul_test.cpp
#include "runtime/device/cuda/norm.cuh"
#include "tests/unit/device/emitted_kernels.cu" // in the build tree

#include "bmc/abi/kernels.h"
#include "emitted_env.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using bmc::device::Dim3;
using bmc::device::HostLaunch;

// Every block of the grid, one after another (as CpuDevice::launch does).
template <typename... A>
void launch(void (*kernel)(A...), Dim3 grid, unsigned threads, void **args) {
  HostLaunch l{grid, {threads, 1, 1}, {}};
  for (uint32_t z = 0; z < grid.z; ++z)
    for (uint32_t y = 0; y < grid.y; ++y)
      for (uint32_t x = 0; x < grid.x; ++x) {
        l.blockIdx = {x, y, z};
        bmc_emu::emulate(kernel, l, args);
      }
}

std::vector<float> randomFloats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

bmc_view4 view(const void *data, long long offset, std::vector<long long> size, std::vector<long long> stride) {
  bmc_view4 v;
  v.data = data;
  v.offset = offset;
  for (int i = 0; i < 4; ++i)
    v.size[i] = size[i], v.stride[i] = stride[i];
  return v;
}

// kv_append: rows [batch 2, heads 3, seq 3, 37] read through a transposed view
// ([batch, seq, heads, d] storage, offset 5) into a cache of capacity 11 with
// 4 valid rows (rows outermost: [capacity, batch, heads, d]); the other rows
// keep their bytes.
template <typename Kernel>
void checkAppend(Kernel kernel, int kvType, size_t width) {
  const long long batch = 2, heads = 3, seq = 3, d = 37, capacity = 11, valid = 4, offset = 5;
  std::vector<float> storage = randomFloats(offset + batch * seq * heads * d, 7, -70000.0f, 70000.0f);
  storage[offset + 1] = 1e-6f; // an fp16 subnormal
  storage[offset + 2] = 65519.0f, storage[offset + 3] = 65520.0f; // fp16: the largest finite, then inf
  bmc_view4 rows = view(storage.data(), offset, {batch, heads, seq, d}, {seq * heads * d, d, heads * d, 1});
  std::vector<unsigned char> cache(batch * heads * capacity * d * width, 0xab);
  std::vector<unsigned char> want = cache;
  for (long long b = 0; b < batch; ++b)
    for (long long h = 0; h < heads; ++h)
      for (long long s = 0; s < seq; ++s) {
        const float *src = storage.data() + offset + b * seq * heads * d + s * heads * d + h * d;
        bmc_convert_f32_to_kv(kvType, src, want.data() + (((valid + s) * batch + b) * heads + h) * d * width, d);
      }
  bmc_kv_buffer buf{cache.data(), batch, capacity, valid};
  void *args[] = {&buf, &rows};
  launch(kernel, {unsigned(seq), unsigned(heads), unsigned(batch)}, 64, args);
  for (size_t i = 0; i < cache.size(); ++i)
    ASSERT_EQ(cache[i], want[i]) << "kv type " << kvType << ", byte " << i;
}

TEST(CudaEmitted, KVAppendMatchesTheCpuConversion) {
  checkAppend(bmc_kv_append_0, BMC_KV_F32, 4);
  checkAppend(bmc_kv_append_1, BMC_KV_F16, 2);
  checkAppend(bmc_kv_append_2, BMC_KV_BF16, 2);
}

struct Case {
  int index;          // emitted attention kernel
  int kvType;
  int heads, kvHeads, d;
  bool maskPadding;   // rows past kv_len read and masked (padded = rows)
  int mask;           // 0: none, 1: [b, 1, s, t] broadcast, 2: [b, heads, s, t]
  float scale, softcap;
  int smooth;
};

void checkAttention(const Case &c, int batch, int seqQ, int kvLen, unsigned seed) {
  const int spare = 7, rows = kvLen + spare, d = c.d, width = c.kvType == BMC_KV_F32 ? 4 : 2;
  const long long kRs = d + 2, kHs = rows * kRs, kBs = c.kvHeads * kHs; // padded rows: odd strides
  const long long qSs = d + 1, qHs = seqQ * qSs, qBs = c.heads * qHs;
  const long long oSs = d + 3, oHs = seqQ * oSs, oBs = c.heads * oHs;
  std::vector<float> q = randomFloats(batch * qBs + 3, seed), kf = randomFloats(batch * kBs, seed + 1);
  for (long long i = 0; i < batch * kBs; ++i)
    if ((i % kHs) / kRs >= kvLen)
      kf[i] = std::numeric_limits<float>::quiet_NaN(); // spare rows: any read shows
  std::vector<unsigned char> kv(kf.size() * width);
  bmc_convert_f32_to_kv(c.kvType, kf.data(), kv.data(), (int64_t)kf.size());
  const int mh = c.mask == 2 ? c.heads : 1;
  std::vector<float> mask = randomFloats(size_t(batch) * mh * seqQ * kvLen, seed + 2, -2.0f, 1.0f);
  for (size_t i = 0; i < mask.size(); ++i)
    if (i % 5 == 1)
      mask[i] = -INFINITY;
  if (c.mask) // one query row masked everywhere: uniform weights on both sides
    for (int t = 0; t < kvLen; ++t)
      mask[size_t(seqQ - 1) * kvLen + t] = -INFINITY;
  const long long mSs = kvLen, mHs = seqQ * mSs, mBs = mh * mHs;

  std::vector<float> got(batch * oBs, 0.0f), want(batch * oBs, 0.0f);
  bmc_attention_args a = {};
  a.batch = batch, a.heads = c.heads, a.kv_heads = c.kvHeads, a.q_len = seqQ, a.kv_len = kvLen;
  a.kv_padded_len = c.maskPadding ? rows : kvLen, a.head_dim = d, a.v_head_dim = d;
  a.q = q.data() + 3, a.q_bs = qBs, a.q_hs = qHs, a.q_rs = qSs;
  a.k = kv.data(), a.k_bs = kBs, a.k_hs = kHs, a.k_rs = kRs;
  a.v = kv.data(), a.v_bs = kBs, a.v_hs = kHs, a.v_rs = kRs;
  a.out = want.data(), a.o_bs = oBs, a.o_hs = oHs, a.o_rs = oSs;
  a.mask = c.mask ? mask.data() : nullptr;
  a.m_bs = mBs, a.m_hs = c.mask == 2 ? mHs : 0, a.m_qs = mSs, a.m_ks = 1;
  a.scale = c.scale, a.kv_type = c.kvType, a.softcap = c.softcap, a.smooth_softmax = c.smooth;
  bmc_attention_f32(nullptr, &a);

  bmc_view4 qv = view(q.data(), 3, {batch, c.heads, seqQ, d}, {qBs, qHs, qSs, 1});
  bmc_view4 kv4 = view(kv.data(), 0, {batch, c.kvHeads, kvLen, d}, {kBs, kHs, kRs, 1});
  bmc_view4 mv = view(mask.data(), 0, {batch, mh, seqQ, kvLen}, {mBs, c.mask == 2 ? mHs : 123, mSs, 1});
  bmc_view4 ov = view(got.data(), 0, {batch, c.heads, seqQ, d}, {oBs, oHs, oSs, 1});
  long long padded = rows;
  int rowsPerSplit = 32, splits = ((c.maskPadding ? rows : kvLen) + rowsPerSplit - 1) / rowsPerSplit;
  std::vector<float> partialOut(size_t(batch) * seqQ * c.heads * splits * d), partialLse(size_t(batch) * seqQ * c.heads * splits);
  float *po = partialOut.data(), *pl = partialLse.data();
  std::vector<void *> args = {&qv, &kv4, &kv4};
  if (c.mask)
    args.push_back(&mv);
  if (c.maskPadding)
    args.push_back(&padded);
  for (void *p : {(void *)&ov, (void *)&po, (void *)&pl, (void *)&rowsPerSplit, (void *)&splits})
    args.push_back(p);
  Dim3 split{unsigned(splits), unsigned(c.kvHeads), unsigned(batch * seqQ)}, combine{unsigned(c.heads), unsigned(batch * seqQ), 1};
  switch (c.index) {
  case 0:
    launch(bmc_attention_0_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_0_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  case 1:
    launch(bmc_attention_1_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_1_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  case 2:
    launch(bmc_attention_2_split, split, BMC_ATTN_THREADS, args.data());
    launch(bmc_attention_2_combine, combine, BMC_ATTN_THREADS, args.data());
    break;
  }
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int s = 0; s < seqQ; ++s)
        for (int i = 0; i < d; ++i) {
          long long at = b * oBs + h * oHs + s * oSs + i;
          ASSERT_NEAR(got[at], want[at], 2e-5) << "attention " << c.index << " seq " << seqQ << " kv_len " << kvLen
                                               << " b " << b << " h " << h << " s " << s << " i " << i;
        }
}

// A row kernel (bmck.norm / bmck.softmax) on `outer` rows (dims 0, 1, 2 of
// the view) of n elements: x read through odd strides (last stride xs, rows
// n * xs + 3 apart, offset 5), out written to another odd layout, against the
// same formulas in double on the widened inputs. Scale (of n, or 1 element:
// broadcast) and bias are f32 / 16-bit like x.
struct RowCase {
  bool softmax, rms, log, bias;
  long long scaleN; // n, or 1
  float eps;
};

template <typename T, typename Kernel>
void checkRows(Kernel kernel, const RowCase &c, std::vector<long long> outer, long long n, long long xs, double tol,
               unsigned seed) {
  typedef typename T::storage S;
  const long long rowStride = n * xs + 3, rows = outer[0] * outer[1] * outer[2], off = 5;
  auto toS = [](const std::vector<float> &f) {
    std::vector<S> r(f.size());
    for (size_t i = 0; i < f.size(); ++i)
      r[i] = T::narrow(f[i]);
    return r;
  };
  std::vector<float> xf = randomFloats(size_t(off + rows * rowStride), seed, -3.0f, 3.0f);
  if (c.softmax) { // -inf entries, and one row of -inf only (NaN, as the CPU loops give: a sum of 0)
    for (size_t i = 0; i < xf.size(); i += 7)
      xf[i] = -INFINITY;
    for (long long i = 0; i < n; ++i)
      xf[off + rowStride + i * xs] = -INFINITY;
  }
  std::vector<S> x = toS(xf), g = toS(randomFloats(size_t(c.scaleN), seed + 1, 0.5f, 1.5f)),
                 b = toS(randomFloats(size_t(n), seed + 2));
  const long long oRow = n + 1;
  std::vector<S> out(size_t(rows * oRow), T::narrow(12345.0f));
  auto strides = [&](long long row, long long last) {
    return std::vector<long long>{outer[1] * outer[2] * row, outer[2] * row, row, last};
  };
  bmc_view4 xv = view(x.data(), off, {outer[0], outer[1], outer[2], n}, strides(rowStride, xs));
  bmc_view4 ov = view(out.data(), 0, {outer[0], outer[1], outer[2], n}, strides(oRow, 1));
  bmc_view4 gv = view(g.data(), 0, {1, 1, 1, c.scaleN}, {0, 0, 0, 1});
  bmc_view4 bv = view(b.data(), 0, {1, 1, 1, n}, {0, 0, 0, 1});
  std::vector<void *> args = {&xv};
  if (!c.softmax) {
    args.push_back(&gv);
    if (c.bias)
      args.push_back(&bv);
  }
  args.push_back(&ov);
  launch(kernel, {unsigned(outer[2]), unsigned(outer[1]), unsigned(outer[0])}, BMC_NORM_THREADS, args.data());
  for (long long r = 0; r < rows; ++r) {
    std::vector<double> v(n), want(n);
    for (long long i = 0; i < n; ++i)
      v[i] = T::widen(x[off + r * rowStride + i * xs]);
    if (c.softmax) {
      double m = -INFINITY, sum = 0.0;
      for (double e : v)
        m = std::max(m, e);
      if (m == -INFINITY)
        m = 0.0;
      for (double e : v)
        sum += std::exp(e - m);
      for (long long i = 0; i < n; ++i)
        want[i] = c.log ? (v[i] - m) - std::log(sum) : std::exp(v[i] - m) / sum;
    } else {
      double mean = 0.0, var = 0.0;
      if (!c.rms) {
        for (double e : v)
          mean += e;
        mean /= double(n);
      }
      for (double e : v)
        var += (e - mean) * (e - mean);
      double inv = 1.0 / std::sqrt(var / double(n) + c.eps);
      for (long long i = 0; i < n; ++i) {
        want[i] = (v[i] - mean) * inv * T::widen(g[c.scaleN == 1 ? 0 : i]);
        if (c.bias)
          want[i] += T::widen(b[i]);
      }
    }
    for (long long i = 0; i < n; ++i) {
      double got = T::widen(out[r * oRow + i]);
      if (std::isnan(want[i]))
        ASSERT_TRUE(std::isnan(got)) << "row " << r << " i " << i << ": " << got;
      else if (std::isinf(want[i]))
        ASSERT_EQ(got, want[i]) << "row " << r << " i " << i;
      else
        ASSERT_NEAR(got, want[i], tol * (1.0 + std::fabs(want[i]))) << "row " << r << " of " << rows << " i " << i;
    }
  }
}

TEST(CudaEmitted, NormAndSoftmaxMatchPlainLoops) {
  // norm 0: RMS f32 [?, ?, 301]; 1: layer f32 [?, 37], scale of 1, bias;
  // 2: layer bf16 [?, 2, 3, 37]; 3: RMS f16 [37].
  checkRows<bmc_f32>(bmc_norm_0, {false, true, false, false, 301, 1e-6f}, {1, 3, 5}, 301, 2, 2e-5, 1);
  checkRows<bmc_f32>(bmc_norm_1, {false, false, false, true, 1, 1e-5f}, {1, 1, 7}, 37, 1, 2e-5, 2);
  checkRows<bmc_bf16>(bmc_norm_2, {false, false, false, false, 37, 1e-3f}, {3, 2, 3}, 37, 3, 4e-3, 3);
  checkRows<bmc_f16>(bmc_norm_3, {false, true, false, false, 37, 1e-2f}, {1, 1, 1}, 37, 1, 1e-3, 4);
  // softmax 0: f32 [?, 5, 301]; 1: log-softmax bf16 [?, 37].
  checkRows<bmc_f32>(bmc_softmax_0, {true, false, false, false, 0, 0.0f}, {1, 2, 5}, 301, 1, 2e-5, 5);
  checkRows<bmc_bf16>(bmc_softmax_1, {true, false, true, false, 0, 0.0f}, {1, 1, 9}, 37, 2, 4e-3, 6);
}


TEST(CudaEmitted, AttentionMatchesTheCpuKernel) {
  const Case cases[] = {
      {0, BMC_KV_F32, 4, 4, 37, false, 0, 0.164f, 0.0f, 0},
      {1, BMC_KV_BF16, 6, 2, 37, true, 1, 0.3f, 0.0f, 0},
      {2, BMC_KV_F16, 4, 2, 24, false, 2, 0.2f, 5.0f, 1},
  };
  unsigned seed = 100;
  for (const Case &c : cases)
    for (int seqQ : {1, 5})
      for (int kvLen : {1, 45}) {
        checkAttention(c, 2, seqQ, kvLen, seed += 3);
        if (HasFatalFailure())
          return;
      }
}


// ---- The launcher (runtime/device/EmittedLauncher.h) on the CPU device ----

using bmc::device::CpuDevice;
using bmc::device::DevicePtr;
using bmc::device::EmittedLauncher;
using bmc::device::HostKernel;
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

const HostKernel kEmittedTable[] = {
    BMC_EMULATED(bmc_kv_append_0),        BMC_EMULATED(bmc_kv_append_1),        BMC_EMULATED(bmc_kv_append_2),
    BMC_EMULATED(bmc_kv_append_3),        BMC_EMULATED(bmc_kv_append_4),        BMC_EMULATED(bmc_attention_0_split),
    BMC_EMULATED(bmc_attention_0_combine), BMC_EMULATED(bmc_attention_1_split), BMC_EMULATED(bmc_attention_1_combine),
    BMC_EMULATED(bmc_attention_2_split),  BMC_EMULATED(bmc_attention_2_combine),
    // The products of @products (tested in cuda_emitted_matmul_test.cpp): the
    // launcher finds every kernel its bmc-launch lines name.
    BMC_EMULATED_PRODUCT(bmc_matmul_0),   BMC_EMULATED_PRODUCT(bmc_matmul_1),   BMC_EMULATED_PRODUCT(bmc_matmul_2),
    BMC_EMULATED(bmc_matmul_3_tiled),     BMC_EMULATED(bmc_matmul_4_tiled),     BMC_EMULATED(bmc_matmul_5_tiled),
    BMC_EMULATED(bmc_matmul_6_tiled),     BMC_EMULATED_PRODUCT(bmc_matmul_7),   BMC_EMULATED_PRODUCT(bmc_matmul_8),
    BMC_EMULATED_PRODUCT(bmc_gemm_0),     BMC_EMULATED(bmc_gemm_1_tiled),
    BMC_EMULATED(bmc_norm_0),             BMC_EMULATED(bmc_norm_1),             BMC_EMULATED(bmc_norm_2),
    BMC_EMULATED(bmc_norm_3),             BMC_EMULATED(bmc_softmax_0),          BMC_EMULATED(bmc_softmax_1),
};

std::string emittedSource() { return bmc_device_test::readEmittedSource(BMC_EMITTED_CU); }

// The emitted kernels on the CPU device (the emulation) or a GPU
// (emitted_env.h; the same launcher code either way).
struct LauncherEnv : bmc_device_test::EmittedEnv {
  explicit LauncherEnv(bool gpu = false) : EmittedEnv(gpu, kEmittedTable, BMC_EMITTED_CU) {}
  // Device memory holding `bytes` (the CPU device: host memory it checks).
  DevicePtr upload(const void *data, size_t bytes) {
    DevicePtr p = device->allocate(bytes).value();
    EXPECT_TRUE(device->copyToDevice(p, data, bytes).ok());
    return p;
  }
  template <typename T>
  std::vector<T> download(DevicePtr p, size_t n) {
    std::vector<T> v(n);
    EXPECT_TRUE(device->copyToHost(v.data(), p, n * sizeof(T)).ok());
    return v;
  }
};

// A KV pair of caches through kv_append then attention, prefill then decode.
struct Sequence {
  int append, attention; // configurations
  int kvType, heads, kvHeads, d;
  bool maskPadding;
  int mask; // 0 none, 1 broadcast over heads, 2 per head
  float scale, softcap;
  int smooth;
};

void runSequence(LauncherEnv &env, const Sequence &c, unsigned seed) {
  const long long batch = 2, capacity = 83, past = 70, d = c.d, width = c.kvType == BMC_KV_F32 ? 4 : 2;
  // Both caches (K, V), rows outermost ([capacity, batch, kv_heads, d], as
  // DeviceKVCache lays them out): past rows of random values, spare rows NaN-patterned.
  const size_t rowElems = size_t(batch) * c.kvHeads * d; // one row of every [batch, head]
  std::vector<float> init = randomFloats(size_t(capacity) * rowElems, seed);
  for (size_t i = 0; i < init.size(); ++i)
    if (i / rowElems >= size_t(past))
      init[i] = std::numeric_limits<float>::quiet_NaN();
  std::vector<unsigned char> hostK(init.size() * width), hostV(init.size() * width);
  bmc_convert_f32_to_kv(c.kvType, init.data(), hostK.data(), (int64_t)init.size());
  std::reverse(init.begin(), init.end()); // V differs from K (NaN rows now at the front: re-mark)
  for (size_t i = 0; i < init.size(); ++i)
    if (i / rowElems >= size_t(past))
      init[i] = std::numeric_limits<float>::quiet_NaN();
    else if (std::isnan(init[i]))
      init[i] = 0.25f;
  bmc_convert_f32_to_kv(c.kvType, init.data(), hostV.data(), (int64_t)init.size());
  DevicePtr devK = env.upload(hostK.data(), hostK.size()), devV = env.upload(hostV.data(), hostV.size());
  long long valid = past;

  for (int seq : {5, 1}) { // prefill, then a decode step
    SCOPED_TRACE("append " + std::to_string(c.append) + ", attention " + std::to_string(c.attention) + ", " +
                 std::to_string(seq) + " query rows");
    // New K and V rows, stored [batch, seq, kv_heads, d] (a transposed view, offset 3).
    const long long off = 3, n = batch * seq * c.kvHeads * d;
    std::vector<float> newK = randomFloats(off + n, seed + seq), newV = randomFloats(off + n, seed + 7 * seq);
    DevicePtr dk = env.upload(newK.data(), newK.size() * 4), dv = env.upload(newV.data(), newV.size() * 4);
    auto rowsView = [&](DevicePtr p) {
      return view(reinterpret_cast<const void *>(p), off, {batch, c.kvHeads, seq, d},
                  {seq * c.kvHeads * d, d, c.kvHeads * d, 1});
    };
    for (int which = 0; which < 2; ++which) {
      std::vector<float> &src = which ? newV : newK;
      std::vector<unsigned char> &host = which ? hostV : hostK;
      for (long long b = 0; b < batch; ++b)
        for (long long h = 0; h < c.kvHeads; ++h)
          for (long long s = 0; s < seq; ++s)
            bmc_convert_f32_to_kv(c.kvType, src.data() + off + ((b * seq + s) * c.kvHeads + h) * d,
                                  host.data() + (((valid + s) * batch + b) * c.kvHeads + h) * d * width, d);
      bmc_kv_buffer cache{reinterpret_cast<void *>(which ? devV : devK), batch, capacity, valid};
      LaunchRecord rec;
      bmc::Status st = env.launcher->launch("bmck.kv_append", c.append,
                                            {{"cache", LaunchValue::of(cache)}, {"rows", LaunchValue::of(rowsView(which ? dv : dk))}},
                                            &rec);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_EQ(rec.kernels.size(), 1u);
      EXPECT_EQ(rec.configs[0].grid.x, unsigned(seq));
      EXPECT_EQ(rec.configs[0].grid.y, unsigned(c.kvHeads));
      EXPECT_EQ(rec.configs[0].grid.z, unsigned(batch));
    }
    valid += seq; // the runtime's bookkeeping after the append
    // Every byte of both caches as bmc_convert_f32_to_kv wrote them (spare rows untouched).
    std::vector<unsigned char> gotK = env.download<unsigned char>(devK, hostK.size()),
                               gotV = env.download<unsigned char>(devV, hostV.size());
    ASSERT_EQ(0, std::memcmp(gotK.data(), hostK.data(), hostK.size()));
    ASSERT_EQ(0, std::memcmp(gotV.data(), hostV.data(), hostV.size()));

    // Attention over the valid rows of the device caches.
    const long long qSs = d + 1, qHs = seq * qSs, qBs = c.heads * qHs, oSs = d + 3, oHs = seq * oSs, oBs = c.heads * oHs;
    std::vector<float> q = randomFloats(batch * qBs + 2, seed + 11 * seq);
    const int mh = c.mask == 2 ? c.heads : 1;
    const long long mRows = valid + 2; // a mask wider than the valid rows
    std::vector<float> mask = randomFloats(size_t(batch) * mh * seq * mRows, seed + 13 * seq, -2.0f, 1.0f);
    for (size_t i = 0; i < mask.size(); i += 7)
      mask[i] = -INFINITY;
    const long long mSs = mRows, mHs = seq * mSs, mBs = mh * mHs;
    std::vector<float> want(batch * oBs, 0.0f), zero(batch * oBs, 0.0f);
    DevicePtr dq = env.upload(q.data(), q.size() * 4), dm = env.upload(mask.data(), mask.size() * 4),
              dout = env.upload(zero.data(), zero.size() * 4);
    const long long kBs = c.kvHeads * d, kHs = d, kRs = batch * c.kvHeads * d; // rows outermost
    bmc_attention_args a = {};
    a.batch = batch, a.heads = c.heads, a.kv_heads = c.kvHeads, a.q_len = seq, a.kv_len = valid;
    a.kv_padded_len = c.maskPadding ? capacity : valid, a.head_dim = d, a.v_head_dim = d;
    a.q = q.data() + 2, a.q_bs = qBs, a.q_hs = qHs, a.q_rs = qSs;
    a.k = hostK.data(), a.k_bs = kBs, a.k_hs = kHs, a.k_rs = kRs;
    a.v = hostV.data(), a.v_bs = kBs, a.v_hs = kHs, a.v_rs = kRs;
    a.out = want.data(), a.o_bs = oBs, a.o_hs = oHs, a.o_rs = oSs;
    a.mask = c.mask ? mask.data() : nullptr;
    a.m_bs = mBs, a.m_hs = c.mask == 2 ? mHs : 0, a.m_qs = mSs, a.m_ks = 1;
    a.scale = c.scale, a.kv_type = c.kvType, a.softcap = c.softcap, a.smooth_softmax = c.smooth;
    bmc_attention_f32(nullptr, &a);

    auto ptr = [](DevicePtr p) { return reinterpret_cast<const void *>(p); };
    LaunchArgs args = {
        {"q", LaunchValue::of(view(ptr(dq), 2, {batch, c.heads, seq, d}, {qBs, qHs, qSs, 1}))},
        {"k", LaunchValue::of(view(ptr(devK), 0, {batch, c.kvHeads, valid, d}, {kBs, kHs, kRs, 1}))},
        {"v", LaunchValue::of(view(ptr(devV), 0, {batch, c.kvHeads, valid, d}, {kBs, kHs, kRs, 1}))},
        {"out", LaunchValue::of(view(ptr(dout), 0, {batch, c.heads, seq, d}, {oBs, oHs, oSs, 1}))}};
    if (c.mask)
      args["mask"] = LaunchValue::of(view(ptr(dm), 0, {batch, mh, seq, mRows}, {mBs, c.mask == 2 ? mHs : 99, mSs, 1}));
    if (c.maskPadding)
      args["padded"] = LaunchValue::integer(capacity);
    if (seq == 1)
      args["rows_per_split"] = LaunchValue::integer(32); // several splits: the combine kernel's sums
    LaunchRecord rec;
    bmc::Status st = env.launcher->launch("bmck.attention", c.attention, args, &rec);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(rec.kernels.size(), 2u);
    long long rows = c.maskPadding ? capacity : valid;
    EXPECT_EQ(rec.splits, (rows + rec.rowsPerSplit - 1) / rec.rowsPerSplit);
    if (seq == 1)
      EXPECT_GE(rec.splits, 3);
    EXPECT_EQ(rec.configs[0].grid.x, unsigned(rec.splits));
    EXPECT_EQ(rec.configs[0].grid.z, unsigned(batch * seq));
    std::vector<float> got = env.download<float>(dout, zero.size());
    for (long long b = 0; b < batch; ++b)
      for (long long h = 0; h < c.heads; ++h)
        for (long long s = 0; s < seq; ++s)
          for (long long i = 0; i < d; ++i) {
            long long at = b * oBs + h * oHs + s * oSs + i;
            ASSERT_FALSE(std::isnan(want[at]));
            ASSERT_NEAR(got[at], want[at], 2e-5) << "b " << b << " h " << h << " s " << s << " i " << i;
          }
  }
}

void runSequences(LauncherEnv &env) {
  // bf16: mask padding over the capacity with a broadcast mask, GQA 3 (append 3, attention 1).
  runSequence(env, {3, 1, BMC_KV_BF16, 6, 2, 37, true, 1, 0.3f, 0.0f, 0}, 500);
  if (::testing::Test::HasFatalFailure())
    return;
  // f16: skip, a per-head mask, softcap and smooth softmax, GQA 2 (append 4, attention 2).
  runSequence(env, {4, 2, BMC_KV_F16, 4, 2, 24, false, 2, 0.2f, 5.0f, 1}, 600);
}

TEST(CudaEmittedLauncher, AppendThenAttentionMatchTheCpuKernels) {
  LauncherEnv env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  runSequences(env);
}

// The same on a GPU: NVRTC's build of the emitted source, launched through
// CudaDevice. Not run in this project's CI (no GPU); benchmarks/gpu_check.sh
// sets BMC_REQUIRE_GPU=1.
TEST(CudaEmittedLauncher, AppendThenAttentionOnTheGpu) {
  LauncherEnv env(true);
  BMC_EMITTED_ENV_OR_SKIP(env);
  runSequences(env);
}

// Norm 1 (layer, f32, a scale of one element, a bias) through the launcher
// on the CPU device: 7 rows of 37 against the plain loop; then checks that
// fail (out's sizes, the bias's width) launch nothing.
TEST(CudaEmittedLauncher, NormMatchesThePlainLoopAndChecks) {
  LauncherEnv env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  const long long rows = 7, n = 37;
  std::vector<float> x = randomFloats(rows * n, 41, -2.0f, 2.0f), g = {1.25f}, b = randomFloats(n, 42);
  std::vector<float> out(rows * n, 7.0f);
  DevicePtr dx = env.upload(x.data(), x.size() * 4), dg = env.upload(g.data(), 4), db = env.upload(b.data(), n * 4),
            dout = env.upload(out.data(), out.size() * 4);
  auto v = [](DevicePtr p, long long r, long long w) {
    return view(reinterpret_cast<const void *>(p), 0, {1, 1, r, w}, {0, 0, w, 1});
  };
  auto run = [&](bmc_view4 o, bmc_view4 bias) {
    return env.launcher->launch("bmck.norm", 1,
                                {{"x", LaunchValue::of(v(dx, rows, n))}, {"scale", LaunchValue::of(v(dg, 1, 1))},
                                 {"bias", LaunchValue::of(bias)}, {"out", LaunchValue::of(o)}});
  };
  bmc::Status s = run(v(dout, rows - 1, n), v(db, 1, n));
  EXPECT_EQ(s.message(), "launch bmck.norm 1: norm 1 (layer, f32, bias): out of size 6 in dimension 2, x of 7");
  s = run(v(dout, rows, n), v(db, 1, n - 1));
  EXPECT_EQ(s.message(), "launch bmck.norm 1: norm 1 (layer, f32, bias): bias of 36 elements, expected 1 or 37");
  EXPECT_EQ(env.download<float>(dout, out.size()), out); // nothing written
  s = run(v(dout, rows, n), v(db, 1, n));
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<float> got = env.download<float>(dout, out.size());
  for (long long r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (long long i = 0; i < n; ++i)
      mean += x[r * n + i];
    mean /= double(n);
    for (long long i = 0; i < n; ++i)
      var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
    double inv = 1.0 / std::sqrt(var / double(n) + 1e-5);
    for (long long i = 0; i < n; ++i) {
      double want = (x[r * n + i] - mean) * inv * g[0] + b[i];
      ASSERT_NEAR(got[r * n + i], want, 2e-5 * (1.0 + std::fabs(want))) << "row " << r << " i " << i;
    }
  }
}

TEST(CudaEmittedLauncher, FailedChecksLaunchNothing) {
  LauncherEnv env;
  BMC_EMITTED_ENV_OR_SKIP(env);
  const long long batch = 2, heads = 3, d = 37, capacity = 6, valid = 4, seq = 3;
  std::vector<float> cache(batch * heads * capacity * d, 1.5f), rows(batch * heads * seq * d, -2.0f);
  DevicePtr dc = env.upload(cache.data(), cache.size() * 4), dr = env.upload(rows.data(), rows.size() * 4);
  bmc_view4 rv = view(reinterpret_cast<const void *>(dr), 0, {batch, heads, seq, d}, {heads * seq * d, seq * d, d, 1});
  auto appendWith = [&](bmc_kv_buffer kv, bmc_view4 r) {
    return env.launcher->launch("bmck.kv_append", 0, {{"cache", LaunchValue::of(kv)}, {"rows", LaunchValue::of(r)}});
  };
  void *cp = reinterpret_cast<void *>(dc);
  // 4 valid + 3 new rows > capacity 6.
  bmc::Status s = appendWith({cp, batch, capacity, valid}, rv);
  EXPECT_EQ(s.message(), "launch bmck.kv_append 0: kv_append 0 (f32 rows -> f32 cache, 3 heads x 37): 4 valid + 3 "
                         "new rows > capacity 6 (the runtime grows the cache before the step)");
  // Batches disagree.
  s = appendWith({cp, batch + 1, capacity + 10, 0}, rv);
  EXPECT_EQ(s.message(), "launch bmck.kv_append 0: kv_append 0 (f32 rows -> f32 cache, 3 heads x 37): rows of batch "
                         "2, cache of batch 3");
  // Heads of the rows not the cache's.
  bmc_view4 wrong = rv;
  wrong.size[1] = 2;
  s = appendWith({cp, batch, capacity + 10, 0}, wrong);
  EXPECT_EQ(s.message(), "launch bmck.kv_append 0: kv_append 0 (f32 rows -> f32 cache, 3 heads x 37): rows of 2 "
                         "heads, expected 3");
  // A missing argument and an unknown one.
  s = env.launcher->launch("bmck.kv_append", 0, {{"cache", LaunchValue::of(bmc_kv_buffer{cp, batch, capacity, 0})}});
  EXPECT_EQ(s.message(), "launch bmck.kv_append 0: argument 'rows' (view4) missing");
  s = env.launcher->launch("bmck.kv_append", 0,
                           {{"cache", LaunchValue::of(bmc_kv_buffer{cp, batch, capacity, 0})},
                            {"rows", LaunchValue::of(rv)}, {"row", LaunchValue::integer(1)}});
  EXPECT_EQ(s.message(), "launch bmck.kv_append 0: argument 'row' is no parameter the caller sets");
  s = env.launcher->launch("bmck.kv_append", 9, {});
  EXPECT_EQ(s.message(), "launch bmck.kv_append 9: no such configuration in the emitted source (5 of bmck.kv_append)");
  // Nothing was written by any of them.
  EXPECT_EQ(env.download<float>(dc, cache.size()), cache);

  // Attention 1 (GQA 3): q of 4 heads over 2 KV heads, and a padded length below K's rows.
  std::vector<float> out(batch * 6 * 1 * d, 7.0f), any(batch * 6 * 8 * d, 0.5f);
  DevicePtr dout = env.upload(out.data(), out.size() * 4), dany = env.upload(any.data(), any.size() * 4);
  auto at = [](DevicePtr p) { return reinterpret_cast<const void *>(p); };
  LaunchArgs args = {
      {"q", LaunchValue::of(view(at(dany), 0, {batch, 4, 1, d}, {4 * d, d, d, 1}))},
      {"k", LaunchValue::of(view(at(dany), 0, {batch, 2, 5, d}, {2 * 5 * d, 5 * d, d, 1}))},
      {"v", LaunchValue::of(view(at(dany), 0, {batch, 2, 5, d}, {2 * 5 * d, 5 * d, d, 1}))},
      {"mask", LaunchValue::of(view(at(dany), 0, {batch, 1, 1, 5}, {5, 5, 5, 1}))},
      {"padded", LaunchValue::integer(8)},
      {"out", LaunchValue::of(view(at(dout), 0, {batch, 4, 1, d}, {4 * d, d, d, 1}))}};
  s = env.launcher->launch("bmck.attention", 1, args);
  EXPECT_EQ(s.message(), "launch bmck.attention 1: attention 1 (K/V bf16, head_dim 37, group 3): q of 4 heads, K of "
                         "2: expected 3 query heads per KV head");
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  args["q"].view.size[1] = 6, args["out"].view.size[1] = 6;
  args["padded"] = LaunchValue::integer(4);
  s = env.launcher->launch("bmck.attention", 1, args);
  EXPECT_EQ(s.message(), "launch bmck.attention 1: attention 1 (K/V bf16, head_dim 37, group 3): padded length 4 < "
                         "K's 5 valid rows");
  args["padded"] = LaunchValue::integer(8);
  args["out"].view.stride[3] = 2;
  s = env.launcher->launch("bmck.attention", 1, args);
  EXPECT_EQ(s.message(), "launch bmck.attention 1: attention 1 (K/V bf16, head_dim 37, group 3): out of inner stride "
                         "2, expected 1");
  args["out"].view.stride[3] = 1;
  args["padded"] = LaunchValue::integer(int64_t(1) << 31); // the kernel's int
  s = env.launcher->launch("bmck.attention", 1, args);
  EXPECT_EQ(s.message(), "launch bmck.attention 1: attention 1 (K/V bf16, head_dim 37, group 3): padded length "
                         "2147483648 > 2^31 - 1");
  EXPECT_EQ(env.download<float>(dout, out.size()), out);
}

TEST(CudaEmittedLauncher, RefusesABadDescription) {
  CpuDevice device;
  auto m = device.loadModule(bmc_device_test::hostTableImage(kEmittedTable, 1)); // one kernel of the table
  ASSERT_TRUE(m.ok());
  auto none = EmittedLauncher::create(device, m.value(), "extern \"C\" __global__ void f() {}\n");
  EXPECT_EQ(none.status().message(), "emitted CUDA source: no bmc-launch lines (not the CUDA emitter's output?)");
  auto bad = EmittedLauncher::create(device, m.value(), "// x\n// bmc-launch: {\"version\": 2}\n");
  EXPECT_EQ(bad.status().message(), "bmc-launch line 2: version 2, expected 1");
  // The whole emitted source names kernels this one-kernel module lacks.
  auto missing = EmittedLauncher::create(device, m.value(), emittedSource());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("bmc_kv_append_1"), std::string::npos) << missing.status().message();
}

// The check language's comparisons: `!=` parses and refuses equal sizes with
// the line's error (its {ref} filled in); a comparison it does not know is a
// parse error naming it. A zero grid: nothing is launched either way.
TEST(CudaEmittedLauncher, ChecksCompareNotEqual) {
  CpuDevice device;
  auto m = device.loadModule(bmc_device_test::hostTableImage(kEmittedTable, 1));
  ASSERT_TRUE(m.ok());
  auto line = [](const std::string &cmp) {
    return "// bmc-launch: {\"version\": 1, \"op\": \"bmck.test\", \"config\": 0, \"params\": [{\"name\": "
           "\"n\", \"kind\": \"i64\", \"from\": \"arg\"}], \"checks\": [{\"lhs\": [\"n\"], \"cmp\": \"" +
           cmp + "\", \"rhs\": [[2, 3]], \"error\": \"test 0: n of {n}, expected another than 6\"}], \"launches\": "
                 "[{\"kernel\": \"bmc_kv_append_0\", \"grid\": [0, 1, 1], \"block\": 32, \"shared_bytes\": 0}]}\n";
  };
  auto l = EmittedLauncher::create(device, m.value(), line("!="));
  ASSERT_TRUE(l.ok()) << l.status().message();
  bmc::Status s = l.value()->launch("bmck.test", 0, {{"n", LaunchValue::integer(6)}});
  EXPECT_EQ(s.message(), "launch bmck.test 0: test 0: n of 6, expected another than 6");
  EXPECT_EQ(l.value()->check("bmck.test", 0, {{"n", LaunchValue::integer(6)}}).message(), s.message());
  for (int64_t n : {0, 5, 7, -6}) {
    EXPECT_TRUE(l.value()->launch("bmck.test", 0, {{"n", LaunchValue::integer(n)}})) << n;
    EXPECT_TRUE(l.value()->check("bmck.test", 0, {{"n", LaunchValue::integer(n)}})) << n;
  }
  auto bad = EmittedLauncher::create(device, m.value(), line("<"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "bmc-launch line 1: a check compares with '<'");
}

} // namespace
