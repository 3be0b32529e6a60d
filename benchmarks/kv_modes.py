#!/usr/bin/python3
"""KV-cache modes side by side: concat (the exported graph), prealloc, and BMC with a sweep of r.

One command (builds what it needs, generates the model, writes results):
    benchmarks/kv_modes.py [--preset gpt2-25m] [--contexts 128,512,1024,2048,4096]

For every context C and configuration, bmc_bench prefills C - W tokens and times W decode steps
(W = --window), in its own process (so peak RSS is per configuration). Configurations run
interleaved, round after round; the table reports the median over rounds. Results go to
benchmarks/results/kv_modes_<preset>.{csv,md,png}.
"""
import argparse, csv, json, os, shutil, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BMC_BUILD_DIR", os.path.join(ROOT, "build"))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def ensure_build():
    subprocess.run([os.path.join(ROOT, ".ci", "build.sh"), "bmc-compile", "bmc_bench"], check=True)


def ensure_model(preset):
    d = os.path.join(BUILD, "bench")
    os.makedirs(d, exist_ok=True)
    onnx = os.path.join(d, preset + ".onnx")
    if not os.path.exists(onnx):
        print(f"generating {onnx}", file=sys.stderr)
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "models", "bmc_modelgen.py"),
                        "--preset", preset, "-o", onnx], check=True)
    pk = {}
    for kv in ("bmc", "concat"):
        p = os.path.join(d, f"{preset}.{kv}.bmcpkg")
        if not os.path.exists(p) or os.path.getmtime(p) < os.path.getmtime(os.path.join(BUILD, "bin", "bmc-compile")):
            subprocess.run([os.path.join(BUILD, "bin", "bmc-compile"), onnx, "-o", p, "--kv", kv, "--quiet"], check=True)
        pk[kv] = p
    return onnx, pk


def bench(pkg, ctx, window, kv, r, threads):
    cmd = [os.path.join(BUILD, "bin", "bmc_bench"), pkg, "--context", str(ctx), "--window", str(window),
           "--kv", kv, "--r", str(r), "--threads", str(threads)]
    return json.loads(sh(cmd).strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="gpt2-25m")
    ap.add_argument("--contexts", default="128,512,1024,2048,4096")
    ap.add_argument("--sweep", default="16,64,256", help="fixed r values for bmc (0 = the cost model, always included)")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    a = ap.parse_args()
    ensure_build()
    onnx, pkgs = ensure_model(a.preset)
    contexts = [int(c) for c in a.contexts.split(",")]
    configs = [("concat", "concat", 0), ("prealloc", "prealloc", 0), ("bmc r=auto", "bmc", 0)]
    configs += [(f"bmc r={r}", "bmc", int(r)) for r in a.sweep.split(",") if r]
    bw = json.loads(sh([os.path.join(BUILD, "bin", "bmc_bench"), "--bandwidth"]))["read_gb_s_1thread"]
    # Weight bytes a decode step must read, from the ONNX file (bmc_bench's weights_mb is the size of
    # bmc's packed weight blob, which is not what one token reads: see benchlib.model_bytes).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import benchlib
    weights_read_mb = benchlib.model_bytes(onnx)["weight_bytes"] / 1e6
    results = {}
    for rnd in range(a.rounds):
        for ctx in contexts:
            window = min(a.window, ctx // 2)
            for name, kv, r in configs:
                pkg = pkgs["concat" if kv == "concat" else "bmc"]
                res = bench(pkg, ctx, window, kv, r, a.threads)
                results.setdefault((name, ctx), []).append(res)
                print(f"round {rnd + 1}/{a.rounds} context {ctx:5d} {name:12s} {res['ms_per_token']:8.3f} ms/token "
                      f"kv {res['kv_alloc_peak_mb']:8.2f} MB allocated / {res['kv_used_mb']:8.2f} MB used", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"kv_modes_{a.preset}")
    rows = []
    for ctx in contexts:
        for name, kv, r in configs:
            rs = results[(name, ctx)]
            ms = statistics.median(x["ms_per_token"] for x in rs)
            first = rs[0]
            kv_read = first["kv_bytes_per_row"] * (ctx - first["window"] / 2) / 1e6
            roof_ms = (weights_read_mb + kv_read) / 1e3 / bw * 1e3
            rows.append(dict(context=ctx, config=name, ms_per_token=round(ms, 4), tok_s=round(1000 / ms, 2),
                             roofline_tok_s=round(1000 / roof_ms, 2), pct_roofline=round(100 * roof_ms / ms, 1),
                             kv_alloc_peak_mb=round(max(x["kv_alloc_peak_mb"] for x in rs), 3),
                             kv_used_mb=round(first["kv_used_mb"], 3),
                             rss_peak_mb=round(max(x["rss_peak_mb"] for x in rs), 1),
                             r_last=first["r"], reallocations=first["kv_reallocations"]))
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(stem + ".md", "w") as f:
        mi = benchlib.machine_info()
        f.write(f"KV-cache modes, {a.preset}, {a.threads} thread(s), median of {a.rounds} interleaved rounds "
                f"(bmc {mi['bmc_commit']}{' with uncommitted changes' if mi['bmc_worktree_dirty'] else ''}, "
                f"{mi['date']}); "
                f"decode window {a.window} tokens ending at the context; read bandwidth measured in this run: "
                f"{bw:.1f} GB/s (1 thread); weights read per token {weights_read_mb:.1f} MB (from the ONNX file).\n\n")
        f.write("| context | config | ms/token | tokens/s | vs concat | % of roofline | KV MB allocated (peak) | KV MB used | peak RSS MB |\n")
        f.write("|---|---|---|---|---|---|---|---|---|\n")
        for ctx in contexts:
            base = next(x for x in rows if x["context"] == ctx and x["config"] == "concat")["ms_per_token"]
            for x in (x for x in rows if x["context"] == ctx):
                f.write(f"| {ctx} | {x['config']} | {x['ms_per_token']:.3f} | {x['tok_s']:.1f} | {base / x['ms_per_token']:.2f}x | "
                        f"{x['pct_roofline']:.0f}% | {x['kv_alloc_peak_mb']:.2f} | {x['kv_used_mb']:.2f} | {x['rss_peak_mb']:.0f} |\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        for name, _, _ in configs:
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
        print("matplotlib is missing (apt-get install python3-matplotlib): no plot written", file=sys.stderr)
    print(open(stem + ".md").read())


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:  # say what failed, with its stderr
        sys.exit(f"kv_modes.py: error: {e}\n{(e.stderr or '').strip()[-3000:]}")
