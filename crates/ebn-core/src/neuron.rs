//! The neuron-model trait, and its type-erased form for models chosen at run time.

use crate::error::Result;
use crate::seed::Rng;
use std::any::Any;
use std::fmt::Debug;

/// A population of integrate-and-fire neurons driven by a summed input current, together
/// with its spike policy.
///
/// The implementing struct is the parameter set (plain serde data, fields named after the
/// paper's symbols); the population's state is the associated [`NeuronModel::State`], a struct
/// of arrays over all N neurons; `dt` (s) is always an argument.
///
/// One step of the network (see `ebn_network::Network::step`) calls, in this order:
/// 1. [`integrate`](Self::integrate) with the summed input current I (V/s, the right-hand side
///    of dV/dt apart from the leak);
/// 2. membrane noise and perturbations, through [`voltages_mut`](Self::voltages_mut);
/// 3. the spike loop, at most [`max_spikes_per_step`](Self::max_spikes_per_step) times:
///    [`select_spike`](Self::select_spike) names a neuron k (or none, which ends the loop);
///    the network applies the fast-weight column of k to every voltage (or, for a model whose
///    [`filters_fast_input`](Self::filters_fast_input) is true, hands the column to
///    [`receive_fast`](Self::receive_fast)) and raises k's trace, then calls
///    [`on_spike`](Self::on_spike) with k, so that the model can keep per-neuron spike state
///    (refractoriness, adaptation).
///
/// With the defaults (one spike per step, nothing kept per spike) this is the authors'
/// greedy rule. A fork with another neuron implements this trait and runs
/// `ebn_core::conformance::neuron_model`.
///
/// # Implementing and plugging in a neuron model
///
/// The EBN membrane integrated exactly (exponential Euler) instead of by forward Euler,
/// registered as `ebn_exact` (`neuron = { kind = "ebn_exact", lambda_v = 10.0 }`). The
/// struct is its own parameter set; the network uses it through [`DynNeuron`], as here:
///
/// ```
/// use ebn_core::{DynNeuron, NeuronModel, Registry, Result, SeedStreams, Spec, Stream, check};
/// use serde::{Deserialize, Serialize};
///
/// /// dV/dt = -lambda_v V + I, with I held over the step: V <- I/lambda_v + (V - I/lambda_v) e^(-lambda_v dt).
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct EbnExact { lambda_v: f64 }
///
/// impl NeuronModel for EbnExact {
///     type State = Vec<f64>; // the voltages
///     fn validate(&self, _dt: f64) -> Result<()> { check::positive("lambda_v", self.lambda_v).map(|_| ()) }
///     fn init_state(&self, n: usize, _rng: &mut ebn_core::Rng) -> Vec<f64> { vec![0.0; n] }
///     fn voltages<'a>(&self, v: &'a Vec<f64>) -> &'a [f64] { v }
///     fn voltages_mut<'a>(&self, v: &'a mut Vec<f64>) -> &'a mut [f64] { v }
///     fn integrate(&self, v: &mut Vec<f64>, input: &[f64], dt: f64) {
///         let keep = (-self.lambda_v * dt).exp();
///         for (v, i) in v.iter_mut().zip(input) {
///             let rest = i / self.lambda_v;
///             *v = rest + (*v - rest) * keep;
///         }
///     }
///     fn select_spike(&self, v: &Vec<f64>, thresholds: &[f64]) -> Option<usize> {
///         // The authors' rule: the neuron furthest above threshold, if any.
///         let (k, excess) = v.iter().zip(thresholds).map(|(v, t)| v - t).enumerate()
///             .fold((0, f64::NEG_INFINITY), |best, (k, e)| if e > best.1 { (k, e) } else { best });
///         (excess > 0.0).then_some(k)
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_neuron::<EbnExact>("ebn_exact");
/// let model: DynNeuron = registry.neuron(&Spec::new("ebn_exact").with("lambda_v", 10.0), "network.neuron")?;
/// model.validate(1e-4)?;
/// let mut rng = SeedStreams::new(1).rng(Stream::NeuronState);
/// let mut state = model.init_state(3, &mut rng);
/// for _ in 0..1000 {
///     model.integrate(&mut state, &[1.0, 2.0, 3.0], 1e-3); // 1 s
/// }
/// // The exact solution I/lambda_v (1 - e^(-lambda_v t)), whatever the step.
/// let expected = |i: f64| i / 10.0 * (1.0 - (-10.0f64).exp());
/// for (v, i) in model.voltages(&state).iter().zip([1.0, 2.0, 3.0]) {
///     assert!((v - expected(i)).abs() < 1e-12);
/// }
/// assert_eq!(model.select_spike(&state, &[0.1, 0.15, 0.35]), Some(1));
/// assert_eq!(model.select_spike(&state, &[1.0, 1.0, 1.0]), None);
/// // Parameters are checked against dt when the network is built (validate), by name.
/// let bad = registry.neuron(&Spec::new("ebn_exact").with("lambda_v", -1.0), "network.neuron")?;
/// assert!(bad.validate(1e-4).unwrap_err().to_string().contains("lambda_v"));
/// # Ok::<(), ebn_core::Error>(())
/// ```
///
/// A model built into a network is checked against the conformance kit
/// (`ebn_core::conformance::neuron_model`, feature `conformance`).
pub trait NeuronModel: Clone + Debug + Send + Sync + 'static {
    /// Per-neuron state (at least the membrane voltages).
    type State: Clone + Debug + Send + Sync + 'static;

    /// Checks the parameters against the time step; the only fallible method.
    fn validate(&self, dt: f64) -> Result<()>;

    /// The state of `n` neurons at rest. `rng` is the network's neuron-state stream (one
    /// realisation per trial or test), for models with random initial states or parameters;
    /// a deterministic model ignores it.
    fn init_state(&self, n: usize, rng: &mut Rng) -> Self::State;

    /// Membrane voltages (units of the decoded variable, see MODEL.md §3).
    fn voltages<'a>(&self, state: &'a Self::State) -> &'a [f64];

    /// Mutable membrane voltages, for synaptic jumps, noise and perturbations.
    fn voltages_mut<'a>(&self, state: &'a mut Self::State) -> &'a mut [f64];

    /// Advances the sub-threshold dynamics by `dt` under the input current `input` (one
    /// value per neuron, held constant over the step).
    fn integrate(&self, state: &mut Self::State, input: &[f64], dt: f64);

    /// The neuron that fires next in this step, if any. `thresholds` holds one value per
    /// neuron; a silenced neuron has threshold `+inf` and must never be chosen.
    fn select_spike(&self, state: &Self::State, thresholds: &[f64]) -> Option<usize>;

    /// Neuron `k` has just fired (its fast-weight column has been applied). Default: nothing.
    fn on_spike(&self, _state: &mut Self::State, _k: usize) {}

    /// [`on_spike`](Self::on_spike), with the thresholds in force (one per neuron; +inf for
    /// a silenced neuron): what the network calls. Implement this one instead of `on_spike`
    /// where the model's spike state depends on the threshold (an adaptive threshold that
    /// jumps by a fraction of T_k). Default: `on_spike`.
    fn on_spike_at(&self, state: &mut Self::State, k: usize, thresholds: &[f64]) {
        let _ = thresholds;
        self.on_spike(state, k);
    }

    /// Most spikes in one step (the spike policy): 1, the authors' rule, by default. A model
    /// that returns more is asked again after each spike, on the voltages that spike left.
    fn max_spikes_per_step(&self) -> usize {
        1
    }

    /// Whether the fast connections reach this model through its own synapses
    /// ([`receive_fast`](Self::receive_fast)) instead of being added to the voltages at once
    /// (the EBN's instantaneous synapses; the default, `false`). Asked once, when the network
    /// is built.
    fn filters_fast_input(&self) -> bool {
        false
    }

    /// Neuron `k` has fired; `column` is its fast-weight column Omega_f[:, k] (one value per
    /// neuron; `column[k]` is the reset -(||D_k||^2 + mu)) and `thresholds` the thresholds in
    /// use. Called instead of adding `column` to the voltages when
    /// [`filters_fast_input`](Self::filters_fast_input) is true; the default adds it, which is
    /// the instantaneous synapse.
    fn receive_fast(&self, state: &mut Self::State, k: usize, column: &[f64], thresholds: &[f64]) {
        let _ = (k, thresholds);
        for (v, w) in self.voltages_mut(state).iter_mut().zip(column) {
            *v += w;
        }
    }
}

