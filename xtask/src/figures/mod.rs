//! The figure pipeline: a registry of figures, each with a paper and a smoke scale, run in
//! parallel (rayon) with results independent of the number of jobs. Every figure writes, under
//! `DIR/ID/`: `ID.png`, `ID.svg`, CSV data behind its panels, `summary.json` (the headline
//! numbers named in docs/FIGURES.md) and `provenance.json` (config, seed, commit, versions, wall
//! time).

mod bistable;
mod catalogue;
mod coding;
mod decoder;
mod efficiency;
mod linear;
mod lorenz;
mod neurons;
mod pendulum;
pub mod recorded;
mod robustness;
mod rules;
mod vanderpol;
mod variability;

use crate::output::write_atomic;
use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Paper scale (the default) or smoke scale (small and short, used by the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// The scale of the paper's figures.
    Paper,
    /// Small and short: checks the pipeline, not the numbers.
    Smoke,
}

/// What a figure gets.
pub struct Ctx {
    pub scale: Scale,
    pub seed: u64,
    pub dir: PathBuf,
    /// The figure's progress bar, counted in training trials (`train_example` adds and
    /// advances them); hidden when progress is off or stderr is not a terminal.
    pub bar: ProgressBar,
}

impl Ctx {
    /// Writes `name` in the figure's directory.
    pub fn write(&self, name: &str, contents: &str) -> Result<()> {
        write_atomic(&self.dir.join(name), contents.as_bytes())
    }
}

/// What a figure returns: its headline numbers and the configuration it ran.
pub struct Output {
    pub summary: Value,
    pub config: Value,
}

/// A registered figure.
pub struct Spec {
    pub id: &'static str,
    pub description: &'static str,
    pub run: fn(&Ctx) -> Result<Output>,
}

/// Every figure, in the order of docs/FIGURES.md.
pub const REGISTRY: &[Spec] = &[
    coding::SPEC,
    linear::SPEC,
    bistable::SPEC,
    pendulum::SPEC,
    variability::SPEC,
    robustness::SPEC,
    efficiency::SPEC,
    vanderpol::SPEC,
    lorenz::SPEC,
    neurons::SPEC,
    rules::SPEC,
    decoder::SPEC,
    recorded::SPEC,
    catalogue::SPEC,
];

