#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Migration throughput of an idle guest over loopback, side by side with iperf3 in the same run.
#   scripts/bench-throughput.sh [RUNS] [MEMORY]        (defaults: 5 runs, 1G)
# Throughput counts the bytes that had to be sent (ram.transferred) over the migration's total time.
# The destination preallocates its RAM (--prealloc, QEMU's -mem-prealloc) so that first touches of fresh
# memory are not counted: see docs/benchmarks.md for why that matters on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; mem=${2:-1G}
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt-get install iperf3)" >&2; exit 1; }
./ferry --version >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT

iperf3 -s -1 -p 5299 >/dev/null 2>&1 & sleep 0.5
iperf_bps=$(iperf3 -c 127.0.0.1 -p 5299 -t 5 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
printf 'iperf3 loopback: %.0f MB/s\n' "$(python3 -c "print($iperf_bps/8/1e6)")"

for i in $(seq 1 "$runs"); do
  port=$((5300 + i))
  ./ferry incoming --listen 127.0.0.1:$port --prealloc "$mem" --run-for 0s --stats-json "$work/in$i.json" >"$work/in$i.log" 2>&1 &
  until grep -q "listening on" "$work/in$i.log" 2>/dev/null; do sleep 0.2; done
  ./ferry run --memory "$mem" --workload idle --vcpus 2 --migrate-to 127.0.0.1:$port --migrate-after 6s \
    --stats-json "$work/out$i.json" >"$work/out$i.log" 2>&1
  wait
  python3 - "$work/out$i.json" "$iperf_bps" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
t = m["total-time"] / 1000; b = m["ram"]["transferred"]; mbs = b / t / 1e6
print(f"ferry idle migration: {b/2**20:.0f} MiB in {t*1000:.0f} ms = {mbs:.0f} MB/s "
      f"({100*mbs/(float(sys.argv[2])/8/1e6):.0f}% of iperf3), downtime {m['downtime']} ms")
PY
done
