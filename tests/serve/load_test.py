"""A bounded load test of bmc-serve: N concurrent streaming completions, each
with its own prompt (random ids, 8 odd lengths, so that the server batches
equal-length ones), all started at once. Asserts no
errors, every stream complete and framed ([DONE]), each stream's tokens equal
to bmc-run generating that prompt alone (greedy: nothing lost or mixed up
between streams), and afterwards no KV bytes held and the server's RSS back
near its baseline (idle after a first burst; two more bursts must not grow it
by more than 12 MiB; a leak of one logits
buffer per batch would add ~40 MiB per burst).

usage: load_test.py BMC_SERVE BMC_RUN MODEL [--streams 32] [--max-tokens 24] [--workers 4]
           [--max-batch 8] [--no-rss-check]
           [--url URL --pids P1,P2]   (an already running server or load balancer)"""
import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

from servelib import Server, bmc_run_tokens, check, fail, metrics, wait_idle


def stream_completion(url, prompt, max_tokens, timeout=120):
    """Token ids of one streamed completion, its finish_reason and time to first token."""
    p = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                                        "stream": True}), {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    tokens, finish, done, ttft = [], None, False, None
    while True:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if not line:
            continue
        if not line.startswith("data: "):
            raise RuntimeError("not a data line: " + line[:200])
        data = line[6:]
        if data == "[DONE]":
            done = True
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise RuntimeError("error event: " + data)
        c = chunk["choices"][0]
        if c["token_ids"] and ttft is None:
            ttft = time.perf_counter() - t0
        tokens += c["token_ids"]
        finish = c["finish_reason"] or finish
    conn.close()
    if not done:
        raise RuntimeError("the stream ended without data: [DONE]")
    return tokens, finish, ttft


def run_load(url, prompts, refs, max_tokens):
    results, errors = [None] * len(prompts), []
    go = threading.Barrier(len(prompts))

    def one(i):
        try:
            go.wait()
            results[i] = stream_completion(url, prompts[i], max_tokens)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(f"stream {i}: {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    elapsed = time.perf_counter() - t0
    check(not any(t.is_alive() for t in threads), "streams still running after 150 s")
    check(not errors, f"{len(errors)} of {len(prompts)} streams failed: " + "; ".join(errors[:5]))
    for i, (tokens, finish, _) in enumerate(results):
        check(tokens == refs[i], f"stream {i}: tokens {tokens} differ from the prompt run alone {refs[i]}")
        check(finish == "length", f"stream {i}: finish_reason {finish}")
    n = sum(len(r[0]) for r in results)
    print(f"load: {len(prompts)} concurrent streams x {max_tokens} tokens in {elapsed:.2f} s "
          f"({n / elapsed:.1f} tokens/s), all equal to their prompts run alone")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("serve")
    ap.add_argument("run")
    ap.add_argument("model")
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--url", help="a running server or load balancer (no server is started)")
    ap.add_argument("--pids", default="", help="with --url: the servers' process ids, for the RSS check")
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--no-rss-check", action="store_true",
                    help="under the sanitizers: their allocators keep freed blocks, so RSS tells nothing")
    a = ap.parse_args()

    rng = random.Random(13)
    # Distinct prompts; lengths repeat (8 odd lengths), so that equal-length greedy requests can be batched.
    prompts = [[rng.randrange(a.vocab) for _ in range([3, 5, 7, 11, 13, 17, 19, 23][i % 8])] for i in range(a.streams)]
    t0 = time.perf_counter()
    refs = [bmc_run_tokens(a.run, a.model, p, a.max_tokens)["tokens"][0] for p in prompts]
    print(f"load: references from bmc-run in {time.perf_counter() - t0:.1f} s")
    check(len({tuple(r) for r in refs}) > a.streams // 2, "too few distinct references to tell streams apart")

    srv = None
    if a.url:
        url, pids = a.url, [int(p) for p in a.pids.split(",") if p]
    else:
        srv = Server(a.serve, [a.model, "--workers", str(a.workers), "--max-batch", str(a.max_batch)])
        url, pids = srv.url, [srv.proc.pid]

    def rss_kb():
        total = 0
        for pid in pids:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return total

    # The baseline: the server idle after one such burst (workers, batches of
    # every size and HTTP threads have run; the runtime keeps a bounded number
    # of freed large blocks for reuse). Two more bursts must not grow it.
    cold = rss_kb()
    run_load(url, prompts, refs, a.max_tokens)
    wait_idle(url)
    time.sleep(0.5)
    base = rss_kb()
    for _ in range(2):
        run_load(url, prompts, refs, a.max_tokens)
    m = wait_idle(url)
    print(f"load: {m['bmc_batches_total']:.0f} batches of {m['bmc_batched_sequences_total']:.0f} sequences in all"
          + (" (one replica's metrics)" if a.url else ""))
    if not a.url and a.max_batch > 1:
        check(m["bmc_batched_sequences_total"] >= 2, "no requests were batched together")
    check(m["bmc_kv_bytes_allocated"] == 0, f"KV bytes still allocated after the load: {m['bmc_kv_bytes_allocated']}")
    time.sleep(0.5)
    after = rss_kb()
    print(f"load: RSS {cold / 1024:.1f} MiB before the first burst, {base / 1024:.1f} MiB after it, "
          f"{after / 1024:.1f} MiB after two more")
    if not a.no_rss_check:
        check(after <= base + 12 * 1024, f"RSS grew from {base} kB to {after} kB over two more bursts")
    if srv:
        srv.stop()
    print("serve.load: ok")


if __name__ == "__main__":
    main()
