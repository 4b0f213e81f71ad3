#!/usr/bin/env bash
# Every test: the Rust workspace, then the Python package's suite against its built wheel.
# This is the README's test command, and .ci/run calls exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check-modules.sh
python3 scripts/unused-public.py
cargo test --workspace
# ranking and the losses without the sorter lifecycle (the `train` feature off)
cargo test -p sodeep --no-default-features --features weights --tests
scripts/python-test.sh
