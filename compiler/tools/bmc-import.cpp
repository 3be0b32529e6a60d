//===- bmc-import.cpp - ONNX model -> bmc dialect (MLIR text) --------------===//

#include "compiler/tools/CliUtil.h"
#include "frontend/Importer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static const char *kUsage = R"(usage: bmc-import MODEL.onnx [-o FILE]

Translates an ONNX model into the bmc MLIR dialect, as imported (before the
compiler's passes). Weights stay in the model file (bmc.weight refers to
them by name).

Options:
  -o FILE      write the IR here (default: stdout)
  -h, --help   this help
)";

static int run(int argc, char **argv) {
  // The same argument handling as the other tools: one-line errors.
  bmc::cli::Args a(argc, argv, kUsage);
  std::string input = a.positional("MODEL.onnx");
  std::string output = a.str("-o", "-");
  a.finish();
  mlir::MLIRContext ctx;
  bmc::ImportedModel model;
  std::string error;
  if (!bmc::importOnnxFile(ctx, input, bmc::ImportOptions(), model, error)) {
    errs() << error << "\n";
    return 1;
  }
  for (const std::string &n : model.notes) errs() << "bmc-import: " << input << ": " << n << "\n";
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

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  return bmc::cli::guardedMain(argc, argv, run);
}
