//===- fuzz_onnx_import.cpp - libFuzzer target: ONNX bytes -> bmc dialect -===//
//
// Bytes are written as model.onnx into a private folder (external data paths
// resolve inside it, where nothing else lives), imported and verified. An
// import error is a fine outcome; a crash, a sanitizer report, a leak or a
// hang is a bug. Diagnostics are swallowed: the importer returns them.
//
//===----------------------------------------------------------------------===//

#include "frontend/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

static std::string modelPath() {
  static const std::string path = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/bmc-fuzz-onnx-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("fuzz_onnx_import: mkdtemp");
      std::abort();
    }
    return tmpl + "/model.onnx";
  }();
  return path;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string path = modelPath();
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror("fuzz_onnx_import: writing the input");
    std::abort();
  }
  // A fresh context per input: types and attributes made from fuzzed names
  // would otherwise accumulate across millions of inputs.
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED); // no thread pool started per input
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  bmc::ImportedModel model;
  std::string error;
  if (bmc::importOnnxFile(ctx, path, bmc::ImportOptions(), model, error)) {
    if (!model.module) std::abort(); // success must come with a module
    if (mlir::failed(mlir::verify(*model.module))) std::abort(); // importOnnxFile promises verified IR
  } else if (error.empty()) {
    std::abort(); // a failure must say why
  }
  return 0;
}
