// Ranges and the shape vectors kernels read, as a whole-function program:
// emitted_scalar_program.mlir's @ranges, emitted with whole-model at build
// time, its kernels compiled as host C++ (the emulation) on the CPU device,
// run by DeviceProgram through EmittedLauncher. The host sizes each range
// (its range_length step: ONNX's max(ceil((limit - start) / delta), 0), a
// delta of 0 refused), binds start and delta as integers, and uploads the
// 0-D and 1-D tensor.from_elements that elementwise kernels read; outputs
// against plain loops written here (ONNX Range by its definition, iterated,
// not by the length formula), direct and as a device graph per run.
#include "cuda_emulation.h"

// clang-format off
#define BMC_NO_LIBRARY_KERNELS 1 // as cudaEmittedKernelSource: the emitted entry points only
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/kv_append.cuh"
#include "runtime/device/cuda/decode_attention.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/matmul.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "runtime/device/cuda/elementwise.cuh"
#include "runtime/device/cuda/data.cuh"
#include "tests/unit/device/emitted_scalar_program.cu" // in the build tree
// clang-format on

#include "emitted_env.h"
#include "host_tensors.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using bmc::device::HostKernel;
using bmc::device::HostLaunch;
using bmc::device::HostTensor;

#define BMC_EMULATED(name)                                                                                             \
  HostKernel {                                                                                                         \
#name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); }, bmc_emu::argSizes(name),               \
                                                                             bmc_emu::argCount(name)                   \
  }
const HostKernel kTable[] = {BMC_EMULATED(bmc_range_0), BMC_EMULATED(bmc_elementwise_0),
                             BMC_EMULATED(bmc_elementwise_1), BMC_EMULATED(bmc_elementwise_2),
                             BMC_EMULATED(bmc_check_equal_0), BMC_EMULATED(bmc_concat_0),
                             BMC_EMULATED(bmc_constant_of_shape_0), BMC_EMULATED(bmc_constant_of_shape_1)};

// The emulated module and its launcher on a CpuDevice (every test's start),
// and a program of it; a refusal names the call that refused.
struct Emulated : bmc_device_test::EmittedEnv {
  Emulated() : EmittedEnv(false, kTable, BMC_EMITTED_CU) {}
  bmc::Result<std::unique_ptr<bmc::device::DeviceProgram>> program(const char *fn) {
    if (!launcher) return bmc::Status::error("the emulated launcher: " + error);
    return bmc::device::DeviceProgram::create(*device, *launcher, src, fn, {});
  }
};

// A refusal's message: one line naming the op's place in
// emitted_scalar_program.mlir, returned without that place (" at <file>:...")
// so that the rest compares exactly.
std::string withoutPlace(std::string m) {
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  size_t at = m.find(" at "), close = m.find("): ");
  if (at == std::string::npos || close == std::string::npos) {
    ADD_FAILURE() << m << ": no op place";
    return m;
  }
  EXPECT_NE(m.find("emitted_scalar_program.mlir:"), std::string::npos) << m << ": the op's source location";
  return m.erase(at, close - at);
}

HostTensor i64Tensor(std::vector<int64_t> dims, const std::vector<int64_t> &v) {
  return bmc_device_test::tensor("i64", std::move(dims), v);
}
std::vector<int64_t> ints(const HostTensor &t) { return bmc_device_test::values<int64_t>(t); }

// ONNX Range by its definition: start, start + delta, ... while before limit.
std::vector<int64_t> onnxRange(int64_t start, int64_t limit, int64_t delta) {
  std::vector<int64_t> out;
  for (int64_t v = start; delta > 0 ? v < limit : v > limit; v += delta) out.push_back(v);
  return out;
}

struct Case {
  int64_t rows, a, b, d;
};

