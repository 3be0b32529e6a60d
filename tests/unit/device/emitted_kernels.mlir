// The input of cuda_emitted_emulation_test.cpp: the CUDA emitter's output for
// these ops (bmc-opt --bmc-emit-cuda, at build time) runs in the host
// emulation against the CPU kernels. Odd head_dim; the kernel numbers the
// test uses follow the order below (kv_append 0-4, attention 0-2, norm 0-3,
// softmax 0-1). kv_append 3 and 4 feed attention 1 and 2 in the launcher's
// tests (EmittedLauncher). The row kernels (norm, softmax) take views of rank
// 1 to 4 over odd widths (301: more than a block's threads) and strides.
func.func @kernels(%c32: !bmc.kv_cache<3x37xf32>, %c16: !bmc.kv_cache<3x37xf16>, %cb: !bmc.kv_cache<3x37xbf16>,
                   %rows: tensor<?x3x?x37xf32>,
                   %q0: tensor<?x4x?x37xf32>, %k0: tensor<?x4x?x37xf32>,
                   %q1: tensor<?x6x?x37xf32>, %k1: tensor<?x2x?x37xbf16>, %m1: tensor<?x1x?x?xf32>,
                   %q2: tensor<?x4x?x24xf32>, %k2: tensor<?x2x?x24xf16>, %m2: tensor<?x4x?x?xf32>, %cap: index,
                   %cb2: !bmc.kv_cache<2x37xbf16>, %ch2: !bmc.kv_cache<2x24xf16>, %rows2: tensor<?x2x?x37xf32>,
                   %rows3: tensor<?x2x?x24xf32>,
                   %x0: !bmck.view<?x?x301xf32>, %g0: !bmck.view<301xf32>, %x1: !bmck.view<?x37xf32>,
                   %g1: !bmck.view<1xf32>, %b1: !bmck.view<37xf32>, %x2: !bmck.view<?x2x3x37xbf16>,
                   %g2: !bmck.view<37xbf16>, %x3: !bmck.view<37xf16>, %g3: !bmck.view<37xf16>,
                   %s0: !bmck.view<?x5x301xf32>, %s1: !bmck.view<?x37xbf16>) {
  %r = bmck.to_view %rows : tensor<?x3x?x37xf32> -> !bmck.view<?x3x?x37xf32>
  %a0 = bmck.kv_append %c32, %r : (!bmc.kv_cache<3x37xf32>, !bmck.view<?x3x?x37xf32>) -> !bmck.view<?x3x?x37xf32>
  %a1 = bmck.kv_append %c16, %r : (!bmc.kv_cache<3x37xf16>, !bmck.view<?x3x?x37xf32>) -> !bmck.view<?x3x?x37xf16>
  %a2 = bmck.kv_append %cb, %r : (!bmc.kv_cache<3x37xbf16>, !bmck.view<?x3x?x37xf32>) -> !bmck.view<?x3x?x37xbf16>
  // 3: bf16 cache of 2 KV heads x 37 (attention 1's), 4: f16 2 x 24 (attention 2's).
  %r2 = bmck.to_view %rows2 : tensor<?x2x?x37xf32> -> !bmck.view<?x2x?x37xf32>
  %a3 = bmck.kv_append %cb2, %r2 : (!bmc.kv_cache<2x37xbf16>, !bmck.view<?x2x?x37xf32>) -> !bmck.view<?x2x?x37xbf16>
  %r3 = bmck.to_view %rows3 : tensor<?x2x?x24xf32> -> !bmck.view<?x2x?x24xf32>
  %a4 = bmck.kv_append %ch2, %r3 : (!bmc.kv_cache<2x24xf16>, !bmck.view<?x2x?x24xf32>) -> !bmck.view<?x2x?x24xf16>
  // 0: f32, skip, no mask, MHA.
  %q0v = bmck.to_view %q0 : tensor<?x4x?x37xf32> -> !bmck.view<?x4x?x37xf32>
  %k0v = bmck.to_view %k0 : tensor<?x4x?x37xf32> -> !bmck.view<?x4x?x37xf32>
  %o0 = bmck.attention %q0v, %k0v, %k0v {scale = 0.164 : f32} : (!bmck.view<?x4x?x37xf32>, !bmck.view<?x4x?x37xf32>, !bmck.view<?x4x?x37xf32>) -> !bmck.view<?x4x?x37xf32>
  // 1: bf16 KV, mask padding over `padded` rows, a broadcast mask, GQA 3.
  %q1v = bmck.to_view %q1 : tensor<?x6x?x37xf32> -> !bmck.view<?x6x?x37xf32>
  %k1v = bmck.to_view %k1 : tensor<?x2x?x37xbf16> -> !bmck.view<?x2x?x37xbf16>
  %m1v = bmck.to_view %m1 : tensor<?x1x?x?xf32> -> !bmck.view<?x1x?x?xf32>
  %o1 = bmck.attention %q1v, %k1v, %k1v mask %m1v padded %cap {scale = 0.3 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<?x6x?x37xf32>, !bmck.view<?x2x?x37xbf16>, !bmck.view<?x2x?x37xbf16>, !bmck.view<?x1x?x?xf32>, index) -> !bmck.view<?x6x?x37xf32>
  // 2: f16 KV, skip, a per-head mask, softcap, smooth softmax, GQA 2.
  %q2v = bmck.to_view %q2 : tensor<?x4x?x24xf32> -> !bmck.view<?x4x?x24xf32>
  %k2v = bmck.to_view %k2 : tensor<?x2x?x24xf16> -> !bmck.view<?x2x?x24xf16>
  %m2v = bmck.to_view %m2 : tensor<?x4x?x?xf32> -> !bmck.view<?x4x?x?xf32>
  %o2 = bmck.attention %q2v, %k2v, %k2v mask %m2v {scale = 0.2 : f32, softcap = 5.0 : f32, smooth_softmax = true}
      : (!bmck.view<?x4x?x24xf32>, !bmck.view<?x2x?x24xf16>, !bmck.view<?x2x?x24xf16>, !bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x24xf32>
  // norm 0: RMS, f32, rank 3, 301 wide; 1: layer, f32, a broadcast scale and a
  // bias, rank 2; 2: layer, bf16, no bias, rank 4; 3: RMS, f16, rank 1.
  %n0 = bmck.norm %x0, %g0 {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-6 : f32}
      : (!bmck.view<?x?x301xf32>, !bmck.view<301xf32>) -> !bmck.view<?x?x301xf32>
  %n1 = bmck.norm %x1, %g1, %b1 {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x37xf32>, !bmck.view<1xf32>, !bmck.view<37xf32>) -> !bmck.view<?x37xf32>
  %n2 = bmck.norm %x2, %g2 {kind = #bmck.norm<layer>, axis = 3 : i64, epsilon = 1.0e-3 : f32}
      : (!bmck.view<?x2x3x37xbf16>, !bmck.view<37xbf16>) -> !bmck.view<?x2x3x37xbf16>
  %n3 = bmck.norm %x3, %g3 {kind = #bmck.norm<rms>, axis = 0 : i64, epsilon = 1.0e-2 : f32}
      : (!bmck.view<37xf16>, !bmck.view<37xf16>) -> !bmck.view<37xf16>
  // softmax 0: f32, rank 3, 301 wide; 1: log-softmax, bf16, rank 2.
  %p0 = bmck.softmax %s0 {axis = 2 : i64} : (!bmck.view<?x5x301xf32>) -> !bmck.view<?x5x301xf32>
  %p1 = bmck.softmax %s1 {axis = 1 : i64, log = true} : (!bmck.view<?x37xbf16>) -> !bmck.view<?x37xbf16>
  return
}

// The matrix products (cuda_emitted_emulation_test.cpp, "Products"): K = 37 (not
// a multiple of 8), N = 45 (odd). bmck.matmul 0-2 and bmck.gemm 0 read a named
// weight (GEMV for few rows, tiled for many), as do matmul 7 and 8 (K = 64);
// matmul 3-6 and gemm 1 read run-time views (tiled).
func.func @products(%x3: tensor<?x?x37xf32>, %x2: tensor<?x37xf32>, %a4: tensor<?x3x?x37xf32>, %b3: tensor<3x37x?xf32>,
                    %v1: tensor<37xf32>, %bk: tensor<?x37x?xf32>, %h3: tensor<?x?x37xf16>, %h2: tensor<37x?xf16>,
                    %ta: tensor<37x?xf32>, %tb: tensor<?x37xf32>, %c2: tensor<?x?xf32>, %bias: tensor<45xf32>,
                    %x64: tensor<?x64xf32>) {
  %x64v = bmck.to_view %x64 : tensor<?x64xf32> -> !bmck.view<?x64xf32>
  // 0: an f32 weight [37, 45], a 3-D activation.
  %w0 = bmc.weight "w0" : tensor<37x45xf32>
  %w0v = bmck.to_view %w0 : tensor<37x45xf32> -> !bmck.view<37x45xf32>
  %x3v = bmck.to_view %x3 : tensor<?x?x37xf32> -> !bmck.view<?x?x37xf32>
  %m0 = bmck.matmul %x3v, %w0v {weight = "w0"} : (!bmck.view<?x?x37xf32>, !bmck.view<37x45xf32>) -> !bmck.view<?x?x45xf32>
  // 1: a bf16 weight through a widening Cast, a 2-D activation.
  %w1 = bmc.weight "w1" : tensor<37x45xbf16>
  %w1c = bmc.cast %w1 {to = f32} : (tensor<37x45xbf16>) -> tensor<37x45xf32>
  %w1v = bmck.to_view %w1c : tensor<37x45xf32> -> !bmck.view<37x45xf32>
  %x2v = bmck.to_view %x2 : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %m1 = bmck.matmul %x2v, %w1v {weight = "w1"} : (!bmck.view<?x37xf32>, !bmck.view<37x45xf32>) -> !bmck.view<?x45xf32>
  // 2: an f16 weight [45, 37] through a Cast and a Transpose, a 3-D activation, 2-D weight [37, 45] -> 45x? odd.
  %w2 = bmc.weight "w2" : tensor<45x37xf16>
  %w2c = bmc.cast %w2 {to = f32} : (tensor<45x37xf16>) -> tensor<45x37xf32>
  %w2t = bmc.transpose %w2c {perm = array<i64: 1, 0>} : (tensor<45x37xf32>) -> tensor<37x45xf32>
  %w2v = bmck.to_view %w2t : tensor<37x45xf32> -> !bmck.view<37x45xf32>
  %m2 = bmck.matmul %x3v, %w2v {weight = "w2"} : (!bmck.view<?x?x37xf32>, !bmck.view<37x45xf32>) -> !bmck.view<?x?x45xf32>
  // 3: batched, b broadcast over a's first batch dimension.
  %a4v = bmck.to_view %a4 : tensor<?x3x?x37xf32> -> !bmck.view<?x3x?x37xf32>
  %b3v = bmck.to_view %b3 : tensor<3x37x?xf32> -> !bmck.view<3x37x?xf32>
  %m3 = bmck.matmul %a4v, %b3v : (!bmck.view<?x3x?x37xf32>, !bmck.view<3x37x?xf32>) -> !bmck.view<?x3x?x?xf32>
  // 4: a 1-D left operand; 5: a 1-D right operand.
  %v1v = bmck.to_view %v1 : tensor<37xf32> -> !bmck.view<37xf32>
  %bkv = bmck.to_view %bk : tensor<?x37x?xf32> -> !bmck.view<?x37x?xf32>
  %m4 = bmck.matmul %v1v, %bkv : (!bmck.view<37xf32>, !bmck.view<?x37x?xf32>) -> !bmck.view<?x?xf32>
  %m5 = bmck.matmul %x3v, %v1v : (!bmck.view<?x?x37xf32>, !bmck.view<37xf32>) -> !bmck.view<?x?xf32>
  // 6: f16 x f16 -> f16.
  %h3v = bmck.to_view %h3 : tensor<?x?x37xf16> -> !bmck.view<?x?x37xf16>
  %h2v = bmck.to_view %h2 : tensor<37x?xf16> -> !bmck.view<37x?xf16>
  %m6 = bmck.matmul %h3v, %h2v : (!bmck.view<?x?x37xf16>, !bmck.view<37x?xf16>) -> !bmck.view<?x?x?xf16>
  // 7: an f32 weight of K = 64 and 8: an f16 one (the GEMV's 128-bit loads: K a multiple of 8).
  %w7 = bmc.weight "w7" : tensor<64x45xf32>
  %w7v = bmck.to_view %w7 : tensor<64x45xf32> -> !bmck.view<64x45xf32>
  %m7 = bmck.matmul %x64v, %w7v {weight = "w7"} : (!bmck.view<?x64xf32>, !bmck.view<64x45xf32>) -> !bmck.view<?x45xf32>
  %w8 = bmc.weight "w8" : tensor<64x45xf16>
  %w8c = bmc.cast %w8 {to = f32} : (tensor<64x45xf16>) -> tensor<64x45xf32>
  %w8v = bmck.to_view %w8c : tensor<64x45xf32> -> !bmck.view<64x45xf32>
  %m8 = bmck.matmul %x64v, %w8v {weight = "w8"} : (!bmck.view<?x64xf32>, !bmck.view<64x45xf32>) -> !bmck.view<?x45xf32>
  // gemm 0: the weight [45, 37] with trans_b, a bias, alpha and beta.
  %g0w = bmc.weight "g0" : tensor<45x37xf32>
  %g0v = bmck.to_view %g0w : tensor<45x37xf32> -> !bmck.view<45x37xf32>
  %biasv = bmck.to_view %bias : tensor<45xf32> -> !bmck.view<45xf32>
  %g0 = bmck.gemm %x2v, %g0v, %biasv {weight = "g0", alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = false, trans_b = true}
      : (!bmck.view<?x37xf32>, !bmck.view<45x37xf32>, !bmck.view<45xf32>) -> !bmck.view<?x45xf32>
  // gemm 1: run-time operands, trans_a and trans_b, a 2-D C that may broadcast.
  %tav = bmck.to_view %ta : tensor<37x?xf32> -> !bmck.view<37x?xf32>
  %tbv = bmck.to_view %tb : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %c2v = bmck.to_view %c2 : tensor<?x?xf32> -> !bmck.view<?x?xf32>
  %g1 = bmck.gemm %tav, %tbv, %c2v {alpha = 1.5 : f32, beta = -0.5 : f32, trans_a = true, trans_b = true}
      : (!bmck.view<37x?xf32>, !bmck.view<?x37xf32>, !bmck.view<?x?xf32>) -> !bmck.view<?x?xf32>
  return
}
