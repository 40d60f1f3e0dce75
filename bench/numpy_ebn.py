"""A vectorised numpy implementation of the EBN training loop (MODEL.md section 8), the
reference that `cargo xtask bench` times this project's simulator against.

Written the way a researcher would write it for speed: one Python iteration per time step,
every per-neuron operation a numpy array expression, no Python loop over neurons.

Usage: python3 numpy_ebn.py DIR STEPS

DIR holds what `cargo xtask bench-case` wrote: meta.json and raw little-endian float64
arrays (column-major for matrices) of the network's state and weights after its warm-up.
The script runs STEPS steps from that state under the same constant command and prints one
JSON line: wall seconds per simulated second, microseconds per step, the spike count, the
first spikes (to compare with the Rust run) and the peak resident memory (kB).

One step, in the order of MODEL.md section 8 and of ebn_network::Network::step:
1. teacher x <- RK4 step of dx/dt = A x + c (precomputed for all steps, outside the timing);
2. z = c + K e (+ W Psi, factored); V <- (1 - dt lambda_V) V + dt (D^T z (+ Omega Psi, dense));
3. k = argmax(V - T); if V_k > T_k: V -= D^T D_k, V_k -= mu, r_k += 1, x_hat += D_k,
   u += M_k (tanh basis);
4. r, x_hat, u *= exp(-lambda dt); Psi = r (identity) or tanh(u + theta);
5. e = x - x_hat; learning: W += eta dt e Psi^T (factored) or Omega += eta dt (D^T e) Psi^T.
"""

import json
import os
import resource
import sys
import time

import numpy as np

from bench_common import load, teacher


def main():
    d, steps = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(d, "meta.json")) as f:
        m = json.load(f)
    n, j, nb = m["n"], m["j"], m["nb"]
    dt, lam, lam_v, mu, k_fb = m["dt"], m["lambda"], m["lambda_v"], m["mu"], m["k"]
    gain = m["eta_raw"] * dt
    learning, dense, tanh = m["learning"], m["form"] == "dense", m["basis"] == "tanh"
    c = np.array(m["command"], dtype=float)

    D = load(d, "D", (j, n))
    DT = np.ascontiguousarray(D.T)  # N x J
    T = load(d, "T")
    V = load(d, "V")
    r = load(d, "r")
    x_hat = load(d, "x_hat")
    psi = load(d, "psi")
    e = load(d, "e")
    x = load(d, "x")
    if dense:
        Omega = np.ascontiguousarray(load(d, "Omega", (n, nb)))
    else:
        W = np.ascontiguousarray(load(d, "Wt", (nb, j)).T)  # J x N_b
    if tanh:
        M = np.asfortranarray(load(d, "M", (nb, n)))  # column M[:, k] per spike
        theta = load(d, "theta")
        u = load(d, "drive")

    keep = 1.0 - dt * lam_v
    decay = np.exp(-lam * dt)

    # 1. The teacher's trajectory, computed before the timed loop.
    xs = teacher(m, x, steps)

    first = []
    count = 0
    start = time.perf_counter()
    for s in range(steps):
        x = xs[s]
        # 2. input and membrane
        z = c + k_fb * e
        if dense:
            inp = DT @ z + Omega @ psi
        else:
            inp = DT @ (z + W @ psi)
        V = keep * V + dt * inp
        # 3. at most one spike
        excess = V - T
        i = int(np.argmax(excess))
        if excess[i] > 0:
            V -= DT @ D[:, i]
            V[i] -= mu
            r[i] += 1.0
            x_hat += D[:, i]
            if tanh:
                u += M[:, i]
            count += 1
            if len(first) < 2000:
                first.append(i)
        # 4. decay and basis
        r *= decay
        x_hat *= decay
        if tanh:
            u *= decay
            psi = np.tanh(u + theta)
        else:
            psi = r
        # 5. error and learning
        e = x - x_hat
        if learning:
            if dense:
                Omega += np.outer(gain * (DT @ e), psi)
            else:
                W += np.outer(gain * e, psi)
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "wall_per_sim_s": wall / (steps * dt),
                "us_per_step": wall / steps * 1e6,
                "steps": steps,
                "spikes": count,
                "first_spikes": first,
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
