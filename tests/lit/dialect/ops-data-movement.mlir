// Round trip of the data-movement ops (BmcOps.td, "Data movement").
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @transpose
func.func @transpose(%x: tensor<?x?x6x16xf32>) -> tensor<?x6x?x16xf32> {
  // CHECK: bmc.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x6x16xf32>) -> tensor<?x6x?x16xf32>
  %0 = bmc.transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x6x16xf32>) -> tensor<?x6x?x16xf32>
  return %0 : tensor<?x6x?x16xf32>
}

// CHECK-LABEL: func.func @reshape
func.func @reshape(%x: tensor<?x?x96xf32>, %dyn: tensor<4xi64>, %s: tensor<2x3x4xf32>) -> () {
  // A shape computed at run time: every dimension is `?`.
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  %0 = bmc.reshape %x, %dyn : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  // 0 copies the input dimension, -1 is inferred where the sizes are known.
  %c = arith.constant dense<[0, 0, 6, 16]> : tensor<4xi64>
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x6x16xf32>
  %1 = bmc.reshape %x, %c : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x6x16xf32>
  %m = arith.constant dense<[-1, 4]> : tensor<2xi64>
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  %2 = bmc.reshape %s, %m : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  // With allowzero, 0 is a size.
  %z = arith.constant dense<[0, 5]> : tensor<2xi64>
  %e = arith.constant dense<0.0> : tensor<0x7xf32>
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} {allowzero = true} : (tensor<0x7xf32>, tensor<2xi64>) -> tensor<0x5xf32>
  %3 = bmc.reshape %e, %z {allowzero = true} : (tensor<0x7xf32>, tensor<2xi64>) -> tensor<0x5xf32>
  // A shape of tensor.dim values and constants, as --bmc-fold-shapes writes it.
  %c0 = arith.constant 0 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x96xf32>
  %i0 = arith.index_cast %d0 : index to i64
  %cm1 = arith.constant -1 : i64
  %c16 = arith.constant 16 : i64
  %fe = tensor.from_elements %i0, %cm1, %c16 : tensor<3xi64>
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x16xf32>
  %4 = bmc.reshape %x, %fe : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x16xf32>
  // The shape may be index-typed.
  %ci = arith.constant dense<[-1]> : tensor<1xindex>
  // CHECK: bmc.reshape %{{.*}}, %{{.*}} : (tensor<2x3x4xf32>, tensor<1xindex>) -> tensor<24xf32>
  %5 = bmc.reshape %s, %ci : (tensor<2x3x4xf32>, tensor<1xindex>) -> tensor<24xf32>
  return
}

// CHECK-LABEL: func.func @flatten_squeeze_unsqueeze
func.func @flatten_squeeze_unsqueeze(%x: tensor<2x3x4xf32>, %d: tensor<?x1x96xf32>, %i: tensor<i64>) -> () {
  // CHECK: bmc.flatten %{{.*}} {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  %0 = bmc.flatten %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  // CHECK: bmc.flatten %{{.*}} {axis = 0 : i64} : (tensor<2x3x4xf32>) -> tensor<1x24xf32>
  %1 = bmc.flatten %x {axis = 0 : i64} : (tensor<2x3x4xf32>) -> tensor<1x24xf32>
  // CHECK: bmc.flatten %{{.*}} {axis = 3 : i64} : (tensor<?x1x96xf32>) -> tensor<?x1xf32>
  %2 = bmc.flatten %d {axis = 3 : i64} : (tensor<?x1x96xf32>) -> tensor<?x1xf32>
  // CHECK: bmc.squeeze %{{.*}} {axes = array<i64: 1>} : (tensor<?x1x96xf32>) -> tensor<?x96xf32>
  %3 = bmc.squeeze %d {axes = array<i64: 1>} : (tensor<?x1x96xf32>) -> tensor<?x96xf32>
  // CHECK: bmc.unsqueeze %{{.*}} {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %4 = bmc.unsqueeze %i {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  // CHECK: bmc.unsqueeze %{{.*}} {axes = array<i64: 0, 2, 4>} : (tensor<?x1x96xf32>) -> tensor<1x?x1x1x1x96xf32>
  %5 = bmc.unsqueeze %d {axes = array<i64: 0, 2, 4>} : (tensor<?x1x96xf32>) -> tensor<1x?x1x1x1x96xf32>
  return
}

// CHECK-LABEL: func.func @concat
func.func @concat(%past: tensor<?x2x?x16xf32>, %new: tensor<?x2x?x16xf32>, %a: tensor<1xi64>, %b: tensor<2xi64>, %s: tensor<?x2x3x16xf32>) -> () {
  // CHECK: bmc.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %0 = bmc.concat %past, %new {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  // CHECK: bmc.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>, tensor<1xi64>) -> tensor<4xi64>
  %1 = bmc.concat %a, %b, %a {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>, tensor<1xi64>) -> tensor<4xi64>
  // Static sizes add up; a static dimension elsewhere refines a `?`.
  // CHECK: bmc.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<?x2x3x16xf32>, tensor<?x2x3x16xf32>) -> tensor<?x2x6x16xf32>
  %2 = bmc.concat %s, %s {axis = 2 : i64} : (tensor<?x2x3x16xf32>, tensor<?x2x3x16xf32>) -> tensor<?x2x6x16xf32>
  // One input (the exporters' identity Concat).
  // CHECK: bmc.concat %{{.*}} {axis = 2 : i64} : (tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %3 = bmc.concat %past {axis = 2 : i64} : (tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  return
}

