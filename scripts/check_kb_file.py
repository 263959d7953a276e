#!/usr/bin/env python3
"""Quick structural check of knowledge-base TOML files (the Rust tests are the full check)."""
import re
import sys
import tomllib

LAYERS = set("client network dns identity policy device federation license mailbox service "
             "certificate sbc carrier configuration media".split())
REQUIRED = ["code", "family", "layer", "title", "meaning", "causes", "first_checks", "fixes",
            "seen_in", "references"]
CODE = re.compile(r"^(AADSTS\d+|0x[0-9A-F]{8}|SIP \d{3}|MSRC \d+|MS-DIAG \d+|Q850 \d+|"
                  r"OAUTH [a-z_]+|HTTP \d{3}|TEAMS [A-Za-z0-9_.]+|LYNC [a-z0-9-]+|PEXIP [a-z0-9-]+)$")

bad = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except Exception as e:  # noqa: BLE001
            print(f"{path}: TOML error: {e}")
            bad += 1
            continue
    defaults = doc.get("defaults", {})
    seen = set()
    for i, e in enumerate(doc.get("entry", [])):
        merged = {**defaults, **e}
        where = f"{path}: entry {i} ({e.get('code')})"
        for k in REQUIRED:
            v = merged.get(k)
            if not v or (isinstance(v, list) and not all(isinstance(x, str) and x.strip() for x in v)):
                print(f"{where}: missing or empty {k}")
                bad += 1
        if not CODE.match(merged.get("code", "")):
            print(f"{where}: code not in canonical form")
            bad += 1
        if merged.get("layer") not in LAYERS:
            print(f"{where}: unknown layer {merged.get('layer')!r}")
            bad += 1
        if not re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", merged.get("family", "")):
            print(f"{where}: family not kebab-case")
            bad += 1
        for r in merged.get("references", []):
            if not r.startswith("https://"):
                print(f"{where}: reference not https: {r}")
                bad += 1
        if merged.get("code") in seen:
            print(f"{where}: duplicate code")
            bad += 1
        seen.add(merged.get("code"))
    print(f"{path}: {len(doc.get('entry', []))} entries")
sys.exit(1 if bad else 0)
