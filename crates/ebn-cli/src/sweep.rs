//! `sweep`: many trainings of one experiment over a grid of parameters and seeds, on one
//! machine or as the tasks of a job array (SLURM, HyperQueue), gathered into one table.
//!
//! # The grid
//!
//! A grid is the cartesian product of its axes, in order (the first axis varies slowest),
//! times its seeds (fastest). An axis sets one parameter (`param`, a dotted path into the
//! experiment file, and its `values`) or several together (`params`, and one array of values
//! per point: zipped lists). Seeds are either listed (each point runs with that master seed) or
//! derived: with `replicates = R` and a master `seed`, replicate r of a point runs with
//! `splitmix64(fnv1a("<seed>|<assignments>|<r>"))`, a function of the point's values and not of
//! its position, so that adding a value to an axis leaves every other point's seed (and
//! result) unchanged. Points are numbered 0..P in grid order: the index is stable for a given
//! sweep file.
//!
//! # Where results live
//!
//! Under the output directory: `sweep-grid.json` (the sweep's hash, its points), then
//! `points/<index>.json`, one file per finished point, written atomically and carrying the
//! sweep's hash; `points/<index>.checkpoint.ebn` while a point trains. A point whose file
//! exists with this sweep's hash is done and skipped, so a repeated or requeued task redoes
//! nothing; a point that failed (training diverged) is written with its error and retried by
//! the next run. A stop signal (SIGTERM, SIGINT) checkpoints the training points at their
//! next trial boundary and ends the command with status 128 + signal; the same command
//! resumes them, bit for bit. [`gather`] reads the point files back into `sweep.csv` (with
//! `sweep.npz` beside it) and `sweep.json`, never mixing two sweeps: a point file of another
//! hash is an error.
//!
//! Every point is a function of its configuration alone (its seed names every random
//! stream), so results do not depend on the number of threads, on the way points are packed
//! into tasks, on the machine, or on the order in which points finish.

use crate::output::write_atomic;
use crate::signals::Interrupted;
use anyhow::{Context, Result, bail, ensure};
use ebn_network::{ExperimentConfig, Registry, analysis};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many points in a grid (checked before anything is enumerated).
pub const MAX_POINTS: usize = 1_000_000;

/// The tag of the files a sweep writes, with their format's version.
const FORMAT: &str = "ebn-sweep 1";

/// One axis of the grid: parameters that move together, and their values point by point.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted paths into the experiment file (`network.sigma_v`).
    pub params: Vec<String>,
    /// One row per point of the axis, one value per parameter.
    pub values: Vec<Vec<toml::Value>>,
}

/// The seeds of every point.
#[derive(Debug, Clone, PartialEq)]
pub enum Seeds {
    /// These master seeds, one point each.
    List(Vec<u64>),
    /// `count` replicates with seeds derived from `master` and the point's values.
    Replicates {
        /// The master seed.
        master: u64,
        /// Replicates per point of the axes.
        count: u64,
    },
}

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

/// A sweep: an experiment file, the axes and the seeds.
#[derive(Debug)]
pub struct Grid {
    /// The experiment file (relative `[data]` files resolve against its folder).
    pub experiment: PathBuf,
    /// The experiment file's text.
    pub text: String,
    /// The axes, slowest first.
    pub axes: Vec<Axis>,
    /// The seeds.
    pub seeds: Seeds,
    /// The command-line arguments that name this grid (after the `sweep` command).
    pub args: Vec<String>,
    digests: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSection {
    experiment: PathBuf,
    seeds: Option<Vec<u64>>,
    replicates: Option<u64>,
    seed: Option<u64>,
    #[serde(default)]
    axis: Vec<AxisSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisSection {
    param: Option<String>,
    params: Option<Vec<String>>,
    values: Vec<toml::Value>,
}

/// Whether `text` is a sweep file (a TOML document whose only table is `[sweep]`) rather
/// than an experiment file.
pub fn is_sweep_file(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("sweep"))
}

/// Parses a TOML value given on the command line (`1e-3`, `true`, `"name"`).
pub fn parse_value(value: &str) -> Result<toml::Value> {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .with_context(|| format!("--values: `{value}` is not a TOML value (quote strings: '\"name\"')"))
}

impl Grid {
    fn new(experiment: PathBuf, text: String, axes: Vec<Axis>, seeds: Seeds, args: Vec<String>) -> Result<Self> {
        let grid = Self { experiment, text, axes, seeds, args, digests: Mutex::default() };
        let mut total: usize = grid.seed_count();
        ensure!(total > 0, "the sweep has no seeds");
        for (a, axis) in grid.axes.iter().enumerate() {
            ensure!(!axis.params.is_empty(), "sweep.axis[{a}]: no parameter");
            ensure!(!axis.values.is_empty(), "sweep.axis[{a}]: no values");
            for (k, row) in axis.values.iter().enumerate() {
                ensure!(
                    row.len() == axis.params.len(),
                    "sweep.axis[{a}].values[{k}]: {} values for the {} parameters {:?}",
                    row.len(),
                    axis.params.len(),
                    axis.params
                );
            }
            total = total.checked_mul(axis.values.len()).filter(|t| *t <= MAX_POINTS).with_context(|| {
                format!("the sweep has more than {MAX_POINTS} points: split it into several sweep files")
            })?;
        }
        let mut seen = std::collections::HashSet::new();
        for p in grid.axes.iter().flat_map(|a| &a.params) {
            ensure!(seen.insert(p), "parameter {p} is set by two axes");
            ensure!(p != "seed", "the seed is not an axis: list `seeds` or set `replicates`");
        }
        Ok(grid)
    }

