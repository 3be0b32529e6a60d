"""Shared pieces of the benchmark drivers (peers.py, kv_modes.py, make_results.py).

Every helper fails loudly: a command that exits non-zero, prints no JSON, or runs past its
timeout raises BenchError with the command line and the tail of its stderr.
"""
import glob
import json
import os
import platform
import re
import selectors
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BMC_BUILD_DIR", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "bin")
BENCH_DIR = os.path.join(BUILD, "bench")  # generated models and packages (shared with kv_modes.py)
RESULTS = os.path.join(ROOT, "benchmarks", "results")
PYTHON = "/usr/bin/python3"  # Debian's, with python3-onnx / numpy / torch
# Debian's torch 1.13 calls the system libblas.so.3 for Linear layers; the default alternative is the
# (unoptimised, single-threaded) reference BLAS. The torch peer runs with OpenBLAS (OpenMP build,
# the runtime torch itself uses) put first on the library path; run_all.sh installs it.
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None, timeout=1800, what=None):
    """Runs cmd (in the repository root); returns (stdout, peak RSS of that process in MB, wall s).

    stdout is read here and the child is reaped with wait4, which gives that child's own rusage
    (RUSAGE_CHILDREN would be the maximum over all children so far). Raises BenchError when the
    command exits non-zero or runs past `timeout` seconds (then it is killed)."""
    full_env = dict(os.environ, **(env or {}))
    name = what or os.path.basename(cmd[0])
    with tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=full_env, cwd=ROOT)
        except OSError as e:
            raise BenchError(f"{name}: cannot run {shlex.join(cmd)}: {e}")
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        chunks = []
        try:
            while True:
                left = t0 + timeout - time.perf_counter()
                if left <= 0:
                    p.kill()
                    os.wait4(p.pid, 0)
                    p.returncode = -9
                    raise BenchError(f"{name}: timed out after {timeout} s: {shlex.join(cmd)}")
                if sel.select(timeout=min(left, 1.0)):
                    data = os.read(p.stdout.fileno(), 1 << 16)
                    if not data:
                        break
                    chunks.append(data)
        finally:
            sel.close()
            p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if p.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise BenchError(f"{name} failed (exit {p.returncode}): {shlex.join(cmd)}\n{tail}")
    return b"".join(chunks).decode(), ru.ru_maxrss / 1024.0, wall


def last_json(out, cmd_desc):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError as e:
                raise BenchError(f"{cmd_desc}: bad JSON ({e}): {line[:200]}")
    raise BenchError(f"{cmd_desc}: printed no JSON line; stdout was:\n{out[-2000:]}")


def ensure_build(targets=("bmc_bench", "bmc-compile", "bmc-run")):
    log(f"building {' '.join(targets)} in {BUILD}")
    r = subprocess.run([os.path.join(ROOT, ".ci", "build.sh"), *targets], env=dict(os.environ, BMC_BUILD_DIR=BUILD))
    if r.returncode != 0:
        raise BenchError(f".ci/build.sh {' '.join(targets)} failed (exit {r.returncode})")
    for t in targets:
        if not os.access(os.path.join(BIN, t), os.X_OK):
            raise BenchError(f"build finished but {os.path.join(BIN, t)} is missing")


def check_binaries(targets=("bmc_bench", "bmc-compile", "bmc-run")):
    missing = [t for t in targets if not os.access(os.path.join(BIN, t), os.X_OK)]
    if missing:
        raise BenchError(f"{', '.join(missing)} not built in {BIN} (set BMC_BUILD_DIR, or drop --no-build)")


def ensure_model(preset):
    """BENCH_DIR/<preset>.onnx, regenerated when missing or older than the model generator."""
    os.makedirs(BENCH_DIR, exist_ok=True)
    onnx_path = os.path.join(BENCH_DIR, preset + ".onnx")
    gen = os.path.join(ROOT, "tests", "models", "bmc_modelgen.py")
    sources = [gen] + glob.glob(os.path.join(ROOT, "tests", "models", "modelgen", "*.py"))
    if not os.path.exists(onnx_path) or os.path.getmtime(onnx_path) < max(map(os.path.getmtime, sources)):
        log(f"generating {onnx_path}")
        r = subprocess.run([PYTHON, gen, "--preset", preset, "-o", onnx_path])
        if r.returncode != 0:
            raise BenchError(f"bmc_modelgen.py --preset {preset} failed (exit {r.returncode})")
    return onnx_path