// CHECK-LABEL: func.func @split
func.func @split(%qkv: tensor<?x?x288xf32>, %d: tensor<?x?xf32>) -> () {
  // CHECK: %{{.*}}:3 = bmc.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 96, 96, 96>} : (tensor<?x?x288xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>)
  %q, %k, %v = bmc.split %qkv {axis = 2 : i64, sizes = array<i64: 96, 96, 96>}
      : (tensor<?x?x288xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>)
  // Uneven sizes; a dynamic dimension is checked at run time.
  // CHECK: %{{.*}}:2 = bmc.split %{{.*}} {axis = 1 : i64, sizes = array<i64: 3, 5>} : (tensor<?x?xf32>) -> (tensor<?x3xf32>, tensor<?x5xf32>)
  %a, %b = bmc.split %d {axis = 1 : i64, sizes = array<i64: 3, 5>} : (tensor<?x?xf32>) -> (tensor<?x3xf32>, tensor<?x5xf32>)
  return
}

// CHECK-LABEL: func.func @slice
func.func @slice(%x: tensor<?x6x?x16xf32>, %dyn: tensor<1xi64>, %y: tensor<10x20xf32>) -> () {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  // CHECK: bmc.slice %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {axes = array<i64: 3>} : (tensor<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x6x?x8xf32>
  %0 = bmc.slice %x, %c0, %c8, %c1 {axes = array<i64: 3>}
      : (tensor<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x6x?x8xf32>
  // Bounds known only at run time.
  // CHECK: bmc.slice %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {axes = array<i64: 3>} : (tensor<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x6x?x?xf32>
  %1 = bmc.slice %x, %dyn, %c8, %c1 {axes = array<i64: 3>}
      : (tensor<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x6x?x?xf32>
  // Two axes, negative bounds, a negative step, ends past the dimension (clamped).
  %s = arith.constant dense<[-1, 2]> : tensor<2xi64>
  %e = arith.constant dense<[-100, 9223372036854775807]> : tensor<2xi64>
  %p = arith.constant dense<[-1, 3]> : tensor<2xi64>
  // CHECK: bmc.slice %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {axes = array<i64: 0, 1>} : (tensor<10x20xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<10x6xf32>
  %2 = bmc.slice %y, %s, %e, %p {axes = array<i64: 0, 1>}
      : (tensor<10x20xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<10x6xf32>
  return
}

// CHECK-LABEL: func.func @gather
func.func @gather(%table: tensor<1200x96xf32>, %ids: tensor<?x?xi64>, %s: tensor<4xi64>, %i32: tensor<3xi32>) -> () {
  // CHECK: bmc.gather %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<1200x96xf32>, tensor<?x?xi64>) -> tensor<?x?x96xf32>
  %0 = bmc.gather %table, %ids {axis = 0 : i64} : (tensor<1200x96xf32>, tensor<?x?xi64>) -> tensor<?x?x96xf32>
  %c2 = arith.constant dense<2> : tensor<i64>
  // CHECK: bmc.gather %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %1 = bmc.gather %s, %c2 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  // CHECK: bmc.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<1200x96xf32>, tensor<3xi32>) -> tensor<1200x3xf32>
  %2 = bmc.gather %table, %i32 {axis = 1 : i64} : (tensor<1200x96xf32>, tensor<3xi32>) -> tensor<1200x3xf32>
  return
}

// CHECK-LABEL: func.func @expand
func.func @expand(%x: tensor<?x2x1x?x16xf32>, %dyn: tensor<5xi64>, %m: tensor<1x8x1xf32>) -> () {
  // CHECK: bmc.expand %{{.*}}, %{{.*}} : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x?x?x16xf32>
  %0 = bmc.expand %x, %dyn : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x?x?x16xf32>
  %c = arith.constant dense<[1, 1, 3, 1, 1]> : tensor<5xi64>
  // CHECK: bmc.expand %{{.*}}, %{{.*}} : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
  %1 = bmc.expand %x, %c : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
  // The target may have a higher rank.
  %r = arith.constant dense<[2, 4, 8, 5]> : tensor<4xi64>
  // CHECK: bmc.expand %{{.*}}, %{{.*}} : (tensor<1x8x1xf32>, tensor<4xi64>) -> tensor<2x4x8x5xf32>
  %2 = bmc.expand %m, %r : (tensor<1x8x1xf32>, tensor<4xi64>) -> tensor<2x4x8x5xf32>
  return
}

// CHECK-LABEL: func.func @trilu
func.func @trilu(%x: tensor<4x5xf32>, %m: tensor<?x1x?x?xi1>, %k: tensor<i64>) -> () {
  // CHECK: bmc.trilu %{{.*}}, %{{.*}} {upper = true} : (tensor<4x5xf32>, tensor<i64>) -> tensor<4x5xf32>
  %0 = bmc.trilu %x, %k {upper = true} : (tensor<4x5xf32>, tensor<i64>) -> tensor<4x5xf32>
  // CHECK: bmc.trilu %{{.*}}, %{{.*}} {upper = false} : (tensor<?x1x?x?xi1>, tensor<i64>) -> tensor<?x1x?x?xi1>
  %1 = bmc.trilu %m, %k {upper = false} : (tensor<?x1x?x?xi1>, tensor<i64>) -> tensor<?x1x?x?xi1>
  return
}
