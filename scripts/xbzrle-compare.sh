#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Side-by-side XBZRLE speed and format check: the C reference codec (built here with
# gcc -O3 -march=native) against `ferry bench xbzrle`, on the same machine, corpora and run.
#
# Usage: scripts/xbzrle-compare.sh [COUNT] [SECONDS]
#   COUNT    page pairs per corpus (default 2048, as the anchors' run.sh)
#   SECONDS  timed seconds per measurement (default 1)
# Environment:
#   FERRY               the Ferry CLI (default ./ferry); run as "$FERRY bench xbzrle ..."
#   ANCHORS             the C reference (default: shared/anchors/xbzrle-c beside this repository)
#   PAIRS_DIR           where corpora are written (default /tmp/xbzrle-pairs)
#   WORK                where the C programs and encodings go (default /tmp/xbzrle-compare)
#   REPS                measurements per corpus and side; the best is shown (default 3)
#   CORPORA             the corpora to run (default: all seven)
# For every corpus it checks that Ferry's encodings are byte-identical to the C reference's
# (both written as: per pair a big-endian int32 length, -1 overflow, 0 unchanged, then the bytes)
# and exits 1 if any differ. Throughput is MB/s (10^6 bytes) of 4 KiB pages processed. The "bare read"
# column (scripts/xbzrle-scan-floor.c) is how fast the corpus can merely be read, both pages of every pair,
# as an encoder must read it: where the corpus does not fit in the caches, no encoder can go faster.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-2048}
secs=${2:-1}
anchors=${ANCHORS:-$repo/../shared/anchors/xbzrle-c}
pairs=${PAIRS_DIR:-/tmp/xbzrle-pairs}
work=${WORK:-/tmp/xbzrle-compare}
reps=${REPS:-3}
corpora=${CORPORA:-sparse-word memtest scatter-1pct runs-5pct dense-25pct unchanged full}
ferry_bench="${FERRY:-./ferry} bench xbzrle"

for f in bench.c xbzrle_ref.c xbzrle_ref.h make_pairs.py; do
  [ -f "$anchors/$f" ] || { echo "xbzrle-compare: $anchors/$f not found (set ANCHORS)" >&2; exit 2; }
done
mkdir -p "$pairs" "$work"
gcc -O3 -march=native -o "$work/xbzrle-ref-bench" "$anchors/bench.c" "$anchors/xbzrle_ref.c"
gcc -O2 -I"$anchors" -o "$work/xbzrle-ref-dump" "$repo/scripts/xbzrle-ref-dump.c" "$anchors/xbzrle_ref.c"
gcc -O3 -march=native -o "$work/xbzrle-scan-floor" "$repo/scripts/xbzrle-scan-floor.c"

field() { # field NAME LINE
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"
}
best() { # best A B: the larger
  awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? a : b }'
}
ratio() {
  awk -v f="$1" -v c="$2" 'BEGIN { if (c + 0 > 0) printf "%.2fx", f / c; else print "-" }'
}

echo "# XBZRLE, C reference (gcc -O3 -march=native) vs Ferry; $count pairs per corpus, ${secs}s per timing, best of $reps"
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-12s | %9s | %9s | %6s | %9s | %9s | %9s | %6s | %10s | %8s | %9s |\n' \
  corpus "C enc" "Ferry enc" ratio "bare read" "C dec" "Ferry dec" ratio "mean bytes" overflow identical
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------------- ----------: ----------: -------: ----------: ----------: ----------: -------: ----------: --------: ---------:
status=0
for p in $corpora; do
  [ -s "$pairs/$p.bin" ] || python3 "$anchors/make_pairs.py" "$p" "$count" "$pairs/$p.bin"
  ce=0; cd=0; fe=0; fd=0; rd=0; fline=""
  for _ in $(seq "$reps"); do
    rd=$(best "$rd" "$(field scan_MBps "$("$work/xbzrle-scan-floor" "$pairs/$p.bin" "$secs")")")
    cline=$("$work/xbzrle-ref-bench" "$pairs/$p.bin" "$secs")
    fline=$($ferry_bench --pairs "$pairs/$p.bin" --seconds "$secs" --write-encodings "$work/$p.ferry.enc")
    ce=$(best "$ce" "$(field encode_MBps "$cline")"); cd=$(best "$cd" "$(field decode_MBps "$cline")")
    fe=$(best "$fe" "$(field encode_MBps "$fline")"); fd=$(best "$fd" "$(field decode_MBps "$fline")")
  done
  "$work/xbzrle-ref-dump" "$pairs/$p.bin" "$work/$p.c.enc"
  if cmp -s "$work/$p.c.enc" "$work/$p.ferry.enc"; then same=yes; else same=NO; status=1; fi
  printf '| %-12s | %9s | %9s | %6s | %9s | %9s | %9s | %6s | %10s | %8s | %9s |\n' "$p" "$ce" "$fe" "$(ratio "$fe" "$ce")" \
    "$rd" "$cd" "$fd" "$(ratio "$fd" "$cd")" "$(field mean_encoded "$fline")" "$(field overflow "$fline")" "$same"
done
exit $status
