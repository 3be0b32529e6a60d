// The copies as a whole-function program: emitted_data_program.mlir's @copies
// (a concat of two inputs along the sequence, the embedding gather of a
// weight by i64 ids, a concat of the gathered rows with themselves), emitted
// with whole-model at build time, its kernels compiled as host C++ (the
// emulation) and loaded on the CPU device, run by DeviceProgram through
// EmittedLauncher for two sequence lengths, against plain loops written here:
// the program binds x0 / x1 / out and data / indices / out and sizes the
// results (the concat's axis a sum of its inputs' sizes). Then @views and
// @split_rows: view steps the host evaluates (split, slices by run-time and
// constant shape vectors, unsqueeze, expand, squeeze), a bool (i1) slot, views
// returned as outputs; and bad run-time values, each with its one line.
// @gather_nd and @device_ids: indices the host cannot check, one out of range
// failing the run with the CPU's line from the kernels' fault word (data.cuh),
// the program usable for the next run.
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
#include "tests/unit/device/emitted_data_program.cu" // in the build tree
// clang-format on

#include "emitted_env.h"
#include "host_tensors.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
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
const HostKernel kTable[] = {BMC_EMULATED(bmc_concat_0),      BMC_EMULATED(bmc_concat_1),
                             BMC_EMULATED(bmc_gather_0),      BMC_EMULATED(bmc_elementwise_0),
                             BMC_EMULATED(bmc_elementwise_1), BMC_EMULATED(bmc_concat_2),
                             BMC_EMULATED(bmc_gather_nd_0),   BMC_EMULATED(bmc_gather_nd_1),
                             BMC_EMULATED(bmc_concat_3),      BMC_EMULATED(bmc_gather_1)};

using bmc_device_test::floats;
using bmc_device_test::randoms;
using bmc_device_test::tensor;

TEST(CudaDataProgram, ConcatAndEmbeddingGather) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  const std::string &src = env.src;
  const int V = 37, D = 24;
  std::vector<float> table = randoms(size_t(V) * D, 1);
  auto program = DeviceProgram::create(*env.device, *env.launcher, src, "copies",
                                       {{"table", tensor("f32", {V, D}, table)}});
  ASSERT_TRUE(program) << program.status().message();
  struct Case { int past, fresh, batch, seq; };
  for (Case c : {Case{5, 1, 2, 3}, Case{9, 4, 1, 7}}) {
    SCOPED_TRACE("past " + std::to_string(c.past) + ", new " + std::to_string(c.fresh));
    std::vector<float> k = randoms(size_t(2) * c.past * 16, 2 + unsigned(c.past)),
                       n = randoms(size_t(2) * c.fresh * 16, 3 + unsigned(c.fresh));
    std::vector<int64_t> ids(size_t(c.batch) * c.seq);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i * 11 % (2 * V)) - V; // -37 .. 36: ONNX wraps the negatives
    ProgramInputs in;
    in.tensors["k"] = tensor("f32", {1, 2, c.past, 16}, k);
    in.tensors["new"] = tensor("f32", {1, 2, c.fresh, 16}, n);
    in.tensors["ids"] = tensor("i64", {c.batch, c.seq}, ids);
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 2u);
    const HostTensor &kv = (*out)[0], &emb = (*out)[1];
    int total = c.past + c.fresh;
    ASSERT_EQ(kv.dims, (std::vector<int64_t>{1, 2, total, 16}));
    ASSERT_EQ(emb.dims, (std::vector<int64_t>{c.batch, c.seq, 2 * D}));
    std::vector<float> got = floats(kv), want;
    for (int h = 0; h < 2; ++h)
      for (int r = 0; r < total; ++r)
        for (int d = 0; d < 16; ++d)
          want.push_back(r < c.past ? k[(size_t(h) * c.past + r) * 16 + d] : n[(size_t(h) * c.fresh + r - c.past) * 16 + d]);
    EXPECT_EQ(got, want) << "concat along the sequence";
    got = floats(emb), want.clear();
    for (int64_t id : ids) {
      int64_t row = id < 0 ? id + V : id;
      for (int rep = 0; rep < 2; ++rep)
        for (int d = 0; d < D; ++d) want.push_back(table[size_t(row) * D + d]);
    }
    EXPECT_EQ(got, want) << "gather, then concat along the last axis";
    EXPECT_EQ(program.value()->lastLaunches(),
              (std::vector<std::string>{"bmck.concat 0", "bmck.gather 0", "bmck.concat 1"}));
  }
}

