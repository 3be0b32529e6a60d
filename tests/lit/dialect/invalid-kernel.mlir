// Verifier diagnostics of the kernel-level dialect bmck.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @seam_shape(%t: tensor<?x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.to_view' op expected the view and the tensor to have the same sizes and element type, found '!bmck.view<?x2x?x8xf32>' and 'tensor<?x2x?x16xf32>'}}
  %v = bmck.to_view %t : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x8xf32>
  return
}

// -----

func.func @seam_element(%v: !bmck.view<?x2x?x16xbf16>) {
  // expected-error @+1 {{'bmck.to_tensor' op expected the view and the tensor to have the same sizes and element type, found '!bmck.view<?x2x?x16xbf16>' and 'tensor<?x2x?x16xf32>'}}
  %t = bmck.to_tensor %v : !bmck.view<?x2x?x16xbf16> -> tensor<?x2x?x16xf32>
  return
}

// -----

func.func @rows_heads(%c: !bmc.kv_cache<2x16xf32>) {
  // expected-error @+1 {{'bmck.kv_rows' op expected the valid rows [batch, 2, ?, 16] of 'f32' (the cache '!bmc.kv_cache<2x16xf32>'), found '!bmck.view<?x4x?x16xf32>'}}
  %v = bmck.kv_rows %c : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x4x?x16xf32>
  return
}

// -----

func.func @rows_static_length(%c: !bmc.kv_cache<2x16xf32>) {
  // The valid length is known at run time only.
  // expected-error @+1 {{'bmck.kv_rows' op expected the valid rows [batch, 2, ?, 16] of 'f32' (the cache '!bmc.kv_cache<2x16xf32>'), found '!bmck.view<?x2x5x16xf32>'}}
  %v = bmck.kv_rows %c : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x5x16xf32>
  return
}

// -----

func.func @append_head_dim(%c: !bmc.kv_cache<2x16xf32>, %r: !bmck.view<?x2x?x8xf32>) {
  // expected-error @+1 {{'bmck.kv_append' op expected rows [batch, 2, seq, 16] (the cache '!bmc.kv_cache<2x16xf32>'), found '!bmck.view<?x2x?x8xf32>'}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x8xf32>) -> !bmck.view<?x2x?x16xf32>
  return
}

// -----

func.func @append_rank(%c: !bmc.kv_cache<2x16xf32>, %r: !bmck.view<2x16xf32>) {
  // expected-error @+1 {{'bmck.kv_append' op expected rows [batch, 2, seq, 16] (the cache '!bmc.kv_cache<2x16xf32>'), found '!bmck.view<2x16xf32>'}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, !bmck.view<2x16xf32>) -> !bmck.view<?x2x?x16xf32>
  return
}

// -----

func.func @append_narrowing(%c: !bmc.kv_cache<2x16xf32>, %r: !bmck.view<?x2x?x16xbf16>) {
  // An f32 cache takes f32 rows only.
  // expected-error @+1 {{'bmck.kv_append' op expected rows of 'f32' (the cache '!bmc.kv_cache<2x16xf32>'), found '!bmck.view<?x2x?x16xbf16>'}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xbf16>) -> !bmck.view<?x2x?x16xf32>
  return
}

// -----

func.func @append_f16_rows(%c: !bmc.kv_cache<2x16xbf16>, %r: !bmck.view<?x2x?x16xf16>) {
  // expected-error @+1 {{'bmck.kv_append' op expected rows of 'bf16' or f32 (the cache '!bmc.kv_cache<2x16xbf16>'), found '!bmck.view<?x2x?x16xf16>'}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xbf16>, !bmck.view<?x2x?x16xf16>) -> !bmck.view<?x2x?x16xbf16>
  return
}

// -----

func.func @append_present_type(%c: !bmc.kv_cache<2x16xbf16>, %r: !bmck.view<?x2x?x16xf32>) {
  // The present view has the cache's element type, not the rows'.
  // expected-error @+1 {{'bmck.kv_append' op expected the present view [batch, 2, ?, 16] of 'bf16' (the cache '!bmc.kv_cache<2x16xbf16>'), found '!bmck.view<?x2x?x16xf32>'}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xbf16>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  return
}

