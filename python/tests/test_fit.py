"""The recipe from Python: a system written in Python is surveyed and turned into an
experiment that trains, and bad input is a ValueError naming what is wrong."""

import numpy as np
import pytest

import ebn


def rossler(x):
    a, b, c = 0.2, 0.2, 5.7
    return [-x[1] - x[2], x[0] + a * x[1], b + x[2] * x[0] - c * x[2]]


SMALL = {
    "n": 30,
    "n_basis": 40,
    "max_trials": 2,
    "plateau": {"window": 1, "tolerance": 0.05, "min_trials": 2},
    "test_duration": 3.0,
    "initial_points": 8,
    "initial_state": [6.5, 0.5, 0.3],
    "survey": {"periods": 30.0, "transient_periods": 5.0},
}


def test_a_python_system_is_fitted_and_trains():
    ebn.register_target("py_rossler", rossler, 3)
    fitted = ebn.fit({"kind": "py_rossler"}, SMALL)
    recipe, config = fitted["recipe"], fitted["config"]
    # The same system from the catalogue gives the same derived values: the Python field
    # computes the same numbers in the same order.
    reference = ebn.fit({"kind": "catalogue", "name": "rossler"}, SMALL)["recipe"]
    for key in ["center", "scale", "speed", "feedback_gain", "eta", "teacher_std"]:
        assert recipe[key] == reference[key], key
    assert config["target"]["kind"] == "normalized"
    assert config["network"]["feedback_gain"] == recipe["feedback_gain"]
    assert 5.0 <= recipe["feedback_gain"] <= 100.0
    exp = ebn.Experiment.from_dict(config)
    curve = exp.train(progress=False)
    assert curve.shape == (2,) and np.all(np.isfinite(curve))
    rec = exp.test(0)
    assert rec["x"].shape[1] == 3 and np.isfinite(rec["nrmse"])


def test_bad_targets_and_options_are_value_errors():
    with pytest.raises(ValueError, match="lorentz"):
        ebn.fit({"kind": "catalogue", "name": "lorentz"})
    with pytest.raises(ValueError, match="n_basiss"):
        ebn.fit({"kind": "catalogue", "name": "lorenz"}, {"n_basiss": 3})
    with pytest.raises(ValueError, match="fixed point"):
        ebn.fit({"kind": "bistable", "gain": 5.0}, {"initial_state": [0.3]})
