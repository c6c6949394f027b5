#!/usr/bin/env bash
# The test command (README.md, "Running the tests"): on a Debian 12 machine
# with the Rust toolchain, as root. Installs what the tests need, starts a
# Docker daemon when none answers, then checks formatting and lints and runs
# every test: unit, PID-namespace integration, Docker end-to-end,
# zero-downtime.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "test.sh: the tests need root (PID namespaces, Docker): run it with sudo" >&2
  exit 1
fi

# Debian packages: unshare/setsid/prlimit/setpriv (util-linux), ps (procps),
# libc.a for the static build (libc6-dev),
# the Docker daemon (docker.io), a static shell for FROM-scratch images
# (busybox-static), the load balancer (haproxy) and the peers we compare
# against (tini, dumb-init, catatonit), qemu-aarch64-static for the arm64
# build (qemu-user-static) and strace for the start-up's system calls.
packages=(util-linux procps libc6-dev docker.io busybox-static haproxy tini dumb-init catatonit
  qemu-user-static strace)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The static builds: musl for x86_64 (the one that ships) and aarch64.
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

# A Docker daemon: the one that runs, or one we start and stop again.
rm -f docker/.dockerd.pid
docker/ensure-dockerd.sh
trap docker/stop-dockerd.sh EXIT

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test -- --include-ignored
