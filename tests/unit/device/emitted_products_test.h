// What the tests of the emitted products share (cuda_emitted_matmul_test.cpp
// defines it, with the emitted kernels' host table; cuda_emitted_wire_test.cpp
// uses it in the same binary): tensors stored with offsets, strides and NaN
// between their elements, the emitted kernels on the CPU device or a GPU
// behind an EmittedLauncher (emitted_env.h), and plain-loop references.
#ifndef BMC_TESTS_UNIT_DEVICE_EMITTED_PRODUCTS_TEST_H
#define BMC_TESTS_UNIT_DEVICE_EMITTED_PRODUCTS_TEST_H

#include "bmc/abi/kernels.h" // bmc_convert_kv_to_f32
#include "emitted_env.h"
#include "runtime/device/Device.h"
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h" // ElementType

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace emitted_products {

using bmc::device::DevicePtr;
using bmc::device::ElementType;
using bmc::device::EmittedLauncher;

// The emitter's output for emitted_kernels.mlir (BMC_EMITTED_CU), and its
// kernels as a host table for the CPU device (the emulation).
std::string emittedSource();
const bmc::device::HostKernel *emittedTable(size_t &count);
int kvType(ElementType t);
size_t width(ElementType t);

// A tensor of logical sizes `dims` (rank <= 4) whose values are representable
// in `type`, stored with an offset and strides; the bytes between its
// elements are NaN (f32 / 16-bit), so a read outside the view shows.
struct Tensor {
  std::vector<long long> dims, strides;
  ElementType type = ElementType::F32;
  long long offset = 0;
  std::vector<float> vals; // logical, row-major
  std::vector<unsigned char> bytes;
  DevicePtr dev = 0;

  long long count() const {
    long long n = 1;
    for (long long d : dims) n *= d;
    return n;
  }
  // Logical index (row-major over dims) -> storage element.
  long long storageAt(long long flat) const {
    long long at = offset;
    for (int i = int(dims.size()) - 1; i >= 0; --i) at += (flat % dims[i]) * strides[i], flat /= dims[i];
    return at;
  }
  float at(const std::vector<long long> &idx) const {
    long long flat = 0;
    for (size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + idx[i];
    return vals[flat];
  }
  bmc_view4 view() const {
    bmc_view4 v;
    v.data = reinterpret_cast<const void *>(dev);
    v.offset = offset;
    int lead = 4 - int(dims.size());
    for (int i = 0; i < 4; ++i) {
      v.size[i] = i < lead ? 1 : dims[i - lead];
      v.stride[i] = i < lead ? 12345 : strides[i - lead]; // size 1: never read
    }
    return v;
  }
};

// Strided: inner stride 2 and rows padded by 3; unaligned: offset 3.
Tensor makeTensor(std::vector<long long> dims, ElementType type, unsigned seed, bool strided, bool unaligned);

// The emitted kernels on the CPU device (the emulation) or the GPU
// (emitted_env.h), with the products' uploads and downloads.
struct Env : bmc_device_test::EmittedEnv {
  // `prefill`: the launcher's path for many product rows (the product tests
  // check the tiled reference kernel; cuda_emitted_wire_test the device GEMM).
  explicit Env(bool gpu = false, bmc::device::PrefillPath prefill = bmc::device::PrefillPath::Tiled,
               std::function<void(const std::string &)> notice = {});
  void upload(Tensor &t) {
    t.dev = device->allocate(t.bytes.size()).value();
    ASSERT_TRUE(device->copyToDevice(t.dev, t.bytes.data(), t.bytes.size()).ok());
  }
  DevicePtr upload(const std::vector<uint8_t> &b) {
    DevicePtr p = device->allocate(b.size()).value();
    EXPECT_TRUE(device->copyToDevice(p, b.data(), b.size()).ok());
    return p;
  }
  // The tensor's logical values as the device holds them now.
  std::vector<float> download(const Tensor &t) {
    std::vector<unsigned char> b(t.bytes.size());
    EXPECT_TRUE(device->synchronize().ok());
    EXPECT_TRUE(device->copyToHost(b.data(), t.dev, b.size()).ok());
    std::vector<float> all(b.size() / width(t.type)), out(size_t(t.count()));
    bmc_convert_kv_to_f32(kvType(t.type), b.data(), all.data(), (int64_t)all.size());
    for (long long i = 0; i < t.count(); ++i) out[i] = all[t.storageAt(i)];
    return out;
  }
};

// numpy matmul of a and b (1-D promoted, batch broadcast), with the sum of
// |a||b| per output (the tolerance's scale): out's logical values.
void numpyMatMul(const Tensor &a, const Tensor &b, std::vector<double> &want, std::vector<double> &scale,
                 std::vector<long long> &outDims);
void expectClose(const std::vector<float> &got, const std::vector<double> &want, const std::vector<double> &scale,
                 double rel16, const std::string &what);

} // namespace emitted_products

#endif
