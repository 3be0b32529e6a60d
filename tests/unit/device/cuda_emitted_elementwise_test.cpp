// The CUDA emitter's bmck.elementwise kernels (bmc-opt --bmc-emit-cuda on
// emitted_elementwise.mlir, generated at build time) compiled as host C++
// against cuda_emulation.h and run on random inputs with odd sizes, strided
// and offset views (NaN between their elements, so a wrong read shows) and
// broadcast leaves, against plain float / integer loops written here from the
// ops' semantics (ONNX, and the CPU emitter's where ONNX leaves it open: a
// 16-bit intermediate rounded to its type, rounded here by the CPU's
// bmc_convert_f32_to_kv; float -> int Casts of NaN / out of range giving the
// minimum). Each case three ways: the kernel called directly, through
// EmittedLauncher on the CPU device (the planned grid-stride launch), and on a
// GPU (NVRTC + CudaDevice; skipped here). Then a launch whose broadcast check
// fails.
// What the emulation checks and does not: cuda_emulation.h.
#include "cuda_emulation.h"

#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "runtime/device/cuda/elementwise.cuh"
#include "tests/unit/device/emitted_elementwise.cu" // in the build tree

#include "bmc/abi/kernels.h"
#include "emitted_env.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace {

using bmc::device::Dim3;
using bmc::device::HostLaunch;

enum class T { F32, F16, BF16, I32, I64, B };
size_t width(T t) { return t == T::F32 || t == T::I32 ? 4 : t == T::I64 ? 8 : t == T::B ? 1 : 2; }

// The CPU's rounding of an fp32 value to fp16 / bf16 (the KV conversion).
float round16(float x, T t) {
  unsigned short h;
  float back;
  int kv = t == T::F16 ? BMC_KV_F16 : BMC_KV_BF16;
  bmc_convert_f32_to_kv(kv, &x, &h, 1);
  bmc_convert_kv_to_f32(kv, &h, &back, 1);
  return back;
}

// A view over its own storage: 4 sizes (leading 1s for a lower rank), the last
// dimension `step` elements apart, rows padded by 3, an offset of 5; every
// element outside the view is NaN (floats) or a marker.
struct Tensor {
  T type;
  std::vector<unsigned char> bytes;
  bmc_view4 v{};
  Tensor(T t, std::vector<long long> size, long long step = 1) : type(t) {
    long long stride = step;
    v.offset = 5;
    for (int d = 3; d >= 0; --d) {
      v.size[d] = size[d], v.stride[d] = stride;
      stride = stride * size[d] + (d == 3 ? 3 : 0);
    }
    bytes.assign(size_t(stride + 8) * width(t), 0);
    for (long long e = 0; e < stride + 8; ++e)
      raw(e, std::numeric_limits<double>::quiet_NaN());
    v.data = bytes.data();
  }
  long long at(long long a, long long b, long long c, long long d) const {
    long long i[4] = {a, b, c, d}, off = v.offset;
    for (int k = 0; k < 4; ++k)
      off += (v.size[k] == 1 ? 0 : i[k]) * v.stride[k];
    return off;
  }
  void raw(long long e, double x) {
    unsigned char *p = bytes.data() + size_t(e) * width(type);
    switch (type) {
    case T::F32: { float f = float(x); std::memcpy(p, &f, 4); break; }
    case T::F16:
    case T::BF16: {
      float f = float(x);
      bmc_convert_f32_to_kv(type == T::F16 ? BMC_KV_F16 : BMC_KV_BF16, &f, p, 1);
      break;
    }
    case T::I32: { int32_t i = std::isnan(x) ? 0x5a5a5a5a : int32_t(x); std::memcpy(p, &i, 4); break; }
    case T::I64: { int64_t i = std::isnan(x) ? 0x5a5a5a5a5a5a5a5all : int64_t(x); std::memcpy(p, &i, 8); break; }
    case T::B: *p = std::isnan(x) ? 0x5a : (x != 0); break;
    }
  }
  double get(long long e) const {
    const unsigned char *p = bytes.data() + size_t(e) * width(type);
    switch (type) {
    case T::F32: { float f; std::memcpy(&f, p, 4); return f; }
    case T::F16:
    case T::BF16: {
      float f;
      bmc_convert_kv_to_f32(type == T::F16 ? BMC_KV_F16 : BMC_KV_BF16, p, &f, 1);
      return f;
    }
    case T::I32: { int32_t i; std::memcpy(&i, p, 4); return i; }
    case T::I64: { int64_t i; std::memcpy(&i, p, 8); return double(i); }
    case T::B: return *p;
    }
    return 0;
  }
  void setInt(long long e, int64_t x) {
    unsigned char *p = bytes.data() + size_t(e) * width(type);
    if (type == T::I64) std::memcpy(p, &x, 8);
    else { int32_t i = int32_t(x); std::memcpy(p, &i, 4); }
  }
  int64_t getInt(long long e) const {
    const unsigned char *p = bytes.data() + size_t(e) * width(type);
    if (type == T::I64) { int64_t i; std::memcpy(&i, p, 8); return i; }
    if (type == T::I32) { int32_t i; std::memcpy(&i, p, 4); return i; }
    return *p;
  }
  // Fills the view's elements with `gen()`.
  template <typename G> void fill(G gen) {
    for (long long a = 0; a < v.size[0]; ++a)
      for (long long b = 0; b < v.size[1]; ++b)
        for (long long c = 0; c < v.size[2]; ++c)
          for (long long d = 0; d < v.size[3]; ++d)
            raw(at(a, b, c, d), gen());
  }
  void fillUniform(unsigned seed, double lo, double hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    fill([&] { return u(rng); });
  }
  void fillInts(unsigned seed, int64_t lo, int64_t hi, bool noZero = false) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> u(lo, hi);
    fill([&] {
      int64_t x = u(rng);
      return double(noZero && x == 0 ? 1 : x);
    });
  }
};

