#!/usr/bin/env bash
# Zero-downtime proof (docs/zero-downtime.md), one command: docker/zero-downtime/run.sh
#
# Builds drainit and the test fixtures statically, makes sure a Docker
# daemon answers (docker/ensure-dockerd.sh), then, for tini, dumb-init and
# drainit as PID 1 in turn: two app containers (--network host) behind
# HAProxy on loopback, a steady load, `docker stop` of one instance after
# 2 s, 6 s more of load. Prints the result table, cleans up what it started,
# and fails if drainit lost a request or tini lost none. All of it lives in
# tests/zero_downtime.rs; this wrapper only runs that test, uncaptured.
# Needs root, haproxy, tini-static, dumb-init, busybox-static, docker.io.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test --test zero_downtime -- --nocapture "$@"
