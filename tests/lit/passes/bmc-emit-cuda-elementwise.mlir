// --bmc-emit-cuda for the fused elementwise groups: one __global__ per
// distinct configuration (the region's ops, attributes and element types, the
// leaves' ranks, types and static broadcast pattern), a thread per element of
// out in a grid-stride loop (bmc_ew_index unflattens it by out's sizes), each
// leaf read through its view at that index (no term where its dimension is
// statically 1, bmc_view_stride elsewhere: 0 where the run-time size is 1),
// one `const T tK = ...;` per op. 16-bit values compute in fp32 and an
// intermediate of a 16-bit type is rounded to it; bools are bytes in memory.
// The launch line checks each leaf's sizes against out's (equal or 1; 1 where
// the type says 1) and plans the blocks from out's element count.
//
// RUN: bmc-opt %s --bmc-emit-cuda -o /dev/null | FileCheck %s

// CHECK: 0 bmck.softmax (0 configurations), 3 bmck.elementwise (2 configurations), 2 bmck.reduce (1 configuration), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 1 op without a CUDA form (arith.constant 1).

// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"elementwise 0: x0 of size {x0.size[0]} in dimension 0, expected 1","lhs":["x0.size[0]"],"rhs":[1]},
// CHECK-SAME: {"cmp":"bcast","error":"elementwise 0: x0 of size {x0.size[2]} in dimension 2, out of {out.size[2]} (expected equal or 1)","lhs":["x0.size[2]"],"rhs":["out.size[2]"]}
// CHECK-SAME: {"cmp":"==","error":"elementwise 0: x1 of size {x1.size[2]} in dimension 2, expected 1","lhs":["x1.size[2]"],"rhs":[1]}
// CHECK-SAME: "config":0,"launches":[{"block":256,"grid":["plan.blocks",1,1],"kernel":"bmc_elementwise_0","shared_bytes":0}],"op":"bmck.elementwise","params":[{"from":"arg","kind":"view4","name":"x0"},{"from":"arg","kind":"view4","name":"x1"},{"from":"arg","kind":"view4","name":"out"}],"plan":{"elements":{{\[\["out.size\[0\]","out.size\[1\]","out.size\[2\]","out.size\[3\]"\]\]}},"kind":"elementwise","threads":256},"version":1}
// CHECK-NEXT: // elementwise 0: x0 f32 (rank 3), x1 f32 (rank 1) -> f32 (rank 3): bmc.add, bmc.sigmoid (2 ops). A thread per element of out, grid-stride; block BMC_EW_THREADS.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_elementwise_0(bmc_view4 x0, bmc_view4 x1, bmc_view4 out) {
// CHECK-NEXT:   const long long n = bmc_ew_elements(out);
// CHECK-NEXT:   for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
// CHECK-NEXT:        e += (long long)gridDim.x * blockDim.x) {
// CHECK-NEXT:     long long i[4];
// CHECK-NEXT:     bmc_ew_index(out, e, i);
// CHECK-NEXT:     const float v0 = ((const float *)x0.data)[x0.offset + i[1] * bmc_view_stride(x0, 1) + i[2] * bmc_view_stride(x0, 2) + i[3] * bmc_view_stride(x0, 3)];
// CHECK-NEXT:     const float v1 = ((const float *)x1.data)[x1.offset + i[3] * bmc_view_stride(x1, 3)];
// CHECK-NEXT:     const float t0 = (v0 + v1);
// CHECK-NEXT:     const float t1 = (1.0f / (1.0f + expf(-t0)));
// CHECK-NEXT:     ((float *)out.data)[out.offset + i[1] * bmc_view_stride(out, 1) + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = t1;
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK: // elementwise 1: x0 i64 (rank 2), x1 i64 (rank 0), x2 f16 (rank 2), x3 f32 (rank 0) -> bf16 (rank 2): bmc.mod, bmc.cast, bmc.less, bmc.not, bmc.pow, bmc.where, bmc.cast (1 op).
// CHECK:      const long long v0 = ((const long long *)x0.data)[
// CHECK-NEXT: const long long v1 = ((const long long *)x1.data)[x1.offset];
// CHECK-NEXT: const float v2 = bmc_f16::widen(((const unsigned short *)x2.data)[
// CHECK-NEXT: const float v3 = ((const float *)x3.data)[x3.offset];
// CHECK-NEXT: const long long t0 = bmc_ew_mod(v0, v1);
// CHECK-NEXT: const float t1 = bmc_f16::widen(bmc_f16::narrow((float)t0));
// CHECK-NEXT: const bool t2 = (t1 < v2);
// CHECK-NEXT: const bool t3 = (!t2);
// CHECK-NEXT: const float t4 = bmc_f16::widen(bmc_f16::narrow(((v2 * v2) * v2)));
// CHECK-NEXT: const float t5 = bmc_f16::widen(bmc_f16::narrow((t3 ? t4 : v2)));
// CHECK-NEXT: const float t6 = t5;
// CHECK-NEXT: ((unsigned short *)out.data)[{{.*}}] = bmc_bf16::narrow(t6);
// CHECK-NOT: bmc_elementwise_2
// bmck.reduce: a block per output element (grid x: out's element count), the
// kept dimensions of x from blockIdx.x, the threads over the reduced ones,
// fp32 accumulation, bmc_block_reduce, the mean's division, one store.
// CHECK: "config":0,"launches":[{"block":256,"grid":{{\[\["out.size\[0\]","out.size\[1\]","out.size\[2\]","out.size\[3\]"\],1,1\]}},"kernel":"bmc_reduce_0","shared_bytes":0}],"op":"bmck.reduce"
// CHECK-NEXT: // reduce 0: mean of bf16 (rank 3) over axes [0, 2], keepdims, fp32 accumulation (2 ops). A block per output element, block BMC_EW_THREADS.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_reduce_0(bmc_view4 x, bmc_view4 out) {
// CHECK-NEXT:   __shared__ float scratch[BMC_EW_THREADS / BMC_WARP];
// CHECK-NEXT:   typedef bmc_bf16::storage S;
// CHECK-NEXT:   long long o = blockIdx.x, k[4] = {0, 0, 0, 0};
// CHECK-NEXT:   k[2] = o % x.size[2];
// CHECK-NEXT:   o /= x.size[2];
// CHECK-NEXT:   const long long m = x.size[1] * x.size[3];
// CHECK-NEXT:   float acc = bmc_reduce_identity<0>();
// CHECK-NEXT:   for (long long j = threadIdx.x; j < m; j += blockDim.x) {
// CHECK-NEXT:     long long r = j, i[4] = {k[0], k[1], k[2], k[3]};
// CHECK-NEXT:     i[3] = r % x.size[3];
// CHECK-NEXT:     r /= x.size[3];
// CHECK-NEXT:     i[1] = r % x.size[1];
// CHECK-NEXT:     r /= x.size[1];
// CHECK-NEXT:     acc = bmc_reduce_combine<0>(acc, bmc_bf16::widen(((const S *)x.data)[x.offset + i[1] * bmc_view_stride(x, 1) + i[2] * bmc_view_stride(x, 2) + i[3] * bmc_view_stride(x, 3)]));
// CHECK-NEXT:   }
// CHECK-NEXT:   acc = bmc_block_reduce<0>(acc, scratch);
// CHECK-NEXT:   acc = acc / (float)m;
// CHECK-NEXT:   if (threadIdx.x == 0)
// CHECK-NEXT:     ((S *)out.data)[out.offset + k[2] * bmc_view_stride(out, 2)] = bmc_bf16::narrow(acc);
// CHECK-NEXT: }
// CHECK-NOT: bmc_reduce_1
func.func @groups(%x: !bmck.view<?x?x96xf32>, %b: !bmck.view<96xf32>, %y: !bmck.view<?x?x96xf32>,
                  %i: !bmck.view<?x7xi64>, %k: !bmck.view<i64>, %h: !bmck.view<?x7xf16>,
                  %rd: !bmck.view<?x5x37xbf16>, %rd2: !bmck.view<2x?x9xbf16>) {
  %g0 = bmck.elementwise %x, %b : (!bmck.view<?x?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x?x96xf32> {
  ^bb0(%a: tensor<?x?x96xf32>, %c: tensor<96xf32>):
    %s = bmc.add %a, %c : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
    %r = bmc.sigmoid %s : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
    bmck.yield %r : tensor<?x?x96xf32>
  }
  // The same configuration (other static sizes, the same ranks and pattern): one kernel.
  %g1 = bmck.elementwise %y, %b : (!bmck.view<?x?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x?x96xf32> {
  ^bb0(%a: tensor<?x?x96xf32>, %c: tensor<96xf32>):
    %s = bmc.add %a, %c : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
    %r = bmc.sigmoid %s : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
    bmck.yield %r : tensor<?x?x96xf32>
  }
  // Python Mod, an i64 -> f16 Cast (rounded: an intermediate), a comparison,
  // Pow by a constant 3 (a product), Where, a Cast to bf16 stored.
  %three = arith.constant dense<3.0> : tensor<f32>
  %threev = bmck.to_view %three : tensor<f32> -> !bmck.view<f32>
  %g2 = bmck.elementwise %i, %k, %h, %threev : (!bmck.view<?x7xi64>, !bmck.view<i64>, !bmck.view<?x7xf16>, !bmck.view<f32>) -> !bmck.view<?x7xbf16> {
  ^bb0(%ii: tensor<?x7xi64>, %kk: tensor<i64>, %hh: tensor<?x7xf16>, %t: tensor<f32>):
    %m = bmc.mod %ii, %kk : (tensor<?x7xi64>, tensor<i64>) -> tensor<?x7xi64>
    %c = bmc.cast %m {to = f16} : (tensor<?x7xi64>) -> tensor<?x7xf16>
    %l = bmc.less %c, %hh : (tensor<?x7xf16>, tensor<?x7xf16>) -> tensor<?x7xi1>
    %n = bmc.not %l : (tensor<?x7xi1>) -> tensor<?x7xi1>
    %p = bmc.pow %hh, %t : (tensor<?x7xf16>, tensor<f32>) -> tensor<?x7xf16>
    %w = bmc.where %n, %p, %hh : (tensor<?x7xi1>, tensor<?x7xf16>, tensor<?x7xf16>) -> tensor<?x7xf16>
    %o = bmc.cast %w {to = bf16} : (tensor<?x7xf16>) -> tensor<?x7xbf16>
    bmck.yield %o : tensor<?x7xbf16>
  }
  // Two reductions of one configuration (the sizes differ, not the kind, type, rank, axes or keepdims).
  %m0 = bmck.reduce %rd {kind = #bmck.reduce<mean>, axes = array<i64: 0, 2>, keepdims = true} : (!bmck.view<?x5x37xbf16>) -> !bmck.view<1x5x1xbf16>
  %m1 = bmck.reduce %rd2 {kind = #bmck.reduce<mean>, axes = array<i64: 0, 2>, keepdims = true} : (!bmck.view<2x?x9xbf16>) -> !bmck.view<1x?x1xbf16>
  return
}
