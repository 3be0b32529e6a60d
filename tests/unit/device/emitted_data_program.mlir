// The input of cuda_data_program_test.cpp (@copies; @views and @split_rows
// below, the view steps): a function of copies emitted with
// whole-model (a bmc-program line), run by DeviceProgram in the host
// emulation: the KV-style concat (its result's axis the sum of the inputs'),
// the embedding gather of a weight by i64 ids, and a concat of the gathered
// rows with themselves along the last axis.
func.func @copies(%k: tensor<1x2x?x16xf32> {bmc.name = "k"}, %n: tensor<1x2x?x16xf32> {bmc.name = "new"},
                  %ids: tensor<?x?xi64> {bmc.name = "ids"})
    -> (tensor<1x2x?x16xf32> {bmc.name = "kv"}, tensor<?x?x48xf32> {bmc.name = "emb2"}) {
  %kv = bmck.to_view %k : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %nv = bmck.to_view %n : tensor<1x2x?x16xf32> -> !bmck.view<1x2x?x16xf32>
  %c = bmck.concat %kv, %nv {axis = 2 : i64} : (!bmck.view<1x2x?x16xf32>, !bmck.view<1x2x?x16xf32>) -> !bmck.view<1x2x?x16xf32>
  %ct = bmck.to_tensor %c : !bmck.view<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %w = bmc.weight "table" : tensor<37x24xf32>
  %wv = bmck.to_view %w : tensor<37x24xf32> -> !bmck.view<37x24xf32>
  %iv = bmck.to_view %ids : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %g = bmck.gather %wv, %iv {axis = 0 : i64} : (!bmck.view<37x24xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x24xf32>
  %g2 = bmck.concat %g, %g {axis = 2 : i64} : (!bmck.view<?x?x24xf32>, !bmck.view<?x?x24xf32>) -> !bmck.view<?x?x48xf32>
  %gt = bmck.to_tensor %g2 : !bmck.view<?x?x48xf32> -> tensor<?x?x48xf32>
  return %ct, %gt : tensor<1x2x?x16xf32>, tensor<?x?x48xf32>
}

// Views the host evaluates (cuda_data_program_test.cpp, ViewChainAndBools):
// x [1, B, 7] split along the last axis into p [1, B, 3] and q [1, B, 4];
// q sliced on two axes by shape vectors of host scalars (tensor.from_elements:
// the run's start / stop / step on the rows, then every other column from
// 1), unsqueezed and expanded (a from_elements shape: reps, 1, cols, 5) to
// [reps, B', 2, 5]; a comparison of that chain with 0 (a bool slot), a
// Where reading it (|v|), and a concat of the sliced view with itself (a
// copy of negative strides); p reversed along its last axis by constant
// bounds (-1 to INT64_MIN + 1, step -1) and squeezed.
func.func @views(%x: tensor<1x?x7xf32> {bmc.name = "x"}, %start: index {bmc.name = "start"},
                 %stop: index {bmc.name = "stop"}, %step: index {bmc.name = "step"},
                 %reps: index {bmc.name = "reps"}, %cols: index {bmc.name = "cols"})
    -> (tensor<?x?x?x5xf32> {bmc.name = "chain"}, tensor<?x?x?x5xi1> {bmc.name = "positive"},
        tensor<?x?x?x5xf32> {bmc.name = "magnitude"}, tensor<1x?x?xf32> {bmc.name = "twice"},
        tensor<?x3xf32> {bmc.name = "reversed"}) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c5 = arith.constant 5 : index
  %c100 = arith.constant 100 : index
  %xv = bmck.to_view %x : tensor<1x?x7xf32> -> !bmck.view<1x?x7xf32>
  %p, %q = bmck.split %xv {axis = 2 : i64, sizes = array<i64: 3, 4>}
      : (!bmck.view<1x?x7xf32>) -> (!bmck.view<1x?x3xf32>, !bmck.view<1x?x4xf32>)
  %st = tensor.from_elements %start, %c1 : tensor<2xindex>
  %en = tensor.from_elements %stop, %c100 : tensor<2xindex>
  %sp = tensor.from_elements %step, %c2 : tensor<2xindex>
  %s = bmck.slice %q, %st, %en, %sp {axes = array<i64: 1, 2>}
      : (!bmck.view<1x?x4xf32>, tensor<2xindex>, tensor<2xindex>, tensor<2xindex>) -> !bmck.view<1x?x?xf32>
  %u = bmck.unsqueeze %s {axes = array<i64: 3>} : (!bmck.view<1x?x?xf32>) -> !bmck.view<1x?x?x1xf32>
  %shape = tensor.from_elements %reps, %c1, %cols, %c5 : tensor<4xindex>
  %e = bmck.expand %u, %shape : (!bmck.view<1x?x?x1xf32>, tensor<4xindex>) -> !bmck.view<?x?x?x5xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %zv = bmck.to_view %zero : tensor<f32> -> !bmck.view<f32>
  %pos = bmck.elementwise %e, %zv : (!bmck.view<?x?x?x5xf32>, !bmck.view<f32>) -> !bmck.view<?x?x?x5xi1> {
  ^bb0(%a: tensor<?x?x?x5xf32>, %z: tensor<f32>):
    %g = bmc.greater %a, %z : (tensor<?x?x?x5xf32>, tensor<f32>) -> tensor<?x?x?x5xi1>
    bmck.yield %g : tensor<?x?x?x5xi1>
  }
  %mag = bmck.elementwise %pos, %e : (!bmck.view<?x?x?x5xi1>, !bmck.view<?x?x?x5xf32>) -> !bmck.view<?x?x?x5xf32> {
  ^bb0(%c: tensor<?x?x?x5xi1>, %a: tensor<?x?x?x5xf32>):
    %n = bmc.neg %a : (tensor<?x?x?x5xf32>) -> tensor<?x?x?x5xf32>
    %w = bmc.where %c, %a, %n : (tensor<?x?x?x5xi1>, tensor<?x?x?x5xf32>, tensor<?x?x?x5xf32>) -> tensor<?x?x?x5xf32>
    bmck.yield %w : tensor<?x?x?x5xf32>
  }
  %two = bmck.concat %s, %s {axis = 2 : i64} : (!bmck.view<1x?x?xf32>, !bmck.view<1x?x?xf32>) -> !bmck.view<1x?x?xf32>
  %rs = arith.constant dense<-1> : tensor<1xi64>
  %re = arith.constant dense<-9223372036854775807> : tensor<1xi64>
  %r = bmck.slice %p, %rs, %re, %rs {axes = array<i64: 2>}
      : (!bmck.view<1x?x3xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<1x?x3xf32>
  %rq = bmck.squeeze %r {axes = array<i64: 0>} : (!bmck.view<1x?x3xf32>) -> !bmck.view<?x3xf32>
  %t0 = bmck.to_tensor %e : !bmck.view<?x?x?x5xf32> -> tensor<?x?x?x5xf32>
  %t1 = bmck.to_tensor %pos : !bmck.view<?x?x?x5xi1> -> tensor<?x?x?x5xi1>
  %t2 = bmck.to_tensor %mag : !bmck.view<?x?x?x5xf32> -> tensor<?x?x?x5xf32>
  %t3 = bmck.to_tensor %two : !bmck.view<1x?x?xf32> -> tensor<1x?x?xf32>
  %t4 = bmck.to_tensor %rq : !bmck.view<?x3xf32> -> tensor<?x3xf32>
  return %t0, %t1, %t2, %t3, %t4 : tensor<?x?x?x5xf32>, tensor<?x?x?x5xi1>, tensor<?x?x?x5xf32>, tensor<1x?x?xf32>, tensor<?x3xf32>
}

// Run-time checks of views on dimensions the types leave open
// (ViewErrors): y [1, 5, 5]'s rows split 2 + 3 and swapped by a concat, the
// result's leading 1 squeezed.
func.func @split_rows(%y: tensor<?x?x5xf32> {bmc.name = "y"}) -> (tensor<5x5xf32> {bmc.name = "swapped"}) {
  %yv = bmck.to_view %y : tensor<?x?x5xf32> -> !bmck.view<?x?x5xf32>
  %a, %b = bmck.split %yv {axis = 1 : i64, sizes = array<i64: 2, 3>}
      : (!bmck.view<?x?x5xf32>) -> (!bmck.view<?x2x5xf32>, !bmck.view<?x3x5xf32>)
  %c = bmck.concat %b, %a {axis = 1 : i64} : (!bmck.view<?x3x5xf32>, !bmck.view<?x2x5xf32>) -> !bmck.view<?x5x5xf32>
  %s = bmck.squeeze %c {axes = array<i64: 0>} : (!bmck.view<?x5x5xf32>) -> !bmck.view<5x5xf32>
  %t = bmck.to_tensor %s : !bmck.view<5x5xf32> -> tensor<5x5xf32>
  return %t : tensor<5x5xf32>
}

// @gather_nd: ONNX GatherND (batch_dims 0) as the dynamo exporter writes
// attention_mask[batch_idx, kv_idx] (modelgen/blocks.py _index_dynamo): `picked`
// reads i64 [n, m, 2] index tuples of a bool mask [rows, cols] (out [n, m]);
// `slices` reads f32 [rows, cols, 3] by [n, 1] tuples (out [n, cols, 3]: whole
// slices). Indices may be negative (ONNX's wrap).
func.func @gather_nd(%mask: tensor<?x?xi1> {bmc.name = "mask"}, %t: tensor<?x?x2xi64> {bmc.name = "tuples"},
                     %x: tensor<?x?x3xf32> {bmc.name = "x"}, %r: tensor<?x1xi64> {bmc.name = "rows"})
    -> (tensor<?x?xi1> {bmc.name = "picked"}, tensor<?x?x3xf32> {bmc.name = "slices"}) {
  %p = bmc.gather_nd %mask, %t {batch_dims = 0 : i64} : (tensor<?x?xi1>, tensor<?x?x2xi64>) -> tensor<?x?xi1>
  %s = bmc.gather_nd %x, %r {batch_dims = 0 : i64} : (tensor<?x?x3xf32>, tensor<?x1xi64>) -> tensor<?x?x3xf32>
  return %p, %s : tensor<?x?xi1>, tensor<?x?x3xf32>
}

// @device_ids: the embedding gather with indices made on the device (a concat
// of two fed id vectors), which the program's index_bound cannot check on
// the host: one out of range is the kernel's fault word, read back after the
// run (cuda_data_program_test.cpp, DeviceIndicesOutOfRangeAreOneLine).
func.func @device_ids(%a: tensor<?xi64> {bmc.name = "a"}, %b: tensor<?xi64> {bmc.name = "b"})
    -> (tensor<?x24xf32> {bmc.name = "rows"}) {
  %av = bmck.to_view %a : tensor<?xi64> -> !bmck.view<?xi64>
  %bv = bmck.to_view %b : tensor<?xi64> -> !bmck.view<?xi64>
  %ids = bmck.concat %av, %bv {axis = 0 : i64} : (!bmck.view<?xi64>, !bmck.view<?xi64>) -> !bmck.view<?xi64>
  %w = bmc.weight "table" : tensor<37x24xf32>
  %wv = bmck.to_view %w : tensor<37x24xf32> -> !bmck.view<37x24xf32>
  %g = bmck.gather %wv, %ids {axis = 0 : i64} : (!bmck.view<37x24xf32>, !bmck.view<?xi64>) -> !bmck.view<?x24xf32>
  %gt = bmck.to_tensor %g : !bmck.view<?x24xf32> -> tensor<?x24xf32>
  return %gt : tensor<?x24xf32>
}
