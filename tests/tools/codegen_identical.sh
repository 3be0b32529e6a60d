#!/usr/bin/env bash
# Checks that a change to the lowering leaves the generated code unchanged:
# `bmc-compile --emit llvm` and the package bytes of small generated models,
# over the KV modes, paddings, KV types and weight formats, from a base build
# and a new build (docs/DESIGN.md, "Lowering": each migration step of issue 14
# must be byte-identical).
#
#   codegen_identical.sh BASE NEW [WORK]   (159 configurations: 17 decoders x 8 option sets,
#                                            plus 23 extra model / option pairs: weight formats,
#                                            int8 activations, every matmul / Gemm form, the
#                                            norm / softmax / reduction forms; 3 are refused by
#                                            design: a kv-type not the 16-bit graph's)
#
# BASE and NEW are each a directory holding bin/bmc-compile (a build folder),
# or a snapshot this script wrote before (WORK/<name>, with a MANIFEST), so a
# base can be taken once, before the change, and compared against later.
# Snapshots of builds are written to WORK/base and WORK/new (default WORK:
# /tmp/bmc-codegen-identical; the models are generated once into WORK/models).
# Packages are compared but for the header's format version and checksum.
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
# make_genai_models.py (onnxruntime-genai's contrib-op form) for "genai:" ones,
# make_matmulnbits.py / make_qdq.py on an earlier model for "nbits:BASE:" /
# "qdq:BASE:" ones, tests/tools/make_matmul_forms.py for "forms:",
# tests/tools/make_norm_forms.py for "normforms:"
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
  "llama_f16|--preset tiny --family llama --layers 2 --dtype f16"
  "gpt2_bf16|--preset tiny --family gpt2 --layers 2 --dtype bf16"
  "llama_nbits4|nbits:llama:--bits 4"
  "llama_nbits8|nbits:llama:--bits 8"
  "llama_op23_qdq_int4|qdq:llama_op23:--form int4"
  "llama_qdq_uint8|qdq:llama:--form uint8"
  "matmul_forms|forms:"
  "norm_forms|normforms:"
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
# model|name|bmc-compile options: weight formats and forms not crossed with
# every KV option set (matmul_forms and norm_forms are no decoders: the KV
# options mean nothing)
extras=(
  "llama|int4|--weights int4"
  "llama|f16w|--weights f16"
  "llama|bf16w|--weights bf16"
  "llama|int8_act8|--weights int8 --act int8"
  "llama|int4_act8|--weights int4 --act int8"
  "gpt2|int4|--weights int4"
  "gpt2|bf16w|--weights bf16"
  "qwen2|f16w|--weights f16"
  "phi3|int4_act8|--weights int4 --act int8"
  "llama_op23|int4|--weights int4"
  "llama_nbits4|act8|--act int8"
  "llama_nbits8|act8|--act int8"
  "llama_op23_qdq_int4|act8|--act int8"
  "llama_f16|int8|--weights int8"
  "llama_f16|concat|--kv concat"
  "matmul_forms|f32|"
  "matmul_forms|int8|--weights int8"
  "matmul_forms|int4|--weights int4"
  "matmul_forms|f16w|--weights f16"
  "matmul_forms|bf16w|--weights bf16"
  "matmul_forms|int8_act8|--weights int8 --act int8"
  "matmul_forms|int4_act8|--weights int4 --act int8"
  "norm_forms|f32|"
)

