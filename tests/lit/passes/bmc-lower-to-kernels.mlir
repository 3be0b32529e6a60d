// --bmc-lower-to-kernels: the KV cache, attention and matrix-product
// families move to the kernel level. bmc.kv_append becomes bmck.kv_append after the seam
// bmck.to_view (its new rows, computed at tensor level); bmc.attention
// becomes bmck.attention, reading the kv_append views directly (their
// bmck.to_tensor seams are folded away), q and the mask through bmck.to_view,
// and, with padding = mask and K a cache's append, that cache's capacity as
// its padded length; its result goes back to tensor level through
// bmck.to_tensor. bmc.kv_past becomes bmck.kv_rows; each new op keeps the
// layer mark; the other ops (kv_capacity, shape queries) are untouched.
// bmc.matmul / bmc.gemm become bmck.matmul / bmck.gemm (see @products); the
// norms, softmax and reductions bmck.norm / bmck.softmax / bmck.reduce (see
// @rows); bmc.slice / split / squeeze / unsqueeze / expand / concat /
// gather / transpose / reshape / flatten become bmck.slice / split / squeeze
// / unsqueeze / expand / concat / gather / transpose / reshape / flatten,
// with a bmck.copy before a reshape of a view not known contiguous (see
// @concat, @data, @views, @data_leaves, @layout). Elementwise ops become
// one bmck.elementwise per group that bmc-group-elementwise decided (see
// @elementwise; @interleaved: groups whose ops do not stand together in the
// block). The output verifies and round-trips; running the pass twice
// changes nothing.
//
// RUN: bmc-opt %s --bmc-group-elementwise --bmc-lower-to-kernels | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past --implicit-check-not=bmc.attention --implicit-check-not=bmc.matmul --implicit-check-not=bmc.gemm --implicit-check-not=bmc.layer_norm --implicit-check-not=bmc.rms_norm --implicit-check-not=bmc.softmax --implicit-check-not=bmc.reduce_
// RUN: bmc-opt %s --bmc-group-elementwise --bmc-lower-to-kernels | bmc-opt --bmc-lower-to-kernels | bmc-opt | FileCheck %s --implicit-check-not=bmc.kv_append --implicit-check-not=bmc.kv_past --implicit-check-not=bmc.attention --implicit-check-not=bmc.matmul --implicit-check-not=bmc.gemm --implicit-check-not=bmc.layer_norm --implicit-check-not=bmc.rms_norm --implicit-check-not=bmc.softmax --implicit-check-not=bmc.reduce_

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
// graph's Concat becomes bmck.concat (a copy into a new view) and the
// attention reads that view directly, K and V through no seam, q and the mask
// through bmck.to_view; it keeps every attribute and has no padded length
// even with padding = mask (no spare rows: the kernel reads the K rows there
// are). The concatenation is returned through its bmck.to_tensor.
// CHECK-LABEL: func.func @concat
// CHECK-NEXT: %[[P:.*]] = bmck.to_view %arg0 : tensor<?x2x?x8xf32> -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[N:.*]] = bmck.to_view %arg1 : tensor<?x2x?x8xf32> -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[C:.*]] = bmck.concat %[[P]], %[[N]] {axis = 2 : i64} : (!bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>) -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[CT:.*]] = bmck.to_tensor %[[C]] : !bmck.view<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
// CHECK-NEXT: %[[Q:.*]] = bmck.to_view %arg2 : tensor<?x4x?x8xf32> -> !bmck.view<?x4x?x8xf32>
// CHECK-NEXT: %[[M:.*]] = bmck.to_view %arg3 : tensor<?x1x?x?xf32> -> !bmck.view<?x1x?x?xf32>
// CHECK-NEXT: %[[O:.*]] = bmck.attention %[[Q]], %[[C]], %[[C]] mask %[[M]] {padding = #bmc.padding<mask>, scale = 5.000000e-01 : f32, smooth_softmax = true, softcap = 3.000000e+01 : f32} : (!bmck.view<?x4x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x1x?x?xf32>) -> !bmck.view<?x4x?x8xf32>
// CHECK-NEXT: %[[T:.*]] = bmck.to_tensor %[[O]] : !bmck.view<?x4x?x8xf32> -> tensor<?x4x?x8xf32>
// CHECK-NEXT: return %[[CT]], %[[T]]
func.func @concat(%p: tensor<?x2x?x8xf32>, %n: tensor<?x2x?x8xf32>, %q: tensor<?x4x?x8xf32>, %m: tensor<?x1x?x?xf32>)
    -> (tensor<?x2x?x8xf32>, tensor<?x4x?x8xf32>) {
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %o = bmc.attention %q, %c, %c, %m {scale = 0.5 : f32, padding = #bmc.padding<mask>, softcap = 30.0 : f32, smooth_softmax = true}
      : (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x8xf32>
  return %c, %o : tensor<?x2x?x8xf32>, tensor<?x4x?x8xf32>
}

// Data movement: bmc.gather (an embedding) becomes bmck.gather, bmc.split
// the view op bmck.split, bmc.slice the view op bmck.slice (its bounds stay
// tensor-level shape values), each keeping its layer mark; a product reads
// the slice's view through no seam, a split piece feeds the slice directly.
// A concatenation of index-typed shape vectors (no view type carries index)
// stays at tensor level; a transpose reads a split piece's view directly.
// CHECK-LABEL: func.func @data
// CHECK-NEXT: %[[W:.*]] = bmc.weight
// CHECK-NEXT: %[[WV:.*]] = bmck.to_view %[[W]] {bmc.layer = 0 : i64} : tensor<50x12xf32> -> !bmck.view<50x12xf32>
// CHECK-NEXT: %[[IV:.*]] = bmck.to_view %arg0 {bmc.layer = 0 : i64} : tensor<?x?xi64> -> !bmck.view<?x?xi64>
// CHECK-NEXT: %[[E:.*]] = bmck.gather %[[WV]], %[[IV]] {axis = 0 : i64, bmc.layer = 0 : i64} : (!bmck.view<50x12xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x12xf32>
// CHECK-NEXT: %[[S:.*]]:2 = bmck.split %[[E]] {axis = 2 : i64, bmc.layer = 0 : i64, sizes = array<i64: 4, 8>} : (!bmck.view<?x?x12xf32>) -> (!bmck.view<?x?x4xf32>, !bmck.view<?x?x8xf32>)
// CHECK-NEXT: %[[L:.*]] = bmck.slice %[[S]]#0, %arg1, %arg1, %arg1 {axes = array<i64: 2>, bmc.layer = 0 : i64} : (!bmck.view<?x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x?x?xf32>
// CHECK-NEXT: %[[R:.*]] = bmck.to_view %arg2
// CHECK-NEXT: bmck.matmul %[[L]], %[[R]]
// CHECK: bmc.concat %arg3, %arg3 {axis = 0 : i64} : (tensor<2xindex>, tensor<2xindex>) -> tensor<4xindex>
// CHECK-NEXT: bmck.transpose %[[S]]#1 {perm = array<i64: 2, 0, 1>} : (!bmck.view<?x?x8xf32>) -> !bmck.view<8x?x?xf32>
func.func @data(%ids: tensor<?x?xi64>, %b: tensor<1xi64>, %r: tensor<?x5xf32>, %sh: tensor<2xindex>)
    -> (tensor<?x?x5xf32>, tensor<4xindex>, tensor<8x?x?xf32>) {
  %w = bmc.weight "wte" : tensor<50x12xf32>
  %e = bmc.gather %w, %ids {axis = 0 : i64, bmc.layer = 0 : i64} : (tensor<50x12xf32>, tensor<?x?xi64>) -> tensor<?x?x12xf32>
  %s:2 = bmc.split %e {axis = 2 : i64, sizes = array<i64: 4, 8>, bmc.layer = 0 : i64} : (tensor<?x?x12xf32>) -> (tensor<?x?x4xf32>, tensor<?x?x8xf32>)
  %l = bmc.slice %s#0, %b, %b, %b {axes = array<i64: 2>, bmc.layer = 0 : i64} : (tensor<?x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?xf32>
  %m = bmc.matmul %l, %r : (tensor<?x?x?xf32>, tensor<?x5xf32>) -> tensor<?x?x5xf32>
  %c = bmc.concat %sh, %sh {axis = 0 : i64} : (tensor<2xindex>, tensor<2xindex>) -> tensor<4xindex>
  %t = bmc.transpose %s#1 {perm = array<i64: 2, 0, 1>} : (tensor<?x?x8xf32>) -> tensor<8x?x?xf32>
  return %m, %c, %t : tensor<?x?x5xf32>, tensor<4xindex>, tensor<8x?x?xf32>
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

// Matrix products. The op names the weight its right operand reads: an f32
// weight through a Transpose, a 16-bit one through a widening Cast (the
// Transpose and the Cast stay: they are tensor-level values the seam wraps),
// a 16-bit one read directly (a 16-bit graph), the Gemm's B (trans_b is the
// Gemm's own). Not named: a run-time value, an int8 weight behind a Cast, a
// 3-D weight, a weight behind two Transposes. A product reads an attention
// result as its view (that seam folded away); a Gemm keeps every attribute
// and its C.
// CHECK-LABEL: func.func @products
// CHECK: %[[WT:.*]] = bmc.transpose %[[W:.*]] {bmc.layer = 1 : i64
// CHECK: %[[X:.*]] = bmck.to_view %arg0 {bmc.layer = 1 : i64} : tensor<?x70xf32> -> !bmck.view<?x70xf32>
// CHECK-NEXT: %[[WV:.*]] = bmck.to_view %[[WT]] {bmc.layer = 1 : i64} : tensor<70x19xf32> -> !bmck.view<70x19xf32>
// CHECK-NEXT: %[[P0:.*]] = bmck.matmul %[[X]], %[[WV]] {bmc.layer = 1 : i64, weight = "w.q"} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>) -> !bmck.view<?x19xf32>
// CHECK-NEXT: %[[T0:.*]] = bmck.to_tensor %[[P0]] {bmc.layer = 1 : i64} : !bmck.view<?x19xf32> -> tensor<?x19xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} {weight = "w.h"} : (!bmck.view<?x70xf32>, !bmck.view<70x23xf32>) -> !bmck.view<?x23xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} {weight = "w.h"} : (!bmck.view<?x70xf16>, !bmck.view<70x23xf16>) -> !bmck.view<?x23xf16>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<?x70xf32>, !bmck.view<70x5xf32>) -> !bmck.view<?x5xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<?x70xf32>, !bmck.view<70x23xf32>) -> !bmck.view<?x23xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<?x70xf32>, !bmck.view<2x70x3xf32>) -> !bmck.view<2x?x3xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>) -> !bmck.view<?x19xf32>
// CHECK: %[[A:.*]] = bmck.attention
// CHECK-NEXT: %[[AW:.*]] = bmck.to_view %{{.*}} : tensor<16x8xf32> -> !bmck.view<16x8xf32>
// CHECK-NEXT: bmck.matmul %[[A]], %[[AW]] {weight = "w.o"} : (!bmck.view<1x2x3x16xf32>, !bmck.view<16x8xf32>) -> !bmck.view<1x2x3x8xf32>
// CHECK: bmck.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, beta = 2.000000e+00 : f32, trans_a = false, trans_b = true, weight = "w.q"} : (!bmck.view<?x70xf32>, !bmck.view<19x70xf32>, !bmck.view<1xf32>) -> !bmck.view<?x19xf32>
// CHECK: bmck.gemm %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = true, trans_b = false} : (!bmck.view<70x?xf32>, !bmck.view<70x5xf32>) -> !bmck.view<?x5xf32>
func.func @products(%x: tensor<?x70xf32>, %x16: tensor<?x70xf16>, %r: tensor<70x5xf32>, %q: tensor<1x2x3x16xf32>,
                    %c: tensor<1xf32>, %xt: tensor<70x?xf32>)
    -> (tensor<?x19xf32>, tensor<?x23xf32>, tensor<?x23xf16>, tensor<?x5xf32>, tensor<?x23xf32>, tensor<2x?x3xf32>,
        tensor<?x19xf32>, tensor<1x2x3x8xf32>, tensor<?x19xf32>, tensor<?x5xf32>) {
  %w = bmc.weight "w.q" : tensor<19x70xf32>
  %wt = bmc.transpose %w {bmc.layer = 1 : i64, perm = array<i64: 1, 0>} : (tensor<19x70xf32>) -> tensor<70x19xf32>
  %0 = bmc.matmul %x, %wt {bmc.layer = 1 : i64} : (tensor<?x70xf32>, tensor<70x19xf32>) -> tensor<?x19xf32>
  %h = bmc.weight "w.h" : tensor<70x23xf16>
  %hc = bmc.cast %h {to = f32} : (tensor<70x23xf16>) -> tensor<70x23xf32>
  %1 = bmc.matmul %x, %hc : (tensor<?x70xf32>, tensor<70x23xf32>) -> tensor<?x23xf32>
  %2 = bmc.matmul %x16, %h : (tensor<?x70xf16>, tensor<70x23xf16>) -> tensor<?x23xf16>
  %3 = bmc.matmul %x, %r : (tensor<?x70xf32>, tensor<70x5xf32>) -> tensor<?x5xf32>
  %i = bmc.weight "w.i8" : tensor<70x23xi8>
  %ic = bmc.cast %i {to = f32} : (tensor<70x23xi8>) -> tensor<70x23xf32>
  %4 = bmc.matmul %x, %ic : (tensor<?x70xf32>, tensor<70x23xf32>) -> tensor<?x23xf32>
  %w3 = bmc.weight "w.3d" : tensor<2x70x3xf32>
  %5 = bmc.matmul %x, %w3 : (tensor<?x70xf32>, tensor<2x70x3xf32>) -> tensor<2x?x3xf32>
  %wtt = bmc.transpose %wt {perm = array<i64: 1, 0>} : (tensor<70x19xf32>) -> tensor<19x70xf32>
  %wttt = bmc.transpose %wtt {perm = array<i64: 1, 0>} : (tensor<19x70xf32>) -> tensor<70x19xf32>
  %6 = bmc.matmul %x, %wttt : (tensor<?x70xf32>, tensor<70x19xf32>) -> tensor<?x19xf32>
  %wo = bmc.weight "w.o" : tensor<16x8xf32>
  %o = bmc.attention %q, %q, %q {scale = 0.25 : f32}
      : (tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  %7 = bmc.matmul %o, %wo : (tensor<1x2x3x16xf32>, tensor<16x8xf32>) -> tensor<1x2x3x8xf32>
  %8 = bmc.gemm %x, %w, %c {alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = false, trans_b = true}
      : (tensor<?x70xf32>, tensor<19x70xf32>, tensor<1xf32>) -> tensor<?x19xf32>
  %9 = bmc.gemm %xt, %r {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = false}
      : (tensor<70x?xf32>, tensor<70x5xf32>) -> tensor<?x5xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : tensor<?x19xf32>, tensor<?x23xf32>, tensor<?x23xf16>, tensor<?x5xf32>,
      tensor<?x23xf32>, tensor<2x?x3xf32>, tensor<?x19xf32>, tensor<1x2x3x8xf32>, tensor<?x19xf32>, tensor<?x5xf32>
}

// Norms, softmax and reductions. An RMS norm reads the elementwise group
// before it as its view and is read by a product as its view (no seams); a
// layer norm keeps its axis, epsilon and bias; a softmax feeding an
// elementwise group is read by it as its view; each
// reduction gets its kind, and unsorted axes (bmc accepts them) are sorted.
// CHECK-LABEL: func.func @rows
// CHECK: %[[S:.*]] = bmck.elementwise %{{.*}}, %{{.*}} {bmc.layer = 2 : i64} : (!bmck.view<?x?x6xf32>, !bmck.view<?x?x6xf32>) -> !bmck.view<?x?x6xf32> {
// CHECK: bmc.add
// CHECK: %[[GV:.*]] = bmck.to_view %{{.*}} {bmc.layer = 2 : i64} : tensor<6xf32> -> !bmck.view<6xf32>
// CHECK-NEXT: %[[N:.*]] = bmck.norm %[[S]], %[[GV]] {axis = 2 : i64, bmc.layer = 2 : i64, epsilon = 9.99999997E-7 : f32, kind = #bmck.norm<rms>} : (!bmck.view<?x?x6xf32>, !bmck.view<6xf32>) -> !bmck.view<?x?x6xf32>
// CHECK-NEXT: %[[WV:.*]] = bmck.to_view %{{.*}} {bmc.layer = 2 : i64} : tensor<6x5xf32> -> !bmck.view<6x5xf32>
// CHECK-NEXT: %[[P:.*]] = bmck.matmul %[[N]], %[[WV]] {bmc.layer = 2 : i64, weight = "w.up"}
// CHECK: bmck.norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 9.99999974E-6 : f32, kind = #bmck.norm<layer>} : (!bmck.view<?x?x6xf32>, !bmck.view<?x6xf32>, !bmck.view<6xf32>) -> !bmck.view<?x?x6xf32>
// CHECK: %[[SM:.*]] = bmck.softmax %{{.*}} {axis = 2 : i64, log = true} : (!bmck.view<?x?x6xf32>) -> !bmck.view<?x?x6xf32>
// CHECK-NEXT: bmck.elementwise %[[SM]] : (!bmck.view<?x?x6xf32>) -> !bmck.view<?x?x6xf32> {
// CHECK: bmc.exp
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 2>, keepdims = true, kind = #bmck.reduce<mean>} : (!bmck.view<?x?x6xf32>) -> !bmck.view<?x?x1xf32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 0, 2>, keepdims = false, kind = #bmck.reduce<sum>} : (!bmck.view<?x?x6xf32>) -> !bmck.view<?xf32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64>, keepdims = false, kind = #bmck.reduce<max>} : (!bmck.view<?x?x6xf32>) -> !bmck.view<f32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 1>, keepdims = true, kind = #bmck.reduce<min>} : (!bmck.view<4x7xi64>) -> !bmck.view<4x1xi64>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 0>, keepdims = false, kind = #bmck.reduce<prod>} : (!bmck.view<4x7xi64>) -> !bmck.view<7xi64>
func.func @rows(%x: tensor<?x?x6xf32>, %r: tensor<?x?x6xf32>, %g2: tensor<?x6xf32>, %i: tensor<4x7xi64>)
    -> (tensor<?x?x5xf32>, tensor<?x?x6xf32>, tensor<?x?x6xf32>, tensor<?x?x1xf32>, tensor<?xf32>, tensor<f32>,
        tensor<4x1xi64>, tensor<7xi64>) {
  %g = bmc.weight "w.norm" : tensor<6xf32>
  %w = bmc.weight "w.up" : tensor<6x5xf32>
  %s = bmc.add %x, %r {bmc.layer = 2 : i64} : (tensor<?x?x6xf32>, tensor<?x?x6xf32>) -> tensor<?x?x6xf32>
  %n = bmc.rms_norm %s, %g {bmc.layer = 2 : i64, epsilon = 1.0e-6 : f32} : (tensor<?x?x6xf32>, tensor<6xf32>) -> tensor<?x?x6xf32>
  %p = bmc.matmul %n, %w {bmc.layer = 2 : i64} : (tensor<?x?x6xf32>, tensor<6x5xf32>) -> tensor<?x?x5xf32>
  %l = bmc.layer_norm %x, %g2, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (tensor<?x?x6xf32>, tensor<?x6xf32>, tensor<6xf32>) -> tensor<?x?x6xf32>
  %sm = bmc.softmax %x {axis = 2 : i64, log = true} : (tensor<?x?x6xf32>) -> tensor<?x?x6xf32>
  %e = bmc.exp %sm : (tensor<?x?x6xf32>) -> tensor<?x?x6xf32>
  %0 = bmc.reduce_mean %x {axes = array<i64: 2>, keepdims = true} : (tensor<?x?x6xf32>) -> tensor<?x?x1xf32>
  %1 = bmc.reduce_sum %x {axes = array<i64: 2, 0>, keepdims = false} : (tensor<?x?x6xf32>) -> tensor<?xf32>
  %2 = bmc.reduce_max %x {axes = array<i64>, keepdims = false} : (tensor<?x?x6xf32>) -> tensor<f32>
  %3 = bmc.reduce_min %i {axes = array<i64: 1>, keepdims = true} : (tensor<4x7xi64>) -> tensor<4x1xi64>
  %4 = bmc.reduce_prod %i {axes = array<i64: 0>, keepdims = false} : (tensor<4x7xi64>) -> tensor<7xi64>
  return %p, %l, %e, %0, %1, %2, %3, %4 : tensor<?x?x5xf32>, tensor<?x?x6xf32>, tensor<?x?x6xf32>, tensor<?x?x1xf32>,
      tensor<?xf32>, tensor<f32>, tensor<4x1xi64>, tensor<7xi64>
}

// Elementwise groups: a chain (Mul -> Add -> Sigmoid) is one group, its
// leaves in the order the root's walk meets them, a broadcast [96] leaf at its
// own sizes; the Sigmoid's value has two uses, so it is stored (its group
// ends there) and the next group reads its view directly (no seam); a Cast,
// a comparison, bool Not / Or with a broadcast [?, 1] leaf and a Where are one
// group; integer Mod (with an i64 scalar leaf) and Max one more; a matmul
// reads a group's view and a Relu reads the product's view, both without
// seams; only the groups whose values go back to tensor level (returned)
// keep a bmck.to_tensor.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[X:.*]]: tensor<?x96xf32>, %[[B:.*]]: tensor<96xf32>, %[[I:.*]]: tensor<?x96xi64>, %[[K:.*]]: tensor<i64>, %[[P:.*]]: tensor<?x1xi1>)
// CHECK: %[[XV:.*]] = bmck.to_view %[[X]] : tensor<?x96xf32> -> !bmck.view<?x96xf32>
// CHECK-NEXT: %[[BV:.*]] = bmck.to_view %[[B]] : tensor<96xf32> -> !bmck.view<96xf32>
// CHECK-NEXT: %[[G1:.*]] = bmck.elementwise %[[XV]], %[[BV]] : (!bmck.view<?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x96xf32> {
// CHECK-NEXT: ^bb0(%[[A0:.*]]: tensor<?x96xf32>, %[[A1:.*]]: tensor<96xf32>):
// CHECK-NEXT: %[[M:.*]] = bmc.mul %[[A0]], %[[A0]] : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: %[[AD:.*]] = bmc.add %[[M]], %[[A1]] : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: %[[S:.*]] = bmc.sigmoid %[[AD]] : (tensor<?x96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: bmck.yield %[[S]] : tensor<?x96xf32>
// CHECK-NEXT: }
// CHECK-NEXT: %[[G2:.*]] = bmck.elementwise %[[G1]] : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
// CHECK-NEXT: ^bb0(%[[S2:.*]]: tensor<?x96xf32>):
// CHECK-NEXT: %[[T:.*]] = bmc.tanh %[[S2]]
// CHECK-NEXT: %[[U:.*]] = bmc.sub %[[T]], %[[S2]]
// CHECK-NEXT: bmck.yield %[[U]]
// CHECK-NEXT: }
// CHECK-NEXT: %[[IV:.*]] = bmck.to_view %[[I]]
// CHECK-NEXT: %[[PV:.*]] = bmck.to_view %[[P]] : tensor<?x1xi1> -> !bmck.view<?x1xi1>
// CHECK-NEXT: %[[XV2:.*]] = bmck.to_view %[[X]]
// CHECK-NEXT: %[[G3:.*]] = bmck.elementwise %[[IV]], %[[G2]], %[[PV]], %[[XV2]] : (!bmck.view<?x96xi64>, !bmck.view<?x96xf32>, !bmck.view<?x1xi1>, !bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
// CHECK-NEXT: ^bb0(%[[C0:.*]]: tensor<?x96xi64>, %[[C1:.*]]: tensor<?x96xf32>, %[[C2:.*]]: tensor<?x1xi1>, %[[C3:.*]]: tensor<?x96xf32>):
// CHECK-NEXT: %[[CF:.*]] = bmc.cast %[[C0]] {to = f32} : (tensor<?x96xi64>) -> tensor<?x96xf32>
// CHECK-NEXT: %[[GT:.*]] = bmc.greater %[[CF]], %[[C1]] : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xi1>
// CHECK-NEXT: %[[NG:.*]] = bmc.not %[[GT]]
// CHECK-NEXT: %[[OR:.*]] = bmc.or %[[NG]], %[[C2]] : (tensor<?x96xi1>, tensor<?x1xi1>) -> tensor<?x96xi1>
// CHECK-NEXT: %[[WH:.*]] = bmc.where %[[OR]], %[[C1]], %[[C3]]
// CHECK-NEXT: bmck.yield %[[WH]] : tensor<?x96xf32>
// CHECK-NEXT: }
// CHECK-NEXT: %[[R3:.*]] = bmck.to_tensor %[[G3]] : !bmck.view<?x96xf32> -> tensor<?x96xf32>
// CHECK: %[[G4:.*]] = bmck.elementwise %{{.*}}, %{{.*}} : (!bmck.view<?x96xi64>, !bmck.view<i64>) -> !bmck.view<?x96xi64> {
// CHECK: bmc.mod
// CHECK-NEXT: bmc.max
// CHECK: %[[R4:.*]] = bmck.to_tensor %[[G4]]
// CHECK: %[[Y:.*]] = bmck.matmul %[[G3]], %{{.*}} {weight = "w.e"}
// CHECK-NEXT: %[[G5:.*]] = bmck.elementwise %[[Y]] : (!bmck.view<?x8xf32>) -> !bmck.view<?x8xf32> {
// CHECK: bmc.relu
// CHECK: %[[R5:.*]] = bmck.to_tensor %[[G5]]
// CHECK-NEXT: return %[[R3]], %[[R4]], %[[R5]]
func.func @elementwise(%x: tensor<?x96xf32>, %b: tensor<96xf32>, %i: tensor<?x96xi64>, %k: tensor<i64>,
                       %p: tensor<?x1xi1>) -> (tensor<?x96xf32>, tensor<?x96xi64>, tensor<?x8xf32>) {
  %m = bmc.mul %x, %x : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %a = bmc.add %m, %b : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
  %s = bmc.sigmoid %a : (tensor<?x96xf32>) -> tensor<?x96xf32>
  %t = bmc.tanh %s : (tensor<?x96xf32>) -> tensor<?x96xf32>
  %u = bmc.sub %t, %s : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %c = bmc.cast %i {to = f32} : (tensor<?x96xi64>) -> tensor<?x96xf32>
  %g = bmc.greater %c, %u : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xi1>
  %n = bmc.not %g : (tensor<?x96xi1>) -> tensor<?x96xi1>
  %o = bmc.or %n, %p : (tensor<?x96xi1>, tensor<?x1xi1>) -> tensor<?x96xi1>
  %w = bmc.where %o, %u, %x : (tensor<?x96xi1>, tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
  %q = bmc.mod %i, %k : (tensor<?x96xi64>, tensor<i64>) -> tensor<?x96xi64>
  %r = bmc.max %q, %i : (tensor<?x96xi64>, tensor<?x96xi64>) -> tensor<?x96xi64>
  %wt = bmc.weight "w.e" : tensor<96x8xf32>
  %y = bmc.matmul %w, %wt : (tensor<?x96xf32>, tensor<96x8xf32>) -> tensor<?x8xf32>
  %yb = bmc.relu %y : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %w, %r, %yb : tensor<?x96xf32>, tensor<?x96xi64>, tensor<?x8xf32>
}

// Groups whose ops do not stand together in the block become one
// bmck.elementwise each too, placed where the root stood (every leaf is
// defined before it; the members have one use, the group): the rotary
// x * cos + rotate_half(x) * sin, whose rotate_half (two Slices, a Neg, a
// Concat: kernel-level views and a copy) stands between its first Mul and
// its Add, and SiLU times the up
// projection, whose product stands between x * sigmoid(x) and the Mul. The
// Neg is a group of its own (the Concat reads it), and nothing of either
// group is left at tensor level.
// CHECK-LABEL: func.func @interleaved
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x16xf32>, %[[COS:.*]]: tensor<?x1x?x16xf32>, %[[SIN:.*]]: tensor<?x1x?x16xf32>, %[[H:.*]]: tensor<?x?x64xf32>)
// CHECK: %[[QV0:.*]] = bmck.to_view %[[Q]]
// CHECK-NEXT: %[[LO:.*]] = bmck.slice %[[QV0]]
// CHECK-NEXT: %[[QV1:.*]] = bmck.to_view %[[Q]]
// CHECK-NEXT: %[[HI:.*]] = bmck.slice %[[QV1]]
// CHECK-NEXT: %[[NEG:.*]] = bmck.elementwise %[[HI]] : (!bmck.view<?x4x?x8xf32>) -> !bmck.view<?x4x?x8xf32> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.neg
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[ROTV:.*]] = bmck.concat %[[NEG]], %[[LO]] {axis = 3 : i64}
// CHECK-NEXT: %[[QV:.*]] = bmck.to_view %[[Q]]
// CHECK-NEXT: %[[COSV:.*]] = bmck.to_view %[[COS]]
// CHECK-NEXT: %[[SINV:.*]] = bmck.to_view %[[SIN]]
// CHECK-NEXT: %[[R:.*]] = bmck.elementwise %[[QV]], %[[COSV]], %[[ROTV]], %[[SINV]] : (!bmck.view<?x4x?x16xf32>, !bmck.view<?x1x?x16xf32>, !bmck.view<?x4x?x16xf32>, !bmck.view<?x1x?x16xf32>) -> !bmck.view<?x4x?x16xf32> {
// CHECK-NEXT: ^bb0(%[[A0:.*]]: tensor<?x4x?x16xf32>, %[[A1:.*]]: tensor<?x1x?x16xf32>, %[[A2:.*]]: tensor<?x4x?x16xf32>, %[[A3:.*]]: tensor<?x1x?x16xf32>):
// CHECK-NEXT: %[[XC:.*]] = bmc.mul %[[A0]], %[[A1]]
// CHECK-NEXT: %[[RS:.*]] = bmc.mul %[[A2]], %[[A3]]
// CHECK-NEXT: %[[SUM:.*]] = bmc.add %[[XC]], %[[RS]]
// CHECK-NEXT: bmck.yield %[[SUM]] : tensor<?x4x?x16xf32>
// CHECK-NEXT: }
// CHECK-NEXT: %[[RT:.*]] = bmck.to_tensor %[[R]]
// CHECK: %[[GATE:.*]] = bmck.matmul {{.*}} {weight = "w.gate"}
// CHECK-NEXT: bmck.to_view %[[H]]
// CHECK-NEXT: bmck.to_view
// CHECK-NEXT: %[[UP:.*]] = bmck.matmul {{.*}} {weight = "w.up"}
// CHECK-NEXT: %[[Y:.*]] = bmck.elementwise %[[GATE]], %[[UP]] : (!bmck.view<?x?x192xf32>, !bmck.view<?x?x192xf32>) -> !bmck.view<?x?x192xf32> {
// CHECK-NEXT: ^bb0(%[[G:.*]]: tensor<?x?x192xf32>, %[[U:.*]]: tensor<?x?x192xf32>):
// CHECK-NEXT: %[[SG:.*]] = bmc.sigmoid %[[G]]
// CHECK-NEXT: %[[SILU:.*]] = bmc.mul %[[G]], %[[SG]]
// CHECK-NEXT: %[[GU:.*]] = bmc.mul %[[SILU]], %[[U]]
// CHECK-NEXT: bmck.yield %[[GU]]
// CHECK-NEXT: }
// CHECK-NEXT: %[[YT:.*]] = bmck.to_tensor %[[Y]]
// CHECK-NEXT: return %[[RT]], %[[YT]]
func.func @interleaved(%q: tensor<?x4x?x16xf32>, %cos: tensor<?x1x?x16xf32>, %sin: tensor<?x1x?x16xf32>, %h: tensor<?x?x64xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x?x192xf32>) {
  %c0 = arith.constant dense<0> : tensor<1xi64>
  %c8 = arith.constant dense<8> : tensor<1xi64>
  %cmax = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %c1 = arith.constant dense<1> : tensor<1xi64>
  %qc = bmc.mul %q, %cos : (tensor<?x4x?x16xf32>, tensor<?x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %lo = bmc.slice %q, %c0, %c8, %c1 {axes = array<i64: 3>} : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %hi = bmc.slice %q, %c8, %cmax, %c1 {axes = array<i64: 3>} : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %nh = bmc.neg %hi : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %rot = bmc.concat %nh, %lo {axis = 3 : i64} : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x16xf32>
  %rs = bmc.mul %rot, %sin : (tensor<?x4x?x16xf32>, tensor<?x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %r = bmc.add %qc, %rs : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %wg = bmc.weight "w.gate" : tensor<64x192xf32>
  %wu = bmc.weight "w.up" : tensor<64x192xf32>
  %g = bmc.matmul %h, %wg : (tensor<?x?x64xf32>, tensor<64x192xf32>) -> tensor<?x?x192xf32>
  %sg = bmc.sigmoid %g : (tensor<?x?x192xf32>) -> tensor<?x?x192xf32>
  %silu = bmc.mul %g, %sg : (tensor<?x?x192xf32>, tensor<?x?x192xf32>) -> tensor<?x?x192xf32>
  %u = bmc.matmul %h, %wu : (tensor<?x?x64xf32>, tensor<64x192xf32>) -> tensor<?x?x192xf32>
  %y = bmc.mul %silu, %u : (tensor<?x?x192xf32>, tensor<?x?x192xf32>) -> tensor<?x?x192xf32>
  return %r, %y : tensor<?x4x?x16xf32>, tensor<?x?x192xf32>
}

// A group's leaf that a moved data op produced is read as that op's view (no
// seam): the concatenation of a Cast's view (a 16-bit graph's concat-mode
// cache: past -> Cast -> Concat -> Cast back), a slice, a gather. The Cast
// groups around the concatenation read and return it as views too.
// CHECK-LABEL: func.func @data_leaves
// CHECK-NEXT: %[[PV:.*]] = bmck.to_view %arg0 : tensor<?x2x?x8xf16> -> !bmck.view<?x2x?x8xf16>
// CHECK-NEXT: %[[PF:.*]] = bmck.elementwise %[[PV]] : (!bmck.view<?x2x?x8xf16>) -> !bmck.view<?x2x?x8xf32> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.cast
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[NV:.*]] = bmck.to_view %arg1
// CHECK-NEXT: %[[C:.*]] = bmck.concat %[[PF]], %[[NV]] {axis = 2 : i64} : (!bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>) -> !bmck.view<?x2x?x8xf32>
// CHECK-NEXT: %[[CH:.*]] = bmck.elementwise %[[C]] : (!bmck.view<?x2x?x8xf32>) -> !bmck.view<?x2x?x8xf16> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.cast
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[CHT:.*]] = bmck.to_tensor %[[CH]] : !bmck.view<?x2x?x8xf16> -> tensor<?x2x?x8xf16>
// CHECK-NEXT: %[[XV:.*]] = bmck.to_view %arg2
// CHECK-NEXT: %[[S:.*]] = bmck.slice %[[XV]], %arg3, %arg3, %arg3 {axes = array<i64: 1>}
// CHECK-NEXT: %[[SN:.*]] = bmck.elementwise %[[S]] : (!bmck.view<?x?xf32>) -> !bmck.view<?x?xf32> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.neg
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[SNT:.*]] = bmck.to_tensor %[[SN]]
// CHECK-NEXT: %[[W:.*]] = bmc.weight "emb"
// CHECK-NEXT: %[[WV:.*]] = bmck.to_view %[[W]]
// CHECK-NEXT: %[[IV:.*]] = bmck.to_view %arg4
// CHECK-NEXT: %[[E:.*]] = bmck.gather %[[WV]], %[[IV]] {axis = 0 : i64}
// CHECK-NEXT: %[[ES:.*]] = bmck.elementwise %[[E]] : (!bmck.view<?x16xf32>) -> !bmck.view<?x16xf32> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.sigmoid
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[EST:.*]] = bmck.to_tensor %[[ES]]
// CHECK-NEXT: return %[[CHT]], %[[SNT]], %[[EST]]
func.func @data_leaves(%p: tensor<?x2x?x8xf16>, %n: tensor<?x2x?x8xf32>, %x: tensor<?x16xf32>, %b: tensor<1xi64>,
                       %ids: tensor<?xi64>) -> (tensor<?x2x?x8xf16>, tensor<?x?xf32>, tensor<?x16xf32>) {
  %pf = bmc.cast %p {to = f32} : (tensor<?x2x?x8xf16>) -> tensor<?x2x?x8xf32>
  %c = bmc.concat %pf, %n {axis = 2 : i64} : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %ch = bmc.cast %c {to = f16} : (tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf16>
  %s = bmc.slice %x, %b, %b, %b {axes = array<i64: 1>} : (tensor<?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xf32>
  %sn = bmc.neg %s : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %w = bmc.weight "emb" : tensor<50x16xf32>
  %e = bmc.gather %w, %ids {axis = 0 : i64} : (tensor<50x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  %es = bmc.sigmoid %e : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %ch, %sn, %es : tensor<?x2x?x8xf16>, tensor<?x?xf32>, tensor<?x16xf32>
}

// Squeeze, Unsqueeze and Expand become the view ops bmck.squeeze /
// unsqueeze / expand (the expansion's shape stays a tensor-level shape
// value), each keeping its layer mark; a group reads the squeeze's view
// through no seam. An unsqueeze of an index-typed shape value stays at
// tensor level.
// CHECK-LABEL: func.func @views
// CHECK-NEXT: %[[MV:.*]] = bmck.to_view %arg0 {bmc.layer = 1 : i64} : tensor<?x?xi1> -> !bmck.view<?x?xi1>
// CHECK-NEXT: %[[U:.*]] = bmck.unsqueeze %[[MV]] {axes = array<i64: 1, 2>, bmc.layer = 1 : i64} : (!bmck.view<?x?xi1>) -> !bmck.view<?x1x1x?xi1>
// CHECK-NEXT: %[[E:.*]] = bmck.expand %[[U]], %arg1 {bmc.layer = 1 : i64} : (!bmck.view<?x1x1x?xi1>, tensor<4xi64>) -> !bmck.view<?x1x?x?xi1>
// CHECK-NEXT: %[[ET:.*]] = bmck.to_tensor %[[E]] {bmc.layer = 1 : i64} : !bmck.view<?x1x?x?xi1> -> tensor<?x1x?x?xi1>
// CHECK-NEXT: %[[XV:.*]] = bmck.to_view %arg2 : tensor<?x1x8xf32> -> !bmck.view<?x1x8xf32>
// CHECK-NEXT: %[[S:.*]] = bmck.squeeze %[[XV]] {axes = array<i64: 1>} : (!bmck.view<?x1x8xf32>) -> !bmck.view<?x8xf32>
// CHECK-NEXT: %[[R:.*]] = bmck.elementwise %[[S]] : (!bmck.view<?x8xf32>) -> !bmck.view<?x8xf32> {
// CHECK-NEXT: ^bb0
// CHECK-NEXT: bmc.neg
// CHECK-NEXT: bmck.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[RT:.*]] = bmck.to_tensor %[[R]]
// CHECK-NEXT: %[[I:.*]] = bmc.unsqueeze %arg3 {axes = array<i64: 0>} : (tensor<index>) -> tensor<1xindex>
// CHECK-NEXT: return %[[ET]], %[[RT]], %[[I]]
func.func @views(%m: tensor<?x?xi1>, %sh: tensor<4xi64>, %x: tensor<?x1x8xf32>, %n: tensor<index>)
    -> (tensor<?x1x?x?xi1>, tensor<?x8xf32>, tensor<1xindex>) {
  %u = bmc.unsqueeze %m {axes = array<i64: 1, 2>, bmc.layer = 1 : i64} : (tensor<?x?xi1>) -> tensor<?x1x1x?xi1>
  %e = bmc.expand %u, %sh {bmc.layer = 1 : i64} : (tensor<?x1x1x?xi1>, tensor<4xi64>) -> tensor<?x1x?x?xi1>
  %s = bmc.squeeze %x {axes = array<i64: 1>} : (tensor<?x1x8xf32>) -> tensor<?x8xf32>
  %r = bmc.neg %s : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %i = bmc.unsqueeze %n {axes = array<i64: 0>} : (tensor<index>) -> tensor<1xindex>
  return %e, %r, %i : tensor<?x1x?x?xi1>, tensor<?x8xf32>, tensor<1xindex>
}

// Transpose, Reshape and Flatten become the view ops bmck.transpose,
// bmck.reshape (its shape stays a tensor-level shape value) and
// bmck.flatten. A reshape / flatten reads its input as row-major elements:
// a graph input, a kernel's new view or a reshape's is known contiguous, so
// it is read as is; a transposed or sliced view, or a view of a value still
// at tensor level, is copied first (bmck.copy). A Transpose of a weight
// (through a Cast) stays at tensor level: the product names the weight.
// An index-typed shape vector's reshape stays at tensor level too.
// CHECK-LABEL: func.func @layout
// CHECK-NEXT: %[[XV:.*]] = bmck.to_view %arg0 {bmc.layer = 2 : i64} : tensor<?x?x35xf32> -> !bmck.view<?x?x35xf32>
// CHECK-NEXT: %[[R:.*]] = bmck.reshape %[[XV]], %arg1 {bmc.layer = 2 : i64} : (!bmck.view<?x?x35xf32>, tensor<4xi64>) -> !bmck.view<?x?x5x7xf32>
// CHECK-NEXT: %[[T:.*]] = bmck.transpose %[[R]] {bmc.layer = 2 : i64, perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x5x7xf32>) -> !bmck.view<?x5x?x7xf32>
// CHECK-NEXT: %[[C:.*]] = bmck.copy %[[T]] {bmc.layer = 2 : i64} : (!bmck.view<?x5x?x7xf32>) -> !bmck.view<?x5x?x7xf32>
// CHECK-NEXT: %[[R2:.*]] = bmck.reshape %[[C]], %arg2 {bmc.layer = 2 : i64} : (!bmck.view<?x5x?x7xf32>, tensor<3xi64>) -> !bmck.view<?x?x35xf32>
// CHECK-NEXT: %[[R3:.*]] = bmck.reshape %[[R2]], %arg3 {allowzero = true} : (!bmck.view<?x?x35xf32>, tensor<2xi64>) -> !bmck.view<?x35xf32>
// CHECK-NEXT: %[[F:.*]] = bmck.flatten %[[R3]] {axis = 1 : i64} : (!bmck.view<?x35xf32>) -> !bmck.view<?x35xf32>
// CHECK-NEXT: %[[FT:.*]] = bmck.to_tensor %[[F]]
// CHECK-NEXT: %[[XV2:.*]] = bmck.to_view %arg0 : tensor<?x?x35xf32> -> !bmck.view<?x?x35xf32>
// CHECK-NEXT: %[[L:.*]] = bmck.slice %[[XV2]], %arg4, %arg4, %arg4 {axes = array<i64: 2>} : (!bmck.view<?x?x35xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x?x?xf32>
// CHECK-NEXT: %[[LC:.*]] = bmck.copy %[[L]] : (!bmck.view<?x?x?xf32>) -> !bmck.view<?x?x?xf32>
// CHECK-NEXT: %[[F2:.*]] = bmck.flatten %[[LC]] {axis = 2 : i64} : (!bmck.view<?x?x?xf32>) -> !bmck.view<?x?xf32>
// CHECK-NEXT: %[[F2T:.*]] = bmck.to_tensor %[[F2]]
// CHECK-NEXT: %[[W:.*]] = bmc.weight "w.t" : tensor<35x9xf32>
// CHECK-NEXT: %[[WT:.*]] = bmc.transpose %[[W]] {perm = array<i64: 1, 0>} : (tensor<35x9xf32>) -> tensor<9x35xf32>
// CHECK-NEXT: %[[AV:.*]] = bmck.to_view %arg5 : tensor<?x9xf32> -> !bmck.view<?x9xf32>
// CHECK-NEXT: %[[WV:.*]] = bmck.to_view %[[WT]] : tensor<9x35xf32> -> !bmck.view<9x35xf32>
// CHECK-NEXT: %[[P:.*]] = bmck.matmul %[[AV]], %[[WV]] {weight = "w.t"}
// CHECK-NEXT: %[[PT:.*]] = bmck.to_tensor %[[P]]
// CHECK-NEXT: %[[I:.*]] = bmc.reshape %arg6, %arg3 : (tensor<2x3xindex>, tensor<2xi64>) -> tensor<3x2xindex>
// CHECK-NEXT: return %[[FT]], %[[F2T]], %[[PT]], %[[I]]
func.func @layout(%x: tensor<?x?x35xf32>, %s4: tensor<4xi64>, %s3: tensor<3xi64>, %s2: tensor<2xi64>, %b: tensor<1xi64>,
                  %a: tensor<?x9xf32>, %ix: tensor<2x3xindex>)
    -> (tensor<?x35xf32>, tensor<?x?xf32>, tensor<?x35xf32>, tensor<3x2xindex>) {
  %r = bmc.reshape %x, %s4 {bmc.layer = 2 : i64} : (tensor<?x?x35xf32>, tensor<4xi64>) -> tensor<?x?x5x7xf32>
  %t = bmc.transpose %r {perm = array<i64: 0, 2, 1, 3>, bmc.layer = 2 : i64} : (tensor<?x?x5x7xf32>) -> tensor<?x5x?x7xf32>
  %r2 = bmc.reshape %t, %s3 {bmc.layer = 2 : i64} : (tensor<?x5x?x7xf32>, tensor<3xi64>) -> tensor<?x?x35xf32>
  %r3 = bmc.reshape %r2, %s2 {allowzero = true} : (tensor<?x?x35xf32>, tensor<2xi64>) -> tensor<?x35xf32>
  %f = bmc.flatten %r3 {axis = 1 : i64} : (tensor<?x35xf32>) -> tensor<?x35xf32>
  %l = bmc.slice %x, %b, %b, %b {axes = array<i64: 2>} : (tensor<?x?x35xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?xf32>
  %f2 = bmc.flatten %l {axis = 2 : i64} : (tensor<?x?x?xf32>) -> tensor<?x?xf32>
  %w = bmc.weight "w.t" : tensor<35x9xf32>
  %wt = bmc.transpose %w {perm = array<i64: 1, 0>} : (tensor<35x9xf32>) -> tensor<9x35xf32>
  %p = bmc.matmul %a, %wt : (tensor<?x9xf32>, tensor<9x35xf32>) -> tensor<?x35xf32>
  %i = bmc.reshape %ix, %s2 : (tensor<2x3xindex>, tensor<2xi64>) -> tensor<3x2xindex>
  return %f, %f2, %p, %i : tensor<?x35xf32>, tensor<?x?xf32>, tensor<?x35xf32>, tensor<3x2xindex>
}
