// --bmc-lower-to-kernels: bmc.range becomes bmck.range (a kernel made from
// host scalars: start, limit and delta stay tensor-level 0-D values, read as
// a slice's bounds are), its view read by the next moved kernel directly (the
// bmck.to_tensor seam folded away), by a reshape without a copy (a range is
// row-major), or returned through the seam.
// Integer and float ranges move, keeping the layer mark and a static length;
// a range of index elements (no view holds them) stays. Running the pass
// twice changes nothing.
//
// RUN: bmc-opt %s --bmc-group-elementwise --bmc-lower-to-kernels | FileCheck %s
// RUN: bmc-opt %s --bmc-group-elementwise --bmc-lower-to-kernels | bmc-opt --bmc-lower-to-kernels | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @ranges
// CHECK-SAME: (%[[N:.*]]: index, %[[X:.*]]: tensor<?xi64>)
// CHECK: %[[L:.*]] = tensor.from_elements %{{.*}} : tensor<i64>
// CHECK: %[[R:.*]] = bmck.range %[[S:.*]], %[[L]], %[[D:.*]] {bmc.layer = 0 : i64} : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
// CHECK-NOT: bmc.range
// CHECK: %[[XV:.*]] = bmck.to_view %[[X]] : tensor<?xi64> -> !bmck.view<?xi64>
// CHECK: bmck.elementwise %[[R]], %[[XV]] : (!bmck.view<?xi64>, !bmck.view<?xi64>) -> !bmck.view<?xi64>
// CHECK: %[[R32:.*]] = bmck.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i32>, tensor<i32>, tensor<i32>) -> !bmck.view<3xi32>
// CHECK-NOT: bmck.copy
// CHECK: bmck.reshape %[[R32]], %{{.*}} : (!bmck.view<3xi32>, tensor<2xi64>) -> !bmck.view<1x3xi32>
// CHECK: bmck.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<f32>, tensor<f32>, tensor<f32>) -> !bmck.view<?xf32>
// CHECK: bmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<index>, tensor<index>, tensor<index>) -> tensor<?xindex>
func.func @ranges(%n: index, %x: tensor<?xi64>) -> (tensor<?xi64>, tensor<1x3xi32>, tensor<?xf32>, tensor<?xindex>) {
  %s = arith.constant dense<0> : tensor<i64>
  %d = arith.constant dense<1> : tensor<i64>
  %ni = arith.index_cast %n : index to i64
  %l = tensor.from_elements %ni : tensor<i64>
  %r = bmc.range %s, %l, %d {bmc.layer = 0 : i64} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %sum = bmc.add %r, %x : (tensor<?xi64>, tensor<?xi64>) -> tensor<?xi64>
  %s32 = arith.constant dense<7> : tensor<i32>
  %l32 = arith.constant dense<-2> : tensor<i32>
  %d32 = arith.constant dense<-3> : tensor<i32>
  %r32 = bmc.range %s32, %l32, %d32 : (tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<3xi32>
  %shape = arith.constant dense<[1, 3]> : tensor<2xi64>
  %m = bmc.reshape %r32, %shape : (tensor<3xi32>, tensor<2xi64>) -> tensor<1x3xi32>
  %fs = arith.constant dense<0.5> : tensor<f32>
  %fl = arith.constant dense<3.0> : tensor<f32>
  %fd = arith.constant dense<0.25> : tensor<f32>
  %rf = bmc.range %fs, %fl, %fd : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
  %is = arith.constant dense<0> : tensor<index>
  %il = tensor.from_elements %n : tensor<index>
  %id = arith.constant dense<1> : tensor<index>
  %ri = bmc.range %is, %il, %id : (tensor<index>, tensor<index>, tensor<index>) -> tensor<?xindex>
  return %sum, %m, %rf, %ri : tensor<?xi64>, tensor<1x3xi32>, tensor<?xf32>, tensor<?xindex>
}
