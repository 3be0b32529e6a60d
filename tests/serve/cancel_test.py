"""A client that goes away cancels its request, streaming or not, queued or
running: a running generation stops within a few tokens' time and its KV
buffers are freed, long before its max_tokens would have been reached; a
queued request leaves the queue at once. Read from /metrics
(bmc_requests_cancelled_total, bmc_kv_bytes_allocated, bmc_queue_depth).

The model is slow enough (~10 ms a token here) that max_tokens 2000 would take
20 s or more, so "well before" is many seconds of margin.

usage: cancel_test.py BMC_SERVE MODEL.bmcpkg"""
import http.client
import json
import socket
import sys
import time

from servelib import Server, check, fail, metrics, wait_idle

serve_bin, model = sys.argv[1:3]
MAX_TOKENS = 2000

srv = Server(serve_bin, [model, "--workers", "1", "--max-queue", "4", "--threads", "1"])
host, port = "127.0.0.1", srv.port


def post(stream, prompt):
    c = http.client.HTTPConnection(host, port, timeout=120)
    c.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0,
                                                     "stream": stream}), {"Content-Type": "application/json"})
    return c


def leave(c):
    """The client goes away (as a killed client does: the socket is closed)."""
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()


def wait_for(what, pred, timeout=30):
    deadline = time.time() + timeout
    while True:
        m = metrics(srv.url)
        if pred(m):
            return m
        if time.time() > deadline:
            fail(f"{what}: not seen within {timeout} s: {m}")
        time.sleep(0.02)


def cancelled(m):
    return m["bmc_requests_cancelled_total"]


for stream in (False, True):
    mode = "streaming" if stream else "non-streaming"
    m0 = wait_idle(srv.url)
    running = post(stream, [1, 2, 3])
    m = wait_for(f"{mode}: the request running", lambda m: m["bmc_active_requests"] == 1 and m["bmc_kv_bytes_allocated"] > 0)
    # A second one waits in the queue behind it; its client leaves: it leaves the queue at once.
    queued = post(stream, [4, 5])
    wait_for(f"{mode}: the second request queued", lambda m: m["bmc_queue_depth"] == 1)
    leave(queued)
    m = wait_for(f"{mode}: the queued request cancelled", lambda m: m["bmc_queue_depth"] == 0 and cancelled(m) == cancelled(m0) + 1)
    check(m["bmc_active_requests"] == 1, f"{mode}: the running request was disturbed: {m}")
    # The running one's client leaves: generation stops and the KV bytes go back to 0.
    t0 = time.time()
    leave(running)
    m = wait_for(f"{mode}: the running request cancelled, its KV freed",
                 lambda m: cancelled(m) == cancelled(m0) + 2 and m["bmc_kv_bytes_allocated"] == 0
                 and m["bmc_active_requests"] == 0)
    took = time.time() - t0
    generated = m["bmc_generated_tokens_total"] - m0["bmc_generated_tokens_total"]
    print(f"cancel: {mode}: KV freed {took:.2f} s after the client left, {generated:.0f} of {MAX_TOKENS} tokens generated")
    check(generated < MAX_TOKENS / 2, f"{mode}: {generated} tokens generated: the generation was not stopped early")
    if not stream:  # (a stream's status line, 200, went out before it was cancelled)
        wait_for("the two cancelled requests answered 499",
                 lambda m: m.get('bmc_requests_total{path="/v1/completions",code="499"}') == 2)

# The server still answers.
c = http.client.HTTPConnection(host, port, timeout=60)
c.request("POST", "/v1/completions", json.dumps({"prompt": [1, 2, 3], "max_tokens": 4, "temperature": 0}),
          {"Content-Type": "application/json"})
r = c.getresponse()
check(r.status == 200 and len(json.loads(r.read())["choices"][0]["token_ids"]) == 4, "a request after the cancellations")
srv.stop()
print("serve.cancel: ok")
