#!/usr/bin/env bash
# The whole test suite: the Rust workspace; then the Python package (built by maturin into a
# virtual environment under target/, with numpy, pytest, cffconvert and nir from PyPI; nothing is
# installed system-wide; only python3 with its venv module is needed) and the Python tests,
# which also run the command line the workspace built; then the benchmark harness's agreement
# test against numpy and Brian2 (their own venv, target/bench-venv); then the SLURM test
# (scripts/slurm_test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo test --workspace
venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy pytest cffconvert nir "maturin>=1.5,<2"
(cd python && VIRTUAL_ENV="$venv" CARGO_TARGET_DIR="$target" "$venv/bin/maturin" develop --release --quiet)
EBN_XTASK="$target/debug/xtask" "$venv/bin/python" -m pytest -q python/tests
# The benchmark harness's agreement test: this simulator, numpy and Brian2 (C++ standalone,
# compiled with the machine's g++) run the same networks from the same state and must fire
# the same spikes, index for index (fixed weights N = 100, and training N = 64); then this
# simulator and numpy on the other neuron models and rules (multi-spike, refractory, synaptic
# LIF; sigma, e-mod, dead zone, projection), each written out in bench/numpy_ebn.py. Brian2
# 2.9 needs numpy < 2.4, so it has its own virtual environment; timing is not tested.
bench_venv="$target/bench-venv"
if [ ! -x "$bench_venv/bin/python" ]; then
    python3 -m venv "$bench_venv"
fi
"$bench_venv/bin/python" -m pip install --quiet --disable-pip-version-check "numpy<2.4" "brian2==2.9.0"
"$target/debug/xtask" bench --cases fixed100,train-identity64 --python "$bench_venv/bin/python" --check-agreement --repeat 1
"$target/debug/xtask" bench --cases multi4000,refractory1000,synaptic1000,train-sigma64,train-e-mod64,train-dead-zone64,train-projection64 \
    --python "$bench_venv/bin/python" --no-brian2 --check-agreement --repeat 1
# A sweep as a job array on a real single-node SLURM (installed with apt-get and started by the
# script, stopped at its end; skipped with the reason where it cannot run: not root, no apt-get).
bash scripts/slurm_test.sh
