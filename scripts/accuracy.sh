#!/usr/bin/env bash
# How many of the codes in the pasted snippets of tests/pasted/ a scan finds.
#
# Each snippet is given to the binary the way an admin pastes it: on standard input
# (`uctriage scan --format json -`), as `--text "…"`, or whole to `uctriage explain` (manifest
# `mode`). A code counts as found when the report names it (a finding's codes; for `explain`, an
# answer's code). Codes under `absent` must not be reported. Prints the share found, each miss and
# each false reading, and exits 1 when the share is below THRESHOLD percent (default 95) or a false
# reading appears.
#
# Usage: scripts/accuracy.sh [--release] [--no-build] [-v]
#   BIN=path/to/uctriage   use that binary (no build)
#   THRESHOLD=95           the lowest share that passes, in percent
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
build=1
verbose=0
for a in "$@"; do
  case "$a" in
    --release) profile=release ;;
    --no-build) build=0 ;;
    -v) verbose=1 ;;
    *) echo "usage: scripts/accuracy.sh [--release] [--no-build] [-v]" >&2; exit 2 ;;
  esac
done
if [ -z "${BIN:-}" ]; then
  if [ "$build" = 1 ]; then
    if [ "$profile" = release ]; then cargo build --release -q -p uctriage; else cargo build -q -p uctriage; fi
  fi
  BIN="target/$profile/uctriage"
fi
[ -x "$BIN" ] || { echo "no binary at $BIN (build it, or set BIN)" >&2; exit 2; }
export BIN THRESHOLD="${THRESHOLD:-95}" VERBOSE="$verbose"
exec python3 - <<'PY'
import json, os, subprocess, sys, tomllib
from collections import defaultdict

base = "tests/pasted"
manifest = tomllib.load(open(f"{base}/manifest.toml", "rb"))
binary = os.environ["BIN"]
threshold = float(os.environ["THRESHOLD"])
verbose = os.environ["VERBOSE"] == "1"
env = dict(os.environ, NO_COLOR="1")

def found_codes(snippet, text):
    mode = snippet.get("mode", "scan")
    if mode == "explain":
        cmd = [binary, "explain", "--format", "json", text.strip()]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        return {a["code"] for a in json.loads(out.stdout) if a.get("code")}
    if mode == "text":
        cmd = [binary, "scan", "--format", "json", "-q", "--text", text]
        stdin = None
    else:
        cmd = [binary, "scan", "--format", "json", "-q", "-"]
        stdin = text
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=60)
    if out.returncode == 2:
        raise RuntimeError(out.stderr.strip())
    report = json.loads(out.stdout)
    return {c for f in report["findings"] for c in f["codes"]}

total = hits = false_readings = 0
by_class = defaultdict(lambda: [0, 0])
misses = []
for s in manifest["snippet"]:
    text = open(f"{base}/{s['file']}", encoding="utf-8").read()
    try:
        found = found_codes(s, text)
    except Exception as e:  # a crash or unreadable output misses every expected code
        found = set()
        misses.append(f"{s['file']}: run failed: {e}")
    for code in s["expect"]:
        total += 1
        by_class[s["class"]][1] += 1
        if code in found:
            hits += 1
            by_class[s["class"]][0] += 1
        else:
            misses.append(f"{s['file']}: missed {code} (found: {', '.join(sorted(found)) or 'nothing'})")
    for code in s.get("absent", []):
        if code in found:
            false_readings += 1
            misses.append(f"{s['file']}: reported {code}, which the snippet does not hold")
    if verbose:
        print(f"{s['file']}: {', '.join(sorted(found)) or '-'}")

share = 100.0 * hits / total if total else 0.0
for cls, (h, t) in sorted(by_class.items()):
    print(f"  {cls:<10} {h:>3} of {t:<3}")
for m in misses:
    print(f"  {m}")
print(f"found {hits} of {total} expected codes ({share:.1f}%) in {len(manifest['snippet'])} snippets; "
      f"{false_readings} false readings; threshold {threshold:g}%")
sys.exit(0 if share >= threshold and false_readings == 0 else 1)
PY
