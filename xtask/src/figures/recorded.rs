//! `recorded`: learning van der Pol from a noisy recording instead of its vector field
//! (bringing one's own data: docs/DATA.md; `ebn_network::data`).
//!
//! The recording is made here from the van der Pol example (examples/vanderpol.toml): one
//! continuous trajectory from (1, 0), cut into 2 s windows, window k driven by the example's
//! training command of trial k (on for the first 30 % of the window, on y), with **state
//! noise** (white, `STATE_NOISE` units/sqrt(s) on each component, not recorded), sampled at
//! `RATE` = 1 kHz (every 10 network steps) with **measurement noise** (white, 5 % of each
//! component's standard deviation over the recording). After the 200 training windows
//! (400 s) come `DRIVEN` s of held-out windows (commands of trials 200 on, never used in
//! training) and `FREE` s with no command. It is written as `vanderpol_noisy.npz` (arrays
//! t, x_0, x_1, c_0, c_1 and the noise-free x_clean_0, x_clean_1; `cargo xtask data` writes
//! the same file for examples/vanderpol_recorded.toml).
//!
//! Two networks of the example's configuration learn: one from the vector field (the example
//! as it is) and one from the recording (`data.train` = the 400 s; same trials, eta, K and
//! annealing). Both run the same tests: the held-out driven windows (NRMSE against the noisy
//! recording and against the clean trajectory), the held-out free segment (period and
//! amplitude of the recorded cycle), and the example's free-running test from the cycle
//! (period against the true vector field).
//!
//! Project choices (the paper learns from vector fields only): state noise 0.5 units/sqrt(s)
//! (over one 1 s period it moves the state by 0.5, an eighth of the cycle's amplitude of 4);
//! linear interpolation of the 1 kHz samples to dt = 0.1 ms.

use super::{Ctx, Output, Scale, Spec, example, series};
use crate::output::traces_csv;
use crate::plot::{ACCENT, COMPONENT, Figure, INK, Labeled, Panel, Series, render};
use anyhow::{Context, Result};
use ebn_network::analysis::{self, TestAnalysis};
use ebn_network::core::{CommandStream, Recording, SeedStreams, Trace};
use ebn_network::data::{DataConfig, RecordedData};
use ebn_network::{Experiment, ExperimentConfig, InitialState, Network, TestConfig, TrainingState, builtins};
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "recorded",
    description: "van der Pol learned from a noisy 1 kHz recording (state noise, 5 % measurement noise) against from its vector field: held-out driven and free tests",
    run,
};

pub const VANDERPOL: &str = include_str!("../../../examples/vanderpol.toml");
/// Sampling rate of the recording (Hz).
pub const RATE: f64 = 1000.0;
/// State noise (units / sqrt(s)), white, on each component.
pub const STATE_NOISE: f64 = 0.5;
/// Measurement noise, as a fraction of each component's standard deviation.
pub const MEASUREMENT_NOISE: f64 = 0.05;

/// The layout of a recording: training windows, held-out driven windows, free seconds.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub train_windows: usize,
    pub driven_windows: usize,
    pub free: f64,
}

impl Layout {
    pub const PAPER: Self = Self { train_windows: 200, driven_windows: 5, free: 10.0 };
    pub const SMOKE: Self = Self { train_windows: 3, driven_windows: 1, free: 2.0 };
}

/// A synthetic recording: its samples, the measured and the clean states, the commands.
pub struct Synthetic {
    pub t: Vec<f64>,
    pub x: Vec<Vec<f64>>,
    pub x_clean: Vec<Vec<f64>>,
    pub c: Vec<Vec<f64>>,
}

impl Synthetic {
    /// The measured recording (what a learner sees).
    pub fn measured(&self) -> Result<RecordedData> {
        Ok(RecordedData::new(self.t.clone(), self.x.clone(), Some(self.c.clone()))?)
    }

    /// The noise-free trajectory (for scoring only).
    pub fn clean(&self) -> Result<RecordedData> {
        Ok(RecordedData::new(self.t.clone(), self.x_clean.clone(), None)?)
    }

