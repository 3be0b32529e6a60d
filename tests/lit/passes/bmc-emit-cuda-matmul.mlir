// --bmc-emit-cuda on the matrix products (the matmul forms: docs/DESIGN.md,
// "CUDA emitter"). A product with a named weight gets a GEMV (split-K), its
// epilogue and a tiled kernel, the launch line describing the weight's device
// copy ([N, K] row-major, the storage, each weight by name with its own type
// and orientation); products of one shape share a configuration whatever
// their weights; a product of run-time views gets the tiled kernel only.
// `weights=bf16` stores f32 weights as bf16 (16-bit weights keep theirs).
// Quantized weights (imported int8/int4 codes, or weights=int8/int4) have no
// CUDA form: counted as left, and a whole-model compile is refused naming them.
//
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null | FileCheck %s
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda=weights=bf16 -o /dev/null | FileCheck %s --check-prefix=BF16
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda=weights=int8 -o /dev/null | FileCheck %s --check-prefix=INT8
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda="whole-model=true output=%t.cu" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REFUSE

// CHECK: // Kernel ops: 0 bmck.kv_append (0 configurations), 0 bmck.attention (0 configurations), 4 bmck.matmul (3 configurations), 2 bmck.gemm (2 configurations), 0 bmck.norm (0 configurations), 0 bmck.softmax (0 configurations), 0 bmck.elementwise (0 configurations), 0 bmck.reduce (0 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 6 ops without a CUDA form (bmc.cast 1, bmc.transpose 1, bmc.weight 4).
// Two projections of one shape share configuration 0; the checks name K, rows and columns.
// CHECK: // bmc-launch: {"checks":[
// CHECK-SAME: "error":"matmul 0 (weight f32 [48, 37]): a of K {a.size[3]}, the weight's 37","lhs":["a.size[3]"],"rhs":[37]}
// CHECK-SAME: "error":"matmul 0 (weight f32 [48, 37]): out of {out.size[3]} columns, the weight's 48"
// CHECK-SAME: "launches":[{"block":128,"grid":["plan.gemv_blocks","plan.splits","plan.gemv_rows"],"kernel":"bmc_matmul_0_gemv","shared_bytes":0},{"block":128,"grid":["plan.epilogue_blocks","plan.gemv_rows",1],"kernel":"bmc_matmul_0_epilogue","shared_bytes":0},{"block":256,"grid":["plan.tiles_n","plan.tiles_m",[1,"out.size[1]"]],"kernel":"bmc_matmul_0_tiled","shared_bytes":0}]
// CHECK-SAME: "params":[{"from":"arg","kind":"view4","name":"a"},{"from":"arg","kind":"weight","name":"w"},{"from":"arg","kind":"view4","name":"out"},{"from":"scratch","kind":"f32_ptr","name":"partial"},{"from":"plan","kind":"i32","name":"splits"},{"from":"plan","kind":"i32","name":"k_chunk"}]
// Many rows through the device GEMM (f32 x f32 weight): types, alpha and each operand's view dimensions.
// CHECK-SAME: "plan":{"epilogue_threads":128,"gemm":{"a":"f32","a_dims":[-1,1,2,3],"alpha":1,"b":"f32","b_dims":[-1,-1,-1,-1],"out":"f32","out_dims":[-1,1,2,3]},"gemv_max_rows":8,"gemv_rows_per_block":8,"k":[37],"kind":"matmul","m":["a.size[2]"],"n":[48],"prefill":"device_gemm","rows":{{\[\[}}1,"out.size[1]","a.size[2]"]],"tile":16}
// CHECK-SAME: "scratch":[{"floats":{{\[\[}}"plan.gemv_rows","plan.splits",48]],"name":"partial"}]
// CHECK-SAME: "weight":{"k":37,"layout":"n_k","n":48,"sources":[{"name":"q","transpose":true,"type":"f32"},{"name":"o","transpose":false,"type":"f32"}],"storage":"f32"}}
// CHECK-NEXT: // matmul 0: a f32 (rank 3) x weight [37, 48] (on the device f32 [N, K] row-major) -> f32 (rank 3) (2 ops).
// CHECK-NEXT: // Dimensions (b0, b1, rows, columns) of a: -1, 1, 2, 3; out: -1, 1, 2, 3.
// CHECK: bmc_matmul_0_gemv(bmc_view4 a, const void *w, bmc_view4 out, float *partial, int splits, int k_chunk) {
// CHECK-NEXT:   bmc_mm_operand A = bmc_mm_of(a, -1, 1, 2, 3);
// CHECK-NEXT:   bmc_mm_operand B = bmc_mm_weight(w, 37);
// CHECK:   bmc_mm_gemv<bmc_f32>(A, static_cast<const bmc_f32::storage *>(w), partial, batch1, m, n, k, k_chunk);
// CHECK: bmc_matmul_0_epilogue(
// CHECK:   bmc_mm_epilogue<bmc_f32, bmc_f32>(partial, splits, O, C, 0, 0x1p+0f, 0x0p+0f, batch1, m, n);
// CHECK: bmc_matmul_0_tiled(
// CHECK:   bmc_mm_tiled<bmc_f32, bmc_f32, bmc_f32, bmc_f32>(A, B, O, C, 0, 0x1p+0f, 0x0p+0f, batch1, m, n, k);
// A bf16 weight behind a Cast: its own storage; f32 activations x a bf16 weight stay on the tiled kernel, said so.
// CHECK: "prefill":"tiled","prefill_note":"f32 x weight bf16: the device GEMM takes one type for A and B"
// CHECK: "weight":{"k":37,"layout":"n_k","n":48,"sources":[{"name":"h","transpose":true,"type":"bf16"}],"storage":"bf16"}}
// CHECK-NEXT: // matmul 1: a f32 (rank 3) x weight [37, 48] (on the device bf16 [N, K] row-major)
// CHECK: bmc_mm_gemv<bmc_bf16>(
// Run-time views, batch broadcast, a 1-D right operand: tiled only, dimensions from the ranks.
// CHECK: // bmc-launch:
// CHECK-SAME: "error":"matmul 2 (f32 x f32): a of K {a.size[3]}, b of K {b.size[3]}"
// CHECK-SAME: "launches":[{"block":256,"grid":["plan.tiles_n","plan.tiles_m",["out.size[1]","out.size[2]"]],"kernel":"bmc_matmul_2_tiled","shared_bytes":0}]
// CHECK-SAME: "gemv_max_rows":0
// CHECK-NEXT: // matmul 2: a f32 (rank 4) x b f32 (rank 1) -> f32 (rank 3) (1 op).
// CHECK-NEXT: // Dimensions (b0, b1, rows, columns) of a: 0, 1, 2, 3; b: -1, -1, 3, -1; out: 1, 2, 3, -1.
// CHECK-NOT: bmc_matmul_2_gemv
// CHECK: bmc_matmul_2_tiled(bmc_view4 a, bmc_view4 b, bmc_view4 out) {
// Gemm: a weight with trans_b ([N, K] already: no transpose), a bias, alpha and beta in the epilogue.
// CHECK: "error":"gemm 0 (weight f32 [48, 37]): C of {c.size[3]} columns, expected 1 or {out.size[3]}"
// CHECK-SAME: "weight":{"k":37,"layout":"n_k","n":48,"sources":[{"name":"g","transpose":false,"type":"f32"}],"storage":"f32"}}
// CHECK-NEXT: // gemm 0: a f32 (rank 2) x weight [37, 48] (on the device f32 [N, K] row-major), alpha 0x1p-1f, beta 0x1p+1f, C f32 (rank 1) -> f32 (rank 2) (1 op).
// CHECK: bmc_gemm_0_epilogue(bmc_view4 a, const void *w, bmc_view4 c, bmc_view4 out, float *partial, int splits, int k_chunk) {
// CHECK:   bmc_mm_operand C = bmc_mm_of(c, -1, -1, -1, 3);
// CHECK:   bmc_mm_epilogue<bmc_f32, bmc_f32>(partial, splits, O, C, 1, 0x1p-1f, 0x1p+1f, batch1, m, n);
// Gemm of run-time views with both transposes.
// CHECK: // gemm 1: a f32 (rank 2, transposed) x b f32 (rank 2, transposed), alpha 0x1p+0f, beta 0x1p+0f -> f32 (rank 2) (1 op).
// CHECK-NEXT: // Dimensions (b0, b1, rows, columns) of a: -1, -1, 3, 2; b: -1, -1, 3, 2; out: -1, -1, 2, 3.
// CHECK-NOT: bmc_gemm_2

