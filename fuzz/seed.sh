#!/usr/bin/env bash
# Seed the fuzz corpus from the example platform and the test fixtures. Each
# seed is one byte (0: replace the blueprint, 1: replace the overlay)
# followed by a file's text.
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
