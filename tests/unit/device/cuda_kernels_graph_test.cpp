// A decode-step-shaped sequence of the CUDA kernel library (CudaKernels:
// RMSNorm -> split-K GEMV -> SiLU*mul -> add) captured once as a graph and
// replayed, on two backends: Emulated (the .cuh kernels as host C++ on the CPU
// device, their host tables carrying argument sizes) and Gpu (NVRTC cubins on
// CudaDevice: CUDA graphs; skips without a GPU). A replay gives the same bytes
// as the launches run directly, and a replay after new inputs are copied into
// the same buffers gives what direct launches give on those inputs (the
// decode-step use: same buffers, new data).
#include "cuda_emulated_kernels.h"
#include "device_backends.h"
#include "runtime/device/KernelLibrary.h"

#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;
using bmc_device_test::DeviceKind;

namespace {

struct KernelsFor {
  std::unique_ptr<CpuDevice> ownDevice; // the emulated backend's own CPU device
  std::unique_ptr<CudaKernels> kernels;
  std::string error;
};

KernelsFor makeKernels(DeviceKind kind) {
  KernelsFor k;
  Device *dev = nullptr;
  if (kind == DeviceKind::Gpu) {
    dev = bmc_device_test::deviceSlot(kind).device.get();
    if (!dev)
      return k;
    auto made = CudaKernels::create(*dev);
    if (!made)
      k.error = made.status().message();
    else
      k.kernels = std::move(made.value());
    return k;
  }
  k.ownDevice = std::make_unique<CpuDevice>();
  auto made = emulatedCudaKernels(*k.ownDevice);
  if (!made)
    k.error = made.status().message();
  else
    k.kernels = std::move(made.value());
  return k;
}

KernelsFor &kernelsFor(DeviceKind kind) {
  static KernelsFor gpu = makeKernels(DeviceKind::Gpu), emulated = makeKernels(DeviceKind::Cpu);
  return kind == DeviceKind::Gpu ? gpu : emulated;
}

std::vector<float> randomFloats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

class KernelsGraphTest : public ::testing::TestWithParam<DeviceKind> {
protected:
  void SetUp() override {
    if (GetParam() == DeviceKind::Gpu)
      BMC_DEVICE_OR_SKIP(DeviceKind::Gpu);
    KernelsFor &k = kernelsFor(GetParam());
    ASSERT_TRUE(k.kernels) << k.error;
  }
  Device &dev() {
    KernelsFor &k = kernelsFor(GetParam());
    return k.ownDevice ? *k.ownDevice : *bmc_device_test::deviceSlot(GetParam()).device;
  }
  CudaKernels &kernels() { return *kernelsFor(GetParam()).kernels; }
  DevicePtr upload(const std::vector<float> &v) {
    auto p = dev().allocate(v.size() * 4);
    EXPECT_TRUE(p) << p.status().message();
    if (!p)
      return 0;
    owned_.push_back(p.value());
    EXPECT_TRUE(dev().copyToDevice(p.value(), v.data(), v.size() * 4));
    return p.value();
  }
  std::vector<float> read(DevicePtr p, size_t n) {
    std::vector<float> v(n);
    EXPECT_TRUE(dev().synchronize());
    EXPECT_TRUE(dev().copyToHost(v.data(), p, n * 4));
    return v;
  }
  void TearDown() override {
    for (DevicePtr p : owned_)
      (void)dev().free(p);
  }
  std::vector<DevicePtr> owned_;
};

} // namespace

TEST_P(KernelsGraphTest, DecodeShapedStepReplaysLikeDirectLaunches) {
  const int k = 333, n = 77, splits = 3; // odd sizes; split-K: two kernels for the GEMV
  std::vector<float> w = randomFloats(size_t(n) * k, 1), gamma = randomFloats(k, 2);
  DevicePtr x = upload(randomFloats(k, 3)), g = upload(gamma), h = upload(std::vector<float>(k));
  DevicePtr wd = upload(w), y = upload(std::vector<float>(n)), gate = upload(randomFloats(n, 4));
  DevicePtr z = upload(std::vector<float>(n)), res = upload(randomFloats(n, 5));
  DevicePtr out = upload(std::vector<float>(n)), ws = upload(std::vector<float>(size_t(splits) * n));
  ASSERT_FALSE(HasFailure());
  auto step = [&]() -> Status {
    if (Status s = kernels().rmsNorm(x, k, g, h, k, 1, k, 1e-5f); !s)
      return s;
    if (Status s = kernels().gemv(ElementType::F32, wd, k, h, y, n, k, splits, ws); !s)
      return s;
    if (Status s = kernels().siluMul(y, gate, z, n); !s)
      return s;
    return kernels().add(z, res, out, n);
  };
  ASSERT_TRUE(step());
  std::vector<float> direct = read(out, n);

  ASSERT_TRUE(dev().copyToDevice(out, std::vector<float>(n, 0.0f).data(), size_t(n) * 4));
  ASSERT_TRUE(dev().beginCapture());
  Status captured = step();
  auto graph = dev().endCapture();
  ASSERT_TRUE(captured) << captured.message();
  ASSERT_TRUE(graph) << graph.status().message();
  EXPECT_EQ(dev().graphLaunchCount(graph.value()).value(), 5u); // norm, gemv + reduce, silu*mul, add
  EXPECT_EQ(read(out, n), std::vector<float>(n, 0.0f)) << "a captured launch ran";
  ASSERT_TRUE(dev().replay(graph.value()));
  EXPECT_EQ(read(out, n), direct);

  // The next "token": new inputs in the same buffers.
  std::vector<float> x2 = randomFloats(k, 6), res2 = randomFloats(n, 7);
  ASSERT_TRUE(dev().copyToDevice(x, x2.data(), size_t(k) * 4));
  ASSERT_TRUE(dev().copyToDevice(res, res2.data(), size_t(n) * 4));
  ASSERT_TRUE(dev().replay(graph.value()));
  std::vector<float> replayed = read(out, n);
  EXPECT_NE(replayed, direct);
  ASSERT_TRUE(step());
  EXPECT_EQ(read(out, n), replayed);
  ASSERT_TRUE(dev().destroyGraph(graph.value()));
}

INSTANTIATE_TEST_SUITE_P(Cuda, KernelsGraphTest, ::testing::Values(DeviceKind::Cpu, DeviceKind::Gpu),
                         [](const ::testing::TestParamInfo<DeviceKind> &info) {
                           return std::string(info.param == DeviceKind::Gpu ? "Gpu" : "Emulated");
                         });
