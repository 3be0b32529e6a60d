#!/usr/bin/env bash
# Installs node-llama-cpp 3.21.1 (llama.cpp's prebuilt CPU binaries ship inside its npm packages)
# into benchmarks/llamacpp/node_modules. Idempotent. Its postinstall step (which may try to build
# or download other variants) is skipped: the prebuilt linux-x64 CPU build is all the peer uses.
set -euo pipefail
cd "$(dirname "$0")"
want=$(node -p "require('./package.json').dependencies['node-llama-cpp']")
check() {
  [ "$(node -p "require('./node_modules/node-llama-cpp/package.json').version" 2>/dev/null)" = "$want" ] &&
    [ -d node_modules/@node-llama-cpp/linux-x64 ]
}
command -v node >/dev/null || { echo "llamacpp/setup.sh: node is not installed (need Node.js >= 20 and npm)" >&2; exit 1; }
check && exit 0
echo "llamacpp/setup.sh: installing node-llama-cpp $want into $(pwd)/node_modules" >&2
npm install --ignore-scripts --no-audit --no-fund >&2 || { echo "llamacpp/setup.sh: npm install failed (is the npm registry reachable?)" >&2; exit 1; }
check || { echo "llamacpp/setup.sh: node-llama-cpp $want installed without its linux-x64 prebuilt binaries" >&2; exit 1; }