    /// The grid of the command-line form: the experiment file, its seeds, and optionally one
    /// parameter and its values (values outer, seeds inner).
    pub fn from_flags(file: &Path, seeds: &[u64], param: Option<(&str, &[String])>) -> Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let axes = match param {
            None => Vec::new(),
            Some((p, values)) => vec![Axis {
                params: vec![p.to_string()],
                values: values.iter().map(|v| parse_value(v).map(|v| vec![v])).collect::<Result<_>>()?,
            }],
        };
        let mut args =
            vec![file_arg(file)?, "--seeds".into(), seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",")];
        if let Some((p, values)) = param {
            args.extend(["--param".into(), p.to_string(), "--values".into(), values.join(",")]);
        }
        Self::new(file.to_path_buf(), text, axes, Seeds::List(seeds.to_vec()), args)
    }

    /// The grid of a sweep file (module docs; `experiment` relative to the sweep file).
    pub fn from_sweep_file(file: &Path, text: &str) -> Result<Self> {
        let parsed: SweepFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("in {}: {}", file.display(), e.message().trim().replace('\n', " ")))?;
        let s = parsed.sweep;
        let experiment = file.parent().unwrap_or(Path::new("")).join(&s.experiment);
        let exp_text = std::fs::read_to_string(&experiment)
            .with_context(|| format!("{}: sweep.experiment: reading {}", file.display(), experiment.display()))?;
        let seeds = match (s.seeds, s.replicates, s.seed) {
            (Some(_), Some(_), _) => bail!("{}: sweep.seeds and sweep.replicates: set one", file.display()),
            (Some(_), None, Some(_)) => {
                bail!("{}: sweep.seed (a master seed) goes with sweep.replicates, not with a seed list", file.display())
            }
            (Some(list), None, None) => Seeds::List(list),
            (None, count, master) => {
                let master = match master {
                    Some(m) => m,
                    None => {
                        ExperimentConfig::from_toml(&exp_text)
                            .with_context(|| format!("in {}", experiment.display()))?
                            .seed
                    }
                };
                let count = count.unwrap_or(1);
                ensure!(count >= 1, "{}: sweep.replicates must be at least 1", file.display());
                Seeds::Replicates { master, count }
            }
        };
        let mut axes = Vec::new();
        for (a, ax) in s.axis.into_iter().enumerate() {
            let axis = match (ax.param, ax.params) {
                (Some(p), None) => Axis { params: vec![p], values: ax.values.into_iter().map(|v| vec![v]).collect() },
                (None, Some(ps)) => {
                    let mut rows = Vec::new();
                    for (k, v) in ax.values.into_iter().enumerate() {
                        let toml::Value::Array(row) = v else {
                            bail!(
                                "{}: sweep.axis[{a}].values[{k}]: an array of {} values (one per param)",
                                file.display(),
                                ps.len()
                            )
                        };
                        rows.push(row);
                    }
                    Axis { params: ps, values: rows }
                }
                _ => bail!("{}: sweep.axis[{a}]: set `param` (one parameter) or `params` (zipped)", file.display()),
            };
            axes.push(axis);
        }
        Self::new(experiment, exp_text, axes, seeds, vec![file_arg(file)?])
            .with_context(|| format!("in {}", file.display()))
    }

    /// Reads `file`: a sweep file, or an experiment file with the command line's seeds and
    /// parameter.
    pub fn load(file: &Path, seeds: &[u64], param: Option<(&str, &[String])>, flags_given: bool) -> Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        if is_sweep_file(&text) {
            ensure!(
                !flags_given,
                "{} is a sweep file: its grid and seeds are in it, not in --seeds/--param",
                file.display()
            );
            Self::from_sweep_file(file, &text)
        } else {
            Self::from_flags(file, seeds, param)
        }
    }

    fn seed_count(&self) -> usize {
        match &self.seeds {
            Seeds::List(l) => l.len(),
            Seeds::Replicates { count, .. } => usize::try_from(*count).unwrap_or(usize::MAX),
        }
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product::<usize>() * self.seed_count()
    }

    /// Whether the grid has no point (never: [`Grid::new`] refuses it).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameters the axes set, in order (the table's columns).
    pub fn params(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.params.iter().cloned()).collect()
    }

    /// Point `index` (< [`Grid::len`]).
    pub fn point(&self, index: usize) -> PointSpec {
        let seeds = self.seed_count();
        let replicate = index % seeds;
        let mut rest = index / seeds;
        let mut rows = vec![0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            rows[a] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let params: Vec<(String, toml::Value)> = self
            .axes
            .iter()
            .zip(&rows)
            .flat_map(|(axis, &r)| axis.params.iter().cloned().zip(axis.values[r].iter().cloned()))
            .collect();
        let seed = match &self.seeds {
            Seeds::List(list) => list[replicate],
            Seeds::Replicates { master, .. } => derived_seed(*master, &params, replicate),
        };
        PointSpec { index, params, replicate, seed }
    }

    /// The configuration of a point: the experiment file with the point's values set and its
    /// seed, its recording resolved and digested.
    pub fn config(&self, point: &PointSpec) -> Result<ExperimentConfig> {
        let mut doc: toml::Value =
            toml::from_str(&self.text).with_context(|| format!("parsing {}", self.experiment.display()))?;
        for (path, value) in &point.params {
            set_path(&mut doc, path, value.clone())?;
        }
        let text = toml::to_string(&doc)?;
        let mut config = ExperimentConfig::from_toml(&text)
            .with_context(|| format!("point {} ({})", point.index, describe(point)))?;
        config.seed = point.seed;
        crate::run::resolve_data(&mut config, &self.experiment);
        // The recording's digest, read once per file for the whole grid.
        if let Some(data) = &mut config.data
            && data.digest.is_none()
        {
            let mut cache = self.digests.lock().unwrap_or_else(|e| e.into_inner());
            let digest = match cache.get(&data.file) {
                Some(d) => d.clone(),
                None => {
                    let bytes = std::fs::read(&data.file)
                        .with_context(|| format!("reading the recording data.file = {}", data.file))?;
                    let d = ebn_network::data::digest(&bytes);
                    cache.insert(data.file.clone(), d.clone());
                    d
                }
            };
            data.digest = Some(digest);
        }
        Ok(config)
    }

    /// The sweep's hash: FNV-1a over every point's index, seed and configuration. Two sweeps
    /// with the same hash run the same trainings.
    pub fn hash(&self) -> Result<String> {
        let mut bytes = FORMAT.as_bytes().to_vec();
        for i in 0..self.len() {
            let p = self.point(i);
            let config = self.config(&p)?;
            bytes.extend_from_slice(format!("\n{i} {} ", p.seed).as_bytes());
            bytes.extend_from_slice(serde_json::to_string(&config)?.as_bytes());
        }
        Ok(ebn_network::data::digest(&bytes))
    }
}