// Every element of out: `ref(a, b, c, d)` against the kernel's value, within
// `tol` relative to 1 + |want| (0: exact; NaN must meet NaN).
void expectAll(const Tensor &out, const std::function<double(long long, long long, long long, long long)> &ref,
               double tol, const char *what) {
  int bad = 0;
  for (long long a = 0; a < out.v.size[0]; ++a)
    for (long long b = 0; b < out.v.size[1]; ++b)
      for (long long c = 0; c < out.v.size[2]; ++c)
        for (long long d = 0; d < out.v.size[3]; ++d) {
          double want = ref(a, b, c, d), got = out.get(out.at(a, b, c, d));
          bool ok = std::isnan(want) ? std::isnan(got)
                                     : got == want || std::fabs(got - want) <= tol * (1.0 + std::fabs(want));
          if (!ok && bad++ < 5)
            ADD_FAILURE() << what << " at (" << a << ", " << b << ", " << c << ", " << d << "): got " << got
                          << ", want " << want;
        }
  EXPECT_EQ(bad, 0) << what;
}

#define BMC_EMULATED(name)                                                                         \
  bmc::device::HostKernel {                                                                        \
    #name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); },                    \
        bmc_emu::argSizes(name), bmc_emu::argCount(name)                                           \
  }
const bmc::device::HostKernel kTable[] = {
    BMC_EMULATED(bmc_elementwise_0), BMC_EMULATED(bmc_elementwise_1), BMC_EMULATED(bmc_elementwise_2),
    BMC_EMULATED(bmc_elementwise_3), BMC_EMULATED(bmc_elementwise_4), BMC_EMULATED(bmc_elementwise_5),
    BMC_EMULATED(bmc_elementwise_6), BMC_EMULATED(bmc_elementwise_7), BMC_EMULATED(bmc_elementwise_8),
    BMC_EMULATED(bmc_elementwise_9), BMC_EMULATED(bmc_elementwise_10), BMC_EMULATED(bmc_elementwise_11),
    // kTable[kReduce + i]: bmck.reduce i.
    BMC_EMULATED(bmc_reduce_0), BMC_EMULATED(bmc_reduce_1), BMC_EMULATED(bmc_reduce_2), BMC_EMULATED(bmc_reduce_3),
    BMC_EMULATED(bmc_reduce_4), BMC_EMULATED(bmc_reduce_5), BMC_EMULATED(bmc_reduce_6), BMC_EMULATED(bmc_reduce_7),
    BMC_EMULATED(bmc_reduce_8), BMC_EMULATED(bmc_reduce_9),
};
constexpr int kReduce = 12;


