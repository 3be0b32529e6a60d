//===- bmc-import.cpp - ONNX model -> bmc dialect (MLIR text) --------------===//

#include "frontend/Importer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::opt<std::string> input(cl::Positional, cl::desc("<model.onnx>"), cl::Required);
static cl::opt<std::string> output("o", cl::desc("Write the IR here instead of stdout"),
                                   cl::value_desc("file"), cl::init("-"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "bmc-import: translate an ONNX model into the bmc MLIR dialect\n\n"
                              "Weights stay in the model file (bmc.weight refers to them by name).\n");
  mlir::MLIRContext ctx;
  bmc::ImportedModel model;
  std::string error;
  if (!bmc::importOnnxFile(ctx, input, bmc::ImportOptions(), model, error)) {
    errs() << error << "\n";
    return 1;
  }
  // ToolOutputFile writes to a temporary and renames on keep(): no partial file.
  std::error_code ec;
  ToolOutputFile out(output, ec, sys::fs::OF_Text);
  if (ec) {
    errs() << output << ": cannot open for writing: " << ec.message() << "\n";
    return 1;
  }
  model.module->print(out.os(), mlir::OpPrintingFlags().enableDebugInfo(false));
  out.os().flush();
  if (out.os().has_error()) {
    errs() << output << ": write failed\n";
    out.os().clear_error();
    return 1;
  }
  out.keep();
  return 0;
}
