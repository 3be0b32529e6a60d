// Verifier diagnostics of the elementwise ops: each names the op and states
// what was expected and what was found.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @broadcast_mismatch(%x: tensor<2x3xf32>, %y: tensor<4xf32>) {
  // expected-error @+2 {{bmc.add: expected shapes that broadcast, found [2,3] and [4] (dimension 1 is 3 vs 4)}}
  // expected-error @+1 {{'bmc.add' op failed to infer returned types}}
  %0 = bmc.add %x, %y : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

// Dynamic dimensions do not hide a static mismatch elsewhere.
func.func @broadcast_mismatch_dynamic(%x: tensor<?x6x?xf32>, %y: tensor<?x4x1xf32>) {
  // expected-error @+2 {{bmc.sub: expected shapes that broadcast, found [?,6,?] and [?,4,1] (dimension 1 is 6 vs 4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.sub %x, %y : (tensor<?x6x?xf32>, tensor<?x4x1xf32>) -> tensor<?x6x?xf32>
  return
}

// -----

func.func @element_type_mismatch(%x: tensor<2x3xf32>, %y: tensor<3xf16>) {
  // expected-error @+2 {{bmc.mul: expected operands of one element type, found tensor<2x3xf32> and tensor<3xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.mul %x, %y : (tensor<2x3xf32>, tensor<3xf16>) -> tensor<2x3xf32>
  return
}

// -----

func.func @wrong_result_shape(%x: tensor<2x3xf32>, %y: tensor<3xf32>) {
  // expected-error @+2 {{'bmc.div' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3x3xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.div %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
  return
}

// -----

func.func @compare_result_not_i1(%x: tensor<4xf32>) {
  // expected-error @+2 {{'bmc.equal' op inferred type(s) 'tensor<4xi1>' are incompatible with return type(s) of operation 'tensor<4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.equal %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @logical_not_i1(%x: tensor<2x3xi64>) {
  // expected-error @+2 {{bmc.and: expected i1 operands, found tensor<2x3xi64> and tensor<2x3xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.and %x, %x : (tensor<2x3xi64>, tensor<2x3xi64>) -> tensor<2x3xi1>
  return
}

// -----

func.func @float_unary_on_int(%x: tensor<2x3xi64>) {
  // expected-error @+2 {{bmc.exp: expected a float tensor, found tensor<2x3xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.exp %x : (tensor<2x3xi64>) -> tensor<2x3xi64>
  return
}

// -----

func.func @not_on_float(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{bmc.not: expected an i1 tensor, found tensor<2x3xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.not %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @neg_on_i1(%x: tensor<2x3xi1>) {
  // expected-error @+2 {{bmc.neg: expected a numeric tensor, found tensor<2x3xi1>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.neg %x : (tensor<2x3xi1>) -> tensor<2x3xi1>
  return
}

// -----

func.func @unary_changes_shape(%x: tensor<2x3xf32>) {
  // expected-error @+2 {{'bmc.sqrt' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3x2xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.sqrt %x : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return
}

// -----

func.func @cast_keeps_shape(%x: tensor<2x3xi64>) {
  // expected-error @+2 {{'bmc.cast' op inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<6xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.cast %x {to = f32} : (tensor<2x3xi64>) -> tensor<6xf32>
  return
}

// -----

func.func @clip_bound_type(%x: tensor<4xf32>, %lo: tensor<i64>) {
  // expected-error @+2 {{bmc.clip: expected bounds of element type f32, found tensor<i64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.clip %x min %lo : (tensor<4xf32>, tensor<i64>) -> tensor<4xf32>
  return
}

// -----

func.func @clip_bound_not_scalar(%x: tensor<4xf32>, %lo: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be 0D tensor of any type values, but got 'tensor<4xf32>'}}
  %0 = bmc.clip %x min %lo : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @where_value_types(%c: tensor<2x3xi1>, %x: tensor<f32>, %y: tensor<i64>) {
  // expected-error @+2 {{bmc.where: expected x and y of one element type, found tensor<f32> and tensor<i64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.where %c, %x, %y : (tensor<2x3xi1>, tensor<f32>, tensor<i64>) -> tensor<2x3xf32>
  return
}

// -----

func.func @where_broadcast(%c: tensor<2x3xi1>, %x: tensor<4xf32>, %y: tensor<f32>) {
  // expected-error @+2 {{bmc.where: expected shapes that broadcast, found [2,3] and [4] (dimension 1 is 3 vs 4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.where %c, %x, %y : (tensor<2x3xi1>, tensor<4xf32>, tensor<f32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @where_condition_not_i1(%c: tensor<2x3xf32>, %x: tensor<f32>) {
  // expected-error @+1 {{operand #0 must be tensor of 1-bit signless integer values, but got 'tensor<2x3xf32>'}}
  %0 = bmc.where %c, %x, %x : (tensor<2x3xf32>, tensor<f32>, tensor<f32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @unranked(%x: tensor<*xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of any type values, but got 'tensor<*xf32>'}}
  %0 = bmc.add %x, %x : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return
}
