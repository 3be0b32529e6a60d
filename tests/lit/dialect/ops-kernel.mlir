// Round trip of the kernel-level dialect bmck: the view type, the seams to
// the tensor level, the KV cache ops, attention, the matrix products and the
// row kernels: norm, softmax, reduce (KernelDialect.td, KernelEnums.td,
// KernelOps.td); elementwise groups (KernelDialect.td, KernelOps.td).
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @kv_f32
// CHECK-SAME: %[[C:.*]]: !bmc.kv_cache<2x16xf32>, %[[N:.*]]: tensor<?x2x?x16xf32>
func.func @kv_f32(%cache: !bmc.kv_cache<2x16xf32>, %new: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  // CHECK: %[[P:.*]] = bmck.kv_rows %[[C]] : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xf32>
  %past = bmck.kv_rows %cache : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xf32>
  // CHECK: %[[R:.*]] = bmck.to_view %[[N]] : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
  %rows = bmck.to_view %new : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
  // CHECK: %[[A:.*]] = bmck.kv_append %[[C]], %[[R]] {bmc.layer = 3 : i64} : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  %view = bmck.kv_append %cache, %rows {bmc.layer = 3 : i64} : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  // CHECK: bmck.to_tensor %[[A]] : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  %present = bmck.to_tensor %view : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  // CHECK: bmck.to_tensor %[[P]]
  %p = bmck.to_tensor %past : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  return %present, %p : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

// f32 rows into a bf16 cache (rounded as written), static batch and seq in
// the rows; the present view keeps the batch.
// CHECK-LABEL: func.func @kv_bf16
// CHECK: bmck.kv_append %{{.*}}, %{{.*}} : (!bmc.kv_cache<4x8xbf16>, !bmck.view<1x4x3x8xf32>) -> !bmck.view<1x4x?x8xbf16>
func.func @kv_bf16(%cache: !bmc.kv_cache<4x8xbf16>, %new: tensor<1x4x3x8xf32>) {
  %rows = bmck.to_view %new : tensor<1x4x3x8xf32> -> !bmck.view<1x4x3x8xf32>
  %view = bmck.kv_append %cache, %rows : (!bmc.kv_cache<4x8xbf16>, !bmck.view<1x4x3x8xf32>) -> !bmck.view<1x4x?x8xbf16>
  return
}

// Views of any rank (a scalar's too) and integer elements.
// CHECK-LABEL: func.func @views
// CHECK: bmck.to_view %{{.*}} : tensor<i64> -> !bmck.view<i64>
// CHECK: bmck.to_view %{{.*}} : tensor<3x?xui8> -> !bmck.view<3x?xui8>
func.func @views(%s: tensor<i64>, %u: tensor<3x?xui8>) {
  %a = bmck.to_view %s : tensor<i64> -> !bmck.view<i64>
  %b = bmck.to_view %u : tensor<3x?xui8> -> !bmck.view<3x?xui8>
  return
}

// Attention on views: GQA (6 query heads on 2 KV heads) over a bf16 cache's
// rows, a mask, the cache capacity as padded length with padding = mask;
// and every attribute (softcap, smooth_softmax) without mask or padding.
// CHECK-LABEL: func.func @attention
// CHECK: bmck.attention %{{.*}}, %[[A:.*]], %[[A]] mask %{{.*}} padded %{{.*}} {padding = #bmc.padding<mask>, scale = 2.500000e-01 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x1x?x?xf32>, index) -> !bmck.view<1x6x?x16xf32>
// CHECK: bmck.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32, smooth_softmax = true, softcap = 5.000000e+01 : f32} : (!bmck.view<?x4x?x8xf32>, !bmck.view<?x4x?x8xf32>, !bmck.view<?x4x?x12xf32>) -> !bmck.view<?x4x?x12xf32>
func.func @attention(%cache: !bmc.kv_cache<2x16xbf16>, %new: tensor<?x2x?x16xf32>, %q: tensor<1x6x?x16xf32>,
                     %m: tensor<?x1x?x?xf32>, %q2: tensor<?x4x?x8xf32>, %k2: tensor<?x4x?x8xf32>, %v2: tensor<?x4x?x12xf32>)
    -> (tensor<1x6x?x16xf32>, tensor<?x4x?x12xf32>) {
  %rows = bmck.to_view %new : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
  %kv = bmck.kv_append %cache, %rows : (!bmc.kv_cache<2x16xbf16>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xbf16>
  %cap = bmc.kv_capacity %cache : !bmc.kv_cache<2x16xbf16>
  %qv = bmck.to_view %q : tensor<1x6x?x16xf32> -> !bmck.view<1x6x?x16xf32>
  %mv = bmck.to_view %m : tensor<?x1x?x?xf32> -> !bmck.view<?x1x?x?xf32>
  %o = bmck.attention %qv, %kv, %kv mask %mv padded %cap {scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x1x?x?xf32>, index)
      -> !bmck.view<1x6x?x16xf32>
  %ot = bmck.to_tensor %o : !bmck.view<1x6x?x16xf32> -> tensor<1x6x?x16xf32>
  %a = bmck.to_view %q2 : tensor<?x4x?x8xf32> -> !bmck.view<?x4x?x8xf32>
  %b = bmck.to_view %k2 : tensor<?x4x?x8xf32> -> !bmck.view<?x4x?x8xf32>
  %c = bmck.to_view %v2 : tensor<?x4x?x12xf32> -> !bmck.view<?x4x?x12xf32>
  %o2 = bmck.attention %a, %b, %c {scale = 0.125 : f32, softcap = 50.0 : f32, smooth_softmax = true}
      : (!bmck.view<?x4x?x8xf32>, !bmck.view<?x4x?x8xf32>, !bmck.view<?x4x?x12xf32>) -> !bmck.view<?x4x?x12xf32>
  %o2t = bmck.to_tensor %o2 : !bmck.view<?x4x?x12xf32> -> tensor<?x4x?x12xf32>
  return %ot, %o2t : tensor<1x6x?x16xf32>, tensor<?x4x?x12xf32>
}

// Matrix products: a named weight (packed form), a batched strided product
// with broadcasting, 1-D promotion, integer elements; gemm with transposes,
// alpha/beta, a broadcast c, and without c.
// CHECK-LABEL: func.func @matmul
// CHECK: bmck.matmul %{{.*}}, %{{.*}} {weight = "w.up"} : (!bmck.view<?x?x96xf32>, !bmck.view<96x256xf32>) -> !bmck.view<?x?x256xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<2x3x5x7xf32>, !bmck.view<3x7x4xf32>) -> !bmck.view<2x3x5x4xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<7xf32>, !bmck.view<?x7x4xf32>) -> !bmck.view<?x4xf32>
// CHECK: bmck.matmul %{{.*}}, %{{.*}} : (!bmck.view<5x7xi32>, !bmck.view<7xi32>) -> !bmck.view<5xi32>
// CHECK: bmck.gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, beta = 2.000000e+00 : f32, trans_a = true, trans_b = true, weight = "w.t"} : (!bmck.view<70x?xf32>, !bmck.view<37x70xf32>, !bmck.view<1xf32>) -> !bmck.view<?x37xf32>
// CHECK: bmck.gemm %{{.*}}, %{{.*}} {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = false, trans_b = false} : (!bmck.view<?x70xf32>, !bmck.view<70x?xf32>) -> !bmck.view<?x?xf32>
func.func @matmul(%x: !bmck.view<?x?x96xf32>, %w: !bmck.view<96x256xf32>, %a: !bmck.view<2x3x5x7xf32>,
                  %b: !bmck.view<3x7x4xf32>, %v: !bmck.view<7xf32>, %bb: !bmck.view<?x7x4xf32>,
                  %ia: !bmck.view<5x7xi32>, %iv: !bmck.view<7xi32>, %xt: !bmck.view<70x?xf32>,
                  %wt: !bmck.view<37x70xf32>, %c: !bmck.view<1xf32>, %x2: !bmck.view<?x70xf32>, %y2: !bmck.view<70x?xf32>) {
  %0 = bmck.matmul %x, %w {weight = "w.up"} : (!bmck.view<?x?x96xf32>, !bmck.view<96x256xf32>) -> !bmck.view<?x?x256xf32>
  %1 = bmck.matmul %a, %b : (!bmck.view<2x3x5x7xf32>, !bmck.view<3x7x4xf32>) -> !bmck.view<2x3x5x4xf32>
  %2 = bmck.matmul %v, %bb : (!bmck.view<7xf32>, !bmck.view<?x7x4xf32>) -> !bmck.view<?x4xf32>
  %3 = bmck.matmul %ia, %iv : (!bmck.view<5x7xi32>, !bmck.view<7xi32>) -> !bmck.view<5xi32>
  %4 = bmck.gemm %xt, %wt, %c {alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = true, trans_b = true, weight = "w.t"}
      : (!bmck.view<70x?xf32>, !bmck.view<37x70xf32>, !bmck.view<1xf32>) -> !bmck.view<?x37xf32>
  %5 = bmck.gemm %x2, %y2 {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (!bmck.view<?x70xf32>, !bmck.view<70x?xf32>) -> !bmck.view<?x?xf32>
  return
}

// Row kernels: a layer norm over the last two dimensions with a bias, one
// without, an RMS norm (last axis), a 16-bit norm with a broadcast scale;
// softmax and log-softmax; each reduction kind, with and without keepdims,
// every axis (empty list), integer elements.
// CHECK-LABEL: func.func @rows
// CHECK: bmck.norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 9.99999974E-6 : f32, kind = #bmck.norm<layer>} : (!bmck.view<?x3x5xf32>, !bmck.view<3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
// CHECK: bmck.norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999974E-6 : f32, kind = #bmck.norm<layer>} : (!bmck.view<?x3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
// CHECK: bmck.norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999997E-7 : f32, kind = #bmck.norm<rms>} : (!bmck.view<?x3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
// CHECK: bmck.norm %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 0.000000e+00 : f32, kind = #bmck.norm<rms>} : (!bmck.view<7x9xbf16>, !bmck.view<1xbf16>) -> !bmck.view<7x9xbf16>
// CHECK: bmck.softmax %{{.*}} {axis = 3 : i64} : (!bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x?xf32>
// CHECK: bmck.softmax %{{.*}} {axis = 0 : i64, log = true} : (!bmck.view<7x9xbf16>) -> !bmck.view<7x9xbf16>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 2>, keepdims = true, kind = #bmck.reduce<mean>} : (!bmck.view<?x3x5xf32>) -> !bmck.view<?x3x1xf32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 0, 2>, keepdims = false, kind = #bmck.reduce<sum>} : (!bmck.view<?x3x5xf32>) -> !bmck.view<3xf32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64>, keepdims = false, kind = #bmck.reduce<max>} : (!bmck.view<?x3x5xf32>) -> !bmck.view<f32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64: 1>, keepdims = true, kind = #bmck.reduce<min>} : (!bmck.view<5x7xi32>) -> !bmck.view<5x1xi32>
// CHECK: bmck.reduce %{{.*}} {axes = array<i64>, keepdims = true, kind = #bmck.reduce<prod>} : (!bmck.view<5x7xi32>) -> !bmck.view<1x1xi32>
func.func @rows(%x: !bmck.view<?x3x5xf32>, %g2: !bmck.view<3x5xf32>, %g: !bmck.view<5xf32>, %h: !bmck.view<7x9xbf16>,
                %h1: !bmck.view<1xbf16>, %s: !bmck.view<?x4x?x?xf32>, %i: !bmck.view<5x7xi32>) {
  %0 = bmck.norm %x, %g2, %g {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x3x5xf32>, !bmck.view<3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
  %1 = bmck.norm %x, %g {kind = #bmck.norm<layer>, axis = 2 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
  %2 = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-6 : f32}
      : (!bmck.view<?x3x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x3x5xf32>
  %3 = bmck.norm %h, %h1 {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 0.0 : f32}
      : (!bmck.view<7x9xbf16>, !bmck.view<1xbf16>) -> !bmck.view<7x9xbf16>
  %4 = bmck.softmax %s {axis = 3 : i64} : (!bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x?xf32>
  %5 = bmck.softmax %h {axis = 0 : i64, log = true} : (!bmck.view<7x9xbf16>) -> !bmck.view<7x9xbf16>
  %6 = bmck.reduce %x {kind = #bmck.reduce<mean>, axes = array<i64: 2>, keepdims = true}
      : (!bmck.view<?x3x5xf32>) -> !bmck.view<?x3x1xf32>
  %7 = bmck.reduce %x {kind = #bmck.reduce<sum>, axes = array<i64: 0, 2>, keepdims = false}
      : (!bmck.view<?x3x5xf32>) -> !bmck.view<3xf32>
  %8 = bmck.reduce %x {kind = #bmck.reduce<max>, axes = array<i64>, keepdims = false}
      : (!bmck.view<?x3x5xf32>) -> !bmck.view<f32>
  %9 = bmck.reduce %i {kind = #bmck.reduce<min>, axes = array<i64: 1>, keepdims = true}
      : (!bmck.view<5x7xi32>) -> !bmck.view<5x1xi32>
  %10 = bmck.reduce %i {kind = #bmck.reduce<prod>, axes = array<i64>, keepdims = true}
      : (!bmck.view<5x7xi32>) -> !bmck.view<1x1xi32>
  return
}

// Data movement: views (slice, split) and copies (concat, gather).
// CHECK-LABEL: func.func @data
// CHECK: bmck.slice %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {axes = array<i64: 3>} : (!bmck.view<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x6x?x8xf32>
// CHECK: bmck.slice %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {axes = array<i64: 0, 2>} : (!bmck.view<?x6x?x16xf32>, tensor<2xindex>, tensor<2xindex>, tensor<2xindex>) -> !bmck.view<?x6x?x16xf32>
// CHECK: bmck.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 96, 96, 97>} : (!bmck.view<?x?x289xf32>) -> (!bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>, !bmck.view<?x?x97xf32>)
// CHECK: bmck.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : (!bmck.view<?x2x?x16xf32>, !bmck.view<?x2x1x16xf32>) -> !bmck.view<?x2x?x16xf32>
// CHECK: bmck.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (!bmck.view<3xi64>, !bmck.view<2xi64>) -> !bmck.view<5xi64>
// CHECK: bmck.gather %{{.*}}, %{{.*}} {axis = 0 : i64} : (!bmck.view<1200x96xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x96xf32>
// CHECK: bmck.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (!bmck.view<5x7x3xbf16>, !bmck.view<2xi32>) -> !bmck.view<5x2x3xbf16>
func.func @data(%x: !bmck.view<?x6x?x16xf32>, %s: tensor<1xi64>, %i: tensor<2xindex>, %qkv: !bmck.view<?x?x289xf32>,
                %p: !bmck.view<?x2x?x16xf32>, %n: !bmck.view<?x2x1x16xf32>, %a: !bmck.view<3xi64>, %b: !bmck.view<2xi64>,
                %t: !bmck.view<1200x96xf32>, %ids: !bmck.view<?x?xi64>, %d: !bmck.view<5x7x3xbf16>, %j: !bmck.view<2xi32>) {
  %0 = bmck.slice %x, %s, %s, %s {axes = array<i64: 3>}
      : (!bmck.view<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x6x?x8xf32>
  %1 = bmck.slice %x, %i, %i, %i {axes = array<i64: 0, 2>}
      : (!bmck.view<?x6x?x16xf32>, tensor<2xindex>, tensor<2xindex>, tensor<2xindex>) -> !bmck.view<?x6x?x16xf32>
  %2:3 = bmck.split %qkv {axis = 2 : i64, sizes = array<i64: 96, 96, 97>}
      : (!bmck.view<?x?x289xf32>) -> (!bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>, !bmck.view<?x?x97xf32>)
  %3 = bmck.concat %p, %n {axis = 2 : i64} : (!bmck.view<?x2x?x16xf32>, !bmck.view<?x2x1x16xf32>) -> !bmck.view<?x2x?x16xf32>
  %4 = bmck.concat %a, %b {axis = 0 : i64} : (!bmck.view<3xi64>, !bmck.view<2xi64>) -> !bmck.view<5xi64>
  %5 = bmck.gather %t, %ids {axis = 0 : i64} : (!bmck.view<1200x96xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x96xf32>
  %6 = bmck.gather %d, %j {axis = 1 : i64} : (!bmck.view<5x7x3xbf16>, !bmck.view<2xi32>) -> !bmck.view<5x2x3xbf16>
  return
}

// Elementwise groups: a fused chain with a broadcast leaf; a Cast, an integer
// Mod and bool ops with a Where; a group of one op without inputs' broadcast.
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[G:.*]] = bmck.elementwise %{{.*}}, %{{.*}} : (!bmck.view<?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x96xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x96xf32>, %[[B:.*]]: tensor<96xf32>):
// CHECK-NEXT: %[[S:.*]] = bmc.add %[[A]], %[[B]] : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: %[[Y:.*]] = bmc.sigmoid %[[S]] : (tensor<?x96xf32>) -> tensor<?x96xf32>
// CHECK-NEXT: bmck.yield %[[Y]] : tensor<?x96xf32>
// CHECK-NEXT: }
// CHECK: bmck.elementwise %{{.*}}, %{{.*}}, %[[G]] : (!bmck.view<?x96xi64>, !bmck.view<i64>, !bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
// CHECK: bmc.mod %{{.*}}, %{{.*}} {fmod = true} : (tensor<?x96xi64>, tensor<i64>) -> tensor<?x96xi64>
// CHECK: bmc.cast %{{.*}} {to = f32} : (tensor<?x96xi64>) -> tensor<?x96xf32>
// CHECK: bmc.less
// CHECK: bmc.not
// CHECK: bmc.where
// CHECK: bmck.yield %{{.*}} : tensor<?x96xf32>
// CHECK: bmck.elementwise %{{.*}} : (!bmck.view<3xi1>) -> !bmck.view<3xui8> {
func.func @elementwise(%x: !bmck.view<?x96xf32>, %b: !bmck.view<96xf32>, %i: !bmck.view<?x96xi64>,
                       %k: !bmck.view<i64>, %f: !bmck.view<3xi1>) {
  %g = bmck.elementwise %x, %b : (!bmck.view<?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>, %c: tensor<96xf32>):
    %s = bmc.add %a, %c : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
    %y = bmc.sigmoid %s : (tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %y : tensor<?x96xf32>
  }
  %h = bmck.elementwise %i, %k, %g : (!bmck.view<?x96xi64>, !bmck.view<i64>, !bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%ii: tensor<?x96xi64>, %kk: tensor<i64>, %gg: tensor<?x96xf32>):
    %m = bmc.mod %ii, %kk {fmod = true} : (tensor<?x96xi64>, tensor<i64>) -> tensor<?x96xi64>
    %c = bmc.cast %m {to = f32} : (tensor<?x96xi64>) -> tensor<?x96xf32>
    %l = bmc.less %c, %gg : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xi1>
    %n = bmc.not %l : (tensor<?x96xi1>) -> tensor<?x96xi1>
    %w = bmc.where %n, %gg, %gg : (tensor<?x96xi1>, tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %w : tensor<?x96xf32>
  }
  %u = bmck.elementwise %f : (!bmck.view<3xi1>) -> !bmck.view<3xui8> {
  ^bb0(%ff: tensor<3xi1>):
    %c = bmc.cast %ff {to = ui8} : (tensor<3xi1>) -> tensor<3xui8>
    bmck.yield %c : tensor<3xui8>
  }
  return
}

// The view ops of Squeeze, Unsqueeze and Expand (no code).
// CHECK-LABEL: func.func @layout_views
// CHECK: bmck.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x5x7xf32>) -> !bmck.view<?x5x?x7xf32>
// CHECK: bmck.copy %{{.*}} : (!bmck.view<?x5x?x7xf32>) -> !bmck.view<?x5x?x7xf32>
// CHECK: bmck.reshape %{{.*}}, %{{.*}} : (!bmck.view<?x5x?x7xf32>, tensor<3xi64>) -> !bmck.view<?x?x35xf32>
// CHECK: bmck.reshape %{{.*}}, %{{.*}} {allowzero = true} : (!bmck.view<3x4xbf16>, tensor<2xindex>) -> !bmck.view<2x6xbf16>
// CHECK: bmck.flatten %{{.*}} {axis = 2 : i64} : (!bmck.view<?x5x?x7xf32>) -> !bmck.view<?x?xf32>
// CHECK: bmck.flatten %{{.*}} {axis = 0 : i64} : (!bmck.view<3x4xbf16>) -> !bmck.view<1x12xbf16>
func.func @layout_views(%x: !bmck.view<?x?x5x7xf32>, %sh: tensor<3xi64>, %y: !bmck.view<3x4xbf16>, %s2: tensor<2xindex>) {
  %t = bmck.transpose %x {perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x5x7xf32>) -> !bmck.view<?x5x?x7xf32>
  %c = bmck.copy %t : (!bmck.view<?x5x?x7xf32>) -> !bmck.view<?x5x?x7xf32>
  %r = bmck.reshape %c, %sh : (!bmck.view<?x5x?x7xf32>, tensor<3xi64>) -> !bmck.view<?x?x35xf32>
  %r2 = bmck.reshape %y, %s2 {allowzero = true} : (!bmck.view<3x4xbf16>, tensor<2xindex>) -> !bmck.view<2x6xbf16>
  %f = bmck.flatten %c {axis = 2 : i64} : (!bmck.view<?x5x?x7xf32>) -> !bmck.view<?x?xf32>
  %f2 = bmck.flatten %y {axis = 0 : i64} : (!bmck.view<3x4xbf16>) -> !bmck.view<1x12xbf16>
  return
}

// CHECK-LABEL: func.func @data_views
// CHECK: bmck.squeeze %{{.*}} {axes = array<i64: 1>} : (!bmck.view<?x1x96xf32>) -> !bmck.view<?x96xf32>
// CHECK: bmck.squeeze %{{.*}} {axes = array<i64: 0, 2>} : (!bmck.view<?x5x?xbf16>) -> !bmck.view<5xbf16>
// CHECK: bmck.unsqueeze %{{.*}} {axes = array<i64: 1, 2>} : (!bmck.view<?x?xi1>) -> !bmck.view<?x1x1x?xi1>
// CHECK: bmck.unsqueeze %{{.*}} {axes = array<i64: 0>} : (!bmck.view<i64>) -> !bmck.view<1xi64>
// CHECK: bmck.expand %{{.*}}, %{{.*}} : (!bmck.view<?x1x1x?xi1>, tensor<4xi64>) -> !bmck.view<?x1x?x?xi1>
// CHECK: bmck.expand %{{.*}}, %{{.*}} : (!bmck.view<3x1xf32>, tensor<3xindex>) -> !bmck.view<?x3x7xf32>
func.func @data_views(%x: !bmck.view<?x1x96xf32>, %y: !bmck.view<?x5x?xbf16>, %m: !bmck.view<?x?xi1>, %s: !bmck.view<i64>,
                 %m4: !bmck.view<?x1x1x?xi1>, %sh: tensor<4xi64>, %c: !bmck.view<3x1xf32>, %sh3: tensor<3xindex>) {
  %0 = bmck.squeeze %x {axes = array<i64: 1>} : (!bmck.view<?x1x96xf32>) -> !bmck.view<?x96xf32>
  %1 = bmck.squeeze %y {axes = array<i64: 0, 2>} : (!bmck.view<?x5x?xbf16>) -> !bmck.view<5xbf16>
  %2 = bmck.unsqueeze %m {axes = array<i64: 1, 2>} : (!bmck.view<?x?xi1>) -> !bmck.view<?x1x1x?xi1>
  %3 = bmck.unsqueeze %s {axes = array<i64: 0>} : (!bmck.view<i64>) -> !bmck.view<1xi64>
  %4 = bmck.expand %m4, %sh : (!bmck.view<?x1x1x?xi1>, tensor<4xi64>) -> !bmck.view<?x1x?x?xi1>
  %5 = bmck.expand %c, %sh3 : (!bmck.view<3x1xf32>, tensor<3xindex>) -> !bmck.view<?x3x7xf32>
  return
}
