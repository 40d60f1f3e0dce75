//! One point of the grid: what it sets and how that reads, running it, and what it measured.

use anyhow::Result;
use ebn_network::{ExperimentConfig, Registry, analysis};

/// One point of the grid: what it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSpec {
    /// Its index in grid order (stable for a given grid).
    pub index: usize,
    /// (parameter, value) for every axis parameter, in axis order.
    pub params: Vec<(String, toml::Value)>,
    /// Its replicate (the position in the seed list).
    pub replicate: usize,
    /// Its master seed.
    pub seed: u64,
}

/// A value in TOML's inline form (strings keep their quotes); floats in the shortest form
/// that reads back to the same number, with an exponent when large or small (`1e-7`, `1e300`).
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(x) if x.is_finite() => format!("{x:?}"),
        other => other.to_string(),
    }
}

pub(super) fn describe(p: &PointSpec) -> String {
    let mut parts = vec![format!("seed {}", p.seed)];
    parts.extend(p.params.iter().map(|(k, v)| format!("{k} = {}", value_text(v))));
    parts.join(", ")
}

/// What one point measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Normalised error of the last training trial (NaN without training).
    pub last_trial_error: f64,
    /// Test NRMSE of each test, in order.
    pub test_nrmse: Vec<f64>,
    /// Population spikes per second in the first test.
    pub spikes_per_second: f64,
    /// Fraction of the first test's steps at the spike cap (above
    /// [`crate::run::CAPPED_WARNING`]: a network pinned at its spike policy's limit).
    pub capped_fraction: f64,
}

/// A point and its result (an outcome, or the error that ended it).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// What it set.
    pub spec: PointSpec,
    /// What it measured, or why it failed.
    pub result: std::result::Result<Outcome, String>,
}

/// Trains (resumably, as `control` says) and tests one configuration; also returns the
/// trial it resumed after, if it did.
pub fn run_point(
    config: &ExperimentConfig,
    registry: &Registry,
    control: &crate::run::Control<'_>,
) -> Result<(Outcome, Option<usize>)> {
    let mut exp = crate::run::build(config, registry)?;
    let trained = crate::run::train_resumable(&mut exp, control)?;
    let (mut net, state, resumed) = (trained.network, trained.state, trained.resumed_after);
    let last_trial_error = state.learning_curve.last().copied().unwrap_or(f64::NAN);
    let mut test_nrmse = Vec::new();
    let (mut spikes_per_second, mut capped_fraction) = (f64::NAN, f64::NAN);
    for k in 0..config.tests.len() {
        let rec = exp.run_test(&mut net, k)?;
        if k == 0 {
            spikes_per_second = analysis::population_rate(&rec.spikes, rec.duration)?;
            let steps = (config.tests[0].duration / config.network.dt).round() as u64;
            capped_fraction = analysis::capped_fraction(&rec.spikes, config.network.dt, steps, net.spike_cap())?;
        }
        test_nrmse.push(analysis::nrmse(&rec.x, &rec.x_hat)?);
    }
    Ok((Outcome { last_trial_error, test_nrmse, spikes_per_second, capped_fraction }, resumed))
}
