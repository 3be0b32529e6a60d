#!/usr/bin/python3
"""The table of benchmarks/gpu_check.sh: bmc_bench_device's summaries and torch_peer.py's rows.

  gpu_report.py --bmc FILE [FILE ...] [--kv-modes FILE ...] [--torch FILE ...] [--hf-note TEXT]
                [--params N] [--results RESULTS.md --machine NAME]

--bmc: bmc_bench_device outputs (JSON lines; their "setup" and "summary" lines are read);
--torch: torch_peer.py --time outputs (one JSON line each; a file without one is skipped with its
name printed). Prints one table per context: tokens/s, % of the roofline (bmc's: bytes per token
over the copy bandwidth measured next to each timing; the torch rows use bmc's bytes per token and
bandwidth of that context: the same weights in fp16, and HF's caches read at least the valid rows),
memory, and the ratios bmc / HF StaticCache + torch.compile and bmc / prealloc, then the issue's
targets, each with met / not met / not measured. --kv-modes: bmc_bench_device outputs of the three KV
modes on caches of one type (concat keeps the graph's f32 tensors, so bmc and prealloc run with f32
caches there too): a table of their own and the target bmc >= prealloc >= concat. With --results, appends the same as a dated
section to that file (gpu_check.sh passes it only after a run on a GPU).
"""
import argparse
import datetime
import json
import os
import sys


