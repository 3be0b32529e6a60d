// Graphs (Device::beginCapture ... endCapture, replay, updateLaunch,
// destroyGraph) on the CPU device and on the CUDA device (Gpu: skips without
// a GPU). The same test bodies: a replay gives the same bytes as the same
// launches run directly; captured argument values are the ones at the launch
// (changing the host variables afterwards changes nothing); an update changes
// only its launch; GEMMs are captured too; misuse is a one-line error.
#include "device_backends.h"
#include "runtime/device/Nvrtc.h"

#include <cstring>
#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;
using bmc_device_test::DeviceKind;

namespace {

// y[i] *= a for i < n; y[i] += x[i] for i < n; one thread per element.
const char *kCudaSource = R"(
extern "C" __global__ void bmc_test_scale(float a, float *y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] *= a;
}
extern "C" __global__ void bmc_test_add(const float *x, float *y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}
)";

template <typename F> void eachThread(const HostLaunch &l, F f) {
  for (uint32_t t = 0; t < l.block.x; ++t)
    f(int64_t(l.blockIdx.x) * l.block.x + t);
}
void scaleBlock(const HostLaunch &l, void **args) {
  float a = *static_cast<float *>(args[0]);
  float *y = *static_cast<float **>(args[1]);
  int n = *static_cast<int *>(args[2]);
  eachThread(l, [&](int64_t i) {
    if (i < n)
      y[i] *= a;
  });
}
void addBlock(const HostLaunch &l, void **args) {
  const float *x = *static_cast<const float **>(args[0]);
  float *y = *static_cast<float **>(args[1]);
  int n = *static_cast<int *>(args[2]);
  eachThread(l, [&](int64_t i) {
    if (i < n)
      y[i] += x[i];
  });
}
const HostKernel kHostTable[] = {
    hostKernel<float, float *, int>("bmc_test_scale", scaleBlock),
    hostKernel<const float *, float *, int>("bmc_test_add", addBlock),
    {"bmc_test_scale_unsized", scaleBlock}, // no argument sizes: cannot be captured
};

std::vector<float> randomFloats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

bool oneLine(const Status &s) { return !s && s.message().find('\n') == std::string::npos; }

class GraphTest : public ::testing::TestWithParam<DeviceKind> {
protected:
  void SetUp() override {
    BMC_DEVICE_OR_SKIP(GetParam());
    Device &d = dev();
    ModuleImage image;
    if (GetParam() == DeviceKind::Cpu) {
      image.format = ModuleFormat::HostTable;
      image.hostKernels = kHostTable;
      image.hostKernelCount = sizeof kHostTable / sizeof kHostTable[0];
    } else {
      auto nvrtc = Nvrtc::load();
      ASSERT_TRUE(nvrtc) << nvrtc.status().message();
      const DeviceProperties &p = d.properties();
      NvrtcRequest req;
      req.source = kCudaSource;
      req.name = "device_graph_test.cu";
      req.arch = "sm_" + std::to_string(p.computeMajor) + std::to_string(p.computeMinor);
      auto out = nvrtc.value()->compile(req);
      ASSERT_TRUE(out) << out.status().message();
      image.format = ModuleFormat::Cubin;
      image.bytes = out->cubin;
    }
    auto m = d.loadModule(image);
    ASSERT_TRUE(m) << m.status().message();
    auto scale = d.findKernel(m.value(), "bmc_test_scale");
    auto add = d.findKernel(m.value(), "bmc_test_add");
    ASSERT_TRUE(scale && add);
    scale_ = scale.value();
    add_ = add.value();
    x_ = randomFloats(n_, 1);
    y0_ = randomFloats(n_, 2);
    auto px = d.allocate(n_ * 4), py = d.allocate(n_ * 4);
    ASSERT_TRUE(px && py);
    px_ = px.value();
    py_ = py.value();
    ASSERT_TRUE(d.copyToDevice(px_, x_.data(), n_ * 4));
  }
  void TearDown() override {
    if (px_)
      (void)dev().free(px_);
    if (py_)
      (void)dev().free(py_);
  }
  Device &dev() { return *bmc_device_test::deviceSlot(GetParam()).device; }

