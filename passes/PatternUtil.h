//===- PatternUtil.h - small matchers shared by the raising passes -*- C++ -*-===//
#ifndef BMC_PASSES_PATTERNUTIL_H
#define BMC_PASSES_PATTERNUTIL_H

#include "dialects/BmcDialect.h"

#include "mlir/IR/Matchers.h"

namespace mlir::bmc {

/// The value of a float constant with a single distinct element (a scalar
/// or a splat), if `v` is one.
inline std::optional<double> splatFloat(Value v) {
  DenseFPElementsAttr a;
  if (!matchPattern(v, m_Constant(&a)) || !a.isSplat()) return std::nullopt;
  return a.getSplatValue<APFloat>().convertToDouble();
}

/// True if all elements of the constant's shape are 1 (it broadcasts as a scalar).
inline bool isScalarLike(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && llvm::all_of(t.getShape(), [](int64_t d) { return d == 1; });
}

inline bool hasOneUse(Value v) { return v.hasOneUse(); }

/// For a binary op with a scalar constant on one side: the other operand and
/// the constant.
template <typename OpT>
inline bool matchScalarOperand(Operation *op, Value &other, double &c) {
  auto b = dyn_cast_or_null<OpT>(op);
  if (!b) return false;
  for (int i = 0; i < 2; ++i) {
    Value k = b->getOperand(i);
    if (auto v = splatFloat(k); v && isScalarLike(k)) {
      other = b->getOperand(1 - i);
      c = *v;
      return true;
    }
  }
  return false;
}

} // namespace mlir::bmc

#endif
