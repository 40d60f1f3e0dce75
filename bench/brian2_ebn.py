"""The Brian2 (C++ standalone) counterpart of `bench/numpy_ebn.py`: the same EBN network
(MODEL.md section 8) from the same state, written the way a Brian2 user would write it for
speed, and timed by `cargo xtask bench` beside this project's simulator and numpy.

Usage: python3 brian2_ebn.py DIR STEPS [BUILD_DIR]

DIR holds what `cargo xtask bench-case` wrote (meta.json and raw little-endian float64
arrays, column-major for matrices). The script builds a Brian2 network with exactly the
step of numpy_ebn.py, compiles it in C++ standalone mode (Brian2's default flags: -O3
-ffast-math -march=native, one thread), runs STEPS steps and prints one JSON line: wall
seconds per simulated second of the simulation loop (the binary's own timer, as the Rust and
numpy sides time their loops), the code generation + compile time, the whole binary's wall
time (loading the arrays, the run, writing the results), the spike count, the first spikes
(for the spike-for-spike comparison) and the peak resident memory of this Python process
(kB; it holds the weight arrays it hands to Brian2; the binary's own is not measured).

How the network maps onto Brian2 objects (J readout units, N neurons, N_b basis units):
- `G` (N neurons): v, r, threshold T. The membrane is the explicit Euler step of the
  project, v <- (1 - dt lambda_V) v + dt I, as a `run_regularly` in the `groups` slot (an
  equation integrated by Brian2's own state updater would round differently).
- `R` (J readout units): x_hat, e (the error of the previous step), the command c, the
  slow current y = W Psi, summed from the basis units (`S_slow`, a summed variable;
  `before_groups`), and z = c + K e + y. Each neuron reads the J values of z through linked
  variables, and its input is I = D_i^T z (plus Omega Psi, dense): no synapses, one
  vectorised pass. This and the arg max folded into the membrane pass (below) took Brian2
  from 63.5 to 44.6 us per step at N = 4000, against a summed variable R -> G and a
  separate arg max pass: the fastest form found, so that the comparison is with Brian2 at
  its best.
- One spike per step, the largest V - T above threshold (ties: the lowest index), as in
  MODEL.md section 3: Brian2's threshold fires every neuron above threshold, so the choice
  is made by two small C++ functions (`ebn_winner.h`, written next to the build): the
  membrane pass also tracks the arg max, and the threshold condition is `i == winner`.
- Fast weights: all-to-all synapses G -> G with on_pre `v_post -= D_i^T D_k` (the
  `synapses` slot, delay 0, so within the step), then the reset `v -= mu; r += 1` of the
  spiking neuron (the `resets` slot): the order of numpy_ebn.py. The decoder synapses G -> R
  add D_k to x_hat; with a tanh basis, G -> B synapses add M_k to the drive u.
- `end` slot: r, x_hat, u decay by exp(-lambda dt); Psi = tanh(u + theta); e = x - x_hat
  (x from a TimedArray of the teacher's precomputed trajectory); learning
  W += eta dt e Psi^T on the `S_slow` synapses (factored) or Omega += eta dt (D^T e) Psi^T
  on N x N_b synapses B -> G (dense, whose summed current Omega Psi joins I).

Rounding: Brian2 compiles with -ffast-math, and its summed variables add in synapse order,
so its sums differ from numpy's and Rust's in the last bits; the spike sequences agree until
such a difference first changes a spike choice (reported as the common prefix).
"""

import json
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

from bench_common import load, teacher

WINNER_H = r"""
// One spike per step: the neuron with the largest V - T above threshold, the lowest index on
// ties. ebn_track is called for i = 0..N-1 in order (single-threaded standalone loop);
// ebn_winner is read by the threshold condition. The state is shared by the two generated
// code objects through inline functions' static locals (one instance per program).
#pragma once
#include <limits>
inline double& ebn_best_excess() { static double b = -std::numeric_limits<double>::infinity(); return b; }
inline int& ebn_best_index() { static int k = -1; return k; }
inline double ebn_track(double excess, int i) {
    if (i == 0) { ebn_best_excess() = -std::numeric_limits<double>::infinity(); ebn_best_index() = -1; }
    if (excess > ebn_best_excess()) { ebn_best_excess() = excess; ebn_best_index() = i; }
    return 0.0;
}
inline double ebn_winner() { return ebn_best_excess() > 0.0 ? (double)ebn_best_index() : -1.0; }
"""