BW_SRC = os.path.join(ROOT, "benchmarks", "bw_read.c")


def bw_read_exe():
    """BENCH_DIR/bw_read, compiled from benchmarks/bw_read.c when missing or older than it."""
    exe = os.path.join(BENCH_DIR, "bw_read")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(BW_SRC):
        os.makedirs(BENCH_DIR, exist_ok=True)
        cc = "clang-19" if _first(["sh", "-c", "command -v clang-19"]) else "cc"
        run([cc, "-O2", "-march=native", "-pthread", BW_SRC, "-o", exe], what="compiling bw_read.c")
    return exe


def read_bandwidth(bw_exe, threads=1):
    """GB/s of bw_read over 256 MiB (3 repetitions) with `threads` threads: the probe quant.py and
    spec.py run right before each measurement."""
    out, _, _ = run([bw_exe, "--threads", str(threads), "--mb", "256", "--reps", "3"], what="bw_read")
    j = last_json(out, "bw_read")
    return j.get(f"read_gb_s_{threads}thread", j.get("read_gb_s_1thread"))


def bmc_decode(pkg, ctx, window, threads):
    """bmc_bench on a package: ms/token over the decode window [ctx - window, ctx) (its JSON, plus the
    process's peak RSS as rss_mb)."""
    out, rss, _ = run([os.path.join(BIN, "bmc_bench"), pkg, "--context", str(ctx), "--window", str(window),
                       "--threads", str(threads)], what="bmc_bench")
    j = last_json(out, "bmc_bench")
    j["rss_mb"] = rss
    return j


def bmc_roofline(bench, ctx, window, ms_per_token, gb_s):
    """(MB read per token, % of the roofline) of a bmc_bench result: the weight bytes bmc's package says
    a decode step streams (weights_read_mb) plus the KV rows read at the window's middle context, against
    `gb_s` (bw_read's probe): 100% = those bytes at the probed bandwidth."""
    mb = bench["weights_read_mb"] + bench["kv_bytes_per_row"] * (ctx - window / 2) / 1e6
    return mb, 100 * mb / 1e3 / gb_s / (ms_per_token / 1e3)


def model_bytes(onnx_path):
    """What decoding one token must read at least, from the ONNX file itself (the same for every peer):
    weight_bytes = float initializers read by compute ops (an embedding table read only by Gather
    contributes one row, counted as 0); kv_row_bytes = bytes of one context position over all
    key and value caches (batch 1). Also returns the total float initializer bytes and the config."""
    import numpy as np
    import onnx
    m = onnx.load(onnx_path)
    inits = {t.name: t for t in m.graph.initializer}
    alias = {}
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            alias[n.output[0]] = n.input[0]
    uses = {}
    for n in m.graph.node:
        for i, x in enumerate(n.input):
            x = alias.get(x, x)
            if x in inits:
                uses.setdefault(x, set()).add("gather-table" if n.op_type == "Gather" and i == 0 else n.op_type)
    total = read = 0
    for name, t in inits.items():
        if t.data_type != onnx.TensorProto.FLOAT:
            continue
        nbytes = int(np.prod(t.dims)) * 4 if len(t.dims) else 4
        total += nbytes
        u = uses.get(name, set())
        if u and u != {"gather-table"}:
            read += nbytes
    row = 0
    for i in m.graph.input:
        if i.name.startswith("past_key_values."):
            d = [x.dim_value for x in i.type.tensor_type.shape.dim]
            if len(d) != 4 or d[1] <= 0 or d[3] <= 0:
                raise BenchError(f"{onnx_path}: {i.name}: expected [batch, kv_heads, past, head_dim] with static heads")
            row += d[1] * d[3] * 4
    if row == 0:
        raise BenchError(f"{onnx_path}: no past_key_values.* inputs")
    props = {p.key: p.value for p in m.metadata_props}
    cfg = json.loads(props.get("bmc.modelgen", "{}"))
    return dict(weight_bytes=read, float_init_bytes=total, kv_row_bytes=row, config=cfg)


