"""Learning from a recording that numpy wrote (docs/DATA.md): the command line reads
np.savez_compressed (deflated entries), np.savez, .npy and CSV recordings of the same
trajectory and learns the same network from each; a changed recording is refused on resume."""

import json
import os
import pathlib
import subprocess

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
XTASK = os.environ.get("EBN_XTASK", str(ROOT / "target" / "debug" / "xtask"))

CONFIG = """
seed = 1
[data]
file = "{file}"
x = {x}
c = {c}
train = [0.0, 1.2]
[network]
n = 64
dim = 2
mu = 1.0173e-4
nu = 2.026e-6
feedback_gain = 5.0
neuron = {{ lambda_v = 10.0 }}
basis = {{ kind = "identity" }}
rule = {{ kind = "local", eta = 10.0 }}
[training]
trials = 3
trial_duration = 0.4
[[test]]
name = "held_out"
start = 1.2
duration = 0.5
"""


def recording():
    """A damped oscillator driven by a smooth command, sampled at 1 kHz (not the network's dt)."""
    t = np.arange(0, 1.8, 1e-3)
    c = np.stack([40 * np.sin(7 * t), np.zeros_like(t)], axis=1)
    x = np.zeros((len(t), 2))
    for k in range(1, len(t)):
        h = t[k] - t[k - 1]
        a = np.array([[-0.2, -1.0], [1.0, -0.2]]) * 20.0
        x[k] = x[k - 1] + h * (a @ x[k - 1] + c[k - 1])
    return t, x, c


def run(tmp_path, name, file, x, c, *extra):
    exp = tmp_path / f"{name}.toml"
    exp.write_text(CONFIG.format(file=file, x=json.dumps(x), c=json.dumps(c)))
    out = tmp_path / f"out_{name}"
    result = subprocess.run([XTASK, "run", str(exp), "--out", str(out), *extra], capture_output=True, text=True)
    return result, out


def test_every_format_teaches_the_same_network(tmp_path):
    t, x, c = recording()
    np.savez_compressed(tmp_path / "deflated.npz", t=t, x=x, c=c)
    np.savez(tmp_path / "stored.npz", t=t, x_0=x[:, 0], x_1=x[:, 1], c_0=c[:, 0], c_1=c[:, 1])
    np.save(tmp_path / "table.npy", np.column_stack([t, x, c]))
    np.savetxt(tmp_path / "table.csv", np.column_stack([t, x, c]), delimiter=",", header="t,x0,x1,c0,c1",
               comments="", fmt="%.17g")
    runs = {
        "deflated": ("deflated.npz", ["x"], ["c"]),
        "stored": ("stored.npz", ["x_0", "x_1"], ["c_0", "c_1"]),
        "npy": ("table.npy", ["x"], []),
        "csv": ("table.csv", ["x0", "x1"], ["c0", "c1"]),
    }
    curves = {}
    for name, (file, xs, cs) in runs.items():
        if name == "npy":
            cs = ["c"]  # not used by .npy (t, x, c columns), but a command is recorded
        result, out = run(tmp_path, name, file, xs, cs)
        assert result.returncode == 0, result.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert np.isfinite(summary["tests"]["held_out"]["nrmse"])
        curves[name] = np.load(out / "learning_curve.npz")["normalised_error"]
        replayed = np.load(out / "test_held_out.npz")
        # The test replays the recording from t = 1.2 s (samples every 1 ms on the test's
        # clock, interpolated values equal to the file's at whole samples).
        k = int(round(1.2 / 1e-3))
        assert np.allclose(replayed["x0"][0], x[k, 0], rtol=1e-12, atol=1e-12), name
    for name in curves:
        assert np.array_equal(curves[name], curves["deflated"]), name


def test_a_changed_recording_is_refused_on_resume(tmp_path):
    t, x, c = recording()
    np.savez(tmp_path / "rec.npz", t=t, x=x, c=c)
    result, out = run(tmp_path, "rec", "rec.npz", ["x"], ["c"])
    assert result.returncode == 0, result.stderr
    np.savez(tmp_path / "rec.npz", t=t, x=x * 1.01, c=c)
    result, _ = run(tmp_path, "rec", "rec.npz", ["x"], ["c"])
    assert result.returncode != 0
    assert "another configuration" in result.stderr, result.stderr


def test_a_corrupt_recording_is_a_one_line_error(tmp_path):
    t, x, c = recording()
    np.savez_compressed(tmp_path / "rec.npz", t=t, x=x, c=c)
    data = bytearray((tmp_path / "rec.npz").read_bytes())
    data[200] ^= 0xFF
    (tmp_path / "rec.npz").write_bytes(bytes(data))
    result, _ = run(tmp_path, "rec", "rec.npz", ["x"], ["c"])
    assert result.returncode != 0
    assert "corrupt" in result.stderr or "deflate" in result.stderr, result.stderr
    assert "panicked" not in result.stderr


def test_the_python_package_learns_the_same_network_from_a_recording(tmp_path):
    import ebn

    t, x, c = recording()
    np.savez_compressed(tmp_path / "rec.npz", t=t, x=x, c=c)
    result, out = run(tmp_path, "rec", "rec.npz", ["x"], ["c"])
    assert result.returncode == 0, result.stderr
    experiment = ebn.Experiment.from_file(str(tmp_path / "rec.toml"))
    curve = experiment.train(progress=False)
    assert np.array_equal(curve, np.load(out / "learning_curve.npz")["normalised_error"])
    held_out = experiment.test(0)
    assert held_out["nrmse"] == json.loads((out / "summary.json").read_text())["tests"]["held_out"]["nrmse"]
    assert experiment.config()["data"]["digest"]
