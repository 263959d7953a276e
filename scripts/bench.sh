#!/usr/bin/env bash
# Throughput, memory and the three speed ratios of issue 14 on a large generated bundle.
# Usage: scripts/bench.sh [BYTES] [WORKDIR]
#
#   RUNS=5        paired runs per ratio (the ratios are medians of the pairs' ratios)
#   ONLY=ratios   skip the throughput and memory table (ONLY=table skips the ratios)
#   REBUILD=1     generate the bundle again
#   CORPUS=dir    the folder of real .evtx files (default ../shared/corpus/evtx when it exists)
#   BIN=path      time this uctriage binary instead of building one (an older build, for the
#                 figures before a change)
#
# Each pair runs the two commands back to back, in alternating order, on the same files; wall
# time on a shared machine moves by tens of percent, so compare the ratios of one run, not the
# seconds of two. rg and evtx_dump are installed with `cargo install` when missing.
set -euo pipefail
export LC_ALL=C  # a dot in the decimal clock readings
cd "$(dirname "$0")/.."
root=$PWD
bytes=${1:-500000000}
work=${2:-${TMPDIR:-/tmp}/uctriage-bench}
runs=${RUNS:-5}
only=${ONLY:-}
target=${CARGO_TARGET_DIR:-$root/target}
# Two builds: a target flag such as --example limits a build to that target alone.
[ -n "${BIN:-}" ] || cargo build --release -q -p uctriage
cargo build --release -q -p uctriage-fixtures --example make_bundle
bin=${BIN:-$target/release/uctriage}
for tool in rg:ripgrep evtx_dump:evtx; do
  if ! command -v "${tool%%:*}" >/dev/null && [ ! -x "$HOME/.cargo/bin/${tool%%:*}" ]; then
    echo "installing ${tool#*:} for ${tool%%:*}"
    cargo install -q --locked "${tool#*:}" || cargo install -q "${tool#*:}"
  fi
done
PATH=$PATH:$HOME/.cargo/bin
if [ ! -d "$work/bundle" ] || [ "${REBUILD:-0}" = 1 ]; then
  rm -rf "$work" && mkdir -p "$work"
  "$target/release/examples/make_bundle" large "$bytes" "$work/bundle" >/dev/null
