#!/usr/bin/env bash
# Builds a release: static drainit for x86_64 and aarch64 (musl, through
# scripts/build-static.sh) into dist/ with SHA256SUMS, and a FROM scratch
# image holding only /drainit (the host's architecture), so that an image
# can take it with `COPY --from=drainit:VERSION /drainit /drainit`.
#
# Environment:
#   DRAINIT_DIST=DIR           where the binaries go (default: dist)
#   DRAINIT_RELEASE_IMAGE=TAG  the image's tag (default: drainit:VERSION)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
dist=${DRAINIT_DIST:-dist}
image=${DRAINIT_RELEASE_IMAGE:-drainit:$version}

x86_64=$(scripts/build-static.sh)
aarch64=$(DRAINIT_BUILD_TARGET=aarch64-unknown-linux-musl scripts/build-static.sh)
mkdir -p "$dist"
cp "$x86_64" "$dist/drainit-x86_64"
cp "$aarch64" "$dist/drainit-aarch64"
(cd "$dist" && sha256sum drainit-x86_64 drainit-aarch64 >SHA256SUMS)

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
case $(uname -m) in
  aarch64 | arm64) cp "$dist/drainit-aarch64" "$context/drainit" ;;
  *) cp "$dist/drainit-x86_64" "$context/drainit" ;;
esac
# The legacy builder: Debian's docker.io has no buildx. Its output (and
# its deprecation notice) only when it fails.
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" -f docker/Dockerfile.release "$context" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "dist: $(realpath "$dist")" >&2
# What a reproduction needs besides the source (README, "Install").
echo "toolchain: $("${RUSTC:-rustc}" --version)" >&2
echo "image: $image" >&2
