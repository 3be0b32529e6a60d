#!/usr/bin/env bash
# Installs what bmc needs to build and test on Debian 12 (bookworm), idempotently.
# Run as root (or with sudo available). Safe to run again: it installs only what is missing.
set -euo pipefail

pkgs=(cmake ninja-build ccache clang-19 lld-19 llvm-19-dev llvm-19-tools mlir-19-tools libmlir-19-dev
      libonnx-dev libprotobuf-dev protobuf-compiler libxbyak-dev libgtest-dev libgmock-dev
      libonnx-testdata python3-onnx python3-numpy nodejs npm
      libpcre2-dev nlohmann-json3-dev libicu-dev pkg-config libsentencepiece-dev  # the tokenizer (runtime/tokenizer)
      libcpp-httplib-dev haproxy curl  # bmc-serve (serve/) and its scale-out test
      libclang-rt-19-dev)  # libclang-rt: sanitizer runtimes and libFuzzer (.ci/sanitize.sh)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node from elsewhere (e.g. the machine image) is fine for the test peers.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
echo "setup: system packages ready"
