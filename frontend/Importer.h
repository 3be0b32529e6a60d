//===- Importer.h - ONNX -> bmc dialect --------------------------*- C++ -*-===//
#ifndef BMC_FRONTEND_IMPORTER_H
#define BMC_FRONTEND_IMPORTER_H

#include "frontend/WeightStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>
#include <vector>

namespace bmc {

struct ImportOptions {
  /// Initializers and Constant values up to this many elements become
  /// `arith.constant` in the IR (so shape folding sees them); larger ones are
  /// `bmc.weight` references into the weight store.
  int64_t inlineElementLimit = 64;
  /// Integer and boolean tensors are inlined up to this many elements.
  int64_t inlineIntElementLimit = 4096;
};

struct ImportedModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::shared_ptr<WeightStore> weights;
  /// What the import did beyond translating nodes, one line each (e.g. the
  /// If of Optimum's merged decoder resolved to its with-past branch).
  std::vector<std::string> notes;
};

/// Imports an ONNX model into a module holding `func.func @main`. On failure
/// returns false and sets `error` to one line:
///   `file: node 'name' (OpType, opset N): expected ..., found ...`
bool importOnnxFile(mlir::MLIRContext &ctx, const std::string &path, const ImportOptions &opts,
                    ImportedModel &out, std::string &error);

/// `s` with control characters (and DEL) written as \n, \r, \t or \xNN, so
/// that text from a model file cannot break a one-line message. For names
/// (`isName`) a backslash is doubled too, so that the escaped name reads back
/// unambiguously; whole messages keep theirs (file paths).
std::string escapeControl(const std::string &s, bool isName = false);

/// Registers the dialects the importer produces.
void loadImporterDialects(mlir::MLIRContext &ctx);

} // namespace bmc

#endif