// -----

func.func @append_batch(%c: !bmc.kv_cache<2x16xf32>, %r: !bmck.view<1x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.kv_append' op expected the present view's batch to be the rows' batch, found 2 and 1}}
  %v = bmck.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<2x2x?x16xf32>
  return
}

// -----

func.func @view_element(%c: !bmc.kv_cache<2x16xf32>) {
  // expected-error @+1 {{bmck.view: expected an integer or float element type, found 'index'}}
  %v = bmck.kv_rows %c : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xindex>
  return
}

// -----

func.func @attention_rank(%q: !bmck.view<6x?x16xf32>, %k: !bmck.view<?x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected 4-D q, k and v ([batch, heads, seq, head_dim]), found '!bmck.view<6x?x16xf32>', '!bmck.view<?x2x?x16xf32>' and '!bmck.view<?x2x?x16xf32>'}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32} : (!bmck.view<6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x6x?x16xf32>
  return
}

// -----

func.func @attention_batch(%q: !bmck.view<2x6x?x16xf32>, %k: !bmck.view<3x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected q, k and v of one batch, found 2, 3 and 3}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32} : (!bmck.view<2x6x?x16xf32>, !bmck.view<3x2x?x16xf32>, !bmck.view<3x2x?x16xf32>) -> !bmck.view<2x6x?x16xf32>
  return
}

// -----

func.func @attention_gqa(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x4x?x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected query heads to be a multiple of KV heads, found 6 query heads and 4 KV heads}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x4x?x16xf32>, !bmck.view<?x4x?x16xf32>) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @attention_kv_types(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x16xbf16>, %v: !bmck.view<?x2x?x16xf16>) {
  // expected-error @+1 {{'bmck.attention' op expected q, k and v of one element type (or f32 q with bf16/f16 k and v), found 'f32', 'bf16' and 'f16'}}
  %o = bmck.attention %q, %k, %v {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x2x?x16xf16>) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @attention_head_dim(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x8xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected q and k head_dim to agree, found 16 and 8}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>) -> !bmck.view<1x6x?x8xf32>
  return
}

// -----

func.func @attention_kv_length(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x5x16xf32>, %v: !bmck.view<?x2x7x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected k and v to have the same length, found 5 and 7}}
  %o = bmck.attention %q, %k, %v {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x5x16xf32>, !bmck.view<?x2x7x16xf32>) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @attention_mask(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x16xf32>, %m: !bmck.view<1x3x?x?xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected a mask of element type 'f32' that broadcasts to the scores [1, 6, ?, ?], found '!bmck.view<1x3x?x?xf32>'}}
  %o = bmck.attention %q, %k, %k mask %m {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<1x3x?x?xf32>) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @attention_result(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op expected the result [1, 6, ?, 16] of 'f32', found '!bmck.view<1x2x?x16xf32>'}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  return
}

// -----

