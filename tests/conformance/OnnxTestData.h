//===- OnnxTestData.h - read ONNX backend test cases (no ONNX headers) -*- C++ -*-===//
//
// The ONNX-facing half of bmc_conformance: TensorProto files into
// bmc::Tensor, and a scan of model.onnx for features that are documented
// non-goals of bmc (sequence/optional/map values, string and complex
// element types, training ops), and of inputs that bmc needs as constants.
// Built with exceptions (libonnx needs them); nothing here throws past its
// functions.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_TESTS_CONFORMANCE_ONNXTESTDATA_H
#define BMC_TESTS_CONFORMANCE_ONNXTESTDATA_H

#include "bmc/tensor.h"

#include <string>
#include <vector>

namespace bmc::conformance {

/// Reads a serialized TensorProto (input_N.pb / output_N.pb). On failure
/// returns false and sets `error` to one line; `unsupportedDtype` is set
/// when the only problem is an element type bmc::Tensor cannot hold.
bool readTensorFile(const std::string &path, Tensor &out, std::string &error, bool &unsupportedDtype);

/// What the scan of a model found.
struct ModelScan {
  bool ok = false;      ///< the model parsed
  std::string error;    ///< why not, if !ok
  /// A documented non-goal the model uses, as a skip reason ("" if none):
  /// "sequence/optional/map types", "unsupported dtype STRING",
  /// "training op 'Adam' (domain ai.onnx.preview.training)".
  std::string nonGoal;
  /// Words of which one must appear in bmc's compile error for the skip to
  /// apply (the error is then about the non-goal, not something else).
  std::vector<std::string> nonGoalEvidence;
  int numInputs = 0;    ///< graph inputs that are not initializers
  int numOutputs = 0;
  /// Graph inputs (indices among numInputs, with their names) that feed an
  /// operand bmc needs as a compile-time constant (see kConstantOperands).
  std::vector<int> constantInputs;
  std::vector<std::string> constantInputNames;
};

ModelScan scanModel(const std::string &path);

/// Writes `modelPath` to `outPath` with the graph inputs listed in
/// scan.constantInputs turned into initializers holding `inputs[i]` (the
/// test data set's values), and the declared shapes of the inputs named in
/// `shapeFromData` replaced by their data's shapes. On failure returns false
/// and sets `error`.
bool writeEditedModel(const std::string &modelPath, const ModelScan &scan, const std::vector<Tensor> &inputs,
                      const std::vector<std::string> &shapeFromData, const std::string &outPath,
                      std::string &error);

} // namespace bmc::conformance

#endif
