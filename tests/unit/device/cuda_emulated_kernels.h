// The CUDA kernel library compiled for the host emulation (cuda_emulation.h):
// one host table per family of bmc::device::cudaKernelFamilies(), same order.
#ifndef BMC_TESTS_UNIT_DEVICE_CUDA_EMULATED_KERNELS_H
#define BMC_TESTS_UNIT_DEVICE_CUDA_EMULATED_KERNELS_H

#include "runtime/device/Device.h"

#include <vector>

const std::vector<std::vector<bmc::device::HostKernel>> &emulatedKernelFamilies();

#endif
