// --bmc-emit-cuda with whole-model: Ranges and shape vectors kernels read in
// a bmc-program line (docs/DESIGN.md, "CUDA programs"). A 0-D
// tensor.from_elements or 0-D integer constant read as a range's start,
// limit or delta is a host shape vector (a `shape` step of one element); the
// range's length is a `range_length` scalar step before its launch (ONNX's
// max(ceil((limit - start) / delta), 0), a delta of 0 refused by the host)
// whose id, "vK.length", the result's sizes reference; the launch binds
// start and delta as host integers ({"integer": "vK[0]"}: element 0 of the
// shape vector). A from_elements a kernel reads (through bmck.to_view) is
// also uploaded (`upload`: its type and dims) into the program's buffer.
//
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2> /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 > /dev/null | FileCheck %s --check-prefix=ERR

// CHECK-LABEL: // bmc-program: {"constants":[],"function":"positions"
// CHECK-SAME: "inputs":[{"dims":[-1,-1],"kind":"tensor","name":"ids","type":"i64","value":"v0"},{"kind":"index","name":"past","value":"v1"}]
// CHECK-SAME: "steps":[{"const":1,"kind":"scalar","op":"const","value":"v2"},{"dim":1,"kind":"scalar","of":"v0","op":"dim","value":"v3"}
// CHECK-SAME: {"elements":["v4"],"kind":"shape","upload":{"dims":[],"type":"i64"},"value":"v5"}
// CHECK-SAME: {"elements":["v6"],"kind":"shape","value":"v7"}
// CHECK-SAME: {"elements":[0],"kind":"shape","value":"v8"},{"elements":[1],"kind":"shape","value":"v9"}
// CHECK-SAME: {"at":"{{[^"]*}}bmc-emit-cuda-program-scalar.mlir{{[^"]*}}","delta":"v9[0]","kind":"scalar","limit":"v7[0]","op":"range_length","start":"v8[0]","value":"v10.length"}
// CHECK-SAME: {"args":{"delta":{"integer":"v9[0]"},"out":"v10","start":{"integer":"v8[0]"}},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.range","result":{"sizes":{{\[\["v10.length"\]\]}},"slot":0,"type":"i64"},"value":"v10"}
// CHECK-SAME: {"kind":"view","of":"v5","value":"v11"}
// CHECK-SAME: {"args":{"out":"v12","x0":"v10","x1":"v11"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.elementwise","result":{"sizes":{{\[\["v10.size\[0\]"\]\]}},"slot":1,"type":"i64"},"value":"v12"}
// CHECK-SAME: {"elements":["v6"],"kind":"shape","upload":{"dims":[1],"type":"i64"},"value":"v13"}
// CHECK-SAME: "op":"bmck.elementwise","result":{"sizes":{{\[\["v15.size\[0\]"\],\["v15.size\[1\]"\]\]}},"slot":0,"type":"i64"},"value":"v16"}
func.func @positions(%ids: tensor<?x?xi64> {bmc.name = "ids"}, %past: index {bmc.name = "past"})
    -> (tensor<?xi64> {bmc.name = "pos"}, tensor<?x?xi64> {bmc.name = "scaled"}) {
  %c1 = arith.constant 1 : index
  %seq = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %p = arith.index_cast %past : index to i64
  %offset = tensor.from_elements %p : tensor<i64>
  %s = arith.index_cast %seq : index to i64
  %limit = tensor.from_elements %s : tensor<i64>
  %zero = arith.constant dense<0> : tensor<i64>
  %one = arith.constant dense<1> : tensor<i64>
  %r = bmck.range %zero, %limit, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %ov = bmck.to_view %offset : tensor<i64> -> !bmck.view<i64>
  %pos = bmck.elementwise %r, %ov : (!bmck.view<?xi64>, !bmck.view<i64>) -> !bmck.view<?xi64> {
  ^bb0(%a: tensor<?xi64>, %b: tensor<i64>):
    %y = bmc.add %a, %b : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    bmck.yield %y : tensor<?xi64>
  }
  %k = tensor.from_elements %s : tensor<1xi64>
  %kv = bmck.to_view %k : tensor<1xi64> -> !bmck.view<1xi64>
  %iv = bmck.to_view %ids : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %m = bmck.elementwise %iv, %kv : (!bmck.view<?x?xi64>, !bmck.view<1xi64>) -> !bmck.view<?x?xi64> {
  ^bb0(%a: tensor<?x?xi64>, %b: tensor<1xi64>):
    %y = bmc.mul %a, %b : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<?x?xi64>
    bmck.yield %y : tensor<?x?xi64>
  }
  %t0 = bmck.to_tensor %pos : !bmck.view<?xi64> -> tensor<?xi64>
  %t1 = bmck.to_tensor %m : !bmck.view<?x?xi64> -> tensor<?x?xi64>
  return %t0, %t1 : tensor<?xi64>, tensor<?x?xi64>
}

