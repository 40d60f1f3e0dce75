//! `run <file.toml>`: train (resumably), test and write the results.

use crate::output::{series_csv, spikes_csv, traces_csv, write_atomic};
use anyhow::{Context, Result, bail};
use ebn_network::analysis;
use ebn_network::core::{Recording, SlowWeights};
use ebn_network::{
    Checkpoint, Experiment, ExperimentConfig, Network, Registry, StoredWeights, TrainedNetwork, TrainingState,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The trained network of an experiment file: trained into `dir` (or resumed, or reused if
/// finished), quietly. A file without training (fixed weights, e.g. the closed form) gives
/// its initial network.
pub fn trained_network(file: &Path, dir: &Path, registry: &Registry) -> Result<TrainedNetwork> {
    let config = load(file, registry)?;
    if config.training.is_none() {
        let net = build(&config, registry)?.initial_network()?;
        let weights = StoredWeights::from_weights(net.slow_weights());
        return Ok(TrainedNetwork { config, weights, training: Default::default() });
    }
    run(
        &RunOptions {
            file: file.to_path_buf(),
            out: Some(dir.to_path_buf()),
            fresh: false,
            quiet: true,
            checkpoint_every: CHECKPOINT_EVERY,
        },
        registry,
    )?;
    let bytes = std::fs::read(dir.join("network.ebn")).context("reading the trained network")?;
    Ok(TrainedNetwork::from_bytes_in(&bytes, registry)?)
}

/// `target/<kind>/<file stem>`: the default output directory of a command on a file.
pub fn default_out(kind: &str, file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
    PathBuf::from("target").join(kind).join(stem)
}

/// Fraction of steps at the spike cap above which a run is reported as pinned at the spike
/// policy's limit (project choice: the shipped examples spend 10-30 % of their steps with a
/// spike, a network driven to saturation by a huge learning rate 100 %).
pub const CAPPED_WARNING: f64 = 0.5;

/// Default interval between checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// What `run` does.
pub struct RunOptions {
    /// The experiment file.
    pub file: PathBuf,
    /// Output directory (default `target/experiments/<file stem>`).
    pub out: Option<PathBuf>,
    /// Ignore an existing checkpoint.
    pub fresh: bool,
    /// No progress bar and no messages.
    pub quiet: bool,
    /// Time between checkpoints (a checkpoint is also written after the last trial).
    pub checkpoint_every: Duration,
}

/// Reads and validates an experiment file (its components resolved through `registry`). A
/// `[data]` file is resolved against the experiment file's folder and its digest recorded in
/// the configuration (so that a checkpoint never resumes on a changed recording).
pub fn load(file: &Path, registry: &Registry) -> Result<ExperimentConfig> {
    load_built(file, registry).map(|(config, _)| config)
}

/// [`load`], with the experiment it built to validate the file (one build for a run).
pub fn load_built(file: &Path, registry: &Registry) -> Result<(ExperimentConfig, Experiment)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut config = ExperimentConfig::from_toml(&text).with_context(|| format!("in {}", file.display()))?;
    resolve_data(&mut config, file);
    // The recording is read once: its digest goes into the configuration (and so into the
    // experiment's and every checkpoint's), its samples into the experiment.
    let bytes = match &mut config.data {
        Some(data) => {
            let bytes = read_data(data)?.0;
            data.digest.get_or_insert_with(|| ebn_network::data::digest(&bytes));
            Some(bytes)
        }
        None => None,
    };
    let experiment =
        build_from(&config, registry, bytes.as_deref()).with_context(|| format!("in {}", file.display()))?;
    Ok((config, experiment))
}

/// Resolves a relative `data.file` against the folder of the experiment file `file`.
pub fn resolve_data(config: &mut ExperimentConfig, file: &Path) {
    if let Some(data) = &mut config.data {
        let path = Path::new(&data.file);
        if path.is_relative() {
            let base = file.parent().unwrap_or(Path::new(""));
            data.file = base.join(path).to_string_lossy().into_owned();
        }
    }
}

fn read_data(data: &ebn_network::data::DataConfig) -> Result<(Vec<u8>, &str)> {
    let bytes =
        std::fs::read(&data.file).with_context(|| format!("reading the recording data.file = {}", data.file))?;
    Ok((bytes, &data.file))
}

/// Builds an experiment through `registry`, reading its `[data]` recording if it has one.
pub fn build(config: &ExperimentConfig, registry: &Registry) -> Result<Experiment> {
    let bytes = config.data.as_ref().map(read_data).transpose()?.map(|(bytes, _)| bytes);
    build_from(config, registry, bytes.as_deref())
}

/// [`build`] with the recording's bytes already read (`None` without `[data]`).
fn build_from(config: &ExperimentConfig, registry: &Registry, bytes: Option<&[u8]>) -> Result<Experiment> {
    let data = match (&config.data, bytes) {
        (None, _) => None,
        (Some(_), None) => bail!("the configuration replays a recording ([data]) and none was read"),
        (Some(d), Some(bytes)) => {
            let name = d.file.as_str();
            let recording = ebn_network::data::RecordedData::parse(name, bytes, d, config.network.dim)
                .with_context(|| format!("in the recording {name}"))?;
            if let Some(expected) = &d.digest {
                let found = ebn_network::data::digest(bytes);
                if &found != expected {
                    bail!(
                        "the recording {name} changed since this experiment was set up (digest {found}, recorded \
                         {expected}): rerun with --fresh, or restore the file"
                    );
                }
            }
            Some(recording)
        }
    };
    Ok(Experiment::build_with_data(config, registry, data)?)
}

/// Trains (resuming from a checkpoint), tests and writes every output; returns the summary.
///
/// `summary.json` holds only what the configuration determines, so that a resumed run's is
/// byte for byte an uninterrupted run's; the wall times, which do not, go to
/// `provenance.json` beside it (as the figures do): `training.wall_seconds` (this launch's
/// training only), `training.resumed_after_trial` and `tests.<name>.wall_seconds`.
pub fn run(opts: &RunOptions, registry: &Registry) -> Result<Value> {
    let (config, mut experiment) = load_built(&opts.file, registry)?;
    let stem = opts.file.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment").to_string();
    let out = opts.out.clone().unwrap_or_else(|| default_out("experiments", &opts.file));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let start = Instant::now();
    let (mut network, training, resumed_after) = train(&mut experiment, &out, opts)?;
    let training_wall = start.elapsed().as_secs_f64();

    let mut summary = Map::new();
    let mut wall_tests = Map::new();
    let mut warnings: Vec<String> = Vec::new();
    summary.insert("experiment".into(), json!(stem));
    summary.insert("seed".into(), json!(config.seed));
    if let Some(t) = &config.training {
        let trained = TrainedNetwork {
            config: config.clone(),
            weights: StoredWeights::from_weights(network.slow_weights()),
            training: training.clone(),
        };
        write_atomic(&out.join("network.ebn"), &trained.to_bytes()?)?;
        write_atomic(
            &out.join("learning_curve.csv"),
            series_csv("normalised_error", "trial", &training.learning_curve).as_bytes(),
        )?;
        let curve = &training.learning_curve;
        let mut tr = json!({
            "trials": training.trials_done,
            "simulated_seconds": training.trials_done as f64 * t.trial_duration,
            "first_trial_error": curve.first(),
            "last_trial_error": curve.last(),
            "redraws": training.redraws,
        });
        if let Some(r) = weight_correlation(&experiment, &network)? {
            tr["weight_correlation"] = json!(r);
        }
        let capped = &training.capped_fraction;
        if !capped.is_empty() {
            write_atomic(&out.join("capped_fraction.csv"), series_csv("capped_fraction", "trial", capped).as_bytes())?;
            // The last tenth of the trials (at least one): what the trained network does.
            let tail = &capped[capped.len() - capped.len().div_ceil(10)..];
            let last = tail.iter().sum::<f64>() / tail.len() as f64;
            tr["capped_fraction_last_tenth"] = json!(last);
            tr["capped_fraction_max"] = json!(capped.iter().fold(0.0f64, |m, v| m.max(*v)));
            if last > CAPPED_WARNING {
                warnings.push(format!(
                    "training: {:.0} % of the steps of the last trials at the spike cap ({} per step): the network is \
                     pinned at the spike policy's limit (learning rate too high, or a target too fast for N)",
                    100.0 * last,
                    network.spike_cap()
                ));
            }
        }
        summary.insert("training".into(), tr);
    }
    let mut tests = Map::new();
    for (k, test) in config.tests.iter().enumerate() {
        let t0 = Instant::now();
        let rec = experiment.run_test(&mut network, k)?;
        let mut m = test_measures(&rec)?;
        let steps = (test.duration / config.network.dt).round() as u64;
        let capped = analysis::capped_fraction(&rec.spikes, config.network.dt, steps, network.spike_cap())?;
        m.insert("capped_fraction".into(), json!(capped));
        if capped > CAPPED_WARNING {
            warnings.push(format!(
                "test {}: {:.0} % of the steps at the spike cap ({} per step): the network is pinned at the spike \
                 policy's limit",
                test.name,
                100.0 * capped,
                network.spike_cap()
            ));
        }
        for (kind, result) in experiment.analyse(k, &rec) {
            let values = match result {
                Ok(values) => values.into_iter().map(|(key, v)| (key, json!(v))).collect(),
                Err(e) => vec![(format!("{kind}_error"), json!(e.to_string()))],
            };
            for (key, v) in values {
                if m.insert(key.clone(), v).is_some() {
                    return Err(ebn_network::core::Error::invalid(
                        format!("test[{k}].analyses"),
                        &key,
                        "analyses whose keys differ from each other and from the test's measures",
                    )
                    .into());
                }
            }
        }
        wall_tests.insert(test.name.clone(), json!({ "wall_seconds": t0.elapsed().as_secs_f64() }));
        write_atomic(&out.join(format!("test_{}.csv", test.name)), traces_csv(&rec).as_bytes())?;
        write_atomic(&out.join(format!("spikes_{}.csv", test.name)), spikes_csv(&rec).as_bytes())?;
        tests.insert(test.name.clone(), Value::Object(m));
    }
    summary.insert("tests".into(), Value::Object(tests));
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    summary.insert("warnings".into(), json!(warnings));
    let summary = Value::Object(summary);
    write_atomic(&out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    write_atomic(&out.join("config.json"), serde_json::to_string_pretty(&config)?.as_bytes())?;
    let training_provenance = config.training.as_ref().map(|_| {
        json!({
            "wall_seconds": training_wall,
            "resumed_after_trial": resumed_after,
        })
    });
    let provenance = json!({
        "experiment": stem,
        "seed": config.seed,
        "crate_version": env!("CARGO_PKG_VERSION"),
        "training": training_provenance,
        "tests": wall_tests,
    });
    write_atomic(&out.join("provenance.json"), serde_json::to_string_pretty(&provenance)?.as_bytes())?;
    if !opts.quiet {
        eprintln!("wrote {}", out.display());
    }
    Ok(summary)
}

fn test_measures(rec: &Recording) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    m.insert("nrmse".into(), json!(analysis::nrmse(&rec.x, &rec.x_hat)?));
    m.insert("spikes_per_second".into(), json!(analysis::population_rate(&rec.spikes, rec.duration)?));
    m.insert("mean_rate_hz".into(), json!(analysis::mean_rate(&rec.spikes, rec.duration)?));
    Ok(m)
}

/// For a linear target with the identity basis: the correlation of the learned Omega_s with
/// the closed form D^T (A + lambda I) D.
fn weight_correlation(experiment: &Experiment, network: &Network) -> Result<Option<f64>> {
    let ideal = match experiment.closed_form_weights(network, ebn_network::core::WeightForm::Dense) {
        Ok(w) => w,
        Err(ebn_network::core::Error::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let d = network.decoder();
    let learned = network.slow_weights().synaptic(d);
    let flat =
        |w: &ebn_network::core::Mat<f64>| (0..w.ncols()).flat_map(|c| w.col_as_slice(c).to_vec()).collect::<Vec<_>>();
    let SlowWeights::Dense(ideal) = ideal else { unreachable!("asked for the dense form") };
    Ok(Some(analysis::correlation(&flat(&learned), &flat(&ideal))?))
}

/// Trains the experiment's network, resuming from `out/checkpoint.ebn` when it holds the same
/// configuration, and checkpointing every few seconds (and on SIGTERM or SIGINT, see
/// [`crate::signals`]). Without a training section, returns the initial network. Also
/// returns the trial after which it resumed, if it did.
fn train(
    experiment: &mut Experiment,
    out: &Path,
    opts: &RunOptions,
) -> Result<(Network, TrainingState, Option<usize>)> {
    let control = Control {
        checkpoint: out.join("checkpoint.ebn"),
        fresh: opts.fresh,
        checkpoint_every: opts.checkpoint_every,
        stop: &crate::signals::requested,
        progress: !opts.quiet,
        log: &|line: &str| {
            if !opts.quiet {
                eprintln!("{line}")
            }
        },
    };
    let trained = train_resumable(experiment, &control)?;
    Ok((trained.network, trained.state, trained.resumed_after))
}

/// How [`train_resumable`] checkpoints, stops and reports.
pub struct Control<'a> {
    /// The checkpoint file (read to resume, written atomically).
    pub checkpoint: PathBuf,
    /// Ignore an existing checkpoint.
    pub fresh: bool,
    /// Time between checkpoints (one is also written after the last trial and on a stop).
    pub checkpoint_every: Duration,
    /// Polled after every trial: `Some(signal)` checkpoints and returns
    /// [`crate::signals::Interrupted`].
    pub stop: &'a (dyn Fn() -> Option<i32> + Sync),
    /// Show a progress bar (after two seconds, on a terminal).
    pub progress: bool,
    /// Where messages go (resuming, interrupted).
    pub log: &'a (dyn Fn(&str) + Sync),
}

/// A finished training.
pub struct Trained {
    /// The trained network.
    pub network: Network,
    /// Its training state (learning curve...).
    pub state: TrainingState,
    /// The trial after which it resumed from a checkpoint, if it did.
    pub resumed_after: Option<usize>,
}

/// Trains the experiment's network as [`Control`] says: resumes from the checkpoint when it
/// holds the same configuration (refuses one of another configuration), checkpoints at trial
/// boundaries, and on a stop request writes the checkpoint and returns
/// [`crate::signals::Interrupted`]. Without a training section, returns the initial network.
pub fn train_resumable(experiment: &mut Experiment, control: &Control<'_>) -> Result<Trained> {
    let config = experiment.config().clone();
    let Some(training) = config.training.clone() else {
        return Ok(Trained {
            network: experiment.initial_network()?,
            state: TrainingState::default(),
            resumed_after: None,
        });
    };
    let path = &control.checkpoint;
    let mut resumed_after = None;
    let (mut network, mut state) = match (control.fresh, std::fs::read(path)) {
        (false, Ok(bytes)) => {
            // Read, not validated by building its network: it must hold this experiment's
            // configuration, and `resume` checks its weights against the network it builds.
            let cp = Checkpoint::read(&bytes).with_context(|| format!("reading {}", path.display()))?;
            if cp.config != config {
                bail!(
                    "{} belongs to another configuration; use --fresh to start over (or another --out)",
                    path.display()
                );
            }
            (control.log)(&format!("resuming from {} after trial {}", path.display(), cp.state.trials_done));
            resumed_after = Some(cp.state.trials_done);
            (experiment.resume(cp.weights.to_weights()?, &cp.state)?, cp.state)
        }
        _ => (experiment.initial_network()?, TrainingState::default()),
    };
    // The bar stays hidden for the first two seconds (short runs print nothing), and for good
    // without `progress`; indicatif draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(training.trials as u64), ProgressDrawTarget::hidden());
    let started = Instant::now();
    let mut shown = !control.progress;
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} trials {elapsed}, ~{eta} left, {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("training");
    bar.set_position(state.trials_done as u64);
    let save = |network: &Network, state: &TrainingState| -> Result<()> {
        let cp = Checkpoint {
            config: config.clone(),
            state: state.clone(),
            weights: StoredWeights::from_weights(network.slow_weights()),
        };
        write_atomic(path, &cp.to_bytes()?)
    };
    let mut last_save = Instant::now();
    while !experiment.training_done(&state) {
        if let Some(signal) = (control.stop)() {
            save(&network, &state)?;
            bar.finish_and_clear();
            let saved = format!("{} holds trial {} of {}", path.display(), state.trials_done, training.trials);
            return Err(crate::signals::Interrupted { signal, saved }.into());
        }
        let error = experiment.train_trial(&mut network, &mut state)?;
        bar.set_message(format!("error {error:.4}"));
        bar.inc(1);
        if !shown && started.elapsed() >= Duration::from_secs(2) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        if last_save.elapsed() >= control.checkpoint_every || experiment.training_done(&state) {
            save(&network, &state)?;
            last_save = Instant::now();
        }
    }
    bar.finish_and_clear();
    Ok(Trained { network, state, resumed_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOKE: &str = ebn_network::presets::smoke_toml();

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ebn-xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn run_writes_every_output_and_resumes() {
        let dir = scratch("run");
        let file = dir.join("smoke.toml");
        std::fs::write(&file, SMOKE).unwrap();
        let opts = RunOptions {
            file: file.clone(),
            out: Some(dir.join("out")),
            fresh: false,
            quiet: true,
            checkpoint_every: CHECKPOINT_EVERY,
        };
        let reg = ebn_network::builtin_registry();
        let built = ebn_network::engine::networks_built();
        let first = run(&opts, &reg).unwrap();
        assert_eq!(ebn_network::engine::networks_built() - built, 1, "a run builds one network");
        for f in [
            "summary.json",
            "provenance.json",
            "config.json",
            "learning_curve.csv",
            "network.ebn",
            "checkpoint.ebn",
            "test_driven.csv",
            "spikes_driven.csv",
        ] {
            assert!(dir.join("out").join(f).is_file(), "{f} missing");
        }
        assert!(first["tests"]["driven"]["nrmse"].as_f64().unwrap().is_finite());
        assert_eq!(first["training"]["trials"], 3);
        // The trained network file loads and holds the learning curve.
        let bytes = std::fs::read(dir.join("out/network.ebn")).unwrap();
        assert_eq!(TrainedNetwork::from_bytes(&bytes).unwrap().training.learning_curve.len(), 3);
        // Wall times are in provenance.json, not in the summary.
        let read = |f: &str| std::fs::read_to_string(dir.join("out").join(f)).unwrap();
        let summary_json = read("summary.json");
        assert!(!summary_json.contains("wall"), "{summary_json}");
        let provenance: Value = serde_json::from_str(&read("provenance.json")).unwrap();
        assert!(provenance["training"]["wall_seconds"].as_f64().unwrap() >= 0.0, "{provenance}");
        assert!(provenance["training"]["resumed_after_trial"].is_null(), "{provenance}");
        assert!(provenance["tests"]["driven"]["wall_seconds"].as_f64().unwrap() >= 0.0, "{provenance}");
        // A second run finds the finished checkpoint, skips training and tests the same
        // network: the same summary.json, byte for byte.
        let built = ebn_network::engine::networks_built();
        let second = run(&opts, &reg).unwrap();
        assert_eq!(ebn_network::engine::networks_built() - built, 1, "a resumed run builds one network");
        assert_eq!(first, second);
        assert_eq!(read("summary.json"), summary_json);
        let provenance: Value = serde_json::from_str(&read("provenance.json")).unwrap();
        assert_eq!(provenance["training"]["resumed_after_trial"], 3, "{provenance}");
        // A checkpoint of another configuration is refused, not silently reused.
        std::fs::write(&file, SMOKE.replace("seed = 5", "seed = 6")).unwrap();
        let err = run(&opts, &reg).unwrap_err().to_string();
        assert!(err.contains("another configuration"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = scratch("bad");
        let file = dir.join("bad.toml");
        std::fs::write(&file, SMOKE.replace("feedback_gain", "feedbak_gain")).unwrap();
        let reg = ebn_network::builtin_registry();
        let err = format!("{:#}", load(&file, &reg).unwrap_err());
        assert!(err.contains("feedbak_gain") && err.contains("bad.toml"), "{err}");
        std::fs::write(&file, SMOKE.replace("n = 16", "n = 0")).unwrap();
        let err = format!("{:#}", load(&file, &reg).unwrap_err());
        assert!(err.contains("network.n"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
