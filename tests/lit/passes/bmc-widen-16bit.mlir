// --bmc-widen-16bit: a fully fp16 / bf16 graph computed in fp32. Activations,
// constants, Casts and the graph's inputs and outputs become f32 (inputs and
// outputs keep their graph type in bmc.onnx_type); weights stay 16-bit behind
// a Cast. Then --bmc-kv-inplace with kv-type auto stores the caches in the
// graph's type; kv-type bf16 on an f16 graph's cache is refused.
//
// RUN: bmc-opt %s --bmc-widen-16bit -split-input-file -verify-diagnostics | FileCheck %s
// RUN: bmc-opt %s --bmc-widen-16bit --bmc-kv-inplace="kv-type=auto" -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=AUTO
// RUN: not bmc-opt %s --bmc-widen-16bit --bmc-kv-inplace="kv-type=bf16" -split-input-file 2>&1 | FileCheck %s --check-prefix=MISMATCH

// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%arg0: tensor<?x64xf32> {bmc.name = "x", bmc.onnx_type = f16}) -> (tensor<?x32xf32> {bmc.name = "y", bmc.onnx_type = f16})
// CHECK: %[[W:.*]] = bmc.weight "w" : tensor<64x32xf16>
// CHECK: %[[W32:.*]] = bmc.cast %[[W]] {to = f32} : (tensor<64x32xf16>) -> tensor<64x32xf32>
// CHECK: %[[C:.*]] = arith.constant dense<6.550400e+04> : tensor<f32>
// CHECK: %[[Y:.*]] = bmc.matmul %arg0, %[[W32]] : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
// CHECK: %[[S:.*]] = bmc.mul %[[Y]], %[[C]] : (tensor<?x32xf32>, tensor<f32>) -> tensor<?x32xf32>
// CHECK: %[[U:.*]] = bmc.cast %[[S]] {to = f32} : (tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: %[[D:.*]] = bmc.cast %[[U]] {to = f32} : (tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: return %[[D]] : tensor<?x32xf32>
// expected-remark @+1 {{16-bit graph (f16) computed in fp32: 4 values and 2 inputs/outputs widened to f32, 1 weights kept 16-bit behind a Cast}}
func.func @matmul(%x: tensor<?x64xf16> {bmc.name = "x"}) -> (tensor<?x32xf16> {bmc.name = "y"}) {
  %w = bmc.weight "w" : tensor<64x32xf16>
  %c = arith.constant dense<65504.0> : tensor<f16>
  %y = bmc.matmul %x, %w : (tensor<?x64xf16>, tensor<64x32xf16>) -> tensor<?x32xf16>
  %s = bmc.mul %y, %c : (tensor<?x32xf16>, tensor<f16>) -> tensor<?x32xf16>
  // An exporter's upcast (softmax(dtype=float32)) and the cast back: no rounding left.
  %u = bmc.cast %s {to = f32} : (tensor<?x32xf16>) -> tensor<?x32xf32>
  %d = bmc.cast %u {to = f16} : (tensor<?x32xf32>) -> tensor<?x32xf16>
  return %d : tensor<?x32xf16>
}

// -----

// A tied embedding: the Gather reads 16-bit rows and widens only those; the
// head reads the table through a Cast (the packed 16-bit matmul's operand).
// CHECK-LABEL: func.func @tied_embedding
// CHECK: %[[T:.*]] = bmc.weight "wte" : tensor<512x64xf16>
// CHECK: %[[T32:.*]] = bmc.cast %[[T]] {to = f32} : (tensor<512x64xf16>) -> tensor<512x64xf32>
// CHECK: %[[G:.*]] = bmc.gather %[[T]], %arg0 {axis = 0 : i64} : (tensor<512x64xf16>, tensor<?x?xi64>) -> tensor<?x?x64xf16>
// CHECK: %[[R:.*]] = bmc.cast %[[G]] {to = f32} : (tensor<?x?x64xf16>) -> tensor<?x?x64xf32>
// CHECK: %[[TT:.*]] = bmc.transpose %[[T32]] {perm = array<i64: 1, 0>} : (tensor<512x64xf32>) -> tensor<64x512xf32>
// CHECK: bmc.matmul %[[R]], %[[TT]] : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
// expected-remark @+2 {{1 gathers from a 16-bit table read 16-bit rows and widen only those}}
// expected-remark @+1 {{16-bit graph (f16) computed in fp32: 3 values and 1 inputs/outputs widened to f32, 1 weights kept 16-bit behind a Cast}}
func.func @tied_embedding(%ids: tensor<?x?xi64>) -> (tensor<?x?x512xf16> {bmc.name = "logits"}) {
  %t = bmc.weight "wte" : tensor<512x64xf16>
  %h = bmc.gather %t, %ids {axis = 0 : i64} : (tensor<512x64xf16>, tensor<?x?xi64>) -> tensor<?x?x64xf16>
  %tt = bmc.transpose %t {perm = array<i64: 1, 0>} : (tensor<512x64xf16>) -> tensor<64x512xf16>
  %l = bmc.matmul %h, %tt : (tensor<?x?x64xf16>, tensor<64x512xf16>) -> tensor<?x?x512xf16>
  return %l : tensor<?x?x512xf16>
}

// -----

