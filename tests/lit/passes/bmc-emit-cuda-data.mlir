// --bmc-emit-cuda for the copying data-movement kernels: one __global__ per
// distinct configuration of bmck.concat (element width, rank, axis, inputs)
// bmck.gather (element width, data rank, index type and rank, axis) and
// bmck.copy (element width, rank), a
// thread per element of out in a grid-stride loop, elements copied as their
// bytes. concat finds the input whose window along the axis holds the
// output's index; gather wraps a negative index once (ONNX) and records one
// still out of range in the launcher's fault word, writing nothing there
// (bmc_data_index_fault, data.cuh: params fault and fault_site); copy
// reads x at out's index. The launch lines check the sizes agree (the axis:
// a sum); a whole-model program binds x0.. / data, indices / x and out and
// sizes the result (the concat's axis a sum of the inputs', a copy's x's). A copy of rank > 4 or of another element type is
// left, by that name, and a whole-model compile is refused naming it.
//
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>/dev/null | FileCheck %s
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null 2>&1 | FileCheck %s --check-prefix=LEFT
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REFUSE

// CHECK: 1 bmck.concat (1 configuration), 1 bmck.gather (1 configuration), 1 bmck.copy (1 configuration), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"concat 0: x0 of size {x0.size[0]} in dimension 0, out of {out.size[0]}","lhs":["x0.size[0]"],"rhs":["out.size[0]"]}
// CHECK-SAME: {"cmp":"==","error":"concat 0: inputs of {x0.size[2]} + {x1.size[2]} along dimension 2, out of {out.size[2]}","lhs":["x0.size[2]","x1.size[2]"],"rhs":["out.size[2]"]}]
// CHECK-SAME: "op":"bmck.concat","params":[{"from":"arg","kind":"view4","name":"x0"},{"from":"arg","kind":"view4","name":"x1"},{"from":"arg","kind":"view4","name":"out"}],"plan":{"elements":{{\[\["out.size\[0\]","out.size\[1\]","out.size\[2\]","out.size\[3\]"\]\]}},"kind":"elementwise","threads":256},"version":1}
// CHECK-NEXT: // concat 0: 2 inputs of f32 (rank 4) along axis 2 (1 op), copied as bytes. A thread per element of out, grid-stride; block BMC_EW_THREADS.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_concat_0(bmc_view4 x0, bmc_view4 x1, bmc_view4 out) {
// CHECK-NEXT:   const long long n = bmc_ew_elements(out);
// CHECK:          typedef unsigned int S;
// CHECK-NEXT:     const long long o = out.offset + i[0] * bmc_view_stride(out, 0) + i[1] * bmc_view_stride(out, 1) + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3);
// CHECK-NEXT:     long long p = i[2];
// CHECK-NEXT:     if (p < x0.size[2]) {
// CHECK-NEXT:       i[2] = p;
// CHECK-NEXT:       ((S *)out.data)[o] = ((const S *)x0.data)[x0.offset + i[0] * bmc_view_stride(x0, 0) + i[1] * bmc_view_stride(x0, 1) + i[2] * bmc_view_stride(x0, 2) + i[3] * bmc_view_stride(x0, 3)];
// CHECK-NEXT:       continue;
// CHECK-NEXT:     }
// CHECK-NEXT:     p -= x0.size[2];
// CHECK-NEXT:     i[2] = p;
// CHECK-NEXT:     ((S *)out.data)[o] = ((const S *)x1.data)[x1.offset + i[0] * bmc_view_stride(x1, 0) + i[1] * bmc_view_stride(x1, 1) + i[2] * bmc_view_stride(x1, 2) + i[3] * bmc_view_stride(x1, 3)];
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"gather 0: data of size {data.size[0]} in dimension 0, expected 1","lhs":["data.size[0]"],"rhs":[1]}
// CHECK-SAME: {"cmp":"==","error":"gather 0: out of size {out.size[1]} in dimension 1, expected {indices.size[2]} (dimension 2 of indices)","lhs":["out.size[1]"],"rhs":["indices.size[2]"]}
// CHECK-SAME: {"cmp":"==","error":"gather 0: out of size {out.size[3]} in dimension 3, expected {data.size[3]} (dimension 3 of data)","lhs":["out.size[3]"],"rhs":["data.size[3]"]}]
// CHECK-SAME: "op":"bmck.gather","params":[{"from":"arg","kind":"view4","name":"data"},{"from":"arg","kind":"view4","name":"indices"},{"from":"arg","kind":"view4","name":"out"},{"from":"fault","kind":"fault_ptr","name":"fault"},{"from":"fault","kind":"i64","name":"fault_site"}]
// CHECK-NEXT: // gather 0: f32 data (rank 2) at axis 0 by i64 indices (rank 2) (1 op), copied as bytes.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_gather_0(bmc_view4 data, bmc_view4 indices, bmc_view4 out, long long *fault, long long fault_site) {
// CHECK:          long long k = ((const long long *)indices.data)[indices.offset + i[1] * bmc_view_stride(indices, 2) + i[2] * bmc_view_stride(indices, 3)];
// CHECK-NEXT:     if (k < 0)
// CHECK-NEXT:       k += data.size[2]; // ONNX: negative indices count from the end
// CHECK-NEXT:     if (k < 0 || k >= data.size[2]) {
// CHECK-NEXT:       bmc_data_index_fault(fault, fault_site, k, data.size[2]);
// CHECK-NEXT:       continue;
// CHECK-NEXT:     }
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[1] * bmc_view_stride(out, 1) + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = ((const S *)data.data)[data.offset + k * bmc_view_stride(data, 2) + i[3] * bmc_view_stride(data, 3)];
// CHECK: // bmc-launch: {"checks":[{"cmp":"==","error":"copy 0: out of size {out.size[0]} in dimension 0, x of {x.size[0]}","lhs":["out.size[0]"],"rhs":["x.size[0]"]}
// CHECK-SAME: {"cmp":"==","error":"copy 0: out of size {out.size[3]} in dimension 3, x of {x.size[3]}","lhs":["out.size[3]"],"rhs":["x.size[3]"]}]
// CHECK-SAME: "op":"bmck.copy","params":[{"from":"arg","kind":"view4","name":"x"},{"from":"arg","kind":"view4","name":"out"}]
// CHECK-NEXT: // copy 0: f32 (rank 4) into a new row-major view (1 op), copied as bytes.
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_copy_0(bmc_view4 x, bmc_view4 out) {
// CHECK:          typedef unsigned int S;
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[0] * bmc_view_stride(out, 0) + i[1] * bmc_view_stride(out, 1) + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = ((const S *)x.data)[x.offset + i[0] * bmc_view_stride(x, 0) + i[1] * bmc_view_stride(x, 1) + i[2] * bmc_view_stride(x, 2) + i[3] * bmc_view_stride(x, 3)];
// CHECK-NEXT:   }
// CHECK-NEXT: }
// The program: x0 / x1 / out, data / indices / out and x / out bound; the concat's axis a sum, the gather's sizes the indices' then the data's, its index_bound the indices against data's dimension 0 (checked on the host where they are a fed input).
// CHECK: // bmc-program: {"constants":[],"function":"copies"
// CHECK-SAME: {"args":{"out":"v5","x0":"v3","x1":"v4"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.concat","result":{"sizes":[1,2,["v3.size[2]","v4.size[2]"],16],"slot":0,"type":"f32"},"value":"v5"}
// CHECK-SAME: {"args":{"data":"v8","indices":"v9","out":"v10"},"at":"{{[^"]*}}","config":0,"index_bound":{"indices":"v9","size":"v8.size[0]"},"kind":"launch","op":"bmck.gather","result":{"sizes":{{\[\["v9.size\[0\]"\],\["v9.size\[1\]"\],24\]}},"slot":1,"type":"f32"},"value":"v10"}
// CHECK-SAME: {"args":{"out":"v12","x":"v4"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.copy","result":{"sizes":[1,2,["v4.size[2]"],16],"slot":2,"type":"f32"},"value":"v12"}
func.func @copies(%k: tensor<1x2x?x16xf32> {bmc.name = "k"}, %n: tensor<1x2x?x16xf32> {bmc.name = "new"},
                  %ids: tensor<?x?xi64> {bmc.name = "ids"})
    -> (tensor<1x2x?x16xf32> {bmc.name = "kv"}, tensor<?x?x24xf32> {bmc.name = "emb"}, tensor<1x2x?x16xf32> {bmc.name = "copied"}) {
  %kv = bmck.to_view %k : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %nv = bmck.to_view %n : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %c = bmck.concat %kv, %nv {axis = 2 : i64} : (!bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %ct = bmck.to_tensor %c : !bmck.view<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %w = bmc.weight "table" : tensor<50x24xf32>
  %wv = bmck.to_view %w : tensor<50x24xf32> -> !bmck.view<50x24xf32>
  %iv = bmck.to_view %ids : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %g = bmck.gather %wv, %iv {axis = 0 : i64} : (!bmck.view<50x24xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x24xf32>
  %gt = bmck.to_tensor %g : !bmck.view<?x?x24xf32> -> tensor<?x?x24xf32>
  %cp = bmck.copy %nv : (!bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %cpt = bmck.to_tensor %cp : !bmck.view<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %ct, %gt, %cpt : tensor<1x2x?x16xf32>, tensor<?x?x24xf32>, tensor<1x2x?x16xf32>
}

// -----

// A gather of rank 5 with no statically-1 dimension to fold (foldedDims; the
// attention mask's, which has: bmc-emit-cuda-range.mlir), a concat of i8 and a copy of rank 5: left, by name.
// LEFT: 0 bmck.concat (0 configurations), 0 bmck.gather (0 configurations), 0 bmck.copy (0 configurations), 0 bmck.range (0 configurations), 0 bmc.check_equal (0 configurations), 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// LEFT-NEXT: // Left for the CUDA target: 3 ops without a CUDA form (bmck.concat (i8) 1, bmck.copy (rank 5) 1, bmck.gather (rank 5) 1).
// LEFT-NOT: bmc_gather_0
// REFUSE: error: the CUDA target cannot compile this model yet: 'bmck.gather (rank 5)' at {{.*}}:11:8 has no CUDA form (3 ops without one: bmck.concat (i8) 1, bmck.copy (rank 5) 1, bmck.gather (rank 5) 1)
func.func @left(%m: !bmck.view<?x?xi1>, %p: !bmck.view<?x?x?x?xi64>, %a: !bmck.view<?xi8>, %b: !bmck.view<?xi8>)
    -> (!bmck.view<?x?x?x?x?xi1>, !bmck.view<?xi8>) {
  %g = bmck.gather %m, %p {axis = 0 : i64} : (!bmck.view<?x?xi1>, !bmck.view<?x?x?x?xi64>) -> !bmck.view<?x?x?x?x?xi1>
  %c = bmck.concat %a, %b {axis = 0 : i64} : (!bmck.view<?xi8>, !bmck.view<?xi8>) -> !bmck.view<?xi8>
  %k = bmck.copy %g : (!bmck.view<?x?x?x?x?xi1>) -> !bmck.view<?x?x?x?x?xi1>
  return %k, %c : !bmck.view<?x?x?x?x?xi1>, !bmck.view<?xi8>
}
