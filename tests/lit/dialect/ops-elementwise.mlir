// Round trip of the elementwise ops (BmcOps.td, "Elementwise").
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @binary_arith
// CHECK-SAME: (%[[A:.*]]: tensor<?x1x96xf32>, %[[B:.*]]: tensor<96xf32>)
func.func @binary_arith(%a: tensor<?x1x96xf32>, %b: tensor<96xf32>) -> tensor<?x1x96xf32> {
  // CHECK: %[[ADD:.*]] = bmc.add %[[A]], %[[B]] : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  // CHECK: %[[SUB:.*]] = bmc.sub %[[ADD]], %[[B]] : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  // CHECK: %[[MUL:.*]] = bmc.mul %[[B]], %[[SUB]] : (tensor<96xf32>, tensor<?x1x96xf32>) -> tensor<?x1x96xf32>
  // CHECK: %[[DIV:.*]] = bmc.div %[[MUL]], %[[A]] : (tensor<?x1x96xf32>, tensor<?x1x96xf32>) -> tensor<?x1x96xf32>
  // CHECK: %[[MIN:.*]] = bmc.min %[[DIV]], %[[B]] : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  // CHECK: %[[MAX:.*]] = bmc.max %[[MIN]], %[[B]] : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  // CHECK: return %[[MAX]]
  %0 = bmc.add %a, %b : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  %1 = bmc.sub %0, %b : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  %2 = bmc.mul %b, %1 : (tensor<96xf32>, tensor<?x1x96xf32>) -> tensor<?x1x96xf32>
  %3 = bmc.div %2, %a : (tensor<?x1x96xf32>, tensor<?x1x96xf32>) -> tensor<?x1x96xf32>
  %4 = bmc.min %3, %b : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  %5 = bmc.max %4, %b : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
  return %5 : tensor<?x1x96xf32>
}

// Dynamic dimensions broadcast against 1 and against static sizes; the
// result keeps whatever is known.
// CHECK-LABEL: func.func @broadcast_dynamic
func.func @broadcast_dynamic(%a: tensor<?x1x?x?xf32>, %b: tensor<?x6x?x8xf32>, %s: tensor<f32>) -> (tensor<?x6x?x8xf32>, tensor<?x1x?x?xf32>) {
  // CHECK: bmc.add %{{.*}}, %{{.*}} : (tensor<?x1x?x?xf32>, tensor<?x6x?x8xf32>) -> tensor<?x6x?x8xf32>
  %0 = bmc.add %a, %b : (tensor<?x1x?x?xf32>, tensor<?x6x?x8xf32>) -> tensor<?x6x?x8xf32>
  // CHECK: bmc.mul %{{.*}}, %{{.*}} : (tensor<f32>, tensor<?x1x?x?xf32>) -> tensor<?x1x?x?xf32>
  %1 = bmc.mul %s, %a : (tensor<f32>, tensor<?x1x?x?xf32>) -> tensor<?x1x?x?xf32>
  return %0, %1 : tensor<?x6x?x8xf32>, tensor<?x1x?x?xf32>
}

