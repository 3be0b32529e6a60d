// --bmc-emit-cuda with whole-model: one `// bmc-program: {json}` line per
// function (docs/DESIGN.md, "CUDA programs"): inputs and outputs by name,
// constants uploaded (hex, little-endian), weights by name (`plain` when a
// kernel reads one as a view; a product reads its own device copy by name),
// the host's scalars, views and launches in order with each kernel parameter
// bound to a value, and the memory plan: a slot per kernel result, reused
// once the values in it are dead (here the norm's slot is reused by the
// attention), sizes as expressions of run-time dims. Ops a program cannot
// hold are one error each, and nothing is written.
//
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2> /dev/null | FileCheck %s
// RUN: not bmc-opt %s --split-input-file --bmc-emit-cuda=whole-model=true -o /dev/null 2>&1 > /dev/null | FileCheck %s --check-prefix=ERR
// RUN: bmc-opt %s --split-input-file --bmc-emit-cuda -o /dev/null 2>&1 | FileCheck %s --check-prefix=PLAIN

// PLAIN-NOT: bmc-program
// CHECK: // Programs (runtime/device/DeviceProgram.h): one bmc-program line per function; the weights,
// CHECK-LABEL: // bmc-program: {"constants":[{"dims":[16],"hex":"0000803f","splat":true,"type":"f32","value":"v4"}],"function":"small"
// CHECK-SAME: "inputs":[{"dims":[1,2,-1,16],"kind":"tensor","name":"x","type":"f32","value":"v0"},{"head_dim":8,"heads":2,"kind":"kv_cache","name":"past_k","type":"f16","value":"v1"},{"dims":[1,1,-1,-1],"kind":"tensor","name":"mask","type":"f32","value":"v2"}]
// CHECK-SAME: "memory":{"alignment":256,"slots":2},"outputs":[{"name":"attn","value":"v16"}]
// CHECK-SAME: "steps":[{"const":3,"kind":"scalar","op":"const","value":"v3"},{"kind":"view","of":"v4","value":"v5"},{"kind":"view","of":"v0","value":"v6"}
// CHECK-SAME: {"args":{"out":"v7","scale":"v5","x":"v6"},"at":"{{[^"]*}}bmc-emit-cuda-program.mlir{{[^"]*}}","config":0,"kind":"launch","op":"bmck.norm","result":{"sizes":[1,2,["v6.size[2]"],16],"slot":0,"type":"f32"},"value":"v7"}
// The f16 weight behind a Cast and a Transpose is the product's, by name: no step of its own.
// CHECK-SAME: {"args":{"a":"v7","out":"v9","w":{"weight":"w"}},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.matmul","result":{"sizes":[1,2,["v7.size[2]"],8],"slot":1,"type":"f32"},"value":"v9"}
// CHECK-SAME: {"args":{"cache":"v1","rows":"v9"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.kv_append","result":{"appended":["v9.size[2]"],"kv_rows":"v1"},"value":"v10"}
// CHECK-SAME: {"cache":"v1","kind":"scalar","op":"kv_capacity","value":"v11"},{"dim":3,"kind":"scalar","of":"v2","op":"dim","value":"v12"},{"kind":"scalar","lhs":"v11","op":"max","rhs":"v12","value":"v13"},{"kind":"view","of":"v2","value":"v14"}
// CHECK-SAME: {"args":{"k":"v10","mask":"v14","out":"v15","padded":"v13","q":"v9","v":"v10"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.attention","result":{"sizes":[1,2,["v9.size[2]"],8],"slot":0,"type":"f32"},"value":"v15"}
// CHECK-SAME: {"kind":"view","of":"v15","value":"v16"}],"version":1,"weights":[{"dims":[8,16],"name":"w","plain":false,"type":"f16","value":"v8"}]}
// Nothing is written for a function a program cannot hold.
// CHECK-NOT: bmc-program
func.func @small(%x: tensor<1x2x?x16xf32> {bmc.name = "x"}, %kc: !bmc.kv_cache<2x8xf16> {bmc.name = "past_k"},
                 %mask: tensor<1x1x?x?xf32> {bmc.name = "mask"}) -> (tensor<1x2x?x8xf32> {bmc.name = "attn"}) {
  %c3 = arith.constant 3 : index
  %g = arith.constant dense<1.0> : tensor<16xf32>
  %gv = bmck.to_view %g : tensor<16xf32> -> !bmck.view<16xf32>
  %xv = bmck.to_view %x : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 3 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x2x?x16xf32>, !bmck.view<16xf32>) -> !bmck.view<1x2x?x16xf32>
  %w = bmc.weight "w" : tensor<8x16xf16>
  %wc = bmc.cast %w {to = f32} : (tensor<8x16xf16>) -> tensor<8x16xf32>
  %wt = bmc.transpose %wc {perm = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %wv = bmck.to_view %wt : tensor<16x8xf32> -> !bmck.view<16x8xf32>
  %k = bmck.matmul %n, %wv {weight = "w"} : (!bmck.view<1x2x?x16xf32>, !bmck.view<16x8xf32>) -> !bmck.view<1x2x?x8xf32>
  %ka = bmck.kv_append %kc, %k : (!bmc.kv_cache<2x8xf16>, !bmck.view<1x2x?x8xf32>) -> !bmck.view<1x2x?x8xf16>
  %cap = bmc.kv_capacity %kc : !bmc.kv_cache<2x8xf16>
  %d = tensor.dim %mask, %c3 : tensor<1x1x?x?xf32>
  %p = arith.maxsi %cap, %d : index
  %mv = bmck.to_view %mask : tensor<1x1x?x?xf32> -> !bmck.view<1x1x?x?xf32>
  %a = bmck.attention %k, %ka, %ka mask %mv padded %p {scale = 0.5 : f32, padding = #bmc.padding<mask>}
      : (!bmck.view<1x2x?x8xf32>, !bmck.view<1x2x?x8xf16>, !bmck.view<1x2x?x8xf16>, !bmck.view<1x1x?x?xf32>, index) -> !bmck.view<1x2x?x8xf32>
  %r = bmck.to_tensor %a : !bmck.view<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  return %r : tensor<1x2x?x8xf32>
}

// -----

// ERR: error: CUDA program @rem: 'arith.remsi' at {{.*}}bmc-emit-cuda-program.mlir{{.*}}:8:8: a host scalar op a program does not evaluate
func.func @rem(%x: tensor<?x16xf32>, %kc: !bmc.kv_cache<2x8xf16>, %g: tensor<16xf32>) -> tensor<?x16xf32> {
  %c3 = arith.constant 3 : index
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x16xf32>
  %r = arith.remsi %d, %c3 : index
  %xv = bmck.to_view %x : tensor<?x16xf32> -> !bmck.view<?x16xf32>
  %gv = bmck.to_view %g : tensor<16xf32> -> !bmck.view<16xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x16xf32>, !bmck.view<16xf32>) -> !bmck.view<?x16xf32>
  %y = bmck.to_tensor %n : !bmck.view<?x16xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// ERR: error: CUDA program: input 'ids' of 'tensor<?xi8>': expected f32, f16, bf16, i32 or i64 elements
func.func @bytes(%x: tensor<?x16xf32>, %ids: tensor<?xi8> {bmc.name = "ids"}, %g: tensor<16xf32>) -> tensor<?x16xf32> {
  %xv = bmck.to_view %x : tensor<?x16xf32> -> !bmck.view<?x16xf32>
  %gv = bmck.to_view %g : tensor<16xf32> -> !bmck.view<16xf32>
  %n = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 1 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<?x16xf32>, !bmck.view<16xf32>) -> !bmck.view<?x16xf32>
  %y = bmck.to_tensor %n : !bmck.view<?x16xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// An elementwise group and a reduction: launches bound by their bmc-launch
// names (x0, x1, out; x, out), result sizes from the broadcast and the kept axes.
// CHECK: // Programs (runtime/device/DeviceProgram.h): one bmc-program line per function
// CHECK: // bmc-program: {"constants":[],"function":"ew"
// CHECK-SAME: {"args":{"out":"v4","x0":"v2","x1":"v3"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.elementwise","result":{"sizes":{{\[\["v2.size\[0\]"\],37\]}},"slot":0,"type":"f32"},"value":"v4"},{"args":{"out":"v5","x":"v4"},"at":"{{[^"]*}}","config":0,"kind":"launch","op":"bmck.reduce","result":{"sizes":{{\[\["v4.size\[0\]"\]\]}},"slot":1,"type":"f32"},"value":"v5"}
func.func @ew(%x: tensor<?x37xf32> {bmc.name = "x"}, %b: tensor<37xf32> {bmc.name = "b"}) -> (tensor<?xf32> {bmc.name = "s"}) {
  %xv = bmck.to_view %x : tensor<?x37xf32> -> !bmck.view<?x37xf32>
  %bv = bmck.to_view %b : tensor<37xf32> -> !bmck.view<37xf32>
  %g = bmck.elementwise %xv, %bv : (!bmck.view<?x37xf32>, !bmck.view<37xf32>) -> !bmck.view<?x37xf32> {
  ^bb0(%a: tensor<?x37xf32>, %c: tensor<37xf32>):
    %s = bmc.add %a, %c : (tensor<?x37xf32>, tensor<37xf32>) -> tensor<?x37xf32>
    %r = bmc.sigmoid %s : (tensor<?x37xf32>) -> tensor<?x37xf32>
    bmck.yield %r : tensor<?x37xf32>
  }
  %m = bmck.reduce %g {kind = #bmck.reduce<sum>, axes = array<i64: 1>, keepdims = false} : (!bmck.view<?x37xf32>) -> !bmck.view<?xf32>
  %t = bmck.to_tensor %m : !bmck.view<?xf32> -> tensor<?xf32>
  return %t : tensor<?xf32>
}
