//===- KernelOps.td - bmck operations ----------------------*- tablegen -*-===//
//
// Families moved so far: the seams to the tensor level, the KV cache (its
// view of the valid rows, its in-place append), attention, the matrix
// products (matmul, gemm), the row kernels (norm, softmax, reduce), part
// of data movement (slice, split, squeeze, unsqueeze, expand, transpose,
// reshape, flatten: views; concat, gather, copy: kernels) and the elementwise
// groups, and the first kernel made from host
// scalars (range). Every verifier
// names what it expected and what it found.
//
//===----------------------------------------------------------------------===//

#ifndef BMCK_OPS
#define BMCK_OPS

include "dialects/KernelDialect.td"
include "dialects/BmcTypes.td"
include "dialects/BmcEnums.td"
include "dialects/KernelEnums.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Seams between the tensor level and the kernel level
//===----------------------------------------------------------------------===//

def Bmck_ToViewOp : Bmck_Op<"to_view", [Pure]> {
  let summary = "the storage of a tensor-level value, as a view (no code)";
  let description = [{
    Where a kernel-level op reads a value that a family still at tensor level
    computes. It costs nothing: the view is that value's storage. It goes
    away when the producer's family moves to the kernel level.

    ```mlir
    %rows = bmck.to_view %k : tensor<?x2x?x16xf32> -> !bmck.view<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$tensor);
  let results = (outs Bmck_ViewType:$view);
  let assemblyFormat = "$tensor attr-dict `:` type($tensor) `->` qualified(type($view))";
  let hasVerifier = 1;
}

def Bmck_ToTensorOp : Bmck_Op<"to_tensor", [Pure]> {
  let summary = "a view, as the tensor-level value of ops not yet moved (no code)";
  let description = [{
    The other seam: a tensor-level op (e.g. `bmc.attention`, not yet moved)
    reads what a kernel-level op produced. Reads see every write made to the
    view's storage before it in program order (a kernel-level function runs
    its ops in order).

    ```mlir
    %present = bmck.to_tensor %view : !bmck.view<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$view);
  let results = (outs AnyRankedTensor:$tensor);
  let assemblyFormat = "$view attr-dict `:` qualified(type($view)) `->` type($tensor)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The KV cache
//===----------------------------------------------------------------------===//

def Bmck_KVRowsOp : Bmck_Op<"kv_rows", [Pure]> {
  let summary = "the view of a KV cache's valid rows (no code)";
  let description = [{
    Rows `[0, valid)` of the cache buffer as it was passed in: sizes
    `[batch, heads, valid, head_dim]`, strides those of the target's buffer
    (run-time values, as every view's): on the CPU `[batch, heads, capacity,
    head_dim]`, strides `[heads * capacity * head_dim, capacity * head_dim,
    head_dim, 1]`; on a device rows outermost, `[capacity, batch, heads,
    head_dim]` (runtime/device/DeviceKVCache.h: growth only appends), strides
    `[heads * head_dim, head_dim, batch * heads * head_dim, 1]`. The
    kernel-level form of `bmc.kv_past`.

    ```mlir
    %past = bmck.kv_rows %cache : !bmc.kv_cache<2x16xf32> -> !bmck.view<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_KVCacheType:$cache);
  let results = (outs Bmck_ViewType:$rows);
  let assemblyFormat = "$cache attr-dict `:` qualified(type($cache)) `->` qualified(type($rows))";
  let hasVerifier = 1;
}

def Bmck_KVAppendOp : Bmck_Op<"kv_append", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "one kernel: store new rows after a KV cache's valid rows; view the valid rows";
  let description = [{
    Stores `rows` (`[batch, heads, seq, head_dim]`, any strides) at rows
    `[valid, valid + seq)` of the cache buffer, rounded to nearest even when
    the cache is bf16/f16 and the rows f32, and returns the view of rows
    `[0, valid + seq)` (the kernel-level form of `bmc.kv_append`). It checks
    at run time that the batches agree and that `valid + seq <= capacity`
    (the runtime grows the cache before the step, never compiled code); a
    failed check ends the call with a message. A target emits it as one
    kernel: on the CPU a strided copy (same element type) or
    `bmc_rt_copy4_to_kv` (rounding), on CUDA one `__global__` over
    `batch x heads x seq` rows. The write is a side effect: the op stays even
    if its view is unused.

    ```mlir
    %present = bmck.kv_append %cache, %rows : (!bmc.kv_cache<2x16xbf16>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xbf16>
    ```
  }];
  let arguments = (ins Bmc_KVCacheType:$cache, Bmck_ViewType:$rows);
  let results = (outs Bmck_ViewType:$present);
  let assemblyFormat = "$cache `,` $rows attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Bmck_AttentionOp : Bmck_Op<"attention", [AttrSizedOperandSegments, MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: softmax(q k^T * scale + mask) v on views, grouped KV heads";
  let description = [{
    The kernel-level form of `bmc.attention`, with the same attributes and
    meaning: `q` is `[batch, heads, seq, head_dim]`, `k` and `v` are
    `[batch, kv_heads, total, head_dim]` with `heads` a multiple of
    `kv_heads` (query head h reads KV head `h / (heads / kv_heads)`), the
    optional additive `mask` broadcasts to `[batch, heads, seq, total]`;
    `softcap` > 0 caps the scaled scores before the mask, `smooth_softmax`
    adds an implicit zero logit. The result is a new view `[batch, heads,
    seq, v_head_dim]` of q's element type (the emitter allocates it). `k` and
    `v` are read in their storage type (f32, or a bf16/f16 KV cache widened
    as read): the views' element type is the kernel's KV type.

    `padded` is the number of rows the K/V storage holds (a KV cache's
    capacity, `bmc.kv_capacity`): with `padding = mask` the kernel computes
    scores over all `padded` rows and masks those past `total` out (the BMC
    paper's form); without it, or with `padding = skip`, it reads `total`
    rows. It is an operand, not something a target finds from the producer
    of `k`, so every emitter reads the same bound. `padded` is only accepted
    with `padding = mask`.

    ```mlir
    %o = bmck.attention %q, %k, %v mask %m padded %cap {scale = 0.25 : f32, padding = #bmc.padding<mask>}
        : (!bmck.view<1x6x?x16xf32>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x2x?x16xbf16>, !bmck.view<?x1x?x?xf32>, index)
        -> !bmck.view<1x6x?x16xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$q, Bmck_ViewType:$k, Bmck_ViewType:$v,
                       Optional<Bmck_ViewType>:$mask, Optional<Index>:$padded, F32Attr:$scale,
                       DefaultValuedAttr<Bmc_KVPaddingAttr, "::mlir::bmc::KVPadding::Skip">:$padding,
                       DefaultValuedAttr<F32Attr, "0.0f">:$softcap,
                       DefaultValuedAttr<BoolAttr, "false">:$smooth_softmax);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` $mask^)? (`padded` $padded^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def Bmck_MatMulOp : Bmck_Op<"matmul", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: batched matrix product with numpy semantics, on views";
  let description = [{
    The kernel-level form of `bmc.matmul`: `lhs [..., M, K]` times
    `rhs [..., K, N]`, leading batch dimensions broadcast, a 1-D operand
    promoted as numpy does (and its dimension dropped from the result). The
    result is a new view of the operands' element type (the emitter
    allocates it).

    `weight` names the `bmc.weight` that `rhs` reads, when it is one: 2-D,
    reached through at most one 2-D Transpose and a widening Cast from
    bf16/f16 (the weight's own type is then the storage a target streams).
    It says which constant the product reads, so that a target may read its
    own copy of that weight, prepared at compile time (the CPU emitter packs
    it into panels, quantized or 16-bit as the weight plan says; a CUDA
    emitter would keep it in device memory); without it, `rhs` is a strided
    view computed at run time. Which weights are packed, and in which
    format, is the target's decision, not this op's.

    ```mlir
    %y = bmck.matmul %x, %w {weight = "model.layers.0.mlp.up_proj.weight"}
        : (!bmck.view<?x?x96xf32>, !bmck.view<96x256xf32>) -> !bmck.view<?x?x256xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$lhs, Bmck_ViewType:$rhs, OptionalAttr<StrAttr>:$weight);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_GemmOp : Bmck_Op<"gemm", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: alpha * op(a) * op(b) + beta * c on 2-D views";
  let description = [{
    The kernel-level form of `bmc.gemm` (ONNX Gemm, as cuBLAS and the BLAS
    GEMM define it): `op(x)` is `x` or its transpose per `trans_a` /
    `trans_b`, `c` (optional) broadcasts to the result `[M, N]`, a new view
    of `a`'s element type. A separate op from `bmck.matmul`, whose batched
    numpy semantics have no transposes, scale factors or addend. `weight`
    names the `bmc.weight` `b` reads, as for `bmck.matmul` (`trans_b` then
    applies to it too).

    ```mlir
    %y = bmck.gemm %x, %w, %bias {weight = "W1", alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true}
        : (!bmck.view<?x70xf32>, !bmck.view<37x70xf32>, !bmck.view<37xf32>) -> !bmck.view<?x37xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$a, Bmck_ViewType:$b, Optional<Bmck_ViewType>:$c,
                       F32Attr:$alpha, F32Attr:$beta, BoolAttr:$trans_a, BoolAttr:$trans_b,
                       OptionalAttr<StrAttr>:$weight);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalisation, softmax, reductions
//===----------------------------------------------------------------------===//

def Bmck_NormOp : Bmck_Op<"norm", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: layer or RMS normalisation over the dimensions from `axis`";
  let description = [{
    The kernel-level form of `bmc.layer_norm` (`kind = #bmck.norm<layer>`:
    `(x - mean) / sqrt(var + epsilon) * scale + bias`) and `bmc.rms_norm`
    (`kind = #bmck.norm<rms>`: `x / sqrt(mean(x^2) + epsilon) * scale`, no
    bias), over the dimensions `[axis, rank)` of `input` (the last one for
    RMS, as bmc.rms_norm has it). `scale` and `bias` broadcast to those
    dimensions and have the input's element type; statistics are kept in the
    compute type (f32 for 16-bit floats). The result is a new view of the
    input's sizes and type (the emitter allocates it).

    One op rather than two: both kinds are the same kernel (one row at a
    time, a reduction, then a scaled write); RMS only skips the mean.

    ```mlir
    %y = bmck.norm %x, %g {kind = #bmck.norm<rms>, axis = 2 : i64, epsilon = 1.0e-06 : f32}
        : (!bmck.view<?x?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x?x96xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, Bmck_ViewType:$scale, Optional<Bmck_ViewType>:$bias,
                       Bmck_NormKindAttr:$kind, I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_SoftmaxOp : Bmck_Op<"softmax", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: softmax (or log-softmax) along one axis";
  let description = [{
    The kernel-level form of `bmc.softmax` (ONNX Softmax / LogSoftmax, opset
    13+): `exp(x - max) / sum(exp(x - max))` along `axis` of a float view,
    `log` giving LogSoftmax. A row whose maximum is -inf (fully masked) gives
    uniform weights, as the exporters' finite fill does. The result is a new
    view of the input's sizes and type.

    ```mlir
    %p = bmck.softmax %s {axis = 3 : i64} : (!bmck.view<?x4x?x?xf32>) -> !bmck.view<?x4x?x?xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, I64Attr:$axis, DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_ReduceOp : Bmck_Op<"reduce", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: mean, sum, max, min or product over constant axes";
  let description = [{
    The kernel-level form of `bmc.reduce_{mean,sum,max,min,prod}` (ONNX
    Reduce*): `kind` says which. `axes` are in `[0, rank)`, sorted and
    distinct; an empty list reduces every axis. With `keepdims` the reduced
    dimensions stay as size 1, else they are dropped. Integers reduce in
    their own type (a mean divides with truncation). The result is a new
    view of the input's element type.

    ```mlir
    %m = bmck.reduce %x {kind = #bmck.reduce<mean>, axes = array<i64: 2>, keepdims = true}
        : (!bmck.view<?x?x96xf32>) -> !bmck.view<?x?x1xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, Bmck_ReduceKindAttr:$kind, DenseI64ArrayAttr:$axes,
                       BoolAttr:$keepdims);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data movement (docs/DESIGN.md, step 6): views (no code) and copies
//===----------------------------------------------------------------------===//

def Bmck_SliceOp : Bmck_Op<"slice", [Pure]> {
  let summary = "a strided window of a view (no code): ONNX Slice";
  let description = [{
    For each listed axis, entries `start, start + step, ...` before `end`,
    with ONNX's clamping (negative indices count from the end; clamped to
    `[0, dim]` for positive steps, `[-1, dim - 1]` for negative ones),
    applied at run time. The result is a view of the same storage: its
    offset moves to `start`, its stride is multiplied by `step`; nothing is
    copied, so a target passes the strided view to the kernel that reads it.
    `starts`, `ends` and `steps` hold one entry per axis; they are shape
    values, 1-D i64 or index tensors as the shape arithmetic computes them
    (still at tensor level: a target reads them as host scalars, never as a
    kernel's data); a step of 0 is a run-time error.

    ```mlir
    %s = bmck.slice %x, %starts, %ends, %steps {axes = array<i64: 3>}
        : (!bmck.view<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> !bmck.view<?x6x?x8xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, 1DTensorOf<[I64, Index]>:$starts, 1DTensorOf<[I64, Index]>:$ends,
                       1DTensorOf<[I64, Index]>:$steps, DenseI64ArrayAttr:$axes);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input `,` $starts `,` $ends `,` $steps attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_SplitOp : Bmck_Op<"split", [Pure]> {
  let summary = "consecutive pieces of a view along one axis (no code): ONNX Split";
  let description = [{
    Result k is the window `[s_0 + ... + s_(k-1), ... + s_k)` of `input`
    along `axis`, `sizes` holding one constant size per result: views of the
    same storage (offsets moved, strides kept). That the sizes add up to a
    dimension known only at run time is checked at run time.

    ```mlir
    %q, %k, %v = bmck.split %qkv {axis = 2 : i64, sizes = array<i64: 96, 96, 96>}
        : (!bmck.view<?x?x288xf32>) -> (!bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>, !bmck.view<?x?x96xf32>)
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Bmck_ViewType>:$results);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_ConcatOp : Bmck_Op<"concat", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: copy views one after another along an axis into a new view";
  let description = [{
    The kernel-level form of `bmc.concat` (ONNX Concat): the inputs, of one
    rank and element type and equal sizes but along `axis`, tile the result
    along `axis`, each copied (any strides) into its window of a new
    row-major view the emitter allocates (on the CPU, the runtime's output
    buffer itself when the function returns the result). The other sizes are
    checked to agree at run time where the types leave them open.

    ```mlir
    %c = bmck.concat %past, %new {axis = 2 : i64}
        : (!bmck.view<?x2x?x16xf32>, !bmck.view<?x2x?x16xf32>) -> !bmck.view<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Variadic<Bmck_ViewType>:$inputs, I64Attr:$axis);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_GatherOp : Bmck_Op<"gather", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: slices of a view picked by integer indices into a new view";
  let description = [{
    The kernel-level form of `bmc.gather` (ONNX Gather): the result is
    `data[..., indices[j...], ...]` at `axis`, sizes
    `data[:axis] ++ indices ++ data[axis+1:]`, a new row-major view. Negative
    indices count from the end; an index out of range is a run-time error
    naming it. An embedding lookup is a gather of a weight at axis 0.

    ```mlir
    %e = bmck.gather %table, %ids {axis = 0 : i64}
        : (!bmck.view<1200x96xf32>, !bmck.view<?x?xi64>) -> !bmck.view<?x?x96xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$data, Bmck_ViewType:$indices, I64Attr:$axis);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_SqueezeOp : Bmck_Op<"squeeze", [Pure]> {
  let summary = "a view without some size-1 dimensions (no code): ONNX Squeeze";
  let description = [{
    The input's dimensions but `axes` (distinct, of the input), each of
    which must have size 1 (checked at run time where the type leaves it
    open); the other sizes and strides are kept. A view of the same storage.

    ```mlir
    %s = bmck.squeeze %x {axes = array<i64: 1>} : (!bmck.view<?x1x96xf32>) -> !bmck.view<?x96xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_UnsqueezeOp : Bmck_Op<"unsqueeze", [Pure]> {
  let summary = "a view with size-1 dimensions inserted (no code): ONNX Unsqueeze";
  let description = [{
    `axes` (distinct) index the result: there the result has a dimension of
    size 1 (stride 0), elsewhere the input's dimensions in order. A view of
    the same storage.

    ```mlir
    %u = bmck.unsqueeze %x {axes = array<i64: 1, 2>} : (!bmck.view<?x?xi1>) -> !bmck.view<?x1x1x?xi1>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_ExpandOp : Bmck_Op<"expand", [Pure]> {
  let summary = "a broadcast view (no code): ONNX Expand";
  let description = [{
    The input broadcast (numpy rules, right-aligned) to `shape`, a shape
    value (a 1-D i64 or index tensor, still at tensor level, read as host
    scalars like a slice's bounds): a dimension of size 1 is repeated with
    stride 0, a target size of 1 keeps the input's size; a size that does
    not broadcast is a run-time error naming it. Nothing is copied.

    ```mlir
    %e = bmck.expand %m, %shape : (!bmck.view<?x1x1x?xi1>, tensor<4xi64>) -> !bmck.view<?x1x?x?xi1>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, 1DTensorOf<[I64, Index]>:$shape);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_TransposeOp : Bmck_Op<"transpose", [Pure]> {
  let summary = "a view with permuted dimensions (no code): ONNX Transpose";
  let description = [{
    Result dimension i is input dimension `perm[i]` (a permutation of
    `[0, rank)`): its size and stride, of the same storage. Nothing is
    copied; the kernel that reads the view takes its strides. A Transpose
    of a weight (through a Cast) stays at tensor level: the product that
    reads it names the weight and the target makes its layout.

    ```mlir
    %t = bmck.transpose %x {perm = array<i64: 0, 2, 1, 3>} : (!bmck.view<?x?x6x16xf32>) -> !bmck.view<?x6x?x16xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_ReshapeOp : Bmck_Op<"reshape", [Pure]> {
  let summary = "a contiguous view read with new sizes (no code): ONNX Reshape";
  let description = [{
    The same elements in row-major order, with the sizes of `shape`, a shape
    value (a 1-D i64 or index tensor of the result's rank, still at tensor
    level, read as host scalars like a slice's bounds): an entry 0 copies the
    input's size there (unless `allowzero`), one entry -1 is inferred from
    the element count; a static result size is that number. At run time: at
    most one -1, a -1 inferable (the other entries not multiplying to 0) and
    the element counts equal, each a one-line error naming it. The input must
    be contiguous (row-major from its offset): `bmc-lower-to-kernels` puts a
    `bmck.copy` in front wherever it cannot show that, so the result is a
    view of the same storage with row-major strides.

    ```mlir
    %r = bmck.reshape %x, %shape : (!bmck.view<?x?x96xf32>, tensor<4xi64>) -> !bmck.view<?x?x6x16xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, 1DTensorOf<[I64, Index]>:$shape,
                       DefaultValuedAttr<BoolAttr, "false">:$allowzero);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_FlattenOp : Bmck_Op<"flatten", [Pure]> {
  let summary = "a contiguous view read as 2-D (no code): ONNX Flatten";
  let description = [{
    The input's elements in row-major order as `[prod(input[:axis]),
    prod(input[axis:])]` (`axis` in `[0, rank]`). An op of its own rather
    than a `bmck.reshape`: its sizes come from the input, not from a shape
    value. Like a reshape, its input must be contiguous (a `bmck.copy` in
    front where that is not known) and the result is a view of the same
    storage.

    ```mlir
    %f = bmck.flatten %x {axis = 1 : i64} : (!bmck.view<?x3x4xf32>) -> !bmck.view<?x12xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input, I64Attr:$axis);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bmck_CopyOp : Bmck_Op<"copy", [MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: a view copied into a new contiguous (row-major) view";
  let description = [{
    The input's elements (any strides) in a new row-major view of the same
    sizes and element type. `bmc-lower-to-kernels` makes one in front of a
    `bmck.reshape` / `bmck.flatten` whose input it cannot show contiguous
    (a transposed, sliced or broadcast view; a view of a tensor-level
    value). Views are read-only values, so a target that knows its input is
    already row-major may read the input as the result instead (the CPU
    emitter does: its buffers record it, and the reshape after the copy
    makes the copy where one is needed, as before the move).

    ```mlir
    %c = bmck.copy %t : (!bmck.view<?x?x6x16xf32>) -> !bmck.view<?x?x6x16xf32>
    ```
  }];
  let arguments = (ins Bmck_ViewType:$input);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise groups
//===----------------------------------------------------------------------===//

def Bmck_ElementwiseOp : Bmck_Op<"elementwise", [IsolatedFromAbove, SingleBlock, MemoryEffects<[MemRead]>]> {
  let summary = "one kernel: a fused group of elementwise ops, one loop over the result";
  let description = [{
    A group of tensor-level elementwise ops (`bmc.add`, `bmc.cast`,
    `bmc.where`, ...) that `bmc-group-elementwise` fused: every op but the
    last has one use, the next op of the group, so nothing between them is
    stored. `inputs` are the group's leaves (the values its ops read that
    no op of the group computes, constants included), each viewed at its own
    sizes; the result is a new view of the last op's sizes and element type
    (the emitter allocates it). The region's block arguments stand for the
    inputs, one each, with the tensor type of the view; its ops are the
    group's original bmc ops, in their order, and `bmck.yield` returns the
    last one. Broadcasting is in their types, the element arithmetic in
    their kinds and attributes: a target evaluates the ops per element of
    the result (the CPU emitter: one loop nest, a load per leaf; a CUDA
    emitter: one expression per op in one `__global__`).

    ```mlir
    %y = bmck.elementwise %x, %b : (!bmck.view<?x?x96xf32>, !bmck.view<96xf32>) -> !bmck.view<?x?x96xf32> {
    ^bb0(%a: tensor<?x?x96xf32>, %c: tensor<96xf32>):
      %s = bmc.add %a, %c : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
      %r = bmc.sigmoid %s : (tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
      bmck.yield %r : tensor<?x?x96xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Bmck_ViewType>:$inputs);
  let results = (outs Bmck_ViewType:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results) $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The op whose value the group yields (the root of the fused tree).
    ::mlir::Operation *getRoot();
  }];
}

def Bmck_YieldOp : Bmck_Op<"yield", [Pure, Terminator, HasParent<"ElementwiseOp">]> {
  let summary = "the value of a bmck.elementwise group";
  let arguments = (ins AnyRankedTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// Generated from host scalars (docs/DESIGN.md, step 6): kernels without view inputs
//===----------------------------------------------------------------------===//

def Bmck_RangeOp : Bmck_Op<"range", [Pure]> {
  let summary = "one kernel: start, start + delta, ... below limit into a new view: ONNX Range";
  let description = [{
    The kernel-level form of `bmc.range`: a new 1-D row-major view with
    `out[i] = start + i * delta`, of length
    `max(ceil((limit - start) / delta), 0)` (ONNX's rule). `start`, `limit`
    and `delta` are 0-D tensors of the result's element type, shape values
    still at tensor level (a target reads them as host scalars, like a
    slice's bounds, never as a kernel's data). An integer delta of 0 is a
    run-time error. A static length in the result type is taken as given
    (the type inference computed it from constants).

    ```mlir
    %r = bmck.range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> !bmck.view<?xi64>
    ```
  }];
  let arguments = (ins 0DTensorOf<[AnyInteger, AnyFloat]>:$start, 0DTensorOf<[AnyInteger, AnyFloat]>:$limit,
                       0DTensorOf<[AnyInteger, AnyFloat]>:$delta);
  let results = (outs Bmck_ViewType:$result);
  let assemblyFormat = "$start `,` $limit `,` $delta attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // BMCK_OPS
