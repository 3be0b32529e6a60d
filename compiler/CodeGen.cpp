//===- CodeGen.cpp - lowering, LLVM translation and optimisation, ORC JIT --===//

#include "compiler/CodeGen.h"
#include "compiler/lowering/Lowering.h"
#include "bmc/abi/entry.h"
#include "bmc/abi/kernels.h"

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
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ValueMapper.h"

#include <memory>
#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

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
                                             const CompileOptions &opts, std::string &error, int logitsOutput,
                                             const std::function<void()> &planReady) {
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
  lo.weight16 = opts.weights == WeightFormat::BF16 ? BMC_KV_BF16 : opts.weights == WeightFormat::F16 ? BMC_KV_F16 : 0;
  lo.int8Activations = opts.activations == ActivationFormat::Int8;
  lo.logitsOutput = logitsOutput;
  if (opts.progress) opts.progress("lower to loops and kernel calls");
  if (mlir::failed(lowerToLLVMDialect(module, plan, lo))) {
    error = "code generation failed: " + diag;
    return nullptr;
  }
  if (planReady) planReady(); // nothing below asks for weights
  if (auto main = module.lookupSymbol<mlir::func::FuncOp>("bmc_main")) {
    // One function per distinct decoder layer body, then bounded function
    // sizes for the rest: LLVM's code generation stays linear in depth.
    std::string layers = outlineLayers(main);
    if (!layers.empty() && opts.remarks) opts.remarks(layers);
    // What remains around the layer calls is mostly straight-line code
    // (the memory plan's sizes, the embedding, the head); cutting it into
    // segments would pass hundreds of values between them (slow in LLVM).
    if (layers.find("outlined into") == std::string::npos) {
      outlineSegments(main, opts.segmentOps);
    } else {
      std::string loops = outlineLoops(main);
      if (!loops.empty() && opts.remarks) opts.remarks(loops);
    }
  }
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
  if (opts.progress) opts.progress("convert to the LLVM dialect");
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
  if (opts.progress) opts.progress("translate to LLVM IR");
  auto llmod = mlir::translateModuleToLLVMIR(module, llctx, "bmc");
  if (!llmod) {
    error = "translation to LLVM IR failed: " + diag;
    return nullptr;
  }
  // The blob size the code reads at fixed offsets (bmc/abi/entry.h): the
  // package loader checks the weights section against it.
  auto *i64 = llvm::Type::getInt64Ty(llctx);
  new llvm::GlobalVariable(*llmod, i64, /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, uint64_t(plan.totalBytes())), BMC_WEIGHTS_BYTES_SYMBOL);
  // The KV element type the appends and attention were compiled for (concat:
  // the graph's cache tensors'): the loader checks the metadata (which sizes
  // the runtime's buffers) against it.
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
  if (opts.progress) opts.progress("optimise LLVM IR");
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
                                      int parts, std::string &error) {
  initLLVM();
  // Code generation in parallel threads, then ORC only links the objects.
  std::vector<std::string> objects;
  if (!emitObjects(*module, parts, objects, error)) {
    error = "JIT: " + error;
    return nullptr;
  }
  module.reset();
  ctx.reset();
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
  // ORC reports the cause of a failed lookup (e.g. "Symbols not found: [ f ]")
  // to the session, not in the lookup's error: kept for the one-line message.
  auto reported = std::make_shared<std::string>();
  (*jit)->getExecutionSession().setErrorReporter([reported](llvm::Error e) {
    std::string m = llvm::toString(std::move(e));
    if (reported->empty())
      *reported = m;
  });
  for (size_t i = 0; i < objects.size(); ++i)
    if (llvm::Error e = (*jit)->addObjectFile(
            llvm::MemoryBuffer::getMemBufferCopy(objects[i], "bmc-part-" + std::to_string(i) + ".o"))) {
      error = "JIT: " + llvm::toString(std::move(e));
      return nullptr;
    }
  auto sym = (*jit)->lookup("bmc_main");
  if (!sym) {
    error = "JIT: " + (reported->empty() ? llvm::toString(sym.takeError())
                                         : (llvm::consumeError(sym.takeError()), *reported));
    return nullptr;
  }
  auto img = std::make_shared<JitImage>();
  img->fn = sym->toPtr<void *>();
  img->jit = std::move(*jit);
  img->cpu = hostCpuDescription();
  return img;
}