func.func @attention_padded_skip(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x16xf32>, %cap: index) {
  // expected-error @+1 {{'bmck.attention' op expected no padded length with padding = skip (the spare rows are skipped, not read)}}
  %o = bmck.attention %q, %k, %k padded %cap {scale = 0.25 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>, index) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @attention_softcap(%q: !bmck.view<1x6x?x16xf32>, %k: !bmck.view<?x2x?x16xf32>) {
  // expected-error @+1 {{'bmck.attention' op attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found -1}}
  %o = bmck.attention %q, %k, %k {scale = 0.25 : f32, softcap = -1.0 : f32} : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<1x6x?x16xf32>
  return
}

// -----

func.func @matmul_types(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x19xf16>) {
  // expected-error @+1 {{'bmck.matmul' op expected lhs and rhs of one element type, found '!bmck.view<?x70xf32>' and '!bmck.view<70x19xf16>'}}
  %y = bmck.matmul %a, %b : (!bmck.view<?x70xf32>, !bmck.view<70x19xf16>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @matmul_scalar(%a: !bmck.view<f32>, %b: !bmck.view<7xf32>) {
  // expected-error @+1 {{'bmck.matmul' op expected lhs and rhs of rank >= 1, found '!bmck.view<f32>' and '!bmck.view<7xf32>'}}
  %y = bmck.matmul %a, %b : (!bmck.view<f32>, !bmck.view<7xf32>) -> !bmck.view<f32>
  return
}

// -----

func.func @matmul_contraction(%a: !bmck.view<?x70xf32>, %b: !bmck.view<69x19xf32>) {
  // expected-error @+1 {{'bmck.matmul' op expected the contraction dimensions to agree, found 70 (lhs '!bmck.view<?x70xf32>') and 69 (rhs '!bmck.view<69x19xf32>')}}
  %y = bmck.matmul %a, %b : (!bmck.view<?x70xf32>, !bmck.view<69x19xf32>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @matmul_batch(%a: !bmck.view<2x3x5x7xf32>, %b: !bmck.view<4x7x4xf32>) {
  // expected-error @+1 {{'bmck.matmul' op expected batch dimensions that broadcast: }}
  %y = bmck.matmul %a, %b : (!bmck.view<2x3x5x7xf32>, !bmck.view<4x7x4xf32>) -> !bmck.view<2x3x5x4xf32>
  return
}

// -----

func.func @matmul_result(%v: !bmck.view<7xf32>, %b: !bmck.view<7x4xf32>) {
  // expected-error @+1 {{'bmck.matmul' op expected the result [4] of 'f32', found '!bmck.view<1x4xf32>'}}
  %y = bmck.matmul %v, %b : (!bmck.view<7xf32>, !bmck.view<7x4xf32>) -> !bmck.view<1x4xf32>
  return
}

// -----

func.func @matmul_weight_dynamic(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x?xf32>) {
  // expected-error @+1 {{'bmck.matmul' op expected rhs to be a 2-D view of static sizes when it reads the weight "w.up", found '!bmck.view<70x?xf32>'}}
  %y = bmck.matmul %a, %b {weight = "w.up"} : (!bmck.view<?x70xf32>, !bmck.view<70x?xf32>) -> !bmck.view<?x?xf32>
  return
}

// -----

func.func @matmul_weight_empty(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x19xf32>) {
  // expected-error @+1 {{'bmck.matmul' op attribute 'weight': expected a weight's name, found ""}}
  %y = bmck.matmul %a, %b {weight = ""} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @gemm_rank(%a: !bmck.view<2x?x70xf32>, %b: !bmck.view<70x19xf32>) {
  // expected-error @+1 {{'bmck.gemm' op expected 2-D a and b, found '!bmck.view<2x?x70xf32>' and '!bmck.view<70x19xf32>'}}
  %y = bmck.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (!bmck.view<2x?x70xf32>, !bmck.view<70x19xf32>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @gemm_inner(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x19xf32>) {
  // expected-error @+1 {{'bmck.gemm' op expected the inner dimensions to agree, found 70 and 19}}
  %y = bmck.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>) -> !bmck.view<?x70xf32>
  return
}

// -----

func.func @gemm_c(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x19xf32>, %c: !bmck.view<18xf32>) {
  // expected-error @+1 {{'bmck.gemm' op expected c to broadcast to [?, 19], found '!bmck.view<18xf32>'}}
  %y = bmck.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>, !bmck.view<18xf32>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @gemm_c_type(%a: !bmck.view<?x70xf32>, %b: !bmck.view<70x19xf32>, %c: !bmck.view<19xf16>) {
  // expected-error @+1 {{'bmck.gemm' op expected operands of element type 'f32' (as a), found '!bmck.view<19xf16>'}}
  %y = bmck.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false} : (!bmck.view<?x70xf32>, !bmck.view<70x19xf32>, !bmck.view<19xf16>) -> !bmck.view<?x19xf32>
  return
}

// -----

func.func @gemm_result(%a: !bmck.view<70x5xf32>, %b: !bmck.view<70x19xf32>) {
  // expected-error @+1 {{'bmck.gemm' op expected the result [5, 19] of 'f32', found '!bmck.view<70x19xf32>'}}
  %y = bmck.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = false} : (!bmck.view<70x5xf32>, !bmck.view<70x19xf32>) -> !bmck.view<70x19xf32>
  return
}

// -----

func.func @norm_int(%x: !bmck.view<?x5xi32>, %g: !bmck.view<5xi32>) {
  // expected-error @+1 {{'bmck.norm' op expected a float input, found '!bmck.view<?x5xi32>'}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xi32>, !bmck.view<5xi32>) -> !bmck.view<?x5xi32>
  return
}

// -----

func.func @elementwise_args(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected one block argument per input (1), found 2}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>, %b: tensor<?x96xf32>):
    %s = bmc.add %a, %b : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %s : tensor<?x96xf32>
  }
  return
}

// -----

func.func @norm_axis(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>) {
  // expected-error @+1 {{'bmck.norm' op attribute 'axis': expected a value in [0, 2), found 2}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<layer>, axis = 2 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @elementwise_arg_type(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected block argument #0 to be the tensor of input #0's view '!bmck.view<?x96xf32>', found 'tensor<?x96xf16>'}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf16> {
  ^bb0(%a: tensor<?x96xf16>):
    %s = bmc.neg %a : (tensor<?x96xf16>) -> tensor<?x96xf16>
    bmck.yield %s : tensor<?x96xf16>
  }
  return
}

// -----

func.func @norm_rms_axis(%x: !bmck.view<?x3x5xf32>, %g: !bmck.view<3x5xf32>) {
  // expected-error @+1 {{'bmck.norm' op attribute 'axis': expected the last dimension 2 with kind = rms, found 1}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x3x5xf32>, !bmck.view<3x5xf32>) -> !bmck.view<?x3x5xf32>
  return
}

// -----

func.func @elementwise_member(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected only bmc elementwise ops in the body, found 'bmc.softmax'}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>):
    %s = bmc.softmax %a {axis = 1 : i64} : (tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %s : tensor<?x96xf32>
  }
  return
}

