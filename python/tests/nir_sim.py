"""An independent simulator of NIR graphs made of Input, Output, Linear, Affine, LIF and LI
nodes: it reads nothing but the graph (as `nir.read` returns it) and uses none of the
project's code, so that comparing its readout with the project's tests the export.

NIR's semantics (https://neuroir.org): nodes are continuous-time; edges into a node add up;
a LIF emits Dirac-delta spikes and resets to `v_reset`; a Dirac of weight w into a node with
time constant tau and resistance r makes its state jump by w r / tau.

Two schemes:

- `"nir"`: NIR's semantics. Over a step h the inputs are held (zero-order hold) and LIF and
  LI states are integrated exactly (exponential); the neurons that ended the step above
  threshold fire one after the other in the order of their crossing times (linear
  interpolation within the step), each seeing the jumps of those that fired before it; a
  neuron that fires is reset to `v_reset`; a trace's jump decays for the rest of the step.
- `"ebn"`: the project's discrete-time conventions, written from the graph's numbers only:
  forward-Euler membranes, at most one spike per step (the neuron furthest above threshold),
  the reset as a subtraction of v_threshold - v_reset (which keeps the overshoot), traces
  jumping then decaying exactly. At the project's dt it must reproduce the project's run:
  that checks that the graph holds the network's own numbers.
"""

import numpy as np

SUPPORTED = ("Input", "Output", "Linear", "Affine", "LIF", "LI")


def _kind(node):
    return type(node).__name__


class GraphSim:
    def __init__(self, graph):
        self.g = graph
        self.inc = {name: [] for name in graph.nodes}
        for src, dst in graph.edges:
            self.inc[dst].append(src)
        for name, node in graph.nodes.items():
            if _kind(node) not in SUPPORTED:
                raise ValueError(f"node {name}: type {_kind(node)} is not simulated")
        # Stateful nodes start at their leak potential (rest).
        self.state = {n: np.array(v.v_leak, dtype=float) for n, v in graph.nodes.items() if _kind(v) in ("LIF", "LI")}
        (self.input,) = [n for n, v in graph.nodes.items() if _kind(v) == "Input"]
        (self.output,) = [n for n, v in graph.nodes.items() if _kind(v) == "Output"]
        self.lifs = [n for n in self.state if _kind(graph.nodes[n]) == "LIF"]
        self.lis = [n for n in self.state if _kind(graph.nodes[n]) == "LI"]

    def _signal(self, name, source, cache, impulse):
        """Output of node `name`: its continuous part (impulse None, the input node carrying
        `source`), or its response to spike vectors `impulse` = {lif node: vector}."""
        if name in cache:
            return cache[name]
        node = self.g.nodes[name]
        kind = _kind(node)
        if kind == "Input":
            shape = int(np.prod(node.output_type["output"]))
            out = np.zeros(shape) if impulse is not None else np.asarray(source, dtype=float)
        elif kind == "LIF":
            zero = np.zeros_like(self.state[name])
            out = impulse.get(name, zero) if impulse is not None else zero
        elif kind == "LI":
            out = np.zeros_like(self.state[name]) if impulse is not None else self.state[name]
        else:
            x = sum(self._signal(s, source, cache, impulse) for s in self.inc[name])
            out = node.weight @ x if kind in ("Linear", "Affine") else x
            if kind == "Affine" and impulse is None:
                out = out + node.bias
        cache[name] = out
        return out

    def _inputs(self, source, impulse=None):
        cache = {}
        return {n: sum(self._signal(s, source, cache, impulse) for s in self.inc[n]) for n in self.state}

    def _fire(self, lif, k):
        """The jumps a spike of neuron k of node `lif` causes in every stateful node."""
        z = np.zeros_like(self.state[lif])
        z[k] = 1.0
        node = self.g.nodes
        return {n: np.asarray(node[n].r) / np.asarray(node[n].tau) * w for n, w in self._inputs(None, {lif: z}).items()}

    def run(self, command, h, scheme, substeps=1):
        """Runs the graph over `command` (T, J), each sample held for `substeps` steps of h.
        Returns the output at the start of each sample (T, J) and the spikes as
        (time of the step's start plus the crossing, neuron) pairs."""
        ys, spikes = [], []
        for i, c in enumerate(command):
            ys.append(self._signal(self.output, c, {}, None).copy())
            for sub in range(substeps):
                t = (i * substeps + sub) * h
                currents = self._inputs(c)
                start = {n: self.state[n].copy() for n in self.lifs}
                for n in self.state:
                    node = self.g.nodes[n]
                    tau, r, leak = np.asarray(node.tau), np.asarray(node.r), np.asarray(node.v_leak)
                    v = self.state[n]
                    if scheme == "ebn":
                        if n in self.lifs:
                            self.state[n] = v + h * ((leak - v) + r * currents[n]) / tau
                    else:
                        target = leak + r * currents[n]
                        self.state[n] = target + (v - target) * np.exp(-h / tau)
                if scheme == "ebn":
                    self._spike_ebn(t, spikes)
                    for n in self.lis:
                        self.state[n] = self.state[n] * np.exp(-h / np.asarray(self.g.nodes[n].tau))
                else:
                    self._spike_nir(t, h, start, spikes)
        return np.array(ys), spikes

    def _spike_ebn(self, t, spikes):
        for n in self.lifs:
            node = self.g.nodes[n]
            excess = self.state[n] - node.v_threshold
            k = int(np.argmax(excess))
            if excess[k] > 0:
                for m, jump in self._fire(n, k).items():
                    self.state[m] = self.state[m] + jump
                self.state[n][k] -= node.v_threshold[k] - node.v_reset[k]
                spikes.append((t, k))

    def _spike_nir(self, t, h, start, spikes):
        for n in self.lifs:
            node = self.g.nodes[n]
            for _ in range(10 * self.state[n].size):  # a guard against a runaway cascade
                v = self.state[n]
                above = np.flatnonzero(v > node.v_threshold)
                if above.size == 0:
                    break
                v0, thr = start[n][above], node.v_threshold[above]
                # Crossing time as a fraction of the step (0: pushed over by a spike).
                s = np.where(v0 >= thr, 0.0, (thr - v0) / (v[above] - v0))
                k, sk = int(above[np.argmin(s)]), float(s.min())
                for m, jump in self._fire(n, k).items():
                    if m in self.lis:
                        jump = jump * np.exp(-(1.0 - sk) * h / np.asarray(self.g.nodes[m].tau))
                    self.state[m] = self.state[m] + jump
                    if m in self.lifs:
                        start[m] = start[m] + jump
                self.state[n][k] = start[n][k] = node.v_reset[k]
                spikes.append((t + sk * h, k))
