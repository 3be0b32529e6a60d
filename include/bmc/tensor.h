//===- bmc/tensor.h - dense host tensors -------------------------*- C++ -*-===//
#ifndef BMC_TENSOR_H
#define BMC_TENSOR_H

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bmc {

/// Element types, numbered as ONNX TensorProto.DataType.
enum class DType : int32_t {
  F32 = 1, U8 = 2, I8 = 3, U16 = 4, I16 = 5, I32 = 6, I64 = 7, Bool = 9, F16 = 10,
  F64 = 11, U32 = 12, U64 = 13, BF16 = 16
};
size_t elementSize(DType t);
const char *dtypeName(DType t);

/// A dense row-major tensor. Copies share the storage (like a shared_ptr);
/// use clone() for a deep copy. Not thread-safe for concurrent writes.
class Tensor {
public:
  Tensor() = default;
  /// Allocates zero-initialised storage.
  Tensor(DType dtype, std::vector<int64_t> shape);
  /// Allocates storage left uninitialised, for a producer that writes every
  /// element before anyone reads it (generated code's outputs). Blocks from
  /// 256 KB up are recycled: when such a tensor's storage is released it is
  /// kept (a bounded number, thread-safe) for a later call of about its size.
  static Tensor uninitialized(DType dtype, std::vector<int64_t> shape);
  /// Wraps caller memory (not copied; must outlive the tensor).
  static Tensor view(DType dtype, std::vector<int64_t> shape, void *data);
  /// A tensor of `dtype` holding `v` converted element by element (as a C
  /// cast would); v.size() must equal the element count of `shape`.
  template <typename T> static Tensor fromVector(DType dtype, std::vector<int64_t> shape, const std::vector<T> &v) {
    Tensor t(dtype, std::move(shape));
    if (int64_t(v.size()) != t.numElements())
      throw std::invalid_argument("Tensor::fromVector: " + std::to_string(v.size()) + " values for " +
                                  std::to_string(t.numElements()) + " elements");
    for (size_t i = 0; i < v.size(); ++i) t.setElement(int64_t(i), double(v[i]));
    return t;
  }

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return int64_t(shape_.size()); }
  int64_t numElements() const;
  size_t bytes() const { return size_t(numElements()) * elementSize(dtype_); }
  void *raw() { return data_; }
  const void *raw() const { return data_; }
  template <typename T> T *data() { return static_cast<T *>(data_); }
  template <typename T> const T *data() const { return static_cast<const T *>(data_); }
  Tensor clone() const;
  /// Element i converted to this tensor's dtype (not for 16-bit floats).
  void setElement(int64_t i, double value);
  std::string describe() const; // e.g. "f32[1,6,1200]"

private:
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  std::shared_ptr<void> storage_;
  void *data_ = nullptr;
};

} // namespace bmc

#endif
