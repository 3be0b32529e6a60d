//===- OnnxModel.h - load an ONNX model without copying its weights -*- C++ -*-===//
#ifndef BMC_FRONTEND_ONNXMODEL_H
#define BMC_FRONTEND_ONNXMODEL_H

#include "frontend/WeightStore.h"

#include <memory>
#include <string>

namespace onnx {
class ModelProto;
class TensorProto;
}

namespace bmc {

/// A parsed ModelProto whose initializers' raw bytes were left in the mapped
/// file: the protobuf is parsed from a copy with raw_data fields cut out
/// (kilobytes), and `rawData(i)` gives initializer i's bytes in place.
struct OnnxModel {
  std::string path;
  std::shared_ptr<MappedFile> file;
  std::unique_ptr<onnx::ModelProto> proto;
  /// Raw bytes of graph.initializer(i), or {nullptr, 0} if it had none.
  std::vector<std::pair<const uint8_t *, size_t>> rawData;
  ~OnnxModel();
};

/// Loads `path`. On failure returns null and sets `error` to a one-line
/// diagnostic starting with the file name.
std::unique_ptr<OnnxModel> loadOnnxModel(const std::string &path, std::string &error);

/// Resolves initializer i of `model` (raw, typed fields or external data)
/// into a Weight. On failure sets `error` and returns false.
bool resolveInitializer(const OnnxModel &model, int index, Weight &out, std::string &error);

/// The same for any TensorProto (e.g. a Constant node's value); `raw` is the
/// range cut out by the scan, if any.
bool resolveTensorProto(const OnnxModel &model, const onnx::TensorProto &t,
                        std::pair<const uint8_t *, size_t> raw, Weight &out, std::string &error);

} // namespace bmc

#endif
