#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Replication benchmarks (issue 5), each in the same run:
#  1. redis-benchmark -t set,get -n N against a kv guest: unreplicated, replicated every 100 ms with output
#     buffering, and replicated without it;
#  2. checkpoint pauses of a 1 GiB guest dirtying about 20 MB per 100 ms interval (random 4 KiB writes at
#     50,000 per second over all of RAM).
#   scripts/bench-replication.sh [N]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is needed (apt-get install redis-tools)" >&2; exit 1; }
./ferry --version >/dev/null
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

wait_port() { for _ in $(seq 1 300); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
wait_line() { for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

bench() { # label, port
  local out; out=$(redis-benchmark -p "$2" -t set,get -n "$n" -q 2>/dev/null | tr '\r' '\n' \
    | grep -oE '(SET|GET): [0-9.]+ requests per second, p50=[0-9.]+ msec')
  printf '%-34s %s\n' "$1" "$(echo "$out" | tr '\n' ' ')"
}

echo "redis-benchmark -t set,get -n $n (50 clients)"
./ferry run --memory 256M --workload kv,port=7301 --run-for 3600s >"$work/plain.log" 2>&1 &
plain=$!; wait_port 7301; bench "kv, not replicated" 7301; kill "$plain"; wait "$plain" 2>/dev/null || true

for mode in buffered unbuffered; do
  port=$((7302 + ${#mode})); sport=$((5600 + ${#mode}))
  ./ferry standby --listen 127.0.0.1:$sport >"$work/sb-$mode.log" 2>&1 &
  wait_line "$work/sb-$mode.log" "standby listening"
  flag=(); [ "$mode" = unbuffered ] && flag=(--no-output-buffering)
  ./ferry run --memory 256M --workload kv,port=$port --replicate-to 127.0.0.1:$sport --run-for 3600s \
    "${flag[@]}" >"$work/pr-$mode.log" 2>&1 &
  pr=$!; wait_line "$work/pr-$mode.log" "standby seeded"; wait_port $port
  bench "kv, replicated every 100 ms, $mode" $port
  kill "$pr"; wait "$pr" 2>/dev/null || true; wait 2>/dev/null || true
done

echo
echo "checkpoint pauses: 1 GiB guest, random 4 KiB writes at 50000/s (about 20 MB per 100 ms), 30 s"
./ferry standby --listen 127.0.0.1:5610 >"$work/sb-pause.log" 2>&1 &
wait_line "$work/sb-pause.log" "standby listening"
./ferry run --memory 1G --workload random,size=4096,hot-share=0 --rate 50000 --replicate-to 127.0.0.1:5610 \
  --migrate-after 12s --run-for 42s --stats-json "$work/pause.json" >"$work/pr-pause.log" 2>&1
wait 2>/dev/null || true
python3 - "$work/pause.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["replication"]
p, b = r["pause-ms"], r["checkpoint-bytes"]
print(f"checkpoints {r['checkpoints']}: pause p50 {p['p50']} ms, p99 {p['p99']} ms, max {p['max']} ms; "
      f"checkpoint size mean {b['mean']/1e6:.1f} MB, max {b['max']/1e6:.1f} MB; "
      f"send p50 {r['send-ms']['p50']} ms, ack p50 {r['ack-ms']['p50']} ms; slabs {r['slabs']}")
PY
