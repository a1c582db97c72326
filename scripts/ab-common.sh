# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# Sourced by the A/B scripts (bench-*-ab.sh, xbzrle-ab.sh: DIR_A DIR_B ...): the two checkouts as $a and $b (each
# built), a scratch directory $work removed at exit, and what every alternating run needs.
set -euo pipefail
a=$(cd "$1" && pwd); b=$(cd "$2" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
"$a/ferry" --version >/dev/null; "$b/ferry" --version >/dev/null

# start_destination DIR PORT ARGS...: `ferry incoming --listen 127.0.0.1:PORT ARGS...` of checkout DIR in the
# background (log in $work/in.log, JVM options from FERRY_JAVA_OPTS_INCOMING), back once it listens.
start_destination() {
  local dir=$1 port=$2; shift 2
  rm -f "$work/in.log" # the previous destination's log says "listening on" too
  FERRY_JAVA_OPTS="${FERRY_JAVA_OPTS_INCOMING:-}" "$dir/ferry" incoming --listen 127.0.0.1:$port "$@" \
    >"$work/in.log" 2>&1 &
  until grep -q "listening on 127.0.0.1:$port" "$work/in.log" 2>/dev/null; do sleep 0.05; done
}

# alternate PAIRS FUNCTION: runs FUNCTION on checkout A, then B, PAIRS times, so that drift hits both alike.
alternate() {
  for _ in $(seq "$1"); do "$2" "$a"; "$2" "$b"; done
}
