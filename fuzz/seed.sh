#!/usr/bin/env bash
# Seed the fuzz corpora from the example platform and the test fixtures.
# For `compile`, each seed is one byte (0: replace the blueprint, 1: replace
# the overlay) followed by a file's text; for `scanner`, a file's text (the
# golden output too).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus/compile
mkdir -p "$corpus"
i=0
while IFS= read -r -d '' file; do
  case "$file" in overlays/*|*/overlays/*) kind='\x01' ;; *) kind='\x00' ;; esac
  { printf "$kind"; cat "$file"; } > "$corpus/seed-$i"
  i=$((i + 1))
done < <(find blueprints overlays tests/fixtures -name '*.yaml' -print0 | sort -z)
echo "seeded $i inputs into $corpus"
mkdir -p fuzz/corpus/scanner
i=0
while IFS= read -r -d '' file; do
  cp "$file" "fuzz/corpus/scanner/seed-$i"
  i=$((i + 1))
done < <(find blueprints overlays tests/fixtures golden -name '*.yaml' -print0 | sort -z)
echo "seeded $i inputs into fuzz/corpus/scanner"
