#!/usr/bin/env bash
# Mutation testing of the pure modules with cargo-mutants: each mutant (a
# function body replaced, an operator flipped...) must make a unit or
# property test (`cargo test --bin drainit`) fail. Mutants that cannot
# change behaviour are excluded in .cargo/mutants.toml and named in
# docs/testing.md ("Mutation testing") with why; every other one must be
# caught.
#
#   scripts/mutants.sh                 # every pure module
#   scripts/mutants.sh duration words  # some of them
#   MUTANTS_ARGS=--iterate scripts/mutants.sh   # only what was not caught
#
# Too slow for CI: each mutant rebuilds drainit's unit tests and runs them
# (docs/testing.md gives the time of a whole run). The outcome is in
# target/mutants/mutants.out (caught.txt, missed.txt, timeout.txt,
# unviable.txt); the last lines count them per module. Exits non-zero when
# a mutant was missed or timed out.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants

modules=(shutdown liveness rewrite signals words duration address status peers)
if [ $# -gt 0 ]; then
  modules=("$@")
fi

# A module is a file, or a directory (shutdown/) whose tests sit in
# `#[cfg(test)]` files that cargo-mutants leaves alone.
files=()
for m in "${modules[@]}"; do
  files+=(--file "src/$m.rs" --file "src/$m/*.rs")
done

# No debug info: each mutant's build is a third faster, and a failing
# test's message is all a mutant needs. Two jobs: one builds while the
# other tests. The property tests run 32 cases each (proptest's default
# is 256): the unit tests then take a third of a second instead of 5 to
# 20, and a mutant they catch is caught in the first cases. Options for
# cargo-mutants itself can follow in MUTANTS_ARGS (e.g. --iterate, to
# test again only what the last run did not catch).
status=0
# shellcheck disable=SC2086 # MUTANTS_ARGS is a list of words
PROPTEST_CASES="${PROPTEST_CASES:-32}" CARGO_PROFILE_DEV_DEBUG=0 \
  cargo mutants --no-shuffle --jobs 2 --timeout 60 ${MUTANTS_ARGS:-} \
  --output target/mutants "${files[@]}" -- --bin drainit || status=$?

out=target/mutants/mutants.out
count() { grep -c "^src/$2[./]" "$out/$1.txt" || true; }
printf '%-9s %7s %7s %8s %9s\n' module caught missed timeout unviable
for m in "${modules[@]}"; do
  printf '%-9s %7s %7s %8s %9s\n' "$m" "$(count caught "$m")" "$(count missed "$m")" \
    "$(count timeout "$m")" "$(count unviable "$m")"
done
exit "$status"
