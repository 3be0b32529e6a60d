//===- KernelDialect.h - the bmck kernel-level dialect ----------*- C++ -*-===//
#ifndef BMC_DIALECTS_KERNELDIALECT_H
#define BMC_DIALECTS_KERNELDIALECT_H

#include "dialects/BmcDialect.h"

#include "dialects/KernelDialect.h.inc"
#include "dialects/KernelEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/KernelAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/KernelTypes.h.inc"

#define GET_OP_CLASSES
#include "dialects/KernelOps.h.inc"

namespace mlir::bmck {
/// The tensor-level elementwise ops a bmck.elementwise group may hold
/// (dialects/KernelOpsElementwise.cpp): the one list, read by the verifier,
/// the grouping pass and its pattern.
bool isElementwiseMember(Operation *op);

/// The view ops: a new offset, sizes and strides of their input's storage
/// (operand 0), no code (slice, split, squeeze, unsqueeze, expand,
/// transpose, reshape, flatten). The one
/// list, read by the memory plan (a view keeps its storage live), the CUDA
/// emitter and its programs (a host-evaluated view step; transpose, reshape
/// and flatten have none yet: a program refuses them by name).
bool isStorageView(Operation *op);

/// Whether `view` is row-major from its offset by construction (a kernel's
/// new view, a reshape, a graph input, weight or constant, and views that
/// keep those strides); false where it cannot be shown. bmc-lower-to-kernels
/// puts a bmck.copy in front of a reshape / flatten whose input is not.
bool isKnownContiguous(Value view);
} // namespace mlir::bmck

#endif
