#!/usr/bin/env bash
# The minimum Rust version is said once and is true: the workspace's `rust-version` is inherited
# by every crate (`rust-version.workspace = true`), is at least the highest `rust-version` any
# locked dependency declares (Cargo.lock, every platform), and is the version the README gives.
# Prints what is wrong and exits 1; clippy's incompatible_msrv lint checks our own code against it.
#
#   scripts/check-rust-version.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --locked --format-version 1 | python3 -c '
import json, re, sys

def key(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(sys.stdin)
ours = set(meta["workspace_members"])
with open("Cargo.toml") as f:
    m = re.search(r"^\[workspace\.package\][^\[]*?^rust-version\s*=\s*\"([0-9.]+)\"", f.read(), re.M | re.S)
if not m:
    sys.exit("check-rust-version: Cargo.toml has no [workspace.package] rust-version")
declared = m.group(1)
problems = []
for p in meta["packages"]:
    if p["id"] in ours:
        with open(p["manifest_path"]) as f:
            if not re.search(r"^rust-version\.workspace\s*=\s*true", f.read(), re.M):
                name = p["name"]
                problems.append(f"{name} does not inherit the workspace rust-version (rust-version.workspace = true)")
deps = [(key(p["rust_version"]), p["rust_version"], p["name"], p["version"])
        for p in meta["packages"] if p["id"] not in ours and p.get("rust_version")]
need = max(deps)
if key(declared) < need[0]:
    problems.append(f"the workspace says rust-version {declared} but {need[2]} {need[3]} needs {need[1]}")
with open("README.md") as f:
    readme = f.read()
said = re.search(r"Rust toolchain \(([0-9.]+) or newer\)", readme)
if not said or said.group(1) != declared:
    problems.append(f"the README should say \"Rust toolchain ({declared} or newer)\"")
for p in problems:
    print("check-rust-version:", p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"rust-version {declared}: every crate inherits it; the locked dependencies need {need[1]} ({need[2]} {need[3]})")
'
