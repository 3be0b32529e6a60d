//===- OpInference.h - helpers shared by the ops' type inference -*- C++ -*-===//
//
// Internal to dialects/: the op families (BmcOps*.cpp) infer result types
// with these; failures name what was expected and what was found.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_DIALECTS_OPINFERENCE_H
#define BMC_DIALECTS_OPINFERENCE_H

#include "dialects/BmcDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::bmc::detail {

constexpr int64_t kDyn = ShapedType::kDynamic;

std::string shapeStr(ArrayRef<int64_t> s);
RankedTensorType ranked(Value v);
std::optional<int64_t> knownInt(Value v);
/// Scalar (0-d or 1-element) integer constant.
std::optional<int64_t> knownScalar(Value v);
LogicalResult fail(std::optional<Location> loc, const Twine &msg);
bool isBool(Type t);

enum class UnaryKind { Float, Numeric, Bool };
LogicalResult inferUnary(std::optional<Location> loc, StringRef name, Value in, UnaryKind kind,
                         SmallVectorImpl<Type> &out);
LogicalResult checkAxis(std::optional<Location> loc, StringRef name, int64_t axis, int64_t rank);

} // namespace mlir::bmc::detail

/// Defines isCompatibleReturnTypes for an op class: equal up to `?`.
#define BMC_COMPATIBLE_RETURN_TYPES(Op)                                                 \
  bool Op::isCompatibleReturnTypes(TypeRange l, TypeRange r) {                        \
    if (l.size() != r.size()) return false;                                           \
    for (auto [a, b] : llvm::zip(l, r))                                                \
      if (!shapesCompatible(a, b)) return false;                                       \
    return true;                                                                       \
  }

#endif
