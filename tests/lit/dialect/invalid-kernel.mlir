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