/// The state of a type-erased neuron population.
pub trait NeuronState: Any + Debug + Send + Sync {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn NeuronState>;
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<S: Any + Clone + Debug + Send + Sync> NeuronState for S {
    fn clone_box(&self) -> Box<dyn NeuronState> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// [`NeuronModel`] with the state type erased: what a registry stores and a network built
/// from a file runs. Every [`NeuronModel`] is one (blanket implementation); the network calls
/// it a few times per step and once per spike, never per neuron.
pub trait ErasedNeuron: Debug + Send + Sync {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn ErasedNeuron>;
    /// The model's parameters, for downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
    /// See [`NeuronModel::validate`].
    fn validate(&self, dt: f64) -> Result<()>;
    /// See [`NeuronModel::init_state`].
    fn init_state(&self, n: usize, rng: &mut Rng) -> Box<dyn NeuronState>;
    /// See [`NeuronModel::voltages`].
    fn voltages<'a>(&self, state: &'a dyn NeuronState) -> &'a [f64];
    /// See [`NeuronModel::voltages_mut`].
    fn voltages_mut<'a>(&self, state: &'a mut dyn NeuronState) -> &'a mut [f64];
    /// See [`NeuronModel::integrate`].
    fn integrate(&self, state: &mut dyn NeuronState, input: &[f64], dt: f64);
    /// See [`NeuronModel::select_spike`].
    fn select_spike(&self, state: &dyn NeuronState, thresholds: &[f64]) -> Option<usize>;
    /// See [`NeuronModel::on_spike`].
    fn on_spike(&self, state: &mut dyn NeuronState, k: usize);
    /// See [`NeuronModel::on_spike_at`].
    fn on_spike_at(&self, state: &mut dyn NeuronState, k: usize, thresholds: &[f64]);
    /// See [`NeuronModel::max_spikes_per_step`].
    fn max_spikes_per_step(&self) -> usize;
    /// See [`NeuronModel::filters_fast_input`].
    fn filters_fast_input(&self) -> bool;
    /// See [`NeuronModel::receive_fast`].
    fn receive_fast(&self, state: &mut dyn NeuronState, k: usize, column: &[f64], thresholds: &[f64]);
}

