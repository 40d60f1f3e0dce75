//! The benchmark: one recipe, many systems, a report and a verdict per system.
//!
//! The systems are split, before any tuning, into those the recipe was developed on and those
//! held out (never run while the recipe's constants or rules were chosen); the two counts are
//! reported separately (docs/CATALOGUE.md).

use crate::diagnose::{Diagnosis, LearnedField, diagnose, twin};
use crate::recipe::{Fitted, Recipe, RecipeOptions, fit};
use ebn_network::analysis::{AttractorComparison, AttractorStats};
use ebn_network::core::{Error, Recording, Registry, Result, Spec};
use ebn_network::{Experiment, TrainingState};
use serde::Serialize;

/// Whether the recipe was developed on a system or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The recipe's constants and rules were chosen while looking at this system's results.
    Development,
    /// Never run before the recipe was fixed: the honest count.
    HeldOut,
    /// The second held-out set ([`held_out_b`]), never run before the gain selection was
    /// written (the first had been seen by then).
    HeldOutSecond,
}

/// A system of the benchmark.
#[derive(Debug, Clone)]
pub struct BenchSystem {
    /// Short name (file names, tables).
    pub name: &'static str,
    /// Its target spec, in its own units.
    pub spec: Spec,
    /// Development or held out.
    pub role: Role,
    /// Chaotic (judged against the goal) or a limit cycle.
    pub chaotic: bool,
}

fn flow(name: &'static str, role: Role) -> BenchSystem {
    BenchSystem { name, spec: Spec::new("catalogue").with("name", name), role, chaotic: true }
}

/// The benchmark's systems. Development: Lorenz (the one hand-tuned example), Rossler,
/// Halvorsen, Thomas, Chen, Sprott B, the hyperchaotic Lorenz (4-D) and van der Pol (a limit
/// cycle, mu = 2). Held out, fixed before the first run: Aizawa, Arneodo, Dadras,
/// Genesio-Tesi, Rucklidge, Shimizu-Morioka, Finance and Sprott S (3-D chaotic), the
/// hyperchaotic Rossler (4-D), and van der Pol at mu = 0.5.
pub fn systems() -> Vec<BenchSystem> {
    use Role::{Development as D, HeldOut as H};
    let vdp = |name: &'static str, mu: f64, role| BenchSystem {
        name,
        spec: Spec::new("van_der_pol").with("mu", mu).with("speed", 1.0),
        role,
        chaotic: false,
    };
    let mut hyper_lorenz = flow("hyper_lorenz", D);
    hyper_lorenz.chaotic = true;
    vec![
        flow("lorenz", D),
        flow("rossler", D),
        flow("halvorsen", D),
        flow("thomas", D),
        flow("chen", D),
        flow("sprott_b", D),
        hyper_lorenz,
        vdp("van_der_pol_2", 2.0, D),
        flow("aizawa", H),
        flow("arneodo", H),
        flow("dadras", H),
        flow("genesio_tesi", H),
        flow("rucklidge", H),
        flow("shimizu_morioka", H),
        flow("finance", H),
        flow("sprott_s", H),
        flow("hyper_rossler", H),
        vdp("van_der_pol_0p5", 0.5, H),
    ]
    .into_iter()
    .chain(held_out_b())
    .collect()
}

/// A second held-out set, chosen when the gain selection of the recipe (`auto_gain`) was
/// written and before it was run on any of them, since the first held-out set had been seen:
/// Lu-Chen, Hadley, Rikitake, Chen-Lee, Coullet, Moore-Spiegel, Sakarya and Sprott D.
pub fn held_out_b() -> Vec<BenchSystem> {
    ["lu_chen", "hadley", "rikitake", "chen_lee", "coullet", "moore_spiegel", "sakarya", "sprott_d"]
        .into_iter()
        .map(|n| flow(n, Role::HeldOutSecond))
        .collect()
}

