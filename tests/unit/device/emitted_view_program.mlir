// The input of cuda_view_program_test.cpp: transpose, reshape and flatten as
// view steps the host evaluates (DeviceProgramView.cpp), emitted with
// whole-model (a bmc-program line per function) and run by DeviceProgram in
// the host emulation against plain loops.

// @heads: x [B, S, 15] read as [B, S, 3, 5] by a reshape whose shape is the
// run's host scalars (ONNX: 0 copies the input's size, one -1 is inferred),
// the heads transposed to [B, 3, S, 5] and read strided by an elementwise
// kernel (x2) and returned as a view; the transposed view copied row-major
// (bmck.copy, as bmc-lower-to-kernels puts one before a reshape of it), then
// reshaped by [0, -1] to [B, 3 * S * 5] and flattened at axis 2 to [B * 3, S * 5].
func.func @heads(%x: tensor<?x?x15xf32> {bmc.name = "x"}, %a: index {bmc.name = "a"}, %b: index {bmc.name = "b"},
                 %c: index {bmc.name = "c"}, %d: index {bmc.name = "d"})
    -> (tensor<?x?x?x?xf32> {bmc.name = "twice"}, tensor<?x?x?x?xf32> {bmc.name = "heads"},
        tensor<?x?xf32> {bmc.name = "rows"}, tensor<?x?xf32> {bmc.name = "flat"}) {
  %c0 = arith.constant 0 : index
  %cm1 = arith.constant -1 : index
  %xv = bmck.to_view %x : tensor<?x?x15xf32> -> !bmck.view<?x?x15xf32>
  %shape = tensor.from_elements %a, %b, %c, %d : tensor<4xindex>
  %r = bmck.reshape %xv, %shape : (!bmck.view<?x?x15xf32>, tensor<4xindex>) -> !bmck.view<?x?x?x?xf32>
  %t = bmck.transpose %r {perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x?x?xf32>) -> !bmck.view<?x?x?x?xf32>
  %two = arith.constant dense<2.0> : tensor<f32>
  %twov = bmck.to_view %two : tensor<f32> -> !bmck.view<f32>
  %e = bmck.elementwise %t, %twov : (!bmck.view<?x?x?x?xf32>, !bmck.view<f32>) -> !bmck.view<?x?x?x?xf32> {
  ^bb0(%p: tensor<?x?x?x?xf32>, %q: tensor<f32>):
    %m = bmc.mul %p, %q : (tensor<?x?x?x?xf32>, tensor<f32>) -> tensor<?x?x?x?xf32>
    bmck.yield %m : tensor<?x?x?x?xf32>
  }
  %cp = bmck.copy %t : (!bmck.view<?x?x?x?xf32>) -> !bmck.view<?x?x?x?xf32>
  %rows_shape = tensor.from_elements %c0, %cm1 : tensor<2xindex>
  %rows = bmck.reshape %cp, %rows_shape : (!bmck.view<?x?x?x?xf32>, tensor<2xindex>) -> !bmck.view<?x?xf32>
  %flat = bmck.flatten %cp {axis = 2 : i64} : (!bmck.view<?x?x?x?xf32>) -> !bmck.view<?x?xf32>
  %t0 = bmck.to_tensor %e : !bmck.view<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %t1 = bmck.to_tensor %t : !bmck.view<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  %t2 = bmck.to_tensor %rows : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  %t3 = bmck.to_tensor %flat : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  return %t0, %t1, %t2, %t3 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>
}

// @strided: a reshape straight after a transpose, without the copy the
// compiler would put there: row-major at run time only where the transposed
// dimensions hold a 1 ([1, N] or [N, 1]); otherwise the host refuses it.
func.func @strided(%y: tensor<?x?xf32> {bmc.name = "y"}) -> (tensor<?xf32> {bmc.name = "line"}) {
  %yv = bmck.to_view %y : tensor<?x?xf32> -> !bmck.view<?x?xf32>
  %t = bmck.transpose %yv {perm = array<i64: 1, 0>} : (!bmck.view<?x?xf32>) -> !bmck.view<?x?xf32>
  %all = arith.constant dense<-1> : tensor<1xi64>
  %l = bmck.reshape %t, %all : (!bmck.view<?x?xf32>, tensor<1xi64>) -> !bmck.view<?xf32>
  %lt = bmck.to_tensor %l : !bmck.view<?xf32> -> tensor<?xf32>
  return %lt : tensor<?xf32>
}

