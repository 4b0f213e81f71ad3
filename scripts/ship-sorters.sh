#!/usr/bin/env bash
# Copies the trained sorters from their training folders (default ~/.cache/sodeep/NAME) into
# crates/sodeep-weights/weights/NAME, with model cards measured on 10,000 test vectors (seed 0).
# The LSTM is stored in half precision to keep the weights crate under crates.io's 10 MB limit.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-$HOME/.cache/sodeep}
cargo build --release -q
bin=target/release/sodeep
for name in lstm-100 gru-100 cnn-100; do
  half=()
  [ "$name" = lstm-100 ] && half=(--half)
  notes_file="$src/$name/NOTES"
  notes=()
  [ -f "$notes_file" ] && notes=(--notes "$(cat "$notes_file")")
  "$bin" export-sorter --from "$src/$name/best" --out "crates/sodeep-weights/weights/$name" "${half[@]}" "${notes[@]}"
done
