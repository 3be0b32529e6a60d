// Verifier diagnostics of the indexing ops.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @gather_nd_dynamic_tuple(%x: tensor<4x5xf32>, %i: tensor<2x?xi64>) {
  // expected-error @+2 {{bmc.gather_nd: expected a static last dimension of indices, found tensor<2x?xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<4x5xf32>, tensor<2x?xi64>) -> tensor<2xf32>
  return
}

// -----

func.func @gather_nd_long_tuple(%x: tensor<4x5xf32>, %i: tensor<2x2xi64>) {
  // expected-error @+2 {{bmc.gather_nd: expected index tuples of length in [1, 1] (data rank 2 - batch_dims 1), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gather_nd %x, %i {batch_dims = 1 : i64} : (tensor<4x5xf32>, tensor<2x2xi64>) -> tensor<2xf32>
  return
}

// -----

func.func @gather_nd_batch_mismatch(%x: tensor<4x5xf32>, %i: tensor<3x1xi64>) {
  // expected-error @+2 {{bmc.gather_nd: batch dimension 0: data has 4, indices 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.gather_nd %x, %i {batch_dims = 1 : i64} : (tensor<4x5xf32>, tensor<3x1xi64>) -> tensor<3xf32>
  return
}

// -----

func.func @scatter_nd_reduction(%x: tensor<4x5xf32>, %i: tensor<2x1xi64>, %u: tensor<2x5xf32>) {
  // expected-error @+2 {{bmc.scatter_nd: expected reduction none, add, mul, max or min, found sum}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.scatter_nd %x, %i, %u {reduction = "sum"} : (tensor<4x5xf32>, tensor<2x1xi64>, tensor<2x5xf32>) -> tensor<4x5xf32>
  return
}

// -----

func.func @scatter_nd_updates_type(%x: tensor<4x5xf32>, %i: tensor<2x1xi64>, %u: tensor<2x5xi64>) {
  // expected-error @+2 {{bmc.scatter_nd: expected updates of element type f32, found i64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.scatter_nd %x, %i, %u {reduction = "none"} : (tensor<4x5xf32>, tensor<2x1xi64>, tensor<2x5xi64>) -> tensor<4x5xf32>
  return
}

// -----

func.func @cumsum_axis(%x: tensor<4x5xf32>) {
  // expected-error @+2 {{bmc.cumsum: expected an axis in [0, 2), found 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.cumsum %x {axis = 2 : i64, exclusive = false, reverse = false} : (tensor<4x5xf32>) -> tensor<4x5xf32>
  return
}

// -----

func.func @cumsum_bool(%x: tensor<4xi1>) {
  // expected-error @+2 {{bmc.cumsum: expected a numeric element type, found i1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.cumsum %x {axis = 0 : i64, exclusive = false, reverse = false} : (tensor<4xi1>) -> tensor<4xi1>
  return
}

// -----

func.func @nonzero_scalar(%x: tensor<f32>) {
  // expected-error @+2 {{bmc.nonzero: expected rank >= 1, found rank 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.nonzero %x : (tensor<f32>) -> tensor<0x?xi64>
  return
}

// -----

func.func @nonzero_rank(%x: tensor<4x5xf32>) {
  // expected-error @+2 {{'bmc.nonzero' op inferred type(s) 'tensor<2x?xi64>' are incompatible with return type(s) of operation 'tensor<3x?xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.nonzero %x : (tensor<4x5xf32>) -> tensor<3x?xi64>
  return
}
