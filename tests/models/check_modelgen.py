#!/usr/bin/python3
"""Generates every family x preset x exporter style and decodes each in onnxruntime.

Per model it checks that onnxruntime runs it, that batch rows agree, that step-by-step decoding
with the KV cache matches one prefill over the same tokens (catches mask/position/cache bugs in
the generator), and that greedy output is varied (not collapsed to a token or a short loop).
The two exporter styles share weights, so opset 17 and 18 of one family and preset must also
produce the same tokens.

  check_modelgen.py [--families gpt2,llama] [--presets tiny,gpt2-25m,llama-25m] [--opsets 17,18,23]
                    [--steps 64] [--keep DIR]
Needs tests/peers/setup.sh to have been run (it is run here if node_modules is missing).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "..", "peers")
sys.path.insert(0, HERE)
from modelgen.families import BUILDERS  # noqa: E402

PROMPT = "11,42,7,300,5,99"
MIN_DISTINCT = 8  # over all steps
MIN_DISTINCT_TAIL = 4  # over the second half: a 1-3 token loop counts as collapsed


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def check_one(family, preset, opset, steps, out_dir, extra):
    path = os.path.join(out_dir, f"{family}_{preset}_op{opset}.onnx")
    t0 = time.time()
    run([sys.executable, os.path.join(HERE, "bmc_modelgen.py"), "-q", "--preset", preset, "--family", family,
         "--opset", str(opset), "-o", path] + extra)
    gen_s = time.time() - t0
    r = json.loads(run(["node", os.path.join(PEERS, "ort_decode.mjs"), path, "--prompt", PROMPT,
                        "--steps", str(steps), "--batch", "2", "--check-prefill"]).stdout)
    tokens = r["tokens"]
    pc = r["prefill_check"]
    problems = []
    if not r["batch_rows_agree"]:
        problems.append("batch rows differ")
    if pc["argmax_agree"] != pc["positions"] or pc["max_abs_diff"] > 1e-3 * max(1.0, pc["max_abs_logit"]):
        problems.append(f"cache vs prefill: {pc['argmax_agree']}/{pc['positions']} argmax, max diff {pc['max_abs_diff']:.2e}")
    distinct, tail = len(set(tokens)), len(set(tokens[len(tokens) // 2:]))
    if distinct < MIN_DISTINCT or tail < MIN_DISTINCT_TAIL:
        problems.append(f"collapsed greedy output ({distinct} distinct, {tail} in the second half)")
    return dict(family=family, preset=preset, opset=opset, ok=not problems, problems=problems,
                distinct=distinct, tail=tail, gen_s=gen_s, ms_per_token=r["ms_per_token"],
                max_diff=pc["max_abs_diff"], tokens=tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default=",".join(BUILDERS))
    p.add_argument("--presets", default="tiny,gpt2-25m,llama-25m")
    p.add_argument("--opsets", default="17,18,23")
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--keep", help="write the models here instead of a temporary directory")
    p.add_argument("--random-norms", action="store_true", help="pass --random-norms to the generator")
    a = p.parse_args()
    subprocess.run([os.path.join(PEERS, "setup.sh")], check=True)
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    tmp = None if a.keep else tempfile.TemporaryDirectory(prefix="bmc_modelgen_")
    out_dir = a.keep or tmp.name
    failed = 0
    print(f"{'family':8} {'preset':10} {'opset':5} {'result':6} {'distinct':>8} {'tail':>4} {'cache diff':>10} "
          f"{'ms/tok':>7}  first tokens")
    for family in a.families.split(","):
        for preset in a.presets.split(","):
            seen = {}  # opset -> tokens
            for opset in (int(o) for o in a.opsets.split(",")):
                try:
                    r = check_one(family, preset, opset, a.steps, out_dir, ["--random-norms"] if a.random_norms else [])
                except subprocess.CalledProcessError as e:
                    failed += 1
                    print(f"{family:8} {preset:10} {opset:5} FAIL   {e.stderr.strip().splitlines()[-1:]}")
                    continue
                if seen and r["tokens"] != next(iter(seen.values())):
                    r["ok"] = False
                    r["problems"].append(f"tokens differ from opset {next(iter(seen))}")
                seen[opset] = r["tokens"]
                failed += not r["ok"]
                print(f"{family:8} {preset:10} {opset:5} {'ok' if r['ok'] else 'FAIL':6} {r['distinct']:8} "
                      f"{r['tail']:4} {r['max_diff']:10.1e} {r['ms_per_token']:7.2f}  {r['tokens'][:10]}"
                      + ("" if r["ok"] else "  " + "; ".join(r["problems"])), flush=True)
    if failed:
        print(f"{failed} model(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
