//! Experiments: a teacher, a network, a training protocol and tests (MODEL.md §7).

use crate::builtins;
use crate::data::{DataConfig, RecordedData, Segment};
use ebn_core::{
    Analysis, Category, CommandSignal, CommandStream, Error, Integrator, NeuronModel, Observer, PerturbationSetup,
    Recording, Registry, Result, SeedStreams, SlowWeights, Spec, StoredWeights, Stream, TargetSystem, WeightForm,
    check,
};
use ebn_engine::{
    Network, NetworkConfig, Overrides, PreloadState, Protocol, RecordConfig, Recorder, RunSettings, linear_slow_weights,
};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// The slow weights an experiment starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialWeights {
    /// Omega_s = 0 (learning starts here, MODEL.md §6).
    #[default]
    Zero,
    /// The closed form D^T (A + lambda I) D; needs a linear target and the identity basis.
    ClosedForm,
}

/// A complete, serialisable description of an experiment: what to learn, with which network,
/// how to train it and how to test it. TOML: top-level keys, `[target]`, `[network]`,
/// `[training]`, one `[[test]]` table per test.
///
/// Every component (target, integrator, commands, neuron, basis, rule, perturbations,
/// analyses) is a [`Spec`], `kind = "..."` plus its parameters, resolved through a
/// [`Registry`] when the experiment is built: a fork's kinds work like the built-in ones.
///
/// The teacher is a vector field (`[target]`), a recording (`[data]`, [`crate::data`]), or
/// both: training replays the recording if `data.train` is set, a test replays it if it has a
/// `start`; everything else needs the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Master seed; every random stream derives from it.
    pub seed: u64,
    /// The teacher system: needed unless training and every test replay `[data]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Spec>,
    /// A recorded teacher trajectory (its arrays are read by the front end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataConfig>,
    /// The teacher's integrator (default `rk4`).
    #[serde(default = "default_integrator")]
    pub integrator: Spec,
    /// The network.
    pub network: NetworkConfig,
    /// Initial slow weights.
    #[serde(default)]
    pub slow_weights: InitialWeights,
    /// How the network is brought to a nonzero initial state before a trial or a test.
    #[serde(default)]
    pub preload: Preload,
    /// The training protocol; absent for fixed-weight experiments.
    #[serde(default)]
    pub training: Option<TrainingConfig>,
    /// The tests (K = 0, no learning), each a `[[test]]` table.
    #[serde(default, rename = "test")]
    pub tests: Vec<TestConfig>,
    /// What to record during tests.
    #[serde(default)]
    pub record: RecordConfig,
}

fn default_integrator() -> Spec {
    Spec::new("rk4")
}

/// Preloading (MODEL.md §7): before a run from a nonzero x0, the network runs as an
/// autoencoder of the constant x0 (slow current off, command lambda x0, feedback gain `gain`)
/// for `duration` seconds. Project defaults: 0.2 s at 50 /s (x_hat settles with time
/// constant 1 / (lambda + gain) = 17 ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Preload {
    /// Duration (s); 0 to start from rest.
    pub duration: f64,
    /// Feedback gain during the preload (1/s).
    pub gain: f64,
}

impl Default for Preload {
    fn default() -> Self {
        Self { duration: 0.2, gain: 50.0 }
    }
}

/// The training protocol (MODEL.md §7): `trials` trials of `trial_duration` seconds; in each
/// the teacher starts from a drawn initial state, is driven by a fresh realisation of
/// `command`, and the network learns with the error fed back with the network's K.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Number of trials.
    pub trials: usize,
    /// Duration of each trial (s).
    pub trial_duration: f64,
    /// The training command (realisation k for trial k); absent when training replays
    /// `[data]` (its recorded command is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Spec>,
    /// Initial state of the teacher in each trial.
    #[serde(default)]
    pub initial_state: InitialState,
    /// Optional annealing of K and eta over the last trials.
    #[serde(default)]
    pub anneal: Option<Anneal>,
    /// Fraction of the neurons silenced in each training trial, a fresh random set per trial
    /// (drawn from the trial's perturbation stream) and all revived at its end: training with
    /// neuron turnover, so that the learned weights do not rely on any particular neurons.
    /// 0 (default) trains the intact network. A project addition, not in the paper.
    #[serde(default)]
    pub dropout: f64,
    /// If set, a trial whose teacher leaves the box |x_j| <= bound_j is redrawn (new initial
    /// state and command), so that training stays in the region the basis covers (e.g. a
    /// pendulum swinging over the top).
    #[serde(default)]
    pub bound: Option<Vec<f64>>,
    /// Perturbations applied in every training trial (a fresh instance per trial, its times
    /// counted from the start of the trial, its random stream indexed by the trial); silenced
    /// neurons are revived at the end of each trial.
    #[serde(default)]
    pub perturbations: Vec<Spec>,
    /// The error-feedback gain K during training (1/s), if it differs from the network's
    /// `feedback_gain`; 0 learns without feedback, as plain PES in Nengo does: the rule still
    /// sees e, but e no longer steers the network toward the teacher (docs/RULES.md measures
    /// what the feedback buys). Annealing with `feedback = true` scales this value.
    #[serde(default)]
    pub feedback_gain: Option<f64>,
    /// If set, training lowers eta at plateaus of the learning curve and stops at the last
    /// one ([`Plateau`]); `trials` is then the most it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_plateau: Option<Plateau>,
}

/// A stopping rule on the learning curve, with learning-rate reductions on the way
/// ("reduce on plateau"). A block of `window` trials has plateaued if its median error is not
/// below `(1 - tolerance)` times the median of the `window` trials before it; blocks are
/// counted from the start of the current stage, and nothing is decided before `min_trials`.
/// Each plateau multiplies eta by `factor` and starts a new stage, `reductions` times; the
/// next plateau ends training. Medians, because a chaotic teacher makes single trials' errors
/// vary by factors. Lowering the rate at a plateau shrinks the weights' fluctuation around
/// their optimum (for the LMS-like rule, the excess error is proportional to eta), and the
/// free run uses a snapshot of those weights. The stages depend only on the learning curve,
/// so a resumed run continues where an uninterrupted one does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    /// Trials per block (>= 1).
    pub window: usize,
    /// Smallest relative improvement between blocks that keeps a stage going, in [0, 1).
    pub tolerance: f64,
    /// Trials always run before the rule is consulted (default 0).
    #[serde(default)]
    pub min_trials: usize,
    /// Learning-rate reductions before the final plateau (default 0: stop at the first).
    #[serde(default)]
    pub reductions: usize,
    /// Factor on eta at each reduction, in (0, 1] (default 0.25).
    #[serde(default = "quarter")]
    pub factor: f64,
}

fn quarter() -> f64 {
    0.25
}

