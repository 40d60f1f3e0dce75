//! An integrate-and-fire neuron with an absolute refractory period.

use ebn_network::core::{Error, NeuronModel, Result, Rng, check};
use ebn_network::neurons::EbnNeuron;
use serde::Deserialize;

/// The EBN neuron (dV/dt = -lambda_v V + I, forward Euler, greedy one spike per step) with an
/// absolute refractory period: a neuron that fired cannot be chosen again for `tau_ref`
/// seconds. Its voltage keeps integrating meanwhile (the spike rule, not the membrane, is
/// refractory). `tau_ref` = 0 is the EBN neuron exactly.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refractory {
    /// Membrane leak rate (1/s).
    #[serde(default = "ten")]
    pub lambda_v: f64,
    /// Absolute refractory period (s).
    pub tau_ref: f64,
}

fn ten() -> f64 {
    10.0
}

/// Voltages and the time left in each neuron's refractory period.
#[derive(Debug, Clone)]
pub struct RefractoryState {
    v: Vec<f64>,
    left: Vec<f64>,
}

impl NeuronModel for Refractory {
    type State = RefractoryState;

    fn validate(&self, dt: f64) -> Result<()> {
        EbnNeuron { lambda_v: self.lambda_v }.validate(dt)?;
        check::non_negative("tau_ref", self.tau_ref)?;
        if self.tau_ref > 1.0 {
            return Err(Error::invalid("tau_ref", self.tau_ref, "at most 1 s"));
        }
        Ok(())
    }

    fn init_state(&self, n: usize, _rng: &mut Rng) -> RefractoryState {
        RefractoryState { v: vec![0.0; n], left: vec![0.0; n] }
    }

    fn voltages<'a>(&self, s: &'a RefractoryState) -> &'a [f64] {
        &s.v
    }

    fn voltages_mut<'a>(&self, s: &'a mut RefractoryState) -> &'a mut [f64] {
        &mut s.v
    }

    fn integrate(&self, s: &mut RefractoryState, input: &[f64], dt: f64) {
        let keep = 1.0 - dt * self.lambda_v;
        for ((v, i), left) in s.v.iter_mut().zip(input).zip(&mut s.left) {
            *v = keep * *v + dt * i;
            *left = (*left - dt).max(0.0);
        }
    }

    fn select_spike(&self, s: &RefractoryState, thresholds: &[f64]) -> Option<usize> {
        let mut best = (0.0, None);
        for (i, ((v, t), left)) in s.v.iter().zip(thresholds).zip(&s.left).enumerate() {
            if *left <= 0.0 && v - t > best.0 {
                best = (v - t, Some(i));
            }
        }
        best.1
    }

    fn on_spike(&self, s: &mut RefractoryState, k: usize) {
        s.left[k] = self.tau_ref;
    }
}
