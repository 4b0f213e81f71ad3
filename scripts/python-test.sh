#!/usr/bin/env bash
# Builds the Python wheel and runs the Python suite (crates/sodeep-py/tests) against it.
#
# The virtual environment `.venv` at the repository root is made on first use and reused after:
# torch from PyPI is a large download. It gets maturin, pytest, numpy and torch from PyPI; the
# wheel is built with maturin into target/wheels and installed into it, as a user would install it.
# Set SODEEP_VENV to use another environment.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SODEEP_VENV:-.venv}
python=${PYTHON:-python3}

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating the test environment $venv ..."
    "$python" -m venv "$venv"
    free_kib=$(df -Pk "$venv" | awk 'NR==2 {print $4}')
    if (( free_kib < 8 * 1024 * 1024 )); then
        echo "warning: $(( free_kib / 1024 )) MiB free where $venv lives; torch from PyPI needs about 8 GiB" >&2
    fi
fi
# pip does nothing for what is already installed, so a reused environment costs seconds
# no pip cache: torch with its CUDA libraries is gigabytes, and a cached copy doubles that on disk
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    "maturin>=1.5,<2" pytest numpy torch

rm -rf target/wheels
"$venv/bin/maturin" build --release --quiet -m crates/sodeep-py/Cargo.toml --out target/wheels
wheel=$(ls target/wheels/sodeep-*.whl)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
# from outside the source tree, so the installed wheel is what gets imported; SODEEP_VENV may be
# relative to the repository root or absolute
python_bin=$(cd "$venv/bin" && pwd)/python
cd crates/sodeep-py/tests
"$python_bin" -m pytest -q -p no:cacheprovider .
