// --bmc-narrow-16bit-io: after --bmc-widen-16bit (and --bmc-kv-inplace, which
// reads the caches' bmc.onnx_type), the inputs and outputs that are still f32
// tensors take the graph's 16-bit types back, cast at the boundary: the
// compiled model keeps the ONNX signature, only the inside is f32. In-place
// caches keep their own type; with kv-mode concat (no --bmc-kv-inplace) the
// past/present caches are narrowed like any input/output.
//
// RUN: bmc-opt %s --bmc-widen-16bit --bmc-kv-inplace="kv-type=auto" --bmc-narrow-16bit-io -split-input-file | FileCheck %s
// RUN: bmc-opt %s --bmc-widen-16bit --bmc-narrow-16bit-io -split-input-file | FileCheck %s --check-prefix=CONCAT
// RUN: bmc-opt %s --bmc-widen-16bit --bmc-narrow-16bit-io --bmc-narrow-16bit-io -split-input-file | FileCheck %s --check-prefix=CONCAT

// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%arg0: tensor<?x64xf16> {bmc.name = "x"}, %arg1: tensor<?xi64> {bmc.name = "n"}) -> (tensor<?x32xf16> {bmc.name = "y"}, tensor<?xi64> {bmc.name = "m"})
// CHECK-NEXT: %[[X:.*]] = bmc.cast %arg0 {to = f32} : (tensor<?x64xf16>) -> tensor<?x64xf32>
// CHECK: %[[Y:.*]] = bmc.matmul %[[X]], %{{.*}} : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
// CHECK-NEXT: %[[Y16:.*]] = bmc.cast %[[Y]] {to = f16} : (tensor<?x32xf32>) -> tensor<?x32xf16>
// CHECK-NEXT: return %[[Y16]], %arg1 : tensor<?x32xf16>, tensor<?xi64>
func.func @matmul(%x: tensor<?x64xf16> {bmc.name = "x"}, %n: tensor<?xi64> {bmc.name = "n"})
    -> (tensor<?x32xf16> {bmc.name = "y"}, tensor<?xi64> {bmc.name = "m"}) {
  %w = bmc.weight "w" : tensor<64x32xf16>
  %y = bmc.matmul %x, %w : (tensor<?x64xf16>, tensor<64x32xf16>) -> tensor<?x32xf16>
  return %y, %n : tensor<?x32xf16>, tensor<?xi64>
}

// -----

// A bf16 input returned as it is: cast to f32 and back (exact).
// CHECK-LABEL: func.func @identity
// CHECK-SAME: (%arg0: tensor<3xbf16>) -> tensor<3xbf16>
// CHECK-NEXT: %[[A:.*]] = bmc.cast %arg0 {to = f32} : (tensor<3xbf16>) -> tensor<3xf32>
// CHECK-NEXT: %[[B:.*]] = bmc.cast %[[A]] {to = bf16} : (tensor<3xf32>) -> tensor<3xbf16>
// CHECK-NEXT: return %[[B]] : tensor<3xbf16>
func.func @identity(%x: tensor<3xbf16>) -> tensor<3xbf16> {
  return %x : tensor<3xbf16>
}

// -----

// An f16 layer: its caches stay in place as f16 (not narrowed: they are
// !bmc.kv_cache); the attention output is cast to f16 where it is returned.
// With concat caches, past and present are f16 tensors again, and the new
// rows are rounded to f16 before the Concat (as an in-place append rounds
// them): attention reads every row as the graph stores it.
// CHECK-LABEL: func.func @f16_layer
// CHECK-SAME: !bmc.kv_cache<2x16xf16>
// CHECK-SAME: -> (tensor<?x6x?x16xf16> {bmc.name = "out"})
// CHECK: %[[O:.*]] = bmc.attention {{.*}} -> tensor<?x6x?x16xf32>
// CHECK-NEXT: %[[O16:.*]] = bmc.cast %[[O]] {to = f16} : (tensor<?x6x?x16xf32>) -> tensor<?x6x?x16xf16>
// CHECK-NEXT: return %[[O16]] : tensor<?x6x?x16xf16>
// CONCAT-LABEL: func.func @f16_layer
// CONCAT-SAME: (%arg0: tensor<?x2x?x16xf16> {bmc.name = "past_key_values.0.key"}, %arg1: tensor<?x2x?x16xf16> {bmc.name = "past_key_values.0.value"}
// CONCAT-SAME: -> (tensor<?x6x?x16xf16> {bmc.name = "out"}, tensor<?x2x?x16xf16> {bmc.name = "present.0.key"}, tensor<?x2x?x16xf16> {bmc.name = "present.0.value"})
// CONCAT-NEXT: %[[PK:.*]] = bmc.cast %arg0 {to = f32} : (tensor<?x2x?x16xf16>) -> tensor<?x2x?x16xf32>
// CONCAT: %[[NK16:.*]] = bmc.cast %{{.*}} {to = f16} : (tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf16>
// CONCAT-NEXT: %[[NK:.*]] = bmc.cast %[[NK16]] {to = f32} : (tensor<?x2x?x16xf16>) -> tensor<?x2x?x16xf32>
// CONCAT-NEXT: %[[K:.*]] = bmc.concat %[[PK]], %[[NK]] {axis = 2 : i64}
// CONCAT: bmc.attention %{{.*}}, %[[K]],
// CONCAT: %[[K16:.*]] = bmc.cast %[[K]] {to = f16} : (tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf16>
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

// -----

// A Concat of a 16-bit input that is not returned (no present output): its
// inputs are not rounded (only the graph's cache rows are its storage).
// CONCAT-LABEL: func.func @not_a_cache
// CONCAT-COUNT-2: bmc.cast %arg{{[01]}} {to = f32}
// CONCAT-NEXT: bmc.concat
// CONCAT-NEXT: bmc.add
// CONCAT-NEXT: bmc.cast %{{.*}} {to = f16}
// CONCAT-NEXT: return
func.func @not_a_cache(%a: tensor<2x3xf16>, %b: tensor<2x3xf16>) -> tensor<4x3xf16> {
  %c = bmc.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf16>, tensor<2x3xf16>) -> tensor<4x3xf16>
  %d = bmc.add %c, %c : (tensor<4x3xf16>, tensor<4x3xf16>) -> tensor<4x3xf16>
  return %d : tensor<4x3xf16>
}
