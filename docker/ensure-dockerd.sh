#!/usr/bin/env bash
# Makes sure a Docker daemon answers on /var/run/docker.sock: uses the one
# that runs, or starts dockerd (Debian's docker.io) as root with loopback-only
# networking. Prints the pid of a daemon it started to docker/.dockerd.pid,
# so that only that one is ever stopped (docker/stop-dockerd.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if docker info >/dev/null 2>&1; then
  exit 0
fi
command -v dockerd >/dev/null || { echo "ensure-dockerd: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
log=${TMPDIR:-/tmp}/drainit-dockerd.log
for driver in overlay2 vfs; do
  dockerd --host unix:///var/run/docker.sock --storage-driver "$driver" \
    --iptables=false --ip6tables=false --bridge=none >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if docker info >/dev/null 2>&1; then
      echo "$pid" >"$here/.dockerd.pid"
      echo "ensure-dockerd: started dockerd (pid $pid, storage driver $driver)" >&2
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
echo "ensure-dockerd: dockerd did not start; its log:" >&2
tail -20 "$log" >&2
exit 1
