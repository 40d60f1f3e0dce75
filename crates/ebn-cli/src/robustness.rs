//! `robustness`: neuron loss, membrane noise and spike variability of a trained network.
//! Trains the experiment first (or reuses its finished checkpoint).

use crate::output::write_atomic;
use anyhow::Result;
use ebn_network::analysis;
use ebn_network::core::{Recording, SeedStreams, Stream};
use ebn_network::perturb::PerturbationConfig;
use ebn_network::{ExperimentConfig, FastForm, Registry, StoredWeights, TrainedNetwork};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Fractions of neurons silenced (at the start of the test).
pub const FRACTIONS: [f64; 5] = [0.0, 0.1, 0.25, 0.5, 0.75];
/// Random draws of the silenced set per fraction.
pub const DRAWS: u64 = 5;
/// Membrane noise intensities sigma_V (units of x per sqrt(s)).
pub const NOISE: [f64; 6] = [0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1];
/// Repeats of the same test for the variability statistics.
pub const REPEATS: u64 = 20;

/// What `robustness` does.
pub struct Options {
    /// The experiment file.
    pub file: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Membrane noise of the variability statistics.
    pub variability_sigma: f64,
}

fn trained(opts: &Options, registry: &Registry) -> Result<TrainedNetwork> {
    crate::run::trained_network(&opts.file, &opts.out.join("trained"), registry)
}

/// Test-0 NRMSE of `weights` in a network built from `config`, with a fraction of the neurons
/// silenced from the start (`kill` = (fraction, draw index of the silenced set)).
pub fn nrmse_with(
    registry: &Registry,
    config: &ExperimentConfig,
    weights: &StoredWeights,
    kill: Option<(f64, u64)>,
) -> Result<f64> {
    let mut exp = crate::run::build(config, registry)?;
    let mut net = exp.network_with(weights.to_weights()?)?;
    if let Some((fraction, draw)) = kill {
        let rng = SeedStreams::new(config.seed).indexed(Stream::Perturbation, draw);
        net.add_perturbation(PerturbationConfig::KillFraction { fraction, at: 0.0 }.build(net.decoder(), rng)?);
    }
    let rec = exp.run_test(&mut net, 0)?;
    // A network that runs away (x_hat diverging) still has a finite error: report it.
    Ok(analysis::nrmse(&rec.x, &rec.x_hat)?)
}

/// Test-0 NRMSE for each fraction of silenced neurons and each of `draws` random silenced
/// sets (outer index: fraction). Each point has its own random stream, so the result does not
/// depend on the number of threads.
pub fn loss_sweep(
    registry: &Registry,
    config: &ExperimentConfig,
    weights: &StoredWeights,
    fractions: &[f64],
    draws: u64,
) -> Result<Vec<Vec<f64>>> {
    fractions
        .par_iter()
        .map(|&f| (0..draws).into_par_iter().map(|d| nrmse_with(registry, config, weights, Some((f, d)))).collect())
        .collect()
}

/// Test-0 NRMSE for each membrane-noise intensity sigma_V.
pub fn noise_sweep(
    registry: &Registry,
    config: &ExperimentConfig,
    weights: &StoredWeights,
    sigmas: &[f64],
) -> Result<Vec<f64>> {
    sigmas
        .par_iter()
        .map(|&sigma| {
            let mut cfg = config.clone();
            cfg.network.sigma_v = sigma;
            nrmse_with(registry, &cfg, weights, None)
        })
        .collect()
}

/// Spike statistics over repeats of test 0 (same command, same initial state, independent
/// membrane noise of intensity `sigma`).
pub struct Variability {
    /// The recordings, one per repeat.
    pub recs: Vec<Recording>,
    /// ISI CV per neuron (first repeat; neurons with fewer than 5 spikes excluded).
    pub cv: analysis::PerNeuron,
    /// Local irregularity CV2 per neuron (Holt et al. 1996; first repeat, same exclusion).
    pub cv2: analysis::PerNeuron,
    /// Fano factor of spike counts in 100 ms windows, across repeats.
    pub fano: analysis::PerNeuron,
    /// Trial-to-trial SD of x_hat, absolute and relative to the pooled SD of x.
    pub readout_sd: f64,
    /// The trial-to-trial SD of x_hat over the pooled SD of x.
    pub readout_sd_rel: f64,
    /// Firing rate of each neuron (Hz, first repeat).
    pub rates: Vec<f64>,
}

/// Window of the Fano factor (s).
pub const FANO_WINDOW: f64 = 0.1;

