//===- CodeGen.cpp - lowering, LLVM translation and optimisation, ORC JIT --===//

#include "compiler/CodeGen.h"
#include "compiler/lowering/Lowering.h"
#include "runtime/Abi.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

namespace bmc {

static void initLLVM() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

static llvm::Expected<llvm::orc::JITTargetMachineBuilder> hostBuilder() {
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return jtmb.takeError();
  jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  jtmb->setRelocationModel(llvm::Reloc::PIC_);
  return jtmb;
}

std::string hostCpuDescription() {
  std::string s = llvm::sys::getHostCPUName().str();
  return s;
}

std::unique_ptr<llvm::Module> generateLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llctx, WeightPlan &plan,
                                             const CompileOptions &opts, std::string &error, int logitsOutput) {
  initLLVM();
  mlir::MLIRContext *ctx = module.getContext();
  std::string diag;
  mlir::ScopedDiagnosticHandler handler(ctx, [&](mlir::Diagnostic &d) {
    if (diag.empty()) {
      llvm::raw_string_ostream os(diag);
      os << d.getLocation() << ": " << d.str();
    }
    return mlir::success();
  });
  ctx->loadDialect<mlir::LLVM::LLVMDialect, mlir::scf::SCFDialect, mlir::math::MathDialect,
                   mlir::cf::ControlFlowDialect, mlir::vector::VectorDialect>();
  LoweringOptions lo;
  lo.referenceOnly = opts.referenceKernels;
  lo.quantBits = opts.weights == WeightFormat::Int8 ? 8 : opts.weights == WeightFormat::Int4 ? 4 : 0;
  lo.noFusion = !opts.fuseElementwise;
  lo.logitsOutput = logitsOutput;
  if (mlir::failed(lowerToLLVMDialect(module, plan, lo))) {
    error = "code generation failed: " + diag;
    return nullptr;
  }
  // Bounded function sizes keep LLVM's code generation linear in depth.
  if (auto main = module.lookupSymbol<mlir::func::FuncOp>("bmc_main")) outlineSegments(main, opts.segmentOps);
  // tanh, erf, exp, ... as polynomials: no libm calls in loops, so LLVM can
  // vectorise them (GELU and SiLU in a prefill run millions of these).
  {
    mlir::RewritePatternSet patterns(ctx);
    mlir::populateMathPolynomialApproximationPatterns(patterns);
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(module, std::move(patterns)))) {
      error = "math approximation failed";
      return nullptr;
    }
  }
  mlir::PassManager pm(ctx);
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  pm.addPass(mlir::createConvertSCFToCFPass());
  pm.addPass(mlir::createConvertMathToLLVMPass());
  pm.addPass(mlir::createConvertMathToLibmPass());
  pm.addPass(mlir::createArithToLLVMConversionPass());
  pm.addPass(mlir::createConvertFuncToLLVMPass());
  pm.addPass(mlir::createConvertControlFlowToLLVMPass());
  pm.addPass(mlir::createReconcileUnrealizedCastsPass());
  if (mlir::failed(pm.run(module))) {
    error = "lowering to the LLVM dialect failed: " + diag;
    return nullptr;
  }
  mlir::DialectRegistry registry;
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);
  auto llmod = mlir::translateModuleToLLVMIR(module, llctx, "bmc");
  if (!llmod) {
    error = "translation to LLVM IR failed: " + diag;
    return nullptr;
  }
  // The blob size the code reads at fixed offsets (runtime/Abi.h): the
  // package loader checks the weights section against it.
  auto *i64 = llvm::Type::getInt64Ty(llctx);
  new llvm::GlobalVariable(*llmod, i64, /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, uint64_t(plan.totalBytes())), BMC_WEIGHTS_BYTES_SYMBOL);
  // The KV element type the appends and attention were compiled for: the
  // loader checks the metadata (which sizes the runtime's buffers) against it.
  const int64_t kvType = opts.kvType == KVType::BF16 ? 1 : opts.kvType == KVType::F16 ? 2 : 0;
  new llvm::GlobalVariable(*llmod, i64, /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, uint64_t(kvType)), BMC_KV_TYPE_SYMBOL);
  auto jtmb = hostBuilder();
  if (!jtmb) {
    error = "cannot target this CPU: " + llvm::toString(jtmb.takeError());
    return nullptr;
  }
  auto tm = jtmb->createTargetMachine();
  if (!tm) {
    error = "cannot create a target machine: " + llvm::toString(tm.takeError());
    return nullptr;
  }
  llmod->setDataLayout((*tm)->createDataLayout());
  llmod->setTargetTriple((*tm)->getTargetTriple().str());
  // The target CPU and features on every function, so the optimiser
  // vectorises for AVX2/FMA.
  for (llvm::Function &f : *llmod) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", (*tm)->getTargetCPU());
    f.addFnAttr("target-features", (*tm)->getTargetFeatureString());
  }
  auto transformer = mlir::makeOptimizingTransformer(unsigned(std::clamp(opts.optLevel, 0, 3)), 0, tm->get());
  if (llvm::Error e = transformer(llmod.get())) {
    error = "LLVM optimisation failed: " + llvm::toString(std::move(e));
    return nullptr;
  }
  return llmod;
}

namespace {
class JitImage : public CodeImage {
public:
  std::unique_ptr<llvm::orc::LLJIT> jit;
  void *fn = nullptr;
  std::string cpu;
  void *entry() const override { return fn; }
  std::string describe() const override { return "JIT (ORC LLJIT) for " + cpu; }
};
} // namespace

std::shared_ptr<CodeImage> jitCompile(std::unique_ptr<llvm::Module> module, std::unique_ptr<llvm::LLVMContext> ctx,
                                      std::string &error) {
  initLLVM();
  auto jtmb = hostBuilder();
  if (!jtmb) {
    error = "JIT: " + llvm::toString(jtmb.takeError());
    return nullptr;
  }
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) {
    error = "JIT: " + llvm::toString(jit.takeError());
    return nullptr;
  }
  // bmc_rt_* and the kernels come from libbmc_runtime.so, libm from the process.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess((*jit)->getDataLayout().getGlobalPrefix());
  if (!gen) {
    error = "JIT: " + llvm::toString(gen.takeError());
    return nullptr;
  }
  (*jit)->getMainJITDylib().addGenerator(std::move(*gen));
  if (llvm::Error e = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(ctx)))) {
    error = "JIT: " + llvm::toString(std::move(e));
    return nullptr;
  }
  auto sym = (*jit)->lookup("bmc_main");
  if (!sym) {
    error = "JIT: " + llvm::toString(sym.takeError());
    return nullptr;
  }
  auto img = std::make_shared<JitImage>();
  img->fn = sym->toPtr<void *>();
  img->jit = std::move(*jit);
  img->cpu = hostCpuDescription();
  return img;
}

bool emitObject(llvm::Module &module, std::string &object, std::string &error) {
  initLLVM();
  auto jtmb = hostBuilder();
  if (!jtmb) {
    error = llvm::toString(jtmb.takeError());
    return false;
  }
  auto tm = jtmb->createTargetMachine();
  if (!tm) {
    error = llvm::toString(tm.takeError());
    return false;
  }
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if ((*tm)->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return false;
  }
  pm.run(module);
  object.assign(buf.begin(), buf.end());
  return true;
}

} // namespace bmc
