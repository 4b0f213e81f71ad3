#!/usr/bin/env bash
# Fails on a module circle or an arrow the wrong way (scripts/module-layers.txt) in any crate,
# and on a crate that depends on one above it (cli → lab → sodeep → weights; py → sodeep).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# the checker itself must catch a circle and an upward arrow: a three-file crate with both
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe/src/a"
printf 'mod a;\nmod b;\n' > "$probe/src/lib.rs"
printf 'mod c;\npub fn f() {}\n' > "$probe/src/a/mod.rs"
printf 'use super::f;\n' > "$probe/src/a/c.rs"
printf 'use crate::a::c;\n' > "$probe/src/b.rs"
printf '%s b a\n' "$probe/src" > "$probe/layers.txt"
probe_out=$(python3 scripts/module-cycles.py "$probe/src" "$probe/layers.txt" || true)
if [[ "$probe_out" != *"circle: ['a', 'a::c']"* || "$probe_out" != *"wrong way: b imports a::c"* ]]; then
    echo "module-cycles.py missed the probe's circle or its upward arrow:"; echo "$probe_out"; exit 1
fi
for src in crates/*/src; do
    python3 scripts/module-cycles.py "$src" scripts/module-layers.txt || status=1
done
# crate arrows: a crate may only depend on the crates listed after it
while read -r crate allowed; do
    for dep in $(grep -o '^sodeep[a-z-]* *=' "crates/$crate/Cargo.toml" | tr -d ' ='); do
        if [[ " $allowed " != *" $dep "* ]]; then
            echo "wrong way: crate $crate depends on $dep (allowed: ${allowed:-none})"
            status=1
        fi
    done
done <<'LIST'
sodeep-weights
sodeep sodeep-weights
sodeep-lab sodeep sodeep-weights
sodeep-cli sodeep-lab sodeep sodeep-weights
sodeep-py sodeep sodeep-weights
LIST
exit $status
