//! Variants of the EBN neuron: other spike policies and refractoriness.

use crate::choice::{largest_eligible_excess, largest_excess, tick};
use crate::{EbnNeuron, EbnState};
use ebn_core::{NeuronModel, Result, Rng, check};
use serde::{Deserialize, Serialize};

/// The EBN neuron with a **fire-update-repeat** spike policy: within one step the neuron
/// with the largest V_i - T_i > 0 fires, the network applies its fast-weight column to every
/// voltage (which lowers the representation error, MODEL.md §3), and the choice is made
/// again on the new voltages, up to `max_spikes` spikes per step.
///
/// Membrane: dV_i/dt = -lambda_v V_i + I_i, forward Euler (as [`EbnNeuron`]). Why: with one
/// spike per step x_hat can move by at most max_i |D_i| per step, so |dx_hat/dt| is capped
/// near max_i |D_i| / dt (the slew-rate limit, ~14 /s at N = 512 with the default decoder
/// scale); here the cap is `max_spikes` times higher. Unlike "every neuron above threshold
/// fires" (which overshoots and ping-pongs because the spikes do not see each other), each
/// spike here is chosen after the previous one was applied, so every spike lowers the loss
/// (greedy encoding, tested). `max_spikes = 1` is [`EbnNeuron`] exactly. A project
/// addition, not in the paper.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbnMultiSpike {
    /// Membrane leak rate lambda_v (1/s).
    #[serde(default = "ten")]
    pub lambda_v: f64,
    /// Most spikes in one step (>= 1).
    pub max_spikes: usize,
}

fn ten() -> f64 {
    10.0
}

/// Largest spike cap of [`EbnMultiSpike`] (a step costs O(N J) per spike).
pub const MAX_SPIKES_PER_STEP: usize = 10_000;

impl NeuronModel for EbnMultiSpike {
    type State = EbnState;

    fn validate(&self, dt: f64) -> Result<()> {
        EbnNeuron { lambda_v: self.lambda_v }.validate(dt)?;
        check::nonzero("max_spikes", self.max_spikes)?;
        check::at_most("max_spikes", self.max_spikes, MAX_SPIKES_PER_STEP, "spikes per step")?;
        Ok(())
    }
    fn init_state(&self, n: usize, rng: &mut Rng) -> EbnState {
        self.ebn().init_state(n, rng)
    }
    fn voltages<'a>(&self, state: &'a EbnState) -> &'a [f64] {
        &state.v
    }
    fn voltages_mut<'a>(&self, state: &'a mut EbnState) -> &'a mut [f64] {
        &mut state.v
    }
    fn integrate(&self, state: &mut EbnState, input: &[f64], dt: f64) {
        self.ebn().integrate(state, input, dt);
    }
    fn select_spike(&self, state: &EbnState, thresholds: &[f64]) -> Option<usize> {
        largest_excess(&state.v, thresholds)
    }
    fn max_spikes_per_step(&self) -> usize {
        self.max_spikes
    }
}

impl EbnMultiSpike {
    fn ebn(&self) -> EbnNeuron {
        EbnNeuron { lambda_v: self.lambda_v }
    }
}

/// The EBN neuron with an **absolute refractory period**: a neuron that fired cannot be
/// chosen again for `tau_ref` seconds (its membrane keeps integrating; only the spike choice
/// skips it). Every real neuron has one (1-2 ms); in the ideal EBN a neuron may fire in
/// consecutive steps.
///
/// Membrane: dV_i/dt = -lambda_v V_i + I_i, forward Euler; the time left in each neuron's
/// refractory period falls by dt per step and is set to `tau_ref` at its spike
/// ([`NeuronModel::on_spike`]). Spike rule: the largest V_i - T_i > 0 among the neurons not
/// refractory, at most one per step. `tau_ref = 0` is [`EbnNeuron`] exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refractory {
    /// Membrane leak rate lambda_v (1/s).
    #[serde(default = "ten")]
    pub lambda_v: f64,
    /// Absolute refractory period (s), in [0, 1].
    pub tau_ref: f64,
}

