#!/usr/bin/env bash
# `uctriage push` runs on Teams Rooms devices, which are Windows. This machine has no Windows
# target, so we keep it true on paper: the binary's dependency tree for x86_64-pc-windows-gnu must
# pull no crate that only builds on Unix, and nothing that needs OpenSSL.
#
#   scripts/check-windows-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

unix_only=(nix signal-hook signal-hook-registry termios users uzers xattr openssl openssl-sys native-tls)
tree=$(cargo tree --locked --target x86_64-pc-windows-gnu -e normal --prefix none -p uctriage)
names=$(awk '{print $1}' <<<"$tree" | sort -u)
status=0
for dep in "${unix_only[@]}"; do
  if grep -qx -- "$dep" <<<"$names"; then
    echo "check-windows-deps: the Windows build of uctriage would pull $dep" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "windows build: $(wc -l <<<"$names") crates, none Unix-only"
exit "$status"
