// The device side of the CUDA emitter's copying data-movement kernels,
// bmck.concat, bmck.gather and bmck.copy (compiler/targets/cuda/EmitCudaData.cpp): a
// thread per element of the output view, grid-stride, the index unflattened
// by bmc_ew_index (elementwise.cuh, in front), elements copied as their
// bytes (f32 / f16 / bf16 / i32 / i64 / i1 need no arithmetic).
//
// A gather index out of range after ONNX's wrap of negative ones: the CPU
// emitter stops with "Gather: index K is out of range for a dimension of N".
// Indices that are host data (a fed input such as input_ids) are checked by
// DeviceProgram before any launch (the program's index_bound); those made on
// the device no launch line can check, and for them the kernel stops with
// __trap(): the launch (or the graph holding it) fails at
// the next synchronize with a CUDA error that does not name the index, and
// the context is lost. Never a silent clamp. The host emulation
// (tests/unit/device) defines BMC_DATA_INDEX_FAULT to record the fault.

#ifndef BMC_DATA_INDEX_FAULT
#define BMC_DATA_INDEX_FAULT(k, n) __trap()
#endif