def _first(cmd, pattern=None):
    try:
        out = subprocess.run(cmd, text=True, capture_output=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if pattern:
        m = re.search(pattern, out, re.M)
        return m.group(1).strip() if m else None
    return out.strip().splitlines()[0] if out.strip() else None


def cache_bytes(text):
    """lscpu's cache size ("32 MiB (1 instance)") in bytes, or None."""
    import re
    m = re.match(r"\s*([\d.]+)\s*([KMG])i?B", text or "")
    if not m:
        return None
    return int(float(m.group(1)) * {"K": 2**10, "M": 2**20, "G": 2**30}[m.group(2)])


def machine_info():
    lscpu = {}
    out = subprocess.run(["lscpu"], text=True, capture_output=True).stdout
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            lscpu[k.strip()] = v.strip()
    mem = _first(["grep", "MemTotal", "/proc/meminfo"], r"MemTotal:\s*(\d+)")
    info = dict(
        cpu=lscpu.get("Model name"), cpus=lscpu.get("CPU(s)"), threads_per_core=lscpu.get("Thread(s) per core"),
        hypervisor=lscpu.get("Hypervisor vendor"), l2=lscpu.get("L2 cache"), l3=lscpu.get("L3 cache"),
        avx2="avx2" in lscpu.get("Flags", ""), avx512f="avx512f" in lscpu.get("Flags", ""),
        mem_gib=round(int(mem) / 2**20, 1) if mem else None, kernel=platform.release(),
        os=_first(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        node=_first(["node", "--version"]), clang=_first(["clang-19", "--version"]),
        bmc_commit=_first(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        # Results the run itself rewrites (benchmarks/results, RESULTS.md) do not make the code dirty.
        bmc_worktree_dirty=bool(_first(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".",
                                        ":!benchmarks/results", ":!benchmarks/RESULTS.md"])),
        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    return info


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# ---- llama.cpp (node-llama-cpp's prebuilt CPU build) as a peer ------------------------------------
LLAMACPP_DIR = os.path.join(ROOT, "benchmarks", "llamacpp")
LLAMACPP_DECODE = os.path.join(LLAMACPP_DIR, "llamacpp_decode.mjs")
GGUF_CONVERT = os.path.join(ROOT, "benchmarks", "gguf_convert.py")
GGUF_FAMILIES = ("llama", "mistral")  # what gguf_convert.py converts


def llamacpp_ready():
    """Installs node-llama-cpp 3.21.1 into benchmarks/llamacpp (benchmarks/llamacpp/setup.sh)."""
    r = subprocess.run([os.path.join(LLAMACPP_DIR, "setup.sh")])
    if r.returncode != 0:
        raise BenchError("benchmarks/llamacpp/setup.sh failed: llama.cpp peer unavailable")


def onnx_family(onnx_path):
    import onnx  # Debian's python3-onnx; only the metadata is read
    m = onnx.load(onnx_path, load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    return json.loads(meta["bmc.modelgen"])["family"] if "bmc.modelgen" in meta else None


def gguf(onnx_path, kind):
    """BENCH_DIR/<model>.<KIND>.gguf from gguf_convert.py, rewritten when older than the model or the converter."""
    out = os.path.splitext(onnx_path)[0] + f".{kind.upper()}.gguf"
    if not os.path.exists(out) or os.path.getmtime(out) < max(os.path.getmtime(onnx_path),
                                                              os.path.getmtime(GGUF_CONVERT)):
        run([PYTHON, GGUF_CONVERT, onnx_path, "-o", out, "--type", kind], what="gguf_convert.py")
    return out


def llamacpp_decode(gguf_path, ctx, window, threads, warmup, kv="f32"):
    """ms/token over the contexts [ctx - window, ctx) (llamacpp_decode.mjs --time)."""
    out, rss, _ = run(["node", LLAMACPP_DECODE, gguf_path, "--time", "--context", str(ctx), "--steps", str(window),
                       "--warmup", str(warmup), "--threads", str(threads), "--kv", kv], what="llamacpp_decode.mjs")
    j = last_json(out, "llamacpp_decode.mjs")
    j["rss_mb"] = rss
    return j


def llamacpp_tokens(gguf_path, prompt, steps, kv="f32"):
    out, _, _ = run(["node", LLAMACPP_DECODE, gguf_path, "--prompt", ",".join(map(str, prompt)), "--steps", str(steps),
                     "--kv", kv], what="llamacpp_decode.mjs")
    return last_json(out, "llamacpp_decode.mjs")["tokens"]
