#!/usr/bin/python3
"""Quantized weights, decode, side by side: bmc fp32 / bf16 / f16 / int8 / int4, onnxruntime and llama.cpp on the same weights.

One command (builds what it needs, generates the model, writes results):
    benchmarks/quant.py [--preset llama-25m] [--contexts 64,2048] [--threads 1,2] [--rounds 3]

Configurations, each in its own process, interleaved, the order rotated every round, with the
streaming read bandwidth (benchmarks/bw_read.c, 256 MiB, the run's thread count) measured right
before each measurement:
  bmc f32        bmc-compile (fp32 weights)
  bmc int8       bmc-compile --weights int8 (block 32, MatMulNBits bits-8 arithmetic)
  bmc int4       bmc-compile --weights int4 (block 32, zero point 8)
  bmc bf16 / f16 bmc-compile --weights bf16|f16 (2 bytes per weight, widened in registers; compare
                 with llama.cpp f16, which streams the same bytes)
  bmc int8 a8 / int4 a8  the same with --act int8: activations rounded to int8 per 32 values,
                 integer dot products (AVX-512 VNNI); onnxruntime's accuracy_level 4 arithmetic
  ort f32        onnxruntime-node 1.30 on the exported fp32 graph
  ort int8 / int4 (acc0, acc4)  onnxruntime's MatMulNBits on the same graph with the same quantized
                 weights (tests/models/make_matmulnbits.py), accuracy_level 0 (fp32 compute) and 4
                 (int8 activations: onnxruntime's fastest CPU path, what onnxruntime-genai uses)
  llama.cpp f32 / f16 / q8_0 / q4_0  llama.cpp (npm node-llama-cpp 3.21.1, prebuilt CPU build) on the same
                 weights written as GGUF by benchmarks/gguf_convert.py (all matrices in the type, norms
                 f32, as llama-quantize --pure), KV cache f32 (--llamacpp-kv; its default is f16); llama and
                 mistral presets only
Before timing, greedy tokens of bmc intN and onnxruntime intN acc0 (the same function) are checked
equal over 16 steps, and llama.cpp f32's equal to bmc f32's; for bmc intN a8 against onnxruntime
intN acc4 the agreement is logged (an activation that rounds the other way in one engine can part
the streams at a near tie). Quantized files round differently (llama.cpp: fp16 scales, Q4_0's
truncation; bmc: fp32 scales, round-half-even), so for every quantized configuration the report
gives how many of the 16 greedy tokens agree with bmc f32's before the first difference.
Roofline for bmc rows: (matmul weight bytes as packed + the KV rows read) /
the probe; the bytes of a token are what bmc's package says it streams (weights_read_mb).
Results: benchmarks/results/quant_<preset>.{csv,md,json,png}.
"""
import argparse
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

ORT_DECODE = os.path.join(bl.ROOT, "tests", "peers", "ort_decode.mjs")
NBITS = os.path.join(bl.ROOT, "tests", "models", "make_matmulnbits.py")
WARMUP = 3


def packages(preset, onnx):
    out = {}
    for fmt, act in (("f32", "f32"), ("int8", "f32"), ("int4", "f32"), ("int8", "int8"), ("int4", "int8"),
                     ("bf16", "f32"), ("f16", "f32")):
        key = fmt if act == "f32" else f"{fmt} a8"
        p = os.path.join(bl.BENCH_DIR, f"{preset}.{fmt}{'.a8' if act == 'int8' else ''}.bmcpkg")
        if not os.path.exists(p) or os.path.getmtime(p) < os.path.getmtime(os.path.join(bl.BIN, "bmc-compile")):
            bl.run([os.path.join(bl.BIN, "bmc-compile"), onnx, "-o", p, "--quiet", "--weights", fmt, "--act", act],
                   what=f"bmc-compile --weights {fmt} --act {act}")
        out[key] = p
    return out


def nbits_graphs(preset, onnx):
    out = {}
    for bits in (8, 4):
        for acc in (0, 4):
            p = os.path.join(bl.BENCH_DIR, f"{preset}.nbits{bits}.acc{acc}.onnx")
            if not os.path.exists(p) or os.path.getmtime(p) < os.path.getmtime(NBITS):
                bl.run([bl.PYTHON, NBITS, "--bits", str(bits), "--accuracy-level", str(acc), onnx, p],
                       what="make_matmulnbits.py")
            out[(bits, acc)] = p
    return out


