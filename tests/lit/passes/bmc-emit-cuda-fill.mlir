// --bmc-emit-cuda for bmc.constant_of_shape (the static cache's mask padding,
// docs/DESIGN.md "Static caches on the device"): one __global__ per (element
// width, rank, value's bytes), a thread per element of out writing the value
// as a constant (a float by its bits, a bool as 1); equal configurations share
// a kernel. With whole-model, the program's launch step sizes out from the
// host shape vector's elements (vK[i]) and gives it a slot of the memory plan.
// A rank above 4 is left, by name.
//
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>/dev/null | FileCheck %s --check-prefix=PROGRAM
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 >/dev/null | FileCheck %s --check-prefix=REFUSE

// CHECK: 0 bmc.check_equal (0 configurations), 4 bmc.constant_of_shape (3 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 0 ops without a CUDA form.
// CHECK: "kernel":"bmc_constant_of_shape_0"{{.*}}"op":"bmc.constant_of_shape","params":[{"from":"arg","kind":"view4","name":"out"}]
// CHECK-NEXT: // constant_of_shape 0: i64 (rank 2) filled with bytes 0x0 (the shape: a host vector, out's sizes) (2 ops).
// CHECK-NEXT: extern "C" __global__ void __launch_bounds__(BMC_EW_THREADS)
// CHECK-NEXT: bmc_constant_of_shape_0(bmc_view4 out) {
// CHECK:          typedef unsigned long long S;
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = (S)0x0ull;
// CHECK: // constant_of_shape 1: f32 (rank 2) filled with bytes 0x3F000000
// CHECK:          typedef unsigned int S;
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[2] * bmc_view_stride(out, 2) + i[3] * bmc_view_stride(out, 3)] = (S)0x3F000000ull;
// CHECK: // constant_of_shape 2: i1 (rank 1) filled with bytes 0x1
// CHECK:          typedef unsigned char S;
// CHECK-NEXT:     ((S *)out.data)[out.offset + i[3] * bmc_view_stride(out, 3)] = (S)0x1ull;
// CHECK-NOT: bmc_constant_of_shape_3
// PROGRAM: "kind":"launch","op":"bmc.constant_of_shape","result":{"sizes":{{\[\["v[0-9]+\[0\]"\],\["v[0-9]+\[1\]"\]\]}},"slot":0,"type":"i64"}
// PROGRAM-SAME: "kind":"launch","op":"bmc.constant_of_shape","result":{"sizes":{{\[\["v[0-9]+\[0\]"\],\["v[0-9]+\[1\]"\]\]}},"slot":1,"type":"f32"}
// PROGRAM-SAME: "kind":"launch","op":"bmc.constant_of_shape","result":{"sizes":{{\[\["v[0-9]+\[0\]"\]\]}},"slot":2,"type":"i1"}
// REFUSE: error: the CUDA target cannot compile this model yet: 'bmc.constant_of_shape (rank 5)' at {{.*}} has no CUDA form
func.func @fills(%n: index, %k: index) {
  %ni = arith.index_cast %n : index to i64
  %ki = arith.index_cast %k : index to i64
  %s2 = tensor.from_elements %ni, %ki : tensor<2xi64>
  %z = bmc.constant_of_shape %s2 {value = 0 : i64} : (tensor<2xi64>) -> tensor<?x?xi64>
  %h = bmc.constant_of_shape %s2 {value = 5.000000e-01 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %s1 = tensor.from_elements %ni : tensor<1xi64>
  %t = bmc.constant_of_shape %s1 {value = true} : (tensor<1xi64>) -> tensor<?xi1>
  %z2 = bmc.constant_of_shape %s2 {value = 0 : i64} : (tensor<2xi64>) -> tensor<?x?xi64>
  %zv = bmck.to_view %z : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %hv = bmck.to_view %h : tensor<?x?xf32> -> !bmck.view<?x?xf32>
  %tv = bmck.to_view %t : tensor<?xi1> -> !bmck.view<?xi1>
  %z2v = bmck.to_view %z2 : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  return
}

// -----

// CHECK: 0 bmc.constant_of_shape (0 configurations), 0 bmc.gather_nd (0 configurations);
// CHECK-NEXT: // Left for the CUDA target: 1 op without a CUDA form (bmc.constant_of_shape (rank 5) 1).
func.func @rank5(%n: index) {
  %ni = arith.index_cast %n : index to i64
  %s = tensor.from_elements %ni, %ni, %ni, %ni, %ni : tensor<5xi64>
  %z = bmc.constant_of_shape %s {value = 0 : i64} : (tensor<5xi64>) -> tensor<?x?x?x?x?xi64>
  %zv = bmck.to_view %z : tensor<?x?x?x?x?xi64> -> !bmck.view<?x?x?x?x?xi64>
  return
}
