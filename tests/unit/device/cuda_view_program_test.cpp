// Transpose, reshape and flatten as a program's view steps:
// emitted_view_program.mlir emitted with whole-model at build time, its
// kernels compiled as host C++ (the emulation) and loaded on the CPU device,
// run by DeviceProgram through EmittedLauncher against plain loops written
// here, on odd sizes: @heads (a reshape by the run's shape with 0 and -1, a
// transpose read strided by an elementwise kernel and returned, a copy, a
// reshape and a flatten of it), @strided (a reshape of a transposed view with
// no copy: accepted only where the view is row-major at run time) and
// @mask_fold (a rank-5 gather result held at rank 2, reshaped and flattened);
// then the one-line errors, nothing launched. A copy back of axis 1's last
// index only (CopyBack::LastOfAxis1) equals that slice of the whole copy, one
// copy of one row's part per index of axis 0 (B = 1, 2, 3).
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
#include "tests/unit/device/emitted_view_program.cu" // in the build tree
// clang-format on

#include "emitted_env.h"
#include "forwarding_device.h"
#include "host_tensors.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

#include <array>
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
const HostKernel kTable[] = {BMC_EMULATED(bmc_elementwise_0), BMC_EMULATED(bmc_elementwise_1),
                             BMC_EMULATED(bmc_gather_0), BMC_EMULATED(bmc_copy_0)};

using bmc_device_test::floats;
using bmc_device_test::randoms;
using bmc_device_test::tensor;
// The message without the source location (the build tree's path).
std::string strip(std::string m) {
  size_t at = m.find(" at "), colon = m.find("): ");
  return at != std::string::npos && colon != std::string::npos ? m.erase(at, colon - at) : m;
}

// x [B, S, 15] as [B, S, H, D] (H * D = 15), transposed to [B, H, S, D]:
// twice = 2 x that, heads = that (a strided view returned), rows = its
// row-major copy as [B, H * S * D], flat = as [B * H, S * D].
TEST(CudaViewProgram, HeadsTransposedReshapedFlattened) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "heads", {});
  ASSERT_TRUE(program) << program.status().message();
  struct Case { int64_t B, S, H; std::vector<int64_t> shape; };
  const std::vector<Case> cases = {
      {1, 1, 3, {0, 0, 3, -1}}, {2, 7, 3, {0, 0, 3, -1}}, {3, 5, 5, {0, 0, 5, -1}},
      {3, 5, 5, {3, -1, 5, 3}}, {2, 9, 3, {0, 9, -1, 5}}, {5, 3, 15, {-1, 3, 15, 1}}};
  for (const Case &c : cases) {
    const int64_t B = c.B, S = c.S, H = c.H, D = 15 / c.H;
    SCOPED_TRACE("B " + std::to_string(B) + ", S " + std::to_string(S) + ", heads " + std::to_string(H));
    std::vector<float> x = randoms(size_t(B * S * 15), unsigned(100 + B * S + H));
    ProgramInputs in;
    in.tensors["x"] = tensor("f32", {B, S, 15}, x);
    in.scalars = {{"a", c.shape[0]}, {"b", c.shape[1]}, {"c", c.shape[2]}, {"d", c.shape[3]}};
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 4u);
    std::vector<float> heads; // [B, H, S, D] by its definition
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d) heads.push_back(x[size_t((b * S + s) * 15 + h * D + d)]);
    std::vector<float> twice;
    for (float v : heads) twice.push_back(2.0f * v);
    const HostTensor &tw = (*out)[0], &hd = (*out)[1], &rw = (*out)[2], &fl = (*out)[3];
    ASSERT_EQ(tw.dims, (std::vector<int64_t>{B, H, S, D}));
    EXPECT_EQ(floats(tw), twice) << "an elementwise kernel reading the transposed view";
    ASSERT_EQ(hd.dims, (std::vector<int64_t>{B, H, S, D}));
    EXPECT_EQ(floats(hd), heads) << "the transposed view returned";
    ASSERT_EQ(rw.dims, (std::vector<int64_t>{B, H * S * D}));
    EXPECT_EQ(floats(rw), heads) << "its copy reshaped by [0, -1]";
    ASSERT_EQ(fl.dims, (std::vector<int64_t>{B * H, S * D}));
    EXPECT_EQ(floats(fl), heads) << "its copy flattened at axis 2";
    EXPECT_EQ(program.value()->lastLaunches(), (std::vector<std::string>{"bmck.elementwise 0", "bmck.copy 0"}));
  }
}

