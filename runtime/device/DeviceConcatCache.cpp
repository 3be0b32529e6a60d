//===- runtime/device/DeviceConcatCache.cpp - concat-mode caches on a Device -===//

#include "runtime/device/DeviceConcatCache.h"
#include "runtime/device/DeviceProgramDesc.h" // programDimsText, programTypeBytes

namespace bmc {
namespace device {

namespace {

// PyTorch's caching allocator's rounding: small blocks to 512 bytes, large ones to 2 MiB.
size_t rounded(size_t bytes) {
  const size_t unit = bytes > (size_t(1) << 20) ? size_t(2) << 20 : 512;
  return (bytes + unit - 1) / unit * unit;
}

} // namespace

Result<std::unique_ptr<DeviceConcatCaches>> DeviceConcatCaches::create(Device &device, std::vector<Spec> specs) {
  std::unique_ptr<DeviceConcatCaches> c(new DeviceConcatCaches(device));
  for (Spec &s : specs) {
    if (s.type != "f32" && s.type != "f16" && s.type != "bf16")
      return Status::error("concat cache '" + s.past + "' of " + s.type + " (expected f32, f16 or bf16)");
    if (s.heads < 1 || s.headDim < 1)
      return Status::error("concat cache '" + s.past + "': " + std::to_string(s.heads) + " heads of dimension " +
                           std::to_string(s.headDim) + " (expected static, positive)");
    c->caches_.push_back({std::move(s), DeviceTensor{}});
  }
  auto e = device.allocate(256);
  if (!e)
    return e.status();
  c->empty_ = *e;
  return c;
}

DeviceConcatCaches::~DeviceConcatCaches() {
  for (auto &[p, b] : pool_)
    (void)device_.free(p);
  if (empty_)
    (void)device_.free(empty_);
}

Result<DevicePtr> DeviceConcatCaches::take(size_t bytes) {
  auto best = pool_.end();
  for (auto it = pool_.begin(); it != pool_.end(); ++it)
    if (it->second.free && it->second.bytes >= bytes && (best == pool_.end() || it->second.bytes < best->second.bytes))
      best = it;
  if (best != pool_.end()) {
    best->second.free = false;
    return best->first;
  }
  // None fits: the free ones are smaller (the caches grow), freed before a new one.
  for (auto it = pool_.begin(); it != pool_.end();)
    if (it->second.free) {
      stats_.bytesPooled -= int64_t(it->second.bytes);
      (void)device_.free(it->first);
      it = pool_.erase(it);
    } else {
      ++it;
    }
  const size_t size = rounded(bytes);
  auto p = device_.allocate(size);
  if (!p)
    return p.status();
  pool_[*p] = Buffer{size, false};
  stats_.bytesPooled += int64_t(size), ++stats_.deviceAllocations;
  return *p;
}

void DeviceConcatCaches::give(DevicePtr p) {
  if (auto it = pool_.find(p); it != pool_.end())
    it->second.free = true;
}

void DeviceConcatCaches::bind(ProgramInputs &in, ProgramKept &kept, int64_t batch) {
  kept.names.clear(), kept.tensors.clear();
  for (const Cache &c : caches_) {
    DeviceTensor past = c.rows;
    if (!past.data) // before the first run: [batch, heads, 0, head_dim]
      past = DeviceTensor{empty_, c.spec.type, {batch, c.spec.heads, 0, c.spec.headDim}};
    in.onDevice[c.spec.past] = past;
    kept.names.push_back(c.spec.present);
  }
  kept.allocate = [this](size_t bytes) { return take(bytes); };
  kept.release = [this](DevicePtr p) { give(p); };
}

Status DeviceConcatCaches::commit(ProgramKept &kept, int64_t batch, int64_t rows) {
  Status bad;
  for (const Cache &c : caches_) {
    auto it = kept.tensors.find(c.spec.present);
    const std::vector<int64_t> want = {batch, c.spec.heads, rows, c.spec.headDim};
    if (it == kept.tensors.end())
      bad = Status::error("concat cache '" + c.spec.past + "': the run kept no '" + c.spec.present + "'");
    else if (it->second.dims != want || it->second.type != c.spec.type)
      bad = Status::error("concat cache '" + c.spec.past + "': present '" + c.spec.present + "' of " +
                          it->second.type + " " + programDimsText(it->second.dims) + ", expected " + c.spec.type +
                          " " + programDimsText(want));
    if (!bad)
      break;
  }
  if (!bad) {
    for (auto &[name, t] : kept.tensors)
      give(t.data);
    kept.tensors.clear();
    return bad;
  }
  stats_.bytesLive = 0;
  for (Cache &c : caches_) {
    DeviceTensor &present = kept.tensors[c.spec.present];
    if (c.rows.data)
      give(c.rows.data);
    c.rows = present;
    const int64_t bytes = batch * c.spec.heads * rows * c.spec.headDim * programTypeBytes(c.spec.type);
    stats_.bytesLive += bytes, stats_.bytesCopied += bytes, ++stats_.concats;
  }
  kept.tensors.clear();
  return Status();
}

Status DeviceConcatCaches::crop(int64_t keep) {
  for (const Cache &c : caches_)
    if (keep < 0 || keep > (c.rows.data ? c.rows.dims[2] : 0))
      return Status::error("concat cache '" + c.spec.past + "': crop to " + std::to_string(keep) + " rows of " +
                           std::to_string(c.rows.data ? c.rows.dims[2] : 0));
  // Every cache's copy first, then the swap: a failure leaves them all as they were.
  std::vector<DevicePtr> cropped(caches_.size(), 0);
  auto undo = [&](const Status &st) {
    for (DevicePtr p : cropped)
      if (p)
        give(p);
    return st;
  };
  for (size_t i = 0; i < caches_.size(); ++i) {
    const Cache &c = caches_[i];
    if (keep == 0 || keep == c.rows.dims[2])
      continue;
    const size_t rowBytes = size_t(c.spec.headDim * programTypeBytes(c.spec.type));
    const int64_t blocks = c.rows.dims[0] * c.rows.dims[1], had = c.rows.dims[2];
    auto p = take(size_t(blocks * keep) * rowBytes);
    if (!p)
      return undo(Status::error("concat cache '" + c.spec.past + "': crop to " + std::to_string(keep) +
                                " rows: " + p.status().message()));
    cropped[i] = *p;
    for (int64_t b = 0; b < blocks; ++b) // each [batch, head]'s first rows
      if (Status st = device_.copyOnDevice(*p + DevicePtr(size_t(b * keep) * rowBytes),
                                           c.rows.data + DevicePtr(size_t(b * had) * rowBytes),
                                           size_t(keep) * rowBytes);
          !st)
        return undo(Status::error("concat cache '" + c.spec.past + "': crop: " + st.message()));
    stats_.bytesCopied += int64_t(size_t(blocks * keep) * rowBytes);
  }
  stats_.bytesLive = 0;
  for (size_t i = 0; i < caches_.size(); ++i) {
    Cache &c = caches_[i];
    if (keep == 0) {
      clear();
      return Status();
    }
    if (cropped[i])
      give(c.rows.data), c.rows.data = cropped[i], c.rows.dims[2] = keep;
    stats_.bytesLive += c.rows.dims[0] * c.rows.dims[1] * keep * c.spec.headDim * programTypeBytes(c.spec.type);
  }
  return Status();
}

void DeviceConcatCaches::clear() {
  for (Cache &c : caches_)
    if (c.rows.data)
      give(c.rows.data), c.rows = DeviceTensor{};
  stats_.bytesLive = 0;
}

} // namespace device
} // namespace bmc
