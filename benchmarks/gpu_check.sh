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
# package (bmc_device_session_f32 / _bf16 / _concat, DeviceSession.GreedyOnTheGpu; the JIT of the same
# llama.onnx, DeviceSession.JitOnTheGpu), and the 7 generated families' whole programs against the CPU path
# (bmc_device_model_<family>_<kv>, concat on llama and gpt2); then the JIT from the command line: `bmc-run
# llama.onnx --device cuda` (NVRTC for the GPU's sm_XY into a fresh cache, then again from the cache) gives the
# CUDA package's tokens.
# With BMC_REQUIRE_GPU=1 a missing driver or GPU is a failure, not a skip.
# Then the benchmark (skipped by --no-bench): a generated ~1.1 B-parameter Llama (TinyLlama's shape:
# 22 layers, hidden 2048, 32 heads / 4 KV heads, SwiGLU 5632, vocab 32000; random weights) compiled
# with --target cuda --weights f16 --kv-type f16, timed by bmc_bench_device --device cuda at contexts 128 and 2048
# (KV modes bmc and prealloc interleaved, order rotated) and 4096 (bmc vs prealloc: speed and KV
# memory), each timing next to a device-to-device copy bandwidth probe, bmc's r chosen by the cost model
# from the GPU's calibrated constants (printed: the "cost_model" line of each context); at 4096 the three KV
# modes on f32 caches too (concat keeps the graph's f32 tensors: a package compiled with --kv concat, and one
# with --kv-type f32 for bmc and prealloc, so no mode reads narrower rows); speculative decoding by
# bmc-run --device cuda --spec-lookup 3 with --spec-k 4 and --spec-k auto (k from the passes timed on the GPU;
# tokens equal to greedy's, acceptance printed); then torch_peer.py (the
# HF-style eager PyTorch port: DynamicCache, StaticCache + torch.compile) on the same card where
# torch sees CUDA, else one line saying why it was not compared; one table (benchmarks/gpu_report.py)
# with tokens/s, % of the roofline, memory and ratios; a dated section appended to
# benchmarks/RESULTS.md only when the benchmark ran on a GPU. Each stage prints its time and budget
# (8.5 minutes in all on a fresh machine, most of it the build).
#
#   benchmarks/gpu_check.sh              # installs packages (.ci/setup.sh), builds, runs, benchmarks
#   benchmarks/gpu_check.sh --no-setup   # the packages are already there
#   benchmarks/gpu_check.sh --no-bench   # the tests only
#   benchmarks/gpu_check.sh --bench-only # the benchmark only, with the binaries already built
#
# Environment (defaults in brackets): BMC_BUILD_DIR [build-gpu], CUDAToolkit_ROOT [found by CMake:
# nvcc on PATH, then /usr/local/cuda], BMC_PYTHON [/usr/bin/python3: numpy, onnx; torch with CUDA for
# the peer], GPU_BENCH_DIR [$BMC_BUILD_DIR/gpu-bench: the model, package and JSON outputs],
# GPU_BENCH_MODEL [the bmc_modelgen.py flags of the ~1B llama above; another model, another directory].
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
setup=1
bench=1
tests=1
for arg in "$@"; do
  case "$arg" in
    --no-setup) setup=0 ;;
    --no-bench) bench=0 ;;
    --bench-only) tests=0; setup=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;; # the header
    *) echo "gpu_check.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
build="${BMC_BUILD_DIR:-$root/build-gpu}"
py="${BMC_PYTHON:-/usr/bin/python3}"
start=$(date +%s)

# Stages: each prints its time against its budget (the budgets add up to the 8.5 minutes).
stage_name=""
stage_start=0
stage_budget=0
stage() {
  stage_end
  stage_name="$1"
  stage_budget="$2"
  stage_start=$(date +%s)
  echo "gpu_check: == $stage_name (budget ${stage_budget} s; $(( stage_start - start )) s so far)"
}
stage_end() {
  [ -z "$stage_name" ] && return 0
  local took=$(( $(date +%s) - stage_start ))
  echo "gpu_check: == $stage_name took $took s (budget $stage_budget s)$([ "$took" -gt "$stage_budget" ] && echo ': OVER BUDGET')"
  stage_name=""
}

stage "machine and packages" 45

echo "gpu_check: machine"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
  echo "  (no nvidia-smi)"
fi
if [ "$setup" = 1 ]; then "$root/.ci/setup.sh"; fi

status=0
if [ "$tests" = 1 ]; then
stage "configure and build" 150