enum class Mode { Emulated, Launcher, Gpu };

// Each group on each case's tensors: Emulated, its kernel called directly
// (blocks of 256 threads, one after another); Launcher, through the runtime's
// EmittedLauncher on the CPU device (its planned grid, its checks); Gpu, the
// same on NVRTC's build through CudaDevice (a skip without a GPU unless
// BMC_REQUIRE_GPU=1; benchmarks/gpu_check.sh sets it).
class CudaEmittedElementwise : public ::testing::TestWithParam<Mode> {
protected:
  void SetUp() override {
    using namespace bmc::device;
    if (GetParam() == Mode::Emulated)
      return;
    env_ = std::make_unique<bmc_device_test::EmittedEnv>(GetParam() == Mode::Gpu, kTable, BMC_EMITTED_CU);
    BMC_EMITTED_ENV_OR_SKIP(*env_);
    device_ = env_->device.get(), launcher_ = env_->launcher.get();
    ASSERT_EQ(launcher_->configurations("bmck.elementwise"), 12);
    ASSERT_EQ(launcher_->configurations("bmck.reduce"), 10);
  }

  // bmck.elementwise `index` (blocks of 256 threads when called directly).
  void run(int index, std::vector<Tensor *> ins, Tensor &out, unsigned blocks) {
    launch("bmck.elementwise", index, index, std::move(ins), out, blocks);
  }
  // bmck.reduce `index`: a block per output element.
  void reduce(int index, Tensor &x, Tensor &out) {
    unsigned n = unsigned(out.v.size[0] * out.v.size[1] * out.v.size[2] * out.v.size[3]);
    launch("bmck.reduce", index, kReduce + index, {&x}, out, n);
  }
  void launch(const char *op, int index, int kernel, std::vector<Tensor *> ins, Tensor &out, unsigned blocks) {
    using namespace bmc::device;
    if (!launcher_) {
      std::vector<void *> args;
      for (Tensor *t : ins)
        args.push_back(&t->v);
      args.push_back(&out.v);
      HostLaunch l{{blocks, 1, 1}, {256, 1, 1}, {}};
      for (uint32_t x = 0; x < blocks; ++x) {
        l.blockIdx = {x, 0, 0};
        kTable[kernel].fn(l, args.data());
      }
      return;
    }
    std::vector<DevicePtr> ptrs;
    auto upload = [&](const Tensor &t) {
      DevicePtr p = device_->allocate(t.bytes.size()).value();
      EXPECT_TRUE(device_->copyToDevice(p, t.bytes.data(), t.bytes.size()));
      ptrs.push_back(p);
      bmc_view4 v = t.v;
      v.data = reinterpret_cast<const void *>(p);
      return v;
    };
    LaunchArgs args;
    bool reduce = std::string(op) == "bmck.reduce";
    for (size_t k = 0; k < ins.size(); ++k)
      args[reduce ? std::string("x") : "x" + std::to_string(k)] = LaunchValue::of(upload(*ins[k]));
    args["out"] = LaunchValue::of(upload(out));
    LaunchRecord record;
    bmc::Status s = launcher_->launch(op, index, args, &record);
    ASSERT_TRUE(s) << s.message();
    int64_t n = out.v.size[0] * out.v.size[1] * out.v.size[2] * out.v.size[3];
    int64_t planned = reduce ? n : std::min<int64_t>((n + 255) / 256, int64_t(device_->properties().multiprocessors) * 32);
    ASSERT_EQ(record.configs.size(), 1u);
    EXPECT_EQ(record.configs[0].grid.x, uint32_t(planned));
    ASSERT_TRUE(device_->synchronize());
    ASSERT_TRUE(device_->copyToHost(out.bytes.data(), ptrs.back(), out.bytes.size()));
    for (DevicePtr p : ptrs)
      (void)device_->free(p);
  }

