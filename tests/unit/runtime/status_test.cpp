//===- status_test.cpp - bmc::Status and bmc::Result ----------------------===//

#include "bmc/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace bmc {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(bool(s));
  EXPECT_EQ(s.message(), "");
}

TEST(Status, ErrorCarriesMessage) {
  Status s = Status::error("x.onnx: node 'n' (Foo, opset 17): expected 2 inputs, found 3");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(bool(s));
  EXPECT_EQ(s.message(), "x.onnx: node 'n' (Foo, opset 17): expected 2 inputs, found 3");
}

TEST(Status, EmptyMessageIsStillAnError) {
  Status s = Status::error("");
  EXPECT_FALSE(s.ok());
}

TEST(Status, CopiesKeepTheError) {
  Status s = Status::error("boom");
  Status c = s;
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.message(), "boom");
}

TEST(Result, HoldsValue) {
  Result<int> r(42);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(bool(r));
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(r.status().ok());
  r.value() = 7;
  EXPECT_EQ(*r, 7);
}

TEST(Result, HoldsError) {
  Result<std::string> r(Status::error("no such file"));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(bool(r));
  EXPECT_EQ(r.status().message(), "no such file");
}

TEST(Result, ArrowReachesValue) {
  Result<std::string> r(std::string("abc"));
  EXPECT_EQ(r->size(), 3u);
}

TEST(Result, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r.value());
  EXPECT_EQ(*p, 5);
}

TEST(Result, ConstAccess) {
  const Result<int> r(3);
  EXPECT_EQ(r.value(), 3);
}

} // namespace
} // namespace bmc