// With weights=bf16 the f32 projections join the bf16 one's configuration.
// BF16: 4 bmck.matmul (2 configurations), 2 bmck.gemm (2 configurations), 0 bmck.norm
// BF16: "sources":[{"name":"q","transpose":true,"type":"f32"},{"name":"o","transpose":false,"type":"f32"},{"name":"h","transpose":true,"type":"bf16"}],"storage":"bf16"}}
// BF16: bmc_mm_gemv<bmc_bf16>(
// BF16: "sources":[{"name":"g","transpose":false,"type":"f32"}],"storage":"bf16"}}
// BF16: "sources":[{"name":"h16","transpose":true,"type":"f16"}],"storage":"f16"}}

// The int8 codes of the second function, and with weights=int8 every f32 weight, are left.
// CHECK: // Kernel ops: 0 bmck.kv_append (0 configurations), 0 bmck.attention (0 configurations), 1 bmck.matmul (1 configuration), 0 bmck.gemm (0 configurations), 0 bmck.norm (0 configurations), 0 bmck.softmax (0 configurations), 0 bmck.elementwise (0 configurations), 0 bmck.reduce (0 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 4 ops without a CUDA form (bmc.cast 1, bmc.weight 2, bmck.matmul (int4 weight) 1).
// CHECK: bmc_mm_gemv<bmc_f16>(
// INT8: 2 bmck.matmul (2 configurations), 1 bmck.gemm (1 configuration), 0 bmck.norm (0 configurations), 0 bmck.softmax (0 configurations), 0 bmck.elementwise (0 configurations), 0 bmck.reduce (0 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// INT8-NEXT: // Left for the CUDA target: 9 ops without a CUDA form (bmc.cast 1, bmc.transpose 1, bmc.weight 4, bmck.gemm (int8 weight) 1, bmck.matmul (int8 weight) 2).
// INT8: 1 bmck.matmul (1 configuration), 0 bmck.gemm (0 configurations), 0 bmck.norm (0 configurations), 0 bmck.softmax (0 configurations), 0 bmck.elementwise (0 configurations), 0 bmck.reduce (0 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// INT8-NEXT: // Left for the CUDA target: 4 ops without a CUDA form (bmc.cast 1, bmc.weight 2, bmck.matmul (int4 weight) 1).
// The first function is a whole-model compile: its weights and a weight's Cast / Transpose are data of
// its program (bmc-emit-cuda-program.mlir), not ops without a CUDA form.
// REFUSE-NOT: 'bmc.transpose'
// REFUSE: error: the CUDA target cannot compile this model yet: 'bmck.matmul (int4 weight)' at {{.*}} has no CUDA form

