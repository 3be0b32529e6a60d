// The copies as a whole-function program: emitted_data_program.mlir's @copies
// (a concat of two inputs along the sequence, the embedding gather of a
// weight by i64 ids, a concat of the gathered rows with themselves), emitted
// with whole-model at build time, its kernels compiled as host C++ (the
// emulation) and loaded on the CPU device, run by DeviceProgram through
// EmittedLauncher for two sequence lengths, against plain loops written here:
// the program binds x0 / x1 / out and data / indices / out and sizes the
// results (the concat's axis a sum of its inputs' sizes).
#include "cuda_emulation.h"

// The emulation's stand-in for the device's __trap (data.cuh): counted.
static int gIndexFaults = 0;
#define BMC_DATA_INDEX_FAULT(k, n) (void)(k), (void)(n), ++gIndexFaults

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
#include "runtime/device/CpuDevice.h"
#include "runtime/device/DeviceProgram.h"
#include "runtime/device/EmittedLauncher.h"

#include <gtest/gtest.h>

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
const HostKernel kTable[] = {BMC_EMULATED(bmc_concat_0), BMC_EMULATED(bmc_concat_1), BMC_EMULATED(bmc_gather_0)};

std::vector<float> randoms(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float &x : v) x = d(rng);
  return v;
}
template <typename T> HostTensor tensor(const char *type, std::vector<int64_t> dims, const std::vector<T> &v) {
  HostTensor t;
  t.type = type, t.dims = std::move(dims);
  t.bytes.resize(v.size() * sizeof(T));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}
std::vector<float> floats(const HostTensor &t) {
  std::vector<float> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

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
    EXPECT_EQ(gIndexFaults, 0);
    EXPECT_EQ(program.value()->lastLaunches(),
              (std::vector<std::string>{"bmck.concat 0", "bmck.gather 0", "bmck.concat 1"}));
  }
}

} // namespace
