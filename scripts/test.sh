#!/usr/bin/env bash
# Every test: the Rust workspace, then the Python package's suite against its built wheel.
# This is the README's test command, and .ci/run calls exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
scripts/python-test.sh
