//===- runtime/device/DeviceConcatCache.h - concat-mode caches on a Device -*- C++ -*-===//
//
// The exported graph's KV caches on a device (kv mode concat, the baseline):
// each layer's present = Concat(past, new) is a new buffer every run, fed
// back as the next run's past. The presents stay in device memory: the
// program writes each into a buffer taken here (DeviceProgram's ProgramKept,
// no copy but the graph's Concat itself), and the run's pasts are given back.
// Buffers come from a small caching pool as PyTorch's allocator does for
// Hugging Face's DynamicCache (sizes rounded up: 512 bytes, 2 MiB past
// 1 MiB; a returned buffer serves a later request it fits), so a step
// allocates from the device only when a cache outgrows its rounded size;
// smaller free buffers are freed then (a cache never shrinks but by crop).
// crop() keeps the first rows in new buffers, a copy (DynamicCache.crop's).
//
// Layout: [batch, heads, rows, head_dim], contiguous, the graph's element
// type (f32, or a 16-bit graph's f16 / bf16).
// Thread safety: none; one owner (DeviceGeneration), the device's stream.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICECONCATCACHE_H
#define BMC_RUNTIME_DEVICE_DEVICECONCATCACHE_H

#include "runtime/device/DeviceProgram.h"

#include <memory>
#include <string>
#include <vector>

namespace bmc {
namespace device {

struct DeviceConcatStats {
  int64_t bytesLive = 0;      // the pasts' bytes now
  int64_t bytesPooled = 0;    // taken from the device, live or free in the pool
  int64_t deviceAllocations = 0;
  int64_t concats = 0;        // presents received (one per cache per run)
  int64_t bytesCopied = 0;    // by the graph's Concat (the present's bytes) and by crop
};

class DeviceConcatCaches {
public:
  struct Spec {
    std::string past, present; // the function's input and output names
    std::string type;          // "f32", "f16" or "bf16"
    int64_t heads = 0, headDim = 0;
  };
  static Result<std::unique_ptr<DeviceConcatCaches>> create(Device &device, std::vector<Spec> specs);
  ~DeviceConcatCaches();

  // Feeds each past ([batch, heads, rows, head_dim]; no rows after clear(),
  // then `batch` rows) and asks for each present to stay on the device.
  void bind(ProgramInputs &in, ProgramKept &kept, int64_t batch);
  // After a successful run: each present (batch x heads x `rows` rows, else
  // an error and the presents given back) becomes the past.
  Status commit(ProgramKept &kept, int64_t batch, int64_t rows);
  // Keeps the first `rows` rows of every cache (<= rows now): new buffers, copied.
  Status crop(int64_t rows);
  // No rows (a prefill's start); the buffers go back to the pool.
  void clear();

  size_t size() const { return caches_.size(); }
  const Spec &spec(size_t i) const { return caches_[i].spec; }
  const DeviceTensor &rows(size_t i) const { return caches_[i].rows; }
  const DeviceConcatStats &stats() const { return stats_; }

private:
  explicit DeviceConcatCaches(Device &device) : device_(device) {}
  Result<DevicePtr> take(size_t bytes);
  void give(DevicePtr p);

  struct Cache {
    Spec spec;
    DeviceTensor rows; // data 0: none (the empty past's view is empty_)
  };
  Device &device_;
  std::vector<Cache> caches_;
  DevicePtr empty_ = 0; // a past of no rows still needs an address
  struct Buffer {
    size_t bytes = 0;
    bool free = false;
  };
  std::map<DevicePtr, Buffer> pool_;
  DeviceConcatStats stats_;
};

} // namespace device
} // namespace bmc

#endif
