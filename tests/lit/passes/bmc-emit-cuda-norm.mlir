// --bmc-emit-cuda for the row kernels: one __global__ per distinct bmck.norm
// configuration (kind, element type, bias or not, epsilon) and bmck.softmax
// configuration (element type, log), a block per row (grid: dims 2, 1, 0 of
// the view, rank < 4 padded with leading 1s), each calling bmc_norm_view_row
// / bmc_softmax_view_row (norm.cuh) with its constants compiled in; ops sharing
// a configuration share the kernel. The launch line checks out's sizes
// against x's, the broadcast of scale and bias, and the grid limits.
// bmck.reduce is emitted too (bmc-emit-cuda-elementwise.mlir has its float
// kernel text; the i64 sum's is below); an unsigned one is counted as left by
// that name.
//
// RUN: bmc-opt %s --bmc-emit-cuda -o /dev/null | FileCheck %s

// CHECK: // Kernel ops: 0 bmck.kv_append (0 configurations), 0 bmck.attention (0 configurations), 0 bmck.matmul (0 configurations), 0 bmck.gemm (0 configurations), 4 bmck.norm (3 configurations), 3 bmck.softmax (2 configurations), 0 bmck.elementwise (0 configurations), 2 bmck.reduce (2 configurations), 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 1 op without a CUDA form (bmck.reduce (ui32) 1).

// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"norm 0 (rms, f32): out of size {out.size[0]} in dimension 0, x of {x.size[0]}","lhs":["out.size[0]"],"rhs":["x.size[0]"]},
// CHECK-SAME: {"cmp":"bcast","error":"norm 0 (rms, f32): scale of {scale.size[3]} elements, expected 1 or {x.size[3]}","lhs":["scale.size[3]"],"rhs":["x.size[3]"]},
// CHECK-SAME: {"cmp":"<=","error":"norm 0 (rms, f32): x.size[0] = {x.size[0]} > 65535 (grid z)","lhs":["x.size[0]"],"rhs":[65535]}
// CHECK-SAME: "launches":[{"block":256,"grid":["x.size[2]","x.size[1]","x.size[0]"],"kernel":"bmc_norm_0","shared_bytes":0}],"op":"bmck.norm","params":[{"from":"arg","kind":"view4","name":"x"},{"from":"arg","kind":"view4","name":"scale"},{"from":"arg","kind":"view4","name":"out"}],"version":1}
// CHECK-NEXT: // norm 0: rms, f32, no bias, epsilon 0x1.0c6f7ap-20f, the last dimension (2 ops).
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_NORM_THREADS)
// CHECK-NEXT: bmc_norm_0(bmc_view4 x, bmc_view4 scale, bmc_view4 out) {
// CHECK-NEXT:   bmc_norm_view_row<bmc_f32, true>(x, scale, 0, out, 0x1.0c6f7ap-20f);
// CHECK-NEXT: }
// CHECK: "params":[{"from":"arg","kind":"view4","name":"x"},{"from":"arg","kind":"view4","name":"scale"},{"from":"arg","kind":"view4","name":"bias"},{"from":"arg","kind":"view4","name":"out"}]
// CHECK-NEXT: // norm 1: layer, f32, bias, epsilon 0x1.4f8b58p-17f, the last dimension (1 op).
// CHECK: bmc_norm_1(bmc_view4 x, bmc_view4 scale, bmc_view4 bias, bmc_view4 out) {
// CHECK-NEXT:   bmc_norm_view_row<bmc_f32, false>(x, scale, &bias, out, 0x1.4f8b58p-17f);
// CHECK: // norm 2: rms, bf16, no bias, epsilon 0x1.0c6f7ap-20f
// CHECK: bmc_norm_view_row<bmc_bf16, true>(x, scale, 0, out, 0x1.0c6f7ap-20f);
// CHECK: "op":"bmck.softmax","params":[{"from":"arg","kind":"view4","name":"x"},{"from":"arg","kind":"view4","name":"out"}],"version":1}
// CHECK-NEXT: // softmax 0: f32, the last dimension (2 ops).
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_NORM_THREADS)
// CHECK-NEXT: bmc_softmax_0(bmc_view4 x, bmc_view4 out) {
// CHECK-NEXT:   bmc_softmax_view_row<bmc_f32, false>(x, out);
// CHECK: // softmax 1: f16, log-softmax, the last dimension (1 op).
// CHECK: bmc_softmax_view_row<bmc_f16, true>(x, out);
// CHECK-NOT: bmc_norm_3
// CHECK-NOT: bmc_softmax_2

