// --bmc-fold-shapes on excerpts of real exports: one attention block of
// llama_s.onnx and the Conv1D/QKV part of gpt2_s.onnx (HF transformers +
// torch.onnx.export, opset 17, as imported by bmc-import; unrelated ops cut,
// SSA names kept). The functions are the "before"; the CHECKs the "after".
//
// RUN: bmc-opt %s | FileCheck %s --check-prefix=BEFORE
// RUN: bmc-opt %s --bmc-fold-shapes --canonicalize --cse | FileCheck %s \
// RUN:   --implicit-check-not=bmc.shape --implicit-check-not=bmc.gather \
// RUN:   --implicit-check-not=bmc.concat --implicit-check-not=bmc.constant_of_shape \
// RUN:   --implicit-check-not=bmc.equal --implicit-check-not=bmc.slice \
// RUN:   --implicit-check-not=bmc.squeeze --implicit-check-not=bmc.cast
//
// Every Shape, Gather of a shape, Concat of shapes, and the exporter's
// Equal/Where/ConstantOfShape guard must be gone (implicit-check-not): only
// the embedding gather and the KV concat remain, and are checked explicitly.

// BEFORE-LABEL: func.func @llama_attention
// BEFORE: bmc.reshape %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
// BEFORE: bmc.expand %{{.*}}, %{{.*}} : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x?x?x16xf32>