fn state_of<M: NeuronModel + 'static>(s: &dyn NeuronState) -> &M::State
where
    M::State: 'static,
{
    s.as_any().downcast_ref().expect("a state made by the same neuron model")
}

fn state_of_mut<M: NeuronModel + 'static>(s: &mut dyn NeuronState) -> &mut M::State
where
    M::State: 'static,
{
    s.as_any_mut().downcast_mut().expect("a state made by the same neuron model")
}

impl<M: NeuronModel + 'static> ErasedNeuron for M
where
    M::State: 'static,
{
    fn clone_box(&self) -> Box<dyn ErasedNeuron> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn validate(&self, dt: f64) -> Result<()> {
        NeuronModel::validate(self, dt)
    }
    fn init_state(&self, n: usize, rng: &mut Rng) -> Box<dyn NeuronState> {
        Box::new(NeuronModel::init_state(self, n, rng))
    }
    fn voltages<'a>(&self, state: &'a dyn NeuronState) -> &'a [f64] {
        NeuronModel::voltages(self, state_of::<M>(state))
    }
    fn voltages_mut<'a>(&self, state: &'a mut dyn NeuronState) -> &'a mut [f64] {
        NeuronModel::voltages_mut(self, state_of_mut::<M>(state))
    }
    fn integrate(&self, state: &mut dyn NeuronState, input: &[f64], dt: f64) {
        NeuronModel::integrate(self, state_of_mut::<M>(state), input, dt);
    }
    fn select_spike(&self, state: &dyn NeuronState, thresholds: &[f64]) -> Option<usize> {
        NeuronModel::select_spike(self, state_of::<M>(state), thresholds)
    }
    fn on_spike(&self, state: &mut dyn NeuronState, k: usize) {
        NeuronModel::on_spike(self, state_of_mut::<M>(state), k);
    }
    fn on_spike_at(&self, state: &mut dyn NeuronState, k: usize, thresholds: &[f64]) {
        NeuronModel::on_spike_at(self, state_of_mut::<M>(state), k, thresholds);
    }
    fn max_spikes_per_step(&self) -> usize {
        NeuronModel::max_spikes_per_step(self)
    }
    fn filters_fast_input(&self) -> bool {
        NeuronModel::filters_fast_input(self)
    }
    fn receive_fast(&self, state: &mut dyn NeuronState, k: usize, column: &[f64], thresholds: &[f64]) {
        NeuronModel::receive_fast(self, state_of_mut::<M>(state), k, column, thresholds);
    }
}