for m in "${models[@]}"; do
  name="${m%%|*}"
  onnx="$work/models/$name.onnx"
  [ -f "$onnx" ] && continue
  args="${m#*|}" gen="$root/tests/models/bmc_modelgen.py" quiet=-q
  if [ "${args#genai:}" != "$args" ]; then
    args="${args#genai:}" gen="$root/tests/models/make_genai_models.py" quiet=
  fi
  case "$args" in
    nbits:* | qdq:*)
      kind="${args%%:*}" rest="${args#*:}"
      src="$work/models/${rest%%:*}.onnx"
      [ "$kind" = nbits ] && gen="$root/tests/models/make_matmulnbits.py" || gen="$root/tests/models/make_qdq.py"
      # shellcheck disable=SC2086
      ok=1; "$py" "$gen" ${rest#*:} "$src" "$onnx" >/dev/null || ok=0 ;;
    forms:)
      ok=1; "$py" "$root/tests/tools/make_matmul_forms.py" "$onnx" >/dev/null || ok=0 ;;
    normforms:)
      ok=1; "$py" "$root/tests/tools/make_norm_forms.py" "$onnx" >/dev/null || ok=0 ;;
    *)
      # shellcheck disable=SC2086
      ok=1; "$py" "$gen" $args --seed 7 $quiet -o "$onnx" >/dev/null || ok=0 ;;
  esac
  if [ "$ok" = 0 ]; then
    echo "codegen_identical: generating model '$name' (${m#*|}) failed" >&2
    exit 2
  fi
done

# id|model|options of every run: each decoder model x each config, then the extras
runs=()
for m in "${models[@]}"; do
  name="${m%%|*}"
  case "${m#*|}" in forms: | normforms:) continue ;; esac
  for c in "${configs[@]}"; do runs+=("$name.${c%%|*}|$name|${c#*|}"); done
done
for e in "${extras[@]}"; do
  model="${e%%|*}" rest="${e#*|}"
  runs+=("$model.${rest%%|*}|$model|${rest#*|}")
done

# snapshot BUILD OUT: every run, --emit llvm and the package.
snapshot() {
  local bin="$1/bin/bmc-compile" out="$2"
  if [ ! -x "$bin" ]; then
    echo "codegen_identical: '$1' has no bin/bmc-compile and no MANIFEST (not a build folder or a snapshot)" >&2
    exit 2
  fi
  rm -rf "$out"
  mkdir -p "$out"
  for r in "${runs[@]}"; do
    local id="${r%%|*}" rest="${r#*|}"
    local name="${rest%%|*}" opts="${rest#*|}"
    # shellcheck disable=SC2086
    "$bin" "$work/models/$name.onnx" $opts --quiet --emit llvm >"$out/$id.ll" 2>"$out/$id.ll.err" || echo "fail" >"$out/$id.ll.rc"
    # shellcheck disable=SC2086
    "$bin" "$work/models/$name.onnx" $opts --quiet -o "$out/$id.bmcpkg" 2>"$out/$id.pkg.err" || echo "fail" >"$out/$id.pkg.rc"
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

# Whether two files are the same; packages may differ in their header's format
# version (bytes 8-11) and the checksum that covers it (72-75) only: a format
# bump that leaves the sections as they were (format 5's CUDA fields are zero
# in a CPU package) is not a change of the generated code.
same_file() {
  cmp -s "$1" "$2" && return 0
  case "$1" in *.bmcpkg) ;; *) return 1 ;; esac
  [ -f "$1" ] && [ -f "$2" ] && [ "$(stat -c %s "$1")" = "$(stat -c %s "$2")" ] || return 1
  [ -z "$(cmp -l "$1" "$2" | awk '$1 < 9 || ($1 > 12 && $1 < 73) || $1 > 76' | head -1)" ]
}

same=0 differ=0
for r in "${runs[@]}"; do
  id="${r%%|*}" opts="${r#*|}"
  opts="${opts#*|}"
  for f in "$id.ll" "$id.bmcpkg" "$id.ll.rc" "$id.pkg.rc"; do
    if [ -e "$b/$f" ] || [ -e "$n/$f" ]; then
      if ! same_file "$b/$f" "$n/$f"; then
        echo "DIFFERS: $f ($opts)"
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
echo "codegen_identical: $same configurations identical, $differ differ (base $b, new $n)"
[ "$differ" -eq 0 ]