// A declared result may be less static than the inferred one.
// CHECK-LABEL: func.func @result_less_static
func.func @result_less_static(%a: tensor<2x3xf32>) -> tensor<?x?xf32> {
  // CHECK: bmc.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<?x?xf32>
  %0 = bmc.add %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @pow_mod
func.func @pow_mod(%a: tensor<?x96xf32>, %e: tensor<f32>, %ie: tensor<i64>, %i: tensor<?x4xi64>, %j: tensor<4xi64>) -> () {
  // CHECK: bmc.pow %{{.*}}, %{{.*}} : (tensor<?x96xf32>, tensor<f32>) -> tensor<?x96xf32>
  %0 = bmc.pow %a, %e : (tensor<?x96xf32>, tensor<f32>) -> tensor<?x96xf32>
  // The exponent may have another element type.
  // CHECK: bmc.pow %{{.*}}, %{{.*}} : (tensor<?x96xf32>, tensor<i64>) -> tensor<?x96xf32>
  %1 = bmc.pow %a, %ie : (tensor<?x96xf32>, tensor<i64>) -> tensor<?x96xf32>
  // CHECK: bmc.mod %{{.*}}, %{{.*}} : (tensor<?x4xi64>, tensor<4xi64>) -> tensor<?x4xi64>
  %2 = bmc.mod %i, %j : (tensor<?x4xi64>, tensor<4xi64>) -> tensor<?x4xi64>
  // CHECK: bmc.mod %{{.*}}, %{{.*}} {fmod = true} : (tensor<?x96xf32>, tensor<f32>) -> tensor<?x96xf32>
  %3 = bmc.mod %a, %e {fmod = true} : (tensor<?x96xf32>, tensor<f32>) -> tensor<?x96xf32>
  // fmod = false is the default and is not printed.
  // CHECK: bmc.mod %{{.*}}, %{{.*}} : (tensor<?x4xi64>, tensor<?x4xi64>) -> tensor<?x4xi64>
  %4 = bmc.mod %i, %i {fmod = false} : (tensor<?x4xi64>, tensor<?x4xi64>) -> tensor<?x4xi64>
  return
}

// Comparisons produce i1; logical ops take and produce i1.
// CHECK-LABEL: func.func @compare_logical
func.func @compare_logical(%a: tensor<1x1x1x?xi64>, %b: tensor<1x1x?x1xi64>, %c: tensor<?x1x?x?xi1>, %d: tensor<i1>) -> () {
  // CHECK: bmc.equal %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %0 = bmc.equal %a, %b : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // CHECK: bmc.less %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %1 = bmc.less %a, %b : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // CHECK: bmc.less_equal %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %2 = bmc.less_equal %a, %b : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // CHECK: bmc.greater %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %3 = bmc.greater %a, %b : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // CHECK: bmc.greater_equal %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %4 = bmc.greater_equal %a, %b : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // CHECK: bmc.and %{{.*}}, %{{.*}} : (tensor<?x1x?x?xi1>, tensor<1x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %5 = bmc.and %c, %0 : (tensor<?x1x?x?xi1>, tensor<1x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  // CHECK: bmc.or %{{.*}}, %{{.*}} : (tensor<i1>, tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %6 = bmc.or %d, %c : (tensor<i1>, tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  // CHECK: bmc.xor %{{.*}}, %{{.*}} : (tensor<?x1x?x?xi1>, tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %7 = bmc.xor %c, %c : (tensor<?x1x?x?xi1>, tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  // CHECK: bmc.not %{{.*}} : (tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %8 = bmc.not %c : (tensor<?x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  return
}

// CHECK-LABEL: func.func @unary
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x96xf32>, %[[I:.*]]: tensor<?x4xi64>)
func.func @unary(%x: tensor<?x?x96xf32>, %i: tensor<?x4xi64>) -> () {
  // CHECK: bmc.neg %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %0 = bmc.neg %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.neg %[[I]] : (tensor<?x4xi64>) -> tensor<?x4xi64>
  %1 = bmc.neg %i : (tensor<?x4xi64>) -> tensor<?x4xi64>
  // CHECK: bmc.abs %[[I]] : (tensor<?x4xi64>) -> tensor<?x4xi64>
  %2 = bmc.abs %i : (tensor<?x4xi64>) -> tensor<?x4xi64>
  // CHECK: bmc.exp %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %3 = bmc.exp %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.log %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %4 = bmc.log %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.sqrt %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %5 = bmc.sqrt %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.reciprocal %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %6 = bmc.reciprocal %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.tanh %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %7 = bmc.tanh %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.erf %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %8 = bmc.erf %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.sigmoid %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %9 = bmc.sigmoid %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.relu %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %10 = bmc.relu %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.cos %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %11 = bmc.cos %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.sin %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %12 = bmc.sin %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.floor %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %13 = bmc.floor %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.ceil %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %14 = bmc.ceil %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.sign %[[I]] : (tensor<?x4xi64>) -> tensor<?x4xi64>
  %15 = bmc.sign %i : (tensor<?x4xi64>) -> tensor<?x4xi64>
  // CHECK: bmc.softplus %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %16 = bmc.softplus %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.leaky_relu %[[X]] {alpha = 1.000000e-01 : f32} : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %17 = bmc.leaky_relu %x {alpha = 0.1 : f32} : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.gelu %[[X]] : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %18 = bmc.gelu %x : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: bmc.gelu %[[X]] {tanh_approximation = true} : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %19 = bmc.gelu %x {tanh_approximation = true} : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return
}

// CHECK-LABEL: func.func @cast
func.func @cast(%i: tensor<?x?xi64>, %f: tensor<2x?xf32>) -> () {
  // CHECK: bmc.cast %{{.*}} {to = f32} : (tensor<?x?xi64>) -> tensor<?x?xf32>
  %0 = bmc.cast %i {to = f32} : (tensor<?x?xi64>) -> tensor<?x?xf32>
  // CHECK: bmc.cast %{{.*}} {to = i1} : (tensor<?x?xi64>) -> tensor<?x?xi1>
  %1 = bmc.cast %i {to = i1} : (tensor<?x?xi64>) -> tensor<?x?xi1>
  // CHECK: bmc.cast %{{.*}} {to = f16} : (tensor<2x?xf32>) -> tensor<2x?xf16>
  %2 = bmc.cast %f {to = f16} : (tensor<2x?xf32>) -> tensor<2x?xf16>
  // CHECK: bmc.cast %{{.*}} {to = ui8} : (tensor<2x?xf32>) -> tensor<2x?xui8>
  %3 = bmc.cast %f {to = ui8} : (tensor<2x?xf32>) -> tensor<2x?xui8>
  return
}

// Either bound of a clip may be absent.
// CHECK-LABEL: func.func @clip
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[LO:.*]]: tensor<f32>, %[[HI:.*]]: tensor<f32>)
func.func @clip(%x: tensor<?x4xf32>, %lo: tensor<f32>, %hi: tensor<f32>) -> () {
  // CHECK: bmc.clip %[[X]] min %[[LO]] max %[[HI]] : (tensor<?x4xf32>, tensor<f32>, tensor<f32>) -> tensor<?x4xf32>
  %0 = bmc.clip %x min %lo max %hi : (tensor<?x4xf32>, tensor<f32>, tensor<f32>) -> tensor<?x4xf32>
  // CHECK: bmc.clip %[[X]] min %[[LO]] : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %1 = bmc.clip %x min %lo : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  // CHECK: bmc.clip %[[X]] max %[[HI]] : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %2 = bmc.clip %x max %hi : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  // CHECK: bmc.clip %[[X]] : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %3 = bmc.clip %x : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return
}

// CHECK-LABEL: func.func @where
func.func @where(%c: tensor<?x1x?x?xi1>, %x: tensor<f32>, %y: tensor<f32>, %z: tensor<?x4x?x1xf32>) -> () {
  // CHECK: bmc.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32>
  %0 = bmc.where %c, %x, %y : (tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32>
  // CHECK: bmc.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x1x?x?xi1>, tensor<?x4x?x1xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %1 = bmc.where %c, %z, %y : (tensor<?x1x?x?xi1>, tensor<?x4x?x1xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  return
}
