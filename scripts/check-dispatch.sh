#!/usr/bin/env bash
# Checks that a release binary picks its vector kernels by what the CPU has, so that it runs on
# any x86-64: the same commands run natively and under QEMU's user-mode emulator posing as CPUs
# without AVX-512 (Haswell: AVX2 + FMA) and without AVX at all (qemu64: SSE2 only). QEMU 7.2
# implements no AVX-512 instruction, so one executed on those CPU models would kill the run with
# SIGILL. Each run must
#   - report the expected kernel levels (`bench sorters --json`: host.simd, host.gemm), and
#   - rank the same vectors through a learned LSTM sorter (candle's matmul and our fused LSTM,
#     both through the gemm crate), the CNN sorter (fused conv + BatchNorm), a GRU and soft rank,
#     with outputs equal to the native run's within 1e-5.
#
#   scripts/check-dispatch.sh [BIN]     BIN defaults to target/release/sodeep
#
# Needs qemu-x86_64 (Debian: apt-get install qemu-user). Takes a few minutes: emulation is slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/sodeep}"
command -v qemu-x86_64 >/dev/null || { echo "needs qemu-x86_64 (apt-get install qemu-user)" >&2; exit 2; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/in.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for _ in range(8):
        f.write(",".join(f"{random.gauss(0, 1):.6f}" for _ in range(100)) + "\n")
PY

# runs "$@" natively (cpu = native) or under qemu with that CPU model
run() {
    local cpu=$1; shift
    if [ "$cpu" = native ]; then
        "$bin" "$@"
    else
        # (QEMU warns about each CPU feature of the model that it cannot emulate: not ours)
        qemu-x86_64 -cpu "$cpu" "$bin" "$@" 2> >(grep -v "TCG doesn't support requested feature" >&2)
    fi
}

status=0
for cpu in native Haswell qemu64; do
    host=$(run "$cpu" --threads 2 bench sorters --no-torch --cases gru-train --reps 1 --batch 2 --len 5 --json \
        | python3 -c 'import json,sys; h=json.load(sys.stdin)["host"]; print(h["simd"], h["gemm"])')
    echo "$cpu: kernels/gemm = $host"
    case "$cpu" in
        Haswell) [ "$host" = "avx2 fma" ] || { echo "  expected avx2 fma" >&2; status=1; } ;;
        qemu64) [ "$host" = "portable scalar" ] || { echo "  expected portable scalar" >&2; status=1; } ;;
    esac
    for ranker in lstm-100 cnn-100 gru-100 softrank; do
        run "$cpu" --threads 2 rank --ranker "$ranker" --input "$work/in.csv" --output "$work/$cpu-$ranker.csv"
    done
done

python3 - "$work" <<'PY' || status=1
import sys
work = sys.argv[1]
def read(p):
    return [[float(v) for v in line.split(",")] for line in open(p) if line.strip()]
bad = False
for ranker in ["lstm-100", "cnn-100", "gru-100", "softrank"]:
    ref = read(f"{work}/native-{ranker}.csv")
    for cpu in ["Haswell", "qemu64"]:
        got = read(f"{work}/{cpu}-{ranker}.csv")
        err = max(abs(a - b) for ra, rb in zip(ref, got) for a, b in zip(ra, rb))
        ok = len(ref) == len(got) and err <= 1e-5
        bad |= not ok
        print(f"{ranker:>9} {cpu:>8} vs native: max |diff| {err:.2e} {'ok' if ok else 'FAIL'}")
sys.exit(1 if bad else 0)
PY
[ "$status" = 0 ] && echo "dispatch: ok" || echo "dispatch: FAILED" >&2
exit "$status"