// -----

func.func @norm_rms_bias(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>) {
  // expected-error @+1 {{'bmck.norm' op expected no bias with kind = rms, found '!bmck.view<5xf32>'}}
  %y = bmck.norm %x, %g, %g {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @elementwise_uses(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected every op but the last to have one use (its value is not stored), found 'bmc.exp' with 2}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>):
    %e = bmc.exp %a : (tensor<?x96xf32>) -> tensor<?x96xf32>
    %s = bmc.mul %e, %e : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %s : tensor<?x96xf32>
  }
  return
}

// -----

func.func @norm_scale(%x: !bmck.view<?x3x5xf32>, %g: !bmck.view<4xf32>) {
  // expected-error @+1 {{'bmck.norm' op expected a scale of 'f32' broadcastable to the normalised dimensions [3, 5], found '!bmck.view<4xf32>'}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x3x5xf32>, !bmck.view<4xf32>) -> !bmck.view<?x3x5xf32>
  return
}

// -----

func.func @elementwise_yield(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected bmck.yield to return the value of the body's last op}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>):
    %e = bmc.exp %a : (tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %a : tensor<?x96xf32>
  }
  return
}

// -----

func.func @norm_bias_type(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>, %b: !bmck.view<5xf16>) {
  // expected-error @+1 {{'bmck.norm' op expected a bias of 'f32' broadcastable to the normalised dimensions [5], found '!bmck.view<5xf16>'}}
  %y = bmck.norm %x, %g, %b {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>, !bmck.view<5xf16>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @elementwise_empty(%x: !bmck.view<?x96xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected at least one elementwise op in the body}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>):
    bmck.yield %a : tensor<?x96xf32>
  }
  return
}