echo "gpu_check: configuring $build with BMC_CUDA=ON and building bmc_device_tests, bmc_cuda_emitted_tests,"
echo "  bmc_cuda_emitted_matmul_tests, bmc_cuda_emitted_elementwise_tests, bmc_cuda_emitted_data_tests,"
echo "  bmc_cuda_program_tests, bmc_device_generation_tests, bmc_device_session_f32, bmc_device_session_bf16,"
echo "  bmc_device_session_concat,"
echo "  bmc_device_model_*"
models=()
for family in llama gpt2 phi3 qwen2 opt gptneox mistral; do
  models+=("bmc_device_model_${family}_f32" "bmc_device_model_${family}_bf16")
done
models+=(bmc_device_model_llama_f16 bmc_device_model_gpt2_f16 bmc_device_model_llama_concat
         bmc_device_model_gpt2_concat)
export CCACHE_BASEDIR="$root"
cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBMC_CUDA=ON
            -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir)
[ -n "${CUDAToolkit_ROOT:-}" ] && cmake_args+=(-DCUDAToolkit_ROOT="$CUDAToolkit_ROOT")
CC=clang-19 CXX=clang++-19 cmake "${cmake_args[@]}" | grep -E "bmc: CUDA target" || true
ninja -C "$build" bmc_device_tests bmc_cuda_emitted_tests bmc_cuda_emitted_matmul_tests \
  bmc_cuda_emitted_elementwise_tests bmc_cuda_emitted_data_tests bmc_cuda_program_tests bmc_device_generation_tests \
  bmc_device_session_f32 bmc_device_session_bf16 bmc_device_session_concat "${models[@]}" bmc-compile bmc-run \
  bmc_bench_device

stage "device tests" 45
echo "gpu_check: running the device tests (BMC_REQUIRE_GPU=1: no skips)"
BMC_REQUIRE_GPU=1 "$build/bin/bmc_device_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_matmul_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_elementwise_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_emitted_data_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_cuda_program_tests" --gtest_color=no || status=$?
BMC_REQUIRE_GPU=1 "$build/bin/bmc_device_generation_tests" --gtest_color=no --gtest_filter='*OnTheGpu' || status=$?
for kv in f32 bf16 concat; do
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
echo "  Device/DeviceCalibrationTest.*/Gpu (allocate, copy, VMM-grow costs and the copy-probed read bandwidth on the"
echo "  GPU: the cost model's constants, printed),"
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
echo "  Model::load(device cuda) and a Session: 5-token prompt, 8 greedy steps, truncate, generate, vs the CPU package;"
echo "  speculative decoding: extend vs single steps and the CPU, generate with drafters = greedy, the CPU's counts)"
echo "  and bmc_device_model_<family>_<kv>: DeviceModel.GreedyOnTheGpu (the 7 generated families' tiny 2-layer"
echo "  models whole, f32 and bf16 caches, f16 on two: a 5-token prefill and 8 greedy steps vs bmc's CPU path)"

stage "the JIT on the GPU (bmc-run llama.onnx --device cuda)" 30
# The tiny llama of device.session_f32 (built above with its CUDA package): greedy tokens of the JIT,
# compiled into a fresh cache and then read from it, against the package's.
sess="$build/tests/unit/device/session"
jit_cache="$build/gpu-jit-cache"
rm -rf "$jit_cache"
tokens_of() {
  "$build/bin/bmc-run" "$@" --device cuda --prompt 1,17,5,42,9 --max-new-tokens 16 --ignore-eos --json |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["tokens"][0])'
}
jit_ok=1
pkg_tokens=$(tokens_of "$sess/llama_f32.cuda.bmcpkg") || jit_ok=0
for pass in compile cache; do
  jit_tokens=$(BMC_CUDA_CACHE="$jit_cache" tokens_of "$sess/llama.onnx" --kv-type f32 --kv-padding skip \
               2> "$build/gpu-jit-$pass.err") || jit_ok=0
  grep -E "NVRTC sm_[0-9]+: (compiled|cache hit)" "$build/gpu-jit-$pass.err" || true
  echo "gpu_check: JIT ($pass): $jit_tokens; package: $pkg_tokens"
  if [ -z "$pkg_tokens" ] || [ "$jit_tokens" != "$pkg_tokens" ]; then jit_ok=0; fi
done
grep -qE "NVRTC sm_[0-9]+: cache hit" "$build/gpu-jit-cache.err" || { echo "gpu_check: the second JIT did not hit the cache"; jit_ok=0; }
if [ "$jit_ok" = 1 ]; then echo "gpu_check: the JIT's tokens equal the CUDA package's"; else
  echo "gpu_check: the JIT on the GPU FAILED (stderr in $build/gpu-jit-*.err)"; status=1; fi