  LaunchConfig config(int count) {
    LaunchConfig c;
    c.block.x = 32;
    c.grid.x = uint32_t((count + 31) / 32);
    return c;
  }
  // The step: y *= a1 (first n1), y += x, y *= a2 (first n2).
  Status launchStep(float a1, int n1, float a2, int n2) {
    float *x = reinterpret_cast<float *>(px_), *y = reinterpret_cast<float *>(py_);
    void *s1[] = {&a1, &y, &n1};
    void *s2[] = {&x, &y, &nAll_};
    void *s3[] = {&a2, &y, &n2};
    if (Status s = dev().launch(scale_, config(n1), s1); !s)
      return s;
    if (Status s = dev().launch(add_, config(nAll_), s2); !s)
      return s;
    return dev().launch(scale_, config(n2), s3);
  }
  void resetY() { ASSERT_TRUE(dev().copyToDevice(py_, y0_.data(), n_ * 4)); }
  std::vector<float> readY() {
    std::vector<float> y(n_);
    EXPECT_TRUE(dev().synchronize());
    Status s = dev().copyToHost(y.data(), py_, n_ * 4);
    EXPECT_TRUE(s) << s.message();
    return y;
  }

  const size_t n_ = 1000; // not a multiple of the block
  int nAll_ = 1000;
  KernelHandle scale_, add_;
  std::vector<float> x_, y0_;
  DevicePtr px_ = 0, py_ = 0;
};

} // namespace

TEST_P(GraphTest, ReplayEqualsDirectLaunches) {
  Device &d = dev();
  resetY();
  ASSERT_TRUE(launchStep(1.5f, 1000, -0.25f, 777));
  ASSERT_TRUE(launchStep(1.5f, 1000, -0.25f, 777));
  std::vector<float> direct = readY();
  // The direct result against a plain loop (exact: the same float operations in order).
  std::vector<float> want = y0_;
  for (int step = 0; step < 2; ++step)
    for (size_t i = 0; i < n_; ++i) {
      want[i] *= 1.5f;
      want[i] += x_[i];
      if (i < 777)
        want[i] *= -0.25f;
    }
  ASSERT_EQ(direct, want);

  resetY();
  ASSERT_TRUE(d.beginCapture());
  float a1 = 1.5f, a2 = -0.25f;
  int n1 = 1000, n2 = 777;
  Status launched = launchStep(a1, n1, a2, n2);
  auto g = d.endCapture();
  ASSERT_TRUE(launched) << launched.message();
  ASSERT_TRUE(g) << g.status().message();
  EXPECT_EQ(readY(), y0_) << "a captured launch ran";
  auto count = d.graphLaunchCount(g.value());
  ASSERT_TRUE(count);
  EXPECT_EQ(count.value(), 3u);
  ASSERT_TRUE(d.replay(g.value()));
  ASSERT_TRUE(d.replay(g.value()));
  EXPECT_EQ(readY(), direct);
  ASSERT_TRUE(d.destroyGraph(g.value()));
}

TEST_P(GraphTest, CaptureKeepsArgumentValuesAtTheLaunch) {
  Device &d = dev();
  resetY();
  ASSERT_TRUE(launchStep(0.5f, 1000, 3.0f, 1000));
  std::vector<float> direct = readY();

  resetY();
  float a = 0.5f;
  float *y = reinterpret_cast<float *>(py_);
  int n = nAll_;
  void *args[] = {&a, &y, &n};
  float *x = reinterpret_cast<float *>(px_);
  void *addArgs[] = {&x, &y, &nAll_};
  ASSERT_TRUE(d.beginCapture());
  Status s1 = d.launch(scale_, config(n), args);
  a = 3.0f; // the same variables, other values: each launch keeps its own
  Status s2 = d.launch(add_, config(nAll_), addArgs);
  Status s3 = d.launch(scale_, config(n), args);
  auto g = d.endCapture();
  ASSERT_TRUE(s1 && s2 && s3 && g);
  a = 100.0f;
  n = 1;
  ASSERT_TRUE(d.replay(g.value()));
  EXPECT_EQ(readY(), direct);
  ASSERT_TRUE(d.destroyGraph(g.value()));
}

