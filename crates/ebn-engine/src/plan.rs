//! The step plan: how a network's step runs, chosen once when the network is built, from
//! what its components are.
//!
//! The components' traits say what a neuron, a basis or a rule *does*; none of them says how
//! to do it fast. The plan does: it looks at the concrete types (a built-in model, the
//! identity or the fast-tanh basis, the paper's rule) and at J, and picks fused kernels
//! where it knows them to give exactly the bits of the generic path (each tested as "this
//! plan equals the generic plan"). Anything it does not know, a fork's component included,
//! runs the generic path, which uses only the traits' methods. The plan never changes
//! results, only the number of passes over memory.

use ebn_basis::{IdentityBasis, TanhBasis};
use ebn_core::{Basis, DynNeuron, DynState, NeuronModel, PlasticityRule};
use ebn_neurons::{EbnMultiSpike, EbnNeuron, Refractory, SynapticLif};
use ebn_plasticity::{LocalRule, NoLearning, Rls, RobustLocal, Safeguard};
use std::any::Any;
use std::fmt;

/// The membrane part of sub-step 2 and the step's first spike choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Membrane {
    /// The current into an array, `NeuronModel::integrate`, noise and perturbations, then
    /// `NeuronModel::select_spike`: any model.
    Generic,
    /// `EbnNeuron` or `EbnMultiSpike`: current, membrane and spike choice in one pass (with
    /// the last step's deferred column in it), `keep = 1 - dt lambda_v`.
    Ebn { keep: f64 },
    /// `Refractory`: the same with its clock in the pass.
    Clock { keep: f64 },
    /// `SynapticLif` with instantaneous synapses (tau_s = 0): the EBN pass on its voltages.
    SynapticInstant { keep: f64 },
    /// `SynapticLif`: the same with the synaptic current, `a = exp(-dt / tau_s)`,
    /// `charge = tau_s (1 - a)`.
    Synaptic { keep: f64, charge: f64, a: f64 },
}

/// The basis drive's part of sub-step 4 (jumps, decay, Psi).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drive {
    /// `IdentityBasis`: Psi is r itself, read in place, never copied; with no learning in a
    /// step, the next step's W r is taken in the traces' decay pass.
    Identity,
    /// `TanhBasis` with the fast tanh: jumps, decay and Psi in one sweep
    /// (`TanhBasis::sweep`).
    Sweep,
    /// `Basis::on_spike` per spike, the decay, `Basis::evaluate`: any basis.
    Passes,
}

/// Sub-step 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Learning {
    /// `NoLearning`: no learning signal is computed.
    Never,
    /// `LocalRule`: the update fused with the next step's slow current (one pass over the
    /// weights).
    Local,
    /// `RobustLocal` with a dead zone: fused while the zone is open (its update is then a
    /// plain outer product), else its `update`.
    Robust,
    /// `Rls` and `RobustLocal`'s other safeguards: their `update`; they read neither the
    /// voltages nor, for factored weights, the feedback D^T e, so neither is computed.
    Lean,
    /// Any rule: `update` with every field of the learning signal.
    Generic,
}

/// How a network's step runs (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepPlan {
    pub membrane: Membrane,
    pub drive: Drive,
    pub learning: Learning,
}

impl StepPlan {
    /// The generic plan: the traits' methods only.
    pub const GENERIC: StepPlan =
        StepPlan { membrane: Membrane::Generic, drive: Drive::Passes, learning: Learning::Generic };

