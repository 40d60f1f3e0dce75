//! The perturbation trait: anything that acts on a running network from outside.

use crate::weights::SlowWeights;
use std::fmt::Debug;

/// The parts of a running network a perturbation may read and change, at one step.
///
/// It is handed to [`Perturbation::apply`] after the voltages have been integrated and before
/// the spikes are chosen (sub-step 2 of MODEL.md §8), so a voltage kick can cause a spike in
/// the same step and a silenced neuron cannot fire in it.
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
    base_thresholds: &'a [f64],
    alive: &'a mut [bool],
    traces: &'a mut [f64],
    traces_changed: bool,
}

impl<'a> PerturbationContext<'a> {
    /// Builds a context over the network's arrays (used by the engine). `thresholds` are the
    /// thresholds in force (+inf for silenced neurons), `base_thresholds` those of the model.
    pub fn new(
        step: u64,
        dt: f64,
        voltages: &'a mut [f64],
        slow_weights: &'a mut SlowWeights,
        thresholds: &'a mut [f64],
        base_thresholds: &'a [f64],
        alive: &'a mut [bool],
        traces: &'a mut [f64],
    ) -> Self {
        Self {
            step,
            t: step as f64 * dt,
            dt,
            voltages,
            slow_weights,
            thresholds,
            base_thresholds,
            alive,
            traces,
            traces_changed: false,
        }
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

    /// The thresholds in force (+inf for a silenced neuron).
    pub fn thresholds(&self) -> &[f64] {
        self.thresholds
    }

    /// The model thresholds T_i = (||D_i||^2 + mu + nu) / 2, unperturbed.
    pub fn base_thresholds(&self) -> &[f64] {
        self.base_thresholds
    }

    /// Sets the threshold of neuron `i` (in force from this step's spike choice on, until it
    /// is set again). A silenced neuron stays silenced: its threshold is not changed.
    /// Values that are not finite are ignored (use [`silence`](Self::silence)).
    pub fn set_threshold(&mut self, i: usize, value: f64) {
        if self.alive[i] && value.is_finite() {
            self.thresholds[i] = value;
        }
    }

    /// The presynaptic traces r, length N.
    pub fn traces(&self) -> &[f64] {
        self.traces
    }

    /// The traces r, mutably. The network recomputes x_hat = D r, the basis drive and Psi
    /// from them after the perturbations of the step (an O(N J + N N_b) cost, paid only when
    /// this is called). Negative or non-finite values are clamped to 0.
    pub fn traces_mut(&mut self) -> &mut [f64] {
        self.traces_changed = true;
        self.traces
    }

    /// Whether [`traces_mut`](Self::traces_mut) was called (used by the engine).
    pub fn traces_changed(&self) -> bool {
        self.traces_changed
    }
}

/// The input current of one step, before the membranes integrate it (MODEL.md §8,
/// sub-step 2), for perturbations that inject or block current.
#[derive(Debug)]
pub struct InputContext<'a> {
    /// Index of the current step n.
    pub step: u64,
    /// Time t_n = n dt (s).
    pub t: f64,
    /// Time step (s).
    pub dt: f64,
    /// The summed input current I per neuron (V/s), length N.
    pub input: &'a mut [f64],
}

/// A scheduled intervention on a running network (noise, neuron death, synaptic damage,
/// input pulses...). Implementations decide from the step and time when to act and draw
/// their randomness from their own stream, so adding one never changes any other random
/// number.
///
/// # Implementing and plugging in a perturbation
///
/// A voltage kick to one neuron at one instant, registered as `kick` and scheduled in an
/// experiment file's `[[test]]` (`perturbations = [{ kind = "kick", neuron = 3, at = 0.5,
/// size = 0.01 }]`):
///
/// ```
/// use ebn_core::{Error, Perturbation, PerturbationContext, PerturbationSetup, Mat, Registry, Result, SeedStreams,
///     SlowWeights, Spec, Stream, WeightForm, check};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Kick { neuron: usize, at: f64, size: f64, #[serde(skip)] done: bool }
///
/// impl Perturbation for Kick {
///     fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
///         if !self.done && ctx.t >= self.at && self.neuron < ctx.n_neurons() {
///             ctx.voltages[self.neuron] += self.size;
///             self.done = true;
///         }
///     }
///     fn finished(&self, _t: f64) -> bool { self.done }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_perturbation("kick", |k: Kick, setup: &PerturbationSetup<'_>, _rng| -> Result<Box<dyn Perturbation>> {
///     let n = setup.decoder.ncols();
///     if k.neuron >= n {
///         return Err(Error::invalid("neuron", k.neuron, format!("an index below N = {n}")));
///     }
///     check::non_negative("at", k.at)?;
///     Ok(Box::new(k))
/// });
/// let decoder = Mat::<f64>::zeros(2, 4);
/// let setup = PerturbationSetup { decoder: &decoder, dt: 0.1 };
/// let rng = SeedStreams::new(1).indexed(Stream::Perturbation, 0);
/// let spec = Spec::new("kick").with("neuron", 2).with("at", 0.25).with("size", 0.5);
/// let mut kick = registry.perturbation(&spec, "test.perturbations[0]", &setup, rng.clone())?;
///
/// // Drive it as the network does, step by step, over plain arrays.
/// let (mut v, mut t, mut alive, mut r) = (vec![0.0; 4], vec![1.0; 4], vec![true; 4], vec![0.0; 4]);
/// let base = t.clone();
/// let mut w = SlowWeights::zeros(WeightForm::Factored, 4, 2, 4);
/// for step in 0..5 {
///     let mut ctx = PerturbationContext::new(step, 0.1, &mut v, &mut w, &mut t, &base, &mut alive, &mut r);
///     kick.apply(&mut ctx);
///     assert_eq!(kick.finished(ctx.t), step >= 3, "step {step}"); // t = 0.3 is the first >= 0.25
/// }
/// assert_eq!(v, [0.0, 0.0, 0.5, 0.0]);
/// // A neuron the network does not have is an error naming the field.
/// let bad = Spec::new("kick").with("neuron", 9).with("at", 0.0).with("size", 1.0);
/// assert!(registry.perturbation(&bad, "p", &setup, rng).unwrap_err().to_string().contains("neuron"));
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait Perturbation: Debug + Send {
    /// Acts on the network at one step, after the membranes integrated their input.
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>);

    /// Acts on the input current of a step, before the membranes integrate it. Default:
    /// nothing.
    fn apply_input(&mut self, _ctx: &mut InputContext<'_>) {}

    /// A run starts (`run`: which one): its steps count from 0 again. Told to every
    /// perturbation in force when the run starts (permanent ones included; one built for the
    /// run is built at its start). Default: nothing.
    fn begin_run(&mut self, run: crate::RunKind) {
        let _ = run;
    }

    /// Whether the perturbation has nothing left to do after time `t` (s); the network then
    /// removes it. Default: never (it acts for the whole run).
    fn finished(&self, _t: f64) -> bool {
        false
    }
}
