#!/usr/bin/env bash
# Run every reader's fuzz target for SECONDS each (default 600), seeding the corpus from the
# project's fixtures. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain the
# sanitizer flags are enabled with RUSTC_BOOTSTRAP=1. Crashes land in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      JOBS=2 runs two targets at a time (default 1)
#
# Each target's libFuzzer output goes to fuzz/logs/<target>.log; the last line of the run is a
# summary: target, seconds, executions, corpus size and whether it crashed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-600}
shift || true
jobs=${JOBS:-1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^uctriage-fuzz$')
fi
export RUSTC_BOOTSTRAP=1
# Build every target once, then run the binaries themselves: `cargo fuzz run` would rebuild each
# target when it starts, so edits made during a long run would change what is being fuzzed.
cargo fuzz build -O >/dev/null
bin=target/$(rustc -vV | sed -n 's/^host: //p')/release
mkdir -p logs
echo "fuzzing $(git -C .. rev-parse --short HEAD)$(git -C .. diff --quiet HEAD -- crates fuzz/fuzz_targets || echo ' with local changes')"

run_one() {
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ -d "../crates/sources/tests/fixtures/$t" ]; then
    cp -n ../crates/sources/tests/fixtures/"$t"/* "corpus/$t/" 2>/dev/null || true
  fi
  local start end status=ok
  start=$(date +%s)
  if ! "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$secs" -rss_limit_mb=2048 \
      -max_len=1048576 -print_final_stats=1 >"logs/$t.log" 2>&1; then
    status=CRASH
  fi
  end=$(date +%s)
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
  printf '%-18s %5ss  %10s runs  %6s corpus files  %s\n' "$t" "$((end - start))" "${execs:-?}" \
    "$(find "corpus/$t" -type f | wc -l)" "$status"
}
export -f run_one
export secs bin
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
if ls artifacts/*/crash-* artifacts/*/oom-* artifacts/*/timeout-* 2>/dev/null; then
  echo "findings above"
  exit 1
fi
echo "no crashes"
