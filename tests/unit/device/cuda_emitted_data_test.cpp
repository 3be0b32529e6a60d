// The CUDA emitter's bmck.concat / bmck.gather / bmck.copy / bmck.range kernels (bmc-opt --bmc-emit-cuda
// on emitted_data.mlir, generated at build time) compiled as host C++ against
// cuda_emulation.h and run on random bytes with odd sizes, strided and offset
// views (a marker between their elements, so a wrong read or a stray write
// shows), against plain loops written here from ONNX's Concat and Gather
// (negative indices count from the end; the attention mask's rank-5 gather
// against the rank-5 loop, its out folded), an element-by-element copy and
// Range (negative deltas, empty ranges, a length from ONNX's rule written here). Each case three ways: the kernel
// called directly, through EmittedLauncher on the CPU device (the planned
// grid-stride launch, its checks), and on a GPU (NVRTC + CudaDevice; skipped
// without one). Then a launch whose size check fails, or a range of delta 0 (nothing written), and an
// index out of range (the kernel's fault word: the first fault read back, the
// elements left unwritten, a later gather fine; on a GPU too, no trap).
// What the emulation checks and does not: cuda_emulation.h.
#include "cuda_emulation.h"

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
#include "tests/unit/device/emitted_data.cu" // in the build tree

#include "emitted_env.h"
#include "runtime/device/CpuDevice.h"
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using bmc::device::HostLaunch;
using Index = std::array<long long, 4>;

constexpr unsigned char kMarker = 0xa5;

// A view over its own storage of `width`-byte elements: 4 sizes (leading 1s
// for a lower rank), the last dimension `step` elements apart, rows padded by
// 3, an offset of 5; every byte outside the view is kMarker.
struct Tensor {
  size_t width;
  std::vector<unsigned char> bytes;
  bmc_view4 v{};
  Tensor(size_t w, Index size, long long step = 1) : width(w) {
    long long stride = step;
    v.offset = 5;
    for (int d = 3; d >= 0; --d) {
      v.size[d] = size[d], v.stride[d] = stride;
      stride = stride * size[d] + (d == 3 ? 3 : 0);
    }
    bytes.assign(size_t(stride + 8) * w, kMarker);
    v.data = bytes.data();
  }
  long long elements() const { return v.size[0] * v.size[1] * v.size[2] * v.size[3]; }
  long long at(const Index &i) const {
    long long off = v.offset;
    for (int k = 0; k < 4; ++k)
      off += (v.size[k] == 1 ? 0 : i[k]) * v.stride[k];
    return off;
  }
  const unsigned char *element(const Index &i) const { return bytes.data() + size_t(at(i)) * width; }
  unsigned char *element(const Index &i) { return bytes.data() + size_t(at(i)) * width; }
  template <typename F> void each(F f) const {
    Index i;
    for (i[0] = 0; i[0] < v.size[0]; ++i[0])
      for (i[1] = 0; i[1] < v.size[1]; ++i[1])
        for (i[2] = 0; i[2] < v.size[2]; ++i[2])
          for (i[3] = 0; i[3] < v.size[3]; ++i[3])
            f(i);
  }
  // Random bytes (never the marker's pattern in every byte; i1: 0 or 1).
  void fillRandom(unsigned seed) {
    std::mt19937 rng(seed);
    each([&](const Index &i) {
      unsigned char *p = element(i);
      for (size_t b = 0; b < width; ++b) p[b] = width == 1 ? (rng() & 1) : (unsigned char)(rng() % 255);
    });
  }
  void setIndex(const Index &i, long long k) {
    if (width == 8) std::memcpy(element(i), &k, 8);
    else { int32_t x = int32_t(k); std::memcpy(element(i), &x, 4); }
  }
  long long getIndex(const Index &i) const {
    if (width == 8) { long long k; std::memcpy(&k, element(i), 8); return k; }
    int32_t x;
    std::memcpy(&x, element(i), 4);
    return x;
  }
};

