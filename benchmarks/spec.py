#!/usr/bin/python3
"""Speculative decoding in each KV-cache mode, side by side (issue 9's benchmark).

One command (builds what it needs, generates the models, writes results):
    benchmarks/spec.py [--presets llama-25m,gpt2-25m] [--contexts 512,2048] [--ps 0.5,0.7,0.9] [--ks 2,4,8]

Acceptance is controlled: random weights make natural acceptance meaningless, so the drafter
(bmc::ReplayDrafter) proposes the target's own greedy continuation, computed beforehand, with each
token replaced at random with probability 1 - p (seeded: every configuration sees the same drafts,
so the same passes). It costs nothing, so what is timed is the target's side, where the KV cache
matters. For each model and context C, every configuration prefills C - W tokens and decodes the W
tokens ending at C (W = --window), in its own process, its tokens checked against the plain greedy
decode before anything is reported. Configurations, interleaved, the order rotated every round:
  bmc             no speculative decoding (today's decode), r from the cost model
  SD+concat       the exported graph's cache: a new buffer per pass, cropped by a copy on rejection
  SD+prealloc     the whole context allocated once
  SD+bmc skip     BMC buffers, r from the cost model, attention bounded at the valid rows
  SD+bmc mask     BMC buffers, attention computes the spare rows and masks them (the paper's)
  torch SD        HF-style assisted generation in eager PyTorch (DynamicCache, crop), same drafts
The streaming read bandwidth (benchmarks/bw_read.c, 1 thread) is measured right before each
measurement; the roofline of a pass is (weights + KV rows read) / that bandwidth.
Results: benchmarks/results/spec_<preset>.{csv,md,png}.
"""
import argparse
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

BW_SRC = os.path.join(bl.ROOT, "benchmarks", "bw_read.c")


def ensure_bw_read():
    exe = os.path.join(bl.BENCH_DIR, "bw_read")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(BW_SRC):
        bl.run(["clang-19", "-O2", "-march=native", "-pthread", BW_SRC, "-o", exe], what="compiling bw_read.c")
    return exe


def packages(preset):
    onnx = bl.ensure_model(preset)
    out = {}
    for name, flags in (("bmc", ["--kv", "bmc"]), ("mask", ["--kv", "bmc", "--kv-padding", "mask"]),
                        ("concat", ["--kv", "concat"])):
        p = os.path.join(bl.BENCH_DIR, f"{preset}.spec-{name}.bmcpkg")
        stale = not os.path.exists(p) or os.path.getmtime(p) < os.path.getmtime(os.path.join(bl.BIN, "bmc-compile"))
        if stale:
            bl.run([os.path.join(bl.BIN, "bmc-compile"), onnx, "-o", p, "--quiet"] + flags, what="bmc-compile")
        out[name] = p
    return onnx, out


def spec_bench(pkg, ctx, window, ref, kv, k, p, threads):
    cmd = [os.path.join(bl.BIN, "bmc_bench_spec"), pkg, "--context", str(ctx), "--window", str(window),
           "--reference", ref, "--kv", kv, "--r", "0", "--spec-k", str(k), "--spec-p", str(p),
           "--threads", str(threads)]
    out, rss, _ = bl.run(cmd, what="bmc_bench_spec")
    j = bl.last_json(out, "bmc_bench_spec")
    j["rss_peak_mb"] = rss
    return j


def torch_spec(onnx, ctx, window, k, p, threads):
    cmd = [bl.PYTHON, os.path.join(bl.ROOT, "benchmarks", "torch_peer.py"), onnx, "--spec", "--context", str(ctx),
           "--window", str(window), "--spec-k", str(k), "--spec-p", str(p), "--threads", str(threads)]
    env = {"LD_LIBRARY_PATH": bl.OPENBLAS_DIR}
    out, rss, _ = bl.run(cmd, env=env, what="torch_peer.py --spec")
    j = bl.last_json(out, "torch_peer.py")
    j["rss_peak_mb"] = rss
    return j


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="llama-25m,gpt2-25m")
    ap.add_argument("--contexts", default="512,2048")
    ap.add_argument("--ps", default="0.5,0.7,0.9")
    ap.add_argument("--ks", default="2,4,8")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-torch", action="store_true", help="leave out the PyTorch peer")
    ap.add_argument("--torch-ks", default="4", help="draft lengths the (slow) PyTorch peer runs at")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=bl.RESULTS)
    a = ap.parse_args()
    if not a.no_build:
        bl.ensure_build(("bmc_bench_spec", "bmc-compile"))
    bw_exe = ensure_bw_read()
    contexts = [int(c) for c in a.contexts.split(",")]
    ps = [float(p) for p in a.ps.split(",")]
    ks = [int(k) for k in a.ks.split(",")]
    torch_ks = set() if a.no_torch else {int(k) for k in a.torch_ks.split(",") if k}
    for preset in a.presets.split(","):
        run_preset(a, preset, contexts, ps, ks, torch_ks, bw_exe)


