// --bmc-emit-cuda: CUDA C for the kernel-level ops. One __global__ per
// distinct kv_append configuration (rows type, cache type, heads, head_dim),
// converting as it stores through bmc_kv_append_rows; a split/combine pair per
// distinct attention configuration, the constants compiled in and the views
// passed as bmc_view4; ops sharing a configuration share the kernel. The
// header counts what is left without a CUDA form (here a constant and a bmc.add); the
// output is the same on every run. With whole-model=true the module is
// refused at the first such op, nothing written.
//
// RUN: bmc-opt %s --bmc-emit-cuda -o /dev/null | FileCheck %s
// RUN: bmc-opt %s --bmc-emit-cuda -o /dev/null > %t.1.cu
// RUN: bmc-opt %s --bmc-emit-cuda="output=%t.2.cu" -o /dev/null
// RUN: cmp %t.1.cu %t.2.cu
// RUN: rm -f %t.3.cu
// RUN: not bmc-opt %s --bmc-emit-cuda="whole-model=true output=%t.3.cu" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REFUSE
// RUN: not test -e %t.3.cu

// CHECK: // Kernel ops: 5 bmck.kv_append (4 configurations), 5 bmck.attention (4 configurations), 0 bmck.matmul (0 configurations), 0 bmck.gemm (0 configurations), 0 bmck.norm (0 configurations), 0 bmck.softmax (0 configurations), 0 bmck.elementwise (0 configurations), 0 bmck.reduce (0 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations); 12 views and seams (no code); 1 scalar op (sizes, computed by the host).
// CHECK-NEXT: // Left for the CUDA target: 2 ops without a CUDA form (arith.constant 1, bmc.add 1).

// Each configuration's launch description (read by the runtime's EmittedLauncher) comes first:
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"kv_append 0 (f32 rows -> f32 cache, 2 heads x 16): rows of batch {rows.size[0]}, cache of batch {cache.batch}","lhs":["rows.size[0]"],"rhs":["cache.batch"]},
// CHECK-SAME: {"cmp":"<=","error":"kv_append 0 (f32 rows -> f32 cache, 2 heads x 16): {cache.valid} valid + {rows.size[2]} new rows > capacity {cache.capacity} (the runtime grows the cache before the step)","lhs":["cache.valid","rows.size[2]"],"rhs":["cache.capacity"]}
// CHECK-SAME: "launches":[{"block":32,"grid":["rows.size[2]",2,"rows.size[0]"],"kernel":"bmc_kv_append_0","shared_bytes":0}],"op":"bmck.kv_append","params":[{"from":"arg","kind":"kv_buffer","name":"cache"},{"from":"arg","kind":"view4","name":"rows"}],"version":1}
// CHECK-NEXT: // kv_append 0: f32 rows -> f32 cache, 2 heads x 16 (2 ops). Grid (seq, heads, batch), block 32;
// CHECK: extern "C" __global__ void __launch_bounds__(32)
// CHECK-NEXT: bmc_kv_append_0(bmc_kv_buffer cache, bmc_view4 rows) {
// CHECK-NEXT:   bmc_kv_append_rows<bmc_f32, bmc_f32>(cache, rows, 2, 16);
// CHECK-NEXT: }
// CHECK: // kv_append 1: f32 rows -> f16 cache, 2 heads x 16 (1 op).
// CHECK: bmc_kv_append_1(bmc_kv_buffer cache, bmc_view4 rows) {
// CHECK-NEXT:   bmc_kv_append_rows<bmc_f32, bmc_f16>(cache, rows, 2, 16);
// CHECK: // kv_append 2: f32 rows -> bf16 cache, 4 heads x 80 (1 op). Grid (seq, heads, batch), block 96;
// CHECK: extern "C" __global__ void __launch_bounds__(96)
// CHECK-NEXT: bmc_kv_append_2(bmc_kv_buffer cache, bmc_view4 rows) {
// CHECK-NEXT:   bmc_kv_append_rows<bmc_f32, bmc_bf16>(cache, rows, 4, 80);
// CHECK: // kv_append 3: f32 rows -> bf16 cache, 2 heads x 16 (1 op).
// CHECK: bmc_kv_append_rows<bmc_f32, bmc_bf16>(cache, rows, 2, 16);
// CHECK-NOT: bmc_kv_append_4

