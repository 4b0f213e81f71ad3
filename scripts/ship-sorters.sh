#!/usr/bin/env bash
# Copies the trained sorters from their training folders (under ~/.cache/sodeep by default) into
# crates/sodeep-weights/weights/NAME, with model cards measured on 10,000 test vectors (seed 0).
# Each entry is NAME:TRAINING_FOLDER; the folder's NOTES file goes into the card.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-$HOME/.cache/sodeep}
cargo build --release -q
bin=target/release/sodeep
for entry in lstm-100:lstmpos-100 gru-100:gru-100 cnn-100:cnnfix-100; do
  name=${entry%%:*} folder=${entry#*:}
  notes_file="$src/$folder/NOTES"
  notes=()
  [ -f "$notes_file" ] && notes=(--notes "$(cat "$notes_file")")
  "$bin" export-sorter --from "$src/$folder/best" --out "crates/sodeep-weights/weights/$name" "${notes[@]}"
done