/// A neuron model chosen at run time (from a registry), itself a [`NeuronModel`].
#[derive(Debug)]
pub struct DynNeuron(pub Box<dyn ErasedNeuron>);

impl Clone for DynNeuron {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

/// The state of a [`DynNeuron`].
#[derive(Debug)]
pub struct DynState(pub Box<dyn NeuronState>);

impl Clone for DynState {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl DynNeuron {
    /// The concrete model, if it is an `M`.
    pub fn downcast<M: 'static>(&self) -> Option<&M> {
        self.0.as_any().downcast_ref()
    }
}

impl NeuronModel for DynNeuron {
    type State = DynState;
    fn validate(&self, dt: f64) -> Result<()> {
        self.0.validate(dt)
    }
    fn init_state(&self, n: usize, rng: &mut Rng) -> DynState {
        DynState(self.0.init_state(n, rng))
    }
    fn voltages<'a>(&self, state: &'a DynState) -> &'a [f64] {
        self.0.voltages(state.0.as_ref())
    }
    fn voltages_mut<'a>(&self, state: &'a mut DynState) -> &'a mut [f64] {
        self.0.voltages_mut(state.0.as_mut())
    }
    fn integrate(&self, state: &mut DynState, input: &[f64], dt: f64) {
        self.0.integrate(state.0.as_mut(), input, dt);
    }
    fn select_spike(&self, state: &DynState, thresholds: &[f64]) -> Option<usize> {
        self.0.select_spike(state.0.as_ref(), thresholds)
    }
    fn on_spike(&self, state: &mut DynState, k: usize) {
        self.0.on_spike(state.0.as_mut(), k);
    }
    fn on_spike_at(&self, state: &mut DynState, k: usize, thresholds: &[f64]) {
        self.0.on_spike_at(state.0.as_mut(), k, thresholds);
    }
    fn max_spikes_per_step(&self) -> usize {
        self.0.max_spikes_per_step()
    }
    fn filters_fast_input(&self) -> bool {
        self.0.filters_fast_input()
    }
    fn receive_fast(&self, state: &mut DynState, k: usize, column: &[f64], thresholds: &[f64]) {
        self.0.receive_fast(state.0.as_mut(), k, column, thresholds);
    }
}
