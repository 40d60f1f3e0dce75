"""What the two Python counterparts of `cargo xtask bench` share: reading the case directory
that `cargo xtask bench-case` wrote, and the teacher's trajectory."""

import os

import numpy as np


def load(d, name, shape=None):
    """A raw little-endian float64 array of the case directory (matrices column-major)."""
    a = np.fromfile(os.path.join(d, name + ".bin"), dtype="<f8")
    if shape is not None:
        a = a.reshape(shape, order="F")
    return a


def teacher(meta, x, steps):
    """The teacher's states x_1 ... x_steps from x (RK4 of dx/dt = A x + c under the case's
    constant command; the same arithmetic as the Rust side). The teacher does not depend on
    the network, so it is computed before the timed loop, on every side."""
    a_mat = np.array(meta["a"], dtype=float)
    c = np.array(meta["command"], dtype=float)
    dt = meta["dt"]

    def f(x):
        return a_mat @ x + c

    xs = np.empty((steps, len(x)))
    for s in range(steps):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        xs[s] = x
    return xs
