//===- WeightPlan.cpp - lay out and fill the weight blob -------------------===//

#include "compiler/WeightPlan.h"

#include "bmc/abi/kernels.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

namespace bmc {

int64_t WeightPlan::place(int64_t bytes) {
  int64_t off = (total_ + 63) & ~int64_t(63);
  total_ = off + bytes;
  return off;
}

int64_t WeightPlan::request(const std::string &name, WeightEntry::Kind kind, int64_t bytes, int64_t k,
                            int64_t n) {
  auto key = std::make_tuple(name, int(kind), k, n);
  auto it = index_.find(key);
  if (it != index_.end()) return entries_[it->second].offset;
  WeightEntry e;
  e.kind = kind;
  e.name = name;
  e.k = k;
  e.n = n;
  // The dot layouts have the sizes of the layouts they are rewritten from.
  const bool q8 = WeightEntry::quantBits(kind) == 8, q4 = WeightEntry::quantBits(kind) == 4;
  e.bytes = kind == WeightEntry::Raw      ? bytes
            : WeightEntry::w16Type(kind) ? bmc_pack_w16_bytes(k, n)
            : q8                         ? bmc_pack_q8_bytes(k, n)
            : q4                         ? bmc_pack_q4_bytes(k, n)
                                         : bmc_pack_b_f32_bytes(k, n);
  e.offset = place(e.bytes);
  index_[key] = entries_.size();
  entries_.push_back(std::move(e));
  return entries_.back().offset;
}

int64_t WeightPlan::constant(const void *data, size_t bytes) {
  std::vector<uint8_t> v(static_cast<const uint8_t *>(data), static_cast<const uint8_t *>(data) + bytes);
  auto it = constIndex_.find(v);
  if (it != constIndex_.end()) return entries_[it->second].offset;
  WeightEntry e;
  e.kind = WeightEntry::Constant;
  e.bytes = int64_t(bytes);
  e.offset = place(e.bytes);
  e.data = v;
  constIndex_[v] = entries_.size();
  entries_.push_back(std::move(e));
  return entries_.back().offset;
}

bool WeightPlan::build(const WeightStore &store, std::vector<uint8_t> &blob, std::string &error) const {
  blob.assign(size_t(total_), 0);
  return buildInto(store, blob.data(), error);
}

/// Drops a file-mapped weight's pages from this process once it has been
/// packed: the source and the packed copy are not both held in memory (peak
/// memory ~ the packed weights, not twice). Read again, it refaults from the
/// file.
static void dropSourcePages(const Weight &w) {
  if (!w.fileMapped || w.bytes == 0) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = uintptr_t(w.data) & ~(page - 1), end = (uintptr_t(w.data) + w.bytes + page - 1) & ~(page - 1);
  madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

bool WeightPlan::buildInto(const WeightStore &store, uint8_t *blob, std::string &error, int threads) const {
  // The alignment gaps between entries are zeroed, as a package's are: the
  // blob is the same bytes whatever memory it was given (the JIT's comes
  // from aligned_alloc, which may hand back a freed model's bytes).
  {
    std::vector<std::pair<int64_t, int64_t>> spans; // (offset, end), by offset
    spans.reserve(entries_.size());
    for (const WeightEntry &e : entries_) spans.emplace_back(e.offset, e.offset + e.bytes);
    std::sort(spans.begin(), spans.end());
    int64_t at = 0;
    for (const auto &[begin, end] : spans) {
      if (begin > at) std::memset(blob + at, 0, size_t(begin - at));
      at = std::max(at, end);
    }
    if (total_ > at) std::memset(blob + at, 0, size_t(total_ - at));
  }
  // Largest first: a source tensor's pages stay resident until it is packed,
  // so the peak (all of the blob touched) then comes with a small source
  // tensor, not with the embedding or the head (115 MB each on an 8-layer
  // Llama of vocabulary 32000: peak RSS 1.31x -> 1.15x the weights).
  std::vector<const WeightEntry *> order;
  order.reserve(entries_.size());
  for (const WeightEntry &e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const WeightEntry *a, const WeightEntry *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->offset < b->offset;
  });
  if (threads <= 1) {
    for (const WeightEntry *e : order)
      if (!fill(store, *e, blob + e->offset, error)) return false;
    return true;
  }
  // Each entry onto the least loaded thread, largest first (the order
  // above). Packing is mostly first touches of the blob's fresh pages (the
  // kernel zeroing them) and packPanels: both scale with threads. Entries
  // write disjoint bytes; two entries of one source tensor may both read it
  // (one's dropSourcePages only makes the other refault it from the file).
  const size_t n = size_t(threads);
  std::vector<std::vector<const WeightEntry *>> work(n);
  std::vector<int64_t> load(n, 0);
  for (const WeightEntry *e : order) {
    const size_t least = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    work[least].push_back(e);
    load[least] += e->bytes;
  }
  std::vector<std::string> errors(n);
  std::vector<char> ok(n, 1);
  auto run = [&](size_t t) {
    try {
      for (const WeightEntry *e : work[t])
        if (!fill(store, *e, blob + e->offset, errors[t])) {
          ok[t] = 0;
          return;
        }
    } catch (const std::exception &ex) { // nothing escapes a thread: it becomes the error
      ok[t] = 0;
      errors[t] = std::string("packing the weights: ") + ex.what();
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(run, t);
  run(0);
  for (std::thread &th : pool) th.join();
  for (size_t t = 0; t < n; ++t)
    if (!ok[t]) {
      error = errors[t];
      return false;
    }
  return true;
}

bool WeightPlan::fill(const WeightStore &store, const WeightEntry &e, uint8_t *dst, std::string &error) {
  struct DropAfter {
    const Weight *w = nullptr;
    ~DropAfter() {
      if (w) dropSourcePages(*w);
    }
  } drop;
  if (e.kind == WeightEntry::Constant) {
    std::memcpy(dst, e.data.data(), e.data.size());
    return true;
  }
  const Weight *w = store.find(e.name);
  if (!w) {
    error = "weight '" + e.name + "' is missing from the weight store";
    return false;
  }
  const int bits = WeightEntry::quantBits(e.kind);
  const bool dot = WeightEntry::dotLayout(e.kind), trans = WeightEntry::transposed(e.kind);
  drop.w = w;
  if (const int t = WeightEntry::w16Type(e.kind)) {
    static_assert(BMC_KV_BF16 == 1 && BMC_KV_F16 == 2, "WeightEntry::w16Type's values");
    const char *tn = t == BMC_KV_BF16 ? "bf16" : "f16";
    // ONNX FLOAT (rounded), or FLOAT16 / BFLOAT16 of the same type (copied).
    const int32_t src = w->dtype == 1 ? BMC_KV_F32 : w->dtype == 10 ? BMC_KV_F16 : w->dtype == 16 ? BMC_KV_BF16 : -1;
    if (w->quantBits || (src != BMC_KV_F32 && src != t) || w->dims.size() != 2 ||
        w->dims[0] != (trans ? e.n : e.k) || w->dims[1] != (trans ? e.k : e.n)) {
      error = "weight '" + e.name + "': expected a 2-D FLOAT" + (t == BMC_KV_BF16 ? " or BFLOAT16" : " or FLOAT16") +
              " matrix to pack as " + tn + ", found " + dtypeName(w->dtype);
      return false;
    }
    if (bmc_pack_w16(t, w->data, src, e.k, e.n, w->dims[1], trans ? 1 : 0, dst) != 0) {
      error = "weight '" + e.name + "' holds a value beyond fp16's range (|w| >= 65520): it cannot be stored as f16 "
              "(use --weights bf16 or f32)";
      return false;
    }
    return true;
  }
  if (w->quantBits) { // codes imported from MatMulNBits, already in bmc's layout
    const bool ok = w->quantBits == bits && !trans;
    if (!ok || int64_t(w->bytes) != e.bytes || w->dims.size() != 2 || w->dims[0] != e.k || w->dims[1] != e.n) {
      error = "weight '" + e.name + "' holds int" + std::to_string(w->quantBits) +
              " MatMulNBits codes: only a matmul can read it, here it is used otherwise";
      return false;
    }
    if (!dot)
      std::memcpy(dst, w->data, w->bytes);
    else
      (bits == 8 ? bmc_q8_to_dot : bmc_q4_to_dot)(w->data, e.k, e.n, dst);
    return true;
  }
  if (e.kind == WeightEntry::Raw) {
    if (int64_t(w->bytes) != e.bytes) {
      error = "weight '" + e.name + "': expected " + std::to_string(e.bytes) + " bytes, found " +
              std::to_string(w->bytes);
      return false;
    }
    std::memcpy(dst, w->data, w->bytes);
    return true;
  }
  const bool q8 = bits == 8, q4 = bits == 4;
  if (w->dtype != 1 || w->dims.size() != 2 || w->dims[0] != (trans ? e.n : e.k) ||
      w->dims[1] != (trans ? e.k : e.n)) {
    error = "weight '" + e.name + "': expected a 2-D FLOAT matrix to pack";
    return false;
  }
  const float *src = reinterpret_cast<const float *>(w->data);
  if (!q8 && !q4) {
    bmc_pack_b_f32(src, e.k, e.n, w->dims[1], trans ? 1 : 0, dst);
    return true;
  }
  // The dot layouts: quantized into a scratch copy, then rewritten.
  std::vector<uint8_t> scratch(dot ? size_t(e.bytes) : 0);
  uint8_t *to = dot ? scratch.data() : dst;
  if ((q8 ? bmc_pack_q8 : bmc_pack_q4)(src, e.k, e.n, w->dims[1], trans ? 1 : 0, to) != 0) {
    error = "weight '" + e.name + "' holds a NaN or an infinity: it cannot be quantized to " +
            std::string(q8 ? "int8" : "int4") + " (use --weights f32)";
    return false;
  }
  if (dot) (q8 ? bmc_q8_to_dot : bmc_q4_to_dot)(scratch.data(), e.k, e.n, dst);
  return true;
}

} // namespace bmc