def ort_decode(onnx, ctx, window, threads):
    cmd = ["node", ORT_DECODE, onnx, "--time", "--context", str(ctx - window - WARMUP), "--warmup", str(WARMUP),
           "--steps", str(window), "--threads", str(threads)]
    out, rss, _ = bl.run(cmd, what="ort_decode.mjs")
    j = bl.last_json(out, "ort_decode.mjs")
    j["rss_mb"] = rss
    return j


def greedy(kind, path, prompt, steps=16):
    if kind == "llamacpp":
        return bl.llamacpp_tokens(path, [int(x) for x in prompt.split(",")], steps)
    out, _, _ = bl.run([os.path.join(bl.BIN, "bmc-run"), path, "--prompt", prompt, "--max-new-tokens", str(steps),
                        "--quiet"], what="bmc-run")
    return [int(t) for t in out.strip().splitlines()[-1].split(",")]


def agreement(configs, prompt="11,42,7,300,5,99"):
    """Greedy tokens of every bmc / llama.cpp configuration against bmc f32's (the fp32 model)."""
    ref = greedy("bmc", dict((n, p) for n, _, p in configs)["bmc f32"], prompt)
    out = {}
    for name, kind, path in configs:
        if kind == "ort":
            continue
        toks = greedy(kind, path, prompt)
        same = next((i for i, (x, y) in enumerate(zip(toks, ref)) if x != y), len(ref))
        out[name] = same
        if name == "llama.cpp f32" and same != len(ref):
            sys.exit(f"llama.cpp f32 tokens {toks} differ from bmc f32's {ref}: not timing")
    bl.log(f"greedy tokens agreeing with bmc f32's (of {len(ref)}): {out}")
    return out