def all_to_all(n_pre, n_post):
    """Synapse indices, presynaptic-major (the order the weight arrays are given in)."""
    return np.repeat(np.arange(n_pre), n_post), np.tile(np.arange(n_post), n_pre)


def main():
    d, steps = sys.argv[1], int(sys.argv[2])
    own_build = len(sys.argv) <= 3
    build = tempfile.mkdtemp(prefix="ebn-brian2-") if own_build else sys.argv[3]
    try:
        run(d, steps, build)
    finally:
        if own_build:
            shutil.rmtree(build, ignore_errors=True)


def run(d, steps, build):
    import brian2 as b2

    with open(os.path.join(d, "meta.json")) as f:
        m = json.load(f)
    n, j, nb = m["n"], m["j"], m["nb"]
    dt, lam, lam_v, mu, k_fb = m["dt"], m["lambda"], m["lambda_v"], m["mu"], m["k"]
    learning, dense, tanh = m["learning"], m["form"] == "dense", m["basis"] == "tanh"
    command = np.array(m["command"], dtype=float)

    D = load(d, "D", (j, n))
    DT = np.ascontiguousarray(D.T)

    xs = teacher(m, load(d, "x"), steps)

    hdr = os.path.join(build, "include")
    os.makedirs(hdr, exist_ok=True)
    with open(os.path.join(hdr, "ebn_winner.h"), "w") as fh:
        fh.write(WINNER_H)

    b2.set_device("cpp_standalone", directory=os.path.join(build, "project"), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.prefs.logging.console_log_level = "ERROR"
    b2.defaultclock.dt = dt * b2.second

    kw = dict(headers=['"ebn_winner.h"'], include_dirs=[hdr])

    @b2.implementation("cpp", "// defined in ebn_winner.h", name="ebn_track", **kw)
    @b2.check_units(excess=1, i=1, result=1)
    def ebn_track(excess, i):
        raise NotImplementedError("C++ standalone only")

    @b2.implementation("cpp", "// defined in ebn_winner.h", name="ebn_winner", **kw)
    @b2.check_units(result=1)
    def ebn_winner():
        raise NotImplementedError("C++ standalone only")

    ns = {
        "keep_": 1.0 - dt * lam_v,
        "h_": dt,
        "decay_": float(np.exp(-lam * dt)),
        "k_fb": k_fb,
        "mu_": mu,
        "gain_": m["eta_raw"] * dt,
        "ebn_track": ebn_track,
        "ebn_winner": ebn_winner,
        "x_ta": b2.TimedArray(xs, dt=dt * b2.second),
    }

    # Each neuron reads the J components of z through linked variables (no synapses), and
    # its input D_i^T z is summed in the order of the Rust and numpy sides.
    g_model = "\n".join(
        ["v : 1", "r : 1", "vt : 1 (constant)", "Is : 1", "fb : 1", "track_ : 1"]
        + [f"d{jj} : 1 (constant)" for jj in range(j)]
        + [f"z{jj} : 1 (linked)" for jj in range(j)]
        + ([] if tanh else ["psi = r : 1"])
    )
    drive = " + ".join(f"d{jj}*z{jj}" for jj in range(j))
    current = f"(({drive}) + Is)" if dense else f"({drive})"
    G = b2.NeuronGroup(
        n, g_model, threshold="ebn_winner() == i", reset="v -= mu_\nr += 1", namespace=ns, name="G"
    )
    G.v = load(d, "V")
    G.r = load(d, "r")
    G.vt = load(d, "T")
    # The membrane step and the arg max pass in one loop over the neurons.
    G.run_regularly(f"v = keep_*v + h_*{current}\ntrack_ = ebn_track(v - vt, i)", when="groups", name="G_membrane")
    G.run_regularly("r = r*decay_", when="end", order=0, name="G_decay")

    R = b2.NeuronGroup(
        j,
        """
        xhat : 1
        err : 1
        c : 1 (constant)
        y : 1
        z : 1
        """,
        namespace=ns,
        name="R",
    )
    R.run_regularly("z = c + k_fb*err\nz = z + y", when="before_groups", order=1, name="R_z")
    R.xhat = load(d, "x_hat")
    R.err = load(d, "e")
    R.c = command
    R.run_regularly("xhat = xhat*decay_", when="end", order=0, name="R_decay")
    R.run_regularly("err = x_ta(t, i) - xhat", when="end", order=2, name="R_error")

    objects = [G, R]
    if tanh:
        B = b2.NeuronGroup(nb, "u : 1\ntheta : 1 (constant)\npsi : 1", namespace=ns, name="B")
        B.u = load(d, "drive")
        B.theta = load(d, "theta")
        B.psi = load(d, "psi")
        B.run_regularly("u = u*decay_\npsi = tanh(u + theta)", when="end", order=1, name="B_basis")
        M = load(d, "M", (nb, n))
        S_drive = b2.Synapses(G, B, "m : 1 (constant)", on_pre="u_post += m", namespace=ns, name="S_drive")
        pre, post = all_to_all(n, nb)
        S_drive.connect(i=pre, j=post)
        S_drive.m = M.T.ravel()  # [k, b] = M[b, k], presynaptic-major
        objects += [B, S_drive]
    else:
        B = G

    # x_hat += D_k for a spike of neuron k.
    S_dec = b2.Synapses(G, R, "d : 1 (constant)", on_pre="xhat_post += d", namespace=ns, name="S_dec")
    pre, post = all_to_all(n, j)
    S_dec.connect(i=pre, j=post)
    S_dec.d = DT.ravel()
    for jj in range(j):
        setattr(G, f"d{jj}", D[jj])
        setattr(G, f"z{jj}", b2.linked_var(R, "z", index=np.full(n, jj)))
    # Fast weights: v_i -= D_i^T D_k when k spikes (the reset adds mu for i = k).
    S_fast = b2.Synapses(G, G, "wf : 1 (constant)", on_pre="v_post -= wf", namespace=ns, name="S_fast")
    pre, post = all_to_all(n, n)
    S_fast.connect(i=pre, j=post)
    S_fast.wf = (DT @ D).T.ravel()  # [k, i] = D_i^T D_k
    del pre, post
    objects += [S_dec, S_fast]

    if dense:
        Omega = load(d, "Omega", (n, nb))
        S_om = b2.Synapses(B, G, "om : 1\nIs_post = om*psi_pre : 1 (summed)", namespace=ns, name="S_om")
        pre, post = all_to_all(nb, n)
        S_om.connect(i=pre, j=post)
        S_om.om = Omega.T.ravel()  # [b, i] = Omega[i, b]
        objects.append(S_om)
        if learning:
            S_fb = b2.Synapses(R, G, "d : 1 (constant)\nfb_post = d*err_pre : 1 (summed)", namespace=ns, name="S_fb")
            S_fb.connect(i=np.repeat(np.arange(j), n), j=np.tile(np.arange(n), j))
            S_fb.d = D.ravel()
            S_fb.summed_updaters["fb_post"].when = "end"
            S_fb.summed_updaters["fb_post"].order = 3
            S_om.run_regularly("om = om + fb_post*gain_*psi_pre", when="end", order=4, name="S_om_learn")
            objects.append(S_fb)
        S_om.summed_updaters["Is_post"].when = "before_groups"
        S_om.summed_updaters["Is_post"].order = 0
        S_slow = None
    else:
        Wt = load(d, "Wt", (nb, j))  # W^T: [b, jj]
        S_slow = b2.Synapses(B, R, "w : 1\ny_post = w*psi_pre : 1 (summed)", namespace=ns, name="S_slow")
        pre, post = all_to_all(nb, j)
        S_slow.connect(i=pre, j=post)
        S_slow.w = Wt.ravel(order="C")  # [b, jj] = W[jj, b], presynaptic-major
        S_slow.summed_updaters["y_post"].when = "before_groups"
        S_slow.summed_updaters["y_post"].order = 0
        if learning:
            S_slow.run_regularly("w = w + err_post*gain_*psi_pre", when="end", order=3, name="S_slow_learn")
        objects.append(S_slow)

    mon = b2.SpikeMonitor(G, name="spikes")
    net = b2.Network(*objects, mon)
    net.run(steps * dt * b2.second)

    start = time.perf_counter()
    b2.device.build(directory=os.path.join(build, "project"), compile=True, run=False, with_output=False)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    b2.device.run(directory=os.path.join(build, "project"), with_output=False, run_args=[])
    binary_s = time.perf_counter() - start
    loop_s = float(b2.device._last_run_time)

    spikes = np.asarray(mon.i[:])
    print(
        json.dumps(
            {
                "wall_per_sim_s": loop_s / (steps * dt),
                "us_per_step": loop_s / steps * 1e6,
                "compile_s": compile_s,
                "binary_wall_s": binary_s,
                "steps": steps,
                "spikes": int(spikes.size),
                "first_spikes": [int(k) for k in spikes[:2000]],
                "max_spikes_per_step": int(np.bincount(np.round(np.asarray(mon.t_[:]) / dt).astype(np.int64)).max())
                if spikes.size
                else 0,
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "brian2": b2.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
