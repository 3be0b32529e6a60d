//===- Passes.h - bmc passes ------------------------------------*- C++ -*-===//
#ifndef BMC_PASSES_PASSES_H
#define BMC_PASSES_PASSES_H

#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::bmc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The discardable attribute bmc-mark-layers puts on each op of decoder
/// layer k (an i64); code generation reads it and removes it.
inline constexpr llvm::StringLiteral kLayerAttrName = "bmc.layer";

/// The discardable unit attribute bmc-group-elementwise puts on an
/// elementwise op computed in its single consumer's loop (not stored).
inline constexpr llvm::StringLiteral kFusedAttrName = "bmc.fused";

/// The options of the graph pipeline (`bmc-pipeline`): the compiler's
/// CompileOptions map onto them (compiler/Compiler.cpp).
struct PipelineOptions : PassPipelineOptions<PipelineOptions> {
  Option<KVMode> kvMode{*this, "kv-mode",
                        llvm::cl::desc("How the KV cache is kept: bmc, prealloc (both rewrite the caches in "
                                       "place) or concat (the graph as exported)"),
                        llvm::cl::init(KVMode::BMC)};
  Option<KVPadding> padding{*this, "padding",
                            llvm::cl::desc("How attention treats a KV buffer's spare rows: skip or mask"),
                            llvm::cl::init(KVPadding::Skip)};
  Option<KVType> kvType{*this, "kv-type",
                        llvm::cl::desc("Element type of the rewritten caches: f32, bf16, f16 (bf16/f16 "
                                       "need kv-mode bmc or prealloc) or auto (the graph's: f16/bf16 "
                                       "for a 16-bit graph's caches, else f32)"),
                        llvm::cl::init(KVType::Auto)};
  Option<bool> lowerToKernels{*this, "lower-to-kernels",
                              llvm::cl::desc("End with bmc-lower-to-kernels: the op families moved to the "
                                             "kernel level so far (the KV cache, attention, the matrix products) become bmck ops"),
                              llvm::cl::init(true)};
  Option<bool> markLayers{*this, "mark-layers",
                          llvm::cl::desc("Mark each decoder layer's ops (bmc-mark-layers), so code "
                                         "generation compiles each distinct layer body once"),
                          llvm::cl::init(true)};
  Option<bool> fuseElementwise{*this, "fuse-elementwise",
                               llvm::cl::desc("Fuse single-use elementwise results into their consumer's loop "
                                              "(bmc-group-elementwise before bmc-lower-to-kernels)"),
                               llvm::cl::init(true)};
};

/// Options that parse but do not go together (kv-type bf16/f16 with
/// kv-mode concat): failure with a one-line `error`.
LogicalResult checkPipelineOptions(const PipelineOptions &o, std::string &error);

/// Appends the graph pipeline to a module-level pass manager: widen 16-bit
/// graphs to fp32 (bmc-widen-16bit), fold shapes,
/// canonicalize, cse, raise attention and norms, canonicalize, then (unless
/// kv-mode=concat) the in-place KV rewrite and canonicalize, the 16-bit
/// inputs/outputs given their types back (bmc-narrow-16bit-io), cse,
/// bmc-mark-layers when mark-layers is set, and bmc-lower-to-kernels when
/// lower-to-kernels is set (the compiler always sets it: the CPU emitter
/// reads the moved families only in their kernel form). `o` must pass
/// checkPipelineOptions.
void buildPipeline(OpPassManager &pm, const PipelineOptions &o);

/// Registers `bmc-pipeline` (buildPipeline after checkPipelineOptions) for
/// bmc-opt and other MLIR drivers.
void registerPipeline();

/// The KV cache family of bmc-lower-to-kernels (passes/LowerToKernelsKV.cpp):
/// bmc.kv_append -> bmck.kv_append, bmc.kv_past -> bmck.kv_rows, with the
/// bmck.to_view / bmck.to_tensor seams to the ops still at tensor level.
void populateKVToKernelPatterns(RewritePatternSet &patterns);

