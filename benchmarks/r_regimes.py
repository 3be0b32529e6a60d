#!/usr/bin/python3
"""Where does r have a real cost, and does the cost model's r land within 5% of the best measured r there?

One command, ~6-10 minutes on a quiet 1-thread run (progress on stderr):

    benchmarks/r_regimes.py [--rounds 2] [--quick] [--no-build]

Model: a small generated Llama (2 layers, hidden 256, 4 KV heads, vocab 2048: ~8.5 MB of weights read per
token, 4 KB of K/V per token), so that at contexts of 4k-16k the KV cache, not the weights, dominates a step.
Regimes (each one bmc-tune run, all r of a regime decoding in lockstep, --threads 1 --cpu-time, medians of
--rounds): long context in skip and mask padding; batch 4; speculative decoding with k = 4 (a verification
pass over k + 1 rows, replay drafter at acceptance 0.7) in both paddings. Each run decodes a window just below
its context (bmc-tune --prompt-len context - window).

Writes benchmarks/results/r_regimes.{csv,json,md,txt}: per regime the best measured r, the model's r, the
model's r's measured speed in % of the best (target >= 95%), how much r costs there at all (worst r of the
sweep vs best), and the prediction error. make_results.py puts the table into RESULTS.md.
"""
import argparse
import csv
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

MODEL_ARGS = ["--family", "llama", "--layers", "2", "--hidden", "256", "--heads", "4", "--kv-heads", "4",
              "--vocab", "2048"]

REGIMES = [
    dict(name="long context, skip", context=8192, window=1024, padding="skip", sweep=[8, 32, 128, 512]),
    dict(name="long context, mask", context=8192, window=1024, padding="mask", sweep=[8, 32, 128, 512, 1024]),
    dict(name="longer context, mask", context=16384, window=1024, padding="mask", sweep=[32, 256, 1024]),
    dict(name="batch 4, skip", context=4096, window=512, padding="skip", batch=4, sweep=[8, 32, 128, 512]),
    dict(name="batch 4, mask", context=4096, window=512, padding="mask", batch=4, sweep=[8, 32, 128, 512]),
    dict(name="SD k=4 (5-row passes), mask", context=8192, window=1024, padding="mask", spec_k=4, accept=0.7,
         sweep=[8, 32, 128, 512]),
    dict(name="SD k=4 (5-row passes), skip", context=8192, window=1024, padding="skip", spec_k=4, accept=0.7,
         sweep=[8, 32, 128, 512]),
]


def small_model():
    os.makedirs(bl.BENCH_DIR, exist_ok=True)
    path = os.path.join(bl.BENCH_DIR, "r_regimes_small.onnx")
    gen = os.path.join(bl.ROOT, "tests", "models", "bmc_modelgen.py")
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gen):
        bl.log(f"r_regimes.py: generating {path}")
        bl.run([bl.PYTHON, gen, "-q", *MODEL_ARGS, "-o", path], what="bmc_modelgen.py")
    return path


def summarise(reg, rows):
    """One line of the table from bmc-tune's CSV rows of one regime."""
    k = reg.get("spec_k", 0)
    overall = None
    if k:  # the model's own (r, k) against the best cell of the whole grid
        cell = {(int(r["r"]), int(r["k"])): float(r["measured_tok_s"]) for r in rows}
        best = max(cell, key=cell.get)
        ch = next((int(r["r"]), int(r["k"])) for r in rows if r["chosen"] == "1")
        overall = dict(model_rk=ch, model_tok_s=cell[ch], best_rk=best, best_tok_s=cell[best],
                       model_pct_of_best=100 * cell[ch] / cell[best])
    rows = [r for r in rows if int(r["k"]) == k]  # SD: the k of the regime (the model's own k is reported apart)
    meas = {int(r["r"]): float(r["measured_tok_s"]) for r in rows}
    model_r = next(int(r["r"]) for r in rows if r["chosen_for_k"] == "1")
    best_r = max(meas, key=meas.get)
    worst_r = min(meas, key=meas.get)
    at = next(r for r in rows if int(r["r"]) == model_r)
    errs = [float(r["predicted_run_bw_tok_s"]) / float(r["measured_tok_s"]) - 1 for r in rows]
    return dict(
        regime=reg["name"], context=reg["context"], window=reg["window"], batch=reg.get("batch", 1),
        padding=reg["padding"], k=k, accept_rate=reg.get("accept"),
        sweep={str(r): round(v, 2) for r, v in sorted(meas.items())},
        best_r=best_r, best_tok_s=meas[best_r], model_r=model_r, model_tok_s=meas[model_r],
        model_pct_of_best=100 * meas[model_r] / meas[best_r],
        r_cost_pct=100 * (1 - meas[worst_r] / meas[best_r]), worst_r=worst_r,
        pred_error_pct=100 * (float(at["predicted_tok_s"]) / meas[model_r] - 1),
        pred_error_run_bw_pct=100 * (float(at["predicted_run_bw_tok_s"]) / meas[model_r] - 1),
        worst_pred_error_run_bw_pct=100 * max(errs, key=abs),
        tokens_per_pass=float(at["tokens_per_pass"]), spec_choice=overall)


