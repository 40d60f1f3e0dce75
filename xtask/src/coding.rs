//! The `coding` experiment: closed-form weights implementing the §9 oscillator.

use crate::output::{spikes_csv, traces_csv, write_atomic};
use anyhow::Result;
use ebn_network::analysis;
use ebn_network::core::WeightForm;
use ebn_network::{Experiment, presets};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Headline numbers of the `coding` figure (keys as in docs/FIGURES.md).
#[derive(Debug, Serialize)]
struct Summary {
    test_nrmse: f64,
    spikes_per_second: f64,
    mean_rate_hz: f64,
    seed: u64,
    duration_s: f64,
    n_neurons: usize,
    wall_seconds: f64,
}

pub fn run(seed: u64, duration: f64, out: Option<&Path>) -> Result<()> {
    let config = presets::coding(seed, duration, WeightForm::Factored);
    let start = Instant::now();
    let mut experiment = Experiment::build(&config)?;
    let mut network = experiment.initial_network()?;
    let rec = experiment.run_test(&mut network, 0)?;
    let wall_seconds = start.elapsed().as_secs_f64();
    let summary = Summary {
        test_nrmse: analysis::nrmse(&rec.x, &rec.x_hat)?,
        spikes_per_second: analysis::population_rate(&rec.spikes, rec.duration)?,
        mean_rate_hz: analysis::mean_rate(&rec.spikes, rec.duration)?,
        seed,
        duration_s: duration,
        n_neurons: config.network.n,
        wall_seconds,
    };
    let json = serde_json::to_string_pretty(&summary)?;
    ebn_cli::outln!("{json}");
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)?;
        write_atomic(&dir.join("summary.json"), json.as_bytes())?;
        write_atomic(&dir.join("config.json"), serde_json::to_string_pretty(&config)?.as_bytes())?;
        write_atomic(&dir.join("traces.csv"), traces_csv(&rec).as_bytes())?;
        write_atomic(&dir.join("spikes.csv"), spikes_csv(&rec).as_bytes())?;
        eprintln!("wrote {}", dir.display());
    }
    Ok(())
}
