//===- tensor_test.cpp - bmc::Tensor and the dtype helpers ----------------===//

#include "bmc/tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <sys/resource.h>
#include <vector>

namespace bmc {
namespace {

TEST(Tensor, AllocatesZeroedStorage) {
  Tensor t(DType::F32, {2, 3, 5});
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 3, 5}));
  EXPECT_EQ(t.numElements(), 30);
  EXPECT_EQ(t.bytes(), 120u);
  ASSERT_NE(t.raw(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << "storage is 64-byte aligned for the kernels";
  for (int64_t i = 0; i < t.numElements(); ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
}

TEST(Tensor, UninitializedLargeStorageIsRecycledForTheNextSlightlyLargerTensor) {
  // Concat mode's `present` grows by one row per token: the block released by
  // one step must hold the next (no fresh mapping, no page faults).
  const int64_t rows = 2048, row = 8 * 64; // [1, 8, rows, 64] floats: 4 MB
  Tensor a = Tensor::uninitialized(DType::F32, {1, 8, rows, 64});
  ASSERT_NE(a.raw(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw()) % 64, 0u);
  void *first = a.raw();
  std::fill(a.data<float>(), a.data<float>() + a.numElements(), 1.0f); // every byte usable
  a = Tensor();
  Tensor b = Tensor::uninitialized(DType::F32, {1, 8, rows + 1, 64});
  EXPECT_EQ(b.raw(), first) << "the released block (1/8 spare) holds one more row";
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  std::fill(b.data<float>(), b.data<float>() + b.numElements(), 2.0f);
  getrusage(RUSAGE_SELF, &r1);
  // A fresh 4 MB mapping would fault in about 1000 pages of 4 KB here.
  EXPECT_LT(r1.ru_minflt - r0.ru_minflt, 64) << "the recycled block is already resident";
  EXPECT_EQ(b.data<float>()[(rows + 1) * row - 1], 2.0f);
  // A live block is never handed out twice; a much smaller request does not take a large block.
  Tensor c = Tensor::uninitialized(DType::F32, {1, 8, rows + 1, 64});
  EXPECT_NE(c.raw(), b.raw());
  b = Tensor();
  Tensor small = Tensor::uninitialized(DType::F32, {1, 8, rows / 4, 64});
  EXPECT_NE(small.raw(), first) << "a block more than twice the request stays for a larger one";
  // Small tensors come from malloc, with the same alignment.
  Tensor tiny = Tensor::uninitialized(DType::F32, {3, 5});
  EXPECT_EQ(tiny.bytes(), 60u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tiny.raw()) % 64, 0u);
}

TEST(Tensor, CopiesShareStorageCloneDoesNot) {
  Tensor a(DType::I64, {4});
  Tensor shared = a;
  Tensor deep = a.clone();
  a.data<int64_t>()[2] = 42;
  EXPECT_EQ(shared.data<int64_t>()[2], 42);
  EXPECT_EQ(shared.raw(), a.raw());
  EXPECT_EQ(deep.data<int64_t>()[2], 0);
  EXPECT_NE(deep.raw(), a.raw());
  EXPECT_EQ(deep.shape(), a.shape());
  EXPECT_EQ(deep.dtype(), a.dtype());
}

TEST(Tensor, CloneCopiesContents) {
  Tensor a = Tensor::fromVector<float>(DType::F32, {2, 2}, std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f});
  Tensor b = a.clone();
  a.data<float>()[0] = 0;
  EXPECT_EQ(b.data<float>()[0], 1.5f);
  EXPECT_EQ(b.data<float>()[3], 4.0f);
}

TEST(Tensor, FromVectorConvertsElements) {
  Tensor t = Tensor::fromVector<int>(DType::I64, {1, 3}, std::vector<int>{7, -8, 9});
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(t.data<int64_t>()[0], 7);
  EXPECT_EQ(t.data<int64_t>()[1], -8);
  EXPECT_EQ(t.data<int64_t>()[2], 9);
}

TEST(Tensor, ViewWrapsCallerMemory) {
  std::vector<int32_t> mem = {1, 2, 3, 4, 5, 6};
  Tensor v = Tensor::view(DType::I32, {2, 3}, mem.data());
  EXPECT_EQ(v.raw(), mem.data());
  EXPECT_EQ(v.numElements(), 6);
  v.data<int32_t>()[5] = 60;
  EXPECT_EQ(mem[5], 60);
  Tensor c = v.clone(); // owns a copy; the caller's memory may go away
  mem[0] = -1;
  EXPECT_EQ(c.data<int32_t>()[0], 1);
  EXPECT_EQ(c.data<int32_t>()[5], 60);
}

TEST(Tensor, ZeroSizedDimensions) {
  // An empty KV cache is [batch, heads, 0, head_dim].
  Tensor t(DType::F32, {1, 4, 0, 16});
  EXPECT_EQ(t.numElements(), 0);
  EXPECT_EQ(t.bytes(), 0u);
  Tensor c = t.clone();
  EXPECT_EQ(c.shape(), t.shape());
  EXPECT_EQ(c.describe(), "f32[1,4,0,16]");
}

TEST(Tensor, Scalar) {
  Tensor s(DType::F64, {});
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.numElements(), 1);
  EXPECT_EQ(s.bytes(), 8u);
  s.data<double>()[0] = 2.5;
  EXPECT_EQ(s.clone().data<double>()[0], 2.5);
  EXPECT_EQ(s.describe(), "f64[]");
}

TEST(Tensor, Describe) {
  EXPECT_EQ(Tensor(DType::F32, {1, 6, 1200}).describe(), "f32[1,6,1200]");
  EXPECT_EQ(Tensor(DType::I64, {2, 1}).describe(), "i64[2,1]");
  EXPECT_EQ(Tensor(DType::Bool, {3}).describe(), "bool[3]");
}

// A default-constructed Tensor has no storage (sessions use it as "nothing
// yet"); cloning or describing it must not touch memory it does not have.
// Run in a child process so that a crash fails this test only.
TEST(Tensor, DefaultConstructedCanBeClonedAndDescribed) {
  EXPECT_EXIT(
      {
        Tensor t;
        Tensor c = t.clone();
        (void)c.describe();
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(DType, ElementSizesAndNames) {
  struct Row { DType t; size_t size; const char *name; };
  const Row rows[] = {
      {DType::F32, 4, "f32"}, {DType::U8, 1, "u8"},    {DType::I8, 1, "i8"},   {DType::U16, 2, "u16"},
      {DType::I16, 2, "i16"}, {DType::I32, 4, "i32"},  {DType::I64, 8, "i64"}, {DType::Bool, 1, "bool"},
      {DType::F16, 2, "f16"}, {DType::F64, 8, "f64"},  {DType::U32, 4, "u32"}, {DType::U64, 8, "u64"},
      {DType::BF16, 2, "bf16"},
  };
  for (const Row &r : rows) {
    EXPECT_EQ(elementSize(r.t), r.size) << r.name;
    EXPECT_STREQ(dtypeName(r.t), r.name);
  }
}

TEST(DType, NumberedAsOnnx) {
  // Package metadata and the frontend rely on ONNX TensorProto numbering.
  EXPECT_EQ(int(DType::F32), 1);
  EXPECT_EQ(int(DType::I64), 7);
  EXPECT_EQ(int(DType::Bool), 9);
  EXPECT_EQ(int(DType::F16), 10);
  EXPECT_EQ(int(DType::BF16), 16);
}

} // namespace
} // namespace bmc
