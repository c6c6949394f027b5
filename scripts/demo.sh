#!/usr/bin/env bash
# Builds drainit and runs it on a small example that shows the shutdown
# sequence: the "app" asks for its own stop (as `docker stop` would, with
# SIGTERM to PID 1), and drainit runs the drain hook, sleeps, forwards.
set -euo pipefail
cd "$(dirname "$0")/.."
drainit=$(scripts/build-static.sh)
app='trap "echo app: got SIGTERM, finishing requests; sleep 0.5; echo app: done; exit 0" TERM
echo "app: serving (pid $$); asking drainit to stop me"
kill -TERM "$PPID"
while :; do sleep 1 & wait $!; done 2>/dev/null'
exec "$drainit" \
  --drain-exec 'sh -c "echo hook: deregistering child $DRAINIT_CHILD_PID after $DRAINIT_SIGNAL"' \
  --prestop-sleep 1s --grace 10s -- sh -c "$app"
