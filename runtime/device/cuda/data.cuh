// The device side of the CUDA emitter's copying data-movement kernels,
// bmck.concat, bmck.gather and bmck.copy (compiler/targets/cuda/EmitCudaData.cpp): a
// thread per element of the output view, grid-stride, the index unflattened
// by bmc_ew_index (elementwise.cuh, in front), elements copied as their
// bytes (f32 / f16 / bf16 / i32 / i64 / i1 need no arithmetic).
//
// A gather index out of range after ONNX's wrap of negative ones: the CPU
// emitter stops with "Gather: index K is out of range for a dimension of N"
// ("GatherND: ..." for bmc.gather_nd). Indices that are host data (a fed
// input such as input_ids) are checked by DeviceProgram before any launch
// (the program's index_bound); those made on the device no launch line can
// check, and for them the kernel records the first fault in the launcher's
// fault word (its params `fault` and `fault_site`, filled by EmittedLauncher,
// not by the caller): [1, K, N, site], the flag set by atomicCAS so that one
// thread's values win, and the element is left unwritten (never a silent
// clamp). The kernel goes on; no trap, so the context survives. After the
// run's synchronize DeviceProgram reads the word back, clears it and fails
// the run with the CPU's line, the step of `site` in front
// (EmittedLauncher::takeFault). The host emulation (tests/unit/device) runs
// the same code (cuda_emulation.h's atomicCAS).

__device__ __forceinline__ void bmc_data_index_fault(long long *fault, long long site, long long k, long long n) {
  if (atomicCAS((unsigned long long *)fault, 0ull, 1ull) == 0ull)
    fault[1] = k, fault[2] = n, fault[3] = site;
}
