// --bmc-raise-attention on the attention of the real exports (SSA structure as
// llama_s.onnx and gpt2_s.onnx have it after --bmc-fold-shapes): scaled
// Q.K^T + mask -> softmax -> .V becomes bmc.attention, and the grouped-query
// repeat of the KV heads (Unsqueeze -> Expand -> Reshape) disappears.
//
// RUN: bmc-opt %s --bmc-raise-attention --canonicalize -verify-diagnostics | FileCheck %s

// llama_s, layer 0: 6 query heads, 2 KV heads repeated 3 times, scale by Mul.
// CHECK-LABEL: func.func @llama_gqa
// CHECK-SAME: (%[[Q:.*]]: tensor<?x6x?x16xf32>, %[[K:.*]]: tensor<?x2x?x16xf32>, %[[V:.*]]: tensor<?x2x?x16xf32>, %[[M:.*]]: tensor<?x1x?x?xf32>
// CHECK-NEXT: %[[O:.*]] = bmc.attention %[[Q]], %[[K]], %[[V]], %[[M]] {scale = 2.500000e-01 : f32}
// CHECK-SAME: (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @llama_gqa(%q: tensor<?x6x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>,
                     %mask: tensor<?x1x?x?xf32>, %b: i64, %t: i64) -> tensor<?x6x?x16xf32> {
  %c2 = arith.constant 2 : i64
  %c3 = arith.constant 3 : i64
  %c6 = arith.constant 6 : i64
  %c16 = arith.constant 16 : i64
  %scale = arith.constant dense<2.500000e-01> : tensor<f32>
  %ku = bmc.unsqueeze %k {axes = array<i64: 2>} : (tensor<?x2x?x16xf32>) -> tensor<?x2x1x?x16xf32>
  %s5 = tensor.from_elements %b, %c2, %c3, %t, %c16 : tensor<5xi64>
  %ke = bmc.expand %ku, %s5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
  %s4 = tensor.from_elements %b, %c6, %t, %c16 : tensor<4xi64>
  %kr = bmc.reshape %ke, %s4 : (tensor<?x2x3x?x16xf32>, tensor<4xi64>) -> tensor<?x6x?x16xf32>
  %vu = bmc.unsqueeze %v {axes = array<i64: 2>} : (tensor<?x2x?x16xf32>) -> tensor<?x2x1x?x16xf32>
  %ve = bmc.expand %vu, %s5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
  %vr = bmc.reshape %ve, %s4 : (tensor<?x2x3x?x16xf32>, tensor<4xi64>) -> tensor<?x6x?x16xf32>
  %kt = bmc.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x6x?x16xf32>) -> tensor<?x6x16x?xf32>
  %s = bmc.matmul %q, %kt : (tensor<?x6x?x16xf32>, tensor<?x6x16x?xf32>) -> tensor<?x6x?x?xf32>
  %ss = bmc.mul %s, %scale : (tensor<?x6x?x?xf32>, tensor<f32>) -> tensor<?x6x?x?xf32>
  %sm = bmc.add %ss, %mask : (tensor<?x6x?x?xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x?xf32>
  %p = bmc.softmax %sm {axis = 3 : i64} : (tensor<?x6x?x?xf32>) -> tensor<?x6x?x?xf32>
  %o = bmc.matmul %p, %vr : (tensor<?x6x?x?xf32>, tensor<?x6x?x16xf32>) -> tensor<?x6x?x16xf32>
  return %o : tensor<?x6x?x16xf32>
}

// gpt2_s: 4 heads, no repeat, scale by Div (1 / sqrt(24)).
// CHECK-LABEL: func.func @gpt2_mha
// CHECK-NEXT: bmc.attention %arg0, %arg1, %arg2, %arg3 {scale = 0.2041241{{[0-9]*}} : f32}
// CHECK-NOT: bmc.softmax
func.func @gpt2_mha(%q: tensor<?x4x?x24xf32>, %k: tensor<?x4x?x24xf32>, %v: tensor<?x4x?x24xf32>,
                    %mask: tensor<?x1x?x?xf32>) -> tensor<?x4x?x24xf32> {
  %d = arith.constant dense<4.89897966> : tensor<f32>
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x24xf32>) -> tensor<?x4x24x?xf32>
  %s = bmc.matmul %q, %kt : (tensor<?x4x?x24xf32>, tensor<?x4x24x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = bmc.div %s, %d : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = bmc.add %ss, %mask : (tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = bmc.softmax %sm {axis = 3 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = bmc.matmul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x24xf32>) -> tensor<?x4x?x24xf32>
  return %o : tensor<?x4x?x24xf32>
}

// The dynamo exporter's form: sqrt(scale) on Q and on K^T, no mask.
// CHECK-LABEL: func.func @scaled_both_sides
// CHECK-NEXT: bmc.attention %arg0, %arg1, %arg2 {scale = 0.12{{[0-9]*}} : f32}
func.func @scaled_both_sides(%q: tensor<1x8x5x64xf32>, %k: tensor<1x8x7x64xf32>, %v: tensor<1x8x7x64xf32>) -> tensor<1x8x5x64xf32> {
  %r = arith.constant dense<0.353553385> : tensor<f32>
  %qs = bmc.mul %q, %r : (tensor<1x8x5x64xf32>, tensor<f32>) -> tensor<1x8x5x64xf32>
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x8x7x64xf32>) -> tensor<1x8x64x7xf32>
  %ks = bmc.mul %kt, %r : (tensor<1x8x64x7xf32>, tensor<f32>) -> tensor<1x8x64x7xf32>
  %s = bmc.matmul %qs, %ks : (tensor<1x8x5x64xf32>, tensor<1x8x64x7xf32>) -> tensor<1x8x5x7xf32>
  %p = bmc.softmax %s {axis = 3 : i64} : (tensor<1x8x5x7xf32>) -> tensor<1x8x5x7xf32>
  %o = bmc.matmul %p, %v : (tensor<1x8x5x7xf32>, tensor<1x8x7x64xf32>) -> tensor<1x8x5x64xf32>
  return %o : tensor<1x8x5x64xf32>
}

