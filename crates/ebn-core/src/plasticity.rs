//! The plasticity-rule trait.

use crate::error::{Error, Result};
use crate::weights::{SlowWeights, WeightForm};
use faer::Mat;
use std::any::Any;
use std::fmt::Debug;

/// What a learning rule may read at step n + 1 (MODEL.md §8, sub-step 5): the errors, the
/// basis values and the state of the network after the step's spikes and decay.
#[derive(Debug, Clone, Copy)]
pub struct LearningSignal<'a> {
    /// Output error e_(n+1) = x_(n+1) - x_hat_(n+1), length J.
    pub error: &'a [f64],
    /// Feedback current per neuron before the gain, [D^T e]_i, length N: the postsynaptic
    /// factor, which neuron i itself receives.
    pub feedback: &'a [f64],
    /// Presynaptic basis values Psi(r_(n+1)), length N_b.
    pub psi: &'a [f64],
    /// The teacher's state x_(n+1), length J.
    pub target: &'a [f64],
    /// The readout x_hat_(n+1), length J.
    pub readout: &'a [f64],
    /// The presynaptic traces r_(n+1), length N.
    pub traces: &'a [f64],
    /// The membrane voltages after the step's spikes, length N.
    pub voltages: &'a [f64],
    /// The neurons that fired in this step, in firing order.
    pub spikes: &'a [usize],
    /// The decoder D (J x N).
    pub decoder: &'a Mat<f64>,
    /// Time t_(n+1) since the start of the run (s).
    pub t: f64,
    /// Multiplier of the rule's rate set by the protocol (1 normally; annealing lowers it).
    pub rate_scale: f64,
    /// Time step (s).
    pub dt: f64,
}

/// Which run a network starts (`Network::start_run` tells the rule and the perturbations in
/// force): each training trial and each test is a run, from rest, with t counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunKind {
    /// Training trial `trial` (from 0).
    Training {
        /// The trial's index.
        trial: usize,
    },
    /// Test `index` of the configuration, its repeat `repeat` (0 for the test itself).
    Test {
        /// The test's index.
        index: usize,
        /// The repeat (other membrane-noise realisations of the same test).
        repeat: u64,
    },
    /// A run started from code.
    #[default]
    Other,
}

/// The sizes a rule is bound to when the network is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSetup {
    /// Storage of the slow weights.
    pub form: WeightForm,
    /// Number of neurons N.
    pub n: usize,
    /// State dimension J.
    pub dim: usize,
    /// Number of basis functions N_b.
    pub n_basis: usize,
}

/// A rule that changes the slow weights.
///
/// **Learning-rate convention** (the same from code and from a file): a rule's configured
/// rate is per basis function, and the rule divides it by N_b in [`bind`](Self::bind)
/// (MODEL.md §6: the effective learning gain grows with N_b).
///
/// A rule may keep state that changes with time (a running average, the inverse correlation
/// matrix of recursive least squares, eligibility traces); it exposes it through
/// [`state`](Self::state) and [`set_state`](Self::set_state), and checkpoints save and restore
/// it, so that a resumed training run stays bit-identical.
///
/// # Implementing and registering a rule
///
/// A rule with its own parameters and state (a running mean of ||e||, saved in checkpoints),
/// registered under a kind and built from a [`crate::Spec`] as an experiment file names it
/// (`rule = { kind = "scaled_by_mean_error", eta = 5.0 }`):
///
/// ```
/// use ebn_core::{
///     LearningSignal, Mat, PlasticityRule, Registry, Result, RuleSetup, SlowWeights, Spec, WeightForm, check,
/// };
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Params { eta: f64 }
///
/// /// dW/dt = eta_raw e Psi^T / (1 + m), m a running mean of ||e|| (time constant 1 s).
/// #[derive(Debug)]
/// struct Normalised { raw: f64, eta: f64, mean: f64 }
///
/// impl PlasticityRule for Normalised {
///     fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
///         if setup.form == WeightForm::Dense {
///             return Err(ebn_core::Error::Unsupported("factored weights only".into()));
///         }
///         self.raw = self.eta / setup.n_basis as f64; // the rate is per basis function
///         Ok(())
///     }
///     fn update(&mut self, s: &LearningSignal<'_>, weights: &mut SlowWeights) {
///         let norm = s.error.iter().map(|e| e * e).sum::<f64>().sqrt();
///         self.mean += s.dt * (norm - self.mean);
///         if let SlowWeights::Factored(wt) = weights {
///             for (j, e) in s.error.iter().enumerate() {
///                 let g = s.dt * self.raw * s.rate_scale * e / (1.0 + self.mean);
///                 for (w, p) in wt.col_as_slice_mut(j).iter_mut().zip(s.psi) {
///                     *w += g * p;
///                 }
///             }
///         }
///     }
///     fn state(&self) -> Vec<f64> { vec![self.mean] }
///     fn set_state(&mut self, state: &[f64]) -> Result<()> {
///         check::same_len("rule state", 1, state.len())?;
///         self.mean = state[0];
///         Ok(())
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_rule("scaled_by_mean_error", |p: Params| -> Result<Box<dyn PlasticityRule>> {
///     Ok(Box::new(Normalised { raw: 0.0, eta: check::non_negative("eta", p.eta)?, mean: 0.0 }))
/// });
/// let mut rule = registry.rule(&Spec::new("scaled_by_mean_error").with("eta", 4.0), "network.rule")?;
/// rule.bind(&RuleSetup { form: WeightForm::Factored, n: 3, dim: 1, n_basis: 2 })?;
/// let (d, mut w) = (Mat::zeros(1, 3), SlowWeights::zeros(WeightForm::Factored, 3, 1, 2));
/// let signal = LearningSignal {
///     error: &[0.5], feedback: &[0.0; 3], psi: &[1.0, -1.0], target: &[0.5], readout: &[0.0],
///     traces: &[0.0; 3], voltages: &[0.0; 3], spikes: &[], decoder: &d, t: 0.0, rate_scale: 1.0, dt: 0.1,
/// };
/// rule.update(&signal, &mut w);
/// assert!(w.matrix()[(0, 0)] > 0.0 && w.matrix()[(1, 0)] < 0.0);
/// assert_eq!(rule.state(), vec![0.05]); // saved in checkpoints, restored on resume
/// // A parameter the rule does not have is an error naming it.
/// assert!(registry.rule(&Spec::new("scaled_by_mean_error").with("etta", 4.0), "network.rule").is_err());
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait PlasticityRule: Any + Debug + Send + Sync {
    /// Binds the rule to the network's sizes and weight form, once, when the network is
    /// built; errors if it cannot act on them (a rule that is not of the form `(D^T a) b^T`
    /// has no factored version). Allocates the rule's state.
    fn bind(&mut self, setup: &RuleSetup) -> Result<()>;

    /// Applies one step of learning to `weights`.
    fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights);

    /// A run starts (`run`: which one); the next [`update`](Self::update) is its first, with
    /// `signal.t` counted from the run's start. For a rule that resets something per run (a
    /// filtered error). Default: nothing.
    fn begin_run(&mut self, run: RunKind) {
        let _ = run;
    }

    /// The rule's state as numbers (empty for a rule without state).
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Restores a state returned by [`state`](Self::state) (after [`bind`](Self::bind)).
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(Error::Corrupt(format!("a rule without state was given {} state values", state.len())))
        }
    }
}
