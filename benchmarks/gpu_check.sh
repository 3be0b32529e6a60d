#!/usr/bin/env bash
# The GPU check, one command for a machine with an NVIDIA GPU and the CUDA toolkit: builds the
# device tests with the CUDA target required (BMC_CUDA=ON), then runs every CUDA kernel of
# runtime/device/cuda against its plain CPU reference on random odd sizes, the CUDA device's
# copies, module errors and VMM-growable buffers, CUDA graphs (capture, replay, update) and cuBLASLt GEMMs
# against a reference, and the NVRTC compile checks (sm_80, sm_90, spills);
# then the compiler's emitted kernels through the runtime's EmittedLauncher (bmc_cuda_emitted_tests,
# bmc_cuda_emitted_matmul_tests, bmc_cuda_emitted_elementwise_tests, bmc_cuda_emitted_data_tests), whole functions as
# programs (bmc_cuda_program_tests), greedy generation over a program (bmc_device_generation_tests), and
# a CUDA package of the tiny llama loaded by Model::load(device cuda) and run by a Session against the CPU
# package (bmc_device_session_f32 / _bf16, DeviceSession.GreedyOnTheGpu), and the 7 generated families'
# whole programs against the CPU path (bmc_device_model_<family>_<kv>).
# With BMC_REQUIRE_GPU=1 a missing driver or GPU is a failure, not a skip.
#
#   benchmarks/gpu_check.sh              # installs packages (.ci/setup.sh), builds, runs
#   benchmarks/gpu_check.sh --no-setup   # the packages are already there
#
# Environment (defaults in brackets): BMC_BUILD_DIR [build-gpu], CUDAToolkit_ROOT [found by CMake:
# nvcc on PATH, then /usr/local/cuda]. What it does not do yet: run a model other than the tiny
# generated ones on the GPU, time anything, or compare with other GPU runtimes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
setup=1
for arg in "$@"; do
  case "$arg" in
    --no-setup) setup=0 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
build="${BMC_BUILD_DIR:-$root/build-gpu}"
start=$(date +%s)

echo "gpu_check: machine"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
  echo "  (no nvidia-smi)"
fi
[ "$setup" = 1 ] && "$root/.ci/setup.sh"

echo "gpu_check: configuring $build with BMC_CUDA=ON and building bmc_device_tests, bmc_cuda_emitted_tests,"
echo "  bmc_cuda_emitted_matmul_tests, bmc_cuda_emitted_elementwise_tests, bmc_cuda_emitted_data_tests,"
echo "  bmc_cuda_program_tests, bmc_device_generation_tests, bmc_device_session_f32, bmc_device_session_bf16,"
echo "  bmc_device_model_*"
models=()
for family in llama gpt2 phi3 qwen2 opt gptneox mistral; do
  models+=(bmc_device_model_${family}_f32 bmc_device_model_${family}_bf16)
done
models+=(bmc_device_model_llama_f16 bmc_device_model_gpt2_f16)
export CCACHE_BASEDIR="$root"
cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBMC_CUDA=ON
            -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir)
[ -n "${CUDAToolkit_ROOT:-}" ] && cmake_args+=(-DCUDAToolkit_ROOT="$CUDAToolkit_ROOT")
CC=clang-19 CXX=clang++-19 cmake "${cmake_args[@]}" | grep -E "bmc: CUDA target" || true
ninja -C "$build" bmc_device_tests bmc_cuda_emitted_tests bmc_cuda_emitted_matmul_tests \
  bmc_cuda_emitted_elementwise_tests bmc_cuda_emitted_data_tests bmc_cuda_program_tests bmc_device_generation_tests \
  bmc_device_session_f32 bmc_device_session_bf16 "${models[@]}"

echo "gpu_check: running the device tests (BMC_REQUIRE_GPU=1: no skips)"
status=0
BMC_REQUIRE_GPU=1 "$build/bin/bmc_device_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_matmul_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_elementwise_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_data_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_program_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_device_generation_tests" --gtest_color=no --gtest_filter='*OnTheGpu' || status=$?
for kv in f32 bf16; do
  BMC_REQUIRE_GPU=1 "$build/bin/bmc_device_session_$kv" --gtest_color=no --gtest_filter='*OnTheGpu' || status=$?
done
for m in "${models[@]}"; do
  BMC_REQUIRE_GPU=1 "$build/bin/$m" --gtest_color=no --gtest_brief=1 --gtest_filter='*OnTheGpu' || status=$?
