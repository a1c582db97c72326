#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Convergence at 50 MB/s with a 300 ms downtime limit (issues 2, 3 and 6), and the dirty-rate prediction made
# before each migration against what happened:
#   memtest and seed guests of 150 MiB, plain precopy / XBZRLE (256 MiB cache) / auto-converge,
#   plus a random-write guest and an idle guest; each migration is abandoned after 30 s.
#   scripts/bench-convergence.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./ferry --version >/dev/null
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=5700
printf '%-28s %-16s | %-44s | %s\n' "guest" "mode" "predicted (from a 2 s measurement)" "measured"
run() { # label, mode label, workload, memory, extra args...
  local label=$1 mode=$2 workload=$3 memory=$4; shift 4
  port=$((port + 1))
  ./ferry incoming --listen 127.0.0.1:$port --run-for 1s --verify >"$work/in.log" 2>&1 &
  until grep -q "listening on" "$work/in.log" 2>/dev/null; do sleep 0.1; done
  ./ferry run --memory "$memory" --workload "$workload" --migrate-to 127.0.0.1:$port --migrate-after 1s \
    --calc-dirty-rate 2s --max-bandwidth 50000000 --downtime-limit 300 \
    --policy downtime,timeout=30s,on-timeout=abort --run-for 40s --stats-json "$work/s.json" "$@" \
    >"$work/out.log" 2>&1 || true
  wait 2>/dev/null || true
  python3 - "$work/s.json" "$label" "$mode" "$*" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); m = d["migration"]
xb = "--xbzrle" in sys.argv[4]
p = d["dirty-rate"]["prediction"]["with-xbzrle" if xb else "without-xbzrle"]
pred = (f"converges in {p['total-time-ms']/1000:.1f} s, {p['rounds']} rounds, downtime {p['downtime-ms']} ms"
        if p["converges"] else "does not converge")
if m["status"] == "completed":
    meas = (f"completed in {m['total-time']/1000:.1f} s, {len(m['iterations'])} rounds, downtime {m['downtime']} ms"
            + (f", throttle {m['cpu-throttle-percentage']}%" if m.get("cpu-throttle-percentage") else ""))
else:
    meas = f"{m['status']} after {m['total-time']/1000:.1f} s ({len(m['iterations'])} rounds)"
print(f"{sys.argv[2]:<28} {sys.argv[3]:<16} | {pred:<44} | {meas}")
PY
}
run "memtest 150M (1-100 MiB)" precopy memtest 150M
run "memtest 150M (1-100 MiB)" xbzrle memtest 150M --xbzrle --xbzrle-cache-size 256M
run "memtest 150M (1-100 MiB)" auto-converge memtest 150M --auto-converge --cpu-throttle-initial 80 --cpu-throttle-increment 19
run "seed 150M (16 MiB buffer)" precopy seed 150M
run "seed 150M (16 MiB buffer)" xbzrle seed 150M --xbzrle --xbzrle-cache-size 256M
run "random 256M, 4 KiB, 2000/s" precopy random,size=4096,wss=200M,hot-share=0 256M --rate 2000
run "random 256M, 4 KiB, 2000/s" xbzrle random,size=4096,wss=200M,hot-share=0 256M --rate 2000 --xbzrle
run "random 256M, 8 B, 64M hot" precopy random,wss=64M 256M --rate 200000
run "random 256M, 8 B, 64M hot" xbzrle random,wss=64M 256M --rate 200000 --xbzrle --xbzrle-cache-size 128M
run "idle 256M" precopy idle 256M
