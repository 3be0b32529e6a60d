// Round trip of bmc.attention, the KV cache type and its ops (BmcOps.td,
// BmcTypes.td).
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<?x6x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>,
                     %mask: tensor<?x1x?x?xf32>, %q4: tensor<1x4x1x8xf32>, %k4: tensor<1x4x7x8xf32>) -> () {
  // Grouped-query attention: 6 query heads read 2 KV heads.
  // The default padding, skip, is not printed.
  // CHECK: bmc.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scale = 2.500000e-01 : f32} : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
  %0 = bmc.attention %q, %k, %v, %mask {scale = 0.25 : f32, padding = #bmc.padding<skip>}
      : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
  // Without a mask; padding mask.
  // CHECK: bmc.attention %{{.*}}, %{{.*}}, %{{.*}} {padding = #bmc.padding<mask>, scale = 0.353553385 : f32} : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  %1 = bmc.attention %q4, %k4, %k4 {scale = 0.353553385 : f32, padding = #bmc.padding<mask>}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  // Soft cap and smooth softmax are printed when set; off (0, false) they are not.
  // CHECK: bmc.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 0.353553385 : f32, smooth_softmax = true, softcap = 3.000000e+01 : f32} : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  %2 = bmc.attention %q4, %k4, %k4 {scale = 0.353553385 : f32, softcap = 30.0 : f32, smooth_softmax = true}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  // CHECK: bmc.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f32} : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  %3 = bmc.attention %q4, %k4, %k4 {scale = 1.0 : f32, softcap = 0.0 : f32, smooth_softmax = false}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  return
}

// CHECK-LABEL: func.func @kv_cache
// CHECK-SAME: (%[[K:.*]]: !bmc.kv_cache<2x16xf32>, %[[V:.*]]: !bmc.kv_cache<2x16xf16>, %[[NEW:.*]]: tensor<?x2x?x16xf32>, %[[NEWH:.*]]: tensor<1x2x1x16xf16>)
func.func @kv_cache(%k: !bmc.kv_cache<2x16xf32>, %v: !bmc.kv_cache<2x16xf16>, %new: tensor<?x2x?x16xf32>,
                    %newh: tensor<1x2x1x16xf16>) -> (tensor<?x2x?x16xf32>, index) {
  // CHECK: bmc.kv_past %[[K]] : (!bmc.kv_cache<2x16xf32>) -> tensor<?x2x?x16xf32>
  %past = bmc.kv_past %k : (!bmc.kv_cache<2x16xf32>) -> tensor<?x2x?x16xf32>
  // CHECK: bmc.kv_append %[[K]], %[[NEW]] : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %present = bmc.kv_append %k, %new : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  // The view keeps the batch of the new rows; its length is the valid rows plus the new ones.
  // CHECK: bmc.kv_append %[[V]], %[[NEWH]] : (!bmc.kv_cache<2x16xf16>, tensor<1x2x1x16xf16>) -> tensor<1x2x?x16xf16>
  %pv = bmc.kv_append %v, %newh : (!bmc.kv_cache<2x16xf16>, tensor<1x2x1x16xf16>) -> tensor<1x2x?x16xf16>
  // CHECK: bmc.kv_capacity %[[K]] : !bmc.kv_cache<2x16xf32>
  %cap = bmc.kv_capacity %k : !bmc.kv_cache<2x16xf32>
  return %present, %cap : tensor<?x2x?x16xf32>, index
}

// kv_append writes memory: it stays even when its view is unused, unlike
// the pure kv_past and kv_capacity.
// RUN: bmc-opt %s --canonicalize | FileCheck %s --check-prefix=EFFECTS
// EFFECTS-LABEL: func.func @effects
// EFFECTS-NEXT: bmc.kv_append
// EFFECTS-NEXT: return
func.func @effects(%k: !bmc.kv_cache<1x8xbf16>, %new: tensor<1x1x1x8xbf16>) {
  %past = bmc.kv_past %k : (!bmc.kv_cache<1x8xbf16>) -> tensor<?x1x?x8xbf16>
  %cap = bmc.kv_capacity %k : !bmc.kv_cache<1x8xbf16>
  %present = bmc.kv_append %k, %new : (!bmc.kv_cache<1x8xbf16>, tensor<1x1x1x8xbf16>) -> tensor<1x1x?x8xbf16>
  return
}

// A bf16 cache takes f32 rows (rounded as written); attention reads its view.
// CHECK-LABEL: func.func @bf16_cache
// CHECK: bmc.kv_append %arg0, %arg1 : (!bmc.kv_cache<2x16xbf16>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xbf16>
// CHECK: bmc.attention %arg2, %{{.*}}, %{{.*}} {scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>) -> tensor<?x4x?x16xf32>
func.func @bf16_cache(%c: !bmc.kv_cache<2x16xbf16>, %rows: tensor<?x2x?x16xf32>, %q: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %k = bmc.kv_append %c, %rows : (!bmc.kv_cache<2x16xbf16>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xbf16>
  %o = bmc.attention %q, %k, %k {scale = 2.500000e-01 : f32}
      : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
