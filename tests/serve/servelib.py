"""Helpers for the bmc-serve tests: start a server on a free port (--port 0),
talk to it over loopback, read its metrics and its memory."""
import atexit
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


_started = []


@atexit.register
def _kill_leftovers():
    """A failed test exits without stopping its servers: end them here."""
    for p in _started:
        if p.poll() is None:
            p.kill()


class Server:
    """bmc-serve MODEL ARGS... --port 0; .url is http://127.0.0.1:PORT."""

    def __init__(self, binary, args, timeout=180):
        self.proc = subprocess.Popen([binary] + list(args) + ["--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        _started.append(self.proc)
        self.stderr_lines = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.time() + timeout
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (http://[0-9.]+:\d+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            self.proc.kill()
            fail("bmc-serve did not start: " + "".join(self.stderr_lines[-20:]))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """SIGTERM: the server must exit 0 within 30 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("bmc-serve did not exit within 30 s of SIGTERM")
        check(rc == 0, f"bmc-serve exited {rc} after SIGTERM: " + "".join(self.stderr_lines[-10:]))


def curl(url, body=None, method=None):
    """(status, body text) of one request made by curl."""
    cmd = ["curl", "-sS", "-N", "--max-time", "120", "-w", "\n%{http_code}", url]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    if method:
        cmd += ["-X", method]
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    r = subprocess.run(cmd, input=data, capture_output=True, text=True)
    check(r.returncode == 0, f"curl {url} failed: {r.stderr}")
    text, _, code = r.stdout.rpartition("\n")
    return int(code), text


def parse_sse(text):
    """The data payloads of a server-sent event stream, checking its framing:
    every event is one `data: ...` line followed by a blank line."""
    check(text.endswith("\n\n"), "the stream does not end with a blank line: " + repr(text[-80:]))
    events = []
    for block in text.split("\n\n")[:-1]:
        check(block.startswith("data: ") and "\n" not in block, "not a one-line data event: " + repr(block[:200]))
        events.append(block[len("data: "):])
    return events


def metrics(url):
    code, text = curl(url + "/metrics")
    check(code == 200, f"/metrics answered {code}")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def wait_idle(url, timeout=30):
    """Waits until no request is queued or running; returns the metrics."""
    deadline = time.time() + timeout
    while True:
        m = metrics(url)
        if m["bmc_active_requests"] == 0 and m["bmc_queue_depth"] == 0:
            return m
        if time.time() > deadline:
            fail(f"the server is not idle after {timeout} s: {m}")
        time.sleep(0.1)


def bmc_run_tokens(bmc_run, model, prompt_ids, max_tokens, extra=()):
    """The tokens bmc-run generates for one prompt alone (the reference)."""
    r = subprocess.run([bmc_run, model, "--prompt-ids", ",".join(map(str, prompt_ids)), "--max-new-tokens",
                        str(max_tokens), "--json"] + list(extra), capture_output=True, text=True)
    check(r.returncode == 0, "bmc-run failed: " + r.stderr)
    return json.loads(r.stdout)
