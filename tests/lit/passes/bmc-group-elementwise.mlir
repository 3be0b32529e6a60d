// --bmc-group-elementwise: the elementwise fusion decision. An elementwise op
// whose value has one use, an elementwise op in the same block, is marked
// bmc.fused; one with two uses, or read by a non-elementwise op (a matmul, a
// return), is not. fuse=false marks nothing and removes earlier marks, so
// --bmc-lower-to-kernels then makes a group of every op. A 16-bit weight's
// Cast read only by packed products stays at tensor level (the product names
// the weight); the same Cast read by an Add too becomes a group. A group
// whose ops do not stand together (the mask's And chain, a Reshape between
// its two Ands) is marked alike and becomes one bmck.elementwise at its root.
//
// RUN: bmc-opt %s --bmc-group-elementwise | FileCheck %s
// RUN: bmc-opt %s --bmc-group-elementwise | bmc-opt --bmc-group-elementwise=fuse=false | FileCheck %s --check-prefix=NOFUSE --implicit-check-not=bmc.fused
// RUN: bmc-opt %s --bmc-group-elementwise=fuse=false --bmc-lower-to-kernels | FileCheck %s --check-prefix=GROUPS
// RUN: bmc-opt %s --bmc-group-elementwise --bmc-lower-to-kernels | FileCheck %s --check-prefix=FUSED

// CHECK-LABEL: func.func @decide
// CHECK: bmc.mul {{.*}}{bmc.fused}
// CHECK-NEXT: bmc.add {{.*}}{bmc.fused}
// CHECK-NEXT: bmc.sigmoid
// CHECK-NOT: bmc.fused
// CHECK-SAME: : (tensor<?x96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: bmc.exp {{.*}}{bmc.fused}
// CHECK-NEXT: bmc.sub %{{[0-9]+}}, %{{[0-9]+}} :
// CHECK-NEXT: bmc.matmul
// CHECK-NEXT: bmc.neg {{.*}} :
// NOFUSE-LABEL: func.func @decide
// NOFUSE: bmc.sub
// GROUPS-LABEL: func.func @decide
// GROUPS-COUNT-6: bmck.elementwise
// GROUPS-NOT: bmck.elementwise
// GROUPS: return
// FUSED-LABEL: func.func @decide
// FUSED-COUNT-3: bmck.elementwise
// FUSED-NOT: bmck.elementwise
// FUSED: return
func.func @decide(%x: tensor<?x96xf32>, %b: tensor<96xf32>, %w: tensor<96x4xf32>) -> (tensor<?x96xf32>, tensor<?x4xf32>) {
  %m = bmc.mul %x, %x : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %a = bmc.add %m, %b : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
  %s = bmc.sigmoid %a : (tensor<?x96xf32>) -> tensor<?x96xf32>
  %e = bmc.exp %s : (tensor<?x96xf32>) -> tensor<?x96xf32>
  %d = bmc.sub %e, %s : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %y = bmc.matmul %d, %w : (tensor<?x96xf32>, tensor<96x4xf32>) -> tensor<?x4xf32>
  %n = bmc.neg %y : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %d, %n : tensor<?x96xf32>, tensor<?x4xf32>
}

// FUSED-LABEL: func.func @weight_cast
// FUSED: %[[H:.*]] = bmc.weight "w.h" : tensor<70x23xf16>
// FUSED-NEXT: %[[HC:.*]] = bmc.cast %[[H]] {to = f32} : (tensor<70x23xf16>) -> tensor<70x23xf32>
// FUSED: bmck.to_view %[[HC]]
// FUSED-NEXT: bmck.matmul {{.*}}{weight = "w.h"}
// FUSED: %[[G:.*]] = bmc.weight "w.g" : tensor<70x23xf16>
// FUSED-NOT: bmc.cast
// FUSED: bmck.elementwise
// FUSED-NEXT: ^bb0
// FUSED-NEXT: bmc.cast
// FUSED: bmck.matmul {{.*}}{weight = "w.g"}
// FUSED: bmck.elementwise
// FUSED-NEXT: ^bb0
// FUSED-NEXT: bmc.add
func.func @weight_cast(%x: tensor<?x70xf32>, %z: tensor<70x23xf32>) -> (tensor<?x23xf32>, tensor<?x23xf32>, tensor<70x23xf32>) {
  %h = bmc.weight "w.h" : tensor<70x23xf16>
  %hc = bmc.cast %h {to = f32} : (tensor<70x23xf16>) -> tensor<70x23xf32>
  %0 = bmc.matmul %x, %hc : (tensor<?x70xf32>, tensor<70x23xf32>) -> tensor<?x23xf32>
  %g = bmc.weight "w.g" : tensor<70x23xf16>
  %gc = bmc.cast %g {to = f32} : (tensor<70x23xf16>) -> tensor<70x23xf32>
  %1 = bmc.matmul %x, %gc : (tensor<?x70xf32>, tensor<70x23xf32>) -> tensor<?x23xf32>
  %2 = bmc.add %gc, %z : (tensor<70x23xf32>, tensor<70x23xf32>) -> tensor<70x23xf32>
  return %0, %1, %2 : tensor<?x23xf32>, tensor<?x23xf32>, tensor<70x23xf32>
}

// CHECK-LABEL: func.func @interleaved_and
// CHECK: bmc.and {{.*}}{bmc.fused}
// CHECK-NEXT: bmc.reshape
// CHECK-NEXT: bmc.and
// CHECK-NOT: bmc.fused
// CHECK-SAME: -> tensor<?x1x?x?xi1>
// GROUPS-LABEL: func.func @interleaved_and
// GROUPS-COUNT-2: bmck.elementwise
// GROUPS-NOT: bmck.elementwise
// GROUPS: return
// FUSED-LABEL: func.func @interleaved_and
// FUSED: bmck.reshape
// FUSED-NOT: bmc.and
// FUSED: bmck.elementwise %{{.*}}, %{{.*}}, %{{.*}} : (!bmck.view<i1>, !bmck.view<1x1x?x?xi1>, !bmck.view<?x1x1x?xi1>) -> !bmck.view<?x1x?x?xi1> {
// FUSED-NEXT: ^bb0
// FUSED-NEXT: bmc.and
// FUSED-NEXT: bmc.and
// FUSED-NEXT: bmck.yield
// FUSED-NOT: bmck.elementwise
// FUSED: return
func.func @interleaved_and(%t: tensor<i1>, %causal: tensor<1x1x?x?xi1>, %pad: tensor<?xi1>, %shape: tensor<4xi64>) -> tensor<?x1x?x?xi1> {
  %a = bmc.and %t, %causal : (tensor<i1>, tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1>
  %p = bmc.reshape %pad, %shape : (tensor<?xi1>, tensor<4xi64>) -> tensor<?x1x1x?xi1>
  %m = bmc.and %a, %p : (tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
  return %m : tensor<?x1x?x?xi1>
}