TEST_P(GraphTest, UpdateChangesOnlyThatLaunch) {
  Device &d = dev();
  float *x = reinterpret_cast<float *>(px_), *y = reinterpret_cast<float *>(py_);
  // What the updated graph must give: the last scale by 2.0 with a grid of 11
  // blocks of 32 (352 of the 1000 elements; its n argument stays 1000).
  resetY();
  {
    float a1 = 1.25f, a2 = 2.0f;
    void *s1[] = {&a1, &y, &nAll_}, *s2[] = {&x, &y, &nAll_}, *s3[] = {&a2, &y, &nAll_};
    ASSERT_TRUE(d.launch(scale_, config(nAll_), s1));
    ASSERT_TRUE(d.launch(add_, config(nAll_), s2));
    ASSERT_TRUE(d.launch(scale_, config(333), s3));
  }
  std::vector<float> want = readY();

  resetY();
  ASSERT_TRUE(d.beginCapture());
  Status launched = launchStep(1.25f, 1000, -3.0f, 1000);
  auto g = d.endCapture();
  ASSERT_TRUE(launched && g);
  float a = 2.0f;
  int n = nAll_;
  void *args[] = {&a, &y, &n};
  Status u = d.updateLaunch(g.value(), 2, config(333), args); // a smaller grid, another scale
  ASSERT_TRUE(u) << u.message();
  a = 50.0f; // the update copied the values
  ASSERT_TRUE(d.replay(g.value()));
  EXPECT_EQ(readY(), want);
  ASSERT_TRUE(d.destroyGraph(g.value()));
}

TEST_P(GraphTest, GemmIsCapturedAndNotCountedAsALaunch) {
  Device &d = dev();
  // C (3 x 5) = A (3 x 4) B (4 x 5), all f32, between two launches.
  std::vector<float> a = randomFloats(12, 3), b = randomFloats(20, 4), c(15, 0.0f);
  auto pa = d.allocate(12 * 4), pb = d.allocate(20 * 4), pc = d.allocate(15 * 4);
  ASSERT_TRUE(pa && pb && pc);
  ASSERT_TRUE(d.copyToDevice(pa.value(), a.data(), 12 * 4));
  ASSERT_TRUE(d.copyToDevice(pb.value(), b.data(), 20 * 4));
  ASSERT_TRUE(d.copyToDevice(pc.value(), c.data(), 15 * 4));
  GemmDesc gd;
  gd.m = 3, gd.n = 5, gd.k = 4;
  gd.a = pa.value(), gd.b = pb.value(), gd.c = pc.value();
  gd.lda = 4, gd.ldb = 5, gd.ldc = 5;
  Status warm = d.gemm(gd); // the CUDA device opens cuBLASLt outside the capture
  if (GetParam() == DeviceKind::Gpu && !warm && warm.message().find(lt::kNoCublasLt) != std::string::npos &&
      !bmc_device_test::gpuRequired())
    GTEST_SKIP() << warm.message();
  ASSERT_TRUE(warm) << warm.message();
  std::vector<float> direct(15);
  ASSERT_TRUE(d.copyToHost(direct.data(), pc.value(), 15 * 4));
  ASSERT_TRUE(d.copyToDevice(pc.value(), c.data(), 15 * 4));

  resetY();
  ASSERT_TRUE(launchStep(2.0f, 1000, 0.5f, 500));
  std::vector<float> directY = readY();
  resetY();
  float a1 = 2.0f, a2 = 0.5f;
  int n1 = 1000, n2 = 500;
  float *x = reinterpret_cast<float *>(px_), *y = reinterpret_cast<float *>(py_);
  void *s1[] = {&a1, &y, &n1}, *s2[] = {&x, &y, &nAll_}, *s3[] = {&a2, &y, &n2};
  ASSERT_TRUE(d.beginCapture());
  Status r1 = d.launch(scale_, config(n1), s1);
  Status r2 = d.gemm(gd);
  Status r3 = d.launch(add_, config(nAll_), s2);
  Status r4 = d.launch(scale_, config(n2), s3);
  auto g = d.endCapture();
  ASSERT_TRUE(r1 && r3 && r4 && g);
  ASSERT_TRUE(r2) << r2.message();
  EXPECT_EQ(d.graphLaunchCount(g.value()).value(), 3u);
  std::vector<float> notYet(15);
  ASSERT_TRUE(d.copyToHost(notYet.data(), pc.value(), 15 * 4));
  EXPECT_EQ(notYet, c) << "a captured GEMM ran";
  ASSERT_TRUE(d.replay(g.value()));
  EXPECT_EQ(readY(), directY);
  std::vector<float> replayed(15);
  ASSERT_TRUE(d.copyToHost(replayed.data(), pc.value(), 15 * 4));
  EXPECT_EQ(replayed, direct);
  ASSERT_TRUE(d.destroyGraph(g.value()));
  for (auto p : {pa, pb, pc})
    ASSERT_TRUE(d.free(p.value()));
}