impl Plateau {
    /// The number of plateaus the learning curve `curve` (one error per trial) has reached.
    pub fn stages(&self, curve: &[f64]) -> usize {
        let w = self.window;
        if w == 0 {
            return 0;
        }
        let median = |s: &[f64]| {
            let mut v = s.to_vec();
            v.sort_by(f64::total_cmp);
            if v.len() % 2 == 1 { v[v.len() / 2] } else { 0.5 * (v[v.len() / 2 - 1] + v[v.len() / 2]) }
        };
        let (mut start, mut stages) = (0, 0);
        for n in 1..=curve.len() {
            let done = n - start;
            if done < 2 * w || done % w != 0 || n < self.min_trials {
                continue;
            }
            let (last, before) = (median(&curve[n - w..n]), median(&curve[n - 2 * w..n - w]));
            // A NaN block (a diverged trial) counts as a plateau.
            if last.is_nan() || before.is_nan() || last >= (1.0 - self.tolerance) * before {
                stages += 1;
                start = n;
            }
        }
        stages
    }

    /// Whether training is over: the plateau after the last reduction reached.
    pub fn reached(&self, curve: &[f64]) -> bool {
        self.stages(curve) > self.reductions
    }

    /// The factor on eta for the next trial.
    pub fn rate_factor(&self, curve: &[f64]) -> f64 {
        self.factor.powi(self.stages(curve).min(self.reductions) as i32)
    }
}

/// Initial state of the teacher in each training trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitialState {
    /// x0 = 0.
    #[default]
    Zero,
    /// The same x0 every trial.
    Fixed {
        /// The state.
        x: Vec<f64>,
    },
    /// x0_j ~ U(low_j, high_j), drawn from the initial-state stream of the trial.
    Uniform {
        /// Lower corner.
        low: Vec<f64>,
        /// Upper corner.
        high: Vec<f64>,
    },
    /// One of `points`, chosen uniformly at random, plus a Gaussian displacement of
    /// standard deviation `jitter` per component (both from the initial-state stream of the
    /// trial): states on an attractor and near it (the fitting recipe samples them from a
    /// long teacher run).
    Points {
        /// Candidate states (each of length J).
        points: Vec<Vec<f64>>,
        /// Standard deviation of the displacement (units of x; default 0).
        #[serde(default)]
        jitter: f64,
    },
}

/// Annealing: from trial `start * trials` on, eta (and, if `feedback`, K) is multiplied by a
/// factor that falls from 1 to `final_scale` at the last trial, linearly or in one step
/// (MODEL.md §7: without it the error drifts back up at the end of training).
///
/// By default only eta is annealed (MODEL.md §7). Annealing K too (`feedback = true`, this
/// project's behaviour before format version 3) is safe only while K times the factor stays
/// above the rate at which the teacher's flow separates nearby states: with Psi evaluated at
/// x_hat the error obeys de/dt = f(x) - f(x_hat) - K e - W~ Psi(x_hat), so once K is below
/// the expansion rate of f (van der Pol: up to mu x speed = 6.6 /s at x = 0) e stops
/// contracting, x_hat leaves x, and the rule learns f at the wrong states (docs/MODEL.md and
/// docs/REPRODUCTION.md "Annealing and the feedback gain": van der Pol at K 5 -> 1 unlearns
/// its cycle, learning curve 0.005 -> 0.22).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anneal {
    /// Fraction of the trials after which annealing starts, in [0, 1].
    pub start: f64,
    /// Factor at the last trial, in [0, 1].
    pub final_scale: f64,
    /// Whether K is annealed with eta (default false: K keeps its value).
    #[serde(default)]
    pub feedback: bool,
    /// How the factor falls (default linear).
    #[serde(default)]
    pub shape: AnnealShape,
}

/// How an [`Anneal`] factor goes from 1 to `final_scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnealShape {
    /// Linearly over the annealed trials, reaching `final_scale` at the last one.
    #[default]
    Linear,
    /// `final_scale` in every annealed trial (a reference implementation's schedule).
    Step,
}

impl Anneal {
    /// Annealing of eta alone, linear, from trial `start * trials` to `final_scale`.
    pub fn linear(start: f64, final_scale: f64) -> Self {
        Self { start, final_scale, feedback: false, shape: AnnealShape::Linear }
    }

    /// The factor for trial `k` of `n`.
    pub fn factor(&self, k: usize, n: usize) -> f64 {
        let first = (self.start * n as f64).floor() as usize;
        if k < first {
            return 1.0;
        }
        if self.shape == AnnealShape::Step || n <= first + 1 {
            return self.final_scale;
        }
        let progress = (k - first) as f64 / (n - 1 - first) as f64;
        1.0 + (self.final_scale - 1.0) * progress
    }

    /// The factor on K for trial `k` of `n`: [`Anneal::factor`] if `feedback`, else 1.
    pub fn feedback_factor(&self, k: usize, n: usize) -> f64 {
        if self.feedback { self.factor(k, n) } else { 1.0 }
    }
}

/// A test: K = 0, no learning, the network on its own from the teacher's initial state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    /// Name of the test (used in file names and the summary).
    pub name: String,
    /// Duration (s).
    pub duration: f64,
    /// The command (a fresh realisation, not one used in training); absent for a test that
    /// replays `[data]` (its recorded command is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Spec>,
    /// Initial state of teacher and (by preloading) network; default 0. Not for a test that
    /// replays `[data]` (it starts from the recorded state).
    #[serde(default)]
    pub initial_state: Option<Vec<f64>>,
    /// Time in the recording (`[data]`, s) from which this test replays it: teacher, initial
    /// state and command are the recorded ones. Absent: the test runs the `[target]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// Analyses to run on the recording, besides the NRMSE.
    #[serde(default)]
    pub analyses: Vec<Spec>,
    /// Perturbations applied during the test (times counted from its start). The network's
    /// slow weights, thresholds and silenced neurons are restored after the test, so tests
    /// do not affect each other.
    #[serde(default)]
    pub perturbations: Vec<Spec>,
}

/// Named numbers of an analysis.
pub type Measures = Vec<(String, f64)>;

/// Offset of test command realisations, so that they never coincide with training trials.
const TEST_STREAM_OFFSET: u64 = 1 << 40;

/// Index of the random stream of perturbation `p` of run `run` (a trial, or a test stream
/// index): runs below 2^48, up to 2^16 perturbations each.
fn perturbation_stream(run: u64, p: usize) -> u64 {
    (run << 16) | (p as u64 & 0xFFFF)
}

/// The learning curve and progress of a training run: everything besides the weights that a
/// checkpoint must keep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingState {
    /// Trials completed.
    pub trials_done: usize,
    /// Normalised error sum ||e||^2 / sum ||x||^2 of each completed trial.
    pub learning_curve: Vec<f64>,
    /// Trials redrawn because the teacher left the bound.
    pub redraws: usize,
    /// The learning rule's own state after the last completed trial (empty for rules
    /// without state, such as the paper's).
    pub rule_state: Vec<f64>,
    /// Fraction of the steps of each completed trial at the spike cap
    /// ([`RunStats::capped_fraction`]); empty for the trials of a file older than format
    /// version 3, which did not record it.
    pub capped_fraction: Vec<f64>,
}

