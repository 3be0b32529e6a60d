#!/usr/bin/env bash
# Configures and builds bmc into ./build (Release, clang-19 + lld, ninja, ccache).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BMC_BUILD_DIR:-$root/build}"
# ccache hits across clones in different folders (paths are hashed relative to the root).
export CCACHE_BASEDIR="$root"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir
fi
ninja -C "$build" "$@"
