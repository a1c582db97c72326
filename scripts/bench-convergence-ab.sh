#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# A/B of two Ferry checkouts on issue 3's convergence case (150 MiB guest, 50 MB/s, 300 ms, XBZRLE with a 256 MiB
# cache), alternating single migrations over loopback so that the machine's drift hits both alike:
#   scripts/bench-convergence-ab.sh DIR_A DIR_B [PAIRS] [WORKLOAD]   (defaults: 4 pairs, memtest,start=1M,end=100M)
# Each line: checkout, status, total-time, setup-time and downtime (ms), and the destination's verification.
source "$(dirname "$0")/ab-common.sh"
pairs=${3:-4}; workload=${4:-memtest,start=1M,end=100M}
port=6500
one() {
  local dir=$1; port=$((port + 1))
  start_destination "$dir" $port --run-for 1s --verify
  "$dir/ferry" run --memory 150M --workload "$workload" --migrate-to 127.0.0.1:$port --migrate-after 1s \
    --max-bandwidth 50000000 --downtime-limit 300 --xbzrle --xbzrle-cache-size 256M \
    --stats-json "$work/out.json" >"$work/out.log" 2>&1 || true
  local verified=failed
  if wait; then verified=passed; fi
  python3 - "$work/out.json" "$dir" "$verified" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
print(sys.argv[2], m["status"], "total", m["total-time"], "setup", m["setup-time"], "downtime", m["downtime"],
      "verify", sys.argv[3])
PY
}
alternate "$pairs" one
