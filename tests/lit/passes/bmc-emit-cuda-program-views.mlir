// --bmc-emit-cuda with whole-model: transpose, reshape and flatten as view
// steps of the bmc-program line (docs/DESIGN.md, "CUDA programs"; the host
// evaluates them, runtime/device/DeviceProgramView.cpp): a transpose with
// its `perm`, a reshape with its `shape` (a shape step: a constant's or
// tensor.from_elements' numbers) and `allowzero`, a flatten with its `axis`.
// A reshape or flatten of a kernel result of rank 5 reads it as its slot
// holds it (`held`: the dimensions kept, of its type's `in_dims`, the
// gather's sizes folded the same way); a transpose of rank 5, or a reshape
// of a rank-5 value no kernel wrote, is one error and nothing is written.
//
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2> /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 > /dev/null | FileCheck %s --check-prefix=ERR

// CHECK-LABEL: // bmc-program: {"constants":[],"function":"layout"
// CHECK-SAME: "steps":[{"kind":"view","of":"v0","value":"v2"},{"elements":[0,0,3,-1],"kind":"shape","value":"v3"}
// CHECK-SAME: {"allowzero":false,"at":"{{[^"]*}}bmc-emit-cuda-program-views.mlir{{[^"]*}}","dims":[-1,-1,3,5],"kind":"view","of":"v2","op":"reshape","shape":"v3","value":"v4"}
// CHECK-SAME: {"at":"{{[^"]*}}","dims":[-1,3,-1,5],"kind":"view","of":"v4","op":"transpose","perm":[0,2,1,3],"value":"v5"}
// CHECK-SAME: {"args":{"out":"v6","x":"v5"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.copy","result":{"sizes":{{.}}["v5.size[0]"],3,["v5.size[2]"],5],"slot":0,"type":"f32"},"value":"v6"}
// CHECK-SAME: {"const":0,"kind":"scalar","op":"const","value":"v7"},{"elements":["v1","v7"],"kind":"shape","value":"v8"}
// CHECK-SAME: {"allowzero":true,"at":"{{[^"]*}}","dims":[-1,-1],"kind":"view","of":"v6","op":"reshape","shape":"v8","value":"v9"}
// CHECK-SAME: {"at":"{{[^"]*}}","axis":1,"dims":[-1,-1],"kind":"view","of":"v6","op":"flatten","value":"v10"}
func.func @layout(%x: tensor<?x?x15xf32> {bmc.name = "x"}, %n: index {bmc.name = "n"})
    -> (tensor<?x?xf32> {bmc.name = "rows"}, tensor<?x?xf32> {bmc.name = "flat"}) {
  %xv = bmck.to_view %x : tensor<?x?x15xf32> -> !bmck.view<?x?x15xf32>
  %s = arith.constant dense<[0, 0, 3, -1]> : tensor<4xi64>
  %r = bmck.reshape %xv, %s : (!bmck.view<?x?x15xf32>, tensor<4xi64>) -> !bmck.view<?x?x3x5xf32>
  %t = bmck.transpose %r {perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x3x5xf32>) -> !bmck.view<?x3x?x5xf32>
  %c = bmck.copy %t : (!bmck.view<?x3x?x5xf32>) -> !bmck.view<?x3x?x5xf32>
  %c0 = arith.constant 0 : index
  %s2 = tensor.from_elements %n, %c0 : tensor<2xindex>
  %rows = bmck.reshape %c, %s2 {allowzero = true} : (!bmck.view<?x3x?x5xf32>, tensor<2xindex>) -> !bmck.view<?x?xf32>
  %flat = bmck.flatten %c {axis = 1 : i64} : (!bmck.view<?x3x?x5xf32>) -> !bmck.view<?x?xf32>
  %t0 = bmck.to_tensor %rows : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  %t1 = bmck.to_tensor %flat : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  return %t0, %t1 : tensor<?x?xf32>, tensor<?x?xf32>
}

// -----