fi
[ -f "$work/bundle.zip" ] || "$target/release/examples/make_bundle" large "$bytes" "$work/bundle.zip" >/dev/null
size=$(du -sb "$work/bundle" | cut -f1)
mb() { echo "scale=1; $1 / 1048576" | bc; }
echo "bundle: $(mb "$size") MB in $(find "$work/bundle" -type f | wc -l) files; zip $(mb "$(stat -c %s "$work/bundle.zip")") MB; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# Wall and CPU (user + system) seconds of one command, space-separated (its output and exit
# status ignored). Wall time is read from bash's microsecond clock: the 10 ms steps of `time`
# are too coarse for the corpus, which takes a few hundredths of a second.
secs() {
  local t0=$EPOCHREALTIME
  /usr/bin/time -o "$work/time.txt" -f '%U %S' "$@" >/dev/null 2>&1 || true
  local t1=$EPOCHREALTIME
  tail -1 "$work/time.txt" | awk -v a="$t0" -v b="$t1" '{ printf "%.4f %.2f\n", b - a, $1 + $2 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# pair LABEL TARGET -- A... -- B...: RUNS paired runs of A (ours) and B (the baseline); prints the
# medians of A's and B's wall times and of the wall ratio A/B beside the target, then the median
# ratio of CPU time (user + system), which moves less than wall time when the machine is shared.
pair() {
  local label=$1 goal=$2; shift 3
  local a=() b=()
  while [ "$1" != -- ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  local ta=() tb=() r=() c=() i x y
  for ((i = 0; i < runs; i++)); do
    if ((i % 2)); then y=$(secs "${b[@]}"); x=$(secs "${a[@]}"); else x=$(secs "${a[@]}"); y=$(secs "${b[@]}"); fi
    ta+=("${x% *}"); tb+=("${y% *}")
    r+=("$(echo "scale=3; ${x% *} / ${y% *}" | bc)")
    c+=("$(echo "scale=3; ${x#* } / (${y#* } + 0.005)" | bc)")
  done
  printf '  %-44s %7.3f s vs %7.3f s   ratio %6.2fx  (target %s; CPU ratio %.2fx)\n' "$label" \
    "$(printf '%s\n' "${ta[@]}" | median)" "$(printf '%s\n' "${tb[@]}" | median)" "$(printf '%s\n' "${r[@]}" | median)" "$goal" \
    "$(printf '%s\n' "${c[@]}" | median)"
}

# Run evtx_dump file after file with its default threads, or (floor) as two -t 1 workers.
dump_each() { for f in "$@"; do evtx_dump -o jsonl "$f"; done >/dev/null 2>&1; }
dump_two() { printf '%s\0' "$@" | xargs -0 -n 1 -P 2 evtx_dump -t 1 -o jsonl >/dev/null 2>&1; }
export -f dump_each dump_two

if [ "$only" != ratios ]; then
  measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -o "$work/time.txt" -f '%e %M' "$@" >/dev/null 2>&1 || true
    local out; out=$(tail -1 "$work/time.txt")
    local s=${out% *} kb=${out#* }
    printf '%-38s %8.2f s  %8.1f MB/s  peak RSS %6.1f MB\n' "$label" "$s" "$(echo "scale=1; $size / 1048576 / $s" | bc)" "$(echo "scale=1; $kb / 1024" | bc)"
  }
  measure "uctriage evidence (all readers)" "$bin" evidence "$work/bundle"
  measure "uctriage scan --format json" "$bin" scan --format json -q "$work/bundle"
  measure "uctriage scan (same bundle as .zip)" "$bin" scan --format json -q "$work/bundle.zip"
  # Three literals over every file: the full alternation over the .evtx binaries (lines of
  # megabytes with -a) takes about a second per MB, which measures nothing useful.
  measure "rg -c (three literals, same files)" rg -c -a 'AADSTS|0xCAA|SIP/2.0' "$work/bundle"
fi
[ "$only" = table ] && exit 0

echo "ratios (medians of $runs paired runs; uctriage scan --format json first, the baseline second):"
mapfile -d '' evtx < <(find "$work/bundle" -type f -name '*.evtx' -print0 | sort -z)
pair ".evtx ($(mb "$(du -cb "${evtx[@]}" | tail -1 | cut -f1)") MB) / evtx_dump file after file" "<= 1.5x" -- \
  "$bin" scan --format json -q "${evtx[@]}" -- bash -c 'dump_each "$@"' _ "${evtx[@]}"
pair "  the same / evtx_dump floor (two -t 1 workers)" "where it goes next" -- \
  "$bin" scan --format json -q "${evtx[@]}" -- bash -c 'dump_two "$@"' _ "${evtx[@]}"
corpus=${CORPUS:-$root/../shared/corpus/evtx}
if [ -d "$corpus" ]; then
  mapfile -d '' real < <(find "$corpus" -type f -name '*.evtx' -print0 | sort -z)
  pair "corpus .evtx (${#real[@]} files) / evtx_dump file after file" "<= 1.5x" -- \
    "$bin" scan --format json -q "${real[@]}" -- bash -c 'dump_each "$@"' _ "${real[@]}"
  pair "  the same / evtx_dump floor (two -t 1 workers)" "where it goes next" -- \
    "$bin" scan --format json -q "${real[@]}" -- bash -c 'dump_two "$@"' _ "${real[@]}"
fi
mapfile -d '' text < <(find "$work/bundle" -type f \( -name '*.txt' -o -name '*.log' -o -name '*.csv' \) -print0 | sort -z)
pair "text mix ($(mb "$(du -cb "${text[@]}" | tail -1 | cut -f1)") MB) / rg -c -a -f code-patterns.txt" "<= 3x" -- \
  "$bin" scan --format json -q "${text[@]}" -- rg -c -a -f scripts/code-patterns.txt "${text[@]}"
for kind in "txt:Teams Rooms app log" "log:SBC syslog" "csv:sign-in CSV"; do
  mapfile -d '' files < <(find "$work/bundle" -type f -name "*.${kind%%:*}" -print0 | sort -z)
  [ ${#files[@]} -gt 0 ] || continue
  pair "  ${kind#*:} ($(mb "$(du -cb "${files[@]}" | tail -1 | cut -f1)") MB)" "mix <= 3x" -- \
    "$bin" scan --format json -q "${files[@]}" -- rg -c -a -f scripts/code-patterns.txt "${files[@]}"
done
pair "bundle as one .zip / the same files as a folder" "<= 1.1x" -- \
  "$bin" scan --format json -q "$work/bundle.zip" -- "$bin" scan --format json -q "$work/bundle"