/// The file argument as the emitted script repeats it (absolute).
fn file_arg(file: &Path) -> Result<String> {
    Ok(std::path::absolute(file)?.to_string_lossy().into_owned())
}

/// The seed of replicate `replicate` of the point with these values, from `master`.
pub fn derived_seed(master: u64, params: &[(String, toml::Value)], replicate: usize) -> u64 {
    let key = format!("{master}|{}|{replicate}", assignments(params));
    let h = u64::from_str_radix(&ebn_network::data::digest(key.as_bytes()), 16).unwrap_or(0);
    ebn_network::core::seed::splitmix64(h)
}

/// `a=1;b="x"`: a point's values in canonical TOML form.
fn assignments(params: &[(String, toml::Value)]) -> String {
    params.iter().map(|(p, v)| format!("{p}={}", value_text(v))).collect::<Vec<_>>().join(";")
}

/// A value in TOML's inline form (strings keep their quotes); floats in the shortest form
/// that reads back to the same number, with an exponent when large or small (`1e-7`, `1e300`).
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(x) if x.is_finite() => format!("{x:?}"),
        other => other.to_string(),
    }
}

fn describe(p: &PointSpec) -> String {
    let mut parts = vec![format!("seed {}", p.seed)];
    parts.extend(p.params.iter().map(|(k, v)| format!("{k} = {}", value_text(v))));
    parts.join(", ")
}

/// Sets `path` (dotted, e.g. `network.sigma_v` or `training.trials`) in a TOML document.
fn set_path(doc: &mut toml::Value, path: &str, value: toml::Value) -> Result<()> {
    let mut node = doc;
    let keys: Vec<&str> = path.split('.').collect();
    ensure!(keys.iter().all(|k| !k.is_empty()), "parameter `{path}`: not a dotted path");
    for (k, key) in keys.iter().enumerate() {
        let table = node.as_table_mut().with_context(|| format!("parameter {path}: `{key}` is not inside a table"))?;
        if k + 1 == keys.len() {
            table.insert((*key).to_string(), value);
            return Ok(());
        }
        node = table.entry((*key).to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    bail!("parameter: empty path")
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
    let trained = crate::run::train_resumable(&mut exp, control, registry)?;
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

/// The points of array task `task` when each task runs `per_task` consecutive points of
/// `total`.
pub fn task_range(total: usize, per_task: usize, task: u64) -> Result<Range<usize>> {
    ensure!(per_task >= 1, "--tasks-per-job must be at least 1");
    let tasks = task_count(total, per_task);
    let t = usize::try_from(task).ok().filter(|t| *t < tasks).with_context(|| {
        format!(
            "task {task} is out of range: {total} points, {per_task} per task make tasks 0-{}",
            tasks.saturating_sub(1)
        )
    })?;
    Ok(t * per_task..((t + 1) * per_task).min(total))
}

/// How many array tasks run `total` points at `per_task` per task.
pub fn task_count(total: usize, per_task: usize) -> usize {
    total.div_ceil(per_task.max(1))
}

/// The array task this process is, from the scheduler's environment: SLURM's
/// `SLURM_ARRAY_TASK_ID`, counted from `SLURM_ARRAY_TASK_MIN` in steps of
/// `SLURM_ARRAY_TASK_STEP` (so `--array=1-16` and `--array=0-30:2` are tasks 0-15), or
/// HyperQueue's `HQ_TASK_ID`. Returns the task and where it came from.
pub fn task_from_env(var: impl Fn(&str) -> Option<String>) -> Result<(u64, String)> {
    let num = |name: &str| -> Result<Option<u64>> {
        var(name)
            .map(|v| v.trim().parse::<u64>().with_context(|| format!("{name}={v} is not a task number")))
            .transpose()
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        ensure!(id >= min && (id - min) % step == 0, "SLURM_ARRAY_TASK_ID={id} is not in the array {min}-...:{step}");
        return Ok(((id - min) / step, format!("SLURM_ARRAY_TASK_ID={id} (min {min}, step {step})")));
    }
    if let Some(id) = num("HQ_TASK_ID")? {
        return Ok((id, format!("HQ_TASK_ID={id}")));
    }
    bail!("--task-id without a number needs SLURM_ARRAY_TASK_ID or HQ_TASK_ID in the environment")
}

/// Threads for a sweep: `--jobs`, else SLURM's `SLURM_CPUS_PER_TASK`, else the machine's.
pub fn threads(jobs: Option<u32>, var: impl Fn(&str) -> Option<String>) -> usize {
    jobs.map(|j| j as usize)
        .or_else(|| var("SLURM_CPUS_PER_TASK").and_then(|v| v.trim().parse().ok()))
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1)
}

/// Runs points of a grid into an output directory (module docs).
pub struct Runner<'a> {
    /// The grid.
    pub grid: &'a Grid,
    /// Its hash ([`Grid::hash`]).
    pub hash: String,
    /// The output directory.
    pub out: PathBuf,
    /// Components.
    pub registry: &'a Registry,
    /// Threads (points run in parallel, each on one thread).
    pub jobs: usize,
    /// Time between a point's checkpoints.
    pub checkpoint_every: Duration,
    /// Polled between trials ([`crate::signals::requested`] on the command line).
    pub stop: &'a (dyn Fn() -> Option<i32> + Sync),
    /// Where progress lines go.
    pub log: &'a (dyn Fn(&str) + Sync),
    /// Called when a point is finished (done, skipped or failed): a progress bar's tick.
    pub tick: &'a (dyn Fn() + Sync),
}

/// What a run of points did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Points trained and tested now.
    pub done: Vec<usize>,
    /// Points already done, skipped.
    pub skipped: Vec<usize>,
    /// Points that failed, with their errors (written; retried by the next run).
    pub failed: Vec<(usize, String)>,
    /// Seconds spent training and testing, summed over points.
    pub compute_seconds: f64,
}

