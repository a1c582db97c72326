#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# A/B of the XBZRLE codec of two Ferry checkouts, with the C reference beside them: for each corpus, ROUNDS rounds
# of the C bench, then `ferry bench xbzrle` of checkout A, then of checkout B, so that the machine's drift hits all
# three alike; prints each one's median encode and decode (MB/s of 4 KiB pages) and the medians of the per-round
# ratios to C (a ratio within one round is steadier on this machine than one of medians).
#   scripts/xbzrle-ab.sh DIR_A DIR_B [ROUNDS] [COUNT] [SECONDS]      (defaults: 5 rounds, 2048 pairs, 1 s)
# Corpora as scripts/xbzrle-compare.sh makes them (PAIRS_DIR, default /tmp/xbzrle-pairs, or
# /tmp/xbzrle-pairs-COUNT for another COUNT); CORPORA picks some; JAVA_OPTS_A and JAVA_OPTS_B go to each side's JVM.
source "$(dirname "$0")/ab-common.sh"
rounds=${3:-5}; count=${4:-2048}; secs=${5:-1}
anchors=${ANCHORS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/anchors/xbzrle-c}
if [ "$count" = 2048 ]; then pairs=${PAIRS_DIR:-/tmp/xbzrle-pairs}; else pairs=${PAIRS_DIR:-/tmp/xbzrle-pairs-$count}; fi
corpora=${CORPORA:-sparse-word memtest scatter-1pct runs-5pct dense-25pct unchanged full}
[ -f "$anchors/bench.c" ] || { echo "xbzrle-ab: $anchors/bench.c not found (set ANCHORS)" >&2; exit 2; }
mkdir -p "$pairs"
gcc -O3 -march=native -o "$work/c-bench" "$anchors/bench.c" "$anchors/xbzrle_ref.c"
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
echo "# XBZRLE A/B, $rounds rounds of 1 C, 1 A, 1 B; $count pairs, ${secs}s a timing; A=$a B=$b"
printf '| %-12s | %7s | %7s | %7s | %6s | %6s | %8s | %8s | %8s | %6s | %6s |\n' corpus "C enc" "A enc" "B enc" "A/C" "B/C" \
  "C dec" "A dec" "B dec" "A/C" "B/C"
for p in $corpora; do
  [ -s "$pairs/$p.bin" ] || python3 "$anchors/make_pairs.py" "$p" "$count" "$pairs/$p.bin"
  : >"$work/r"
  for _ in $(seq "$rounds"); do
    c=$("$work/c-bench" "$pairs/$p.bin" "$secs")
    ra=$(FERRY_JAVA_OPTS="${JAVA_OPTS_A:-}" "$a/ferry" bench xbzrle --pairs "$pairs/$p.bin" --seconds "$secs")
    rb=$(FERRY_JAVA_OPTS="${JAVA_OPTS_B:-}" "$b/ferry" bench xbzrle --pairs "$pairs/$p.bin" --seconds "$secs")
    echo "$(field encode_MBps "$c") $(field encode_MBps "$ra") $(field encode_MBps "$rb")" \
      "$(field decode_MBps "$c") $(field decode_MBps "$ra") $(field decode_MBps "$rb")" >>"$work/r"
  done
  python3 - "$p" "$work/r" <<'PY'
import statistics as st, sys
rows = [[float(x) for x in line.split()] for line in open(sys.argv[2])]
med = lambda k: st.median(r[k] for r in rows)
ratio = lambda k, c: st.median(r[k] / r[c] for r in rows) if all(r[c] > 0 for r in rows) else float("nan")
f = lambda x: "-" if x != x else f"{x:.2f}x"
print(f"| {sys.argv[1]:<12} | {med(0):7.0f} | {med(1):7.0f} | {med(2):7.0f} | {f(ratio(1, 0)):>6} | {f(ratio(2, 0)):>6} "
      f"| {med(3):8.0f} | {med(4):8.0f} | {med(5):8.0f} | {f(ratio(4, 3)):>6} | {f(ratio(5, 3)):>6} |")
PY
done