/// Statistics of a free run against the teacher's long run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreeRun {
    /// Per-component mean (normalised units).
    pub mean: Vec<f64>,
    /// Per-component standard deviation.
    pub std: Vec<f64>,
    /// Dominant frequency (Hz).
    pub frequency: f64,
    /// Correlation dimension, where defined.
    pub correlation_dimension: Option<f64>,
    /// |mean shift| per component, in teacher standard deviations.
    pub mean_shift: Vec<f64>,
    /// Relative spread error per component.
    pub spread_error: Vec<f64>,
    /// Relative frequency error.
    pub frequency_error: f64,
    /// Whether the attractor is kept.
    pub kept: bool,
    /// What failed, or "kept".
    pub verdict: String,
}

impl FreeRun {
    fn new(stats: AttractorStats, teacher: &AttractorStats) -> Self {
        let c = AttractorComparison::new(teacher, &stats);
        Self {
            kept: c.kept(),
            verdict: c.verdict(),
            mean: stats.mean,
            std: stats.std,
            frequency: stats.frequency,
            correlation_dimension: stats.correlation_dimension,
            mean_shift: c.mean_shift,
            spread_error: c.spread_error,
            frequency_error: c.frequency_error,
        }
    }
}

/// The verdict applied to the teacher against itself: its survey cut into windows as long as
/// the free run's scored part, each compared with the whole survey. A criterion that fails
/// the teacher's own windows measures its noise, not the network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeacherSelf {
    /// Windows compared.
    pub windows: usize,
    /// Windows whose attractor is "kept".
    pub kept: usize,
    /// The largest |mean shift| (teacher standard deviations) over windows and components.
    pub mean_shift: f64,
    /// The largest |spread error| over windows and components.
    pub spread_error: f64,
    /// The largest |frequency error| over windows.
    pub frequency_error: f64,
}

/// [`TeacherSelf`] for a survey `attractor` sampled every `interval` s, with windows of
/// `window` s (at least one).
pub fn teacher_self_check(attractor: &[Vec<f64>], interval: f64, window: f64) -> Result<TeacherSelf> {
    let whole = AttractorStats::of(attractor, interval)?;
    let len = ((window / interval) as usize).max(64);
    let mut out = TeacherSelf { windows: 0, kept: 0, mean_shift: 0.0, spread_error: 0.0, frequency_error: 0.0 };
    for chunk in attractor.chunks_exact(len.min(attractor.len())) {
        let c = AttractorComparison::new(&whole, &AttractorStats::of(chunk, interval)?);
        out.windows += 1;
        out.kept += usize::from(c.kept());
        out.mean_shift = c.mean_shift.iter().copied().fold(out.mean_shift, f64::max);
        out.spread_error = c.spread_error.iter().map(|v| v.abs()).fold(out.spread_error, f64::max);
        out.frequency_error = out.frequency_error.max(c.frequency_error.abs());
    }
    Ok(out)
}

/// Everything measured on one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// The system's short name.
    pub name: String,
    /// Development or held out.
    pub role: Role,
    /// Chaotic or a limit cycle.
    pub chaotic: bool,
    /// The derived settings.
    pub recipe: Recipe,
    /// Trials trained (the plateau's choice).
    pub trials: usize,
    /// Normalised error per trial.
    pub learning_curve: Vec<f64>,
    /// Fraction of the steps at the spike cap in the last tenth of training.
    pub capped_fraction: f64,
    /// Prediction error over the first 0.25 s and 1 s of the free run (RMSE / std).
    pub nrmse_at_0p25s: f64,
    /// See `nrmse_at_0p25s`.
    pub nrmse_at_1s: f64,
    /// The spiking network's free run against the teacher's long run.
    pub network: FreeRun,
    /// The learned field run without spikes, or `None` if it diverged.
    pub twin: Option<FreeRun>,
    /// The learned field against the true one.
    pub diagnosis: Diagnosis,
    /// The verdict on the teacher's own windows.
    pub teacher_self: TeacherSelf,
    /// Mean firing rate in the free run (Hz per neuron).
    pub mean_rate_hz: f64,
}