// CHECK-LABEL: func.func @llama_attention
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<?x?xi64> {{.*}}, %[[PAST_KEY:[^:]*]]: tensor<?x2x?x16xf32>
// CHECK-SAME: -> (tensor<?x1x?x?xf32>, tensor<?x6x?x16xf32>, tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x?x96xf32>)
// CHECK-DAG: %[[C96:.*]] = arith.constant 96 : i64
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : i64
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : i64
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : i64
// CHECK-DAG: %[[C6:.*]] = arith.constant 6 : i64
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[I0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[I1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[I2:.*]] = arith.constant 2 : index
// The dims come from the graph inputs, however deep the exporter asked.
// CHECK-DAG: %[[PAST:.*]] = tensor.dim %[[PAST_KEY]], %[[I2]] : tensor<?x2x?x16xf32>
// CHECK-DAG: %[[SEQ:.*]] = tensor.dim %[[IDS]], %[[I1]] : tensor<?x?xi64>
// CHECK-DAG: %[[BATCH:.*]] = tensor.dim %[[IDS]], %[[I0]] : tensor<?x?xi64>
// CHECK: %[[H:.*]] = bmc.gather %{{.*}}, %[[IDS]] {axis = 0 : i64} : (tensor<1200x96xf32>, tensor<?x?xi64>) -> tensor<?x?x96xf32>
// The causal mask: Range over seq and past + seq.
// CHECK: %[[TOTAL:.*]] = arith.addi %[[PAST]], %[[SEQ]] : index
// CHECK: %[[SEQ64:.*]] = arith.index_cast %[[SEQ]] : index to i64
// CHECK: %[[SEQT:.*]] = tensor.from_elements %[[SEQ64]] : tensor<i64>
// CHECK: bmc.range %{{.*}}, %[[SEQT]], %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK: %[[TOTAL64:.*]] = arith.index_cast %[[TOTAL]] : index to i64
// CHECK: %[[TOTALT:.*]] = tensor.from_elements %[[TOTAL64]] : tensor<i64>
// CHECK: bmc.range %{{.*}}, %[[TOTALT]], %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK: %[[CAUSAL:.*]] = bmc.less_equal %{{.*}}, %{{.*}} : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
// The Expand target [batch, -1, seq, total] with -1 guarded to 1.
// CHECK: %[[BATCH64:.*]] = arith.index_cast %[[BATCH]] : index to i64
// CHECK: %[[MASKSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[C1]], %[[SEQ64]], %[[TOTAL64]] : tensor<4xi64>
// CHECK: %[[MASKB:.*]] = bmc.expand %[[CAUSAL]], %[[MASKSHAPE]] : (tensor<1x1x?x?xi1>, tensor<4xi64>) -> tensor<?x1x?x?xi1>
// CHECK: %[[MASK:.*]] = bmc.where %[[MASKB]], %{{.*}}, %{{.*}} : (tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32>
// q: [batch, seq, -1, 16] -> [batch, seq, 6, 16].
// CHECK: %[[QP:.*]] = bmc.matmul %[[H]], %{{.*}} : (tensor<?x?x96xf32>, tensor<96x96xf32>) -> tensor<?x?x96xf32>
// CHECK: %[[QSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[SEQ64]], %[[C6]], %[[C16]] : tensor<4xi64>
// CHECK: %[[Q4:.*]] = bmc.reshape %[[QP]], %[[QSHAPE]] : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x6x16xf32>
// CHECK: %[[Q:.*]] = bmc.transpose %[[Q4]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x6x16xf32>) -> tensor<?x6x?x16xf32>
// k: the same target gives 2 heads of the 32-wide projection.
// CHECK: %[[KP:.*]] = bmc.matmul %[[H]], %{{.*}} : (tensor<?x?x96xf32>, tensor<96x32xf32>) -> tensor<?x?x32xf32>
// CHECK: %[[KSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[SEQ64]], %[[C2]], %[[C16]] : tensor<4xi64>
// CHECK: %[[K4:.*]] = bmc.reshape %[[KP]], %[[KSHAPE]] : (tensor<?x?x32xf32>, tensor<4xi64>) -> tensor<?x?x2x16xf32>
// CHECK: %[[K:.*]] = bmc.transpose %[[K4]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x2x16xf32>) -> tensor<?x2x?x16xf32>
// The exporter's identity Concat of the past is gone; the KV concat stays.
// CHECK: %[[PRESENT:.*]] = bmc.concat %[[PAST_KEY]], %[[K]] {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
// GQA: Unsqueeze/Expand/Reshape with static heads 2 x 3 = 6.
// CHECK: %[[K5:.*]] = bmc.unsqueeze %[[PRESENT]] {axes = array<i64: 2>} : (tensor<?x2x?x16xf32>) -> tensor<?x2x1x?x16xf32>
// CHECK: %[[REPSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[C2]], %[[C3]], %[[TOTAL64]], %[[C16]] : tensor<5xi64>
// CHECK: %[[KREP:.*]] = bmc.expand %[[K5]], %[[REPSHAPE]] : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
// CHECK: %[[GQASHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[C6]], %[[TOTAL64]], %[[C16]] : tensor<4xi64>
// CHECK: %[[KGQA:.*]] = bmc.reshape %[[KREP]], %[[GQASHAPE]] : (tensor<?x2x3x?x16xf32>, tensor<4xi64>) -> tensor<?x6x?x16xf32>
// The attention output back to [batch, seq, -1] = [batch, seq, 96].
// CHECK: %[[OT:.*]] = bmc.transpose %[[Q]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x6x?x16xf32>) -> tensor<?x?x6x16xf32>
// CHECK: %[[OSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[SEQ64]], %[[C96]] : tensor<3xi64>
// CHECK: %[[O:.*]] = bmc.reshape %[[OT]], %[[OSHAPE]] : (tensor<?x?x6x16xf32>, tensor<3xi64>) -> tensor<?x?x96xf32>
// CHECK: return %[[MASK]], %[[Q]], %[[KGQA]], %[[PRESENT]], %[[O]]

func.func @llama_attention(%arg0: tensor<?x?xi64> {bmc.dims = ["batch", "seq"], bmc.name = "input_ids"},
                           %arg3: tensor<?x2x?x16xf32> {bmc.dims = ["batch", "", "past", ""], bmc.name = "past_key_values.0.key"})
    -> (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x2x?x16xf32>, tensor<?x?x?xf32>) {
  %0 = bmc.weight "m.model.embed_tokens.weight" : tensor<1200x96xf32>
  %2 = bmc.weight "onnx::MatMul_950" : tensor<96x96xf32>
  %3 = bmc.weight "onnx::MatMul_957" : tensor<96x32xf32>
  %24 = bmc.concat %arg3 {axis = 2 : i64} : (tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %25 = bmc.gather %0, %arg0 {axis = 0 : i64} : (tensor<1200x96xf32>, tensor<?x?xi64>) -> tensor<?x?x96xf32>
  // seq, past and total = past + seq for the causal mask.
  %27 = bmc.shape %25 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst = arith.constant dense<1> : tensor<i64>
  %28 = bmc.gather %27, %cst {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %29 = bmc.shape %24 {end = 4 : i64, start = 0 : i64} : (tensor<?x2x?x16xf32>) -> tensor<4xi64>
  %cst_0 = arith.constant dense<2> : tensor<i64>
  %30 = bmc.gather %29, %cst_0 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %31 = bmc.cast %30 {to = i64} : (tensor<i64>) -> tensor<i64>
  %32 = bmc.add %30, %28 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %33 = bmc.shape %25 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst_1 = arith.constant dense<0> : tensor<i64>
  %34 = bmc.gather %33, %cst_1 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %37 = bmc.cast %28 {to = i64} : (tensor<i64>) -> tensor<i64>
  %cst_4 = arith.constant dense<0> : tensor<i64>
  %cst_5 = arith.constant dense<1> : tensor<i64>
  %38 = bmc.range %cst_4, %37, %cst_5 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %39 = bmc.add %38, %31 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %40 = bmc.cast %32 {to = i64} : (tensor<i64>) -> tensor<i64>
  %41 = bmc.range %cst_4, %40, %cst_5 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %45 = bmc.unsqueeze %39 {axes = array<i64: 0>} : (tensor<?xi64>) -> tensor<1x?xi64>
  %46 = bmc.unsqueeze %45 {axes = array<i64: 1>} : (tensor<1x?xi64>) -> tensor<1x1x?xi64>
  %47 = bmc.unsqueeze %46 {axes = array<i64: 3>} : (tensor<1x1x?xi64>) -> tensor<1x1x?x1xi64>
  %48 = bmc.unsqueeze %41 {axes = array<i64: 0>} : (tensor<?xi64>) -> tensor<1x?xi64>
  %49 = bmc.unsqueeze %48 {axes = array<i64: 1>} : (tensor<1x?xi64>) -> tensor<1x1x?xi64>
  %50 = bmc.unsqueeze %49 {axes = array<i64: 2>} : (tensor<1x1x?xi64>) -> tensor<1x1x1x?xi64>
  %52 = bmc.less_equal %50, %47 : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  // The mask is expanded to [batch, -1, seq, total] behind the exporter's
  // Equal/Where/ConstantOfShape guard, which turns -1 into 1.
  %67 = bmc.unsqueeze %34 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %cst_21 = arith.constant dense<-1> : tensor<1xi64>
  %68 = bmc.unsqueeze %28 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %69 = bmc.unsqueeze %32 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %70 = bmc.concat %67, %cst_21, %68, %69 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %cst_24 = arith.constant dense<-1> : tensor<1xi64>
  %71 = bmc.reshape %70, %cst_24 : (tensor<4xi64>, tensor<1xi64>) -> tensor<4xi64>
  %72 = bmc.shape %71 {end = 1 : i64, start = 0 : i64} : (tensor<4xi64>) -> tensor<1xi64>
  %73 = bmc.constant_of_shape %72 {value = 1 : i64} : (tensor<1xi64>) -> tensor<4xi64>
  %cst_25 = arith.constant dense<-1> : tensor<i64>
  %74 = bmc.mul %73, %cst_25 : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  %75 = bmc.equal %71, %74 : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi1>
  %76 = bmc.where %75, %73, %71 : (tensor<4xi1>, tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %77 = bmc.expand %52, %76 : (tensor<1x1x?x?xi1>, tensor<4xi64>) -> tensor<?x?x?x?xi1>
  %cst_26 = arith.constant dense<0.000000e+00> : tensor<f32>
  %cst_27 = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %mask = bmc.where %77, %cst_26, %cst_27 : (tensor<?x?x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?x?x?xf32>
  // q and k: [batch, seq, heads, head_dim] from Shape/Gather/Unsqueeze/Concat.
  %111 = bmc.shape %25 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst_41 = arith.constant dense<0> : tensor<i64>
  %112 = bmc.gather %111, %cst_41 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %113 = bmc.shape %25 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst_42 = arith.constant dense<1> : tensor<i64>
  %114 = bmc.gather %113, %cst_42 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %115 = bmc.matmul %25, %2 : (tensor<?x?x96xf32>, tensor<96x96xf32>) -> tensor<?x?x96xf32>
  %116 = bmc.unsqueeze %112 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %117 = bmc.unsqueeze %114 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %cst_45 = arith.constant dense<-1> : tensor<1xi64>
  %cst_46 = arith.constant dense<16> : tensor<1xi64>
  %118 = bmc.concat %116, %117, %cst_45, %cst_46 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %125 = bmc.reshape %115, %118 : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  %126 = bmc.transpose %125 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  %127 = bmc.matmul %25, %3 : (tensor<?x?x96xf32>, tensor<96x32xf32>) -> tensor<?x?x32xf32>
  %128 = bmc.reshape %127, %118 : (tensor<?x?x32xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  %129 = bmc.transpose %128 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  %163 = bmc.concat %24, %129 {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x?x?x?xf32>) -> tensor<?x2x?x16xf32>
  // GQA: the 2 KV heads are repeated 3 times by Unsqueeze/Expand/Reshape.
  %165 = bmc.shape %163 {end = 4 : i64, start = 0 : i64} : (tensor<?x2x?x16xf32>) -> tensor<4xi64>
  %cst_77 = arith.constant dense<0> : tensor<i64>
  %166 = bmc.gather %165, %cst_77 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %cst_78 = arith.constant dense<1> : tensor<i64>
  %168 = bmc.gather %165, %cst_78 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %cst_79 = arith.constant dense<2> : tensor<i64>
  %170 = bmc.gather %165, %cst_79 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %cst_80 = arith.constant dense<3> : tensor<i64>
  %172 = bmc.gather %165, %cst_80 {axis = 0 : i64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %173 = bmc.unsqueeze %163 {axes = array<i64: 2>} : (tensor<?x2x?x16xf32>) -> tensor<?x2x1x?x16xf32>
  %174 = bmc.unsqueeze %166 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %175 = bmc.unsqueeze %168 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %cst_84 = arith.constant dense<3> : tensor<1xi64>
  %176 = bmc.unsqueeze %170 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %177 = bmc.unsqueeze %172 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %178 = bmc.concat %174, %175, %cst_84, %176, %177 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %cst_87 = arith.constant dense<-1> : tensor<1xi64>
  %179 = bmc.reshape %178, %cst_87 : (tensor<5xi64>, tensor<1xi64>) -> tensor<5xi64>
  %180 = bmc.shape %179 {end = 1 : i64, start = 0 : i64} : (tensor<5xi64>) -> tensor<1xi64>
  %181 = bmc.constant_of_shape %180 {value = 1 : i64} : (tensor<1xi64>) -> tensor<5xi64>
  %cst_88 = arith.constant dense<-1> : tensor<i64>
  %182 = bmc.mul %181, %cst_88 : (tensor<5xi64>, tensor<i64>) -> tensor<5xi64>
  %183 = bmc.equal %179, %182 : (tensor<5xi64>, tensor<5xi64>) -> tensor<5xi1>
  %184 = bmc.where %183, %181, %179 : (tensor<5xi1>, tensor<5xi64>, tensor<5xi64>) -> tensor<5xi64>
  %185 = bmc.expand %173, %184 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x?x?x16xf32>
  %cst_89 = arith.constant dense<3> : tensor<i64>
  %186 = bmc.mul %168, %cst_89 : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %187 = bmc.unsqueeze %166 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %188 = bmc.unsqueeze %186 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %189 = bmc.unsqueeze %170 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %190 = bmc.unsqueeze %172 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %191 = bmc.concat %187, %188, %189, %190 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %192 = bmc.reshape %185, %191 : (tensor<?x2x?x?x16xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  // The attention output back to [batch, seq, hidden].
  %cst_114 = arith.constant dense<-1> : tensor<1xi64>
  %232 = bmc.concat %116, %117, %cst_114 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %229 = bmc.transpose %126 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  %233 = bmc.reshape %229, %232 : (tensor<?x?x?x?xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  return %mask, %126, %192, %163, %233 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x2x?x16xf32>, tensor<?x?x?xf32>
}

// BEFORE-LABEL: func.func @gpt2_conv1d
// BEFORE: bmc.reshape %{{.*}}, %{{.*}} : (tensor<?x?x96xf32>, tensor<2xi64>) -> tensor<?x?xf32>

// CHECK-LABEL: func.func @gpt2_conv1d
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x?x96xf32> {{.*}}) -> (tensor<?x?x4x24xf32>, tensor<?x?x96xf32>)
// CHECK-DAG: %[[C24:.*]] = arith.constant 24 : i64
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[C288:.*]] = arith.constant 288 : i64
// CHECK-DAG: %[[C96:.*]] = arith.constant 96 : i64
// CHECK-DAG: %[[I0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[I1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[SEQ:.*]] = tensor.dim %[[X]], %[[I1]] : tensor<?x?x96xf32>
// CHECK-DAG: %[[BATCH:.*]] = tensor.dim %[[X]], %[[I0]] : tensor<?x?x96xf32>
// view(-1, 96): -1 resolved to batch * seq, 96 from Shape/Slice/Squeeze.
// CHECK: %[[ROWS:.*]] = arith.muli %[[BATCH]], %[[SEQ]] : index
// CHECK: %[[ROWS64:.*]] = arith.index_cast %[[ROWS]] : index to i64
// CHECK: %[[FLAT:.*]] = tensor.from_elements %[[ROWS64]], %[[C96]] : tensor<2xi64>
// CHECK: %[[X2:.*]] = bmc.reshape %[[X]], %[[FLAT]] : (tensor<?x?x96xf32>, tensor<2xi64>) -> tensor<?x96xf32>
// CHECK: %[[QKV:.*]] = bmc.gemm %[[X2]], {{.*}} : (tensor<?x96xf32>, tensor<96x288xf32>, tensor<288xf32>) -> tensor<?x288xf32>
// CHECK-DAG: %[[BATCH64:.*]] = arith.index_cast %[[BATCH]] : index to i64
// CHECK-DAG: %[[SEQ64:.*]] = arith.index_cast %[[SEQ]] : index to i64
// CHECK: %[[QKVSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[SEQ64]], %[[C288]] : tensor<3xi64>
// CHECK: %[[QKV3:.*]] = bmc.reshape %[[QKV]], %[[QKVSHAPE]] : (tensor<?x288xf32>, tensor<3xi64>) -> tensor<?x?x288xf32>
// CHECK: %[[SPLIT:.*]]:3 = bmc.split %[[QKV3]] {axis = 2 : i64, sizes = array<i64: 96, 96, 96>} : (tensor<?x?x288xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>)
// CHECK: %[[HSHAPE:.*]] = tensor.from_elements %[[BATCH64]], %[[SEQ64]], %[[C4]], %[[C24]] : tensor<4xi64>
// CHECK: %[[K:.*]] = bmc.reshape %[[SPLIT]]#1, %[[HSHAPE]] : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x4x24xf32>
// CHECK: return %[[K]], %[[SPLIT]]#2

func.func @gpt2_conv1d(%arg0: tensor<?x?x96xf32> {bmc.dims = ["batch", "seq", ""], bmc.name = "hidden"})
    -> (tensor<?x?x?x?xf32>, tensor<?x?x96xf32>) {
  %4 = bmc.weight "m.transformer.h.0.attn.c_attn.weight" : tensor<96x288xf32>
  %5 = bmc.weight "m.transformer.h.0.attn.c_attn.bias" : tensor<288xf32>
  %91 = bmc.shape %arg0 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst_39 = arith.constant dense<0> : tensor<i64>
  %92 = bmc.gather %91, %cst_39 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %cst_40 = arith.constant dense<1> : tensor<i64>
  %94 = bmc.gather %91, %cst_40 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  // Conv1D: x.view(-1, x.size(-1)) through Shape/Slice/Squeeze.
  %cst_42 = arith.constant dense<-1> : tensor<1xi64>
  %cst_43 = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %cst_44 = arith.constant dense<1> : tensor<1xi64>
  %96 = bmc.slice %91, %cst_42, %cst_43, %cst_44 {axes = array<i64: 0>} : (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %97 = bmc.squeeze %96 {axes = array<i64: 0>} : (tensor<1xi64>) -> tensor<i64>
  %cst_46 = arith.constant dense<-1> : tensor<1xi64>
  %98 = bmc.unsqueeze %97 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %99 = bmc.concat %cst_46, %98 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %100 = bmc.reshape %arg0, %99 : (tensor<?x?x96xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  %101 = bmc.gemm %100, %4, %5 {alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, trans_a = false, trans_b = false} : (tensor<?x?xf32>, tensor<96x288xf32>, tensor<288xf32>) -> tensor<?x288xf32>
  %102 = bmc.unsqueeze %92 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %103 = bmc.unsqueeze %94 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %cst_50 = arith.constant dense<288> : tensor<1xi64>
  %104 = bmc.concat %102, %103, %cst_50 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %105 = bmc.reshape %101, %104 : (tensor<?x288xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  %106:3 = bmc.split %105 {axis = 2 : i64, sizes = array<i64: 96, 96, 96>} : (tensor<?x?x?xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>)
  // Heads: [batch, seq, -1, 24] from the Shape of the split's output.
  %107 = bmc.shape %106#1 {end = 3 : i64, start = 0 : i64} : (tensor<?x?x96xf32>) -> tensor<3xi64>
  %cst_52 = arith.constant dense<0> : tensor<i64>
  %108 = bmc.gather %107, %cst_52 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %cst_53 = arith.constant dense<1> : tensor<i64>
  %110 = bmc.gather %107, %cst_53 {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %111 = bmc.unsqueeze %108 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %112 = bmc.unsqueeze %110 {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %cst_56 = arith.constant dense<-1> : tensor<1xi64>
  %cst_57 = arith.constant dense<24> : tensor<1xi64>
  %113 = bmc.concat %111, %112, %cst_56, %cst_57 {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %117 = bmc.reshape %106#1, %113 : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  return %117, %106#2 : tensor<?x?x?x?xf32>, tensor<?x?x96xf32>
}
