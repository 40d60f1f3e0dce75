//! How one run runs: the protocol's switches and the run's resources, given at once
//! ([`RunSettings`] to [`Network::start_run`]), and undone at its end.

use crate::network::Network;
use ebn_core::{NeuronModel, Perturbation, Result, Rng, RunKind, SlowWeights, check};

impl<M: NeuronModel> Network<M> {
    /// Starts a run (a training trial, a test): the state back to rest (V, r, x_hat, e = 0,
    /// t = 0; the neuron model's initial state drawn from `settings.neuron_state`), the run's
    /// `from_start` perturbations installed ahead of every other (membrane noise, dropout),
    /// the preload run (MODEL.md §7), then the run's other perturbations installed and its
    /// protocol in force. The settings are checked first: on an error nothing has
    /// changed. A run that has not ended is ended first. What the run's perturbations may
    /// damage is remembered, for [`Network::end_run`].
    pub fn start_run(&mut self, settings: RunSettings) -> Result<()> {
        settings.protocol.validate()?;
        if let Some(p) = &settings.preload {
            check::same_len("preload state", self.config.dim, p.state.len())?;
            check::all_finite("preload state", &p.state)?;
            check::non_negative("preload duration", p.duration)?;
            check::non_negative("preload gain", p.gain)?;
        }
        self.end_run();
        let RunSettings { kind, protocol, mut neuron_state, from_start, preload, perturbations } = settings;
        // A run that learns keeps what happens to its weights (its perturbations act on
        // what it learns from); one that does not leaves them as it found them.
        let perturbed = !perturbations.is_empty() || !from_start.is_empty();
        let weights = (!protocol.learning && perturbed).then(|| self.slow.clone());
        self.run_start =
            Some(RunStart { thresholds: self.pop.thresholds.clone(), alive: self.pop.alive.clone(), weights });
        self.reset_state_with(&mut neuron_state);
        // Ahead of the permanent perturbations: the membrane noise acts on the membranes
        // first, as it did when it was the network's own.
        let first: Vec<_> = from_start.into_iter().map(|p| (p, true)).collect();
        self.perturbations.splice(0..0, first);
        if let Some(p) = preload {
            self.preload(&p.state, p.duration, p.gain);
        }
        self.perturbations.extend(perturbations.into_iter().map(|p| (p, true)));
        self.protocol = protocol;
        // Told after the preload: the run's own steps start now.
        self.rule.begin_run(kind);
        for (p, _) in &mut self.perturbations {
            p.begin_run(kind);
        }
        Ok(())
    }

    /// Ends the run started by [`Network::start_run`], if any: its perturbations are removed,
    /// the thresholds and the silenced neurons are as they were at its start, and the slow
    /// weights too where it did not learn. Learning, the weights it changed and permanent
    /// perturbations stay. The protocol stays in force.
    pub fn end_run(&mut self) {
        self.perturbations.retain(|(_, run)| !run);
        if let Some(start) = self.run_start.take() {
            self.pop.thresholds = start.thresholds;
            self.pop.alive = start.alive;
            if let Some(w) = start.weights {
                self.slow = w;
                self.slow_current_ready = false;
            }
        }
    }

    /// Changes the protocol of the run in force (checked): from the next step on, the error
    /// is fed back with this gain and the rule learns or not at this rate.
    pub fn set_protocol(&mut self, protocol: Protocol) -> Result<()> {
        protocol.validate()?;
        self.protocol = protocol;
        Ok(())
    }

