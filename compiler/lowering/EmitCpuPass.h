//===- EmitCpuPass.h - the CPU emitter as a bmc-opt pass ---------*- C++ -*-===//
#ifndef BMC_COMPILER_LOWERING_EMITCPUPASS_H
#define BMC_COMPILER_LOWERING_EMITCPUPASS_H

#include "mlir/Pass/Pass.h"

namespace bmc {

#define GEN_PASS_DECL
#include "compiler/lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/lowering/Passes.h.inc"

} // namespace bmc

#endif