// An export that keeps fp32 activations: its Cast of a 16-bit embedding table
// is no longer computed for the Gather (the graph is otherwise unchanged).
// CHECK-LABEL: func.func @cast_form_embedding
// CHECK: %[[T:.*]] = bmc.weight "wte" : tensor<512x64xbf16>
// CHECK-NEXT: %[[G:.*]] = bmc.gather %[[T]], %arg0 {axis = 0 : i64} : (tensor<512x64xbf16>, tensor<?xi64>) -> tensor<?x64xbf16>
// CHECK-NEXT: %[[R:.*]] = bmc.cast %[[G]] {to = f32} : (tensor<?x64xbf16>) -> tensor<?x64xf32>
// CHECK-NEXT: return %[[R]] : tensor<?x64xf32>
// expected-remark @+1 {{1 gathers from a 16-bit table read 16-bit rows and widen only those}}
func.func @cast_form_embedding(%ids: tensor<?xi64>) -> tensor<?x64xf32> {
  %t = bmc.weight "wte" : tensor<512x64xbf16>
  %t32 = bmc.cast %t {to = f32} : (tensor<512x64xbf16>) -> tensor<512x64xf32>
  %h = bmc.gather %t32, %ids {axis = 0 : i64} : (tensor<512x64xf32>, tensor<?xi64>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

// An f32 graph: unchanged, no remark.
// CHECK-LABEL: func.func @f32_graph
// CHECK-SAME: (%arg0: tensor<4xf32>) -> tensor<4xf32> {
func.func @f32_graph(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// A bf16 layer's KV caches: kept bf16 with kv-type auto; kv-type bf16 on
// them is what the graph says (no error) - see the f16 case below for a mismatch.
// AUTO-LABEL: func.func @bf16_layer
// AUTO-SAME: !bmc.kv_cache<2x16xbf16>
// AUTO-SAME: bmc.kv_rewritten = ["past_key_values.0.key: in place (bf16)", "past_key_values.0.value: in place (bf16)"]
// AUTO: bmc.kv_append {{.*}} : (!bmc.kv_cache<2x16xbf16>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xbf16>
// AUTO: bmc.attention {{.*}} -> tensor<?x6x?x16xf32>
// expected-remark @+1 {{16-bit graph (bf16) computed in fp32}}
func.func @bf16_layer(%pk: tensor<?x2x?x16xbf16> {bmc.name = "past_key_values.0.key"},
                      %pv: tensor<?x2x?x16xbf16> {bmc.name = "past_key_values.0.value"},
                      %nk: tensor<?x2x?x16xbf16>, %nv: tensor<?x2x?x16xbf16>,
                      %q: tensor<?x6x?x16xbf16>, %mask: tensor<?x1x?x?xbf16>)
    -> (tensor<?x6x?x16xbf16> {bmc.name = "out"}, tensor<?x2x?x16xbf16> {bmc.name = "present.0.key"},
        tensor<?x2x?x16xbf16> {bmc.name = "present.0.value"}) {
  %k = bmc.concat %pk, %nk {axis = 2 : i64} : (tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>) -> tensor<?x2x?x16xbf16>
  %v = bmc.concat %pv, %nv {axis = 2 : i64} : (tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>) -> tensor<?x2x?x16xbf16>
  %o = bmc.attention %q, %k, %v, %mask {scale = 2.500000e-01 : f32}
      : (tensor<?x6x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x1x?x?xbf16>) -> tensor<?x6x?x16xbf16>
  return %o, %k, %v : tensor<?x6x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>
}

// -----

// An f16 layer's caches: f16 with kv-type auto; kv-type bf16 is refused.
// AUTO-LABEL: func.func @f16_layer
// AUTO-SAME: !bmc.kv_cache<2x16xf16>
// MISMATCH: error: bmc-kv-inplace: kv-type bf16 asks for bf16 KV caches, but the graph's input 'past_key_values.0.key' is f16 (leave kv-type auto to keep f16, or use f32)
// expected-remark @+1 {{16-bit graph (f16) computed in fp32}}
func.func @f16_layer(%pk: tensor<?x2x?x16xf16> {bmc.name = "past_key_values.0.key"},
                     %pv: tensor<?x2x?x16xf16> {bmc.name = "past_key_values.0.value"},
                     %nk: tensor<?x2x?x16xf16>, %nv: tensor<?x2x?x16xf16>,
                     %q: tensor<?x6x?x16xf16>, %mask: tensor<?x1x?x?xf16>)
    -> (tensor<?x6x?x16xf16> {bmc.name = "out"}, tensor<?x2x?x16xf16> {bmc.name = "present.0.key"},
        tensor<?x2x?x16xf16> {bmc.name = "present.0.value"}) {
  %k = bmc.concat %pk, %nk {axis = 2 : i64} : (tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>) -> tensor<?x2x?x16xf16>
  %v = bmc.concat %pv, %nv {axis = 2 : i64} : (tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>) -> tensor<?x2x?x16xf16>
  %o = bmc.attention %q, %k, %v, %mask {scale = 2.500000e-01 : f32}
      : (tensor<?x6x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x1x?x?xf16>) -> tensor<?x6x?x16xf16>
  return %o, %k, %v : tensor<?x6x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>
}
