#!/bin/sh
# Runs the README's example program on a model and checks that it exits 0,
# prints a line of 16 token ids, the same 16 ids again from speculative
# decoding, and its statistics.
#   check_example.sh EXAMPLE_BINARY MODEL.onnx
set -u
out=$("$1" "$2" 5 6 7) || { echo "check_example: $1 exited with status $?" >&2; exit 1; }
echo "$out"
first=$(printf '%s\n' "$out" | sed -n 1p)
second=$(printf '%s\n' "$out" | sed -n 2p)
if ! printf '%s\n' "$first" | grep -Eq '^([0-9]+ ){16}$'; then
  echo "check_example: expected a first line of 16 token ids, found: '$out'" >&2
  exit 1
fi
if [ "$first" != "$second" ]; then
  echo "check_example: speculative decoding gave other tokens: '$second' vs '$first'" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | sed -n 3p | grep -Eq '^[0-9.]+ tokens per pass, [0-9]+% of drafts accepted$'; then
  echo "check_example: expected the speculative statistics on the third line, found: '$out'" >&2
  exit 1
fi
