//===- bmc-opt.cpp - run bmc passes on MLIR files (for lit tests) ---------===//

#include "compiler/lowering/EmitCpuPass.h"
#include "compiler/targets/cuda/EmitCuda.h"
#include "dialects/BmcDialect.h"
#include "dialects/KernelDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::bmc::BmcDialect, mlir::bmck::BmckDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::tensor::TensorDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::bmc::registerBmcPasses();
  mlir::bmc::registerPipeline();
  mlir::bmc::cuda::registerBmcCudaPasses();
  bmc::registerBmcLoweringPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "bmc optimizer driver\n", registry));
}
