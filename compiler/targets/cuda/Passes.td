//===- Passes.td - the CUDA emitter's passes ---------------*- tablegen -*-===//

#ifndef BMC_CUDA_PASSES
#define BMC_CUDA_PASSES

include "mlir/Pass/PassBase.td"

def EmitCuda : Pass<"bmc-emit-cuda", "::mlir::ModuleOp"> {
  let summary = "Write CUDA C for the kernel-level ops (bmck) of a module; report what has no CUDA form yet";
  let description = [{
    The CUDA emitter (issue 14): for a module after `--bmc-pipeline`, one
    `extern "C" __global__` per distinct configuration of `bmck.kv_append`
    (rows and cache element types, heads, head_dim), two (split, combine) per
    distinct configuration of `bmck.attention` (KV type, head_dim, GQA group,
    scale, padding and `padded`, mask, softcap, smooth softmax), per
    configuration of `bmck.matmul` / `bmck.gemm` a tiled GEMM plus, with a
    named weight, a split-K GEMV and its epilogue (the weight's device storage
    from the model or `weights`; int8/int4 weights are left), and one per
    configuration of `bmck.norm`, `bmck.softmax`, `bmck.elementwise`,
    `bmck.reduce`, `bmck.concat`, `bmck.gather` and `bmck.copy` (EmitCudaNorm.h,
    EmitCudaElementwise.h, EmitCudaData.h), each taking its views as
    `bmc_view4` (pointer, offset, sizes, strides) and calling the device
    functions of runtime/device/cuda/*.cuh, which the runtime prepends
    (`cudaEmittedKernelSource`). The header of the output counts the ops per
    kind and the tensor-level ops (and kernel-level ops without a CUDA form)
    left for the CUDA target. The module is not changed.

    ```
    bmc-import model.onnx | bmc-opt --bmc-pipeline --bmc-emit-cuda -o /dev/null > model.cu
    ```

    With `whole-model`, a module with any op left is refused with one error
    naming the first such op (nothing is written): that is a whole-model
    CUDA compile, which no model passes yet. Weights, tensor constants and a
    weight's Cast / Transpose read only as a product's weight are not
    refused: a module that passes gets one `// bmc-program:` line per
    function after its kernels (EmitCudaProgram.h; runtime/device/
    DeviceProgram.h runs it).
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where the CUDA C goes (- : standard output)">,
    Option<"wholeModel", "whole-model", "bool", /*default=*/"false",
           "Refuse the module unless every op has a CUDA form (a whole-model compile); then write each function's bmc-program line">,
    Option<"weights", "weights", "::mlir::bmc::cuda::WeightStorage", /*default=*/"::mlir::bmc::cuda::WeightStorage::Model",
           "The device storage of the weights the matrix products read (bmc-compile --weights)",
           [{::llvm::cl::values(
             clEnumValN(::mlir::bmc::cuda::WeightStorage::Model, "model", "the model's own (f32, f16, bf16)"),
             clEnumValN(::mlir::bmc::cuda::WeightStorage::F16, "f16", "f32 weights converted to f16"),
             clEnumValN(::mlir::bmc::cuda::WeightStorage::BF16, "bf16", "f32 weights converted to bf16"),
             clEnumValN(::mlir::bmc::cuda::WeightStorage::Int8, "int8", "int8 (no CUDA form yet: refused)"),
             clEnumValN(::mlir::bmc::cuda::WeightStorage::Int4, "int4", "int4 (no CUDA form yet: refused)"))}]>,
  ];
}

#endif // BMC_CUDA_PASSES
