// --bmc-mark-layers: the ops of each decoder layer get bmc.layer = k, found
// from the bmc.attention ops; the layer boundary is where only the residual
// stream crosses (before the norm); a remark counts the distinct bodies.
//
// RUN: bmc-opt %s --bmc-mark-layers --mlir-print-op-on-diagnostic=false -verify-diagnostics | FileCheck %s

// Three identical layers (norm, attention, residual add) after an embedding
// add; the final norm stays unmarked.
// CHECK-LABEL: func.func @three_layers
// CHECK: %[[E:.*]] = bmc.add %arg0, %arg1 :
// CHECK-NEXT: bmc.rms_norm %[[E]], %arg6 {bmc.layer = 0 : i64
// CHECK-NEXT: bmc.attention {{.*}}bmc.layer = 0 : i64
// CHECK-NEXT: bmc.add {{.*}}bmc.layer = 0 : i64
// CHECK-NEXT: bmc.rms_norm {{.*}}bmc.layer = 1 : i64
// CHECK-NEXT: bmc.attention {{.*}}bmc.layer = 1 : i64
// CHECK-NEXT: bmc.add {{.*}}bmc.layer = 1 : i64
// CHECK-NEXT: bmc.rms_norm {{.*}}bmc.layer = 2 : i64
// CHECK-NEXT: bmc.attention {{.*}}bmc.layer = 2 : i64
// CHECK-NEXT: bmc.add {{.*}}bmc.layer = 2 : i64
// CHECK-NEXT: %[[F:.*]] = bmc.rms_norm
// CHECK-NOT: bmc.layer
// CHECK-SAME: : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
// CHECK-NEXT: return %[[F]]
// expected-remark @below {{decoder layers: 3 marked, 3 ops each, starting 1 ops before each bmc.attention; 1 distinct body (layers 0-2)}}
func.func @three_layers(%x: tensor<1x4x8xf32>, %p: tensor<1x4x8xf32>, %k0: tensor<1x1x4x8xf32>,
                        %k1: tensor<1x1x4x8xf32>, %k2: tensor<1x1x4x8xf32>, %q: tensor<1x1x4x8xf32>,
                        %w0: tensor<8xf32>, %w1: tensor<8xf32>, %w2: tensor<8xf32>, %wf: tensor<8xf32>)
    -> tensor<1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a0 = bmc.attention %q, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %n0, %e : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w1 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a1 = bmc.attention %q, %k1, %k1 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %n1, %r0 : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n2 = bmc.rms_norm %r1, %w2 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a2 = bmc.attention %q, %k2, %k2 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r2 = bmc.add %n2, %r1 : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %f = bmc.rms_norm %r2, %wf {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  return %f : tensor<1x4x8xf32>
}

// A heterogeneous model: the middle layer's attention has another scale.
// The layers are still marked; they are two distinct bodies.
// CHECK-LABEL: func.func @heterogeneous
// CHECK: bmc.layer = 2
// expected-remark @below {{decoder layers: 3 marked, 3 ops each, starting 1 ops before each bmc.attention; 2 distinct bodies (layers 0,...,2; layers 1)}}
func.func @heterogeneous(%x: tensor<1x4x8xf32>, %p: tensor<1x4x8xf32>, %k0: tensor<1x1x4x8xf32>,
                         %q: tensor<1x1x4x8xf32>, %w0: tensor<8xf32>) -> tensor<1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a0 = bmc.attention %q, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %n0, %e : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a1 = bmc.attention %q, %k0, %k0 {scale = 0.5 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %n1, %r0 : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  %n2 = bmc.rms_norm %r1, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %a2 = bmc.attention %q, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r2 = bmc.add %n2, %r1 : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return %r2 : tensor<1x4x8xf32>
}

// One attention: nothing to share, nothing marked.
// CHECK-LABEL: func.func @one_layer
// CHECK-NOT: bmc.layer
// expected-remark @below {{decoder layers: none marked (1 bmc.attention op, need two or more)}}
func.func @one_layer(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %a = bmc.attention %q, %q, %q {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %a : tensor<1x1x4x8xf32>
}
