#!/bin/bash
# The CUDA emitter on whole models: every generated decoder family (2 layers),
# the onnxruntime-genai GQA forms and the shared Hugging Face exports go
# through bmc-pipeline and bmc-emit-cuda (KV f32 with skip, bf16 with mask,
# f16 prealloc with mask); each output must hold kv_append, attention and matmul
# kernels and count the ops left for the CUDA target; the 7 families also whole
# (bmc-compile --emit cuda: f32 caches with skip, bf16 with mask; gpt2 and llama also
# --kv concat), each with its
# bmc-program line (the files device.model_* run in the emulation); then every distinct .cu
# compiles with NVRTC for sm_80 and sm_90 within the spill budget
# (bmc_cuda_emitted_check; exit 77, a ctest skip, only without NVRTC in a
# build configured without CUDA). The floor: all 7 families, 3 genai models
# and both shared models must emit, or the test fails.
# usage: cuda_emit_models.sh BIN_DIR PYTHON MODELGEN E2E_MODELS_DIR HF_DIR
set -u
bin=$1 python=$2 modelgen=$3 e2e=$4 hf=$5
work=$(mktemp -d /tmp/bmc_cuda_emit.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

models=()
for f in gpt2 llama mistral qwen2 gptneox phi3 opt; do
  "$python" "$modelgen" --preset tiny --family $f --layers 2 -o "$work/$f.onnx" > /dev/null ||
    fail "modelgen $f"
  models+=("$work/$f.onnx")
done
for m in genai_gqa genai_gqa_packed_window8_softcap2_smooth genai_mha; do
  [ -f "$e2e/$m.onnx" ] || fail "$e2e/$m.onnx missing (built with the e2e models)"
  models+=("$e2e/$m.onnx")
done
for m in gpt2_s llama_s; do
  [ -f "$hf/$m.onnx" ] || fail "$hf/$m.onnx missing"
  models+=("$hf/$m.onnx")
done

n=0
for m in "${models[@]}"; do
  name=$(basename "$m" .onnx)
  for cfg in "kv-mode=bmc kv-type=f32 padding=skip" "kv-mode=bmc kv-type=bf16 padding=mask" \
             "kv-mode=prealloc kv-type=f16 padding=mask"; do
    out="$work/$name.$(echo "$cfg" | tr ' =' '_-').cu"
    "$bin/bmc-import" "$m" 2> "$work/err" | "$bin/bmc-opt" --bmc-pipeline="$cfg" --bmc-emit-cuda="output=$out" \
      -o /dev/null 2>> "$work/err" || { cat "$work/err"; fail "$name ($cfg): emit"; }
    grep -q '^bmc_kv_append_0(' "$out" || fail "$name ($cfg): no kv_append kernel"
    grep -q '^bmc_attention_0_split(' "$out" || fail "$name ($cfg): no attention kernel"
    grep -q '^bmc_matmul_[0-9]*_tiled(' "$out" || fail "$name ($cfg): no matmul kernel"
    left=$(grep -o 'Left for the CUDA target: [0-9]* ops\?' "$out") || fail "$name ($cfg): no count of the ops left"
    echo "$name ($cfg): $(grep -c '^extern "C" __global__' "$out") __global__, $left"
    n=$((n + 1))
  done
done
[ $n -eq $(( ${#models[@]} * 3 )) ] || fail "$n of $(( ${#models[@]} * 3 )) emitted"

# Whole models: the kernels of a program's .cu are the same text as above today;
# compiled anyway (once each, by the comparison below) so that a kernel only
# the whole-model compile makes cannot miss NVRTC.
w=0
for f in gpt2 llama mistral qwen2 gptneox phi3 opt; do
  for kv in "f32 skip" "bf16 mask"; do
    set -- $kv
    out="$work/$f.whole_$1.cu"
    "$bin/bmc-compile" --emit cuda --kv-type $1 --kv-padding $2 "$work/$f.onnx" > "$out" 2> "$work/err" ||
      { cat "$work/err"; fail "$f (whole, $1 caches): emit"; }
    [ "$(grep -c '^// bmc-program: ' "$out")" -eq 1 ] || fail "$f (whole, $1 caches): not one bmc-program line"
    w=$((w + 1))
  done
done
# concat mode (the graph's past/present tensors, run by a device session in that mode) on two families.
for f in gpt2 llama; do
  out="$work/$f.whole_concat.cu"
  "$bin/bmc-compile" --emit cuda --kv concat --kv-type f32 "$work/$f.onnx" > "$out" 2> "$work/err" ||
    { cat "$work/err"; fail "$f (whole, concat): emit"; }
  [ "$(grep -c '^// bmc-program: ' "$out")" -eq 1 ] || fail "$f (whole, concat): not one bmc-program line"
  w=$((w + 1))
done
echo "$w whole-model outputs"

# Identical code compiles identically: check each distinct one once (the
# comments, which count ops per model and hold the programs, and blank lines
# left out of the comparison).
declare -A seen
distinct=()
for f in "$work"/*.cu; do
  h=$(grep -v -e '^//' -e '^$' "$f" | sha256sum | cut -d' ' -f1)
  [ -n "${seen[$h]:-}" ] && continue
  seen[$h]=1
  distinct+=("$f")
done
echo "$((n + w)) outputs, ${#distinct[@]} distinct"
"$bin/bmc_cuda_emitted_check" "${distinct[@]}"
