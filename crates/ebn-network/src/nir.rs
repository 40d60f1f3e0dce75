//! A trained network as a graph of the Neuromorphic Intermediate Representation (NIR;
//! Pedersen et al. 2024, Nature Communications 15:8122; <https://neuroir.org>), the exchange
//! format read by Nengo, Norse, Rockpool, Sinabs, Lava and several chips.
//!
//! This module computes the graph's parameters, in plain numbers; the Python package turns
//! them into a `nir.NIRGraph` and writes the file (`ebn.nir`; NIR's format is HDF5 and its
//! reference implementation is Python). Only a network whose dynamics NIR's primitives
//! express is exported: the identity basis (Psi(r) = r) and the EBN neuron (`ebn`, or
//! `ebn_multi_spike`). Anything else is refused with [`Error::Unsupported`], naming what NIR
//! lacks.
//!
//! # The graph
//!
//! Time in seconds; voltages in units of the decoded variable x (MODEL.md §3). NIR's nodes
//! are continuous-time; a spike is a Dirac delta, so a weight w on a spike into a node with
//! `tau` and `r` makes its state jump by w r / tau. Every `r` below equals its `tau`, so the
//! jump is w.
//!
//! ```text
//! input (J) ─ encoder: Linear D^T (N x J) ─┐
//!                  ┌─ fast: Linear Omega_f, diagonal removed (N x N) ─┤
//!                  │                                                   v
//!                  └──────────────────────────────────── lif: LIF (N) ──> trace: LI (N)
//!                                                              ^               │
//!                       slow: Linear Omega_s (N x N) <─────────┼───────────────┤
//!                                                                              v
//!                                         output (J) <── readout: Linear D (J x N)
//! ```
//!
//! - `lif`: tau dV/dt = (v_leak - V) + R I with tau = R = 1 / lambda_V, v_leak = 0, so
//!   dV/dt = -lambda_V V + I, the EBN membrane; `v_threshold` = the thresholds in force
//!   (+inf for a silenced neuron), `v_reset` = T_k - (||D_k||^2 + mu) (see below).
//! - `trace`: tau dr/dt = -r + R o with tau = R = 1 / lambda: dr/dt = -lambda r + o, the
//!   filtered spike trains; its output r feeds the slow weights and the readout.
//! - `slow`: Omega_s = D^T W (identity basis: Omega_s Psi(r) = Omega_s r), learned.
//! - `fast`: Omega_f = -(D^T D + mu I) without its diagonal (zero for `fast_weights =
//!   "reset_only"`), between distinct neurons, as instantaneous jumps.
//! - `readout`: x_hat = D r.
//!
//! # What is approximated
//!
//! 1. **The reset**. The EBN resets by its own fast weight: a spike lowers V_k by
//!    ||D_k||^2 + mu, keeping by how much V_k had passed T_k. NIR's LIF resets to a fixed
//!    `v_reset`; the export puts there the value a spike exactly at threshold leaves,
//!    T_k - (||D_k||^2 + mu) = (nu - ||D_k||^2 - mu) / 2, so the overshoot is lost (of order
//!    dt |dV/dt| in the project's discrete time, zero in continuous time).
//! 2. **One spike per step**. The project fires at most one neuron per step (the one furthest
//!    above threshold; `ebn_multi_spike`: up to a cap, each after the previous one's fast
//!    weights). NIR is continuous-time and has no such rule: a discrete-time simulator of
//!    the graph fires every neuron above threshold in a step, and they do not see each
//!    other's inhibition until the next step. Simulate with a step well below the project's
//!    dt, or event by event, to stay close to the EBN.
//! 3. **The time step and the integration scheme**. The project integrates the membrane by
//!    forward Euler at its dt (O(lambda_V dt) relative error per step) and decays the traces
//!    exactly; NIR states the differential equations and leaves the scheme to the simulator.
//!    `dt` is kept in the graph's metadata.
//! 4. **What is not exported**: the membrane noise (sigma_V; NIR has no noise source), the
//!    error feedback K D^T e and the learning rule (NIR has no plasticity: the export is the
//!    trained, fixed network of a test run), and perturbations other than silenced neurons.
//!
//! How close a simulation of the exported graph comes to the project's readout is measured
//! in `python/tests/test_nir.py` and stated in `docs/NIR.md`.

