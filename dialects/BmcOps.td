//===- BmcOps.td - bmc dialect operations ------------------*- tablegen -*-===//
//
// Every op infers its result type from its operands (ONNX shape inference,
// with symbolic `?` dimensions); the inferred type doubles as the verifier,
// whose messages name what was expected and what was found.
//
//===----------------------------------------------------------------------===//

#ifndef BMC_OPS
#define BMC_OPS

include "dialects/BmcDialect.td"
include "dialects/BmcEnums.td"
include "dialects/BmcTypes.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Ops whose result types follow from operands and attributes.
class Bmc_InferOp<string mnemonic, list<Trait> traits = []>
    : Bmc_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptorWithIsCompatible])>;

def Bmc_Tensor : RankedTensorOf<[AnyType]>;
def Bmc_ShapeTensor : 1DTensorOf<[I64, Index]>;

//===----------------------------------------------------------------------===//
// Weights and shapes
//===----------------------------------------------------------------------===//

def Bmc_WeightOp : Bmc_Op<"weight", [Pure]> {
  let summary = "a model initializer, stored outside the IR";
  let description = [{
    Refers to a named initializer of the imported model. The bytes stay in
    the model file (memory-mapped, including ONNX external data) and are
    reached through the compiler's weight store, so that importing a large
    model neither copies its weights nor prints them.

    ```mlir
    %w = bmc.weight "model.layers.0.q_proj.weight" : tensor<96x96xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Bmc_ShapeOp : Bmc_InferOp<"shape"> {
  let summary = "ONNX Shape: the dimensions of a tensor as a 1-D int64 tensor";
  let description = [{
    Returns `dims[start:end]` of the input (ONNX Shape-15 semantics; `start`
    and `end` are normalised, non-negative and clamped by the importer).
    `--bmc-fold-shapes` replaces it with `tensor.dim`.

    ```mlir
    %s = bmc.shape %x {start = 0, end = 3} : (tensor<?x?x96xf32>) -> tensor<3xi64>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, I64Attr:$start, I64Attr:$end);
  let results = (outs 1DTensorOf<[I64]>:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Bmc_ConstantOfShapeOp : Bmc_InferOp<"constant_of_shape"> {
  let summary = "ONNX ConstantOfShape: a tensor of the given shape filled with one value";
  let description = [{
    ```mlir
    %z = bmc.constant_of_shape %shape {value = 0.0 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
    ```
  }];
  let arguments = (ins Bmc_ShapeTensor:$shape, TypedAttrInterface:$value);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$shape attr-dict `:` functional-type(operands, results)";
}

def Bmc_RangeOp : Bmc_InferOp<"range"> {
  let summary = "ONNX Range: start, start + delta, ... below limit";
  let description = [{
    The operands are 0-d tensors; the length is
    `max(ceil((limit - start) / delta), 0)`, known only at run time unless
    the operands are constants.

    ```mlir
    %r = bmc.range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    ```
  }];
  let arguments = (ins 0DTensorOf<[AnyType]>:$start, 0DTensorOf<[AnyType]>:$limit,
                       0DTensorOf<[AnyType]>:$delta);
  let results = (outs 1DTensorOf<[AnyType]>:$result);
  let assemblyFormat = "$start `,` $limit `,` $delta attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Bmc_BinaryOp<string mnemonic, string onnxName, string resultDoc>
    : Bmc_InferOp<mnemonic> {
  let summary = "ONNX " # onnxName # " with numpy broadcasting";
  let description = [{
    Elementwise }] # onnxName # [{ of two tensors broadcast against each other
    (ONNX multidirectional broadcasting). }] # resultDoc # [{

    ```mlir
    %r = bmc.}] # mnemonic # [{ %a, %b : (tensor<?x1x96xf32>, tensor<96xf32>) -> tensor<?x1x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$lhs, Bmc_Tensor:$rhs);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Bmc_AddOp : Bmc_BinaryOp<"add", "Add", "Operands have one element type; so has the result.">;
def Bmc_SubOp : Bmc_BinaryOp<"sub", "Sub", "Operands have one element type; so has the result.">;
def Bmc_MulOp : Bmc_BinaryOp<"mul", "Mul", "Operands have one element type; so has the result.">;
def Bmc_DivOp : Bmc_BinaryOp<"div", "Div", "Integer division truncates, as ONNX does.">;
def Bmc_PowOp : Bmc_BinaryOp<"pow", "Pow", "The exponent may have another element type; the result has the base's.">;
def Bmc_MinOp : Bmc_BinaryOp<"min", "Min", "Variadic ONNX Min is imported as a chain.">;
def Bmc_MaxOp : Bmc_BinaryOp<"max", "Max", "Variadic ONNX Max is imported as a chain.">;
def Bmc_ModOp : Bmc_BinaryOp<"mod", "Mod", "Integer mod follows the divisor's sign unless fmod is set."> {
  let arguments = (ins Bmc_Tensor:$lhs, Bmc_Tensor:$rhs, DefaultValuedAttr<BoolAttr, "false">:$fmod);
}
def Bmc_EqualOp : Bmc_BinaryOp<"equal", "Equal", "The result is i1.">;
def Bmc_LessOp : Bmc_BinaryOp<"less", "Less", "The result is i1.">;
def Bmc_LessEqualOp : Bmc_BinaryOp<"less_equal", "LessOrEqual", "The result is i1.">;
def Bmc_GreaterOp : Bmc_BinaryOp<"greater", "Greater", "The result is i1.">;
def Bmc_GreaterEqualOp : Bmc_BinaryOp<"greater_equal", "GreaterOrEqual", "The result is i1.">;
def Bmc_AndOp : Bmc_BinaryOp<"and", "And", "Operands and result are i1.">;
def Bmc_OrOp : Bmc_BinaryOp<"or", "Or", "Operands and result are i1.">;
def Bmc_XorOp : Bmc_BinaryOp<"xor", "Xor", "Operands and result are i1.">;

class Bmc_UnaryOp<string mnemonic, string onnxName, string formula>
    : Bmc_InferOp<mnemonic> {
  let summary = "ONNX " # onnxName # ": " # formula;
  let description = [{
    Elementwise, same shape and element type as the input.

    ```mlir
    %r = bmc.}] # mnemonic # [{ %x : (tensor<?x96xf32>) -> tensor<?x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_NegOp : Bmc_UnaryOp<"neg", "Neg", "-x">;
def Bmc_AbsOp : Bmc_UnaryOp<"abs", "Abs", "|x|">;
def Bmc_ExpOp : Bmc_UnaryOp<"exp", "Exp", "e^x">;
def Bmc_LogOp : Bmc_UnaryOp<"log", "Log", "ln x">;
def Bmc_SqrtOp : Bmc_UnaryOp<"sqrt", "Sqrt", "sqrt(x)">;
def Bmc_ReciprocalOp : Bmc_UnaryOp<"reciprocal", "Reciprocal", "1/x">;
def Bmc_TanhOp : Bmc_UnaryOp<"tanh", "Tanh", "tanh(x)">;
def Bmc_ErfOp : Bmc_UnaryOp<"erf", "Erf", "erf(x)">;
def Bmc_SigmoidOp : Bmc_UnaryOp<"sigmoid", "Sigmoid", "1/(1+e^-x)">;
def Bmc_ReluOp : Bmc_UnaryOp<"relu", "Relu", "max(x, 0)">;
def Bmc_CosOp : Bmc_UnaryOp<"cos", "Cos", "cos(x)">;
def Bmc_SinOp : Bmc_UnaryOp<"sin", "Sin", "sin(x)">;
def Bmc_FloorOp : Bmc_UnaryOp<"floor", "Floor", "floor(x)">;
def Bmc_CeilOp : Bmc_UnaryOp<"ceil", "Ceil", "ceil(x)">;
def Bmc_SignOp : Bmc_UnaryOp<"sign", "Sign", "-1, 0 or 1">;
def Bmc_NotOp : Bmc_UnaryOp<"not", "Not", "logical negation of i1">;
def Bmc_SoftplusOp : Bmc_UnaryOp<"softplus", "Softplus", "ln(1+e^x)">;
def Bmc_LeakyReluOp : Bmc_UnaryOp<"leaky_relu", "LeakyRelu", "x < 0 ? alpha*x : x"> {
  let arguments = (ins Bmc_Tensor:$input, F32Attr:$alpha);
}
def Bmc_GeluOp : Bmc_UnaryOp<"gelu", "Gelu", "x*Phi(x), exact or with the tanh approximation"> {
  let arguments = (ins Bmc_Tensor:$input, DefaultValuedAttr<BoolAttr, "false">:$tanh_approximation);
}

def Bmc_CastOp : Bmc_InferOp<"cast"> {
  let summary = "ONNX Cast: convert the element type";
  let description = [{
    Float to integer truncates toward zero; to i1 tests for non-zero.

    ```mlir
    %r = bmc.cast %x {to = f32} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, TypeAttr:$to);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Bmc_ClipOp : Bmc_InferOp<"clip", [AttrSizedOperandSegments]> {
  let summary = "ONNX Clip: clamp to [min, max]; either bound may be absent";
  let description = [{
    ```mlir
    %r = bmc.clip %x min %lo max %hi : (tensor<4xf32>, tensor<f32>, tensor<f32>) -> tensor<4xf32>
    %s = bmc.clip %x max %hi : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Optional<0DTensorOf<[AnyType]>>:$min,
                       Optional<0DTensorOf<[AnyType]>>:$max);
  let results = (outs Bmc_Tensor:$result);
  // Each bound is introduced by its keyword: with `,` as the optional
  // groups' anchor, the parser could not tell a lone max from a min.
  let assemblyFormat = "$input (`min` $min^)? (`max` $max^)? attr-dict `:` functional-type(operands, results)";
}

def Bmc_WhereOp : Bmc_InferOp<"where"> {
  let summary = "ONNX Where: cond ? x : y, broadcast";
  let description = [{
    ```mlir
    %r = bmc.where %c, %x, %y : (tensor<?x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32>
    ```
  }];
  let arguments = (ins TensorOf<[I1]>:$condition, Bmc_Tensor:$x, Bmc_Tensor:$y);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$condition `,` $x `,` $y attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Matrix products, normalisation, reductions
//===----------------------------------------------------------------------===//

def Bmc_MatMulOp : Bmc_InferOp<"matmul"> {
  let summary = "ONNX MatMul: batched matrix product with numpy semantics";
  let description = [{
    1-D operands are promoted as numpy does; leading batch dimensions
    broadcast. When `rhs` is a `bmc.weight` the compiler packs it once for
    the CPU microkernels.

    ```mlir
    %y = bmc.matmul %x, %w : (tensor<?x?x96xf32>, tensor<96x256xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$lhs, Bmc_Tensor:$rhs);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Bmc_GemmOp : Bmc_InferOp<"gemm"> {
  let summary = "ONNX Gemm: alpha * op(A) * op(B) + beta * C";
  let description = [{
    A and B are 2-D; C, if present, broadcasts to the result.

    ```mlir
    %y = bmc.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = false}
        : (tensor<?x96xf32>, tensor<96x288xf32>, tensor<288xf32>) -> tensor<?x288xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$a, Bmc_Tensor:$b, Optional<Bmc_Tensor>:$c,
                       F32Attr:$alpha, F32Attr:$beta, BoolAttr:$trans_a, BoolAttr:$trans_b);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)";
}

def Bmc_SoftmaxOp : Bmc_InferOp<"softmax"> {
  let summary = "ONNX Softmax (opset 13+): normalised exponentials along one axis";
  let description = [{
    With `log` set, LogSoftmax.

    ```mlir
    %p = bmc.softmax %s {axis = 3 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, I64Attr:$axis, DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_LayerNormOp : Bmc_InferOp<"layer_norm"> {
  let summary = "ONNX LayerNormalization: (x - mean) / sqrt(var + eps) * scale + bias";
  let description = [{
    Normalises over the dimensions from `axis` to the last.

    ```mlir
    %y = bmc.layer_norm %x, %g, %b {axis = 2 : i64, epsilon = 1.0e-05 : f32}
        : (tensor<?x?x96xf32>, tensor<96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_Tensor:$scale, Optional<Bmc_Tensor>:$bias,
                       I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Bmc_RMSNormOp : Bmc_InferOp<"rms_norm"> {
  let summary = "x / sqrt(mean(x^2) + eps) * scale over the last axis";
  let description = [{
    Not an ONNX op: `--bmc-raise-norms` recognises it in the
    Pow/ReduceMean/Add/Sqrt/Div/Mul chain that Llama-family exports write.

    ```mlir
    %y = bmc.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<?x?x96xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_Tensor:$scale, F32Attr:$epsilon);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $scale attr-dict `:` functional-type(operands, results)";
}

class Bmc_ReduceOp<string mnemonic, string onnxName>
    : Bmc_InferOp<mnemonic> {
  let summary = "ONNX " # onnxName # " over constant axes";
  let description = [{
    `axes` are normalised and sorted; an empty list reduces all axes, unless
    the importer saw `noop_with_empty_axes`, in which case no op is created.

    ```mlir
    %m = bmc.}] # mnemonic # [{ %x {axes = array<i64: 2>, keepdims = true} : (tensor<?x?x96xf32>) -> tensor<?x?x1xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, DenseI64ArrayAttr:$axes, BoolAttr:$keepdims);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_ReduceMeanOp : Bmc_ReduceOp<"reduce_mean", "ReduceMean">;
def Bmc_ReduceSumOp : Bmc_ReduceOp<"reduce_sum", "ReduceSum">;
def Bmc_ReduceMaxOp : Bmc_ReduceOp<"reduce_max", "ReduceMax">;
def Bmc_ReduceMinOp : Bmc_ReduceOp<"reduce_min", "ReduceMin">;
def Bmc_ReduceProdOp : Bmc_ReduceOp<"reduce_prod", "ReduceProd">;

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Bmc_TransposeOp : Bmc_InferOp<"transpose"> {
  let summary = "ONNX Transpose: permute dimensions";
  let description = [{
    Result dimension i is input dimension `perm[i]`.

    ```mlir
    %t = bmc.transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x6x16xf32>) -> tensor<?x6x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_ReshapeOp : Bmc_InferOp<"reshape"> {
  let summary = "ONNX Reshape: same elements, new shape";
  let description = [{
    The shape operand may hold 0 (copy the input dimension, unless
    `allowzero`) and one -1 (inferred). After `--bmc-fold-shapes` the shape is
    usually a `tensor.from_elements` of `tensor.dim` values and constants.

    ```mlir
    %r = bmc.reshape %x, %shape : (tensor<?x?x96xf32>, tensor<4xi64>) -> tensor<?x?x6x16xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_ShapeTensor:$shape,
                       DefaultValuedAttr<BoolAttr, "false">:$allowzero);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
}

def Bmc_FlattenOp : Bmc_InferOp<"flatten"> {
  let summary = "ONNX Flatten: collapse to 2-D at axis";
  let description = [{
    ```mlir
    %f = bmc.flatten %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, I64Attr:$axis);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_SqueezeOp : Bmc_InferOp<"squeeze"> {
  let summary = "ONNX Squeeze: drop size-1 dimensions at constant axes";
  let description = [{
    ```mlir
    %s = bmc.squeeze %x {axes = array<i64: 1>} : (tensor<?x1x96xf32>) -> tensor<?x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_UnsqueezeOp : Bmc_InferOp<"unsqueeze"> {
  let summary = "ONNX Unsqueeze: insert size-1 dimensions at constant axes";
  let description = [{
    `axes` index the result.

    ```mlir
    %u = bmc.unsqueeze %x {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_ConcatOp : Bmc_InferOp<"concat"> {
  let summary = "ONNX Concat along one axis";
  let description = [{
    A concatenation along the sequence axis of a past-KV graph input and new
    rows is what `--bmc-kv-inplace` rewrites into `bmc.kv_append`.

    ```mlir
    %c = bmc.concat %past, %new {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Variadic<Bmc_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Bmc_SplitOp : Bmc_InferOp<"split"> {
  let summary = "ONNX Split into pieces of constant sizes along one axis";
  let description = [{
    `sizes` hold one entry per result; they sum to the input dimension (the
    importer resolves `num_outputs` and equal splits; a dynamic input dim is
    checked at run time).

    ```mlir
    %q, %k, %v = bmc.split %qkv {axis = 2 : i64, sizes = array<i64: 96, 96, 96>}
        : (tensor<?x?x288xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>)
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Bmc_Tensor>:$results);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_SliceOp : Bmc_InferOp<"slice"> {
  let summary = "ONNX Slice: starts, ends and steps per listed axis";
  let description = [{
    `starts`, `ends` and `steps` are 1-D int64 tensors with one entry per
    axis in `axes` (normalised, non-negative); ONNX clamping applies at run
    time. Constant bounds give a static result dimension.

    ```mlir
    %s = bmc.slice %x, %starts, %ends, %steps {axes = array<i64: 3>}
        : (tensor<?x6x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x6x?x8xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_ShapeTensor:$starts, Bmc_ShapeTensor:$ends,
                       Bmc_ShapeTensor:$steps, DenseI64ArrayAttr:$axes);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $starts `,` $ends `,` $steps attr-dict `:` functional-type(operands, results)";
}

def Bmc_GatherOp : Bmc_InferOp<"gather"> {
  let summary = "ONNX Gather: take slices along one axis by integer indices";
  let description = [{
    Negative indices count from the end; out-of-range indices are a run-time
    error. An embedding lookup is a gather of a weight at axis 0.

    ```mlir
    %e = bmc.gather %table, %ids {axis = 0 : i64} : (tensor<1200x96xf32>, tensor<?x?xi64>) -> tensor<?x?x96xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$data, TensorOf<[I32, I64]>:$indices, I64Attr:$axis);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
}

def Bmc_ExpandOp : Bmc_InferOp<"expand"> {
  let summary = "ONNX Expand: broadcast to a shape";
  let description = [{
    Grouped-query attention exports repeat the KV heads with
    Unsqueeze/Expand/Reshape; `--bmc-raise-attention` folds that into the
    attention op, so the copy is never made.

    ```mlir
    %e = bmc.expand %x, %shape : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x3x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_ShapeTensor:$shape);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
}

def Bmc_TriluOp : Bmc_InferOp<"trilu"> {
  let summary = "ONNX Trilu: keep the upper or lower triangle of the last two dims";
  let description = [{
    ```mlir
    %t = bmc.trilu %x, %k {upper = true} : (tensor<4x5xf32>, tensor<i64>) -> tensor<4x5xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, 0DTensorOf<[I64]>:$k, BoolAttr:$upper);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $k attr-dict `:` functional-type(operands, results)";
}

def Bmc_GatherNDOp : Bmc_InferOp<"gather_nd"> {
  let summary = "ONNX GatherND: take slices addressed by the last axis of an index tensor";
  let description = [{
    The result is `indices.shape[:-1] ++ data.shape[batch_dims + m:]` where
    `m = indices.shape[-1]` (static). The first `batch_dims` dimensions of
    data and indices are matched, not indexed. Negative indices count from
    the end; out-of-range ones are a run-time error. The dynamo exporter
    writes it for tensor indexing (`x[:, idx]`, torchlib's aten_index).

    ```mlir
    %g = bmc.gather_nd %x, %idx {batch_dims = 0 : i64} : (tensor<?x8xf32>, tensor<?x1xi64>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$data, TensorOf<[I32, I64]>:$indices, I64Attr:$batch_dims);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
}

def Bmc_ScatterNDOp : Bmc_InferOp<"scatter_nd"> {
  let summary = "ONNX ScatterND: a copy of data with slices replaced (or combined) by updates";
  let description = [{
    `updates` has the shape `indices.shape[:-1] ++ data.shape[m:]` with
    `m = indices.shape[-1]` (static). `reduction` is one of none, add, mul,
    max, min; with none, duplicate indices leave the last update (ONNX
    leaves the order undefined). Negative indices count from the end. The
    dynamo exporter writes it for `index_put` (torchlib's aten_index_put).

    ```mlir
    %s = bmc.scatter_nd %x, %idx, %u {reduction = "none"} : (tensor<4x8xf32>, tensor<2x1xi64>, tensor<2x8xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$data, TensorOf<[I32, I64]>:$indices, Bmc_Tensor:$updates,
                   StrAttr:$reduction);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$data `,` $indices `,` $updates attr-dict `:` functional-type(operands, results)";
}

def Bmc_NonZeroOp : Bmc_InferOp<"nonzero"> {
  let summary = "ONNX NonZero: the coordinates of the non-zero elements, [rank, count]";
  let description = [{
    Column `k` of the result holds the coordinates of the `k`-th non-zero
    element of `input` in row-major order (NaN counts as non-zero, -0.0 as
    zero). The count is data: code generation counts first, then allocates
    the result (bump-allocated, outside the planned arena) and fills it.
    The dynamo exporter writes it for boolean indexing (`x[mask]`).

    ```mlir
    %n = bmc.nonzero %m : (tensor<?x5xi1>) -> tensor<2x?xi64>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input);
  let results = (outs TensorOf<[I64]>:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_CumSumOp : Bmc_InferOp<"cumsum"> {
  let summary = "ONNX CumSum: running sums along one constant axis";
  let description = [{
    `exclusive` leaves out the element itself (the first sum is 0);
    `reverse` sums from the end. HF decoders compute position ids as
    `cumsum(attention_mask) - 1`.

    ```mlir
    %c = bmc.cumsum %m {axis = 1 : i64, exclusive = false, reverse = false} : (tensor<?x?xi64>) -> tensor<?x?xi64>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, I64Attr:$axis, BoolAttr:$exclusive, BoolAttr:$reverse);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Bmc_CheckEqualOp : Bmc_InferOp<"check_equal"> {
  let summary = "its input, after a run-time check that every element equals `expected`";
  let description = [{
    A guard for inputs whose values an import relies on: if any element of
    `input` differs from `expected` (broadcast to the input's shape), the
    call fails with `message` and both values. The result is the input
    itself (a view, no copy); consumers use it, so the check runs before
    them. GroupQueryAttention's import checks seqlens_k and
    total_sequence_length against the cache length with it.

    ```mlir
    %s = bmc.check_equal %seqlens, %total {message = "seqlens_k + 1"} : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$input, Bmc_Tensor:$expected, StrAttr:$message);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$input `,` $expected attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Attention and the KV cache
//===----------------------------------------------------------------------===//

def Bmc_AttentionOp : Bmc_InferOp<"attention"> {
  let summary = "softmax(q k^T * scale + mask) v, with grouped KV heads";
  let description = [{
    `q` is `[batch, heads, seq, head_dim]`; `k` and `v` are
    `[batch, kv_heads, total, head_dim]` with `heads` a multiple of
    `kv_heads` (query head h reads KV head `h / (heads / kv_heads)`, as
    grouped-query attention repeats them). The optional additive `mask`
    broadcasts to `[batch, heads, seq, total]`.

    When `k` and `v` are views of a KV cache buffer (`bmc.kv_append`), the
    buffer has spare rows past `total`. `padding` chooses how code
    generation treats them: `skip` (the default) bounds the loop at `total`; `mask`
    computes scores over every row of the buffer and masks the spare ones
    out, as the BMC paper does. Both give the same result.

    `softcap` > 0 caps the scaled scores before the mask is added:
    `softcap * tanh(q k^T * scale / softcap)` (Gemma-2; onnxruntime's
    GroupQueryAttention applies it in this order). `smooth_softmax` adds an
    implicit zero logit to every softmax row:
    `exp(x_i - m) / (exp(-m) + sum_j exp(x_j - m))`, so a row's weights sum
    to less than 1 (all masked: 0). Both default to off and are then not
    printed.

    ```mlir
    %o = bmc.attention %q, %k, %v, %mask {scale = 0.25 : f32, padding = #bmc.padding<mask>}
        : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x6x?x16xf32>
    %c = bmc.attention %q, %k, %v {scale = 0.25 : f32, softcap = 30.0 : f32, smooth_softmax = true}
        : (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x6x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_Tensor:$q, Bmc_Tensor:$k, Bmc_Tensor:$v,
                       Optional<Bmc_Tensor>:$mask, F32Attr:$scale,
                       DefaultValuedAttr<Bmc_KVPaddingAttr, "::mlir::bmc::KVPadding::Skip">:$padding,
                       DefaultValuedAttr<F32Attr, "0.0f">:$softcap,
                       DefaultValuedAttr<BoolAttr, "false">:$smooth_softmax);
  let results = (outs Bmc_Tensor:$result);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $q `,` $k `,` $v (`,` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Bmc_KVAppendOp : Bmc_Op<"kv_append",
    [MemoryEffects<[MemWrite]>, InferTypeOpAdaptorWithIsCompatible]> {
  let summary = "write new KV rows in place after the valid rows; view the valid rows";
  let description = [{
    The in-place, strided form of `concat(past, new)` along the sequence
    axis: the `new` rows `[batch, heads, seq, head_dim]` are stored at rows
    `[valid, valid + seq)` of the cache buffer, and the result is a view of
    rows `[0, valid + seq)` (row stride = the buffer's capacity), equal to
    what the Concat produced, without allocating or copying the past. The
    runtime guarantees `valid + seq <= capacity` before the step (the BMC
    policy); compiled code checks it. The write is a side effect: the op
    stays even if the view is unused, and a function appends to each cache
    at most once. A bf16/f16 cache takes f32 rows, rounded to nearest even
    as they are written; the view then has the cache's element type.

    ```mlir
    %present = bmc.kv_append %cache, %new : (!bmc.kv_cache<2x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_KVCacheType:$cache, Bmc_Tensor:$rows);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$cache `,` $rows attr-dict `:` functional-type(operands, results)";
}

def Bmc_KVPastOp : Bmc_InferOp<"kv_past"> {
  let summary = "a view of the valid rows of a KV cache, as the past tensor";
  let description = [{
    Stands for the original past-KV graph input wherever it is used other
    than by the concatenation (for example a Shape of it).

    ```mlir
    %past = bmc.kv_past %cache : (!bmc.kv_cache<2x16xf32>) -> tensor<?x2x?x16xf32>
    ```
  }];
  let arguments = (ins Bmc_KVCacheType:$cache);
  let results = (outs Bmc_Tensor:$result);
  let assemblyFormat = "$cache attr-dict `:` functional-type(operands, results)";
}

def Bmc_KVCapacityOp : Bmc_Op<"kv_capacity", [Pure]> {
  let summary = "the number of rows the KV cache buffer can hold";
  let description = [{
    ```mlir
    %cap = bmc.kv_capacity %cache : !bmc.kv_cache<2x16xf32>
    ```
  }];
  let arguments = (ins Bmc_KVCacheType:$cache);
  let results = (outs Index:$result);
  let assemblyFormat = "$cache attr-dict `:` qualified(type($cache))";
}

#endif // BMC_OPS
