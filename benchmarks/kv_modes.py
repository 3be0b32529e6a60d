#!/usr/bin/python3
"""KV-cache modes side by side: concat (the exported graph), prealloc, and BMC with the cost model's r
and a sweep of fixed r, in both attention padding modes (skip, mask).

One command (builds what it needs, generates the model, writes results):
    benchmarks/kv_modes.py [--preset gpt2-25m] [--contexts 128,512,1024,2048,4096] [--rounds 3]
                           [--kv-types f32,bf16,f16]

--kv-types adds, per reduced KV element type, prealloc and bmc r=auto (skip padding) on a package
compiled with bmc-compile --kv-type TYPE; their roofline counts the KV rows at that element size
(2 bytes), and "vs prealloc" compares them with the fp32 prealloc row.

For every context C and configuration, bmc_bench prefills C - K tokens and times K decode steps
(K = min(--window, C/2); 256 by default, at least the largest fixed r, so that each r pays its copies
inside the window), in its own process (so peak RSS is per configuration). Configurations
run interleaved, round after round; each round rotates their order (and reverses it every other
round), so no configuration always runs first, last, or after the same neighbour.

Bandwidth: benchmarks/bw_read.c (1 thread per kernel thread, 256 MiB) runs before the first
configuration of each context and after every configuration, so each measurement is bracketed by
two probes taken seconds apart; its roofline uses their mean (the "adjacent probe"), not a reading
from minutes away. The table reports, per configuration, the median over rounds of its % of the
roofline and the range of its adjacent probes: a % is only as good as that range.

Before timing, bmc's cost model is calibrated into a cache of this run's own
(BMC_BUILD_DIR/bench/calibration-kv-modes), so no timed process calibrates and r=auto uses
constants measured in this run. bmc_bench also reports CPU ms/token (the process's CPU time over
the window: on a busy machine the wall time includes waiting for a core) and the KV growths inside
the window: a window shorter than r may hold none, and then does not show r's copy cost (marked
in the table).

Results: benchmarks/results/kv_modes_<preset>.{csv,md,json,png}.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import BIN, BENCH_DIR, BenchError, log  # noqa: E402

CAL_DIR = os.path.join(BENCH_DIR, "calibration-kv-modes")
PROBE_MIB = 256
PROBE_STREAMS = "2,4,8"  # bw_read's stream counts; the best one's median is the probe's figure
PROBE_REPS = 5


def packages(onnx, paddings, kv_types=()):
    """Packages compiled for this run's modes: bmc (skip padding), bmc-mask, concat, bmc.<type> (skip padding,
    reduced KV element type)."""
    compiler = os.path.join(BIN, "bmc-compile")
    pk = {}
    wanted = [("concat", ["--kv", "concat"])] + [
        ("bmc" if p == "skip" else "bmc-mask", ["--kv", "bmc", "--kv-padding", p]) for p in paddings] + [
        (f"bmc.{t}", ["--kv", "bmc", "--kv-type", t]) for t in kv_types if t != "f32"]
    for key, args in wanted:
        path = os.path.join(BENCH_DIR, f"{os.path.basename(onnx)[:-5]}.{key}.bmcpkg")
        if not os.path.exists(path) or os.path.getmtime(path) < max(os.path.getmtime(compiler), os.path.getmtime(onnx)):
            log(f"compiling {path}")
            bl.run([compiler, onnx, "-o", path, "--quiet", *args])
        pk[key] = path
    return pk


def calibrate(pkg, threads):
    shutil.rmtree(CAL_DIR, ignore_errors=True)
    bl.run([os.path.join(BIN, "bmc_bench"), pkg, "--context", "16", "--window", "8", "--threads", str(threads)],
           env={"XDG_CACHE_HOME": CAL_DIR}, what="bmc_bench (calibration)")
    path = os.path.join(CAL_DIR, "bmc", f"calibration-{threads}t")
    if not os.path.exists(path):
        raise BenchError(f"bmc_bench did not write its calibration to {path}")
    with open(path) as f:
        return dict(line.rstrip("\n").split(" ", 1) for line in f if " " in line)


def probe(exe, threads):
    out, _, _ = bl.run([exe, "--threads", str(threads), "--mb", str(PROBE_MIB), "--streams", PROBE_STREAMS,
                        "--reps", str(PROBE_REPS)])
    return bl.last_json(out, "bw_read")[f"read_gb_s_{threads}thread"]


def bench(pkg, ctx, window, kv, r, threads, kvt="f32"):
    cmd = [os.path.join(BIN, "bmc_bench"), pkg, "--context", str(ctx), "--window", str(window), "--kv", kv,
           "--r", str(r), "--threads", str(threads)]
    out, rss, _ = bl.run(cmd, env={"XDG_CACHE_HOME": CAL_DIR})
    j = bl.last_json(out, "bmc_bench")
    if j["kv_mode"] != kv:
        raise BenchError(f"bmc_bench ran kv mode {j['kv_mode']}, expected {kv}: {' '.join(cmd)}")
    if j.get("kv_type", "f32") != kvt:
        raise BenchError(f"bmc_bench ran KV type {j.get('kv_type')}, expected {kvt}: {' '.join(cmd)}")
    j["rss_wait4_mb"] = rss
    return j


KV_ELEM_BYTES = {"f32": 4, "bf16": 2, "f16": 2}


def configurations(sweep, paddings, kv_types=("f32",)):
    """(name, package key, kv mode, r, padding, kv type); r = 0: the cost model's."""
    cs = [("concat", "concat", "concat", 0, "-", "f32")]
    if "skip" in paddings:
        cs += [("prealloc", "bmc", "prealloc", 0, "skip", "f32"), ("bmc r=auto", "bmc", "bmc", 0, "skip", "f32")]
        cs += [(f"bmc r={r}", "bmc", "bmc", r, "skip", "f32") for r in sweep]
    if "mask" in paddings:
        cs += [("prealloc mask", "bmc-mask", "prealloc", 0, "mask", "f32"),
               ("bmc mask r=auto", "bmc-mask", "bmc", 0, "mask", "f32")]
    for t in kv_types:
        if t != "f32":
            cs += [(f"prealloc {t}", f"bmc.{t}", "prealloc", 0, "skip", t),
                   (f"bmc r=auto {t}", f"bmc.{t}", "bmc", 0, "skip", t)]
    return cs


