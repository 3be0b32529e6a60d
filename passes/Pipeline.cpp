//===- Pipeline.cpp - the compiler's pass list, registered as bmc-pipeline -===//
//
// The one list of passes before code generation: the graph passes, then
// the kernel-level lowering of the op families moved so far. The compiler
// (compiler/Compiler.cpp) builds it with buildPipeline, and bmc-opt and the
// lit tests run it by name (`--bmc-pipeline="kv-mode=prealloc padding=mask"`).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace mlir::bmc {

LogicalResult checkPipelineOptions(const PipelineOptions &o, std::string &error) {
  if (o.kvType != KVType::F32 && o.kvType != KVType::Auto && o.kvMode == KVMode::Concat) {
    error = "bmc-pipeline: kv-type " + stringifyKVType(o.kvType).str() +
            " needs kv-mode bmc or prealloc (concat keeps the graph's own cache tensors)";
    return failure();
  }
  return success();
}

void buildPipeline(OpPassManager &pm, const PipelineOptions &o) {
  pm.addNestedPass<func::FuncOp>(createWiden16Bit());
  pm.addNestedPass<func::FuncOp>(createFoldShapes());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createRaiseAttention());
  pm.addNestedPass<func::FuncOp>(createRaiseNorms());
  pm.addPass(createCanonicalizerPass());
  if (o.kvMode != KVMode::Concat) {
    KVInplaceOptions kvo;
    kvo.padding = o.padding;
    kvo.kvType = o.kvType;
    pm.addNestedPass<func::FuncOp>(createKVInplace(kvo));
    pm.addPass(createCanonicalizerPass());
  }
  // After the KV rewrite, which reads the caches' bmc.onnx_type: the other
  // 16-bit inputs and outputs take their ONNX types again.
  pm.addNestedPass<func::FuncOp>(createNarrow16BitIO());
  pm.addPass(createCSEPass());
  if (o.markLayers) pm.addNestedPass<func::FuncOp>(createMarkLayers());
  // After the layer marks, which the kernel ops inherit: the layers are found
  // on the tensor graph, the families already moved are lowered once, here.
  // The elementwise fusion decision, after the marks (the groups' kernel
  // ops take their last op's), read by the elementwise patterns.
  if (o.lowerToKernels) {
    GroupElementwiseOptions go;
    go.fuse = o.fuseElementwise;
    pm.addNestedPass<func::FuncOp>(createGroupElementwise(go));
    pm.addNestedPass<func::FuncOp>(createLowerToKernels());
  }
}

void registerPipeline() {
  // PassPipelineRegistration without its void builder, so that options that
  // parse but do not go together are refused with a message.
  registerPassPipeline(
      "bmc-pipeline",
      "The compiler's pass list: widen 16-bit graphs to fp32, fold shapes, raise attention and norms, rewrite KV "
      "caches in place (unless kv-mode=concat), give 16-bit inputs/outputs their types back, mark decoder layers, "
      "group elementwise ops, lower the moved op families (KV cache, attention, matrix products, elementwise groups) to the kernel level (bmck)",
      [](OpPassManager &pm, StringRef text, function_ref<LogicalResult(const Twine &)> errorHandler) {
        PipelineOptions o;
        if (failed(o.parseFromString(text))) return failure();
        std::string error;
        if (failed(checkPipelineOptions(o, error))) return errorHandler(error);
        buildPipeline(pm, o);
        return success();
      },
      [](function_ref<void(const ::mlir::detail::PassOptions &)> optHandler) { optHandler(PipelineOptions()); });
}

} // namespace mlir::bmc
