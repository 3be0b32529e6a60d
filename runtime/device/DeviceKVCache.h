//===- runtime/device/DeviceKVCache.h - one KV buffer on a Device --*- C++ -*-===//
//
// The BMC cache's buffer in a device's memory, laid out as the CPU session's
// (runtime/Session.cpp): [batch, heads, capacity, head_dim] rows of
// `elemBytes`-sized elements, rows < valid used, the rest spare. Growth
// follows the session's policy: bmc mode grows to needed + r - 1 rows (one
// growth every r tokens), prealloc takes the whole context at once.
//
// Where the device has growable buffers (VMM on CUDA, a PROT_NONE
// reservation on the CPU) the whole context is reserved once and growth
// commits memory behind it: the base address never changes, block 0 (the
// first [batch, head]) is never copied, and blocks 1.. move to their new
// stride inside the buffer, the last first (non-overlapping pieces, or through
// a scratch buffer when the move is short), so with one block (batch x heads
// = 1) growth copies nothing. Without growable buffers each growth allocates
// anew and copies the valid rows of every block (the CPU session's policy
// outside its reservation). Committed memory stays O(capacity): the spare
// rows beyond capacity are address space only.
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
  int64_t bytesCopied = 0;    // valid rows moved or copied by growths
  int64_t copiesInPlace = 0;  // growths inside the reservation (base unchanged)
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
  // Address of row `row` of block (b, h).
  DevicePtr row(int64_t b, int64_t h, int64_t row) const;
  size_t committedBytes() const;
  bool growable() const { return growable_ != nullptr; }
  const DeviceKVStats &stats() const { return stats_; }

private:
  DeviceKVCache(Device &device, const DeviceKVOptions &o) : dev_(device), opts_(o) {}
  // Moves blocks 1.. from stride oldRows to newRows, last first.
  Status moveBlocks(int64_t oldRows, int64_t newRows, int64_t valid);

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
