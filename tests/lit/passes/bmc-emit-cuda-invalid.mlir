// --bmc-emit-cuda refuses what its kernels do not take, with an error at the
// op that says what it found and what the kernel accepts (the pass fails;
// nothing is written).
// RUN: bmc-opt %s --split-input-file --verify-diagnostics --bmc-emit-cuda="output=%t.cu" -o /dev/null

func.func @group9(%q: tensor<1x18x1x16xf32>, %k: tensor<1x2x?x16xf32>) {
  %qv = bmck.to_view %q : tensor<1x18x1x16xf32> -> !bmck.view<1x18x1x16xf32>
  %kv = bmck.to_view %k : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  // expected-error @+1 {{CUDA emitter: GQA group 9 (18 / 2 heads), at most 8}}
  %o = bmck.attention %qv, %kv, %kv {scale = 0.25 : f32} : (!bmck.view<1x18x1x16xf32>, !bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x18x1x16xf32>
  return
}

// -----

func.func @head_dim512(%q: tensor<1x2x1x512xf32>, %k: tensor<1x2x?x512xf32>) {
  %qv = bmck.to_view %q : tensor<1x2x1x512xf32> -> !bmck.view<1x2x1x512xf32>
  %kv = bmck.to_view %k : tensor<1x2x?x512xf32> -> !bmck.view<1x2x?x512xf32>
  // expected-error @+1 {{CUDA emitter: head_dim 512, at most 256}}
  %o = bmck.attention %qv, %kv, %kv {scale = 0.25 : f32} : (!bmck.view<1x2x1x512xf32>, !bmck.view<1x2x?x512xf32>, !bmck.view<1x2x?x512xf32>) -> !bmck.view<1x2x1x512xf32>
  return
}

// -----

func.func @q_f16(%q: tensor<1x2x1x16xf16>, %k: tensor<1x2x?x16xf16>) {
  %qv = bmck.to_view %q : tensor<1x2x1x16xf16> -> !bmck.view<1x2x1x16xf16>
  %kv = bmck.to_view %k : tensor<1x2x?x16xf16> -> !bmck.view<1x2x?x16xf16>
  // expected-error @+1 {{CUDA emitter: q of 'f16', expected f32 (the kernel's query type)}}
  %o = bmck.attention %qv, %kv, %kv {scale = 0.25 : f32} : (!bmck.view<1x2x1x16xf16>, !bmck.view<1x2x?x16xf16>, !bmck.view<1x2x?x16xf16>) -> !bmck.view<1x2x1x16xf16>
  return
}

// -----

func.func @v_head_dim(%q: tensor<1x2x1x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x24xf32>) {
  %qv = bmck.to_view %q : tensor<1x2x1x16xf32> -> !bmck.view<1x2x1x16xf32>
  %kv = bmck.to_view %k : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %vv = bmck.to_view %v : tensor<1x2x?x24xf32> -> !bmck.view<1x2x?x24xf32>
  // expected-error @+1 {{CUDA emitter: V head_dim 24 != K head_dim 16 (not supported)}}
  %o = bmck.attention %qv, %kv, %vv {scale = 0.25 : f32} : (!bmck.view<1x2x1x16xf32>, !bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x24xf32>) -> !bmck.view<1x2x1x24xf32>
  return
}

// -----

func.func @weight_not_read(%x: tensor<?x37xf32>, %r: tensor<37x45xf32>) {
  %w = bmc.weight "w" : tensor<37x45xf32>
  %xv = bmck.to_view %x : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %rv = bmck.to_view %r : tensor<37x45xf32> -> !bmck.view<37x45xf32>
  // expected-error @+1 {{CUDA emitter: weight 'w' is not what the right operand reads (expected a bmck.to_view of it, through at most one Transpose and a widening Cast)}}
  %o = bmck.matmul %xv, %rv {weight = "w"} : (!bmck.view<?x37xf32>, !bmck.view<37x45xf32>) -> !bmck.view<?x45xf32>
  return
}

// -----

func.func @norm_axis(%x: !bmck.view<?x3x5xf32>, %g: !bmck.view<3x5xf32>) {
  // expected-error @+1 {{CUDA emitter: norm over dimension 1, expected the last one (2)}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x3x5xf32>, !bmck.view<3x5xf32>) -> !bmck.view<?x3x5xf32>
  return
}

// -----

func.func @rank5(%x: tensor<2x2x2x3x37xf32>, %r: tensor<37x45xf32>) {
  %xv = bmck.to_view %x : tensor<2x2x2x3x37xf32> -> !bmck.view<2x2x2x3x37xf32>
  %rv = bmck.to_view %r : tensor<37x45xf32> -> !bmck.view<37x45xf32>
  // expected-error @+1 {{CUDA emitter: operands of rank 5 and 2, at most 4 (the kernels take views of rank <= 4)}}
  %o = bmck.matmul %xv, %rv : (!bmck.view<2x2x2x3x37xf32>, !bmck.view<37x45xf32>) -> !bmck.view<2x2x2x3x45xf32>
  return
}

// -----

func.func @softmax_axis(%x: !bmck.view<?x5xf32>) {
  // expected-error @+1 {{CUDA emitter: softmax over dimension 0, expected the last one (1)}}
  %y = bmck.softmax %x {axis = 0 : i64} : (!bmck.view<?x5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @softmax_rank(%x: !bmck.view<1x2x3x4x5xf32>) {
  // expected-error @+1 {{CUDA emitter: softmax of rank 5, expected 1 to 4}}
  %y = bmck.softmax %x {axis = 4 : i64} : (!bmck.view<1x2x3x4x5xf32>) -> !bmck.view<1x2x3x4x5xf32>
  return
}

// -----

func.func @norm_f64(%x: !bmck.view<?x5xf64>, %g: !bmck.view<5xf64>) {
  // expected-error @+1 {{CUDA emitter: norm of 'f64', expected f32, f16 or bf16}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf64>, !bmck.view<5xf64>) -> !bmck.view<?x5xf64>
  return
}
