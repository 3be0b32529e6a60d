// The device API on the CPU device: copies against plain memcpy results,
// launches against a plain loop, bounds errors, growable buffers.
#include "runtime/device/CpuDevice.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;

namespace {

std::vector<float> randomFloats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

// y[i] += a * x[i], each block taking blockDim.x consecutive elements.
void saxpyBlock(const HostLaunch &l, void **args) {
  float a = *static_cast<float *>(args[0]);
  const float *x = *static_cast<const float **>(args[1]);
  float *y = *static_cast<float **>(args[2]);
  int n = *static_cast<int *>(args[3]);
  for (uint32_t t = 0; t < l.block.x; ++t) {
    int64_t i = int64_t(l.blockIdx.x) * l.block.x + t;
    if (i < n)
      y[i] += a * x[i];
  }
}
const HostKernel kTable[] = {{"saxpy", saxpyBlock}};

} // namespace

TEST(CpuDevice, CopiesRoundTrip) {
  CpuDevice dev;
  EXPECT_EQ(dev.properties().kind, "cpu");
  const size_t n = 1001;
  std::vector<float> host = randomFloats(n, 1), back(n, 0.0f);
  auto a = dev.allocate(n * sizeof(float));
  auto b = dev.allocate(n * sizeof(float) + 3);
  ASSERT_TRUE(a && b) << a.status().message() << b.status().message();
  ASSERT_TRUE(dev.copyToDevice(a.value(), host.data(), n * sizeof(float)));
  ASSERT_TRUE(dev.copyOnDevice(b.value(), a.value(), n * sizeof(float)));
  ASSERT_TRUE(dev.copyToHost(back.data(), b.value(), n * sizeof(float)));
  EXPECT_EQ(std::memcmp(host.data(), back.data(), n * sizeof(float)), 0);
  // A copy into the middle of an allocation.
  ASSERT_TRUE(dev.copyToHost(back.data(), b.value() + 4 * 17, 4 * 5));
  EXPECT_EQ(std::memcmp(back.data(), host.data() + 17, 4 * 5), 0);
  EXPECT_TRUE(dev.free(a.value()));
  EXPECT_TRUE(dev.free(b.value()));
}

TEST(CpuDevice, BadAddressesAndSizesAreErrors) {
  CpuDevice dev;
  auto a = dev.allocate(100);
  ASSERT_TRUE(a);
  std::vector<char> host(200);
  Status s = dev.copyToHost(host.data(), a.value(), 101);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("outside every allocation"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  EXPECT_FALSE(dev.copyToDevice(a.value() + 50, host.data(), 51));
  EXPECT_FALSE(dev.copyOnDevice(a.value(), a.value() + 1, 100));
  Status overlap = dev.copyOnDevice(a.value() + 8, a.value(), 50);
  EXPECT_FALSE(overlap);
  EXPECT_NE(overlap.message().find("the ranges overlap"), std::string::npos) << overlap.message();
  EXPECT_TRUE(dev.copyOnDevice(a.value() + 50, a.value(), 50)); // adjacent, not overlapping
  EXPECT_FALSE(dev.allocate(0));
  EXPECT_FALSE(dev.free(a.value() + 8));
  EXPECT_TRUE(dev.free(a.value()));
  Status twice = dev.free(a.value());
  EXPECT_FALSE(twice);
  EXPECT_NE(twice.message().find("not an allocation"), std::string::npos) << twice.message();
}

TEST(CpuDevice, LaunchRunsEveryBlockOfTheGrid) {
  CpuDevice dev;
  const int n = 250;
  std::vector<float> x = randomFloats(n, 2), y = randomFloats(n, 3), want = y;
  float a = 0.75f;
  for (int i = 0; i < n; ++i)
    want[i] += a * x[i];
  auto dx = dev.allocate(n * 4), dy = dev.allocate(n * 4);
  ASSERT_TRUE(dx && dy);
  ASSERT_TRUE(dev.copyToDevice(dx.value(), x.data(), n * 4));
  ASSERT_TRUE(dev.copyToDevice(dy.value(), y.data(), n * 4));

  ModuleImage image;
  image.format = ModuleFormat::HostTable;
  image.hostKernels = kTable;
  image.hostKernelCount = 1;
  auto m = dev.loadModule(image);
  ASSERT_TRUE(m);
  auto k = dev.findKernel(m.value(), "saxpy");
  ASSERT_TRUE(k) << k.status().message();
  EXPECT_FALSE(dev.findKernel(m.value(), "sgemm"));

  LaunchConfig c;
  c.block.x = 37;
  c.grid.x = (n + 36) / 37; // 7 blocks, the last one partial
  float *px = reinterpret_cast<float *>(dx.value()), *py = reinterpret_cast<float *>(dy.value());
  int count = n;
  void *args[] = {&a, &px, &py, &count};
  ASSERT_TRUE(dev.launch(k.value(), c, args));
  ASSERT_TRUE(dev.synchronize());
  std::vector<float> got(n);
  ASSERT_TRUE(dev.copyToHost(got.data(), dy.value(), n * 4));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(got[i], want[i]) << i;

  c.grid.x = 0;
  EXPECT_FALSE(dev.launch(k.value(), c, args));
  ModuleImage cubin;
  cubin.format = ModuleFormat::Cubin;
  cubin.bytes = "\x7f" "ELF";
  Status s = dev.loadModule(cubin).status();
  EXPECT_NE(s.message().find("cannot run on the CPU"), std::string::npos) << s.message();
}

TEST(CpuDevice, GrowableBufferGrowsInPlace) {
  CpuDevice dev;
  auto r = dev.reserveGrowable(1 << 20);
  ASSERT_TRUE(r) << r.status().message();
  GrowableBuffer &buf = *r.value();
  EXPECT_EQ(buf.committedBytes(), 0u);
  ASSERT_TRUE(buf.grow(10001));
  EXPECT_GE(buf.committedBytes(), 10001u);
  EXPECT_EQ(buf.committedBytes() % buf.granularity(), 0u);
  DevicePtr base = buf.base();
  std::vector<float> first = randomFloats(2500, 4);
  ASSERT_TRUE(dev.copyToDevice(base, first.data(), first.size() * 4));
  // Past the committed bytes: refused, not a fault.
  std::vector<float> big = randomFloats(70001, 5);
  EXPECT_FALSE(dev.copyToDevice(base, big.data(), big.size() * 4));
  ASSERT_TRUE(buf.grow(big.size() * 4 + first.size() * 4));
  EXPECT_EQ(buf.base(), base) << "growing moved the buffer";
  ASSERT_TRUE(dev.copyToDevice(base + first.size() * 4, big.data(), big.size() * 4));
  std::vector<float> back(first.size());
  ASSERT_TRUE(dev.copyToHost(back.data(), base, back.size() * 4));
  EXPECT_EQ(back, first) << "growing lost what was there";
  Status past = buf.grow((1 << 20) + 1);
  EXPECT_FALSE(past);
  EXPECT_NE(past.message().find("past the reservation"), std::string::npos) << past.message();
  EXPECT_FALSE(dev.reserveGrowable(0));
}
