// --bmc-raise-norms: Llama's RMSNorm as the exporters write it
// (Pow -> ReduceMean -> Add eps -> Sqrt -> Div(1, .) -> Mul x -> Mul weight).
//
// RUN: bmc-opt %s --bmc-raise-norms --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @llama_rmsnorm
// CHECK-NEXT: %[[R:.*]] = bmc.rms_norm %arg0, %arg1 {epsilon = 9.99999997E-7 : f32}
// CHECK-NEXT: return %[[R]]
func.func @llama_rmsnorm(%x: tensor<?x?x96xf32>, %w: tensor<96xf32>) -> tensor<?x?x96xf32> {
  %two = arith.constant dense<2.000000e+00> : tensor<f32>
  %eps = arith.constant dense<9.99999997E-7> : tensor<f32>
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %p = bmc.pow %x, %two : (tensor<?x?x96xf32>, tensor<f32>) -> tensor<?x?x96xf32>
  %m = bmc.reduce_mean %p {axes = array<i64: 2>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<?x?x1xf32>
  %a = bmc.add %m, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %s = bmc.sqrt %a : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %d = bmc.div %one, %s : (tensor<f32>, tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %n = bmc.mul %x, %d : (tensor<?x?x96xf32>, tensor<?x?x1xf32>) -> tensor<?x?x96xf32>
  %y = bmc.mul %w, %n : (tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// The dynamo exporter's Reciprocal form.
// CHECK-LABEL: func.func @reciprocal_form
// CHECK-NEXT: bmc.rms_norm %arg0, %arg1 {epsilon = 9.99999974E-6 : f32}
func.func @reciprocal_form(%x: tensor<2x5x64xf32>, %w: tensor<64xf32>) -> tensor<2x5x64xf32> {
  %eps = arith.constant dense<9.99999974E-6> : tensor<f32>
  %p = bmc.mul %x, %x : (tensor<2x5x64xf32>, tensor<2x5x64xf32>) -> tensor<2x5x64xf32>
  %m = bmc.reduce_mean %p {axes = array<i64: 2>, keepdims = true} : (tensor<2x5x64xf32>) -> tensor<2x5x1xf32>
  %a = bmc.add %m, %eps : (tensor<2x5x1xf32>, tensor<f32>) -> tensor<2x5x1xf32>
  %s = bmc.sqrt %a : (tensor<2x5x1xf32>) -> tensor<2x5x1xf32>
  %r = bmc.reciprocal %s : (tensor<2x5x1xf32>) -> tensor<2x5x1xf32>
  %n = bmc.mul %x, %r : (tensor<2x5x64xf32>, tensor<2x5x1xf32>) -> tensor<2x5x64xf32>
  %y = bmc.mul %n, %w : (tensor<2x5x64xf32>, tensor<64xf32>) -> tensor<2x5x64xf32>
  return %y : tensor<2x5x64xf32>
}

// Negative: the mean is over another axis: not a norm over the features.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: bmc.rms_norm
func.func @wrong_axis(%x: tensor<2x5x64xf32>, %w: tensor<64xf32>) -> tensor<2x5x64xf32> {
  %eps = arith.constant dense<9.99999974E-6> : tensor<f32>
  %p = bmc.mul %x, %x : (tensor<2x5x64xf32>, tensor<2x5x64xf32>) -> tensor<2x5x64xf32>
  %m = bmc.reduce_mean %p {axes = array<i64: 1>, keepdims = true} : (tensor<2x5x64xf32>) -> tensor<2x1x64xf32>
  %a = bmc.add %m, %eps : (tensor<2x1x64xf32>, tensor<f32>) -> tensor<2x1x64xf32>
  %s = bmc.sqrt %a : (tensor<2x1x64xf32>) -> tensor<2x1x64xf32>
  %r = bmc.reciprocal %s : (tensor<2x1x64xf32>) -> tensor<2x1x64xf32>
  %n = bmc.mul %x, %r : (tensor<2x5x64xf32>, tensor<2x1x64xf32>) -> tensor<2x5x64xf32>
  %y = bmc.mul %n, %w : (tensor<2x5x64xf32>, tensor<64xf32>) -> tensor<2x5x64xf32>
  return %y : tensor<2x5x64xf32>
}
