// The input of cuda_data_program_test.cpp: a function of copies emitted with
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