/// State of a [`Refractory`] population.
#[derive(Debug, Clone, PartialEq)]
pub struct RefractoryState {
    /// Membrane voltages.
    pub v: Vec<f64>,
    /// Time left in each neuron's refractory period (s).
    pub left: Vec<f64>,
}

impl NeuronModel for Refractory {
    type State = RefractoryState;

    fn validate(&self, dt: f64) -> Result<()> {
        EbnNeuron { lambda_v: self.lambda_v }.validate(dt)?;
        check::in_range("tau_ref", self.tau_ref, 0.0, 1.0)?;
        Ok(())
    }
    fn init_state(&self, n: usize, _rng: &mut Rng) -> RefractoryState {
        RefractoryState { v: vec![0.0; n], left: vec![0.0; n] }
    }
    fn voltages<'a>(&self, state: &'a RefractoryState) -> &'a [f64] {
        &state.v
    }
    fn voltages_mut<'a>(&self, state: &'a mut RefractoryState) -> &'a mut [f64] {
        &mut state.v
    }
    fn integrate(&self, state: &mut RefractoryState, input: &[f64], dt: f64) {
        let keep = 1.0 - dt * self.lambda_v;
        for (v, i) in state.v.iter_mut().zip(input) {
            *v = keep * *v + dt * i;
        }
        // Half a step of tolerance: a neuron that fired at step n is eligible again at step
        // n + round(tau_ref / dt) (tau_ref = 2 ms at dt = 0.1 ms: 19 steps skipped).
        let half = 0.5 * dt;
        for left in &mut state.left {
            *left = tick(*left, dt, half);
        }
    }
    /// The first neuron with the largest V_i - T_i > 0 among those with no refractory time
    /// left (the sequential rule, in two vectorised passes; tested against it).
    fn select_spike(&self, state: &RefractoryState, thresholds: &[f64]) -> Option<usize> {
        largest_eligible_excess(&state.v, thresholds, &state.left)
    }
    fn on_spike(&self, state: &mut RefractoryState, k: usize) {
        state.left[k] = self.tau_ref;
    }
}

/// A conventional **leaky integrate-and-fire neuron with synaptic currents**, as Brian2 and
/// Nengo users write one: the fast recurrent connections act through an exponential synapse
/// of time constant `tau_s` instead of at once, and a spike resets the neuron's own voltage.
///
/// Equations (V in units of x, as for [`EbnNeuron`]; I_s in V per second):
///
/// ```text
/// dV_i/dt    = -lambda_v V_i + I_i + I_s,i
/// dI_s,i/dt  = -I_s,i / tau_s + sum_k Omega_f[i, k] sum_spikes delta(t - t_k)   (i != k)
/// spike of k: V_k <- T_k + Omega_f[k, k]   (hard reset; the EBN neuron's soft reset
///             would subtract the same amount from V_k, keeping the overshoot)
/// ```
///
/// A spike of neuron k raises I_s,i by Omega_f[i, k] / tau_s, so that the charge it delivers,
/// the integral of I_s,i, is Omega_f[i, k]: the jump the EBN neuron takes at once. As
/// tau_s -> 0 the model tends to the EBN neuron with a hard reset; `tau_s = 0` is exactly that
/// (the column is added to the voltages in the step of the spike). The reset is the neuron's
/// own and stays instantaneous. With T_k = (||D_k||^2 + mu + nu) / 2 the reset value is
/// -T_k + nu.
///
/// **Integration scheme**: per step, `V <- (1 - lambda_v dt) V + dt I + tau_s (1 - a) I_s`
/// and then `I_s <- a I_s` with a = exp(-dt / tau_s): the synaptic current is integrated
/// exactly over the step (so every spike delivers exactly its charge, summed over the steps
/// after it, whatever dt / tau_s), the leak and the other inputs by forward Euler as in
/// [`EbnNeuron`]. The charge reaches the voltages from the step after the spike on, so even a
/// short tau_s delays the lateral inhibition by one step: neurons that see the same error may
/// fire in successive steps before they see each other's spikes, the failure mode this model
/// measures. Spike rule: the largest V_i - T_i > 0 fires, at most `max_spikes` per step
/// (default 1, as [`EbnNeuron`]); a spike's own reset acts before the next choice.
/// Source: the current-based LIF neuron (e.g. Dayan & Abbott 2001, ch. 5–7), with the
/// EBN's connectivity (Boerlin, Machens & Denève 2013). A project addition, not in the paper.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynapticLif {
    /// Membrane leak rate lambda_v (1/s).
    #[serde(default = "ten")]
    pub lambda_v: f64,
    /// Synaptic time constant of the fast connections (s), in [0, 0.1]; 0 is instantaneous.
    pub tau_s: f64,
    /// What a spike does to the neuron's own voltage.
    #[serde(default)]
    pub reset: Reset,
    /// Most spikes in one step (default 1, the EBN's rule). With tau_s > 0 a spike's lateral
    /// inhibition reaches nobody within its step, so a larger cap lets every neuron above
    /// threshold fire together: the policy of a conventional simulator (Brian2, Nengo).
    #[serde(default = "one")]
    pub max_spikes: usize,
}

