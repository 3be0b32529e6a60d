#!/usr/bin/env bash
# bmc-tune on two model sizes and two target contexts, one command: does the cost model's r measure
# within 5% of the best r of a sweep on this machine? Writes results/tune_<preset>.{txt,csv}.
#
#   benchmarks/tune.sh                       # llama-25m and llama-100m, contexts 1024 and 2048 (~13 min)
#   PRESETS="gpt2-25m" benchmarks/tune.sh    # other presets of tests/models/bmc_modelgen.py
#   SPEC_K=2,4 benchmarks/tune.sh            # also the measured (r, k) sweep with speculative decoding
#
# Environment (defaults in brackets): PRESETS [llama-25m llama-100m], CONTEXTS [1024,2048],
# SWEEP [16,64,256,1024], ROUNDS [2], THREADS [1], SPEC_K [none], ACCEPT [0.7], BMC_BUILD_DIR [build],
# BENCH_OUT [benchmarks]. Run it on a quiet machine: the sweep's r values differ by a few percent at most.
# Where r costs more: benchmarks/r_regimes.py.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
case "${1:-}" in
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "tune.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
export BMC_BUILD_DIR="${BMC_BUILD_DIR:-$root/build}"
out="${BENCH_OUT:-$root/benchmarks}/results"
mkdir -p "$out"
PRESETS="${PRESETS:-llama-25m llama-100m}"
spec=()
[ -n "${SPEC_K:-}" ] && spec=(--spec-k "$SPEC_K" --accept-rate "${ACCEPT:-0.7}")
"$root/.ci/build.sh" bmc-tune
models="$BMC_BUILD_DIR/bench"
mkdir -p "$models"
for preset in $PRESETS; do
  onnx="$models/$preset.onnx"
  [ -f "$onnx" ] || /usr/bin/python3 tests/models/bmc_modelgen.py --preset "$preset" -o "$onnx"
  echo "tune.sh: $preset" >&2
  {
    echo "# $(date -u +%FT%TZ), bmc $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "# bmc-tune $preset.onnx --context ${CONTEXTS:-1024,2048} --sweep ${SWEEP:-16,64,256,1024} --rounds ${ROUNDS:-2} --threads ${THREADS:-1} ${spec[*]}"
    "$BMC_BUILD_DIR/bin/bmc-tune" "$onnx" --context "${CONTEXTS:-1024,2048}" --sweep "${SWEEP:-16,64,256,1024}" \
      --rounds "${ROUNDS:-2}" --threads "${THREADS:-1}" "${spec[@]}" --csv "$out/tune_$preset.csv" 2>/dev/null
  } > "$out/tune_$preset.txt.tmp"
  mv "$out/tune_$preset.txt.tmp" "$out/tune_$preset.txt"
  grep -E "^chosen|^k = " "$out/tune_$preset.txt" | sed "s/^/$preset: /"
done
