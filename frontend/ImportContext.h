//===- ImportContext.h - per-node import context (internal) -----*- C++ -*-===//
//
// Op-family files (ops/*.cpp) import one ONNX node at a time through a
// NodeImporter: typed attribute access with defaults and range checks,
// optional inputs, constant inputs, op creation with inferred result types,
// and errors formatted as `file: node 'n' (Op, opset N): ...`.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_FRONTEND_IMPORTCONTEXT_H
#define BMC_FRONTEND_IMPORTCONTEXT_H

#include "dialects/BmcDialect.h"
#include "frontend/Importer.h"
#include "frontend/OnnxModel.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <optional>
#include <set>

namespace bmc {

class GraphImporter;

class NodeImporter {
public:
  NodeImporter(GraphImporter &g, const onnx::NodeProto &node, int index, int64_t opset);

  const onnx::NodeProto &node;
  GraphImporter &graph;
  int64_t opset;
  mlir::Location loc;
  mlir::OpBuilder &b;
  mlir::MLIRContext *ctx;

  // Inputs. Absent optional inputs (missing or empty name) are null.
  int numInputs() const { return node.input_size(); }
  bool has(int i) const { return i < node.input_size() && !node.input(i).empty(); }
  mlir::Value in(int i) const;
  mlir::RankedTensorType type(int i) const;
  /// Fails unless the node has between lo and hi inputs (hi < 0: unbounded).
  mlir::LogicalResult expectInputs(int lo, int hi);
  mlir::LogicalResult expectOutputs(int lo, int hi);
  /// Integer contents of a constant input, if it is one.
  std::optional<llvm::SmallVector<int64_t>> constInts(int i) const;

  // Attributes.
  const onnx::AttributeProto *attr(const std::string &name) const;
  mlir::FailureOr<int64_t> attrInt(const std::string &name, std::optional<int64_t> dflt);
  mlir::FailureOr<float> attrFloat(const std::string &name, float dflt);
  mlir::FailureOr<std::string> attrString(const std::string &name, const std::string &dflt);
  mlir::FailureOr<std::optional<llvm::SmallVector<int64_t>>> attrInts(const std::string &name);
  /// Rejects attributes the importer does not understand for this op.
  mlir::LogicalResult onlyAttrs(std::initializer_list<const char *> known);

  /// Normalises `axis` in [-rank, rank) (or [-rank-1, rank] with `extra`).
  mlir::FailureOr<int64_t> normAxis(int64_t axis, int64_t rank, const char *what, bool extra = false);
  mlir::FailureOr<llvm::SmallVector<int64_t>> normAxes(llvm::ArrayRef<int64_t> axes, int64_t rank,
                                                      const char *what, bool extra = false);

  /// Creates an op with the given operands and attributes and inferred result
  /// types; an inference failure becomes this node's error.
  mlir::FailureOr<mlir::Operation *> create(llvm::StringRef opName, mlir::ValueRange operands,
                                            llvm::ArrayRef<mlir::NamedAttribute> attrs = {},
                                            unsigned numResults = 1);
  template <typename OpT>
  mlir::FailureOr<mlir::Value> make(mlir::ValueRange operands,
                                    llvm::ArrayRef<mlir::NamedAttribute> attrs = {}) {
    auto op = create(OpT::getOperationName(), operands, attrs);
    if (mlir::failed(op)) return mlir::failure();
    return (*op)->getResult(0);
  }

  // Constants.
  mlir::Value constI64(llvm::ArrayRef<int64_t> values, bool scalar = false);
  mlir::Value constScalar(mlir::Type elementType, double value);

  mlir::NamedAttribute named(llvm::StringRef name, mlir::Attribute a) { return b.getNamedAttr(name, a); }

  mlir::LogicalResult setOutputs(mlir::ValueRange values);
  mlir::LogicalResult setOutput(mlir::FailureOr<mlir::Value> v) {
    if (mlir::failed(v)) return mlir::failure();
    return setOutputs(mlir::ValueRange{*v});
  }

  /// Records the error `file: node 'n' (Op, opset N): msg` and fails.
  mlir::LogicalResult error(const llvm::Twine &msg);
  /// The same, for call sites that fail through another return type.
  void report(const llvm::Twine &msg) { (void)error(msg); }
  std::string describe() const;

private:
  int index_;
};

using OpHandler = std::function<mlir::LogicalResult(NodeImporter &)>;
using OpTable = llvm::StringMap<OpHandler>;

void registerElementwiseOps(OpTable &t);
void registerShapeOps(OpTable &t);
void registerTensorOps(OpTable &t);
void registerNNOps(OpTable &t);
void registerAttentionOps(OpTable &t);
/// DequantizeLinear (QDQ weight-only quantization).
void registerQuantOps(OpTable &t);
/// com.microsoft (onnxruntime contrib ops), a table of its own.
void registerContribOps(OpTable &t);
void registerContribAttentionOps(OpTable &t);
/// Ops onnxruntime registers in the default domain though ONNX has none of
/// that name (SimplifiedLayerNormalization, as onnxruntime-genai writes it).
void registerOrtDefaultDomainOps(OpTable &t);

/// ONNX TensorProto.DataType -> MLIR element type (null if unsupported).
mlir::Type onnxElementType(mlir::MLIRContext *ctx, int32_t dtype);

class GraphImporter {
public:
  GraphImporter(mlir::MLIRContext &ctx, const OnnxModel &model, const ImportOptions &opts,
                WeightStore &weights);
  bool run(mlir::ModuleOp module, std::string &error);

  mlir::MLIRContext &ctx;
  const OnnxModel &model;
  const ImportOptions &opts;
  WeightStore &weights;
  mlir::OpBuilder builder;
  llvm::StringMap<mlir::Value> values;
  std::string error;
  std::string fileName; // the model's base name: locations and bmc.source
  /// Graph inputs whose role an op told (bmc.role on the argument: the
  /// runtime feeds them), e.g. GroupQueryAttention's seqlens_k.
  std::map<unsigned, std::string> argRoles;
  /// Positions a rotary cache read inside an op covers (GroupQueryAttention's
  /// cos_cache rows), or a static KV cache buffer's rows (0: none): the
  /// decoder's context limit.
  int64_t maxPositions = 0;
  /// Static KV caches (TensorScatter writes that an Attention reads with
  /// nonpad_kv_seqlen, imported as appends): the Attention nodes such a write
  /// reaches, and the run-time checks of its write_indices (each as
  /// `checked - length`, zeros when it holds) that the next of them consumes.
  std::set<const onnx::NodeProto *> kvAttentions;
  llvm::SmallVector<mlir::Value> pendingKVChecks;
  std::string path;     // as given: the prefix of error messages

  /// A constant (inline or bmc.weight) from a resolved tensor.
  mlir::FailureOr<mlir::Value> importTensor(Weight w, mlir::Location loc, std::string &why);
  const Weight *weightOf(mlir::Value v) const;
};

} // namespace bmc

#endif
