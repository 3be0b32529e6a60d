//===- BmcTypes.td - bmc dialect types ---------------------*- tablegen -*-===//

#ifndef BMC_TYPES
#define BMC_TYPES

include "dialects/BmcDialect.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Bmc_KVCacheType : TypeDef<Bmc_Dialect, "KVCache"> {
  let mnemonic = "kv_cache";
  let summary = "a KV cache buffer with spare rows: [batch, heads, capacity, head_dim]";
  let description = [{
    A runtime-owned buffer holding one layer's keys or values, laid out as
    `[batch, heads, capacity, head_dim]` with `capacity >= valid length`.
    Rows at and beyond the valid length are spare: they are written in place
    by `bmc.kv_append` and never read as data. The capacity grows by the
    runtime's BMC policy (once every r tokens), never inside compiled code.

    Example: `!bmc.kv_cache<2x16xf32>` holds 2 heads of 16 floats per row.
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$headDim,
                        "::mlir::Type":$elementType);
  let assemblyFormat = "`<` custom<KVShape>($heads, $headDim, $elementType) `>`";
  let genVerifyDecl = 1;
}

#endif // BMC_TYPES