TEST_P(GraphTest, MisuseIsAOneLineError) {
  Device &d = dev();
  auto noCapture = d.endCapture();
  EXPECT_TRUE(oneLine(noCapture.status()));
  EXPECT_NE(noCapture.status().message().find("no capture is open"), std::string::npos)
      << noCapture.status().message();

  ASSERT_TRUE(d.beginCapture());
  Status twice = d.beginCapture();
  EXPECT_TRUE(oneLine(twice));
  EXPECT_NE(twice.message().find("already open"), std::string::npos) << twice.message();
  std::vector<float> host(4);
  Status copy = d.copyToHost(host.data(), py_, 16);
  EXPECT_TRUE(oneLine(copy));
  EXPECT_NE(copy.message().find("not allowed during a graph capture"), std::string::npos)
      << copy.message();
  Status sync = d.synchronize();
  EXPECT_NE(sync.message().find("not allowed during a graph capture"), std::string::npos)
      << sync.message();
  ASSERT_TRUE(launchStep(1.0f, 1000, 1.0f, 1000));
  auto g = d.endCapture();
  ASSERT_TRUE(g) << g.status().message();

  ASSERT_TRUE(d.beginCapture());
  Status replayInCapture = d.replay(g.value());
  EXPECT_TRUE(oneLine(replayInCapture));
  EXPECT_NE(replayInCapture.message().find("not allowed during a graph capture"), std::string::npos);
  auto empty = d.endCapture(); // an empty graph is a graph
  ASSERT_TRUE(empty) << empty.status().message();
  EXPECT_EQ(d.graphLaunchCount(empty.value()).value(), 0u);
  ASSERT_TRUE(d.replay(empty.value()));
  ASSERT_TRUE(d.destroyGraph(empty.value()));

  float a = 1.0f;
  float *y = reinterpret_cast<float *>(py_);
  int n = 10;
  void *args[] = {&a, &y, &n};
  Status past = d.updateLaunch(g.value(), 3, config(n), args);
  EXPECT_TRUE(oneLine(past));
  EXPECT_NE(past.message().find("launch 3 of graph"), std::string::npos) << past.message();
  LaunchConfig zero = config(n);
  zero.grid.x = 0;
  EXPECT_TRUE(oneLine(d.updateLaunch(g.value(), 0, zero, args)));

  ASSERT_TRUE(d.destroyGraph(g.value()));
  for (Status s : {d.replay(g.value()), d.destroyGraph(g.value()),
                   d.updateLaunch(g.value(), 0, config(n), args), d.graphLaunchCount(g.value()).status()}) {
    EXPECT_TRUE(oneLine(s));
    EXPECT_NE(s.message().find("is not a live graph of this device"), std::string::npos)
        << s.message();
  }
  EXPECT_TRUE(oneLine(d.replay(GraphHandle{12345})));
  EXPECT_TRUE(d.synchronize());
}

// A host kernel without argument sizes runs directly but cannot be captured.
TEST(CpuDeviceGraph, KernelWithoutArgumentSizesIsRefusedInACapture) {
  CpuDevice d;
  ModuleImage image;
  image.format = ModuleFormat::HostTable;
  image.hostKernels = kHostTable;
  image.hostKernelCount = sizeof kHostTable / sizeof kHostTable[0];
  auto m = d.loadModule(image);
  ASSERT_TRUE(m);
  auto k = d.findKernel(m.value(), "bmc_test_scale_unsized");
  ASSERT_TRUE(k);
  auto p = d.allocate(64 * 4);
  ASSERT_TRUE(p);
  std::vector<float> ones(64, 1.0f);
  ASSERT_TRUE(d.copyToDevice(p.value(), ones.data(), 64 * 4));
  float a = 2.0f;
  float *y = reinterpret_cast<float *>(p.value());
  int n = 64;
  void *args[] = {&a, &y, &n};
  LaunchConfig c;
  c.grid.x = 2;
  c.block.x = 32;
  ASSERT_TRUE(d.launch(k.value(), c, args));
  ASSERT_TRUE(d.beginCapture());
  Status s = d.launch(k.value(), c, args);
  EXPECT_TRUE(oneLine(s));
  EXPECT_NE(s.message().find("has no argument sizes"), std::string::npos) << s.message();
  auto g = d.endCapture();
  ASSERT_TRUE(g);
  EXPECT_EQ(d.graphLaunchCount(g.value()).value(), 0u);
  std::vector<float> back(64);
  ASSERT_TRUE(d.copyToHost(back.data(), p.value(), 64 * 4));
  EXPECT_EQ(back, std::vector<float>(64, 2.0f));
  ASSERT_TRUE(d.free(p.value()));
}

INSTANTIATE_TEST_SUITE_P(Device, GraphTest, ::testing::Values(DeviceKind::Cpu, DeviceKind::Gpu),
                         bmc_device_test::deviceKindName);
