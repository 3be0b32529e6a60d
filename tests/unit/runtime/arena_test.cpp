//===- arena_test.cpp - the per-call scratch arena ------------------------===//

#include "runtime/ExecContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace bmc {
namespace {

bool aligned64(const void *p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(Arena, AllocationsAreAlignedAndDisjoint) {
  Arena a;
  std::vector<std::pair<uint8_t *, size_t>> blocks;
  for (size_t n : {1, 63, 64, 65, 1000, 4096, 3, 100000}) {
    auto *p = static_cast<uint8_t *>(a.alloc(int64_t(n)));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned64(p)) << n;
    std::memset(p, 0xab, n); // writable over its whole size
    blocks.push_back({p, n});
  }
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size(); ++i)
    EXPECT_LE(blocks[i - 1].first + blocks[i - 1].second, blocks[i].first) << "blocks overlap";
}

TEST(Arena, ZeroAndNegativeSizesGiveDistinctValidBlocks) {
  Arena a;
  void *p = a.alloc(0), *q = a.alloc(-5), *r = a.alloc(0);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(p, q);
  EXPECT_NE(q, r);
  EXPECT_TRUE(aligned64(p));
}

TEST(Arena, GrowsBeyondTheFirstChunk) {
  Arena a;
  std::vector<uint8_t *> ps;
  for (int i = 0; i < 10; ++i) {
    auto *p = static_cast<uint8_t *>(a.alloc(300 * 1024));
    std::memset(p, i, 300 * 1024);
    ps.push_back(p);
  }
  EXPECT_GE(a.capacity(), 10u * 300 * 1024);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ps[size_t(i)][300 * 1024 - 1], uint8_t(i)) << "a later block clobbered " << i;
  auto *big = static_cast<uint8_t *>(a.alloc(8 << 20)); // larger than any chunk so far
  std::memset(big, 1, 8 << 20);
  EXPECT_GE(a.capacity(), size_t(8 << 20) + 10u * 300 * 1024);
}

TEST(Arena, ResetMergesChunksSoSteadyCallsDoNotGrow) {
  Arena a;
  auto oneCall = [&] {
    for (int i = 0; i < 12; ++i) a.alloc(200 * 1024);
  };
  oneCall();
  a.reset();
  size_t cap = a.capacity();
  EXPECT_GE(cap, 12u * 200 * 1024);
  for (int call = 0; call < 5; ++call) {
    oneCall();
    a.reset();
    EXPECT_EQ(a.capacity(), cap) << "call " << call << " grew the arena";
  }
}

TEST(Arena, ResetReusesMemory) {
  Arena a;
  void *p = a.alloc(1000);
  a.reset();
  EXPECT_EQ(a.alloc(1000), p);
}

TEST(Arena, HighWaterIsTheLargestCall) {
  Arena a;
  EXPECT_EQ(a.highWater(), 0u);
  a.alloc(100); // rounded up to 128
  a.alloc(64);
  a.reset();
  EXPECT_EQ(a.highWater(), 192u);
  a.alloc(10);
  a.reset();
  EXPECT_EQ(a.highWater(), 192u) << "a smaller call keeps the mark";
  a.alloc(3 << 20);
  a.reset();
  EXPECT_EQ(a.highWater(), size_t(3 << 20));
}

} // namespace
} // namespace bmc
