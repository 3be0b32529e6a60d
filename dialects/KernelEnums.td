//===- KernelEnums.td - the bmck dialect's kinds as enums ---*- tablegen -*-===//
//
// Which normalisation or reduction a bmck op computes: an enum attribute the
// verifier checks and every emitter switches on (printed `#bmck.norm<rms>`,
// `#bmck.reduce<max>`), not a string or one op per kind.
//
//===----------------------------------------------------------------------===//

#ifndef BMCK_ENUMS
#define BMCK_ENUMS

include "dialects/KernelDialect.td"
include "mlir/IR/EnumAttr.td"

def Bmck_NormKind : I32EnumAttr<"NormKind", "which normalisation bmck.norm computes", [
      // (x - mean) / sqrt(var + eps) * scale (+ bias): ONNX LayerNormalization.
      I32EnumAttrCase<"Layer", 0, "layer">,
      // x / sqrt(mean(x^2) + eps) * scale: bmc.rms_norm.
      I32EnumAttrCase<"RMS", 1, "rms">
    ]> {
  let cppNamespace = "::mlir::bmck";
  let genSpecializedAttr = 0;
}

def Bmck_NormKindAttr : EnumAttr<Bmck_Dialect, Bmck_NormKind, "norm"> {
  let assemblyFormat = "`<` $value `>`";
}

def Bmck_ReduceKind : I32EnumAttr<"ReduceKind", "what bmck.reduce computes over the reduced axes", [
      I32EnumAttrCase<"Mean", 0, "mean">,
      I32EnumAttrCase<"Sum", 1, "sum">,
      I32EnumAttrCase<"Max", 2, "max">,
      I32EnumAttrCase<"Min", 3, "min">,
      I32EnumAttrCase<"Prod", 4, "prod">
    ]> {
  let cppNamespace = "::mlir::bmck";
  let genSpecializedAttr = 0;
}

def Bmck_ReduceKindAttr : EnumAttr<Bmck_Dialect, Bmck_ReduceKind, "reduce"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // BMCK_ENUMS
