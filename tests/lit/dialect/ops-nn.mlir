// Round trip of matrix products, normalisation and reductions (BmcOps.td).
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @matmul
func.func @matmul(%x: tensor<?x?x96xf32>, %w: tensor<96x256xf32>, %q: tensor<?x6x?x16xf32>,
                  %kt: tensor<?x6x16x?xf32>, %v: tensor<96xf32>, %m: tensor<4x96xf32>) -> () {
  // CHECK: bmc.matmul %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<96x256xf32>) -> tensor<?x?x256xf32>
  %0 = bmc.matmul %x, %w : (tensor<?x?x96xf32>, tensor<96x256xf32>) -> tensor<?x?x256xf32>
  // CHECK: bmc.matmul %{{.*}}, %{{.*}} : (tensor<?x6x?x16xf32>, tensor<?x6x16x?xf32>) -> tensor<?x6x?x?xf32>
  %1 = bmc.matmul %q, %kt : (tensor<?x6x?x16xf32>, tensor<?x6x16x?xf32>) -> tensor<?x6x?x?xf32>
  // 1-D operands are promoted and their unit dimension dropped, as numpy does.
  // CHECK: bmc.matmul %{{.*}}, %{{.*}} : (tensor<96xf32>, tensor<96x256xf32>) -> tensor<256xf32>
  %2 = bmc.matmul %v, %w : (tensor<96xf32>, tensor<96x256xf32>) -> tensor<256xf32>
  // CHECK: bmc.matmul %{{.*}}, %{{.*}} : (tensor<4x96xf32>, tensor<96xf32>) -> tensor<4xf32>
  %3 = bmc.matmul %m, %v : (tensor<4x96xf32>, tensor<96xf32>) -> tensor<4xf32>
  // CHECK: bmc.matmul %{{.*}}, %{{.*}} : (tensor<96xf32>, tensor<96xf32>) -> tensor<f32>
  %4 = bmc.matmul %v, %v : (tensor<96xf32>, tensor<96xf32>) -> tensor<f32>
  return
}

// CHECK-LABEL: func.func @gemm
func.func @gemm(%a: tensor<?x96xf32>, %b: tensor<96x288xf32>, %bt: tensor<288x96xf32>, %c: tensor<288xf32>) -> () {
  // CHECK: bmc.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = false, trans_b = false} : (tensor<?x96xf32>, tensor<96x288xf32>, tensor<288xf32>) -> tensor<?x288xf32>
  %0 = bmc.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<?x96xf32>, tensor<96x288xf32>, tensor<288xf32>) -> tensor<?x288xf32>
  // Without C, with B transposed.
  // CHECK: bmc.gemm %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, beta = 0.000000e+00 : f32, trans_a = false, trans_b = true} : (tensor<?x96xf32>, tensor<288x96xf32>) -> tensor<?x288xf32>
  %1 = bmc.gemm %a, %bt {alpha = 0.5 : f32, beta = 0.0 : f32, trans_a = false, trans_b = true}
      : (tensor<?x96xf32>, tensor<288x96xf32>) -> tensor<?x288xf32>
  // CHECK: bmc.gemm %{{.*}}, %{{.*}} {{{.*}}trans_a = true, trans_b = true} : (tensor<96x288xf32>, tensor<?x96xf32>) -> tensor<288x?xf32>
  %2 = bmc.gemm %b, %a {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = true}
      : (tensor<96x288xf32>, tensor<?x96xf32>) -> tensor<288x?xf32>
  return
}

// CHECK-LABEL: func.func @softmax
func.func @softmax(%s: tensor<?x4x?x?xf32>) -> () {
  // CHECK: bmc.softmax %{{.*}} {axis = 3 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %0 = bmc.softmax %s {axis = 3 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  // CHECK: bmc.softmax %{{.*}} {axis = 1 : i64, log = true} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %1 = bmc.softmax %s {axis = 1 : i64, log = true} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  return
}

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<?x?x96xf32>, %g: tensor<96xf32>, %b: tensor<96xf32>) -> () {
  // CHECK: bmc.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %0 = bmc.layer_norm %x, %g, %b {axis = 2 : i64, epsilon = 1.0e-05 : f32}
      : (tensor<?x?x96xf32>, tensor<96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.layer_norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %1 = bmc.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.0e-05 : f32}
      : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %2 = bmc.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  return
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<?x?x96xf32>, %i: tensor<3xi64>) -> () {
  // CHECK: bmc.reduce_mean %{{.*}} {axes = array<i64: 2>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<?x?x1xf32>
  %0 = bmc.reduce_mean %x {axes = array<i64: 2>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<?x?x1xf32>
  // CHECK: bmc.reduce_sum %{{.*}} {axes = array<i64: 0, 2>, keepdims = false} : (tensor<?x?x96xf32>) -> tensor<?xf32>
  %1 = bmc.reduce_sum %x {axes = array<i64: 0, 2>, keepdims = false} : (tensor<?x?x96xf32>) -> tensor<?xf32>
  // Empty axes reduce everything.
  // CHECK: bmc.reduce_max %{{.*}} {axes = array<i64>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<1x1x1xf32>
  %2 = bmc.reduce_max %x {axes = array<i64>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<1x1x1xf32>
  // CHECK: bmc.reduce_min %{{.*}} {axes = array<i64>, keepdims = false} : (tensor<?x?x96xf32>) -> tensor<f32>
  %3 = bmc.reduce_min %x {axes = array<i64>, keepdims = false} : (tensor<?x?x96xf32>) -> tensor<f32>
  // CHECK: bmc.reduce_prod %{{.*}} {axes = array<i64: 0>, keepdims = false} : (tensor<3xi64>) -> tensor<i64>
  %4 = bmc.reduce_prod %i {axes = array<i64: 0>, keepdims = false} : (tensor<3xi64>) -> tensor<i64>
  return
}
