#!/usr/bin/env bash
# Checks that a change to the lowering leaves the generated code unchanged:
# `bmc-compile --emit llvm` and the package bytes of small generated models,
# over the KV modes, paddings, KV types and weight formats, from a base build
# and a new build (docs/DESIGN.md, "Lowering": each migration step of issue 14
# must be byte-identical).
#
#   codegen_identical.sh BASE NEW [WORK]   (88 configurations: 11 models x 8 option sets)
#
# BASE and NEW are each a directory holding bin/bmc-compile (a build folder),
# or a snapshot this script wrote before (WORK/<name>, with a MANIFEST), so a
# base can be taken once, before the change, and compared against later.
# Snapshots of builds are written to WORK/base and WORK/new (default WORK:
# /tmp/bmc-codegen-identical; the models are generated once into WORK/models).
# Prints one line per configuration that differs, then a summary; exits 1 if
# any differs or fails to compile in one build only, 2 on bad arguments.
# Run it on a quiet machine only if you time anything; it times nothing.
set -uo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: codegen_identical.sh BASE NEW [WORK] (BASE/NEW: a build folder with bin/bmc-compile, or a snapshot)" >&2
  exit 2
fi
base="$(realpath "$1")"
new="$(realpath "$2")"
work="${3:-/tmp/bmc-codegen-identical}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
py=/usr/bin/python3
for d in "$base" "$new"; do
  if [ ! -f "$d/MANIFEST" ] && [ ! -x "$d/bin/bmc-compile" ]; then
    echo "codegen_identical: '$d' has no bin/bmc-compile and no MANIFEST (not a build folder or a snapshot)" >&2
    exit 2
  fi
done
mkdir -p "$work/models"

# name|generator arguments: tests/models/bmc_modelgen.py, or
# make_genai_models.py (onnxruntime-genai's contrib-op form) for "genai:" ones
models=(
  "llama|--preset tiny --family llama --layers 2"
  "llama5|--preset tiny --family llama --layers 5"
  "gpt2|--preset tiny --family gpt2 --layers 2"
  "qwen2|--preset tiny --family qwen2 --layers 2"
  "phi3|--preset tiny --family phi3 --layers 2"
  "mistral_sw|--preset tiny --family mistral --layers 2 --sliding-window 8"
  "llama_op23|--preset tiny --family llama --layers 2 --opset 23"
  "gpt2_op18|--preset tiny --family gpt2 --layers 2 --opset 18"
  "llama_static_op24|--preset tiny --family llama --layers 2 --opset 24 --static-cache 64"
  "genai_gqa_window_softcap_smooth|genai:--form gqa-packed --interleaved --window 8 --softcap 2 --smooth-softmax"
  "genai_mha|genai:--form mha"
)
# name|bmc-compile options (each applied to every model)
configs=(
  "bmc|"
  "bmc_mask|--kv-padding mask"
  "bmc_bf16|--kv-type bf16"
  "bmc_bf16_mask|--kv-type bf16 --kv-padding mask"
  "prealloc_f16_mask|--kv prealloc --kv-type f16 --kv-padding mask"
  "prealloc|--kv prealloc"
  "concat|--kv concat"
  "int8|--weights int8"
)

for m in "${models[@]}"; do
  name="${m%%|*}"
  onnx="$work/models/$name.onnx"
  [ -f "$onnx" ] && continue
  args="${m#*|}" gen="$root/tests/models/bmc_modelgen.py" quiet=-q
  if [ "${args#genai:}" != "$args" ]; then
    args="${args#genai:}" gen="$root/tests/models/make_genai_models.py" quiet=
  fi
  # shellcheck disable=SC2086
  if ! "$py" "$gen" $args --seed 7 $quiet -o "$onnx" >/dev/null; then
    echo "codegen_identical: generating model '$name' (${m#*|}) failed" >&2
    exit 2
  fi
done

# snapshot BUILD OUT: every model x config, --emit llvm and the package.
snapshot() {
  local bin="$1/bin/bmc-compile" out="$2"
  if [ ! -x "$bin" ]; then
    echo "codegen_identical: '$1' has no bin/bmc-compile and no MANIFEST (not a build folder or a snapshot)" >&2
    exit 2
  fi
  rm -rf "$out"
  mkdir -p "$out"
  for m in "${models[@]}"; do
    local name="${m%%|*}"
    for c in "${configs[@]}"; do
      local id="$name.${c%%|*}"
      # shellcheck disable=SC2086
      "$bin" "$work/models/$name.onnx" ${c#*|} --quiet --emit llvm >"$out/$id.ll" 2>"$out/$id.ll.err" || echo "fail" >"$out/$id.ll.rc"
      # shellcheck disable=SC2086
      "$bin" "$work/models/$name.onnx" ${c#*|} --quiet -o "$out/$id.bmcpkg" 2>"$out/$id.pkg.err" || echo "fail" >"$out/$id.pkg.rc"
    done
  done
  echo "built by $bin" >"$out/MANIFEST"
}

resolve() { # DIR LABEL -> prints the snapshot folder
  if [ -f "$1/MANIFEST" ]; then echo "$1"; return; fi
  if [ "$(realpath -m "$work/$2")" = "$base" ] || [ "$(realpath -m "$work/$2")" = "$new" ]; then
    echo "codegen_identical: the snapshot of '$1' would overwrite the snapshot compared against ($work/$2); give another WORK" >&2
    exit 2
  fi
  snapshot "$1" "$work/$2" >&2
  echo "$work/$2"
}

b="$(resolve "$base" base)" || exit 2
n="$(resolve "$new" new)" || exit 2

same=0 differ=0
for m in "${models[@]}"; do
  name="${m%%|*}"
  for c in "${configs[@]}"; do
    id="$name.${c%%|*}"
    for f in "$id.ll" "$id.bmcpkg" "$id.ll.rc" "$id.pkg.rc"; do
      if [ -e "$b/$f" ] || [ -e "$n/$f" ]; then
        if ! cmp -s "$b/$f" "$n/$f"; then
          echo "DIFFERS: $f (${c#*|})"
          differ=$((differ + 1))
          continue 2
        fi
      fi
    done
    if [ -f "$b/$id.ll.rc" ] || [ -f "$b/$id.pkg.rc" ]; then
      echo "fails in both builds: $id ($(head -1 "$b/$id.ll.err" "$b/$id.pkg.err" 2>/dev/null | grep -v '^==>' | head -1))"
    fi
    same=$((same + 1))
  done
done
echo "codegen_identical: $same configurations identical, $differ differ (base $b, new $n)"
[ "$differ" -eq 0 ]
