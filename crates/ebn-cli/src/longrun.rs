//! `cargo xtask longrun`: a trained network run for a long time (10^4 simulated seconds by
//! default) with its teacher alongside and K = 0, streamed window by window (nothing is kept
//! but per-window statistics), to check that nothing drifts: no NaN, no growth of any state,
//! stationary error and spike statistics.
//!
//! The run uses the experiment's first test: its command, made to stay on for the whole run
//! (a command with on-windows would otherwise be off for most of it), and its initial state.
//! Per window: the normalised error sum ||e||^2 / sum ||x||^2, the spike rate, the largest
//! |x_hat_j|, |x_j| and |V_i| (sampled every 10 steps), and the largest trace r_i at the
//! window's end. Stationarity: the means over the first and the last tenth of the windows.

use crate::output::write_atomic;
use anyhow::{Context, Result};
use ebn_network::core::{Observer, SeedStreams, Stream};
use ebn_network::{Registry, Teacher, simulate};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// What `longrun` does.
pub struct Options {
    /// The experiment file.
    pub file: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Simulated seconds.
    pub seconds: f64,
    /// Window length (s).
    pub window: f64,
    /// No progress bar.
    pub quiet: bool,
}

/// Per-window extremes, sampled every `every` steps.
struct Extremes {
    every: u64,
    x_hat: f64,
    x: f64,
    v: f64,
    finite: bool,
}

impl Observer for Extremes {
    fn due(&self, step: u64) -> bool {
        step.is_multiple_of(self.every)
    }
    fn sample(&mut self, _t: f64, x: &[f64], x_hat: &[f64], _c: &[f64], voltages: &[f64]) {
        let max_abs = |s: &[f64]| s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        self.finite &= x_hat.iter().chain(voltages).all(|v| v.is_finite());
        self.x_hat = self.x_hat.max(max_abs(x_hat));
        self.x = self.x.max(max_abs(x));
        self.v = self.v.max(max_abs(voltages));
    }
    fn spike(&mut self, _t: f64, _neuron: usize) {}
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Runs the long run and writes longrun.csv and longrun.json; returns the summary.
pub fn longrun(opts: &Options, registry: &Registry) -> Result<Value> {
    std::fs::create_dir_all(&opts.out)?;
    let trained = crate::run::trained_network(&opts.file, &opts.out.join("trained"), registry)?;
    let mut config = trained.config.clone();
    let test = config.tests.first().cloned().context("the experiment needs a [[test]]")?;
    let mut command = test.command.clone().context("longrun needs a first [[test]] with a command (not a replay)")?;
    // The built-in filtered noise stays on for the whole run (a windowed command would
    // switch off after the first fraction of 10^4 s).
    if command.kind == "filtered_noise" {
        command.params.insert("windows".into(), json!([[0.0, 1.0]]));
    }
    config.tests[0].command = Some(command.clone());
    // Validates the configuration and builds the network with the trained weights.
    let exp = crate::run::build(&config, registry)?;
    let mut net = exp.resume(trained.weights.to_weights()?, &trained.training)?;
    let dt = config.network.dt;
    let j = config.network.dim;
    let target = config.target.as_ref().context("longrun needs a [target] vector field")?;
    let teacher_system = registry.target(target, "target")?;
    let mut integrator = registry.integrator(&config.integrator, "integrator")?;
    let signal = registry.command(&command, "test[0].command", j)?;
    let mut stream = signal.realise(dt, opts.seconds, SeedStreams::new(config.seed).indexed(Stream::Command, 1 << 50));
    let mut x = test.initial_state.clone().unwrap_or_else(|| vec![0.0; j]);
    // One run: no feedback, no learning; the membrane noise, as a run's, on the long run's
    // own streams.
    let seeds = SeedStreams::new(config.seed);
    let mut settings = ebn_network::RunSettings::new(ebn_network::Protocol::FREE, seeds.rng(Stream::NeuronState));
    if config.network.sigma_v > 0.0 {
        let window = ebn_network::perturb::Window::ALWAYS;
        let noise = ebn_network::perturb::MembraneNoise::new(config.network.sigma_v, window, seeds.rng(Stream::Noise));
        settings.from_start.push(Box::new(noise));
    }
    if config.preload.duration > 0.0 && x.iter().any(|v| *v != 0.0) {
        let p = &config.preload;
        settings.preload = Some(ebn_network::PreloadState { state: x.clone(), duration: p.duration, gain: p.gain });
    }
    net.start_run(settings)?;

    let windows = (opts.seconds / opts.window).round().max(1.0) as usize;
    let steps = (opts.window / dt).round() as u64;
    let bar = indicatif::ProgressBar::new(windows as u64);
    if opts.quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let start = Instant::now();
    let mut rows = Vec::with_capacity(windows);
    let mut csv = String::from("t_end,normalised_error,rate_hz,max_abs_x_hat,max_abs_x,max_abs_v,max_r\n");
    for w in 0..windows {
        let mut ext = Extremes { every: 10, x_hat: 0.0, x: 0.0, v: 0.0, finite: true };
        let stats = simulate(
            &mut net,
            Teacher { system: teacher_system.as_ref(), integrator: integrator.as_mut() },
            stream.as_mut(),
            &mut x,
            steps,
            &mut ext,
        );
        let max_r = net.traces().iter().fold(0.0f64, |m, r| m.max(*r));
        let error = stats.normalised_error();
        let rate = stats.spikes as f64 / opts.window / config.network.n as f64;
        anyhow::ensure!(
            ext.finite && error.is_finite() && max_r.is_finite(),
            "non-finite state in window {w} (t = {} s)",
            (w + 1) as f64 * opts.window
        );
        let t_end = (w + 1) as f64 * opts.window;
        csv.push_str(&format!("{t_end},{error},{rate},{},{},{},{max_r}\n", ext.x_hat, ext.x, ext.v));
        rows.push([error, rate, ext.x_hat, ext.x, ext.v, max_r]);
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_atomic(&opts.out.join("longrun.csv"), csv.as_bytes())?;
    let tenth = (windows / 10).max(1);
    let column = |c: usize, range: std::ops::Range<usize>| mean(&rows[range].iter().map(|r| r[c]).collect::<Vec<_>>());
    let (first, last) = (0..tenth, windows - tenth..windows);
    let names = ["normalised_error", "rate_hz", "max_abs_x_hat", "max_abs_x", "max_abs_v", "max_r"];
    let mut stationarity = serde_json::Map::new();
    for (c, name) in names.iter().enumerate() {
        let (a, b) = (column(c, first.clone()), column(c, last.clone()));
        stationarity.insert((*name).into(), json!({ "first_tenth": a, "last_tenth": b, "ratio": b / a }));
    }
    let overall_max = |c: usize| rows.iter().fold(0.0f64, |m, r| m.max(r[c]));
    let summary = json!({
        "experiment": opts.file.display().to_string(),
        "simulated_seconds": windows as f64 * opts.window,
        "window_seconds": opts.window,
        "steps": windows as u64 * steps,
        "wall_seconds": start.elapsed().as_secs_f64(),
        "all_finite": true,
        "max_abs_x_hat": overall_max(2),
        "max_abs_x": overall_max(3),
        "max_abs_v": overall_max(4),
        "max_r": overall_max(5),
        "stationarity": stationarity,
    });
    write_atomic(&opts.out.join("longrun.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}