echo "gpu_check: tests $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
fi
if [ "$bench" = 0 ]; then
  stage_end
  exit $status
fi

# ---- the benchmark ----------------------------------------------------------------------------
out="${GPU_BENCH_DIR:-$build/gpu-bench}"
mkdir -p "$out"
onnx="$out/llama1b.onnx"
pkg="$out/llama1b.f16.bmcpkg"
stage "generate the model" 40
model_flags="${GPU_BENCH_MODEL:---family llama --opset 17 --layers 22 --hidden 2048 --heads 32 --kv-heads 4 --inter 5632 --vocab 32000}"
if [ ! -f "$onnx" ]; then
  # shellcheck disable=SC2086 # the flags are words
  "$py" "$root/tests/models/bmc_modelgen.py" -q $model_flags --external-data --no-check -o "$onnx"
fi
params=$("$py" - "$onnx" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
n = 0
for t in m.graph.initializer:
    k = 1
    for d in t.dims:
        k *= d
    n += k
print(n)
PY
)
echo "gpu_check: $onnx: $params parameters"

stage "compile --target cuda --weights f16 --kv-type f16" 45
"$build/bin/bmc-compile" "$onnx" --target cuda --weights f16 --kv-type f16 -o "$pkg"

# Stops a stage at twice its budget (the total must stay bounded); a stop is reported, not hidden.
bounded() {
  local limit="$1"; shift
  local rc=0
  timeout "$limit" "$@" || rc=$?
  [ "$rc" = 124 ] && echo "gpu_check: stopped after $limit s: $*" >&2
  return "$rc"
}

stage "bmc decode on the GPU (contexts 128, 2048, 4096)" 60
bench_ok=1
for ctx in 128 2048 4096; do
  rounds=3
  [ "$ctx" = 4096 ] && rounds=2
  if ! bounded 120 "$build/bin/bmc_bench_device" "$pkg" --device cuda --context "$ctx" --window 64 --warmup 8 \
       --rounds "$rounds" --kv bmc,prealloc > "$out/bmc_$ctx.json"; then
    bench_ok=0
    echo "gpu_check: bmc_bench_device --device cuda --context $ctx FAILED"
  fi
  # The device's cost-model constants and the r it chose (bmc has no --r here: docs/COST_MODEL.md "On a device").
  grep '"kind": "cost_model"' "$out/bmc_$ctx.json" || echo "gpu_check: no cost_model line at context $ctx (r not chosen by the model)"
  grep '"kind": "summary"' "$out/bmc_$ctx.json" || true
done

stage "the three KV modes on f32 caches (context 4096)" 100
# concat keeps the graph's f32 past/present tensors (the compiler gives it no 16-bit cache), so bmc and
# prealloc run here with f32 caches too: the same bytes per row for all three.
pkg_f32kv="$out/llama1b.f16w-f32kv.bmcpkg"
pkg_concat="$out/llama1b.f16w-concat.bmcpkg"
kv_files=()
if "$build/bin/bmc-compile" "$onnx" --target cuda --weights f16 --kv-type f32 -o "$pkg_f32kv" &&
   "$build/bin/bmc-compile" "$onnx" --target cuda --weights f16 --kv concat -o "$pkg_concat"; then
  for run in "bmc,prealloc $pkg_f32kv kv_inplace_4096" "concat $pkg_concat kv_concat_4096"; do
    # shellcheck disable=SC2086 # three words: the modes, the package, the output's name
    set -- $run
    if bounded 120 "$build/bin/bmc_bench_device" "$2" --device cuda --context 4096 --window 64 --warmup 8          --rounds 2 --kv "$1" > "$out/$3.json"; then
      kv_files+=("$out/$3.json")
      grep '"kind": "summary"' "$out/$3.json" || true
    else
      bench_ok=0
      echo "gpu_check: bmc_bench_device --kv $1 --context 4096 FAILED"
    fi
  done
else
  bench_ok=0
  echo "gpu_check: compiling the f32-cache packages FAILED"
fi

