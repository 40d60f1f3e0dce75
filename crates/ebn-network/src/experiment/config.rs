//! The experiment file's schema and its checks.

use super::*;

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

pub(super) fn default_integrator() -> Spec {
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

pub(super) fn quarter() -> f64 {
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

pub(super) fn check_state(field: &str, j: usize, x: &[f64]) -> Result<()> {
    check::same_len(field, j, x.len())?;
    check::all_finite(field, x)
}

/// Most steps in one trial or test (10^8, 10^4 s at dt = 0.1 ms): a test keeps every spike,
/// up to one per step.
pub const MAX_RUN_STEPS: f64 = 1e8;

pub(super) fn check_steps(field: &str, duration: f64, dt: f64) -> Result<()> {
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
