// --bmc-plan-memory's options for the CPU's view of the arena (docs/DESIGN.md,
// "The memory plan on the CPU", differences (1), (3) and (4)); without them
// (the CUDA programs' plan) each function is planned as in
// bmc-plan-memory.mlir.
//
// RUN: bmc-opt %s --bmc-plan-memory | FileCheck %s --check-prefix=CUDA
// RUN: bmc-opt %s '--bmc-plan-memory=shapes-in-arena=true results-in-place=true logits-output=0' \
// RUN:   | FileCheck %s --check-prefix=CPU
// RUN: bmc-opt %s '--bmc-plan-memory=shapes-in-arena=true results-in-place=true logits-output=1' \
// RUN:   | FileCheck %s --check-prefix=OTHER

// (1) Shape vectors: with shapes-in-arena each tensor.from_elements has a
// slot. A reshape reads its shape as scalars (the CPU takes them from the
// elements, Lowerer::element), so %s is dead after its own op and %v takes
// its slot 0; %v is read as a view by the copy, which keeps it live there,
// so the copy takes slot 1. Without the option the vectors have no slot.
// CUDA-LABEL: func.func @shapes
// CUDA-SAME: attributes {bmck.slots = 1 : i64}
// CUDA: tensor.from_elements
// CUDA-NOT: bmck.slot
// CUDA: bmck.copy {{.*}}bmck.slot = 0 : i64
// CPU-LABEL: func.func @shapes
// CPU-SAME: attributes {bmck.slots = 2 : i64}
// CPU: tensor.from_elements {{.*}}{bmck.slot = 0 : i64} : tensor<3xi64>
// CPU: tensor.from_elements {{.*}}{bmck.slot = 0 : i64} : tensor<1xi64>
// CPU: bmck.reshape
// CPU-NOT: bmck.slot
// CPU-SAME: -> !bmck.view
// CPU: bmck.copy {{.*}}bmck.slot = 1 : i64
func.func @shapes(%x: tensor<?x24xf32>, %n: i64) -> (tensor<?x2x12xf32>, tensor<1xi64>) {
  %c2 = arith.constant 2 : i64
  %c12 = arith.constant 12 : i64
  %xv = bmck.to_view %x : tensor<?x24xf32> -> !bmck.view<?x24xf32>
  %s = tensor.from_elements %n, %c2, %c12 : tensor<3xi64>
  %v = tensor.from_elements %n : tensor<1xi64>
  %r = bmck.reshape %xv, %s : (!bmck.view<?x24xf32>, tensor<3xi64>) -> !bmck.view<?x2x12xf32>
  %vv = bmck.to_view %v : tensor<1xi64> -> !bmck.view<1xi64>
  %cp = bmck.copy %vv : (!bmck.view<1xi64>) -> !bmck.view<1xi64>
  %rt = bmck.to_tensor %r : !bmck.view<?x2x12xf32> -> tensor<?x2x12xf32>
  %ct = bmck.to_tensor %cp : !bmck.view<1xi64> -> tensor<1xi64>
  return %rt, %ct : tensor<?x2x12xf32>, tensor<1xi64>
}

// (3) A returned concat is written into the caller's output buffer: with
// results-in-place it has no slot, so the last softmax takes slot 0 (the
// first softmax's, dead after the first concat), which the returned concat
// holds to the end in the CUDA plan. A concat that is not returned keeps
// its slot (the first, read by the returned one).
// CUDA-LABEL: func.func @concat
// CUDA-SAME: attributes {bmck.slots = 2 : i64}
// CUDA: bmck.softmax {{.*}}bmck.slot = 0 : i64
// CUDA: bmck.concat {{.*}}bmck.slot = 1 : i64
// CUDA: bmck.concat {{.*}}bmck.slot = 0 : i64
// CUDA: bmck.softmax {{.*}}bmck.slot = 1 : i64
// CPU-LABEL: func.func @concat
// CPU-SAME: attributes {bmck.slots = 2 : i64}
// CPU: bmck.softmax {{.*}}bmck.slot = 0 : i64
// CPU: bmck.concat {{.*}}bmck.slot = 1 : i64
// CPU: bmck.concat
// CPU-NOT: bmck.slot
// CPU-SAME: -> !bmck.view
// CPU: bmck.softmax {{.*}}bmck.slot = 0 : i64
func.func @concat(%p: !bmck.view<?x4xf32>, %q: !bmck.view<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %s = bmck.softmax %p {axis = 1 : i64} : (!bmck.view<?x4xf32>) -> !bmck.view<?x4xf32>
  %a = bmck.concat %s, %q {axis = 0 : i64} : (!bmck.view<?x4xf32>, !bmck.view<?x4xf32>) -> !bmck.view<?x4xf32>
  %b = bmck.concat %a, %q {axis = 0 : i64} : (!bmck.view<?x4xf32>, !bmck.view<?x4xf32>) -> !bmck.view<?x4xf32>
  %t = bmck.softmax %q {axis = 1 : i64} : (!bmck.view<?x4xf32>) -> !bmck.view<?x4xf32>
  %bt = bmck.to_tensor %b : !bmck.view<?x4xf32> -> tensor<?x4xf32>
  %tt = bmck.to_tensor %t : !bmck.view<?x4xf32> -> tensor<?x4xf32>
  return %bt, %tt : tensor<?x4xf32>, tensor<?x4xf32>
}

