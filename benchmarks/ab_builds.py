#!/usr/bin/env python3
"""Decode speed of the code two builds of bmc generate, side by side (the check that a change to the
lowering leaves CPU speed unchanged; issue 14 asks for it after each restructuring step).

For each preset, build A's bmc-compile and build B's each compile the same generated model (kv bmc,
default options) into a package; first both packages must give the same greedy tokens (bmc-run,
24 steps from a fixed prompt: a speed ratio of two programs that compute different things means
nothing); then each round times both with their own build's bmc_bench at every context, in an
order rotated each round, with the read-bandwidth probe (bw_read) run next to each measurement.
Both use one calibration cache (taken once, before timing), so the cost model picks the same r in
both. Reported: ms/token per build (median over rounds), the median of the per-round ratios
B/A (> 1: B is slower) with its min-max, and % of the roofline of each measurement (bytes a step
reads, from bmc_bench, over the probe's bandwidth). Whether the two packages' code is
byte-identical is printed too (then the ratio measures only the noise of this machine).

  benchmarks/ab_builds.py BUILD_A BUILD_B [--presets llama-25m,gpt2-25m] [--contexts 256,1024]
                          [--window 64] [--threads 1] [--rounds 5] [--name-a TEXT] [--name-b TEXT] [--out DIR]

BUILD_A / BUILD_B: build folders holding bin/bmc-compile, bin/bmc-run and bin/bmc_bench (e.g. a
build of the commit before a change and one of the change). Writes DIR/ab_<preset>.md and .json
(DIR: benchmarks/results). Run it on a quiet machine: it says the load average it saw.
"""
import argparse
import filecmp
import json
import os
import shutil
import statistics
import sys

import benchlib as bl

PROMPT = "3,14,15,92,65,35,89,79,32,38,46"


def binaries(build):
    b = os.path.join(os.path.abspath(build), "bin")
    for t in ("bmc-compile", "bmc-run", "bmc_bench"):
        if not os.access(os.path.join(b, t), os.X_OK):
            raise bl.BenchError(f"{os.path.join(b, t)} missing: BUILD must be a build folder with bmc-compile, "
                                f"bmc-run and bmc_bench built")
    return b


def compile_pkg(bindir, onnx_path, out):
    if os.path.exists(out):
        os.remove(out)
    bl.run([os.path.join(bindir, "bmc-compile"), onnx_path, "-o", out, "--kv", "bmc"], what="bmc-compile")
    return out


def greedy_tokens(bindir, pkg):
    out, _, _ = bl.run([os.path.join(bindir, "bmc-run"), pkg, "--prompt-ids", PROMPT, "--max-new-tokens", "24",
                        "--ignore-eos"], what="bmc-run")
    return out.strip()


def decode(bindir, pkg, ctx, window, threads, env):
    out, _, _ = bl.run([os.path.join(bindir, "bmc_bench"), pkg, "--context", str(ctx), "--window", str(window),
                        "--kv", "bmc", "--r", "0", "--threads", str(threads)], env=env, what="bmc_bench")
    return bl.last_json(out, "bmc_bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_a")
    ap.add_argument("build_b")
    ap.add_argument("--presets", default="llama-25m,gpt2-25m")
    ap.add_argument("--contexts", default="256,1024")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--name-a", help="what build A is, for the report (e.g. its commit); default: its path")
    ap.add_argument("--name-b", help="what build B is (default: its path)")
    ap.add_argument("--out", default=bl.RESULTS)
    a = ap.parse_args()
    try:
        bins = {"A": binaries(a.build_a), "B": binaries(a.build_b)}
        contexts = [int(c) for c in a.contexts.split(",")]
        if a.rounds < 1 or a.window < 1 or any(c <= a.window for c in contexts):
            raise bl.BenchError("--rounds and --window must be >= 1 and every context larger than the window")
        bw = bl.bw_read_exe()
        os.makedirs(a.out, exist_ok=True)
        for preset in a.presets.split(","):
            run_preset(a, preset, bins, contexts, bw)
    except bl.BenchError as e:
        print(f"ab_builds.py: {e}", file=sys.stderr)
        return 1
    return 0


