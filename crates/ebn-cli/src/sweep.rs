//! `sweep`: many trainings of one experiment file, over seeds and optionally one
//! parameter, in parallel (rayon). Every point is a function of its configuration alone (its
//! seed names every random stream), so the results do not depend on the number of threads or
//! on the order in which points finish; they are written in the order of the grid.

use crate::output::write_atomic;
use anyhow::{Context, Result, bail};
use ebn_network::{ExperimentConfig, Registry, TrainingState, analysis};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::path::Path;

/// One point of the grid: its seed and parameter value, and what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The master seed.
    pub seed: u64,
    /// The parameter value, as given.
    pub value: Option<String>,
    /// Normalised error of the last training trial (NaN without training).
    pub last_trial_error: f64,
    /// Test NRMSE of each test, in order.
    pub test_nrmse: Vec<f64>,
    /// Population spikes per second in the first test.
    pub spikes_per_second: f64,
}

/// Sets `path` (dotted, e.g. `network.sigma_v` or `training.trials`) in a TOML document to
/// `value` (parsed as TOML: a number, a boolean, a quoted string...).
fn set_path(doc: &mut toml::Value, path: &str, value: &str) -> Result<()> {
    let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .with_context(|| format!("--values: `{value}` is not a TOML value"))?
        .remove("v")
        .context("a value")?;
    let mut node = doc;
    let keys: Vec<&str> = path.split('.').collect();
    for (k, key) in keys.iter().enumerate() {
        let table = node.as_table_mut().with_context(|| format!("--param {path}: `{key}` is not inside a table"))?;
        if k + 1 == keys.len() {
            table.insert((*key).to_string(), parsed);
            return Ok(());
        }
        node = table.entry((*key).to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    bail!("--param: empty path")
}

/// The configuration of one grid point.
pub fn point_config(text: &str, seed: u64, param: Option<(&str, &str)>) -> Result<ExperimentConfig> {
    let mut doc: toml::Value = toml::from_str(text).context("parsing the experiment file")?;
    if let Some((path, value)) = param {
        set_path(&mut doc, path, value)?;
    }
    let text = toml::to_string(&doc)?;
    let mut config = ExperimentConfig::from_toml(&text)?;
    config.seed = seed;
    Ok(config)
}

/// Trains and tests one configuration.
pub fn run_point(config: &ExperimentConfig, registry: &Registry) -> Result<(f64, Vec<f64>, f64)> {
    let mut exp = crate::run::build(config, registry)?;
    let mut net = exp.initial_network()?;
    let mut state = TrainingState::default();
    for _ in 0..config.training.as_ref().map_or(0, |t| t.trials) {
        let error = exp.train_trial(&mut net, &mut state)?;
        anyhow::ensure!(error.is_finite(), "training diverged at trial {}", state.trials_done);
    }
    let last = state.learning_curve.last().copied().unwrap_or(f64::NAN);
    let mut nrmse = Vec::new();
    let mut spikes = f64::NAN;
    for k in 0..config.tests.len() {
        let rec = exp.run_test(&mut net, k)?;
        if k == 0 {
            spikes = analysis::population_rate(&rec.spikes, rec.duration)?;
        }
        nrmse.push(analysis::nrmse(&rec.x, &rec.x_hat)?);
    }
    Ok((last, nrmse, spikes))
}

/// Runs the grid seeds x values with `jobs` threads.
pub fn sweep(
    text: &str,
    seeds: &[u64],
    param: Option<(&str, &[String])>,
    jobs: usize,
    registry: &Registry,
) -> Result<Vec<Point>> {
    let values: Vec<Option<String>> = match param {
        None => vec![None],
        Some((_, vs)) => vs.iter().cloned().map(Some).collect(),
    };
    let grid: Vec<(u64, Option<String>)> =
        values.iter().flat_map(|v| seeds.iter().map(move |s| (*s, v.clone()))).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build()?;
    pool.install(|| {
        grid.par_iter()
            .map(|(seed, value)| {
                let config = point_config(text, *seed, param.zip(value.as_deref()).map(|((p, _), v)| (p, v)))?;
                let (last_trial_error, test_nrmse, spikes_per_second) =
                    run_point(&config, registry).with_context(|| {
                        format!("seed {seed}{}", value.as_ref().map_or(String::new(), |v| format!(", {v}")))
                    })?;
                Ok(Point { seed: *seed, value: value.clone(), last_trial_error, test_nrmse, spikes_per_second })
            })
            .collect()
    })
}

/// Writes sweep.csv and sweep.json under `out`; returns the JSON.
pub fn write(points: &[Point], param: Option<&str>, out: &Path) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let tests = points.first().map_or(0, |p| p.test_nrmse.len());
    let mut csv = format!("seed,{},last_trial_error,spikes_per_second", param.unwrap_or("value"));
    for k in 0..tests {
        csv.push_str(&format!(",test{k}_nrmse"));
    }
    csv.push('\n');
    for p in points {
        csv.push_str(&format!(
            "{},{},{},{}",
            p.seed,
            p.value.as_deref().unwrap_or(""),
            p.last_trial_error,
            p.spikes_per_second
        ));
        for e in &p.test_nrmse {
            csv.push_str(&format!(",{e}"));
        }
        csv.push('\n');
    }
    write_atomic(&out.join("sweep.csv"), csv.as_bytes())?;
    let json = json!({
        "param": param,
        "points": points.iter().map(|p| json!({
            "seed": p.seed, "value": p.value, "last_trial_error": p.last_trial_error,
            "test_nrmse": p.test_nrmse, "spikes_per_second": p.spikes_per_second,
        })).collect::<Vec<_>>(),
    });
    write_atomic(&out.join("sweep.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOKE: &str = r#"
seed = 1
[target]
kind = "damped_oscillator"
[network]
n = 24
dim = 2
mu = 1e-4
nu = 1e-6
feedback_gain = 5.0
basis = { kind = "identity" }
rule = { kind = "local", eta = 10.0 }
[training]
trials = 3
trial_duration = 0.3
command = { kind = "filtered_noise", amplitude = [600.0, 0.0], windows = [[0.03, 0.3]] }
[[test]]
name = "driven"
duration = 0.5
command = { kind = "filtered_noise", amplitude = [600.0, 0.0], windows = [[0.03, 0.3]] }
"#;

    /// A parallel sweep gives bit-identical results with 1 and 2 threads and on a rerun, and
    /// each point equals the same configuration run alone.
    #[test]
    fn parallel_sweeps_are_bit_identical() {
        let seeds = [1, 2, 3, 4, 5, 6];
        let values = vec!["0.0".to_string(), "1e-3".to_string()];
        let param = Some(("network.sigma_v", values.as_slice()));
        let one = sweep(SMOKE, &seeds, param, 1, ebn_network::builtins()).unwrap();
        let two = sweep(SMOKE, &seeds, param, 2, ebn_network::builtins()).unwrap();
        let again = sweep(SMOKE, &seeds, param, 2, ebn_network::builtins()).unwrap();
        assert_eq!(one.len(), 12);
        assert_eq!(one, two);
        assert_eq!(two, again);
        // Bit for bit, including NaN-free floats compared by their bits.
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(a.last_trial_error.to_bits(), b.last_trial_error.to_bits());
        }
        let alone =
            run_point(&point_config(SMOKE, 4, Some(("network.sigma_v", "1e-3"))).unwrap(), ebn_network::builtins())
                .unwrap();
        let p = one.iter().find(|p| p.seed == 4 && p.value.as_deref() == Some("1e-3")).unwrap();
        assert_eq!((p.last_trial_error, p.test_nrmse.clone(), p.spikes_per_second), alone);
        // Different seeds and noise levels give different results (the grid is not degenerate).
        assert_ne!(one[0].test_nrmse, one[1].test_nrmse);
        assert_ne!(one[0].test_nrmse, one[6].test_nrmse);
    }

    #[test]
    fn bad_parameter_paths_are_errors() {
        assert!(point_config(SMOKE, 1, Some(("seed.x", "1"))).is_err());
        let err = point_config(SMOKE, 1, Some(("network.n", "-5"))).unwrap_err();
        assert!(format!("{err:#}").contains("n"), "{err:#}");
        assert!(point_config(SMOKE, 1, Some(("network.sigma_v", "not a value"))).is_err());
    }
}
