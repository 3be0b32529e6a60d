// The CUDA kernel library compiled for the host emulation (cuda_emulation.h):
// one host table per family of bmc::device::cudaKernelFamilies(), same order,
// and the library's CudaKernels over them on a CPU device (the Emulated
// backend of cuda_device_test.cpp and cuda_kernels_graph_test.cpp).
#ifndef BMC_TESTS_UNIT_DEVICE_CUDA_EMULATED_KERNELS_H
#define BMC_TESTS_UNIT_DEVICE_CUDA_EMULATED_KERNELS_H

#include "bmc/status.h"
#include "runtime/device/Device.h"
#include "runtime/device/KernelLibrary.h"

#include <memory>
#include <vector>

const std::vector<std::vector<bmc::device::HostKernel>> &emulatedKernelFamilies();

// Each family's table loaded on `device` (a CPU device) as a module, and
// CudaKernels over those modules; an error names the load that failed.
bmc::Result<std::unique_ptr<bmc::device::CudaKernels>> emulatedCudaKernels(bmc::device::Device &device);

#endif