// The run's inputs and the outputs plain loops give.
struct Expected {
  bmc::device::ProgramInputs in;
  std::vector<int64_t> up, shifted, down, scaled;
};
Expected expected(Case c) {
  Expected e;
  std::vector<int64_t> x;
  for (int64_t i = 0; i < 2 * c.rows; ++i) x.push_back(i * 7 - 11);
  e.in.tensors["x"] = i64Tensor({c.rows, 2}, x);
  e.in.scalars = {{"a", c.a}, {"b", c.b}, {"d", c.d}};
  e.up = onnxRange(c.a, c.b, c.d);
  for (int64_t v : e.up) e.shifted.push_back(v + c.a);
  e.down = onnxRange(0, -c.rows, -1);
  for (int64_t i = 0; i < c.rows; ++i)
    e.scaled.push_back(x[size_t(2 * i)] * c.a), e.scaled.push_back(x[size_t(2 * i + 1)] * c.b);
  return e;
}

void expectOutputs(const std::vector<HostTensor> &out, const Expected &e) {
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].dims, (std::vector<int64_t>{int64_t(e.up.size())}));
  EXPECT_EQ(ints(out[0]), e.up) << "Range(a, b, d)";
  EXPECT_EQ(out[1].dims, out[0].dims);
  EXPECT_EQ(ints(out[1]), e.shifted) << "the range plus its uploaded 0-D start";
  EXPECT_EQ(out[2].dims, (std::vector<int64_t>{int64_t(e.down.size())}));
  EXPECT_EQ(ints(out[2]), e.down) << "Range(0, -rows, -1), constants for start and delta";
  EXPECT_EQ(ints(out[3]), e.scaled) << "x times the uploaded [a, b]";
}

const std::vector<Case> kCases = {
    {3, 2, 11, 3},   // positive delta, a remainder: 2 5 8
    {5, 10, -3, -4}, // negative delta: 10 6 2 -2
    {1, 5, 5, 1},    // empty
    {4, 7, 2, 2},    // empty: the limit behind the start
    {6, -3, 4, 1},   // from a negative start
    {2, 0, 9, 9},    // one element, the limit a multiple away
    {7, -1, -8, -7}, // one element stepping back
    {3, 4, -9, -5},  // 4 -1 -6: a remainder stepping back
};

TEST(CudaScalarProgram, RangesAndUploadedShapeVectors) {
  using namespace bmc::device;
  Emulated env;
  auto program = env.program("ranges");
  ASSERT_TRUE(program) << program.status().message();
  ASSERT_EQ(program.value()->outputNames(), (std::vector<std::string>{"up", "shifted", "down", "scaled"}));
  for (Case c : kCases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + ", range " + std::to_string(c.a) + ":" + std::to_string(c.b) +
                 ":" + std::to_string(c.d));
    Expected e = expected(c);
    auto out = program.value()->run(e.in);
    ASSERT_TRUE(out) << out.status().message();
    expectOutputs(*out, e);
    EXPECT_EQ(program.value()->lastLaunches(), (std::vector<std::string>{"bmck.range 0", "bmck.elementwise 0",
                                                                          "bmck.range 0", "bmck.elementwise 1"}));
  }
}

// As a device graph per run: the uploads happen at their steps, before the
// graph replays, into a buffer no kernel writes, so a run with new scalars
// (and the same launches) replays with its own values; byte-equal to the
// direct runs.
TEST(CudaScalarProgram, AsAGraphEqualsDirectRuns) {
  using namespace bmc::device;
  Emulated env;
  auto direct = env.program("ranges"), graphed = env.program("ranges");
  ASSERT_TRUE(direct.ok() && graphed.ok()) << (direct.ok() ? graphed : direct).status().message();
  EmittedStepGraph graph;
  std::vector<bool> captured;
  // The same lengths (3 and 4) each run, new values: updated in place.
  for (Case c : {Case{4, 2, 11, 3}, Case{4, 5, 14, 3}, Case{4, -4, 5, 3}, Case{4, 9, 0, -3}}) {
    SCOPED_TRACE("range " + std::to_string(c.a) + ":" + std::to_string(c.b) + ":" + std::to_string(c.d));
    Expected e = expected(c);
    auto d = direct.value()->run(e.in);
    StepReport report;
    auto g = graphed.value()->run(e.in, &graph, &report);
    ASSERT_TRUE(d.ok() && g.ok()) << (d.ok() ? g.status().message() : d.status().message());
    expectOutputs(*g, e);
    for (size_t i = 0; i < d->size(); ++i) EXPECT_EQ((*d)[i].bytes, (*g)[i].bytes) << "output " << i;
    EXPECT_EQ(report.launches, 4u);
    captured.push_back(report.captured);
  }
  EXPECT_EQ(captured, (std::vector<bool>{true, false, false, false}));
}

