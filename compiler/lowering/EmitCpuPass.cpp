//===- EmitCpuPass.cpp - the CPU emitter as a bmc-opt pass -----------------===//
//
// lowerToLLVMDialect behind --bmc-emit-cpu, so that lit tests reach the
// Lowerer without an ONNX model (its refusals: tests/lit/lowering).
//
//===----------------------------------------------------------------------===//

#include "compiler/lowering/EmitCpuPass.h"
#include "compiler/WeightPlan.h"
#include "compiler/lowering/Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace bmc {
#define GEN_PASS_DEF_EMITCPU
#include "compiler/lowering/Passes.h.inc"

namespace {
struct EmitCpuPass : impl::EmitCpuBase<EmitCpuPass> {
  void runOnOperation() override {
    WeightPlan plan;
    if (mlir::failed(lowerToLLVMDialect(getOperation(), plan, LoweringOptions{}))) signalPassFailure();
  }
};
} // namespace
} // namespace bmc