/// Object code for one module in its own context (one thread's part).
static bool emitObjectFromBitcode(const llvm::SmallVector<char, 0> &bitcode, std::string &object, std::string &error) {
  llvm::LLVMContext ctx;
  auto mod = llvm::parseBitcodeFile(llvm::MemoryBufferRef(llvm::StringRef(bitcode.data(), bitcode.size()), "part"), ctx);
  if (!mod) {
    error = "reading a module part: " + llvm::toString(mod.takeError());
    return false;
  }
  return emitObject(**mod, object, error);
}

/// Which part defines each function: largest first onto the least loaded
/// part, sizes in IR instructions, ties by name (the same split on every
/// machine, whatever the thread count). LLVM's SplitModule balances function
/// counts instead: it put bmc_main and the shared layer body (97% of the code
/// generation time of an 8-layer Llama) in one part and the 2-instruction
/// C-interface wrapper in the other.
static std::map<const llvm::GlobalValue *, unsigned> assignParts(llvm::Module &module, unsigned parts) {
  std::vector<std::pair<size_t, const llvm::Function *>> bySize;
  for (const llvm::Function &f : module) // a comdat stays whole: in part 0 with the global variables
    if (!f.isDeclaration() && !f.hasComdat()) bySize.emplace_back(f.getInstructionCount(), &f);
  std::sort(bySize.begin(), bySize.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second->getName() < b.second->getName();
  });
  std::vector<size_t> load(parts, 0);
  std::map<const llvm::GlobalValue *, unsigned> part;
  for (const auto &[size, f] : bySize) {
    const unsigned least = unsigned(std::min_element(load.begin(), load.end()) - load.begin());
    part[f] = least;
    load[least] += size;
  }
  return part; // global variables, aliases, comdat members: part 0
}

bool emitObjects(llvm::Module &module, int parts, std::vector<std::string> &objects, std::string &error) {
  initLLVM();
  objects.clear();
  if (parts <= 1) {
    objects.emplace_back();
    return emitObject(module, objects.back(), error);
  }
  // Every part refers to what the others define: local symbols become hidden
  // globals (unnamed ones get a name) so that they link.
  auto externalize = [](llvm::GlobalValue &gv) {
    if (gv.hasLocalLinkage()) {
      gv.setLinkage(llvm::GlobalValue::ExternalLinkage);
      gv.setVisibility(llvm::GlobalValue::HiddenVisibility);
    }
    if (!gv.hasName()) gv.setName("__bmc_split_unnamed");
  };
  for (llvm::Function &f : module) externalize(f);
  for (llvm::GlobalVariable &g : module.globals()) externalize(g);
  for (llvm::GlobalAlias &a : module.aliases()) externalize(a);
  for (llvm::GlobalIFunc &i : module.ifuncs()) externalize(i);
  const std::map<const llvm::GlobalValue *, unsigned> part = assignParts(module, unsigned(parts));
  // Each part as bitcode, read back into a context of its own by its thread
  // (one LLVMContext is not shared between threads).
  std::vector<llvm::SmallVector<char, 0>> bitcode(static_cast<size_t>(parts));
  for (unsigned i = 0; i < unsigned(parts); ++i) {
    llvm::ValueToValueMapTy vmap;
    std::unique_ptr<llvm::Module> m = llvm::CloneModule(module, vmap, [&](const llvm::GlobalValue *gv) {
      auto it = part.find(gv);
      return (it == part.end() ? 0u : it->second) == i;
    });
    if (i != 0) m->setModuleInlineAsm("");
    llvm::raw_svector_ostream os(bitcode[i]);
    llvm::WriteBitcodeToFile(*m, os);
  }
  objects.assign(bitcode.size(), {});
  std::vector<std::string> errors(bitcode.size());
  std::vector<char> ok(bitcode.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < bitcode.size(); ++i)
    threads.emplace_back([&, i] { ok[i] = emitObjectFromBitcode(bitcode[i], objects[i], errors[i]); });
  for (std::thread &t : threads) t.join();
  for (size_t i = 0; i < bitcode.size(); ++i)
    if (!ok[i]) {
      error = errors[i];
      return false;
    }
  return true;
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
