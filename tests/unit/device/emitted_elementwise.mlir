// The input of cuda_emitted_elementwise_test.cpp: the CUDA emitter's output for
// these groups (bmc-opt --bmc-emit-cuda, at build time) runs in the host
// emulation against plain loops written in the test. The kernel numbers the
// test uses follow the order below (elementwise 0-11, reduce 0-9).
func.func @groups(%x0: !bmck.view<?x3x?x38xf32>, %cos: !bmck.view<1x1x?x38xf32>, %rot: !bmck.view<?x3x?x38xf32>,
                  %sin: !bmck.view<1x1x?x38xf32>,
                  %g: !bmck.view<?x?x45xf32>, %u: !bmck.view<?x?x45xf32>,
                  %kpos: !bmck.view<1x1x1x?xi64>, %qpos: !bmck.view<1x1x?x1xi64>, %am: !bmck.view<?x1x1x?xi64>,
                  %zero: !bmck.view<f32>, %ninf: !bmck.view<f32>,
                  %h: !bmck.view<?x37xf16>, %hb: !bmck.view<37xf16>, %bx: !bmck.view<?x?x37xbf16>,
                  %ia: !bmck.view<?x7xi64>, %ib: !bmck.view<7xi64>, %ic: !bmck.view<i32>,
                  %ja: !bmck.view<?x5xi32>, %jb: !bmck.view<5xi32>,
                  %fx: !bmck.view<?x11xf32>, %fli: !bmck.view<11xi64>,
                  %p: !bmck.view<?x13xf32>, %q: !bmck.view<13xf32>, %lo: !bmck.view<f32>, %hi: !bmck.view<f32>,
                  %un: !bmck.view<?x?x13xf32>, %bv: !bmck.view<?x5xf32>,
                  %r0: !bmck.view<?x?x301xf32>, %r1: !bmck.view<?x5x3x37xbf16>, %r2: !bmck.view<?x9xf16>,
                  %r3: !bmck.view<?x7xf32>, %r4: !bmck.view<?xf32>, %pa: !bmck.view<?x3xi32>, %pb: !bmck.view<3xi32>,
                  %s0: !bmck.view<?x?xi64>, %s1: !bmck.view<?x5x?xi32>, %s2: !bmck.view<?x?x7xi64>,
                  %s3: !bmck.view<?x9xi32>, %s4: !bmck.view<?xi64>) {
  // 0: RoPE, x * cos + rotate_half(x) * sin (cos / sin broadcast over batch and heads).
  %e0 = bmck.elementwise %x0, %cos, %rot, %sin : (!bmck.view<?x3x?x38xf32>, !bmck.view<1x1x?x38xf32>, !bmck.view<?x3x?x38xf32>, !bmck.view<1x1x?x38xf32>) -> !bmck.view<?x3x?x38xf32> {
  ^bb0(%a: tensor<?x3x?x38xf32>, %c: tensor<1x1x?x38xf32>, %r: tensor<?x3x?x38xf32>, %s: tensor<1x1x?x38xf32>):
    %m0 = bmc.mul %a, %c : (tensor<?x3x?x38xf32>, tensor<1x1x?x38xf32>) -> tensor<?x3x?x38xf32>
    %m1 = bmc.mul %r, %s : (tensor<?x3x?x38xf32>, tensor<1x1x?x38xf32>) -> tensor<?x3x?x38xf32>
    %y = bmc.add %m0, %m1 : (tensor<?x3x?x38xf32>, tensor<?x3x?x38xf32>) -> tensor<?x3x?x38xf32>
    bmck.yield %y : tensor<?x3x?x38xf32>
  }
  // 1: SiLU(g) * u.
  %e1 = bmck.elementwise %g, %u : (!bmck.view<?x?x45xf32>, !bmck.view<?x?x45xf32>) -> !bmck.view<?x?x45xf32> {
  ^bb0(%a: tensor<?x?x45xf32>, %b: tensor<?x?x45xf32>):
    %s = bmc.sigmoid %a : (tensor<?x?x45xf32>) -> tensor<?x?x45xf32>
    %m = bmc.mul %a, %s : (tensor<?x?x45xf32>, tensor<?x?x45xf32>) -> tensor<?x?x45xf32>
    %y = bmc.mul %m, %b : (tensor<?x?x45xf32>, tensor<?x?x45xf32>) -> tensor<?x?x45xf32>
    bmck.yield %y : tensor<?x?x45xf32>
  }
  // 2: the mask: where(k <= q and attention_mask != 0, 0, -inf).
  %e2 = bmck.elementwise %kpos, %qpos, %am, %zero, %ninf : (!bmck.view<1x1x1x?xi64>, !bmck.view<1x1x?x1xi64>, !bmck.view<?x1x1x?xi64>, !bmck.view<f32>, !bmck.view<f32>) -> !bmck.view<?x1x?x?xf32> {
  ^bb0(%k: tensor<1x1x1x?xi64>, %qq: tensor<1x1x?x1xi64>, %m: tensor<?x1x1x?xi64>, %z: tensor<f32>, %n: tensor<f32>):
    %le = bmc.less_equal %k, %qq : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
    %mb = bmc.cast %m {to = i1} : (tensor<?x1x1x?xi64>) -> tensor<?x1x1x?xi1>
    %and = bmc.and %le, %mb : (tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
    %w = bmc.where %and, %z, %n : (tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32>
    bmck.yield %w : tensor<?x1x?x?xf32>
  }
  // 3: f16: tanh(x + b), the sum rounded to f16 before the tanh.
  %e3 = bmck.elementwise %h, %hb : (!bmck.view<?x37xf16>, !bmck.view<37xf16>) -> !bmck.view<?x37xf16> {
  ^bb0(%a: tensor<?x37xf16>, %b: tensor<37xf16>):
    %s = bmc.add %a, %b : (tensor<?x37xf16>, tensor<37xf16>) -> tensor<?x37xf16>
    %t = bmc.tanh %s : (tensor<?x37xf16>) -> tensor<?x37xf16>
    bmck.yield %t : tensor<?x37xf16>
  }
  // 4: bf16: x * sigmoid(x) (sigmoid rounded to bf16), then a Cast to f32 of a 16-bit value.
  %e4 = bmck.elementwise %bx : (!bmck.view<?x?x37xbf16>) -> !bmck.view<?x?x37xf32> {
  ^bb0(%a: tensor<?x?x37xbf16>):
    %s = bmc.sigmoid %a : (tensor<?x?x37xbf16>) -> tensor<?x?x37xbf16>
    %m = bmc.mul %a, %s : (tensor<?x?x37xbf16>, tensor<?x?x37xbf16>) -> tensor<?x?x37xbf16>
    %c = bmc.cast %m {to = f32} : (tensor<?x?x37xbf16>) -> tensor<?x?x37xf32>
    bmck.yield %c : tensor<?x?x37xf32>
  }
  // 5: i64: Python Mod, Neg, a truncating Cast to i32, times an i32 scalar (wrapping).
  %e5 = bmck.elementwise %ia, %ib, %ic : (!bmck.view<?x7xi64>, !bmck.view<7xi64>, !bmck.view<i32>) -> !bmck.view<?x7xi32> {
  ^bb0(%a: tensor<?x7xi64>, %b: tensor<7xi64>, %c: tensor<i32>):
    %m = bmc.mod %a, %b : (tensor<?x7xi64>, tensor<7xi64>) -> tensor<?x7xi64>
    %n = bmc.neg %m : (tensor<?x7xi64>) -> tensor<?x7xi64>
    %t = bmc.cast %n {to = i32} : (tensor<?x7xi64>) -> tensor<?x7xi32>
    %y = bmc.mul %t, %c : (tensor<?x7xi32>, tensor<i32>) -> tensor<?x7xi32>
    bmck.yield %y : tensor<?x7xi32>
  }
  // 6: i32: truncating Div, then fmod-style Mod (the dividend's sign), Abs, Max.
  %e6 = bmck.elementwise %ja, %jb : (!bmck.view<?x5xi32>, !bmck.view<5xi32>) -> !bmck.view<?x5xi32> {
  ^bb0(%a: tensor<?x5xi32>, %b: tensor<5xi32>):
    %d = bmc.div %a, %b : (tensor<?x5xi32>, tensor<5xi32>) -> tensor<?x5xi32>
    %m = bmc.mod %d, %b {fmod = true} : (tensor<?x5xi32>, tensor<5xi32>) -> tensor<?x5xi32>
    %s = bmc.sub %m, %a : (tensor<?x5xi32>, tensor<?x5xi32>) -> tensor<?x5xi32>
    %y = bmc.max %s, %b : (tensor<?x5xi32>, tensor<5xi32>) -> tensor<?x5xi32>
    bmck.yield %y : tensor<?x5xi32>
  }
  // 7: f32 -> i64 Cast (toward zero; NaN and out of range: the minimum), Min with
  // an i64 leaf, Sign, then a Cast to f32 and gelu (erf).
  %e7 = bmck.elementwise %fx, %fli : (!bmck.view<?x11xf32>, !bmck.view<11xi64>) -> !bmck.view<?x11xf32> {
  ^bb0(%a: tensor<?x11xf32>, %l: tensor<11xi64>):
    %c = bmc.cast %a {to = i64} : (tensor<?x11xf32>) -> tensor<?x11xi64>
    %m = bmc.min %c, %l : (tensor<?x11xi64>, tensor<11xi64>) -> tensor<?x11xi64>
    %f = bmc.cast %m {to = f32} : (tensor<?x11xi64>) -> tensor<?x11xf32>
    %y = bmc.gelu %f : (tensor<?x11xf32>) -> tensor<?x11xf32>
    bmck.yield %y : tensor<?x11xf32>
  }
  // 8: floats: Pow by the constants 2 and 0.5 (a product, a sqrt), Clip, Pow by a
  // tensor, Min / Max with NaN, fmod, Floor, comparisons, Or / Not / Xor, Where.
  %two = arith.constant dense<2.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %twov = bmck.to_view %two : tensor<f32> -> !bmck.view<f32>
  %halfv = bmck.to_view %half : tensor<f32> -> !bmck.view<f32>
  %e8 = bmck.elementwise %p, %twov, %halfv, %lo, %hi, %q : (!bmck.view<?x13xf32>, !bmck.view<f32>, !bmck.view<f32>, !bmck.view<f32>, !bmck.view<f32>, !bmck.view<13xf32>) -> !bmck.view<?x13xf32> {
  ^bb0(%a: tensor<?x13xf32>, %t: tensor<f32>, %hf: tensor<f32>, %l: tensor<f32>, %hh: tensor<f32>, %b: tensor<13xf32>):
    %sq = bmc.pow %a, %t : (tensor<?x13xf32>, tensor<f32>) -> tensor<?x13xf32>
    %rt = bmc.pow %sq, %hf : (tensor<?x13xf32>, tensor<f32>) -> tensor<?x13xf32>
    %cl = bmc.clip %rt min %l max %hh : (tensor<?x13xf32>, tensor<f32>, tensor<f32>) -> tensor<?x13xf32>
    %pw = bmc.pow %cl, %b : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xf32>
    %mn = bmc.min %pw, %b : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xf32>
    %fm = bmc.mod %mn, %b {fmod = true} : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xf32>
    %fl = bmc.floor %fm : (tensor<?x13xf32>) -> tensor<?x13xf32>
    %gt = bmc.greater %fl, %a : (tensor<?x13xf32>, tensor<?x13xf32>) -> tensor<?x13xi1>
    %ge = bmc.greater_equal %a, %b : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xi1>
    %or = bmc.or %gt, %ge : (tensor<?x13xi1>, tensor<?x13xi1>) -> tensor<?x13xi1>
    %eq = bmc.equal %a, %b : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xi1>
    %xo = bmc.xor %or, %eq : (tensor<?x13xi1>, tensor<?x13xi1>) -> tensor<?x13xi1>
    %nt = bmc.not %xo : (tensor<?x13xi1>) -> tensor<?x13xi1>
    %ex = bmc.exp %a : (tensor<?x13xf32>) -> tensor<?x13xf32>
    %w = bmc.where %nt, %ex, %b : (tensor<?x13xi1>, tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x13xf32>
    %y = bmc.max %w, %a : (tensor<?x13xf32>, tensor<?x13xf32>) -> tensor<?x13xf32>
    bmck.yield %y : tensor<?x13xf32>
  }
  // 9: the unary float ops in a chain (values kept in range).
  %e9 = bmck.elementwise %un : (!bmck.view<?x?x13xf32>) -> !bmck.view<?x?x13xf32> {
  ^bb0(%a: tensor<?x?x13xf32>):
    %c = bmc.cos %a : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %s = bmc.sin %c : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %ex = bmc.exp %s : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %sq = bmc.sqrt %ex : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %lg = bmc.log %sq : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %er = bmc.erf %lg : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %th = bmc.tanh %er : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %gt = bmc.gelu %th {tanh_approximation = true} : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %lr = bmc.leaky_relu %gt {alpha = 2.000000e-01 : f32} : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %sp = bmc.softplus %lr : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %rc = bmc.reciprocal %sp : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %ng = bmc.neg %rc : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    %ab = bmc.abs %ng : (tensor<?x?x13xf32>) -> tensor<?x?x13xf32>
    bmck.yield %ab : tensor<?x?x13xf32>
  }
  // 10: Ceil, Sign, Relu, Sub, a Cast to bool (NaN: true; +-0: false) and Not,
  // stored as bytes.
  %e10 = bmck.elementwise %bv : (!bmck.view<?x5xf32>) -> !bmck.view<?x5xi1> {
  ^bb0(%a: tensor<?x5xf32>):
    %ce = bmc.ceil %a : (tensor<?x5xf32>) -> tensor<?x5xf32>
    %sg = bmc.sign %ce : (tensor<?x5xf32>) -> tensor<?x5xf32>
    %rl = bmc.relu %sg : (tensor<?x5xf32>) -> tensor<?x5xf32>
    %sb = bmc.sub %rl, %a : (tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?x5xf32>
    %b = bmc.cast %sb {to = i1} : (tensor<?x5xf32>) -> tensor<?x5xi1>
    %n = bmc.not %b : (tensor<?x5xi1>) -> tensor<?x5xi1>
    bmck.yield %n : tensor<?x5xi1>
  }
  // 11: Pow of integers (through double, truncated), then Abs.
  %e11 = bmck.elementwise %pa, %pb : (!bmck.view<?x3xi32>, !bmck.view<3xi32>) -> !bmck.view<?x3xi32> {
  ^bb0(%a: tensor<?x3xi32>, %b: tensor<3xi32>):
    %pw = bmc.pow %a, %b : (tensor<?x3xi32>, tensor<3xi32>) -> tensor<?x3xi32>
    %y = bmc.abs %pw : (tensor<?x3xi32>) -> tensor<?x3xi32>
    bmck.yield %y : tensor<?x3xi32>
  }
  // The reductions (bmck.reduce 0-4): a sum over a row wider than a block,
  // a mean of bf16 over axes 1 and 3 (keepdims), a max of f16 over all axes
  // (a scalar), a min over axis 0 (keepdims), a product over a 1-D view.
  %q0 = bmck.reduce %r0 {kind = #bmck.reduce<sum>, axes = array<i64: 2>, keepdims = false} : (!bmck.view<?x?x301xf32>) -> !bmck.view<?x?xf32>
  %q1 = bmck.reduce %r1 {kind = #bmck.reduce<mean>, axes = array<i64: 1, 3>, keepdims = true} : (!bmck.view<?x5x3x37xbf16>) -> !bmck.view<?x1x3x1xbf16>
  %q2 = bmck.reduce %r2 {kind = #bmck.reduce<max>, axes = array<i64>, keepdims = false} : (!bmck.view<?x9xf16>) -> !bmck.view<f16>
  %q3 = bmck.reduce %r3 {kind = #bmck.reduce<min>, axes = array<i64: 0>, keepdims = true} : (!bmck.view<?x7xf32>) -> !bmck.view<1x7xf32>
  %q4 = bmck.reduce %r4 {kind = #bmck.reduce<prod>, axes = array<i64: 0>, keepdims = false} : (!bmck.view<?xf32>) -> !bmck.view<f32>
  // The integer reductions (bmck.reduce 5-9; wrapping in the element's width):
  // the genai mask's ReduceSum of i64 over axis 1, an i32 sum over axes 0 and 2
  // (keepdims) that wraps, an i64 max over all axes, an i32 mean (truncated
  // toward zero) over axis 1, an i64 product that wraps.
  %q5 = bmck.reduce %s0 {kind = #bmck.reduce<sum>, axes = array<i64: 1>, keepdims = false} : (!bmck.view<?x?xi64>) -> !bmck.view<?xi64>
  %q6 = bmck.reduce %s1 {kind = #bmck.reduce<sum>, axes = array<i64: 0, 2>, keepdims = true} : (!bmck.view<?x5x?xi32>) -> !bmck.view<1x5x1xi32>
  %q7 = bmck.reduce %s2 {kind = #bmck.reduce<max>, axes = array<i64>, keepdims = false} : (!bmck.view<?x?x7xi64>) -> !bmck.view<i64>
  %q8 = bmck.reduce %s3 {kind = #bmck.reduce<mean>, axes = array<i64: 1>, keepdims = false} : (!bmck.view<?x9xi32>) -> !bmck.view<?xi32>
  %q9 = bmck.reduce %s4 {kind = #bmck.reduce<prod>, axes = array<i64: 0>, keepdims = false} : (!bmck.view<?xi64>) -> !bmck.view<i64>
  return
}
