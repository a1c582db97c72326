#!/usr/bin/env bash
# Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
#
# The test command (./ferry test, called by .ci/run): installs what the tests need on a fresh machine,
# then builds Ferry and runs every test. Extra arguments go to Maven (e.g. -Dtest=StreamFormatTest).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

need_pkgs=()
command -v mvn >/dev/null || need_pkgs+=(maven)
# redis-cli and redis-benchmark: the kv workload is tested against the real clients.
command -v redis-benchmark >/dev/null || need_pkgs+=(redis-tools)
# headless Chromium: the HTML migration report is rendered and screenshotted as a person would see it.
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing ${need_pkgs[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null; }
  else
    echo "test: please install: ${need_pkgs[*]}" >&2; exit 1
  fi
fi

# Maven itself may run on any JDK; the toolchains plugin picks a JDK 25 for compiling and testing.
# On JDK 24+ Maven's bundled Guava warns about sun.misc.Unsafe; the flag (unknown before JDK 23) quiets it.
mvn_java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if [ "$("$mvn_java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)" -ge 24 ] 2>/dev/null; then
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
fi
exec mvn -B verify "$@"