// Indices fed from the host (the gather's index_bound): one out of range
// after ONNX's wrap (37 and -38 of 37 rows) is refused before any launch, one
// line naming the step, the input, the index and its element; the kernel's
// fault never runs. (-37 and 36, the bounds, run above.)
TEST(CudaDataProgram, HostIndicesOutOfRangeAreOneLine) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  const int V = 37, D = 24;
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "copies",
                                       {{"table", tensor("f32", {V, D}, randoms(size_t(V) * D, 1))}});
  ASSERT_TRUE(program) << program.status().message();
  for (int64_t bad : {int64_t(V), int64_t(-V - 1)}) {
    ProgramInputs in;
    in.tensors["k"] = tensor("f32", {1, 2, 2, 16}, randoms(64, 2));
    in.tensors["new"] = tensor("f32", {1, 2, 1, 16}, randoms(32, 3));
    in.tensors["ids"] = tensor("i64", {1, 3}, std::vector<int64_t>{0, bad, 5});
    auto out = program.value()->run(in);
    ASSERT_FALSE(out) << "index " << bad;
    const std::string m = out.status().message();
    EXPECT_NE(m.find("(bmck.gather 0 at "), std::string::npos) << m;
    EXPECT_NE(m.find("): input 'ids' holds index " + std::to_string(bad) +
                     " at element 1, outside [-37, 37) of the gathered dimension"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_TRUE(program.value()->lastLaunches().empty()) << "nothing launched";
  }
}

// ONNX Slice's indices by its definition: negative bounds count from the
// end, start clamped to [0, dim] ([0, dim - 1] stepping back), end to
// [0, dim] ([-1, dim - 1]), then start, start + step, ... while before end.
std::vector<int64_t> onnxSlice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
  start = std::clamp<int64_t>(start, 0, step > 0 ? dim : dim - 1);
  end = std::clamp<int64_t>(end, lo, hi);
  std::vector<int64_t> out;
  for (int64_t i = start; step > 0 ? i < end : i > end; i += step) out.push_back(i);
  return out;
}