/// A report with the data behind its panels.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The numbers.
    pub report: SystemReport,
    /// The surveyed attractor (normalised), every `sample_interval` s.
    pub attractor: Vec<Vec<f64>>,
    /// Interval of `attractor` and `free_run`.
    pub sample_interval: f64,
    /// The network's free run (x_hat), every `sample_interval` s from the test's start.
    pub free_run: Vec<Vec<f64>>,
}

/// Options of the benchmark (those of the recipe, plus the free run's transient).
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// The recipe's options, the same for every system.
    pub recipe: RecipeOptions,
}

/// Fits, trains and tests `system`; `on_trial` is called after each training trial.
pub fn evaluate(
    system: &BenchSystem,
    registry: &Registry,
    options: &BenchOptions,
    on_trial: &(dyn Fn() + Sync),
) -> Result<Evaluated> {
    let Fitted { recipe, config, attractor, sample_interval } =
        fit(&system.spec, registry, &options.recipe).map_err(|e| e.within(system.name))?;
    let mut experiment = Experiment::build_in(&config, registry)?;
    let mut network = experiment.initial_network()?;
    let mut state = TrainingState::default();
    experiment.train(&mut network, &mut state, |_| on_trial()).map_err(|e| e.within(system.name))?;
    let recording = experiment.run_test(&mut network, 0)?;
    let mut measures = Vec::new();
    for (_, m) in experiment.analyse(0, &recording) {
        measures.extend(m?);
    }
    let get = |key: &str| measures.iter().find(|(k, _)| k == key).map_or(f64::NAN, |(_, v)| *v);
    let test = &config.tests[0];
    let skip = 10.0f64.min(test.duration / 4.0);
    let free_run = subsample(&recording, sample_interval);
    let first = (skip / sample_interval).ceil() as usize;
    let teacher_stats = AttractorStats::of(&attractor, sample_interval)?;
    let teacher_self = teacher_self_check(&attractor, sample_interval, test.duration - skip)?;
    let network_stats = AttractorStats::of(&free_run[first.min(free_run.len() - 1)..], sample_interval)?;
    let teacher = experiment.teacher().ok_or_else(|| Error::Unsupported("no teacher".into()))?;
    let learned = LearnedField {
        basis: network.basis(),
        weights: network.slow_weights(),
        lambda: config.network.lambda,
        dim: config.network.dim,
    };
    let diagnosis = diagnose(teacher, &learned, Some((network.basis(), config.network.lambda)), &attractor);
    let x0 = test.initial_state.clone().unwrap_or_else(|| vec![0.0; config.network.dim]);
    let (_, twin_stats) = twin(&learned, &x0, test.duration, skip, &teacher_stats);
    let tail = (state.capped_fraction.len() / 10).max(1);
    let capped = &state.capped_fraction[state.capped_fraction.len().saturating_sub(tail)..];
    let report = SystemReport {
        name: system.name.to_string(),
        role: system.role,
        chaotic: system.chaotic,
        trials: state.trials_done,
        learning_curve: state.learning_curve.clone(),
        capped_fraction: capped.iter().sum::<f64>() / capped.len().max(1) as f64,
        nrmse_at_0p25s: get("nrmse_at_0p25s"),
        nrmse_at_1s: get("nrmse_at_1s"),
        network: FreeRun::new(network_stats, &teacher_stats),
        twin: twin_stats.map(|(s, _)| FreeRun::new(s, &teacher_stats)),
        diagnosis,
        teacher_self,
        mean_rate_hz: ebn_network::analysis::mean_rate(&recording.spikes, recording.duration)?,
        recipe,
    };
    Ok(Evaluated { report, attractor, sample_interval, free_run })
}

/// x_hat of a recording every `interval` s (the nearest step).
fn subsample(recording: &Recording, interval: f64) -> Vec<Vec<f64>> {
    let dt = recording.times.get(1).map_or(1.0, |t| t - recording.times[0]);
    let stride = ((interval / dt).round() as usize).max(1);
    (0..recording.times.len()).step_by(stride).map(|k| recording.x_hat.sample(k).to_vec()).collect()
}