// Skip padding, f32 KV, MHA, no mask; used twice.
// CHECK: // bmc-launch: {"checks":[
// CHECK-SAME: "launches":[{"block":128,"grid":["plan.splits","k.size[1]",["q.size[0]","q.size[2]"]],"kernel":"bmc_attention_0_split","shared_bytes":0},{"block":128,"grid":["q.size[1]",["q.size[0]","q.size[2]"],1],"kernel":"bmc_attention_0_combine","shared_bytes":0}],"op":"bmck.attention"
// CHECK-SAME: "plan":{"blocks":{{\[\[}}"q.size[0]","q.size[2]","k.size[1]"]],"kind":"attention_splits","kv_rows":["k.size[2]"],"max_rows_per_split":256}
// CHECK-NEXT: // attention 0: q f32, K/V f32, head_dim 16, group 1, scale 0.25, rows skip (K's rows only; also mask without a padded length), no mask (2 ops).
// CHECK: __device__ __forceinline__ bmc_decode_attention_params bmc_attention_0_params(bmc_view4 q, bmc_view4 k, bmc_view4 v, bmc_view4 out, float *partial_out, float *partial_lse, int rows_per_split, int splits) {
// CHECK-NEXT:   bmc_decode_attention_params p = bmc_attention_view_params<bmc_f32>(q, k, v, 0, out, partial_out, partial_lse, rows_per_split, splits);
// CHECK-NEXT:   p.head_dim = 16;
// CHECK-NEXT:   p.kv_rows = p.kv_len;
// CHECK-NEXT:   p.scale = 0x1p-2f;
// CHECK-NEXT:   p.softcap = 0x0p+0f;
// CHECK-NEXT:   p.smooth_softmax = 0;
// CHECK: bmc_attention_0_split(bmc_view4 q, bmc_view4 k, bmc_view4 v, bmc_view4 out, float *partial_out, float *partial_lse, int rows_per_split, int splits) {
// CHECK-NEXT:   bmc_decode_attention_split<bmc_f32, 1, 16>(bmc_attention_0_params(q, k, v, out, partial_out, partial_lse, rows_per_split, splits));
// CHECK: bmc_attention_0_combine(
// CHECK-NEXT:   bmc_decode_attention_combine_rows<16>(bmc_attention_0_params(

// Mask padding over a bf16 cache's capacity, an additive mask, GQA group 3.
// CHECK: // bmc-launch: {"checks":[
// CHECK-SAME: "error":"attention 1 (K/V bf16, head_dim 16, group 3): q of {q.size[1]} heads, K of {k.size[1]}: expected 3 query heads per KV head","lhs":["q.size[1]"],"rhs":{{\[}}[3,"k.size[1]"]]}
// CHECK-SAME: "error":"attention 1 (K/V bf16, head_dim 16, group 3): padded length {padded} < K's {k.size[2]} valid rows","lhs":["k.size[2]"],"rhs":["padded"]}
// CHECK-SAME: {"from":"arg","kind":"view4","name":"mask"},{"from":"arg","kind":"i64","name":"padded"},
// CHECK-SAME: "kv_rows":["padded"]
// CHECK-NEXT: // attention 1: q f32, K/V bf16, head_dim 16, group 3, scale 0.25, rows mask (scores over `padded` rows, spare rows masked), additive mask (1 op).
// CHECK: bmc_attention_1_params(bmc_view4 q, bmc_view4 k, bmc_view4 v, bmc_view4 mask, long long padded, bmc_view4 out,
// CHECK-NEXT:   bmc_decode_attention_params p = bmc_attention_view_params<bmc_bf16>(q, k, v, &mask, out,
// CHECK:   p.kv_rows = (int)padded;
// CHECK: bmc_decode_attention_split<bmc_bf16, 3, 16>(bmc_attention_1_params(q, k, v, mask, padded, out,

// Mask padding without a cache (no padded operand): the rows there are.
// CHECK: // attention 2: q f32, K/V f32, head_dim 8, group 2, scale 0.5, rows skip (K's rows only; also mask without a padded length), additive mask, softcap 30, smooth softmax (1 op).
// CHECK:   p.kv_rows = p.kv_len;
// CHECK-NEXT:   p.scale = 0x1p-1f;
// CHECK-NEXT:   p.softcap = 0x1.ep+4f;
// CHECK-NEXT:   p.smooth_softmax = 1;

// The same as attention 0 but for the scale: a configuration of its own.
// CHECK: // attention 3: q f32, K/V f32, head_dim 16, group 1, scale 0.125, rows skip (K's rows only; also mask without a padded length), no mask (1 op).
// CHECK-NOT: bmc_attention_4