  std::unique_ptr<bmc_device_test::EmittedEnv> env_; // none when Emulated
  bmc::device::Device *device_ = nullptr;
  bmc::device::EmittedLauncher *launcher_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(, CudaEmittedElementwise, ::testing::Values(Mode::Emulated, Mode::Launcher, Mode::Gpu),
                         [](const ::testing::TestParamInfo<Mode> &i) {
                           return std::string(i.param == Mode::Emulated ? "Emulated"
                                              : i.param == Mode::Launcher ? "Launcher" : "Gpu");
                         });

TEST_P(CudaEmittedElementwise, RopeWithBroadcastCosSin) {
  const long long batch = 2, heads = 3, seq = 5, d = 38;
  Tensor x(T::F32, {batch, heads, seq, d}, 2), cos(T::F32, {1, 1, seq, d}), rot(T::F32, {batch, heads, seq, d}),
      sin(T::F32, {1, 1, seq, d}), out(T::F32, {batch, heads, seq, d});
  x.fillUniform(1, -2, 2), cos.fillUniform(2, -1, 1), rot.fillUniform(3, -2, 2), sin.fillUniform(4, -1, 1);
  run(0, {&x, &cos, &rot, &sin}, out, 3); // 2280 elements over 768 threads: the grid-stride loop
  expectAll(out, [&](long long a, long long b, long long c, long long e) {
    return float(x.get(x.at(a, b, c, e)) * cos.get(cos.at(0, 0, c, e))) +
           float(rot.get(rot.at(a, b, c, e)) * sin.get(sin.at(0, 0, c, e)));
  }, 1e-6, "rope");
}

TEST_P(CudaEmittedElementwise, SiluTimesUp) {
  Tensor g(T::F32, {1, 3, 7, 45}), u(T::F32, {1, 3, 7, 45}, 3), out(T::F32, {1, 3, 7, 45});
  g.fillUniform(5, -12, 12), u.fillUniform(6, -3, 3);
  run(1, {&g, &u}, out, 2);
  expectAll(out, [&](long long a, long long b, long long c, long long e) {
    double x = g.get(g.at(a, b, c, e));
    return x / (1.0 + std::exp(-x)) * u.get(u.at(a, b, c, e));
  }, 2e-6, "silu*up");
}

TEST_P(CudaEmittedElementwise, MaskWhereAndChain) {
  const long long batch = 3, q = 4, k = 9;
  Tensor kp(T::I64, {1, 1, 1, k}), qp(T::I64, {1, 1, q, 1}), am(T::I64, {batch, 1, 1, k}), zero(T::F32, {1, 1, 1, 1}),
      ninf(T::F32, {1, 1, 1, 1}), out(T::F32, {batch, 1, q, k});
  kp.fillInts(7, 0, 8), qp.fillInts(8, 3, 8), am.fillInts(9, -1, 1);
  zero.fill([] { return 0.0; }), ninf.fill([] { return -INFINITY; });
  run(2, {&kp, &qp, &am, &zero, &ninf}, out, 1);
  expectAll(out, [&](long long a, long long, long long c, long long e) {
    bool keep = kp.getInt(kp.at(0, 0, 0, e)) <= qp.getInt(qp.at(0, 0, c, 0)) && am.getInt(am.at(a, 0, 0, e)) != 0;
    return keep ? 0.0 : -INFINITY;
  }, 0, "mask");
}

TEST_P(CudaEmittedElementwise, F16SumRoundedBeforeTanh) {
  Tensor h(T::F16, {1, 1, 11, 37}, 2), b(T::F16, {1, 1, 1, 37}), out(T::F16, {1, 1, 11, 37});
  h.fillUniform(10, -3, 3), b.fillUniform(11, -3, 3);
  run(3, {&h, &b}, out, 1);
  expectAll(out, [&](long long, long long, long long c, long long e) {
    float s = round16(float(h.get(h.at(0, 0, c, e))) + float(b.get(b.at(0, 0, 0, e))), T::F16);
    return round16(std::tanh(s), T::F16);
  }, 1e-3, "f16 tanh(x + b)"); // one f16 ulp: tanhf may round the other way
}

TEST_P(CudaEmittedElementwise, Bf16SiluCastToF32) {
  Tensor x(T::BF16, {1, 2, 9, 37}), out(T::F32, {1, 2, 9, 37});
  x.fillUniform(12, -6, 6);
  run(4, {&x}, out, 2);
  expectAll(out, [&](long long, long long b, long long c, long long e) {
    float v = float(x.get(x.at(0, b, c, e)));
    float s = round16(1.0f / (1.0f + std::exp(-v)), T::BF16);
    return round16(v * s, T::BF16);
  }, 8e-3, "bf16 x * sigmoid(x)"); // one bf16 ulp
}

TEST_P(CudaEmittedElementwise, IntegerModNegCastMul) {
  Tensor a(T::I64, {1, 1, 13, 7}, 2), b(T::I64, {1, 1, 1, 7}), c(T::I32, {1, 1, 1, 1}), out(T::I32, {1, 1, 13, 7});
  a.fillInts(13, -100000000000ll, 100000000000ll), b.fillInts(14, -9, 9, true), c.fill([] { return 77777.0; });
  run(5, {&a, &b, &c}, out, 1);
  expectAll(out, [&](long long, long long, long long r, long long e) {
    int64_t x = a.getInt(a.at(0, 0, r, e)), y = b.getInt(b.at(0, 0, 0, e));
    int64_t m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) m += y; // Python's sign
    uint32_t t = uint32_t(uint64_t(-m));          // the Cast keeps the low 32 bits
    return double(int32_t(t * 77777u));           // wrapping
  }, 0, "i64 mod / neg / cast / mul");
}

