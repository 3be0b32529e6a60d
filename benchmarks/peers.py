#!/usr/bin/python3
"""bmc against its peers on one generated decoder: onnxruntime-node and HF-style eager PyTorch.

One command per preset (benchmarks/run_all.sh runs both presets and writes RESULTS.md):
    benchmarks/peers.py --preset gpt2-25m [--contexts 64,256,1024,2048] [--threads 1,2] [--rounds 3]

Peers, all on the same ONNX file (BMC_BUILD_DIR/bench/<preset>.onnx) and the same thread count:
  bmc            bmc_bench on a package from bmc-compile, KV mode bmc with the cost model's r (--r 0)
  ort            onnxruntime-node 1.30.0, tests/peers/ort_decode.mjs --time (present fed back as past)
  torch-dynamic  benchmarks/torch_peer.py, HF eager code with a torch.cat cache (DynamicCache)
  torch-static   the same with a preallocated cache updated in place, attended whole with a mask
                 (StaticCache, --static-cache-len rows)
  llamacpp       llama.cpp (npm node-llama-cpp 3.21.1, its prebuilt CPU build) on the same weights written
                 as GGUF F32 by benchmarks/gguf_convert.py, KV cache --llamacpp-kv (default f32, as bmc's;
                 llama.cpp's own default is f16); llama/mistral presets only (what the converter writes:
                 for other presets the peer is dropped with a message)

Decode: for each context C, every peer times K = min(--window, C/2) decode steps covering the
contexts [C-K, C) (bmc_bench prefills C-K tokens; ORT and torch prefill C-K-3 and run 3 untimed
steps first). Prefill: a --prefill-token prompt (tokens/s and time to first token, warm: the median
of timed runs after one untimed run) for bmc and ORT. Compile: bmc-run on the .onnx (JIT until the
model is ready, its load_ms) and bmc-compile's wall time; package load: bmc_bench's load_s from the
.bmcpkg; ORT's session creation for comparison. Bandwidth: bmc_bench --bandwidth (1 thread, what
bmc's cost model measures) and benchmarks/bw_read.c (1..N threads, each reading 1, 2, 4 or 8
concurrent streams, the best stream count's median; 256 MiB), every round.

Everything runs interleaved, round after round (peer order rotated each round), one process per
measurement (peak RSS per process from wait4). Tables report medians over rounds; ratios are the
median over rounds of the per-round ratio (each pair measured minutes apart, not hours). The
roofline of a run is bandwidth (median of that run, for the thread count) / (weight bytes + KV
bytes read per token), both from the ONNX file: weights read by compute ops (embedding tables
read by Gather excluded) and K/V rows at the window's middle context C - K/2.

Before timing, it checks loudly: torch's logits equal onnxruntime's (torch_peer.py --check, both
caches), bmc's greedy tokens equal onnxruntime's (package and JIT), and torch uses OpenBLAS.

Output: benchmarks/results/peers_<preset>.{csv,md,json,png}.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import BIN, BENCH_DIR, ROOT, BenchError, log  # noqa: E402

PEERS = ("bmc", "ort", "torch-dynamic", "torch-static", "llamacpp")
ORT_DECODE = os.path.join(ROOT, "tests", "peers", "ort_decode.mjs")
ORT_PREFILL = os.path.join(ROOT, "benchmarks", "ort_prefill.mjs")
TORCH_PEER = os.path.join(ROOT, "benchmarks", "torch_peer.py")
WARMUP = 3  # ORT's and torch's untimed decode steps before the window (ort_decode.mjs's default)
CHECK_PROMPT = [5, 17, 300, 42, 7, 1000, 63, 2, 811, 99, 4000, 12]


def torch_env(a):
    if a.torch_blas == "system":
        return {}
    if not os.path.exists(os.path.join(bl.OPENBLAS_DIR, "libblas.so.3")):
        raise BenchError(f"{bl.OPENBLAS_DIR}/libblas.so.3 is missing: apt-get install -y libopenblas0-openmp "
                         "(or --torch-blas system to time torch on the system's BLAS)")
    old = os.environ.get("LD_LIBRARY_PATH")
    return {"LD_LIBRARY_PATH": bl.OPENBLAS_DIR + (":" + old if old else "")}


def bmc_env(t):
    """bmc's cost model caches its calibration in $XDG_CACHE_HOME/bmc/calibration-<threads>t. Each
    run of this script calibrates into a fresh cache before timing (calibrate_bmc), so the constants
    belong to this run and no timed process pays for a calibration."""
    return {"XDG_CACHE_HOME": os.path.join(BENCH_DIR, f"calibration-{t}thread")}


def calibrate_bmc(pkg, threads):
    consts = {}
    for t in threads:
        d = bmc_env(t)["XDG_CACHE_HOME"]
        shutil.rmtree(d, ignore_errors=True)
        bl.run([os.path.join(BIN, "bmc_bench"), pkg, "--context", "16", "--window", "8", "--threads", str(t)],
               env=bmc_env(t), what="bmc_bench (calibration)")
        path = os.path.join(d, "bmc", f"calibration-{t}t")
        if not os.path.exists(path):
            raise BenchError(f"bmc_bench did not write its calibration to {path}")
        with open(path) as f:
            consts[str(t)] = dict(line.rstrip("\n").split(" ", 1) for line in f if " " in line)
    return consts


# ---- one measurement each --------------------------------------------------------------------------
def bmc_decode(pkg, ctx, k, t):
    cmd = [os.path.join(BIN, "bmc_bench"), pkg, "--context", str(ctx), "--window", str(k), "--kv", "bmc",
           "--r", "0", "--threads", str(t)]
    out, rss, _ = bl.run(cmd, env=bmc_env(t))
    j = bl.last_json(out, "bmc_bench")
    j.update(rss_mb=rss, kv_alloc_mb=j["kv_alloc_peak_mb"], context_start=ctx - k)
    return j


def ort_decode(onnx_path, ctx, k, t):
    cmd = ["node", ORT_DECODE, onnx_path, "--time", "--context", str(ctx - k - WARMUP), "--warmup", str(WARMUP),
           "--steps", str(k), "--threads", str(t)]
    out, rss, _ = bl.run(cmd, what="ort_decode.mjs")
    j = bl.last_json(out, "ort_decode.mjs")
    if j["context_start"] != ctx - k or j["context_end"] != ctx:
        raise BenchError(f"ort_decode.mjs timed contexts [{j['context_start']}, {j['context_end']}), expected "
                         f"[{ctx - k}, {ctx})")
    j.pop("tokens", None)
    j.update(rss_mb=rss)
    return j


def torch_decode(a, onnx_path, cache, ctx, k, t):
    cmd = [bl.PYTHON, TORCH_PEER, onnx_path, "--time", "--cache", cache, "--context", str(ctx), "--window", str(k),
           "--warmup", str(WARMUP), "--threads", str(t), "--static-cache-len", str(a.static_cache_len)]
    out, rss, _ = bl.run(cmd, env=torch_env(a), what=f"torch_peer.py ({cache})")
    j = bl.last_json(out, "torch_peer.py")
    if j["context_start"] != ctx - k or j["context_end"] != ctx or j["threads"] != t:
        raise BenchError(f"torch_peer.py ran contexts [{j['context_start']}, {j['context_end']}) with {j['threads']} "
                         f"threads, expected [{ctx - k}, {ctx}) with {t}")
    if a.torch_blas == "openblas" and "openblas" not in j["blas"]:
        raise BenchError(f"torch_peer.py loaded BLAS {j['blas']}, expected OpenBLAS from {bl.OPENBLAS_DIR}")
    j.update(rss_mb=rss)
    return j


def decode(a, peer, onnx_path, pkg, ctx, k, t):
    if peer == "llamacpp":
        return bl.llamacpp_decode(a.gguf, ctx, k, t, WARMUP, a.llamacpp_kv)
    if peer == "bmc":
        return bmc_decode(pkg, ctx, k, t)
    if peer == "ort":
        return ort_decode(onnx_path, ctx, k, t)
    return torch_decode(a, onnx_path, peer.split("-")[1], ctx, k, t)


def bmc_prefill(pkg, n, t):
    out, rss, _ = bl.run([os.path.join(BIN, "bmc_bench"), pkg, "--prefill", str(n), "--threads", str(t)],
                         env=bmc_env(t))
    j = bl.last_json(out, "bmc_bench --prefill")
    j.update(rss_mb=rss)
    return j


def ort_prefill(onnx_path, n, t, repeat):
    out, rss, _ = bl.run(["node", ORT_PREFILL, onnx_path, "--tokens", str(n), "--threads", str(t), "--repeat",
                          str(repeat)], what="ort_prefill.mjs")
    j = bl.last_json(out, "ort_prefill.mjs")
    j.update(rss_mb=rss)
    return j


def bandwidth(bw_exe, threads, model_mib):
    """GB/s: bmc_bench --bandwidth (1 thread, bmc's own probe), bw_read over 256 MiB (DRAM: the
    roofline's figure) and over the model's own per-token bytes (what a decode step streams; a
    last-level cache that keeps part of it between passes makes this higher)."""
    # bmc_bench --bandwidth rewrites the calibration cache: give it a scratch one.
    out, _, _ = bl.run([os.path.join(BIN, "bmc_bench"), "--bandwidth"],
                       env={"XDG_CACHE_HOME": os.path.join(BENCH_DIR, "calibration-scratch")})
    res = {"bmc_bench_1thread": bl.last_json(out, "bmc_bench --bandwidth")["read_gb_s_1thread"]}
    for mib, suffix in ((256, ""), (model_mib, "_model_ws")):
        out, _, _ = bl.run([bw_exe, "--threads", ",".join(map(str, threads)), "--mb", str(mib)])
        j = bl.last_json(out, "bw_read")
        for t in threads:
            res[f"bw_read_{t}thread{suffix}"] = j[f"read_gb_s_{t}thread"]
    return res


def compile_times(onnx_path, prompt, scratch_pkg):
    """JIT: bmc-run on the .onnx until the model is ready (its load_ms); AOT: bmc-compile's wall time."""
    out, _, _ = bl.run([os.path.join(BIN, "bmc-run"), onnx_path, "--prompt", ",".join(map(str, prompt)),
                        "--max-new-tokens", "8", "--threads", "1", "--json"], env=bmc_env(1))
    jit = bl.last_json(out, "bmc-run (JIT)")
    _, _, wall = bl.run([os.path.join(BIN, "bmc-compile"), onnx_path, "-o", scratch_pkg, "--kv", "bmc", "--quiet"])
    os.remove(scratch_pkg)
    return {"jit_compile_s": jit["load_ms"] / 1e3, "aot_compile_s": wall, "jit_tokens": jit["tokens"][0]}


# ---- gates -----------------------------------------------------------------------------------------
def gates(a, onnx_path, pkg):
    log("check: torch logits vs onnxruntime (both caches)")
    out, _, _ = bl.run([bl.PYTHON, TORCH_PEER, onnx_path, "--check", "--static-cache-len", str(a.static_cache_len)],
                       env=torch_env(a), what="torch_peer.py --check")
    torch_check = bl.last_json(out, "torch_peer.py --check")
    if not torch_check.get("passed"):
        raise BenchError(f"torch_peer.py --check did not pass: {torch_check}")
    if a.torch_blas == "openblas" and "openblas" not in torch_check["blas"]:
        raise BenchError(f"torch loaded BLAS {torch_check['blas']}, expected OpenBLAS from {bl.OPENBLAS_DIR}")
    log("check: bmc greedy tokens vs onnxruntime (package and JIT)")
    steps = 16
    out, _, _ = bl.run(["node", ORT_DECODE, onnx_path, "--prompt", ",".join(map(str, CHECK_PROMPT)), "--steps",
                        str(steps), "--threads", "1"], what="ort_decode.mjs")
    ort_tokens = bl.last_json(out, "ort_decode.mjs")["tokens"]
    out, _, _ = bl.run([os.path.join(BIN, "bmc-run"), pkg, "--prompt", ",".join(map(str, CHECK_PROMPT)),
                        "--max-new-tokens", str(steps), "--threads", "1", "--json"], env=bmc_env(1))
    bmc_tokens = bl.last_json(out, "bmc-run")["tokens"][0]
    if bmc_tokens != ort_tokens:
        raise BenchError(f"bmc's greedy tokens differ from onnxruntime's on prompt {CHECK_PROMPT}:\n"
                         f"  bmc {bmc_tokens}\n  ort {ort_tokens}")
    llamacpp = None
    if a.gguf:
        log("check: llama.cpp (GGUF F32) greedy tokens vs bmc")
        theirs = bl.llamacpp_tokens(a.gguf, CHECK_PROMPT, steps, a.llamacpp_kv)
        if theirs != bmc_tokens:
            raise BenchError(f"llama.cpp's greedy tokens on {a.gguf} differ from bmc's on prompt {CHECK_PROMPT}:\n"
                             f"  bmc      {bmc_tokens}\n  llamacpp {theirs}")
        llamacpp = {"prompt": CHECK_PROMPT, "tokens": theirs, "passed": True}
    return {"llamacpp_vs_bmc_tokens": llamacpp, "torch_vs_ort": torch_check, "bmc_vs_ort_tokens": {"prompt": CHECK_PROMPT, "ort": ort_tokens,
                                                                "bmc": bmc_tokens, "passed": True}}


# ---- the run ---------------------------------------------------------------------------------------
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="gpt2-25m", help="bmc_modelgen preset (gpt2-25m, llama-25m)")
    ap.add_argument("--contexts", default="64,256,1024,2048")
    ap.add_argument("--window", type=int, default=128, help="decode steps timed per run (at most context/2)")
    ap.add_argument("--threads", default="1,2", help="thread counts; every peer runs at each")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=512, help="prompt tokens for the prefill measurement (0: skip)")
    ap.add_argument("--prefill-repeat", type=int, default=3, help="timed prefills per ORT run (bmc_bench times 1)")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--static-cache-len", type=int, default=4096,
                    help="torch-static: max_cache_len, rows preallocated and attended every step")
    ap.add_argument("--torch-blas", choices=("openblas", "system"), default="openblas",
                    help="BLAS under torch's Linear layers (default: OpenBLAS, see benchlib.OPENBLAS_DIR)")
    ap.add_argument("--llamacpp-kv", choices=("f32", "f16"), default="f32",
                    help="llama.cpp's KV cache type (default f32, like bmc's; llama.cpp defaults to f16)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in BMC_BUILD_DIR as they are")
    ap.add_argument("--out", default=bl.RESULTS)
    a = ap.parse_args()
    a.gguf = None
    contexts = [int(c) for c in a.contexts.split(",") if c]
    threads = [int(t) for t in a.threads.split(",") if t]
    peers = [p for p in a.peers.split(",") if p]
    bad = [p for p in peers if p not in PEERS]
    if bad or "bmc" not in peers:
        raise BenchError(f"--peers: unknown {bad}; known {PEERS}, and bmc is required (ratios are against it)")
    if a.rounds < 1 or not contexts or not threads or min(contexts) < 2 * WARMUP + 4:
        raise BenchError(f"need --rounds >= 1, threads, and contexts >= {2 * WARMUP + 4}")
    if "torch-static" in peers and max(contexts) > a.static_cache_len:
        raise BenchError(f"--static-cache-len {a.static_cache_len} is below the largest context {max(contexts)}")
    if a.prefill and a.prefill > 4096:
        raise BenchError("--prefill beyond the models' 4096 positions")
    command = "benchmarks/peers.py " + " ".join(sys.argv[1:])
    started = time.time()

    if not a.no_build:
        bl.ensure_build()
    bl.check_binaries()
    onnx_path = bl.ensure_model(a.preset)
    mb = bl.model_bytes(onnx_path)
    if "llamacpp" in peers:
        family = bl.onnx_family(onnx_path)
        if family not in bl.GGUF_FAMILIES:
            log(f"NOTE: llama.cpp peer dropped: preset {a.preset} is family {family}, gguf_convert.py writes "
                f"{'/'.join(bl.GGUF_FAMILIES)} only")
            peers.remove("llamacpp")
        else:
            bl.llamacpp_ready()
            a.gguf = bl.gguf(onnx_path, "f32")
    pkg = os.path.join(BENCH_DIR, f"{a.preset}.bmc.bmcpkg")
    log(f"compiling {pkg}")
    _, _, aot0 = bl.run([os.path.join(BIN, "bmc-compile"), onnx_path, "-o", pkg, "--kv", "bmc", "--quiet"])
    bw_exe = bl.bw_read_exe()
    model_mib = max(64, round(mb["weight_bytes"] / 2**20))
    log(f"calibrating bmc's cost model for {threads} thread(s)")
    calibration = calibrate_bmc(pkg, sorted(set(threads) | {1}))
    gate = gates(a, onnx_path, pkg)
    machine = bl.machine_info()
    versions = {"ort": None, "torch": None, "torch_blas": gate["torch_vs_ort"]["blas"],
                "llamacpp": "node-llama-cpp 3.21.1 (prebuilt CPU), KV " + a.llamacpp_kv if a.gguf else None}

    raw = []  # every measurement, with round/peer/threads/context
    rounds_meta = []
    windows = {c: min(a.window, c // 2) for c in contexts}
    for rnd in range(a.rounds):
        rm = {"round": rnd, "loadavg_start": bl.loadavg(), "t_start": time.time() - started}
        rm["bandwidth"] = bandwidth(bw_exe, threads, model_mib)
        log(f"round {rnd + 1}/{a.rounds}: bandwidth {rm['bandwidth']} GB/s, load {rm['loadavg_start']}")
        rm["compile"] = compile_times(onnx_path, CHECK_PROMPT, os.path.join(BENCH_DIR, f"{a.preset}.scratch.bmcpkg"))
        if rm["compile"]["jit_tokens"][:8] != gate["bmc_vs_ort_tokens"]["ort"][:8]:
            raise BenchError(f"bmc-run (JIT) tokens {rm['compile']['jit_tokens']} differ from onnxruntime's "
                             f"{gate['bmc_vs_ort_tokens']['ort'][:8]}")
        log(f"  compile: JIT {rm['compile']['jit_compile_s']:.2f} s, AOT {rm['compile']['aot_compile_s']:.2f} s")
        if a.prefill:
            for t in threads:
                for peer in (("bmc", "ort") if rnd % 2 == 0 else ("ort", "bmc")):
                    if peer not in peers:
                        continue
                    j = bmc_prefill(pkg, a.prefill, t) if peer == "bmc" else ort_prefill(onnx_path, a.prefill, t,
                                                                                          a.prefill_repeat)
                    raw.append(dict(j, kind="prefill", round=rnd, peer=peer, threads=t))
                    log(f"  prefill {a.prefill} tokens, {t} thread(s), {peer:5s}: {j['ttft_ms']:9.2f} ms "
                        f"({j['prefill_tok_s']:.0f} tokens/s)")
        order = peers[rnd % len(peers):] + peers[:rnd % len(peers)]
        for t in threads:
            for ctx in contexts:
                for peer in order:
                    j = decode(a, peer, onnx_path, pkg, ctx, windows[ctx], t)
                    if peer == "ort":
                        versions["ort"] = j.get("ort_version")
                    if peer.startswith("torch"):
                        versions["torch"] = j.get("torch_version")
                    raw.append(dict(kind="decode", round=rnd, peer=peer, threads=t, ctx=ctx, window=windows[ctx],
                                    ms=j["ms_per_token"], rss_mb=j["rss_mb"], kv_alloc_mb=j.get("kv_alloc_mb"),
                                    load_s=j.get("load_s"), r=j.get("r"), detail=j))
                    log(f"  decode {t} thread(s) context {ctx:5d} {peer:13s} {j['ms_per_token']:9.3f} ms/token  "
                        f"rss {j['rss_mb']:.0f} MB")
        rm["loadavg_end"] = bl.loadavg()
        rounds_meta.append(rm)

    # ---- aggregate ----
    bw = {t: med(r["bandwidth"][f"bw_read_{t}thread"] for r in rounds_meta) for t in threads}
    bw_bmc1 = med(r["bandwidth"]["bmc_bench_1thread"] for r in rounds_meta)
    bw_ws = {t: med(r["bandwidth"][f"bw_read_{t}thread_model_ws"] for r in rounds_meta) for t in threads}

    def roof_ms(ctx, t):
        kv = mb["kv_row_bytes"] * (ctx - windows[ctx] / 2)
        return (mb["weight_bytes"] + kv) / (bw[t] * 1e9) * 1e3

    def ms_of(peer, t, ctx, rnd):
        for r in raw:
            if r["kind"] == "decode" and (r["peer"], r["threads"], r["ctx"], r["round"]) == (peer, t, ctx, rnd):
                return r["ms"]
        return None

    rows = []
    for t in threads:
        for ctx in contexts:
            for peer in peers:
                rs = [r for r in raw if r["kind"] == "decode" and (r["peer"], r["threads"], r["ctx"]) == (peer, t, ctx)]
                ms = med(r["ms"] for r in rs)
                ratio = med(ms_of(peer, t, ctx, r["round"]) / ms_of("bmc", t, ctx, r["round"]) for r in rs)
                rf = roof_ms(ctx, t)
                speedup = None
                if t != 1 and 1 in threads:
                    speedup = med(ms_of(peer, 1, ctx, r["round"]) / r["ms"] for r in rs)
                rows.append(dict(
                    preset=a.preset, peer=peer, threads=t, context=ctx, window=windows[ctx],
                    ms_per_token=round(ms, 4), ms_min=round(min(r["ms"] for r in rs), 4), tok_s=round(1e3 / ms, 2),
                    roofline_ms=round(rf, 4), roofline_tok_s=round(1e3 / rf, 2), pct_roofline=round(100 * rf / ms, 1),
                    vs_bmc=round(ratio, 3), speedup_vs_1thread=round(speedup, 3) if speedup else "",
                    bandwidth_gb_s=round(bw[t], 3), rss_peak_mb=round(max(r["rss_mb"] for r in rs), 1),
                    kv_alloc_mb=round(max(r["kv_alloc_mb"] for r in rs), 3) if rs[0]["kv_alloc_mb"] is not None else "",
                    kv_used_mb=round(mb["kv_row_bytes"] * ctx / 1e6, 3),
                    bmc_r=rs[-1]["r"] if peer == "bmc" else "", rounds=len(rs)))
    prefill = []
    if a.prefill:
        for t in threads:
            for peer in ("bmc", "ort"):
                rs = [r for r in raw if r["kind"] == "prefill" and r["peer"] == peer and r["threads"] == t]
                if not rs:
                    continue
                ttft = med(r["ttft_ms"] for r in rs)
                ratio = None
                if peer == "ort" and "bmc" in peers:  # per-round ratio, as for decode
                    ratio = med(r["ttft_ms"] / next(x["ttft_ms"] for x in raw if x["kind"] == "prefill" and
                                                    x["peer"] == "bmc" and x["threads"] == t and x["round"] == r["round"])
                                for r in rs)
                prefill.append(dict(peer=peer, threads=t, tokens=a.prefill, ttft_ms=round(ttft, 3),
                                    tok_s=round(a.prefill * 1e3 / ttft, 1), vs_bmc=round(ratio, 3) if ratio else 1.0,
                                    rss_peak_mb=round(max(r["rss_mb"] for r in rs), 1),
                                    cold_ms=round(med(r.get("cold_ms") for r in rs), 3) if peer == "ort" else ""))
    compile_ = dict(
        jit_compile_s=med(r["compile"]["jit_compile_s"] for r in rounds_meta),
        aot_compile_s=med([aot0] + [r["compile"]["aot_compile_s"] for r in rounds_meta]),
        package_load_s=med(r["load_s"] for r in raw if r["kind"] == "decode" and r["peer"] == "bmc"),
        ort_session_create_s=med(r["session_create_ms"] / 1e3 for r in raw if r["kind"] == "prefill" and
                                 r["peer"] == "ort"))
    summary = dict(preset=a.preset, command=command, started=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
                   duration_s=round(time.time() - started, 1), params=vars(a), machine=machine, versions=versions,
                   model=dict(onnx=onnx_path, **mb), bandwidth_gb_s={str(t): bw[t] for t in threads},
                   bandwidth_model_ws_gb_s={str(t): bw_ws[t] for t in threads}, bandwidth_model_ws_mib=model_mib,
                   bandwidth_bmc_bench_1thread_gb_s=bw_bmc1, windows={str(c): w for c, w in windows.items()},
                   gates=gate, bmc_calibration=calibration, compile=compile_, decode=rows, prefill=prefill, rounds=rounds_meta, raw=raw)
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"peers_{a.preset}")
    with open(stem + ".json", "w") as f:
        json.dump(summary, f, indent=1)
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(stem + ".md", "w") as f:
        f.write(markdown(summary))
    plot(summary, stem + ".png")
    print(open(stem + ".md").read())


# ---- report ----------------------------------------------------------------------------------------
def fmt(x, nd=2):
    return "" if x is None or x == "" else f"{x:.{nd}f}"


def markdown(s):
    """The per-preset section of RESULTS.md (make_results.py includes it as is)."""
    p, m, c = s["params"], s["model"], s["compile"]
    threads = sorted({r["threads"] for r in s["decode"]})
    peers = list(dict.fromkeys(r["peer"] for r in s["decode"]))
    contexts = sorted({r["context"] for r in s["decode"]})
    cfg = m["config"]
    L = []
    L.append(f"### {s['preset']}\n")
    L.append(f"{cfg.get('family')} ({cfg.get('style')}), {cfg.get('layers')} layers, hidden {cfg.get('hidden')}, "
             f"heads {cfg.get('heads')}/{cfg.get('kv_heads')} (query/KV), vocab {cfg.get('vocab')}; "
             f"{m['weight_bytes'] / 1e6:.1f} MB of weights read per token (of {m['float_init_bytes'] / 1e6:.1f} MB "
             f"in the file), {m['kv_row_bytes'] / 1e3:.1f} kB of K/V per context position. "
             f"Median of {p['rounds']} interleaved round(s); run took {s['duration_s'] / 60:.1f} min.\n")
    bw = s["bandwidth_gb_s"]
    ws = s["bandwidth_model_ws_gb_s"]
    L.append("Read bandwidth measured in this run (median over rounds; bw_read over 256 MiB, the roofline's): " +
             ", ".join(f"{bw[str(t)]:.1f} GB/s with {t} thread(s)" for t in threads) +
             f". Over {s['bandwidth_model_ws_mib']} MiB, the weights one token reads: " +
             ", ".join(f"{ws[str(t)]:.1f} GB/s with {t} thread(s)" for t in threads) +
             f". bmc_bench --bandwidth (bmc's cost model, 1 thread, 96 MB): "
             f"{s['bandwidth_bmc_bench_1thread_gb_s']:.1f} GB/s.\n")
    if s.get("versions", {}).get("llamacpp"):
        L.append(f"llamacpp: {s['versions']['llamacpp']} on the same weights as GGUF F32 (benchmarks/gguf_convert.py); "
                 "its 16 greedy tokens were checked identical to bmc's before timing.\n")
    L.append("#### Decode, ms/token (tokens/s), and % of the roofline of the same thread count\n")
    L.append("| threads | context | window | " + " | ".join(peers) + " | roofline |")
    L.append("|---|---|---|" + "---|" * len(peers) + "---|")
    for t in threads:
        for ctx in contexts:
            cells = []
            roof = None
            for peer in peers:
                r = next(x for x in s["decode"] if (x["peer"], x["threads"], x["context"]) == (peer, t, ctx))
                roof = r
                cells.append(f"{r['ms_per_token']:.2f} ({r['tok_s']:.0f}/s, {r['pct_roofline']:.0f}%)")
            L.append(f"| {t} | {ctx} | {roof['window']} | " + " | ".join(cells) +
                     f" | {roof['roofline_ms']:.2f} ({roof['roofline_tok_s']:.0f}/s) |")
    L.append("")
    others = [x for x in peers if x != "bmc"]
    if others:
        L.append("#### Ratios: peer ms/token / bmc ms/token (median of per-round ratios; > 1: bmc is faster)\n")
        L.append("| threads | context | " + " | ".join(f"{x} / bmc" for x in others) + " |")
        L.append("|---|---|" + "---|" * len(others))
        for t in threads:
            for ctx in contexts:
                cells = [f"{next(x for x in s['decode'] if (x['peer'], x['threads'], x['context']) == (o, t, ctx))['vs_bmc']:.2f}x"
                         for o in others]
                L.append(f"| {t} | {ctx} | " + " | ".join(cells) + " |")
        L.append("")
    multi = [t for t in threads if t != 1]
    if multi and 1 in threads:
        L.append("#### Thread scaling: ms/token at 1 thread / ms/token at N threads (median of per-round ratios)\n")
        L.append("| threads | context | " + " | ".join(peers) + " | bandwidth ratio |")
        L.append("|---|---|" + "---|" * len(peers) + "---|")
        for t in multi:
            for ctx in contexts:
                cells = [f"{next(x for x in s['decode'] if (x['peer'], x['threads'], x['context']) == (pp, t, ctx))['speedup_vs_1thread']:.2f}x"
                         for pp in peers]
                L.append(f"| {t} | {ctx} | " + " | ".join(cells) + f" | {bw[str(t)] / bw['1']:.2f}x |")
        L.append("")
    L.append("#### Memory: peak RSS of the process, MB (KV MB allocated at the end of the window); bmc's r\n")
    L.append("| threads | context | KV MB used | " + " | ".join(peers) + " | bmc r (last round) |")
    L.append("|---|---|---|" + "---|" * len(peers) + "---|")
    for t in threads:
        for ctx in contexts:
            cells = []
            for peer in peers:
                r = next(x for x in s["decode"] if (x["peer"], x["threads"], x["context"]) == (peer, t, ctx))
                kv = f" ({r['kv_alloc_mb']:.1f})" if r["kv_alloc_mb"] != "" else ""
                cells.append(f"{r['rss_peak_mb']:.0f}{kv}")
            kvu = next(x for x in s["decode"] if x["context"] == ctx)["kv_used_mb"]
            rr = next(x for x in s["decode"] if (x["peer"], x["threads"], x["context"]) == ("bmc", t, ctx))["bmc_r"]
            L.append(f"| {t} | {ctx} | {kvu:.1f} | " + " | ".join(cells) + f" | {rr} |")
    L.append("")
    if s["prefill"]:
        L.append(f"#### Prefill of a {p['prefill']}-token prompt (warm; time to first token)\n")
        L.append("| threads | peer | TTFT ms | tokens/s | / bmc | ORT's first (cold) run, ms | peak RSS MB |")
        L.append("|---|---|---|---|---|---|---|")
        for r in s["prefill"]:
            L.append(f"| {r['threads']} | {r['peer']} | {r['ttft_ms']:.1f} | {r['tok_s']:.0f} | {r['vs_bmc']:.2f}x | "
                     f"{fmt(r['cold_ms'], 1)} | {r['rss_peak_mb']:.0f} |")
        L.append("")
    L.append("#### Compile and load\n")
    L.append("| what | seconds |")
    L.append("|---|---|")
    L.append(f"| bmc: ONNX to ready-to-run JIT model (bmc-run on the .onnx, its load time) | {fmt(c['jit_compile_s'], 3)} |")
    L.append(f"| bmc: ahead-of-time package (bmc-compile wall time) | {fmt(c['aot_compile_s'], 3)} |")
    L.append(f"| bmc: package load (bmc_bench load_s on the .bmcpkg) | {fmt(c['package_load_s'], 4)} |")
    if c.get("ort_session_create_s") is not None:
        L.append(f"| onnxruntime: InferenceSession.create on the .onnx | {fmt(c['ort_session_create_s'], 3)} |")
    L.append("")
    g = s["gates"]
    tc = g["torch_vs_ort"]
    L.append(f"Checks passed before timing: torch's logits match onnxruntime's over {tc['steps']} steps (max |diff| "
             f"{max(tc['dynamic']['max_abs_diff'], tc['static']['max_abs_diff']):.2e}, dynamic and static caches, "
             f"torch BLAS {os.path.basename(tc['blas'])}); bmc's greedy tokens equal onnxruntime's over "
             f"{len(g['bmc_vs_ort_tokens']['ort'])} steps (package and JIT).\n")
    L.append(f"![decode tokens/s, {s['preset']}](results/peers_{s['preset']}.png)\n")
    return "\n".join(L) + "\n"


def plot(s, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BenchError("matplotlib is missing: apt-get install -y python3-matplotlib")
    threads = sorted({r["threads"] for r in s["decode"]})
    peers = list(dict.fromkeys(r["peer"] for r in s["decode"]))
    contexts = sorted({r["context"] for r in s["decode"]})
    color = {p: f"C{i}" for i, p in enumerate(PEERS)}
    styles = ("-", ":", "-.", "--")

    def xaxis(ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(contexts)
        ax.set_xticklabels([str(c) for c in contexts])
        ax.set_xlabel("context")

    fig, axes = plt.subplots(1, len(threads) + 1, figsize=(5 * (len(threads) + 1), 4))
    for ax, t in zip(axes, threads):
        for peer in peers:
            xs = [r for r in s["decode"] if r["peer"] == peer and r["threads"] == t]
            ax.plot([r["context"] for r in xs], [r["tok_s"] for r in xs], marker="o", color=color[peer], label=peer)
        rf = [r for r in s["decode"] if r["peer"] == "bmc" and r["threads"] == t]
        ax.plot([r["context"] for r in rf], [r["roofline_tok_s"] for r in rf], "k--",
                label=f"roofline ({s['bandwidth_gb_s'][str(t)]:.1f} GB/s)")
        xaxis(ax)
        ax.set_ylabel("decode tokens/s")
        ax.set_title(f"{t} thread(s)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    ax = axes[-1]
    for peer in peers:
        if peer == "bmc":
            continue
        for t, style in zip(threads, styles):
            xs = [r for r in s["decode"] if r["peer"] == peer and r["threads"] == t]
            ax.plot([r["context"] for r in xs], [r["vs_bmc"] for r in xs], style, marker="o", color=color[peer],
                    label=f"{peer}, {t} thread(s)")
    ax.axhline(1.0, color="k", lw=0.8)
    xaxis(ax)
    ax.set_yscale("log")
    ax.set_ylabel("peer ms/token / bmc ms/token (log)")
    ax.set_title("bmc's speedup over each peer")
    ax.legend(fontsize=7)
    fig.suptitle(f"decode at batch 1, {s['preset']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"peers.py: error: {e}")
