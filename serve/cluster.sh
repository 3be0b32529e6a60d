#!/usr/bin/env bash
# Scale-out on one machine (docs/SERVE.md): N bmc-serve replicas, each on a free
# loopback port, behind HAProxy, which checks GET /health every second and sends
# each request to the replica with the fewest open connections.
#
#   serve/cluster.sh N MODEL [bmc-serve options...]
#
# Environment: BMC_SERVE (default: build/bin/bmc-serve), CLUSTER_PORT (the load
# balancer's port; default 8080, 0 = a free one), CLUSTER_DIR (logs and
# haproxy.cfg; default: a new temporary folder). Prints
#   cluster: load balancer on http://127.0.0.1:PORT
#   cluster: replica pids P1,P2,...
# and runs until SIGINT/SIGTERM, which stops HAProxy and the replicas.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: serve/cluster.sh N MODEL [bmc-serve options...]" >&2; exit 2; }
n="$1"; model="$2"; shift 2
[[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "cluster.sh: N: expected 1..99 replicas, found '$n'" >&2; exit 2; }
serve="${BMC_SERVE:-$root/build/bin/bmc-serve}"
[ -x "$serve" ] || { echo "cluster.sh: $serve is not built (set BMC_SERVE)" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "cluster.sh: haproxy is not installed (.ci/setup.sh installs it)" >&2; exit 2; }
dir="${CLUSTER_DIR:-$(mktemp -d /tmp/bmc-cluster.XXXXXX)}"
mkdir -p "$dir"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

ports=()
for ((i = 0; i < n; i++)); do
  "$serve" "$model" "$@" --port 0 >"$dir/replica$i.out" 2>"$dir/replica$i.err" &
  pids+=($!)
done
for ((i = 0; i < n; i++)); do
  for _ in $(seq 600); do # model loading (an ONNX file compiles first): up to 60 s
    port=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$dir/replica$i.out")
    [ -n "$port" ] && break
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "cluster.sh: replica $i failed: $(tail -1 "$dir/replica$i.err")" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "cluster.sh: replica $i did not start in 60 s" >&2; exit 1; }
  ports+=("$port")
done

lb_port="${CLUSTER_PORT:-8080}"
if [ "$lb_port" = 0 ]; then
  lb_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
{
  cat <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  # A replica that refuses the connection (stopped, restarting): try another.
  retries 2
  option redispatch
  retry-on conn-failure empty-response
frontend bmc
  bind 127.0.0.1:$lb_port
  default_backend replicas
backend replicas
  balance leastconn
  option httpchk GET /health
  http-check expect status 200
CFG
  for ((i = 0; i < n; i++)); do echo "  server replica$i 127.0.0.1:${ports[$i]} check inter 1s fall 2 rise 1"; done
} >"$dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$lb_port/health" >/dev/null 2>&1 && break
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "cluster.sh: haproxy failed: $(tail -3 "$dir/haproxy.log")" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$lb_port/health" >/dev/null || { echo "cluster.sh: no healthy replica behind haproxy" >&2; exit 1; }
echo "cluster: load balancer on http://127.0.0.1:$lb_port"
echo "cluster: replica pids $(IFS=,; echo "${pids[*]:0:$n}")"
echo "cluster: logs and haproxy.cfg in $dir"
wait "${pids[-1]}"