use crate::Network;
use ebn_core::registry::Category;
use ebn_core::{Error, Result};
use ebn_engine::FastForm;
use faer::Mat;

/// The parameters of the NIR graph of a trained network (see the module documentation for
/// the graph and what it approximates).
#[derive(Debug, Clone)]
pub struct NirNetwork {
    /// Number of neurons N.
    pub n: usize,
    /// Dimension J of the represented state.
    pub dim: usize,
    /// The project's time step (s), for the metadata: the graph itself is continuous-time.
    pub dt: f64,
    /// Membrane time constant 1 / lambda_V (s); also the LIF node's `r`.
    pub tau_mem: f64,
    /// Trace time constant 1 / lambda (s); also the LI node's `r`.
    pub tau_trace: f64,
    /// Thresholds in force (+inf for a silenced neuron).
    pub v_threshold: Vec<f64>,
    /// Reset potentials T_k - (||D_k||^2 + mu).
    pub v_reset: Vec<f64>,
    /// D^T (N x J): the command's encoder.
    pub encoder: Mat<f64>,
    /// Omega_f without its diagonal (N x N).
    pub fast: Mat<f64>,
    /// Omega_s = D^T W (N x N).
    pub slow: Mat<f64>,
    /// D (J x N): the readout.
    pub readout: Mat<f64>,
    /// The neuron kind exported (`ebn` or `ebn_multi_spike`).
    pub neuron: String,
}

/// The kinds of neuron whose membrane NIR's LIF expresses (the spike rule aside).
const NEURONS: [&str; 2] = ["ebn", "ebn_multi_spike"];