done
echo
echo "gpu_check: ran bmc_device_tests: CpuDevice.* (the device API on the CPU), Nvrtc.* and"
echo "  PtxasInfo.* (every kernel compiled for sm_80 and sm_90, spills within the budget),"
echo "  Cuda/CudaTest.*/Gpu (copies, module errors), Cuda/KernelTest.*/Gpu (VMM growable buffers, GEMV f32/f16/bf16 incl. split-K,"
echo "  RMSNorm/LayerNorm, RoPE halves/interleaved, SiLU*mul/add, decode attention f32/f16/bf16 in"
echo "  skip and mask modes with NaN spare rows, each against a CPU reference; also /Emulated: the same on the CPU)"
echo "  Device/GraphTest.*/Gpu (CUDA graphs: stream capture, replay equal to direct launches, one launch updated,"
echo "  a cuBLASLt GEMM captured between launches, misuse errors), Device/GemmTest.*/Gpu (cuBLASLt GEMM, every"
echo "  transpose, f32/f16/bf16, odd sizes, against a double reference), CublasLt.* (the library and its symbols),"
echo "  Device/DeviceKVCacheTest.*/Gpu (a BMC KV buffer growing in a VMM range, every row read back after every growth),"
echo "  Device/DeviceCalibrationTest.*/Gpu (allocate, copy and VMM-grow costs on the GPU, printed),"
echo "  Cuda/KernelsGraphTest.*/Gpu (a decode-shaped sequence of the CUDA kernels captured as a graph and replayed)"
echo "  and bmc_cuda_emitted_tests: CudaEmittedLauncher.AppendThenAttentionOnTheGpu (the emitter's kernels,"
echo "  NVRTC-compiled, through EmittedLauncher: kv_append, prefill and decode attention vs the CPU kernels)"
echo "  and bmc_cuda_emitted_matmul_tests: CudaEmittedMatMul.ProductsOnTheGpu (the emitted matmul / gemm"
echo "  kernels: GEMV with split-K and tiled, f32/f16/bf16 weights, batched, 1-D, transposed, vs plain loops),"
echo "  CudaEmittedPrefill.DeviceGemmOnTheGpu (many product rows through cuBLASLt vs the tiled kernel and plain loops,"
echo "  the products that stay tiled and their notices) and CudaEmittedGraph.DecodeStepsOnTheGpu (kv_append, attention"
echo "  and a projection GEMV captured as a CUDA graph, updated for the next steps, re-captured prefill -> decode,"
echo "  equal to direct launches and within tolerance of the CPU kernels)"
echo "  and bmc_cuda_emitted_elementwise_tests: CudaEmittedElementwise.*/Gpu (the emitted bmck.elementwise kernels:"
echo "  RoPE, SiLU*mul, the mask's where/and chain, f16/bf16 groups, integer and cast groups, every float op, and the"
echo "  bmck.reduce kernels: sum, mean, max, min, prod, vs plain loops)"
echo "  and bmc_cuda_emitted_data_tests: CudaEmittedData.*/Gpu (the emitted bmck.concat / bmck.gather copies:"
echo "  KV and 3-input concats on every axis, the embedding gather with negative ids and gathers on other axes,"
echo "  byte-exact vs plain loops; the out-of-range fault skipped there: a __trap loses the context)"
echo "  and bmc_cuda_program_tests: CudaProgram.LayersOnTheGpu (two decoder-layer functions as bmc-program"
echo "  lines run by DeviceProgram: a 5-row prefill and 3 decode steps vs plain loops, caches checked)"
echo "  and bmc_device_generation_tests: DeviceGeneration.GreedyOnTheGpu (DeviceGeneration over a decoder-shaped"
echo "  program: a 5-token prefill and 20 greedy steps, caches grown 7 times in VMM ranges, vs plain loops)"
echo "  and bmc_device_session_f32 / _bf16: DeviceSession.GreedyOnTheGpu (the tiny llama's CUDA package through"
echo "  Model::load(device cuda) and a Session: 5-token prompt, 8 greedy steps, truncate, generate, vs the CPU package)"
echo "  and bmc_device_model_<family>_<kv>: DeviceModel.GreedyOnTheGpu (the 7 generated families' tiny 2-layer"
echo "  models whole, f32 and bf16 caches, f16 on two: a 5-token prefill and 8 greedy steps vs bmc's CPU path)"
echo "gpu_check: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