enum PointRun {
    Done,
    Skipped,
    Failed(String),
    Interrupted(Interrupted),
}

impl Runner<'_> {
    fn points_dir(&self) -> PathBuf {
        self.out.join("points")
    }

    /// The result file of point `index`.
    pub fn point_file(&self, index: usize) -> PathBuf {
        self.points_dir().join(format!("{index:06}.json"))
    }

    fn checkpoint_file(&self, index: usize) -> PathBuf {
        self.points_dir().join(format!("{index:06}.checkpoint.ebn"))
    }

    /// Creates the output directory and its `sweep-grid.json`, or checks that it is this
    /// sweep's (with `fresh`, removes another sweep's results first).
    pub fn prepare(&self, fresh: bool) -> Result<()> {
        let marker = self.out.join("sweep-grid.json");
        if fresh {
            for p in [self.points_dir(), marker.clone()] {
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
                } else if p.exists() {
                    std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                }
            }
        }
        std::fs::create_dir_all(self.points_dir())
            .with_context(|| format!("creating {}", self.points_dir().display()))?;
        if let Ok(text) = std::fs::read_to_string(&marker) {
            let found: Value = serde_json::from_str(&text).with_context(|| format!("reading {}", marker.display()))?;
            if found["sweep"].as_str() != Some(self.hash.as_str()) {
                bail!(
                    "{} holds the results of another sweep (hash {}, this one is {}): use --fresh to start over, or another --out",
                    self.out.display(),
                    found["sweep"],
                    self.hash
                );
            }
            return Ok(());
        }
        let grid = json!({
            "format": FORMAT,
            "sweep": self.hash,
            "experiment": self.grid.experiment,
            "points": self.grid.len(),
            "params": self.grid.params(),
            "args": self.grid.args,
        });
        write_atomic(&marker, serde_json::to_string_pretty(&grid)?.as_bytes())
    }

    /// Reads point `index`'s file if it is a finished result of this sweep; `Ok(None)` if
    /// absent; an error if it belongs to another sweep or is corrupt.
    pub fn read_point(&self, index: usize) -> Result<Option<Point>> {
        let path = self.point_file(index);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not a point file", path.display()))?;
        ensure!(v["format"] == FORMAT, "{}: not a point file of this version ({})", path.display(), v["format"]);
        if v["sweep"].as_str() != Some(self.hash.as_str()) {
            bail!(
                "{} belongs to another sweep (hash {}, this one is {}): results of two sweeps are never mixed",
                path.display(),
                v["sweep"],
                self.hash
            );
        }
        let spec = self.grid.point(index);
        ensure!(
            v["index"].as_u64() == Some(index as u64) && v["seed"].as_u64() == Some(spec.seed),
            "{}: holds another point ({} seed {})",
            path.display(),
            v["index"],
            v["seed"]
        );
        let num = |x: &Value| x.as_f64().unwrap_or(f64::NAN);
        let result = match v["error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(Outcome {
                last_trial_error: num(&v["last_trial_error"]),
                test_nrmse: v["test_nrmse"]
                    .as_array()
                    .with_context(|| format!("{}: no test_nrmse", path.display()))?
                    .iter()
                    .map(num)
                    .collect(),
                spikes_per_second: num(&v["spikes_per_second"]),
                capped_fraction: num(&v["capped_fraction"]),
            }),
        };
        Ok(Some(Point { spec, result }))
    }

    fn write_point(&self, point: &Point, timing: Value) -> Result<()> {
        let params: serde_json::Map<String, Value> =
            point.spec.params.iter().map(|(k, v)| (k.clone(), json!(value_text(v)))).collect();
        let mut v = json!({
            "format": FORMAT,
            "sweep": self.hash,
            "index": point.spec.index,
            "seed": point.spec.seed,
            "replicate": point.spec.replicate,
            "params": params,
            "timing": timing,
        });
        match &point.result {
            Ok(o) => {
                // NaN (no training) is written as null and read back as NaN.
                v["last_trial_error"] = json!(o.last_trial_error);
                v["test_nrmse"] = json!(o.test_nrmse);
                v["spikes_per_second"] = json!(o.spikes_per_second);
                v["capped_fraction"] = json!(o.capped_fraction);
            }
            Err(e) => v["error"] = json!(e),
        }
        write_atomic(&self.point_file(point.spec.index), serde_json::to_string_pretty(&v)?.as_bytes())
    }

    fn run_one(&self, index: usize) -> Result<(PointRun, f64)> {
        if let Some(p) = self.read_point(index)? {
            if p.result.is_ok() {
                return Ok((PointRun::Skipped, 0.0));
            }
            (self.log)(&format!("point {index}: retrying (it failed before)"));
        }
        if let Some(signal) = (self.stop)() {
            let saved = format!("point {index} not started");
            return Ok((PointRun::Interrupted(Interrupted { signal, saved }), 0.0));
        }
        let spec = self.grid.point(index);
        let config = self.grid.config(&spec)?;
        let log = |line: &str| (self.log)(&format!("point {index}: {line}"));
        let control = crate::run::Control {
            checkpoint: self.checkpoint_file(index),
            fresh: false,
            checkpoint_every: self.checkpoint_every,
            stop: self.stop,
            progress: false,
            log: &log,
        };
        let t0 = Instant::now();
        let result = run_point(&config, self.registry, &control);
        let seconds = t0.elapsed().as_secs_f64();
        let (result, resumed) = match result {
            Ok((o, resumed)) => (Ok(o), resumed),
            Err(e) => match e.downcast::<Interrupted>() {
                Ok(i) => return Ok((PointRun::Interrupted(i), seconds)),
                Err(e) => (Err(format!("{e:#}").replace('\n', " ")), None),
            },
        };
        let point = Point { spec, result };
        let timing = json!({"compute_seconds": seconds, "resumed_after_trial": resumed});
        self.write_point(&point, timing)?;
        let _ = std::fs::remove_file(self.checkpoint_file(index));
        Ok(match &point.result {
            Ok(o) => {
                log(&format!("done in {seconds:.2} s ({})", describe(&point.spec)));
                if o.capped_fraction > crate::run::CAPPED_WARNING {
                    log(&format!(
                        "warning: {:.0} % of the test's steps at the spike cap: the network is pinned at its spike \
                         policy's limit (capped_fraction in the table)",
                        100.0 * o.capped_fraction
                    ));
                }
                (PointRun::Done, seconds)
            }
            Err(e) => {
                log(&format!("failed: {e}"));
                (PointRun::Failed(e.clone()), seconds)
            }
        })
    }

    /// Runs the points of `range` (in parallel, `jobs` threads), skipping those already done.
    /// Returns [`Interrupted`] (after checkpointing) if a stop was requested.
    pub fn run(&self, range: Range<usize>) -> Result<Report> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(self.jobs.max(1)).build()?;
        let runs: Vec<Result<(PointRun, f64)>> = pool.install(|| {
            range
                .clone()
                .into_par_iter()
                .map(|i| {
                    let r = self.run_one(i);
                    if matches!(r, Ok((PointRun::Done | PointRun::Skipped | PointRun::Failed(_), _))) {
                        (self.tick)();
                    }
                    r
                })
                .collect()
        });
        let mut report = Report::default();
        let mut interrupted: Vec<Interrupted> = Vec::new();
        for (i, r) in range.zip(runs) {
            let (run, seconds) = r?;
            report.compute_seconds += seconds;
            match run {
                PointRun::Done => report.done.push(i),
                PointRun::Skipped => report.skipped.push(i),
                PointRun::Failed(e) => report.failed.push((i, e)),
                PointRun::Interrupted(x) => interrupted.push(x),
            }
        }
        if let Some(first) = interrupted.first() {
            let saved = interrupted.iter().map(|x| x.saved.clone()).collect::<Vec<_>>().join("; ");
            return Err(Interrupted { signal: first.signal, saved }.into());
        }
        Ok(report)
    }
}

