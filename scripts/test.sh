#!/usr/bin/env bash
# The test command (README.md, "Two commands"): `scripts/test.sh` on a
# Debian 12 machine with the Rust toolchain. Installs what the tests need,
# starts a Docker daemon when none answers, then checks formatting and
# lints and runs every test: unit, PID-namespace integration, Docker
# end-to-end, zero-downtime.
set -euo pipefail

# The tests need root (PID namespaces, Docker, apt-get). As root, which a
# fresh machine or CI often is, there may be no sudo at all; otherwise the
# script re-runs itself through sudo, with the caller's Rust toolchain.
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "test.sh: the tests need root (PID namespaces, Docker) and sudo is not installed: run scripts/test.sh as root" >&2
    exit 1
  fi
  exec sudo env "PATH=$PATH" "RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" \
    "CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}" "$0" "$@"
fi
cd "$(dirname "$0")/.."

# Debian packages: unshare/setsid/prlimit/setpriv (util-linux), ps (procps),
# libc.a for the static build (libc6-dev),
# the Docker daemon (docker.io), a static shell for FROM-scratch images
# (busybox-static), the load balancer (haproxy), Compose (docker-compose)
# and the peers we compare against (tini, dumb-init, catatonit),
# qemu-aarch64-static for the arm64 build (qemu-user-static), and strace
# for the start-up's system calls and to hold drainit in a syscall while a
# test kills its parent. The real servers of docs/servers.md
# (tests/servers_*.rs): nginx-light, apache2, php-fpm, nodejs, tomcat10,
# redis-server with python3-celery and python3-redis, dash for the shell
# wrappers, and mmdebstrap for their Debian images (tests/servers_docker.rs).
packages=(util-linux procps libc6-dev docker.io docker-compose busybox-static haproxy tini dumb-init
  catatonit qemu-user-static strace
  nginx-light apache2 php-fpm nodejs tomcat10 redis-server python3-celery python3-redis dash mmdebstrap)
# The packages of "$@" that are not installed, one a line.
not_installed() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t missing < <(not_installed "${packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  # Servers such as nginx and tomcat10 start their system services when
  # installed; a policy-rc.d that exits 101 stops that (the tests run
  # their own instances on free loopback ports). Ours only while we install.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null || true
  [ -z "$policy" ] || rm -f "$policy"
  # One line naming each package that could not be installed: never a
  # silent skip of the tests that need it.
  mapfile -t failed < <(not_installed "${missing[@]}")
  if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: could not install the Debian packages: ${failed[*]}" >&2
    exit 1
  fi
fi

# The static builds: musl for x86_64 (the one that ships) and aarch64.
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

# The oldest toolchain drainit supports (Cargo.toml's rust-version), which
# tests/package.rs builds with.
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal

# A Docker daemon: the one that runs, or one we start and stop again.
rm -f docker/.dockerd.pid
docker/ensure-dockerd.sh
trap docker/stop-dockerd.sh EXIT

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The unit tests ignore the caller's environment: run them once with a
# hostile value in every kind of variable drainit reads.
env DRAINIT_GRACE=forever DRAINIT_LOG=loud DRAINIT_REWRITE=TERM DRAINIT_SINGLE_CHILD=maybe \
  DRAINIT_STOP_SIGNAL=KILL DRAINIT_DRAIN_EXEC="'" DRAINIT_LIVENESS=bogus \
  TINI_VERBOSITY=9 TINI_SUBREAPER=x TINI_KILL_PROCESS_GROUP=x DUMB_INIT_SETSID=0 DUMB_INIT_DEBUG=1 \
  cargo test --bin drainit
cargo test -- --include-ignored