TEST_P(CudaEmittedElementwise, IntegerDivFmodSubMax) {
  Tensor a(T::I32, {1, 1, 17, 5}), b(T::I32, {1, 1, 1, 5}, 4), out(T::I32, {1, 1, 17, 5});
  a.fillInts(15, -1000, 1000), b.fillInts(16, -7, 7, true);
  run(6, {&a, &b}, out, 1);
  expectAll(out, [&](long long, long long, long long r, long long e) {
    int32_t x = int32_t(a.getInt(a.at(0, 0, r, e))), y = int32_t(b.getInt(b.at(0, 0, 0, e)));
    int32_t s = (x / y) % y - x; // C: truncation, the dividend's sign
    return double(s > y ? s : y);
  }, 0, "i32 div / fmod / sub / max");
}

TEST_P(CudaEmittedElementwise, FloatToIntCastMinGelu) {
  Tensor x(T::F32, {1, 1, 6, 11}), l(T::I64, {1, 1, 1, 11}), out(T::F32, {1, 1, 6, 11});
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(-9.9, 9.9);
  int n = 0;
  const double special[] = {NAN, 1e30, -1e30, 2.5, -2.5, -0.0, 0.99};
  x.fill([&] { return n < 7 ? special[n++] : u(rng); });
  l.fillInts(18, -3, 8);
  run(7, {&x, &l}, out, 1);
  expectAll(out, [&](long long, long long, long long r, long long e) {
    float v = float(x.get(x.at(0, 0, r, e)));
    int64_t c = (std::isnan(v) || v >= 9.2233720368547758e18f || v < -9.2233720368547758e18f) ? INT64_MIN : int64_t(v);
    int64_t m = std::min<int64_t>(c, l.getInt(l.at(0, 0, 0, e)));
    double f = double(float(m));
    return 0.5 * f * (1.0 + std::erf(f / std::sqrt(2.0)));
  }, 1e-6, "f32 -> i64 / min / f32 / gelu");
}

TEST_P(CudaEmittedElementwise, PowClipMinModComparisonsWhere) {
  Tensor p(T::F32, {1, 1, 9, 13}, 2), two(T::F32, {1, 1, 1, 1}), half(T::F32, {1, 1, 1, 1}), lo(T::F32, {1, 1, 1, 1}),
      hi(T::F32, {1, 1, 1, 1}), q(T::F32, {1, 1, 1, 13}), out(T::F32, {1, 1, 9, 13});
  p.fillUniform(19, -3, 3), q.fillUniform(20, 0.25, 2.5);
  two.fill([] { return 2.0; }), half.fill([] { return 0.5; }), lo.fill([] { return 0.5; }), hi.fill([] { return 2.0; });
  p.raw(p.at(0, 0, 0, 0), NAN);
  p.raw(p.at(0, 0, 1, 3), q.get(q.at(0, 0, 0, 3))); // Equal holds
  run(8, {&p, &two, &half, &lo, &hi, &q}, out, 1);
  auto minimum = [](float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : a < b ? a : b; };
  auto maximum = [](float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : a > b ? a : b; };
  expectAll(out, [&](long long, long long, long long r, long long e) {
    float a = float(p.get(p.at(0, 0, r, e))), b = float(q.get(q.at(0, 0, 0, e)));
    float rt = std::sqrt(a * a);
    float cl = rt < 0.5f ? 0.5f : rt;
    cl = 2.0f < cl ? 2.0f : cl;
    float fl = std::floor(std::fmod(minimum(std::pow(cl, b), b), b));
    bool keep = !(((fl > a) || (a >= b)) != (a == b));
    return maximum(keep ? std::exp(a) : b, a);
  }, 2e-6, "pow / clip / min / fmod / comparisons / where / max");
}

