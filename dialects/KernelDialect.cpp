//===- KernelDialect.cpp - bmck registration, the view type, verifiers ----===//

#include "dialects/KernelDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::bmck;

#include "dialects/KernelDialect.cpp.inc"

// `?x2x?x16xf32`: sizes (`?` where dynamic) x element type.
static ParseResult parseViewShape(AsmParser &parser, SmallVector<int64_t> &shape, Type &elementType) {
  return failure(parser.parseDimensionList(shape, /*allowDynamic=*/true, /*withTrailingX=*/true) ||
                 parser.parseType(elementType));
}

static void printViewShape(AsmPrinter &printer, ArrayRef<int64_t> shape, Type elementType) {
  for (int64_t d : shape) {
    if (ShapedType::isDynamic(d)) printer << "?";
    else printer << d;
    printer << "x";
  }
  printer << elementType;
}

#define GET_TYPEDEF_CLASSES
#include "dialects/KernelTypes.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/KernelOps.cpp.inc"

void BmckDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/KernelTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/KernelOps.cpp.inc"
      >();
}

static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i) s += ", ";
    s += ShapedType::isDynamic(d) ? "?" : std::to_string(d);
  }
  return s + "]";
}

LogicalResult ViewType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
                               Type elementType) {
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d) && d < 0)
      return emitError() << "bmck.view: expected sizes >= 0 or ?, found " << shapeStr(shape);
  if (!llvm::isa<IntegerType, FloatType>(elementType))
    return emitError() << "bmck.view: expected an integer or float element type, found " << elementType;
  return success();
}

/// The seams keep sizes and element type: a view of a tensor's storage.
static LogicalResult verifySeam(Operation *op, RankedTensorType t, ViewType v) {
  if (t.getShape() != v.getShape() || t.getElementType() != v.getElementType())
    return op->emitOpError("expected the view and the tensor to have the same sizes and element type, found ")
           << v << " and " << t;
  return success();
}

LogicalResult ToViewOp::verify() {
  return verifySeam(*this, cast<RankedTensorType>(getTensor().getType()), getView().getType());
}

LogicalResult ToTensorOp::verify() {
  return verifySeam(*this, cast<RankedTensorType>(getTensor().getType()), getView().getType());
}

/// [?, heads, ?, head_dim] of the cache's element type, or an error naming it.
static LogicalResult verifyCacheView(Operation *op, bmc::KVCacheType cache, ViewType v, StringRef what) {
  ArrayRef<int64_t> s = v.getShape();
  if (s.size() != 4 || s[1] != cache.getHeads() || s[3] != cache.getHeadDim() || !ShapedType::isDynamic(s[2]) ||
      v.getElementType() != cache.getElementType())
    return op->emitOpError("expected ")
           << what << " [batch, " << cache.getHeads() << ", ?, " << cache.getHeadDim() << "] of "
           << cache.getElementType() << " (the cache " << cache << "), found " << v;
  return success();
}

LogicalResult KVRowsOp::verify() {
  return verifyCacheView(*this, getCache().getType(), getRows().getType(), "the valid rows");
}

LogicalResult KVAppendOp::verify() {
  bmc::KVCacheType cache = getCache().getType();
  ViewType rows = getRows().getType(), present = getPresent().getType();
  Type ct = cache.getElementType(), rt = rows.getElementType();
  ArrayRef<int64_t> r = rows.getShape();
  auto agrees = [](int64_t d, int64_t want) { return ShapedType::isDynamic(d) || d == want; };
  if (r.size() != 4 || !agrees(r[1], cache.getHeads()) || !agrees(r[3], cache.getHeadDim()))
    return emitOpError("expected rows [batch, ")
           << cache.getHeads() << ", seq, " << cache.getHeadDim() << "] (the cache " << cache << "), found " << rows;
  // f32 rows into a bf16/f16 cache are rounded as written; nothing else converts.
  if (rt != ct && !(rt.isF32() && (ct.isBF16() || ct.isF16())))
    return emitOpError("expected rows of ") << ct << (ct.isBF16() || ct.isF16() ? " or f32" : "")
                                            << " (the cache " << cache << "), found " << rows;
  if (failed(verifyCacheView(*this, cache, present, "the present view")))
    return failure();
  if (!ShapedType::isDynamic(r[0]) && !ShapedType::isDynamic(present.getShape()[0]) &&
      r[0] != present.getShape()[0])
    return emitOpError("expected the present view's batch to be the rows' batch, found ")
           << present.getShape()[0] << " and " << r[0];
  return success();
}
