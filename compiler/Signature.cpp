//===- Signature.cpp - a compiled module's inputs and outputs -------------===//
//
// extractSignature (compiler/CodeGen.h): @main's arguments and results as the
// runtime's ModelSignature (names, dtypes, shapes with -1 for dynamic sizes,
// dimension names, KV cache slots); split from Compiler.cpp, unchanged.
//
//===----------------------------------------------------------------------===//

#include "compiler/CodeGen.h"
#include "dialects/BmcDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace bmc {

static DType dtypeOf(mlir::Type t) {
  if (t.isF32()) return DType::F32;
  if (t.isF16()) return DType::F16;
  if (t.isBF16()) return DType::BF16;
  if (t.isF64()) return DType::F64;
  if (t.isInteger(1)) return DType::Bool;
  auto it = mlir::cast<mlir::IntegerType>(t);
  bool u = it.isUnsigned();
  switch (it.getWidth()) {
  case 8: return u ? DType::U8 : DType::I8;
  case 16: return u ? DType::U16 : DType::I16;
  case 32: return u ? DType::U32 : DType::I32;
  default: return u ? DType::U64 : DType::I64;
  }
}

ModelSignature extractSignature(mlir::ModuleOp module) {
  ModelSignature sig;
  auto main = module.lookupSymbol<mlir::func::FuncOp>("main");
  for (unsigned i = 0; i < main.getNumArguments(); ++i) {
    TensorInfo ti;
    if (auto n = main.getArgAttrOfType<mlir::StringAttr>(i, "bmc.name")) ti.name = n.str();
    mlir::Type t = main.getArgument(i).getType();
    if (auto kv = mlir::dyn_cast<mlir::bmc::KVCacheType>(t)) {
      ti.dtype = dtypeOf(kv.getElementType());
      ti.shape = {-1, kv.getHeads(), -1, kv.getHeadDim()};
      ti.kvSlot = int(i);
    } else {
      auto rt = mlir::cast<mlir::RankedTensorType>(t);
      ti.dtype = dtypeOf(rt.getElementType());
      for (int64_t d : rt.getShape()) ti.shape.push_back(mlir::ShapedType::isDynamic(d) ? -1 : d);
    }
    if (auto dims = main.getArgAttrOfType<mlir::ArrayAttr>(i, "bmc.dims"))
      for (mlir::Attribute a : dims) ti.dimNames.push_back(mlir::cast<mlir::StringAttr>(a).str());
    sig.inputs.push_back(ti);
  }
  for (unsigned i = 0; i < main.getNumResults(); ++i) {
    TensorInfo ti;
    if (auto n = main.getResultAttrOfType<mlir::StringAttr>(i, "bmc.name")) ti.name = n.str();
    auto rt = mlir::cast<mlir::RankedTensorType>(main.getResultTypes()[i]);
    ti.dtype = dtypeOf(rt.getElementType());
    for (int64_t d : rt.getShape()) ti.shape.push_back(mlir::ShapedType::isDynamic(d) ? -1 : d);
    sig.outputs.push_back(ti);
  }
  return sig;
}

} // namespace bmc