/// A built experiment: validated components ready to train and test networks.
#[derive(Debug)]
pub struct Experiment {
    config: ExperimentConfig,
    registry: Registry,
    seeds: SeedStreams,
    teacher: Option<Box<dyn TargetSystem>>,
    data: Option<RecordedData>,
    integrator: Box<dyn Integrator>,
    training_command: Option<Box<dyn CommandSignal>>,
    /// Per test, its command signal (none for a test that replays the recording).
    test_commands: Vec<Option<Box<dyn CommandSignal>>>,
    analyses: Vec<Vec<(String, Box<dyn Analysis>)>>,
    /// Per test and analysis, the suffix of its keys ("" unless its kind repeats in the test).
    key_suffixes: Vec<Vec<String>>,
    /// The initial network built to validate the configuration, handed out by the first
    /// [`Experiment::initial_network`] or [`Experiment::resume`], so that a run builds one.
    validated: std::sync::Mutex<Option<Network>>,
}

impl ExperimentConfig {
    /// Every component the file names, with its category and its place in the file, in the
    /// order of the file.
    pub fn component_specs(&self) -> Vec<(Category, String, &Spec)> {
        let mut specs = Vec::new();
        if let Some(t) = &self.target {
            specs.push((Category::Target, "target".to_string(), t));
        }
        specs.push((Category::Integrator, "integrator".into(), &self.integrator));
        specs.push((Category::Neuron, "network.neuron".into(), &self.network.neuron));
        specs.push((Category::Basis, "network.basis".into(), &self.network.basis));
        specs.push((Category::Rule, "network.rule".into(), &self.network.rule));
        if let Some(t) = &self.training {
            if let Some(c) = &t.command {
                specs.push((Category::Command, "training.command".into(), c));
            }
            for (p, s) in t.perturbations.iter().enumerate() {
                specs.push((Category::Perturbation, format!("training.perturbations[{p}]"), s));
            }
        }
        for (i, test) in self.tests.iter().enumerate() {
            if let Some(c) = &test.command {
                specs.push((Category::Command, format!("test[{i}].command"), c));
            }
            for (a, s) in test.analyses.iter().enumerate() {
                specs.push((Category::Analysis, format!("test[{i}].analyses[{a}]"), s));
            }
            for (p, s) in test.perturbations.iter().enumerate() {
                specs.push((Category::Perturbation, format!("test[{i}].perturbations[{p}]"), s));
            }
        }
        specs
    }

    /// Parses an experiment from TOML text; unknown keys are rejected with their name.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| {
            // One line: where, then what (toml's own message draws the line over several).
            let what = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    Error::Parse(format!("line {line}, column {column}: {what}"))
                }
                None => Error::Parse(what),
            }
        })
    }
}

fn check_state(field: &str, j: usize, x: &[f64]) -> Result<()> {
    check::same_len(field, j, x.len())?;
    check::all_finite(field, x)
}

/// Most steps in one trial or test (10^8, 10^4 s at dt = 0.1 ms): a test keeps every spike,
/// up to one per step.
pub const MAX_RUN_STEPS: f64 = 1e8;

fn check_steps(field: &str, duration: f64, dt: f64) -> Result<()> {
    // A dt that is not > 0 is reported by the network's own check.
    let steps = duration / dt;
    if dt > 0.0 && steps > MAX_RUN_STEPS {
        return Err(Error::invalid(
            field,
            check::show(duration),
            format!("at most {} s at dt = {dt} s (10^8 steps: every spike is kept)", MAX_RUN_STEPS * dt),
        ));
    }
    Ok(())
}

impl Experiment {
    /// Validates the whole configuration and builds the teacher and the commands, with the
    /// built-in components.
    pub fn build(config: &ExperimentConfig) -> Result<Self> {
        Self::build_in(config, builtins())
    }

    /// Validates the whole configuration and builds its components through `registry` (a
    /// fork's registry: the built-ins plus its own kinds). Components made in code are
    /// handed in by registering them under a kind (a closure may capture them).
    ///
    /// A configuration with a `[data]` section needs its recording:
    /// [`Experiment::build_with_data`].
    pub fn build_in(config: &ExperimentConfig, registry: &Registry) -> Result<Self> {
        Self::build_with_data(config, registry, None)
    }

