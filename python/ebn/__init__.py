"""Spiking networks that learn dynamical systems with local plasticity rules.

Python bindings of ebn-learn (a Rust reproduction of Alemi, Machens, Denève & Slotine,
AAAI-18): build an experiment from a TOML file or a dict, train it, test it, and get every
recording as NumPy arrays.

    import ebn
    exp = ebn.Experiment.from_file("examples/linear.toml")
    exp.train()
    rec = exp.test(0)            # rec["t"], rec["x"], rec["x_hat"], rec["spike_times"], ...
"""

from ._ebn import Experiment, __version__, fit, register_target

__all__ = ["Experiment", "__version__", "fit", "register_target"]
