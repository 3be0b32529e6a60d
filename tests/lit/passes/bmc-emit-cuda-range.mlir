// --bmc-emit-cuda for bmck.range and the attention mask's gather of rank 5.
// bmck.range: one __global__ per element type (i32, i64), a thread per
// element of out writing start + i * delta, the i64 arithmetic wrapping as
// the CPU's and narrowed to the element type; start and delta are i64 host
// scalars ("kind":"i64"), the length out's (whoever sizes out applies ONNX's
// rule; a delta of 0 is refused by the launch line's `!=` check). A float
// range is left, by name. The gather of a [batch*total, 1]
// bool by [batch, 1, 1, total] positions (out [batch, 1, 1, total, 1]) is
// emitted over out without its statically-1 dimensions (rank 2): the launch
// line checks the dimensions folded away are 1 where the view keeps them.
//
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=PROGRAM
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>/dev/null | FileCheck %s --check-prefix=FOLD

// CHECK: 0 bmck.concat (0 configurations), 1 bmck.gather (1 configuration), 0 bmck.copy (0 configurations), 3 bmck.range (2 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 8 ops without a CUDA form (arith.constant 7, bmck.range (f32) 1).
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"gather 0: data of size {data.size[0]} in dimension 0, expected 1","lhs":["data.size[0]"],"rhs":[1]},{"cmp":"==","error":"gather 0: data of size {data.size[1]} in dimension 1, expected 1","lhs":["data.size[1]"],"rhs":[1]},{"cmp":"==","error":"gather 0: out of size {out.size[0]} in dimension 0, expected 1","lhs":["out.size[0]"],"rhs":[1]},{"cmp":"==","error":"gather 0: out of size {out.size[1]} in dimension 1, expected 1","lhs":["out.size[1]"],"rhs":[1]},
// CHECK-SAME: {"cmp":"==","error":"gather 0: out of size {out.size[2]} in dimension 2, expected {indices.size[0]} (dimension 0 of indices)","lhs":["out.size[2]"],"rhs":["indices.size[0]"]},
// CHECK-SAME: {"cmp":"==","error":"gather 0: indices of size {indices.size[1]} in dimension 1, expected 1 (out's dimension 1 is 1)","lhs":["indices.size[1]"],"rhs":[1]},
// CHECK-SAME: {"cmp":"==","error":"gather 0: indices of size {indices.size[2]} in dimension 2, expected 1 (out's dimension 2 is 1)","lhs":["indices.size[2]"],"rhs":[1]},
// CHECK-SAME: {"cmp":"==","error":"gather 0: out of size {out.size[3]} in dimension 3, expected {indices.size[3]} (dimension 3 of indices)","lhs":["out.size[3]"],"rhs":["indices.size[3]"]},
// CHECK-SAME: {"cmp":"==","error":"gather 0: data of size {data.size[3]} in dimension 3, expected 1 (out's dimension 4 is 1)","lhs":["data.size[3]"],"rhs":[1]}]
// CHECK-NEXT: // gather 0: i1 data (rank 2) at axis 0 by i64 indices (rank 4), out of rank 5 passed as rank 2, its statically-1 dimensions removed (1 op), copied as bytes.
// CHECK:          typedef unsigned char S;
// CHECK-NEXT:     long long k = ((const long long *)indices.data)[indices.offset + i[2] * bmc_view_stride(indices, 0) + i[3] * bmc_view_stride(indices, 3)];
// CHECK:          ((S *)out.data)[out.offset + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = ((const S *)data.data)[data.offset + k * bmc_view_stride(data, 2)];
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"range 0: out of size {out.size[0]} in dimension 0, expected 1","lhs":["out.size[0]"],"rhs":[1]},{"cmp":"==","error":"range 0: out of size {out.size[1]} in dimension 1, expected 1","lhs":["out.size[1]"],"rhs":[1]},{"cmp":"==","error":"range 0: out of size {out.size[2]} in dimension 2, expected 1","lhs":["out.size[2]"],"rhs":[1]},{"cmp":"!=","error":"range 0: delta must be non-zero","lhs":["delta"],"rhs":[0]}],"config":0,"launches":[{"block":256,"grid":["plan.blocks",1,1],"kernel":"bmc_range_0","shared_bytes":0}],"op":"bmck.range",
// CHECK-SAME: "params":[{"from":"arg","kind":"i64","name":"start"},{"from":"arg","kind":"i64","name":"delta"},{"from":"arg","kind":"view4","name":"out"}],"plan":{"elements":{{\[\["out.size\[0\]","out.size\[1\]","out.size\[2\]","out.size\[3\]"\]\]}},"kind":"elementwise","threads":256},"version":1}
// CHECK-NEXT: // range 0: i64 start + i * delta (start, delta: host scalars; the length: out's) (2 ops). A thread per element of out, grid-stride; block BMC_EW_THREADS.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_range_0(long long start, long long delta, bmc_view4 out) {
// CHECK-NEXT:   const long long n = bmc_ew_elements(out);
// CHECK-NEXT:   for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
// CHECK-NEXT:        e += (long long)gridDim.x * blockDim.x) {
// CHECK-NEXT:     const unsigned long long v = (unsigned long long)start + (unsigned long long)e * (unsigned long long)delta;
// CHECK-NEXT:     ((long long *)out.data)[out.offset + e * bmc_view_stride(out, 3)] = (long long)v;
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK: // range 1: i32 start + i * delta (start, delta: host scalars; the length: out's) (1 op).
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_range_1(long long start, long long delta, bmc_view4 out) {
// CHECK:          ((int *)out.data)[out.offset + e * bmc_view_stride(out, 3)] = (int)v;
// CHECK-NOT: bmc_range_2
// PROGRAM: error: the CUDA target cannot compile this model yet: 'bmck.range (f32)' at {{.*}} has no CUDA form (8 ops without one: {{.*}}bmck.range (f32) 1{{.*}}); only {{.*}}, bmck.gather, bmck.copy, bmck.range, bmc.check_equal, bmc.constant_of_shape and bmc.gather_nd are emitted
func.func @mask_and_ranges(%m: !bmck.view<?x1xi1>, %p: !bmck.view<?x1x1x?xi64>, %n: index) {
  %g = bmck.gather %m, %p {axis = 0 : i64} : (!bmck.view<?x1xi1>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xi1>
  %s = arith.constant dense<0> : tensor<i64>
  %d = arith.constant dense<1> : tensor<i64>
  %ni = arith.index_cast %n : index to i64
  %l = tensor.from_elements %ni : tensor<i64>
  %r0 = bmck.range %s, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %r1 = bmck.range %d, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %s32 = arith.constant dense<7> : tensor<i32>
  %l32 = arith.constant dense<-2> : tensor<i32>
  %d32 = arith.constant dense<-3> : tensor<i32>
  %r2 = bmck.range %s32, %l32, %d32 : (tensor<i32>, tensor<i32>, tensor<i32>) -> !bmck.view<3xi32>
  %fs = arith.constant dense<0.5> : tensor<f32>
  %fd = arith.constant dense<0.25> : tensor<f32>
  %r3 = bmck.range %fs, %fs, %fd : (tensor<f32>, tensor<f32>, tensor<f32>) -> !bmck.view<?xf32>
  return
}

// -----

// A whole-model program sizes a range on the host (a range_length step:
// bmc-emit-cuda-program-scalar.mlir), from shape vectors the host holds; a
// start, limit or delta that is a tensor argument (device data) is refused
// with one line naming the op.
// PROGRAM: error: CUDA program @program: 'bmck.range' at {{.*}}: a start, limit or delta that is not a host shape vector (a tensor.from_elements of host scalars or an integer constant): its length would depend on device data
func.func @program(%s: tensor<i64>, %l: tensor<i64>, %d: tensor<i64>) -> !bmck.view<?xi64> {
  %r = bmck.range %s, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  return %r : !bmck.view<?xi64>
}

// -----

// A program holds a kernel result of rank > 4 at its folded sizes, as the
// kernel writes it: the gather's [?, 1, 1, ?, 1] result is [?, ?] (indices'
// dimensions 0 and 3) in the arena.
// FOLD: // gather 0: i64 data (rank 2) at axis 0 by i64 indices (rank 4), out of rank 5 passed as rank 2, its statically-1 dimensions removed (1 op), copied as bytes.
// FOLD: // bmc-program: {"constants":[],"function":"fold"
// FOLD-SAME: {"args":{"data":"v2","indices":"v3","out":"v4"},"at":"{{[^"]*}}","config":0,"index_bound":{"indices":"v3","size":"v2.size[0]"},"kind":"launch","op":"bmck.gather","result":{"sizes":{{\[\["v3.size\[0\]"\],\["v3.size\[3\]"\]\]}},"slot":0,"type":"i64"},"value":"v4"}
func.func @fold(%d: tensor<?x1xi64> {bmc.name = "d"}, %p: tensor<?x1x1x?xi64> {bmc.name = "p"}) -> (tensor<?x1x1x?x1xi64> {bmc.name = "g"}) {
  %dv = bmck.to_view %d : tensor<?x1xi64> -> !bmck.view<?x1xi64>
  %pv = bmck.to_view %p : tensor<?x1x1x?xi64> -> !bmck.view<?x1x1x?xi64>
  %g = bmck.gather %dv, %pv {axis = 0 : i64} : (!bmck.view<?x1xi64>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xi64>
  %gt = bmck.to_tensor %g : !bmck.view<?x1x1x?x1xi64> -> tensor<?x1x1x?x1xi64>
  return %gt : tensor<?x1x1x?x1xi64>
}
