// runtime/device/DeviceViewCopy: the copy back of a strided view against
// its element-by-element reference, on random views of odd sizes (slices
// with steps of either sign, transposes, broadcasts, a KV cache's capacity
// gaps, ranks 1-4, 1/2/4/8-byte elements), byte for byte; and the device
// copies each layout costs (counted by the device): contiguous, one
// copyToHost of the elements; rows a pitch apart, one copy2DToHost; others,
// one copy of the span.
#include "forwarding_device.h"
#include "runtime/device/DeviceViewCopy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace {

using namespace bmc::device;
using bmc_device_test::CountingDevice;

struct Storage {
  CountingDevice &device;
  DevicePtr ptr = 0;
  Storage(CountingDevice &d, const std::vector<uint8_t> &bytes) : device(d) {
    auto p = d.allocate(bytes.size());
    EXPECT_TRUE(p.ok()) << p.status().message();
    ptr = p.value();
    EXPECT_TRUE(d.copyToDevice(ptr, bytes.data(), bytes.size()).ok());
  }
  ~Storage() { (void)device.free(ptr); }
};

int64_t elementCount(const bmc_view4 &v, int rank) {
  int64_t n = 1;
  for (int i = 4 - rank; i < 4; ++i)
    n *= v.size[i];
  return n;
}

// A random view of rank `rank` inside storage dims `dims` (row-major): per
// dimension a start, a step in {1, 2, -1, -2} and the count that fits, or
// (sometimes) a broadcast of stride 0; then the dimensions permuted. With
// `wholeRows` the last dimension is taken whole and in order and one other
// kept (rows of a contiguous run: the 2-D copies' layouts, a cut's rows).
bmc_view4 randomView(std::mt19937 &rng, int rank, const int64_t dims[4], DevicePtr data, bool wholeRows) {
  int64_t stride[4];
  stride[3] = 1;
  for (int i = 2; i >= 0; --i)
    stride[i] = stride[i + 1] * dims[i + 1];
  bmc_view4 v = {};
  v.data = reinterpret_cast<const void *>(data);
  int64_t size[4], step[4];
  for (int i = 0; i < 4; ++i) {
    int64_t start = std::uniform_int_distribution<int64_t>(0, dims[i] - 1)(rng);
    const int64_t steps[] = {1, 1, 2, -1, -2};
    step[i] = steps[std::uniform_int_distribution<int>(0, 4)(rng)];
    int64_t room = step[i] > 0 ? (dims[i] - 1 - start) / step[i] + 1 : start / -step[i] + 1;
    size[i] = std::uniform_int_distribution<int64_t>(room > 1 ? 1 : 0, room)(rng);
    if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) // an empty dimension now and then
      size[i] = 0;
    v.offset += start * stride[i];
    step[i] *= stride[i];
    if (std::uniform_int_distribution<int>(0, 11)(rng) == 0) // broadcast
      step[i] = 0, size[i] = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    if (wholeRows && i == 3)
      v.offset -= start, step[i] = 1, size[i] = dims[i];
  }
  if (wholeRows) { // one outer dimension left: the rows
    int keep = std::uniform_int_distribution<int>(0, 2)(rng);
    for (int i = 0; i < 3; ++i)
      if (i != keep && size[i] > 1)
        size[i] = 1;
  }
  int perm[4] = {0, 1, 2, 3};
  if (!wholeRows && std::uniform_int_distribution<int>(0, 2)(rng) == 0)
    std::shuffle(perm, perm + 4, rng);
  for (int i = 0; i < 4; ++i) {
    v.size[i] = size[perm[i]], v.stride[i] = step[perm[i]];
    if (i < 4 - rank) { // dimensions above the rank: one index, folded into the offset
      v.size[i] = 1;
    }
  }
  return v;
}

