//===- CodeGen.h - bmc module -> LLVM IR -> machine code (internal) -*- C++ -*-===//
#ifndef BMC_COMPILER_CODEGEN_H
#define BMC_COMPILER_CODEGEN_H

#include "bmc/compiler.h"
#include "compiler/WeightPlan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace bmc {

/// Import + cleanup + raising + (optionally) the KV rewrite: the module
/// bmc-opt would show. Errors go to `error` (one line).
struct FrontendResult;

/// Extracts the runtime signature of @main (before lowering).
ModelSignature extractSignature(mlir::ModuleOp module);

/// Lowers the bmc module to the LLVM dialect and translates it to LLVM IR,
/// optimised for the host CPU. Fills `plan` with the weight layout.
std::unique_ptr<llvm::Module> generateLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llctx, WeightPlan &plan,
                                             const CompileOptions &opts, std::string &error);

/// JIT-compiles `module` (ORC LLJIT) into a CodeImage.
std::shared_ptr<CodeImage> jitCompile(std::unique_ptr<llvm::Module> module,
                                      std::unique_ptr<llvm::LLVMContext> ctx, std::string &error);

/// Emits a relocatable object for the host CPU.
bool emitObject(llvm::Module &module, std::string &object, std::string &error);

/// The host CPU name and features the code is generated for.
std::string hostCpuDescription();

} // namespace bmc

#endif