def round_order(configs, rnd, rounds):
    """Rotated by a stride that spreads the rounds over the list, reversed every other round."""
    n = len(configs)
    k = (rnd * max(1, n // max(rounds, 1))) % n
    order = configs[k:] + configs[:k]
    return order[::-1] if rnd % 2 else order


def med(xs):
    return statistics.median(list(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="gpt2-25m")
    ap.add_argument("--contexts", default="128,512,1024,2048,4096")
    ap.add_argument("--sweep", default="16,64,256", help="fixed r values for bmc, skip padding (r=auto is always run)")
    ap.add_argument("--paddings", default="skip,mask", help="attention padding modes to run: skip, mask or both")
    # 256: at least the sweep's largest r, so that each fixed r grows its buffers inside the window (a 128-step
    # window held no growth at all for r=256, which then looked as fast as prealloc).
    ap.add_argument("--window", type=int, default=256, help="decode steps timed, ending at the context (at most C/2)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kv-types", default="f32", help="KV element types: f32 plus any of bf16, f16 (skip padding)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in BMC_BUILD_DIR")
    ap.add_argument("--out", default=bl.RESULTS)
    a = ap.parse_args()
    try:
        contexts = [int(c) for c in a.contexts.split(",") if c]
        sweep = [int(r) for r in a.sweep.split(",") if r]
    except ValueError:
        sys.exit(f"kv_modes.py: --contexts and --sweep take comma-separated integers, found '{a.contexts}', '{a.sweep}'")
    paddings = [p for p in a.paddings.split(",") if p]
    kv_types = [t for t in a.kv_types.split(",") if t]
    if not kv_types or any(t not in KV_ELEM_BYTES for t in kv_types):
        sys.exit(f"kv_modes.py: --kv-types: expected a list of f32, bf16, f16, found '{a.kv_types}'")
    if any(t != "f32" for t in kv_types) and "skip" not in paddings:
        sys.exit("kv_modes.py: --kv-types bf16/f16 run with skip padding: include skip in --paddings")
    if not paddings or any(p not in ("skip", "mask") for p in paddings):
        sys.exit(f"kv_modes.py: --paddings: expected skip, mask or skip,mask, found '{a.paddings}'")
    if not contexts or min(contexts) < 4 or max(contexts) > 4096:
        sys.exit(f"kv_modes.py: --contexts: expected values in [4, 4096], found '{a.contexts}'")
    if any(r < 1 for r in sweep) or a.window < 2 or a.rounds < 1 or a.threads < 1:
        sys.exit("kv_modes.py: --sweep values, --window (>= 2), --rounds and --threads must be positive")

    if not a.no_build:
        bl.ensure_build(("bmc_bench", "bmc-compile"))
    bl.check_binaries(("bmc_bench", "bmc-compile"))
    onnx = bl.ensure_model(a.preset)
    pkgs = packages(onnx, paddings, kv_types)
    mb = bl.model_bytes(onnx)
    weights_read_mb = mb["weight_bytes"] / 1e6
    exe = bl.bw_read_exe()
    log(f"calibrating bmc's cost model ({a.threads} thread(s)) into {CAL_DIR}")
    calibration = calibrate(pkgs["bmc" if "skip" in paddings else "bmc-mask"], a.threads)
    configs = configurations(sweep, paddings, kv_types)
    machine = bl.machine_info()
    windows = {c: min(a.window, c // 2) for c in contexts}

    raw = []
    for rnd in range(a.rounds):
        order = round_order(configs, rnd, a.rounds)
        log(f"round {rnd + 1}/{a.rounds}: {', '.join(c[0] for c in order)}; load {bl.loadavg()}")
        for ctx in contexts:
            before = probe(exe, a.threads)
            for name, pk, kv, r, padding, kvt in order:
                j = bench(pkgs[pk], ctx, windows[ctx], kv, r, a.threads, kvt)
                after = probe(exe, a.threads)
                raw.append(dict(j, round=rnd, context=ctx, config=name, padding=padding, kv_type=kvt, bw_before=before,
                                bw_after=after))
                log(f"  context {ctx:5d} {name:16s} {j['ms_per_token']:8.3f} ms/token (CPU {j['cpu_ms_per_token']:7.3f}) "
                    f"r {j['r']:5d}, {j['kv_growths_in_window']:4d} growths in window, probe {before:.1f}/{after:.1f} GB/s")
                before = after

    # ---- aggregate ------------------------------------------------------------------------------
    def roof_ms(ctx, bw, kvt="f32"):
        # rows read by a step, the window's middle; kv_row_bytes counts fp32 elements
        kv_read = mb["kv_row_bytes"] * KV_ELEM_BYTES[kvt] / 4 * (ctx - windows[ctx] / 2)
        return (mb["weight_bytes"] + kv_read) / (bw * 1e9) * 1e3

    def of(name, ctx, rnd):
        return next(x for x in raw if (x["config"], x["context"], x["round"]) == (name, ctx, rnd))

    rows = []
    for ctx in contexts:
        for name, pk, kv, r, padding, kvt in configs:
            rs = [x for x in raw if (x["config"], x["context"]) == (name, ctx)]
            probes = [p for x in rs for p in (x["bw_before"], x["bw_after"])]
            pct = [100 * roof_ms(ctx, (x["bw_before"] + x["bw_after"]) / 2, kvt) / x["ms_per_token"] for x in rs]
            base = "prealloc mask" if padding == "mask" else "prealloc"
            vs_pre = None
            if base in (c[0] for c in configs):
                vs_pre = med(of(base, ctx, x["round"])["ms_per_token"] / x["ms_per_token"] for x in rs)
                vs_pre_cpu = med(of(base, ctx, x["round"])["cpu_ms_per_token"] / x["cpu_ms_per_token"] for x in rs)
            ms = med(x["ms_per_token"] for x in rs)
            rows.append(dict(
                context=ctx, config=name, padding=padding, kv_type=kvt, window=windows[ctx],
                ms_per_token=round(ms, 4), cpu_ms_per_token=round(med(x["cpu_ms_per_token"] for x in rs), 4),
                tok_s=round(1000 / ms, 2),
                vs_concat=round(med(of("concat", ctx, x["round"])["ms_per_token"] / x["ms_per_token"] for x in rs), 3),
                vs_prealloc=round(vs_pre, 3) if vs_pre else None,
                vs_prealloc_cpu=round(vs_pre_cpu, 3) if vs_pre else None,
                pct_roofline=round(med(pct), 1), pct_roofline_min=round(min(pct), 1), pct_roofline_max=round(max(pct), 1),
                probe_gb_s=round(med(probes), 2), probe_gb_s_min=round(min(probes), 2), probe_gb_s_max=round(max(probes), 2),
                roofline_tok_s=round(1000 / roof_ms(ctx, med(probes), kvt), 2),
                r_last=rs[0]["r"], growths_in_window=med(x["kv_growths_in_window"] for x in rs),
                kv_alloc_peak_mb=round(max(x["kv_alloc_peak_mb"] for x in rs), 3), kv_used_mb=round(rs[0]["kv_used_mb"], 3),
                rss_peak_mb=round(max(x["rss_wait4_mb"] for x in rs), 1),
                anon_huge_mb=max(x["anon_huge_mb"] for x in rs),
                involuntary_switches=med(x["involuntary_switches"] for x in rs)))

    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"kv_modes_{a.preset}")
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    command = "benchmarks/kv_modes.py " + " ".join(sys.argv[1:])
    with open(stem + ".json", "w") as f:
        json.dump(dict(command=command, machine=machine, calibration=calibration, model=mb, windows=windows,
                       configs=[c[0] for c in configs], rows=rows, raw=raw), f, indent=1)
    all_probes = [p for x in raw for p in (x["bw_before"], x["bw_after"])]
    with open(stem + ".md", "w") as f:
        f.write(
            f"KV-cache modes, {a.preset}, {a.threads} thread(s), median of {a.rounds} interleaved round(s), configuration "
            f"order rotated each round (bmc {machine['bmc_commit']}"
            f"{' with uncommitted changes' if machine['bmc_worktree_dirty'] else ''}, {machine['date']}; `{command}`); "
            f"decode window min({a.window}, C/2) tokens ending at the context C; weights read per token "
            f"{weights_read_mb:.1f} MB (from the ONNX file). Read bandwidth: benchmarks/bw_read.c ({a.threads} thread(s), "
            f"{PROBE_MIB} MiB) before and after every configuration; each measurement's roofline uses the mean of its two "
            f"adjacent probes. All probes of the run: {min(all_probes):.1f}-{max(all_probes):.1f} GB/s, median "
            f"{med(all_probes):.1f}. Ratios are medians of per-round ratios (> 1: faster than the reference).\n\n")
        f.write("| context | config | ms/token | CPU ms/token | vs concat | vs prealloc | % of roofline (min-max) "
                "| adjacent probes GB/s (min-max) | r | KV growths in window | KV MB allocated (peak) | KV MB used "
                "| peak RSS MB |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        for x in rows:
            vp = f"{x['vs_prealloc']:.3f}x" if x["vs_prealloc"] else "-"
            r = x["r_last"] if x["config"].startswith("bmc") else "-"
            growths = f"{x['growths_in_window']:g}"
            if x["config"].startswith("bmc") and x["growths_in_window"] == 0:
                growths += " (none: r's copy cost is not in this row)"
            f.write(f"| {x['context']} | {x['config']} | {x['ms_per_token']:.3f} | {x['cpu_ms_per_token']:.3f} | "
                    f"{x['vs_concat']:.2f}x | {vp} | {x['pct_roofline']:.0f}% ({x['pct_roofline_min']:.0f}-"
                    f"{x['pct_roofline_max']:.0f}) | {x['probe_gb_s']:.1f} ({x['probe_gb_s_min']:.1f}-{x['probe_gb_s_max']:.1f}) "
                    f"| {r} | {growths} | {x['kv_alloc_peak_mb']:.2f} | {x['kv_used_mb']:.2f} | {x['rss_peak_mb']:.0f} |\n")
        f.write(f"\n`vs prealloc` compares with prealloc of the same padding mode (mask configurations with "
                f"`prealloc mask`, whose buffer holds exactly the context, as bmc_bench sizes it). `r` is the last "
                f"reallocation's (r=auto: the cost model's at that context, from this run's calibration: read "
                f"{float(calibration.get('read_bytes_per_second', 0)) / 1e9:.1f} GB/s, copy "
                f"{float(calibration.get('copy_bytes_per_second', 0)) / 1e9:.1f} GB/s). A bmc row whose window held no "
                f"growth (marked; r above the window) shows decode without any reallocation, not r's amortised cost. "
                f"Rows named bf16/f16 use KV caches of that type (bmc-compile --kv-type): their roofline counts 2-byte "
                f"KV elements and `vs prealloc` compares them with fp32 prealloc.\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        for name, *_ in configs:
            xs = [x for x in rows if x["config"] == name]
            ax[0].plot([x["context"] for x in xs], [x["tok_s"] for x in xs], marker="o", label=name)
            ax[1].plot([x["context"] for x in xs], [x["kv_alloc_peak_mb"] for x in xs], marker="o", label=name)
        rf = [x for x in rows if x["config"] == "concat"]
        ax[0].plot([x["context"] for x in rf], [x["roofline_tok_s"] for x in rf], "k--", label="bandwidth roofline")
        ax[0].set_xlabel("context"); ax[0].set_ylabel("decode tokens/s"); ax[0].set_xscale("log", base=2); ax[0].legend(fontsize=7)
        ax[1].set_xlabel("context"); ax[1].set_ylabel("KV MB allocated (peak)"); ax[1].set_xscale("log", base=2)
        fig.suptitle(f"bmc KV-cache modes, {a.preset}")
        fig.tight_layout()
        fig.savefig(stem + ".png", dpi=110)
    except ImportError:
        log("matplotlib is missing (apt-get install python3-matplotlib): no plot written")
    print(open(stem + ".md").read())


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"kv_modes.py: error: {e}")
