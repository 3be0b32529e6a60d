//===- WeightStore.h - model weights, memory-mapped, never copied -*- C++ -*-===//
//
// The bytes of every initializer stay where they are in the model file (or
// its ONNX external-data files), mapped read-only; the IR refers to them by
// name (bmc.weight). No MLIR types here: the compiler's packer and the tools
// use it too.
//
// Thread safety: immutable after loading; concurrent reads are safe.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_FRONTEND_WEIGHTSTORE_H
#define BMC_FRONTEND_WEIGHTSTORE_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bmc {

/// A read-only memory mapping of a whole file; unmapped on destruction.
class MappedFile {
public:
  /// Maps `path`; on failure returns null and sets `error` to a one-line reason.
  static std::shared_ptr<MappedFile> open(const std::string &path, std::string &error);
  ~MappedFile();
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile() = default;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

size_t dtypeSize(int32_t onnxDataType); // 0 if unsupported
const char *dtypeName(int32_t onnxDataType);

struct Weight {
  std::string name;
  int32_t dtype = 0;          // ONNX data type
  std::vector<int64_t> dims;
  const uint8_t *data = nullptr;
  size_t bytes = 0;
  std::shared_ptr<const void> keepAlive; // the mapping or an owned buffer
  /// `data` lies in a read-only file mapping: its pages can be dropped from
  /// memory once read (madvise DONTNEED) and come back from the file if read
  /// again. False for owned buffers, which dropping would zero.
  bool fileMapped = false;
  /// 4 or 8: a quantized matrix imported from a MatMulNBits node: `dims` are
  /// its logical [K, N] (dtype FLOAT) and `data` holds bmc's packed int4 /
  /// int8 layout (bmc/abi/kernels.h), which only a matmul can read.
  int quantBits = 0;
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};

class WeightStore {
public:
  void add(Weight w) { std::string n = w.name; weights_[n] = std::move(w); }
  const Weight *find(const std::string &name) const {
    auto it = weights_.find(name);
    return it == weights_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, Weight> &all() const { return weights_; }

private:
  std::map<std::string, Weight> weights_;
};

} // namespace bmc

#endif
