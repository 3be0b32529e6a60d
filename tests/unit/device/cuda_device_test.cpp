// The CUDA device, and every CUDA kernel against a plain CPU reference on
// random inputs with odd sizes and strides, on two backends:
//   Gpu:      CudaDevice + the kernels compiled by NVRTC. Without libcuda.so.1
//             or a GPU these skip, printing why; with BMC_REQUIRE_GPU=1
//             (benchmarks/gpu_check.sh) that is a failure instead.
//   Emulated: CpuDevice + the same kernel sources compiled as host C++ with the
//             CUDA built-ins emulated (cuda_emulation.h): the kernels' arithmetic
//             and CudaKernels' launch code, checked on every machine.
#include "cuda_emulated_kernels.h"
#include "device_backends.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/CudaDevice.h"
#include "runtime/device/KernelLibrary.h"
#include "bmc/abi/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;

namespace {

using bmc_device_test::deviceAbsent;
using bmc_device_test::gpuRequired;

std::vector<float> randomFloats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

int kvCode(ElementType t) {
  return t == ElementType::F32 ? BMC_KV_F32 : t == ElementType::F16 ? BMC_KV_F16 : BMC_KV_BF16;
}

// Values rounded to `t` (host bytes to upload) and widened back (the reference's view).
struct Narrowed {
  std::vector<unsigned char> bytes;
  std::vector<float> values;
};
Narrowed narrow(const std::vector<float> &v, ElementType t) {
  size_t width = t == ElementType::F32 ? 4 : 2;
  Narrowed n;
  n.bytes.resize(v.size() * width);
  n.values.resize(v.size());
  bmc_convert_f32_to_kv(kvCode(t), v.data(), n.bytes.data(), int64_t(v.size()));
  bmc_convert_kv_to_f32(kvCode(t), n.bytes.data(), n.values.data(), int64_t(v.size()));
  return n;
}

// Device memory freed with the test.
class Buffer {
public:
  Buffer(Device &d, size_t bytes) : d_(d) {
    auto p = d.allocate(bytes);
    if (!p)
      ADD_FAILURE() << p.status().message();
    else
      p_ = p.value();
  }
  template <typename T> Buffer(Device &d, const std::vector<T> &host) : Buffer(d, host.size() * sizeof(T)) {
    if (p_) {
      Status s = d.copyToDevice(p_, host.data(), host.size() * sizeof(T));
      if (!s)
        ADD_FAILURE() << s.message();
    }
  }
  ~Buffer() {
    if (p_)
      (void)d_.free(p_);
  }
  DevicePtr ptr() const { return p_; }
  template <typename T> std::vector<T> read(size_t count) const {
    std::vector<T> out(count);
    Status s = d_.copyToHost(out.data(), p_, count * sizeof(T));
    if (!s)
      ADD_FAILURE() << s.message();
    return out;
  }

private:
  Device &d_;
  DevicePtr p_ = 0;
};

enum class Backend { Gpu, Emulated };
void PrintTo(Backend b, std::ostream *os) { *os << (b == Backend::Gpu ? "Gpu" : "Emulated"); }

// One device and kernel set per backend for the whole test program.
struct Env {
  std::unique_ptr<Device> device;
  std::unique_ptr<CudaKernels> kernels;
  std::string error;
  bool absent = false; // no driver or no GPU: a skip, unless BMC_REQUIRE_GPU=1
};

Env makeGpuEnv() {
  Env env;
  auto dev = CudaDevice::create(0);
  if (!dev) {
    env.error = dev.status().message();
    env.absent = deviceAbsent(env.error);
    return env;
  }
  env.device = std::move(dev.value());
  const DeviceProperties &p = env.device->properties();
  std::cout << "CUDA device: " << p.name << ", sm_" << p.computeMajor << p.computeMinor << ", "
            << p.multiprocessors << " SMs, " << (p.totalMemory >> 20) << " MiB\n";
  auto k = CudaKernels::create(*env.device);
  if (!k)
    env.error = k.status().message();
  else
    env.kernels = std::move(k.value());
  return env;
}

Env makeEmulatedEnv() {
  Env env;
  env.device = std::make_unique<CpuDevice>();
  auto k = emulatedCudaKernels(*env.device);
  if (!k)
    env.error = k.status().message();
  else
    env.kernels = std::move(k.value());
  return env;
}

Env &env(Backend b) {
  static Env gpu = makeGpuEnv(), emulated = makeEmulatedEnv();
  return b == Backend::Gpu ? gpu : emulated;
}

// The device and the kernels of one backend.
class KernelTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    Env &e = env(GetParam());
    if (!e.device && e.absent && !gpuRequired())
      GTEST_SKIP() << e.error;
    ASSERT_TRUE(e.device) << e.error;
    ASSERT_TRUE(e.kernels) << e.error;
  }
  bool emulated() const { return GetParam() == Backend::Emulated; }
  Device &dev() { return *env(GetParam()).device; }
  CudaKernels &k() { return *env(GetParam()).kernels; }
};