fn one() -> usize {
    1
}

/// The reset of a [`SynapticLif`] neuron.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// V_k <- T_k + Omega_f[k, k]: the overshoot above threshold is forgotten (the default,
    /// as in a conventional LIF neuron).
    #[default]
    Hard,
    /// V_k <- V_k + Omega_f[k, k]: the EBN neuron's reset, which keeps the overshoot.
    Soft,
}

/// State of a [`SynapticLif`] population.
#[derive(Debug, Clone, PartialEq)]
pub struct SynapticState {
    /// Membrane voltages.
    pub v: Vec<f64>,
    /// Synaptic currents of the fast connections (V/s).
    pub i_s: Vec<f64>,
}

impl NeuronModel for SynapticLif {
    type State = SynapticState;

    fn validate(&self, dt: f64) -> Result<()> {
        EbnNeuron { lambda_v: self.lambda_v }.validate(dt)?;
        check::in_range("tau_s", self.tau_s, 0.0, 0.1)?;
        check::nonzero("max_spikes", self.max_spikes)?;
        check::at_most("max_spikes", self.max_spikes, MAX_SPIKES_PER_STEP, "spikes per step")?;
        Ok(())
    }
    fn init_state(&self, n: usize, _rng: &mut Rng) -> SynapticState {
        SynapticState { v: vec![0.0; n], i_s: vec![0.0; n] }
    }
    fn voltages<'a>(&self, state: &'a SynapticState) -> &'a [f64] {
        &state.v
    }
    fn voltages_mut<'a>(&self, state: &'a mut SynapticState) -> &'a mut [f64] {
        &mut state.v
    }
    fn integrate(&self, state: &mut SynapticState, input: &[f64], dt: f64) {
        let keep = 1.0 - dt * self.lambda_v;
        if self.tau_s == 0.0 {
            for (v, i) in state.v.iter_mut().zip(input) {
                *v = keep * *v + dt * i;
            }
            return;
        }
        let a = (-dt / self.tau_s).exp();
        let charge = self.tau_s * (1.0 - a);
        for ((v, i), s) in state.v.iter_mut().zip(input).zip(&mut state.i_s) {
            *v = keep * *v + dt * i + charge * *s;
            *s *= a;
        }
    }
    fn select_spike(&self, state: &SynapticState, thresholds: &[f64]) -> Option<usize> {
        largest_excess(&state.v, thresholds)
    }
    fn filters_fast_input(&self) -> bool {
        true
    }
    fn max_spikes_per_step(&self) -> usize {
        self.max_spikes
    }
    fn receive_fast(&self, state: &mut SynapticState, k: usize, column: &[f64], thresholds: &[f64]) {
        if self.tau_s == 0.0 {
            for (v, w) in state.v.iter_mut().zip(column) {
                *v += w;
            }
        } else {
            // Every neuron but k: the loop runs over all of them (no branch, so it
            // vectorises) and k's own current is put back.
            let scale = 1.0 / self.tau_s;
            let own = state.i_s[k];
            for (s, w) in state.i_s.iter_mut().zip(column) {
                *s += scale * w;
            }
            state.i_s[k] = own;
            state.v[k] += column[k];
        }
        if self.reset == Reset::Hard {
            state.v[k] = thresholds[k] + column[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{SeedStreams, Stream};

    fn state(m: &SynapticLif, n: usize) -> SynapticState {
        m.init_state(n, &mut SeedStreams::new(1).rng(Stream::NeuronState))
    }

    #[test]
    fn a_spike_delivers_its_whole_charge_through_the_synapse() {
        // Without leak (lambda_v -> 0) the voltage of a target neuron must end at exactly the
        // fast weight, whatever dt / tau_s, and reach it only after the spike's step.
        for (tau_s, dt) in [(1e-3, 1e-4), (5e-3, 1e-4), (1e-4, 1e-4), (2e-3, 1e-3)] {
            let m = SynapticLif { lambda_v: 1e-12, tau_s, reset: Reset::Hard, max_spikes: 1 };
            let mut s = state(&m, 3);
            s.v = vec![0.6, 0.1, -0.2];
            let thresholds = [0.5, 0.5, 0.5];
            let column = [-1.0, -0.3, 0.25];
            m.receive_fast(&mut s, 0, &column, &thresholds);
            assert_eq!(s.v, vec![0.5 - 1.0, 0.1, -0.2], "only the reset acts at once");
            for _ in 0..(200.0 * tau_s / dt) as usize {
                m.integrate(&mut s, &[0.0; 3], dt);
            }
            assert!((s.v[1] - (0.1 - 0.3)).abs() < 1e-12, "tau_s {tau_s}: {}", s.v[1]);
            assert!((s.v[2] - (-0.2 + 0.25)).abs() < 1e-12, "tau_s {tau_s}: {}", s.v[2]);
            assert!((s.v[0] + 0.5).abs() < 1e-9, "the own reset is not filtered: {}", s.v[0]);
        }
    }

    #[test]
    fn the_synaptic_current_decays_with_tau_s() {
        let m = SynapticLif { lambda_v: 10.0, tau_s: 2e-3, reset: Reset::Soft, max_spikes: 1 };
        let mut s = state(&m, 2);
        m.receive_fast(&mut s, 1, &[-1.0, -2.0], &[1.0, 1.0]);
        assert_eq!(s.i_s, vec![-500.0, 0.0]);
        assert_eq!(s.v, vec![0.0, -2.0], "soft reset: V_k + Omega_kk");
        for _ in 0..20 {
            m.integrate(&mut s, &[0.0; 2], 1e-4);
        }
        let expected = -500.0 * (-20.0 * 1e-4 / 2e-3f64).exp();
        assert!((s.i_s[0] - expected).abs() < 1e-9 * 500.0, "{} vs {expected}", s.i_s[0]);
    }

    #[test]
    fn at_tau_s_zero_the_column_acts_at_once() {
        let m = SynapticLif { lambda_v: 10.0, tau_s: 0.0, reset: Reset::Hard, max_spikes: 1 };
        let mut s = state(&m, 2);
        s.v = vec![0.9, 0.4];
        m.receive_fast(&mut s, 0, &[-1.0, -0.3], &[0.5, 0.5]);
        assert_eq!(s.v, vec![-0.5, 0.4 - 0.3]);
        assert_eq!(s.i_s, vec![0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_synaptic_time_constants() {
        for tau_s in [-1e-3, f64::NAN, 0.5] {
            assert!(SynapticLif { lambda_v: 10.0, tau_s, reset: Reset::Hard, max_spikes: 1 }.validate(1e-4).is_err());
        }
    }
}