/// The NIR graph's parameters of `network`, whose components are resolved through
/// `registry` (the one it was built with). Errors: a basis other than `identity` or a neuron
/// other than those of [`NEURONS`] ([`Error::Unsupported`], saying what NIR lacks).
pub fn export(network: &Network, registry: &ebn_core::Registry) -> Result<NirNetwork> {
    let config = network.config();
    let basis = registry.resolve(Category::Basis, &config.basis, "network.basis")?;
    if basis != "identity" {
        return Err(Error::Unsupported(format!(
            "NIR export of basis `{basis}`: NIR has linear connections and neuron nodes but no \
             static nonlinearity such as tanh(M r + theta) between them; only the `identity` \
             basis (Psi(r) = r) can be exported"
        )));
    }
    let neuron = registry.resolve(Category::Neuron, &config.neuron, "network.neuron")?;
    if !NEURONS.contains(&neuron.as_str()) {
        return Err(Error::Unsupported(format!(
            "NIR export of neuron `{neuron}`: only the EBN membrane (kinds {}) maps onto NIR's \
             LIF node; NIR has no refractory period, and a neuron with its own synaptic \
             filters is not exported yet",
            NEURONS.join(", ")
        )));
    }
    let lambda_v = match neuron.as_str() {
        "ebn" => config.neuron.parse::<ebn_neurons::EbnNeuron>("network.neuron")?.lambda_v,
        _ => config.neuron.parse::<ebn_neurons::EbnMultiSpike>("network.neuron")?.lambda_v,
    };
    let d = network.decoder();
    let (j, n) = (d.nrows(), d.ncols());
    let mu = config.mu;
    let thresholds = network.thresholds();
    let norm2 = |k: usize| (0..j).map(|a| d[(a, k)] * d[(a, k)]).sum::<f64>();
    let v_reset = (0..n).map(|k| thresholds[k] - (norm2(k) + mu)).collect();
    let lateral = !matches!(config.fast_weights, FastForm::ResetOnly);
    let fast =
        Mat::from_fn(
            n,
            n,
            |i, k| {
                if i == k || !lateral { 0.0 } else { -(0..j).map(|a| d[(a, i)] * d[(a, k)]).sum::<f64>() }
            },
        );
    let slow = network.slow_weights().synaptic(d);
    if slow.nrows() != n || slow.ncols() != n {
        return Err(Error::dimension("slow weights (identity basis)", n, slow.ncols()));
    }
    let check = |name: &str, m: &Mat<f64>| -> Result<()> {
        match (0..m.ncols()).flat_map(|c| (0..m.nrows()).map(move |r| (r, c))).find(|&(r, c)| !m[(r, c)].is_finite()) {
            Some((r, c)) => Err(Error::invalid(format!("{name}[{r}][{c}]"), m[(r, c)], "a finite weight")),
            None => Ok(()),
        }
    };
    check("slow", &slow)?;
    check("decoder", d)?;
    Ok(NirNetwork {
        n,
        dim: j,
        dt: config.dt,
        tau_mem: 1.0 / lambda_v,
        tau_trace: 1.0 / config.lambda,
        v_threshold: network.thresholds_in_force().to_vec(),
        v_reset,
        encoder: d.transpose().to_owned(),
        fast,
        slow,
        readout: d.to_owned(),
        neuron,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Experiment, ExperimentConfig};

    fn linear() -> (Experiment, Network) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/linear.toml")).unwrap();
        let mut config = ExperimentConfig::from_toml(&text).unwrap();
        let training = config.training.as_mut().unwrap();
        training.trials = 2;
        training.trial_duration = 0.2;
        let mut exp = Experiment::build(&config).unwrap();
        let mut network = exp.initial_network().unwrap();
        let mut state = Default::default();
        for _ in 0..2 {
            exp.train_trial(&mut network, &mut state).unwrap();
        }
        (exp, network)
    }

    #[test]
    fn the_graph_holds_the_networks_own_weights() {
        let (_, network) = linear();
        let g = export(&network, crate::builtins()).unwrap();
        let d = network.decoder();
        let mu = network.config().mu;
        assert_eq!((g.n, g.dim), (64, 2));
        assert_eq!(g.tau_mem, 1.0 / 10.0);
        assert_eq!(g.tau_trace, 1.0 / network.config().lambda);
        // Lateral fast weights are those of Omega_f = -(D^T D + mu I); the diagonal becomes
        // the reset, which a spike exactly at threshold would reach.
        let omega_f = -(d.transpose() * d);
        for i in 0..g.n {
            assert_eq!(g.fast[(i, i)], 0.0);
            for k in (0..g.n).filter(|&k| k != i) {
                assert!((g.fast[(i, k)] - omega_f[(i, k)]).abs() <= 1e-15 * omega_f[(i, k)].abs().max(1e-3));
            }
            let reset_by_weight = g.v_threshold[i] + (omega_f[(i, i)] - mu);
            assert!((g.v_reset[i] - reset_by_weight).abs() < 1e-15);
            assert!(g.v_reset[i] < 0.0 && g.v_reset[i] < g.v_threshold[i]);
        }
        // The slow weights are the network's Omega_s, which learning moved off zero.
        let omega_s = network.slow_weights().synaptic(d);
        assert_eq!(g.slow, omega_s);
        assert!(omega_s.norm_l2() > 0.0);
        assert_eq!(g.encoder, d.transpose().to_owned());
        assert_eq!(g.readout, *d);
    }

    #[test]
    fn a_tanh_basis_or_a_refractory_neuron_is_refused_with_the_reason() {
        let (exp, _) = linear();
        let mut config = exp.config().network.clone();
        config.basis =
            ebn_core::Spec::of("random_tanh", &serde_json::json!({"n_basis": 32, "weight_std": 1.0, "bias": 1.0}));
        let network = Network::build(&config, exp.initial_network().unwrap().seeds()).unwrap();
        let err = export(&network, crate::builtins()).unwrap_err().to_string();
        assert!(err.contains("random_tanh") && err.contains("identity"), "{err}");
        let mut config = exp.config().network.clone();
        config.neuron = ebn_core::Spec::of("refractory", &serde_json::json!({"lambda_v": 10.0, "tau_ref": 0.002}));
        let network = Network::build(&config, exp.initial_network().unwrap().seeds()).unwrap();
        let err = export(&network, crate::builtins()).unwrap_err().to_string();
        assert!(err.contains("refractory") && err.contains("NIR has no refractory period"), "{err}");
    }

    #[test]
    fn a_silenced_neuron_never_fires_in_the_graph() {
        let (_, mut network) = linear();
        network.silence(3).unwrap();
        let g = export(&network, crate::builtins()).unwrap();
        assert_eq!(g.v_threshold[3], f64::INFINITY);
        assert!(g.v_threshold.iter().enumerate().all(|(i, t)| i == 3 || t.is_finite()));
    }
}
