#!/bin/sh
# Runs the README's example program on a model and checks that it exits 0
# and prints a line of 16 token ids.
#   check_example.sh EXAMPLE_BINARY MODEL.onnx
set -u
out=$("$1" "$2" 5 6 7) || { echo "check_example: $1 exited with status $?" >&2; exit 1; }
echo "$out"
if ! printf '%s\n' "$out" | grep -Eq '^([0-9]+ ){16}$'; then
  echo "check_example: expected one line of 16 token ids, found: '$out'" >&2
  exit 1
fi
