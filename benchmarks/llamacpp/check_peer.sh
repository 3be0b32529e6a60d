#!/usr/bin/env bash
# ctest e2e.llamacpp_peer: llama.cpp as a peer computes the same model as bmc.
#   check_peer.sh BMC_RUN MODELS_DIR WORK_DIR
# 1. gguf_convert.py writes F32 GGUF files of generated Llama models (one with random norm weights,
#    so a norm in the wrong place shows); llama.cpp's 16 greedy tokens must equal bmc's. A wrong
#    Q/K permutation, tensor orientation or metadata key changes them.
# 2. The Q8_0 file loads and agrees with bmc fp32 on at least the first 4 greedy tokens (its
#    rounding differs, so not all 16 need to: quant.py reports the count; a wrong block layout
#    gives unrelated tokens from the first).
# 3. The converter refuses a model it does not handle with one line and exit 1, leaving no file.
set -euo pipefail
run=$1 models=$2 work=$3
here="$(cd "$(dirname "$0")" && pwd)"
conv="$here/../gguf_convert.py"
"$here/setup.sh"
mkdir -p "$work"
prompt=5,17,300,42,7,99,3
for m in llama_op17 llama_norms_op17; do
  /usr/bin/python3 "$conv" "$models/$m.onnx" -o "$work/$m.F32.gguf" --type f32 >/dev/null
  mine=$("$run" "$models/$m.onnx" --prompt $prompt --max-new-tokens 16 --quiet | tail -1)
  theirs=$(node "$here/llamacpp_decode.mjs" "$work/$m.F32.gguf" --prompt $prompt --steps 16 --kv f32 |
           node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tokens.join(",")))')
  if [ "$mine" != "$theirs" ]; then
    echo "FAIL $m: llama.cpp F32 tokens $theirs != bmc's $mine"; exit 1
  fi
  echo "ok $m: llama.cpp F32 = bmc: $mine"
done
/usr/bin/python3 "$conv" "$models/llama_op17.onnx" -o "$work/llama_op17.Q8_0.gguf" --type q8_0 >/dev/null
mine=$("$run" "$models/llama_op17.onnx" --prompt $prompt --max-new-tokens 16 --quiet | tail -1)
theirs=$(node "$here/llamacpp_decode.mjs" "$work/llama_op17.Q8_0.gguf" --prompt $prompt --steps 16 --kv f32 |
         node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tokens.join(",")))')
if [ "$(echo "$mine" | cut -d, -f1-4)" != "$(echo "$theirs" | cut -d, -f1-4)" ]; then
  echo "FAIL Q8_0: llama.cpp tokens $theirs do not start as bmc fp32's $mine"; exit 1
fi
echo "ok Q8_0: first tokens agree (llama.cpp $theirs, bmc fp32 $mine)"
rm -f "$work/gpt2.gguf"
if err=$(/usr/bin/python3 "$conv" "$models/gpt2_op17.onnx" -o "$work/gpt2.gguf" 2>&1); then
  echo "FAIL: gguf_convert.py accepted a GPT-2 model"; exit 1
fi
[ "$(echo "$err" | wc -l)" = 1 ] && [[ "$err" == gguf_convert:*gpt2* ]] || { echo "FAIL: refusal was: $err"; exit 1; }
[ ! -e "$work/gpt2.gguf" ] && [ ! -e "$work/gpt2.gguf.tmp" ] || { echo "FAIL: a refused conversion left a file"; exit 1; }
echo "ok refusal: $err"