// The CUDA device itself (GPU only).
class CudaTest : public KernelTest {
protected:
  void SetUp() override {
    if (GetParam() != Backend::Gpu)
      FAIL() << "CudaTest runs on the GPU backend only";
    KernelTest::SetUp();
  }
};

std::string backendName(const ::testing::TestParamInfo<Backend> &info) {
  return info.param == Backend::Gpu ? "Gpu" : "Emulated";
}

} // namespace

TEST_P(CudaTest, CopiesRoundTrip) {
  const size_t n = 100003;
  std::vector<float> host = randomFloats(n, 1);
  Buffer a(dev(), host), b(dev(), n * 4);
  ASSERT_TRUE(dev().copyOnDevice(b.ptr(), a.ptr(), n * 4));
  EXPECT_EQ(b.read<float>(n), host);
  Status s = dev().free(a.ptr() + 4); // not the start of an allocation
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("cuMemFree_v2"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

// copy2DToHost (cuMemcpy2DAsync on the GPU, row memcpys on the CPU device)
// against one copy of the whole buffer and plain row loops: odd widths,
// pitches and heights, a destination pitch wider than the rows (its gaps
// untouched), one row, zero rows; a pitch under the width is refused in one
// line, as is a source past the allocation (CPU device).
TEST_P(KernelTest, Copy2DToHostEqualsRowLoops) {
  const size_t n = 37 * 101 + 13;
  std::vector<uint8_t> host(n);
  for (size_t i = 0; i < n; ++i)
    host[i] = uint8_t(i * 131 + 7);
  Buffer src(dev(), host);
  struct Case {
    size_t width, height, srcPitch, dstPitch, at;
  };
  for (Case c : {Case{37 * 4, 7, 101 * 4, 37 * 4, 12}, Case{3, 101, 37, 5, 1}, Case{4, 1, 4, 4, 9},
                 Case{0, 5, 8, 8, 0}, Case{99, 0, 100, 99, 0}, Case{13, 13, 13, 17, 3}}) {
    SCOPED_TRACE("width " + std::to_string(c.width) + ", height " + std::to_string(c.height) + ", pitch " +
                 std::to_string(c.srcPitch));
    std::vector<uint8_t> got(std::max<size_t>(c.height * c.dstPitch, 1), 0xAB), want = got;
    for (size_t r = 0; r < c.height; ++r)
      std::memcpy(want.data() + r * c.dstPitch, host.data() + c.at + r * c.srcPitch, c.width);
    ASSERT_TRUE(dev().copy2DToHost(got.data(), c.dstPitch, src.ptr() + c.at, c.srcPitch, c.width, c.height));
    EXPECT_EQ(got, want);
  }
  uint8_t sink[64];
  Status s = dev().copy2DToHost(sink, 16, src.ptr(), 7, 8, 2);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("copy2DToHost: pitches (source 7, destination 16 bytes) must be at least the width, 8 bytes"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  if (emulated()) { // the CPU device checks the source span against its allocations
    s = dev().copy2DToHost(sink, 8, src.ptr() + n - 8, 16, 8, 2);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("is outside every allocation"), std::string::npos) << s.message();
  }
}

TEST_P(CudaTest, ModuleErrorsNameTheCall) {
  ModuleImage garbage;
  garbage.format = ModuleFormat::Cubin;
  garbage.bytes = "this is not a cubin";
  Status s = dev().loadModule(garbage).status();
  EXPECT_NE(s.message().find("cuModuleLoadData"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("CUDA_ERROR_"), std::string::npos) << s.message();
}

TEST_P(KernelTest, GrowableBufferGrowsInPlaceAcrossChunks) {
  if (!dev().properties().growableBuffers)
    GTEST_SKIP() << dev().properties().name << " has no virtual memory management";
  auto r = dev().reserveGrowable(size_t(64) << 20);
  ASSERT_TRUE(r) << r.status().message();
  GrowableBuffer &buf = *r.value();
  size_t g = buf.granularity();
  ASSERT_TRUE(buf.grow(1));
  EXPECT_EQ(buf.committedBytes(), g);
  DevicePtr base = buf.base();
  std::vector<float> first = randomFloats(g / 4, 2);
  ASSERT_TRUE(dev().copyToDevice(base, first.data(), g));
  ASSERT_TRUE(buf.grow(3 * g + 1));
  EXPECT_EQ(buf.base(), base);
  EXPECT_EQ(buf.committedBytes(), 4 * g);
  std::vector<float> rest = randomFloats(3 * g / 4, 3);
  ASSERT_TRUE(dev().copyToDevice(base + g, rest.data(), 3 * g));
  // A kernel over all four chunks (two mappings): x = x + x.
  ASSERT_TRUE(k().add(base, base, base, int64_t(g)));
  ASSERT_TRUE(dev().synchronize());
  std::vector<float> all(g);
  ASSERT_TRUE(dev().copyToHost(all.data(), base, 4 * g));
  for (size_t i = 0; i < g; ++i) {
    float want = 2.0f * (i < first.size() ? first[i] : rest[i - first.size()]);
    ASSERT_EQ(all[i], want) << i;
  }
  EXPECT_FALSE(buf.grow((size_t(64) << 20) + 1));
}

namespace {
struct GemvCase {
  int n, k;
  int64_t ldw;
  int splits; // 0: CudaKernels::gemvSplits
};
} // namespace

TEST_P(KernelTest, GemvMatchesReference) {
  const GemvCase cases[] = {
      {37, 1001, 1001, 1},   // odd row stride: element-at-a-time path
      {133, 4096, 4104, 1},  // 128-bit path, padded rows
      {5, 12345, 12352, 7},  // split-K, with a tail in the last split
      {64, 3000, 3000, 0},   // the automatic split count
      {1, 7, 8, 1},          // smaller than one vector
  };
  unsigned seed = 10;
  for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16})
    for (const GemvCase &c : cases) {
      std::vector<float> w = randomFloats(size_t(c.n) * c.ldw, ++seed);
      std::vector<float> x = randomFloats(c.k, ++seed);
      Narrowed wn = narrow(w, t);
      Buffer dw(dev(), wn.bytes), dx(dev(), x), dy(dev(), size_t(c.n) * 4);
      int splits = c.splits ? c.splits : k().gemvSplits(c.n, c.k);
      Buffer work(dev(), size_t(std::max(splits, 1)) * c.n * 4);
      Status s = k().gemv(t, dw.ptr(), c.ldw, dx.ptr(), dy.ptr(), c.n, c.k, splits, work.ptr());
      ASSERT_TRUE(s) << s.message();
      ASSERT_TRUE(dev().synchronize());
      std::vector<float> y = dy.read<float>(c.n);
      for (int i = 0; i < c.n; ++i) {
        double want = 0, scale = 0;
        for (int j = 0; j < c.k; ++j) {
          double term = double(wn.values[size_t(i) * c.ldw + j]) * x[j];
          want += term;
          scale += std::fabs(term);
        }
        ASSERT_NEAR(y[i], want, 1e-5 * scale + 1e-6)
            << elementTypeName(t) << " n " << c.n << " k " << c.k << " splits " << splits
            << " row " << i;
      }
    }
}

TEST_P(KernelTest, NormsMatchReference) {
  const int rows = 3, n = 1003;
  const int64_t ldx = 1010, ldo = 1007;
  std::vector<float> x = randomFloats(rows * ldx, 20, -3.0f, 3.0f);
  std::vector<float> gamma = randomFloats(n, 21), beta = randomFloats(n, 22);
  Buffer dx(dev(), x), dg(dev(), gamma), db(dev(), beta), dout(dev(), rows * ldo * 4);
  const float eps = 1e-5f;
  for (int variant = 0; variant < 3; ++variant) { // RMSNorm, LayerNorm, LayerNorm without beta
    Status s = variant == 0 ? k().rmsNorm(dx.ptr(), ldx, dg.ptr(), dout.ptr(), ldo, rows, n, eps)
                            : k().layerNorm(dx.ptr(), ldx, dg.ptr(), variant == 1 ? db.ptr() : 0,
                                            dout.ptr(), ldo, rows, n, eps);
    ASSERT_TRUE(s) << s.message();
    std::vector<float> out = dout.read<float>(rows * ldo);
    for (int r = 0; r < rows; ++r) {
      const float *xr = &x[r * ldx];
      double mean = 0, sq = 0;
      for (int i = 0; i < n; ++i)
        mean += xr[i];
      mean /= n;
      for (int i = 0; i < n; ++i) {
        double c = variant == 0 ? xr[i] : xr[i] - mean;
        sq += c * c;
      }
      double inv = 1.0 / std::sqrt(sq / n + eps);
      for (int i = 0; i < n; ++i) {
        double want = variant == 0 ? xr[i] * inv * gamma[i] : (xr[i] - mean) * inv * gamma[i];
        if (variant == 1)
          want += beta[i];
        ASSERT_NEAR(out[r * ldo + i], want, 2e-5 * (std::fabs(want) + 1))
            << "variant " << variant << " row " << r << " i " << i;
      }
    }
  }
}

TEST_P(KernelTest, RopeMatchesReference) {
  const int tokens = 5, heads = 3, headDim = 70, rotDim = 64, maxPos = 50, half = rotDim / 2;
  const int64_t hs = 72, ts = heads * hs + 5;
  std::vector<float> cosT(maxPos * half), sinT(maxPos * half);
  for (int p = 0; p < maxPos; ++p)
    for (int i = 0; i < half; ++i) {
      double angle = p * std::pow(10000.0, -2.0 * i / rotDim);
      cosT[p * half + i] = float(std::cos(angle));
      sinT[p * half + i] = float(std::sin(angle));
    }
  Buffer dcos(dev(), cosT), dsin(dev(), sinT);
  for (bool interleaved : {false, true})
    for (bool badPosition : {false, true}) {
      std::vector<float> x = randomFloats(tokens * ts, 30 + interleaved);
      std::vector<int> pos = {0, 49, 17, 3, 17};
      if (badPosition)
        pos[2] = maxPos;
      Buffer dx(dev(), x), dpos(dev(), pos), dbad(dev(), std::vector<int>{0});
      Status s = k().rope(interleaved, dx.ptr(), ts, hs, tokens, heads, headDim, rotDim, dpos.ptr(),
                          dcos.ptr(), dsin.ptr(), maxPos, dbad.ptr());
      ASSERT_TRUE(s) << s.message();
      std::vector<float> got = dx.read<float>(x.size());
      EXPECT_EQ(dbad.read<int>(1)[0], badPosition ? 1 : 0);
      std::vector<float> want = x; // untouched: padding, dims past rot_dim, the bad token
      for (int t = 0; t < tokens; ++t) {
        if (pos[t] >= maxPos)
          continue;
        for (int h = 0; h < heads; ++h)
          for (int i = 0; i < half; ++i) {
            int64_t a = t * ts + h * hs + (interleaved ? 2 * i : i);
            int64_t b = t * ts + h * hs + (interleaved ? 2 * i + 1 : i + half);
            double c = cosT[pos[t] * half + i], sn = sinT[pos[t] * half + i];
            want[a] = float(x[a] * c - x[b] * sn);
            want[b] = float(x[b] * c + x[a] * sn);
          }
      }
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-6 * (std::fabs(want[i]) + 1))
            << (interleaved ? "interleaved" : "halves") << " at " << i;
    }
}

