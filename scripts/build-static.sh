#!/usr/bin/env bash
# Builds the static drainit that ships and prints its path (the only line on
# stdout). Every place that needs the release binary calls this script: the
# README, scripts/demo.sh, scripts/release.sh, the tests and the benchmark.
#
#   scripts/build-static.sh [CARGO BUILD ARGS...]    e.g. --example fixture
#
# The build is x86_64-unknown-linux-musl (static by default, half the size
# of the static glibc build; README, "Building a static binary"). The target
# is installed with `rustup target add` when it is missing. When that cannot
# be done (no rustup, no network), one line on stderr says so and the static
# glibc build is made instead. Examples named in the arguments are built
# the same way, into `examples/` next to drainit.
#
# Environment:
#   DRAINIT_BUILD_TARGET=TRIPLE   another musl target, e.g.
#                                 aarch64-unknown-linux-musl (no fallback)
#   DRAINIT_BUILD_FORCE_GLIBC=1   the static glibc build, as when the musl
#                                 target cannot be had (tests the fallback)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${DRAINIT_BUILD_TARGET:-x86_64-unknown-linux-musl}
# A plain static executable, not a static-pie: no self-relocation at start.
rustflags=(-C relocation-model=static)
case $target in
  aarch64-*) rustflags+=(-C linker=rust-lld) ;; # links with no cross toolchain
esac
# Reproducible: the paths compiled into the binary (panic locations) name
# no directory of this machine, so a build anywhere else, from the same
# source with the same toolchain, gives the same bytes (README, "Install").
rustflags+=(
  "--remap-path-prefix=$PWD=/drainit"
  "--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry=/cargo/registry"
  "--remap-path-prefix=$("${RUSTC:-rustc}" --print sysroot)=/rust/toolchain"
)

have_target() {
  command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$1"
}

why=
if [ "${DRAINIT_BUILD_FORCE_GLIBC:-}" = 1 ]; then
  why='DRAINIT_BUILD_FORCE_GLIBC=1'
elif ! have_target "$target"; then
  if ! command -v rustup >/dev/null; then
    why='rustup is not installed'
  elif ! rustup target add "$target" >/dev/null 2>&1; then
    why="\`rustup target add $target\` failed"
  fi
fi
if [ -n "$why" ]; then
  if [ "$target" != x86_64-unknown-linux-musl ]; then
    echo "build-static.sh: cannot build for $target: $why" >&2
    exit 1
  fi
  echo "build-static.sh: building the static glibc drainit instead of the musl one ($why)" >&2
  target=x86_64-unknown-linux-gnu
  rustflags=(-C target-feature=+crt-static "${rustflags[@]}")
fi

# `--target` keeps these flags away from build scripts and proc-macros,
# which cannot be static. The encoded form (flags separated by 0x1f) keeps
# a directory with spaces in one flag.
encoded=$(IFS=$'\x1f'; echo "${rustflags[*]}")
unset RUSTFLAGS
CARGO_ENCODED_RUSTFLAGS=$encoded "${CARGO:-cargo}" build --quiet --release --locked \
  --target "$target" --bin drainit "$@"
target_dir=${CARGO_TARGET_DIR:-target}
realpath -m "$target_dir/$target/release/drainit"
