#!/usr/bin/env bash
# The whole test suite: the Rust workspace, then the Python tests against the binaries it
# built. Python packages go into a virtual environment under target/ (nothing is installed
# system-wide); only python3 with its venv module is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
venv="target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy pytest cffconvert
EBN_XTASK="$PWD/target/debug/xtask" "$venv/bin/python" -m pytest -q python/tests