def run_preset(a, preset, contexts, ps, ks, torch_ks, bw_exe):
    onnx, pk = packages(preset)
    weights_mb = bl.model_bytes(onnx)["weight_bytes"] / 1e6
    configs = [("bmc", "bmc", "bmc", 0, 0.0)]
    for p in ps:
        for k in ks:
            configs += [("SD+concat", "concat", "concat", k, p), ("SD+prealloc", "bmc", "prealloc", k, p),
                        ("SD+bmc skip", "bmc", "bmc", k, p), ("SD+bmc mask", "mask", "bmc", k, p)]
            if k in torch_ks:
                configs.append(("torch SD", None, None, k, p))
    results, probes = {}, {}
    refs = {}
    for ctx in contexts:
        refs[ctx] = os.path.join(bl.BENCH_DIR, f"{preset}.spec-ref-{ctx}-{a.window}.txt")
        bl.run([os.path.join(bl.BIN, "bmc_bench_spec"), pk["bmc"], "--context", str(ctx), "--window", str(a.window),
                "--reference", refs[ctx], "--make-reference", "--threads", str(a.threads)], what="reference decode")
    jobs = [(ctx, c) for ctx in contexts for c in configs]
    for rnd in range(a.rounds):
        shift = (rnd * len(jobs)) // a.rounds
        for ctx, (name, pkg, kv, k, p) in jobs[shift:] + jobs[:shift]:
            gbs = bl.read_bandwidth(bw_exe)
            if pkg is None:
                res = torch_spec(onnx, ctx, a.window, k, p, a.threads)
            else:
                res = spec_bench(pk[pkg], ctx, a.window, refs[ctx], kv, k, p, a.threads)
            key = (ctx, name, k, p)
            results.setdefault(key, []).append(res)
            probes.setdefault(key, []).append(gbs)
            bl.log(f"{preset} round {rnd + 1}/{a.rounds} ctx {ctx} {name:12s} k={k} p={p:.1f}: "
                   f"{res['ms_per_token']:.3f} ms/token, {res['tokens_per_pass']:.2f} tokens/pass, probe {gbs:.1f} GB/s")
    write(a, preset, contexts, configs, results, probes, weights_mb)


