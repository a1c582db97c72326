#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# A whole migration driven over the control socket with ferry ctl: capabilities and parameters set, migration
# started, bandwidth lowered mid-way, switchover forced and let through the pre-switchover gate, events followed;
# invalid commands and combinations refused with QMP errors.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
sock=$work/run.sock
./ferry --version >/dev/null
./ferry incoming --listen 127.0.0.1:4471 --run-for 2s --verify >"$work/dst.log" 2>&1 &
# A memory test that does not converge by itself at these settings: the switchover is forced below.
./ferry run --memory 150M --workload memtest,end=32M --control "unix:$sock" --run-for 120s >"$work/src.log" 2>&1 &
until grep -q "guest running" "$work/src.log" 2>/dev/null; do sleep 0.2; done
ctl() { echo "> $*"; ./ferry ctl "unix:$sock" "$@"; }
./ferry ctl "unix:$sock" --events >"$work/events.log" 2>&1 &
# Refused, changing nothing: an invalid combination, an invalid value, an unknown command.
ctl migrate-set-capabilities '{"capabilities": [{"capability": "xbzrle", "state": true}, {"capability": "mapped-ram", "state": true}]}' || true
ctl migrate-set-parameters '{"max-bandwidth": 100000000, "downtime-limit": -5}' || true
ctl migrate-start-now || true
ctl query-migrate-capabilities
ctl migrate-set-capabilities '{"capabilities": [{"capability": "pause-before-switchover", "state": true}]}'
ctl migrate-set-parameters '{"max-bandwidth": 100000000, "downtime-limit": 10}'
ctl query-migrate-parameters
ctl migrate '{"uri": "tcp:127.0.0.1:4471"}'
sleep 2
ctl migrate-set-parameters '{"max-bandwidth": 50000000}'
ctl query-migrate | cut -c1-200
sleep 1
ctl query-migrate | cut -c1-200
ctl x-ferry-switchover
until grep -q '"pre-switchover"' "$work/events.log"; do sleep 0.1; done
ctl query-status
ctl migrate-continue '{"state": "pre-switchover"}'
wait %1 %2 2>/dev/null || true
sleep 1
echo "events:"; cut -c1-160 "$work/events.log"
echo "destination:"; tail -4 "$work/dst.log"
