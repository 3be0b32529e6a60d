// --bmc-emit-cuda for bmc.gather_nd (batch_dims 0; the static cache's
// attention_mask[batch_idx, kv_idx], docs/DESIGN.md "Static caches on the
// device"): a thread per element of out reads its index tuple (indices' last
// dimension, static, checked by the launch line), wraps negative indices as
// ONNX's and records one still out of range in the launcher's fault word (as
// bmck.gather: data.cuh), writing nothing there; out = indices.shape[:-1] ++ data.shape[q:], each dimension
// checked against its source. batch_dims > 0 and ranks above 4 are left, by
// name. With whole-model, the program sizes out the same way.
//
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>/dev/null | FileCheck %s --check-prefix=PROGRAM
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 >/dev/null | FileCheck %s --check-prefix=REFUSE

// CHECK: 0 bmc.constant_of_shape (0 configurations), 1 bmc.gather_nd (1 configuration);
// CHECK-NEXT: // Left for the CUDA target: 0 ops without a CUDA form.
// CHECK: {"cmp":"==","error":"gather_nd 0: indices of size {indices.size[3]} in dimension 3, expected 2 (the index tuple)","lhs":["indices.size[3]"],"rhs":[2]}
// CHECK-SAME: {"cmp":"==","error":"gather_nd 0: out of size {out.size[2]} in dimension 2, expected {indices.size[1]} (dimension 1 of indices)","lhs":["out.size[2]"],"rhs":["indices.size[1]"]}
// CHECK-SAME: {"cmp":"==","error":"gather_nd 0: out of size {out.size[3]} in dimension 3, expected {indices.size[2]} (dimension 2 of indices)","lhs":["out.size[3]"],"rhs":["indices.size[2]"]}
// CHECK-SAME: "op":"bmc.gather_nd","params":[{"from":"arg","kind":"view4","name":"data"},{"from":"arg","kind":"view4","name":"indices"},{"from":"arg","kind":"view4","name":"out"},{"from":"fault","kind":"fault_ptr","name":"fault"},{"from":"fault","kind":"i64","name":"fault_site"}]
// CHECK-NEXT: // gather_nd 0: i1 data (rank 2) by i64 index tuples of 2 (indices rank 3) (1 op), copied as bytes.
// CHECK:          long long k0 = ((const long long *)indices.data)[indices.offset + i[2] * bmc_view_stride(indices, 1) + i[3] * bmc_view_stride(indices, 2)];
// CHECK-NEXT:     if (k0 < 0)
// CHECK-NEXT:       k0 += data.size[2]; // ONNX: negative indices count from the end
// CHECK-NEXT:     if (k0 < 0 || k0 >= data.size[2]) {
// CHECK-NEXT:       bmc_data_index_fault(fault, fault_site, k0, data.size[2]);
// CHECK:          long long k1 = ((const long long *)indices.data)[indices.offset + i[2] * bmc_view_stride(indices, 1) + i[3] * bmc_view_stride(indices, 2) + 1 * bmc_view_stride(indices, 3)];
// CHECK:          if (!inRange)
// CHECK-NEXT:       continue;
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = ((const S *)data.data)[data.offset + k0 * bmc_view_stride(data, 2) + k1 * bmc_view_stride(data, 3)];
// PROGRAM: "kind":"launch","op":"bmc.gather_nd","result":{"sizes":{{\[\["v1.size\[0\]"\],\["v1.size\[1\]"\]\]}},"slot":0,"type":"i1"}
func.func @mask(%m: tensor<?x?xi1>, %t: tensor<?x?x2xi64>) {
  %p = bmc.gather_nd %m, %t {batch_dims = 0 : i64} : (tensor<?x?xi1>, tensor<?x?x2xi64>) -> tensor<?x?xi1>
  %pv = bmck.to_view %p : tensor<?x?xi1> -> !bmck.view<?x?xi1>
  return
}

// -----

// CHECK: 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 1 op without a CUDA form (bmc.gather_nd (batch_dims 1) 1).
// REFUSE: error: the CUDA target cannot compile this model yet: 'bmc.gather_nd (batch_dims 1)' at {{.*}} has no CUDA form
func.func @batched(%x: tensor<?x5x3xf32>, %t: tensor<?x1xi64>) {
  %g = bmc.gather_nd %x, %t {batch_dims = 1 : i64} : (tensor<?x5x3xf32>, tensor<?x1xi64>) -> tensor<?x3xf32>
  %gv = bmck.to_view %g : tensor<?x3xf32> -> !bmck.view<?x3xf32>
  return
}
