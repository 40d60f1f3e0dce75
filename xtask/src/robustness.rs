//! `cargo xtask robustness`: neuron loss, membrane noise and spike variability of a trained
//! network (issue 4). Trains the experiment first (or reuses its finished checkpoint).

use crate::output::write_atomic;
use crate::run::{RunOptions, run};
use anyhow::{Context, Result};
use ebn_network::analysis;
use ebn_network::core::{SeedStreams, Stream};
use ebn_network::perturb::PerturbationConfig;
use ebn_network::{Experiment, ExperimentConfig, FastForm, TrainedNetwork};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Fractions of neurons silenced (at the start of the test).
const FRACTIONS: [f64; 5] = [0.0, 0.1, 0.25, 0.5, 0.75];
/// Random draws of the silenced set per fraction.
const DRAWS: u64 = 5;
/// Membrane noise intensities sigma_V (units of x per sqrt(s)).
const NOISE: [f64; 6] = [0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1];
/// Repeats of the same test for the variability statistics.
const REPEATS: u64 = 20;

pub struct Options {
    pub file: PathBuf,
    pub out: PathBuf,
    pub variability_sigma: f64,
}

fn trained(opts: &Options) -> Result<TrainedNetwork> {
    let config = crate::run::load(&opts.file)?;
    if config.training.is_none() {
        // Fixed weights (e.g. the closed form): the "trained" network is the initial one.
        let net = Experiment::build(&config)?.initial_network()?;
        let weights = ebn_network::StoredWeights::from_weights(net.slow_weights());
        return Ok(TrainedNetwork { config, weights, training: Default::default() });
    }
    let dir = opts.out.join("trained");
    run(&RunOptions { file: opts.file.clone(), out: Some(dir.clone()), fresh: false, quiet: true })?;
    let bytes = std::fs::read(dir.join("network.ebn")).context("reading the trained network")?;
    Ok(TrainedNetwork::from_bytes(&bytes)?)
}

/// Test-0 NRMSE of the trained weights in a network built from `config`, with `kill` silenced.
fn nrmse_with(config: &ExperimentConfig, trained: &TrainedNetwork, kill: Option<(f64, u64)>) -> Result<f64> {
    let mut exp = Experiment::build(config)?;
    let mut net = exp.network_with(trained.weights.to_weights()?)?;
    if let Some((fraction, draw)) = kill {
        let rng = SeedStreams::new(config.seed).indexed(Stream::Perturbation, draw);
        net.add_perturbation(PerturbationConfig::KillFraction { fraction, at: 0.0 }.build(net.decoder(), rng)?);
    }
    let rec = exp.run_test(&mut net, 0)?;
    // A network that runs away (x_hat diverging) still has a finite error: report it.
    Ok(analysis::nrmse(&rec.x, &rec.x_hat)?)
}

fn loss_curve(config: &ExperimentConfig, trained: &TrainedNetwork) -> Result<Vec<Value>> {
    FRACTIONS
        .iter()
        .map(|&f| {
            let errors: Vec<f64> =
                (0..DRAWS).map(|d| nrmse_with(config, trained, Some((f, d)))).collect::<Result<_>>()?;
            Ok(json!({ "fraction": f, "nrmse_mean": errors.iter().sum::<f64>() / errors.len() as f64, "nrmse_draws": errors }))
        })
        .collect()
}

pub fn robustness(opts: &Options) -> Result<Value> {
    std::fs::create_dir_all(&opts.out)?;
    let trained = trained(opts)?;
    let base = trained.config.clone();
    anyhow::ensure!(!base.tests.is_empty(), "the experiment needs a [[test]] to perturb");
    let mean_threshold = {
        let net = trained.network()?;
        net.thresholds().iter().sum::<f64>() / net.thresholds().len() as f64
    };

    // Neuron loss, intact fast weights and with the lateral part removed.
    let intact = loss_curve(&base, &trained)?;
    let mut lesioned_cfg = base.clone();
    lesioned_cfg.network.fast_weights = FastForm::ResetOnly;
    let lesioned = loss_curve(&lesioned_cfg, &trained)?;

    // Membrane noise.
    let mut noise = Vec::new();
    for &sigma in &NOISE {
        let mut cfg = base.clone();
        cfg.network.sigma_v = sigma;
        let e = nrmse_with(&cfg, &trained, None)?;
        let v_sd = sigma / (2.0 * cfg.network.neuron.lambda_v).sqrt();
        noise.push(json!({ "sigma_v": sigma, "stationary_v_sd_over_threshold": v_sd / mean_threshold, "nrmse": e }));
    }

    // Variability: the same command and initial state, REPEATS noise realisations.
    let mut cfg = base.clone();
    cfg.network.sigma_v = opts.variability_sigma;
    let mut exp = Experiment::build(&cfg)?;
    let mut recs = Vec::new();
    for k in 0..REPEATS {
        let mut net = exp.network_with(trained.weights.to_weights()?)?;
        recs.push(exp.run_test_repeat(&mut net, 0, k)?);
    }
    let duration = recs[0].duration;
    let trains: Vec<_> = recs.iter().map(|r| r.spikes.clone()).collect();
    let cvs = analysis::isi_cv(&trains[0], 5)?;
    let fano = analysis::fano_factors(&trains, 0.1, duration)?;
    let readouts: Vec<_> = recs.iter().map(|r| r.x_hat.clone()).collect();
    let sd = analysis::readout_trial_sd(&readouts)?;
    let variability = json!({
        "sigma_v": opts.variability_sigma,
        "repeats": REPEATS,
        "median_isi_cv": cvs.median,
        "isi_cv_excluded_neurons": cvs.excluded,
        "median_fano": fano.median,
        "fano_window_s": 0.1,
        "fano_excluded_neurons": fano.excluded,
        "readout_trial_to_trial_sd": sd,
        "readout_sd_over_x_std": sd / analysis::pooled_std(&recs[0].x)?,
        "mean_rate_hz": analysis::mean_rate(&recs[0].spikes, duration)?,
    });
    let summary = json!({
        "experiment": opts.file.display().to_string(),
        "mean_threshold": mean_threshold,
        "nrmse_by_fraction_killed": intact,
        "nrmse_by_fraction_killed_reset_only": lesioned,
        "nrmse_by_noise": noise,
        "variability": variability,
    });
    write_atomic(&opts.out.join("robustness.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

/// Default output directory for an experiment file.
pub fn default_out(file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
    PathBuf::from("target/robustness").join(stem)
}
