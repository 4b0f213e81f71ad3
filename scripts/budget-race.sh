#!/usr/bin/env bash
# Trains lstm --head position, cnn and pairwise sorters for d = 100 under the same wall-clock budget, one
# thread each (lstm and cnn side by side on two cores, then pairwise alone), and prints their learning
# curves side by side (scripts/budget-curves.py). The pairwise sorter gets PAIRWISE_SECONDS (default
# 120): it reaches its plateau within seconds.
# Usage: scripts/budget-race.sh SECONDS [OUT] [PAIRWISE_SECONDS]
set -euo pipefail
budget=${1:?usage: budget-race.sh SECONDS [OUT]}
out=${2:-runs/race}
pairwise_budget=${3:-120}
bin=${SODEEP:-target/release/sodeep}
mkdir -p "$out"
common="--steps 100000000 --batch 64 --save-every 50 --val-samples 1000"
timeout "$budget" "$bin" --threads 1 train-sorter --arch lstm --head position --standardize --len 100 \
    $common --lr 1e-3 --out "$out/lstm" > "$out/lstm.log" 2>&1 &
timeout "$budget" "$bin" --threads 1 train-sorter --arch cnn --standardize --len 100 \
    $common --lr 1e-3 --out "$out/cnn" > "$out/cnn.log" 2>&1 &
wait || true
timeout "$pairwise_budget" "$bin" --threads 1 train-sorter --arch pairwise --hidden 1 --max-sharpness 20 \
    --len-range 100..100 $common --lr 0.03 --out "$out/pairwise" > "$out/pairwise.log" 2>&1 || true
python3 "$(dirname "$0")/budget-curves.py" "$out/lstm" "$out/cnn" "$out/pairwise"
