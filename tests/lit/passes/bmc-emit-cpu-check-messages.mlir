// The run-time shape checks of the data ops in the CPU emitter's code
// (compiler/lowering/LowerData.cpp, LowerMatMul.cpp, LowerIndex.cpp): each message names the value found ({0})
// and the value expected ({1}), the arguments bmc_rt_fail formats into it, in
// that order. Dynamic sizes, so the checks stay in the code.
// RUN: bmc-opt %s --split-input-file --bmc-pipeline --bmc-emit-cpu 2>/dev/null | FileCheck %s

// CHECK: Concat: input 1 dimension 0 is {0}, expected {1} (input 0's)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%x: tensor<?x3xf32>, %y: tensor<?x4xf32>) -> tensor<?x7xf32> {
  %0 = bmc.concat %x, %y {axis = 1 : i64} : (tensor<?x3xf32>, tensor<?x4xf32>) -> tensor<?x7xf32>
  return %0 : tensor<?x7xf32>
}

// -----

// CHECK: Reshape: the target shape has {0} elements, expected {1} (the input's)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%x: tensor<?x4xf32>, %s: tensor<2xi64>) -> tensor<?x?xf32> {
  %0 = bmc.reshape %x, %s : (tensor<?x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// CHECK: Split: the split sizes sum to {0}, expected {1} (the size of dimension 0)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%x: tensor<?x4xf32>) -> (tensor<2x4xf32>, tensor<3x4xf32>) {
  %a, %b = bmc.split %x {axis = 0 : i64, sizes = array<i64: 2, 3>} : (tensor<?x4xf32>) -> (tensor<2x4xf32>, tensor<3x4xf32>)
  return %a, %b : tensor<2x4xf32>, tensor<3x4xf32>
}

// -----

// The right operand's rows against the left's columns, both dynamic.
// CHECK: MatMul: the right operand's contraction dimension is {0}, expected {1} (the left operand's)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%a: tensor<?x?xf32>, %b: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %0 = bmc.matmul %a, %b : (tensor<?x?xf32>, tensor<?x5xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// Lowerer::checkExpected: the data's size is bmc_rt_fail's first argument
// (as before), so the stored string has the placeholders swapped and the
// message still reads found ({1} here), then expected ({0}).
// CHECK: GatherND: the indices' batch dimension 0 is {1}, expected {0} (data's)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%x: tensor<?x5x7xf32>, %i: tensor<?x2x1xi64>) -> tensor<?x2x7xf32> {
  %0 = bmc.gather_nd %x, %i {batch_dims = 1 : i64} : (tensor<?x5x7xf32>, tensor<?x2x1xi64>) -> tensor<?x2x7xf32>
  return %0 : tensor<?x2x7xf32>
}

// -----

// CHECK-DAG: ScatterND: updates dimension 0 is {0}, expected {1} (the indices')
// CHECK-DAG: ScatterND: updates dimension 1 is {0}, expected {1} (data dimension 2)
// CHECK-LABEL: func.func @bmc_main
func.func @main(%x: tensor<?x?x?xf32>, %i: tensor<?x2xi64>, %u: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = bmc.scatter_nd %x, %i, %u {reduction = "none"} : (tensor<?x?x?xf32>, tensor<?x2xi64>, tensor<?x?xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}