def json_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def kv_modes_table(paths, out):
    """The three KV modes on caches of one type, per context; returns the target lines."""
    rows = []
    for path in paths:
        if not os.path.exists(path):
            out("")
            out(f"KV modes: {os.path.basename(path)} missing")
            continue
        kv_type = ""
        for j in json_lines(path):
            if j.get("kind") == "setup":
                kv_type = j["kv_type"]
            elif j.get("kind") == "summary":
                rows.append(dict(j, kv_type=kv_type))
    if not rows:
        return ["bmc >= prealloc >= concat: not measured"] if paths else []
    out("")
    out("| context | KV mode (KV type) | tok/s | % roofline | KV alloc MB | KV used MB | KV peak MB | bmc / this |")
    out("|---|---|---|---|---|---|---|---|")
    targets = []
    for ctx in sorted({r["context"] for r in rows}):
        su = {r["kv_mode"]: r for r in rows if r["context"] == ctx}
        bmc = su.get("bmc")
        for mode in ("bmc", "prealloc", "concat"):
            r = su.get(mode)
            if not r:
                continue
            ratio = f"{bmc['tok_s'] / r['tok_s']:.2f}x" if bmc and mode != "bmc" else ""
            out(f"| {ctx} | {mode} ({r['kv_type']}) | {r['tok_s']:.1f} | {r['roofline_pct']:.1f} | "
                f"{r['kv_alloc_mb']:.1f} | {r['kv_used_mb']:.1f} | {r['kv_peak_mb']:.1f} | {ratio} |")
        if all(m in su for m in ("bmc", "prealloc", "concat")):
            b, p, c = (su[m]["tok_s"] for m in ("bmc", "prealloc", "concat"))
            ok = b >= p >= c
            targets.append(f"context {ctx}: bmc {b:.1f} >= prealloc {p:.1f} >= concat {c:.1f} tok/s "
                           f"({su['bmc']['kv_type']} caches): {'met' if ok else 'NOT met'}")
        else:
            targets.append(f"context {ctx}: bmc >= prealloc >= concat: not measured (modes "
                           f"{', '.join(sorted(su))})")
    return targets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bmc", nargs="+", required=True)
    ap.add_argument("--kv-modes", nargs="*", default=[])
    ap.add_argument("--torch", nargs="*", default=[])
    ap.add_argument("--hf-note", default="")
    ap.add_argument("--params", type=int, default=0)
    ap.add_argument("--results")
    ap.add_argument("--machine", default="")
    a = ap.parse_args(argv)

    setups, summaries = {}, []
    for path in a.bmc:
        for j in json_lines(path):
            if j.get("kind") == "setup":
                setups[j["context"]] = j
            elif j.get("kind") == "summary":
                summaries.append(j)
    if not summaries:
        sys.exit(f"gpu_report: no bmc_bench_device summary in {' '.join(a.bmc)}")
    torch_rows, missing = [], []
    for path in a.torch:
        rows = json_lines(path) if os.path.exists(path) else []
        if rows:
            torch_rows.append(rows[-1])
        else:
            missing.append(os.path.basename(path))

    lines = []
    out = lines.append
    any_setup = next(iter(setups.values()))
    out(f"device: {any_setup['device']} ({any_setup['device_name']}), weights {any_setup['weight_format']} "
        f"{any_setup['weights_mb']:.0f} MB" + (f", {a.params:,} parameters ({a.params / 1e9:.2f} B)" if a.params else "") +
        f", KV {any_setup['kv_type']}, batch 1, {any_setup['window']} timed greedy steps ending at each context")
    out("")
    out("| context | configuration | tok/s | % roofline | bandwidth GB/s | bytes/token MB | KV alloc MB | "
        "KV used MB | memory MB | bmc / this |")
    out("|---|---|---|---|---|---|---|---|---|---|")
    targets = []
    for ctx in sorted({s["context"] for s in summaries}):
        su = {s["kv_mode"]: s for s in summaries if s["context"] == ctx}
        bmc = su.get("bmc")
        st = setups.get(ctx, any_setup)
        for mode in ("bmc", "prealloc"):
            s = su.get(mode)
            if not s:
                continue
            ratio = f"{bmc['tok_s'] / s['tok_s']:.2f}x" if bmc and mode != "bmc" else ""
            out(f"| {ctx} | bmc kv {mode} (r {s['r']}) | {s['tok_s']:.1f} | {s['roofline_pct']:.1f} | "
                f"{s['bw_gb_s']:.0f} | {s['bytes_per_token'] / 1e6:.1f} | {s['kv_alloc_mb']:.1f} | "
                f"{s['kv_used_mb']:.1f} | {s['weights_mb'] + s['kv_peak_mb']:.0f} (weights + KV peak) | {ratio} |")
        for t in torch_rows:
            if t.get("context") != ctx:
                continue
            tok = t["tok_s"]
            pct = ""
            if bmc:
                pct = f"{100 * tok / (bmc['bw_gb_s'] * 1e9 / bmc['bytes_per_token']):.1f}"
            ratio = f"{bmc['tok_s'] / tok:.2f}x" if bmc else ""
            mem = f"{t['cuda_peak_mb']:.0f} (torch peak)" if "cuda_peak_mb" in t else ""
            out(f"| {ctx} | HF-style {t['peer'].replace('torch-', '')} ({t.get('dtype', '')}) | {tok:.1f} | {pct} | | | "
                f"{t['kv_alloc_mb']:.1f} | {t['kv_used_mb']:.1f} | {mem} | {ratio} |")
        if bmc and ctx == 128:
            ok = bmc["roofline_pct"] >= 70
            targets.append(f"context 128: bmc at {bmc['roofline_pct']:.1f}% of the roofline (target >= 70%): "
                           f"{'met' if ok else 'NOT met'}")
        comp = [t for t in torch_rows if t.get("context") == ctx and t["peer"] == "torch-static-compile"]
        if bmc and ctx in (128, 2048):
            if comp:
                r = bmc["tok_s"] / comp[0]["tok_s"]
                targets.append(f"context {ctx}: bmc / HF StaticCache + torch.compile = {r:.2f}x (target >= 1.5x): "
                               f"{'met' if r >= 1.5 else 'NOT met'}")
            else:
                targets.append(f"context {ctx}: bmc / HF StaticCache + torch.compile: not measured")
        pre = su.get("prealloc")
        if bmc and pre and ctx >= 4096:
            faster = bmc["tok_s"] >= pre["tok_s"]
            targets.append(f"context {ctx}: bmc {bmc['tok_s']:.1f} tok/s vs prealloc {pre['tok_s']:.1f} "
                           f"(target bmc >= prealloc): {'met' if faster else 'NOT met'}; bmc's KV "
                           f"{bmc['kv_alloc_mb']:.1f} MB allocated for {bmc['kv_used_mb']:.1f} MB valid + r {bmc['r']} "
                           f"rows, prealloc's {pre['kv_alloc_mb']:.1f} MB")
    kv_targets = kv_modes_table(a.kv_modes, out)
    if missing:
        out("")
        out(f"not reported (no JSON line): {', '.join(missing)}")
    if a.hf_note:
        out("")
        out(a.hf_note)
    out("")
    out("targets (issue 14):")
    for t in targets + kv_targets:
        out(f"- {t}")
    text = "\n".join(lines)
    print(text)
    if a.results:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with open(a.results, "a") as f:
            f.write(f"\n## GPU check, {stamp}, {a.machine or any_setup['device_name']} (benchmarks/gpu_check.sh)\n\n")
            f.write(text + "\n")
        print(f"gpu_report: appended to {a.results}")


if __name__ == "__main__":
    main()
