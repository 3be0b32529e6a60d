#!/usr/bin/env bash
# The SDK as a user gets it: `cmake --install` into a fresh prefix, then a
# separate project (tests/sdk/consumer) configured with find_package(bmc) and
# a pkg-config build, both against the installed tree only, compared token
# for token with the installed bmc-run.
#   check_install.sh BUILD_DIR SOURCE_DIR MODEL.onnx
# The prefix is a fresh temporary folder outside the build tree (removed
# afterwards unless a check failed).
set -euo pipefail
build=$(cd "$1" && pwd) src=$2 model=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/bmc-sdk.XXXXXX")
fail() { echo "check_install: $* (files kept in $work)" >&2; exit 1; }
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || fail "cmake --install failed (see $work/install.log)"

# Every library and tool resolves its libraries, none from the build tree.
for f in "$prefix"/lib/libbmc_*.so "$prefix"/bin/bmc-*; do
  deps=$(ldd "$f") || fail "ldd $f failed"
  if grep -q "not found" <<<"$deps"; then fail "$f: unresolved: $(grep 'not found' <<<"$deps" | tr -s ' \t' ' ')"; fi
  if grep -q "$build" <<<"$deps"; then fail "$f: loads from the build tree: $(grep "$build" <<<"$deps" | tr -s ' \t' ' ')"; fi
  rpath=$(readelf -d "$f" | grep -E 'R(UN)?PATH' || true)
  if grep -q "$build" <<<"$rpath"; then fail "$f: run path names the build tree: $rpath"; fi
  outside=$(grep "libbmc" <<<"$deps" | grep -v "=> $prefix/" || true)
  if [ -n "$outside" ]; then fail "$f: bmc libraries not from the prefix: $(tr -s ' \t' ' ' <<<"$outside")"; fi
done
for h in compiler.h model.h session.h tokenizer.h model_folder.h status.h tensor.h; do
  [ -f "$prefix/include/bmc/$h" ] || fail "include/bmc/$h is not installed"
done

export XDG_CACHE_HOME="$work/xdg-cache"
prompt=5,17,300,42
want=$("$prefix/bin/bmc-run" "$model" --prompt "$prompt" --max-new-tokens 8 --quiet)
[ -n "$want" ] || fail "the installed bmc-run printed nothing"

# CMake: find_package(bmc) with nothing but the prefix.
cmake -S "$src/tests/sdk/consumer" -B "$work/consumer" -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/consumer-configure.log" 2>&1 ||
  fail "configuring the consumer failed: $(tail -5 "$work/consumer-configure.log")"
ninja -C "$work/consumer" >"$work/consumer-build.log" 2>&1 || fail "building the consumer failed: $(tail -5 "$work/consumer-build.log")"
if grep -rq "$build" "$work/consumer/build.ninja"; then fail "the consumer's build names the bmc build tree"; fi
got=$("$work/consumer/consumer_jit" "$model" "$prompt" 8) || fail "consumer_jit failed"
[ "$got" = "$want" ] || fail "consumer_jit: $got, bmc-run: $want"
# (ldd's output is captured first: with pipefail, `ldd | grep -q` fails at random when grep
# exits before ldd has written everything.)
deps=$(ldd "$work/consumer/consumer_jit")
grep -q "$prefix/lib/libbmc_compiler.so" <<<"$deps" || fail "consumer_jit does not load the installed libbmc_compiler.so"

"$prefix/bin/bmc-compile" "$model" -o "$work/m.bmcpkg" --quiet || fail "the installed bmc-compile failed"
got=$("$work/consumer/consumer_runtime" "$work/m.bmcpkg" "$prompt" 8) || fail "consumer_runtime failed"
[ "$got" = "$want" ] || fail "consumer_runtime: $got, bmc-run: $want"
deps=$(ldd "$work/consumer/consumer_runtime")
if grep -q libbmc_compiler <<<"$deps"; then fail "consumer_runtime links the compiler"; fi

# pkg-config: the same program, runtime only.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs bmc) || fail "pkg-config bmc failed"
clang++-19 -std=c++17 -DCONSUMER_RUNTIME_ONLY "$src/tests/sdk/consumer/main.cpp" $flags -o "$work/pc_runtime" ||
  fail "building with pkg-config bmc failed"
got=$("$work/pc_runtime" "$work/m.bmcpkg" "$prompt" 8) || fail "pc_runtime failed"
[ "$got" = "$want" ] || fail "pc_runtime: $got, bmc-run: $want"
flags=$(pkg-config --cflags --libs bmc-compiler) || fail "pkg-config bmc-compiler failed"
clang++-19 -std=c++17 "$src/tests/sdk/consumer/main.cpp" $flags -o "$work/pc_jit" || fail "building with pkg-config bmc-compiler failed"
got=$("$work/pc_jit" "$model" "$prompt" 8) || fail "pc_jit failed"
[ "$got" = "$want" ] || fail "pc_jit: $got, bmc-run: $want"
echo "check_install: installed SDK at $prefix: find_package(bmc) and pkg-config consumers give $want"
rm -rf "$work"
