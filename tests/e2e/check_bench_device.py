#!/usr/bin/python3
"""e2e.bench_device: bmc_bench_device --device cpu on a CPU package of the tiny llama, briefly.

Checks the output's fields, not its numbers (nothing here is a benchmark): a setup line, a cost_model line, one row
per round and KV mode in the rotated order, one summary per mode, every number present and
finite, the sessions' lengths and memory consistent with the options; that --device cuda on this
CPU package ends in one line naming the device (no GPU is needed for that); and --kv concat on a
package compiled with --kv concat (rows, a summary, the rows used).

  check_bench_device.py BMC_COMPILE BMC_BENCH_DEVICE MODEL.onnx WORKDIR
"""
import json
import math
import os
import subprocess
import sys

compile_, bench, model, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
pkg = os.path.join(work, "bench_device_llama.bmcpkg")
subprocess.run([compile_, model, "-o", pkg], check=True, capture_output=True)

CTX, WINDOW, WARMUP, ROUNDS = 40, 6, 2, 3
r = subprocess.run([bench, pkg, "--device", "cpu", "--context", str(CTX), "--window", str(WINDOW), "--warmup",
                    str(WARMUP), "--rounds", str(ROUNDS), "--kv", "bmc,prealloc", "--threads", "1",
                    "--bw-mb", "16"], text=True, capture_output=True)
if r.returncode != 0:
    sys.exit(f"bmc_bench_device failed ({r.returncode}): {r.stderr.strip()}")
lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
errors = []


def need(cond, what):
    if not cond:
        errors.append(what)


def numbers(obj, keys, where):
    for k in keys:
        v = obj.get(k)
        need(isinstance(v, (int, float)) and math.isfinite(v), f"{where}: '{k}' missing or not a finite number: {v!r}")


setup = [l for l in lines if l.get("kind") == "setup"]
rows = [l for l in lines if l.get("kind") == "row"]
summaries = [l for l in lines if l.get("kind") == "summary"]
need(len(setup) == 1, f"expected one setup line, found {len(setup)}")
need(len(rows) == 2 * ROUNDS, f"expected {2 * ROUNDS} rows, found {len(rows)}")
need(len(summaries) == 2, f"expected 2 summaries, found {len(summaries)}")
if setup:
    s = setup[0]
    need(s.get("device") == "cpu", f"setup: device {s.get('device')!r}")
    numbers(s, ("device_memory_mb", "bw_buffer_mb", "load_s", "weights_mb", "weights_read_mb", "kv_bytes_per_row"),
            "setup")
    need(s.get("context") == CTX and s.get("window") == WINDOW and s.get("warmup") == WARMUP,
         f"setup: context/window/warmup {s.get('context')}/{s.get('window')}/{s.get('warmup')}")
    need(abs(s.get("bw_buffer_mb", 0) - 16) < 1e-9, f"setup: bw_buffer_mb {s.get('bw_buffer_mb')} (asked 16)")
    need(s.get("kv_bytes_per_row", 0) > 0 and s.get("weights_read_mb", 0) > 0, "setup: empty weights or KV rows")
row_keys = ("tok_s", "ms_per_token", "bw_gb_s", "bytes_per_token", "roofline_tok_s", "roofline_pct", "weights_mb",
            "kv_alloc_mb", "kv_peak_mb", "kv_used_mb")
