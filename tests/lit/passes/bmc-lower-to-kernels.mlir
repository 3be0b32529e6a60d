// --bmc-lower-to-kernels: the KV cache family moves to the kernel level.
// bmc.kv_append becomes bmck.kv_append between the seams bmck.to_view (its
// new rows, computed at tensor level) and bmck.to_tensor (its present view,
// read by the attention, still at tensor level); bmc.kv_past becomes
// bmck.kv_rows; each new op keeps the layer mark; the other ops (attention,
// kv_capacity, shape queries) are untouched. The output verifies and
// round-trips; running the pass twice changes nothing.
//
// RUN: bmc-opt %s --bmc-lower-to-kernels | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past
// RUN: bmc-opt %s --bmc-lower-to-kernels | bmc-opt --bmc-lower-to-kernels | bmc-opt | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past

// CHECK-LABEL: func.func @layer
// CHECK-SAME: %[[KC:arg0]]: !bmc.kv_cache<2x16xf32>, %[[VC:arg1]]: !bmc.kv_cache<2x16xbf16>
// CHECK: %[[PV:.*]] = bmck.kv_rows %[[KC]] : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[PAST:.*]] = bmck.to_tensor %[[PV]] : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
// CHECK-NEXT: tensor.dim %[[PAST]], %{{.*}} : tensor<?x2x?x16xf32>
// CHECK-NEXT: %[[KR:.*]] = bmck.to_view %arg2 {bmc.layer = 0 : i64} : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[KA:.*]] = bmck.kv_append %[[KC]], %[[KR]] {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[K:.*]] = bmck.to_tensor %[[KA]] {bmc.layer = 0 : i64} : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
// CHECK-NEXT: %[[VR:.*]] = bmck.to_view %arg3 {bmc.layer = 0 : i64} : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
// CHECK-NEXT: %[[VA:.*]] = bmck.kv_append %[[VC]], %[[VR]] {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xbf16>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xbf16>
// CHECK-NEXT: %[[V:.*]] = bmck.to_tensor %[[VA]] {bmc.layer = 0 : i64} : !bmck.view<1x2x?x16xbf16> -> tensor<1x2x?x16xbf16>
// CHECK-NEXT: bmc.kv_capacity %[[KC]] {bmc.layer = 0 : i64}
// CHECK-NEXT: bmc.attention %arg4, %[[K]], %[[K]] {bmc.layer = 0 : i64, padding = #bmc.padding<mask>, scale = 2.500000e-01 : f32}
// CHECK-NEXT: bmc.attention %arg4, %[[V]], %[[V]] {bmc.layer = 0 : i64, scale = 2.500000e-01 : f32}
func.func @layer(%kc: !bmc.kv_cache<2x16xf32>, %vc: !bmc.kv_cache<2x16xbf16>, %nk: tensor<?x2x?x16xf32>,
                 %nv: tensor<1x2x?x16xf32>, %q: tensor<1x6x?x16xf32>)
    -> (tensor<1x6x?x16xf32>, tensor<1x6x?x16xf32>, index, index) {
  %c2 = arith.constant 2 : index
  %past = bmc.kv_past %kc : (!bmc.kv_cache<2x16xf32>) -> tensor<?x2x?x16xf32>
  %len = tensor.dim %past, %c2 : tensor<?x2x?x16xf32>
  %k = bmc.kv_append %kc, %nk {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %v = bmc.kv_append %vc, %nv {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xbf16>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xbf16>
  %cap = bmc.kv_capacity %kc {bmc.layer = 0 : i64} : !bmc.kv_cache<2x16xf32>
  %o = bmc.attention %q, %k, %k {bmc.layer = 0 : i64, scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (tensor<1x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<1x6x?x16xf32>
  %o2 = bmc.attention %q, %v, %v {bmc.layer = 0 : i64, scale = 0.25 : f32}
      : (tensor<1x6x?x16xf32>, tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>) -> tensor<1x6x?x16xf32>
  return %o, %o2, %len, %cap : tensor<1x6x?x16xf32>, tensor<1x6x?x16xf32>, index, index
}

// Without KV caches (kv-mode=concat) the pass changes nothing.
// CHECK-LABEL: func.func @concat
// CHECK-NEXT: bmc.concat
// CHECK-NEXT: return
func.func @concat(%p: tensor<?x2x?x16xf32>, %n: tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32> {
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  return %c : tensor<?x2x?x16xf32>
}
