#!/usr/bin/env bash
# Compares sodeep builds on `bench sorters --no-torch`, alternating them round by round so that
# machine noise hits all alike; prints each case's best and median round per build.
#
#   scripts/bench-ab.sh CASES ROUNDS BIN[=ENV=VALUE] BIN[=ENV=VALUE] ...
#
# Example (how the "Without AVX-512" table of docs/speed.md was made, in this repository):
#   git worktree add /tmp/noavx HEAD && cd /tmp/noavx
#   sed -i 's/features = \["std", "x86-v4"\]/features = ["std"]/' crates/sodeep/Cargo.toml
#   CARGO_TARGET_DIR=/tmp/target-noavx cargo build --release -p sodeep-cli; cd -
#   scripts/bench-ab.sh lstm-h128-train,lstm-h128-forward,gru-train,cnn-train,lstm-h128-loss 4 \
#       /tmp/sodeep-before /tmp/target-noavx/release/sodeep=SODEEP_SIMD=avx2
# where /tmp/sodeep-before is a release build of the commit before the change.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
cases=$1; rounds=$2; shift 2
for r in $(seq "$rounds"); do
    for spec in "$@"; do
        bin=${spec%%=*}
        envs=()
        [ "$spec" != "$bin" ] && envs=("${spec#*=}")
        env "${envs[@]}" "$bin" --threads 2 bench sorters --no-torch --cases "$cases" --reps 5 2>&1 \
            | awk -v b="$spec" '/: rust [0-9]/ {print b, $1, $3}'
    done
done | python3 -c '
import collections, sys
d = collections.defaultdict(list)
for line in sys.stdin:
    b, c, t = line.split()
    d[(c, b)].append(float(t))
for (c, b), v in sorted(d.items()):
    v.sort()
    print(f"{c} {b}: best {v[0]:.4f} s, median {v[len(v) // 2]:.4f} s over {len(v)} rounds")'