TEST(DeviceViewCopy, RandomViewsEqualTheElementwiseReference) {
  std::mt19937 rng(20261205);
  std::map<ViewCopyKind, int> seen;
  CountingDevice device;
  for (int trial = 0; trial < 5000; ++trial) {
    int64_t dims[4];
    for (int64_t &d : dims)
      d = std::uniform_int_distribution<int64_t>(1, 7)(rng) | (trial % 3 == 0 ? 0 : 1); // mostly odd
    const size_t ebs[] = {1, 2, 4, 8};
    const size_t eb = ebs[trial % 4];
    const int rank = 1 + trial % 4;
    std::vector<uint8_t> bytes(size_t(dims[0] * dims[1] * dims[2] * dims[3]) * eb);
    for (uint8_t &b : bytes)
      b = uint8_t(rng());
    Storage s(device, bytes);
    bmc_view4 v = randomView(rng, rank, dims, s.ptr, trial % 3 == 1);
    SCOPED_TRACE("trial " + std::to_string(trial) + ": rank " + std::to_string(rank) + ", sizes " +
                 std::to_string(v.size[0]) + "," + std::to_string(v.size[1]) + "," + std::to_string(v.size[2]) + "," +
                 std::to_string(v.size[3]) + ", strides " + std::to_string(v.stride[0]) + "," +
                 std::to_string(v.stride[1]) + "," + std::to_string(v.stride[2]) + "," + std::to_string(v.stride[3]));
    const int64_t count = elementCount(v, rank);
    std::vector<uint8_t> want(size_t(count) * eb + 1, 0x5A), got = want; // + 1: nothing past the elements
    ASSERT_TRUE(copyViewToHostReference(device, v, rank, eb, want.data(), "view").ok());
    device.clear();
    bmc::Status st = copyViewToHost(device, v, rank, eb, got.data(), "view");
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(got, want);
    const ViewCopyKind kind = viewCopyKind(v, rank);
    ++seen[kind];
    switch (kind) {
    case ViewCopyKind::Empty:
      EXPECT_TRUE(device.toHost.empty() && device.toHost2D.empty());
      break;
    case ViewCopyKind::Contiguous:
      EXPECT_EQ(device.toHost, std::vector<size_t>{size_t(count) * eb});
      EXPECT_TRUE(device.toHost2D.empty());
      break;
    case ViewCopyKind::Rows:
      EXPECT_TRUE(device.toHost.empty());
      ASSERT_EQ(device.toHost2D.size(), 1u);
      EXPECT_EQ(device.toHost2D[0].width * device.toHost2D[0].height, size_t(count) * eb);
      break;
    case ViewCopyKind::Gather:
      EXPECT_EQ(device.toHost.size(), 1u) << "one copy of the span";
      EXPECT_TRUE(device.toHost2D.empty());
      break;
    }
  }
  // Every layout was drawn often enough to mean something.
  for (ViewCopyKind k : {ViewCopyKind::Empty, ViewCopyKind::Contiguous, ViewCopyKind::Rows, ViewCopyKind::Gather})
    EXPECT_GE(seen[k], 50) << "kind " << int(k); // seen with this seed: Rows 93, the others more
}

// The layouts by name: a whole contiguous [3, 5, 37] (one copy); its last
// position per row, [3, 1, 37] a whole axis 1 apart (the logits cut of a
// batch: one 2-D copy of 3 rows, pitch 5 * 37 elements); a KV cache's
// valid rows [2, 3, 4, 13] of capacity 6 (batch and heads merge: one 2-D
// copy of 6 runs of 4 * 13); axis 1 reversed (a gather by runs of 37); a
// transpose (element by element).
TEST(DeviceViewCopy, NamedLayouts) {
  CountingDevice device;
  std::vector<uint8_t> bytes(600 * 4); // the largest view below reaches 555 floats
  std::iota(bytes.begin(), bytes.end(), uint8_t(1));
  Storage s(device, bytes);
  auto view = [&](std::vector<int64_t> size, std::vector<int64_t> stride, int64_t offset) {
    bmc_view4 v = {};
    v.data = reinterpret_cast<const void *>(s.ptr), v.offset = offset;
    for (int i = 0; i < 4; ++i)
      v.size[i] = 1, v.stride[i] = 1;
    for (size_t i = 0; i < size.size(); ++i)
      v.size[4 - size.size() + i] = size[i], v.stride[4 - size.size() + i] = stride[i];
    return v;
  };
  struct Case {
    const char *name;
    bmc_view4 v;
    int rank;
    ViewCopyKind kind;
  };
  const Case cases[] = {
      {"whole", view({3, 5, 37}, {185, 37, 1}, 0), 3, ViewCopyKind::Contiguous},
      {"last positions", view({3, 1, 37}, {185, 37, 1}, 4 * 37), 3, ViewCopyKind::Rows},
      {"kv rows", view({2, 3, 4, 13}, {3 * 6 * 13, 6 * 13, 13, 1}, 0), 4, ViewCopyKind::Rows},
      {"axis 1 reversed", view({3, 5, 37}, {185, -37, 1}, 4 * 37), 3, ViewCopyKind::Gather},
      {"transposed", view({37, 5}, {1, 37}, 0), 2, ViewCopyKind::Gather},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(viewCopyKind(c.v, c.rank), c.kind);
    const size_t n = size_t(elementCount(c.v, c.rank)) * 4;
    std::vector<uint8_t> want(n), got(n);
    ASSERT_TRUE(copyViewToHostReference(device, c.v, c.rank, 4, want.data(), c.name).ok());
    device.clear();
    ASSERT_TRUE(copyViewToHost(device, c.v, c.rank, 4, got.data(), c.name).ok());
    EXPECT_EQ(got, want);
  }
  device.clear();
  std::vector<uint8_t> out(3 * 37 * 4);
  ASSERT_TRUE(copyViewToHost(device, cases[1].v, 3, 4, out.data(), "logits").ok());
  EXPECT_TRUE(device.toHost.empty());
  EXPECT_EQ(device.toHost2D, (std::vector<CountingDevice::Copy2D>{{37 * 4, 3, 185 * 4}}));
  // A view reaching before its storage: one line, as before.
  bmc_view4 before = view({3, 5}, {-5, 1}, 4);
  bmc::Status st = copyViewToHost(device, before, 2, 4, out.data(), "output 'y'");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "output 'y' reaches element -6, before its storage");
}

} // namespace
