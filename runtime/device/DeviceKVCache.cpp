//===- runtime/device/DeviceKVCache.cpp - one KV buffer on a Device -------===//

#include "runtime/device/DeviceKVCache.h"

#include <algorithm>
#include <string>

namespace bmc {
namespace device {

Result<std::unique_ptr<DeviceKVCache>> DeviceKVCache::create(Device &device,
                                                             const DeviceKVOptions &o) {
  auto bad = [](const std::string &what) { return Status::error("device KV cache: " + what); };
  if (o.batch < 1 || o.heads < 1 || o.headDim < 1)
    return bad("batch " + std::to_string(o.batch) + ", heads " + std::to_string(o.heads) +
               ", head_dim " + std::to_string(o.headDim) + ": each must be at least 1");
  if (o.elemBytes != 4 && o.elemBytes != 2)
    return bad("element size " + std::to_string(o.elemBytes) + " bytes (expected 4 or 2)");
  if (o.maxRows < 1)
    return bad("maxRows " + std::to_string(o.maxRows) + " (expected at least 1)");
  if (!o.prealloc && o.r < 1)
    return bad("r " + std::to_string(o.r) + " spare rows (expected at least 1)");
  std::unique_ptr<DeviceKVCache> c(new DeviceKVCache(device, o));
  if (o.useGrowable && device.properties().growableBuffers) {
    size_t bytes = size_t(o.maxRows * c->rowStride());
    auto g = device.reserveGrowable(bytes);
    if (!g)
      return g.status();
    c->growable_ = std::move(g.value());
    c->data_ = c->growable_->base();
  }
  return c;
}

DeviceKVCache::~DeviceKVCache() {
  if (!growable_ && data_)
    (void)dev_.free(data_);
}

Status DeviceKVCache::setR(int64_t r) {
  if (r < 1)
    return Status::error("device KV cache: r " + std::to_string(r) + " spare rows (expected at least 1)");
  opts_.r = r;
  return Status();
}

DevicePtr DeviceKVCache::row(int64_t b, int64_t h, int64_t r) const {
  return data_ + DevicePtr(r * rowStride() + (b * opts_.heads + h) * rowBytes());
}

size_t DeviceKVCache::committedBytes() const {
  if (growable_)
    return growable_->committedBytes();
  return size_t(capacity_ * rowStride());
}

Status DeviceKVCache::ensureCapacity(int64_t needed, int64_t valid) {
  if (needed <= capacity_)
    return Status();
  if (needed > opts_.maxRows)
    return Status::error("device KV cache: " + std::to_string(needed) +
                         " rows needed, past the context limit of " +
                         std::to_string(opts_.maxRows) + " rows");
  if (valid < 0 || valid > capacity_)
    return Status::error("device KV cache: " + std::to_string(valid) + " valid rows with a capacity of " +
                         std::to_string(capacity_));
  int64_t cap = opts_.prealloc ? opts_.maxRows : std::min(needed + opts_.r - 1, opts_.maxRows);
  size_t bytes = size_t(cap * rowStride());
  if (growable_) {
    // Rows outermost: the valid rows are a prefix of the buffer, which grows at its end.
    if (Status s = growable_->grow(bytes); !s)
      return s;
    if (capacity_ > 0)
      ++stats_.copiesInPlace;
  } else {
    auto fresh = dev_.allocate(bytes);
    if (!fresh)
      return fresh.status();
    const int64_t validBytes = valid * rowStride();
    if (validBytes > 0) {
      if (Status s = dev_.copyOnDevice(fresh.value(), data_, size_t(validBytes)); !s) {
        (void)dev_.free(fresh.value());
        return s;
      }
      stats_.bytesCopied += validBytes;
    }
    if (data_)
      (void)dev_.free(data_);
    data_ = fresh.value();
  }
  capacity_ = cap;
  ++stats_.growths;
  return Status();
}

} // namespace device
} // namespace bmc
