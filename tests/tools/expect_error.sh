#!/usr/bin/env bash
# expect_error.sh MESSAGE COMMAND [ARGS...]: passes when COMMAND exits non-zero
# and prints exactly one line, containing MESSAGE (a fixed string).
set -u
msg="$1"
shift
out="$("$@" 2>&1)"
rc=$?
printf '%s\n' "$out"
if [ "$rc" -eq 0 ]; then echo "expect_error.sh: exit status 0, expected an error" >&2; exit 1; fi
if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then echo "expect_error.sh: expected a one-line error" >&2; exit 1; fi
if ! printf '%s\n' "$out" | grep -qF -- "$msg"; then echo "expect_error.sh: missing '$msg'" >&2; exit 1; fi
