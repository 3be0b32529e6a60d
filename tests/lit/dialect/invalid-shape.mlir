// Verifier diagnostics of weights and the shape-producing ops.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @weight_dynamic() {
  // expected-error @+1 {{'bmc.weight' op expected a static shape for weight 'w', found 'tensor<?x4xf32>'}}
  %0 = bmc.weight "w" : tensor<?x4xf32>
  return
}

// -----

func.func @shape_range(%x: tensor<3xf32>) {
  // expected-error @+2 {{bmc.shape: expected 0 <= start <= end <= rank 1, found start 0, end 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.shape %x {start = 0, end = 2} : (tensor<3xf32>) -> tensor<2xi64>
  return
}

// -----

func.func @shape_result_length(%x: tensor<?x?x96xf32>) {
  // expected-error @+2 {{'bmc.shape' op inferred type(s) 'tensor<3xi64>' are incompatible with return type(s) of operation 'tensor<2xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.shape %x {start = 0, end = 3} : (tensor<?x?x96xf32>) -> tensor<2xi64>
  return
}

// -----

func.func @constant_of_shape_negative() {
  %s = arith.constant dense<[2, -3]> : tensor<2xi64>
  // expected-error @+2 {{bmc.constant_of_shape: expected non-negative dimensions, found -3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.constant_of_shape %s {value = 0.0 : f32} : (tensor<2xi64>) -> tensor<2x?xf32>
  return
}

// -----

func.func @constant_of_shape_dynamic_length(%s: tensor<?xi64>) {
  // expected-error @+2 {{bmc.constant_of_shape: expected a 1-D shape of static length, found tensor<?xi64>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.constant_of_shape %s {value = 0.0 : f32} : (tensor<?xi64>) -> tensor<?xf32>
  return
}

// -----

// The element type is the value's.
func.func @constant_of_shape_value_type(%s: tensor<2xi64>) {
  // expected-error @+2 {{'bmc.constant_of_shape' op inferred type(s) 'tensor<?x?xi64>' are incompatible with return type(s) of operation 'tensor<?x?xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.constant_of_shape %s {value = 0 : i64} : (tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @range_element_types(%s: tensor<i64>, %f: tensor<f32>) {
  // expected-error @+2 {{bmc.range: expected start, limit and delta of one element type, found i64, f32 and i64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.range %s, %f, %s : (tensor<i64>, tensor<f32>, tensor<i64>) -> tensor<?xi64>
  return
}

// -----

func.func @range_not_scalar(%s: tensor<1xi64>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of any type values, but got 'tensor<1xi64>'}}
  %0 = bmc.range %s, %s, %s : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xi64>
  return
}

// -----

func.func @range_static_length() {
  %c0 = arith.constant dense<0> : tensor<i64>
  %c5 = arith.constant dense<5> : tensor<i64>
  %c2 = arith.constant dense<2> : tensor<i64>
  // expected-error @+2 {{'bmc.range' op inferred type(s) 'tensor<3xi64>' are incompatible with return type(s) of operation 'tensor<5xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.range %c0, %c5, %c2 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<5xi64>
  return
}