TEST_P(CudaEmittedElementwise, UnaryChain) {
  Tensor x(T::F32, {1, 2, 7, 13}, 3), out(T::F32, {1, 2, 7, 13});
  x.fillUniform(21, -4, 4);
  run(9, {&x}, out, 1);
  expectAll(out, [&](long long, long long b, long long c, long long e) {
    double v = x.get(x.at(0, b, c, e));
    v = std::tanh(std::erf(std::log(std::sqrt(std::exp(std::sin(std::cos(v)))))));
    v = 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    v = v < 0 ? 0.2 * v : v;
    v = v > 20 ? v : std::log1p(std::exp(v));
    return std::fabs(-1.0 / v);
  }, 2e-5, "unary chain");
}

TEST_P(CudaEmittedElementwise, CeilSignReluCastToBoolNot) {
  Tensor x(T::F32, {1, 1, 4, 5}), out(T::B, {1, 1, 4, 5}, 2);
  const double values[] = {1.0, 0.0, -0.0, NAN, 0.5, -0.5, 2.0, -3.0, 0.25, 1.5, 3.0, -1.0, 0.75, -2.5, 1e-7, 5.0, -0.1, 0.9, 1.0, 0.0};
  int n = 0;
  x.fill([&] { return values[n++]; });
  run(10, {&x}, out, 1);
  expectAll(out, [&](long long, long long, long long c, long long e) {
    float v = float(x.get(x.at(0, 0, c, e)));
    float s = std::ceil(v);
    s = s > 0 ? 1.0f : s < 0 ? -1.0f : s; // NaN and +-0 kept
    s = (s > 0 || std::isnan(s)) ? s : 0.0f;
    float d = s - v;
    return double(!(d != 0.0f)); // NaN != 0: true
  }, 0, "ceil / sign / relu / sub / cast to bool / not");
}

// Through the runtime's launcher on the CPU device: the planned grid-stride
// launch of group 1, and its broadcast check.
TEST_P(CudaEmittedElementwise, IntegerPowAbs) {
  Tensor a(T::I32, {1, 1, 9, 3}), b(T::I32, {1, 1, 1, 3}), out(T::I32, {1, 1, 9, 3});
  a.fillInts(36, -12, 12), b.fillInts(37, 0, 7);
  run(11, {&a, &b}, out, 1);
  expectAll(out, [&](long long, long long, long long r, long long e) {
    double p = std::pow(double(a.getInt(a.at(0, 0, r, e))), double(b.getInt(b.at(0, 0, 0, e))));
    return std::fabs(double(int32_t(p))); // within i32: 12^7 < 2^31
  }, 0, "i32 pow / abs");
}

