"""Type stubs of the Rust core (ebn._ebn)."""

from os import PathLike
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, "PathLike[str]"]

class Experiment:
    """An experiment: its configuration, its network (trained or not) and its learning curve."""

    @staticmethod
    def from_file(path: _Path) -> "Experiment":
        """The experiment of a TOML file; OSError if unreadable, ValueError if invalid."""
    @staticmethod
    def from_toml(text: str) -> "Experiment":
        """The experiment of TOML text; ValueError naming the line and key if invalid."""
    @staticmethod
    def from_dict(config: Dict[str, Any]) -> "Experiment":
        """The experiment of a dict shaped like the TOML files; ValueError naming a bad key."""
    def config(self) -> Dict[str, Any]:
        """The configuration as a dict (what from_dict takes)."""
    def train(self, progress: bool = True) -> npt.NDArray[np.float64]:
        """Trains the remaining trials; returns the learning curve, shape (trials,)."""
    def test(self, index: int = 0) -> Dict[str, Any]:
        """Runs test `index` (K = 0, no learning). Keys: t (n,), x, x_hat, c (n, J) float64;
        v (n, k) and v_neurons (k,) when voltages are recorded; spike_times (m,) float64;
        spike_neurons (m,) int64; duration (s); nrmse."""
    def learning_curve(self) -> npt.NDArray[np.float64]:
        """The learning curve so far, shape (trials done,)."""
    def trials_done(self) -> int: ...
    def decoder(self) -> npt.NDArray[np.float64]:
        """The decoder D, shape (J, N)."""
    def weights(self) -> npt.NDArray[np.float64]:
        """The slow weights: W (J, N_b) in factored form, Omega_s (N, N_b) in dense form."""
    def save(self, path: _Path) -> None:
        """Saves the trained network (the project's .ebn format)."""
    def nir_parameters(self) -> Dict[str, Any]:
        """The parameters of the network's NIR graph (n, dim, dt, tau_mem, tau_trace, neuron,
        v_threshold, v_reset (N,), encoder (N, J), fast, slow (N, N), readout (J, N));
        ebn.nir.to_nir builds the graph. ValueError for what NIR cannot express."""
    @staticmethod
    def load(path: _Path) -> "Experiment":
        """Loads a trained network file (from save or `cargo xtask run`)."""

def fit(target: Dict[str, Any], options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Derive a complete experiment from a target system with the project's recipe
    (docs/CATALOGUE.md): survey its attractor, then units, time scale, feedback gain, basis,
    learning rate, training states, command and training length. `target` is a target spec
    ({"kind": "catalogue", "name": "rossler"}, any built-in kind, or a kind registered with
    register_target); `options` the recipe's options (n, n_basis, max_trials, seed,
    feedback_gain, eta, initial_state, ...). Returns {"config": ..., "recipe": ...}; pass
    the config to Experiment.from_dict. ValueError for a bad spec or option, or a system
    whose trajectory diverges or settles on a fixed point."""
    ...

def register_target(kind: str, f: Callable[[npt.NDArray[np.float64]], Sequence[float]], dim: int) -> None:
    """Register a target system written in Python: f(x) -> dx/dt for a state of `dim`
    components, named `kind` in configurations built afterwards (each evaluation is a Python
    call: for exploration)."""
    ...
