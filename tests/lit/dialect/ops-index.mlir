// Round trip of the indexing ops (BmcOps.td: gather_nd, scatter_nd, nonzero, cumsum).
// RUN: bmc-opt %s | bmc-opt | FileCheck %s

// CHECK-LABEL: func.func @index
func.func @index(%x: tensor<?x?x8xf32>, %i: tensor<?x2xi64>, %b: tensor<3x5x7xi64>, %bi: tensor<3x2x1xi64>,
                 %u: tensor<?x8xf32>, %m: tensor<?x?xi64>) -> () {
  // CHECK: bmc.gather_nd %{{.*}}, %{{.*}} {batch_dims = 0 : i64} : (tensor<?x?x8xf32>, tensor<?x2xi64>) -> tensor<?x8xf32>
  %0 = bmc.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<?x?x8xf32>, tensor<?x2xi64>) -> tensor<?x8xf32>
  // CHECK: bmc.gather_nd %{{.*}}, %{{.*}} {batch_dims = 1 : i64} : (tensor<3x5x7xi64>, tensor<3x2x1xi64>) -> tensor<3x2x7xi64>
  %1 = bmc.gather_nd %b, %bi {batch_dims = 1 : i64} : (tensor<3x5x7xi64>, tensor<3x2x1xi64>) -> tensor<3x2x7xi64>
  // CHECK: bmc.scatter_nd %{{.*}}, %{{.*}}, %{{.*}} {reduction = "add"} : (tensor<?x?x8xf32>, tensor<?x2xi64>, tensor<?x8xf32>) -> tensor<?x?x8xf32>
  %2 = bmc.scatter_nd %x, %i, %u {reduction = "add"} : (tensor<?x?x8xf32>, tensor<?x2xi64>, tensor<?x8xf32>) -> tensor<?x?x8xf32>
  // CHECK: bmc.cumsum %{{.*}} {axis = 1 : i64, exclusive = false, reverse = true} : (tensor<?x?xi64>) -> tensor<?x?xi64>
  %3 = bmc.cumsum %m {axis = 1 : i64, exclusive = false, reverse = true} : (tensor<?x?xi64>) -> tensor<?x?xi64>
  // CHECK: bmc.nonzero %{{.*}} : (tensor<?x?x8xf32>) -> tensor<3x?xi64>
  %4 = bmc.nonzero %x : (tensor<?x?x8xf32>) -> tensor<3x?xi64>
  return
}
