// The input of cuda_program_test.cpp: three decoder-layer-shaped functions at
// the kernel level, emitted with whole-model (a `// bmc-program` line each),
// the kernels compiled as host C++ and the programs run by DeviceProgram on
// the CPU device against plain loops. Odd sizes: hidden 27, head_dim 13 x
// heads 1 or 2 (products of K 27 and 13: the GEMV's element-wise path).
//
// @layer_mask: RMS norm, q / k / v projections (f32 weight, a bf16 weight
// behind a Cast, an f32 weight behind a Transpose), K and V appended to bf16
// caches, attention with mask padding over the K cache's capacity and an
// additive mask, the output projection.
func.func @layer_mask(%x: tensor<1x1x?x27xf32> {bmc.name = "x"}, %kc: !bmc.kv_cache<1x13xbf16> {bmc.name = "past_k"},
                      %vc: !bmc.kv_cache<1x13xbf16> {bmc.name = "past_v"}, %mask: tensor<1x1x?x?xf32> {bmc.name = "mask"})
    -> (tensor<1x1x?x27xf32> {bmc.name = "y"}) {
  %g = bmc.weight "ln" : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %xv = bmck.to_view %x : tensor<1x1x?x27xf32> -> !bmck.view<1x1x?x27xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x1x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x1x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %wk = bmc.weight "wk" : tensor<27x13xbf16>
  %wkc = bmc.cast %wk {to = f32} : (tensor<27x13xbf16>) -> tensor<27x13xf32>
  %wkv = bmck.to_view %wkc : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %wv = bmc.weight "wv" : tensor<13x27xf32>
  %wvt = bmc.transpose %wv {perm = array<i64: 1, 0>} : (tensor<13x27xf32>) -> tensor<27x13xf32>
  %wvv = bmck.to_view %wvt : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<1x13xbf16>, !bmck.view<1x1x?x13xf32>) -> !bmck.view<1x1x?x13xbf16>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<1x13xbf16>, !bmck.view<1x1x?x13xf32>) -> !bmck.view<1x1x?x13xbf16>
  %cap = bmc.kv_capacity %kc : !bmc.kv_cache<1x13xbf16>
  %mv = bmck.to_view %mask : tensor<1x1x?x?xf32> -> !bmck.view<1x1x?x?xf32>
  %a = bmck.attention %q, %ka, %va mask %mv padded %cap {scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x1x?x13xf32>, !bmck.view<1x1x?x13xbf16>, !bmck.view<1x1x?x13xbf16>, !bmck.view<1x1x?x?xf32>, index) -> !bmck.view<1x1x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %a, %wov {weight = "wo"} : (!bmck.view<1x1x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x1x?x27xf32>
  %y = bmck.to_tensor %o : !bmck.view<1x1x?x27xf32> -> tensor<1x1x?x27xf32>
  return %y : tensor<1x1x?x27xf32>
}

// @layer_skip: 2 heads (x given per head), f32 caches, attention without a
// mask over the valid rows only (skip), a softmax over the attention's rows,
// the output projection; the norm is a second output (live to the end).
func.func @layer_skip(%x: tensor<1x2x?x27xf32> {bmc.name = "x"}, %kc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_k"},
                      %vc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_v"})
    -> (tensor<1x2x?x27xf32> {bmc.name = "y"}, tensor<1x2x?x27xf32> {bmc.name = "normed"}) {
  %g = bmc.weight "ln" : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %xv = bmck.to_view %x : tensor<1x2x?x27xf32> -> !bmck.view<1x2x?x27xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x2x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x2x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wk = bmc.weight "wk2" : tensor<27x13xf32>
  %wkv = bmck.to_view %wk : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk2"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wv = bmc.weight "wv2" : tensor<27x13xf32>
  %wvv = bmck.to_view %wv : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv2"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %a = bmck.attention %q, %ka, %va {scale = 0.25 : f32}
      : (!bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %s = bmck.softmax %a {axis = 3 : i64} : (!bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %s, %wov {weight = "wo"} : (!bmck.view<1x2x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x2x?x27xf32>
  %y = bmck.to_tensor %o : !bmck.view<1x2x?x27xf32> -> tensor<1x2x?x27xf32>
  %nt = bmck.to_tensor %n : !bmck.view<1x2x?x27xf32> -> tensor<1x2x?x27xf32>
  return %y, %nt : tensor<1x2x?x27xf32>, tensor<1x2x?x27xf32>
}

// @scaled: @layer_mask's layer with the norm's scale a constant (0.5 + i / 32,
// uploaded by the program) and `padded` a host computation over an index
// input: max(mask columns, capacity - extra_rows).
func.func @scaled(%x: tensor<1x1x?x27xf32> {bmc.name = "x"}, %kc: !bmc.kv_cache<1x13xbf16> {bmc.name = "past_k"},
                  %vc: !bmc.kv_cache<1x13xbf16> {bmc.name = "past_v"}, %mask: tensor<1x1x?x?xf32> {bmc.name = "mask"},
                  %extra: index {bmc.name = "extra_rows"}) -> (tensor<1x1x?x27xf32> {bmc.name = "y"}) {
  %c3 = arith.constant 3 : index
  %g = arith.constant dense<[0.5, 0.53125, 0.5625, 0.59375, 0.625, 0.65625, 0.6875, 0.71875, 0.75, 0.78125, 0.8125, 0.84375, 0.875, 0.90625, 0.9375, 0.96875, 1.0, 1.03125, 1.0625, 1.09375, 1.125, 1.15625, 1.1875, 1.21875, 1.25, 1.28125, 1.3125]> : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %xv = bmck.to_view %x : tensor<1x1x?x27xf32> -> !bmck.view<1x1x?x27xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x1x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x1x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %wk = bmc.weight "wk" : tensor<27x13xbf16>
  %wkc = bmc.cast %wk {to = f32} : (tensor<27x13xbf16>) -> tensor<27x13xf32>
  %wkv = bmck.to_view %wkc : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %wv = bmc.weight "wv" : tensor<13x27xf32>
  %wvt = bmc.transpose %wv {perm = array<i64: 1, 0>} : (tensor<13x27xf32>) -> tensor<27x13xf32>
  %wvv = bmck.to_view %wvt : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x1x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<1x13xbf16>, !bmck.view<1x1x?x13xf32>) -> !bmck.view<1x1x?x13xbf16>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<1x13xbf16>, !bmck.view<1x1x?x13xf32>) -> !bmck.view<1x1x?x13xbf16>
  %cap = bmc.kv_capacity %kc : !bmc.kv_cache<1x13xbf16>
  %cols = tensor.dim %mask, %c3 : tensor<1x1x?x?xf32>
  %less = arith.subi %cap, %extra : index
  %padded = arith.maxsi %cols, %less : index
  %mv = bmck.to_view %mask : tensor<1x1x?x?xf32> -> !bmck.view<1x1x?x?xf32>
  %a = bmck.attention %q, %ka, %va mask %mv padded %padded {scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x1x?x13xf32>, !bmck.view<1x1x?x13xbf16>, !bmck.view<1x1x?x13xbf16>, !bmck.view<1x1x?x?xf32>, index) -> !bmck.view<1x1x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %a, %wov {weight = "wo"} : (!bmck.view<1x1x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x1x?x27xf32>
  %y = bmck.to_tensor %o : !bmck.view<1x1x?x27xf32> -> tensor<1x1x?x27xf32>
  return %y : tensor<1x1x?x27xf32>
}
