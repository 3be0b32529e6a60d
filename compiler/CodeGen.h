//===- CodeGen.h - bmc module -> LLVM IR -> machine code (internal) -*- C++ -*-===//
#ifndef BMC_COMPILER_CODEGEN_H
#define BMC_COMPILER_CODEGEN_H

#include "bmc/compiler.h"
#include "compiler/WeightPlan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <functional>
#include <memory>
#include <string>

namespace bmc {

/// Import + cleanup + raising + (optionally) the KV rewrite: the module
/// bmc-opt would show. Errors go to `error` (one line).
struct FrontendResult;

/// The module after the graph passes ("mlir"), the optimised LLVM IR ("llvm"),
/// or the whole model as CUDA C ("cuda": an error naming the first op without
/// a CUDA form, which every model has today).
Result<std::string> compileToText(const std::string &onnxPath, const CompileOptions &opts, const std::string &stage);

/// Extracts the runtime signature of @main (before lowering).
ModelSignature extractSignature(mlir::ModuleOp module);

/// Finds the decoder interface (token ids, mask, positions, KV caches,
/// logits) in @main; `valid` is false for graphs that are not decoders.
DecoderInfo analyzeDecoder(mlir::ModuleOp module, const ModelSignature &sig);

/// Lowers the bmc module to the LLVM dialect and translates it to LLVM IR,
/// optimised for the host CPU. Fills `plan` with the weight layout; the plan
/// is final once lowering is done, when `planReady` (if set) is called: the
/// weights can be packed from then on, in parallel with the LLVM stages.
std::unique_ptr<llvm::Module> generateLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llctx, WeightPlan &plan,
                                             const CompileOptions &opts, std::string &error, int logitsOutput = -1,
                                             const std::function<void()> &planReady = {});

/// JIT-compiles `module` into a CodeImage: code generation as emitObjects
/// with `parts`, then ORC LLJIT links the objects.
std::shared_ptr<CodeImage> jitCompile(std::unique_ptr<llvm::Module> module,
                                      std::unique_ptr<llvm::LLVMContext> ctx, int parts, std::string &error);

/// Emits a relocatable object for the host CPU.
bool emitObject(llvm::Module &module, std::string &object, std::string &error);

/// Splits `module` into `parts` modules (each function defined in one part:
/// largest first onto the least loaded part, by IR instruction count; locals
/// made hidden globals) and emits each one's object in its own thread: the
/// same objects whatever the machine. parts <= 1: one object, no split.
/// Leaves `module` unusable for anything but destruction when parts > 1.
bool emitObjects(llvm::Module &module, int parts, std::vector<std::string> &objects, std::string &error);

/// Links relocatable objects into a shared object image with ld.lld.
bool linkSharedObject(const std::vector<std::string> &objects, std::string &image, std::string &error);

/// The host CPU name and features the code is generated for.
std::string hostCpuDescription();
std::vector<std::string> requiredCpuFeatures();


/// Writes header + meta + code + the CUDA section (if not empty) + weight
/// blob, atomically (temp + rename).
Status writePackageFile(const std::string &out, const std::vector<uint8_t> &meta, const std::string &image,
                        const WeightPlan &plan, const WeightStore &store, const std::vector<uint8_t> &cuda = {});

} // namespace bmc

#endif
