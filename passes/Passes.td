//===- Passes.td - bmc passes ------------------------------*- tablegen -*-===//

#ifndef BMC_PASSES
#define BMC_PASSES

include "mlir/Pass/PassBase.td"

def FoldShapes : Pass<"bmc-fold-shapes", "::mlir::func::FuncOp"> {
  let summary = "Fold exporter shape arithmetic into symbolic dimensions";
  let description = [{
    Exporters compute reshape targets at run time: Shape -> Gather ->
    Unsqueeze -> Concat -> Reshape, plus Equal/Where/ConstantOfShape tricks
    for Expand. This pass evaluates every small integer tensor symbolically
    (each element a constant or an `index` value built from `tensor.dim`),
    replaces those tensors by `arith.constant` / `tensor.from_elements`,
    and refines result types where dimensions became static. Dimensions of
    intermediate values are traced back to the graph inputs, and graph input
    dimensions sharing an ONNX `dim_param` name are one symbol.

    Before:
    ```mlir
    %s = bmc.shape %x {end = 3, start = 0} : (tensor<?x?x96xf32>) -> tensor<3xi64>
    %b = bmc.gather %s, %c0 {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %u = bmc.unsqueeze %b {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
    %shape = bmc.concat %u, %cm1, %c16 {axis = 0} : (...) -> tensor<3xi64>
    %r = bmc.reshape %x, %shape : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
    ```
    After:
    ```mlir
    %d0 = tensor.dim %x, %c0 : tensor<?x?x96xf32>
    %i0 = arith.index_cast %d0 : index to i64
    %shape = tensor.from_elements %i0, %cm1, %c16 : tensor<3xi64>
    %r = bmc.reshape %x, %shape : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def RefineTypes : Pass<"bmc-refine-types", "::mlir::func::FuncOp"> {
  let summary = "Re-infer result types, making dimensions static where they became known";
  let description = [{
    Runs each op's type inference in order and keeps the more static of the
    inferred and current types; updates the function's result types.
  }];
}

#endif // BMC_PASSES
