// Verifier diagnostics of bmc.attention, the KV cache type and its ops.
// RUN: bmc-opt %s -split-input-file -verify-diagnostics

func.func @heads_not_multiple(%q: tensor<1x6x1x16xf32>, %k: tensor<1x4x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected query heads to be a multiple of KV heads, found 6 query heads and 4 KV heads}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<1x6x1x16xf32>, tensor<1x4x7x16xf32>, tensor<1x4x7x16xf32>) -> tensor<1x6x1x16xf32>
  return
}

// -----

func.func @batch_differs(%q: tensor<2x6x1x16xf32>, %k: tensor<1x2x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected q, k and v of one batch, found 2, 1 and 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<2x6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<2x6x1x16xf32>
  return
}

// -----

func.func @kv_batch_differs(%q: tensor<?x6x1x16xf32>, %k: tensor<3x2x7x16xf32>, %v: tensor<4x2x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected q, k and v of one batch, found ?, 3 and 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %v {scale = 1.0 : f32}
      : (tensor<?x6x1x16xf32>, tensor<3x2x7x16xf32>, tensor<4x2x7x16xf32>) -> tensor<?x6x1x16xf32>
  return
}

// -----

func.func @kv_heads_differ(%q: tensor<1x6x1x16xf32>, %k: tensor<1x2x7x16xf32>, %v: tensor<1x3x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected k and v to have the same heads, found 2 and 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %v {scale = 1.0 : f32}
      : (tensor<1x6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x3x7x16xf32>) -> tensor<1x6x1x16xf32>
  return
}

// -----

func.func @kv_length_differ(%q: tensor<?x6x?x16xf32>, %k: tensor<?x2x7x16xf32>, %v: tensor<?x2x8x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected k and v to have the same length, found 7 and 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %v {scale = 1.0 : f32}
      : (tensor<?x6x?x16xf32>, tensor<?x2x7x16xf32>, tensor<?x2x8x16xf32>) -> tensor<?x6x?x16xf32>
  return
}

// -----

func.func @head_dim_differ(%q: tensor<1x6x1x16xf32>, %k: tensor<1x2x7x8xf32>) {
  // expected-error @+2 {{bmc.attention: expected q and k head_dim to agree, found 16 and 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<1x6x1x16xf32>, tensor<1x2x7x8xf32>, tensor<1x2x7x8xf32>) -> tensor<1x6x1x8xf32>
  return
}

// -----

// (f32 q with bf16/f16 k and v is valid: a reduced-precision KV cache.)
func.func @element_types_differ(%q: tensor<1x6x1x16xf16>, %k: tensor<1x2x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected q, k and v of one element type (or f32 q with bf16/f16 k and v), found f16, f32 and f32}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<1x6x1x16xf16>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<1x6x1x16xf16>
  return
}

// -----