// The i64 sum (the genai mask's ReduceSum): wrapping integer arithmetic, a
// shared-memory tree (bmc_block_reduce_int), the element type's own store.
// CHECK: // reduce 1: sum of i64 (rank 2) over axes [1], wrapping integer arithmetic (1 op).
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_reduce_1(bmc_view4 x, bmc_view4 out) {
// CHECK-NEXT:   __shared__ long long scratch[BMC_EW_THREADS];
// CHECK-NEXT:   typedef long long S;
// CHECK:   long long acc = bmc_reduce_int_identity<0, S>();
// CHECK:     acc = bmc_reduce_int_combine<0>(acc, (long long)((const S *)x.data)[x.offset + i[2] * bmc_view_stride(x, 2) + i[3] * bmc_view_stride(x, 3)]);
// CHECK:   acc = bmc_block_reduce_int<0>(acc, scratch);
// CHECK-NEXT:   if (threadIdx.x == 0)
// CHECK-NEXT:     ((S *)out.data)[out.offset + k[2] * bmc_view_stride(out, 3)] = (S)acc;
// CHECK-NOT: bmc_reduce_2
func.func @rows(%x: !bmck.view<?x?x64xf32>, %g: !bmck.view<64xf32>, %y: !bmck.view<?x37xf32>, %b: !bmck.view<37xf32>,
                %h: !bmck.view<?x2x3x37xbf16>, %hg: !bmck.view<37xbf16>, %s: !bmck.view<?x4x?x?xf32>, %t: !bmck.view<9xf16>,
                %n: !bmck.view<?x5xi64>, %u: !bmck.view<?x5xui32>) {
  %0 = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-6 : f32}
      : (!bmck.view<?x?x64xf32>, !bmck.view<64xf32>) -> !bmck.view<?x?x64xf32>
  %1 = bmck.norm %0, %g {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-6 : f32}
      : (!bmck.view<?x?x64xf32>, !bmck.view<64xf32>) -> !bmck.view<?x?x64xf32>
  %2 = bmck.norm %y, %b, %b {kind = #bmck.norm<layer>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x37xf32>, !bmck.view<37xf32>, !bmck.view<37xf32>) -> !bmck.view<?x37xf32>
  %3 = bmck.norm %h, %hg {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-6 : f32}
      : (!bmck.view<?x2x3x37xbf16>, !bmck.view<37xbf16>) -> !bmck.view<?x2x3x37xbf16>
  %4 = bmck.softmax %s {axis = 3 : i64} : (!bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x?xf32>
  %5 = bmck.softmax %4 {axis = 3 : i64} : (!bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x?xf32>
  %6 = bmck.softmax %t {axis = 0 : i64, log = true} : (!bmck.view<9xf16>) -> !bmck.view<9xf16>
  %7 = bmck.reduce %t {kind = #bmck.reduce<max>, axes = array<i64>, keepdims = false} : (!bmck.view<9xf16>) -> !bmck.view<f16>
  %8 = bmck.reduce %n {kind = #bmck.reduce<sum>, axes = array<i64: 1>, keepdims = false} : (!bmck.view<?x5xi64>) -> !bmck.view<?xi64>
  %9 = bmck.reduce %u {kind = #bmck.reduce<sum>, axes = array<i64: 1>, keepdims = false} : (!bmck.view<?x5xui32>) -> !bmck.view<?xui32>
  return
}