def markdown(summary, info):
    L = ["| regime | context (window) | batch | r swept: measured tok/s | r's cost (worst r vs best) | best r | "
         "model's r | model's r, % of best | prediction error at the model's r (calibrated / run's BW) | "
         "worst error in the sweep (run's BW) | load (1 min) |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        sweep = ", ".join(f"{r}: {v:.0f}" for r, v in s["sweep"].items())
        ok = "" if s["model_pct_of_best"] >= 95 else " **(miss)**"
        L.append(f"| {s['regime']} | {s['context']} ({s['window']}) | {s['batch']} | {sweep} | "
                 f"{s['r_cost_pct']:.1f}% (r = {s['worst_r']}) | {s['best_r']} | {s['model_r']} | "
                 f"{s['model_pct_of_best']:.1f}%{ok} | {s['pred_error_pct']:+.1f}% / {s['pred_error_run_bw_pct']:+.1f}% | "
                 f"{s['worst_pred_error_run_bw_pct']:+.1f}% | {s['load_before'][0]:.2f} -> {s['load_after'][0]:.2f} |")
    L.append("")
    for s in summary:
        o = s.get("spec_choice")
        if o:
            L.append(f"- {s['regime']}: over the whole grid (k = {s['k']} and the model's k) the model picks "
                     f"(r, k) = {tuple(o['model_rk'])}, measured {o['model_tok_s']:.0f} tok/s, "
                     f"{o['model_pct_of_best']:.1f}% of the best cell {tuple(o['best_rk'])} "
                     f"({o['best_tok_s']:.0f} tok/s).")
    L.append("")
    L.append(f"Model: `bmc_modelgen.py {' '.join(MODEL_ARGS)}` (random weights, fp32). bmc-tune, 1 thread, "
             f"decode steps timed by CPU time (--cpu-time), {info['rounds']} round(s) with every r of a regime "
             "decoding in lockstep, median; tok/s is per sequence. SD rows: speculative decoding with k = 4 "
             "(the replay drafter at acceptance 0.7: tokens per pass ~2.8), tok/s counts accepted tokens. "
             "Prediction error: the model's tok/s over the measured, with its calibrated constants / with the "
             "read bandwidth probed around the run. Machine: "
             f"{info['machine']['cpu']}, {info['machine']['cpus']} CPU(s), L3 {info['machine']['l3']}; "
             f"bmc {info['machine']['bmc_commit']}; {info['started']} UTC, {info['duration_s'] / 60:.1f} min.")
    return "\n".join(L) + "\n"


def render(out):
    with open(os.path.join(out, "r_regimes.json")) as f:
        info = json.load(f)
    with open(os.path.join(out, "r_regimes.csv")) as f:
        rows = list(csv.DictReader(f))
    old = {s["regime"]: s for s in info.pop("regimes")}
    summary = []
    for reg in REGIMES:
        mine = [r for r in rows if r["regime"] == reg["name"]]
        if not mine:
            continue
        s = summarise(dict(reg, context=old[reg["name"]]["context"], window=old[reg["name"]]["window"]), mine)
        s.update({k: old[reg["name"]][k] for k in ("load_before", "load_after", "wall_s")})
        summary.append(s)
    with open(os.path.join(out, "r_regimes.json"), "w") as f:
        json.dump(dict(info, regimes=summary), f, indent=1)
    with open(os.path.join(out, "r_regimes.md"), "w") as f:
        f.write(markdown(summary, info))
    bl.log(f"r_regimes.py: rewrote {out}/r_regimes.{{json,md}} from r_regimes.csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="rounds per regime, median (default 2)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: contexts and windows / 4, one round, results under /tmp/r_regimes_quick")
    ap.add_argument("--no-build", action="store_true", help="use the bmc-tune already built")
    ap.add_argument("--out", default=bl.RESULTS, help="results folder (default benchmarks/results)")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: rewrite r_regimes.{json,md} from the r_regimes.csv and .json in --out")
    a = ap.parse_args()
    if a.render:
        return render(a.out)
    if a.rounds < 1:
        sys.exit(f"r_regimes.py: --rounds: expected an integer >= 1, found {a.rounds}")
    out = "/tmp/r_regimes_quick" if a.quick and a.out == bl.RESULTS else a.out
    os.makedirs(out, exist_ok=True)
    if a.no_build:
        bl.check_binaries(("bmc-tune",))
    else:
        bl.ensure_build(("bmc-tune",))
    model = small_model()
    # A calibration of this run's own (measured afresh by the first regime), not one cached from another load.
    env = dict(XDG_CACHE_HOME=os.path.join(bl.BENCH_DIR, "xdg-r_regimes"))
    info = dict(command="benchmarks/r_regimes.py" + (" --quick" if a.quick else "") +
                (f" --rounds {a.rounds}" if a.rounds != 2 else ""), machine=bl.machine_info(),
                started=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), rounds=1 if a.quick else a.rounds)
    t0 = time.time()
    rows_all, summary, texts = [], [], []
    for i, reg in enumerate(REGIMES):
        reg = dict(reg)
        if a.quick:
            reg["context"] //= 4
            reg["window"] //= 4
            reg["sweep"] = [r for r in reg["sweep"] if r <= reg["window"]]
        csv_path = os.path.join(out, "r_regimes.part.csv")
        cmd = [os.path.join(bl.BIN, "bmc-tune"), model, "--context", str(reg["context"]),
               "--prompt-len", str(reg["context"] - reg["window"]), "--sweep", ",".join(map(str, reg["sweep"])),
               "--kv-padding", reg["padding"], "--batch", str(reg.get("batch", 1)), "--threads", "1", "--cpu-time",
               "--rounds", str(info["rounds"]), "--csv", csv_path]
        if "spec_k" in reg:
            cmd += ["--spec-k", str(reg["spec_k"]), "--accept-rate", str(reg["accept"]), "--spec-only"]
        if i == 0:
            cmd.append("--recalibrate")
        bl.log(f"r_regimes.py: [{i + 1}/{len(REGIMES)}] {reg['name']}, context {reg['context']} "
               f"(window {reg['window']}), {time.time() - t0:.0f} s so far")
        load_before = bl.loadavg()
        text, _, wall = bl.run(cmd, env=env, timeout=1800, what=f"bmc-tune ({reg['name']})")
        load_after = bl.loadavg()
        with open(csv_path) as f:
            rows = list(csv.DictReader(f))
        os.remove(csv_path)
        s = summarise(reg, rows)
        s.update(load_before=load_before, load_after=load_after, wall_s=round(wall, 1))
        summary.append(s)
        for r in rows:
            r["regime"] = reg["name"]
        rows_all += rows
        texts.append(f"## {reg['name']}: {' '.join(cmd[1:])}\n# load average {load_before} -> {load_after}\n{text}")
        bl.log(f"r_regimes.py:   best r = {s['best_r']}, model's r = {s['model_r']}: {s['model_pct_of_best']:.1f}% of "
               f"best; r costs up to {s['r_cost_pct']:.1f}% here; prediction error {s['pred_error_pct']:+.1f}% "
               f"({wall:.0f} s)")
    info["duration_s"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "r_regimes.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["regime"] + [k for k in rows_all[0] if k != "regime"])
        w.writeheader()
        w.writerows(rows_all)
    with open(os.path.join(out, "r_regimes.json"), "w") as f:
        json.dump(dict(info, regimes=summary), f, indent=1)
    with open(os.path.join(out, "r_regimes.md"), "w") as f:
        f.write(markdown(summary, info))
    with open(os.path.join(out, "r_regimes.txt"), "w") as f:
        f.write("\n".join(texts))
    misses = [s["regime"] for s in summary if s["model_pct_of_best"] < 95]
    bl.log(f"r_regimes.py: wrote {out}/r_regimes.{{csv,json,md,txt}} in {info['duration_s'] / 60:.1f} min; "
           + (f"the model's r is below 95% of the best in: {', '.join(misses)}" if misses
              else "the model's r is within 5% of the best measured in every regime"))


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        sys.exit(f"r_regimes.py: {e}")
