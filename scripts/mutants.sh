#!/usr/bin/env bash
# Mutation testing of the pure modules with cargo-mutants: each mutant (a
# function body replaced, an operator flipped...) must make a unit or
# property test (`cargo test --bin drainit`) fail. Mutants that cannot
# change behaviour are named in docs/testing.md, "Mutation testing", with
# why; every other one must be caught.
#
#   scripts/mutants.sh                 # every pure module
#   scripts/mutants.sh duration words  # some of them
#
# Too slow for CI: each mutant rebuilds drainit's unit tests and runs them
# (docs/testing.md gives the time of a whole run). Results per module in
# target/mutants/MODULE/mutants.out (caught.txt, missed.txt, timeout.txt).
# Exits non-zero when a mutant was missed or timed out.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants

modules=(shutdown liveness rewrite signals words duration address status peers)
if [ $# -gt 0 ]; then
  modules=("$@")
fi

failed=0
for m in "${modules[@]}"; do
  # A module is a file, or a directory (shutdown/) whose tests sit in
  # `#[cfg(test)]` files that cargo-mutants leaves alone.
  files=(--file "src/$m.rs" --file "src/$m/*.rs")
  echo "mutants.sh: $m" >&2
  mkdir -p "target/mutants/$m"
  cargo mutants --no-shuffle --output "target/mutants/$m" "${files[@]}" \
    -- --bin drainit || failed=1
done
for m in "${modules[@]}"; do
  out="target/mutants/$m/mutants.out"
  printf '%-9s caught %3s  missed %3s  timeout %3s  unviable %3s\n' "$m" \
    "$(wc -l <"$out/caught.txt")" "$(wc -l <"$out/missed.txt")" \
    "$(wc -l <"$out/timeout.txt")" "$(wc -l <"$out/unviable.txt")"
done
exit "$failed"
