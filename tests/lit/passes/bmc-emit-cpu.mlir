// --bmc-emit-cpu, the CPU emitter (compiler/lowering, as bmc-compile runs it):
// after --bmc-pipeline each function becomes @bmc_main, loops and kernel
// calls; without it, the tensor-level op of a family that moved to the kernel
// level is refused with one line at the op (run --bmc-lower-to-kernels first).
// One op of each family: elementwise, the KV cache, attention, the matrix
// products, norms, softmax, reductions, data movement.
// RUN: bmc-opt %s --split-input-file --bmc-pipeline --bmc-emit-cpu 2>/dev/null | FileCheck %s --implicit-check-not=bmc. --implicit-check-not=bmck.
// RUN: bmc-opt %s --split-input-file --verify-diagnostics --bmc-emit-cpu -o /dev/null

// CHECK: func.func @bmc_main
// CHECK: arith.addf
func.func @main(%x: tensor<3x5xf32>, %y: tensor<3x5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.add' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %0 = bmc.add %x, %y : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// CHECK: KV append: the new rows' batch is {0}, expected {1} (the cache's)
// CHECK: func.func @bmc_main
// CHECK: call @bmc_rt_copy4
func.func @main(%kc: !bmc.kv_cache<2x16xf32>, %nk: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.kv_append' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %k = bmc.kv_append %kc, %nk : (!bmc.kv_cache<2x16xf32>, tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32>
  return %k : tensor<1x2x?x16xf32>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: call @bmc_rt_attention
func.func @main(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x7x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.attention' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %o = bmc.attention %q, %k, %k {scale = 0.25 : f32}
      : (tensor<1x4x3x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x16xf32>) -> tensor<1x4x3x16xf32>
  return %o : tensor<1x4x3x16xf32>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: call @bmc_matmul
func.func @main(%a: tensor<3x5xf32>, %b: tensor<5x7xf32>) -> tensor<3x7xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.matmul' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %0 = bmc.matmul %a, %b : (tensor<3x5xf32>, tensor<5x7xf32>) -> tensor<3x7xf32>
  return %0 : tensor<3x7xf32>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: math.sqrt
func.func @main(%x: tensor<3x5xf32>, %g: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.rms_norm' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %0 = bmc.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: math.exp
func.func @main(%x: tensor<3x5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.softmax' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %0 = bmc.softmax %x {axis = 1 : i64} : (tensor<3x5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: arith.divsi
func.func @main(%x: tensor<3x5x7xi64>) -> tensor<3x7xi64> {
  // expected-error @+1 {{bmc code generation: 'bmc.reduce_mean' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %0 = bmc.reduce_mean %x {axes = array<i64: 1>, keepdims = false} : (tensor<3x5x7xi64>) -> tensor<3x7xi64>
  return %0 : tensor<3x7xi64>
}

// -----

// CHECK: func.func @bmc_main
// CHECK: scf.for
func.func @main(%w: tensor<50x12xf32>, %ids: tensor<2x3xi64>) -> tensor<2x3x12xf32> {
  // expected-error @+1 {{bmc code generation: 'bmc.gather' is emitted in its kernel-level form only (run --bmc-lower-to-kernels first)}}
  %e = bmc.gather %w, %ids {axis = 0 : i64} : (tensor<50x12xf32>, tensor<2x3xi64>) -> tensor<2x3x12xf32>
  return %e : tensor<2x3x12xf32>
}
