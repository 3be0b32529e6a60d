// DeviceKVCache (runtime/device/DeviceKVCache.h): a BMC KV buffer on a device,
// grown as a session grows its cache, on the CPU device and the CUDA device
// (Gpu: skips without a GPU). Rows are appended token by token (a 9-row
// prefill, then one row per step) through the device's copies, and after
// every growth every block's valid rows are read back row by row (each at
// the address row() gives: rows outermost) and compared with a host copy
// byte for byte; capacities follow needed + r - 1 (bmc) or the whole context
// (prealloc); in-place growth keeps the base address, copies nothing whatever
// batch x heads, and commits memory for the capacity only; without growable
// buffers a growth copies the valid rows once.
#include "device_backends.h"
#include "runtime/device/DeviceKVCache.h"

#include <cstring>
#include <random>
#include <vector>

using namespace bmc::device;
using bmc::Status;
using bmc_device_test::DeviceKind;

namespace {


class DeviceKVCacheTest : public ::testing::TestWithParam<DeviceKind> {
protected:
  void SetUp() override { BMC_DEVICE_OR_SKIP(GetParam()); }
  Device &dev() { return *bmc_device_test::deviceSlot(GetParam()).device; }

  // The first `valid` rows of (b, h), read one row at a time at row()'s addresses.
  std::vector<unsigned char> readBlock(const DeviceKVCache &c, int64_t b, int64_t h, int64_t valid) {
    std::vector<unsigned char> out(size_t(valid * c.rowBytes()));
    for (int64_t r = 0; r < valid; ++r)
      EXPECT_TRUE(dev().copyToHost(out.data() + r * c.rowBytes(), c.row(b, h, r), size_t(c.rowBytes())));
    return out;
  }

  // Appends `tokens` rows (prefill 9, then 1 per step) and checks as it goes.
  void appendAndCheck(const DeviceKVOptions &o, int64_t tokens) {
    auto made = DeviceKVCache::create(dev(), o);
    ASSERT_TRUE(made) << made.status().message();
    DeviceKVCache &c = *made.value();
    bool inPlace = o.useGrowable && dev().properties().growableBuffers;
    EXPECT_EQ(c.growable(), inPlace);
    const int64_t blocks = o.batch * o.heads, rb = o.headDim * o.elemBytes;
    std::mt19937 rng(7);
    std::vector<std::vector<unsigned char>> host(static_cast<size_t>(blocks)); // each block's valid rows
    DevicePtr base = c.data();
    int64_t valid = 0, growths = 0, copied = 0, lastCapacity = 0;
    while (valid < tokens) {
      int64_t add = valid == 0 ? std::min<int64_t>(9, tokens) : 1;
      int64_t needed = valid + add;
      ASSERT_TRUE(c.ensureCapacity(needed, valid));
      if (c.capacity() != lastCapacity) {
        ++growths;
        int64_t want = o.prealloc ? o.maxRows : std::min(needed + o.r - 1, o.maxRows);
        EXPECT_EQ(c.capacity(), want) << "growth " << growths << " at " << needed << " rows";
        if (lastCapacity > 0 && !inPlace)
          copied += blocks * valid * rb;
        lastCapacity = c.capacity();
        if (inPlace) {
          EXPECT_EQ(c.data(), base) << "an in-place growth moved the buffer";
          size_t need = size_t(blocks * c.capacity() * rb);
          EXPECT_GE(c.committedBytes(), need);
          EXPECT_LT(c.committedBytes(), need + 2 * 1024 * 1024 + 4096) << "more than the capacity committed";
        }
        // Every block's rows survived the growth.
        for (int64_t b = 0; b < o.batch; ++b)
          for (int64_t h = 0; h < o.heads; ++h) {
            ASSERT_EQ(readBlock(c, b, h, valid), host[size_t(b * o.heads + h)])
                << "block (" << b << ", " << h << ") after growth " << growths;
          }
      }
      ASSERT_GE(c.capacity(), needed);
      for (int64_t b = 0; b < o.batch; ++b)
        for (int64_t h = 0; h < o.heads; ++h) {
          std::vector<unsigned char> rows(size_t(add * rb));
          for (auto &x : rows)
            x = static_cast<unsigned char>(rng());
          for (int64_t i = 0; i < add; ++i) // rows of one block are rowStride() apart
            ASSERT_TRUE(dev().copyToDevice(c.row(b, h, valid + i), rows.data() + i * rb, size_t(rb)));
          auto &h2 = host[size_t(b * o.heads + h)];
          h2.insert(h2.end(), rows.begin(), rows.end());
        }
      valid = needed;
    }
    for (int64_t b = 0; b < o.batch; ++b)
      for (int64_t h = 0; h < o.heads; ++h) {
        ASSERT_EQ(readBlock(c, b, h, valid), host[size_t(b * o.heads + h)])
            << "block (" << b << ", " << h << ") at the end";
      }
    EXPECT_EQ(c.stats().growths, growths);
    EXPECT_EQ(c.stats().bytesCopied, copied);
    EXPECT_EQ(c.stats().copiesInPlace, inPlace ? growths - 1 : 0);
    // Past the context: one line, nothing changed.
    int64_t cap = c.capacity();
    Status past = c.ensureCapacity(o.maxRows + 1, valid);
    EXPECT_FALSE(past);
    EXPECT_NE(past.message().find("past the context limit"), std::string::npos) << past.message();
    EXPECT_EQ(past.message().find('\n'), std::string::npos);
    EXPECT_EQ(c.capacity(), cap);
  }
};

DeviceKVOptions options(int64_t batch, int64_t heads, int64_t headDim, int64_t elemBytes) {
  DeviceKVOptions o;
  o.batch = batch, o.heads = heads, o.headDim = headDim, o.elemBytes = elemBytes;
  o.maxRows = 100;
  o.r = 7;
  return o;
}

} // namespace