// The reductions against plain double loops over the reduced elements.
TEST_P(CudaEmittedElementwise, ReduceSumMeanMaxMinProd) {
  Tensor x0(T::F32, {1, 2, 3, 301}, 2), o0(T::F32, {1, 1, 2, 3});
  x0.fillUniform(31, -1, 1);
  reduce(0, x0, o0);
  expectAll(o0, [&](long long, long long, long long b, long long c) {
    double s = 0;
    for (long long e = 0; e < 301; ++e) s += x0.get(x0.at(0, b, c, e));
    return s;
  }, 1e-5, "sum over 301");
  Tensor x1(T::BF16, {2, 5, 3, 37}), o1(T::BF16, {2, 1, 3, 1});
  x1.fillUniform(32, -4, 4);
  reduce(1, x1, o1);
  expectAll(o1, [&](long long a, long long, long long c, long long) {
    double s = 0;
    for (long long h = 0; h < 5; ++h)
      for (long long e = 0; e < 37; ++e) s += x1.get(x1.at(a, h, c, e));
    return round16(float(s / (5 * 37)), T::BF16); // fp32 accumulation, then rounded once
  }, 8e-3, "bf16 mean over axes 1, 3");
  Tensor x2(T::F16, {1, 1, 11, 9}), o2(T::F16, {1, 1, 1, 1});
  x2.fillUniform(33, -100, 100);
  x2.raw(x2.at(0, 0, 3, 4), -INFINITY);
  reduce(2, x2, o2);
  expectAll(o2, [&](long long, long long, long long, long long) {
    double m = -INFINITY;
    for (long long r = 0; r < 11; ++r)
      for (long long e = 0; e < 9; ++e) m = std::max(m, x2.get(x2.at(0, 0, r, e)));
    return m;
  }, 0, "f16 max over all");
  Tensor x3(T::F32, {1, 1, 300, 7}), o3(T::F32, {1, 1, 1, 7}, 3);
  x3.fillUniform(34, -9, 9);
  x3.raw(x3.at(0, 0, 17, 2), NAN); // min propagates NaN (arith.minimumf)
  reduce(3, x3, o3);
  expectAll(o3, [&](long long, long long, long long, long long e) {
    double m = INFINITY;
    for (long long r = 0; r < 300; ++r) {
      double v = x3.get(x3.at(0, 0, r, e));
      m = std::isnan(v) || std::isnan(m) ? NAN : std::min(m, v);
    }
    return m;
  }, 0, "min over axis 0");
  Tensor x4(T::F32, {1, 1, 1, 45}), o4(T::F32, {1, 1, 1, 1});
  x4.fillUniform(35, 0.8, 1.25);
  reduce(4, x4, o4);
  expectAll(o4, [&](long long, long long, long long, long long) {
    double p = 1;
    for (long long e = 0; e < 45; ++e) p *= x4.get(x4.at(0, 0, 0, e));
    return p;
  }, 1e-5, "prod");
}

// The integer reductions against loops in the element's own wrapping
// arithmetic (unsigned, as the CPU's arith.addi / muli), compared exactly.
TEST_P(CudaEmittedElementwise, ReduceIntegers) {
  auto expectInts = [](const Tensor &out, const std::function<int64_t(long long, long long, long long, long long)> &ref,
                       const char *what) {
    int bad = 0;
    for (long long a = 0; a < out.v.size[0]; ++a)
      for (long long b = 0; b < out.v.size[1]; ++b)
        for (long long c = 0; c < out.v.size[2]; ++c)
          for (long long d = 0; d < out.v.size[3]; ++d) {
            int64_t want = ref(a, b, c, d), got = out.getInt(out.at(a, b, c, d));
            if (got != want && bad++ < 5)
              ADD_FAILURE() << what << " at (" << a << ", " << b << ", " << c << ", " << d << "): got " << got
                            << ", want " << want;
          }
  };
  std::mt19937_64 rng(41);
  // 5: the mask's sum, 3 rows of 517 (wider than a block) 0/1 entries, one row
  // of huge values that wrap.
  Tensor x5(T::I64, {1, 1, 3, 517}, 2), o5(T::I64, {1, 1, 1, 3});
  for (long long e = 0; e < 517; ++e) {
    x5.setInt(x5.at(0, 0, 0, e), int64_t(rng() % 2));
    x5.setInt(x5.at(0, 0, 1, e), e < 200 ? 1 : 0);
    x5.setInt(x5.at(0, 0, 2, e), int64_t(rng())); // any 64 bits: the sum wraps
  }
  reduce(5, x5, o5);
  expectInts(o5, [&](long long, long long, long long, long long r) {
    uint64_t s = 0;
    for (long long e = 0; e < 517; ++e) s += uint64_t(x5.getInt(x5.at(0, 0, r, e)));
    return int64_t(s);
  }, "i64 sum over axis 1");
  // 6: i32 values near 2^30 summed over 2 x 301: wraps in 32 bits.
  Tensor x6(T::I32, {1, 2, 5, 301}, 3), o6(T::I32, {1, 1, 5, 1});
  x6.fill([&] { return double(int32_t(rng() % 2000000000) - 500000000); });
  reduce(6, x6, o6);
  expectInts(o6, [&](long long, long long, long long h, long long) {
    uint32_t s = 0;
    for (long long b = 0; b < 2; ++b)
      for (long long e = 0; e < 301; ++e) s += uint32_t(x6.getInt(x6.at(0, b, h, e)));
    return int64_t(int32_t(s));
  }, "i32 sum over axes 0, 2 (wrapping)");
  // 7: i64 max over all of 3 x 11 x 7 negatives (the identity is not 0).
  Tensor x7(T::I64, {1, 3, 11, 7}), o7(T::I64, {1, 1, 1, 1});
  for (long long b = 0; b < 3; ++b)
    for (long long c = 0; c < 11; ++c)
      for (long long e = 0; e < 7; ++e) x7.setInt(x7.at(0, b, c, e), -int64_t(rng() >> 2) - 1);
  reduce(7, x7, o7);
  expectInts(o7, [&](long long, long long, long long, long long) {
    int64_t m = INT64_MIN;
    for (long long b = 0; b < 3; ++b)
      for (long long c = 0; c < 11; ++c)
        for (long long e = 0; e < 7; ++e) m = std::max(m, x7.getInt(x7.at(0, b, c, e)));
    return m;
  }, "i64 max over all");
  // 8: i32 mean over 9, truncated toward zero (negative sums too).
  Tensor x8(T::I32, {1, 1, 13, 9}), o8(T::I32, {1, 1, 1, 13});
  x8.fillInts(42, -50, 50);
  reduce(8, x8, o8);
  expectInts(o8, [&](long long, long long, long long, long long r) {
    int32_t s = 0;
    for (long long e = 0; e < 9; ++e) s += int32_t(x8.getInt(x8.at(0, 0, r, e)));
    return int64_t(s / 9);
  }, "i32 mean over axis 1");
  // 9: i64 product of 70 values in [-9, 9] (no zero): wraps.
  Tensor x9(T::I64, {1, 1, 1, 70}), o9(T::I64, {1, 1, 1, 1});
  x9.fillInts(43, -9, 9, true);
  reduce(9, x9, o9);
  expectInts(o9, [&](long long, long long, long long, long long) {
    uint64_t p = 1;
    for (long long e = 0; e < 70; ++e) p *= uint64_t(x9.getInt(x9.at(0, 0, 0, e)));
    return int64_t(p);
  }, "i64 product (wrapping)");
}