    /// [`Experiment::build_in`] with the recording that the configuration's `[data]` section
    /// names, read by the caller ([`RecordedData::parse`] of the file's bytes).
    pub fn build_with_data(config: &ExperimentConfig, registry: &Registry, data: Option<RecordedData>) -> Result<Self> {
        // Every kind the file names, checked before anything is built: a file written for a
        // fork, read without its registry, names all it lacks in one error.
        let unknown = config
            .component_specs()
            .into_iter()
            .filter_map(|(category, field, spec)| registry.check_kind(category, spec, &field).err())
            .collect();
        if let Some(error) = Error::first_with_unknown_kinds(unknown) {
            return Err(error);
        }
        let teacher = config.target.as_ref().map(|t| registry.target(t, "target")).transpose()?;
        let j = config.network.dim;
        if let Some(teacher) = &teacher {
            check::same_len("network.dim (the target's dimension)", teacher.dim(), j)?;
        }
        let data = match (&config.data, data) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(Error::Unsupported(
                    "a recording was given but the configuration has no [data] section".into(),
                ));
            }
            (Some(d), None) => {
                return Err(Error::Unsupported(format!(
                    "the configuration replays the recording {} ([data]): build it with the recording's arrays \
                     (Experiment::build_with_data; the command line and the Python package read the file)",
                    d.file
                )));
            }
            (Some(_), Some(data)) => {
                check::same_len("data.x (components, the network's dim)", j, data.dim())?;
                Some(data)
            }
        };
        let needs_target = |what: &str| {
            Error::Unsupported(format!("{what} needs a [target] vector field (or a recording to replay: [data])"))
        };
        if teacher.is_none() && config.slow_weights == InitialWeights::ClosedForm {
            return Err(needs_target("slow_weights = \"closed_form\""));
        }
        check::non_negative("preload.duration", config.preload.duration)?;
        check::non_negative("preload.gain", config.preload.gain)?;
        let training_command = match &config.training {
            None => None,
            Some(t) => {
                check::nonzero("training.trials", t.trials)?;
                check::positive("training.trial_duration", t.trial_duration)?;
                check_steps("training.trial_duration", t.trial_duration, config.network.dt)?;
                let replayed = config.data.as_ref().and_then(|d| d.train);
                if let (Some([a, b]), Some(data)) = (replayed, &data) {
                    check::finite("data.train[0]", a)?;
                    data.check_segment("data.train", a, b - a)?;
                    if b - a < t.trial_duration {
                        return Err(Error::invalid(
                            "data.train",
                            format!("[{a}, {b}]"),
                            format!("a range at least one trial long ({} s)", t.trial_duration),
                        ));
                    }
                    let forbid = |field: &str, set: bool| {
                        if set {
                            Err(Error::Unsupported(format!(
                                "training.{field} with data.train: a replayed trial has the recording's initial \
                                 state and command and cannot be redrawn"
                            )))
                        } else {
                            Ok(())
                        }
                    };
                    forbid("command", t.command.is_some())?;
                    forbid("initial_state", t.initial_state != InitialState::Zero)?;
                    forbid("bound", t.bound.is_some())?;
                } else if teacher.is_none() {
                    return Err(needs_target("[training] without data.train"));
                }
                match &t.initial_state {
                    InitialState::Zero => {}
                    InitialState::Fixed { x } => check_state("training.initial_state.x", j, x)?,
                    InitialState::Uniform { low, high } => {
                        check_state("training.initial_state.low", j, low)?;
                        check_state("training.initial_state.high", j, high)?;
                        if let Some(i) = (0..j).find(|&i| low[i] > high[i]) {
                            return Err(Error::invalid(
                                format!("training.initial_state.high[{i}]"),
                                high[i],
                                format!(">= low[{i}] = {}", low[i]),
                            ));
                        }
                    }
                    InitialState::Points { points, jitter } => {
                        if points.is_empty() {
                            return Err(Error::invalid("training.initial_state.points", "[]", "at least one state"));
                        }
                        for (k, x) in points.iter().enumerate() {
                            check_state(&format!("training.initial_state.points[{k}]"), j, x)?;
                        }
                        check::non_negative("training.initial_state.jitter", *jitter)?;
                        check::finite("training.initial_state.jitter", *jitter)?;
                    }
                }
                check::in_range("training.dropout", t.dropout, 0.0, 0.95)?;
                if let Some(k) = t.feedback_gain {
                    check::non_negative("training.feedback_gain", k)?;
                }
                if let Some(p) = &t.until_plateau {
                    check::nonzero("training.until_plateau.window", p.window)?;
                    check::in_range("training.until_plateau.tolerance", p.tolerance, 0.0, 0.999)?;
                    check::in_range("training.until_plateau.factor", p.factor, 1e-6, 1.0)?;
                    if t.anneal.is_some() {
                        return Err(Error::Unsupported(
                            "training.anneal with training.until_plateau: annealing counts from training.trials, \
                             which a plateau stop leaves unknown"
                                .into(),
                        ));
                    }
                }
                if let Some(a) = &t.anneal {
                    check::in_range("training.anneal.start", a.start, 0.0, 1.0)?;
                    check::in_range("training.anneal.final_scale", a.final_scale, 0.0, 1.0)?;
                }
                if let Some(b) = &t.bound {
                    check::same_len("training.bound", j, b.len())?;
                    for (i, v) in b.iter().enumerate() {
                        check::positive(&format!("training.bound[{i}]"), *v)?;
                    }
                }
                for (p, spec) in t.perturbations.iter().enumerate() {
                    registry.check_kind(
                        ebn_core::Category::Perturbation,
                        spec,
                        &format!("training.perturbations[{p}]"),
                    )?;
                }
                match (&t.command, replayed) {
                    (Some(command), None) => Some(registry.command(command, "training.command", j)?),
                    (None, None) => {
                        return Err(Error::invalid("training.command", "none", "a command (or data.train)"));
                    }
                    (_, Some(_)) => None,
                }
            }
        };
        let mut test_commands = Vec::new();
        let mut analyses = Vec::new();
        let mut key_suffixes = Vec::new();
        for (k, test) in config.tests.iter().enumerate() {
            let field = |f: &str| format!("test[{k}].{f}");
            check::positive(&field("duration"), test.duration)?;
            check_steps(&field("duration"), test.duration, config.network.dt)?;
            if let Some(x0) = &test.initial_state {
                check_state(&field("initial_state"), j, x0)?;
            }
            match (test.start, &data) {
                (Some(start), Some(data)) => {
                    check::finite(&field("start"), start)?;
                    data.check_segment(&field("start"), start, test.duration)?;
                    if test.command.is_some() || test.initial_state.is_some() {
                        return Err(Error::Unsupported(format!(
                            "{} with {}: a replayed test has the recording's command and initial state",
                            field(if test.command.is_some() { "command" } else { "initial_state" }),
                            field("start")
                        )));
                    }
                    test_commands.push(None);
                }
                (Some(_), None) => {
                    return Err(Error::Unsupported(format!("{} needs a [data] recording", field("start"))));
                }
                (None, _) => {
                    if teacher.is_none() {
                        return Err(needs_target(&format!("test[{k}] without a start in the recording")));
                    }
                    let command = test
                        .command
                        .as_ref()
                        .ok_or_else(|| Error::invalid(field("command"), "none", "a command (or a start in [data])"))?;
                    test_commands.push(Some(registry.command(command, &field("command"), j)?));
                }
            }
            let mut built = Vec::new();
            for (a, spec) in test.analyses.iter().enumerate() {
                let place = field(&format!("analyses[{a}]"));
                let kind = registry.resolve(ebn_core::Category::Analysis, spec, &place)?;
                built.push((kind, registry.analysis(spec, &place)?));
            }
            analyses.push(built);
            key_suffixes.push(suffixes_of(&analyses[k], &test.analyses));
            for (p, spec) in test.perturbations.iter().enumerate() {
                registry.check_kind(ebn_core::Category::Perturbation, spec, &field(&format!("perturbations[{p}]")))?;
            }
        }
        let mut experiment = Self {
            config: config.clone(),
            registry: registry.clone(),
            seeds: SeedStreams::new(config.seed),
            teacher,
            data,
            integrator: registry.integrator(&config.integrator, "integrator")?,
            training_command,
            test_commands,
            analyses,
            key_suffixes,
            validated: std::sync::Mutex::new(None),
        };
        // Building the network validates the network section and the initial weights; the
        // perturbations are built once on it, so that their parameters are checked now. The
        // network is kept for the first caller that asks for one.
        let network = experiment.initial_network()?;
        let all = config.training.iter().flat_map(|t| t.perturbations.iter().map(|s| (s, "training".to_string())));
        let tests = config
            .tests
            .iter()
            .enumerate()
            .flat_map(|(k, t)| t.perturbations.iter().map(move |s| (s, format!("test[{k}]"))));
        for (p, (spec, owner)) in all.chain(tests).enumerate() {
            experiment.build_perturbation(&network, spec, &format!("{owner}.perturbations"), p as u64)?;
        }
        *experiment.validated.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(network);
        Ok(experiment)
    }

    /// The registry the experiment was built with.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The analyses of test `index`, with their kinds.
    pub fn analyses(&self, index: usize) -> &[(String, Box<dyn Analysis>)] {
        self.analyses.get(index).map_or(&[], |a| a.as_slice())
    }

    /// Runs the analyses of test `index` on its recording: (kind, its numbers or why not).
    ///
    /// When a kind appears more than once in a test and its instances report the same key,
    /// those keys (and the instance's kind in the first element) carry a suffix so that
    /// none overwrites another in a summary: `_<component>` if the instances have distinct
    /// `component` parameters (two `limit_cycle`s on x and y give `amplitude_error_0` and
    /// `amplitude_error_1`), else `_<position in the test's list>`. Keys that are already
    /// distinct (two `nrmse_horizon`s with their own `key`) and kinds that appear once keep
    /// their plain names.
    pub fn analyse(&self, index: usize, recording: &Recording) -> Vec<(String, Result<Measures>)> {
        let suffixes = self.key_suffixes.get(index).map_or(&[][..], |s| s.as_slice());
        let results: Vec<(String, Result<Measures>)> =
            self.analyses(index).iter().map(|(kind, a)| (kind.clone(), a.analyse(recording))).collect();
        // How many instances of the same kind report each key.
        let shared = |kind: &str, key: &str| {
            results
                .iter()
                .filter(|(k, r)| k == kind && r.as_ref().is_ok_and(|m| m.iter().any(|(name, _)| name == key)))
                .count()
                > 1
        };
        results
            .iter()
            .zip(suffixes)
            .map(|((kind, result), suffix)| {
                let named = match result {
                    Ok(values) => Ok(values
                        .iter()
                        .map(
                            |(key, v)| {
                                if shared(kind, key) { (format!("{key}{suffix}"), *v) } else { (key.clone(), *v) }
                            },
                        )
                        .collect()),
                    Err(e) => Err(e.clone()),
                };
                (format!("{kind}{suffix}"), named)
            })
            .collect()
    }

    fn build_perturbation<M: NeuronModel>(
        &self,
        network: &Network<M>,
        spec: &Spec,
        field: &str,
        stream: u64,
    ) -> Result<Box<dyn ebn_core::Perturbation>> {
        let setup = PerturbationSetup { decoder: network.decoder(), dt: self.config.network.dt };
        self.registry.perturbation(spec, field, &setup, self.seeds.indexed(Stream::Scheduled, stream))
    }

    /// The perturbations `specs` of one run (stream index `run`).
    fn run_perturbations<M: NeuronModel>(
        &self,
        network: &Network<M>,
        specs: &[Spec],
        run: u64,
        field: &str,
    ) -> Result<Vec<Box<dyn ebn_core::Perturbation>>> {
        specs
            .iter()
            .enumerate()
            .map(|(p, spec)| {
                self.build_perturbation(network, spec, &format!("{field}[{p}]"), perturbation_stream(run, p))
            })
            .collect()
    }

    /// The preload of a run starting at `x0`, if the configuration preloads and x0 is not 0.
    fn preload_of(&self, x0: &[f64]) -> Option<PreloadState> {
        let p = &self.config.preload;
        (p.duration > 0.0 && x0.iter().any(|v| *v != 0.0)).then(|| PreloadState {
            state: x0.to_vec(),
            duration: p.duration,
            gain: p.gain,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The teacher's vector field (none for an experiment that only replays a recording).
    pub fn teacher(&self) -> Option<&dyn TargetSystem> {
        self.teacher.as_deref()
    }

    /// The recording the experiment replays, if it has a `[data]` section.
    pub fn data(&self) -> Option<&RecordedData> {
        self.data.as_ref()
    }

    /// The vector field, for the parts of the protocol that need one (validated at build).
    fn vector_field(&self) -> Result<&dyn TargetSystem> {
        self.teacher.as_deref().ok_or_else(|| Error::Unsupported("no [target] vector field".into()))
    }

    /// A fresh network with the experiment's initial slow weights, its components built
    /// through the experiment's registry.
    pub fn initial_network(&self) -> Result<Network> {
        if let Some(network) = self.take_validated() {
            return Ok(network);
        }
        let network = Network::build_in(&self.config.network, self.seeds, &self.registry, Overrides::default())?;
        self.with_initial_weights(network)
    }

    /// A fresh network around a neuron model given as a value (static dispatch), with the
    /// experiment's initial weights; `overrides` replace the basis or the rule.
    pub fn initial_network_generic<M: NeuronModel>(&self, neuron: M, overrides: Overrides) -> Result<Network<M>> {
        let network = Network::build_generic(&self.config.network, self.seeds, neuron, &self.registry, overrides)?;
        self.with_initial_weights(network)
    }

    fn with_initial_weights<M: NeuronModel>(&self, mut network: Network<M>) -> Result<Network<M>> {
        if self.config.slow_weights == InitialWeights::ClosedForm {
            let w = self.closed_form_weights(&network, self.config.network.slow_weights)?;
            network.set_slow_weights(w)?;
        }
        Ok(network)
    }

    /// The closed-form slow weights of a linear target for `network`'s decoder, in `form`
    /// (MODEL.md §6: Omega_s = D^T (A + lambda I) D, or W = (A + lambda I) D): the one place
    /// that decides whether they exist. `Error::Unsupported` unless the target is linear and
    /// the basis is the identity.
    pub fn closed_form_weights<M: NeuronModel>(&self, network: &Network<M>, form: WeightForm) -> Result<SlowWeights> {
        let a = self.vector_field()?.linear_matrix().ok_or_else(|| {
            let kind = self.config.target.as_ref().map_or_else(String::new, ToString::to_string);
            Error::Unsupported(format!("closed-form weights need a linear target, not {kind}"))
        })?;
        if !network.identity_basis() {
            return Err(Error::Unsupported("closed-form weights need the identity basis".into()));
        }
        linear_slow_weights(&a, network.decoder(), self.config.network.lambda, form)
    }

    /// A network carrying the given slow weights (e.g. from a trained network file).
    pub fn network_with(&self, weights: SlowWeights) -> Result<Network> {
        network_with(&self.config, &self.registry, weights)
    }

    /// A network resumed from a training state: its weights and the rule's own state.
    pub fn resume(&self, weights: SlowWeights, state: &TrainingState) -> Result<Network> {
        match self.take_validated() {
            // The same network as a fresh build: built from the same configuration and seed,
            // never stepped.
            Some(mut network) => {
                network.set_slow_weights(weights)?;
                network.set_rule_state(&state.rule_state)?;
                Ok(network)
            }
            None => resumed(&self.config, &self.registry, weights, state),
        }
    }

    /// The network built at validation, if no one has taken it yet.
    fn take_validated(&self) -> Option<Network> {
        self.validated.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Draws the teacher's initial state and command for trial `trial`, redrawing (attempt
    /// 1, 2, ...) while the teacher leaves the bound. Returns (x0, command stream, redraws).
    fn draw_trial(&mut self, training: &TrainingConfig, trial: usize) -> (Vec<f64>, Box<dyn CommandStream>, usize) {
        let dt = self.config.network.dt;
        let j = self.config.network.dim;
        let (Some(signal), Some(teacher)) = (self.training_command.as_ref(), self.teacher.as_deref()) else {
            unreachable!("built with a training command and a target unless training replays the recording")
        };
        let steps = (training.trial_duration / dt).round() as u64;
        for attempt in 0u64.. {
            let index = ((trial as u64) << 16) | attempt.min(0xFFFF);
            let x0 = match &training.initial_state {
                InitialState::Zero => vec![0.0; j],
                InitialState::Fixed { x } => x.clone(),
                InitialState::Uniform { low, high } => {
                    let mut rng = self.seeds.indexed(Stream::InitialState, index);
                    low.iter().zip(high).map(|(l, h)| if h > l { rng.random_range(*l..*h) } else { *l }).collect()
                }
                InitialState::Points { points, jitter } => {
                    let mut rng = self.seeds.indexed(Stream::InitialState, index);
                    let base = &points[rng.random_range(0..points.len())];
                    base.iter().map(|v| v + jitter * rng.sample::<f64, _>(rand_distr::StandardNormal)).collect()
                }
            };
            let realise = || signal.realise(dt, training.trial_duration, self.seeds.indexed(Stream::Command, index));
            let within = match &training.bound {
                None => true,
                Some(bound) if attempt < 1000 => {
                    let inside = |x: &[f64]| x.iter().zip(bound).all(|(v, b)| v.abs() <= *b);
                    let mut x = x0.clone();
                    let mut c = vec![0.0; j];
                    let mut stream = realise();
                    let mut ok = inside(&x);
                    for _ in 0..steps {
                        if !ok {
                            break;
                        }
                        stream.next(&mut c);
                        self.integrator.step(teacher, &mut x, &c, dt);
                        ok = inside(&x);
                    }
                    ok
                }
                // After 1000 redraws the bound is unreachable for this command: keep the trial.
                Some(_) => true,
            };
            if within {
                return (x0, realise(), attempt as usize);
            }
        }
        unreachable!("the attempt loop only ends by returning")
    }

    /// The recorded window that training trial `trial` replays (`data.train` set).
    fn replayed_trial(&self, training: &TrainingConfig, trial: usize) -> Option<Segment> {
        let [a, b] = self.config.data.as_ref()?.train?;
        let data = self.data.as_ref()?;
        let windows = (((b - a) / training.trial_duration) + 1e-9).floor().max(1.0) as usize;
        let start = a + (trial % windows) as f64 * training.trial_duration;
        let steps = (training.trial_duration / self.config.network.dt).round() as usize;
        Some(data.segment(start, steps, self.config.network.dt))
    }

    /// The teacher's initial state and command stream of training trial `trial`, drawn as
    /// [`Experiment::train_trial`] draws them (redraws included), for protocols that drive
    /// something else than a [`Network`] with the same teacher (learning the code,
    /// [`crate::code`]). Needs the vector field (not a replayed recording).
    pub fn training_inputs(&mut self, trial: usize) -> Result<(Vec<f64>, Box<dyn CommandStream>)> {
        let training =
            self.config.training.clone().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
        if self.replayed_trial(&training, trial).is_some() {
            return Err(Error::Unsupported("training_inputs of a replayed recording".into()));
        }
        let (x0, stream, _) = self.draw_trial(&training, trial);
        Ok((x0, stream))
    }

    /// The teacher's initial state and command stream of test `index` (repeat 0), as
    /// [`Experiment::run_test`] draws them.
    pub fn test_inputs(&self, index: usize) -> Result<(Vec<f64>, Box<dyn CommandStream>)> {
        let test = self.config.tests.get(index).ok_or_else(|| {
            Error::invalid("test index", index, format!("< number of tests = {}", self.config.tests.len()))
        })?;
        let dt = self.config.network.dt;
        let stream_index = TEST_STREAM_OFFSET + index as u64;
        let signal = self.test_commands[index]
            .as_ref()
            .ok_or_else(|| Error::Unsupported(format!("test_inputs of test[{index}], which replays the recording")))?;
        let stream = signal.realise(dt, test.duration, self.seeds.indexed(Stream::Command, stream_index));
        let x0 = test.initial_state.clone().unwrap_or_else(|| vec![0.0; self.config.network.dim]);
        Ok((x0, stream))
    }

    /// Advances the teacher's state `x` by one time step under the command `c` (no-op
    /// without a vector field).
    pub fn step_teacher(&mut self, x: &mut [f64], c: &[f64]) {
        if let Some(teacher) = self.teacher.as_deref() {
            self.integrator.step(teacher, x, c, self.config.network.dt);
        }
    }

    /// Whether training is over: every trial of `training.trials` done, or the last plateau of
    /// `training.until_plateau` reached. Always true without `[training]`.
    pub fn training_done(&self, state: &TrainingState) -> bool {
        let Some(t) = &self.config.training else { return true };
        state.trials_done >= t.trials || t.until_plateau.is_some_and(|p| p.reached(&state.learning_curve))
    }

    /// Runs the remaining training trials (until [`Experiment::training_done`]), calling
    /// `after_trial` with each trial's normalised error (a progress bar): the one training
    /// loop of the figures, the Python package and the recipe's benchmark (`run` calls
    /// [`Experiment::train_trial`] itself, between checkpoints and stop signals).
    pub fn train<M: NeuronModel>(
        &mut self,
        network: &mut Network<M>,
        state: &mut TrainingState,
        mut after_trial: impl FnMut(f64),
    ) -> Result<()> {
        while !self.training_done(state) {
            let error = self.train_trial(network, state)?;
            after_trial(error);
        }
        Ok(())
    }

    /// Runs training trial `state.trials_done` on `network` and records its error (and the
    /// rule's state after it). A trial whose error is not finite is [`Error::Diverged`]
    /// (and leaves `state` as it was before the trial).
    pub fn train_trial<M: NeuronModel>(&mut self, network: &mut Network<M>, state: &mut TrainingState) -> Result<f64> {
        let training =
            self.config.training.clone().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
        let trial = state.trials_done;
        if trial >= training.trials {
            return Err(Error::invalid("trial", trial, format!("< training.trials = {}", training.trials)));
        }
        let replayed = self.replayed_trial(&training, trial);
        let (x0, mut stream, redraws, replay) = match replayed {
            Some(segment) => {
                let x0 = segment.initial_state();
                let (replay, stream) = segment.into_parts();
                (x0, stream, 0, Some(replay))
            }
            None => {
                let (x0, stream, redraws) = self.draw_trial(&training, trial);
                (x0, stream, redraws, None)
            }
        };
        let k_full = training.feedback_gain.unwrap_or(self.config.network.feedback_gain);
        let scale = training.anneal.map_or(1.0, |a| a.factor(trial, training.trials))
            * training.until_plateau.map_or(1.0, |p| p.rate_factor(&state.learning_curve));
        let k_scale = training.anneal.map_or(1.0, |a| a.feedback_factor(trial, training.trials));
        let mut silenced = Vec::new();
        if training.dropout > 0.0 {
            let n = self.config.network.n;
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut self.seeds.indexed(Stream::Perturbation, trial as u64));
            silenced.extend_from_slice(&order[..(training.dropout * n as f64).round() as usize]);
        }
        let settings = RunSettings {
            protocol: Protocol { feedback_gain: k_full * k_scale, learning: true, rate_scale: scale },
            neuron_state: self.seeds.indexed(Stream::NeuronState, trial as u64),
            noise: self.seeds.indexed(Stream::Noise, trial as u64),
            silenced,
            preload: self.preload_of(&x0),
            perturbations: self.run_perturbations(
                network,
                &training.perturbations,
                trial as u64,
                "training.perturbations",
            )?,
        };
        network.start_run(settings)?;
        let steps = (training.trial_duration / self.config.network.dt).round() as u64;
        let mut x = x0;
        let mut recorder = Recorder::disabled();
        let stats = match (replay, self.teacher.as_deref()) {
            (Some(replay), _) => simulate(network, replay, stream.as_mut(), &mut x, steps, &mut recorder),
            (None, Some(system)) => {
                let teacher = Teacher { system, integrator: self.integrator.as_mut() };
                simulate(network, teacher, stream.as_mut(), &mut x, steps, &mut recorder)
            }
            (None, None) => return Err(Error::Unsupported("no [target] vector field".into())),
        };
        network.end_run();
        let error = stats.normalised_error();
        if !error.is_finite() {
            return Err(Error::Diverged { trial: trial + 1, error });
        }
        state.trials_done += 1;
        state.learning_curve.push(error);
        state.capped_fraction.push(stats.capped_fraction());
        state.redraws += redraws;
        state.rule_state = network.rule_state();
        Ok(error)
    }

    /// Runs test `index` of the configuration on `network` (K = 0, no learning), from the
    /// test's initial state (preloaded), and returns the recording.
    pub fn run_test<M: NeuronModel>(&mut self, network: &mut Network<M>, index: usize) -> Result<Recording> {
        self.run_test_repeat(network, index, 0)
    }

    /// Repeat `repeat` of test `index`: the same command realisation and initial state, the
    /// membrane noise (and nothing else) drawn from another stream, for trial-to-trial
    /// variability. Repeat 0 is [`Experiment::run_test`].
    pub fn run_test_repeat<M: NeuronModel>(
        &mut self,
        network: &mut Network<M>,
        index: usize,
        repeat: u64,
    ) -> Result<Recording> {
        let test = self.config.tests.get(index).cloned().ok_or_else(|| {
            Error::invalid("test index", index, format!("< number of tests = {}", self.config.tests.len()))
        })?;
        let dt = self.config.network.dt;
        let j = self.config.network.dim;
        let stream_index = TEST_STREAM_OFFSET + index as u64;
        let steps = (test.duration / dt).round() as u64;
        let (mut stream, mut x, replay) = match (&self.test_commands[index], test.start, &self.data) {
            (Some(signal), _, _) => {
                let stream = signal.realise(dt, test.duration, self.seeds.indexed(Stream::Command, stream_index));
                (stream, test.initial_state.clone().unwrap_or_else(|| vec![0.0; j]), None)
            }
            (None, Some(start), Some(data)) => {
                let segment = data.segment(start, steps as usize, dt);
                let x0 = segment.initial_state();
                let (replay, stream) = segment.into_parts();
                (stream, x0, Some(replay))
            }
            _ => unreachable!("a test without a command replays the recording (checked at build)"),
        };
        let run = stream_index + (repeat << 24);
        // A test does not learn, so its perturbations leave the network as they found it.
        let settings = RunSettings {
            protocol: Protocol::FREE,
            neuron_state: self.seeds.indexed(Stream::NeuronState, run),
            noise: self.seeds.indexed(Stream::Noise, run),
            silenced: Vec::new(),
            preload: self.preload_of(&x),
            perturbations: self.run_perturbations(
                network,
                &test.perturbations,
                run,
                &format!("test[{index}].perturbations"),
            )?,
        };
        network.start_run(settings)?;
        let mut recorder = Recorder::new(&self.config.record, dt, j, self.config.network.n);
        match (replay, self.teacher.as_deref()) {
            (Some(replay), _) => simulate(network, replay, stream.as_mut(), &mut x, steps, &mut recorder),
            (None, Some(system)) => {
                let teacher = Teacher { system, integrator: self.integrator.as_mut() };
                simulate(network, teacher, stream.as_mut(), &mut x, steps, &mut recorder)
            }
            (None, None) => unreachable!("a test without a recording has a target (checked at build)"),
        };
        network.end_run();
        Ok(recorder.finish(test.duration))
    }
}

/// A trained network: its experiment and its learned weights, a value to keep, save, test
/// many times and perturb. D and the basis are rebuilt from the configuration's seed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedNetwork {
    /// The experiment it was trained in.
    pub config: ExperimentConfig,
    /// The learned slow weights.
    pub weights: StoredWeights,
    /// The learning curve and training progress.
    pub training: TrainingState,
}

impl TrainedNetwork {
    /// The trained network, ready to run (built-in components).
    pub fn network(&self) -> Result<Network> {
        self.network_in(builtins())
    }

    /// The trained network, its components built through `registry`. An experiment that
    /// replays a recording is validated without it (the network does not need the data; its
    /// tests do).
    pub fn network_in(&self, registry: &Registry) -> Result<Network> {
        let weights = self.weights.to_weights()?;
        if self.config.data.is_some() {
            return resumed(&self.config, registry, weights, &self.training);
        }
        Experiment::build_in(&self.config, registry)?.resume(weights, &self.training)
    }
}

fn network_with(config: &ExperimentConfig, registry: &Registry, weights: SlowWeights) -> Result<Network> {
    let mut network =
        Network::build_in(&config.network, SeedStreams::new(config.seed), registry, Overrides::default())?;
    network.set_slow_weights(weights)?;
    Ok(network)
}

/// The network of `config` with trained `weights` and the rule's state of `state`.
fn resumed(
    config: &ExperimentConfig,
    registry: &Registry,
    weights: SlowWeights,
    state: &TrainingState,
) -> Result<Network> {
    let mut network = network_with(config, registry, weights)?;
    network.set_rule_state(&state.rule_state)?;
    Ok(network)
}

/// The key suffixes of one test's analyses (see [`Experiment::analyse`]): "" for a kind that
/// appears once, else `_<component>` when the instances' components are distinct, else
/// `_<position>`.
fn suffixes_of(built: &[(String, Box<dyn Analysis>)], specs: &[Spec]) -> Vec<String> {
    built
        .iter()
        .enumerate()
        .map(|(a, (kind, _))| {
            let same: Vec<usize> = built.iter().enumerate().filter(|(_, (k, _))| k == kind).map(|(i, _)| i).collect();
            if same.len() == 1 {
                return String::new();
            }
            let component = |i: usize| specs[i].params.get("component").and_then(serde_json::Value::as_u64);
            let components: Vec<Option<u64>> = same.iter().map(|&i| component(i)).collect();
            let distinct = components.iter().all(Option::is_some)
                && components.iter().enumerate().all(|(p, c)| !components[..p].contains(c));
            match component(a) {
                Some(c) if distinct => format!("_{c}"),
                _ => format!("_{a}"),
            }
        })
        .collect()
}

/// What moves the teacher's state x forward by one step of [`simulate`]: a vector field and
/// its integrator ([`Teacher`]), or a recording replayed at the network's step
/// ([`crate::data::Replay`]).
///
/// # A teacher of one's own, and an observer of one's own
///
/// The damped oscillator's exact flow as the teacher, and an [`Observer`] that keeps spike
/// counts and the worst error instead of a recording, around the `coding` figure's network
/// (closed-form slow weights, no learning):
///
/// ```
/// use ebn_network::core::{Observer, WeightForm};
/// use ebn_network::dynamics::LinearSystem;
/// use ebn_network::{Advance, Experiment, presets, simulate};
///
/// /// x <- exp(A dt) x + dt c: exact for A, first order in the command.
/// struct Exact(LinearSystem);
/// impl Advance for Exact {
///     fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64) {
///         let next = self.0.exp_action(dt, x);
///         for ((x, n), c) in x.iter_mut().zip(next).zip(c) { *x = n + dt * c; }
///     }
/// }
///
/// /// Spikes per neuron and the largest |x - x_hat| over the samples.
/// struct Tally { spikes: Vec<u64>, worst: f64 }
/// impl Observer for Tally {
///     fn due(&self, _step: u64) -> bool { true }
///     fn sample(&mut self, _t: f64, x: &[f64], x_hat: &[f64], _c: &[f64], _v: &[f64]) {
///         let e = x.iter().zip(x_hat).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
///         self.worst = self.worst.max(e);
///     }
///     fn spike(&mut self, _t: f64, neuron: usize) { self.spikes[neuron] += 1; }
/// }
///
/// let exp = Experiment::build(&presets::coding(1, 0.5, WeightForm::Factored))?;
/// let mut network = exp.initial_network()?;
/// let (mut x, mut command) = exp.test_inputs(0)?;
/// let mut tally = Tally { spikes: vec![0; 64], worst: 0.0 };
/// let stats = simulate(&mut network, Exact(LinearSystem::damped_oscillator()), command.as_mut(), &mut x, 5000, &mut tally);
/// assert_eq!(stats.spikes, tally.spikes.iter().sum::<u64>());
/// assert!(stats.spikes > 100);
/// // The network follows the exact flow (normalised error sum ||e||^2 / sum ||x||^2).
/// assert!(stats.normalised_error() < 0.01, "{}", stats.normalised_error());
/// # Ok::<(), ebn_network::core::Error>(())
/// ```
pub trait Advance {
    /// Advances `x` by one step of `dt` seconds under the command `c` (held over the step).
    fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64);
}