// The mask's gather: out [?, 1, 1, ?, 1] written at [?, ?] (its launch's
// sizes), read through seams by a reshape and directly by a flatten.
// CHECK-LABEL: // bmc-program: {"constants":[],"function":"held"
// CHECK-SAME: "op":"bmck.gather","result":{"sizes":{{.}}["v3.size[0]"],["v3.size[3]"]],"slot":0,"type":"i1"},"value":"v4"}
// CHECK-SAME: {"elements":[-1],"kind":"shape","value":"v7"}
// CHECK-SAME: {"allowzero":false,"at":"{{[^"]*}}","dims":[-1],"held":[0,3],"in_dims":[-1,1,1,-1,1],"kind":"view","of":"v6","op":"reshape","shape":"v7","value":"v8"}
// CHECK-SAME: {"at":"{{[^"]*}}","axis":3,"dims":[-1,-1],"held":[0,3],"in_dims":[-1,1,1,-1,1],"kind":"view","of":"v4","op":"flatten","value":"v9"}
func.func @held(%m: tensor<?x1xi1> {bmc.name = "m"}, %pos: tensor<?x1x1x?xi64> {bmc.name = "pos"})
    -> (tensor<?xi1> {bmc.name = "line"}, tensor<?x?xi1> {bmc.name = "flat"}) {
  %mv = bmck.to_view %m : tensor<?x1xi1> -> !bmck.view<?x1xi1>
  %pv = bmck.to_view %pos : tensor<?x1x1x?xi64> -> !bmck.view<?x1x1x?xi64>
  %g = bmck.gather %mv, %pv {axis = 0 : i64} : (!bmck.view<?x1xi1>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xi1>
  %gt = bmck.to_tensor %g : !bmck.view<?x1x1x?x1xi1> -> tensor<?x1x1x?x1xi1>
  %gv = bmck.to_view %gt : tensor<?x1x1x?x1xi1> -> !bmck.view<?x1x1x?x1xi1>
  %all = arith.constant dense<-1> : tensor<1xi64>
  %l = bmck.reshape %gv, %all : (!bmck.view<?x1x1x?x1xi1>, tensor<1xi64>) -> !bmck.view<?xi1>
  %f = bmck.flatten %g {axis = 3 : i64} : (!bmck.view<?x1x1x?x1xi1>) -> !bmck.view<?x?xi1>
  %t0 = bmck.to_tensor %l : !bmck.view<?xi1> -> tensor<?xi1>
  %t1 = bmck.to_tensor %f : !bmck.view<?x?xi1> -> tensor<?x?xi1>
  return %t0, %t1 : tensor<?xi1>, tensor<?x?xi1>
}

// -----

// A view of rank 5 of a held kernel result: unfolded (`held`), transposed,
// and held again without its statically-1 dimensions (`held_out`).
// CHECK: "function":"transpose5"
// CHECK-SAME: "held":[0,3],"held_out":[0,1],"in_dims":[-1,1,1,-1,1],"kind":"view","of":"v4","op":"transpose","perm":[0,3,1,2,4]
func.func @transpose5(%m: tensor<?x1xi1>, %pos: tensor<?x1x1x?xi64>) -> tensor<?x?x1x1x1xi1> {
  %mv = bmck.to_view %m : tensor<?x1xi1> -> !bmck.view<?x1xi1>
  %pv = bmck.to_view %pos : tensor<?x1x1x?xi64> -> !bmck.view<?x1x1x?xi64>
  %g = bmck.gather %mv, %pv {axis = 0 : i64} : (!bmck.view<?x1xi1>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xi1>
  %t = bmck.transpose %g {perm = array<i64: 0, 3, 1, 2, 4>} : (!bmck.view<?x1x1x?x1xi1>) -> !bmck.view<?x?x1x1x1xi1>
  %r = bmck.to_tensor %t : !bmck.view<?x?x1x1x1xi1> -> tensor<?x?x1x1x1xi1>
  return %r : tensor<?x?x1x1x1xi1>
}

// -----

// A rank-5 input is no kernel's or view's result: nothing holds it folded.
// CHECK-NOT: bmc-program
// ERR: error: CUDA program @input5: 'bmck.flatten' at {{.*}}: a view of rank 5 (a program's views have rank 4 at most, as the kernels' bmc_view4; one of a higher rank is read only as a kernel's or a view's result, held without its statically-1 dimensions)
func.func @input5(%x: tensor<2x1x3x1x5xf32>) -> tensor<6x5xf32> {
  %xv = bmck.to_view %x : tensor<2x1x3x1x5xf32> -> !bmck.view<2x1x3x1x5xf32>
  %f = bmck.flatten %xv {axis = 4 : i64} : (!bmck.view<2x1x3x1x5xf32>) -> !bmck.view<6x5xf32>
  %r = bmck.to_tensor %f : !bmck.view<6x5xf32> -> tensor<6x5xf32>
  return %r : tensor<6x5xf32>
}
