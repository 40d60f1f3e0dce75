"""The Python package (README, "From Python"): the same numbers as the command line, bit for
bit; documented shapes and dtypes; errors as exceptions naming the field; save and load."""

import json
import pathlib
import subprocess

import numpy as np
import pytest

import ebn
from test_npz import ROOT, shortened_linear, xtask


def test_training_from_python_gives_the_command_lines_nrmse_bit_for_bit(tmp_path):
    toml = shortened_linear(tmp_path)
    out = tmp_path / "out"
    subprocess.run([xtask(), "run", str(toml), "--out", str(out)], check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    exp = ebn.Experiment.from_file(toml)
    curve = exp.train(progress=False)
    rec = exp.test(0)
    assert rec["nrmse"] == summary["tests"]["driven"]["nrmse"]
    cli_curve = np.load(out / "learning_curve.npz")["normalised_error"]
    assert np.array_equal(curve, cli_curve)


def test_recordings_have_the_documented_shapes_and_dtypes(tmp_path):
    exp = ebn.Experiment.from_file(shortened_linear(tmp_path))
    exp.train(progress=False)
    rec = exp.test()
    n = rec["t"].shape[0]
    assert n > 0 and rec["t"].dtype == np.float64
    for key in ("x", "x_hat", "c"):
        assert rec[key].shape == (n, 2) and rec[key].dtype == np.float64, key
    m = rec["spike_times"].shape[0]
    assert m > 0 and rec["spike_neurons"].shape == (m,) and rec["spike_neurons"].dtype == np.int64
    assert rec["spike_neurons"].min() >= 0 and rec["spike_neurons"].max() < 64
    assert exp.decoder().shape == (2, 64) and exp.weights().shape == (2, 64)
    assert exp.learning_curve().shape == (exp.trials_done(),) == (3,)


def test_a_bad_dict_raises_an_exception_naming_the_field(tmp_path):
    config = ebn.Experiment.from_file(shortened_linear(tmp_path)).config()
    config["network"]["feedbak_gain"] = 5.0
    with pytest.raises(ValueError, match="feedbak_gain"):
        ebn.Experiment.from_dict(config)
    config["network"].pop("feedbak_gain")
    config["network"]["n"] = 0
    with pytest.raises(ValueError, match="network.n"):
        ebn.Experiment.from_dict(config)
    # A value of the wrong type: the exception names its key path, not a place in a string.
    config["network"]["n"] = "sixty"
    with pytest.raises(ValueError, match=r"^network\.n: invalid type: string"):
        ebn.Experiment.from_dict(config)
    config["network"]["n"] = 64
    config["network"]["neuron"] = {"lambda_v": "fast"}
    with pytest.raises(ValueError, match=r"`network\.neuron\.lambda_v` \(kind \"ebn\"\): invalid type"):
        ebn.Experiment.from_dict(config)
    config["network"]["neuron"] = {"lambda_v": 10.0}
    config["test"][0]["duration"] = "long"
    with pytest.raises(ValueError, match=r"^test\[0\]\.duration: invalid type"):
        ebn.Experiment.from_dict(config)
    with pytest.raises(OSError):
        ebn.Experiment.from_file(tmp_path / "missing.toml")


def test_a_dict_round_trip_and_a_saved_network_test_identically(tmp_path):
    exp = ebn.Experiment.from_file(shortened_linear(tmp_path))
    exp.train(progress=False)
    rec = exp.test()
    again = ebn.Experiment.from_dict(exp.config())
    again.train(progress=False)
    assert again.test()["nrmse"] == rec["nrmse"]
    exp.save(tmp_path / "network.ebn")
    loaded = ebn.Experiment.load(tmp_path / "network.ebn")
    assert loaded.trials_done() == 3
    assert np.array_equal(loaded.test()["x_hat"], rec["x_hat"])
    (tmp_path / "corrupt.ebn").write_bytes((tmp_path / "network.ebn").read_bytes()[:-7])
    with pytest.raises(ValueError):
        ebn.Experiment.load(tmp_path / "corrupt.ebn")