/// A target system together with its integrator.
pub struct Teacher<'a> {
    /// The vector field.
    pub system: &'a dyn TargetSystem,
    /// The integrator.
    pub integrator: &'a mut dyn Integrator,
}

impl Advance for Teacher<'_> {
    fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64) {
        self.integrator.step(self.system, x, c, dt);
    }
}

/// Error sums of a run, for the learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunStats {
    /// sum over steps of ||x - x_hat||^2.
    pub error_sq: f64,
    /// sum over steps of ||x||^2.
    pub target_sq: f64,
    /// Number of spikes.
    pub spikes: u64,
    /// Number of steps run.
    pub steps: u64,
    /// Steps whose spike count reached the network's [`Network::spike_cap`] (for the paper's
    /// one-spike rule: steps with a spike).
    pub capped_steps: u64,
}

impl RunStats {
    /// sum ||e||^2 / sum ||x||^2 (MODEL.md §7); +inf if the target was identically 0.
    pub fn normalised_error(&self) -> f64 {
        if self.target_sq > 0.0 { self.error_sq / self.target_sq } else { f64::INFINITY }
    }

    /// Fraction of the steps at the spike cap (0 for a run of no steps).
    pub fn capped_fraction(&self) -> f64 {
        if self.steps > 0 { self.capped_steps as f64 / self.steps as f64 } else { 0.0 }
    }
}