// A delta of 0: the range_length step's one line, naming the op's place;
// nothing launched.
TEST(CudaScalarProgram, ZeroDeltaGivesOneLine) {
  using namespace bmc::device;
  Emulated env;
  auto program = env.program("ranges");
  ASSERT_TRUE(program) << program.status().message();
  Expected e = expected({3, 2, 11, 0});
  auto out = program.value()->run(e.in);
  ASSERT_FALSE(out);
  EXPECT_TRUE(program.value()->lastLaunches().empty()) << "nothing launched";
  EXPECT_EQ(withoutPlace(out.status().message()),
            "program @ranges step 10 (range_length): delta must be non-zero (start 2, limit 11)");
}

// Host checks (bmc.check_equal of host shape vectors, the genai GQA guard's
// form): decided before any launch; passing, the checked vectors are what the
// kernels read (uploaded); failing, the CPU's words (message: found,
// expected) on one line naming the step and the op's place, nothing launched.
TEST(CudaScalarProgram, HostChecksPassOrGiveOneLine) {
  using namespace bmc::device;
  Emulated env;
  auto program = env.program("checked");
  ASSERT_TRUE(program) << program.status().message();
  auto inputs = [](int64_t rows, int64_t a, int64_t b) {
    ProgramInputs in;
    std::vector<int64_t> x;
    for (int64_t i = 0; i < rows; ++i) x.push_back(i * 5 - 7);
    in.tensors["x"] = i64Tensor({rows}, x);
    in.scalars = {{"a", a}, {"b", b}};
    return in;
  };
  for (int64_t rows : {1, 3, 7}) {
    ProgramInputs in = inputs(rows, rows, rows);
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 2u);
    std::vector<int64_t> y;
    for (int64_t i = 0; i < rows; ++i) y.push_back(i * 5 - 7 + rows);
    EXPECT_EQ(ints((*out)[0]), y) << "x + the checked a, rows " << rows;
    EXPECT_EQ(ints((*out)[1]), (std::vector<int64_t>{-rows, -rows})) << "-[a, b], rows " << rows;
  }
  auto fails = [&](int64_t rows, int64_t a, int64_t b, const std::string &want) {
    ProgramInputs in = inputs(rows, a, b);
    auto out = program.value()->run(in);
    ASSERT_FALSE(out) << "rows " << rows << ", a " << a << ", b " << b;
    EXPECT_TRUE(program.value()->lastLaunches().empty()) << "nothing launched";
    EXPECT_EQ(withoutPlace(out.status().message()), want);
  };
  fails(3, 4, 4, "program @checked step 7 (check_equal): Guard 'g0': a must be the rows of x: found 4, expected 3");
  fails(5, 5, 2, "program @checked step 9 (check_equal): Guard 'g1': a and b must be equal: found 2, expected 5");
}