// The refusal names the bmc op (not the arith.constant met first), its layer and place.
// REFUSE: error: the CUDA target cannot compile this model yet: 'bmc.add' in layer 3 at {{.*}}bmc-emit-cuda.mlir:[[@LINE+38]]:10 has no CUDA form (2 ops without one: arith.constant 1, bmc.add 1); only bmck.kv_append, bmck.attention, bmck.matmul, bmck.gemm, bmck.norm, bmck.softmax, bmck.elementwise, bmck.reduce, bmck.concat, bmck.gather, bmck.copy, bmck.range, bmc.check_equal, bmc.constant_of_shape and bmc.gather_nd are emitted
// REFUSE-NOT: error

func.func @appends(%kc: !bmc.kv_cache<2x16xf32>, %kc2: !bmc.kv_cache<2x16xf32>, %hc: !bmc.kv_cache<2x16xf16>,
                   %bc: !bmc.kv_cache<4x80xbf16>, %r: tensor<?x2x?x16xf32>, %r4: tensor<1x4x?x80xf32>) {
  %unused = arith.constant dense<0.0> : tensor<2xf32>
  %rv = bmck.to_view %r : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
  %a = bmck.kv_append %kc, %rv : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  %b = bmck.kv_append %kc2, %rv : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  %c = bmck.kv_append %hc, %rv : (!bmc.kv_cache<2x16xf16>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf16>
  %r4v = bmck.to_view %r4 : tensor<1x4x?x80xf32> -> !bmck.view<1x4x?x80xf32>
  %d = bmck.kv_append %bc, %r4v : (!bmc.kv_cache<4x80xbf16>, !bmck.view<1x4x?x80xf32>) -> !bmck.view<1x4x?x80xbf16>
  return
}

func.func @attentions(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %bc: !bmc.kv_cache<2x16xbf16>,
                      %nk: tensor<1x2x?x16xf32>, %q6: tensor<1x6x?x16xf32>, %m: tensor<1x1x?x?xf32>,
                      %q4: tensor<?x4x?x8xf32>, %k2: tensor<?x2x?x8xf32>, %m2: tensor<?x1x?x?xf32>)
    -> (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) {
  %qv = bmck.to_view %q : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %kv = bmck.to_view %k : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %o0 = bmck.attention %qv, %kv, %kv {scale = 0.25 : f32} : (!bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %o1 = bmck.attention %qv, %kv, %kv {scale = 0.25 : f32} : (!bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %nkv = bmck.to_view %nk : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %bk = bmck.kv_append %bc, %nkv : (!bmc.kv_cache<2x16xbf16>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xbf16>
  %cap = bmc.kv_capacity %bc : !bmc.kv_cache<2x16xbf16>
  %q6v = bmck.to_view %q6 : tensor<1x6x?x16xf32> -> !bmck.view<1x6x?x16xf32>
  %mv = bmck.to_view %m : tensor<1x1x?x?xf32> -> !bmck.view<1x1x?x?xf32>
  %o2 = bmck.attention %q6v, %bk, %bk mask %mv padded %cap {scale = 0.25 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x6x?x16xf32>, !bmck.view<1x2x?x16xbf16>, !bmck.view<1x2x?x16xbf16>, !bmck.view<1x1x?x?xf32>, index) -> !bmck.view<1x6x?x16xf32>
  %q4v = bmck.to_view %q4 : tensor<?x4x?x8xf32> -> !bmck.view<?x4x?x8xf32>
  %k2v = bmck.to_view %k2 : tensor<?x2x?x8xf32> -> !bmck.view<?x2x?x8xf32>
  %m2v = bmck.to_view %m2 : tensor<?x1x?x?xf32> -> !bmck.view<?x1x?x?xf32>
  %o3 = bmck.attention %q4v, %k2v, %k2v mask %m2v {scale = 0.5 : f32, padding = #bmc.padding<mask>, softcap = 30.0 : f32, smooth_softmax = true}
      : (!bmck.view<?x4x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x2x?x8xf32>, !bmck.view<?x1x?x?xf32>) -> !bmck.view<?x4x?x8xf32>
  %o4 = bmck.attention %qv, %kv, %kv {scale = 0.125 : f32} : (!bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %t0 = bmck.to_tensor %o0 : !bmck.view<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %t1 = bmck.to_tensor %o1 : !bmck.view<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %sum = bmc.add %t0, %t1 {bmc.layer = 3 : i64} : (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32>
  return %sum, %t1 : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
}