/// Runs `steps` steps of teacher and network together (MODEL.md §8): each step draws c_n,
/// integrates the teacher to x_(n+1), then steps the network with c_n and x_(n+1). The
/// recorder gets a sample at the start (t = 0 of this segment) and every `every` steps, and
/// every spike, stamped with the end of its step. Returns the error sums.
pub fn simulate<M: NeuronModel>(
    network: &mut Network<M>,
    mut teacher: impl Advance,
    command: &mut dyn CommandStream,
    x: &mut [f64],
    steps: u64,
    recorder: &mut dyn Observer,
) -> RunStats {
    let dt = network.config().dt;
    let t0 = network.time();
    let mut c = vec![0.0; x.len()];
    let mut stats = RunStats { steps, ..RunStats::default() };
    let cap = network.spike_cap();
    // Each step's last fast-weight column reaches the voltages in the next step's pass (the
    // same bits, one pass fewer); the handle delivers it for the recorder and at the end.
    let mut network = network.deferred();
    for n in 0..steps {
        command.next(&mut c);
        if recorder.due(n) {
            let net: &Network<M> = network.network();
            recorder.sample(t0 + n as f64 * dt, x, net.readout(), &c, net.voltages());
        }
        teacher.advance(x, &c, dt);
        let t_spike = t0 + (n + 1) as f64 * dt;
        let fired = network.step(&c, Some(x));
        stats.capped_steps += u64::from(fired.len() >= cap);
        for &k in fired {
            recorder.spike(t_spike, k);
            stats.spikes += 1;
        }
        for (xi, xh) in x.iter().zip(network.readout()) {
            stats.error_sq += (xi - xh) * (xi - xh);
            stats.target_sq += xi * xi;
        }
    }
    stats
}