stage "speculative decoding on the GPU (bmc-run --device cuda)" 30
# Prompt lookup on a repeating prompt (random weights: a model drafter's acceptance would mean nothing)
# verifies 4 drafts per pass (Session::extend on the device, one graph per token count); greedy output
# must not change, and the acceptance is printed.
spec_prompt="1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8"
spec_ok=0
if bounded 60 "$build/bin/bmc-run" "$pkg" --device cuda --prompt-ids "$spec_prompt" --max-new-tokens 64 --json \
     > "$out/greedy.json" &&
   bounded 60 "$build/bin/bmc-run" "$pkg" --device cuda --prompt-ids "$spec_prompt" --max-new-tokens 64 \
     --spec-lookup 3 --spec-k 4 --json > "$out/speculative.json" &&
   bounded 120 "$build/bin/bmc-run" "$pkg" --device cuda --prompt-ids "$spec_prompt" --max-new-tokens 64 \
     --spec-lookup 3 --spec-k auto --json > "$out/speculative_auto.json"; then
  # The second run: k chosen by the cost model from the model's verify passes timed on this GPU.
  "$py" - "$out/greedy.json" "$out/speculative.json" "$out/speculative_auto.json" <<'PY' && spec_ok=1
import json, sys
g = json.load(open(sys.argv[1]))
for f in sys.argv[2:]:
    s = json.load(open(f))
    sp = s["speculative"]
    print("gpu_check: speculative (%s, k=%d, last k %d): %d target passes for %d tokens (%.2f per pass), acceptance "
          "%.1f%% (%d of %d drafts); decode %.1f ms, greedy %.1f ms" % (sp["drafter"], sp["k"], sp["last_k"],
          sp["target_passes"], s["generated"], sp["tokens_per_pass"], 100 * sp["acceptance_rate"], sp["draft_accepted"],
          sp["draft_proposed"], s["decode_ms"], g["decode_ms"]))
    a, b = g["tokens"][0], s["tokens"][0]
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        sys.exit("gpu_check: %s: speculative tokens differ from greedy's at token %d: %s vs %s"
                 % (f, first, b[first:first + 4], a[first:first + 4]))
    print("gpu_check: speculative tokens equal greedy's (%d tokens)" % len(a))
PY
fi
[ "$spec_ok" = 1 ] || { echo "gpu_check: speculative decoding on the GPU FAILED"; status=1; }

stage "HF-style PyTorch peer on the same GPU" 85
torch_files=()
hf_note=""
compile=1
if why=$("$py" -c 'import torch, sys
sys.exit(0) if torch.cuda.is_available() else sys.exit("torch %s sees no CUDA device (built with CUDA %s)" % (torch.__version__, torch.version.cuda))' 2>&1); then
  for ctx in 128 2048; do
    f="$out/torch_dynamic_$ctx.json"
    bounded 90 "$py" "$root/benchmarks/torch_peer.py" "$onnx" --time --device cuda --cache dynamic --context "$ctx" \
      --window 64 --warmup 8 > "$f" || echo "gpu_check: torch_peer dynamic at $ctx FAILED"
    torch_files+=("$f")
    [ "$compile" = 1 ] || continue
    f="$out/torch_static_compile_$ctx.json"
    rc=0
    bounded 150 "$py" "$root/benchmarks/torch_peer.py" "$onnx" --time --device cuda --cache static --compile \
      --static-cache-len "$ctx" --context "$ctx" --window 64 --warmup 8 > "$f" || rc=$?
    if [ "$rc" = 3 ]; then
      hf_note="HF StaticCache + torch.compile not reported: this torch has no torch.compile"
      compile=0
      continue
    fi
    [ "$rc" = 0 ] || echo "gpu_check: torch_peer static + compile at $ctx FAILED"
    torch_files+=("$f")
  done
else
  hf_note="HF not compared: $(echo "$why" | tail -1)"
  echo "gpu_check: $hf_note"
fi

stage "report" 10
report_args=(--bmc "$out"/bmc_128.json "$out"/bmc_2048.json "$out"/bmc_4096.json --params "$params")
[ ${#kv_files[@]} -gt 0 ] && report_args+=(--kv-modes "${kv_files[@]}")
[ ${#torch_files[@]} -gt 0 ] && report_args+=(--torch "${torch_files[@]}")
[ -n "$hf_note" ] && report_args+=(--hf-note "$hf_note")
machine=""
command -v nvidia-smi >/dev/null && machine=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || true)
# RESULTS.md gets a section only from a run on a GPU: every bmc timing done on the cuda device.
if [ "$bench_ok" = 1 ] && [ -n "$machine" ]; then
  report_args+=(--results "$root/benchmarks/RESULTS.md" --machine "$machine")
else
  echo "gpu_check: benchmarks/RESULTS.md left alone (the benchmark did not run fully on a GPU)"
fi
"$py" "$root/benchmarks/gpu_report.py" "${report_args[@]}" || status=$?
[ "$bench_ok" = 1 ] || status=1
stage_end
echo "gpu_check: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
