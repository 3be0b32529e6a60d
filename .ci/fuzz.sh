#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after the other:
#
#   .ci/fuzz.sh 3600            the long run (an hour per target)
#   .ci/fuzz.sh 600 onnx_import one target
#
# Needs build-asan (.ci/sanitize.sh asan, or `ninja -C build-asan bmc_fuzz`). Each target
# starts from its seed corpus (build-asan/tests/fuzz/corpus/<target>) plus what earlier runs
# found (build-asan/tests/fuzz/found/<target>, kept between runs). A crash leaves its input in
# build-asan/tests/fuzz/crashes/ and fails the run: minimise it, add it to
# tests/fuzz/regressions/<target>/ (run by ctest), fix the bug (docs/RELIABILITY.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BMC_ASAN_BUILD_DIR:-$root/build-asan}"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(onnx_import package_load cli_args)
supp="$root/tests/sanitizers"
# allow_user_poisoning=0: see .ci/sanitize.sh (LLVM allocator slabs filled by the uninstrumented libMLIR).
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:allow_user_poisoning=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}"
export XDG_CACHE_HOME="$build/tests/fuzz/xdg-cache"
fz="$build/tests/fuzz"
mkdir -p "$fz/crashes"
status=0
for t in "${targets[@]}"; do
  bin="$build/bin/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: $bin not built (ninja -C $build bmc_fuzz)" >&2; exit 2; }
  mkdir -p "$fz/found/$t"
  echo "fuzz: $t for $seconds s"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a blow-up is a finding too.
  # -max_len: the seeds' largest size (libFuzzer's default) is enough for metadata and graphs.
  if ! nice -n 15 "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$fz/crashes/${t}-" "$fz/found/$t" "$fz/corpus/$t" > "$fz/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; the end of $fz/$t.log:" >&2
    tail -40 "$fz/$t.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$fz/$t.log" | sed "s/^/fuzz: $t: /"
  fi
done
exit $status
