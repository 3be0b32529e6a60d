#!/usr/bin/env bash
# tune_run.sh BMC_TUNE MODEL.onnx WORKDIR: short functional runs of bmc-tune's
# measured sweeps on a tiny model. (1) Speculative decoding over (r, k) with
# every draft kept (acceptance rate 1): each pass must yield k + 1 tokens
# (bmc-tune itself checks every token against greedy decoding); (2) with
# acceptance 0, one token per pass; (3) a batch of 2 without drafts (its
# weights packed by 2 threads: --pack-threads is taken).
set -u
tune="$1" model="$2" work="$3"
mkdir -p "$work"
fail() { echo "tune_run.sh: $*" >&2; exit 1; }
[ -f "$model" ] || fail "$model is missing (built by the bmc_e2e_models target: ninja bmc_e2e_models)"
common=(--context 160 --prompt-len 32 --sweep 4,32 --rounds 1 --threads 1 --cpu-time)

"$tune" "$model" "${common[@]}" --spec-k 1,3 --accept-rate 1 --csv "$work/a1.csv" > "$work/a1.txt" 2>/dev/null ||
  fail "the run with --spec-k 1,3 --accept-rate 1 failed: $(cat "$work/a1.txt")"
grep -q '^chosen (r, k) = ([0-9]*, [0-9]*) measures .* of best$' "$work/a1.txt" || fail "no 'chosen (r, k)' line"
grep -q '^k = 3: the model.s r = ' "$work/a1.txt" || fail "no line for k = 3"
grep -q '^chosen r = ' "$work/a1.txt" || fail "no sweep without drafts (--spec-only not given)"
# k = 1: 2 tokens a pass over 128 tokens; k = 3: 4 a pass. r = 4 < k + 1 = 4 is left out for k = 3.
awk -F, 'NR > 1 && $10 > 0 {
  n++; want = $10 + 1
  if ($12 < want - 0.05 || $12 > want) { print "tokens per pass " $12 " at r = " $3 ", k = " $10 ", expected ~" want; bad = 1 }
  if ($6 <= 0) { print "no measured speed at r = " $3; bad = 1 }
  if ($10 == 3 && $3 < 4) { print "r = " $3 " cannot hold k + 1 = 4 rows"; bad = 1 }
} END { if (n < 4) { print "expected >= 4 speculative rows, found " n; bad = 1 } exit bad }' "$work/a1.csv" ||
  fail "$work/a1.csv: wrong speculative rows"

"$tune" "$model" "${common[@]}" --spec-k 2 --accept-rate 0 --spec-only --csv "$work/a0.csv" > "$work/a0.txt" 2>/dev/null ||
  fail "the run with --accept-rate 0 failed: $(cat "$work/a0.txt")"
grep -q '^chosen r = ' "$work/a0.txt" && fail "--spec-only ran the sweep without drafts"
# (the grid holds k = 2 and the model's k, 1 at acceptance 0)
awk -F, 'NR > 1 { n++; if ($10 < 1 || $12 != 1) { print "row " NR ": k " $10 ", tokens per pass " $12 ", expected 1"; bad = 1 } }
  END { exit bad || n < 2 }' "$work/a0.csv" || fail "$work/a0.csv: expected one token per pass"

"$tune" "$model" "${common[@]}" --batch 2 --pack-threads 2 --csv "$work/b2.csv" > "$work/b2.txt" 2>/dev/null ||
  fail "the run with --batch 2 failed: $(cat "$work/b2.txt")"
grep -q 'bytes per row (batch 2)' "$work/b2.txt" || fail "the batch is not reported"
awk -F, 'NR > 1 { n++; if ($9 != 2 || $10 != 0 || $6 <= 0) { print "row " NR ": " $0; bad = 1 } } END { exit bad || n < 2 }' \
  "$work/b2.csv" || fail "$work/b2.csv: expected batch 2 rows without drafts"
echo "tune_run.sh: ok"
