// Verifier diagnostics of the data-movement ops.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @transpose_not_a_permutation(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.transpose: expected a permutation of [0, 2), found [0,0]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.transpose %x {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return
}

// -----

func.func @transpose_perm_length(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.transpose: expected perm of 2 entries (the input rank), found 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.transpose %x {perm = array<i64: 0, 1, 2>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @transpose_wrong_result(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{'bmc.transpose' op inferred type(s) 'tensor<3x2xf32>' are incompatible with return type(s) of operation 'tensor<2x3xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reshape_element_count(%x: tensor<2x3x4xf32>) {
  %s = arith.constant dense<[5, 5]> : tensor<2xi64>
  // expected-error @+2 {{bmc.reshape: expected 24 elements (the input [2,3,4]), found shape [5,5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<5x5xf32>
  return
}

// -----

func.func @reshape_infer_not_divisible(%x: tensor<2x3x4xf32>) {
  %s = arith.constant dense<[-1, 5]> : tensor<2xi64>
  // expected-error @+2 {{bmc.reshape: expected a shape whose known entries divide 24 elements (the input [2,3,4]), found [-1,5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x5xf32>
  return
}

// -----

// Found by fuzz_onnx_import (UBSan: the product of the entries overflowed int64).
func.func @reshape_product_overflow(%x: tensor<2x3x4xf32>) {
  %s = arith.constant dense<[4294967296, 4294967296, -1]> : tensor<3xi64>
  // expected-error @+2 {{bmc.reshape: expected a shape of at most 2^63 - 1 elements, found [4294967296,4294967296,-1]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<2x3x4xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  return
}

// -----

func.func @flatten_product_overflow(%x: tensor<4294967296x4294967296x2xf32>) {
  // expected-error @+2 {{bmc.flatten: expected at most 2^63 - 1 elements on each side of axis 2, found the input [4294967296,4294967296,2]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.flatten %x {axis = 2 : i64} : (tensor<4294967296x4294967296x2xf32>) -> tensor<?x2xf32>
  return
}

// -----

func.func @reshape_two_minus_one(%x: tensor<2x3x4xf32>) {
  %s = arith.constant dense<[-1, -1]> : tensor<2xi64>
  // expected-error @+2 {{bmc.reshape: expected at most one -1 in the shape, found two}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @reshape_negative_entry(%x: tensor<2x3x4xf32>) {
  %s = arith.constant dense<[-2, 12]> : tensor<2xi64>
  // expected-error @+2 {{bmc.reshape: expected shape entries >= -1, found -2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x12xf32>
  return
}

// -----

func.func @reshape_copy_past_rank(%x: tensor<24xf32>) {
  %s = arith.constant dense<[4, 0]> : tensor<2xi64>
  // expected-error @+2 {{bmc.reshape: shape entry 1 is 0 (copy the input dimension): expected an input of rank > 1, found tensor<24xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<24xf32>, tensor<2xi64>) -> tensor<4x?xf32>
  return
}

// -----

func.func @reshape_dynamic_shape_length(%x: tensor<24xf32>, %s: tensor<?xi64>) {
  // expected-error @+2 {{bmc.reshape: expected a 1-D shape of static length, found tensor<?xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.reshape %x, %s : (tensor<24xf32>, tensor<?xi64>) -> tensor<4x?xf32>
  return
}

// -----

func.func @reshape_shape_type(%x: tensor<24xf32>, %s: tensor<2xf32>) {
  // expected-error @+1 {{operand #1 must be 1D tensor of 64-bit signless integer or index values, but got 'tensor<2xf32>'}}
  %0 = bmc.reshape %x, %s : (tensor<24xf32>, tensor<2xf32>) -> tensor<4x6xf32>
  return
}

// -----

func.func @flatten_axis(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.flatten: expected an axis in [0, 2], found 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.flatten %x {axis = 3 : i64} : (tensor<2x3xf32>) -> tensor<6x1xf32>
  return
}

// -----

func.func @squeeze_not_one(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.squeeze: expected dimension 1 to be 1, found 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.squeeze %x {axes = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @squeeze_axis(%x: tensor<2x1xf32>) {
  // expected-error @+2 {{bmc.squeeze: expected axes in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.squeeze %x {axes = array<i64: 2>} : (tensor<2x1xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @unsqueeze_duplicate(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.unsqueeze: expected distinct axes in [0, 4), found [0,0]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.unsqueeze %x {axes = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<1x1x2x3xf32>
  return
}

// -----

func.func @unsqueeze_axis(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.unsqueeze: expected distinct axes in [0, 3), found [3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.unsqueeze %x {axes = array<i64: 3>} : (tensor<2x3xf32>) -> tensor<2x3x1xf32>
  return
}

// -----

func.func @concat_rank(%x: tensor<2x3xf32>, %y: tensor<2x3x1xf32>) {
  // expected-error @+2 {{bmc.concat: expected input 1 of rank 2 and element type f32 (as input 0), found tensor<2x3x1xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %y {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x3x1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @concat_dims(%x: tensor<?x2x?x16xf32>, %y: tensor<?x2x?x8xf32>) {
  // expected-error @+2 {{bmc.concat: expected input 1 to have dimension 3 = 16 (as the inputs before it), found 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %y {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x16xf32>
  return
}

// -----

// A dynamic dimension of the first input is refined by the second, and the
// third must agree with what is known by then.
func.func @concat_dims_refined(%x: tensor<?x?xf32>, %y: tensor<2x3xf32>, %z: tensor<2x4xf32>) {
  // expected-error @+2 {{bmc.concat: expected input 2 to have dimension 1 = 3 (as the inputs before it), found 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %y, %z {axis = 0 : i64} : (tensor<?x?xf32>, tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @concat_element_type(%x: tensor<2x3xf32>, %y: tensor<2x3xf16>) {
  // expected-error @+2 {{bmc.concat: expected input 1 of rank 2 and element type f32 (as input 0), found tensor<2x3xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %y {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<4x3xf32>
  return
}

// -----

func.func @concat_axis(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.concat: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %x {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @concat_scalars(%x: tensor<f32>) {
  // expected-error @+2 {{bmc.concat: expected inputs of rank >= 1, found tensor<f32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat %x, %x {axis = 0 : i64} : (tensor<f32>, tensor<f32>) -> tensor<2xf32>
  return
}

// -----

func.func @concat_no_inputs() {
  // expected-error @+2 {{bmc.concat: expected at least one input, found none}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.concat {axis = 0 : i64} : () -> tensor<2xf32>
  return
}

// -----

func.func @split_sizes_sum(%x: tensor<2x9xf32>) {
  // expected-error @+2 {{bmc.split: expected sizes that sum to 9 (dimension 1), found [4,4] (sum 8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = bmc.split %x {axis = 1 : i64, sizes = array<i64: 4, 4>} : (tensor<2x9xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
  return
}

// -----

func.func @split_negative_size(%x: tensor<2x9xf32>) {
  // expected-error @+2 {{bmc.split: expected non-negative sizes, found -1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = bmc.split %x {axis = 1 : i64, sizes = array<i64: 10, -1>} : (tensor<2x9xf32>) -> (tensor<2x10xf32>, tensor<2x?xf32>)
  return
}

// -----

func.func @split_result_count(%x: tensor<2x9xf32>) {
  // expected-error @+2 {{'bmc.split' op inferred type(s) 'tensor<2x4xf32>', 'tensor<2x5xf32>' are incompatible with return type(s) of operation 'tensor<2x9xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.split %x {axis = 1 : i64, sizes = array<i64: 4, 5>} : (tensor<2x9xf32>) -> tensor<2x9xf32>
  return
}

// -----

func.func @split_axis(%x: tensor<2x9xf32>) {
  // expected-error @+2 {{bmc.split: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.split %x {axis = 2 : i64, sizes = array<i64: 2>} : (tensor<2x9xf32>) -> tensor<2x9xf32>
  return
}

// -----

func.func @slice_zero_step(%x: tensor<10xf32>, %s: tensor<1xi64>) {
  %z = arith.constant dense<0> : tensor<1xi64>
  // expected-error @+2 {{bmc.slice: expected non-zero steps, found 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.slice %x, %s, %s, %z {axes = array<i64: 0>} : (tensor<10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xf32>
  return
}

// -----

func.func @slice_entries_per_axis(%x: tensor<10xf32>, %s: tensor<2xi64>) {
  // expected-error @+2 {{bmc.slice: expected starts, ends and steps of 1 entries (one per axis), found tensor<2xi64>, tensor<2xi64> and tensor<2xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.slice %x, %s, %s, %s {axes = array<i64: 0>} : (tensor<10xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<?xf32>
  return
}

// -----

func.func @slice_duplicate_axes(%x: tensor<10x3xf32>, %s: tensor<2xi64>) {
  // expected-error @+2 {{bmc.slice: expected distinct axes in [0, 2), found [0,0]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.slice %x, %s, %s, %s {axes = array<i64: 0, 0>} : (tensor<10x3xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @slice_static_result(%x: tensor<10xf32>) {
  %s = arith.constant dense<2> : tensor<1xi64>
  %e = arith.constant dense<5> : tensor<1xi64>
  %p = arith.constant dense<1> : tensor<1xi64>
  // expected-error @+2 {{'bmc.slice' op inferred type(s) 'tensor<3xf32>' are incompatible with return type(s) of operation 'tensor<4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.slice %x, %s, %e, %p {axes = array<i64: 0>} : (tensor<10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xf32>
  return
}

// -----

func.func @gather_axis(%x: tensor<10x3xf32>, %i: tensor<2xi64>) {
  // expected-error @+2 {{bmc.gather: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gather %x, %i {axis = 2 : i64} : (tensor<10x3xf32>, tensor<2xi64>) -> tensor<10x3xf32>
  return
}

// -----

func.func @gather_scalar_data(%x: tensor<f32>, %i: tensor<2xi64>) {
  // expected-error @+2 {{bmc.gather: expected data of rank >= 1, found rank 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gather %x, %i {axis = 0 : i64} : (tensor<f32>, tensor<2xi64>) -> tensor<2xf32>
  return
}

// -----

func.func @gather_float_indices(%x: tensor<10x3xf32>, %i: tensor<2xf32>) {
  // expected-error @+1 {{operand #1 must be tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2xf32>'}}
  %0 = bmc.gather %x, %i {axis = 0 : i64} : (tensor<10x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @expand_not_broadcastable(%x: tensor<2x3xf32>) {
  %s = arith.constant dense<[4, 4]> : tensor<2xi64>
  // expected-error @+2 {{bmc.expand: expected shapes that broadcast, found [2,3] and [4,4] (dimension 0 is 2 vs 4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.expand %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x4xf32>
  return
}

// -----

// -1 means nothing to Expand (the exporters guard it into 1 first).
func.func @expand_negative_target(%x: tensor<?x1xf32>) {
  %s = arith.constant dense<[-1, 4]> : tensor<2xi64>
  // expected-error @+2 {{bmc.expand: expected non-negative target dimensions, found [-1,4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.expand %x, %s : (tensor<?x1xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  return
}

// -----

func.func @trilu_rank(%x: tensor<3xf32>, %k: tensor<i64>) {
  // expected-error @+2 {{bmc.trilu: expected rank >= 2, found 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.trilu %x, %k {upper = true} : (tensor<3xf32>, tensor<i64>) -> tensor<3xf32>
  return
}