// @views: split, slices by host shape vectors (run-time and constant,
// negative and clamped bounds, negative steps), unsqueeze, expand, squeeze,
// a bool kernel result read by the next kernel and returned, a copy of a
// negatively strided view, and views returned as outputs; against loops.
TEST(CudaDataProgram, ViewChainAndBools) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  const std::string &src = env.src;
  auto program = DeviceProgram::create(*env.device, *env.launcher, src, "views", {});
  ASSERT_TRUE(program) << program.status().message();
  ASSERT_EQ(program.value()->outputNames(),
            (std::vector<std::string>{"chain", "positive", "magnitude", "twice", "reversed"}));
  struct Case { int64_t rows, start, stop, step, reps, cols; };
  for (Case c : {Case{9, -2, -100, -3, 2, 2}, Case{6, 1, 100, 2, 1, 1}, Case{5, 10, -10, -1, 3, 2},
                 Case{4, -3, 3, 1, 1, 2}, Case{7, 0, 7, 4, 2, 1}, Case{11, -1, -12, -5, 1, 1}}) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + ", slice " + std::to_string(c.start) + ":" +
                 std::to_string(c.stop) + ":" + std::to_string(c.step));
    const int64_t B = c.rows;
    std::vector<float> x = randoms(size_t(B) * 7, 20 + unsigned(B));
    ProgramInputs in;
    in.tensors["x"] = tensor("f32", {1, B, 7}, x);
    in.scalars = {{"start", c.start}, {"stop", c.stop}, {"step", c.step}, {"reps", c.reps}, {"cols", c.cols}};
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 5u);
    std::vector<int64_t> rows = onnxSlice(B, c.start, c.stop, c.step), cols = onnxSlice(4, 1, 100, 2);
    const int64_t R = int64_t(rows.size()), C = int64_t(cols.size());
    ASSERT_GT(R, 0);
    auto q = [&](int64_t b, int64_t j) { return x[size_t(b) * 7 + 3 + size_t(j)]; }; // split's second piece
    std::vector<float> chain, twice, reversed, magnitude;
    std::vector<uint8_t> positive;
    for (int64_t r = 0; r < c.reps; ++r)
      for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j)
          for (int k = 0; k < 5; ++k) {
            float v = q(rows[i], cols[j]);
            chain.push_back(v), positive.push_back(v > 0.0f), magnitude.push_back(v > 0.0f ? v : -v);
          }
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < 2 * C; ++j) twice.push_back(q(rows[i], cols[j % C]));
    for (int64_t b = 0; b < B; ++b)
      for (int j = 2; j >= 0; --j) reversed.push_back(x[size_t(b) * 7 + size_t(j)]);
    const HostTensor &ch = (*out)[0], &po = (*out)[1], &ma = (*out)[2], &tw = (*out)[3], &re = (*out)[4];
    ASSERT_EQ(ch.dims, (std::vector<int64_t>{c.reps, R, C, 5}));
    EXPECT_EQ(floats(ch), chain) << "split, slice, unsqueeze, expand: a view returned";
    ASSERT_EQ(po.type, "i1");
    ASSERT_EQ(po.dims, ch.dims);
    EXPECT_EQ(po.bytes, positive) << "a bool slot: one byte, 0 or 1, per element";
    ASSERT_EQ(ma.dims, ch.dims);
    EXPECT_EQ(floats(ma), magnitude) << "a Where reading the bool slot";
    ASSERT_EQ(tw.dims, (std::vector<int64_t>{1, R, 2 * C}));
    EXPECT_EQ(floats(tw), twice) << "a concat of the strided slice";
    ASSERT_EQ(re.dims, (std::vector<int64_t>{B, 3}));
    EXPECT_EQ(floats(re), reversed) << "a constant-bounded reversing slice, squeezed";
    EXPECT_EQ(program.value()->lastLaunches(),
              (std::vector<std::string>{"bmck.elementwise 0", "bmck.elementwise 1", "bmck.concat 1"}));
  }
}

// Bad run-time values give the step's one line and launch nothing.
TEST(CudaDataProgram, ViewErrors) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  const std::string &src = env.src;
  auto program = DeviceProgram::create(*env.device, *env.launcher, src, "views", {});
  ASSERT_TRUE(program) << program.status().message();
  auto run = [&](int64_t step, int64_t reps, int64_t cols) {
    ProgramInputs in;
    in.tensors["x"] = tensor("f32", {1, 6, 7}, randoms(42, 5));
    in.scalars = {{"start", 0}, {"stop", 6}, {"step", step}, {"reps", reps}, {"cols", cols}};
    auto out = program.value()->run(in);
    EXPECT_TRUE(program.value()->lastLaunches().empty()) << "nothing launched";
    return out ? std::string("no error") : out.status().message();
  };
  auto strip = [](std::string m) { // the source location (the build tree's path) left out
    size_t at = m.find(" at "), colon = m.find("): ");
    return at != std::string::npos && colon != std::string::npos ? m.erase(at, colon - at) : m;
  };
  std::string zero = run(0, 1, 2);
  EXPECT_NE(zero.find(" (bmck.slice at "), std::string::npos) << zero << ": the op's source location";
  EXPECT_EQ(strip(zero), "program @views step 10 (bmck.slice): Slice: step must be non-zero (axis 1)");
  EXPECT_EQ(strip(run(1, 1, 3)),
            "program @views step 13 (bmck.expand): Expand: input dimension 2 does not broadcast to 3 (dimension 2)");
  EXPECT_EQ(strip(run(1, -2, 2)), "program @views step 13 (bmck.expand): Expand: shape [-2, 1, 2, 5] has a negative "
                                  "size at 0");

  // A split and a squeeze on dimensions known only at run time.
  auto rows = DeviceProgram::create(*env.device, *env.launcher, src, "split_rows", {});
  ASSERT_TRUE(rows) << rows.status().message();
  std::vector<float> y = randoms(25, 9);
  ProgramInputs in;
  in.tensors["y"] = tensor("f32", {1, 5, 5}, y);
  auto out = rows.value()->run(in);
  ASSERT_TRUE(out) << out.status().message();
  std::vector<float> swapped;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) swapped.push_back(y[size_t(i < 3 ? i + 2 : i - 3) * 5 + size_t(j)]);
  EXPECT_EQ(floats((*out)[0]), swapped);
  in.tensors["y"] = tensor("f32", {1, 4, 5}, randoms(20, 9));
  out = rows.value()->run(in);
  ASSERT_FALSE(out);
  EXPECT_EQ(strip(out.status().message()),
            "program @split_rows step 1 (bmck.split): Split: sizes [2, 3] sum to 5, dimension 1 is 4");
  EXPECT_TRUE(rows.value()->lastLaunches().empty());
  in.tensors["y"] = tensor("f32", {2, 5, 5}, randoms(50, 9));
  out = rows.value()->run(in);
  ASSERT_FALSE(out);
  EXPECT_EQ(strip(out.status().message()),
            "program @split_rows step 4 (bmck.squeeze): Squeeze: squeezed dimension 0 is 2, expected 1");
  EXPECT_TRUE(rows.value()->lastLaunches().empty());
}

