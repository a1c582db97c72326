#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# A/B throughput of two Ferry checkouts, alternating single idle-guest migrations over loopback so that the
# machine's drift hits both alike:
#   scripts/bench-throughput-ab.sh DIR_A DIR_B [PAIRS] [MEMORY]     (defaults: 6 pairs, 1G)
# Each line: checkout, total time (ms), MB/s of bytes sent, downtime (ms).
source "$(dirname "$0")/ab-common.sh"
pairs=${3:-6}; mem=${4:-1G}
port=6400
one() {
  local dir=$1; port=$((port + 1))
  start_destination "$dir" $port --prealloc "$mem" --run-for 0s
  "$dir/ferry" run --memory "$mem" --workload idle --vcpus 2 --migrate-to 127.0.0.1:$port --migrate-after 6s \
    --stats-json "$work/out.json" >"$work/out.log" 2>&1
  wait
  python3 - "$work/out.json" "$dir" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
print(sys.argv[2], m["total-time"], round(m["ram"]["transferred"] / m["total-time"] / 1e3), m["downtime"])
PY
}
alternate "$pairs" one