// Negative: the probabilities are also returned (e.g. output_attentions), so
// fusing would lose them; the graph stays as it is and a remark says why.
// CHECK-LABEL: func.func @probabilities_used
// CHECK: bmc.softmax
// CHECK-NOT: bmc.attention
func.func @probabilities_used(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>)
    -> (tensor<1x2x3x4xf32>, tensor<1x2x3x3xf32>) {
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %s = bmc.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  // expected-remark @+1 {{attention not fused: the probabilities have other uses}}
  %p = bmc.softmax %s {axis = 3 : i64} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = bmc.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o, %p : tensor<1x2x3x4xf32>, tensor<1x2x3x3xf32>
}

// Negative: K and V of batch 1 against a Q of any batch: MatMul broadcasts
// them, the fused op would read one K/V sequence per query sequence.
// CHECK-LABEL: func.func @kv_batch_broadcast
// CHECK: bmc.softmax
// CHECK-NOT: bmc.attention
func.func @kv_batch_broadcast(%q: tensor<?x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>)
    -> tensor<?x2x3x4xf32> {
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %s = bmc.matmul %q, %kt : (tensor<?x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<?x2x3x3xf32>
  // expected-remark @+1 {{attention not fused: K or V has batch 1 where Q's may be larger (MatMul broadcasts it, attention would not)}}
  %p = bmc.softmax %s {axis = 3 : i64} : (tensor<?x2x3x3xf32>) -> tensor<?x2x3x3xf32>
  %o = bmc.matmul %p, %v : (tensor<?x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<?x2x3x4xf32>
  return %o : tensor<?x2x3x4xf32>
}

// Negative: a softmax that is not between two matmuls (a classifier head).
// CHECK-LABEL: func.func @plain_softmax
// CHECK: bmc.softmax
func.func @plain_softmax(%x: tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32> {
  %p = bmc.softmax %x {axis = 3 : i64} : (tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  return %p : tensor<1x2x3x5xf32>
}

// Gemma-2's soft cap as exported: scores * scale, / 50, Tanh, * 50, + mask.
// CHECK-LABEL: func.func @gemma2_softcap
// CHECK-NEXT: %[[O:.*]] = bmc.attention %arg0, %arg1, %arg2, %arg3 {scale = 2.500000e-01 : f32, softcap = 5.000000e+01 : f32}
// CHECK-NEXT: return %[[O]]
func.func @gemma2_softcap(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>,
                          %mask: tensor<?x1x?x?xf32>) -> tensor<?x4x?x16xf32> {
  %scale = arith.constant dense<2.500000e-01> : tensor<f32>
  %cap = arith.constant dense<5.000000e+01> : tensor<f32>
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = bmc.matmul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = bmc.mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sd = bmc.div %ss, %cap : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %st = bmc.tanh %sd : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %sc = bmc.mul %st, %cap : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = bmc.add %sc, %mask : (tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = bmc.softmax %sm {axis = 3 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = bmc.matmul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// The cap without a scale, the mask first in the Add, and the cap's Tanh used
// elsewhere (not raised: a remark says why).
// CHECK-LABEL: func.func @softcap_no_scale
// CHECK-NEXT: bmc.attention %arg0, %arg1, %arg2, %arg3 {scale = 1.000000e+00 : f32, softcap = 3.000000e+01 : f32}
func.func @softcap_no_scale(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>,
                            %mask: tensor<1x1x5x5xf32>) -> tensor<1x2x5x8xf32> {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x8x5xf32>
  %s = bmc.matmul %q, %kt : (tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32>) -> tensor<1x2x5x5xf32>
  %sd = bmc.div %s, %cap : (tensor<1x2x5x5xf32>, tensor<f32>) -> tensor<1x2x5x5xf32>
  %st = bmc.tanh %sd : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %sc = bmc.mul %st, %cap : (tensor<1x2x5x5xf32>, tensor<f32>) -> tensor<1x2x5x5xf32>
  %sm = bmc.add %mask, %sc : (tensor<1x1x5x5xf32>, tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %p = bmc.softmax %sm {axis = 3 : i64} : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %o = bmc.matmul %p, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  return %o : tensor<1x2x5x8xf32>
}

// CHECK-LABEL: func.func @softcap_tanh_used_twice
// CHECK-NOT: bmc.attention
// CHECK: bmc.softmax
func.func @softcap_tanh_used_twice(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>)
    -> (tensor<1x2x5x8xf32>, tensor<1x2x5x5xf32>) {
  %cap = arith.constant dense<3.000000e+01> : tensor<f32>
  %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x8x5xf32>
  %s = bmc.matmul %q, %kt : (tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32>) -> tensor<1x2x5x5xf32>
  %sd = bmc.div %s, %cap : (tensor<1x2x5x5xf32>, tensor<f32>) -> tensor<1x2x5x5xf32>
  %st = bmc.tanh %sd : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %sc = bmc.mul %st, %cap : (tensor<1x2x5x5xf32>, tensor<f32>) -> tensor<1x2x5x5xf32>
  // expected-remark @+1 {{attention not fused: the soft cap's Tanh has other uses}}
  %p = bmc.softmax %sc {axis = 3 : i64} : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %o = bmc.matmul %p, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  return %o, %st : tensor<1x2x5x8xf32>, tensor<1x2x5x5xf32>
}
