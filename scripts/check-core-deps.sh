#!/usr/bin/env bash
# The core crates stay free of the network, storage and server stacks: each core crate's normal
# dependency tree (`cargo tree -e normal`, what ships in the library) must not contain any of the
# forbidden crates below. Prints every offending crate and dependency, and exits 1 if there is one.
#
#   scripts/check-core-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

core=(uctriage-kb uctriage-evidence uctriage-sources uctriage-rules uctriage-report uctriage-triage uctriage-scan)
forbidden=(tokio axum sqlx hyper reqwest ureq uctriage-checks uctriage-store uctriage-server)

status=0
for crate in "${core[@]}"; do
  if ! tree=$(cargo tree --locked -e normal --prefix none -p "$crate" 2>&1); then
    echo "check-core-deps: cargo tree failed for $crate:" >&2
    echo "$tree" >&2
    exit 1
  fi
  # Each line is "name vX.Y.Z [(path)] [(*)]": the first word is the crate name. The first line
  # is the crate itself.
  names=$(tail -n +2 <<<"$tree" | awk '{print $1}' | sort -u)
  for dep in "${forbidden[@]}"; do
    if grep -qx -- "$dep" <<<"$names"; then
      echo "check-core-deps: $crate depends on $dep (a core crate must not)" >&2
      status=1
    fi
  done
done
[ "$status" = 0 ] && echo "core crates: no network, store or server dependencies"
exit "$status"
