//===- runtime/device/DeviceKVCache.h - one KV buffer on a Device --*- C++ -*-===//
//
// The BMC cache's buffer in a device's memory, rows outermost:
// [capacity, batch, heads, head_dim] of `elemBytes`-sized elements (the
// bmc_kv_buffer layout, runtime/device/cuda/decode_attention_params.h), rows
// < valid used, the rest spare. Growth follows the session's policy: bmc
// mode grows to needed + r - 1 rows (one growth every r tokens), prealloc
// takes the whole context at once.
//
// Rows outermost so that growth only appends: where the device has growable
// buffers (VMM on CUDA, a PROT_NONE reservation on the CPU) the whole context
// is reserved once and a growth commits memory behind the buffer's end. The
// base and every valid row stay where they are, so growth copies nothing
// whatever batch x heads (docs/DESIGN.md "Device KV layout" has the numbers
// against the [batch, heads, rows, dim] layout this replaced, whose growth
// moved every block but the first). Without growable buffers each growth
// allocates anew and copies the valid rows in one contiguous copy.
// Committed memory stays O(capacity): the rows beyond capacity are address
// space only.
//
// Used by DeviceGeneration (a program's tokens on a device), under a device Session.
// Thread safety: one owner; growth uses the device's copies.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_RUNTIME_DEVICE_DEVICEKVCACHE_H
#define BMC_RUNTIME_DEVICE_DEVICEKVCACHE_H

#include "runtime/device/Device.h"

#include <memory>

namespace bmc {
namespace device {

struct DeviceKVOptions {
  int64_t batch = 1, heads = 1, headDim = 0;
  int64_t elemBytes = 4;   // 4 (f32) or 2 (f16, bf16)
  int64_t maxRows = 0;     // the context limit: capacity never exceeds it
  bool prealloc = false;   // false: bmc (needed + r - 1 rows); true: maxRows at once
  int64_t r = 16;          // spare rows per growth in bmc mode (>= 1)
  bool useGrowable = true; // use the device's growable buffers when it has them
};

struct DeviceKVStats {
  int64_t growths = 0;
  int64_t bytesCopied = 0;    // valid rows copied by growths (0 with growable buffers)
  int64_t copiesInPlace = 0;  // growths inside the reservation (base unchanged, nothing copied)
};

class DeviceKVCache {
public:
  // Checks the options (one-line errors) and, for a growable device, reserves
  // maxRows of address space; nothing is committed before ensureCapacity().
  static Result<std::unique_ptr<DeviceKVCache>> create(Device &device, const DeviceKVOptions &o);
  ~DeviceKVCache();

  // Makes room for `needed` rows with the first `valid` rows of every block
  // kept (valid <= the current capacity). An error past maxRows changes nothing.
  Status ensureCapacity(int64_t needed, int64_t valid);

  // The spare rows of the next growths in bmc mode (>= 1; a cost model's
  // choice at each growth, DeviceGeneration's chooseR). Errors name the value.
  Status setR(int64_t r);
  int64_t r() const { return opts_.r; }

  DevicePtr data() const { return data_; }
  int64_t capacity() const { return capacity_; }
  int64_t rowBytes() const { return opts_.headDim * opts_.elemBytes; } // one row of one head
  int64_t blocks() const { return opts_.batch * opts_.heads; }
  // Address of row `row` of (b, h): rows are rowStride() bytes apart.
  DevicePtr row(int64_t b, int64_t h, int64_t row) const;
  int64_t rowStride() const { return blocks() * rowBytes(); } // one token, all [batch, head]
  size_t committedBytes() const;
  bool growable() const { return growable_ != nullptr; }
  const DeviceKVStats &stats() const { return stats_; }

private:
  DeviceKVCache(Device &device, const DeviceKVOptions &o) : dev_(device), opts_(o) {}
  Device &dev_;
  DeviceKVOptions opts_;
  std::unique_ptr<GrowableBuffer> growable_;
  DevicePtr data_ = 0; // growable_->base(), or an allocate()d buffer
  int64_t capacity_ = 0;
  DeviceKVStats stats_;
};

} // namespace device
} // namespace bmc

#endif