/// Spike statistics over `repeats` repeats of test 0 with membrane noise `sigma`.
pub fn variability(
    registry: &Registry,
    config: &ExperimentConfig,
    weights: &StoredWeights,
    sigma: f64,
    repeats: u64,
) -> Result<Variability> {
    let mut cfg = config.clone();
    cfg.network.sigma_v = sigma;
    let recs: Vec<Recording> = (0..repeats)
        .into_par_iter()
        .map(|k| {
            let mut exp = crate::run::build(&cfg, registry)?;
            let mut net = exp.network_with(weights.to_weights()?)?;
            Ok(exp.run_test_repeat(&mut net, 0, k)?)
        })
        .collect::<Result<_>>()?;
    let duration = recs[0].duration;
    let trains: Vec<_> = recs.iter().map(|r| r.spikes.clone()).collect();
    let readouts: Vec<_> = recs.iter().map(|r| r.x_hat.clone()).collect();
    let readout_sd = analysis::readout_trial_sd(&readouts)?;
    Ok(Variability {
        cv: analysis::isi_cv(&trains[0], 5)?,
        cv2: analysis::isi_cv2(&trains[0], 5)?,
        fano: analysis::fano_factors(&trains, FANO_WINDOW, duration)?,
        readout_sd,
        readout_sd_rel: readout_sd / analysis::pooled_std(&recs[0].x)?,
        rates: analysis::firing_rates(&recs[0].spikes, duration)?,
        recs,
    })
}

fn loss_json(fractions: &[f64], sweep: &[Vec<f64>]) -> Vec<Value> {
    fractions
        .iter()
        .zip(sweep)
        .map(|(f, e)| json!({ "fraction": f, "nrmse_mean": e.iter().sum::<f64>() / e.len() as f64, "nrmse_draws": e }))
        .collect()
}

/// Runs the robustness measurements and writes robustness.json; returns its contents.
pub fn robustness(opts: &Options, registry: &Registry) -> Result<Value> {
    std::fs::create_dir_all(&opts.out)?;
    let trained = trained(opts, registry)?;
    let base = trained.config.clone();
    let weights = &trained.weights;
    anyhow::ensure!(!base.tests.is_empty(), "the experiment needs a [[test]] to perturb");
    let mean_threshold = {
        let net = trained.network_in(registry)?;
        net.thresholds().iter().sum::<f64>() / net.thresholds().len() as f64
    };

    // Neuron loss, intact fast weights and with the lateral part removed.
    let intact = loss_sweep(registry, &base, weights, &FRACTIONS, DRAWS)?;
    let mut lesioned_cfg = base.clone();
    lesioned_cfg.network.fast_weights = FastForm::ResetOnly;
    let lesioned = loss_sweep(registry, &lesioned_cfg, weights, &FRACTIONS, DRAWS)?;

    // Membrane noise.
    let errors = noise_sweep(registry, &base, weights, &NOISE)?;
    // The stationary voltage SD sigma / sqrt(2 lambda_v) is known for the EBN neuron only.
    let lambda_v = base.network.ebn_neuron().map(|m| m.lambda_v);
    let noise: Vec<Value> = NOISE
        .iter()
        .zip(&errors)
        .map(|(&sigma, e)| {
            let ratio = lambda_v.map(|l| sigma / (2.0 * l).sqrt() / mean_threshold);
            json!({ "sigma_v": sigma, "stationary_v_sd_over_threshold": ratio, "nrmse": e })
        })
        .collect();

    let v = variability(registry, &base, weights, opts.variability_sigma, REPEATS)?;
    let variability = json!({
        "sigma_v": opts.variability_sigma,
        "repeats": REPEATS,
        "median_isi_cv": v.cv.median,
        "isi_cv_excluded_neurons": v.cv.excluded,
        "median_fano": v.fano.median,
        "fano_window_s": FANO_WINDOW,
        "fano_excluded_neurons": v.fano.excluded,
        "readout_trial_to_trial_sd": v.readout_sd,
        "readout_sd_over_x_std": v.readout_sd_rel,
        "mean_rate_hz": analysis::mean_rate(&v.recs[0].spikes, v.recs[0].duration)?,
    });
    let summary = json!({
        "experiment": opts.file.display().to_string(),
        "mean_threshold": mean_threshold,
        "nrmse_by_fraction_killed": loss_json(&FRACTIONS, &intact),
        "nrmse_by_fraction_killed_reset_only": loss_json(&FRACTIONS, &lesioned),
        "nrmse_by_noise": noise,
        "variability": variability,
    });
    write_atomic(&opts.out.join("robustness.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}
