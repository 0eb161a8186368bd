#!/usr/bin/env bash
# Fuzz the whole pipeline for a bounded time: fuzz/run.sh [SECONDS] (default 300).
# Needs cargo-fuzz (cargo install cargo-fuzz). cargo-fuzz builds with nightly
# flags; on a stable toolchain RUSTC_BOOTSTRAP=1 lets it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
fuzz/seed.sh
RUSTC_BOOTSTRAP=1 cargo fuzz run compile fuzz/corpus/compile -- \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10
