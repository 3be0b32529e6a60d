// The input of cuda_emitted_data_test.cpp: the CUDA emitter's output for these
// copies (bmc-opt --bmc-emit-cuda, at build time) runs in the host emulation
// against plain loops written in the test. The kernel numbers the test uses
// follow the order below (concat 0-4, gather 0-5, copy 0-2, range 0-1).
func.func @data(%k0: !bmck.view<?x2x?x16xf32>, %k1: !bmck.view<?x2x?x16xf32>,
                %a0: !bmck.view<?x5x7xf16>, %a1: !bmck.view<?x5x7xf16>, %a2: !bmck.view<?x5x7xf16>,
                %b0: !bmck.view<3x?xi64>, %b1: !bmck.view<?x?xi64>,
                %c0: !bmck.view<?x3xbf16>, %c1: !bmck.view<?x3xbf16>,
                %d0: !bmck.view<?xi1>, %d1: !bmck.view<?xi1>, %d2: !bmck.view<?xi1>,
                %table: !bmck.view<?x96xf32>, %ids: !bmck.view<?x?xi64>,
                %x: !bmck.view<?x?x9xf16>, %j: !bmck.view<?xi32>,
                %y: !bmck.view<?x?x?x5xi32>, %jj: !bmck.view<i64>,
                %w: !bmck.view<?x4xbf16>, %wi: !bmck.view<?x?x?xi32>,
                %z: !bmck.view<?x6xi64>, %zi: !bmck.view<?xi64>,
                %t: !bmck.view<?x?x3x7xf32>, %u: !bmck.view<?x5xf16>, %v: !bmck.view<?xi64>,
                %mask: !bmck.view<?x1xi1>, %pos: !bmck.view<?x1x1x?xi64>,
                %start: tensor<i64>, %limit: tensor<i64>, %delta: tensor<i64>,
                %start32: tensor<i32>, %limit32: tensor<i32>, %delta32: tensor<i32>) {
  // concat 0: the KV concat, f32 rank 4 along axis 2, 2 inputs.
  %c0r = bmck.concat %k0, %k1 {axis = 2 : i64} : (!bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
  // concat 1: f16 rank 3 along axis 1 (5 + 5 + 5), 3 inputs.
  %c1r = bmck.concat %a0, %a1, %a2 {axis = 1 : i64} : (!bmck.view<?x5x7xf16>, !bmck.view<?x5x7xf16>, !bmck.view<?x5x7xf16>) -> !bmck.view<?x15x7xf16>
  // concat 2: i64 rank 2 along axis 0.
  %c2r = bmck.concat %b0, %b1 {axis = 0 : i64} : (!bmck.view<3x?xi64>, !bmck.view<?x?xi64>) -> !bmck.view<?x?xi64>
  // concat 3: bf16 rank 2 along axis 1 (the last).
  %c3r = bmck.concat %c0, %c1 {axis = 1 : i64} : (!bmck.view<?x3xbf16>, !bmck.view<?x3xbf16>) -> !bmck.view<?x6xbf16>
  // concat 4: i1 rank 1, 3 inputs.
  %c4r = bmck.concat %d0, %d1, %d2 {axis = 0 : i64} : (!bmck.view<?xi1>, !bmck.view<?xi1>, !bmck.view<?xi1>) -> !bmck.view<?xi1>
  // gather 0: the embedding lookup, f32 table at axis 0 by i64 ids [batch, seq].
  %g0 = bmck.gather %table, %ids {axis = 0 : i64} : (!bmck.view<?x96xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x96xf32>
  // gather 1: f16 rank 3 at axis 1 by i32 rank 1.
  %g1 = bmck.gather %x, %j {axis = 1 : i64} : (!bmck.view<?x?x9xf16>, !bmck.view<?xi32>) -> !bmck.view<?x?x9xf16>
  // gather 2: i32 rank 4 at axis 3 (the last) by a scalar i64: rank 3 out.
  %g2 = bmck.gather %y, %jj {axis = 3 : i64} : (!bmck.view<?x?x?x5xi32>, !bmck.view<i64>) -> !bmck.view<?x?x?xi32>
  // gather 3: bf16 rank 2 at axis 0 by i32 rank 3: rank 4 out.
  %g3 = bmck.gather %w, %wi {axis = 0 : i64} : (!bmck.view<?x4xbf16>, !bmck.view<?x?x?xi32>) -> !bmck.view<?x?x?x4xbf16>
  // gather 4: i64 rank 2 at axis 1 by i64 rank 1.
  %g4 = bmck.gather %z, %zi {axis = 1 : i64} : (!bmck.view<?x6xi64>, !bmck.view<?xi64>) -> !bmck.view<?x?xi64>
  // gather 5: the generated decoders' attention-mask gather, out of rank 5
  // passed without its statically-1 dimensions ([batch, total]).
  %g5 = bmck.gather %mask, %pos {axis = 0 : i64} : (!bmck.view<?x1xi1>, !bmck.view<?x1x1x?xi64>) -> !bmck.view<?x1x1x?x1xi1>
  // copy 0: f32 rank 4 (attention's transposed output before its reshape).
  %p0 = bmck.copy %t : (!bmck.view<?x?x3x7xf32>) -> !bmck.view<?x?x3x7xf32>
  // copy 1: f16 rank 2.
  %p1 = bmck.copy %u : (!bmck.view<?x5xf16>) -> !bmck.view<?x5xf16>
  // copy 2: i64 rank 1.
  %p2 = bmck.copy %v : (!bmck.view<?xi64>) -> !bmck.view<?xi64>
  // range 0: i64; range 1: i32 (start and delta host scalars).
  %r0 = bmck.range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
  %r1 = bmck.range %start32, %limit32, %delta32 : (tensor<i32>, tensor<i32>, tensor<i32>) -> !bmck.view<?xi32>
  return
}
