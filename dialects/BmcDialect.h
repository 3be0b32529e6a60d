//===- BmcDialect.h - the bmc dialect ---------------------------*- C++ -*-===//
#ifndef BMC_DIALECTS_BMCDIALECT_H
#define BMC_DIALECTS_BMCDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/BmcDialect.h.inc"
#include "dialects/BmcEnums.h"

#define GET_TYPEDEF_CLASSES
#include "dialects/BmcTypes.h.inc"

#define GET_OP_CLASSES
#include "dialects/BmcOps.h.inc"

namespace mlir::bmc {

/// The elements of a 1-D integer "shape" operand as far as they are known
/// statically (ShapedType::kDynamic where not): looks through constants and
/// tensor.from_elements. Returns std::nullopt if even the length is unknown.
std::optional<llvm::SmallVector<int64_t>> getKnownShapeElements(Value shape);

/// Broadcast two shapes the ONNX/numpy way. Returns failure (and sets `why`)
/// if two static dimensions differ and neither is 1.
LogicalResult broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b,
                              llvm::SmallVectorImpl<int64_t> &out, std::string &why);

/// Shapes compatible for verification: same rank, static dims agree.
bool shapesCompatible(Type a, Type b);

} // namespace mlir::bmc

#endif
