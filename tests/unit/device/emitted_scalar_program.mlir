// The input of cuda_scalar_program_test.cpp: Ranges from host scalars and
// shape vectors kernels read, as a whole-model compile of a decoder has them
// (the generated Llama's positions): `up` = Range(a, b, d) of 0-D
// tensor.from_elements of run-time scalars (positive, negative or zero
// delta, an empty result), `shifted` = up + a (the same 0-D from_elements
// read by an elementwise kernel: uploaded), `down` = Range(0, -rows, -1)
// with 0-D integer constants for start and delta and a limit from a
// run-time dimension, `scaled` = x * [a, b] (a 1-D from_elements read by an
// elementwise Mul).
func.func @ranges(%x: tensor<?x2xi64> {bmc.name = "x"}, %a: index {bmc.name = "a"}, %b: index {bmc.name = "b"},
                  %d: index {bmc.name = "d"})
    -> (tensor<?xi64> {bmc.name = "up"}, tensor<?xi64> {bmc.name = "shifted"}, tensor<?xi64> {bmc.name = "down"},
        tensor<?x2xi64> {bmc.name = "scaled"}) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0 : i64
  %rows = tensor.dim %x, %c0 : tensor<?x2xi64>
  %ai = arith.index_cast %a : index to i64
  %bi = arith.index_cast %b : index to i64
  %di = arith.index_cast %d : index to i64
  %ri = arith.index_cast %rows : index to i64
  %start = tensor.from_elements %ai : tensor<i64>
  %limit = tensor.from_elements %bi : tensor<i64>
  %delta = tensor.from_elements %di : tensor<i64>
  %up = bmck.range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %sv = bmck.to_view %start : tensor<i64> -> !bmck.view<i64>
  %sh = bmck.elementwise %up, %sv : (!bmck.view<?xi64>, !bmck.view<i64>) -> !bmck.view<?xi64> {
  ^bb0(%u: tensor<?xi64>, %s: tensor<i64>):
    %y = bmc.add %u, %s : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    bmck.yield %y : tensor<?xi64>
  }
  %s0 = arith.constant dense<0> : tensor<i64>
  %m1 = arith.constant dense<-1> : tensor<i64>
  %neg = arith.subi %zero, %ri : i64
  %lim = tensor.from_elements %neg : tensor<i64>
  %down = bmck.range %s0, %lim, %m1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %ab = tensor.from_elements %ai, %bi : tensor<2xi64>
  %abv = bmck.to_view %ab : tensor<2xi64> -> !bmck.view<2xi64>
  %xv = bmck.to_view %x : tensor<?x2xi64> -> !bmck.view<?x2xi64>
  %sc = bmck.elementwise %xv, %abv : (!bmck.view<?x2xi64>, !bmck.view<2xi64>) -> !bmck.view<?x2xi64> {
  ^bb0(%p: tensor<?x2xi64>, %q: tensor<2xi64>):
    %y = bmc.mul %p, %q : (tensor<?x2xi64>, tensor<2xi64>) -> tensor<?x2xi64>
    bmck.yield %y : tensor<?x2xi64>
  }
  %t0 = bmck.to_tensor %up : !bmck.view<?xi64> -> tensor<?xi64>
  %t1 = bmck.to_tensor %sh : !bmck.view<?xi64> -> tensor<?xi64>
  %t2 = bmck.to_tensor %down : !bmck.view<?xi64> -> tensor<?xi64>
  %t3 = bmck.to_tensor %sc : !bmck.view<?x2xi64> -> tensor<?x2xi64>
  return %t0, %t1, %t2, %t3 : tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?x2xi64>
}

