#!/usr/bin/env bash
# Run every reader's fuzz target for SECONDS each (default 600), seeding the corpus from the
# project's fixtures. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain the
# sanitizer flags are enabled with RUSTC_BOOTSTRAP=1. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^uctriage-fuzz$')
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Seed with the project's own fixtures of that format, when there are any.
  if [ -d "../crates/sources/tests/fixtures/$t" ]; then
    cp -n ../crates/sources/tests/fixtures/"$t"/* "corpus/$t/" 2>/dev/null || true
  fi
  echo "== $t (${secs}s)"
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
done
ls artifacts/*/crash-* 2>/dev/null && { echo "crashes found"; exit 1; } || echo "no crashes"
