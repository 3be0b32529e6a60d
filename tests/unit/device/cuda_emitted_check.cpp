// bmc_cuda_emitted_check FILE.cu...: compiles CUDA C written by the CUDA
// emitter (bmc-opt --bmc-emit-cuda), with the runtime's device functions in
// front (cudaEmittedKernelSource), with NVRTC for sm_80 and sm_90, and fails
// when a compile fails, when a file has no emitted kernel, or when ptxas
// reports more spill bytes for a kernel than kCudaSpillBudgetBytes, or when
// the bmc-launch lines (EmittedLauncher) do not parse or do not name exactly
// the emitted kernels ptxas reports. Prints one
// line per emitted kernel and arch (registers, spills, shared memory).
// Exit 77 (ctest: skipped) only when libnvrtc is absent and the build was
// configured without CUDA; configured with CUDA, a missing NVRTC fails.
#include "runtime/device/EmittedLauncher.h"
#include "runtime/device/KernelLibrary.h"
#include "runtime/device/Nvrtc.h"

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

using namespace bmc::device;

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: bmc_cuda_emitted_check FILE.cu...\n";
    return 2;
  }
  auto nvrtc = Nvrtc::load();
  if (!nvrtc) {
    std::cout << "bmc_cuda_emitted_check: " << nvrtc.status().message() << "\n";
    if (BMC_CUDA_CONFIGURED) {
      std::cerr << "bmc_cuda_emitted_check: configured with CUDA but NVRTC is missing\n";
      return 1;
    }
    std::cout << "SKIPPED: no NVRTC and built without CUDA\n";
    return 77;
  }
  int failures = 0, compiled = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      std::cerr << argv[i] << ": cannot read\n";
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto described = EmittedLauncher::kernelNames(text.str());
    if (!described) {
      std::cerr << argv[i] << ": " << described.status().message() << "\n";
      ++failures;
      continue;
    }
    const std::set<std::string> launched(described.value().begin(), described.value().end());
    for (const char *arch : {"sm_80", "sm_90"}) {
      NvrtcRequest req;
      req.source = cudaEmittedKernelSource(text.str());
      req.name = argv[i];
      req.arch = arch;
      auto out = nvrtc.value()->compile(req);
      if (!out) {
        std::cerr << argv[i] << " (" << arch << "): " << out.status().message() << "\n";
        ++failures;
        continue;
      }
      int emitted = 0;
      std::set<std::string> reported;
      for (const PtxasInfo &k : out->kernels) {
        // The library's own kernels come along with decode_attention.cuh; nvrtc_test checks them.
        bool ours = false;
        for (const char *prefix : {"bmc_kv_append_", "bmc_attention_", "bmc_matmul_", "bmc_gemm_",
                                   "bmc_norm_", "bmc_softmax_", "bmc_elementwise_", "bmc_reduce_",
                                   "bmc_concat_", "bmc_gather_", "bmc_copy_", "bmc_range_", "bmc_check_equal_",
                                   "bmc_constant_of_shape_", "bmc_gather_nd_"})
          ours = ours || k.function.rfind(prefix, 0) == 0;
        if (!ours)
          continue;
        ++emitted;
        reported.insert(k.function);
        int64_t spill = k.spillStoreBytes + k.spillLoadBytes;
        std::cout << argv[i] << " " << arch << " " << k.function << ": " << k.registers << " registers, "
                  << spill << " spill bytes, " << k.sharedBytes << " shared bytes\n";
        if (spill > kCudaSpillBudgetBytes) {
          std::cerr << argv[i] << " (" << arch << "): " << k.function << " spills " << spill
                    << " bytes, budget " << kCudaSpillBudgetBytes << "\n";
          ++failures;
        }
      }
      if (reported != launched) {
        std::cerr << argv[i] << " (" << arch << "): the bmc-launch lines name " << launched.size()
                  << " kernels, ptxas reports " << reported.size() << " emitted ones: not the same set\n";
        ++failures;
      }
      if (emitted == 0) {
        std::cerr << argv[i] << " (" << arch << "): no emitted kernel in ptxas's report\n";
        ++failures;
      }
      ++compiled;
    }
  }
  std::cout << "bmc_cuda_emitted_check: " << compiled << " compiles (NVRTC " << nvrtc.value()->versionMajor()
            << "." << nvrtc.value()->versionMinor() << "), " << failures << " failures\n";
  return failures ? 1 : 0;
}