// Bad shapes give the reshape step's one line (the CPU's words where it has
// them) and launch nothing.
TEST(CudaViewProgram, ReshapeErrors) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "heads", {});
  ASSERT_TRUE(program) << program.status().message();
  auto run = [&](std::vector<int64_t> dims, std::vector<int64_t> shape) {
    ProgramInputs in;
    size_t n = size_t(dims[0] * dims[1] * dims[2]);
    in.tensors["x"] = tensor("f32", dims, randoms(n, 3));
    in.scalars = {{"a", shape[0]}, {"b", shape[1]}, {"c", shape[2]}, {"d", shape[3]}};
    auto out = program.value()->run(in);
    if (out) return std::string("no error");
    EXPECT_TRUE(program.value()->lastLaunches().empty()) << "nothing launched";
    return out.status().message();
  };
  std::string two = run({2, 3, 15}, {-1, -1, 3, 5});
  EXPECT_NE(two.find(" (bmck.reshape at "), std::string::npos) << two << ": the op's source location";
  EXPECT_EQ(strip(two), "program @heads step 4 (bmck.reshape): Reshape: expected at most one -1 in the shape, found 2");
  EXPECT_EQ(strip(run({2, 3, 15}, {0, 0, 4, 4})), "program @heads step 4 (bmck.reshape): Reshape: the target shape "
                                                  "has 96 elements, expected 90 (the input's)");
  EXPECT_EQ(strip(run({2, 3, 15}, {0, 0, 7, -1})), "program @heads step 4 (bmck.reshape): Reshape: the target shape "
                                                   "has 84 elements, expected 90 (the input's)")
      << "-1 inferred as 90 / 42 = 2";
  // An entry 0 past the input's rank is a 0, not a copy: nothing to infer -1 from.
  EXPECT_EQ(strip(run({2, 3, 15}, {0, 0, -1, 0})), "program @heads step 4 (bmck.reshape): Reshape: cannot infer a -1 "
                                                   "dimension when the other dimensions multiply to 0");
  // No elements: the count agrees, but a size stays negative (the CPU accepts it).
  EXPECT_EQ(strip(run({2, 0, 15}, {0, 0, -3, 5})),
            "program @heads step 4 (bmck.reshape): Reshape: shape [0, 0, -3, 5] has a negative size at 2");
  EXPECT_EQ(run({2, 3, 15}, {2, 3, 3, 5}), "no error");
}

// A reshape reads its input's elements in row-major order: a transposed view
// is accepted only where it still is ([1, N] and [N, 1] transposed), and
// otherwise refused naming the step, never read with the wrong strides.
TEST(CudaViewProgram, ReshapeOfAStridedViewRefused) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "strided", {});
  ASSERT_TRUE(program) << program.status().message();
  for (std::vector<int64_t> dims : {std::vector<int64_t>{1, 7}, std::vector<int64_t>{9, 1}}) {
    std::vector<float> y = randoms(size_t(dims[0] * dims[1]), 7);
    ProgramInputs in;
    in.tensors["y"] = tensor("f32", dims, y);
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ((*out)[0].dims, (std::vector<int64_t>{dims[0] * dims[1]}));
    EXPECT_EQ(floats((*out)[0]), y);
  }
  ProgramInputs in;
  in.tensors["y"] = tensor("f32", {3, 5}, randoms(15, 8));
  auto out = program.value()->run(in);
  ASSERT_FALSE(out);
  EXPECT_EQ(strip(out.status().message()),
            "program @strided step 3 (bmck.reshape): Reshape: input of sizes [5, 3] and strides [1, 5] is not "
            "row-major (a bmck.copy must make it contiguous first)");
  EXPECT_TRUE(program.value()->lastLaunches().empty());
}