    /// The plan for these components with J components and time step dt.
    pub fn choose<M: NeuronModel>(
        neuron: &M,
        basis: &dyn Basis,
        rule: &dyn PlasticityRule,
        j: usize,
        dt: f64,
    ) -> StepPlan {
        // The one-pass kernels unroll the projection D^T z for 1 to 3 components.
        let membrane = if !(1..=3).contains(&j) {
            Membrane::Generic
        } else if let Some(m) = model::<EbnNeuron, M>(neuron) {
            Membrane::Ebn { keep: 1.0 - dt * m.lambda_v }
        } else if let Some(m) = model::<EbnMultiSpike, M>(neuron) {
            Membrane::Ebn { keep: 1.0 - dt * m.lambda_v }
        } else if let Some(m) = model::<Refractory, M>(neuron) {
            Membrane::Clock { keep: 1.0 - dt * m.lambda_v }
        } else if let Some(m) = model::<SynapticLif, M>(neuron) {
            let keep = 1.0 - dt * m.lambda_v;
            if m.tau_s == 0.0 {
                Membrane::SynapticInstant { keep }
            } else {
                let a = (-dt / m.tau_s).exp();
                Membrane::Synaptic { keep, charge: m.tau_s * (1.0 - a), a }
            }
        } else {
            Membrane::Generic
        };
        let basis: &dyn Any = basis;
        let drive = if basis.is::<IdentityBasis>() {
            Drive::Identity
        } else if basis.downcast_ref::<TanhBasis>().is_some_and(|b| b.fast) {
            Drive::Sweep
        } else {
            Drive::Passes
        };
        let rule: &dyn Any = rule;
        let learning = if rule.is::<NoLearning>() {
            Learning::Never
        } else if rule.is::<LocalRule>() {
            Learning::Local
        } else if let Some(r) = rule.downcast_ref::<RobustLocal>() {
            // Only the dead zone is ever an outer product; the other safeguards always update.
            if matches!(r.safeguard(), Safeguard::DeadZone { .. }) { Learning::Robust } else { Learning::Lean }
        } else if rule.is::<Rls>() {
            Learning::Lean
        } else {
            Learning::Generic
        };
        StepPlan { membrane, drive, learning }
    }

    /// Whether the rule reads the membrane voltages (then a deferred column is delivered
    /// before it learns).
    pub fn rule_reads_voltages(&self) -> bool {
        self.learning == Learning::Generic
    }

    /// Whether the rule reads the feedback D^T e when the weights are factored (dense
    /// weights always need it: their update is an outer product with it).
    pub fn rule_reads_factored_feedback(&self) -> bool {
        self.learning == Learning::Generic
    }
}

impl fmt::Display for StepPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let membrane = match self.membrane {
            Membrane::Generic => "generic membrane",
            Membrane::Ebn { .. } => "EBN one-pass membrane",
            Membrane::Clock { .. } => "refractory one-pass membrane",
            Membrane::SynapticInstant { .. } => "instantaneous-synapse one-pass membrane",
            Membrane::Synaptic { .. } => "synaptic one-pass membrane",
        };
        let drive = match self.drive {
            Drive::Identity => "identity basis in place",
            Drive::Sweep => "fast-tanh drive sweep",
            Drive::Passes => "generic basis passes",
        };
        let learning = match self.learning {
            Learning::Never => "no learning",
            Learning::Local => "fused local rule",
            Learning::Robust => "fused robust rule",
            Learning::Lean => "rule update without voltages",
            Learning::Generic => "generic rule update",
        };
        write!(f, "{membrane}, {drive}, {learning}")
    }
}

/// The model as a `T`, if it is one: `M` itself, or the model inside a [`DynNeuron`].
pub(crate) fn model<T: 'static, M: NeuronModel>(neuron: &M) -> Option<&T> {
    let any: &dyn Any = neuron;
    match any.downcast_ref::<T>() {
        Some(t) => Some(t),
        None => any.downcast_ref::<DynNeuron>().and_then(|d| d.downcast::<T>()),
    }
}

/// The state as a `T`, if it is one: as [`model`], for the states.
#[inline(always)]
pub(crate) fn state_mut<T: 'static, S: 'static>(state: &mut S) -> Option<&mut T> {
    let any: &mut dyn Any = state;
    if any.is::<T>() {
        return any.downcast_mut::<T>();
    }
    any.downcast_mut::<DynState>().and_then(|s| s.0.as_any_mut().downcast_mut::<T>())
}

/// The rule as a `T`, if it is one.
#[inline(always)]
pub(crate) fn rule<T: 'static>(rule: &dyn PlasticityRule) -> Option<&T> {
    let any: &dyn Any = rule;
    any.downcast_ref::<T>()
}

/// The basis as a `T`, if it is one.
#[inline(always)]
pub(crate) fn basis<T: 'static>(basis: &dyn Basis) -> Option<&T> {
    let any: &dyn Any = basis;
    any.downcast_ref::<T>()
}
