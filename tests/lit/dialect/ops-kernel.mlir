// Round trip of the kernel-level dialect bmck: the view type, the seams to
// the tensor level and the KV cache ops (KernelDialect.td, KernelOps.td).
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
