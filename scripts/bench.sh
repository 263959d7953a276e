#!/usr/bin/env bash
# Throughput and memory of reading and scanning a large generated bundle, beside rg (and
# evtx_dump when installed) on the same data. Usage: scripts/bench.sh [BYTES] [WORKDIR]
# ZIP=1 also writes the bundle as one zip archive and times `scan` on it (entries streamed).
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${1:-500000000}
work=${2:-${TMPDIR:-/tmp}/uctriage-bench}
# Two builds: a target flag such as --example limits a build to that target alone.
cargo build --release -q -p uctriage
cargo build --release -q -p uctriage-fixtures --example make_bundle
bin=target/release/uctriage
if [ ! -d "$work/bundle" ] || [ "${REBUILD:-0}" = 1 ]; then
  rm -rf "$work" && mkdir -p "$work"
  target/release/examples/make_bundle large "$bytes" "$work/bundle" >/dev/null
fi
size=$(du -sb "$work/bundle" | cut -f1)
mb() { echo "scale=1; $1 / 1048576" | bc; }
measure() { # label, command...
  local label=$1; shift
  local out
  /usr/bin/time -o "$work/time.txt" -f '%e %M' "$@" >/dev/null 2>&1 || true
  out=$(tail -1 "$work/time.txt")
  local secs=${out% *} kb=${out#* }
  printf '%-34s %8.2f s  %8.1f MB/s  peak RSS %6.1f MB\n' "$label" "$secs" "$(echo "scale=1; $size / 1048576 / $secs" | bc)" "$(echo "scale=1; $kb / 1024" | bc)"
}
echo "bundle: $(mb "$size") MB in $(find "$work/bundle" -type f | wc -l) files, $(nproc) cores"
measure "uctriage evidence (all readers)" "$bin" evidence "$work/bundle"
measure "uctriage scan --format json" "$bin" scan --format json -q "$work/bundle"
if [ "${ZIP:-0}" = 1 ]; then
  [ -f "$work/bundle.zip" ] || target/release/examples/make_bundle large "$bytes" "$work/bundle.zip" >/dev/null
  echo "zip: $(mb "$(stat -c %s "$work/bundle.zip")") MB compressed"
  measure "uctriage scan (same bundle as .zip)" "$bin" scan --format json -q "$work/bundle.zip"
fi
if command -v rg >/dev/null; then measure "rg -c (same files)" rg -c -a 'AADSTS|0xCAA|SIP/2.0' "$work/bundle"; fi
measure "grep -c (same files)" grep -rca -E 'AADSTS|0xCAA|SIP/2.0' "$work/bundle"
echo "per format (uctriage evidence on the files of one kind):"
for ext in evtx log txt csv json; do
  mapfile -d '' files < <(find "$work/bundle" -type f -name "*.$ext" -print0 | head -z -n 200)
  [ ${#files[@]} -gt 0 ] || continue
  s=$(du -cb "${files[@]}" | tail -1 | cut -f1)
  /usr/bin/time -o "$work/time.txt" -f '%e' "$bin" evidence "${files[@]}" >/dev/null 2>&1 || true
  t=$(tail -1 "$work/time.txt")
  printf '  %-6s %8.1f MB  %6.2f s  %8.1f MB/s\n' "$ext" "$(mb "$s")" "$t" "$(echo "scale=1; $s / 1048576 / $t" | bc)"
  if [ "$ext" = evtx ] && command -v evtx_dump >/dev/null; then
    /usr/bin/time -o "$work/time.txt" -f '%e' sh -c 'for f in "$@"; do evtx_dump -o jsonl "$f"; done' sh "${files[@]}" >/dev/null 2>&1 || true
    printf '         evtx_dump on the same files: %6.2f s\n' "$(tail -1 "$work/time.txt")"
  fi
  if command -v rg >/dev/null; then
    /usr/bin/time -o "$work/time.txt" -f '%e' rg -c -a 'AADSTS|0xCAA|SIP/2.0' "${files[@]}" >/dev/null 2>&1 || true
    printf '         rg on the same files: %6.2f s\n' "$(tail -1 "$work/time.txt")"
  fi
done
