#!/usr/bin/env bash
# Builds the Python wheel (abi3: CPython ≥ 3.9, this platform) and the sdist into DIR
# (default dist/), with maturin from PyPI in a private virtual environment (.venv-build).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
venv=.venv-build
if [[ ! -x "$venv/bin/maturin" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2"
fi
"$venv/bin/maturin" build --release -m crates/sodeep-py/Cargo.toml --out "$out"
"$venv/bin/maturin" sdist -m crates/sodeep-py/Cargo.toml --out "$out"
ls -l "$out"