// @gather_nd against ONNX GatherND written as plain loops: index tuples into
// a bool mask (the static cache's attention_mask[batch_idx, kv_idx]) and whole
// f32 slices by one index, random indices in [-dim, dim) (negative ones
// wrap), odd sizes; then one index out of range: the run fails with the CPU's
// line from the kernel's fault word (data.cuh), never a clamped read; the
// next run, in range again, is right.
TEST(CudaDataProgram, GatherNDAgainstPlainLoops) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "gather_nd", {});
  ASSERT_TRUE(program) << program.status().message();
  ASSERT_EQ(program.value()->outputNames(), (std::vector<std::string>{"picked", "slices"}));
  std::mt19937 rng(7);
  struct Shape {
    int64_t rows, cols, n, m;
  };
  for (Shape c : {Shape{1, 1, 1, 1}, Shape{3, 5, 2, 7}, Shape{4, 9, 5, 3}, Shape{2, 13, 1, 11}}) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + ", cols " + std::to_string(c.cols));
    std::vector<int64_t> mask(size_t(c.rows * c.cols)), tuples, rows;
    for (auto &v : mask) v = int64_t(rng() % 2);
    std::vector<uint8_t> maskBytes(mask.begin(), mask.end());
    auto pick = [&](int64_t dim) { return int64_t(rng() % uint64_t(2 * dim)) - dim; }; // [-dim, dim)
    auto wrap = [](int64_t k, int64_t dim) { return k < 0 ? k + dim : k; };
    std::vector<uint8_t> picked;
    for (int64_t i = 0; i < c.n * c.m; ++i) {
      int64_t a = pick(c.rows), b = pick(c.cols);
      tuples.push_back(a), tuples.push_back(b);
      picked.push_back(uint8_t(mask[size_t(wrap(a, c.rows) * c.cols + wrap(b, c.cols))]));
    }
    std::vector<float> x = randoms(size_t(c.rows * c.cols * 3), 11), slices;
    for (int64_t i = 0; i < c.n; ++i) {
      int64_t a = pick(c.rows);
      rows.push_back(a);
      for (int64_t j = 0; j < c.cols * 3; ++j) slices.push_back(x[size_t(wrap(a, c.rows) * c.cols * 3 + j)]);
    }
    ProgramInputs in;
    in.tensors["mask"] = HostTensor{"i1", {c.rows, c.cols}, maskBytes};
    in.tensors["tuples"] = tensor("i64", {c.n, c.m, 2}, tuples);
    in.tensors["x"] = tensor("f32", {c.rows, c.cols, 3}, x);
    in.tensors["rows"] = tensor("i64", {c.n, 1}, rows);
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].dims, (std::vector<int64_t>{c.n, c.m}));
    EXPECT_EQ((*out)[0].bytes, picked) << "mask[tuple]";
    EXPECT_EQ((*out)[1].dims, (std::vector<int64_t>{c.n, c.cols, 3}));
    EXPECT_EQ(floats((*out)[1]), slices) << "x[row]";
    // One tuple's second index out of range (cols, and -cols - 1, -1 after
    // the wrap): the run fails with GatherND's line naming the step, the index
    // and the dimension; then the tuples in range run right again.
    for (int64_t bad : {c.cols, -c.cols - 1}) {
      std::vector<int64_t> t2 = tuples;
      t2[1] = bad;
      in.tensors["tuples"] = tensor("i64", {c.n, c.m, 2}, t2);
      auto o2 = program.value()->run(in);
      ASSERT_FALSE(o2) << "index " << bad;
      const std::string m = o2.status().message();
      EXPECT_EQ(m.rfind("program @gather_nd step ", 0), 0u) << m;
      EXPECT_NE(m.find("(bmc.gather_nd 0"), std::string::npos) << m;
      const std::string k = std::to_string(bad < 0 ? bad + c.cols : bad);
      EXPECT_NE(m.find("): GatherND: index " + k + " is out of range for a dimension of " + std::to_string(c.cols)),
                std::string::npos)
          << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      in.tensors["tuples"] = tensor("i64", {c.n, c.m, 2}, tuples);
      auto o3 = program.value()->run(in);
      ASSERT_TRUE(o3) << o3.status().message();
      EXPECT_EQ((*o3)[0].bytes, picked) << "the run after the fault";
    }
  }
}

