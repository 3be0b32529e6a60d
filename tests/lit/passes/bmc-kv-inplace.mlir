// --bmc-kv-inplace (the BMC pass): Concat(past, new) along the sequence axis,
// with the past a graph input and the result a present output, becomes an
// in-place append on a KV cache buffer; the present output goes away; every
// shape query of the past sees the valid rows (bmc.kv_past).
//
// RUN: bmc-opt %s --bmc-kv-inplace -verify-diagnostics | FileCheck %s
// RUN: bmc-opt %s --bmc-kv-inplace="padding=mask" -verify-diagnostics | FileCheck %s --check-prefix=MASK
// RUN: not bmc-opt %s --bmc-kv-inplace="padding=zero" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: for the --padding option: expected skip or mask, found 'zero'

// The pattern of llama_s after attention raising: keys and values, GQA.
// CHECK-LABEL: func.func @llama_layer
// CHECK-SAME: %[[KC:arg0]]: !bmc.kv_cache<2x16xf32> {bmc.kv_present = "present.0.key"
// CHECK-SAME: %[[VC:arg1]]: !bmc.kv_cache<2x16xf32> {bmc.kv_present = "present.0.value"
// CHECK-SAME: -> (tensor<?x6x?x16xf32> {bmc.name = "out"}, index {bmc.name = "past_len"})
// CHECK-SAME: bmc.kv_rewritten = ["past_key_values.0.key: in place", "past_key_values.0.value: in place"]
// CHECK: %[[PAST:.*]] = bmc.kv_past %[[KC]]
// CHECK: tensor.dim %[[PAST]]
// CHECK: %[[K:.*]] = bmc.kv_append %[[KC]], %arg2
// CHECK: %[[V:.*]] = bmc.kv_append %[[VC]], %arg3
// CHECK: bmc.attention %arg4, %[[K]], %[[V]], %arg5 {scale = 2.500000e-01 : f32}
// CHECK-NOT: bmc.concat
// CHECK: return %{{.*}} : tensor<?x6x?x16xf32>
// MASK-LABEL: func.func @llama_layer
// MASK: bmc.attention {{.*}} {padding = #bmc.padding<mask>, scale = 2.500000e-01 : f32}
func.func @llama_layer(%pk: tensor<?x2x?x16xf32> {bmc.name = "past_key_values.0.key"},
                       %pv: tensor<?x2x?x16xf32> {bmc.name = "past_key_values.0.value"},
                       %nk: tensor<?x2x?x16xf32>, %nv: tensor<?x2x?x16xf32>,
                       %q: tensor<?x6x?x16xf32>, %mask: tensor<?x1x?x?xf32>)
    -> (tensor<?x6x?x16xf32> {bmc.name = "out"}, tensor<?x2x?x16xf32> {bmc.name = "present.0.key"},
        tensor<?x2x?x16xf32> {bmc.name = "present.0.value"}, index {bmc.name = "past_len"}) {
  %c2 = arith.constant 2 : index
  %len = tensor.dim %pk, %c2 : tensor<?x2x?x16xf32>
  %k = bmc.concat %pk, %nk {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %v = bmc.concat %pv, %nv {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %o = bmc.attention %q, %k, %v, %mask {scale = 2.500000e-01 : f32}
      : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
  return %o, %k, %v, %len : tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, index
}

// Negative: the past is used by something other than the concatenation (here
// it is also returned), so it cannot become a runtime-owned buffer.
// CHECK-LABEL: func.func @past_used_elsewhere
// CHECK-SAME: tensor<1x2x?x4xf32>
// CHECK-SAME: bmc.kv_rewritten = ["p: concat (the past tensor has uses other than the concatenation)"]
// CHECK: bmc.concat
func.func @past_used_elsewhere(%p: tensor<1x2x?x4xf32> {bmc.name = "p"}, %n: tensor<1x2x1x4xf32>)
    -> (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {
  // expected-remark @+1 {{KV cache 'p' not rewritten: the past tensor has uses other than the concatenation}}
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<1x2x?x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x?x4xf32>
  return %c, %p : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
}

// Negative: the concatenation is not a present output (no cache to keep).
// CHECK-LABEL: func.func @not_returned
// CHECK: bmc.concat
func.func @not_returned(%p: tensor<1x2x?x4xf32> {bmc.name = "p"}, %n: tensor<1x2x1x4xf32>) -> tensor<1x2x?x4xf32> {
  %c1 = arith.constant dense<1.0> : tensor<f32>
  // expected-remark @+1 {{KV cache 'p' not rewritten: the concatenation is not returned exactly once as a present output}}
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<1x2x?x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x?x4xf32>
  %d = bmc.mul %c, %c1 : (tensor<1x2x?x4xf32>, tensor<f32>) -> tensor<1x2x?x4xf32>
  return %d : tensor<1x2x?x4xf32>
}

// Negative: head_dim is not static, so the buffer layout is unknown.
// CHECK-LABEL: func.func @dynamic_head_dim
// CHECK: bmc.concat
func.func @dynamic_head_dim(%p: tensor<1x2x?x?xf32> {bmc.name = "p"}, %n: tensor<1x2x1x?xf32>) -> tensor<1x2x?x?xf32> {
  // expected-remark @+1 {{KV cache 'p' not rewritten: heads or head_dim are not static}}
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<1x2x?x?xf32>, tensor<1x2x1x?xf32>) -> tensor<1x2x?x?xf32>
  return %c : tensor<1x2x?x?xf32>
}

// Negative: a key cache stored transposed grows along axis 3 (the sequence
// is the last axis): left as a concatenation, with a remark.
// CHECK-LABEL: func.func @key_stored_transposed
// CHECK: bmc.concat %arg0, %arg1 {axis = 3 : i64}
func.func @key_stored_transposed(%p: tensor<1x2x4x?xf32> {bmc.name = "past.key"}, %n: tensor<1x2x4x1xf32>)
    -> tensor<1x2x4x?xf32> {
  // expected-remark @+1 {{KV cache 'past.key' not rewritten: it grows along axis 3 (a key cache stored transposed, [batch, heads, head_dim, seq]); only [batch, heads, seq, head_dim] caches are rewritten}}
  %c = bmc.concat %p, %n {axis = 3 : i64} : (tensor<1x2x4x?xf32>, tensor<1x2x4x1xf32>) -> tensor<1x2x4x?xf32>
  return %c : tensor<1x2x4x?xf32>
}

// Not a KV cache at all (concatenation along another axis): left alone, silently.
// CHECK-LABEL: func.func @other_axis
// CHECK: bmc.concat %arg0, %arg1 {axis = 1 : i64}
func.func @other_axis(%a: tensor<1x2x3x4xf32>, %b: tensor<1x2x3x4xf32>) -> tensor<1x4x3x4xf32> {
  %c = bmc.concat %a, %b {axis = 1 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x4x3x4xf32>
  return %c : tensor<1x4x3x4xf32>
}
