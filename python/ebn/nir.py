"""Export a trained network to NIR, the Neuromorphic Intermediate Representation
(https://neuroir.org; the `nir` package, read by Nengo, Norse, Rockpool, Sinabs, Lava and
several chips).

    import ebn, ebn.nir
    exp = ebn.Experiment.from_file("examples/linear.toml")
    exp.train()
    ebn.nir.write(exp, "linear.nir")           # or: graph = ebn.nir.to_nir(exp)

From the command line, for a network trained by `cargo xtask run`:

    python -m ebn.nir target/experiments/linear/network.ebn linear.nir

The graph (parameters computed by the Rust core, `ebn_network::nir`; see docs/NIR.md):

    input (J) -> encoder: Linear D^T -> lif: LIF (N) -> trace: LI (N) -> readout: Linear D -> output (J)
                 lif -> fast: Linear Omega_f (no diagonal) -> lif
                 trace -> slow: Linear Omega_s -> lif

Time in seconds. Only the identity basis and the EBN neuron are exported (anything else
raises ValueError, saying what NIR lacks). What is approximated: NIR's LIF resets to a fixed
v_reset where the EBN subtracts its own fast weight; NIR has no one-spike-per-step rule; NIR
states differential equations and leaves the time step and scheme to the simulator; the
membrane noise, the error feedback and learning are not exported. docs/NIR.md measures how
far a simulation of the graph comes from the project's readout.
"""

from __future__ import annotations

import sys
from os import PathLike
from typing import Union

import numpy as np

from ._ebn import Experiment

__all__ = ["to_nir", "write"]

APPROXIMATIONS = (
    "reset: hard reset to v_reset = T - (|D_k|^2 + mu) where the EBN subtracts |D_k|^2 + mu; "
    "spikes: the EBN fires at most one neuron per time step (the furthest above threshold); "
    "time: the EBN integrates the membrane by forward Euler at dt and decays the traces exactly; "
    "not exported: membrane noise, error feedback, learning"
)


def to_nir(exp: Experiment):
    """The NIR graph (`nir.NIRGraph`) of the experiment's network as it is now (trained or
    not). Raises ValueError if its basis or neuron cannot be expressed in NIR."""
    import nir

    p = exp.nir_parameters()
    n, j = p["n"], p["dim"]
    ones = np.ones(n)
    nodes = {
        "input": nir.Input(input_type=np.array([j])),
        "encoder": nir.Linear(weight=p["encoder"]),
        "lif": nir.LIF(
            tau=p["tau_mem"] * ones,
            r=p["tau_mem"] * ones,
            v_leak=np.zeros(n),
            v_threshold=p["v_threshold"],
            v_reset=p["v_reset"],
        ),
        "fast": nir.Linear(weight=p["fast"]),
        "trace": nir.LI(tau=p["tau_trace"] * ones, r=p["tau_trace"] * ones, v_leak=np.zeros(n)),
        "slow": nir.Linear(weight=p["slow"]),
        "readout": nir.Linear(weight=p["readout"]),
        "output": nir.Output(output_type=np.array([j])),
    }
    edges = [
        ("input", "encoder"),
        ("encoder", "lif"),
        ("lif", "fast"),
        ("fast", "lif"),
        ("lif", "trace"),
        ("trace", "slow"),
        ("slow", "lif"),
        ("trace", "readout"),
        ("readout", "output"),
    ]
    metadata = {
        "source": "ebn-learn (Alemi et al. 2018, efficient balanced network)",
        "neuron": p["neuron"],
        "dt": float(p["dt"]),
        "time_unit": "s",
        "approximations": APPROXIMATIONS,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write(exp: Experiment, path: Union[str, PathLike]) -> None:
    """Writes the experiment's network as a NIR file (HDF5, `nir.write`)."""
    import nir

    nir.write(path, to_nir(exp))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m ebn.nir NETWORK.ebn OUT.nir", file=sys.stderr)
        return 2
    try:
        write(Experiment.load(argv[0]), argv[1])
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
