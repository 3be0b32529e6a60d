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