for i, row in enumerate(rows):
    numbers(row, row_keys, f"row {i}")
    need(row.get("round") == i // 2, f"row {i}: round {row.get('round')}")
    need(row.get("context") == CTX, f"row {i}: context {row.get('context')}")
    for k in ("tok_s", "bw_gb_s", "bytes_per_token", "roofline_pct"):
        need(row.get(k, 0) > 0, f"row {i}: '{k}' not positive: {row.get(k)}")
    need(abs(row["roofline_pct"] - 100 * row["tok_s"] / row["roofline_tok_s"]) < 0.01 * max(1, row["roofline_pct"]),
         f"row {i}: roofline_pct is not tok_s / roofline_tok_s")
    if setup:
        # The bytes of a step: the weights read plus the mean KV rows read over the window.
        rows_read = sum(t + 1 for t in range(CTX - WINDOW, CTX)) / WINDOW
        want = setup[0]["weights_read_mb"] * 1e6 + rows_read * setup[0]["kv_bytes_per_row"]
        need(abs(row["bytes_per_token"] - want) <= 1e-3 * want + 1, f"row {i}: bytes_per_token "
             f"{row['bytes_per_token']}, expected {want:.0f} (weights + mean KV rows read)")
        # Every session ends holding CTX tokens: the used rows are CTX rows.
        used = CTX * setup[0]["kv_bytes_per_row"] / 1e6
        need(abs(row["kv_used_mb"] - used) < 1e-3, f"row {i}: kv_used_mb {row['kv_used_mb']}, expected {used}")
        need(row["kv_alloc_mb"] >= row["kv_used_mb"] - 1e-9, f"row {i}: less allocated than used")
# The order is rotated each round: bmc first in round 0, prealloc first in round 1, ...
order = [row.get("kv_mode") for row in rows]
want_order = [m for k in range(ROUNDS) for m in (("bmc", "prealloc") if k % 2 == 0 else ("prealloc", "bmc"))]
need(order == want_order, f"rows in the order {order}, expected {want_order}")
for s in summaries:
    numbers(s, ("tok_s", "bw_gb_s", "bytes_per_token", "roofline_pct", "weights_mb", "kv_alloc_mb", "kv_used_mb"),
            f"summary {s.get('kv_mode')}")
    need(s.get("rounds") == ROUNDS, f"summary {s.get('kv_mode')}: rounds {s.get('rounds')}")
need(sorted(s.get("kv_mode") for s in summaries) == ["bmc", "prealloc"], "summaries: not one per mode")
# No --r and none compiled in: one cost_model line (after the first bmc session) with the constants
# and the r of its last growth, the r of round 0's bmc row.
models = [l for l in lines if l.get("kind") == "cost_model"]
need(len(models) == 1, f"expected one cost_model line, found {len(models)}")
if models:
    numbers(models[0], ("read_gb_s", "alloc_us", "copy_gb_s", "r"), "cost_model")
    need(models[0].get("read_gb_s", 0) > 0, "cost_model: read_gb_s not positive")
    bmc_rows = [row for row in rows if row.get("kv_mode") == "bmc"]
    need(bmc_rows and models[0].get("r") == bmc_rows[0].get("r"),
         f"cost_model: r {models[0].get('r')}, round 0's bmc row {bmc_rows[0].get('r') if bmc_rows else None}")

# A CPU package asked to run on cuda: one line on stderr, exit status 1, no JSON rows.
r = subprocess.run([bench, pkg, "--device", "cuda", "--context", str(CTX), "--window", str(WINDOW)], text=True,
                   capture_output=True)
err = r.stderr.strip()
need(r.returncode == 1 and err.count("\n") == 0 and "cuda" in err and '"kind": "row"' not in r.stdout,
     f"--device cuda on a CPU package: exit {r.returncode}, stderr {err!r}")
# A bad --kv is named; concat on a package compiled in place is the session's one line.
for kv, word in (("bmc,paged", "paged"), ("bmc,concat", "--kv concat")):
    r = subprocess.run([bench, pkg, "--device", "cpu", "--context", str(CTX), "--window", str(WINDOW), "--kv", kv],
                       text=True, capture_output=True)
    need(r.returncode != 0 and word in r.stderr, f"--kv {kv}: exit {r.returncode}, stderr {r.stderr.strip()!r}")

# concat on a package compiled with --kv concat: one row per round, its summary, every session
# ending with CTX rows used (the graph's tensors, exactly the tokens).
concat_pkg = os.path.join(work, "bench_device_llama_concat.bmcpkg")
subprocess.run([compile_, model, "--kv", "concat", "-o", concat_pkg], check=True, capture_output=True)
r = subprocess.run([bench, concat_pkg, "--device", "cpu", "--context", str(CTX), "--window", str(WINDOW), "--warmup",
                    str(WARMUP), "--rounds", "2", "--kv", "concat", "--threads", "1", "--bw-mb", "16"], text=True,
                   capture_output=True)
need(r.returncode == 0, f"--kv concat: exit {r.returncode}, stderr {r.stderr.strip()!r}")
concat = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
crows = [l for l in concat if l.get("kind") == "row"]
csum = [l for l in concat if l.get("kind") == "summary"]
need(len(crows) == 2 and all(c.get("kv_mode") == "concat" for c in crows), f"--kv concat: rows {crows}")
need(len(csum) == 1 and csum[0].get("kv_mode") == "concat", f"--kv concat: summaries {csum}")
for i, row in enumerate(crows):
    numbers(row, row_keys, f"concat row {i}")
    if setup:
        used = CTX * setup[0]["kv_bytes_per_row"] / 1e6
        need(abs(row["kv_used_mb"] - used) < 1e-3, f"concat row {i}: kv_used_mb {row['kv_used_mb']}, expected {used}")

if errors:
    print("\n".join(errors))
    print("output:\n" + "\n".join(json.dumps(l) for l in lines))
    sys.exit(1)
print(f"bench_device: {len(rows)} rows, {len(summaries)} summaries, fields and consistency checked")