// The attention-mask pattern of the generated decoders: a rank-5 gather
// result, held as [B, T] (its statically-1 dimensions folded), reshaped to
// [B * T], to [B, 1, 1, T] (then negated by a kernel), to [B, 1, T] by
// [0, 0, -1] (the 0s copy its full rank's sizes), and flattened at axis 3.
TEST(CudaViewProgram, RankFiveGatherResultReshaped) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  auto program = DeviceProgram::create(*env.device, *env.launcher, env.src, "mask_fold", {});
  ASSERT_TRUE(program) << program.status().message();
  for (auto [B, T] : {std::pair<int64_t, int64_t>{1, 1}, {2, 7}, {3, 5}, {1, 9}}) {
    SCOPED_TRACE("B " + std::to_string(B) + ", T " + std::to_string(T));
    std::vector<float> m = randoms(size_t(B * T), unsigned(40 + B * T));
    std::mt19937 rng(unsigned(B * 31 + T));
    std::vector<int64_t> pos(size_t(B * T)); // in [-B * T, B * T): negatives wrap
    for (int64_t &p : pos) p = int64_t(rng() % uint32_t(2 * B * T)) - B * T;
    ProgramInputs in;
    in.tensors["m"] = tensor("f32", {B, T}, m);
    in.tensors["pos"] = tensor("i64", {B, 1, 1, T}, pos);
    in.scalars = {{"batch", B}, {"total", T}};
    auto out = program.value()->run(in);
    ASSERT_TRUE(out) << out.status().message();
    std::vector<float> g, neg; // g[b, t] = m flattened at pos[b, t] (ONNX Gather, negatives wrapped)
    for (int64_t p : pos) g.push_back(m[size_t(p < 0 ? p + B * T : p)]);
    for (float v : g) neg.push_back(-v);
    const HostTensor &mk = (*out)[0], &kp = (*out)[1], &fl = (*out)[2];
    ASSERT_EQ(mk.dims, (std::vector<int64_t>{B, 1, 1, T}));
    EXPECT_EQ(floats(mk), neg) << "reshaped to [B * T], to [B, 1, 1, T], negated";
    ASSERT_EQ(kp.dims, (std::vector<int64_t>{B, 1, T}));
    EXPECT_EQ(floats(kp), g) << "reshaped by [0, 0, -1]";
    ASSERT_EQ(fl.dims, (std::vector<int64_t>{B, T}));
    EXPECT_EQ(floats(fl), g) << "flattened at axis 3";
    EXPECT_EQ(program.value()->lastLaunches(), (std::vector<std::string>{"bmck.gather 0", "bmck.elementwise 1"}));
  }
  ProgramInputs in;
  in.tensors["m"] = tensor("f32", {2, 3}, randoms(6, 1));
  in.tensors["pos"] = tensor("i64", {2, 1, 1, 3}, std::vector<int64_t>(6, 0));
  in.scalars = {{"batch", 3}, {"total", 3}};
  auto out = program.value()->run(in);
  ASSERT_FALSE(out);
  EXPECT_EQ(strip(out.status().message()), "program @mask_fold step 12 (bmck.reshape): Reshape: the target shape has "
                                           "9 elements, expected 6 (the input's)");
  EXPECT_TRUE(program.value()->lastLaunches().empty());
}