func.func @products(%x: tensor<?x?x37xf32>, %a4: tensor<?x3x?x37xf32>, %v: tensor<37xf32>, %x2: tensor<?x37xf32>,
                    %bias: tensor<48xf32>, %ta: tensor<37x?xf32>, %tb: tensor<?x37xf32>) {
  %xv = bmck.to_view %x : tensor<?x?x37xf32> -> !bmck.view<?x?x37xf32>
  %q = bmc.weight "q" : tensor<37x48xf32>
  %qv = bmck.to_view %q : tensor<37x48xf32> -> !bmck.view<37x48xf32>
  %0 = bmck.matmul %xv, %qv {weight = "q"} : (!bmck.view<?x?x37xf32>, !bmck.view<37x48xf32>) -> !bmck.view<?x?x48xf32>
  %o = bmc.weight "o" : tensor<48x37xf32>
  %ot = bmc.transpose %o {perm = array<i64: 1, 0>} : (tensor<48x37xf32>) -> tensor<37x48xf32>
  %ov = bmck.to_view %ot : tensor<37x48xf32> -> !bmck.view<37x48xf32>
  %1 = bmck.matmul %xv, %ov {weight = "o"} : (!bmck.view<?x?x37xf32>, !bmck.view<37x48xf32>) -> !bmck.view<?x?x48xf32>
  %h = bmc.weight "h" : tensor<37x48xbf16>
  %hc = bmc.cast %h {to = f32} : (tensor<37x48xbf16>) -> tensor<37x48xf32>
  %hv = bmck.to_view %hc : tensor<37x48xf32> -> !bmck.view<37x48xf32>
  %2 = bmck.matmul %xv, %hv {weight = "h"} : (!bmck.view<?x?x37xf32>, !bmck.view<37x48xf32>) -> !bmck.view<?x?x48xf32>
  %a4v = bmck.to_view %a4 : tensor<?x3x?x37xf32> -> !bmck.view<?x3x?x37xf32>
  %vv = bmck.to_view %v : tensor<37xf32> -> !bmck.view<37xf32>
  %3 = bmck.matmul %a4v, %vv : (!bmck.view<?x3x?x37xf32>, !bmck.view<37xf32>) -> !bmck.view<?x3x?xf32>
  %x2v = bmck.to_view %x2 : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %g = bmc.weight "g" : tensor<48x37xf32>
  %gv = bmck.to_view %g : tensor<48x37xf32> -> !bmck.view<48x37xf32>
  %bv = bmck.to_view %bias : tensor<48xf32> -> !bmck.view<48xf32>
  %4 = bmck.gemm %x2v, %gv, %bv {weight = "g", alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = false, trans_b = true}
      : (!bmck.view<?x37xf32>, !bmck.view<48x37xf32>, !bmck.view<48xf32>) -> !bmck.view<?x48xf32>
  %tav = bmck.to_view %ta : tensor<37x?xf32> -> !bmck.view<37x?xf32>
  %tbv = bmck.to_view %tb : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %5 = bmck.gemm %tav, %tbv {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = true, trans_b = true}
      : (!bmck.view<37x?xf32>, !bmck.view<?x37xf32>) -> !bmck.view<?x?xf32>
  return
}

// -----

func.func @quantized(%x: tensor<?x64xf32>) {
  %xv = bmck.to_view %x : tensor<?x64xf32> -> !bmck.view<?x64xf32>
  %w = bmc.weight "q4" {bmc.quant_bits = 4 : i64} : tensor<64x32xf32>
  %wv = bmck.to_view %w : tensor<64x32xf32> -> !bmck.view<64x32xf32>
  %0 = bmck.matmul %xv, %wv {weight = "q4"} : (!bmck.view<?x64xf32>, !bmck.view<64x32xf32>) -> !bmck.view<?x32xf32>
  %h = bmc.weight "h16" : tensor<64x32xf16>
  %hc = bmc.cast %h {to = f32} : (tensor<64x32xf16>) -> tensor<64x32xf32>
  %hv = bmck.to_view %hc : tensor<64x32xf32> -> !bmck.view<64x32xf32>
  %1 = bmck.matmul %xv, %hv {weight = "h16"} : (!bmck.view<?x64xf32>, !bmck.view<64x32xf32>) -> !bmck.view<?x32xf32>
  return
}