func.func @padding(%q: tensor<1x6x1x16xf32>, %k: tensor<1x2x7x16xf32>) {
  // expected-error @+2 {{expected ::mlir::bmc::KVPadding to be one of: skip, mask}}
  // expected-error @+1 {{failed to parse Bmc_KVPaddingAttr parameter 'value'}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32, padding = #bmc.padding<zero>}
      : (tensor<1x6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<1x6x1x16xf32>
  return
}

// -----

// A string where the enum belongs (the form before padding was an enum).
func.func @padding_string(%q: tensor<1x6x1x16xf32>, %k: tensor<1x2x7x16xf32>) {
  // expected-error @+1 {{attribute 'padding' failed to satisfy constraint: how attention treats the spare rows of a KV buffer}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32, padding = "mask"}
      : (tensor<1x6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<1x6x1x16xf32>
  return
}

// -----

func.func @mask_type(%q: tensor<1x6x1x16xf32>, %k: tensor<1x2x7x16xf32>, %m: tensor<1x1x1x7xi1>) {
  // expected-error @+2 {{bmc.attention: expected a mask of element type f32 that broadcasts to the scores [1,6,1,7], found tensor<1x1x1x7xi1>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k, %m {scale = 1.0 : f32}
      : (tensor<1x6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>, tensor<1x1x1x7xi1>) -> tensor<1x6x1x16xf32>
  return
}

// -----

func.func @mask_shape(%q: tensor<?x6x?x16xf32>, %k: tensor<?x2x7x16xf32>, %m: tensor<?x1x?x5xf32>) {
  // expected-error @+2 {{bmc.attention: expected a mask of element type f32 that broadcasts to the scores [?,6,?,7], found tensor<?x1x?x5xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k, %m {scale = 1.0 : f32}
      : (tensor<?x6x?x16xf32>, tensor<?x2x7x16xf32>, tensor<?x2x7x16xf32>, tensor<?x1x?x5xf32>) -> tensor<?x6x?x16xf32>
  return
}

// -----

func.func @not_4d(%q: tensor<6x1x16xf32>, %k: tensor<1x2x7x16xf32>) {
  // expected-error @+2 {{bmc.attention: expected 4-D q, k, v ([batch, heads, seq, head_dim]), found tensor<6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<6x1x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<1x6x1x16xf32>
  return
}

// -----

func.func @append_wrong_heads(%c: !bmc.kv_cache<2x16xf32>, %r: tensor<1x6x1x16xf32>) {
  // expected-error @+2 {{bmc.kv_append: expected rows [batch, 2, seq, 16] of f32, found tensor<1x6x1x16xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, tensor<1x6x1x16xf32>) -> tensor<1x2x?x16xf32>
  return
}

// -----

func.func @append_wrong_head_dim(%c: !bmc.kv_cache<2x16xf32>, %r: tensor<?x2x?x8xf32>) {
  // expected-error @+2 {{bmc.kv_append: expected rows [batch, 2, seq, 16] of f32, found tensor<?x2x?x8xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x16xf32>
  return
}

// -----

func.func @append_wrong_element_type(%c: !bmc.kv_cache<2x16xf32>, %r: tensor<1x2x1x16xf16>) {
  // expected-error @+2 {{bmc.kv_append: expected rows [batch, 2, seq, 16] of f32, found tensor<1x2x1x16xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, tensor<1x2x1x16xf16>) -> tensor<1x2x?x16xf32>
  return
}

// -----

func.func @append_wrong_rank(%c: !bmc.kv_cache<2x16xf32>, %r: tensor<2x1x16xf32>) {
  // expected-error @+2 {{bmc.kv_append: expected rows [batch, 2, seq, 16] of f32, found tensor<2x1x16xf32>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_append %c, %r : (!bmc.kv_cache<2x16xf32>, tensor<2x1x16xf32>) -> tensor<1x2x?x16xf32>
  return
}

// -----

func.func @past_wrong_heads(%c: !bmc.kv_cache<2x16xf32>) {
  // expected-error @+2 {{'bmc.kv_past' op inferred type(s) 'tensor<?x2x?x16xf32>' are incompatible with return type(s) of operation 'tensor<?x4x?x16xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_past %c : (!bmc.kv_cache<2x16xf32>) -> tensor<?x4x?x16xf32>
  return
}

// -----

func.func @append_not_a_cache(%c: tensor<1x2x8x16xf32>, %r: tensor<1x2x1x16xf32>) {
  // expected-error @+1 {{'bmc.kv_append' op operand #0 must be a KV cache buffer with spare rows: [batch, heads, capacity, head_dim], but got 'tensor<1x2x8x16xf32>'}}
  %0 = bmc.kv_append %c, %r : (tensor<1x2x8x16xf32>, tensor<1x2x1x16xf32>) -> tensor<1x2x?x16xf32>
  return
}

// -----

// expected-error @+1 {{kv_cache: expected positive heads and head_dim, found 0x16}}
func.func @cache_zero_heads(%c: !bmc.kv_cache<0x16xf32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache: expected a float element type, found 'i32'}}
func.func @cache_int(%c: !bmc.kv_cache<2x16xi32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache: expected heads x head_dim x element type (e.g. 2x16xf32), found 3 dimensions}}
func.func @cache_rank(%c: !bmc.kv_cache<1x2x16xf32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache: expected static heads and head_dim, found 2x?}}
func.func @cache_dynamic(%c: !bmc.kv_cache<2x?xf32>) {
  return
}

// -----

func.func @append_f16_rows_to_bf16(%c: !bmc.kv_cache<2x16xbf16>, %rows: tensor<1x2x1x16xf16>) {
  // expected-error @+2 {{bmc.kv_append: expected rows [batch, 2, seq, 16] of bf16, found tensor<1x2x1x16xf16>}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.kv_append %c, %rows : (!bmc.kv_cache<2x16xbf16>, tensor<1x2x1x16xf16>) -> tensor<1x2x?x16xbf16>
  return
}

// -----

func.func @attention_kv_types_differ(%q: tensor<1x4x1x16xf32>, %k: tensor<1x2x7x16xbf16>, %v: tensor<1x2x7x16xf16>) {
  // expected-error @+2 {{bmc.attention: expected q, k and v of one element type (or f32 q with bf16/f16 k and v), found f32, bf16 and f16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = bmc.attention %q, %k, %v {scale = 1.0 : f32}
      : (tensor<1x4x1x16xf32>, tensor<1x2x7x16xbf16>, tensor<1x2x7x16xf16>) -> tensor<1x4x1x16xf32>
  return
}

// -----

func.func @softcap_negative(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x7x8xf32>) {
  // expected-error @+1 {{'bmc.attention' op attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found -2}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32, softcap = -2.0 : f32}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  return
}

// -----

func.func @softcap_inf(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x7x8xf32>) {
  // expected-error @+1 {{'bmc.attention' op attribute 'softcap': expected a finite value >= 0 (0: no soft cap), found INF}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32, softcap = 0x7F800000 : f32}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  return
}

// -----

func.func @smooth_not_bool(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x7x8xf32>) {
  // expected-error @+1 {{'bmc.attention' op attribute 'smooth_softmax' failed to satisfy constraint: bool attribute}}
  %0 = bmc.attention %q, %k, %k {scale = 1.0 : f32, smooth_softmax = 1 : i64}
      : (tensor<1x4x1x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x4x1x8xf32>
  return
}
