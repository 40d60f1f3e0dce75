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

The other neuron models and rules of the workspace, each as its Rust documentation states it
(meta.json names them):
- ebn_multi_spike: step 3 repeats, on the new voltages, up to max_spikes times;
- refractory: the time left in each refractory period falls by dt in step 2 (to 0 once it is
  below dt / 2), only neurons with none left may fire, and a spike sets it to tau_ref;
- synaptic_lif: V <- (1 - dt lambda_V) V + dt I + tau_s (1 - a) I_s, I_s <- a I_s
  (a = exp(-dt / tau_s)); a spike of k adds its fast-weight column / tau_s to the other
  neurons' I_s and resets V_k to T_k + Omega_kk (hard) or V_k + Omega_kk (soft);
- local_sigma, local_e_mod: W <- exp(-dt sigma) W (e-mod: sigma ||e||) before the update;
- local_dead_zone: the update scaled by (1 - e_0 / ||e||)_+;
- local_projection: W scaled back onto ||W||_F <= bound after the update;
- rls (every = 1): Psi_f += dt Psi - dt filter Psi_f; q = P Psi_f;
  P -= h q q^T / (1 + h Psi_f^T q); W += gamma h e q^T / (1 + h Psi_f^T q).
"""

import json
import math
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
    learning, dense, tanh = m["learning"], m["form"] == "dense", m["basis"] == "tanh"
    c = np.array(m["command"], dtype=float)
    neuron, rule = m["neuron"], m["rule"]
    max_spikes = neuron.get("max_spikes", 1)
    refractory = neuron["kind"] == "refractory"
    synaptic = neuron["kind"] == "synaptic_lif"
    rk = rule["kind"]

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
    if refractory:
        left = load(d, "left")
        tau_ref = neuron["tau_ref"]
    if synaptic:
        i_s = load(d, "i_s")
        tau_s = neuron["tau_s"]
        hard = neuron.get("reset", "hard") == "hard"
        if tau_s > 0:
            a_s = math.exp(-dt / tau_s)
            charge = tau_s * (1.0 - a_s)
    # The rule: the scalar gain of its error-driven update, its leak, and its state.
    gain = m["eta_raw"] * dt * 1.0  # dt eta s, s = 1 (no annealing)
    if rk == "rls":
        rule_state = load(d, "rule_state")
        assert rule.get("every", 1) == 1 and rule.get("forgetting", 0.0) == 0.0
        filtered = rule.get("filter", 0.0) > 0
        psi_f = rule_state[1 : 1 + nb].copy() if filtered else None
        P = rule_state[1 + (nb if filtered else 0) :].reshape(nb, nb).copy()
        h = dt * 1.0
        a_f = dt * rule.get("filter", 0.0)

    # 1. The teacher's trajectory, computed before the timed loop.
    xs = teacher(m, x, steps)

    first = []
    count = 0
    several = 0
    start = time.perf_counter()
    for s in range(steps):
        x = xs[s]
        # 2. input and membrane
        z = c + k_fb * e
        if dense:
            inp = DT @ z + Omega @ psi
        else:
            inp = DT @ (z + W @ psi)
        if synaptic and tau_s > 0:
            V = keep * V + dt * inp + charge * i_s
            i_s *= a_s
        else:
            V = keep * V + dt * inp
        if refractory:
            left = left - dt
            left[~(left > 0.5 * dt)] = 0.0
        # 3. the spikes: at most one (max_spikes for the multi-spike policies), each chosen
        # on the voltages the previous one left
        fired = 0
        while fired < max_spikes:
            excess = V - T
            if refractory:
                excess[left != 0.0] = -np.inf
            i = int(np.argmax(excess))
            if not excess[i] > 0:
                break
            if synaptic:
                col = -(DT @ D[:, i])
                col[i] -= mu
                if tau_s > 0:
                    own = i_s[i]
                    i_s += (1.0 / tau_s) * col
                    i_s[i] = own
                    V[i] += col[i]
                else:
                    V += col
                if hard:
                    V[i] = T[i] + col[i]
            else:
                V -= DT @ D[:, i]
                V[i] -= mu
            if refractory:
                left[i] = tau_ref
            r[i] += 1.0
            x_hat += D[:, i]
            if tanh:
                u += M[:, i]
            fired += 1
            if len(first) < 2000:
                first.append(i)
        count += fired
        several += fired > 1
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
        if not learning:
            continue
        if rk == "local":
            if dense:
                Omega += np.outer(gain * (DT @ e), psi)
            else:
                W += np.outer(gain * e, psi)
        elif rk == "rls":
            if filtered:
                psi_f += dt * psi - a_f * psi_f
            reg = psi_f if filtered else psi
            q = P @ reg
            denom = 1.0 + h * (reg @ q)
            P -= np.outer((h / denom) * q, q)
            W += np.outer((rule["gamma"] * h * 1.0 / denom) * e, q)
        else:
            norm = math.sqrt(sum(v * v for v in e))
            g = gain
            if rk == "local_dead_zone":
                t0 = rule["threshold"]
                g = gain * (1.0 - t0 / norm if norm > t0 else 0.0)
            rate = {"local_sigma": rule.get("sigma", 0.0), "local_e_mod": rule.get("sigma", 0.0) * norm}.get(rk, 0.0)
            if rate > 0:
                W *= math.exp(-dt * 1.0 * rate)
            if g != 0.0:
                W += np.outer(g * e, psi)
            if rk == "local_projection":
                w_norm = np.linalg.norm(W)
                if w_norm > rule["bound"]:
                    W *= rule["bound"] / w_norm
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "wall_per_sim_s": wall / (steps * dt),
                "us_per_step": wall / steps * 1e6,
                "steps": steps,
                "spikes": count,
                "steps_with_several_spikes": several,
                "first_spikes": first,
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
