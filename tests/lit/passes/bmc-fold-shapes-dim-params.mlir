// --bmc-fold-shapes: graph input dims that share an ONNX dim_param (the
// importer's bmc.dims) are one symbol, read once from the first input that
// names them; dims without a name ("") stay distinct. Every tensor.dim in the
// output is matched below (implicit-check-not): none reads %pos, none reads
// the batch of %mask.
// RUN: bmc-opt %s --bmc-fold-shapes --canonicalize --cse | FileCheck %s --implicit-check-not=tensor.dim

// CHECK-LABEL: func.func @dim_params
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<?x?xi64> {{.*}}, %[[POS:[^:]*]]: tensor<?x?xi64> {{.*}}, %[[MASK:[^:]*]]: tensor<?x?xi64> {{.*}}, %[[X:[^:]*]]: tensor<?xf32> {{.*}}, %[[Y:[^:]*]]: tensor<?xf32> {{.*}})
// CHECK-DAG: %[[I0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[I1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[YD:.*]] = tensor.dim %[[Y]], %[[I0]] : tensor<?xf32>
// CHECK-DAG: %[[XD:.*]] = tensor.dim %[[X]], %[[I0]] : tensor<?xf32>
// CHECK-DAG: %[[TOTAL:.*]] = tensor.dim %[[MASK]], %[[I1]] : tensor<?x?xi64>
// CHECK-DAG: %[[SEQ:.*]] = tensor.dim %[[IDS]], %[[I1]] : tensor<?x?xi64>
// CHECK-DAG: %[[BATCH:.*]] = tensor.dim %[[IDS]], %[[I0]] : tensor<?x?xi64>
// CHECK-DAG: %[[B:.*]] = arith.index_cast %[[BATCH]] : index to i64
// CHECK-DAG: %[[S:.*]] = arith.index_cast %[[SEQ]] : index to i64
// CHECK-DAG: %[[T:.*]] = arith.index_cast %[[TOTAL]] : index to i64
// CHECK-DAG: %[[XI:.*]] = arith.index_cast %[[XD]] : index to i64
// CHECK-DAG: %[[YI:.*]] = arith.index_cast %[[YD]] : index to i64
// CHECK: %[[ALL:.*]] = tensor.from_elements %[[B]], %[[S]], %[[B]], %[[S]], %[[B]], %[[T]], %[[XI]], %[[YI]] : tensor<8xi64>
// CHECK: return %[[ALL]]

func.func @dim_params(%ids: tensor<?x?xi64> {bmc.dims = ["batch", "seq"]},
                      %pos: tensor<?x?xi64> {bmc.dims = ["batch", "seq"]},
                      %mask: tensor<?x?xi64> {bmc.dims = ["batch", "total"]},
                      %x: tensor<?xf32> {bmc.dims = [""]}, %y: tensor<?xf32> {bmc.dims = [""]}) -> tensor<8xi64> {
  %sp = bmc.shape %pos {end = 2 : i64, start = 0 : i64} : (tensor<?x?xi64>) -> tensor<2xi64>
  %si = bmc.shape %ids {end = 2 : i64, start = 0 : i64} : (tensor<?x?xi64>) -> tensor<2xi64>
  %sm = bmc.shape %mask {end = 2 : i64, start = 0 : i64} : (tensor<?x?xi64>) -> tensor<2xi64>
  %sx = bmc.shape %x {end = 1 : i64, start = 0 : i64} : (tensor<?xf32>) -> tensor<1xi64>
  %sy = bmc.shape %y {end = 1 : i64, start = 0 : i64} : (tensor<?xf32>) -> tensor<1xi64>
  %all = bmc.concat %sp, %si, %sm, %sx, %sy {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<8xi64>
  return %all : tensor<8xi64>
}
