// Round trip of weights and the shape-producing ops (BmcOps.td, "Weights and shapes").
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @weight
func.func @weight() -> (tensor<96x96xf32>, tensor<1200x96xf16>) {
  // CHECK: bmc.weight "model.layers.0.q_proj.weight" : tensor<96x96xf32>
  // CHECK: bmc.weight "embed" : tensor<1200x96xf16>
  %0 = bmc.weight "model.layers.0.q_proj.weight" : tensor<96x96xf32>
  %1 = bmc.weight "embed" : tensor<1200x96xf16>
  return %0, %1 : tensor<96x96xf32>, tensor<1200x96xf16>
}

// CHECK-LABEL: func.func @shape
func.func @shape(%x: tensor<?x?x96xf32>, %s: tensor<f32>) -> () {
  // CHECK: bmc.shape %{{.*}} {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %0 = bmc.shape %x {start = 0, end = 3} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  // A sub-range (Shape-15 start/end), and an empty one.
  // CHECK: bmc.shape %{{.*}} {end = 2 : i64, start = 1 : i64} : (tensor<?x?x96xf32>) -> tensor<1xi64>
  %1 = bmc.shape %x {start = 1, end = 2} : (tensor<?x?x96xf32>) -> tensor<1xi64>
  // CHECK: bmc.shape %{{.*}} {end = 0 : i64, start = 0 : i64} : (tensor<f32>) -> tensor<0xi64>
  %2 = bmc.shape %s {start = 0, end = 0} : (tensor<f32>) -> tensor<0xi64>
  return
}

// The result shape of constant_of_shape follows the known entries of its
// shape operand: constants give static dims, anything else `?`.
// CHECK-LABEL: func.func @constant_of_shape
func.func @constant_of_shape(%dyn: tensor<2xi64>, %n: index) -> () {
  // CHECK: bmc.constant_of_shape %{{.*}} {value = 0.000000e+00 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %0 = bmc.constant_of_shape %dyn {value = 0.0 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %c = arith.constant dense<[4, 1]> : tensor<2xi64>
  // CHECK: bmc.constant_of_shape %{{.*}} {value = 1 : i64} : (tensor<2xi64>) -> tensor<4x1xi64>
  %1 = bmc.constant_of_shape %c {value = 1 : i64} : (tensor<2xi64>) -> tensor<4x1xi64>
  %e = arith.constant dense<> : tensor<0xi64>
  // CHECK: bmc.constant_of_shape %{{.*}} {value = true} : (tensor<0xi64>) -> tensor<i1>
  %2 = bmc.constant_of_shape %e {value = true} : (tensor<0xi64>) -> tensor<i1>
  %i = arith.index_cast %n : index to i64
  %c3 = arith.constant 3 : i64
  %fe = tensor.from_elements %i, %c3 : tensor<2xi64>
  // CHECK: bmc.constant_of_shape %{{.*}} {value = -1.000000e+00 : f16} : (tensor<2xi64>) -> tensor<?x3xf16>
  %3 = bmc.constant_of_shape %fe {value = -1.0 : f16} : (tensor<2xi64>) -> tensor<?x3xf16>
  return
}

// CHECK-LABEL: func.func @range
func.func @range(%start: tensor<i64>, %limit: tensor<i64>, %fs: tensor<f32>) -> () {
  %one = arith.constant dense<1> : tensor<i64>
  // CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %0 = bmc.range %start, %limit, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  // Constant operands give a static length: ceil((10 - 1) / 3) = 3.
  %c1 = arith.constant dense<1> : tensor<i64>
  %c10 = arith.constant dense<10> : tensor<i64>
  %c3 = arith.constant dense<3> : tensor<i64>
  // CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  %1 = bmc.range %c1, %c10, %c3 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  // A negative delta counts down; an empty range has length 0.
  %cm1 = arith.constant dense<-1> : tensor<i64>
  // CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<9xi64>
  %2 = bmc.range %c10, %c1, %cm1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<9xi64>
  // CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<0xi64>
  %3 = bmc.range %c10, %c1, %c3 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<0xi64>
  // CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
  %4 = bmc.range %fs, %fs, %fs : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
  return
}
