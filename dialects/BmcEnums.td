//===- BmcEnums.td - the bmc dialect's modes as enums -------*- tablegen -*-===//
//
// The choices a compilation makes (how the KV cache is kept, how attention
// treats its spare rows, the cache's element type) as enums: the IR carries
// them as attributes the verifier checks, and the pass and pipeline options
// parse into them (dialects/BmcEnums.h), so a misspelt mode is an error with
// the accepted values, never a string compared somewhere later.
//
//===----------------------------------------------------------------------===//

#ifndef BMC_ENUMS
#define BMC_ENUMS

include "dialects/BmcDialect.td"
include "mlir/IR/EnumAttr.td"

def Bmc_KVPadding : I32EnumAttr<"KVPadding",
    "how attention treats the spare rows of a KV buffer", [
      // Bound the loop at the valid rows.
      I32EnumAttrCase<"Skip", 0, "skip">,
      // Compute scores over every row of the buffer and mask the spare ones
      // (the BMC paper's scheme); the same result as skip.
      I32EnumAttrCase<"Mask", 1, "mask">
    ]> {
  let cppNamespace = "::mlir::bmc";
  let genSpecializedAttr = 0;
}

// Printed `#bmc.padding<mask>`.
def Bmc_KVPaddingAttr : EnumAttr<Bmc_Dialect, Bmc_KVPadding, "padding"> {
  let assemblyFormat = "`<` $value `>`";
}

def Bmc_KVMode : I32EnumAttr<"KVMode", "how the KV cache is kept", [
      // Buffers with r spare rows, grown r rows at a time; in-place appends.
      I32EnumAttrCase<"BMC", 0, "bmc">,
      // One buffer of the maximum context per cache; in-place appends.
      I32EnumAttrCase<"Prealloc", 1, "prealloc">,
      // The exported graph's Concat: a new buffer and a full copy per token.
      I32EnumAttrCase<"Concat", 2, "concat">
    ]> {
  let cppNamespace = "::mlir::bmc";
  let genSpecializedAttr = 0;
}

def Bmc_KVType : I32EnumAttr<"KVType", "the element type of a rewritten KV cache", [
      I32EnumAttrCase<"F32", 0, "f32">,
      I32EnumAttrCase<"BF16", 1, "bf16">,
      I32EnumAttrCase<"F16", 2, "f16">,
      I32EnumAttrCase<"Auto", 3, "auto">
    ]> {
  let cppNamespace = "::mlir::bmc";
  let genSpecializedAttr = 0;
}

#endif // BMC_ENUMS
