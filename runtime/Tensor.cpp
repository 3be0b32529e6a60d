//===- Tensor.cpp ----------------------------------------------------------===//

#include "bmc/tensor.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace bmc {

size_t elementSize(DType t) {
  switch (t) {
  case DType::F32: case DType::I32: case DType::U32: return 4;
  case DType::U8: case DType::I8: case DType::Bool: return 1;
  case DType::U16: case DType::I16: case DType::F16: case DType::BF16: return 2;
  case DType::I64: case DType::F64: case DType::U64: return 8;
  }
  return 0;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "f32"; case DType::U8: return "u8"; case DType::I8: return "i8";
  case DType::U16: return "u16"; case DType::I16: return "i16"; case DType::I32: return "i32";
  case DType::I64: return "i64"; case DType::Bool: return "bool"; case DType::F16: return "f16";
  case DType::F64: return "f64"; case DType::U32: return "u32"; case DType::U64: return "u64";
  case DType::BF16: return "bf16";
  }
  return "?";
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

static std::shared_ptr<void> allocate(size_t bytes, bool zero) {
  size_t rounded = (bytes + 63) & ~size_t(63);
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw std::bad_alloc();
  if (zero) std::memset(p, 0, rounded ? rounded : 64);
  return std::shared_ptr<void>(p, [](void *q) { std::free(q); });
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  storage_ = allocate(bytes(), true);
  data_ = storage_.get();
}

namespace {
// Large uninitialised blocks kept for reuse. Concat mode allocates each
// cache's `present` (the whole cache, one row longer than the last) every
// token and frees the previous one: from malloc, every such block is a fresh
// mmap faulted in page by page (gpt2-25m, context 2048: ~12k page faults per
// token, about half the step's CPU time). A block gets 1/8 spare so that the
// freed `present` holds the next one. Never destroyed: tensors may be
// released during static destruction.
class BlockCache {
public:
  static constexpr size_t kMinBytes = size_t(256) << 10, kMaxBlocks = 64, kMaxBytes = size_t(1) << 30;
  static BlockCache &instance() {
    static BlockCache *c = new BlockCache();
    return *c;
  }
  std::shared_ptr<void> get(size_t bytes) {
    void *p = nullptr;
    size_t cap = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      size_t best = free_.size();
      for (size_t i = 0; i < free_.size(); ++i) // the smallest block that fits, at most twice the request
        if (free_[i].second >= bytes && free_[i].second <= 2 * bytes &&
            (best == free_.size() || free_[i].second < free_[best].second))
          best = i;
      if (best < free_.size()) {
        std::tie(p, cap) = free_[best];
        free_.erase(free_.begin() + long(best));
        held_ -= cap;
      }
    }
    if (!p) {
      cap = (bytes + bytes / 8 + 4095) & ~size_t(4095);
      p = std::aligned_alloc(4096, cap);
      if (!p) throw std::bad_alloc();
    }
    return std::shared_ptr<void>(p, [this, cap](void *q) { put(q, cap); });
  }

private:
  void put(void *p, size_t cap) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (free_.size() < kMaxBlocks && held_ + cap <= kMaxBytes) {
        free_.emplace_back(p, cap);
        held_ += cap;
        return;
      }
    }
    std::free(p);
  }
  std::mutex m_;
  std::vector<std::pair<void *, size_t>> free_;
  size_t held_ = 0;
};
} // namespace

Tensor Tensor::uninitialized(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = t.bytes() >= BlockCache::kMinBytes ? BlockCache::instance().get(t.bytes()) : allocate(t.bytes(), false);
  t.data_ = t.storage_.get();
  return t;
}

Tensor Tensor::view(DType dtype, std::vector<int64_t> shape, void *data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  if (!data_) return *this; // default-constructed: nothing to copy
  Tensor t(dtype_, shape_);
  if (bytes()) std::memcpy(t.data_, data_, bytes());
  return t;
}

void Tensor::setElement(int64_t i, double v) {
  switch (dtype_) {
  case DType::F32: data<float>()[i] = float(v); break;
  case DType::F64: data<double>()[i] = v; break;
  case DType::I64: data<int64_t>()[i] = int64_t(v); break;
  case DType::I32: data<int32_t>()[i] = int32_t(v); break;
  case DType::I16: data<int16_t>()[i] = int16_t(v); break;
  case DType::I8: data<int8_t>()[i] = int8_t(v); break;
  case DType::U8: data<uint8_t>()[i] = uint8_t(v); break;
  case DType::U16: data<uint16_t>()[i] = uint16_t(v); break;
  case DType::U32: data<uint32_t>()[i] = uint32_t(v); break;
  case DType::U64: data<uint64_t>()[i] = uint64_t(v); break;
  case DType::Bool: data<uint8_t>()[i] = v != 0; break;
  case DType::F16: case DType::BF16:
    throw std::invalid_argument("Tensor::fromVector: 16-bit float tensors are built from raw bits (use raw())");
  }
}

std::string Tensor::describe() const {
  std::string s = std::string(dtypeName(dtype_)) + "[";
  for (size_t i = 0; i < shape_.size(); ++i) s += (i ? "," : "") + std::to_string(shape_[i]);
  return s + "]";
}

} // namespace bmc