// -----

// A range of static length: the size is the number, the range_length step
// stays (its delta check).
// CHECK-LABEL: "function":"static_range"
// CHECK-SAME: {"at":"{{[^"]*}}","delta":"v2[0]","kind":"scalar","limit":"v1[0]","op":"range_length","start":"v0[0]","value":"v3.length"}
// CHECK-SAME: "result":{"sizes":[4],"slot":0,"type":"i32"}
func.func @static_range() -> (tensor<4xi32> {bmc.name = "r"}) {
  %a = arith.constant dense<10> : tensor<i32>
  %b = arith.constant dense<2> : tensor<i32>
  %d = arith.constant dense<-2> : tensor<i32>
  %r = bmck.range %a, %b, %d : (tensor<i32>, tensor<i32>, tensor<i32>) -> !bmck.view<4xi32>
  %t = bmck.to_tensor %r : !bmck.view<4xi32> -> tensor<4xi32>
  return %t : tensor<4xi32>
}

// -----

// ERR: error: CUDA program @rank2_data: 'tensor.from_elements' at {{.*}}: a shape vector read other than as a view's bounds or shape, a range's start, limit or delta, or a kernel's data (0-D or 1-D)
func.func @rank2_data(%n: i64, %g: tensor<1x2xi64>) -> tensor<1x2xi64> {
  %s = tensor.from_elements %n, %n : tensor<1x2xi64>
  %sv = bmck.to_view %s : tensor<1x2xi64> -> !bmck.view<1x2xi64>
  %gv = bmck.to_view %g : tensor<1x2xi64> -> !bmck.view<1x2xi64>
  %r = bmck.elementwise %gv, %sv : (!bmck.view<1x2xi64>, !bmck.view<1x2xi64>) -> !bmck.view<1x2xi64> {
  ^bb0(%a: tensor<1x2xi64>, %b: tensor<1x2xi64>):
    %y = bmc.add %a, %b : (tensor<1x2xi64>, tensor<1x2xi64>) -> tensor<1x2xi64>
    bmck.yield %y : tensor<1x2xi64>
  }
  %t = bmck.to_tensor %r : !bmck.view<1x2xi64> -> tensor<1x2xi64>
  return %t : tensor<1x2xi64>
}

// -----

