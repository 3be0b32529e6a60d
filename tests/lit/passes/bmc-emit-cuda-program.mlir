// --bmc-emit-cuda with whole-model: one `// bmc-program: {json}` line per
// function (docs/DESIGN.md, "CUDA programs"): inputs and outputs by name,
// constants uploaded (hex, little-endian), weights by name (`plain` when a
// kernel reads one as a view; a product reads its own device copy by name),
// the host's scalars, views and launches in order with each kernel parameter
// bound to a value, and the memory plan: a slot per kernel result, reused
// once the values in it are dead (here the norm's slot is reused by the
// attention), sizes as expressions of run-time dims; view ops as view steps
// the host evaluates, their shape vectors as shape steps, bools in i1 slots.
// Ops a program cannot hold are one error each, and nothing is written.
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

// ERR: error: CUDA program: input 'ids' of 'tensor<?xi8>': expected f32, f16, bf16, i32, i64 or i1 elements
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

// -----

// Views the host evaluates and host shape vectors: a split (one step per
// piece, by index), a slice whose bounds are tensor.from_elements of host
// scalars (a `shape` step) and a constant (a shape step, not uploaded), an
// unsqueeze, an expand by a constant shape, a squeeze; each with its result
// type's dims. A comparison's bools get an i1 slot. The views take no slot:
// the norm's slot stays live while the split's pieces are read.
// CHECK: // bmc-program: {"constants":[{"dims":[],"hex":"00000000","splat":true,"type":"f32","value":"v16"}],"function":"views"
// CHECK-SAME: "memory":{"alignment":256,"slots":2}
// CHECK-SAME: "op":"bmck.norm","result":{"sizes":[1,["v4.size[1]"],8],"slot":0,"type":"f32"},"value":"v6"}
// CHECK-SAME: {"at":"{{[^"]*}}","axis":2,"dims":[1,-1,4],"index":0,"kind":"view","of":"v6","op":"split","sizes":[4,4],"value":"v7"}
// CHECK-SAME: {"at":"{{[^"]*}}","axis":2,"dims":[1,-1,4],"index":1,"kind":"view","of":"v6","op":"split","sizes":[4,4],"value":"v8"}
// CHECK-SAME: {"elements":["v3"],"kind":"shape","value":"v9"},{"elements":["v1"],"kind":"shape","value":"v10"},{"elements":[1],"kind":"shape","value":"v11"}
// CHECK-SAME: {"at":"{{[^"]*}}","axes":[1],"dims":[1,-1,4],"ends":"v10","kind":"view","of":"v7","op":"slice","starts":"v9","steps":"v11","value":"v12"}
// CHECK-SAME: {"at":"{{[^"]*}}","axes":[2],"dims":[1,-1,1,4],"kind":"view","of":"v12","op":"unsqueeze","value":"v13"}
// CHECK-SAME: {"elements":[3,1,5,1],"kind":"shape","value":"v14"}
// CHECK-SAME: {"at":"{{[^"]*}}","dims":[3,-1,5,4],"kind":"view","of":"v13","op":"expand","shape":"v14","value":"v15"}
// CHECK-SAME: "op":"bmck.elementwise","result":{"sizes":[3,["v15.size[1]"],5,4],"slot":1,"type":"i1"},"value":"v18"}
// CHECK-SAME: {"at":"{{[^"]*}}","axes":[0],"dims":[-1,4],"kind":"view","of":"v8","op":"squeeze","value":"v19"}
func.func @views(%x: tensor<1x?x8xf32> {bmc.name = "x"}, %n: index {bmc.name = "n"}, %g: tensor<8xf32> {bmc.name = "g"})
    -> (tensor<3x?x5x4xi1> {bmc.name = "mask"}, tensor<?x4xf32> {bmc.name = "tail"}) {
  %c0 = arith.constant 0 : index
  %xv = bmck.to_view %x : tensor<1x?x8xf32> -> !bmck.view<1x?x8xf32>
  %gv = bmck.to_view %g : tensor<8xf32> -> !bmck.view<8xf32>
  %nx = bmck.norm %xv, %gv {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-5 : f32}
      : (!bmck.view<1x?x8xf32>, !bmck.view<8xf32>) -> !bmck.view<1x?x8xf32>
  %a, %b = bmck.split %nx {axis = 2 : i64, sizes = array<i64: 4, 4>}
      : (!bmck.view<1x?x8xf32>) -> (!bmck.view<1x?x4xf32>, !bmck.view<1x?x4xf32>)
  %st = tensor.from_elements %c0 : tensor<1xindex>
  %en = tensor.from_elements %n : tensor<1xindex>
  %one = arith.constant dense<1> : tensor<1xi64>
  %s = bmck.slice %a, %st, %en, %one {axes = array<i64: 1>}
      : (!bmck.view<1x?x4xf32>, tensor<1xindex>, tensor<1xindex>, tensor<1xi64>) -> !bmck.view<1x?x4xf32>
  %u = bmck.unsqueeze %s {axes = array<i64: 2>} : (!bmck.view<1x?x4xf32>) -> !bmck.view<1x?x1x4xf32>
  %shape = arith.constant dense<[3, 1, 5, 1]> : tensor<4xi64>
  %e = bmck.expand %u, %shape : (!bmck.view<1x?x1x4xf32>, tensor<4xi64>) -> !bmck.view<3x?x5x4xf32>
  %z = arith.constant dense<0.0> : tensor<f32>
  %zv = bmck.to_view %z : tensor<f32> -> !bmck.view<f32>
  %m = bmck.elementwise %e, %zv : (!bmck.view<3x?x5x4xf32>, !bmck.view<f32>) -> !bmck.view<3x?x5x4xi1> {
  ^bb0(%v: tensor<3x?x5x4xf32>, %z0: tensor<f32>):
    %p = bmc.greater %v, %z0 : (tensor<3x?x5x4xf32>, tensor<f32>) -> tensor<3x?x5x4xi1>
    bmck.yield %p : tensor<3x?x5x4xi1>
  }
  %sq = bmck.squeeze %b {axes = array<i64: 0>} : (!bmck.view<1x?x4xf32>) -> !bmck.view<?x4xf32>
  %mt = bmck.to_tensor %m : !bmck.view<3x?x5x4xi1> -> tensor<3x?x5x4xi1>
  %bt = bmck.to_tensor %sq : !bmck.view<?x4xf32> -> tensor<?x4xf32>
  return %mt, %bt : tensor<3x?x5x4xi1>, tensor<?x4xf32>
}

