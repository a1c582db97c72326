#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# A/B throughput of two Ferry checkouts, alternating single idle-guest migrations over loopback so that the
# machine's drift hits both alike:
#   scripts/bench-throughput-ab.sh DIR_A DIR_B [PAIRS] [MEMORY]     (defaults: 6 pairs, 1G)
# Each line: checkout, total time (ms), MB/s of bytes sent, downtime (ms).
set -euo pipefail
a=$(cd "$1" && pwd); b=$(cd "$2" && pwd); pairs=${3:-6}; mem=${4:-1G}
work=$(mktemp -d); trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
"$a/ferry" --version >/dev/null; "$b/ferry" --version >/dev/null
port=6400
one() {
  local dir=$1; port=$((port + 1))
  rm -f "$work/in.log" # the previous destination's log says "listening on" too
  FERRY_JAVA_OPTS="${FERRY_JAVA_OPTS_INCOMING:-}" "$dir/ferry" incoming --listen 127.0.0.1:$port --prealloc "$mem" \
    --run-for 0s >"$work/in.log" 2>&1 &
  until grep -q "listening on 127.0.0.1:$port" "$work/in.log" 2>/dev/null; do sleep 0.05; done
  "$dir/ferry" run --memory "$mem" --workload idle --vcpus 2 --migrate-to 127.0.0.1:$port --migrate-after 6s \
    --stats-json "$work/out.json" >"$work/out.log" 2>&1
  wait
  python3 - "$work/out.json" "$dir" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
print(sys.argv[2], m["total-time"], round(m["ram"]["transferred"] / m["total-time"] / 1e3), m["downtime"])
PY
}
for _ in $(seq "$pairs"); do one "$a"; one "$b"; done