/// The attention family of bmc-lower-to-kernels
/// (passes/LowerToKernelsAttention.cpp): bmc.attention -> bmck.attention,
/// reading the KV family's views without seams and, with padding = mask, the
/// cache capacity as the padded length.
void populateAttentionToKernelPatterns(RewritePatternSet &patterns);

/// The matrix products of bmc-lower-to-kernels
/// (passes/LowerToKernelsMatMul.cpp): bmc.matmul -> bmck.matmul, bmc.gemm ->
/// bmck.gemm, naming the weight their right operand reads (findMatMulWeight).
void populateMatMulToKernelPatterns(RewritePatternSet &patterns);

/// Norms, softmax and reductions of bmc-lower-to-kernels
/// (passes/LowerToKernelsNorm.cpp): bmc.layer_norm / bmc.rms_norm ->
/// bmck.norm, bmc.softmax -> bmck.softmax, bmc.reduce_* -> bmck.reduce.
void populateNormToKernelPatterns(RewritePatternSet &patterns);

/// Data movement in bmc-lower-to-kernels (passes/LowerToKernelsData.cpp):
/// bmc.slice / split / squeeze / unsqueeze / expand / transpose / reshape /
/// flatten -> the view ops of the same names, bmc.concat / bmc.gather -> the
/// copying kernels bmck.concat / bmck.gather; a bmck.copy before a reshape or
/// flatten whose input is not known contiguous.
void populateDataToKernelPatterns(RewritePatternSet &patterns);
/// Whether bmc-lower-to-kernels moves `op` (one of those ten) to the kernel
/// level: every value it would make a view of has an integer or float element
/// type (index-typed shape vectors stay tensor-level), and a Transpose does not
/// read a weight (through Casts and Transposes: a product names that weight).
bool movesDataToKernels(Operation *op);

/// The kernels made from host scalars in bmc-lower-to-kernels
/// (passes/LowerToKernelsShape.cpp): bmc.range -> bmck.range.
void populateShapeToKernelPatterns(RewritePatternSet &patterns);
/// Whether bmc-lower-to-kernels moves `op` (a bmc.range) to the kernel level:
/// its result has integer or float elements (an index range stays).
bool movesShapeToKernels(Operation *op);

/// The constant a matrix product's right operand `rhs` reads: a 2-D
/// bmc.weight reached through at most one 2-D Transpose (`transposed`),
/// before or after a Cast to f32 of a bf16/f16 weight, or a bf16/f16 weight
/// read as it is (a fully 16-bit graph's matmul); `narrow` is then that
/// 16-bit type (the storage a target streams), else null (an f32 weight).
/// bmck.matmul / bmck.gemm name it in `weight`; the CPU emitter's weight plan
/// finds its orientation and storage type here.
struct MatMulWeight {
  WeightOp weight;
  bool transposed = false;
  Type narrow;
};
std::optional<MatMulWeight> findMatMulWeight(Value rhs);

/// The elementwise groups of bmc-lower-to-kernels
/// (passes/LowerToKernelsElementwise.cpp): an elementwise op not marked
/// bmc.fused (bmc-group-elementwise) becomes one bmck.elementwise holding it
/// and the marked ops it reads, its leaves read as views.
void populateElementwiseToKernelPatterns(RewritePatternSet &patterns);
/// Whether tensor-level op `op` is legal after bmc-lower-to-kernels as far
/// as the elementwise family is concerned: not an elementwise op, inside a
/// bmck.elementwise, marked bmc.fused (erased by its group's pattern), or a
/// 16-bit weight's Cast read only as a packed product's right operand (the
/// weight the product names stands for it).
bool isLegalForElementwiseGroups(Operation *op);
/// A bmc.cast to f32 of a bf16/f16 weight (through Transposes and Casts).
bool isNarrowWeightCastCandidate(Operation *op);
/// `use` reads a 16-bit weight's value as the packed right operand of a
/// product (an f32 left operand), directly or through Transposes / Casts
/// that only such products read: the CPU emitter then reads the weight
/// packed, never that value.
bool feedsPackedProduct(OpOperand &use);

/// Re-infers the result types of `op` and keeps the more static of old and
/// new per dimension. Returns true if a type changed.
bool refineResultTypes(Operation *op);

} // namespace mlir::bmc

#endif