// -----

func.func @norm_eps(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>) {
  // expected-error @+1 {{'bmck.norm' op attribute 'epsilon': expected a finite value >= 0, found -1}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = -1.0 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @elementwise_result(%x: !bmck.view<?x96xf32>, %b: !bmck.view<7x1xf32>) {
  // expected-error @+1 {{'bmck.elementwise' op expected the result to be the view of the yielded 'tensor<7x96xf32>', found '!bmck.view<?x96xf32>'}}
  %g = bmck.elementwise %x, %b : (!bmck.view<?x96xf32>, !bmck.view<7x1xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>, %c: tensor<7x1xf32>):
    %s = bmc.add %a, %c : (tensor<?x96xf32>, tensor<7x1xf32>) -> tensor<7x96xf32>
    bmck.yield %s : tensor<7x96xf32>
  }
  return
}

// -----

func.func @norm_result(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>) {
  // expected-error @+1 {{'bmck.norm' op expected the result [?, 5] of 'f32', found '!bmck.view<?x5xf16>'}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x5xf16>
  return
}

// -----

func.func @norm_kind(%x: !bmck.view<?x5xf32>, %g: !bmck.view<5xf32>) {
  // expected-error @+2 {{expected ::mlir::bmck::NormKind to be one of: layer, rms}}
  // expected-error @+1 {{failed to parse Bmck_NormKindAttr parameter 'value'}}
  %y = bmck.norm %x, %g {kind = #bmck.norm<group>, axis = 1 : i64, epsilon = 1.0e-5 : f32} : (!bmck.view<?x5xf32>, !bmck.view<5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @softmax_int(%x: !bmck.view<?x5xi64>) {
  // expected-error @+1 {{'bmck.softmax' op expected a float input, found '!bmck.view<?x5xi64>'}}
  %y = bmck.softmax %x {axis = 1 : i64} : (!bmck.view<?x5xi64>) -> !bmck.view<?x5xi64>
  return
}

// -----

func.func @softmax_axis(%x: !bmck.view<?x5xf32>) {
  // expected-error @+1 {{'bmck.softmax' op attribute 'axis': expected a value in [0, 2), found -1}}
  %y = bmck.softmax %x {axis = -1 : i64} : (!bmck.view<?x5xf32>) -> !bmck.view<?x5xf32>
  return
}

// -----

func.func @softmax_result(%x: !bmck.view<?x5xf32>) {
  // expected-error @+1 {{'bmck.softmax' op expected the result [?, 5] of 'f32', found '!bmck.view<?x6xf32>'}}
  %y = bmck.softmax %x {axis = 1 : i64} : (!bmck.view<?x5xf32>) -> !bmck.view<?x6xf32>
  return
}

// -----

func.func @reduce_axes(%x: !bmck.view<?x3x5xf32>) {
  // expected-error @+1 {{'bmck.reduce' op attribute 'axes': expected sorted distinct values in [0, 3), found [2, 0]}}
  %y = bmck.reduce %x {kind = #bmck.reduce<sum>, axes = array<i64: 2, 0>, keepdims = false} : (!bmck.view<?x3x5xf32>) -> !bmck.view<3xf32>
  return
}

// -----

func.func @reduce_range(%x: !bmck.view<?x3x5xf32>) {
  // expected-error @+1 {{'bmck.reduce' op attribute 'axes': expected sorted distinct values in [0, 3), found [3]}}
  %y = bmck.reduce %x {kind = #bmck.reduce<max>, axes = array<i64: 3>, keepdims = true} : (!bmck.view<?x3x5xf32>) -> !bmck.view<?x3x5xf32>
  return
}

// -----

func.func @reduce_keepdims(%x: !bmck.view<?x3x5xf32>) {
  // expected-error @+1 {{'bmck.reduce' op expected the result [?, 3, 1] of 'f32', found '!bmck.view<?x3xf32>'}}
  %y = bmck.reduce %x {kind = #bmck.reduce<mean>, axes = array<i64: 2>, keepdims = true} : (!bmck.view<?x3x5xf32>) -> !bmck.view<?x3xf32>
  return
}

// -----

func.func @reduce_kind(%x: !bmck.view<?x3x5xf32>) {
  // expected-error @+2 {{expected ::mlir::bmck::ReduceKind to be one of: mean, sum, max, min, prod}}
  // expected-error @+1 {{failed to parse Bmck_ReduceKindAttr parameter 'value'}}
  %y = bmck.reduce %x {kind = #bmck.reduce<argmax>, axes = array<i64: 2>, keepdims = true} : (!bmck.view<?x3x5xf32>) -> !bmck.view<?x3x1xf32>
  return
}

// -----

func.func @slice_axes(%x: !bmck.view<?x6x?x16xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'bmck.slice' op attribute 'axes': expected distinct axes in [0, 4), found [3, 3]}}
  %y = bmck.slice %x, %s, %s, %s {axes = array<i64: 3, 3>} : (!bmck.view<?x6x?x16xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> !bmck.view<?x6x?x?xf32>
  return
}

// -----

func.func @slice_bounds(%x: !bmck.view<?x6x?x16xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'bmck.slice' op expected starts, ends and steps of 1 entries (one per axis), found 'tensor<2xi64>'}}
  %y = bmck.slice %x, %s, %s, %s {axes = array<i64: 3>} : (!bmck.view<?x6x?x16xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> !bmck.view<?x6x?x?xf32>
  return
}

// -----

func.func @slice_result(%x: !bmck.view<?x6x?x16xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{'bmck.slice' op expected the result [?, 6, ?, ?] of 'f32', found '!bmck.view<?x5x?x8xf32>'}}
  %y = bmck.slice %x, %s, %s, %s {axes = array<i64: 3>} : (!bmck.view<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x5x?x8xf32>
  return
}

// -----

func.func @split_sum(%x: !bmck.view<?x?x288xf32>) {
  // expected-error @+1 {{'bmck.split' op expected sizes that sum to 288 (dimension 2), found [96, 96, 95] (sum 287)}}
  %a:3 = bmck.split %x {axis = 2 : i64, sizes = array<i64: 96, 96, 95>} : (!bmck.view<?x?x288xf32>) -> (!bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>, !bmck.view<?x?x95xf32>)
  return
}

// -----

func.func @split_count(%x: !bmck.view<?x?x288xf32>) {
  // expected-error @+1 {{'bmck.split' op expected one size per result, found 3 sizes and 2 results}}
  %a:2 = bmck.split %x {axis = 2 : i64, sizes = array<i64: 96, 96, 96>} : (!bmck.view<?x?x288xf32>) -> (!bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>)
  return
}

// -----

func.func @split_axis(%x: !bmck.view<?x?x288xf32>) {
  // expected-error @+1 {{'bmck.split' op attribute 'axis': expected a value in [0, 3), found 3}}
  %a = bmck.split %x {axis = 3 : i64, sizes = array<i64: 288>} : (!bmck.view<?x?x288xf32>) -> (!bmck.view<?x?x288xf32>)
  return
}

// -----

func.func @concat_sizes(%p: !bmck.view<?x2x?x16xf32>, %n: !bmck.view<?x3x1x16xf32>) {
  // expected-error @+1 {{'bmck.concat' op expected input 1 of element type 'f32' and sizes [?, 2, ?, 16] but along axis 2 (as input 0), found '!bmck.view<?x3x1x16xf32>'}}
  %c = bmck.concat %p, %n {axis = 2 : i64} : (!bmck.view<?x2x?x16xf32>, !bmck.view<?x3x1x16xf32>) -> !bmck.view<?x2x?x16xf32>
  return
}

// -----

func.func @concat_result(%a: !bmck.view<3xi64>, %b: !bmck.view<2xi64>) {
  // expected-error @+1 {{'bmck.concat' op expected the result [5] of 'i64', found '!bmck.view<6xi64>'}}
  %c = bmck.concat %a, %b {axis = 0 : i64} : (!bmck.view<3xi64>, !bmck.view<2xi64>) -> !bmck.view<6xi64>
  return
}

// -----

func.func @concat_none() {
  // expected-error @+1 {{'bmck.concat' op expected at least one input, found none}}
  %c = bmck.concat {axis = 0 : i64} : () -> !bmck.view<6xi64>
  return
}

// -----

func.func @gather_indices(%t: !bmck.view<1200x96xf32>, %ids: !bmck.view<?x?xf32>) {
  // expected-error @+1 {{'bmck.gather' op expected i32 or i64 indices, found '!bmck.view<?x?xf32>'}}
  %e = bmck.gather %t, %ids {axis = 0 : i64} : (!bmck.view<1200x96xf32>, !bmck.view<?x?xf32>) -> !bmck.view<?x?x96xf32>
  return
}

// -----

func.func @gather_result(%t: !bmck.view<1200x96xf32>, %ids: !bmck.view<?x?xi64>) {
  // expected-error @+1 {{'bmck.gather' op expected the result [?, ?, 96] of 'f32', found '!bmck.view<?x96xf32>'}}
  %e = bmck.gather %t, %ids {axis = 0 : i64} : (!bmck.view<1200x96xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x96xf32>
  return
}

// -----

func.func @elementwise_isolated(%x: !bmck.view<?x96xf32>, %t: tensor<?x96xf32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %g = bmck.elementwise %x : (!bmck.view<?x96xf32>) -> !bmck.view<?x96xf32> {
  ^bb0(%a: tensor<?x96xf32>):
    // expected-error @+1 {{using value defined outside the region}}
    %s = bmc.add %a, %t : (tensor<?x96xf32>, tensor<?x96xf32>) -> tensor<?x96xf32>
    bmck.yield %s : tensor<?x96xf32>
  }
  return
}

// -----

func.func @squeeze_axes(%x: !bmck.view<?x1x96xf32>) {
  // expected-error @+1 {{'bmck.squeeze' op attribute 'axes': expected distinct axes in [0, 3), found [1, 3]}}
  %y = bmck.squeeze %x {axes = array<i64: 1, 3>} : (!bmck.view<?x1x96xf32>) -> !bmck.view<?xf32>
  return
}

// -----

func.func @squeeze_size(%x: !bmck.view<?x2x96xf32>) {
  // expected-error @+1 {{'bmck.squeeze' op expected dimension 1 of size 1 (a squeezed axis), found '!bmck.view<?x2x96xf32>'}}
  %y = bmck.squeeze %x {axes = array<i64: 1>} : (!bmck.view<?x2x96xf32>) -> !bmck.view<?x96xf32>
  return
}

// -----

func.func @squeeze_result(%x: !bmck.view<?x1x96xf32>) {
  // expected-error @+1 {{'bmck.squeeze' op expected the result [?, 96] of 'f32', found '!bmck.view<?x1x96xf32>'}}
  %y = bmck.squeeze %x {axes = array<i64: 1>} : (!bmck.view<?x1x96xf32>) -> !bmck.view<?x1x96xf32>
  return
}

// -----

func.func @unsqueeze_axes(%x: !bmck.view<?x?xi1>) {
  // expected-error @+1 {{'bmck.unsqueeze' op attribute 'axes': expected distinct axes in [0, 4), found [1, 1]}}
  %y = bmck.unsqueeze %x {axes = array<i64: 1, 1>} : (!bmck.view<?x?xi1>) -> !bmck.view<?x1x1x?xi1>
  return
}

// -----

func.func @unsqueeze_result(%x: !bmck.view<?x7xi1>) {
  // expected-error @+1 {{'bmck.unsqueeze' op expected the result [?, 1, 7] of 'i1', found '!bmck.view<?x7x1xi1>'}}
  %y = bmck.unsqueeze %x {axes = array<i64: 1>} : (!bmck.view<?x7xi1>) -> !bmck.view<?x7x1xi1>
  return
}

// -----

func.func @expand_shape(%x: !bmck.view<?x1xf32>, %s: tensor<?xi64>) {
  // expected-error @+1 {{'bmck.expand' op expected a shape of known length, found 'tensor<?xi64>'}}
  %y = bmck.expand %x, %s : (!bmck.view<?x1xf32>, tensor<?xi64>) -> !bmck.view<?x?xf32>
  return
}

// -----

func.func @expand_result(%x: !bmck.view<3x1xf32>, %s: tensor<3xi64>) {
  // expected-error @+1 {{'bmck.expand' op expected the result [?, 3, ?] of 'f32', found '!bmck.view<2x4x7xf32>'}}
  %y = bmck.expand %x, %s : (!bmck.view<3x1xf32>, tensor<3xi64>) -> !bmck.view<2x4x7xf32>
  return
}

// -----

func.func @transpose_perm(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.transpose' op attribute 'perm': expected a permutation of [0, 3), found [0, 2, 2]}}
  %y = bmck.transpose %x {perm = array<i64: 0, 2, 2>} : (!bmck.view<?x5x7xf32>) -> !bmck.view<?x7x7xf32>
  return
}

// -----

func.func @transpose_rank(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.transpose' op attribute 'perm': expected a permutation of [0, 3), found [1, 0]}}
  %y = bmck.transpose %x {perm = array<i64: 1, 0>} : (!bmck.view<?x5x7xf32>) -> !bmck.view<5x?xf32>
  return
}

// -----

func.func @transpose_result(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.transpose' op expected the result [?, 7, 5] of 'f32', found '!bmck.view<?x5x7xf32>'}}
  %y = bmck.transpose %x {perm = array<i64: 0, 2, 1>} : (!bmck.view<?x5x7xf32>) -> !bmck.view<?x5x7xf32>
  return
}

// -----

func.func @reshape_shape_length(%x: !bmck.view<?x35xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'bmck.reshape' op expected a shape of 3 entries (the result's rank), found 'tensor<2xi64>'}}
  %y = bmck.reshape %x, %s : (!bmck.view<?x35xf32>, tensor<2xi64>) -> !bmck.view<?x5x7xf32>
  return
}

// -----

func.func @reshape_count(%x: !bmck.view<5x7xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'bmck.reshape' op expected a result of 35 elements (the input '!bmck.view<5x7xf32>'), found '!bmck.view<6x6xf32>'}}
  %y = bmck.reshape %x, %s : (!bmck.view<5x7xf32>, tensor<2xi64>) -> !bmck.view<6x6xf32>
  return
}

// -----

func.func @reshape_type(%x: !bmck.view<5x7xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{'bmck.reshape' op expected a result of element type 'f32', found '!bmck.view<35xf16>'}}
  %y = bmck.reshape %x, %s : (!bmck.view<5x7xf32>, tensor<1xi64>) -> !bmck.view<35xf16>
  return
}

// -----

func.func @flatten_axis(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.flatten' op attribute 'axis': expected a value in [0, 3], found 4}}
  %y = bmck.flatten %x {axis = 4 : i64} : (!bmck.view<?x5x7xf32>) -> !bmck.view<?x1xf32>
  return
}

// -----

func.func @flatten_result(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.flatten' op expected the result [?, 35] of 'f32', found '!bmck.view<?x36xf32>'}}
  %y = bmck.flatten %x {axis = 1 : i64} : (!bmck.view<?x5x7xf32>) -> !bmck.view<?x36xf32>
  return
}

// -----

func.func @copy_result(%x: !bmck.view<?x5x7xf32>) {
  // expected-error @+1 {{'bmck.copy' op expected the result [?, 5, 7] of 'f32', found '!bmck.view<?x7x5xf32>'}}
  %y = bmck.copy %x : (!bmck.view<?x5x7xf32>) -> !bmck.view<?x7x5xf32>
  return
}