def check_tokens(pk, graphs):
    """bmc intN and onnxruntime's MatMulNBits acc0 compute the same function: same greedy tokens."""
    prompt = "11,42,7,300,5,99"
    for bits in (8, 4):
        mine = greedy("bmc", pk[f"int{bits}"], prompt)
        out, _, _ = bl.run(["node", ORT_DECODE, graphs[(bits, 0)], "--prompt", prompt, "--steps", "16"],
                           what="ort_decode.mjs")
        theirs = bl.last_json(out, "ort_decode.mjs")["tokens"]
        if mine != theirs:
            sys.exit(f"int{bits}: bmc tokens {mine} differ from onnxruntime MatMulNBits {theirs}: not timing")
        bl.log(f"int{bits}: bmc and onnxruntime MatMulNBits agree on 16 greedy tokens")
        mine = greedy("bmc", pk[f"int{bits} a8"], prompt)
        out, _, _ = bl.run(["node", ORT_DECODE, graphs[(bits, 4)], "--prompt", prompt, "--steps", "16"],
                           what="ort_decode.mjs")
        theirs = bl.last_json(out, "ort_decode.mjs")["tokens"]
        same = next((i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y), len(mine))
        bl.log(f"int{bits} a8: bmc and onnxruntime MatMulNBits accuracy_level 4 agree on the first {same} of 16 "
               f"greedy tokens")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="llama-25m")
    ap.add_argument("--contexts", default="64,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--llamacpp", default="f32,f16,q8_0,q4_0",
                    help="llama.cpp GGUF types to run (empty: none; llama/mistral presets only)")
    ap.add_argument("--llamacpp-kv", choices=("f32", "f16"), default="f32")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=bl.RESULTS)
    a = ap.parse_args()
    if not a.no_build:
        bl.ensure_build(("bmc_bench", "bmc-compile", "bmc-run"))
    bw_exe = bl.bw_read_exe()
    onnx = bl.ensure_model(a.preset)
    pk = packages(a.preset, onnx)
    graphs = nbits_graphs(a.preset, onnx)
    check_tokens(pk, graphs)
    configs = [("bmc f32", "bmc", pk["f32"]), ("bmc int8", "bmc", pk["int8"]), ("bmc int4", "bmc", pk["int4"]),
               ("bmc int8 a8", "bmc", pk["int8 a8"]), ("bmc int4 a8", "bmc", pk["int4 a8"]),
               ("bmc bf16", "bmc", pk["bf16"]), ("bmc f16", "bmc", pk["f16"]), ("ort f32", "ort", onnx)]
    for bits in (8, 4):
        for acc in (0, 4):
            configs.append((f"ort int{bits} acc{acc}", "ort", graphs[(bits, acc)]))
    kinds = [k for k in a.llamacpp.split(",") if k]
    if kinds and bl.onnx_family(onnx) not in bl.GGUF_FAMILIES:
        bl.log(f"NOTE: llama.cpp peer dropped: {a.preset} is not a {'/'.join(bl.GGUF_FAMILIES)} model")
        kinds = []
    if kinds:
        bl.llamacpp_ready()
        for k in kinds:
            configs.append((f"llama.cpp {k}", "llamacpp", bl.gguf(onnx, k)))
    a.agree = agreement(configs)
    contexts = [int(c) for c in a.contexts.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    jobs = [(t, c, cfg) for t in threads for c in contexts for cfg in configs]
    results = {}
    for rnd in range(a.rounds):
        shift = (rnd * len(jobs)) // a.rounds
        for t, ctx, (name, kind, path) in jobs[shift:] + jobs[:shift]:
            gbs = bl.read_bandwidth(bw_exe, t)
            if kind == "llamacpp":
                res = bl.llamacpp_decode(path, ctx, a.window, t, WARMUP, a.llamacpp_kv)
            else:
                res = bl.bmc_decode(path, ctx, a.window, t) if kind == "bmc" else ort_decode(path, ctx, a.window, t)
            results.setdefault((t, ctx, name), []).append((res, gbs))
            bl.log(f"round {rnd + 1}/{a.rounds} threads {t} ctx {ctx} {name:14s}: {res['ms_per_token']:.3f} ms/token, "
                   f"probe {gbs:.1f} GB/s")
    write(a, contexts, threads, configs, results)


def write(a, contexts, threads, configs, results):
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"quant_{a.preset}")
    rows = []
    for t in threads:
        for ctx in contexts:
            base = statistics.median(r["ms_per_token"] for r, _ in results[(t, ctx, "bmc f32")])
            ort = statistics.median(r["ms_per_token"] for r, _ in results[(t, ctx, "ort f32")])
            for name, kind, _ in configs:
                rs = results[(t, ctx, name)]
                ms = statistics.median(r["ms_per_token"] for r, _ in rs)
                bw = [g for _, g in rs]
                row = dict(threads=t, context=ctx, config=name, ms_per_token=round(ms, 4), tok_s=round(1000 / ms, 1),
                           vs_bmc_f32=round(base / ms, 2), vs_ort_f32=round(ort / ms, 2),
                           probe_gb_s=round(statistics.median(bw), 2), agree_f32=a.agree.get(name, ""))
                if kind == "bmc":
                    mb, pct = bl.bmc_roofline(rs[0][0], ctx, a.window, ms, row["probe_gb_s"])
                    row.update(mb_per_token=round(mb, 2), pct_roofline=round(pct, 1))
                rows.append(row)
        # bmc intN against onnxruntime's best on the same weights
    fields = []
    for r in rows:
        fields += [f for f in r if f not in fields]
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    mi = bl.machine_info()
    with open(stem + ".md", "w") as f:
        f.write(f"Command: `benchmarks/quant.py {' '.join(sys.argv[1:])}`\n\n")
        f.write(f"Quantized weights, decode, {a.preset}, batch 1, median of {a.rounds} interleaved rounds (order rotated "
                f"each round; bmc {mi['bmc_commit']}{' with uncommitted changes' if mi['bmc_worktree_dirty'] else ''}, "
                f"{mi['date']}, {mi.get('cpu', '')}); decode window {a.window} tokens ending at the context; roofline = "
                f"bytes a token reads (packed matmul weights + KV rows) / the bandwidth probe (256 MiB) run right "
                f"before each measurement. onnxruntime intN runs its MatMulNBits kernels on the same quantized weights "
                f"(accN: accuracy_level N).\n\n")
        f.write("| threads | context | config | ms/token | tokens/s | vs bmc f32 | vs ort f32 | MB read per token | "
                "% of roofline | greedy tokens = bmc f32's (of 16) |\n|---|---|---|---|---|---|---|---|---|---|\n")
        for x in rows:
            f.write(f"| {x['threads']} | {x['context']} | {x['config']} | {x['ms_per_token']:.3f} | {x['tok_s']:.0f} | "
                    f"{x['vs_bmc_f32']:.2f}x | {x['vs_ort_f32']:.2f}x | {x.get('mb_per_token', '-')} | "
                    f"{str(x['pct_roofline']) + '%' if 'pct_roofline' in x else '-'} | {x['agree_f32']} |\n")
        f.write("\nbmc intN against onnxruntime's faster MatMulNBits variant on the same weights:\n\n")
        for t in threads:
            for ctx in contexts:
                for bits in (8, 4):
                    best = min((x for x in rows if (x["threads"], x["context"]) == (t, ctx)
                                and x["config"].startswith(f"ort int{bits}")), key=lambda x: x["ms_per_token"])
                    for suffix in ("", " a8"):
                        mine = next(x for x in rows
                                    if (x["threads"], x["context"], x["config"]) == (t, ctx, f"bmc int{bits}{suffix}"))
                        f.write(f"- {t} thread(s), context {ctx}, int{bits}{suffix}: "
                                f"{best['ms_per_token'] / mine['ms_per_token']:.2f}x "
                                f"({best['config']} {best['ms_per_token']:.3f} ms/token)\n")
        if any(x["config"].startswith("llama.cpp") for x in rows):
            f.write("\nbmc against llama.cpp (its ms/token / bmc's; > 1: bmc is faster):\n\n")
            for t in threads:
                for ctx in contexts:
                    for mine, theirs in (("bmc f32", "llama.cpp f32"), ("bmc f16", "llama.cpp f16"),
                                         ("bmc bf16", "llama.cpp f16"), ("bmc int8", "llama.cpp q8_0"),
                                         ("bmc int4", "llama.cpp q4_0"),
                                         ("bmc int8 a8", "llama.cpp q8_0"), ("bmc int4 a8", "llama.cpp q4_0")):
                        m = next((x for x in rows if (x["threads"], x["context"], x["config"]) == (t, ctx, mine)), None)
                        o = next((x for x in rows if (x["threads"], x["context"], x["config"]) == (t, ctx, theirs)), None)
                        if m and o:
                            f.write(f"- {t} thread(s), context {ctx}, {mine} vs {theirs}: "
                                    f"{o['ms_per_token'] / m['ms_per_token']:.2f}x ({o['ms_per_token']:.3f} vs "
                                    f"{m['ms_per_token']:.3f} ms/token)\n")
        l3 = bl.cache_bytes(mi.get("l3"))
        small = [x for x in rows if x.get("mb_per_token") and l3 and x["mb_per_token"] * 1e6 < 2 * l3]
        if small:
            f.write(f"\nNOTE: {', '.join(sorted({x['config'] for x in small}))} read(s) less than twice the L3 cache "
                    f"({mi.get('l3')}) per token, so part of what a token reads can stay in the cache between tokens "
                    f"and the DRAM probe underestimates the bandwidth they see: their % of roofline (over 100% "
                    f"where it shows) is not a DRAM roofline. Roofline claims use a preset whose bytes per token "
                    f"are several times the L3 (llama-100m).\n")
        if plot(rows, threads, contexts, stem + ".png", a.preset):
            f.write(f"\n![quantized decode, {a.preset}](results/quant_{a.preset}.png)\n")
    print(open(stem + ".md").read())
    json.dump(rows, open(stem + ".json", "w"), indent=1)