// @mask_fold: the generated decoders' attention-mask pattern: m [B, T]
// flattened at axis 2 to [B * T, 1], gathered at axis 0 by positions
// [B, 1, 1, T] (a rank-5 result [B, 1, 1, T, 1], held as [B, T]: its
// statically-1 dimensions folded), then reshaped to [B * T] by -1, that to
// [B, 1, 1, T] by the run's host scalars, read by an elementwise kernel; the
// rank-5 value also reshaped by [0, 0, -1] (its full rank's sizes: B, 1, then
// T inferred) and flattened at axis 3 ([B, T]).
func.func @mask_fold(%m: tensor<?x?xf32> {bmc.name = "m"}, %pos: tensor<?x1x1x?xi64> {bmc.name = "pos"},
                     %bb: index {bmc.name = "batch"}, %tt: index {bmc.name = "total"})
    -> (tensor<?x1x1x?xf32> {bmc.name = "mask"}, tensor<?x?x?xf32> {bmc.name = "kept"},
        tensor<?x?xf32> {bmc.name = "flat"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cm1 = arith.constant -1 : index
  %mv = bmck.to_view %m : tensor<?x?xf32> -> !bmck.view<?x?xf32>
  %col = bmck.flatten %mv {axis = 2 : i64} : (!bmck.view<?x?xf32>) -> !bmck.view<?x1xf32>
  %pv = bmck.to_view %pos : tensor<?x1x1x?xi64> -> !bmck.view<?x1x1x?xi64>
  %g = bmck.gather %col, %pv {axis = 0 : i64} : (!bmck.view<?x1xf32>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xf32>
  %gt = bmck.to_tensor %g : !bmck.view<?x1x1x?x1xf32> -> tensor<?x1x1x?x1xf32>
  %gv = bmck.to_view %gt : tensor<?x1x1x?x1xf32> -> !bmck.view<?x1x1x?x1xf32>
  %all = tensor.from_elements %cm1 : tensor<1xindex>
  %line = bmck.reshape %gv, %all : (!bmck.view<?x1x1x?x1xf32>, tensor<1xindex>) -> !bmck.view<?xf32>
  %s4 = tensor.from_elements %bb, %c1, %c1, %tt : tensor<4xindex>
  %m4 = bmck.reshape %line, %s4 : (!bmck.view<?xf32>, tensor<4xindex>) -> !bmck.view<?x1x1x?xf32>
  %neg = bmck.elementwise %m4 : (!bmck.view<?x1x1x?xf32>) -> !bmck.view<?x1x1x?xf32> {
  ^bb0(%p: tensor<?x1x1x?xf32>):
    %n = bmc.neg %p : (tensor<?x1x1x?xf32>) -> tensor<?x1x1x?xf32>
    bmck.yield %n : tensor<?x1x1x?xf32>
  }
  %s3 = tensor.from_elements %c0, %c0, %cm1 : tensor<3xindex>
  %kept = bmck.reshape %g, %s3 : (!bmck.view<?x1x1x?x1xf32>, tensor<3xindex>) -> !bmck.view<?x?x?xf32>
  %flat = bmck.flatten %g {axis = 3 : i64} : (!bmck.view<?x1x1x?x1xf32>) -> !bmck.view<?x?xf32>
  %t0 = bmck.to_tensor %neg : !bmck.view<?x1x1x?xf32> -> tensor<?x1x1x?xf32>
  %t1 = bmck.to_tensor %kept : !bmck.view<?x?x?xf32> -> tensor<?x?x?xf32>
  %t2 = bmck.to_tensor %flat : !bmck.view<?x?xf32> -> tensor<?x?xf32>
  return %t0, %t1, %t2 : tensor<?x1x1x?xf32>, tensor<?x?x?xf32>, tensor<?x?xf32>
}
