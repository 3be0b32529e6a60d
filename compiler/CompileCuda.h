//===- compiler/CompileCuda.h - the CUDA JIT's seam for tests ------*- C++ -*-===//
//
// compileOnnx with CompileOptions::target Cuda hands the emitted model to
// pkg::startCudaJit (bmc/abi/package.h; the runtime opens the GPU and compiles
// its kernels with NVRTC). Tests without a GPU give their own start instead:
// startCudaJitOn (runtime/CudaJit.h) with a CpuDevice and the host
// emulation's kernel table of the same source.
//
//===----------------------------------------------------------------------===//
#ifndef BMC_COMPILER_COMPILECUDA_H
#define BMC_COMPILER_COMPILECUDA_H

#include "bmc/abi/package.h"
#include "bmc/compiler.h"

#include <functional>
#include <memory>
#include <string>

namespace bmc {

using CudaJitStart = std::function<Result<std::shared_ptr<Model>>(pkg::CudaJitParts)>;

/// compileOnnx(path, opts) for opts.target Cuda with `start` in place of
/// pkg::startCudaJit.
Result<std::shared_ptr<Model>> compileOnnxCuda(const std::string &path, const CompileOptions &opts,
                                               const CudaJitStart &start);

} // namespace bmc

#endif