#[cfg(test)]
mod plateau_tests {
    use super::Plateau;
    use proptest::prelude::*;

    fn rule(window: usize, reductions: usize) -> Plateau {
        Plateau { window, tolerance: 0.1, min_trials: 0, reductions, factor: 0.25 }
    }

    /// A flat curve plateaus after two blocks, then two blocks after each reduction.
    #[test]
    fn a_flat_curve_plateaus_every_two_blocks() {
        let p = rule(5, 2);
        let flat = vec![1.0; 40];
        let stages: Vec<usize> = (0..=40).map(|n| p.stages(&flat[..n])).collect();
        assert_eq!(stages[9], 0);
        assert_eq!(stages[10], 1);
        assert_eq!(stages[19], 1);
        assert_eq!(stages[20], 2);
        assert_eq!(stages[30], 3);
        assert!(!p.reached(&flat[..29]) && p.reached(&flat[..30]));
        assert_eq!(p.rate_factor(&flat[..10]), 0.25);
        assert_eq!(p.rate_factor(&flat[..20]), 0.0625);
        assert_eq!(p.rate_factor(&flat[..35]), 0.0625);
        assert_eq!(rule(5, 0).stages(&flat[..9]), 0);
        assert!(rule(5, 0).reached(&flat[..10]));
        let late = Plateau { min_trials: 17, ..rule(5, 0) };
        assert!(!late.reached(&flat[..15]) && late.reached(&flat[..20]));
    }

    proptest! {
        /// A curve that falls by more than the tolerance from block to block never plateaus;
        /// the stages only depend on the curve so far (a resumed run decides as an
        /// uninterrupted one).
        #[test]
        fn a_falling_curve_never_plateaus(window in 1usize..8, blocks in 2usize..12, start in 0.01f64..10.0) {
            let p = rule(window, 1);
            let curve: Vec<f64> = (0..window * blocks).map(|k| start * 0.5f64.powi((k / window) as i32)).collect();
            prop_assert_eq!(p.stages(&curve), 0);
            prop_assert_eq!(p.rate_factor(&curve), 1.0);
            let mut grown = curve.clone();
            grown.extend(std::iter::repeat_n(*curve.last().unwrap(), 2 * window));
            for n in 0..=grown.len() {
                prop_assert!(p.stages(&grown[..n]) <= p.stages(&grown));
            }
            prop_assert_eq!(p.stages(&grown), 1);
        }
    }
}
