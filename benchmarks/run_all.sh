#!/usr/bin/env bash
# The whole peer benchmark, one command: installs what it needs, builds, runs both presets
# (benchmarks/peers.py and benchmarks/kv_modes.py), and writes benchmarks/RESULTS.md.
#
#   benchmarks/run_all.sh            # the full run (about 30 minutes on a quiet 2-core machine)
#   benchmarks/run_all.sh --quick    # a smoke test of the harness: short windows, one round
#
# Environment (defaults in brackets): PRESETS [gpt2-25m llama-25m], ROUNDS [3], CONTEXTS
# [64,256,1024,2048], WINDOW [128], THREADS [1,2], PREFILL [512], KV_CONTEXTS [128,512,1024,2048,4096],
# KV_WINDOW [256: kv_modes.py's window, at least the largest fixed r, so that every r grows inside it],
# BMC_BUILD_DIR [build], BENCH_OUT [benchmarks: results/ and RESULTS.md go there].
# Run it as root (apt-get), or with the packages already installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export BMC_BUILD_DIR="${BMC_BUILD_DIR:-$root/build}"
out="${BENCH_OUT:-$root/benchmarks}"
mkdir -p "$out/results"
out="$(cd "$out" && pwd)"

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

overrides=""
for v in PRESETS ROUNDS CONTEXTS WINDOW THREADS PREFILL KV_CONTEXTS KV_WINDOW; do
  [ -n "${!v:-}" ] && overrides+="$v='${!v}' "
done
PRESETS="${PRESETS:-gpt2-25m llama-25m}"
if [ "$quick" = 1 ]; then
  ROUNDS="${ROUNDS:-1}" CONTEXTS="${CONTEXTS:-64,256}" WINDOW="${WINDOW:-8}" THREADS="${THREADS:-1,2}"
  PREFILL="${PREFILL:-64}" KV_CONTEXTS="${KV_CONTEXTS:-128,256}" KV_SWEEP=16 KV_WINDOW="${KV_WINDOW:-8}"
else
  ROUNDS="${ROUNDS:-3}" CONTEXTS="${CONTEXTS:-64,256,1024,2048}" WINDOW="${WINDOW:-128}" THREADS="${THREADS:-1,2}"
  PREFILL="${PREFILL:-512}" KV_CONTEXTS="${KV_CONTEXTS:-128,512,1024,2048,4096}" KV_SWEEP=16,64,256
  KV_WINDOW="${KV_WINDOW:-256}"
fi

say() { echo "run_all.sh: $*" >&2; }

# ---- packages -----------------------------------------------------------------------------------
need=()
for p in python3-torch python3-matplotlib python3-onnx python3-numpy libopenblas0-openmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)  # any Node.js >= 18
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing packages ${need[*]}: run as root, or apt-get install -y ${need[*]}"
    exit 1
  fi
  # libopenblas0-openmp makes itself the system's libblas.so.3 (update-alternatives, auto mode).
  # The torch peer only needs it on its own LD_LIBRARY_PATH: put the previous default back after.
  prev_blas="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
  prev_lapack="$(update-alternatives --query liblapack.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
  say "installing ${need[*]}"
  apt-get update -qq || say "apt-get update failed; trying the install with the current lists"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  if [ -n "$prev_blas" ]; then update-alternatives --set libblas.so.3-x86_64-linux-gnu "$prev_blas" >&2; fi
  if [ -n "$prev_lapack" ]; then update-alternatives --set liblapack.so.3-x86_64-linux-gnu "$prev_lapack" >&2; fi
fi
/usr/bin/python3 -c "import torch, matplotlib, onnx, numpy" || { say "python3 modules do not import"; exit 1; }
tests/peers/setup.sh

# ---- build --------------------------------------------------------------------------------------
"$root/.ci/build.sh" bmc_bench bmc-compile bmc-run

# ---- measure ------------------------------------------------------------------------------------
cmd="${overrides}benchmarks/run_all.sh $*"
for preset in $PRESETS; do
  say "peers, $preset"
  /usr/bin/python3 benchmarks/peers.py --no-build --preset "$preset" --contexts "$CONTEXTS" --window "$WINDOW" \
    --threads "$THREADS" --rounds "$ROUNDS" --prefill "$PREFILL" --out "$out/results"
  say "KV modes, $preset"
  /usr/bin/python3 benchmarks/kv_modes.py --preset "$preset" --contexts "$KV_CONTEXTS" --window "$KV_WINDOW" \
    --rounds "$ROUNDS" --threads 1 --sweep "$KV_SWEEP" --no-build --out "$out/results"
done
/usr/bin/python3 benchmarks/make_results.py --presets "$(echo $PRESETS | tr ' ' ',')" --command "${cmd% }" \
  --results "$out/results" -o "$out/RESULTS.md"
say "done: $out/RESULTS.md, $out/results/"
