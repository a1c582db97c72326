#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Snapshot benchmarks (issue 4):
#   scripts/bench-snapshot.sh [DIR] [BIG_MEMORY]     (defaults: a new directory under /var/tmp, 4G)
# DIR must be on the file system to measure (not tmpfs); it needs about 2 x BIG_MEMORY + 4 GiB free.
#
# (a) Bounded size: a 1 GiB memtest guest (100 MiB rewritten continuously) saved live at 100 MB/s, with a 20 s
#     timeout that forces the switchover; once as mapped-ram, once as the sequential stream. Prints each file's
#     size against the RAM, restores both (RAM dumps compared with the source's, the workload's check run).
# (b) Throughput: an idle guest of BIG_MEMORY whose pages are all non-zero, saved and restored with mapped-ram and
#     O_DIRECT, side by side with dd (bs=1M, oflag=direct / iflag=direct) of the same size on the same file system,
#     in the same run. The restore preallocates its RAM first (--prealloc), as dd reuses one buffer: first touches of
#     fresh memory cost 1-5 s per GiB on this machine (docs/benchmarks.md) and are reported apart.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d /var/tmp/ferry-bench-snapshot.XXXXXX)}
big=${2:-4G}
mkdir -p "$dir"
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
./ferry --version >/dev/null
cleanup() { rm -f "$dir"/*.snap "$dir"/*.ram "$dir"/dd.img "$dir"/*.partial; }
trap cleanup EXIT
fs=$(stat -f -c %T "$dir")
echo "== Ferry snapshot benchmark in $dir ($fs), $(nproc) cores, $(date -u +%FT%TZ)"

json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("/"): d=d[k]
print(d)' "$1" "$2"; }

echo
echo "-- (a) 1 GiB memtest guest, 100 MiB hot, saved live at 100 MB/s, timeout 20 s then forced"
ram=$((1 << 30))
for format in mapped-ram stream; do
  flag=(); [ "$format" = mapped-ram ] && flag=(--mapped-ram)
  snap="$dir/a-$format.snap"
  ./ferry run --memory 1G --workload memtest,start=1M,end=100M --migrate-after 2s --save-to "$snap" "${flag[@]}" \
    --max-bandwidth 100000000 --policy downtime,timeout=20s,on-timeout=force \
    --dump-ram "$dir/a-src.ram" --stats-json "$dir/a-save.json" >"$dir/a-save.log" 2>&1 \
    || { cat "$dir/a-save.log"; exit 1; }
  size=$(stat -c %s "$snap"); disk=$(( $(stat -c %b "$snap") * $(stat -c %B "$snap") ))
  rounds=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["migration"]["iterations"]))' "$dir/a-save.json")
  printf '%-10s file %6.0f MiB = %5.2f x RAM (%d bytes; %.0f MiB on disk), %s rounds in %s ms, downtime %s ms\n' \
    "$format" "$(python3 -c "print($size/2**20)")" "$(python3 -c "print($size/$ram)")" "$size" \
    "$(python3 -c "print($disk/2**20)")" "$rounds" "$(json "$dir/a-save.json" migration/total-time)" \
    "$(json "$dir/a-save.json" migration/downtime)"
  if [ "$(json "$dir/a-save.json" migration/total-time)" -lt 20000 ]; then
    echo "           (converged before the 20 s timeout: the guest dirtied less than 100 MB/s could carry; a loaded"
    echo "            machine slows the memtest vCPU, so the sequential file stays small — run it on a quiet machine)"
  fi
  ./ferry restore "$snap" --dump-ram "$dir/a-dst.ram" --verify --run-for 2s --stats-json "$dir/a-restore.json" \
    >"$dir/a-restore.log" 2>&1 || { cat "$dir/a-restore.log"; exit 1; }
  if cmp -s "$dir/a-src.ram" "$dir/a-dst.ram"; then same="identical to the source's"; else same="DIFFERENT"; fi
  printf '%-10s restored: RAM dump %s; %s\n' "$format" "$same" "$(grep '^verify:' "$dir/a-restore.log" | cut -c1-60)"
  [ "$same" != DIFFERENT ] || exit 1
  rm -f "$snap" "$dir"/a-*.ram
done

echo
echo "-- (b) idle $big guest, every page non-zero: mapped-ram with O_DIRECT against dd (1 MiB blocks, O_DIRECT)"
bytes=$(python3 -c "
s='$big'.upper(); m={'K':1<<10,'M':1<<20,'G':1<<30,'T':1<<40}
print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))")
mib=$((bytes >> 20))
dd_rate() { sed -n 's/^\([0-9]*\) bytes .* copied, \([0-9.]*\) s.*/\1 \2/p' | tail -1 \
  | python3 -c 'import sys; b,s=sys.stdin.read().split(); print(f"{int(b)/float(s)/1e6:.0f}")'; }

sync
dd_w=$(dd if=/dev/zero of="$dir/dd.img" bs=1M count="$mib" oflag=direct conv=fsync 2>&1 | dd_rate)
echo "dd write   ${mib} MiB, bs=1M oflag=direct conv=fsync: $dd_w MB/s"

snap="$dir/b.snap"
# Long enough for the idle workload to fill every page before the save starts (the log shows whether it had).
./ferry run --memory "$big" --vcpus 2 --workload idle,zero=0 --migrate-after "${FILL_SECONDS:-40}s" --save-to "$snap" \
  --mapped-ram --direct-io --stats-json "$dir/b-save.json" >"$dir/b-save.log" 2>&1 \
  || { cat "$dir/b-save.log"; exit 1; }
python3 - "$dir/b-save.json" "$bytes" "$dd_w" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["migration"]
ram, dd = int(sys.argv[2]), float(sys.argv[3])
b = m["ram"]["transferred"]; t = m["total-time"] / 1000; rate = b / t / 1e6
note = "" if b <= ram * 1.01 else f"  (wrote {b/ram:.2f} x RAM: the guest was still filling; raise FILL_SECONDS)"
print(f"ferry save {b/2**20:.0f} MiB, mapped-ram O_DIRECT, {len(m['iterations'])} rounds in {t*1000:.0f} ms: "
      f"{rate:.0f} MB/s = {100*rate/dd:.0f}% of dd (target >= 80%){note}")
PY

sync
dd_r=$(dd if="$dir/dd.img" of=/dev/null bs=1M iflag=direct 2>&1 | dd_rate)
echo "dd read    ${mib} MiB, bs=1M iflag=direct: $dd_r MB/s"

./ferry restore "$snap" --direct-io --prealloc --run-for 0s --verify --stats-json "$dir/b-restore.json" \
  >"$dir/b-restore.log" 2>&1 || { cat "$dir/b-restore.log"; exit 1; }
python3 - "$dir/b-restore.json" "$dd_r" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); r = d["restore"]; dd = float(sys.argv[2])
b = r["bytes-read"]; load = r["load-ms"] / 1000; read = r["read-ms"] / 1000
rate = b / load / 1e6; raw = b / read / 1e6; pre = d.get("prealloc-ms", 0) / 1000
with_pre = b / (load + pre) / 1e6
print(f"ferry restore {b/2**20:.0f} MiB, mapped-ram O_DIRECT, {r['read-threads']} readers: whole load {load*1000:.0f} ms"
      f" = {rate:.0f} MB/s = {100*rate/dd:.0f}% of dd (target >= 80%); page reads alone {raw:.0f} MB/s;"
      f" verify {'PASS' if d['verify']['passed'] else 'FAIL'}")
print(f"              RAM preallocated before loading in {pre*1000:.0f} ms (first touches of fresh memory); counting it:"
      f" {with_pre:.0f} MB/s = {100*with_pre/dd:.0f}% of dd")
PY