def run_preset(a, preset, bins, contexts, bw):
    onnx_path = bl.ensure_model(preset)
    work = os.path.join(bl.BENCH_DIR, "ab")
    os.makedirs(work, exist_ok=True)
    pkgs = {k: compile_pkg(b, onnx_path, os.path.join(work, f"{preset}.{k}.bmcpkg")) for k, b in bins.items()}
    identical = filecmp.cmp(pkgs["A"], pkgs["B"], shallow=False)
    toks = {k: greedy_tokens(bins[k], pkgs[k]) for k in bins}
    if toks["A"] != toks["B"]:
        raise bl.BenchError(f"{preset}: the builds' packages give different greedy tokens:\n  A: {toks['A']}\n"
                            f"  B: {toks['B']}")
    bl.log(f"{preset}: packages {'byte-identical' if identical else 'differ'}; greedy tokens equal")
    cache = os.path.join(work, f"calibration-{a.threads}t")
    shutil.rmtree(cache, ignore_errors=True)
    env = {"XDG_CACHE_HOME": cache}
    decode(bins["A"], pkgs["A"], 16, 8, a.threads, env)  # calibrates once, for both
    rows = {(k, c): [] for k in bins for c in contexts}
    load = []
    for rnd in range(a.rounds):
        order = ["A", "B"] if rnd % 2 == 0 else ["B", "A"]
        for c in contexts:
            for k in order:
                gb_s = bl.read_bandwidth(bw, a.threads)
                j = decode(bins[k], pkgs[k], c, a.window, a.threads, env)
                _, roof = bl.bmc_roofline(j, c, a.window, j["ms_per_token"], gb_s)
                rows[(k, c)].append({"ms": j["ms_per_token"], "roofline_pct": roof, "gb_s": gb_s, "r": j.get("r")})
                bl.log(f"{preset} round {rnd + 1} ctx {c} {k}: {j['ms_per_token']:.3f} ms/token, {roof:.0f}% of "
                       f"roofline ({gb_s:.1f} GB/s)")
        load.append(bl.loadavg())
    lines = [f"# A/B decode speed, {preset} (benchmarks/ab_builds.py)", "",
             f"`benchmarks/ab_builds.py {a.build_a} {a.build_b} --presets {preset} --contexts {a.contexts} "
             f"--window {a.window} --threads {a.threads} --rounds {a.rounds}`", "",
             f"A: {a.name_a or a.build_a}. B: {a.name_b or a.build_b}.", "",
             f"Packages: {'byte-identical' if identical else 'different code'}; greedy tokens (24 steps) equal. "
             f"{a.threads} thread(s); load average per round: {', '.join(str(x[0]) for x in load)}.", "",
             "| context | A ms/token | B ms/token | B/A (median, min-max over rounds) | A % roofline | B % roofline |",
             "|---|---|---|---|---|---|"]
    result = {"preset": preset, "identical": identical, "contexts": {}}
    for c in contexts:
        A, B = rows[("A", c)], rows[("B", c)]
        ratios = [b["ms"] / x["ms"] for x, b in zip(A, B)]
        med = lambda xs: statistics.median(xs)
        lines.append(f"| {c} | {med([x['ms'] for x in A]):.3f} | {med([x['ms'] for x in B]):.3f} | "
                     f"{med(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) | "
                     f"{med([x['roofline_pct'] for x in A]):.0f}% | {med([x['roofline_pct'] for x in B]):.0f}% |")
        result["contexts"][str(c)] = {"A": A, "B": B, "ratio_b_over_a": ratios}
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(a.out, f"ab_{preset}.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, f"ab_{preset}.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