// @checked: the genai GQA import's host guard, bmc.check_equal of two host
// shape vectors, decided by the host before any launch: a against the rows of
// x, then [a, b] against that checked 0-D vector (a check's result as another
// check's expected, broadcast). y = x + a reads the first check's result
// (uploaded), z = -[a, b] the second's.
func.func @checked(%x: tensor<?xi64> {bmc.name = "x"}, %a: index {bmc.name = "a"}, %b: index {bmc.name = "b"})
    -> (tensor<?xi64> {bmc.name = "y"}, tensor<2xi64> {bmc.name = "z"}) {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %x, %c0 : tensor<?xi64>
  %ai = arith.index_cast %a : index to i64
  %bi = arith.index_cast %b : index to i64
  %ri = arith.index_cast %rows : index to i64
  %va = tensor.from_elements %ai : tensor<i64>
  %vr = tensor.from_elements %ri : tensor<i64>
  %ca = bmc.check_equal %va, %vr {message = "Guard 'g0': a must be the rows of x"} : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %ab = tensor.from_elements %ai, %bi : tensor<2xi64>
  %cab = bmc.check_equal %ab, %ca {message = "Guard 'g1': a and b must be equal"} : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %xv = bmck.to_view %x : tensor<?xi64> -> !bmck.view<?xi64>
  %cav = bmck.to_view %ca : tensor<i64> -> !bmck.view<i64>
  %y = bmck.elementwise %xv, %cav : (!bmck.view<?xi64>, !bmck.view<i64>) -> !bmck.view<?xi64> {
  ^bb0(%u: tensor<?xi64>, %s: tensor<i64>):
    %r = bmc.add %u, %s : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    bmck.yield %r : tensor<?xi64>
  }
  %cabv = bmck.to_view %cab : tensor<2xi64> -> !bmck.view<2xi64>
  %z = bmck.elementwise %cabv : (!bmck.view<2xi64>) -> !bmck.view<2xi64> {
  ^bb0(%u: tensor<2xi64>):
    %r = bmc.neg %u : (tensor<2xi64>) -> tensor<2xi64>
    bmck.yield %r : tensor<2xi64>
  }
  %ty = bmck.to_tensor %y : !bmck.view<?xi64> -> tensor<?xi64>
  %tz = bmck.to_tensor %z : !bmck.view<2xi64> -> tensor<2xi64>
  return %ty, %tz : tensor<?xi64>, tensor<2xi64>
}

// @device_checked: the genai GQA import's seqlens_k guard, a bmc.check_equal
// of device data (an input tensor) against a host value: a one-thread kernel
// writes the first mismatch into the program's flag, read back after the run.
// y = -seqlens reads the checked result (the input's storage).
func.func @device_checked(%s: tensor<?xi64> {bmc.name = "seqlens"}, %t: index {bmc.name = "t"})
    -> (tensor<?xi64> {bmc.name = "y"}) {
  %ti = arith.index_cast %t : index to i64
  %vt = tensor.from_elements %ti : tensor<i64>
  %c = bmc.check_equal %s, %vt {message = "Guard 'g2': seqlens must all be t"} : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %cv = bmck.to_view %c : tensor<?xi64> -> !bmck.view<?xi64>
  %y = bmck.elementwise %cv : (!bmck.view<?xi64>) -> !bmck.view<?xi64> {
  ^bb0(%u: tensor<?xi64>):
    %r = bmc.neg %u : (tensor<?xi64>) -> tensor<?xi64>
    bmck.yield %r : tensor<?xi64>
  }
  %ty = bmck.to_tensor %y : !bmck.view<?xi64> -> tensor<?xi64>
  return %ty : tensor<?xi64>
}

// @padded_mask: the static cache's attention mask padded to `total` columns
// (modelgen/blocks.py causal_mask, ConstantOfShape + Concat): a fill kernel
// writes the i64 zeros of [rows, total - cols] (the host vector sizes its
// slot; none when cols = total), a concat reads them after the mask; `halves`
// is an f32 [rows, 3] of 0.5 (a float's bytes, a second configuration).
func.func @padded_mask(%m: tensor<?x?xi64> {bmc.name = "mask"}, %total: index {bmc.name = "total"})
    -> (tensor<?x?xi64> {bmc.name = "padded"}, tensor<?x3xf32> {bmc.name = "halves"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = tensor.dim %m, %c0 : tensor<?x?xi64>
  %cols = tensor.dim %m, %c1 : tensor<?x?xi64>
  %rest = arith.subi %total, %cols : index
  %ri = arith.index_cast %rows : index to i64
  %pi = arith.index_cast %rest : index to i64
  %three = arith.constant 3 : i64
  %shape = tensor.from_elements %ri, %pi : tensor<2xi64>
  %pad = bmc.constant_of_shape %shape {value = 0 : i64} : (tensor<2xi64>) -> tensor<?x?xi64>
  %mv = bmck.to_view %m : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %pv = bmck.to_view %pad : tensor<?x?xi64> -> !bmck.view<?x?xi64>
  %cat = bmck.concat %mv, %pv {axis = 1 : i64} : (!bmck.view<?x?xi64>, !bmck.view<?x?xi64>) -> !bmck.view<?x?xi64>
  %hshape = tensor.from_elements %ri, %three : tensor<2xi64>
  %h = bmc.constant_of_shape %hshape {value = 5.000000e-01 : f32} : (tensor<2xi64>) -> tensor<?x3xf32>
  %t0 = bmck.to_tensor %cat : !bmck.view<?x?xi64> -> tensor<?x?xi64>
  return %t0, %h : tensor<?x?xi64>, tensor<?x3xf32>
}