// Every element of out against `want(i)` (a pointer to the element's bytes),
// and every byte outside out's view still the marker.
template <typename W> void expectAll(const Tensor &out, W want, const char *what) {
  std::vector<bool> inView(out.bytes.size() / out.width, false);
  int bad = 0;
  out.each([&](const Index &i) {
    inView[size_t(out.at(i))] = true;
    if (std::memcmp(out.element(i), want(i), out.width) != 0 && bad++ < 5)
      ADD_FAILURE() << what << " at (" << i[0] << ", " << i[1] << ", " << i[2] << ", " << i[3] << ")";
  });
  for (size_t e = 0; e < inView.size(); ++e)
    for (size_t b = 0; b < out.width && !inView[e]; ++b)
      if (out.bytes[e * out.width + b] != kMarker && bad++ < 5)
        ADD_FAILURE() << what << ": a byte outside out's view written at element " << e;
  EXPECT_EQ(bad, 0) << what;
}

// ONNX Concat along view4 dimension `a`.
void expectConcat(const Tensor &out, const std::vector<const Tensor *> &xs, int a, const char *what) {
  expectAll(out, [&](const Index &i) {
    Index j = i;
    for (const Tensor *x : xs) {
      if (j[a] < x->v.size[a]) return x->element(j);
      j[a] -= x->v.size[a];
    }
    ADD_FAILURE() << what << ": out larger than the inputs";
    return xs[0]->element(Index{0, 0, 0, 0});
  }, what);
}

// ONNX Gather: out (rank r) = data (rank dr)[..., indices (rank ir)[...], ...] at `axis`,
// each right-aligned in its view4.
void expectGather(const Tensor &out, const Tensor &data, const Tensor &ids, int dr, int ir, int axis,
                  const char *what) {
  int r = dr - 1 + ir, ol = 4 - r, dl = 4 - dr, il = 4 - ir;
  expectAll(out, [&](const Index &o) {
    Index d{0, 0, 0, 0}, j{0, 0, 0, 0};
    for (int p = 0; p < r; ++p) {
      if (p < axis) d[dl + p] = o[ol + p];
      else if (p < axis + ir) j[il + p - axis] = o[ol + p];
      else d[dl + p - ir + 1] = o[ol + p];
    }
    long long k = ids.getIndex(j), n = data.v.size[dl + axis];
    if (k < 0) k += n;
    static const unsigned char none[8] = {kMarker, kMarker, kMarker, kMarker, kMarker, kMarker, kMarker, kMarker};
    if (k < 0 || k >= n) {
      ADD_FAILURE() << what << ": the test's index " << k << " out of range";
      return none;
    }
    d[dl + axis] = k;
    return data.element(d);
  }, what);
}

#define BMC_EMULATED(name)                                                                         \
  bmc::device::HostKernel {                                                                        \
    #name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); },                    \
        bmc_emu::argSizes(name), bmc_emu::argCount(name)                                           \
  }
const bmc::device::HostKernel kTable[] = {
    BMC_EMULATED(bmc_concat_0), BMC_EMULATED(bmc_concat_1), BMC_EMULATED(bmc_concat_2),
    BMC_EMULATED(bmc_concat_3), BMC_EMULATED(bmc_concat_4),
    // kTable[kGather + i]: bmck.gather i.
    BMC_EMULATED(bmc_gather_0), BMC_EMULATED(bmc_gather_1), BMC_EMULATED(bmc_gather_2),
    BMC_EMULATED(bmc_gather_3), BMC_EMULATED(bmc_gather_4), BMC_EMULATED(bmc_gather_5),
    // kTable[kCopy + i]: bmck.copy i.
    BMC_EMULATED(bmc_copy_0), BMC_EMULATED(bmc_copy_1), BMC_EMULATED(bmc_copy_2),
    // kTable[kRange + i]: bmck.range i.
    BMC_EMULATED(bmc_range_0), BMC_EMULATED(bmc_range_1),
};
constexpr int kGather = 5, kCopy = 11, kRange = 14;

enum class Mode { Emulated, Launcher, Gpu };

class CudaEmittedData : public ::testing::TestWithParam<Mode> {
protected:
  void SetUp() override {
    using namespace bmc::device;
    if (GetParam() == Mode::Emulated)
      return;
    env_ = std::make_unique<bmc_device_test::EmittedEnv>(GetParam() == Mode::Gpu, kTable, BMC_EMITTED_CU);
    BMC_EMITTED_ENV_OR_SKIP(*env_);
    device_ = env_->device.get(), launcher_ = env_->launcher.get();
    ASSERT_EQ(launcher_->configurations("bmck.concat"), 5);
    ASSERT_EQ(launcher_->configurations("bmck.gather"), 6);
    ASSERT_EQ(launcher_->configurations("bmck.range"), 2);
    ASSERT_EQ(launcher_->configurations("bmck.copy"), 3);
  }