TEST_P(DeviceKVCacheTest, BmcGrowsInPlaceKeepingEveryRow) {
  appendAndCheck(options(2, 3, 5, 4), 97); // odd sizes, batch 2 x 3 heads
}

// Issue 14: several [batch, head] blocks (batch 2, 4 KV heads) grow inside the
// reservation with no copy at all, and every row keeps its value and address.
TEST_P(DeviceKVCacheTest, SeveralHeadsAndBatchTwoGrowWithoutCopying) {
  DeviceKVOptions o = options(2, 4, 19, 2);
  appendAndCheck(o, 61);
  if (HasFailure() || !dev().properties().growableBuffers)
    return;
  auto made = DeviceKVCache::create(dev(), o);
  ASSERT_TRUE(made);
  DeviceKVCache &c = *made.value();
  ASSERT_TRUE(c.ensureCapacity(9, 0));
  DevicePtr last = c.row(1, 3, 8);
  ASSERT_TRUE(c.ensureCapacity(16, 9));
  ASSERT_TRUE(c.ensureCapacity(40, 16));
  EXPECT_EQ(c.stats().growths, 3);
  EXPECT_EQ(c.stats().copiesInPlace, 2);
  EXPECT_EQ(c.stats().bytesCopied, 0);
  EXPECT_EQ(c.row(1, 3, 8), last) << "a growth moved a valid row";
  EXPECT_EQ(c.row(0, 1, 2) - c.row(0, 1, 1), DevicePtr(c.rowStride()));
  EXPECT_EQ(c.rowStride(), 2 * 4 * 19 * 2);
}

TEST_P(DeviceKVCacheTest, OneBlockGrowsWithoutCopying) {
  DeviceKVOptions o = options(1, 1, 64, 2);
  appendAndCheck(o, 60);
  if (!HasFailure() && dev().properties().growableBuffers) {
    auto c = DeviceKVCache::create(dev(), o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c.value()->ensureCapacity(9, 0));
    ASSERT_TRUE(c.value()->ensureCapacity(16, 9));
    EXPECT_EQ(c.value()->stats().bytesCopied, 0);
  }
}

TEST_P(DeviceKVCacheTest, WithoutGrowableBuffersEachGrowthCopies) {
  DeviceKVOptions o = options(2, 3, 5, 2);
  o.useGrowable = false;
  appendAndCheck(o, 50);
}

TEST_P(DeviceKVCacheTest, PreallocTakesTheContextOnce) {
  DeviceKVOptions o = options(1, 2, 8, 4);
  o.prealloc = true;
  appendAndCheck(o, 100);
}

TEST_P(DeviceKVCacheTest, BadOptionsAreOneLineErrors) {
  struct Case {
    const char *expect;
    void (*edit)(DeviceKVOptions &);
  } cases[] = {
      {"each must be at least 1", [](DeviceKVOptions &o) { o.heads = 0; }},
      {"element size 3 bytes", [](DeviceKVOptions &o) { o.elemBytes = 3; }},
      {"maxRows 0", [](DeviceKVOptions &o) { o.maxRows = 0; }},
      {"r 0 spare rows", [](DeviceKVOptions &o) { o.r = 0; }},
  };
  for (const Case &c : cases) {
    DeviceKVOptions o = options(1, 1, 4, 4);
    c.edit(o);
    auto made = DeviceKVCache::create(dev(), o);
    ASSERT_FALSE(made) << c.expect;
    EXPECT_NE(made.status().message().find(c.expect), std::string::npos) << made.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(Device, DeviceKVCacheTest,
                         ::testing::Values(DeviceKind::Cpu, DeviceKind::Gpu),
                         bmc_device_test::deviceKindName);
