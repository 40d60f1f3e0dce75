//! The perturbation trait: anything that acts on a running network from outside.

use crate::weights::SlowWeights;
use std::fmt::Debug;

/// The parts of a running network a perturbation may change, at one step.
///
/// It is handed to [`Perturbation::apply`] after the voltages have been integrated and before
/// the spike is chosen (sub-step 2 of MODEL.md §8), so a voltage kick can cause a spike in the
/// same step and a silenced neuron cannot fire in it.
#[derive(Debug)]
pub struct PerturbationContext<'a> {
    /// Index of the current step n.
    pub step: u64,
    /// Time t_n = n dt (s).
    pub t: f64,
    /// Time step (s).
    pub dt: f64,
    /// Membrane voltages V, length N.
    pub voltages: &'a mut [f64],
    /// Slow weights (dense or factored).
    pub slow_weights: &'a mut SlowWeights,
    thresholds: &'a mut [f64],
    alive: &'a mut [bool],
}

impl<'a> PerturbationContext<'a> {
    /// Builds a context over the network's arrays (used by the engine).
    pub fn new(
        step: u64,
        dt: f64,
        voltages: &'a mut [f64],
        slow_weights: &'a mut SlowWeights,
        thresholds: &'a mut [f64],
        alive: &'a mut [bool],
    ) -> Self {
        Self { step, t: step as f64 * dt, dt, voltages, slow_weights, thresholds, alive }
    }

    /// Number of neurons N.
    pub fn n_neurons(&self) -> usize {
        self.alive.len()
    }

    /// Whether neuron `i` can still fire.
    pub fn is_alive(&self, i: usize) -> bool {
        self.alive[i]
    }

    /// Silences neuron `i` for good: it never spikes again. Its index and decoder stay, so
    /// the readout of its remaining trace is unchanged.
    pub fn silence(&mut self, i: usize) {
        self.alive[i] = false;
        self.thresholds[i] = f64::INFINITY;
    }
}

/// A scheduled intervention on a running network (noise, neuron death, synaptic damage,
/// input pulses...). Implementations decide from `ctx.step` when to act and draw their
/// randomness from their own stream, so adding one never changes any other random number.
pub trait Perturbation: Debug + Send {
    /// Acts on the network at one step.
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>);
}
