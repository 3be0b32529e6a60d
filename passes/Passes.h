//===- Passes.h - bmc passes ------------------------------------*- C++ -*-===//
#ifndef BMC_PASSES_PASSES_H
#define BMC_PASSES_PASSES_H

#include "dialects/BmcDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::bmc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The discardable attribute bmc-mark-layers puts on each op of decoder
/// layer k (an i64); code generation reads it and removes it.
inline constexpr llvm::StringLiteral kLayerAttrName = "bmc.layer";

/// Re-infers the result types of `op` and keeps the more static of old and
/// new per dimension. Returns true if a type changed.
bool refineResultTypes(Operation *op);

} // namespace mlir::bmc

#endif
