#!/usr/bin/env bash
# Checks that ort_decode.mjs reproduces the recorded onnxruntime greedy tokens (golden.json,
# `ort_greedy`) of the real HuggingFace exports, token for token. Exit 0 only if all match.
# Usage: check_golden.sh [MODELS_DIR]   (default /work/shared/models/hf)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/work/shared/models/hf}
"$here/setup.sh"

fail=0
for name in llama_s gpt2_s; do
  prompt=$(node -p "require('$dir/golden.json')['$name'].prompt.join(',')")
  steps=$(node -p "require('$dir/golden.json')['$name'].ort_greedy.length")
  got=$(node "$here/ort_decode.mjs" "$dir/$name.onnx" --prompt "$prompt" --steps "$steps" --batch 2)
  if node -e "
      const want = require('$dir/golden.json')['$name'].ort_greedy;
      const r = JSON.parse(process.argv[1]);
      const ok = r.batch_rows_agree && JSON.stringify(r.tokens) === JSON.stringify(want);
      if (!ok) console.error('  want ' + want + '\n  got  ' + r.tokens + (r.batch_rows_agree ? '' : ' (batch rows differ)'));
      process.exit(ok ? 0 : 1);" "$got"; then
    echo "PASS $name ($steps tokens)"
  else
    echo "FAIL $name"
    fail=1
  fi
done
exit $fail