/// The gathered table: every finished point of the grid, and the indices of those missing.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// Finished points (done or failed), in grid order.
    pub points: Vec<Point>,
    /// Points with no result file.
    pub missing: Vec<usize>,
}

/// Collects the point files of `runner`'s sweep.
pub fn gather(runner: &Runner<'_>) -> Result<Gathered> {
    let mut points = Vec::new();
    let mut missing = Vec::new();
    for i in 0..runner.grid.len() {
        match runner.read_point(i)? {
            Some(p) => points.push(p),
            None => missing.push(i),
        }
    }
    Ok(Gathered { points, missing })
}

/// Writes `sweep.csv` (and `sweep.npz`) and `sweep.json` under `out`; returns the JSON.
/// Columns: index, seed, replicate, one per parameter, last_trial_error, spikes_per_second,
/// capped_fraction (both of the first test), `test_<name>_nrmse` per test, error (empty for a
/// finished point).
pub fn write(grid: &Grid, hash: &str, gathered: &Gathered, out: &Path) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let params = grid.params();
    let tests: Vec<String> = grid.config(&grid.point(0))?.tests.iter().map(|t| t.name.clone()).collect();
    let mut header: Vec<String> = vec!["index".into(), "seed".into(), "replicate".into()];
    header.extend(params.iter().cloned());
    header.extend(["last_trial_error".into(), "spikes_per_second".into(), "capped_fraction".into()]);
    header.extend(tests.iter().map(|t| format!("test_{t}_nrmse")));
    header.push("error".into());
    let mut csv = header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(",");
    csv.push('\n');
    let mut rows = Vec::new();
    for p in &gathered.points {
        let mut cells = vec![p.spec.index.to_string(), p.spec.seed.to_string(), p.spec.replicate.to_string()];
        cells.extend(p.spec.params.iter().map(|(_, v)| csv_cell(&plain_text(v))));
        let (outcome, error) = match &p.result {
            Ok(o) => (o.clone(), String::new()),
            Err(e) => (
                Outcome {
                    last_trial_error: f64::NAN,
                    test_nrmse: vec![f64::NAN; tests.len()],
                    spikes_per_second: f64::NAN,
                    capped_fraction: f64::NAN,
                },
                e.clone(),
            ),
        };
        ensure!(
            outcome.test_nrmse.len() == tests.len(),
            "point {}: {} tests, point 0 has {}: a sweep's points must share their tests",
            p.spec.index,
            outcome.test_nrmse.len(),
            tests.len()
        );
        cells.push(outcome.last_trial_error.to_string());
        cells.push(outcome.spikes_per_second.to_string());
        cells.push(outcome.capped_fraction.to_string());
        cells.extend(outcome.test_nrmse.iter().map(f64::to_string));
        cells.push(csv_cell(&error));
        csv.push_str(&cells.join(","));
        csv.push('\n');
        let params: serde_json::Map<String, Value> =
            p.spec.params.iter().map(|(k, v)| (k.clone(), json!(value_text(v)))).collect();
        rows.push(json!({
            "index": p.spec.index, "seed": p.spec.seed, "replicate": p.spec.replicate, "params": params,
            "last_trial_error": outcome.last_trial_error, "spikes_per_second": outcome.spikes_per_second,
            "capped_fraction": outcome.capped_fraction,
            "test_nrmse": outcome.test_nrmse, "error": p.result.as_ref().err(),
        }));
    }
    write_atomic(&out.join("sweep.csv"), csv.as_bytes())?;
    let json = json!({
        "format": FORMAT,
        "sweep": hash,
        "experiment": grid.experiment,
        "params": params,
        "tests": tests,
        "total": grid.len(),
        "missing": gathered.missing,
        "failed": gathered.points.iter().filter(|p| p.result.is_err()).map(|p| p.spec.index).collect::<Vec<_>>(),
        "points": rows,
    });
    write_atomic(&out.join("sweep.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(json)
}

/// A value as a table cell: numbers and booleans as written, strings without their quotes.
fn plain_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => value_text(other),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `--dry-run`: what each task runs (and every point's configuration validated).
pub fn plan(grid: &Grid, hash: &str, per_task: usize, registry: &Registry) -> Result<String> {
    let total = grid.len();
    let tasks = task_count(total, per_task);
    let mut text = format!(
        "sweep {hash}: {total} points ({} seeds x {} axis values), {tasks} tasks of {per_task} point{} (array indices 0-{})\n",
        grid.seed_count(),
        total / grid.seed_count(),
        if per_task == 1 { "" } else { "s" },
        tasks - 1
    );
    for t in 0..tasks {
        let range = task_range(total, per_task, t as u64)?;
        for i in range {
            let p = grid.point(i);
            let config = grid.config(&p)?;
            crate::run::build(&config, registry).with_context(|| format!("point {i} ({})", describe(&p)))?;
            text.push_str(&format!("task {t}: point {i}: {}\n", describe(&p)));
        }
    }
    Ok(text)
}

/// `--emit-sbatch`: the options of the script.
#[derive(Debug, Clone)]
pub struct Sbatch {
    /// `--time` of each array task (SLURM's format, e.g. `01:00:00`).
    pub time: String,
    /// `--mem` of each array task (e.g. `2G`).
    pub mem: String,
    /// `--cpus-per-task` (points of a task run in parallel on them).
    pub cpus: u32,
    /// `--partition`, if any.
    pub partition: Option<String>,
    /// Further `#SBATCH` lines (`--account=x`, `--qos=y`).
    pub extra: Vec<String>,
    /// `--checkpoint-every` of the tasks (seconds).
    pub checkpoint_every: f64,
}

/// A single-quoted shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// An `sbatch` script that runs the grid as a job array (one array task per `per_task`
/// points), writing to `out` with logs in `out/logs`, with the program `exe`.
pub fn sbatch_script(
    grid: &Grid,
    hash: &str,
    per_task: usize,
    out: &Path,
    exe: &Path,
    opts: &Sbatch,
) -> Result<String> {
    let total = grid.len();
    let tasks = task_count(total, per_task);
    let out = std::path::absolute(out)?;
    let cwd = std::env::current_dir()?;
    let stem = grid.experiment.file_stem().and_then(|s| s.to_str()).unwrap_or("sweep");
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# The sweep {hash} of {}: {total} points, {tasks} array tasks of {per_task}.\n\
         # Written by `sweep --emit-sbatch`; submit with `sbatch` (one line per option below).\n\
         # A cancelled, preempted or timed-out task checkpoints on SIGTERM (sent 60 s before\n\
         # the time limit) and resumes when requeued or resubmitted; finished points are skipped.\n\
         # Then: the same command with --gather collects sweep.csv, sweep.npz and sweep.json.\n",
        grid.experiment.display()
    ));
    let mut lines = vec![
        format!("--job-name=ebn-{stem}"),
        format!("--array=0-{}", tasks - 1),
        format!("--time={}", opts.time),
        format!("--mem={}", opts.mem),
        format!("--cpus-per-task={}", opts.cpus),
        "--ntasks=1".into(),
        format!("--output={}/logs/%A_%a.log", out.display()),
        "--open-mode=append".into(),
        "--requeue".into(),
        "--signal=B:TERM@60".into(),
        format!("--chdir={}", cwd.display()),
    ];
    if let Some(p) = &opts.partition {
        lines.push(format!("--partition={p}"));
    }
    lines.extend(opts.extra.iter().cloned());
    for l in &lines {
        s.push_str(&format!("#SBATCH {l}\n"));
    }
    // `exec`: the program is the batch step's process, so SIGTERM reaches it directly. The
    // array index is passed as given, so that resubmitting the missing points with
    // `sbatch --array=3,5 ...` reruns exactly tasks 3 and 5.
    let mut cmd = vec![shell_word(&exe.to_string_lossy()), "sweep".into()];
    cmd.extend(grid.args.iter().map(|a| shell_word(a)));
    cmd.extend([
        "--out".into(),
        shell_word(&out.to_string_lossy()),
        "--tasks-per-job".into(),
        per_task.to_string(),
        "--checkpoint-every".into(),
        opts.checkpoint_every.to_string(),
        "--task-id".into(),
        "\"$SLURM_ARRAY_TASK_ID\"".into(),
    ]);
    s.push_str(&format!("exec {}\n", cmd.join(" ")));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ebn-sweep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn grid(dir: &Path, sweep: &str) -> Grid {
        std::fs::write(dir.join("smoke.toml"), SMOKE).unwrap();
        let file = dir.join("sweep.toml");
        std::fs::write(&file, sweep).unwrap();
        Grid::load(&file, &[], None, false).unwrap()
    }

    fn runner<'a>(grid: &'a Grid, out: &Path, jobs: usize, stop: &'a (dyn Fn() -> Option<i32> + Sync)) -> Runner<'a> {
        Runner {
            grid,
            hash: grid.hash().unwrap(),
            out: out.to_path_buf(),
            registry: ebn_network::builtins(),
            jobs,
            checkpoint_every: Duration::ZERO,
            stop,
            log: &|_| {},
            tick: &|| {},
        }
    }

    const SWEEP: &str = r#"
[sweep]
experiment = "smoke.toml"
replicates = 2
seed = 9
[[sweep.axis]]
param = "network.sigma_v"
values = [0.0, 1e-3]
[[sweep.axis]]
params = ["network.n", "training.trials"]
values = [[16, 2], [24, 3]]
"#;

    /// The grid's order, its zipped axis, and seeds derived from the values (not the
    /// position): adding a value to an axis keeps the other points' seeds.
    #[test]
    fn grid_order_and_derived_seeds() {
        let dir = scratch("grid");
        let g = grid(&dir, SWEEP);
        assert_eq!(g.len(), 8);
        assert_eq!(g.params(), ["network.sigma_v", "network.n", "training.trials"]);
        let p5 = g.point(5);
        assert_eq!(p5.replicate, 1);
        assert_eq!(value_text(&p5.params[0].1), "0.001");
        assert_eq!((value_text(&p5.params[1].1), value_text(&p5.params[2].1)), ("16".into(), "2".into()));
        let c = g.config(&p5).unwrap();
        assert_eq!((c.network.n, c.training.as_ref().unwrap().trials, c.seed), (16, 2, p5.seed));
        // Every seed differs, and the seeds are a function of the values only.
        let seeds: std::collections::HashSet<u64> = (0..8).map(|i| g.point(i).seed).collect();
        assert_eq!(seeds.len(), 8);
        let wider = grid(&dir, &SWEEP.replace("values = [0.0, 1e-3]", "values = [0.0, 5e-4, 1e-3]"));
        assert_eq!(wider.len(), 12);
        assert_eq!(wider.point(9).params, p5.params);
        assert_eq!(wider.point(9).seed, p5.seed);
        assert_ne!(wider.hash().unwrap(), g.hash().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Bad sweep files are errors that name the field.
    #[test]
    fn bad_sweep_files_name_the_field() {
        let dir = scratch("bad");
        std::fs::write(dir.join("smoke.toml"), SMOKE).unwrap();
        let file = dir.join("s.toml");
        let err = |text: &str| {
            std::fs::write(&file, text).unwrap();
            format!("{:#}", Grid::load(&file, &[], None, false).unwrap_err())
        };
        assert!(err("[sweep]\nexperiment = \"smoke.toml\"\nreplicate = 2\n").contains("replicate"));
        assert!(err("[sweep]\nexperiment = \"nope.toml\"\n").contains("nope.toml"));
        let e = err(
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparams = [\"network.n\", \"network.mu\"]\nvalues = [[16]]\n",
        );
        assert!(e.contains("sweep.axis[0].values[0]"), "{e}");
        let e = err("[sweep]\nexperiment = \"smoke.toml\"\nseeds = [1]\nreplicates = 2\n");
        assert!(e.contains("set one"), "{e}");
        let e = err("[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparam = \"seed\"\nvalues = [1]\n");
        assert!(e.contains("seed"), "{e}");
        // A bad value of a point is caught by the plan (before anything is submitted).
        std::fs::write(
            &file,
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparam = \"network.n\"\nvalues = [16, -5]\n",
        )
        .unwrap();
        let g = Grid::load(&file, &[], None, false).unwrap();
        let e = format!("{:#}", plan(&g, "h", 1, ebn_network::builtins()).unwrap_err());
        assert!(e.contains("point 1") && e.contains("network.n"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A sweep run with 1 and 2 threads, in one task or in tasks of 3 points, gives the same
    /// table byte for byte; each point equals its configuration run alone; a rerun skips
    /// every point; a directory of another sweep is refused.
    #[test]
    fn tasks_threads_and_reruns_give_the_same_table() {
        let dir = scratch("tasks");
        let g = grid(&dir, SWEEP);
        let no_stop = || None;
        let table = |out: &Path| std::fs::read(out.join("sweep.csv")).unwrap();
        let whole = |out: &Path, jobs: usize| {
            let r = runner(&g, out, jobs, &no_stop);
            r.prepare(false).unwrap();
            let report = r.run(0..g.len()).unwrap();
            write(&g, &r.hash, &gather(&r).unwrap(), out).unwrap();
            report
        };
        let one = dir.join("one");
        assert_eq!(whole(&one, 1).done.len(), 8);
        let two = dir.join("two");
        whole(&two, 2);
        assert_eq!(table(&one), table(&two));
        let packed = dir.join("packed");
        let r = runner(&g, &packed, 1, &no_stop);
        r.prepare(false).unwrap();
        for t in 0..task_count(8, 3) as u64 {
            r.run(task_range(8, 3, t).unwrap()).unwrap();
        }
        write(&g, &r.hash, &gather(&r).unwrap(), &packed).unwrap();
        assert_eq!(table(&one), table(&packed));
        // A rerun does nothing and leaves the same table.
        let again = whole(&one, 2);
        assert_eq!((again.done.len(), again.skipped.len()), (0, 8));
        assert_eq!(table(&one), table(&two));
        // Point 6 alone.
        let p6 = g.point(6);
        let control = crate::run::Control {
            checkpoint: dir.join("alone.checkpoint.ebn"),
            fresh: true,
            checkpoint_every: Duration::from_secs(3600),
            stop: &no_stop,
            progress: false,
            log: &|_| {},
        };
        let (alone, _) = run_point(&g.config(&p6).unwrap(), ebn_network::builtins(), &control).unwrap();
        assert_eq!(r.read_point(6).unwrap().unwrap().result, Ok(alone.clone()));
        assert!(alone.test_nrmse[0].is_finite());
        let csv = String::from_utf8(table(&one)).unwrap();
        assert!(csv.starts_with("index,seed,replicate,network.sigma_v,network.n,training.trials,last_trial_error,"));
        assert_eq!(csv.lines().count(), 9);
        // Points differ (the grid is not degenerate).
        let p0 = r.read_point(0).unwrap().unwrap().result.unwrap();
        let p1 = r.read_point(1).unwrap().unwrap().result.unwrap();
        assert_ne!(p0.test_nrmse, p1.test_nrmse);
        // Another sweep in the same directory: refused, file by file and as a whole.
        let other = grid(&dir, &SWEEP.replace("seed = 9", "seed = 10"));
        let r2 = runner(&other, &one, 1, &no_stop);
        assert!(format!("{:#}", r2.prepare(false).unwrap_err()).contains("another sweep"));
        assert!(format!("{:#}", r2.read_point(0).unwrap_err()).contains("another sweep"));
        r2.prepare(true).unwrap();
        assert!(r2.read_point(0).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stop request checkpoints the running point and returns Interrupted; the next run
    /// resumes it from its checkpoint and ends with the same table as an uninterrupted run.
    #[test]
    fn a_stopped_point_resumes_bit_identically() {
        let dir = scratch("stop");
        let g = grid(&dir, &SWEEP.replace("values = [[16, 2], [24, 3]]", "values = [[16, 6]]"));
        let no_stop = || None;
        let reference = dir.join("reference");
        let r = runner(&g, &reference, 1, &no_stop);
        r.prepare(false).unwrap();
        r.run(0..g.len()).unwrap();
        write(&g, &r.hash, &gather(&r).unwrap(), &reference).unwrap();
        // Stop at the fifth poll (one before point 0 starts, one before each trial): point 0
        // trains 3 trials, then checkpoints.
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let stop = || (polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 4).then_some(15);
        let out = dir.join("stopped");
        let r = runner(&g, &out, 1, &stop);
        r.prepare(false).unwrap();
        let err = r.run(0..g.len()).unwrap_err();
        let i = err.downcast_ref::<Interrupted>().expect("interrupted");
        assert!(i.saved.contains("trial 3 of 6") && i.saved.contains("point 1 not started"), "{}", i.saved);
        assert!(out.join("points/000000.checkpoint.ebn").is_file());
        assert!(r.read_point(0).unwrap().is_none());
        let lines = Mutex::new(Vec::new());
        let log = |l: &str| lines.lock().unwrap().push(l.to_string());
        let r = Runner { stop: &no_stop, log: &log, ..runner(&g, &out, 1, &no_stop) };
        r.run(0..g.len()).unwrap();
        assert!(
            lines.lock().unwrap().iter().any(|l| l.starts_with("point 0: resuming") && l.contains("after trial 3"))
        );
        assert!(!out.join("points/000000.checkpoint.ebn").exists());
        write(&g, &r.hash, &gather(&r).unwrap(), &out).unwrap();
        assert_eq!(std::fs::read(out.join("sweep.csv")).unwrap(), std::fs::read(reference.join("sweep.csv")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A failing point is a recorded failure (its error in the table, NaN in its numbers),
    /// not a lost sweep; a saturated one is flagged by its capped fraction.
    #[test]
    fn failing_and_saturated_points_are_recorded() {
        let dir = scratch("fail");
        let g = grid(
            &dir,
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparams = [\"network.n\", \"network.rule.eta\"]\nvalues = [[24, 10.0], [0, 10.0], [24, 1e300]]\n",
        );
        let no_stop = || None;
        let out = dir.join("out");
        let r = runner(&g, &out, 1, &no_stop);
        r.prepare(false).unwrap();
        let report = r.run(0..3).unwrap();
        assert_eq!(report.done, [0, 2]);
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert!(report.failed[0].1.contains("network.n"), "{report:?}");
        let json = write(&g, &r.hash, &gather(&r).unwrap(), &out).unwrap();
        assert_eq!(json["failed"], json!([1]));
        let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
        let row: Vec<&str> = csv.lines().nth(2).unwrap().split(',').collect();
        assert_eq!(&row[..3], ["1", &g.point(1).seed.to_string(), "0"]);
        assert!(row[5..9].iter().all(|c| *c == "NaN") && row[9].contains("network.n"), "{csv}");
        // eta = 1e300 saturates the network: at the spike cap in most steps of its test.
        let capped = |i: usize| r.read_point(i).unwrap().unwrap().result.unwrap().capped_fraction;
        assert!(capped(2) > crate::run::CAPPED_WARNING && capped(0) < 0.2, "{} {}", capped(2), capped(0));
        assert!(csv.lines().nth(3).unwrap().contains("1e300"), "{csv}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_command_line_form_and_bad_paths() {
        let dir = scratch("flags");
        let file = dir.join("smoke.toml");
        std::fs::write(&file, SMOKE).unwrap();
        let values = vec!["0.0".to_string(), "1e-3".to_string()];
        let g = Grid::load(&file, &[4, 5, 6], Some(("network.sigma_v", &values)), true).unwrap();
        assert_eq!(g.len(), 6);
        let p = g.point(4);
        assert_eq!((p.seed, value_text(&p.params[0].1)), (5, "0.001".into()));
        assert!(g.args.iter().any(|a| a == "0.0,1e-3"));
        let bad = |path: &str, value: &str| {
            let v = vec![value.to_string()];
            let g = Grid::from_flags(&file, &[1], Some((path, &v)));
            g.and_then(|g| g.config(&g.point(0))).is_err()
        };
        assert!(bad("seed.x", "1"));
        assert!(bad("network.sigma_v", "not a value"));
        assert!(bad("network..n", "1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn task_ids_from_the_scheduler() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "7")])).unwrap().0, 7);
        assert_eq!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1")])).unwrap().0, 2);
        let strided =
            env(&[("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_STEP", "4")]);
        assert_eq!(task_from_env(strided).unwrap().0, 2);
        assert!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_STEP", "4")])).is_err());
        assert_eq!(task_from_env(env(&[("HQ_TASK_ID", "5")])).unwrap().0, 5);
        assert!(task_from_env(env(&[])).is_err());
        assert!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
        assert_eq!(threads(None, env(&[("SLURM_CPUS_PER_TASK", "3")])), 3);
        assert_eq!(threads(Some(2), env(&[("SLURM_CPUS_PER_TASK", "3")])), 2);
        assert!(task_range(8, 3, 3).is_err());
    }

    proptest! {
        /// The tasks partition the grid: every point in exactly one task, in order.
        #[test]
        fn tasks_partition_the_points(total in 1usize..500, per_task in 1usize..40) {
            let mut next = 0;
            for t in 0..task_count(total, per_task) {
                let r = task_range(total, per_task, t as u64).unwrap();
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() && r.len() <= per_task);
                next = r.end;
            }
            prop_assert_eq!(next, total);
            prop_assert!(task_range(total, per_task, task_count(total, per_task) as u64).is_err());
        }
    }
}