// A device check (bmc.check_equal of an input tensor against a host value,
// the genai seqlens_k guard's form): passing runs give -seqlens exactly; a
// mismatch anywhere (the first reported, in element order) fails the run in
// the CPU's words, naming the step and the op's place; the flag is zeroed
// each run, so a passing run after a failing one passes, direct and as a
// graph (the check's kernel and the flag's upload replayed).
TEST(CudaScalarProgram, DeviceChecksReadBackTheirFlag) {
  using namespace bmc::device;
  Emulated env;
  for (bool graphed : {false, true}) {
    auto program = env.program("device_checked");
    ASSERT_TRUE(program) << program.status().message();
    EmittedStepGraph graph;
    auto run = [&](std::vector<int64_t> seqlens, int64_t t) {
      ProgramInputs in;
      in.tensors["seqlens"] = i64Tensor({int64_t(seqlens.size())}, seqlens);
      in.scalars = {{"t", t}};
      return program.value()->run(in, graphed ? &graph : nullptr);
    };
    const char *how = graphed ? "graph" : "direct";
    for (int round = 0; round < 2; ++round) {
      auto ok = run({6, 6, 6, 6, 6}, 6);
      ASSERT_TRUE(ok) << how << ": " << ok.status().message();
      EXPECT_EQ(ints((*ok)[0]), (std::vector<int64_t>{-6, -6, -6, -6, -6})) << how;
      auto bad = run({6, 6, 4, 6, 9}, 6);
      ASSERT_FALSE(bad) << how << ": a mismatch passed";
      EXPECT_EQ(withoutPlace(bad.status().message()),
                "program @device_checked step 3 (bmc.check_equal 0): Guard 'g2': seqlens must all be t: found 4, "
                "expected 6")
          << how;
      auto one = run({3}, 2);
      ASSERT_FALSE(one) << how;
      EXPECT_NE(one.status().message().find("found 3, expected 2"), std::string::npos) << one.status().message();
    }
  }
}

// bmc.constant_of_shape (the static cache's mask padding): the fill kernel
// writes [rows, total - cols] zeros, sized by the host vector, and the concat
// reads them after the mask; none when cols = total (a zero-size fill, no
// elements written); the f32 [rows, 3] of 0.5 from its bytes. Against plain
// loops; a negative size (total < cols) is an error, never a fill.
TEST(CudaScalarProgram, ConstantOfShapeFillsTheHostShape) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "padded_mask", {});
  ASSERT_TRUE(program) << program.status().message();
  ASSERT_EQ(program.value()->outputNames(), (std::vector<std::string>{"padded", "halves"}));
  struct Shape {
    int64_t rows, cols, total;
  };
  for (Shape c : {Shape{1, 3, 8}, Shape{3, 5, 13}, Shape{2, 7, 7}, Shape{5, 1, 2}, Shape{4, 0, 9}}) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + ", cols " + std::to_string(c.cols) + ", total " +
                 std::to_string(c.total));
    std::vector<int64_t> mask, padded;
    for (int64_t r = 0; r < c.rows; ++r) {
      for (int64_t k = 0; k < c.cols; ++k) mask.push_back((r * 7 + k * 3) % 5 - 1), padded.push_back(mask.back());
      for (int64_t k = c.cols; k < c.total; ++k) padded.push_back(0);
    }
    ProgramInputs in;
    in.tensors["mask"] = i64Tensor({c.rows, c.cols}, mask);
    in.scalars = {{"total", c.total}};
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{c.rows, c.total}));
    EXPECT_EQ(ints((*out)[0]), padded);
    EXPECT_EQ((*out)[1].dims, (std::vector<int64_t>{c.rows, 3}));
    EXPECT_EQ(bmc_device_test::values<float>((*out)[1]), std::vector<float>(size_t(c.rows * 3), 0.5f));
  }
  ProgramInputs bad;
  bad.tensors["mask"] = i64Tensor({2, 5}, std::vector<int64_t>(10, 1));
  bad.scalars = {{"total", 3}};
  auto out = program.value()->run(bad);
  ASSERT_FALSE(out) << "a negative size filled";
  std::string m = out.status().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  size_t at = m.find(" at "), close = m.find("): ");
  ASSERT_TRUE(at != std::string::npos && close != std::string::npos) << m;
  EXPECT_NE(m.find("emitted_scalar_program.mlir:"), std::string::npos) << m << ": the op's source location";
  EXPECT_EQ(m.erase(at, close - at), "program @padded_mask step 9 (bmc.constant_of_shape 0): a result size of -2");
}

} // namespace
