//===- Passes.td - bmc passes ------------------------------*- tablegen -*-===//

#ifndef BMC_PASSES
#define BMC_PASSES

include "mlir/Pass/PassBase.td"

def Widen16Bit : Pass<"bmc-widen-16bit", "::mlir::func::FuncOp"> {
  let summary = "Compute a fully 16-bit (fp16 / bf16) graph in fp32";
  let description = [{
    Every f16 / bf16 tensor that is not a weight becomes f32: op results,
    constants (exactly), the graph's inputs and outputs; a Cast to f16 /
    bf16 becomes a Cast to f32, so no value is rounded to 16 bits on the
    way. Weights keep their 16-bit storage and are read through a Cast to
    f32 (the packed 16-bit matmul kernels take them so); a Gather from a
    16-bit table (an embedding) gathers 16-bit rows and casts those. Each widened input
    and output gets `bmc.onnx_type` = its type in the graph (bmc-kv-inplace
    stores KV caches in that type when kv-type is auto). A remark counts
    what was widened; f32 graphs are left unchanged.

    Before:
    ```mlir
    func.func @main(%x: tensor<?x64xf16>) -> tensor<?x32xf16> {
      %w = bmc.weight "w" : tensor<64x32xf16>
      %y = bmc.matmul %x, %w : (tensor<?x64xf16>, tensor<64x32xf16>) -> tensor<?x32xf16>
      return %y : tensor<?x32xf16>
    }
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<?x64xf32> {bmc.onnx_type = f16}) -> (tensor<?x32xf32> {bmc.onnx_type = f16}) {
      %w = bmc.weight "w" : tensor<64x32xf16>
      %w32 = bmc.cast %w {to = f32} : (tensor<64x32xf16>) -> tensor<64x32xf32>
      %y = bmc.matmul %x, %w32 : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
      return %y : tensor<?x32xf32>
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def Narrow16BitIO : Pass<"bmc-narrow-16bit-io", "::mlir::func::FuncOp"> {
  let summary = "Give a widened 16-bit graph's inputs and outputs their ONNX types back";
  let description = [{
    After bmc-widen-16bit (and bmc-kv-inplace, which reads `bmc.onnx_type`
    on the KV cache inputs it rewrites), every input and output that still
    carries `bmc.onnx_type` and is still an f32 tensor gets that 16-bit type
    back: an input is cast to f32 where it is read, an output is cast to its
    type (rounded to nearest even) where it is returned. So the compiled
    model takes and gives what the ONNX graph says (Model::run keeps ONNX
    semantics), and only the computation between is f32. In-place KV caches
    (`!bmc.kv_cache`) are not tensors and are left alone. A concat cache
    (`bmc.concat %past, %new` returned as a 16-bit present output) has its
    new rows rounded to the 16-bit type before the Concat, as an in-place
    append rounds them: attention then reads every row as stored, whatever
    the split of tokens into passes.

    Before:
    ```mlir
    func.func @main(%x: tensor<?x64xf32> {bmc.onnx_type = f16}) -> (tensor<?x32xf32> {bmc.onnx_type = f16}) {
      %y = bmc.matmul %x, %w32 : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
      return %y : tensor<?x32xf32>
    }
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<?x64xf16>) -> tensor<?x32xf16> {
      %x32 = bmc.cast %x {to = f32} : (tensor<?x64xf16>) -> tensor<?x64xf32>
      %y = bmc.matmul %x32, %w32 : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
      %y16 = bmc.cast %y {to = f16} : (tensor<?x32xf32>) -> tensor<?x32xf16>
      return %y16 : tensor<?x32xf16>
    }
    ```
  }];
  let dependentDialects = ["::mlir::bmc::BmcDialect"];
}

def FoldShapes : Pass<"bmc-fold-shapes", "::mlir::func::FuncOp"> {
  let summary = "Fold exporter shape arithmetic into symbolic dimensions";
  let description = [{
    Exporters compute reshape targets at run time: Shape -> Gather ->
    Unsqueeze -> Concat -> Reshape, plus Equal/Where/ConstantOfShape tricks
    for Expand. This pass evaluates every small integer tensor symbolically
    (each element a constant or an `index` value built from `tensor.dim`),
    replaces those tensors by `arith.constant` / `tensor.from_elements`,
    and refines result types where dimensions became static. Dimensions of
    intermediate values are traced back to the graph inputs, and graph input
    dimensions sharing an ONNX `dim_param` name are one symbol.

    Before:
    ```mlir
    %s = bmc.shape %x {end = 3, start = 0} : (tensor<?x?x96xf32>) -> tensor<3xi64>
    %b = bmc.gather %s, %c0 {axis = 0} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
    %u = bmc.unsqueeze %b {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
    %shape = bmc.concat %u, %cm1, %c16 {axis = 0} : (...) -> tensor<3xi64>
    %r = bmc.reshape %x, %shape : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
    ```
    After:
    ```mlir
    %d0 = tensor.dim %x, %c0 : tensor<?x?x96xf32>
    %i0 = arith.index_cast %d0 : index to i64
    %shape = tensor.from_elements %i0, %cm1, %c16 : tensor<3xi64>
    %r = bmc.reshape %x, %shape : (tensor<?x?x96xf32>, tensor<3xi64>) -> tensor<?x?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def RefineTypes : Pass<"bmc-refine-types", "::mlir::func::FuncOp"> {
  let summary = "Re-infer result types, making dimensions static where they became known";
  let description = [{
    Runs each op's type inference in order and keeps the more static of the
    inferred and current types; updates the function's result types.
  }];
}

def RaiseAttention : Pass<"bmc-raise-attention", "::mlir::func::FuncOp"> {
  let summary = "Recognise scaled dot-product attention and grouped-query KV repeats";
  let description = [{
    Rewrites `MatMul(Softmax(MatMul(Q, Transpose(K)) * scale + mask), V)`
    into `bmc.attention(Q, K, V, mask) {scale}`. The scale may be a Mul or
    Div by a constant, on the scores or on Q and K^T; the mask is optional.
    Gemma-2's soft cap written out before the mask,
    `Mul(Tanh(Div(scores, c)), c)`, becomes the op's `softcap = c`.
    Grouped-query attention's repeat of the KV heads
    (Unsqueeze -> Expand -> Reshape) is folded into the op, so the repeated
    copy is never made, also for a `bmc.attention` imported as such (ONNX
    Attention). Intermediate results used elsewhere block the rewrite (a
    remark says so).

    Before:
    ```mlir
    %kt = bmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : ...
    %s = bmc.matmul %q, %kt : ...
    %s2 = bmc.mul %s, %scale : ...
    %s3 = bmc.add %s2, %mask : ...
    %p = bmc.softmax %s3 {axis = 3 : i64} : ...
    %o = bmc.matmul %p, %v : ...
    ```
    After:
    ```mlir
    %o = bmc.attention %q, %k, %v, %mask {scale = 0.25 : f32} : ...
    ```
  }];
}

def RaiseNorms : Pass<"bmc-raise-norms", "::mlir::func::FuncOp"> {
  let summary = "Recognise RMSNorm written out as Pow/ReduceMean/Add/Sqrt/Div/Mul";
  let description = [{
    `x * (1 / sqrt(mean(x^2) + eps)) * w` (and its Reciprocal/Div forms)
    becomes `bmc.rms_norm(x, w) {epsilon}` over the last axis.
  }];
}

def KVInplace : Pass<"bmc-kv-inplace", "::mlir::func::FuncOp"> {
  let summary = "BMC: rewrite KV-cache concatenations into in-place appends";
  let description = [{
    Finds each `Concat(past, new)` along the sequence axis where `past` is a
    rank-4 graph input [batch, heads, past, head_dim] used for nothing else
    (shape queries aside) and the result is returned as a graph output
    (`present`). The input becomes a `!bmc.kv_cache` whose buffer has spare
    rows; the concatenation becomes `bmc.kv_append` (a strided write of the
    new rows after the valid ones and a view of the valid rows, no copy of
    the past); the present output is removed (the runtime owns the buffer).
    Attention reading the cache gets `padding` = the `padding` option (the
    example: `padding=mask`; `skip`, the default, is not printed).
    Where the pattern is absent or ambiguous the graph is left unchanged and
    a remark says why; the function records per layer whether it was
    rewritten (`bmc.kv_rewritten`).

    Before:
    ```mlir
    func.func @main(%past: tensor<?x2x?x16xf32>, ...) -> (..., tensor<?x2x?x16xf32>) {
      %present = bmc.concat %past, %new {axis = 2 : i64} : ...
      %o = bmc.attention %q, %present, %v, %mask {scale = 0.25 : f32} : ...
      return ..., %present
    }
    ```
    After:
    ```mlir
    func.func @main(%cache: !bmc.kv_cache<2x16xf32>, ...) -> (...) {
      %present = bmc.kv_append %cache, %new : ...
      %o = bmc.attention %q, %present, %v, %mask {padding = #bmc.padding<mask>, scale = 0.25 : f32} : ...
      return ...
    }
    ```
  }];
  let options = [
    Option<"padding", "padding", "::mlir::bmc::KVPadding", /*default=*/"::mlir::bmc::KVPadding::Skip",
           "How attention treats the spare rows: skip or mask">,
    Option<"kvType", "kv-type", "::mlir::bmc::KVType", /*default=*/"::mlir::bmc::KVType::Auto",
           "Element type of the rewritten caches: f32, bf16, f16 or auto (the type the graph gave the "
           "cache input, `bmc.onnx_type` from bmc-widen-16bit, else f32). bf16/f16: every KV cache "
           "input must be rewritten and read only by bmc.attention; a cache the graph gave the other "
           "16-bit type is refused">
  ];
}

def MarkLayers : Pass<"bmc-mark-layers", "::mlir::func::FuncOp"> {
  let summary = "Mark the ops of each decoder layer, so code generation compiles each distinct layer body once";
  let description = [{
    Decoder layers are the same ops with different weights and KV caches.
    This pass finds them, anchored on the `bmc.attention` ops (one per
    layer): layer k is the run of top-level ops from a fixed number of ops
    before attention k up to the same point before attention k + 1 (the last
    layer is as long as the one before it, so the final norm and head stay
    after it). The offset is where the fewest values cross between
    consecutive layers, within the ops before attention 1 that match those
    before attention 2 (attention 0 and 1 with two layers), so the
    embedding and mask computations stay outside. Exporters compute values
    every layer reads (the mask, rotary cos/sin, sizes) once, and after CSE
    layer 0 often owns them: the ops defined before layer 1 that do not
    depend on attention 0 and are used from layer 1 on move, with what they
    are computed from, to the start of the function (pure ops only, and
    none that reads a KV cache past a write), so layer 0 is like the
    others. Constants and weights are not counted (code generation
    materialises them where they are used). Each op of layer k gets
    `bmc.layer = k`; a remark gives the layer count, the ops moved and how
    many distinct bodies there are (same ops, attributes and types, operands
    from the same relative op or from outside the layer). Fewer than two
    attention ops: nothing is marked and a remark says so. The marks and
    the move change no semantics; code generation outlines one function per
    distinct body (compiler/lowering/Outline.cpp).

    Before:
    ```mlir
    %n0 = bmc.rms_norm %x, %w0 ...
    %a0 = bmc.attention %q0, %k0, %v0, %mask ...
    %x1 = bmc.add %x, %o0 ...
    %n1 = bmc.rms_norm %x1, %w1 ...
    %a1 = bmc.attention %q1, %k1, %v1, %mask ...
    ```
    After:
    ```mlir
    %n0 = bmc.rms_norm %x, %w0 {bmc.layer = 0 : i64} ...
    %a0 = bmc.attention %q0, %k0, %v0, %mask {bmc.layer = 0 : i64, ...} ...
    %x1 = bmc.add %x, %o0 {bmc.layer = 0 : i64} ...
    %n1 = bmc.rms_norm %x1, %w1 {bmc.layer = 1 : i64} ...
    %a1 = bmc.attention %q1, %k1, %v1, %mask {bmc.layer = 1 : i64, ...} ...
    ```
  }];
}

def LowerToKernels : Pass<"bmc-lower-to-kernels", "::mlir::func::FuncOp"> {
  let summary = "Lower the op families moved so far to the kernel level (bmck: ops on views)";
  let description = [{
    The first stage of the lowering (docs/DESIGN.md, "Lowering"): one
    `OpConversionPattern` set per op family, each in its own file
    (`populate<Family>ToKernelPatterns`), turns tensor-level bmc ops into
    target-independent kernel-level ops on `!bmck.view`s. Families moved so
    far: the KV cache (`bmc.kv_append` -> `bmck.kv_append`, `bmc.kv_past` ->
    `bmck.kv_rows`; passes/LowerToKernelsKV.cpp), attention
    (`bmc.attention` -> `bmck.attention`, with the cache capacity as its
    padded length when `padding = mask`; passes/LowerToKernelsAttention.cpp)
    the matrix products (`bmc.matmul` -> `bmck.matmul`, `bmc.gemm` ->
    `bmck.gemm`, naming the weight their right operand reads;
    passes/LowerToKernelsMatMul.cpp), the norms, softmax and reductions
    (`bmc.layer_norm` / `bmc.rms_norm` -> `bmck.norm`, `bmc.softmax` ->
    `bmck.softmax`, `bmc.reduce_*` -> `bmck.reduce` with a `kind`;
    passes/LowerToKernelsNorm.cpp), part of data movement (`bmc.slice` /
    `split` / `squeeze` / `unsqueeze` / `expand` -> the view ops
    `bmck.slice` / `split` / `squeeze` / `unsqueeze` / `expand`, `bmc.concat`
    / `bmc.gather` -> the copies `bmck.concat` / `bmck.gather`, unless a
    value has index elements; passes/LowerToKernelsData.cpp) and the elementwise
    groups that `bmc-group-elementwise` marked (one `bmck.elementwise` per
    group, holding its ops, where its root stood, also when other ops stand
    between them; a 16-bit weight's Cast only packed products read stays;
    passes/LowerToKernelsElementwise.cpp).
    The other ops stay at tensor level; `bmck.to_view` / `bmck.to_tensor`
    join the two forms (no code). A pattern reads a value a moved family
    produced as the view inside its `bmck.to_tensor` (the seams left without
    uses are erased at the end). Each new op keeps the `bmc.layer` mark of
    the op it replaces, so layer outlining sees the same layers. A converted
    op that cannot be lowered fails the pass with the op's location.

    Before:
    ```mlir
    %present = bmc.kv_append %cache, %new {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
    %o = bmc.attention %q, %present, %present {bmc.layer = 0 : i64, scale = 0.25 : f32} : ...
    ```
    After:
    ```mlir
    %rows = bmck.to_view %new {bmc.layer = 0 : i64} : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
    %view = bmck.kv_append %cache, %rows {bmc.layer = 0 : i64} : (!bmc.kv_cache<2x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
    %qv = bmck.to_view %q {bmc.layer = 0 : i64} : tensor<1x6x?x16xf32> -> !bmck.view<1x6x?x16xf32>
    %ov = bmck.attention %qv, %view, %view {bmc.layer = 0 : i64, scale = 0.25 : f32} : ...
    %o = bmck.to_tensor %ov {bmc.layer = 0 : i64} : !bmck.view<1x6x?x16xf32> -> tensor<1x6x?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::bmck::BmckDialect"];
}

def GroupElementwise : Pass<"bmc-group-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Decide which elementwise ops are fused into their consumer's loop (bmc.fused marks)";
  let description = [{
    The fusion decision of the elementwise family, made once before
    `bmc-lower-to-kernels` turns each group into one `bmck.elementwise`: an
    elementwise op (`bmck::isElementwiseMember`) whose result has one use,
    an elementwise op in the same block, is marked `bmc.fused` (its value is
    computed in that consumer's loop, never stored); a group is an unmarked
    op with the marked ops it reads, transitively. Broadcasting commutes
    with elementwise ops, so the group's loop runs over its last op's sizes.
    With `fuse=false` (the compiler's no-fusion option) nothing is marked
    and every elementwise op is a group of one. Marks left by an earlier
    run are removed first. A 16-bit weight's Cast read both by packed
    products (`feedsPackedProduct`) and by other ops is then split: the
    products read a copy (left at tensor level by `bmc-lower-to-kernels`:
    the product names the weight), the other ops the Cast, whose mark was
    decided with all its uses counted.

    Before:
    ```mlir
    %s = bmc.add %x, %b : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
    %y = bmc.sigmoid %s : (tensor<?x96xf32>) -> tensor<?x96xf32>
    ```
    After:
    ```mlir
    %s = bmc.add %x, %b {bmc.fused} : (tensor<?x96xf32>, tensor<96xf32>) -> tensor<?x96xf32>
    %y = bmc.sigmoid %s : (tensor<?x96xf32>) -> tensor<?x96xf32>
    ```
  }];
  let options = [
    Option<"fuse", "fuse", "bool", /*default=*/"true",
           "Fuse single-use elementwise results into their consumer (false: every op is stored)">
  ];
}

def PlanMemory : Pass<"bmc-plan-memory", "::mlir::func::FuncOp"> {
  let summary = "Give each kernel-level result an arena slot by liveness (bmck.slot marks)";
  let description = [{
    The target-independent memory plan (passes/PlanMemory.h): every bmck op
    whose view result is new storage (not a seam, a cache's rows, an append
    or a view op: slice, split, squeeze, unsqueeze, expand) gets
    `bmck.slot = N`, the function `bmck.slots`; a value is live from its op
    to the last use of it or of a seam or view over it (a returned value to
    the end), and slots are taken first-fit among those whose values all
    died before the op. A slot's size is the run's: the largest of its
    values' sizes. The CUDA programs use the same plan
    (compiler/targets/cuda/EmitCudaProgram.cpp); the pipeline does not run
    this pass, and the CPU emitter keeps compiler/lowering/MemoryPlan.cpp.
    The options give the plan the CPU's view of three of the differences
    between the two (docs/DESIGN.md, "The memory plan on the CPU"): shape
    vectors in the arena, returned concats written in place, the logits'
    run-time rows; all off is the CUDA programs' plan.

    Before:
    ```mlir
    %n = bmck.norm %x, %g {...} : ... -> !bmck.view<?x24xf32>
    %q = bmck.matmul %n, %w {weight = "wq"} : ... -> !bmck.view<?x16xf32>
    %o = bmck.matmul %q, %w2 {weight = "wo"} : ... -> !bmck.view<?x24xf32>
    ```
    After (the norm is dead when the second product runs):
    ```mlir
    %n = bmck.norm %x, %g {bmck.slot = 0 : i64, ...} : ...
    %q = bmck.matmul %n, %w {bmck.slot = 1 : i64, weight = "wq"} : ...
    %o = bmck.matmul %q, %w2 {bmck.slot = 0 : i64, weight = "wo"} : ...
    ```
  }];
  let options = [
    Option<"shapesInArena", "shapes-in-arena", "bool", /*default=*/"false",
           "Give each tensor.from_elements (a shape vector) a slot, live to its last use (the CPU stores them; a CUDA program keeps them on the host)">,
    Option<"resultsInPlace", "results-in-place", "bool", /*default=*/"false",
           "No slot for a returned bmck.concat (the CPU writes it into the caller's output buffer)">,
    Option<"logitsOutput", "logits-output", "int64_t", /*default=*/"-1",
           "The index of the returned logits (-1: none): their product (a 3-D f32 left operand, a 2-D right one) and its lone Cast group get no slot (the CPU's rows follow bmc_rt_last_token_logits, known at run time)">
  ];
}

#endif // BMC_PASSES