// -----

// A constant both a slice's bounds and a gather's indices: a shape step for
// the host, and uploaded for the kernel, under one value.
// CHECK: // bmc-program: {"constants":[{"dims":[2],"hex":"00000000000000000100000000000000","splat":false,"type":"i64","value":"v1"}],"function":"mixed"
// CHECK-SAME: "steps":[{"elements":[0,1],"kind":"shape","value":"v1"},{"kind":"view","of":"v0","value":"v2"},{"kind":"view","of":"v1","value":"v3"}
// CHECK-SAME: {"elements":[3,5],"kind":"shape","value":"v5"},{"elements":[1,1],"kind":"shape","value":"v6"}
// CHECK-SAME: "ends":"v5","kind":"view","of":"v2","op":"slice","starts":"v1","steps":"v6","value":"v7"}
func.func @mixed(%x: tensor<4x6xf32> {bmc.name = "x"}) -> (tensor<2x6xf32> {bmc.name = "rows"}, tensor<?x?xf32> {bmc.name = "window"}) {
  %ids = arith.constant dense<[0, 1]> : tensor<2xi64>
  %xv = bmck.to_view %x : tensor<4x6xf32> -> !bmck.view<4x6xf32>
  %iv = bmck.to_view %ids : tensor<2xi64> -> !bmck.view<2xi64>
  %g = bmck.gather %xv, %iv {axis = 0 : i64} : (!bmck.view<4x6xf32>, !bmck.view<2xi64>) -> !bmck.view<2x6xf32>
  %ends = arith.constant dense<[3, 5]> : tensor<2xi64>
  %steps = arith.constant dense<1> : tensor<2xi64>
  %h = bmck.slice %xv, %ids, %ends, %steps {axes = array<i64: 0, 1>}
      : (!bmck.view<4x6xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> !bmck.view<?x?xf32>
  %gt = bmck.to_tensor %g : !bmck.view<2x6xf32> -> tensor<2x6xf32>
  %ht = bmck.to_tensor %h : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  return %gt, %ht : tensor<2x6xf32>, tensor<?x?xf32>
}

// -----

// A shape vector returned (neither a view's bounds or shape, a range's
// operand, nor a kernel's data: bmc-emit-cuda-program-scalar.mlir has those).
// ERR: error: CUDA program @shape_data: 'tensor.from_elements' at {{.*}}: a shape vector read other than as a view's bounds or shape, a range's start, limit or delta, or a kernel's data (0-D or 1-D)
func.func @shape_data(%n: i64) -> tensor<2xi64> {
  %s = tensor.from_elements %n, %n : tensor<2xi64>
  return %s : tensor<2xi64>
}

// -----

// A view of rank 5 whose statically-1 dimension is dropped: held as rank 4 (`held_out`).
// CHECK: "function":"rank5"
// CHECK-SAME: "held_out":[0,1,2,3],"kind":"view","of":"v1","op":"unsqueeze"
func.func @rank5(%x: tensor<2x3x4x5xf32>) -> tensor<2x3x4x5x1xf32> {
  %xv = bmck.to_view %x : tensor<2x3x4x5xf32> -> !bmck.view<2x3x4x5xf32>
  %u = bmck.unsqueeze %xv {axes = array<i64: 4>} : (!bmck.view<2x3x4x5xf32>) -> !bmck.view<2x3x4x5x1xf32>
  %t = bmck.to_tensor %u : !bmck.view<2x3x4x5x1xf32> -> tensor<2x3x4x5x1xf32>
  return %t : tensor<2x3x4x5x1xf32>
}
