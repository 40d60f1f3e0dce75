//! Variants of the EBN neuron: other spike policies and refractoriness.

use crate::{EbnNeuron, EbnState, largest_excess};
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
        for left in &mut state.left {
            // Half a step of tolerance: a neuron that fired at step n is eligible again at
            // step n + round(tau_ref / dt) (tau_ref = 2 ms at dt = 0.1 ms: 19 steps skipped).
            let next = *left - dt;
            *left = if next > 0.5 * dt { next } else { 0.0 };
        }
    }
    fn select_spike(&self, state: &RefractoryState, thresholds: &[f64]) -> Option<usize> {
        let mut best = (0.0, None);
        for (i, ((v, t), left)) in state.v.iter().zip(thresholds).zip(&state.left).enumerate() {
            let excess = v - t;
            if *left == 0.0 && excess > best.0 {
                best = (excess, Some(i));
            }
        }
        best.1
    }
    fn on_spike(&self, state: &mut RefractoryState, k: usize) {
        state.left[k] = self.tau_ref;
    }
}
