// --bmc-plan-memory: each kernel result that is new storage gets an arena
// slot (bmck.slot), the function the count (bmck.slots). A value is live to
// the last use of it or of a seam over it: the softmax, read by the last
// product through to_tensor / to_view, keeps slot 0 until then, so that
// product takes slot 1 (the query's, dead after the softmax). A returned
// value (the second product) keeps its slot to the end; seams, weights and
// KV views get none.
//
// RUN: bmc-opt %s --bmc-plan-memory | FileCheck %s
// RUN: bmc-opt %s --bmc-plan-memory | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @layer
// CHECK-SAME: attributes {bmck.slots = 3 : i64}
// CHECK: bmck.norm {{.*}}bmck.slot = 0 : i64
// CHECK: bmck.matmul {{.*}}{bmck.slot = 1 : i64, weight = "wq"}
// CHECK: bmck.matmul {{.*}}{bmck.slot = 2 : i64, weight = "wq"}
// CHECK: bmck.kv_rows
// CHECK-NOT: bmck.slot
// CHECK-SAME: -> !bmck.view
// CHECK: bmck.softmax {{.*}}bmck.slot = 0 : i64
// CHECK: bmck.matmul {{.*}}{bmck.slot = 1 : i64, weight = "wo"}
// CHECK-NOT: bmck.slot
func.func @layer(%x: tensor<?x24xf32>, %g: tensor<24xf32>, %kc: !bmc.kv_cache<1x16xf32>) -> (tensor<?x24xf32>, tensor<?x16xf32>) {
  %xv = bmck.to_view %x : tensor<?x24xf32> -> !bmck.view<?x24xf32>
  %gv = bmck.to_view %g : tensor<24xf32> -> !bmck.view<24xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x24xf32>, !bmck.view<24xf32>) -> !bmck.view<?x24xf32>
  %wq = bmc.weight "wq" : tensor<24x16xf32>
  %wqv = bmck.to_view %wq : tensor<24x16xf32> -> !bmck.view<24x16xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<?x24xf32>, !bmck.view<24x16xf32>) -> !bmck.view<?x16xf32>
  %k = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<?x24xf32>, !bmck.view<24x16xf32>) -> !bmck.view<?x16xf32>
  %kr = bmck.kv_rows %kc : !bmc.kv_cache<1x16xf32> -> !bmck.view<?x1x?x16xf32>
  %s = bmck.softmax %q {axis = 1 : i64} : (!bmck.view<?x16xf32>) -> !bmck.view<?x16xf32>
  %st = bmck.to_tensor %s : !bmck.view<?x16xf32> -> tensor<?x16xf32>
  %sv = bmck.to_view %st : tensor<?x16xf32> -> !bmck.view<?x16xf32>
  %wo = bmc.weight "wo" : tensor<16x24xf32>
  %wov = bmck.to_view %wo : tensor<16x24xf32> -> !bmck.view<16x24xf32>
  %o = bmck.matmul %sv, %wov {weight = "wo"} : (!bmck.view<?x16xf32>, !bmck.view<16x24xf32>) -> !bmck.view<?x24xf32>
  %y = bmck.to_tensor %o : !bmck.view<?x24xf32> -> tensor<?x24xf32>
  %kt = bmck.to_tensor %k : !bmck.view<?x16xf32> -> tensor<?x16xf32>
  return %y, %kt : tensor<?x24xf32>, tensor<?x16xf32>
}

// Views (split, unsqueeze) are no storage of their own: they get no slot,
// and a use of one keeps the storage it views live. The norm is read by the
// second softmax through a split and an unsqueeze, so the first softmax may
// not take its slot 0.
// CHECK-LABEL: func.func @views
// CHECK-SAME: attributes {bmck.slots = 3 : i64}
// CHECK: bmck.norm {{.*}}bmck.slot = 0 : i64
// CHECK: bmck.split
// CHECK-NOT: bmck.slot
// CHECK-SAME: -> (!bmck.view
// CHECK: bmck.unsqueeze
// CHECK-NOT: bmck.slot
// CHECK-SAME: -> !bmck.view
// CHECK: bmck.softmax {{.*}}bmck.slot = 1 : i64
// CHECK: bmck.softmax {{.*}}bmck.slot = 2 : i64
func.func @views(%x: tensor<?x24xf32>, %g: tensor<24xf32>) -> (tensor<?x8xf32>, tensor<1x?x16xf32>) {
  %xv = bmck.to_view %x : tensor<?x24xf32> -> !bmck.view<?x24xf32>
  %gv = bmck.to_view %g : tensor<24xf32> -> !bmck.view<24xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x24xf32>, !bmck.view<24xf32>) -> !bmck.view<?x24xf32>
  %a, %b = bmck.split %n {axis = 1 : i64, sizes = array<i64: 8, 16>}
      : (!bmck.view<?x24xf32>) -> (!bmck.view<?x8xf32>, !bmck.view<?x16xf32>)
  %bu = bmck.unsqueeze %b {axes = array<i64: 0>} : (!bmck.view<?x16xf32>) -> !bmck.view<1x?x16xf32>
  %sa = bmck.softmax %a {axis = 1 : i64} : (!bmck.view<?x8xf32>) -> !bmck.view<?x8xf32>
  %sb = bmck.softmax %bu {axis = 2 : i64} : (!bmck.view<1x?x16xf32>) -> !bmck.view<1x?x16xf32>
  %ta = bmck.to_tensor %sa : !bmck.view<?x8xf32> -> tensor<?x8xf32>
  %tb = bmck.to_tensor %sb : !bmck.view<1x?x16xf32> -> tensor<1x?x16xf32>
  return %ta, %tb : tensor<?x8xf32>, tensor<1x?x16xf32>
}
