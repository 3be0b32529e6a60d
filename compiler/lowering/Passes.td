//===- Passes.td - the CPU emitter as a pass ---------------*- tablegen -*-===//

#ifndef BMC_LOWERING_PASSES
#define BMC_LOWERING_PASSES

include "mlir/Pass/PassBase.td"

def EmitCpu : Pass<"bmc-emit-cpu", "::mlir::ModuleOp"> {
  let summary = "Run the CPU emitter on @main: loops and kernel calls in @bmc_main (bmc-compile's step before LLVM)";
  let description = [{
    The Lowerer (compiler/lowering, docs/DESIGN.md "Lowering") as
    bmc-compile runs it after the graph passes: `func.func @main` becomes
    `func.func @bmc_main(ctx, io)` of arith / scf / math / LLVM ops and calls
    into the runtime's kernels, with the default options (fp32 weights, the
    optimised kernels). The weight layout it plans is dropped. Its errors are
    bmc-compile's, one line at the op, so lit tests can check what it refuses,
    e.g. a tensor-level op that is emitted in its kernel-level form only:

    ```
    bmc-opt --bmc-pipeline --bmc-emit-cpu model.mlir      # as bmc-compile
    bmc-opt --bmc-emit-cpu tensor-level.mlir -verify-diagnostics
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::scf::SCFDialect",
                           "::mlir::math::MathDialect", "::mlir::arith::ArithDialect"];
}

#endif // BMC_LOWERING_PASSES
