// Verifier diagnostics of matrix products, normalisation and reductions.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @matmul_contraction(%x: tensor<?x3xf32>, %w: tensor<4x5xf32>) {
  // expected-error @+2 {{bmc.matmul: expected the contraction dimensions to agree, found 3 (lhs tensor<?x3xf32>) and 4 (rhs tensor<4x5xf32>)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %x, %w : (tensor<?x3xf32>, tensor<4x5xf32>) -> tensor<?x5xf32>
  return
}

// -----

// A 1-D lhs is a row vector: its only dimension is the contraction.
func.func @matmul_vector_contraction(%v: tensor<3xf32>, %w: tensor<4x5xf32>) {
  // expected-error @+2 {{bmc.matmul: expected the contraction dimensions to agree, found 3 (lhs tensor<3xf32>) and 4 (rhs tensor<4x5xf32>)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %v, %w : (tensor<3xf32>, tensor<4x5xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @matmul_batch(%x: tensor<2x3x4xf32>, %w: tensor<5x4x6xf32>) {
  // expected-error @+2 {{bmc.matmul: batch dimensions: expected shapes that broadcast, found [2] and [5] (dimension 0 is 2 vs 5)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %x, %w : (tensor<2x3x4xf32>, tensor<5x4x6xf32>) -> tensor<2x3x6xf32>
  return
}

// -----

func.func @matmul_rank0(%x: tensor<f32>, %w: tensor<4x5xf32>) {
  // expected-error @+2 {{bmc.matmul: expected operands of rank >= 1, found rank 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %x, %w : (tensor<f32>, tensor<4x5xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @matmul_element_types(%x: tensor<3x4xf16>, %w: tensor<4x5xf32>) {
  // expected-error @+2 {{bmc.matmul: expected operands of one element type, found tensor<3x4xf16> and tensor<4x5xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %x, %w : (tensor<3x4xf16>, tensor<4x5xf32>) -> tensor<3x5xf16>
  return
}

// -----

func.func @matmul_wrong_result(%x: tensor<?x?x96xf32>, %w: tensor<96x256xf32>) {
  // expected-error @+2 {{'bmc.matmul' op inferred type(s) 'tensor<?x?x256xf32>' are incompatible with return type(s) of operation 'tensor<?x?x96xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.matmul %x, %w : (tensor<?x?x96xf32>, tensor<96x256xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

func.func @gemm_inner(%a: tensor<3x4xf32>, %b: tensor<5x6xf32>) {
  // expected-error @+2 {{bmc.gemm: expected the inner dimensions to agree, found 4 and 5}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<3x4xf32>, tensor<5x6xf32>) -> tensor<3x6xf32>
  return
}

// -----

// trans_b: the inner dimension of B is its second.
func.func @gemm_inner_transposed(%a: tensor<3x4xf32>, %b: tensor<4x6xf32>) {
  // expected-error @+2 {{bmc.gemm: expected the inner dimensions to agree, found 4 and 6}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true}
      : (tensor<3x4xf32>, tensor<4x6xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @gemm_c(%a: tensor<3x4xf32>, %b: tensor<4x6xf32>, %c: tensor<5xf32>) {
  // expected-error @+2 {{bmc.gemm: expected C to broadcast to [3,6], found tensor<5xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<3x4xf32>, tensor<4x6xf32>, tensor<5xf32>) -> tensor<3x6xf32>
  return
}

// -----

// A dynamic dimension is written `?`.
func.func @gemm_c_dynamic(%a: tensor<?x4xf32>, %b: tensor<4x6xf32>, %c: tensor<6x5xf32>) {
  // expected-error @+2 {{bmc.gemm: expected C to broadcast to [?,6], found tensor<6x5xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<?x4xf32>, tensor<4x6xf32>, tensor<6x5xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @gemm_rank(%a: tensor<2x3x4xf32>, %b: tensor<4x6xf32>) {
  // expected-error @+2 {{bmc.gemm: expected 2-D A and B, found tensor<2x3x4xf32> and tensor<4x6xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<2x3x4xf32>, tensor<4x6xf32>) -> tensor<3x6xf32>
  return
}

// -----

func.func @gemm_element_types(%a: tensor<3x4xf32>, %b: tensor<4x6xf16>) {
  // expected-error @+2 {{bmc.gemm: expected operands of element type f32 (as A), found tensor<4x6xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
      : (tensor<3x4xf32>, tensor<4x6xf16>) -> tensor<3x6xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{bmc.softmax: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.softmax %x {axis = 2 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @softmax_int(%x: tensor<4xi32>) {
  // expected-error @+2 {{bmc.softmax: expected a float tensor, found tensor<4xi32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.softmax %x {axis = 0 : i64} : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @layer_norm_axis(%x: tensor<2x4xf32>, %g: tensor<4xf32>) {
  // expected-error @+2 {{bmc.layer_norm: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @layer_norm_scale(%x: tensor<?x?x96xf32>, %g: tensor<64xf32>) {
  // expected-error @+2 {{bmc.layer_norm: expected a scale of f32 broadcastable to the normalised dimensions [96], found tensor<64xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x?x96xf32>, tensor<64xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

func.func @layer_norm_bias(%x: tensor<?x?x96xf32>, %g: tensor<96xf32>, %b: tensor<96xf16>) {
  // expected-error @+2 {{bmc.layer_norm: expected a bias of f32 broadcastable to the normalised dimensions [96], found tensor<96xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.layer_norm %x, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>, tensor<96xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

func.func @rms_norm_scale(%x: tensor<?x?x96xf32>, %g: tensor<2x96xf32>) {
  // expected-error @+2 {{bmc.rms_norm: expected a scale of f32 broadcastable to the normalised dimensions [96], found tensor<2x96xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : (tensor<?x?x96xf32>, tensor<2x96xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

func.func @rms_norm_int(%x: tensor<2x4xi32>, %g: tensor<4xi32>) {
  // expected-error @+2 {{bmc.rms_norm: expected a float tensor, found tensor<2x4xi32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : (tensor<2x4xi32>, tensor<4xi32>) -> tensor<2x4xi32>
  return
}

// -----

func.func @reduce_axes(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{bmc.reduce_sum: expected axes in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reduce_sum %x {axes = array<i64: 2>, keepdims = true} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @reduce_keepdims_result(%x: tensor<2x4xf32>) {
  // expected-error @+2 {{'bmc.reduce_mean' op inferred type(s) 'tensor<2xf32>' are incompatible with return type(s) of operation 'tensor<2x1xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reduce_mean %x {axes = array<i64: 1>, keepdims = false} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  return
}