// A bmc.check_equal of host shape vectors (the genai GQA import's
// total_sequence_length guard): a `shape` step with the input's elements and
// a `check` (expected broadcast, the message, the op's place) the host makes
// before any launch; a kernel reading the result gets it uploaded. Counted
// with the host's scalar ops, not as left.
// CHECK: Left for the CUDA target: 0 ops without a CUDA form.
// CHECK: "function":"host_check"
// CHECK-SAME: "steps":[{"elements":["v1"],"kind":"shape","value":"v3"},{"elements":["v2"],"kind":"shape","value":"v4"}
// CHECK-SAME: {"check":{"at":"{{[^"]*}}bmc-emit-cuda-program-scalar.mlir{{[^"]*}}","expected":["v4[0]"],"message":"total must be past + new"},"elements":["v3[0]"],"kind":"shape","upload":{"dims":[],"type":"i64"},"value":"v5"}
// CHECK-SAME: {"elements":["v1","v2"],"kind":"shape","value":"v6"}
// CHECK-SAME: {"check":{"at":"{{[^"]*}}","expected":["v5[0]","v5[0]"],"message":"both equal"},"elements":["v6[0]","v6[1]"],"kind":"shape","value":"v7"}
// CHECK-SAME: {"kind":"view","of":"v5","value":"v8"}
func.func @host_check(%x: tensor<?xi64> {bmc.name = "x"}, %t: i64 {bmc.name = "t"}, %n: i64 {bmc.name = "n"})
    -> (tensor<?xi64> {bmc.name = "y"}) {
  %vt = tensor.from_elements %t : tensor<i64>
  %vn = tensor.from_elements %n : tensor<i64>
  %c = bmc.check_equal %vt, %vn {message = "total must be past + new"} : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %both = tensor.from_elements %t, %n : tensor<2xi64>
  %c2 = bmc.check_equal %both, %c {message = "both equal"} : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %shape = bmck.to_view %c : tensor<i64> -> !bmck.view<i64>
  %xv = bmck.to_view %x : tensor<?xi64> -> !bmck.view<?xi64>
  %r = bmck.elementwise %xv, %shape : (!bmck.view<?xi64>, !bmck.view<i64>) -> !bmck.view<?xi64> {
  ^bb0(%a: tensor<?xi64>, %b: tensor<i64>):
    %y = bmc.add %a, %b : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    bmck.yield %y : tensor<?xi64>
  }
  %o = bmck.to_tensor %r : !bmck.view<?xi64> -> tensor<?xi64>
  return %o : tensor<?xi64>
}

// -----

// A check of device data (seqlens_k computed from the mask, or an input
// tensor): a launch of its one-thread kernel into a flag the host zeroes (a
// shape step with an upload) and reads back; the result is the input's
// storage. Of i16 it has no form: refused by name, never dropped.
// CHECK-LABEL: "function":"device_check"
// CHECK-SAME: {"elements":["v1"],"kind":"shape","upload":{"dims":[],"type":"i64"},"value":"v2"}
// CHECK-SAME: {"elements":[0,0,0],"kind":"shape","upload":{"dims":[3],"type":"i64"},"value":"v3.flag"}
// CHECK-SAME: {"args":{"expected":"v2","out":"v3.flag","x":"v0"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmc.check_equal","result":{"check":"v3.flag","message":"seqlens_k + 1 must equal total"},"value":"v3.check"}
// CHECK-SAME: {"kind":"view","of":"v0","value":"v3"}
func.func @device_check(%s: tensor<?xi64> {bmc.name = "seqlens_k"}, %t: i64 {bmc.name = "t"}) -> (tensor<?xi64> {bmc.name = "y"}) {
  %vt = tensor.from_elements %t : tensor<i64>
  %c = bmc.check_equal %s, %vt {message = "seqlens_k + 1 must equal total"} : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %cv = bmck.to_view %c : tensor<?xi64> -> !bmck.view<?xi64>
  %r = bmck.elementwise %cv : (!bmck.view<?xi64>) -> !bmck.view<?xi64> {
  ^bb0(%a: tensor<?xi64>):
    %y = bmc.neg %a : (tensor<?xi64>) -> tensor<?xi64>
    bmck.yield %y : tensor<?xi64>
  }
  %o = bmck.to_tensor %r : !bmck.view<?xi64> -> tensor<?xi64>
  return %o : tensor<?xi64>
}

// -----

// ERR: error: the CUDA target cannot compile this model yet: 'bmc.check_equal (i16)' at {{.*}} has no CUDA form
func.func @i16_check(%s: tensor<?xi16> {bmc.name = "s"}, %e: tensor<i16> {bmc.name = "e"}) -> (tensor<?xi16> {bmc.name = "y"}) {
  %c = bmc.check_equal %s, %e {message = "s must equal e"} : (tensor<?xi16>, tensor<i16>) -> tensor<?xi16>
  return %c : tensor<?xi16>
}
