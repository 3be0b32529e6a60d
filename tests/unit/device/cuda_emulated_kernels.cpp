// The kernel library (runtime/device/cuda/*.cuh, the very files NVRTC compiles)
// built as host C++ against cuda_emulation.h, as host tables for the CPU device.
#include "cuda_emulated_kernels.h"

#include "cuda_emulation.h"

// The order KernelLibrary.cpp joins them in.
#include "runtime/device/cuda/decode_attention_params.h"
#include "runtime/device/cuda/common.cuh"
#include "runtime/device/cuda/gemv.cuh"
#include "runtime/device/cuda/norm.cuh"
#include "runtime/device/cuda/rope.cuh"
#include "runtime/device/cuda/elementwise.cuh"
#include "runtime/device/cuda/decode_attention.cuh"

using bmc::device::HostKernel;
using bmc::device::HostLaunch;

// With the argument sizes: launches of these kernels can be captured in graphs.
#define BMC_EMULATED(name)                                                                         \
  HostKernel {                                                                                     \
    #name, [](const HostLaunch &l, void **a) { bmc_emu::emulate(name, l, a); },                    \
        bmc_emu::argSizes(name), bmc_emu::argCount(name)                                           \
  }

const std::vector<std::vector<HostKernel>> &emulatedKernelFamilies() {
  static const std::vector<std::vector<HostKernel>> families = {
      {BMC_EMULATED(bmc_gemv_f32), BMC_EMULATED(bmc_gemv_f16), BMC_EMULATED(bmc_gemv_bf16),
       BMC_EMULATED(bmc_gemv_splitk_reduce)},
      {BMC_EMULATED(bmc_rms_norm), BMC_EMULATED(bmc_layer_norm)},
      {BMC_EMULATED(bmc_rope_halves), BMC_EMULATED(bmc_rope_interleaved)},
      {BMC_EMULATED(bmc_silu_mul), BMC_EMULATED(bmc_add)},
      {BMC_EMULATED(bmc_decode_attention_split_f32), BMC_EMULATED(bmc_decode_attention_split_f16),
       BMC_EMULATED(bmc_decode_attention_split_bf16), BMC_EMULATED(bmc_decode_attention_combine)},
  };
  return families;
}

bmc::Result<std::unique_ptr<bmc::device::CudaKernels>> emulatedCudaKernels(bmc::device::Device &device) {
  using namespace bmc::device;
  std::vector<ModuleHandle> modules;
  for (const std::vector<HostKernel> &table : emulatedKernelFamilies()) {
    ModuleImage image;
    image.format = ModuleFormat::HostTable;
    image.hostKernels = table.data();
    image.hostKernelCount = table.size();
    auto m = device.loadModule(image);
    if (!m)
      return m.status();
    modules.push_back(m.value());
  }
  return CudaKernels::fromModules(device, modules);
}