def plot(rows, threads, contexts, path, preset):
    """tokens/s per configuration, one panel per (threads, context); bmc rows also show the
    tokens/s their bytes allow at the probed bandwidth (the roofline) as a tick."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        bl.log("matplotlib is missing (apt-get install python3-matplotlib): no plot written")
        return False
    panels = [(t, c) for t in threads for c in contexts]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.5), squeeze=False)
    for ax, (t, c) in zip(axes[0], panels):
        sel = [x for x in rows if (x["threads"], x["context"]) == (t, c)]
        names = [x["config"] for x in sel]
        colors = ["tab:blue" if n.startswith("bmc") else "tab:orange" if n.startswith("ort") else "tab:green"
                  for n in names]
        ys = range(len(sel))
        ax.barh(ys, [x["tok_s"] for x in sel], color=colors)
        for y, x in zip(ys, sel):
            if x.get("mb_per_token"):
                roof = x["probe_gb_s"] * 1e3 / x["mb_per_token"]
                ax.plot([roof, roof], [y - 0.4, y + 0.4], color="black", lw=2)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("tokens/s (black tick: roofline of bmc's bytes at the probed bandwidth)", fontsize=8)
        ax.set_title(f"{preset}, {t} thread(s), context {c}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


if __name__ == "__main__":
    main()