// Indices made on the device (@device_ids: a concat of two fed id vectors),
// which the program's index_bound cannot check on the host: one out of range
// after ONNX's wrap (37, and -38 of 37 rows) fails the run with the CPU's
// line after the step ("Gather: index K is out of range for a dimension of
// N"), no output; a clamp would have returned rows instead. Directly and as a
// captured graph (the fault word's address fixed); after each failure the
// same program runs valid ids right (the word was cleared).
TEST(CudaDataProgram, DeviceIndicesOutOfRangeAreOneLine) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  const int V = 37, D = 24;
  std::vector<float> table = randoms(size_t(V) * D, 31);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "device_ids",
                                       {{"table", tensor("f32", {V, D}, table)}});
  ASSERT_TRUE(program) << program.status().message();
  EmittedStepGraph graph;
  auto run = [&](std::vector<int64_t> a, std::vector<int64_t> b, bool graphed) {
    ProgramInputs in;
    in.tensors["a"] = tensor("i64", {int64_t(a.size())}, a);
    in.tensors["b"] = tensor("i64", {int64_t(b.size())}, b);
    return program.value()->run(in, graphed ? &graph : nullptr);
  };
  auto rows = [&](std::vector<int64_t> ids) {
    std::vector<float> want;
    for (int64_t id : ids)
      for (int d = 0; d < D; ++d) want.push_back(table[size_t(id < 0 ? id + V : id) * D + d]);
    return want;
  };
  for (bool graphed : {false, true}) {
    SCOPED_TRACE(graphed ? "as a graph" : "direct");
    auto ok = run({3, 36}, {-37, 5}, graphed);
    ASSERT_TRUE(ok) << ok.status().message();
    EXPECT_EQ(floats((*ok)[0]), rows({3, 36, -37, 5}));
    EXPECT_EQ(program.value()->lastLaunches(), (std::vector<std::string>{"bmck.concat 3", "bmck.gather 1"}));
    for (int64_t bad : {int64_t(V), int64_t(-V - 1)}) {
      auto out = run({3, 4}, {bad, 5}, graphed);
      ASSERT_FALSE(out) << "index " << bad;
      const std::string m = out.status().message();
      EXPECT_EQ(m.rfind("program @device_ids step ", 0), 0u) << m;
      EXPECT_NE(m.find("(bmck.gather 1"), std::string::npos) << m;
      EXPECT_NE(m.find("): Gather: index " + std::to_string(bad < 0 ? bad + V : bad) +
                       " is out of range for a dimension of 37"),
                std::string::npos)
          << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      if (bad == V && !graphed)
        std::printf("%s\n", m.c_str());
      auto again = run({1, 2}, {-1, 0}, graphed);
      ASSERT_TRUE(again) << again.status().message();
      EXPECT_EQ(floats((*again)[0]), rows({1, 2, -1, 0})) << "the run after the fault";
    }
  }
}

} // namespace
