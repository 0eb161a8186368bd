#!/usr/bin/env bash
# Fuzz the whole pipeline for a bounded time: fuzz/run.sh [SECONDS] (default
# 300); fuzz/run.sh SECONDS scanner fuzzes the block-YAML scanner against saphyr.
# Needs cargo-fuzz (cargo install cargo-fuzz). cargo-fuzz builds with nightly
# flags; on a stable toolchain RUSTC_BOOTSTRAP=1 lets it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
target="${2:-compile}"
fuzz/seed.sh
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10
