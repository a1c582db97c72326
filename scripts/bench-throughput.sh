#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Migration throughput of an idle guest over loopback, side by side with iperf3 in the same run.
#   scripts/bench-throughput.sh [RUNS] [MEMORY]        (defaults: 5 runs, 1G)
# Throughput counts the bytes that had to be sent (ram.transferred) over the migration's total time.
# iperf3 on this machine varies by half within minutes, so every migration is paired with samples taken next to it:
# - iperf3, a steady 3 s stream just before it: the ratio issue 2's target is judged by;
# - the bare pipeline (`ferry bench pipeline`): the same idle guest's RAM sent with only the work
#   no checked page stream can avoid (zero test, copy, CRC32C, write; read, CRC32C, copy), JIT-warm: about the
#   most this machine allows any migration that checks its pages;
# - iperf3 just after it, one fresh connection moving the same number of bytes as the migration did (for reference);
# - iperf3 with 1 MiB writes (-l 1M, the size of Ferry's PAGES frames) for 3 s, for reference: on some days it moves
#   two to three times what the default 128 KiB writes do over the same loopback.
# The destination preallocates its RAM (--prealloc, QEMU's -mem-prealloc) so that first touches of fresh
# memory are not counted: see docs/benchmarks.md for why that matters on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; mem=${2:-1G}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive number, not '$runs'" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt-get install iperf3)" >&2; exit 1; }
./ferry --version >/dev/null
work=$(mktemp -d); trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT

# wait_listening LOG PID: back once the process PID has logged that it listens; fails if it ended first.
wait_listening() {
  until grep -q "listening on" "$1" 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || { echo "it did not start listening: $(cat "$1")" >&2; exit 1; }
    sleep 0.2
  done
}

# iperf3 MB/s received: iperf3_mbs ARGS...
iperf3_mbs() {
  iperf3 -s -1 -p 5299 >/dev/null 2>&1 & local server=$!
  sleep 0.5
  iperf3 -c 127.0.0.1 -p 5299 "$@" -J | python3 -c \
    'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8e6))'
  wait "$server"
}

for i in $(seq 1 "$runs"); do
  steady=$(iperf3_mbs -t 3)
  big=$(iperf3_mbs -t 3 -l 1M)
  port=$((5400 + i))
  ./ferry bench pipeline --listen 127.0.0.1:$port --memory "$mem" >"$work/bare-in$i.log" 2>&1 &
  wait_listening "$work/bare-in$i.log" $!
  bare=$(./ferry bench pipeline --send-to 127.0.0.1:$port --memory "$mem" | sed -n 's/^last pass .* = \([0-9]*\) MB\/s$/\1/p')
  wait
  [ -n "$bare" ] || { echo "the bare pipeline failed: $(cat "$work/bare-in$i.log")" >&2; exit 1; }
  port=$((5300 + i))
  ./ferry incoming --listen 127.0.0.1:$port --prealloc "$mem" --run-for 0s --stats-json "$work/in$i.json" >"$work/in$i.log" 2>&1 &
  wait_listening "$work/in$i.log" $!
  ./ferry run --memory "$mem" --workload idle --vcpus 2 --migrate-to 127.0.0.1:$port --migrate-after 6s \
    --stats-json "$work/out$i.json" >"$work/out$i.log" 2>&1
  wait
  sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["migration"]["ram"]["transferred"])' "$work/out$i.json")
  fresh=$(iperf3_mbs -n "$sent")
  python3 - "$work/out$i.json" "$steady" "$bare" "$fresh" "$big" "$work/ratios" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
steady, bare, fresh, big = (float(x) for x in sys.argv[2:6])
t = m["total-time"] / 1000; b = m["ram"]["transferred"]; mbs = b / t / 1e6
print(f"iperf3 {steady:.0f} MB/s, bare pipeline {bare:.0f} ({100*bare/steady:.0f}%); ferry idle migration: "
      f"{b/2**20:.0f} MiB in {t*1000:.0f} ms = {mbs:.0f} MB/s ({100*mbs/steady:.0f}% of iperf3, {100*mbs/bare:.0f}% "
      f"of the bare pipeline), downtime {m['downtime']} ms; iperf3 fresh, same bytes: {fresh:.0f}; "
      f"iperf3 -l 1M: {big:.0f} (ferry {100*mbs/big:.0f}% of it)")
with open(sys.argv[6], "a") as f:
    print(100 * mbs / steady, 100 * bare / steady, 100 * mbs / bare, 100 * mbs / big, file=f)
PY
done
python3 - "$work/ratios" <<'PY'
import statistics, sys
cols = list(zip(*[map(float, l.split()) for l in open(sys.argv[1])]))
def m(c): return f"{statistics.median(c):.0f}% (range {min(c):.0f}-{max(c):.0f}%)"
print(f"median of {len(cols[0])} runs: ferry {m(cols[0])} of iperf3; bare pipeline {m(cols[1])} of iperf3; "
      f"ferry {m(cols[2])} of the bare pipeline; ferry {m(cols[3])} of iperf3 -l 1M")
PY