TEST_P(KernelTest, ElementwiseMatchesReference) {
  const int64_t n = 1001;
  std::vector<float> a = randomFloats(n + 1, 40, -6.0f, 6.0f), b = randomFloats(n + 1, 41);
  Buffer da(dev(), a), db(dev(), b), dout(dev(), (n + 1) * 4);
  for (int offset : {0, 1}) { // 1: not 16-byte aligned, the element-at-a-time path
    for (bool silu : {true, false}) {
      DevicePtr pa = da.ptr() + offset * 4, pb = db.ptr() + offset * 4, po = dout.ptr() + offset * 4;
      Status s = silu ? k().siluMul(pa, pb, po, n) : k().add(pa, pb, po, n);
      ASSERT_TRUE(s) << s.message();
      std::vector<float> out = dout.read<float>(n + 1);
      for (int64_t i = 0; i < n; ++i) {
        double x = a[i + offset], y = b[i + offset];
        double want = silu ? x / (1.0 + std::exp(-x)) * y : x + y;
        ASSERT_NEAR(out[i + offset], want, 1e-6 * (std::fabs(want) + 1))
            << (silu ? "silu_mul" : "add") << " offset " << offset << " i " << i;
      }
    }
  }
}

namespace {
struct AttentionCase {
  int batch, heads, kvHeads, headDim, kvLen, spare, rowsPerSplit;
};
} // namespace