// CopyBack::LastOfAxis1 on every output of @heads (twice: a kernel's own
// contiguous [B, H, S, D]; heads: the transposed view, strided; rows [B,
// H*S*D] and flat [B*H, S*D]: copies): each equals its whole copy's slice at
// index size - 1 of axis 1, byte for byte. The copies to the host (counted
// by the device): the whole `twice` is one copy of B*H*S*D floats, its cut
// one copy of S*D floats when B is 1, else one 2-D copy of B rows of S*D
// floats, H*S*D apart (DeviceViewCopy.h). Then the refusals, one line each,
// before anything runs.
TEST(CudaViewProgram, LastOfAxis1CopiesOnlyThatIndex) {
  using namespace bmc::device;
  bmc_device_test::CountingDevice device;
  std::string src = bmc_device_test::readEmittedSource(BMC_EMITTED_CU);
  auto launcher = bmc_device_test::hostTableLauncher(device, kTable, src);
  ASSERT_TRUE(launcher.ok()) << launcher.status().message();
  auto program = DeviceProgram::create(device, *launcher.value(), src, "heads", {});
  ASSERT_TRUE(program) << program.status().message();
  const char *names[] = {"twice", "heads", "rows", "flat"};
  for (auto [B, S, H] : {std::array<int64_t, 3>{1, 5, 3}, {2, 7, 3}, {3, 5, 5}}) {
    const int64_t D = 15 / H;
    SCOPED_TRACE("B " + std::to_string(B) + ", S " + std::to_string(S) + ", heads " + std::to_string(H));
    ProgramInputs in;
    in.tensors["x"] = tensor("f32", {B, S, 15}, randoms(size_t(B * S * 15), unsigned(7 * B + S)));
    in.scalars = {{"a", 0}, {"b", 0}, {"c", H}, {"d", -1}};
    device.clear();
    auto whole = program.value()->run(in);
    ASSERT_TRUE(whole) << whole.status().message();
    ASSERT_EQ(device.toHost.size(), 4u);
    EXPECT_EQ(device.toHost[0], size_t(B * H * S * D) * 4) << "twice, whole: one copy";
    for (const char *n : names)
      in.copyBack[n] = CopyBack::LastOfAxis1;
    device.clear();
    auto cut = program.value()->run(in);
    ASSERT_TRUE(cut) << cut.status().message();
    ASSERT_EQ(cut->size(), 4u);
    if (B == 1) {
      ASSERT_GE(device.toHost.size(), 1u);
      EXPECT_EQ(device.toHost[0], size_t(S * D) * 4) << "twice: its last head only";
    } else {
      ASSERT_GE(device.toHost2D.size(), 1u);
      EXPECT_EQ(device.toHost2D[0], (bmc_device_test::CountingDevice::Copy2D{size_t(S * D) * 4, size_t(B),
                                                                            size_t(H * S * D) * 4}))
          << "twice: each row's last head, one 2-D copy";
    }
    EXPECT_EQ(program.value()->lastOutputDims()[0], (std::vector<int64_t>{B, H, S, D})) << "the whole dims";
    for (size_t o = 0; o < 4; ++o) {
      SCOPED_TRACE(names[o]);
      const HostTensor &w = (*whole)[o], &c = (*cut)[o];
      std::vector<int64_t> dims = w.dims;
      dims[1] = 1;
      ASSERT_EQ(c.dims, dims);
      int64_t inner = 1; // the elements after axis 1
      for (size_t i = 2; i < dims.size(); ++i)
        inner *= dims[i];
      std::vector<uint8_t> want;
      for (int64_t b = 0; b < w.dims[0]; ++b) {
        auto at = w.bytes.begin() + ((b * w.dims[1] + w.dims[1] - 1) * inner) * 4;
        want.insert(want.end(), at, at + inner * 4);
      }
      EXPECT_EQ(c.bytes, want);
    }
  }
  ProgramInputs in;
  in.tensors["x"] = tensor("f32", {2, 3, 15}, randoms(90, 1));
  in.scalars = {{"a", 0}, {"b", 0}, {"c", 3}, {"d", -1}};
  in.copyBack["logits"] = CopyBack::LastOfAxis1;
  auto r = program.value()->run(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message(), "program @heads: copy back of 'logits': no such output");
  in.copyBack = {{"twice", CopyBack::LastOfAxis1}};
  ProgramKept kept;
  kept.names = {"twice"};
  kept.allocate = [&](size_t n) { return device.allocate(n); };
  kept.release = [&](DevicePtr p) { (void)device.free(p); };
  r = program.value()->run(in, nullptr, nullptr, &kept);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message(), "program @heads: copy back of 'twice': the output is kept on the device");
  EXPECT_TRUE(program.value()->lastLaunches().empty());
  auto strided = DeviceProgram::create(device, *launcher.value(), src, "strided", {});
  ASSERT_TRUE(strided) << strided.status().message();
  ProgramInputs line;
  line.tensors["y"] = tensor("f32", {1, 7}, randoms(7, 2));
  line.copyBack["line"] = CopyBack::LastOfAxis1;
  r = strided.value()->run(line);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message(), "program @strided: copy back of 'line': the last index of axis 1 of a rank 1 output");
  EXPECT_TRUE(strided.value()->lastLaunches().empty());
}

} // namespace