    /// The protocol in force.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Brings the network from rest to represent the constant state `x0` (MODEL.md §7): runs
    /// it for `duration` seconds as an autoencoder of x0, with the slow current and learning
    /// off, the command lambda x0 (which holds x_hat = x0 in place) and the error fed back
    /// with gain `gain` (1/s). The step counter is then reset, so the run that follows starts
    /// at t = 0; the protocol in force before is restored.
    pub fn preload(&mut self, x0: &[f64], duration: f64, gain: f64) {
        debug_assert_eq!(x0.len(), self.config.dim);
        let saved = self.protocol;
        self.protocol = Protocol { feedback_gain: gain, learning: false, rate_scale: saved.rate_scale };
        self.slow_enabled = false;
        let hold: Vec<f64> = x0.iter().map(|x| self.config.lambda * x).collect();
        let steps = (duration / self.config.dt).round() as u64;
        for _ in 0..steps {
            self.step(&hold, Some(x0));
        }
        self.protocol = saved;
        self.slow_enabled = true;
        self.step = 0;
    }
}

/// The protocol's switches of a run: what the network does with the teacher's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Protocol {
    /// The feedback gain K (1/s, >= 0): K (x - x_hat) enters the voltages through D^T
    /// (MODEL.md §4); 0 in a test.
    pub feedback_gain: f64,
    /// Whether the rule learns (at the steps given a teacher's state).
    pub learning: bool,
    /// Multiplier of the rule's rate (>= 0; annealing and reduce-on-plateau lower it); 1
    /// normally.
    pub rate_scale: f64,
}

impl Protocol {
    /// Training: the error fed back with gain `feedback_gain` (1/s), the rule learning at
    /// its own rate.
    pub fn training(feedback_gain: f64) -> Self {
        Self { feedback_gain, learning: true, rate_scale: 1.0 }
    }

    /// The network on its own: no feedback, no learning (a test, a free run).
    pub const FREE: Protocol = Protocol { feedback_gain: 0.0, learning: false, rate_scale: 1.0 };

    pub(crate) fn validate(&self) -> Result<()> {
        check::non_negative("feedback_gain", self.feedback_gain)?;
        check::non_negative("rate_scale", self.rate_scale)?;
        Ok(())
    }
}

/// Everything one run (a training trial, a test) sets on a network, given at once to
/// [`Network::start_run`]; [`Network::end_run`] undoes what the run may have damaged.
#[derive(Debug)]
pub struct RunSettings {
    /// Which run (told to the rule and the perturbations).
    pub kind: RunKind,
    /// Feedback gain, learning and rate scale.
    pub protocol: Protocol,
    /// The stream of the neuron model's initial state (each run its own).
    pub neuron_state: Rng,
    /// Perturbations of this run in force from its start, through the preload, ahead of every
    /// other perturbation: the membrane noise (`network.sigma_v`, drawn from the run's noise
    /// stream, so that a resumed run draws what an uninterrupted one does) and the training
    /// dropout.
    pub from_start: Vec<Box<dyn Perturbation>>,
    /// The state to preload before the run (MODEL.md §7), if any.
    pub preload: Option<PreloadState>,
    /// Perturbations of this run only (in files: `[training]` and `[[test]]`
    /// `perturbations`).
    pub perturbations: Vec<Box<dyn Perturbation>>,
}

impl RunSettings {
    /// A run with this protocol and neuron-state stream, and nothing else.
    pub fn new(protocol: Protocol, neuron_state: Rng) -> Self {
        Self {
            kind: RunKind::Other,
            protocol,
            neuron_state,
            from_start: Vec::new(),
            preload: None,
            perturbations: Vec::new(),
        }
    }
}

/// A preload (MODEL.md §7, [`Network::preload`]): the state x0 to represent, for how long
/// (s) and with what feedback gain (1/s).
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadState {
    /// x0 (length J).
    pub state: Vec<f64>,
    /// Seconds.
    pub duration: f64,
    /// Feedback gain (1/s).
    pub gain: f64,
}

/// What a run's perturbations may damage, as it was at the run's start.
#[derive(Debug, Clone)]
pub(crate) struct RunStart {
    pub(crate) thresholds: Vec<f64>,
    pub(crate) alive: Vec<bool>,
    /// The slow weights, for a run that does not learn and has perturbations.
    pub(crate) weights: Option<SlowWeights>,
}