  void concat(int index, std::vector<Tensor *> xs, Tensor &out, unsigned blocks) {
    std::vector<std::string> names;
    for (size_t k = 0; k < xs.size(); ++k) names.push_back("x" + std::to_string(k));
    xs.push_back(&out), names.push_back("out");
    launch("bmck.concat", index, index, xs, names, blocks);
  }
  void gather(int index, Tensor &data, Tensor &ids, Tensor &out, unsigned blocks) {
    launch("bmck.gather", index, kGather + index, {&data, &ids, &out}, {"data", "indices", "out"}, blocks);
  }
  void copy(int index, Tensor &x, Tensor &out, unsigned blocks) {
    launch("bmck.copy", index, kCopy + index, {&x, &out}, {"x", "out"}, blocks);
  }

  // bmck.range `index` into out (its last dimension; the others 1).
  void range(int index, long long start, long long delta, Tensor &out, unsigned blocks) {
    using namespace bmc::device;
    if (!launcher_) {
      void *args[] = {&start, &delta, &out.v};
      HostLaunch l{{blocks, 1, 1}, {256, 1, 1}, {}};
      for (uint32_t x = 0; x < blocks; ++x) {
        l.blockIdx = {x, 0, 0};
        kTable[kRange + index].fn(l, args);
      }
      return;
    }
    DevicePtr p = device_->allocate(out.bytes.size()).value();
    ASSERT_TRUE(device_->copyToDevice(p, out.bytes.data(), out.bytes.size()));
    bmc_view4 v = out.v;
    v.data = reinterpret_cast<const void *>(p);
    LaunchRecord record;
    bmc::Status s = launcher_->launch("bmck.range", index,
                                      {{"start", LaunchValue::integer(start)}, {"delta", LaunchValue::integer(delta)},
                                       {"out", LaunchValue::of(v)}},
                                      &record);
    ASSERT_TRUE(s) << s.message();
    ASSERT_TRUE(device_->synchronize());
    ASSERT_TRUE(device_->copyToHost(out.bytes.data(), p, out.bytes.size()));
    (void)device_->free(p);
  }
  // The last tensor is out. Emulated: `blocks` blocks of 256 threads. A
  // gather's fault (data.cuh's word: the test's own when emulated, the
  // launcher's else) is read back after the launch, cleared, and kept in
  // faults_.
  void launch(const char *op, int index, int kernel, std::vector<Tensor *> ts, std::vector<std::string> names,
              unsigned blocks) {
    using namespace bmc::device;
    Tensor &out = *ts.back();
    const bool gather = std::string(op) == "bmck.gather";
    if (!launcher_) {
      std::vector<void *> args;
      for (Tensor *t : ts) args.push_back(&t->v);
      long long word[4] = {0, 0, 0, 0}, *fault = word, site = 7;
      if (gather) args.push_back(&fault), args.push_back(&site);
      HostLaunch l{{blocks, 1, 1}, {256, 1, 1}, {}};
      for (uint32_t x = 0; x < blocks; ++x) {
        l.blockIdx = {x, 0, 0};
        kTable[kernel].fn(l, args.data());
      }
      if (word[0]) {
        EXPECT_EQ(word[0], 1);
        EXPECT_EQ(word[3], 7) << "the site";
        faults_.push_back(LaunchFault{word[1], word[2], word[3]});
      }
      return;
    }
    std::vector<DevicePtr> ptrs;
    LaunchArgs args;
    for (size_t k = 0; k < ts.size(); ++k) {
      DevicePtr p = device_->allocate(ts[k]->bytes.size()).value();
      ASSERT_TRUE(device_->copyToDevice(p, ts[k]->bytes.data(), ts[k]->bytes.size()));
      ptrs.push_back(p);
      bmc_view4 v = ts[k]->v;
      v.data = reinterpret_cast<const void *>(p);
      args[names[k]] = LaunchValue::of(v);
    }
    LaunchRecord record;
    bmc::Status s = launcher_->launch(op, index, args, &record);
    ASSERT_TRUE(s) << s.message();
    int64_t planned = std::min<int64_t>((out.elements() + 255) / 256, int64_t(device_->properties().multiprocessors) * 32);
    ASSERT_EQ(record.configs.size(), 1u);
    EXPECT_EQ(record.configs[0].grid.x, uint32_t(planned));
    ASSERT_TRUE(device_->synchronize());
    ASSERT_TRUE(device_->copyToHost(out.bytes.data(), ptrs.back(), out.bytes.size()));
    for (DevicePtr p : ptrs) (void)device_->free(p);
    LaunchFault f;
    auto t = launcher_->takeFault(f);
    ASSERT_TRUE(t) << t.status().message();
    if (*t) {
      EXPECT_TRUE(gather) << op << " recorded a fault";
      EXPECT_EQ(f.site, -1) << "no fault_site given";
      faults_.push_back(f);
    }
  }

