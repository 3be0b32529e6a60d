#!/usr/bin/env bash
# Sanitizer and fuzzing runs (docs/RELIABILITY.md); called by .ci/run after the normal tests.
#
#   build-asan  ASan+UBSan (+ libFuzzer coverage on the fuzzed libraries): the runtime,
#               frontend, compiler and tools; runs the unit tests, lit, the ONNX conformance
#               suite, the e2e subset named below, the fuzzers' seed and regression inputs,
#               then each fuzz target for BMC_FUZZ_SECONDS (default 60) from its seeds.
#               The serve tests among them: serve.curl, serve.cancel, serve.assets and serve.load
#               (tests/serve/CMakeLists.txt).
#   build-tsan  TSan: the runtime with its thread pool; the kernel, runtime and tokenizer unit
#               tests, threads.sessions (concurrent sessions on one Model against a sequential run),
#               and bmc-serve (packages only: no compiler here) under serve.load (concurrent,
#               batched streams against bmc-run) and serve.cancel (clients leaving, queued and
#               running), on packages made by the normal build's bmc-compile.
#
# Any sanitizer report fails the step (reports abort: -fno-sanitize-recover, halt_on_error).
# Builds run under `nice -n 15` (a shared machine); ccache is shared with the normal build
# folder but the sanitized objects differ, so the first run compiles everything (see
# docs/RELIABILITY.md for the measured time).
#
#   .ci/sanitize.sh [asan|tsan|fuzz]...   default: all three, in that order
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CCACHE_BASEDIR="$root"
asan="${BMC_ASAN_BUILD_DIR:-$root/build-asan}"
tsan="${BMC_TSAN_BUILD_DIR:-$root/build-tsan}"
normal="${BMC_BUILD_DIR:-$root/build}"
seconds="${BMC_FUZZ_SECONDS:-60}"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(asan tsan fuzz)

supp="$root/tests/sanitizers"
# allow_user_poisoning=0: LLVM's BumpPtrAllocator (llvm/Support/Allocator.h, inline) poisons each
# new slab when it is compiled with ASan, as our dialect code is, and unpoisons what it hands out;
# libMLIR.so is not instrumented, so objects it later places in such a slab (a FunctionType's type
# array) stay poisoned and our code's reads of them are reported (seen on llama_op18: reads of a
# function's result types, 8 bytes before the type's storage). Real heap errors are still caught.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:allow_user_poisoning=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"

# Under ASan: every test but the e2e ones, then this e2e subset: every group except the
# 18 models compared against onnxruntime (each compiles and decodes a model that the
# golden tests already cover), of which one is kept as a sample.
e2e_subset='^e2e\.(api_errors|api_limits|packages|cli_errors|ref_vs_fast|speculative_sampling|quantized_import|golden\..*|example_generate|generated\.llama_op18)$'
# Likewise the whole generated models as CUDA programs in the host emulation (label device_model:
# the 27 device.model_* binaries of the same runtime code, the four device.hf_* ones of the shared
# HF exports through the JIT's seam and Session, and the three device.session_* ones of a CUDA
# package through Model::load and Session): one model and one session kept as a sample, and
# only they are built (BMC_DEVICE_MODEL_TESTS, tests/unit/device/CMakeLists.txt).
device_model_sample='^device\.(model_llama_bf16|session_bf16)$'

configure() { # dir, extra cmake args...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir "$@" >/dev/null
  fi
}
t0=$SECONDS
stamp() { echo "sanitize: $1 ($((SECONDS - t0)) s)"; }

for step in "${steps[@]}"; do
  case "$step" in
  asan)
    configure "$asan" -DBMC_SANITIZE=address,undefined -DBMC_FUZZ=ON -DBMC_DEVICE_MODEL_TESTS="$device_model_sample"
    nice -n 15 ninja -C "$asan"
    stamp "build-asan built"
    (cd "$asan" && ctest --output-on-failure -j2 -LE 'e2e|device_model' &&
      ctest --output-on-failure -j2 -R "$e2e_subset|$device_model_sample")
    stamp "ASan+UBSan tests passed"
    ;;
  tsan)
    # The normal build's bmc-compile makes the test packages, its bmc-run the serve references.
    if [ ! -x "$normal/bin/bmc-compile" ] || [ ! -x "$normal/bin/bmc-run" ]; then
      "$root/.ci/build.sh" bmc-compile bmc-run
    fi
    configure "$tsan" -DBMC_SANITIZE=thread -DBMC_TEST_COMPILER="$normal/bin/bmc-compile"
    nice -n 15 ninja -C "$tsan" bmc_runtime bmc_kernels_tests bmc_runtime_tests bmc_session_threads_test \
      bmc_tokenizer_tests bmc-serve bmc_serve_api_tests bmc_serve_package bmc_serve_slow_package
    stamp "build-tsan built"
    # The tokenizer's unit tests include one Tokenizer shared by four threads; its oracle
    # tests (node + transformers.js, no threads) run in the normal build only.
    (cd "$tsan" && ctest --output-on-failure -j2 -E '^tokenizer\.oracle\.')
    stamp "TSan tests passed"
    ;;
  fuzz)
    configure "$asan" -DBMC_SANITIZE=address,undefined -DBMC_FUZZ=ON -DBMC_DEVICE_MODEL_TESTS="$device_model_sample"
    nice -n 15 ninja -C "$asan" bmc_fuzz
    "$root/.ci/fuzz.sh" "$seconds"
    stamp "fuzzing passed"
    ;;
  *) echo "sanitize: unknown step '$step' (asan, tsan or fuzz)" >&2; exit 2 ;;
  esac
done
