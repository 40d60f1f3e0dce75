//! The neuron of the efficient balanced network: forward-Euler LIF, the greedy one-spike rule.

use crate::choice::largest_excess;
use ebn_core::{Error, NeuronModel, Result, Rng, check};
use serde::{Deserialize, Serialize};

/// The integrate-and-fire neuron of the efficient balanced network (Boerlin, Machens &
/// Denève 2013; Alemi et al. 2018, MODEL.md §3–4).
///
/// Sub-threshold dynamics, for neuron i:
///
/// ```text
/// dV_i/dt = -lambda_v V_i + I_i
/// ```
///
/// where I_i (units of V per second) is the sum of the command, slow, feedback and noise
/// currents assembled by the network. V is in units of the decoded variable x (it is the
/// error projected on the neuron's decoder, V_i = D_i^T (x - x_hat) - mu r_i).
///
/// **Integration scheme**: forward Euler, `V <- V + dt (-lambda_v V + I)`, with I held over
/// the step; valid (monotone decay, no sign flip) for `dt lambda_v < 1`, and accurate to
/// O(dt lambda_v), i.e. 0.5 % per step at the defaults. This is the explicit update of the
/// authors' discrete algorithm; the exponential decay of r and x_hat is exact.
///
/// **Spike rule**: at most one spike per step, by the neuron with the largest V_i - T_i if
/// that is positive (the authors' rule, MODEL.md §8). The reset is not the neuron's business:
/// the network applies the fast-weight column of the spiking neuron to all voltages, which
/// lowers V_k by ||D_k||^2 + mu (= 2 T_k - nu).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EbnNeuron {
    /// Membrane leak rate lambda_V (1/s). Project default: equal to the readout decay lambda
    /// (10 /s; MODEL.md §4); the authors used 50 /s.
    pub lambda_v: f64,
}

impl Default for EbnNeuron {
    fn default() -> Self {
        Self { lambda_v: 10.0 }
    }
}

/// State of a population of [`EbnNeuron`]s: the membrane voltages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EbnState {
    /// Membrane voltages V_i (units of x).
    pub v: Vec<f64>,
}

impl NeuronModel for EbnNeuron {
    type State = EbnState;

    fn validate(&self, dt: f64) -> Result<()> {
        check::positive("lambda_v", self.lambda_v)?;
        check::positive("dt", dt)?;
        if dt * self.lambda_v >= 1.0 {
            return Err(Error::invalid(
                "lambda_v",
                self.lambda_v,
                format!("lambda_v * dt < 1 for the forward-Euler membrane (dt = {dt} s)"),
            ));
        }
        Ok(())
    }

    fn init_state(&self, n: usize, _rng: &mut Rng) -> EbnState {
        EbnState { v: vec![0.0; n] }
    }

    fn voltages<'a>(&self, state: &'a EbnState) -> &'a [f64] {
        &state.v
    }

    fn voltages_mut<'a>(&self, state: &'a mut EbnState) -> &'a mut [f64] {
        &mut state.v
    }

    #[inline]
    fn integrate(&self, state: &mut EbnState, input: &[f64], dt: f64) {
        debug_assert_eq!(state.v.len(), input.len());
        let keep = 1.0 - dt * self.lambda_v;
        for (v, i) in state.v.iter_mut().zip(input) {
            *v = keep * *v + dt * i;
        }
    }

    #[inline]
    fn select_spike(&self, state: &EbnState, thresholds: &[f64]) -> Option<usize> {
        largest_excess(&state.v, thresholds)
    }
}
