// The run-time shape checks of the data ops in the CPU emitter's code
// (compiler/lowering/LowerData.cpp): each message names the value found ({0})
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
