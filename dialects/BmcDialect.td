//===- BmcDialect.td - the bmc dialect ---------------------*- tablegen -*-===//
//
// The `bmc` dialect models transformer decoder graphs at tensor level. Ops
// follow ONNX semantics (numpy broadcasting, negative axes already normalised
// by the importer) so that import is a faithful one-to-one translation; the
// passes then raise the graph (attention, norms) and rewrite the KV cache.
//
//===----------------------------------------------------------------------===//

#ifndef BMC_DIALECT
#define BMC_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/AttrTypeBase.td"

def Bmc_Dialect : Dialect {
  let name = "bmc";
  let summary = "Transformer decoder graphs and the BMC KV cache";
  let description = [{
    Tensor-level ops with ONNX semantics, plus first-class ops for what the
    BMC pass produces: fused attention, a KV cache buffer with a capacity and
    a valid length, and its strided in-place append.

    Shapes are ranked; dynamic dimensions (batch, sequence, past length) are
    `?` and stay symbolic. Shape arithmetic that exporters express with
    Shape/Gather/Concat chains is folded by `--bmc-fold-shapes` into
    `tensor.dim`, `arith` on `index`, and `tensor.from_elements`.
  }];
  let cppNamespace = "::mlir::bmc";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class Bmc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Bmc_Dialect, mnemonic, traits>;

#endif // BMC_DIALECT