    /// The recording as CSV text (t, x_0.., c_0.., x_clean_0..); its `.npz` is what
    /// examples/vanderpol_recorded.toml reads.
    pub fn csv(&self) -> String {
        let j = self.x[0].len();
        let mut names = vec!["t".to_string()];
        for prefix in ["x", "c", "x_clean"] {
            names.extend((0..j).map(|i| format!("{prefix}_{i}")));
        }
        let mut out = names.join(",");
        out.push('\n');
        for k in 0..self.t.len() {
            let row: Vec<String> = std::iter::once(self.t[k])
                .chain(self.x[k].iter().copied())
                .chain(self.c[k].iter().copied())
                .chain(self.x_clean[k].iter().copied())
                .map(|v| format!("{v}"))
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

/// The noise of a synthetic recording.
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    /// State noise (units / sqrt(s)), white, on each component.
    pub state: f64,
    /// Measurement noise, as a fraction of each component's standard deviation.
    pub measurement: f64,
}

impl Noise {
    /// The figure's recording (and `cargo xtask data`'s).
    pub const PAPER: Self = Self { state: STATE_NOISE, measurement: MEASUREMENT_NOISE };
}

/// Simulates the vector field of `config` as described in the module docs.
pub fn synthesize(config: &ExperimentConfig, layout: Layout, seed: u64) -> Result<Synthetic> {
    synthesize_with(config, layout, seed, Noise::PAPER)
}

/// [`synthesize`] with other noise levels (the same random streams: a level of 0 removes one
/// noise and leaves every other number as it was).
pub fn synthesize_with(config: &ExperimentConfig, layout: Layout, seed: u64, noise: Noise) -> Result<Synthetic> {
    let mut config = config.clone();
    config.data = None;
    config.tests.retain(|t| t.start.is_none());
    let windows = layout.train_windows + layout.driven_windows;
    let training = config.training.as_mut().context("the example trains")?;
    training.trials = windows;
    let window = training.trial_duration;
    let mut exp = Experiment::build(&config)?;
    let dt = config.network.dt;
    let every = (1.0 / (RATE * dt)).round() as usize;
    let steps = (window / dt).round() as usize;
    let free_steps = (layout.free / dt).round() as usize;
    let j = config.network.dim;
    let streams = SeedStreams::new(seed);
    let mut state_rng = streams.named("recording_state_noise", 0);
    let kick = noise.state * dt.sqrt();
    let mut x = vec![1.0, 0.0];
    let mut c = vec![0.0; j];
    let mut out = Synthetic { t: Vec::new(), x: Vec::new(), x_clean: Vec::new(), c: Vec::new() };
    let total = windows * steps + free_steps;
    let mut command: Option<Box<dyn CommandStream>> = None;
    for k in 0..=total {
        let in_windows = k < windows * steps;
        if in_windows && k.is_multiple_of(steps) {
            command = Some(exp.training_inputs(k / steps)?.1);
        }
        match (&mut command, in_windows) {
            (Some(stream), true) => stream.next(&mut c),
            _ => c.fill(0.0),
        }
        if k.is_multiple_of(every) {
            out.t.push(k as f64 * dt);
            out.x_clean.push(x.clone());
            out.c.push(c.clone());
        }
        if k < total {
            exp.step_teacher(&mut x, &c);
            for v in &mut x {
                let xi: f64 = StandardNormal.sample(&mut state_rng);
                *v += kick * xi;
            }
        }
    }
    // Measurement noise: 5 % of each component's standard deviation over the recording.
    let mut noise_rng = streams.named("recording_measurement_noise", 0);
    let n = out.x_clean.len() as f64;
    let std: Vec<f64> = (0..j)
        .map(|i| {
            let mean = out.x_clean.iter().map(|r| r[i]).sum::<f64>() / n;
            (out.x_clean.iter().map(|r| (r[i] - mean).powi(2)).sum::<f64>() / n).sqrt()
        })
        .collect();
    out.x = out
        .x_clean
        .iter()
        .map(|row| {
            row.iter()
                .zip(&std)
                .map(|(v, s)| {
                    let xi: f64 = StandardNormal.sample(&mut noise_rng);
                    v + noise.measurement * s * xi
                })
                .collect()
        })
        .collect();
    Ok(out)
}

/// The data section of the experiments that read this recording.
fn data_section(train_end: f64) -> Result<DataConfig> {
    Ok(toml::from_str(&format!(
        "file = 'vanderpol_noisy.npz'\nx = ['x_0', 'x_1']\nc = ['c_0', 'c_1']\ntrain = [0.0, {train_end}]"
    ))?)
}

/// The example's configuration with the held-out tests (and its test from the cycle), the
/// recording's `[data]`, training from the recording (`from_data`) or the vector field.
pub fn configuration(ctx: &Ctx, layout: Layout, from_data: bool) -> Result<ExperimentConfig> {
    let mut config = example(ctx, VANDERPOL, layout.train_windows)?;
    let window = config.training.as_ref().context("the example trains")?.trial_duration;
    let train_end = layout.train_windows as f64 * window;
    let driven = layout.driven_windows as f64 * window;
    let mut data = data_section(train_end)?;
    let mut cycle = config.tests[0].clone();
    if ctx.scale == Scale::Smoke {
        cycle.duration = 2.0;
        cycle.analyses.clear();
    }
    let replay = |name: &str, start: f64, duration: f64, analyses: Vec<ebn_network::Spec>| TestConfig {
        name: name.into(),
        duration,
        command: None,
        initial_state: None,
        start: Some(start),
        analyses,
        perturbations: vec![],
    };
    let skip = if ctx.scale == Scale::Smoke { 0.5 } else { 2.0 };
    let free_analyses = (0..2).map(|component| TestAnalysis::LimitCycle { component, skip }.into()).collect();
    config.tests = vec![
        replay("held_out_driven", train_end, driven, vec![]),
        replay("held_out_free", train_end + driven, layout.free, free_analyses),
        cycle,
    ];
    if from_data {
        let training = config.training.as_mut().context("the example trains")?;
        training.command = None;
        training.initial_state = InitialState::Zero;
    } else {
        data.train = None;
    }
    config.data = Some(data);
    Ok(config)
}

/// Trains an experiment that replays `data`, advancing the figure's bar.
fn train_with(
    ctx: &Ctx,
    config: &ExperimentConfig,
    data: RecordedData,
) -> Result<(Experiment, Network, TrainingState)> {
    let mut exp = Experiment::build_with_data(config, builtins(), Some(data))?;
    let mut net = exp.initial_network()?;
    let mut state = TrainingState::default();
    let trials = config.training.as_ref().map_or(0, |t| t.trials);
    ctx.bar.inc_length(trials as u64);
    exp.train(&mut net, &mut state, |_| ctx.bar.inc(1))?;
    Ok((exp, net, state))
}

/// The clean trajectory at the sample times of a test that replays the recording from
/// `start`.
fn clean_trace(rec: &Recording, clean: &RecordedData, start: f64) -> Trace {
    let mut truth = rec.x.clone();
    let j = truth.dim;
    for (k, t) in rec.times.iter().enumerate() {
        truth.data[k * j..(k + 1) * j].copy_from_slice(&clean.state_at(start + t));
    }
    truth
}

/// The measures of one network on the three tests.
struct Scores {
    curve: Vec<f64>,
    driven: Recording,
    free: Recording,
    driven_nrmse: f64,
    driven_nrmse_clean: f64,
    free_period_error: f64,
    free_amplitude_error: f64,
    cycle_period_error: f64,
}

fn measure(exp: &Experiment, k: usize, rec: &Recording, key: &str) -> Result<f64> {
    let results = exp.analyse(k, rec);
    let found =
        results.iter().find_map(|(_, r)| r.as_ref().ok()?.iter().find(|(name, _)| name == key).map(|(_, v)| *v));
    found.with_context(|| format!("test {k}: no `{key}` ({results:?})"))
}

fn score(ctx: &Ctx, config: &ExperimentConfig, data: &Synthetic) -> Result<Scores> {
    let (mut exp, mut net, state) = train_with(ctx, config, data.measured()?)?;
    let clean = data.clean()?;
    let driven = exp.run_test(&mut net, 0)?;
    let free = exp.run_test(&mut net, 1)?;
    let cycle = exp.run_test(&mut net, 2)?;
    let start = config.tests[0].start.context("a replayed test")?;
    let smoke = ctx.scale == Scale::Smoke;
    let measured = |k: usize, rec: &Recording, key: &str| if smoke { Ok(0.0) } else { measure(&exp, k, rec, key) };
    Ok(Scores {
        curve: state.learning_curve.clone(),
        driven_nrmse: analysis::nrmse(&driven.x, &driven.x_hat)?,
        driven_nrmse_clean: analysis::nrmse(&clean_trace(&driven, &clean, start), &driven.x_hat)?,
        free_period_error: measured(1, &free, "period_error_0")?,
        free_amplitude_error: measured(1, &free, "amplitude_error_0")?,
        cycle_period_error: measured(2, &cycle, "period_error_0")?,
        driven,
        free,
    })
}

fn run(ctx: &Ctx) -> Result<Output> {
    let layout = if ctx.scale == Scale::Smoke { Layout::SMOKE } else { Layout::PAPER };
    let by_data = configuration(ctx, layout, true)?;
    let by_field = configuration(ctx, layout, false)?;
    let data = synthesize(&by_field, layout, ctx.seed)?;
    // The recording as .npz only (as CSV it would be 80 MB at paper scale).
    crate::output::write_atomic(&ctx.dir.join("vanderpol_noisy.npz"), &ebn_cli::npz::csv_to_npz(&data.csv())?)?;
    let d = score(ctx, &by_data, &data)?;
    let f = score(ctx, &by_field, &data)?;
    // Which part of the recording costs what: the same learner on recordings with one noise
    // or none (same trajectories and commands, same random numbers otherwise).
    let mut ablation = serde_json::Map::new();
    for (name, noise) in [
        ("no_noise", Noise { state: 0.0, measurement: 0.0 }),
        ("state_noise_only", Noise { state: STATE_NOISE, measurement: 0.0 }),
        ("measurement_noise_only", Noise { state: 0.0, measurement: MEASUREMENT_NOISE }),
    ] {
        let a = score(ctx, &by_data, &synthesize_with(&by_field, layout, ctx.seed, noise)?)?;
        ablation.insert(
            name.into(),
            json!({
                "driven_nrmse_clean": a.driven_nrmse_clean,
                "free_period_error": a.free_period_error,
                "cycle_period_error": a.cycle_period_error,
                "last_trial_error": a.curve.last(),
            }),
        );
    }
    ctx.write("test_held_out_driven_data.csv", &traces_csv(&d.driven))?;
    ctx.write("test_held_out_driven_field.csv", &traces_csv(&f.driven))?;
    ctx.write("test_held_out_free_data.csv", &traces_csv(&d.free))?;
    let curves: String = std::iter::once("trial,from_data,from_vector_field\n".to_string())
        .chain(d.curve.iter().zip(&f.curve).enumerate().map(|(k, (a, b))| format!("{k},{a},{b}\n")))
        .collect();
    ctx.write("learning_curves.csv", &curves)?;
    // The measurement noise floor: the clean trajectory scored against the noisy recording.
    let start = by_data.tests[0].start.context("a replayed test")?;
    let floor = analysis::nrmse(&d.driven.x, &clean_trace(&d.driven, &data.clean()?, start))?;

    let window = |rec: &Recording, seconds: f64| -> Vec<(f64, f64)> {
        rec.times
            .iter()
            .enumerate()
            .take_while(|(_, t)| **t <= seconds)
            .step_by(5)
            .map(|(k, t)| (*t, rec.x.sample(k)[0]))
            .collect()
    };
    let readout = |rec: &Recording, seconds: f64| -> Vec<(f64, f64)> {
        rec.times
            .iter()
            .enumerate()
            .take_while(|(_, t)| **t <= seconds)
            .step_by(5)
            .map(|(k, t)| (*t, rec.x_hat.sample(k)[0]))
            .collect()
    };
    let show = 4.0_f64.min(d.driven.duration);
    let figure = Figure {
        cols: 3,
        panels: vec![
            Labeled {
                title: "learning curves".into(),
                x: "trial".into(),
                y: "sum ||e||^2 / sum ||x||^2".into(),
                panel: Panel::Lines {
                    series: vec![
                        Series {
                            name: "from the recording".into(),
                            points: series::learning_curve(&d.curve),
                            color: ACCENT,
                            dashed: false,
                        },
                        Series {
                            name: "from the vector field".into(),
                            points: series::learning_curve(&f.curve),
                            color: COMPONENT[0],
                            dashed: false,
                        },
                    ],
                    log_y: true,
                },
            },
            Labeled {
                title: "held-out, driven by the recorded command (x / 2)".into(),
                x: "time (s)".into(),
                y: "x / 2".into(),
                panel: Panel::Lines {
                    series: vec![
                        Series {
                            name: "recording (noisy)".into(),
                            points: window(&d.driven, show),
                            color: INK,
                            dashed: true,
                        },
                        Series {
                            name: "learned from the recording".into(),
                            points: readout(&d.driven, show),
                            color: ACCENT,
                            dashed: false,
                        },
                        Series {
                            name: "learned from the vector field".into(),
                            points: readout(&f.driven, show),
                            color: COMPONENT[0],
                            dashed: false,
                        },
                    ],
                    log_y: false,
                },
            },
            Labeled {
                title: "held-out, no command: phase plane".into(),
                x: "x / 2".into(),
                y: "y / 2".into(),
                panel: Panel::Lines { series: series::phase(&d.free, 4000), log_y: false },
            },
        ],
    };
    render(&figure, &ctx.dir, "recorded")?;
    Ok(Output {
        summary: json!({
            "rate_hz": RATE,
            "state_noise": STATE_NOISE,
            "measurement_noise": MEASUREMENT_NOISE,
            "noise_floor_nrmse": floor,
            "driven_nrmse_data": d.driven_nrmse,
            "driven_nrmse_field": f.driven_nrmse,
            "driven_nrmse_clean_data": d.driven_nrmse_clean,
            "driven_nrmse_clean_field": f.driven_nrmse_clean,
            "driven_ratio_data_to_field": d.driven_nrmse_clean / f.driven_nrmse_clean,
            "free_period_error_data": d.free_period_error,
            "free_period_error_field": f.free_period_error,
            "free_amplitude_error_data": d.free_amplitude_error,
            "free_amplitude_error_field": f.free_amplitude_error,
            "cycle_period_error_data": d.cycle_period_error,
            "cycle_period_error_field": f.cycle_period_error,
            "last_trial_error_data": d.curve.last(),
            "last_trial_error_field": f.curve.last(),
            "from_data_ablation": ablation,
        }),
        config: serde_json::to_value(&by_data)?,
    })
}