// (4) The logits: the product returned at logits-output (a 3-D f32 left
// operand, a 2-D right one) computes only the rows the run asks for, so it
// has no slot; nor has the group of one Cast that rounds a 16-bit graph's
// logits. Returned at another index (the third RUN, logits-output=1) both keep
// theirs (the norm's slot 0 is free again for the group), as does a
// product whose left operand is 2-D.
// CUDA-LABEL: func.func @logits
// CUDA-SAME: attributes {bmck.slots = 2 : i64}
// CUDA: bmck.norm {{.*}}bmck.slot = 0 : i64
// CUDA: bmck.matmul {{.*}}bmck.slot = 1 : i64
// CUDA: bmck.elementwise {{.*}}bmck.slot = 0 : i64
// CPU-LABEL: func.func @logits
// CPU-SAME: attributes {bmck.slots = 1 : i64}
// CPU: bmck.norm {{.*}}bmck.slot = 0 : i64
// CPU: bmck.matmul
// CPU-NOT: bmck.slot
// CPU-SAME: -> !bmck.view
// CPU: bmck.elementwise
// CPU-NOT: bmck.slot
// CPU-SAME: -> !bmck.view
// OTHER-LABEL: func.func @logits
// OTHER-SAME: attributes {bmck.slots = 2 : i64}
// OTHER: bmck.norm {{.*}}bmck.slot = 0 : i64
// OTHER: bmck.matmul {{.*}}bmck.slot = 1 : i64
// OTHER: bmck.elementwise {{.*}}bmck.slot = 0 : i64
func.func @logits(%x: tensor<?x?x24xf32>, %g: tensor<24xf32>) -> tensor<?x?x16xf16> {
  %xv = bmck.to_view %x : tensor<?x?x24xf32> -> !bmck.view<?x?x24xf32>
  %gv = bmck.to_view %g : tensor<24xf32> -> !bmck.view<24xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x?x24xf32>, !bmck.view<24xf32>) -> !bmck.view<?x?x24xf32>
  %w = bmc.weight "lm_head" : tensor<24x16xf32>
  %wv = bmck.to_view %w : tensor<24x16xf32> -> !bmck.view<24x16xf32>
  %l = bmck.matmul %n, %wv {weight = "lm_head"} : (!bmck.view<?x?x24xf32>, !bmck.view<24x16xf32>) -> !bmck.view<?x?x16xf32>
  %h = bmck.elementwise %l : (!bmck.view<?x?x16xf32>) -> !bmck.view<?x?x16xf16> {
  ^bb0(%a: tensor<?x?x16xf32>):
    %c = bmc.cast %a {to = f16} : (tensor<?x?x16xf32>) -> tensor<?x?x16xf16>
    bmck.yield %c : tensor<?x?x16xf16>
  }
  %ht = bmck.to_tensor %h : !bmck.view<?x?x16xf16> -> tensor<?x?x16xf16>
  return %ht : tensor<?x?x16xf16>
}

// A product with a 2-D left operand computes all its rows: it keeps its slot
// even as the logits.
// CPU-LABEL: func.func @rows2d
// CPU-SAME: attributes {bmck.slots = 1 : i64}
// CPU: bmck.matmul {{.*}}bmck.slot = 0 : i64
func.func @rows2d(%x: tensor<?x24xf32>) -> tensor<?x16xf32> {
  %xv = bmck.to_view %x : tensor<?x24xf32> -> !bmck.view<?x24xf32>
  %w = bmc.weight "lm_head" : tensor<24x16xf32>
  %wv = bmck.to_view %w : tensor<24x16xf32> -> !bmck.view<24x16xf32>
  %l = bmck.matmul %xv, %wv {weight = "lm_head"} : (!bmck.view<?x24xf32>, !bmck.view<24x16xf32>) -> !bmck.view<?x16xf32>
  %lt = bmck.to_tensor %l : !bmck.view<?x16xf32> -> tensor<?x16xf32>
  return %lt : tensor<?x16xf32>
}
