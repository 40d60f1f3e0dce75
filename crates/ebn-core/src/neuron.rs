//! The neuron-model trait.

use crate::error::Result;
use std::fmt::Debug;

/// A population of integrate-and-fire neurons driven by a summed input current.
///
/// The implementing struct is the parameter set (plain serde data, fields named after the
/// paper's symbols); the population's state is the associated [`NeuronModel::State`], a struct
/// of arrays over all N neurons; `dt` (s) is always an argument.
///
/// One step of the network (see `ebn_network::Network::step`) calls, in this order:
/// 1. [`integrate`](Self::integrate) with the summed input current I (V/s, the right-hand side
///    of dV/dt apart from the leak);
/// 2. membrane noise and perturbations, through [`voltages_mut`](Self::voltages_mut);
/// 3. [`select_spike`](Self::select_spike), which names at most one neuron;
///    the network then applies the fast-weight column of that neuron to every voltage.
///
/// A fork with another neuron (refractoriness, a different leak, another spike rule)
/// implements this trait and runs the conformance kit in `ebn_core::conformance`.
pub trait NeuronModel: Clone + Debug + Send + Sync {
    /// Per-neuron state (at least the membrane voltages).
    type State: Clone + Debug + Send + Sync;

    /// Checks the parameters against the time step; the only fallible method.
    fn validate(&self, dt: f64) -> Result<()>;

    /// The state of `n` neurons at rest.
    fn init_state(&self, n: usize) -> Self::State;

    /// Membrane voltages (units of the decoded variable, see MODEL.md §3).
    fn voltages<'a>(&self, state: &'a Self::State) -> &'a [f64];

    /// Mutable membrane voltages, for synaptic jumps, noise and perturbations.
    fn voltages_mut<'a>(&self, state: &'a mut Self::State) -> &'a mut [f64];

    /// Advances the sub-threshold dynamics by `dt` under the input current `input` (one
    /// value per neuron, held constant over the step).
    fn integrate(&self, state: &mut Self::State, input: &[f64], dt: f64);

    /// The neuron that fires in this step, if any. `thresholds` holds one value per neuron;
    /// a silenced neuron has threshold `+inf` and must never be chosen.
    fn select_spike(&self, state: &Self::State, thresholds: &[f64]) -> Option<usize>;
}
