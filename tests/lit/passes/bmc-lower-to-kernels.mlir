// --bmc-lower-to-kernels: the KV cache and attention families move to the
// kernel level. bmc.kv_append becomes bmck.kv_append after the seam
// bmck.to_view (its new rows, computed at tensor level); bmc.attention
// becomes bmck.attention, reading the kv_append views directly (their
// bmck.to_tensor seams are folded away), q and the mask through bmck.to_view,
// and, with padding = mask and K a cache's append, that cache's capacity as
// its padded length; its result goes back to tensor level through
// bmck.to_tensor. bmc.kv_past becomes bmck.kv_rows; each new op keeps the
// layer mark; the other ops (kv_capacity, shape queries) are untouched. The
// output verifies and round-trips; running the pass twice changes nothing.
//
// RUN: bmc-opt %s --bmc-lower-to-kernels | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past --implicit-check-not=bmc.attention
// RUN: bmc-opt %s --bmc-lower-to-kernels | bmc-opt --bmc-lower-to-kernels | bmc-opt | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past --implicit-check-not=bmc.attention

// CHECK-LABEL: func.func @layer
// CHECK-SAME: %[[KC:arg0]]: !bmc.kv_cache<2x16xf32>, %[[VC:arg1]]: !bmc.kv_cache<2x16xbf16>
// CHECK: %[[PV:.*]] = bmck.kv_rows %[[KC]] : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[PAST:.*]] = bmck.to_tensor %[[PV]] : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
// CHECK-NEXT: tensor.dim %[[PAST]], %{{.*}} : tensor<?x2x?x16xf32>
// CHECK-NEXT: %[[KR:.*]] = bmck.to_view %arg2 {bmc.layer = 0 : i64} : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[KA:.*]] = bmck.kv_append %[[KC]], %[[KR]] {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
// CHECK-NEXT: %[[VR:.*]] = bmck.to_view %arg3 {bmc.layer = 0 : i64} : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
// CHECK-NEXT: %[[VA:.*]] = bmck.kv_append %[[VC]], %[[VR]] {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xbf16>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xbf16>
// CHECK-NEXT: %[[CAP:.*]] = bmc.kv_capacity %[[KC]] {bmc.layer = 0 : i64}
// CHECK-NEXT: %[[Q:.*]] = bmck.to_view %arg4 {bmc.layer = 0 : i64} : tensor<1x6x?x16xf32> -> !bmck.view<1x6x?x16xf32>
// CHECK-NEXT: %[[PAD:.*]] = bmc.kv_capacity %[[KC]] {bmc.layer = 0 : i64}
// CHECK-NEXT: %[[O:.*]] = bmck.attention %[[Q]], %[[KA]], %[[KA]] padded %[[PAD]] {bmc.layer = 0 : i64, padding = #bmc.padding<mask>, scale = 2.500000e-01 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>, index) -> !bmck.view<1x6x?x16xf32>
// CHECK-NEXT: %[[OT:.*]] = bmck.to_tensor %[[O]] {bmc.layer = 0 : i64} : !bmck.view<1x6x?x16xf32> -> tensor<1x6x?x16xf32>
// CHECK-NEXT: %[[Q2:.*]] = bmck.to_view %arg4 {bmc.layer = 0 : i64}
// CHECK-NEXT: %[[O2:.*]] = bmck.attention %[[Q2]], %[[VA]], %[[VA]] {bmc.layer = 0 : i64, scale = 2.500000e-01 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<1x2x?x16xbf16>, !bmck.view<1x2x?x16xbf16>) -> !bmck.view<1x6x?x16xf32>
// CHECK-NEXT: %[[O2T:.*]] = bmck.to_tensor %[[O2]] {bmc.layer = 0 : i64}
// CHECK-NEXT: return %[[OT]], %[[O2T]], %{{.*}}, %[[CAP]]
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

// Without KV caches (kv-mode=concat) the KV family has nothing to do; the
// attention reads K and V (and the mask) through bmck.to_view, keeps every
// attribute, and has no padded length even with padding = mask (no spare
// rows: the kernel reads the K rows there are).
// CHECK-LABEL: func.func @concat
// CHECK-NEXT: %[[C:.*]] = bmc.concat
// CHECK-NEXT: %[[Q:.*]] = bmck.to_view %arg2 : tensor<?x4x?x8xf32> -> !bmck.view<?x4x?x8xf32>
// CHECK-NEXT: %[[K:.*]] = bmck.to_view %[[C]] : tensor<?x2x?x8xf32> -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[V:.*]] = bmck.to_view %[[C]] : tensor<?x2x?x8xf32> -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[M:.*]] = bmck.to_view %arg3 : tensor<?x1x?x?xf32> -> !bmck.view<?x1x?x?xf32>
// CHECK-NEXT: %[[O:.*]] = bmck.attention %[[Q]], %[[K]], %[[V]] mask %[[M]] {padding = #bmc.padding<mask>, scale = 5.000000e-01 : f32, smooth_softmax = true, softcap = 3.000000e+01 : f32} : (!bmck.view<?x4x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x1x?x?xf32>) -> !bmck.view<?x4x?x8xf32>
// CHECK-NEXT: %[[T:.*]] = bmck.to_tensor %[[O]] : !bmck.view<?x4x?x8xf32> -> tensor<?x4x?x8xf32>
// CHECK-NEXT: return %[[C]], %[[T]]
func.func @concat(%p: tensor<?x2x?x8xf32>, %n: tensor<?x2x?x8xf32>, %q: tensor<?x4x?x8xf32>, %m: tensor<?x1x?x?xf32>)
    -> (tensor<?x2x?x8xf32>, tensor<?x4x?x8xf32>) {
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %o = bmc.attention %q, %c, %c, %m {scale = 0.5 : f32, padding = #bmc.padding<mask>, softcap = 30.0 : f32, smooth_softmax = true}
      : (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x8xf32>
  return %c, %o : tensor<?x2x?x8xf32>, tensor<?x4x?x8xf32>
}

// A kv_append's present view that is also returned keeps its seam for the
// return; the attention still reads the view.
// CHECK-LABEL: func.func @present_returned
// CHECK: %[[A:.*]] = bmck.kv_append
// CHECK-NEXT: %[[P:.*]] = bmck.to_tensor %[[A]]
// CHECK-NEXT: %[[Q:.*]] = bmck.to_view %arg2
// CHECK-NEXT: bmck.attention %[[Q]], %[[A]], %[[A]] {scale
// CHECK: return %{{.*}}, %[[P]]
func.func @present_returned(%kc: !bmc.kv_cache<2x16xf32>, %nk: tensor<?x2x?x16xf32>, %q: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %k = bmc.kv_append %kc, %nk : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %o = bmc.attention %q, %k, %k {scale = 0.25 : f32}
      : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  return %o, %k : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}