pub fn list() {
    for s in REGISTRY {
        ebn_cli::outln!("{:<12} {}", s.id, s.description);
    }
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn run_one(spec: &Spec, scale: Scale, seed: u64, out: &Path, bars: &MultiProgress) -> Result<Value> {
    let dir = out.join(spec.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let bar = bars.add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:25}] {pos}/{len} trials {elapsed}, ~{eta} left {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(spec.id);
    bar.enable_steady_tick(Duration::from_millis(500));
    let ctx = Ctx { scale, seed, dir: dir.clone(), bar };
    let start = Instant::now();
    let output = (spec.run)(&ctx).with_context(|| format!("figure {}", spec.id));
    ctx.bar.finish_with_message(if output.is_ok() { "done" } else { "failed" });
    let output = output?;
    let provenance = json!({
        "figure": spec.id,
        "scale": format!("{scale:?}").to_lowercase(),
        "seed": seed,
        "git_commit": git_commit(),
        "crate_version": env!("CARGO_PKG_VERSION"),
        "wall_seconds": start.elapsed().as_secs_f64(),
        "config": output.config,
    });
    ctx.write("summary.json", &serde_json::to_string_pretty(&output.summary)?)?;
    ctx.write("provenance.json", &serde_json::to_string_pretty(&provenance)?)?;
    Ok(output.summary)
}

/// Runs the selected figures (all if `only` is empty) with `jobs` threads, with one progress
/// bar per figure on stderr if `progress` (and stderr is a terminal).
pub fn run(
    only: &[String],
    scale: Scale,
    seed: u64,
    out: &Path,
    jobs: usize,
    progress: bool,
) -> Result<Vec<(String, Value)>> {
    for id in only {
        if !REGISTRY.iter().any(|s| s.id == id) {
            let ids: Vec<&str> = REGISTRY.iter().map(|s| s.id).collect();
            bail!("unknown figure `{id}`; available: {}", ids.join(", "));
        }
    }
    let selected: Vec<&Spec> = REGISTRY.iter().filter(|s| only.is_empty() || only.iter().any(|i| i == s.id)).collect();
    let target = if progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bars = MultiProgress::with_draw_target(target);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build()?;
    pool.install(|| {
        selected
            .par_iter()
            .map(|spec| run_one(spec, scale, seed, out, &bars).map(|s| (spec.id.to_string(), s)))
            .collect()
    })
}

/// Parses an example file, sets the seed, shrinks training to `smoke_trials` trials at smoke
/// scale, builds the experiment and trains its network (writing `learning_curve.csv`): the
/// common start of the learning figures.
pub fn train_example(
    ctx: &Ctx,
    toml: &str,
    smoke_trials: usize,
) -> Result<(ebn_network::ExperimentConfig, ebn_network::Experiment, ebn_network::Network, ebn_network::TrainingState)>
{
    let config = example(ctx, toml, smoke_trials)?;
    let (exp, net, state) = train(ctx, &config)?;
    ctx.write("learning_curve.csv", &crate::output::series_csv("normalised_error", "trial", &state.learning_curve))?;
    Ok((config, exp, net, state))
}

/// Parses an example file with the figure's seed, and `smoke_trials` trials at smoke scale.
pub fn example(ctx: &Ctx, toml: &str, smoke_trials: usize) -> Result<ebn_network::ExperimentConfig> {
    let mut config = ebn_network::ExperimentConfig::from_toml(toml)?;
    config.seed = ctx.seed;
    if ctx.scale == Scale::Smoke
        && let Some(t) = config.training.as_mut()
    {
        t.trials = smoke_trials;
    }
    Ok(config)
}

/// Builds the experiment of `config` and trains its network, advancing the figure's bar.
pub fn train(
    ctx: &Ctx,
    config: &ebn_network::ExperimentConfig,
) -> Result<(ebn_network::Experiment, ebn_network::Network, ebn_network::TrainingState)> {
    let mut exp = ebn_network::Experiment::build(config)?;
    let mut net = exp.initial_network()?;
    let mut state = ebn_network::TrainingState::default();
    let trials = config.training.as_ref().map_or(0, |t| t.trials);
    ctx.bar.inc_length(trials as u64);
    exp.train(&mut net, &mut state, |_| ctx.bar.inc(1))?;
    Ok((exp, net, state))
}

/// Series helpers shared by figures.
pub mod series {
    use crate::plot::{COMPONENT, INK, Series};
    use ebn_network::core::Recording;

    /// Teacher (dashed) and network (solid) series of every component of a recording,
    /// subsampled to at most `max_points` points each.
    pub fn teacher_and_network(rec: &Recording, names: &[&str], max_points: usize) -> Vec<Series> {
        let stride = (rec.times.len() / max_points.max(1)).max(1);
        let mut out = Vec::new();
        for j in 0..rec.x.dim {
            let name = names.get(j).copied().unwrap_or("x");
            let pick = |tr: &ebn_network::core::Trace| -> Vec<(f64, f64)> {
                rec.times.iter().enumerate().step_by(stride).map(|(k, t)| (*t, tr.sample(k)[j])).collect()
            };
            let color = COMPONENT[j % COMPONENT.len()];
            out.push(Series { name: format!("{name} teacher"), points: pick(&rec.x), color, dashed: true });
            out.push(Series { name: format!("{name} network"), points: pick(&rec.x_hat), color, dashed: false });
        }
        out
    }

    /// The learning curve as (trial, error) points, trials counted from 1.
    pub fn learning_curve(curve: &[f64]) -> Vec<(f64, f64)> {
        curve.iter().enumerate().map(|(k, e)| ((k + 1) as f64, *e)).collect()
    }

    /// Phase portrait (component 0 against component 1), teacher dashed and network solid.
    pub fn phase(rec: &Recording, max_points: usize) -> Vec<Series> {
        let stride = (rec.times.len() / max_points.max(1)).max(1);
        let pick = |tr: &ebn_network::core::Trace| -> Vec<(f64, f64)> {
            (0..rec.times.len()).step_by(stride).map(|k| (tr.sample(k)[0], tr.sample(k)[1])).collect()
        };
        vec![
            Series { name: "teacher".into(), points: pick(&rec.x), color: INK, dashed: true },
            Series { name: "network".into(), points: pick(&rec.x_hat), color: COMPONENT[0], dashed: false },
        ]
    }

    /// The learning-curve panel shared by the learning figures (log scale).
    pub fn learning_curve_panel(curve: &[f64]) -> crate::plot::Labeled {
        crate::plot::Labeled {
            title: "learning curve (feedback on)".into(),
            x: "trial".into(),
            y: "sum ||e||^2 / sum ||x||^2".into(),
            panel: crate::plot::Panel::Lines {
                series: vec![Series { name: "error".into(), points: learning_curve(curve), color: INK, dashed: false }],
                log_y: true,
            },
        }
    }

    /// The spikes of a recording as (time, neuron) pairs.
    pub fn raster(rec: &Recording) -> Vec<(f64, u32)> {
        rec.spikes.times.iter().copied().zip(rec.spikes.neurons.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every figure at smoke scale: its files appear and its summary keys are finite numbers
    /// (or arrays of them). The paper-scale numbers are in docs/REPRODUCTION.md, not here.
    #[test]
    fn every_figure_runs_at_smoke_scale() {
        let out = std::env::temp_dir().join(format!("ebn-figures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let results = run(&[], Scale::Smoke, 1, &out, 2, false).unwrap();
        assert_eq!(results.len(), REGISTRY.len());
        for (id, summary) in results {
            for f in [format!("{id}.png"), format!("{id}.svg"), "summary.json".into(), "provenance.json".into()] {
                let path = out.join(&id).join(&f);
                assert!(path.is_file() && std::fs::metadata(&path).unwrap().len() > 0, "{}", path.display());
            }
            let csvs = std::fs::read_dir(out.join(&id))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "csv"));
            assert!(csvs.count() >= 1, "{id}: no CSV data");
            let keys = required_keys(&id);
            for key in keys {
                let v = &summary[key];
                let ok = finite_numbers(v);
                assert!(ok, "{id}: summary key `{key}` missing or not finite: {v}");
            }
        }
        std::fs::remove_dir_all(&out).unwrap();
    }

    /// A finite number, or a non-empty array of them (arrays may nest, e.g. one per system).
    fn finite_numbers(v: &Value) -> bool {
        v.as_f64().is_some_and(f64::is_finite)
            || v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(finite_numbers))
    }

    /// The headline keys docs/FIGURES.md names for each figure.
    fn required_keys(id: &str) -> &'static [&'static str] {
        match id {
            "coding" => &["test_nrmse", "spikes_per_second", "mean_rate_hz"],
            "linear" => &["test_nrmse", "weight_correlation", "first_trial_error", "last_trial_error"],
            "bistable" => &["test_nrmse", "attractor_agreement"],
            "pendulum" => &["test_nrmse"],
            "variability" => {
                &["median_isi_cv", "median_isi_cv2", "median_fano", "mean_rate_hz", "readout_trial_to_trial_sd"]
            }
            "robustness" => &["nrmse_by_fraction_killed", "nrmse_by_noise"],
            "efficiency" => &["nrmse_by_n", "spikes_by_n"],
            "vanderpol" => &["period_error", "amplitude_error", "amplitude_error_y", "mean_rate_hz"],
            "lorenz" => &[
                "nrmse_at_0p25s",
                "lobe_switches_teacher",
                "lobe_switches_network",
                "long_mean_shift",
                "long_spread_error",
                "long_frequency_error",
            ],
            "neurons" => &[
                "synaptic_nrmse_hard_all_fire",
                "synaptic_nrmse_soft_one_per_step",
                "slew_nrmse",
                "slew_spikes_per_second",
            ],
            "recorded" => &[
                "noise_floor_nrmse",
                "driven_nrmse_data",
                "driven_nrmse_field",
                "driven_nrmse_clean_data",
                "driven_nrmse_clean_field",
                "driven_ratio_data_to_field",
                "free_period_error_data",
                "free_period_error_field",
                "cycle_period_error_data",
                "cycle_period_error_field",
            ],
            "decoder" => &[
                "coding_nrmse_before",
                "coding_nrmse_after",
                "coding_nrmse_efficient",
                "rate_hz_before",
                "rate_hz_after",
                "rate_hz_efficient",
                "test_nrmse_learned_code",
                "test_nrmse_fixed_decoder",
            ],
            "rules" => &["drift_test_ratio_vanderpol", "drift_test_ratio_lorenz"],
            "catalogue" => &[
                "systems",
                "kept_development_chaotic",
                "development_chaotic",
                "kept_held_out_chaotic",
                "held_out_chaotic",
                "nrmse_at_0p25s",
            ],
            other => panic!("no key list for figure {other}"),
        }
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_jobs() {
        let base = std::env::temp_dir().join(format!("ebn-figures-jobs-{}", std::process::id()));
        let a = run(&[], Scale::Smoke, 3, &base.join("one"), 1, false).unwrap();
        let b = run(&[], Scale::Smoke, 3, &base.join("two"), 2, false).unwrap();
        assert_eq!(a, b);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
