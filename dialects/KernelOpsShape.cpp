//===- KernelOpsShape.cpp - verifiers of the kernels made from host scalars --===//

#include "dialects/KernelDialect.h"

using namespace mlir;
using namespace mlir::bmck;

/// bmc.range's type inference, on a view: three 0-D operands of one element
/// type, a 1-D result of that type.
LogicalResult RangeOp::verify() {
  Type et = cast<RankedTensorType>(getStart().getType()).getElementType();
  for (Value v : {getLimit(), getDelta()})
    if (cast<RankedTensorType>(v.getType()).getElementType() != et)
      return emitOpError("expected start, limit and delta of one element type, found ")
             << getStart().getType() << ", " << getLimit().getType() << " and " << getDelta().getType();
  ViewType out = getResult().getType();
  if (out.getRank() != 1 || out.getElementType() != et)
    return emitOpError("expected a 1-D result of ") << et << ", found " << out;
  return success();
}
