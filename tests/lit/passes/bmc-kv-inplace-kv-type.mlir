// --bmc-kv-inplace="kv-type=bf16|f16": the rewritten caches store that element
// type; kv_append takes the f32 rows (rounded as written) and its view, read by
// attention, has the cache's type. A cache whose rows something other than
// attention reads is refused (an error, not a silent fp32 cache).
//
// RUN: bmc-opt %s --bmc-kv-inplace="kv-type=bf16" -split-input-file -verify-diagnostics | FileCheck %s
// RUN: bmc-opt %s --bmc-kv-inplace="kv-type=f16" -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=F16
// RUN: not bmc-opt %s --bmc-kv-inplace="kv-type=int8" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @llama_layer
// CHECK-SAME: %[[KC:arg0]]: !bmc.kv_cache<2x16xbf16> {bmc.kv_present = "present.0.key"
// CHECK-SAME: %[[VC:arg1]]: !bmc.kv_cache<2x16xbf16> {bmc.kv_present = "present.0.value"
// CHECK-SAME: bmc.kv_rewritten = ["past_key_values.0.key: in place (bf16)", "past_key_values.0.value: in place (bf16)"]
// CHECK: %[[PAST:.*]] = bmc.kv_past %[[KC]] : (!bmc.kv_cache<2x16xbf16>) -> tensor<?x2x?x16xbf16>
// CHECK: tensor.dim %[[PAST]]
// CHECK: %[[K:.*]] = bmc.kv_append %[[KC]], %arg2 : (!bmc.kv_cache<2x16xbf16>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xbf16>
// CHECK: %[[V:.*]] = bmc.kv_append %[[VC]], %arg3
// CHECK: bmc.attention %arg4, %[[K]], %[[V]], %arg5 {scale = 2.500000e-01 : f32} : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
// F16-LABEL: func.func @llama_layer
// F16-SAME: !bmc.kv_cache<2x16xf16>
// F16: bmc.kv_append {{.*}} -> tensor<?x2x?x16xf16>
// BAD: for the --kv-type option: expected f32, bf16, f16 or auto, found 'int8'
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

// -----

// The cache's rows also feed a multiplication (attention not raised): refused.
func.func @read_by_mul(%p: tensor<1x2x?x4xf32> {bmc.name = "p"}, %n: tensor<1x2x1x4xf32>)
    -> (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) {
  %c1 = arith.constant dense<1.0> : tensor<f32>
  // expected-remark @+2 {{KV cache 'p' not rewritten: its rows are read by 'bmc.mul' (only bmc.attention reads a bf16/f16 cache)}}
  // expected-error @+1 {{needs every KV cache rewritten in place; 'p' is not: its rows are read by 'bmc.mul'}}
  %c = bmc.concat %p, %n {axis = 2 : i64} : (tensor<1x2x?x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x?x4xf32>
  %d = bmc.mul %c, %c1 : (tensor<1x2x?x4xf32>, tensor<f32>) -> tensor<1x2x?x4xf32>
  return %d, %c : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>
}
