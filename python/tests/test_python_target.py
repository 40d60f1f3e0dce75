"""A target system written in Python (README, "From Python"): it trains, it gives the built-in's
numbers when it computes the built-in's vector field, and its errors come back as exceptions."""

import numpy as np
import pytest

import ebn
from test_npz import shortened_linear

# The built-in damped_oscillator: dx/dt = A x with A = [[-3, -24], [3, 0]] (MODEL.md §9).
A = np.array([[-3.0, -24.0], [3.0, 0.0]])


def damped(x):
    return [A[0, 0] * x[0] + A[0, 1] * x[1], A[1, 0] * x[0] + A[1, 1] * x[1]]


def with_target(tmp_path, kind):
    config = ebn.Experiment.from_file(shortened_linear(tmp_path)).config()
    config["target"] = {"kind": kind}
    return config


def test_a_python_vector_field_trains_as_the_builtin_one_bit_for_bit(tmp_path):
    # The same products summed in the same order as the built-in linear system: the same
    # floating-point numbers, so the same spikes and the same curve, exactly.
    ebn.register_target("py_damped", damped, 2)
    builtin = ebn.Experiment.from_file(shortened_linear(tmp_path))
    python = ebn.Experiment.from_dict(with_target(tmp_path, "py_damped"))
    curve_b = builtin.train(progress=False)
    curve_p = python.train(progress=False)
    assert curve_p.shape == (3,) and np.all(np.isfinite(curve_p))
    assert np.array_equal(curve_p, curve_b)
    rec_b, rec_p = builtin.test(0), python.test(0)
    assert np.array_equal(rec_p["x"], rec_b["x"])
    assert np.array_equal(rec_p["spike_times"], rec_b["spike_times"])
    assert rec_p["nrmse"] == rec_b["nrmse"]


def test_an_exception_in_the_vector_field_is_raised_by_train(tmp_path):
    def broken(x):
        raise RuntimeError("my field is broken")

    ebn.register_target("py_broken", broken, 2)
    exp = ebn.Experiment.from_dict(with_target(tmp_path, "py_broken"))
    with pytest.raises(RuntimeError, match="my field is broken"):
        exp.train(progress=False)
    # The error is consumed: a later experiment with a good field runs.
    ebn.register_target("py_damped_again", damped, 2)
    ebn.Experiment.from_dict(with_target(tmp_path, "py_damped_again")).train(progress=False)


def test_a_wrong_length_or_a_nan_is_a_value_error(tmp_path):
    ebn.register_target("py_short", lambda x: [0.0], 2)
    with pytest.raises(ValueError, match="must return 2 finite numbers"):
        ebn.Experiment.from_dict(with_target(tmp_path, "py_short")).train(progress=False)
    ebn.register_target("py_nan", lambda x: [float("nan"), 0.0], 2)
    with pytest.raises(ValueError, match="must return 2 finite numbers"):
        ebn.Experiment.from_dict(with_target(tmp_path, "py_nan")).train(progress=False)


def test_registration_is_checked(tmp_path):
    with pytest.raises(ValueError, match="built-in"):
        ebn.register_target("damped_oscillator", damped, 2)
    with pytest.raises(ValueError, match="dim"):
        ebn.register_target("py_zero", damped, 0)
    with pytest.raises(ValueError, match="py_unregistered"):
        ebn.Experiment.from_dict(with_target(tmp_path, "py_unregistered"))
