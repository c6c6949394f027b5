#!/usr/bin/env bash
# Stops the dockerd that ensure-dockerd.sh started, and only that one: the
# pid it wrote to docker/.dockerd.pid. A daemon that was already running
# (a developer's own) is left alone, as is any other process.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pidfile="$here/.dockerd.pid"
[ -f "$pidfile" ] || { echo "stop-dockerd: no $pidfile: nothing was started here" >&2; exit 0; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-dockerd: dockerd $pid still up after 30s; sending KILL" >&2
    kill -KILL "$pid"
  fi
fi
rm -f "$pidfile"
