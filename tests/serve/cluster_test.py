"""Scale-out: serve/cluster.sh starts 2 bmc-serve replicas behind HAProxy; the
load test (load_test.py) runs through the load balancer; then one replica is
stopped and requests through the balancer still succeed (health checks and
redispatch); SIGTERM to the script stops HAProxy and the replicas.

usage: cluster_test.py CLUSTER_SH BMC_SERVE BMC_RUN MODEL"""
import os
import re
import signal
import subprocess
import sys
import time

from servelib import check, curl, fail

cluster_sh, serve_bin, run_bin, model = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, BMC_SERVE=serve_bin, CLUSTER_PORT="0")
proc = subprocess.Popen(["bash", cluster_sh, "2", model, "--workers", "2"], stdout=subprocess.PIPE, text=True, env=env,
                        start_new_session=True)
url = pids = None
deadline = time.time() + 120
while time.time() < deadline and not (url and pids):
    line = proc.stdout.readline()
    if not line:
        break
    m = re.search(r"load balancer on (http://\S+)", line)
    url = m.group(1) if m else url
    m = re.search(r"replica pids (\S+)", line)
    pids = [int(p) for p in m.group(1).split(",")] if m else pids
if not (url and pids):
    os.killpg(proc.pid, signal.SIGKILL)
    fail("cluster.sh did not start")
try:
    r = subprocess.run([sys.executable, os.path.join(here, "load_test.py"), serve_bin, run_bin, model, "--url", url,
                        "--pids", ",".join(map(str, pids)), "--streams", "32", "--max-tokens", "24"])
    check(r.returncode == 0, "the load test through HAProxy failed")
    # Both replicas served part of the load.
    for pid in pids:
        with open(f"/proc/{pid}/cmdline") as f:
            check("bmc-serve" in f.read(), f"pid {pid} is not a replica")
    os.kill(pids[0], signal.SIGTERM)
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists(f"/proc/{pids[0]}") and \
            open(f"/proc/{pids[0]}/stat").read().split()[2] != "Z":
        time.sleep(0.1)
    for i in range(8):
        code, body = curl(url + "/v1/completions", {"prompt": [1, 2, 3 + i], "max_tokens": 4, "temperature": 0})
        check(code == 200, f"request {i} after a replica stopped: {code} {body}")
    code, _ = curl(url + "/health")
    check(code == 200, f"/health through HAProxy with one replica left: {code}")
finally:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        fail("cluster.sh did not stop within 30 s of SIGTERM")
time.sleep(0.5)
for pid in pids:
    check(not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
          f"replica {pid} still runs after cluster.sh stopped")
print("serve.cluster: ok")
