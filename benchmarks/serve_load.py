#!/usr/bin/env python3
"""bmc-serve under load: throughput, time to first token (TTFT) and per-token
latency (the gaps between streamed tokens, ITL) at 1, 8 and 32 concurrent
clients. Each client sends streaming completions back to back (token-id
prompts, greedy, fixed max_tokens) for --seconds; every stream is checked to
be complete and error-free. batched_pct / mean_batch: the share of requests
the server generated in batches, and those batches' mean size (/metrics).

  benchmarks/serve_load.py                       # demo model (llama-25m), 1/8/32 clients, 20 s each
  benchmarks/serve_load.py --seconds 5 --clients 1,8   # a short run
  benchmarks/serve_load.py --url http://127.0.0.1:8080 --vocab 8192   # a running server / load balancer

Writes a Markdown table to stdout and, with --csv FILE, the same rows as CSV.
"""
import argparse
import csv
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def one_stream(url, prompt, max_tokens):
    """(ttft s, [inter-token gaps s], tokens) of one streamed completion."""
    p = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=300)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                                        "stream": True}), {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    stamps, done = [], False
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        data = line[6:]
        if data == b"[DONE]":
            done = True
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise RuntimeError(data.decode())
        n = len(chunk["choices"][0]["token_ids"])
        now = time.perf_counter()
        stamps += [now] * n
    conn.close()
    if not done or len(stamps) != max_tokens:
        raise RuntimeError(f"incomplete stream: {len(stamps)} of {max_tokens} tokens, [DONE] {done}")
    return stamps[0] - t0, [b - a for a, b in zip(stamps, stamps[1:])], len(stamps)


def batch_counts(url):
    """(batches, sequences in them) from /metrics (zeros from a server without them)."""
    p = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    get = lambda name: float((re.search(rf"^{name} (\S+)$", text, re.M) or [0, 0])[1])
    return get("bmc_batches_total"), get("bmc_batched_sequences_total")


def run_level(url, clients, seconds, prompt_len, max_tokens, vocab, seed):
    ttft, itl, errors = [], [], []
    tokens = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(i):
        r = random.Random(seed * 1000 + i)
        while time.perf_counter() < stop_at:
            prompt = [r.randrange(vocab) for _ in range(prompt_len)]
            try:
                t, gaps, n = one_stream(url, prompt, max_tokens)
            except Exception as e:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(str(e))
                return
            with lock:
                ttft.append(t)
                itl.extend(gaps)
                tokens[0] += n

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    b0 = batch_counts(url)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    b1 = batch_counts(url)
    batched = b1[1] - b0[1]
    return {"clients": clients, "requests": len(ttft), "errors": len(errors), "tokens": tokens[0],
            "wall_s": round(wall, 2), "tokens_per_s": round(tokens[0] / wall, 1),
            "ttft_p50_ms": round(1e3 * pct(ttft, 50), 1), "ttft_p99_ms": round(1e3 * pct(ttft, 99), 1),
            "itl_p50_ms": round(1e3 * pct(itl, 50), 2), "itl_p99_ms": round(1e3 * pct(itl, 99), 2),
            "batched_pct": round(100 * batched / max(1, len(ttft)), 0),
            "mean_batch": round(batched / (b1[0] - b0[0]), 1) if b1[0] > b0[0] else 1,
            "first_error": errors[0][:200] if errors else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a .bmcpkg or .onnx (default: the demo's llama-25m, generated and compiled)")
    ap.add_argument("--url", help="a running server or load balancer; no server is started")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--serve-args", default="", help="more bmc-serve options, e.g. '--threads 2'")
    ap.add_argument("--csv")
    a = ap.parse_args()
    build = os.environ.get("BMC_BUILD_DIR", os.path.join(ROOT, "build"))

    proc = None
    url = a.url
    if not url:
        model = a.model
        if not model:
            model = os.path.join(build, "demo", "llama-25m.bmcpkg")
            if not os.path.exists(model):
                onnx = os.path.join(build, "demo", "llama-25m.onnx")
                os.makedirs(os.path.dirname(onnx), exist_ok=True)
                if not os.path.exists(onnx):
                    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/models/bmc_modelgen.py"), "-q",
                                    "--preset", "llama-25m", "-o", onnx], check=True)
                subprocess.run([os.path.join(build, "bin", "bmc-compile"), onnx, "-o", model, "--quiet"], check=True)
        max_queue = max(64, 2 * max(int(c) for c in a.clients.split(",")))
        cmd = [os.path.join(build, "bin", "bmc-serve"), model, "--port", "0", "--workers", str(a.workers),
               "--max-queue", str(max_queue)] + a.serve_args.split()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        if not url:
            sys.exit("serve_load: bmc-serve did not start")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        one_stream(url, [1, 2, 3], 4)  # warm-up (and the cost model's calibration, if not cached)
        rows = [run_level(url, int(c), a.seconds, a.prompt_len, a.max_tokens, a.vocab, 7) for c in a.clients.split(",")]
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    cols = ["clients", "requests", "errors", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms",
            "batched_pct", "mean_batch"]
    print(f"bmc-serve load: prompt {a.prompt_len} tokens, {a.max_tokens} generated, {a.seconds:g} s per level, "
          f"{a.workers} workers" + (f" ({a.serve_args})" if a.serve_args else ""))
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    bad = [r for r in rows if r["errors"]]
    if bad:
        sys.exit(f"serve_load: {sum(r['errors'] for r in bad)} failed streams, e.g. {bad[0]['first_error']}")


if __name__ == "__main__":
    main()