TEST(CudaEmittedElementwiseLauncher, PlansAndChecks) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  Device &device = *env.device;
  EmittedLauncher *launcher = env.launcher.get();
  Tensor g(T::F32, {1, 5, 9, 45}), u(T::F32, {1, 1, 9, 45}, 2), out(T::F32, {1, 5, 9, 45});
  g.fillUniform(22, -5, 5), u.fillUniform(23, -2, 2);
  LaunchRecord record;
  bmc::Status s = launcher->launch("bmck.elementwise", 1,
                                      {{"x0", LaunchValue::of(g.v)}, {"x1", LaunchValue::of(u.v)}, {"out", LaunchValue::of(out.v)}},
                                      &record);
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(record.configs.size(), 1u);
  int64_t blocks = std::min<int64_t>((5 * 9 * 45 + 255) / 256, int64_t(device.properties().multiprocessors) * 32);
  EXPECT_EQ(record.configs[0].grid.x, uint32_t(blocks));
  ASSERT_TRUE(device.synchronize());
  expectAll(out, [&](long long, long long b, long long c, long long e) {
    double x = g.get(g.at(0, b, c, e));
    return x / (1.0 + std::exp(-x)) * u.get(u.at(0, 0, c, e)); // u broadcast over dimension 1
  }, 2e-6, "silu*up through the launcher");
  // A leaf of 4 where out has 5 (neither equal nor 1): refused, nothing written.
  Tensor bad(T::F32, {1, 4, 9, 45}), out2(T::F32, {1, 5, 9, 45});
  s = launcher->launch("bmck.elementwise", 1,
                               {{"x0", LaunchValue::of(g.v)}, {"x1", LaunchValue::of(bad.v)}, {"out", LaunchValue::of(out2.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.elementwise 1: elementwise 1: x1 of size 4 in dimension 1, out of 5 (expected "
                         "equal or 1)");
  for (long long e = 0; e < (long long)(out2.bytes.size() / 4); ++e)
    ASSERT_TRUE(std::isnan(out2.get(e)));
}

} // namespace
