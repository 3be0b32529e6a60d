// The input of device_generation_test.cpp: three decoder-shaped functions at the
// kernel level, emitted with whole-model (a `// bmc-program` line each), run
// by runtime/device/DeviceGeneration (prefill, then greedy decode steps) in
// the host emulation against plain loops. The model's interface as a
// session sees it: input_ids, attention_mask and position_ids ([1, seq] /
// [1, total] i64; @decoder_lengths: the lengths below instead), one in-place K and V cache (bmc.kv_present: the present
// output the BMC pass replaced), logits [1, seq, vocab]. Odd sizes: vocab 37,
// hidden 27, 2 KV heads of head_dim 13 (the embedding broadcast to both
// heads plus a bias per head, so the heads differ and a growth moves a
// block), positions up to 64 (the key positions are a slice of a constant
// table; @decoder_lengths makes its query positions with bmck.range).
//
// embed[input_ids] + pos_embed[position_ids] -> + head_bias -> rms norm -> q, k, v (per head) -> K/V appended -> attention with the
// causal mask where(k_pos <= q_pos and attention_mask != 0, 0, -inf) ->
// output projection per head, the heads and the embedding summed -> lm_head.
//
// @decoder_mask: bf16 caches, attention with padding = mask over the K
// cache's capacity. @decoder_skip: the same with f32 caches and padding =
// skip (the valid rows only). @decoder_lengths: @decoder_skip's model with the
// lengths onnxruntime-genai and opset-24 static-cache graphs take instead of
// attention_mask and position_ids (GroupQueryAttention's seqlens_k i32 [1] and
// total_sequence_length i32 [], a static cache's write_indices and
// nonpad_kv_seqlen i64 [1]): the positions are seqlens_k + 1 - seq + i (as
// GroupQueryAttention's import computes them), the mask's query positions
// write_indices + i, and a key is masked unless it is below nonpad_kv_seqlen and
// total_sequence_length too; fed as the CPU session feeds them, the same
// logits as @decoder_skip. Its write_indices pass a device check (bmc.check_equal
// against the cache's valid rows) that a decode step fed otherwise fails.
func.func @decoder_mask(%ids: tensor<1x?xi64> {bmc.name = "input_ids"}, %am: tensor<1x?xi64> {bmc.name = "attention_mask"},
                        %pos: tensor<1x?xi64> {bmc.name = "position_ids"},
                        %kc: !bmc.kv_cache<2x13xbf16> {bmc.name = "past_key_values.0.key", bmc.kv_present = "present.0.key"},
                        %vc: !bmc.kv_cache<2x13xbf16> {bmc.name = "past_key_values.0.value", bmc.kv_present = "present.0.value"})
    -> (tensor<1x?x37xf32> {bmc.name = "logits"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c27 = arith.constant 27 : index
  %s = tensor.dim %ids, %c1 : tensor<1x?xi64>
  %total = tensor.dim %am, %c1 : tensor<1x?xi64>
  %emb = bmc.weight "embed" : tensor<37x27xf32>
  %embv = bmck.to_view %emb : tensor<37x27xf32> -> !bmck.view<37x27xf32>
  %idv = bmck.to_view %ids : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %et = bmck.gather %embv, %idv {axis = 0 : i64} : (!bmck.view<37x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %pe = bmc.weight "pos_embed" : tensor<64x27xf32>
  %pev = bmck.to_view %pe : tensor<64x27xf32> -> !bmck.view<64x27xf32>
  %posv = bmck.to_view %pos : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %ep = bmck.gather %pev, %posv {axis = 0 : i64} : (!bmck.view<64x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %e = bmck.elementwise %et, %ep : (!bmck.view<1x?x27xf32>, !bmck.view<1x?x27xf32>) -> !bmck.view<1x?x27xf32> {
  ^bb0(%tt: tensor<1x?x27xf32>, %pp: tensor<1x?x27xf32>):
    %te = bmc.add %tt, %pp : (tensor<1x?x27xf32>, tensor<1x?x27xf32>) -> tensor<1x?x27xf32>
    bmck.yield %te : tensor<1x?x27xf32>
  }
  %e4 = bmck.unsqueeze %e {axes = array<i64: 1>} : (!bmck.view<1x?x27xf32>) -> !bmck.view<1x1x?x27xf32>
  %shape = tensor.from_elements %c1, %c2, %s, %c27 : tensor<4xindex>
  %x = bmck.expand %e4, %shape : (!bmck.view<1x1x?x27xf32>, tensor<4xindex>) -> !bmck.view<1x2x?x27xf32>
  %hb = bmc.weight "head_bias" : tensor<2x1x27xf32>
  %hbv = bmck.to_view %hb : tensor<2x1x27xf32> -> !bmck.view<2x1x27xf32>
  %xb = bmck.elementwise %x, %hbv : (!bmck.view<1x2x?x27xf32>, !bmck.view<2x1x27xf32>) -> !bmck.view<1x2x?x27xf32> {
  ^bb0(%xx: tensor<1x2x?x27xf32>, %bb: tensor<2x1x27xf32>):
    %sum = bmc.add %xx, %bb : (tensor<1x2x?x27xf32>, tensor<2x1x27xf32>) -> tensor<1x2x?x27xf32>
    bmck.yield %sum : tensor<1x2x?x27xf32>
  }
  %g = bmc.weight "ln" : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %n = bmck.norm %xb, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x2x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x2x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wk = bmc.weight "wk" : tensor<27x13xf32>
  %wkv = bmck.to_view %wk : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wv = bmc.weight "wv" : tensor<27x13xf32>
  %wvv = bmck.to_view %wv : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<2x13xbf16>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xbf16>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<2x13xbf16>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xbf16>
  %ar = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63]> : tensor<64xi64>
  %arv = bmck.to_view %ar : tensor<64xi64> -> !bmck.view<64xi64>
  %st = tensor.from_elements %c0 : tensor<1xindex>
  %en = tensor.from_elements %total : tensor<1xindex>
  %sp = tensor.from_elements %c1 : tensor<1xindex>
  %kpos = bmck.slice %arv, %st, %en, %sp {axes = array<i64: 0>}
      : (!bmck.view<64xi64>, tensor<1xindex>, tensor<1xindex>, tensor<1xindex>) -> !bmck.view<?xi64>
  %qpos = bmck.unsqueeze %posv {axes = array<i64: 2>} : (!bmck.view<1x?xi64>) -> !bmck.view<1x?x1xi64>
  %amv = bmck.to_view %am : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %zv = bmck.to_view %zero : tensor<f32> -> !bmck.view<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %nv = bmck.to_view %ninf : tensor<f32> -> !bmck.view<f32>
  %m3 = bmck.elementwise %kpos, %qpos, %amv, %zv, %nv : (!bmck.view<?xi64>, !bmck.view<1x?x1xi64>, !bmck.view<1x?xi64>, !bmck.view<f32>, !bmck.view<f32>) -> !bmck.view<1x?x?xf32> {
  ^bb0(%kk: tensor<?xi64>, %qq: tensor<1x?x1xi64>, %mm: tensor<1x?xi64>, %z: tensor<f32>, %ni: tensor<f32>):
    %le = bmc.less_equal %kk, %qq : (tensor<?xi64>, tensor<1x?x1xi64>) -> tensor<1x?x?xi1>
    %mb = bmc.cast %mm {to = i1} : (tensor<1x?xi64>) -> tensor<1x?xi1>
    %and = bmc.and %le, %mb : (tensor<1x?x?xi1>, tensor<1x?xi1>) -> tensor<1x?x?xi1>
    %w = bmc.where %and, %z, %ni : (tensor<1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x?x?xf32>
    bmck.yield %w : tensor<1x?x?xf32>
  }
  %mask = bmck.unsqueeze %m3 {axes = array<i64: 1>} : (!bmck.view<1x?x?xf32>) -> !bmck.view<1x1x?x?xf32>
  %cap = bmc.kv_capacity %kc : !bmc.kv_cache<2x13xbf16>
  %a = bmck.attention %q, %ka, %va mask %mask padded %cap {scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xbf16>, !bmck.view<1x2x?x13xbf16>, !bmck.view<1x1x?x?xf32>, index) -> !bmck.view<1x2x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %a, %wov {weight = "wo"} : (!bmck.view<1x2x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x2x?x27xf32>
  %o0, %o1 = bmck.split %o {axis = 1 : i64, sizes = array<i64: 1, 1>}
      : (!bmck.view<1x2x?x27xf32>) -> (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>)
  %h = bmck.elementwise %e4, %o0, %o1 : (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>) -> !bmck.view<1x1x?x27xf32> {
  ^bb0(%p: tensor<1x1x?x27xf32>, %r0: tensor<1x1x?x27xf32>, %r1: tensor<1x1x?x27xf32>):
    %s0 = bmc.add %p, %r0 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    %s1 = bmc.add %s0, %r1 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    bmck.yield %s1 : tensor<1x1x?x27xf32>
  }
  %wl = bmc.weight "lm_head" : tensor<27x37xf32>
  %wlv = bmck.to_view %wl : tensor<27x37xf32> -> !bmck.view<27x37xf32>
  %l4 = bmck.matmul %h, %wlv {weight = "lm_head"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x37xf32>) -> !bmck.view<1x1x?x37xf32>
  %l = bmck.squeeze %l4 {axes = array<i64: 1>} : (!bmck.view<1x1x?x37xf32>) -> !bmck.view<1x?x37xf32>
  %lt = bmck.to_tensor %l : !bmck.view<1x?x37xf32> -> tensor<1x?x37xf32>
  return %lt : tensor<1x?x37xf32>
}

func.func @decoder_skip(%ids: tensor<1x?xi64> {bmc.name = "input_ids"}, %am: tensor<1x?xi64> {bmc.name = "attention_mask"},
                        %pos: tensor<1x?xi64> {bmc.name = "position_ids"},
                        %kc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_key_values.0.key", bmc.kv_present = "present.0.key"},
                        %vc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_key_values.0.value", bmc.kv_present = "present.0.value"})
    -> (tensor<1x?x37xf32> {bmc.name = "logits"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c27 = arith.constant 27 : index
  %s = tensor.dim %ids, %c1 : tensor<1x?xi64>
  %total = tensor.dim %am, %c1 : tensor<1x?xi64>
  %emb = bmc.weight "embed" : tensor<37x27xf32>
  %embv = bmck.to_view %emb : tensor<37x27xf32> -> !bmck.view<37x27xf32>
  %idv = bmck.to_view %ids : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %et = bmck.gather %embv, %idv {axis = 0 : i64} : (!bmck.view<37x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %pe = bmc.weight "pos_embed" : tensor<64x27xf32>
  %pev = bmck.to_view %pe : tensor<64x27xf32> -> !bmck.view<64x27xf32>
  %posv = bmck.to_view %pos : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %ep = bmck.gather %pev, %posv {axis = 0 : i64} : (!bmck.view<64x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %e = bmck.elementwise %et, %ep : (!bmck.view<1x?x27xf32>, !bmck.view<1x?x27xf32>) -> !bmck.view<1x?x27xf32> {
  ^bb0(%tt: tensor<1x?x27xf32>, %pp: tensor<1x?x27xf32>):
    %te = bmc.add %tt, %pp : (tensor<1x?x27xf32>, tensor<1x?x27xf32>) -> tensor<1x?x27xf32>
    bmck.yield %te : tensor<1x?x27xf32>
  }
  %e4 = bmck.unsqueeze %e {axes = array<i64: 1>} : (!bmck.view<1x?x27xf32>) -> !bmck.view<1x1x?x27xf32>
  %shape = tensor.from_elements %c1, %c2, %s, %c27 : tensor<4xindex>
  %x = bmck.expand %e4, %shape : (!bmck.view<1x1x?x27xf32>, tensor<4xindex>) -> !bmck.view<1x2x?x27xf32>
  %hb = bmc.weight "head_bias" : tensor<2x1x27xf32>
  %hbv = bmck.to_view %hb : tensor<2x1x27xf32> -> !bmck.view<2x1x27xf32>
  %xb = bmck.elementwise %x, %hbv : (!bmck.view<1x2x?x27xf32>, !bmck.view<2x1x27xf32>) -> !bmck.view<1x2x?x27xf32> {
  ^bb0(%xx: tensor<1x2x?x27xf32>, %bb: tensor<2x1x27xf32>):
    %sum = bmc.add %xx, %bb : (tensor<1x2x?x27xf32>, tensor<2x1x27xf32>) -> tensor<1x2x?x27xf32>
    bmck.yield %sum : tensor<1x2x?x27xf32>
  }
  %g = bmc.weight "ln" : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %n = bmck.norm %xb, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x2x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x2x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wk = bmc.weight "wk" : tensor<27x13xf32>
  %wkv = bmck.to_view %wk : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wv = bmc.weight "wv" : tensor<27x13xf32>
  %wvv = bmck.to_view %wv : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ar = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63]> : tensor<64xi64>
  %arv = bmck.to_view %ar : tensor<64xi64> -> !bmck.view<64xi64>
  %st = tensor.from_elements %c0 : tensor<1xindex>
  %en = tensor.from_elements %total : tensor<1xindex>
  %sp = tensor.from_elements %c1 : tensor<1xindex>
  %kpos = bmck.slice %arv, %st, %en, %sp {axes = array<i64: 0>}
      : (!bmck.view<64xi64>, tensor<1xindex>, tensor<1xindex>, tensor<1xindex>) -> !bmck.view<?xi64>
  %qpos = bmck.unsqueeze %posv {axes = array<i64: 2>} : (!bmck.view<1x?xi64>) -> !bmck.view<1x?x1xi64>
  %amv = bmck.to_view %am : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %zv = bmck.to_view %zero : tensor<f32> -> !bmck.view<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %nv = bmck.to_view %ninf : tensor<f32> -> !bmck.view<f32>
  %m3 = bmck.elementwise %kpos, %qpos, %amv, %zv, %nv : (!bmck.view<?xi64>, !bmck.view<1x?x1xi64>, !bmck.view<1x?xi64>, !bmck.view<f32>, !bmck.view<f32>) -> !bmck.view<1x?x?xf32> {
  ^bb0(%kk: tensor<?xi64>, %qq: tensor<1x?x1xi64>, %mm: tensor<1x?xi64>, %z: tensor<f32>, %ni: tensor<f32>):
    %le = bmc.less_equal %kk, %qq : (tensor<?xi64>, tensor<1x?x1xi64>) -> tensor<1x?x?xi1>
    %mb = bmc.cast %mm {to = i1} : (tensor<1x?xi64>) -> tensor<1x?xi1>
    %and = bmc.and %le, %mb : (tensor<1x?x?xi1>, tensor<1x?xi1>) -> tensor<1x?x?xi1>
    %w = bmc.where %and, %z, %ni : (tensor<1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x?x?xf32>
    bmck.yield %w : tensor<1x?x?xf32>
  }
  %mask = bmck.unsqueeze %m3 {axes = array<i64: 1>} : (!bmck.view<1x?x?xf32>) -> !bmck.view<1x1x?x?xf32>
  %a = bmck.attention %q, %ka, %va mask %mask {scale = 0.25 : f32, padding = #bmc.padding<skip>}
      : (!bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>, !bmck.view<1x1x?x?xf32>) -> !bmck.view<1x2x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %a, %wov {weight = "wo"} : (!bmck.view<1x2x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x2x?x27xf32>
  %o0, %o1 = bmck.split %o {axis = 1 : i64, sizes = array<i64: 1, 1>}
      : (!bmck.view<1x2x?x27xf32>) -> (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>)
  %h = bmck.elementwise %e4, %o0, %o1 : (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>) -> !bmck.view<1x1x?x27xf32> {
  ^bb0(%p: tensor<1x1x?x27xf32>, %r0: tensor<1x1x?x27xf32>, %r1: tensor<1x1x?x27xf32>):
    %s0 = bmc.add %p, %r0 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    %s1 = bmc.add %s0, %r1 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    bmck.yield %s1 : tensor<1x1x?x27xf32>
  }
  %wl = bmc.weight "lm_head" : tensor<27x37xf32>
  %wlv = bmck.to_view %wl : tensor<27x37xf32> -> !bmck.view<27x37xf32>
  %l4 = bmck.matmul %h, %wlv {weight = "lm_head"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x37xf32>) -> !bmck.view<1x1x?x37xf32>
  %l = bmck.squeeze %l4 {axes = array<i64: 1>} : (!bmck.view<1x1x?x37xf32>) -> !bmck.view<1x?x37xf32>
  %lt = bmck.to_tensor %l : !bmck.view<1x?x37xf32> -> tensor<1x?x37xf32>
  return %lt : tensor<1x?x37xf32>
}

func.func @decoder_lengths(%ids: tensor<1x?xi64> {bmc.name = "input_ids"},
                           %sk: tensor<1xi32> {bmc.name = "seqlens_k", bmc.role = "seqlens_k"},
                           %tsl: tensor<i32> {bmc.name = "total_sequence_length", bmc.role = "total_sequence_length"},
                           %wi: tensor<1xi64> {bmc.name = "write_indices", bmc.role = "write_indices"},
                           %np: tensor<1xi64> {bmc.name = "nonpad_kv_seqlen", bmc.role = "nonpad_kv_seqlen"},
                           %kc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_key_values.0.key", bmc.kv_present = "present.0.key"},
                           %vc: !bmc.kv_cache<2x13xf32> {bmc.name = "past_key_values.0.value", bmc.kv_present = "present.0.value"})
    -> (tensor<1x?x37xf32> {bmc.name = "logits"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c27 = arith.constant 27 : index
  %s = tensor.dim %ids, %c1 : tensor<1x?xi64>
  %pastv = bmck.kv_rows %kc : !bmc.kv_cache<2x13xf32> -> !bmck.view<1x2x?x13xf32>
  %pastt = bmck.to_tensor %pastv : !bmck.view<1x2x?x13xf32> -> tensor<1x2x?x13xf32>
  %past = tensor.dim %pastt, %c2 : tensor<1x2x?x13xf32>
  %total = arith.addi %past, %s : index
  %s64 = arith.index_cast %s : index to i64
  %sfe = tensor.from_elements %s64 : tensor<i64>
  %zero64 = arith.constant dense<0> : tensor<i64>
  %one64 = arith.constant dense<1> : tensor<i64>
  %steps = bmck.range %zero64, %sfe, %one64 : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %skv = bmck.to_view %sk : tensor<1xi32> -> !bmck.view<1xi32>
  %sk2 = bmck.unsqueeze %skv {axes = array<i64: 1>} : (!bmck.view<1xi32>) -> !bmck.view<1x1xi32>
  %sv = bmck.to_view %sfe : tensor<i64> -> !bmck.view<i64>
  %onev = bmck.to_view %one64 : tensor<i64> -> !bmck.view<i64>
  %posv = bmck.elementwise %sk2, %onev, %sv, %steps : (!bmck.view<1x1xi32>, !bmck.view<i64>, !bmck.view<i64>, !bmck.view<?xi64>) -> !bmck.view<1x?xi64> {
  ^bb0(%a0: tensor<1x1xi32>, %a1: tensor<i64>, %a2: tensor<i64>, %a3: tensor<?xi64>):
    %k64 = bmc.cast %a0 {to = i64} : (tensor<1x1xi32>) -> tensor<1x1xi64>
    %p1 = bmc.add %k64, %a1 : (tensor<1x1xi64>, tensor<i64>) -> tensor<1x1xi64>
    %p2 = bmc.sub %p1, %a2 : (tensor<1x1xi64>, tensor<i64>) -> tensor<1x1xi64>
    %p3 = bmc.add %p2, %a3 : (tensor<1x1xi64>, tensor<?xi64>) -> tensor<1x?xi64>
    bmck.yield %p3 : tensor<1x?xi64>
  }
  // The static cache's guard (a device check, as the genai GQA import's
  // seqlens_k one): write_indices must be the rows the cache holds.
  %past64 = arith.index_cast %past : index to i64
  %pastfe = tensor.from_elements %past64 : tensor<i64>
  %wic = bmc.check_equal %wi, %pastfe {message = "Guard 'w0': write_indices must be the cache's valid rows"}
      : (tensor<1xi64>, tensor<i64>) -> tensor<1xi64>
  %wiv = bmck.to_view %wic : tensor<1xi64> -> !bmck.view<1xi64>
  %wi2 = bmck.unsqueeze %wiv {axes = array<i64: 1>} : (!bmck.view<1xi64>) -> !bmck.view<1x1xi64>
  %qp = bmck.elementwise %wi2, %steps : (!bmck.view<1x1xi64>, !bmck.view<?xi64>) -> !bmck.view<1x?xi64> {
  ^bb0(%b0: tensor<1x1xi64>, %b1: tensor<?xi64>):
    %q0 = bmc.add %b0, %b1 : (tensor<1x1xi64>, tensor<?xi64>) -> tensor<1x?xi64>
    bmck.yield %q0 : tensor<1x?xi64>
  }
  %emb = bmc.weight "embed" : tensor<37x27xf32>
  %embv = bmck.to_view %emb : tensor<37x27xf32> -> !bmck.view<37x27xf32>
  %idv = bmck.to_view %ids : tensor<1x?xi64> -> !bmck.view<1x?xi64>
  %et = bmck.gather %embv, %idv {axis = 0 : i64} : (!bmck.view<37x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %pe = bmc.weight "pos_embed" : tensor<64x27xf32>
  %pev = bmck.to_view %pe : tensor<64x27xf32> -> !bmck.view<64x27xf32>
  %ep = bmck.gather %pev, %posv {axis = 0 : i64} : (!bmck.view<64x27xf32>, !bmck.view<1x?xi64>) -> !bmck.view<1x?x27xf32>
  %e = bmck.elementwise %et, %ep : (!bmck.view<1x?x27xf32>, !bmck.view<1x?x27xf32>) -> !bmck.view<1x?x27xf32> {
  ^bb0(%tt: tensor<1x?x27xf32>, %pp: tensor<1x?x27xf32>):
    %te = bmc.add %tt, %pp : (tensor<1x?x27xf32>, tensor<1x?x27xf32>) -> tensor<1x?x27xf32>
    bmck.yield %te : tensor<1x?x27xf32>
  }
  %e4 = bmck.unsqueeze %e {axes = array<i64: 1>} : (!bmck.view<1x?x27xf32>) -> !bmck.view<1x1x?x27xf32>
  %shape = tensor.from_elements %c1, %c2, %s, %c27 : tensor<4xindex>
  %x = bmck.expand %e4, %shape : (!bmck.view<1x1x?x27xf32>, tensor<4xindex>) -> !bmck.view<1x2x?x27xf32>
  %hb = bmc.weight "head_bias" : tensor<2x1x27xf32>
  %hbv = bmck.to_view %hb : tensor<2x1x27xf32> -> !bmck.view<2x1x27xf32>
  %xb = bmck.elementwise %x, %hbv : (!bmck.view<1x2x?x27xf32>, !bmck.view<2x1x27xf32>) -> !bmck.view<1x2x?x27xf32> {
  ^bb0(%xx: tensor<1x2x?x27xf32>, %bb: tensor<2x1x27xf32>):
    %sum = bmc.add %xx, %bb : (tensor<1x2x?x27xf32>, tensor<2x1x27xf32>) -> tensor<1x2x?x27xf32>
    bmck.yield %sum : tensor<1x2x?x27xf32>
  }
  %g = bmc.weight "ln" : tensor<27xf32>
  %gv = bmck.to_view %g : tensor<27xf32> -> !bmck.view<27xf32>
  %n = bmck.norm %xb, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x2x?x27xf32>, !bmck.view<27xf32>) -> !bmck.view<1x2x?x27xf32>
  %wq = bmc.weight "wq" : tensor<27x13xf32>
  %wqv = bmck.to_view %wq : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %q = bmck.matmul %n, %wqv {weight = "wq"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wk = bmc.weight "wk" : tensor<27x13xf32>
  %wkv = bmck.to_view %wk : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %k = bmck.matmul %n, %wkv {weight = "wk"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %wv = bmc.weight "wv" : tensor<27x13xf32>
  %wvv = bmck.to_view %wv : tensor<27x13xf32> -> !bmck.view<27x13xf32>
  %v = bmck.matmul %n, %wvv {weight = "wv"} : (!bmck.view<1x2x?x27xf32>, !bmck.view<27x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %va = bmck.kv_append %vc, %v : (!bmc.kv_cache<2x13xf32>, !bmck.view<1x2x?x13xf32>) -> !bmck.view<1x2x?x13xf32>
  %ar = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63]> : tensor<64xi64>
  %arv = bmck.to_view %ar : tensor<64xi64> -> !bmck.view<64xi64>
  %st = tensor.from_elements %c0 : tensor<1xindex>
  %en = tensor.from_elements %total : tensor<1xindex>
  %sp = tensor.from_elements %c1 : tensor<1xindex>
  %kpos = bmck.slice %arv, %st, %en, %sp {axes = array<i64: 0>}
      : (!bmck.view<64xi64>, tensor<1xindex>, tensor<1xindex>, tensor<1xindex>) -> !bmck.view<?xi64>
  %qpos = bmck.unsqueeze %qp {axes = array<i64: 2>} : (!bmck.view<1x?xi64>) -> !bmck.view<1x?x1xi64>
  %npv = bmck.to_view %np : tensor<1xi64> -> !bmck.view<1xi64>
  %tslv = bmck.to_view %tsl : tensor<i32> -> !bmck.view<i32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %zv = bmck.to_view %zero : tensor<f32> -> !bmck.view<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %nv = bmck.to_view %ninf : tensor<f32> -> !bmck.view<f32>
  %m3 = bmck.elementwise %kpos, %qpos, %npv, %tslv, %zv, %nv : (!bmck.view<?xi64>, !bmck.view<1x?x1xi64>, !bmck.view<1xi64>, !bmck.view<i32>, !bmck.view<f32>, !bmck.view<f32>) -> !bmck.view<1x?x?xf32> {
  ^bb0(%kk: tensor<?xi64>, %qq: tensor<1x?x1xi64>, %nn: tensor<1xi64>, %tt32: tensor<i32>, %z: tensor<f32>, %ni: tensor<f32>):
    %le = bmc.less_equal %kk, %qq : (tensor<?xi64>, tensor<1x?x1xi64>) -> tensor<1x?x?xi1>
    %lt1 = bmc.less %kk, %nn : (tensor<?xi64>, tensor<1xi64>) -> tensor<?xi1>
    %tt = bmc.cast %tt32 {to = i64} : (tensor<i32>) -> tensor<i64>
    %lt2 = bmc.less %kk, %tt : (tensor<?xi64>, tensor<i64>) -> tensor<?xi1>
    %mb = bmc.and %lt1, %lt2 : (tensor<?xi1>, tensor<?xi1>) -> tensor<?xi1>
    %and = bmc.and %le, %mb : (tensor<1x?x?xi1>, tensor<?xi1>) -> tensor<1x?x?xi1>
    %w = bmc.where %and, %z, %ni : (tensor<1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x?x?xf32>
    bmck.yield %w : tensor<1x?x?xf32>
  }
  %mask = bmck.unsqueeze %m3 {axes = array<i64: 1>} : (!bmck.view<1x?x?xf32>) -> !bmck.view<1x1x?x?xf32>
  %a = bmck.attention %q, %ka, %va mask %mask {scale = 0.25 : f32, padding = #bmc.padding<skip>}
      : (!bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>, !bmck.view<1x2x?x13xf32>, !bmck.view<1x1x?x?xf32>) -> !bmck.view<1x2x?x13xf32>
  %wo = bmc.weight "wo" : tensor<13x27xf32>
  %wov = bmck.to_view %wo : tensor<13x27xf32> -> !bmck.view<13x27xf32>
  %o = bmck.matmul %a, %wov {weight = "wo"} : (!bmck.view<1x2x?x13xf32>, !bmck.view<13x27xf32>) -> !bmck.view<1x2x?x27xf32>
  %o0, %o1 = bmck.split %o {axis = 1 : i64, sizes = array<i64: 1, 1>}
      : (!bmck.view<1x2x?x27xf32>) -> (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>)
  %h = bmck.elementwise %e4, %o0, %o1 : (!bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>, !bmck.view<1x1x?x27xf32>) -> !bmck.view<1x1x?x27xf32> {
  ^bb0(%p: tensor<1x1x?x27xf32>, %r0: tensor<1x1x?x27xf32>, %r1: tensor<1x1x?x27xf32>):
    %s0 = bmc.add %p, %r0 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    %s1 = bmc.add %s0, %r1 : (tensor<1x1x?x27xf32>, tensor<1x1x?x27xf32>) -> tensor<1x1x?x27xf32>
    bmck.yield %s1 : tensor<1x1x?x27xf32>
  }
  %wl = bmc.weight "lm_head" : tensor<27x37xf32>
  %wlv = bmck.to_view %wl : tensor<27x37xf32> -> !bmck.view<27x37xf32>
  %l4 = bmck.matmul %h, %wlv {weight = "lm_head"} : (!bmck.view<1x1x?x27xf32>, !bmck.view<27x37xf32>) -> !bmck.view<1x1x?x37xf32>
  %l = bmck.squeeze %l4 {axes = array<i64: 1>} : (!bmck.view<1x1x?x37xf32>) -> !bmck.view<1x?x37xf32>
  %lt = bmck.to_tensor %l : !bmck.view<1x?x37xf32> -> tensor<1x?x37xf32>
  return %lt : tensor<1x?x37xf32>
}
