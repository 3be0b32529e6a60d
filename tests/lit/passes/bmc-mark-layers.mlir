// --bmc-mark-layers: the ops of each decoder layer get bmc.layer = k, found
// from the bmc.attention ops; the layer boundary is where only the residual
// stream crosses (before the norm); values every layer reads that layer 0
// computes move before it; a remark counts the distinct bodies.
//
// RUN: bmc-opt %s --bmc-mark-layers --mlir-print-op-on-diagnostic=false -verify-diagnostics | FileCheck %s

// Three identical layers (norm, attention, residual add) after an embedding
// add; the final norm stays unmarked.
// CHECK-LABEL: func.func @three_layers
// CHECK: %[[E:.*]] = bmc.add %arg0, %arg1 :
// CHECK-NEXT: bmc.rms_norm %[[E]], %arg5 {bmc.layer = 0 : i64
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
// CHECK-SAME: : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
// CHECK-NEXT: return %[[F]]
// expected-remark @below {{decoder layers: 3 marked, 3 ops each, starting 1 ops before each bmc.attention; 1 distinct body (layers 0-2)}}
func.func @three_layers(%x: tensor<1x1x4x8xf32>, %p: tensor<1x1x4x8xf32>, %k0: tensor<1x1x4x8xf32>, %k1: tensor<1x1x4x8xf32>, %k2: tensor<1x1x4x8xf32>,
                        %w0: tensor<8xf32>, %w1: tensor<8xf32>, %w2: tensor<8xf32>, %wf: tensor<8xf32>) -> tensor<1x1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a0 = bmc.attention %n0, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %a0, %e : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w1 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a1 = bmc.attention %n1, %k1, %k1 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %a1, %r0 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n2 = bmc.rms_norm %r1, %w2 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a2 = bmc.attention %n2, %k2, %k2 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r2 = bmc.add %a2, %r1 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %f = bmc.rms_norm %r2, %wf {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  return %f : tensor<1x1x4x8xf32>
}

// A heterogeneous model: the middle layer's attention has another scale.
// The layers are still marked; they are two distinct bodies.
// CHECK-LABEL: func.func @heterogeneous
// CHECK: bmc.layer = 2
// expected-remark @below {{decoder layers: 3 marked, 3 ops each, starting 1 ops before each bmc.attention; 2 distinct bodies (layers 0,...,2; layers 1)}}
func.func @heterogeneous(%x: tensor<1x1x4x8xf32>, %p: tensor<1x1x4x8xf32>, %k0: tensor<1x1x4x8xf32>, %w0: tensor<8xf32>) -> tensor<1x1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a0 = bmc.attention %n0, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %a0, %e : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a1 = bmc.attention %n1, %k0, %k0 {scale = 0.5 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %a1, %r0 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n2 = bmc.rms_norm %r1, %w0 {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a2 = bmc.attention %n2, %k0, %k0 {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %r2 = bmc.add %a2, %r1 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %r2 : tensor<1x1x4x8xf32>
}

// One attention: nothing to share, nothing marked.
// CHECK-LABEL: func.func @one_layer
// CHECK-NOT: bmc.layer
// expected-remark @below {{decoder layers: none marked (1 bmc.attention op, need two or more)}}
func.func @one_layer(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %a = bmc.attention %q, %q, %q {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %a : tensor<1x1x4x8xf32>
}

// Layer 0 computes a value every layer reads (a mask, as an exporter's graph
// leaves it after CSE): it moves before layer 0, and the three layers are one
// body. Without the move, layer 0 would be one op longer than the others (two
// bodies). The final norm stays out of the last layer.
// CHECK-LABEL: func.func @shared_in_layer0
// CHECK: %[[M:.*]] = bmc.neg %arg6 :
// CHECK-NEXT: %[[E:.*]] = bmc.add %arg0, %arg1 :
// CHECK-NEXT: bmc.rms_norm %[[E]], %arg5 {bmc.layer = 0 : i64
// CHECK-NEXT: bmc.attention {{.*}}, %arg2, %arg2, %[[M]] {bmc.layer = 0 : i64
// CHECK-NEXT: bmc.add {{.*}}bmc.layer = 0 : i64
// CHECK-NEXT: bmc.rms_norm {{.*}}bmc.layer = 1 : i64
// CHECK-NEXT: bmc.attention {{.*}}, %arg3, %arg3, %[[M]] {bmc.layer = 1 : i64
// CHECK: bmc.attention {{.*}}, %arg4, %arg4, %[[M]] {bmc.layer = 2 : i64
// CHECK-NEXT: bmc.add {{.*}}bmc.layer = 2 : i64
// CHECK-NEXT: bmc.rms_norm
// CHECK-NOT: bmc.layer
// CHECK-SAME: : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
// expected-remark @below {{decoder layers: 3 marked, 3 ops each, starting 1 ops before each bmc.attention; 1 ops that every layer reads moved before layer 0; 1 distinct body (layers 0-2)}}
func.func @shared_in_layer0(%x: tensor<1x1x4x8xf32>, %p: tensor<1x1x4x8xf32>, %k0: tensor<1x1x4x8xf32>, %k1: tensor<1x1x4x8xf32>, %k2: tensor<1x1x4x8xf32>,
                            %w: tensor<8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %mask = bmc.neg %m : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  %a0 = bmc.attention %n0, %k0, %k0, %mask {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %a0, %e : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a1 = bmc.attention %n1, %k1, %k1, %mask {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %a1, %r0 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n2 = bmc.rms_norm %r1, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a2 = bmc.attention %n2, %k2, %k2, %mask {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32>
  %r2 = bmc.add %a2, %r1 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %f = bmc.rms_norm %r2, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  return %f : tensor<1x1x4x8xf32>
}

// Two layers (no middle layer to take the boundary from): the shared value
// moves, the boundary is found again, one body.
// CHECK-LABEL: func.func @two_layers_shared
// CHECK: bmc.neg %arg4 :
// CHECK-NEXT: bmc.add %arg0, %arg1 :
// CHECK-NEXT: bmc.rms_norm {{.*}}bmc.layer = 0 : i64
// expected-remark @below {{decoder layers: 2 marked, 3 ops each, starting 1 ops before each bmc.attention; 1 ops that every layer reads moved before layer 0; 1 distinct body (layers 0-1)}}
func.func @two_layers_shared(%x: tensor<1x1x4x8xf32>, %p: tensor<1x1x4x8xf32>, %k0: tensor<1x1x4x8xf32>, %k1: tensor<1x1x4x8xf32>, %m: tensor<1x1x4x4xf32>, %w: tensor<8xf32>) -> tensor<1x1x4x8xf32> {
  %e = bmc.add %x, %p : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n0 = bmc.rms_norm %e, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %mask = bmc.neg %m : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  %a0 = bmc.attention %n0, %k0, %k0, %mask {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32>
  %r0 = bmc.add %a0, %e : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  %n1 = bmc.rms_norm %r0, %w {epsilon = 1.0e-5 : f32} : (tensor<1x1x4x8xf32>, tensor<8xf32>) -> tensor<1x1x4x8xf32>
  %a1 = bmc.attention %n1, %k1, %k1, %mask {scale = 0.25 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x8xf32>
  %r1 = bmc.add %a1, %r0 : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %r1 : tensor<1x1x4x8xf32>
}
