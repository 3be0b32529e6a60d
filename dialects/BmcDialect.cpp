//===- BmcDialect.cpp - bmc dialect registration and types ----------------===//

#include "dialects/BmcDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::bmc;

#include "dialects/BmcDialect.cpp.inc"

// `2x16xf32`: heads x head_dim x element type.
static ParseResult parseKVShape(AsmParser &parser, int64_t &heads, int64_t &headDim,
                                Type &elementType) {
  SmallVector<int64_t, 2> dims;
  SMLoc at = parser.getCurrentLocation();
  if (parser.parseDimensionList(dims, /*allowDynamic=*/true, /*withTrailingX=*/true) ||
      parser.parseType(elementType))
    return failure();
  if (dims.size() != 2)
    return parser.emitError(at, "kv_cache: expected heads x head_dim x element type (e.g. "
                                "2x16xf32), found ")
           << dims.size() << " dimensions";
  if (ShapedType::isDynamic(dims[0]) || ShapedType::isDynamic(dims[1]))
    return parser.emitError(at, "kv_cache: expected static heads and head_dim, found ")
           << (ShapedType::isDynamic(dims[0]) ? "?" : std::to_string(dims[0])) << "x"
           << (ShapedType::isDynamic(dims[1]) ? "?" : std::to_string(dims[1]));
  heads = dims[0];
  headDim = dims[1];
  return success();
}

static void printKVShape(AsmPrinter &printer, int64_t heads, int64_t headDim, Type elementType) {
  printer << heads << "x" << headDim << "x" << elementType;
}

#define GET_TYPEDEF_CLASSES
#include "dialects/BmcTypes.cpp.inc"

#include "dialects/BmcEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/BmcAttrs.cpp.inc"

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t heads,
                                  int64_t headDim, Type elementType) {
  if (heads <= 0 || headDim <= 0)
    return emitError() << "kv_cache: expected positive heads and head_dim, found " << heads
                       << "x" << headDim;
  if (!llvm::isa<FloatType>(elementType))
    return emitError() << "kv_cache: expected a float element type, found " << elementType;
  return success();
}

void BmcDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/BmcAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/BmcTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/BmcOps.cpp.inc"
      >();
}