def write(a, preset, contexts, configs, results, probes, weights_mb):
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"spec_{preset}")
    rows = []
    for ctx in contexts:
        base = statistics.median(x["ms_per_token"] for x in results[(ctx, "bmc", 0, 0.0)])
        for name, pkg, kv, k, p in configs:
            rs, bw = results[(ctx, name, k, p)], probes[(ctx, name, k, p)]
            ms = statistics.median(x["ms_per_token"] for x in rs)
            tpp = statistics.median(x["tokens_per_pass"] for x in rs)
            concat = results.get((ctx, "SD+concat", k, p))
            first = rs[0]
            row = dict(context=ctx, config=name, k=k, p=p, ms_per_token=round(ms, 4), tok_s=round(1000 / ms, 2),
                       vs_bmc=round(base / ms, 3),
                       vs_sd_concat=round(statistics.median(x["ms_per_token"] for x in concat) / ms, 3) if concat else "",
                       tokens_per_pass=round(tpp, 3), ms_per_pass=round(ms * tpp, 3),
                       acceptance=round(statistics.median(x["acceptance"] for x in rs), 3),
                       probe_gb_s=round(statistics.median(bw), 2), probe_min=round(min(bw), 2), probe_max=round(max(bw), 2))
            if pkg is not None:
                # A pass reads the weights once and the valid KV rows once (mid-window context).
                kv_mb = first["kv_used_mb"] * (ctx - a.window / 2) / ctx
                roof_pass_ms = (weights_mb + kv_mb) / 1e3 / row["probe_gb_s"] * 1e3
                row.update(pct_pass_roofline=round(100 * roof_pass_ms / row["ms_per_pass"], 1),
                           pct_range=f"{100 * roof_pass_ms * row['probe_gb_s'] / min(bw) / row['ms_per_pass']:.0f}-"
                                     f"{100 * roof_pass_ms * row['probe_gb_s'] / max(bw) / row['ms_per_pass']:.0f}",
                           kv_alloc_peak_mb=round(max(x["kv_alloc_peak_mb"] for x in rs), 3),
                           kv_used_mb=round(first["kv_used_mb"], 3), r=first["r"],
                           reallocations=first["kv_reallocations"], kv_copied_mb=round(first["kv_copied_mb"], 1))
            rows.append(row)
    fields = []
    for r in rows:
        fields += [f for f in r if f not in fields]
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    mi = bl.machine_info()
    with open(stem + ".md", "w") as f:
        f.write(f"Speculative decoding, {preset}, {a.threads} thread(s), median of {a.rounds} interleaved rounds "
                f"(order rotated each round; bmc {mi['bmc_commit']}{' with uncommitted changes' if mi['bmc_worktree_dirty'] else ''}, "
                f"{mi['date']}); replay drafter (acceptance p per token, free); decode window {a.window} tokens ending "
                f"at the context; weights read per pass {weights_mb:.1f} MB; % of the pass roofline against the "
                f"bandwidth probe run right before each measurement (median, range over the probe's spread).\n\n")
        f.write("| context | p | k | config | ms/token | tokens/s | vs bmc (no SD) | vs SD+concat | tokens/pass | "
                "ms/pass | % of pass roofline | KV MB allocated (peak) / used | reallocations, MB copied | r |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        for x in rows:
            pct = f"{x['pct_pass_roofline']:.0f}% ({x['pct_range']})" if "pct_pass_roofline" in x else "-"
            kvc = f"{x['kv_alloc_peak_mb']:.2f} / {x['kv_used_mb']:.2f}" if "kv_used_mb" in x else "-"
            rc = f"{x['reallocations']}, {x['kv_copied_mb']}" if "reallocations" in x else "-"
            vc = f"{x['vs_sd_concat']:.2f}x" if x["vs_sd_concat"] != "" else "-"
            f.write(f"| {x['context']} | {x['p'] if x['k'] else '-'} | {x['k'] or '-'} | {x['config']} | "
                    f"{x['ms_per_token']:.3f} | {x['tok_s']:.1f} | {x['vs_bmc']:.2f}x | {vc} | {x['tokens_per_pass']:.2f} | "
                    f"{x['ms_per_pass']:.2f} | {pct} | {kvc} | {rc} | {x.get('r', '-')} |\n")
    plot(stem, preset, contexts, rows)
    print(open(stem + ".md").read())


def plot(stem, preset, contexts, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        bl.log("matplotlib is missing (apt-get install python3-matplotlib): no plot written")
        return
    names = ["SD+concat", "SD+prealloc", "SD+bmc skip", "SD+bmc mask", "torch SD"]
    fig, axes = plt.subplots(1, len(contexts), figsize=(5.5 * len(contexts), 4), squeeze=False)
    for ax, ctx in zip(axes[0], contexts):
        base = next(x for x in rows if x["context"] == ctx and x["config"] == "bmc")
        ks = sorted({x["k"] for x in rows if x["k"]})
        k = 4 if 4 in ks else ks[len(ks) // 2]
        for name in names:
            xs = sorted((x for x in rows if x["context"] == ctx and x["config"] == name and x["k"] == k),
                        key=lambda x: x["p"])
            if xs:
                ax.plot([x["p"] for x in xs], [x["tok_s"] for x in xs], marker="o", label=f"{name}, k={k}")
        ax.axhline(base["tok_s"], color="k", linestyle="--", label="bmc without SD")
        ax.set_xlabel("acceptance p per draft token")
        ax.set_ylabel("decode tokens/s")
        ax.set_title(f"context {ctx}")
        ax.legend(fontsize=7)
    fig.suptitle(f"Speculative decoding by KV-cache mode, {preset}")
    fig.tight_layout()
    fig.savefig(stem + ".png", dpi=110)


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        sys.exit(f"spec.py: {e}")