TEST_P(KernelTest, DecodeAttentionMatchesReferenceAndNeverReadsSpareRows) {
  const AttentionCase cases[] = {
      {2, 12, 4, 80, 333, 37, 0},    // GQA groups of 3, the automatic split plan
      {1, 8, 1, 256, 1000, 24, 32},  // a group of 8, the largest head, 32 splits
      {3, 4, 4, 64, 1, 63, 0},       // one valid row, many spare
      {1, 2, 1, 33, 0, 5, 0},        // no valid row: out = 0
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Score transforms (softcap, smooth softmax), rotated over the iterations
  // so that each meets every element type, mask mode and most cases.
  const struct {
    float softcap;
    int smooth;
  } modes[] = {{0.0f, 0}, {2.0f, 0}, {0.0f, 1}, {2.0f, 1}, {30.0f, 1}};
  unsigned seed = 50;
  int iteration = 0;
  for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16})
    for (const AttentionCase &c : cases)
      for (bool mask : {false, true}) {
        const auto mode = modes[iteration++ % 5];
        // The emulation switches fibers at every shuffle: shorter there (still several splits).
        const int kvLen = emulated() ? std::min(c.kvLen, 120) : c.kvLen;
        const int rows = kvLen + c.spare, d = c.headDim, g = c.heads / c.kvHeads;
        const int64_t kRs = d, kHs = rows * kRs, kBs = c.kvHeads * kHs;
        const int64_t vRs = d + 3, vHs = rows * vRs, vBs = c.kvHeads * vHs;
        const int64_t oHs = d + 1, oBs = c.heads * oHs;
        std::vector<float> q = randomFloats(size_t(c.batch) * c.heads * d, ++seed);
        std::vector<float> kf = randomFloats(size_t(c.batch) * kBs, ++seed);
        std::vector<float> vf = randomFloats(size_t(c.batch) * vBs, ++seed);
        // Spare rows hold NaN: any read of them would show in the output.
        for (int b = 0; b < c.batch; ++b)
          for (int h = 0; h < c.kvHeads; ++h)
            for (int r = kvLen; r < rows; ++r) {
              for (int i = 0; i < d; ++i)
                kf[b * kBs + h * kHs + r * kRs + i] = nan;
              for (int i = 0; i < vRs; ++i)
                vf[b * vBs + h * vHs + r * vRs + i] = nan;
            }
        Narrowed kn = narrow(kf, t), vn = narrow(vf, t);
        Buffer dq(dev(), q), dk(dev(), kn.bytes), dv(dev(), vn.bytes);
        Buffer dout(dev(), size_t(c.batch) * oBs * 4);

        bmc_decode_attention_params p = {};
        p.q = reinterpret_cast<const float *>(dq.ptr());
        p.q_hs = d;
        p.q_bs = int64_t(c.heads) * d;
        p.k = reinterpret_cast<const void *>(dk.ptr());
        p.k_bs = kBs, p.k_hs = kHs, p.k_rs = kRs;
        p.v = reinterpret_cast<const void *>(dv.ptr());
        p.v_bs = vBs, p.v_hs = vHs, p.v_rs = vRs;
        p.out = reinterpret_cast<float *>(dout.ptr());
        p.o_bs = oBs, p.o_hs = oHs;
        p.batch = c.batch, p.heads = c.heads, p.kv_heads = c.kvHeads, p.head_dim = d;
        p.kv_len = kvLen;
        p.kv_rows = mask ? rows : kvLen;
        p.rows_per_split = c.rowsPerSplit;
        p.scale = float(1.0 / std::sqrt(double(d)));
        p.softcap = mode.softcap;
        p.smooth_softmax = mode.smooth;
        CudaKernels::planDecodeAttention(p, dev().properties().multiprocessors);
        Buffer po(dev(), size_t(c.batch) * c.heads * p.splits * d * 4);
        Buffer plse(dev(), size_t(c.batch) * c.heads * p.splits * 4);
        p.partial_out = reinterpret_cast<float *>(po.ptr());
        p.partial_lse = reinterpret_cast<float *>(plse.ptr());
        Status s = k().decodeAttention(t, p);
        ASSERT_TRUE(s) << s.message();
        ASSERT_TRUE(dev().synchronize());
        std::vector<float> out = dout.read<float>(size_t(c.batch) * oBs);

        for (int b = 0; b < c.batch; ++b)
          for (int h = 0; h < c.heads; ++h) {
            int kvh = h / g;
            std::vector<double> score(kvLen);
            // Smooth softmax: exp(s - m) / (exp(-m) + sum exp(s - m)), m including the zero logit.
            double m = mode.smooth ? 0.0 : -INFINITY, l = mode.smooth ? 1.0 : 0.0;
            for (int r = 0; r < kvLen; ++r) {
              double dot = 0;
              for (int i = 0; i < d; ++i)
                dot += double(q[(b * c.heads + h) * d + i]) * kn.values[b * kBs + kvh * kHs + r * kRs + i];
              score[r] = dot * p.scale;
              if (mode.softcap > 0)
                score[r] = mode.softcap * std::tanh(score[r] / mode.softcap);
              m = std::max(m, score[r]);
            }
            if (mode.smooth)
              l = std::exp(-m);
            for (int r = 0; r < kvLen; ++r)
              l += score[r] = std::exp(score[r] - m);
            for (int i = 0; i < d; ++i) {
              double want = 0;
              for (int r = 0; r < kvLen; ++r)
                want += score[r] / l * vn.values[b * vBs + kvh * vHs + r * vRs + i];
              ASSERT_NEAR(out[b * oBs + h * oHs + i], want, 2e-5)
                  << elementTypeName(t) << (mask ? " mask" : " skip") << " softcap " << mode.softcap
                  << " smooth " << mode.smooth << " kv_len " << kvLen
                  << " splits " << p.splits << " b " << b << " h " << h << " i " << i;
            }
          }
      }
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaTest, ::testing::Values(Backend::Gpu), backendName);
INSTANTIATE_TEST_SUITE_P(Cuda, KernelTest, ::testing::Values(Backend::Gpu, Backend::Emulated),
                         backendName);
