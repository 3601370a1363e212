#!/usr/bin/env bash
# Bounded load test of `pipewright serve`, on loopback only: builds the release binary, starts
# the server on a free port of 127.0.0.1 with its own data folder and no LLM, reads its idle
# memory from /proc, then drives POST /api/v1/pipeline/generate (a small inline Flask
# repository, template only) with wrk for a fixed time at a few concurrency levels, printing
# requests/s and p50/p99 latency, and stops the server (SIGTERM).
#
#   scripts/bench-serve.sh                    # 10 s at each of 1, 4, 16, 64 connections
#   DURATION=5s LEVELS="1 8" scripts/bench-serve.sh
#
# Needs wrk (Debian: apt-get install -y wrk), curl and python3 (to build the request body).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
LEVELS=${LEVELS:-"1 4 16 64"}
FIXTURE=${FIXTURE:-fixtures/repos/python-flask-pip}

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (wrk: apt-get install -y wrk)" >&2; exit 2; }
done

cargo build --release -q -p pipewright
bin=target/release/pipewright

work=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$FIXTURE" > "$work/body.json" <<'PY'
import json, os, sys
root = sys.argv[1]
files = {}
for folder, _, names in os.walk(root):
    for name in names:
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as f:
            files[os.path.relpath(path, root)] = f.read()
print(json.dumps({"files": files, "use_template_only": True}))
PY

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA

PIPEWRIGHT_DATA_DIR="$work/data" LLM_PROVIDER=none \
    "$bin" serve --listen 127.0.0.1:0 > "$work/out" 2> "$work/log" &
pid=$!
addr=""
for _ in $(seq 1 100); do
    addr=$(sed -n 's/^pipewright listening on //p' "$work/out")
    [[ -n "$addr" ]] && break
    sleep 0.1
done
if [[ -z "$addr" ]]; then
    echo "the server printed no address:" >&2
    cat "$work/log" >&2
    exit 1
fi

sleep 1
rss_mib() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
echo "server: $addr (pid $pid); body $(wc -c < "$work/body.json") bytes from $FIXTURE"
echo "idle RSS: $(rss_mib VmRSS) MiB"

status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    --data-binary @"$work/body.json" "$addr/api/v1/pipeline/generate")
if [[ "$status" != 200 ]]; then
    echo "the warm-up request was answered $status" >&2
    exit 1
fi

printf '%-12s %10s %10s %10s %8s\n' connections "req/s" p50 p99 non-2xx
for c in $LEVELS; do
    threads=$((c < 2 ? c : 2))
    wrk -t"$threads" -c"$c" -d"$DURATION" --latency -s "$work/post.lua" \
        "$addr/api/v1/pipeline/generate" > "$work/wrk.txt"
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
    bad=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.txt")
    printf '%-12s %10s %10s %10s %8s\n' "$c" "$rps" "$p50" "$p99" "${bad:-0}"
done

echo "peak RSS: $(rss_mib VmHWM) MiB"
echo "load: $(uptime)"
kill -TERM "$pid"
if wait "$pid"; then echo "server stopped, exit 0"; fi
pid=""
