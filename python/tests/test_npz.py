"""Every CSV the command line writes has a .npz beside it that numpy.load reads, with one
array per column equal to the CSV's values (the `.npz` beside every CSV, README)."""

import csv
import os
import pathlib
import subprocess

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
XTASK = os.environ.get("EBN_XTASK", str(ROOT / "target" / "debug" / "xtask"))


def shortened_linear(tmp_path):
    """examples/linear.toml with 3 training trials of 0.3 s and a 0.5 s test."""
    text = (ROOT / "examples" / "linear.toml").read_text()
    text = text.replace("trials = 50", "trials = 3").replace("trial_duration = 1.5", "trial_duration = 0.3")
    text = text.replace("duration = 3.0", "duration = 0.5")
    path = tmp_path / "linear.toml"
    path.write_text(text)
    return path


def check_directory(directory):
    csvs = sorted(pathlib.Path(directory).rglob("*.csv"))
    assert csvs, f"no CSV in {directory}"
    for path in csvs:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, data = rows[0], rows[1:]
        arrays = np.load(path.with_suffix(".npz"))
        assert sorted(arrays.files) == sorted(header), path
        for k, name in enumerate(header):
            column = [row[k] for row in data]
            array = arrays[name]
            assert array.shape == (len(data),), (path, name)
            if array.dtype.kind in "if":
                expected = np.array([float(c) if c else np.nan for c in column])
                assert np.array_equal(array.astype(float), expected, equal_nan=True), (path, name)
            else:
                assert list(array) == column, (path, name)
    return len(csvs)


def xtask():
    assert pathlib.Path(XTASK).exists(), f"{XTASK} is missing: build the workspace first (bash scripts/test.sh does)"
    return XTASK


def test_run_writes_npz_equal_to_every_csv(tmp_path):
    out = tmp_path / "out"
    subprocess.run([xtask(), "run", str(shortened_linear(tmp_path)), "--out", str(out)], check=True, capture_output=True)
    assert check_directory(out) >= 4
    spikes = np.load(out / "spikes_driven.npz")
    assert spikes["neuron"].dtype == np.int64 and spikes["t"].dtype == np.float64


def test_every_figure_writes_npz_equal_to_every_csv(tmp_path):
    subprocess.run([xtask(), "figures", "--scale", "smoke", "--quiet", "--out", str(tmp_path)], check=True, capture_output=True)
    for figure in sorted(p for p in tmp_path.iterdir() if p.is_dir()):
        assert check_directory(figure) >= 1, figure
    table = np.load(tmp_path / "rules" / "rules.npz")
    assert table["rule"].dtype.kind == "U" and table["test_nrmse"].dtype == np.float64