  std::vector<bmc::device::LaunchFault> faults_; // the faults launch() read back, in order
  std::unique_ptr<bmc_device_test::EmittedEnv> env_; // none when Emulated
  bmc::device::Device *device_ = nullptr;
  bmc::device::EmittedLauncher *launcher_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(, CudaEmittedData, ::testing::Values(Mode::Emulated, Mode::Launcher, Mode::Gpu),
                         [](const ::testing::TestParamInfo<Mode> &i) {
                           return std::string(i.param == Mode::Emulated ? "Emulated"
                                              : i.param == Mode::Launcher ? "Launcher" : "Gpu");
                         });

TEST_P(CudaEmittedData, ConcatKVAlongSequence) {
  Tensor past(4, {3, 2, 5, 16}, 2), fresh(4, {3, 2, 1, 16}), out(4, {3, 2, 6, 16});
  past.fillRandom(1), fresh.fillRandom(2);
  concat(0, {&past, &fresh}, out, 2); // 576 elements over 512 threads: the grid-stride loop
  expectConcat(out, {&past, &fresh}, 2, "f32 concat of 2 along axis 2");
}

TEST_P(CudaEmittedData, ConcatThreeAlongMiddle) {
  Tensor a(2, {1, 3, 5, 7}), b(2, {1, 3, 5, 7}, 3), c(2, {1, 3, 5, 7}), out(2, {1, 3, 15, 7}, 2);
  a.fillRandom(3), b.fillRandom(4), c.fillRandom(5);
  concat(1, {&a, &b, &c}, out, 1);
  expectConcat(out, {&a, &b, &c}, 2, "f16 concat of 3 along axis 1");
}

TEST_P(CudaEmittedData, ConcatAlongFirstAndLast) {
  Tensor a(8, {1, 1, 3, 11}), b(8, {1, 1, 4, 11}, 2), out(8, {1, 1, 7, 11});
  a.fillRandom(6), b.fillRandom(7);
  concat(2, {&a, &b}, out, 1);
  expectConcat(out, {&a, &b}, 2, "i64 concat along axis 0");
  Tensor c(2, {1, 1, 9, 3}, 2), d(2, {1, 1, 9, 3}), out2(2, {1, 1, 9, 6});
  c.fillRandom(8), d.fillRandom(9);
  concat(3, {&c, &d}, out2, 1);
  expectConcat(out2, {&c, &d}, 3, "bf16 concat along axis 1 (the last)");
  Tensor e(1, {1, 1, 1, 5}), f(1, {1, 1, 1, 1}), g(1, {1, 1, 1, 7}, 3), out3(1, {1, 1, 1, 13});
  e.fillRandom(10), f.fillRandom(11), g.fillRandom(12);
  concat(4, {&e, &f, &g}, out3, 1);
  expectConcat(out3, {&e, &f, &g}, 3, "i1 concat of 3, rank 1");
}

TEST_P(CudaEmittedData, GatherEmbeddingByIds) {
  Tensor table(4, {1, 1, 37, 96}), ids(8, {1, 1, 2, 7}), out(4, {1, 2, 7, 96});
  table.fillRandom(13);
  long long picks[14] = {0, 36, -1, -37, 5, 5, 17, 30, -2, 1, 2, 3, 35, -20};
  int n = 0;
  ids.each([&](const Index &i) { ids.setIndex(i, picks[n++]); });
  gather(0, table, ids, out, 3); // 1344 elements over 768 threads
  expectGather(out, table, ids, 2, 2, 0, "embedding gather");
  EXPECT_TRUE(faults_.empty());
}

TEST_P(CudaEmittedData, GatherAlongOtherAxes) {
  Tensor x(2, {1, 2, 11, 9}, 2), j(4, {1, 1, 1, 4}), out(2, {1, 2, 4, 9});
  x.fillRandom(14);
  long long pj[4] = {10, -11, 3, -4};
  int n = 0;
  j.each([&](const Index &i) { j.setIndex(i, pj[n++]); });
  gather(1, x, j, out, 1);
  expectGather(out, x, j, 3, 1, 1, "f16 gather at axis 1 by i32");
  Tensor y(4, {2, 3, 4, 5}, 3), s(8, {1, 1, 1, 1}), out2(4, {1, 2, 3, 4});
  y.fillRandom(15), s.setIndex({0, 0, 0, 0}, -2);
  gather(2, y, s, out2, 1);
  expectGather(out2, y, s, 4, 0, 3, "i32 gather at axis 3 (the last) by a scalar");
  Tensor w(2, {1, 1, 13, 4}), wi(4, {1, 2, 3, 2}), out3(2, {2, 3, 2, 4}, 2);
  w.fillRandom(16);
  n = 0;
  wi.each([&](const Index &i) { wi.setIndex(i, (n++ * 5) % 26 - 13); });
  gather(3, w, wi, out3, 1);
  expectGather(out3, w, wi, 2, 3, 0, "bf16 gather by rank-3 i32 indices");
  Tensor z(8, {1, 1, 5, 6}), zi(8, {1, 1, 1, 8}, 2), out4(8, {1, 1, 5, 8});
  z.fillRandom(17);
  long long pz[8] = {0, 5, -6, -1, 2, 2, 4, 3};
  n = 0;
  zi.each([&](const Index &i) { zi.setIndex(i, pz[n++]); });
  gather(4, z, zi, out4, 1);
  expectGather(out4, z, zi, 2, 1, 1, "i64 gather at axis 1");
  EXPECT_TRUE(faults_.empty());
}

// The attention mask's gather (gather 5): a flattened [batch * total, 1] bool
// by [batch, 1, 1, total] positions, out [batch, 1, 1, total, 1] passed as
// [batch, total] (its statically-1 dimensions removed), against a plain loop
// over the rank-5 result.
TEST_P(CudaEmittedData, GatherMaskRankFiveFolded) {
  const long long batch = 3, total = 37;
  Tensor mask(1, {1, 1, batch * total, 1}), pos(8, {batch, 1, 1, total}, 2), out(1, {1, 1, batch, total}, 3);
  mask.fillRandom(21);
  std::mt19937 rng(22);
  pos.each([&](const Index &i) { pos.setIndex(i, (long long)(rng() % (2 * batch * total)) - batch * total); });
  gather(5, mask, pos, out, 1); // 111 elements
  expectAll(out, [&](const Index &o) {
    // out5[b, 0, 0, t, 0] = mask[pos[b, 0, 0, t] (wrapped), 0]; out's [b, t] is its element.
    long long k = pos.getIndex({o[2], 0, 0, o[3]});
    if (k < 0) k += batch * total;
    return mask.element({0, 0, k, 0});
  }, "the mask's rank-5 gather, folded");
  EXPECT_TRUE(faults_.empty());
  // A view folded away must be 1 where the kernel's view keeps it: the launch line says so.
  if (launcher_) {
    Tensor wide(8, {batch, 2, 1, total});
    bmc::Status s = launcher_->launch("bmck.gather", 5,
                                      {{"data", bmc::device::LaunchValue::of(mask.v)},
                                       {"indices", bmc::device::LaunchValue::of(wide.v)},
                                       {"out", bmc::device::LaunchValue::of(out.v)}});
    EXPECT_FALSE(s);
    EXPECT_EQ(s.message(), "launch bmck.gather 5: gather 5: indices of size 2 in dimension 1, expected 1 (out's "
                           "dimension 1 is 1)");
  }
}

// ONNX Range's length, written here from the spec: max(ceil((limit - start) / delta), 0).
long long rangeLength(long long start, long long limit, long long delta) {
  long long span = limit - start, q = span / delta;
  if (q * delta != span && ((span < 0) == (delta < 0))) ++q; // ceil where the exact quotient is positive
  return std::max(q, 0LL);
}

// bmck.range (i64 and i32) against a plain loop: odd lengths over several
// blocks and one (the grid-stride loop), negative deltas, a strided out, and
// empty ranges (nothing written).
TEST_P(CudaEmittedData, RangeAgainstLoop) {
  struct Case { long long start, limit, delta; unsigned blocks; };
  const Case cases[] = {{0, 1001, 1, 4}, {5, 1000, 7, 1}, {-3, -1000, -3, 2}, {100, 1, -1, 1}, {7, -2, -3, 1},
                        {0, 0, 1, 1}, {5, 4, 2, 1}, {-5, 3, -1, 1}, {1LL << 40, (1LL << 40) + 999, 2, 1}};
  for (int index = 0; index < 2; ++index) {
    size_t width = index == 0 ? 8 : 4;
    for (const Case &c : cases) {
      if (width == 4 && (c.start > INT32_MAX || c.limit > INT32_MAX)) continue;
      long long n = rangeLength(c.start, c.limit, c.delta);
      std::string what = std::string(index == 0 ? "i64" : "i32") + " range(" + std::to_string(c.start) + ", " +
                         std::to_string(c.limit) + ", " + std::to_string(c.delta) + ")";
      Tensor out(width, {1, 1, 1, n}, 2);
      if (n == 0 && launcher_) { // the plan launches nothing; out stays the marker
        bmc::Status s = launcher_->launch("bmck.range", index,
                                          {{"start", bmc::device::LaunchValue::integer(c.start)},
                                           {"delta", bmc::device::LaunchValue::integer(c.delta)},
                                           {"out", bmc::device::LaunchValue::of(out.v)}});
        EXPECT_TRUE(s) << what << ": " << s.message();
      } else {
        range(index, c.start, c.delta, out, c.blocks);
      }
      std::vector<unsigned char> want(8);
      expectAll(out, [&](const Index &i) {
        long long v = c.start + i[3] * c.delta;
        int32_t v32 = int32_t(v);
        std::memcpy(want.data(), width == 8 ? (const void *)&v : (const void *)&v32, width);
        return want.data();
      }, what.c_str());
    }
  }
}

// An index out of range after the wrap (37 and -38 of 37 rows): one fault
// read back (the first a thread recorded: 37, or -1 after -38's wrap; of a
// dimension of 37), nothing written in those rows (never a clamped read: a
// clamp would write row 36 or 0 there), the row in range copied. Then the
// same launch with every index in range: no fault, the word was cleared, and
// on a GPU the context is still usable (no trap).
TEST_P(CudaEmittedData, GatherIndexOutOfRangeFaults) {
  Tensor table(4, {1, 1, 37, 8}), ids(8, {1, 1, 1, 3}), out(4, {1, 1, 3, 8});
  table.fillRandom(18);
  ids.setIndex({0, 0, 0, 0}, 37), ids.setIndex({0, 0, 0, 1}, 4), ids.setIndex({0, 0, 0, 2}, -38);
  gather(0, table, ids, out, 1);
  ASSERT_EQ(faults_.size(), 1u);
  EXPECT_TRUE(faults_[0].index == 37 || faults_[0].index == -1) << faults_[0].index;
  EXPECT_EQ(faults_[0].size, 37);
  for (long long e = 0; e < 8; ++e) {
    EXPECT_EQ(out.element({0, 0, 0, e})[0], kMarker);
    EXPECT_EQ(std::memcmp(out.element({0, 0, 1, e}), table.element({0, 0, 4, e}), 4), 0);
    EXPECT_EQ(out.element({0, 0, 2, e})[0], kMarker);
  }
  faults_.clear();
  Tensor out2(4, {1, 1, 3, 8});
  ids.setIndex({0, 0, 0, 0}, 36), ids.setIndex({0, 0, 0, 2}, -37);
  gather(0, table, ids, out2, 1);
  EXPECT_TRUE(faults_.empty());
  expectGather(out2, table, ids, 2, 2, 0, "the gather after a fault");
}

// Dimensions 1 and 2 of `t`'s view swapped: a transposed view of its storage.
void swap12(Tensor &t) {
  std::swap(t.v.size[1], t.v.size[2]);
  std::swap(t.v.stride[1], t.v.stride[2]);
}

// A copy reads x at out's index, whatever x's strides: out[i] == x[i].
TEST_P(CudaEmittedData, CopyTransposedAndStrided) {
  // Attention's output [batch, heads, seq, head_dim] read as [batch, seq, heads, head_dim].
  Tensor x(4, {2, 3, 5, 7}, 2), out(4, {2, 5, 3, 7});
  x.fillRandom(21);
  swap12(x);
  copy(0, x, out, 1); // 210 elements
  expectAll(out, [&](const Index &i) { return x.element(i); }, "f32 copy of a transposed view");
  Tensor big(4, {3, 5, 11, 13}), out2(4, {3, 11, 5, 13}, 3);
  big.fillRandom(22);
  swap12(big);
  copy(0, big, out2, 3); // 2145 elements over 768 threads: the grid-stride loop
  expectAll(out2, [&](const Index &i) { return big.element(i); }, "f32 copy, grid-stride, strided out");
  Tensor u(2, {1, 1, 9, 5}, 3), out3(2, {1, 1, 9, 5});
  u.fillRandom(23);
  copy(1, u, out3, 1);
  expectAll(out3, [&](const Index &i) { return u.element(i); }, "f16 copy of a strided rank-2 view");
  Tensor v(8, {1, 1, 1, 17}, 2), out4(8, {1, 1, 1, 17});
  v.fillRandom(24);
  copy(2, v, out4, 1);
  expectAll(out4, [&](const Index &i) { return v.element(i); }, "i64 copy, rank 1");
}

// A failed check launches nothing: out keeps its marker bytes.
TEST(CudaEmittedDataLauncher, FailedChecksLaunchNothing) {
  using namespace bmc::device;
  bmc_device_test::EmittedEnv env(false, kTable, BMC_EMITTED_CU);
  BMC_EMITTED_ENV_OR_SKIP(env);
  EmittedLauncher &launcher = *env.launcher;
  Tensor past(4, {3, 2, 5, 16}), fresh(4, {3, 2, 1, 15}), out(4, {3, 2, 6, 16});
  past.fillRandom(19), fresh.fillRandom(20);
  bmc::Status s = launcher.launch(
      "bmck.concat", 0,
      {{"x0", LaunchValue::of(past.v)}, {"x1", LaunchValue::of(fresh.v)}, {"out", LaunchValue::of(out.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.concat 0: concat 0: x1 of size 15 in dimension 3, out of 16");
  Tensor fresh2(4, {3, 2, 2, 16});
  s = launcher.launch(
      "bmck.concat", 0,
      {{"x0", LaunchValue::of(past.v)}, {"x1", LaunchValue::of(fresh2.v)}, {"out", LaunchValue::of(out.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.concat 0: concat 0: inputs of 5 + 2 along dimension 2, out of 6");
  Tensor table(4, {1, 1, 37, 96}), ids(8, {1, 1, 2, 7}), wrong(4, {1, 2, 7, 95});
  s = launcher.launch("bmck.gather", 0,
                      {{"data", LaunchValue::of(table.v)}, {"indices", LaunchValue::of(ids.v)},
                       {"out", LaunchValue::of(wrong.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.gather 0: gather 0: out of size 95 in dimension 3, expected 96 (dimension 3 "
                         "of data)");
  Tensor x(4, {2, 3, 5, 7}), copied(4, {2, 3, 4, 7});
  x.fillRandom(25);
  s = launcher.launch("bmck.copy", 0, {{"x", LaunchValue::of(x.v)}, {"out", LaunchValue::of(copied.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.copy 0: copy 0: out of size 4 in dimension 2, x of 5");
  Tensor u(2, {2, 1, 9, 5}), u2(2, {1, 1, 9, 5});
  s = launcher.launch("bmck.copy", 1, {{"x", LaunchValue::of(u.v)}, {"out", LaunchValue::of(u2.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.copy 1: copy 1: x of size 2 in dimension 0, expected 1");
  // A range of delta 0 has no length (ONNX; the CPU's error): refused by the launch line (`!=`).
  Tensor r(8, {1, 1, 1, 5});
  s = launcher.launch("bmck.range", 0,
                      {{"start", LaunchValue::integer(3)}, {"delta", LaunchValue::integer(0)}, {"out", LaunchValue::of(r.v)}});
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "launch bmck.range 0: range 0: delta must be non-zero");
  ASSERT_TRUE(env.device->synchronize());
  for (unsigned char b : out.bytes) ASSERT_EQ(b, kMarker);
  for (unsigned char b : wrong.bytes) ASSERT_EQ(b, kMarker);
  for (unsigned char b : copied.bytes) ASSERT_EQ(b, kMarker);
  for (unsigned char b : u2.bytes) ASSERT_EQ(b, kMarker);
  for (unsigned char b : r.bytes) ASSERT_EQ(b, kMarker);
}

} // namespace
