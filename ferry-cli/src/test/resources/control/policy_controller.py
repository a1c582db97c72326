#!/usr/bin/env python3
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
"""A precopy policy in another process and another language (seed 002).

Connects to a Ferry control socket, answers every FERRY_POLICY_REQUEST: continue until ROUND precopy rounds are
done, then stop-and-copy. Prints each decision and exits 0 when the migration completed.
    policy_controller.py SOCKET_PATH ROUND
"""
import json
import socket
import sys

path, stop_round = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rwb")


def send(msg):
    f.write((json.dumps(msg) + "\r\n").encode())
    f.flush()


def read():
    line = f.readline()
    if not line:
        sys.exit("control socket closed")
    return json.loads(line)


greeting = read()
assert "QMP" in greeting, greeting
send({"execute": "qmp_capabilities"})
while True:
    m = read()
    if "return" in m or "error" in m:
        if "error" in m:
            sys.exit("error: %s" % m["error"])
        if m.get("id") == "ready":
            break
        send({"execute": "query-status", "id": "ready"})
        continue
print("controller: connected", flush=True)
while True:
    m = read()
    event = m.get("event")
    if event == "FERRY_POLICY_REQUEST":
        d = m["data"]
        decision = "stop-and-copy" if d["iteration"] >= stop_round else "continue"
        print("controller: request %d at iteration %d (dirty %d, expected downtime %d ms) -> %s"
              % (d["id"], d["iteration"], d["dirty-count"], d["expected-downtime"], decision), flush=True)
        send({"execute": "x-ferry-policy-decide", "arguments": {"id": d["id"], "decision": decision}})
    elif event == "MIGRATION":
        status = m["data"]["status"]
        print("controller: migration %s" % status, flush=True)
        if status in ("completed", "failed", "cancelled"):
            sys.exit(0 if status == "completed" else 1)
    elif "error" in m:
        sys.exit("error: %s" % m["error"])
