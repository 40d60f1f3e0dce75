//! The plasticity-rule trait.

use crate::error::Result;
use crate::weights::{SlowWeights, WeightForm};
use std::fmt::Debug;

/// What a learning rule may read at step n + 1 (MODEL.md §8, sub-step 5): the new output
/// error and the new basis values.
#[derive(Debug, Clone, Copy)]
pub struct LearningSignal<'a> {
    /// Output error e_(n+1) = x_(n+1) - x_hat_(n+1), length J.
    pub error: &'a [f64],
    /// Feedback current per neuron before the gain, [D^T e]_i, length N: the postsynaptic
    /// factor, which neuron i itself receives.
    pub feedback: &'a [f64],
    /// Presynaptic basis values Psi(r_(n+1)), length N_b.
    pub psi: &'a [f64],
    /// Multiplier of the rule's rate set by the protocol (1 normally; annealing lowers it).
    pub rate_scale: f64,
    /// Time step (s).
    pub dt: f64,
}

/// A rule that changes the slow weights from locally available quantities.
///
/// Implementations hold their parameters (learning rate...) and no state that changes with
/// time; a rule that needs state keeps it in the weights or asks for a new trait.
pub trait PlasticityRule: Debug + Send + Sync {
    /// Checks that the rule can act on weights of this form (a rule that is not of the form
    /// `(D^T a) b^T` has no factored version); called once when the network is built.
    fn check_form(&self, form: WeightForm) -> Result<()>;

    /// Applies one step of learning to `weights`.
    fn update(&self, signal: &LearningSignal<'_>, weights: &mut SlowWeights);

    /// Whether the rule ever changes the weights; a network skips computing the learning
    /// signal when it does not.
    fn is_active(&self) -> bool {
        true
    }

    /// If this rule's update of dense weights is exactly `Omega[:, b] += (g Psi_b) feedback`
    /// for every column b (a rank-1 outer product with the scalar g returned here, computed
    /// in that order), returns g. The network may then fuse the update with the next step's
    /// slow current Omega Psi into one pass over Omega (memory-bound at large N x N_b)
    /// instead of calling [`PlasticityRule::update`]; the result is bit-identical. The
    /// default, `None`, always calls `update`. The conformance kit checks the claim.
    fn dense_outer_gain(&self, _signal: &LearningSignal<'_>) -> Option<f64> {
        None
    }
}
